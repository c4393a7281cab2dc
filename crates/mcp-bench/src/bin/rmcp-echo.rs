//! `rmcp-echo`: a bare rmcp server, the ceiling that measures what `mcp-core` costs.
//!
//! Stateless Streamable HTTP exactly as `mcp-core` configures rmcp (no session manager, JSON
//! responses, no Host check), with one tool, `get_item`, that answers like `mcp-example`'s
//! (`{"key", "found", "value"}` as structured content and as text), and nothing else: no
//! authentication, no audit log, no limits, no metrics. `GET /readyz` answers 200 so that
//! `scripts/bench.py` can start it like the servers. Logs `listening on http://ADDR`.

#![allow(clippy::print_stderr)] // the listening line is how the bench finds the port

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

#[derive(Clone)]
struct Echo {
    tools: Arc<Vec<Tool>>,
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("rmcp-echo", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "get_item" {
            return Err(ErrorData::invalid_params("unknown tool", None));
        }
        let key = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("key"))
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        Ok(CallToolResponse::Complete(CallToolResult::structured(
            json!({"key": key, "found": false, "value": null}),
        )))
    }
}

fn get_item() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {"key": {"type": "string", "description": "The key to read."}},
        "required": ["key"]
    });
    let schema = match schema {
        serde_json::Value::Object(m) => Arc::new(m),
        _ => Arc::new(serde_json::Map::new()),
    };
    Tool::new("get_item", "Read one value by key.", schema)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let bind = std::env::args()
        .skip_while(|a| a != "--bind")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        eprintln!(
            "rmcp-echo [--bind ADDR]: a bare rmcp stateless server (the bench's core ceiling)"
        );
        return std::process::ExitCode::SUCCESS;
    }
    let echo = Echo {
        tools: Arc::new(vec![get_item()]),
    };
    let svc = StreamableHttpService::new(
        move || Ok(echo.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );
    let app = axum::Router::new()
        .nest_service("/mcp", svc)
        .route("/readyz", axum::routing::get(|| async { "ready" }));
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rmcp-echo: cannot bind {bind}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => eprintln!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("rmcp-echo: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("rmcp-echo: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
