//! An example server built on `mcp-core`, used only by tests: a read tool, a write tool and a
//! slow tool over an in-memory store, plus the fixtures the MCP conformance suite calls.
//!
//! It is also the template for a new server, in the layout every server follows:
//! `config.rs` (settings), `client/` (the upstream client, its error enum and typed models),
//! `tools/<domain>.rs`, the `App` impl here and a five-line `main.rs`. The conformance
//! fixtures live apart, in `conformance/`, and every line of this file that wires them in
//! sits between `conformance:begin` and `conformance:end`, so that `scripts/new_server.py`
//! (and docs/new-server.md) can drop them.

// conformance:begin
#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577; the conformance suite still tests it
// conformance:end

pub mod client;
pub mod config;
pub mod tools;

use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef};

use crate::client::ExampleClient;
use crate::config::ExampleSettings;

// conformance:begin
mod conformance;

use conformance::from_json;
use mcp_core::reexport::rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ReadResourceRequestParams,
    ReadResourceResult, ServerCapabilities, SetLevelRequestParams, SubscribeRequestParams,
};
use mcp_core::reexport::rmcp::service::RequestContext;
use mcp_core::reexport::rmcp::{ErrorData, RoleServer};

type Ctx = RequestContext<RoleServer>;
// conformance:end

/// Server state: the client the tools call.
#[derive(Debug, Default)]
pub struct Example {
    client: ExampleClient,
}

impl App for Example {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "mcp-example",
            version: env!("CARGO_PKG_VERSION"),
            about: "Example MCP server on mcp-core: the template for new servers, and the server the test suites run.",
        }
    }

    fn instructions() -> Option<String> {
        Some("A test server: get_item and set_item manage an in-memory store.".into())
    }

    fn tools() -> Vec<ToolDef<Self>> {
        let t = tools::all();
        // conformance:begin (the MCP conformance suite's fixtures; a new server drops them)
        let t: Vec<_> = t.into_iter().chain(conformance::tools()).collect();
        // conformance:end
        t
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let settings = ExampleSettings::from_env(ctx.env)?;
        let client = ExampleClient::new(&settings).map_err(|e| StartupError::App(e.to_string()))?;
        Ok(Self { client })
    }

    async fn probe(&self) -> Result<String, String> {
        self.client
            .probe()
            .await
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    }

    // conformance:begin (everything below answers the conformance suite's resource, prompt,
    // logging and completion scenarios; a new server inherits mcp-core's defaults instead)
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
    // conformance:end
}
