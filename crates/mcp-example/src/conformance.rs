//! Fixtures for the MCP conformance suite (filled in below).

use mcp_core::ToolDef;
use mcp_core::reexport::rmcp::model::{ListResourcesResult, ServerCapabilities};
use mcp_core::reexport::rmcp::service::RequestContext;
use mcp_core::reexport::rmcp::{ErrorData, RoleServer};

use crate::Example;

pub(crate) fn tools() -> Vec<ToolDef<Example>> {
    Vec::new()
}

pub(crate) fn capabilities() -> ServerCapabilities {
    ServerCapabilities::builder().enable_tools().build()
}

pub(crate) fn list_resources(
    _ctx: RequestContext<RoleServer>,
) -> Result<ListResourcesResult, ErrorData> {
    Ok(ListResourcesResult::default())
}
