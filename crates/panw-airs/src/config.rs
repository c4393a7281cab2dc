//! Settings: `PANW_AI_*` variables, read by `mcp_core::airs::settings` (the output guard reads
//! the same ones).

pub use mcp_core::airs::settings::{AirsSettings, DefaultProfile, ProfileAllowlist, REGIONS};
