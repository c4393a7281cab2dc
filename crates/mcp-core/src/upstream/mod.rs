//! The HTTP client every vendor client uses to reach its upstream.
//!
//! It gives each upstream: connect, read and total timeouts; TLS verified by default, with a
//! custom CA file or an explicit, loudly logged insecure mode; bounded retries with jittered
//! exponential backoff for idempotent calls, honouring `Retry-After`; a circuit breaker; and
//! per-upstream metrics. It never logs request bodies or credentials.

pub mod breaker;
mod config;
mod count;
pub mod pin;

pub use config::{TlsOptions, UpstreamConfig, parse_base_url};
pub use count::{count_upstream_calls, record_upstream_call};

use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::ToolError;

/// Whether a request may be sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to retry after a timeout or a 5xx (reads, PUT-style upserts).
    Idempotent,
    /// Retried only when the connection was refused, i.e. the request never left.
    NonIdempotent,
}

/// A failed exchange with the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{upstream} circuit breaker is open after repeated failures")]
    CircuitOpen {
        upstream: String,
        retry_in: Duration,
    },
    #[error("{upstream} did not answer within {}", humantime::format_duration(*after))]
    Timeout { upstream: String, after: Duration },
    #[error("cannot connect to {upstream}: {detail}")]
    Connect { upstream: String, detail: String },
    #[error("{upstream} connection failed: {detail}")]
    Transport { upstream: String, detail: String },
    #[error("{upstream} response is larger than {limit} bytes")]
    TooLarge { upstream: String, limit: usize },
    #[error("invalid request to {upstream}: {detail}")]
    Request { upstream: String, detail: String },
    #[error("{upstream} setup: {detail}")]
    Setup { upstream: String, detail: String },
}

impl From<UpstreamError> for ToolError {
    fn from(e: UpstreamError) -> Self {
        e.to_tool_error()
    }
}

impl UpstreamError {
    /// The tool error a model should see for this failure.
    pub fn to_tool_error(&self) -> ToolError {
        match self {
            UpstreamError::CircuitOpen { upstream, retry_in } => ToolError::Unavailable {
                message: "circuit breaker is open after repeated failures; requests are paused to protect it".into(),
                upstream: upstream.clone(),
                retry_after: Some(*retry_in),
            },
            UpstreamError::Timeout { upstream, after } => ToolError::Unavailable {
                message: format!("no answer within {}", humantime::format_duration(*after)),
                upstream: upstream.clone(),
                retry_after: None,
            },
            UpstreamError::Connect { upstream, detail } | UpstreamError::Transport { upstream, detail } => {
                ToolError::Unavailable { upstream: upstream.clone(), message: detail.clone(), retry_after: None }
            }
            UpstreamError::TooLarge { upstream, limit } => ToolError::upstream(
                upstream.clone(),
                format!("response exceeds the {limit}-byte limit; narrow the query"),
            ),
            UpstreamError::Request { .. } | UpstreamError::Setup { .. } => ToolError::internal(self.to_string()),
        }
    }
}

/// A complete upstream response (body read, size-capped). Any HTTP status.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// A non-standard HTTP/1 reason phrase, when the server sent one (Proxmox puts its
    /// error messages there).
    pub reason: Option<String>,
}

impl UpstreamResponse {
    /// `Retry-After` in seconds or as an HTTP date.
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }

    /// The body as text, lossily, for error messages; at most `max` characters.
    pub fn text_snippet(&self, max: usize) -> String {
        let s = String::from_utf8_lossy(&self.body);
        let s = s.trim();
        let mut out: String = s
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(max)
            .collect();
        if s.chars().count() > max {
            out.push('…');
        }
        out
    }
}

/// Parse `Retry-After` (delta-seconds or HTTP-date).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_parse(v)?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    humantime::parse_rfc3339_weak(v).ok().or_else(|| {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        let parts: Vec<&str> = v.split_whitespace().collect();
        if parts.len() != 6 || parts[5] != "GMT" {
            return None;
        }
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = months.iter().position(|m| *m == parts[2])? + 1;
        let s = format!("{}-{:02}-{:0>2}T{}Z", parts[3], month, parts[1], parts[4]);
        humantime::parse_rfc3339(&s).ok()
    })
}

/// One upstream: a configured HTTP client plus its circuit breaker.
#[derive(Debug)]
pub struct Upstream {
    cfg: UpstreamConfig,
    http: reqwest::Client,
    breaker: breaker::Breaker,
}

impl Upstream {
    /// Build the client. Logs a loud warning when TLS verification is off.
    pub fn new(cfg: UpstreamConfig) -> Result<Self, UpstreamError> {
        let http = cfg.build_client()?;
        let breaker = breaker::Breaker::new(&cfg.name, cfg.breaker_failures, cfg.breaker_cooldown);
        Ok(Self { cfg, http, breaker })
    }

    /// The upstream's display name (`PAN-OS`, `Proxmox VE`, ...).
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The configuration in force.
    pub fn config(&self) -> &UpstreamConfig {
        &self.cfg
    }

    /// The underlying client (for callers that need raw access, such as a readiness probe).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to `path` relative to the base URL.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = self.cfg.url_for(path);
        self.http.request(method, url)
    }

    /// Send a request with the retry, breaker and deadline policy. Returns the response for
    /// any HTTP status; the caller maps statuses to its own errors.
    pub async fn send(
        &self,
        rb: reqwest::RequestBuilder,
        idem: Idempotency,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let req = rb.build().map_err(|e| UpstreamError::Request {
            upstream: self.cfg.name.clone(),
            detail: e.to_string(),
        })?;
        let deadline = self.cfg.total_timeout;
        match tokio::time::timeout(deadline, self.send_with_retries(req, idem)).await {
            Ok(r) => r,
            Err(_) => {
                self.breaker.on_failure();
                metrics::counter!("mcp_upstream_requests_total", "upstream" => self.cfg.name.clone(), "outcome" => "deadline").increment(1);
                Err(UpstreamError::Timeout {
                    upstream: self.cfg.name.clone(),
                    after: deadline,
                })
            }
        }
    }

    async fn send_with_retries(
        &self,
        req: reqwest::Request,
        idem: Idempotency,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.cfg.retry_base)
            .with_max_delay(self.cfg.retry_max)
            .with_jitter()
            .with_max_times(self.cfg.max_retries as usize)
            .build();
        let name = self.cfg.name.clone();
        loop {
            if let Err(retry_in) = self.breaker.permit() {
                metrics::counter!("mcp_upstream_requests_total", "upstream" => name.clone(), "outcome" => "circuit_open").increment(1);
                return Err(UpstreamError::CircuitOpen {
                    upstream: name,
                    retry_in,
                });
            }
            let attempt = req.try_clone().ok_or_else(|| UpstreamError::Request {
                upstream: name.clone(),
                detail: "streaming bodies cannot be retried".into(),
            })?;
            record_upstream_call();
            let started = Instant::now();
            let outcome = self.execute(attempt).await;
            metrics::histogram!("mcp_upstream_request_duration_seconds", "upstream" => name.clone())
                .record(started.elapsed().as_secs_f64());
            let (retryable, wait_hint) = match &outcome {
                Ok(resp) if self.cfg.application_error.is_some_and(|f| f(resp)) => {
                    self.breaker.on_success();
                    (false, None)
                }
                Ok(resp) if resp.status.is_server_error() => {
                    self.breaker.on_failure();
                    (idem == Idempotency::Idempotent, resp.retry_after())
                }
                Ok(resp) if resp.status == StatusCode::TOO_MANY_REQUESTS => {
                    self.breaker.on_success();
                    (idem == Idempotency::Idempotent, resp.retry_after())
                }
                Ok(_) => {
                    self.breaker.on_success();
                    (false, None)
                }
                Err(e) => {
                    self.breaker.on_failure();
                    let sent_nothing = matches!(e, UpstreamError::Connect { .. });
                    (idem == Idempotency::Idempotent || sent_nothing, None)
                }
            };
            let label = match &outcome {
                Ok(r) => status_class(r.status),
                Err(UpstreamError::Timeout { .. }) => "timeout",
                Err(UpstreamError::Connect { .. }) => "connect_error",
                Err(UpstreamError::TooLarge { .. }) => "too_large",
                Err(_) => "transport_error",
            };
            metrics::counter!("mcp_upstream_requests_total", "upstream" => name.clone(), "outcome" => label).increment(1);
            if !retryable || matches!(outcome, Err(UpstreamError::TooLarge { .. })) {
                return outcome;
            }
            let Some(delay) = backoff.next() else {
                return outcome;
            };
            let delay = match wait_hint {
                // Honour Retry-After when it is short enough to wait for inside this call;
                // otherwise give the answer back so the model is told when to retry.
                Some(hint) if hint <= self.cfg.retry_max => hint.max(delay),
                Some(_) => return outcome,
                None => delay,
            };
            metrics::counter!("mcp_upstream_retries_total", "upstream" => name.clone())
                .increment(1);
            tracing::debug!(upstream = %name, outcome = label, delay_ms = delay.as_millis() as u64, "retrying upstream request");
            tokio::time::sleep(delay).await;
        }
    }

    async fn execute(&self, req: reqwest::Request) -> Result<UpstreamResponse, UpstreamError> {
        let name = &self.cfg.name;
        let mut resp = self
            .http
            .execute(req)
            .await
            .map_err(|e| classify(name, &e, self.cfg.read_timeout))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).trim().to_string())
            .filter(|r| !r.is_empty());
        let limit = self.cfg.max_response_bytes;
        if resp.content_length().is_some_and(|n| n as usize > limit) {
            return Err(UpstreamError::TooLarge {
                upstream: name.clone(),
                limit,
            });
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| classify(name, &e, self.cfg.read_timeout))?
        {
            if body.len() + chunk.len() > limit {
                return Err(UpstreamError::TooLarge {
                    upstream: name.clone(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamResponse {
            status,
            headers,
            body: body.freeze(),
            reason,
        })
    }
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn classify(upstream: &str, e: &reqwest::Error, read_timeout: Duration) -> UpstreamError {
    let upstream = upstream.to_string();
    if e.is_timeout() {
        return UpstreamError::Timeout {
            upstream,
            after: read_timeout,
        };
    }
    let detail = crate::error::error_chain(e);
    // Never echo a URL that could carry a credential in its query.
    let detail = crate::redact::redact_text(&detail);
    if e.is_connect() {
        UpstreamError::Connect { upstream, detail }
    } else {
        UpstreamError::Transport { upstream, detail }
    }
}

#[cfg(test)]
mod tests;
