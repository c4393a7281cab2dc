//! PVE-style errors: the message travels in the HTTP reason phrase (status
//! line) and the body is `{"data":null}` (plus `"errors"` for parameter
//! errors), as `pveproxy` does.

use std::collections::BTreeMap;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::state::GuestKind;

/// `Content-Type` of every API response, as PVE sends it.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";
/// PVE's "node unreachable" status.
pub const NODE_UNREACHABLE: u16 = 595;
/// Longest reason phrase sent; longer messages are cut.
const MAX_REASON: usize = 512;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PveError {
    /// HTTP status (may be PVE's 595).
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Per-parameter messages (400 only).
    pub errors: Option<BTreeMap<String, String>>,
    /// `Retry-After` seconds (injected 429 only).
    pub retry_after_secs: Option<u64>,
}

impl PveError {
    /// An error with `status` and reason phrase `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            errors: None,
            retry_after_secs: None,
        }
    }

    /// 500 with `reason`: how PVE reports most failures.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(500, reason)
    }

    /// 401 `authentication failure`.
    pub fn auth() -> Self {
        Self::new(401, "authentication failure")
    }

    /// 400 `Parameter verification failed.` with one parameter message.
    pub fn param(field: &str, message: impl Into<String>) -> Self {
        Self {
            errors: Some(BTreeMap::from([(field.to_owned(), message.into())])),
            ..Self::new(400, "Parameter verification failed.")
        }
    }

    /// 501 `Method 'GET /path' not implemented`.
    pub fn not_implemented(method: &str, path: &str) -> Self {
        Self::new(501, format!("Method '{method} {path}' not implemented"))
    }

    /// 500 for a node that is not a cluster member.
    pub fn unknown_node(node: &str) -> Self {
        Self::internal(format!(
            "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
        ))
    }

    /// 595 `No route to host` for a member that is offline.
    pub fn node_unreachable() -> Self {
        Self::new(NODE_UNREACHABLE, "No route to host")
    }

    /// 500 for a guest that is not of this kind on this node.
    pub fn no_config(kind: GuestKind, node: &str, vmid: u32) -> Self {
        Self::internal(format!(
            "Configuration file '{}' does not exist",
            kind.config_file(node, vmid)
        ))
    }

    /// 403 `Permission check failed (PATH, PRIVILEGE)`.
    pub fn permission(path: &str, privilege: &str) -> Self {
        Self::new(
            403,
            format!("Permission check failed ({path}, {privilege})"),
        )
    }

    /// 500 `no such task`.
    pub fn no_such_task() -> Self {
        Self::internal("no such task")
    }

    /// The same error with a `Retry-After` header.
    pub fn with_retry_after(self, secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..self
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        match &self.errors {
            Some(errors) => json!({"data": null, "errors": errors}),
            None => json!({"data": null}),
        }
    }
}

/// `reason` made safe for a status line: printable ASCII only, bounded length.
pub fn sanitize_reason(reason: &str) -> String {
    reason
        .chars()
        .take(MAX_REASON)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Puts `reason` on the response's status line (hyper's HTTP/1 server
/// writes a [`hyper::ext::ReasonPhrase`] found in the extensions).
pub fn set_reason(response: &mut Response, reason: &str) {
    let clean = sanitize_reason(reason);
    match hyper::ext::ReasonPhrase::try_from(clean.into_bytes()) {
        Ok(phrase) => {
            response.extensions_mut().insert(phrase);
        }
        Err(e) => tracing::warn!(error = %e, "reason phrase rejected"),
    }
}

/// A JSON response with PVE's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for PveError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = json_response(status, &self.body());
        set_reason(&mut r, &self.reason);
        if let Some(secs) = self.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_sanitized() {
        assert_eq!(sanitize_reason("a\r\nb\tc é"), "a??b?c ?");
        assert_eq!(sanitize_reason(&"x".repeat(2000)).len(), MAX_REASON);
    }

    #[test]
    fn messages_match_pve() {
        assert_eq!(
            PveError::no_config(GuestKind::Qemu, "pve1", 999).reason,
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
        );
        assert_eq!(
            PveError::no_config(GuestKind::Lxc, "pve1", 999).reason,
            "Configuration file 'nodes/pve1/lxc/999.conf' does not exist"
        );
        assert_eq!(
            PveError::param("vmid", "x").body(),
            json!({"data": null, "errors": {"vmid": "x"}})
        );
        assert_eq!(PveError::auth().body(), json!({"data": null}));
    }
}
