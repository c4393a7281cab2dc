//! The axum layer that turns a bearer token into a [`Principal`] in the request extensions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{TokenError, Verifier};
use crate::policy::Principal;

/// Shared state of the auth layer.
#[derive(Debug, Clone)]
pub struct AuthLayerState {
    /// `None` means `MCP_AUTH=none`: every caller is `anonymous` with every scope.
    pub verifier: Option<Verifier>,
    /// External base URL (no trailing slash), for `resource_metadata`.
    pub public_url: Option<String>,
}

/// The MCP endpoints, the only paths that need a token. Everything else is either public
/// (`/healthz`, `/readyz`, `/metrics`, `/.well-known/...`) or unknown, and an unknown path
/// gets the router's 404, not a 401 that would send an OAuth client looking for a
/// registration endpoint (and count as an authentication failure).
fn needs_token(path: &str) -> bool {
    path == "/mcp"
        || path.starts_with("/mcp/")
        || path == "/sse"
        || path == "/sse/"
        || path == "/messages"
        || path.starts_with("/messages/")
        || path.starts_with("/api/mcp/")
}

/// Authenticate the request or answer 401.
pub async fn auth_middleware(
    State(state): State<Arc<AuthLayerState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !needs_token(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(verifier) = &state.verifier else {
        req.extensions_mut()
            .insert(Arc::new(Principal::anonymous()));
        return next.run(req).await;
    };
    let result = match bearer(req.headers()) {
        Some(token) => verifier.verify(token).await,
        None => Err(TokenError::Missing),
    };
    match result {
        Ok(principal) => {
            tracing::debug!(subject = %principal.subject, "authenticated");
            req.extensions_mut().insert(Arc::new(principal));
            next.run(req).await
        }
        Err(TokenError::KeysUnavailable) => {
            tracing::warn!(
                path = req.uri().path(),
                "request refused: 503, the JWKS has not been fetched yet"
            );
            metrics::counter!("mcp_auth_failures_total", "reason" => "keys_unavailable")
                .increment(1);
            keys_unavailable()
        }
        Err(err) => {
            tracing::warn!(reason = %err, path = req.uri().path(), "request refused: 401");
            metrics::counter!("mcp_auth_failures_total", "reason" => reason_label(&err))
                .increment(1);
            unauthorized(&state, req.headers(), &err)
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, token
/// trimmed), if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

fn reason_label(e: &TokenError) -> &'static str {
    match e {
        TokenError::Missing => "missing",
        TokenError::Malformed => "malformed",
        TokenError::Algorithm => "algorithm",
        TokenError::Signature => "signature",
        TokenError::UnknownKey => "unknown_key",
        TokenError::Expired => "expired",
        TokenError::NotYetValid => "not_yet_valid",
        TokenError::Issuer => "issuer",
        TokenError::Audience => "audience",
        TokenError::Claim(_) => "claim",
        TokenError::KeysUnavailable => "keys_unavailable",
    }
}

/// The base URL clients see: `MCP_PUBLIC_URL`, or `http://<Host>`.
pub(crate) fn base_url_for(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(u) = public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// 503 while the JWKS URL has not answered: the token may be fine, so no 401 (which would
/// send an OAuth client to re-authenticate); the client should retry.
fn keys_unavailable() -> Response {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": TokenError::KeysUnavailable.to_string(),
    });
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    crate::transport::guard::close_connection(&mut resp);
    resp
}

fn unauthorized(state: &AuthLayerState, headers: &HeaderMap, err: &TokenError) -> Response {
    let meta = format!(
        "{}/.well-known/oauth-protected-resource",
        base_url_for(state.public_url.as_deref(), headers)
    );
    let challenge = match err {
        TokenError::Missing => format!("Bearer resource_metadata=\"{meta}\""),
        other => format!(
            "Bearer resource_metadata=\"{meta}\", error=\"invalid_token\", error_description=\"{other}\""
        ),
    };
    let body = serde_json::json!({
        "error": if matches!(err, TokenError::Missing) { "unauthorized" } else { "invalid_token" },
        "error_description": err.to_string(),
    });
    let mut resp = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    crate::transport::guard::close_connection(&mut resp);
    resp
}
