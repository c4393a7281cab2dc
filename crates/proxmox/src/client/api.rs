//! The Proxmox VE REST API client (`/api2/json`), authenticated with an API token.
//!
//! PVE reports errors in the HTTP reason phrase ("Permission check failed (/vms/100,
//! VM.PowerMgmt)") and parameter errors in `errors`; both reach the model as written.

use mcp_core::ToolError;
use mcp_core::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const UPSTREAM: &str = "Proxmox VE";

/// A connected API client.
pub struct PveClient {
    upstream: Upstream,
    auth: SecretString,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient").finish_non_exhaustive()
    }
}

impl PveClient {
    pub fn new(upstream: Upstream, token_id: &str, secret: &SecretString) -> Self {
        let auth = SecretString::from(format!("PVEAPIToken={token_id}={}", secret.expose_secret()));
        Self { upstream, auth }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.upstream
            .request(method, &format!("/api2/json{path}"))
            .header("Authorization", self.auth.expose_secret())
    }

    /// GET with query parameters; returns `data`.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value, ToolError> {
        let rb = self.request(reqwest::Method::GET, path).query(query);
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        interpret(&resp)
    }

    /// A write (POST, PUT, DELETE) with form parameters; returns `data`. Not retried after
    /// it may have been sent.
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, ToolError> {
        let rb = if method == reqwest::Method::DELETE {
            self.request(method, path).query(params)
        } else {
            self.request(method, path).form(params)
        };
        let resp = self.upstream.send(rb, Idempotency::NonIdempotent).await?;
        interpret(&resp)
    }
}

/// PVE's own answer about one object or node (a 500 with a reason phrase, or 595 "node
/// unreachable"), as opposed to the API server failing: not retried, not a breaker failure.
pub fn is_application_error(resp: &UpstreamResponse) -> bool {
    let s = resp.status.as_u16();
    s == 595
        || (s == 500
            && resp
                .reason
                .as_deref()
                .is_some_and(|r| !r.eq_ignore_ascii_case("Internal Server Error")))
}

/// `data` of a successful answer, or a clear error.
pub fn interpret(resp: &UpstreamResponse) -> Result<Value, ToolError> {
    let status = resp.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let reason = resp.reason.clone().unwrap_or_else(|| {
        resp.status
            .canonical_reason()
            .unwrap_or("error")
            .to_string()
    });
    match status {
        200..=299 => match body {
            Some(mut v) => Ok(v.get_mut("data").map(Value::take).unwrap_or(Value::Null)),
            None => Err(ToolError::upstream(
                UPSTREAM,
                "the response is not valid JSON",
            )),
        },
        401 => Err(ToolError::upstream(
            UPSTREAM,
            format!(
                "{reason} (HTTP 401): the API token was rejected; check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET"
            ),
        )),
        403 => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP 403): the API token lacks this privilege"),
        )),
        400 => {
            let fields = body
                .as_ref()
                .and_then(|b| b.get("errors"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default().trim()))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|s| !s.is_empty());
            Err(ToolError::upstream(
                UPSTREAM,
                match fields {
                    Some(f) => format!("{reason} (HTTP 400): {f}"),
                    None => format!("{reason} (HTTP 400)"),
                },
            ))
        }
        429 => Err(ToolError::RateLimited {
            upstream: UPSTREAM.into(),
            retry_after: resp.retry_after(),
        }),
        595 => Err(ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("the node is unreachable from the cluster: {reason} (HTTP 595)"),
            retry_after: None,
        }),
        500 if resp.reason.is_some() => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP 500)"),
        )),
        500..=599 => Err(ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("{reason} (HTTP {status})"),
            retry_after: resp.retry_after(),
        }),
        _ => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP {status})"),
        )),
    }
}
