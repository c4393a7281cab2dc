//! Proxmox VE clients: the REST API and SSH.

pub mod api;
pub mod ssh;

pub use api::PveClient;
pub use ssh::{ExecOutput, HostKeyPolicy, SshPool, SshTarget};
