//! The Prisma AIRS API Intercept client, shared by `panw-airs` (its tools) and by the
//! output guard ([`crate::guard`]) that every server can turn on. Callers never build
//! requests or read JSON; they call this with the typed requests of [`model`] and get its
//! typed responses back. Built with the `airs` feature (on by default).
//!
//! The key travels in the `x-pan-token` header. Responses are read leniently (see [`model`]):
//! fields the API adds later reach the caller instead of breaking the parse.

pub mod error;
pub mod limits;
pub mod model;
pub mod settings;

use std::time::Duration;

use crate::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use error::ClientError;
use model::{
    AsyncScanObject, AsyncScanResponse, ScanIdResult, ScanRequest, ScanResponse, ThreatReport,
};

use settings::AirsSettings;

/// The upstream's name in errors and metrics.
pub const UPSTREAM: &str = "AIRS";

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
    pub fn new(settings: &AirsSettings) -> Result<Self, ClientError> {
        let upstream = Upstream::new(settings.upstream.clone())?;
        Ok(Self {
            upstream,
            key: settings.api_key.clone(),
        })
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        // Scans have no side effect beyond a log entry, so 5xx answers are retried.
        let rb = rb
            .header("x-pan-token", self.key.expose_secret())
            .header("accept", "application/json");
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        interpret(&resp)
    }

    /// `POST /v1/scan/sync/request`: the verdict, with a category and an action.
    pub async fn sync_scan(&self, req: &ScanRequest) -> Result<ScanResponse, ClientError> {
        let v = self
            .send(
                self.upstream
                    .request(reqwest::Method::POST, "/v1/scan/sync/request")
                    .json(req),
            )
            .await?;
        decode_scan(v)
    }

    /// `POST /v1/scan/async/request` with at most five items.
    pub async fn async_scan(
        &self,
        batch: &[AsyncScanObject],
    ) -> Result<AsyncScanResponse, ClientError> {
        let v = self
            .send(
                self.upstream
                    .request(reqwest::Method::POST, "/v1/scan/async/request")
                    .json(batch),
            )
            .await?;
        decode_async(v)
    }

    /// `GET /v1/scan/results?scan_ids=…` for at most five validated ids.
    pub async fn results(&self, ids: &[String]) -> Result<Vec<ScanIdResult>, ClientError> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/results")
            .query(&[("scan_ids", ids.join(","))]);
        decode_results(self.send(rb).await?)
    }

    /// `GET /v1/scan/reports?report_ids=…` for at most five validated ids.
    pub async fn reports(&self, ids: &[String]) -> Result<Vec<ThreatReport>, ClientError> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/reports")
            .query(&[("report_ids", ids.join(","))]);
        decode_reports(self.send(rb).await?)
    }

    /// Reachability for `/readyz` and `check`: an authenticated request that scans nothing.
    pub async fn probe(&self) -> Result<String, ClientError> {
        let rb = self
            .upstream
            .request(reqwest::Method::GET, "/v1/scan/results")
            .query(&[("scan_ids", "00000000-0000-0000-0000-000000000000")])
            .header("x-pan-token", self.key.expose_secret());
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        if resp.status.is_success() {
            Ok(format!(
                "AIRS API reachable at {}",
                self.upstream.config().base_url
            ))
        } else {
            Err(interpret(&resp)
                .err()
                .unwrap_or_else(|| ClientError::Rejected {
                    status: resp.status.as_u16(),
                    message: api_message(&resp),
                }))
        }
    }
}

/// A sync scan answer: an object with a string `category` and `action`. Public, with the other
/// `decode_*` functions and [`interpret`], for the fuzz targets (`fuzz/`) and property tests.
pub fn decode_scan(v: Value) -> Result<ScanResponse, ClientError> {
    if !v.is_object() {
        return Err(ClientError::Malformed(
            "the scan response is not a JSON object",
        ));
    }
    let r: ScanResponse = serde_json::from_value(v)
        .map_err(|_| ClientError::Malformed("the scan response is not a JSON object"))?;
    if r.category.is_none() {
        return Err(ClientError::Malformed("the scan response has no category"));
    }
    if r.action.is_none() {
        return Err(ClientError::Malformed("the scan response has no action"));
    }
    Ok(r)
}

/// An async scan answer: an object with a string `scan_id`.
pub fn decode_async(v: Value) -> Result<AsyncScanResponse, ClientError> {
    let missing = || ClientError::Malformed("the async response has no scan_id");
    if !v.is_object() {
        return Err(missing());
    }
    serde_json::from_value(v).map_err(|_| missing())
}

/// A results page: an array; items that are not objects are skipped.
pub fn decode_results(v: Value) -> Result<Vec<ScanIdResult>, ClientError> {
    Ok(objects(v)?
        .filter_map(|o| serde_json::from_value(o).ok())
        .collect())
}

/// A reports page: an array; items that are not objects are skipped.
pub fn decode_reports(v: Value) -> Result<Vec<ThreatReport>, ClientError> {
    Ok(objects(v)?
        .filter_map(|o| serde_json::from_value(o).ok())
        .collect())
}

fn objects(v: Value) -> Result<impl Iterator<Item = Value>, ClientError> {
    match v {
        Value::Array(items) => Ok(items.into_iter().filter(Value::is_object)),
        other => Err(ClientError::NotArray(kind(&other))),
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
pub fn interpret(resp: &UpstreamResponse) -> Result<Value, ClientError> {
    let status = resp.status.as_u16();
    match status {
        200..=299 => {
            serde_json::from_slice(&resp.body).map_err(|e| ClientError::NotJson(e.to_string()))
        }
        401 | 403 => Err(ClientError::Unauthorized {
            status,
            message: api_message(resp),
        }),
        413 => Err(ClientError::TooLarge {
            message: api_message(resp),
        }),
        429 => Err(ClientError::RateLimited {
            retry_after: resp.retry_after().unwrap_or(Duration::from_secs(1)),
        }),
        500..=599 => Err(ClientError::ServerError {
            status,
            message: api_message(resp),
            retry_after: resp.retry_after(),
        }),
        _ => Err(ClientError::Rejected {
            status,
            message: api_message(resp),
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::ToolError;

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
            assert_eq!(ToolError::from(e).to_string(), want);
        }
        let e = interpret(&resp(200, "{not json", None)).expect_err("bad json");
        assert!(
            ToolError::from(e)
                .to_string()
                .starts_with("AIRS said: the response is not valid JSON")
        );
    }
}
