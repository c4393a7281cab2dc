//! Harnesses shared by the integration tests of every server crate.
//!
//! Everything here talks to real processes over real sockets on 127.0.0.1.

pub mod cli;
pub mod fault_proxy;
pub mod moto;
pub mod process;
pub mod redis;
pub mod rig;
pub mod rpc;
pub mod sim;
pub mod sse;
pub mod tokens;

pub use fault_proxy::FaultProxy;
pub use moto::MotoProcess;
pub use process::{ServerProcess, ServerSpec};
pub use redis::RedisServer;
pub use rig::Rig;
pub use rpc::{RpcClient, call_err, call_ok};
pub use sim::{SimProcess, own_fixture, shared_fixtures, workspace_bin};
pub use sse::{SseClient, parse_sse_frame, rmcp_sse_transport};
