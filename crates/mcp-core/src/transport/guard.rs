//! Host and Origin validation against DNS rebinding.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Which `Host` values (and browser `Origin`s) are accepted.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    /// Hostnames or `host:port` authorities. Empty means any (`MCP_ALLOWED_HOSTS=*`).
    pub allowed: Vec<String>,
}

impl HostPolicy {
    /// Loopback names plus `extra`.
    pub fn loopback_plus(extra: impl IntoIterator<Item = String>) -> Self {
        let mut allowed: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for e in extra {
            if !allowed.contains(&e) {
                allowed.push(e);
            }
        }
        Self { allowed }
    }

    /// Whether an authority (`host[:port]`) is allowed.
    pub fn allows_authority(&self, authority: &str) -> bool {
        if self.allowed.is_empty() {
            return true;
        }
        let authority = authority.to_ascii_lowercase();
        let host = strip_port(&authority);
        self.allowed.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == authority || (strip_port(&a) == a && a == host)
        })
    }
}

fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Refuse requests whose `Host`, or whose browser `Origin`, is not allowed.
pub(crate) async fn host_guard(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let Some(host) = host else {
        return forbidden("missing Host header");
    };
    if !policy.allows_authority(&host) {
        tracing::warn!(host = %host, "request refused: Host not allowed (set MCP_ALLOWED_HOSTS or MCP_PUBLIC_URL)");
        return forbidden("Host not allowed");
    }
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    {
        let authority = url::Url::parse(origin).ok().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        });
        if !authority.is_some_and(|a| policy.allows_authority(&a)) {
            tracing::warn!(origin = %origin, "request refused: Origin not allowed");
            return forbidden("Origin not allowed");
        }
    }
    next.run(req).await
}

fn forbidden(msg: &'static str) -> Response {
    let mut resp = (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({"error": "forbidden", "error_description": msg})),
    )
        .into_response();
    close_connection(&mut resp);
    resp
}

/// Marks an early refusal (sent before the request body was read) as the last response on
/// its connection. Without the header, the server drops the keep-alive connection anyway
/// (the unread body makes it unusable) and a client that reuses it sees "server
/// disconnected" on its next request.
pub(crate) fn close_connection(resp: &mut Response) {
    resp.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        let p = HostPolicy::loopback_plus([
            "mcp.example.com".to_string(),
            "other.example:8443".to_string(),
        ]);
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:9",
            "MCP.example.com",
            "mcp.example.com:443",
            "other.example:8443",
        ] {
            assert!(p.allows_authority(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "other.example",
            "other.example:1",
            "127.0.0.2",
            "mcp.example.com.evil.com",
        ] {
            assert!(!p.allows_authority(bad), "{bad}");
        }
        assert!(HostPolicy { allowed: vec![] }.allows_authority("anything"));
    }
}
