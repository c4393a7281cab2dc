//! Proxmox VE clients: the REST API ([`api`]) and SSH ([`ssh`]), their errors ([`error`])
//! and the typed answers the tools read ([`model`]).

pub mod api;
pub mod calls;
pub mod error;
pub mod model;
pub mod ssh;

pub use api::{Method, PveClient};
pub use error::{PveError, SshError};
pub use ssh::{ExecOutput, HostKeyPolicy, SshPool, SshTarget};
