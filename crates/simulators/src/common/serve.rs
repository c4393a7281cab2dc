//! Binding and serving: TCP_NODELAY on every connection, the
//! `listening on http://ADDR` line on stdout, graceful shutdown on signals.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

/// Binds `addr`; the returned listener's `local_addr` gives the chosen port.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Prints `listening on http://ADDR` as the first stdout line and flushes it.
pub fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()
}

/// Serves `app` on `listener` with TCP_NODELAY until `shutdown` resolves.
pub async fn serve_with_shutdown<F>(
    listener: TcpListener,
    app: Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "failed to set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr`, announces it on stdout, and serves `app` until SIGINT or SIGTERM.
pub async fn run(addr: SocketAddr, app: Router) -> std::io::Result<()> {
    let listener = bind(addr).await?;
    let local = listener.local_addr()?;
    announce(local)?;
    tracing::info!(%local, "simulator listening");
    serve_with_shutdown(listener, app, shutdown_signal()).await
}

/// Binds `addr` and serves `app` in a background task (for tests); returns the
/// bound address. Nothing is printed.
pub async fn spawn(addr: SocketAddr, app: Router) -> std::io::Result<SocketAddr> {
    let listener = bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve_with_shutdown(listener, app, std::future::pending()).await {
            tracing::error!(error = %e, "simulator server failed");
        }
    });
    Ok(local)
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
