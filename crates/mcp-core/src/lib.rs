//! `mcp-core`: everything generic about a secops-mcp server.
//!
//! A server crate implements [`App`] (its tools, how it is built from configuration, how its
//! upstream is probed) and calls [`run`] from `main`. `mcp-core` provides the CLI, the stdio,
//! Streamable HTTP and legacy SSE transports, JWT auth with per-tool scopes, the audit log,
//! metrics, readiness, graceful shutdown, input validation and the upstream HTTP client.
//!
//! See `docs/architecture.md` for how the pieces fit.

/// mimalloc as the allocator of every server binary (the `mimalloc` feature, off by default:
/// it trades memory for speed, see docs/benchmarks.md#profile).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "airs")]
pub mod airs;
pub mod app;
pub mod auth;
pub mod cache;
pub mod change;
mod cli;
pub mod config;
pub mod error;
#[cfg(feature = "airs")]
pub mod guard;
pub mod health;
pub mod limits;
pub mod page;
pub mod policy;
pub mod prompt;
pub mod readiness;
pub mod redact;
pub mod resource;
mod run;
pub mod secrets;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tool;
pub mod transport;
pub mod upstream;
pub mod validate;

pub use app::{App, BuildCtx, ServerMeta};
pub use change::{ChangeReport, Confirm, Gate, Plan, PlannedChange};
pub use cli::TransportKind;
pub use config::{ConfigError, Env};
pub use error::{StartupError, ToolError};
pub use page::{Page, PageSpec, Paging};
pub use policy::{Principal, ScopeSet, ToolFilter};
pub use prompt::{PromptArg, PromptDef};
pub use resource::{ResourceDef, ResourceItem, ResourceSpec};
pub use run::{run, run_with_args};
pub use tool::{CallCtx, Effect, ToolDef, ToolSpec};

/// Re-exports servers need without naming the crates themselves.
pub mod reexport {
    pub use rmcp;
    pub use schemars;
    pub use serde_json;
}
