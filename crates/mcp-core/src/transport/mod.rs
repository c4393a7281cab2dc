//! Transports: stdio, Streamable HTTP (`/mcp`), and the legacy HTTP+SSE transport (`/sse` +
//! `/messages/`), all HTTP endpoints on one axum listener.

mod clients;
pub(crate) mod guard;
mod http;
mod jsonrpc;
mod rest;
mod session_relay;
mod sse;
mod stdio;

pub use clients::{ClientAddr, ClientPolicy};
pub use guard::HostPolicy;
pub use http::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP_REQUEST_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_SESSIONS_PER_SUBJECT, HttpSettings, ServeHandle, build_router, serve_http,
    spawn_http,
};
pub use stdio::serve_stdio;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The request id of an HTTP request: `X-Request-Id` when it is sane, otherwise generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

const REQUEST_ID: &str = "x-request-id";

fn sane_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)))
    .then_some(s)
}

/// Assign a request id, open a span for the request, echo the id back, record metrics.
pub(crate) async fn request_context(mut req: Request, next: Next) -> Response {
    let id: Arc<str> = match req.headers().get(REQUEST_ID).and_then(sane_request_id) {
        Some(s) => Arc::from(s),
        None => Arc::from(uuid::Uuid::new_v4().to_string()),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let method = req.method().clone();
    let span =
        tracing::info_span!("http", request_id = %id, method = %method, path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    metrics::counter!("mcp_http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("mcp_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| tracing::debug!(status, elapsed_ms = elapsed.as_millis() as u64, "request"));
    resp
}
