//! What a server crate implements: its tools, how it is built from configuration, and how its
//! upstream is probed. Everything else comes from `mcp-core`.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577 but older clients still send it

use std::future::Future;

use rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ReadResourceRequestParams,
    ReadResourceResult, ServerCapabilities, SetLevelRequestParams, SubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};

use crate::config::Env;
use crate::error::StartupError;
use crate::tool::ToolDef;

/// Name and version of a server binary.
#[derive(Debug, Clone, Copy)]
pub struct ServerMeta {
    /// The binary name, e.g. `paloalto-ngfw`.
    pub name: &'static str,
    pub version: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
}

/// What `App::build` gets to work with.
#[derive(Debug)]
pub struct BuildCtx<'a> {
    /// Configuration variables (process environment over the `--config` file).
    pub env: &'a Env,
    /// Whether the server is started for `check` (build, probe once, exit).
    pub check_only: bool,
    /// The store shared by the replicas (`MCP_STATE_URL`), for jobs that one replica runs
    /// ([`crate::state::every_on_one_replica`]).
    pub state: Option<std::sync::Arc<dyn crate::state::StateStore>>,
}

/// A server: its tool inventory plus the state its handlers share.
pub trait App: Send + Sync + Sized + 'static {
    /// Identity used in `initialize`, logs and metrics.
    fn meta() -> ServerMeta;

    /// Guidance sent to the model in `initialize`.
    fn instructions() -> Option<String> {
        None
    }

    /// The tool inventory: every tool, declared once.
    fn tools() -> Vec<ToolDef<Self>>;

    /// The resources, declared once each like tools (`resources/list`, `resources/read`,
    /// filtered by scope). When this is not empty, mcp-core serves the resource methods
    /// itself and the `list_resources` / `read_resource` hooks below are not called.
    fn resources() -> Vec<crate::resource::ResourceDef<Self>> {
        Vec::new()
    }

    /// The prompts, declared once each (`prompts/list`, `prompts/get`, filtered by scope).
    /// When this is not empty, mcp-core serves the prompt methods itself and the
    /// `list_prompts` / `get_prompt` hooks below are not called.
    fn prompts() -> Vec<crate::prompt::PromptDef> {
        Vec::new()
    }

    /// Scopes a handler checks itself, beyond the one each tool requires (proxmox's
    /// `proxmox:admin` for a non-GET passthrough). They count as declared: they imply their
    /// namespace's read scope and appear in the OAuth metadata.
    fn extra_scopes() -> &'static [&'static str] {
        &[]
    }

    /// Where the server's own secrets may be read from besides the environment and files:
    /// `NAME_SECRET_ARN` ([`crate::secrets`]). Called once at start, before anything else
    /// reads the configuration. Default: nowhere (such variables are refused).
    fn secret_source(
        _env: &Env,
    ) -> impl Future<
        Output = Result<Option<std::sync::Arc<dyn crate::secrets::SecretSource>>, StartupError>,
    > + Send {
        std::future::ready(Ok(None))
    }

    /// Build the server state (API clients) from configuration.
    fn build(ctx: BuildCtx<'_>) -> impl Future<Output = Result<Self, StartupError>> + Send;

    /// The server's own health checks for `/health`, beside the upstream probe: each a name,
    /// its result (`Ok` with a one-line description, or the error) and how long it took.
    /// Run in the background every `MCP_HEALTH_INTERVAL`. Default: none.
    fn health_checks(
        &self,
    ) -> impl Future<Output = Vec<(&'static str, Result<String, String>, std::time::Duration)>> + Send
    {
        std::future::ready(Vec::new())
    }

    /// Reach the upstream once. `Ok` carries a one-line description (version, identity).
    /// Used by `check` and, cached, by `/readyz`.
    fn probe(&self) -> impl Future<Output = Result<String, String>> + Send {
        std::future::ready(Ok("no upstream".to_string()))
    }

    /// Capabilities beyond tools (resources, prompts, logging).
    fn capabilities() -> ServerCapabilities {
        ServerCapabilities::builder().enable_tools().build()
    }

    fn list_resources(
        &self,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, ErrorData>> + Send {
        std::future::ready(Ok(ListResourcesResult::default()))
    }

    fn list_resource_templates(
        &self,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, ErrorData>> + Send {
        std::future::ready(Ok(ListResourceTemplatesResult::default()))
    }

    fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResult, ErrorData>> + Send {
        std::future::ready(Err(ErrorData::resource_not_found(
            format!("no resource {}", req.uri),
            None,
        )))
    }

    fn subscribe(
        &self,
        _req: SubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), ErrorData>> + Send {
        std::future::ready(Err(ErrorData::invalid_request(
            "subscriptions are not supported",
            None,
        )))
    }

    fn list_prompts(
        &self,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, ErrorData>> + Send {
        std::future::ready(Ok(ListPromptsResult::default()))
    }

    fn get_prompt(
        &self,
        req: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResult, ErrorData>> + Send {
        std::future::ready(Err(ErrorData::invalid_params(
            format!("no prompt {}", req.name),
            None,
        )))
    }

    fn set_level(
        &self,
        _req: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), ErrorData>> + Send {
        std::future::ready(Ok(()))
    }

    fn complete(
        &self,
        _req: CompleteRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CompleteResult, ErrorData>> + Send {
        std::future::ready(Ok(CompleteResult::default()))
    }
}
