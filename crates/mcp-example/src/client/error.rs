//! What can go wrong talking to the upstream, and the one place it becomes a tool error.

use mcp_core::ToolError;
use mcp_core::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the upstream client could not be built: {0}")]
    Setup(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("upstream answered {0}")]
    Status(u16),
    #[error("store lock poisoned")]
    StorePoisoned,
}

impl From<ClientError> for ToolError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Upstream(u) => u.into(),
            ClientError::Status(s) => {
                ToolError::upstream("example-upstream", format!("upstream answered {s}"))
            }
            ClientError::StorePoisoned | ClientError::Setup(_) => {
                ToolError::internal(e.to_string())
            }
        }
    }
}
