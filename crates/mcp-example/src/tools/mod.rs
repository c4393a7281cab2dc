//! The tools, one file per domain.

pub mod items;

use mcp_core::ToolDef;

use crate::Example;

/// Every tool of this server's own (the conformance fixtures are added in `lib.rs`).
pub fn all() -> Vec<ToolDef<Example>> {
    items::tools()
}
