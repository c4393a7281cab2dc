//! The tools, one file per domain.

pub mod items;

use mcp_core::ToolDef;

use crate::Example;

/// Every tool of this server, declared once each in its domain file.
pub fn all() -> Vec<ToolDef<Example>> {
    items::tools()
}
