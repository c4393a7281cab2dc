//! The AIRS API Intercept client. Tools never build requests; they call this.
//!
//! The key travels in the `x-pan-token` header. Responses are kept as JSON values so fields
//! the API adds later reach the model instead of breaking the parse.

pub mod limits;

use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::AirsSettings;

const UPSTREAM: &str = "AIRS";

/// A connected client.
pub struct AirsClient {
    upstream: Upstream,
    key: SecretString,
}

impl std::fmt::Debug for AirsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AirsClient").finish_non_exhaustive()
    }
}

impl AirsClient {
    pub fn new(settings: &AirsSettings) -> Result<Self, String> {
        let upstream = Upstream::new(settings.upstream.clone()).map_err(|e| e.to_string())?;
        Ok(Self {
            upstream,
            key: settings.api_key.clone(),
        })
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Value, ToolError> {
        // Scans have no side effect beyond a log entry, so 5xx answers are retried.
        let rb = rb
            .header("x-pan-token", self.key.expose_secret())
            .header("accept", "application/json");
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        interpret(&resp)
    }

    /// `POST /v1/scan/sync/request`
    pub async fn sync_scan(&self, body: &Value) -> Result<Value, ToolError> {
        self.send(
            self.upstream
                .request(reqwest::Method::POST, "/v1/scan/sync/request")
                .json(body),
        )
        .await
    }

    /// `POST /v1/scan/async/request` with at most five `{req_id, scan_req}` items.
    pub async fn async_scan(&self, batch: &Value) -> Result<Value, ToolError> {
        self.send(
            self.upstream
                .request(reqwest::Method::POST, "/v1/scan/async/request")
                .json(batch),
        )
        .await
    }

    /// `GET /v1/scan/results?scan_ids=…` for at most five validated ids.
    pub async fn results(&self, ids: &[String]) -> Result<Vec<Value>, ToolError> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/results")
            .query(&[("scan_ids", ids.join(","))]);
        as_array(self.send(rb).await?)
    }

    /// `GET /v1/scan/reports?report_ids=…` for at most five validated ids.
    pub async fn reports(&self, ids: &[String]) -> Result<Vec<Value>, ToolError> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/reports")
            .query(&[("report_ids", ids.join(","))]);
        as_array(self.send(rb).await?)
    }

    /// Reachability for `/readyz` and `check`: an authenticated request that scans nothing.
    pub async fn probe(&self) -> Result<String, String> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/results")
            .query(&[("scan_ids", "00000000-0000-0000-0000-000000000000")])
            .header("x-pan-token", self.key.expose_secret());
        let resp = self
            .upstream
            .send(rb, Idempotency::Idempotent)
            .await
            .map_err(|e| e.to_string())?;
        match resp.status.as_u16() {
            200..=299 => Ok(format!(
                "AIRS API reachable at {}",
                self.upstream.config().base_url
            )),
            s => Err(interpret(&resp)
                .err()
                .map_or(format!("HTTP {s}"), |e| e.to_string())),
        }
    }
}

/// The array a results or reports lookup answers with. Public, with [`interpret`], for the
/// fuzz targets (`fuzz/`) and property tests.
pub fn as_array(v: Value) -> Result<Vec<Value>, ToolError> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(ToolError::upstream(
            UPSTREAM,
            format!("expected a JSON array, got {}", kind(&other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The API's own error text: `{"error":{"message":…}}`, `{"message":…}`, or the body.
fn api_message(resp: &UpstreamResponse) -> String {
    let parsed: Option<Value> = serde_json::from_slice(&resp.body).ok();
    parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| resp.text_snippet(200))
}

/// The JSON body of a successful answer, or a clear error for any status and body.
pub fn interpret(resp: &UpstreamResponse) -> Result<Value, ToolError> {
    let status = resp.status.as_u16();
    match status {
        200..=299 => serde_json::from_slice(&resp.body).map_err(|e| {
            ToolError::upstream(UPSTREAM, format!("the response is not valid JSON ({e})"))
        }),
        401 | 403 => Err(ToolError::upstream(
            UPSTREAM,
            format!(
                "{} (HTTP {status}): the API key was rejected or revoked; check PANW_AI_SEC_API_KEY",
                api_message(resp)
            ),
        )),
        413 => Err(ToolError::upstream(
            UPSTREAM,
            format!(
                "{} (HTTP 413): the request is too large; send less content per scan",
                api_message(resp)
            ),
        )),
        429 => Err(ToolError::RateLimited {
            upstream: UPSTREAM.into(),
            retry_after: Some(resp.retry_after().unwrap_or(Duration::from_secs(1))),
        }),
        500..=599 => Err(ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("HTTP {status} after retries: {}", api_message(resp)),
            retry_after: resp.retry_after(),
        }),
        _ => Err(ToolError::upstream(
            UPSTREAM,
            format!("{} (HTTP {status})", api_message(resp)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str, retry_after: Option<&str>) -> UpstreamResponse {
        let mut headers = http::HeaderMap::new();
        if let Some(r) = retry_after {
            headers.insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_str(r).expect("header"),
            );
        }
        UpstreamResponse {
            status: http::StatusCode::from_u16(status).expect("status"),
            headers,
            body: bytes::Bytes::from(body.to_string()),
            reason: None,
        }
    }

    #[test]
    fn every_http_error_maps_to_a_clear_message() {
        let cases = [
            (
                401,
                r#"{"error":{"message":"Not Authenticated"}}"#,
                None,
                "AIRS said: Not Authenticated (HTTP 401): the API key was rejected or revoked; check PANW_AI_SEC_API_KEY",
            ),
            (
                403,
                r#"{"error":{"message":"Invalid API key"}}"#,
                None,
                "AIRS said: Invalid API key (HTTP 403): the API key was rejected or revoked; check PANW_AI_SEC_API_KEY",
            ),
            (
                413,
                r#"{"error":{"message":"Payload too large"}}"#,
                None,
                "AIRS said: Payload too large (HTTP 413): the request is too large; send less content per scan",
            ),
            (
                429,
                r#"{"error":{"message":"Rate limit exceeded"}}"#,
                Some("7"),
                "AIRS is rate limiting requests; retry after 7 s",
            ),
            (
                503,
                "<html>down</html>",
                None,
                "AIRS is unavailable: HTTP 503 after retries: <html>down</html>",
            ),
            (
                400,
                r#"{"message":"bad field"}"#,
                None,
                "AIRS said: bad field (HTTP 400)",
            ),
        ];
        for (status, body, ra, want) in cases {
            let e = interpret(&resp(status, body, ra)).expect_err("error");
            assert_eq!(e.to_string(), want);
        }
        let e = interpret(&resp(200, "{not json", None)).expect_err("bad json");
        assert!(
            e.to_string()
                .starts_with("AIRS said: the response is not valid JSON")
        );
    }
}
