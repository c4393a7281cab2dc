//! The stdio transport: JSON-RPC on stdin/stdout. Logs go to stderr only.

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::server::{McpServer, Shared};

/// Serve one session on stdin/stdout until the client closes it or `shutdown` is cancelled.
/// A client that closes stdin without ever initializing (an empty session, or one that only
/// asked `server/discover`) is a normal end, not an error.
pub async fn serve_stdio<A: App>(
    shared: Arc<Shared<A>>,
    shutdown: CancellationToken,
) -> Result<(), std::io::Error> {
    let handler = McpServer::session(shared, "stdio", None);
    let running = match handler
        .serve_with_ct(rmcp::transport::stdio(), shutdown)
        .await
    {
        Ok(r) => r,
        Err(ServerInitializeError::ConnectionClosed(what)) => {
            tracing::info!(before = %what, "stdin closed before a session was initialized");
            return Ok(());
        }
        Err(ServerInitializeError::Cancelled) => return Ok(()),
        Err(e) => {
            return Err(std::io::Error::other(format!(
                "stdio session failed to initialize: {e}"
            )));
        }
    };
    let reason = running.waiting().await;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
