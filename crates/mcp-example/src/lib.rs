//! An example server built on `mcp-core`, used only by tests: a read tool, a write tool and a
//! slow tool over an in-memory store, plus the fixtures the MCP conformance suite calls.
//!
//! It is also the smallest complete template for a new server: `App` impl, tools in their
//! own module, a client (here an optional upstream URL) and a ten-line `main.rs`.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577; the conformance suite still tests it

mod conformance;
mod items;

use std::collections::BTreeMap;
use std::sync::Mutex;

use conformance::from_json;
use mcp_core::reexport::rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ReadResourceRequestParams,
    ReadResourceResult, ServerCapabilities, SetLevelRequestParams, SubscribeRequestParams,
};
use mcp_core::reexport::rmcp::service::RequestContext;
use mcp_core::reexport::rmcp::{ErrorData, RoleServer};
use mcp_core::upstream::{Idempotency, Upstream, UpstreamConfig, parse_base_url};

type Ctx = RequestContext<RoleServer>;
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
                cfg.tune_from_env(ctx.env, "EXAMPLE")?;
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

    fn capabilities() -> ServerCapabilities {
        conformance::capabilities()
    }

    async fn list_resources(&self, _ctx: Ctx) -> Result<ListResourcesResult, ErrorData> {
        from_json(conformance::resources())
    }

    async fn list_resource_templates(
        &self,
        _ctx: Ctx,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        from_json(conformance::resource_templates())
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _ctx: Ctx,
    ) -> Result<ReadResourceResult, ErrorData> {
        from_json(conformance::read_resource(&req.uri)?)
    }

    async fn subscribe(&self, req: SubscribeRequestParams, _ctx: Ctx) -> Result<(), ErrorData> {
        conformance::read_resource(&req.uri).map(|_| ())
    }

    async fn list_prompts(&self, _ctx: Ctx) -> Result<ListPromptsResult, ErrorData> {
        from_json(conformance::prompts())
    }

    async fn get_prompt(
        &self,
        req: GetPromptRequestParams,
        _ctx: Ctx,
    ) -> Result<GetPromptResult, ErrorData> {
        from_json(conformance::get_prompt(
            &req.name,
            &req.arguments.unwrap_or_default(),
        )?)
    }

    async fn set_level(&self, req: SetLevelRequestParams, ctx: Ctx) -> Result<(), ErrorData> {
        let level = serde_json::to_value(req.level).unwrap_or_default();
        let _ = ctx
            .peer
            .notify_logging_message(conformance::log_level_set(&level))
            .await;
        Ok(())
    }

    async fn complete(
        &self,
        _req: CompleteRequestParams,
        _ctx: Ctx,
    ) -> Result<CompleteResult, ErrorData> {
        from_json(serde_json::json!({"completion": {"values": [], "total": 0, "hasMore": false}}))
    }
}
