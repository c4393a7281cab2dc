//! An example server built on `mcp-core`, used only by tests: a read tool, a write tool and a
//! slow tool over an in-memory store, plus the fixtures the MCP conformance suite calls.
//!
//! It is also the smallest complete template for a new server: `App` impl, tools in their
//! own module, a client (here an optional upstream URL) and a ten-line `main.rs`.

mod conformance;
mod items;

use std::collections::BTreeMap;
use std::sync::Mutex;

use mcp_core::upstream::{Idempotency, Upstream, UpstreamConfig, parse_base_url};
use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef};

/// Server state: an in-memory key/value store and an optional upstream to probe.
#[derive(Debug, Default)]
pub struct Example {
    store: Mutex<BTreeMap<String, String>>,
    upstream: Option<Upstream>,
}

impl App for Example {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "mcp-example",
            version: env!("CARGO_PKG_VERSION"),
            about: "Example MCP server on mcp-core (tests and conformance only).",
        }
    }

    fn instructions() -> Option<String> {
        Some("A test server: get_item and set_item manage an in-memory store.".into())
    }

    fn tools() -> Vec<ToolDef<Self>> {
        let mut t = items::tools();
        t.extend(conformance::tools());
        t
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let upstream = match ctx.env.get("EXAMPLE_UPSTREAM_URL")? {
            Some(u) => {
                let url = parse_base_url("EXAMPLE_UPSTREAM_URL", &u)?;
                let mut cfg = UpstreamConfig::new("example-upstream", url);
                cfg.max_retries = 0;
                cfg.total_timeout = std::time::Duration::from_secs(2);
                Some(Upstream::new(cfg).map_err(|e| StartupError::App(e.to_string()))?)
            }
            None => None,
        };
        Ok(Self {
            store: Mutex::new(BTreeMap::new()),
            upstream,
        })
    }

    async fn probe(&self) -> Result<String, String> {
        let Some(up) = &self.upstream else {
            return Ok("no upstream configured".into());
        };
        let resp = up
            .send(
                up.request(reqwest::Method::GET, "/"),
                Idempotency::Idempotent,
            )
            .await
            .map_err(|e| e.to_string())?;
        if resp.status.is_success() {
            Ok(format!("upstream answered {}", resp.status))
        } else {
            Err(format!("upstream answered {}", resp.status))
        }
    }

    fn capabilities() -> mcp_core::reexport::rmcp::model::ServerCapabilities {
        conformance::capabilities()
    }

    async fn list_resources(
        &self,
        ctx: mcp_core::reexport::rmcp::service::RequestContext<
            mcp_core::reexport::rmcp::RoleServer,
        >,
    ) -> Result<
        mcp_core::reexport::rmcp::model::ListResourcesResult,
        mcp_core::reexport::rmcp::ErrorData,
    > {
        conformance::list_resources(ctx)
    }
}
