//! The AIRS API Intercept client: `mcp_core::airs`, shared with the output guard every
//! server can turn on (`MCP_GUARD=airs`). Re-exported here so that this crate keeps the
//! layout of every server (`client/` with its error enum and typed models).

pub use mcp_core::airs::{
    AirsClient, ClientError, UPSTREAM, decode_async, decode_reports, decode_results, decode_scan,
    interpret,
};
pub use mcp_core::airs::{error, limits, model};
