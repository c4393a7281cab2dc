//! A plain REST facade beside MCP, for the runbooks that `curl` a server (`MCP_REST=true`):
//!
//! - `GET|POST /api/mcp/tools/list`: `{"tools": [...]}`, as MCP `tools/list` answers;
//! - `POST /api/mcp/tools/call` with `{"name": ..., "arguments": {...}}`: the MCP
//!   `CallToolResult` (`content`, `structuredContent`, `isError`);
//! - `GET /api/mcp/openapi.json`: an OpenAPI 3.1 document generated from the tools the
//!   caller may use.
//!
//! Each request runs through the same handler as `/mcp`, in a one-request MCP session held in
//! process: the same bearer auth (these paths need a token), scopes, read-only mode, timeouts,
//! audit event and output. Protocol refusals map to HTTP: an unknown (or not permitted) tool is
//! 404, bad parameters 400.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::app::App;
use crate::policy::Principal;
use crate::server::{McpServer, Shared};

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": msg.into()}))).into_response()
}

/// Run one MCP request (`method`, `params`) through a fresh in-process session of the
/// stateless handler, with the HTTP request's parts (principal, request id) attached as the
/// transports attach them. `Ok(result)` or `Err((code, message))` of a JSON-RPC error.
async fn one_request<A: App>(
    shared: Arc<Shared<A>>,
    parts: http::request::Parts,
    method: &str,
    params: Value,
    deadline: Duration,
) -> Result<Result<Value, (i64, String)>, Box<Response>> {
    let (to_server_tx, to_server_rx) = mpsc::channel::<ClientJsonRpcMessage>(4);
    let (to_client_tx, to_client_rx) = mpsc::channel::<ServerJsonRpcMessage>(16);
    let stop = CancellationToken::new();
    let handler = McpServer::stateless(shared);
    let transport = (
        PollSender::new(to_client_tx),
        ReceiverStream::new(to_server_rx),
    );
    let task_stop = stop.clone();
    tokio::spawn(async move {
        if let Ok(running) = handler.serve_with_ct(transport, task_stop).await {
            let _ = running.waiting().await;
        }
    });
    let _stop_on_return = stop.drop_guard();
    let msg = |v: Value| -> Result<ClientJsonRpcMessage, Answer> {
        serde_json::from_value(v).map_err(|e| {
            Answer::Http(Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal message: {e}"),
            )))
        })
    };
    let mut from_server = ReceiverStream::new(to_client_rx);
    let run = async {
        let init = msg(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "secops-mcp-rest", "version": env!("CARGO_PKG_VERSION")}}}),
        )?;
        send(&to_server_tx, init).await?;
        answer(&mut from_server, 0).await?;
        send(
            &to_server_tx,
            msg(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?,
        )
        .await?;
        let mut request =
            msg(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))?;
        if let ClientJsonRpcMessage::Request(r) = &mut request {
            r.request.extensions_mut().insert(parts);
        }
        send(&to_server_tx, request).await?;
        answer(&mut from_server, 1).await
    };
    // The tool call has its own MCP_REQUEST_TIMEOUT inside; this bounds the session around it.
    match tokio::time::timeout(deadline, run).await {
        Ok(r) => r.map(Ok).or_else(|e| match e {
            Answer::Error(code, message) => Ok(Err((code, message))),
            Answer::Http(resp) => Err(resp),
        }),
        Err(_) => Err(Box::new(error(
            StatusCode::GATEWAY_TIMEOUT,
            "the call did not finish in time",
        ))),
    }
}

enum Answer {
    Error(i64, String),
    Http(Box<Response>),
}

async fn send(
    tx: &mpsc::Sender<ClientJsonRpcMessage>,
    m: ClientJsonRpcMessage,
) -> Result<(), Answer> {
    tx.send(m).await.map_err(|_| {
        Answer::Http(Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )))
    })
}

/// The response to request `id` (notifications on the way are dropped).
async fn answer(
    from_server: &mut ReceiverStream<ServerJsonRpcMessage>,
    id: u64,
) -> Result<Value, Answer> {
    while let Some(m) = from_server.next().await {
        let v = serde_json::to_value(&m).unwrap_or(Value::Null);
        if v.get("id").and_then(Value::as_u64) != Some(id) {
            continue;
        }
        if let Some(e) = v.get("error") {
            let code = e.get("code").and_then(Value::as_i64).unwrap_or(-32603);
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string();
            return Err(Answer::Error(code, message));
        }
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    Err(Answer::Http(Box::new(error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is shutting down",
    ))))
}

pub(crate) struct RestState<A: App> {
    pub(crate) shared: Arc<Shared<A>>,
    pub(crate) deadline: Duration,
}

fn status_of(code: i64) -> StatusCode {
    match code {
        // rmcp's answer for a tool that does not exist or that this caller may not see.
        -32602 => StatusCode::NOT_FOUND,
        -32600 | -32700 => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `GET|POST /api/mcp/tools/list`
pub(crate) async fn list<A: App>(
    State(state): State<Arc<RestState<A>>>,
    req: axum::extract::Request,
) -> Response {
    let (parts, _) = req.into_parts();
    match one_request(
        state.shared.clone(),
        parts,
        "tools/list",
        json!({}),
        state.deadline,
    )
    .await
    {
        Ok(Ok(v)) => axum::Json(json!({"tools": v.get("tools").cloned().unwrap_or(json!([]))}))
            .into_response(),
        Ok(Err((code, m))) => error(status_of(code), m),
        Err(resp) => *resp,
    }
}

/// `POST /api/mcp/tools/call` with `{"name": ..., "arguments": {...}}`
pub(crate) async fn call<A: App>(
    State(state): State<Arc<RestState<A>>>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match super::jsonrpc::read_body(body).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object: {\"name\": \"tool\", \"arguments\": {...}}",
        );
    };
    let name = match body.remove("name") {
        Some(Value::String(n)) if !n.is_empty() => n,
        _ => return error(StatusCode::BAD_REQUEST, "`name` (a tool name) is required"),
    };
    let arguments = match body.remove("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return error(StatusCode::BAD_REQUEST, "`arguments` must be an object"),
    };
    if let Some(extra) = body.keys().next() {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`{}` is not a field of a call (name, arguments)",
                crate::validate::excerpt(extra, 64)
            ),
        );
    }
    let params = json!({"name": name, "arguments": arguments});
    match one_request(
        state.shared.clone(),
        parts,
        "tools/call",
        params,
        state.deadline,
    )
    .await
    {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err((code, m))) => error(status_of(code), m),
        Err(resp) => *resp,
    }
}

/// `GET /api/mcp/openapi.json`: the facade, with one request schema per tool the caller may
/// use.
pub(crate) async fn openapi<A: App>(
    State(state): State<Arc<RestState<A>>>,
    axum::Extension(principal): axum::Extension<Arc<Principal>>,
) -> Response {
    let meta = A::meta();
    let tools: Vec<_> = state
        .shared
        .tools()
        .iter()
        .filter(|t| state.shared.allows(&principal, t.spec().scope))
        .collect();
    let mut schemas = serde_json::Map::new();
    let mut calls = Vec::new();
    for t in &tools {
        let name = t.spec().name;
        let input = Value::Object((*t.tool().input_schema).clone());
        schemas.insert(format!("{name}_arguments"), input);
        if let Some(out) = &t.tool().output_schema {
            schemas.insert(format!("{name}_output"), Value::Object((**out).clone()));
        }
        calls.push(json!({
            "type": "object",
            "title": name,
            "description": t.spec().description,
            "required": ["name"],
            "properties": {
                "name": {"const": name},
                "arguments": {"$ref": format!("#/components/schemas/{name}_arguments")},
            },
            "additionalProperties": false,
        }));
    }
    let result = json!({
        "type": "object",
        "description": "The MCP CallToolResult: content blocks, structuredContent (the tool's output schema) and isError.",
        "properties": {
            "content": {"type": "array", "items": {"type": "object"}},
            "structuredContent": {"type": "object"},
            "isError": {"type": "boolean"},
        },
    });
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} REST facade", meta.name),
            "version": meta.version,
            "description": "The MCP tools of this server over plain HTTP: the same auth, scopes, read-only mode, audit and output as MCP tools/call.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/mcp/tools/list": {
                "get": {"summary": "List the tools this token may call",
                        "responses": {"200": {"description": "{\"tools\": [...]}, as MCP tools/list"}}},
                "post": {"summary": "List the tools this token may call",
                         "responses": {"200": {"description": "{\"tools\": [...]}, as MCP tools/list"}}},
            },
            "/api/mcp/tools/call": {
                "post": {
                    "summary": "Call a tool",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": calls}}}},
                    "responses": {
                        "200": {"description": "The tool's result (isError true for a refusal the model can act on)",
                                "content": {"application/json": {"schema": result}}},
                        "400": {"description": "The body is not a call"},
                        "401": {"description": "No valid bearer token"},
                        "404": {"description": "No such tool for this token"},
                    },
                },
            },
        },
    });
    axum::Json(doc).into_response()
}
