//! The stdio transport: JSON-RPC on stdin/stdout. Logs go to stderr only.

use std::sync::Arc;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::server::{McpServer, Shared};

/// Serve one session on stdin/stdout until the client closes it or `shutdown` is cancelled.
pub async fn serve_stdio<A: App>(
    shared: Arc<Shared<A>>,
    shutdown: CancellationToken,
) -> Result<(), std::io::Error> {
    let handler = McpServer::session(shared, "stdio");
    let running = handler
        .serve_with_ct(rmcp::transport::stdio(), shutdown)
        .await
        .map_err(|e| std::io::Error::other(format!("stdio session failed to initialize: {e}")))?;
    let reason = running.waiting().await;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
