//! Harnesses shared by the integration tests of every server crate.
//!
//! Everything here talks to real processes over real sockets on 127.0.0.1.

pub mod process;
pub mod rpc;
pub mod sse;
pub mod tokens;

pub use process::{ServerProcess, ServerSpec};
pub use rpc::RpcClient;
pub use sse::{SseClient, rmcp_sse_transport};
