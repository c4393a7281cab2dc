//! Prisma AIRS (AI Runtime Security, "API Intercept") simulator: the
//! `/v1/scan/*` endpoints with deterministic detectors, async batches that
//! complete after a delay, and reports. See `fixtures/airs/README.md`.

pub mod detect;
pub mod model;
pub mod ratelimit;
pub mod scan;
pub mod store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use futures::StreamExt;
use serde::Serialize;

use crate::common::{Fault, SimControl, control_router, dropped_response};
use model::{
    AsyncScanObject, AsyncScanResponse, ErrorBody, ErrorMessage, SIM_DETECTOR_VERSION, SOURCE,
    ScanRequest, rfc3339,
};
use ratelimit::RateLimiter;
use store::{MAX_SCANS, ScanRecord, Store};

/// Header carrying the API key.
pub const TOKEN_HEADER: &str = "x-pan-token";
/// Largest sync request body, in bytes (2 MiB).
pub const SYNC_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Largest async request body, in bytes (5 MiB).
pub const ASYNC_BODY_LIMIT: usize = 5 * 1024 * 1024;
/// Most items in an async batch.
pub const MAX_BATCH: usize = 5;
/// Most ids in one results or reports lookup.
pub const MAX_IDS: usize = 5;
/// Longest scan id accepted by `/v1/scan/results`.
pub const MAX_SCAN_ID_LEN: usize = 36;
/// Longest report id accepted by `/v1/scan/reports`.
pub const MAX_REPORT_ID_LEN: usize = 40;
/// An oversized body is read and discarded up to this many bytes before the
/// 413 is sent, so the client sees the answer instead of a reset.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// ... and until no data arrives for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(500);

/// Settings of the simulated tenant.
#[derive(Debug, Clone)]
pub struct AirsConfig {
    /// The only API key accepted in `x-pan-token`.
    pub api_key: String,
    /// Profile names; `pid-NAME` is each one's profile id.
    pub profiles: Vec<String>,
    /// How long async scans stay pending.
    pub async_delay: Duration,
    /// Requests per second per key; 0 means unlimited.
    pub rate_limit: u32,
}

/// The simulated AIRS service.
#[derive(Debug)]
pub struct AirsSim {
    config: AirsConfig,
    store: Store,
    limiter: RateLimiter,
}

impl AirsSim {
    /// A service keeping the last [`MAX_SCANS`] scans.
    pub fn new(config: AirsConfig) -> Self {
        Self::with_capacity(config, MAX_SCANS)
    }

    /// A service keeping the last `capacity` scans.
    pub fn with_capacity(config: AirsConfig, capacity: usize) -> Self {
        Self {
            limiter: RateLimiter::new(config.rate_limit),
            store: Store::new(capacity),
            config,
        }
    }

    /// Number of stored scans.
    pub fn scan_count(&self) -> usize {
        self.store.len()
    }
}

/// An API error: `{"error": {"message": ...}}` with a status.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// A 429 with `Retry-After: secs`.
    pub fn rate_limited(secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
        }
    }

    /// A 400.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorMessage {
                message: self.message,
            },
        };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

#[derive(Debug, Clone)]
struct AppState {
    sim: Arc<AirsSim>,
    ctl: SimControl,
}

/// The full router: `/v1/*`, `GET /_sim/scans` and the `/_sim/*` control endpoints.
pub fn router(sim: Arc<AirsSim>, ctl: SimControl) -> Router {
    Router::new()
        .route("/v1/{*rest}", any(v1_handler))
        .route("/_sim/scans", get(scans_handler))
        .with_state(AppState {
            sim,
            ctl: ctl.clone(),
        })
        .merge(control_router(ctl))
}

async fn scans_handler(State(app): State<AppState>) -> Response {
    Json(serde_json::json!({"scans": app.sim.scan_count()})).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Sync,
    Async,
    Results,
    Reports,
}

impl Endpoint {
    fn classify(path: &str) -> Option<Self> {
        match path {
            "/v1/scan/sync/request" => Some(Self::Sync),
            "/v1/scan/async/request" => Some(Self::Async),
            "/v1/scan/results" => Some(Self::Results),
            "/v1/scan/reports" => Some(Self::Reports),
            _ => None,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Async => "async",
            Self::Results => "results",
            Self::Reports => "reports",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Sync | Self::Async => Method::POST,
            Self::Results | Self::Reports => Method::GET,
        }
    }

    fn allow(self) -> &'static str {
        match self {
            Self::Sync | Self::Async => "POST",
            Self::Results | Self::Reports => "GET",
        }
    }

    /// The query parameter listing ids, and the longest id allowed.
    fn ids_param(self) -> Option<(&'static str, usize)> {
        match self {
            Self::Results => Some(("scan_ids", MAX_SCAN_ID_LEN)),
            Self::Reports => Some(("report_ids", MAX_REPORT_ID_LEN)),
            Self::Sync | Self::Async => None,
        }
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json_ok<T: Serialize>(value: &T) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

fn fault_response(fault: Fault) -> Option<Response> {
    match fault {
        Fault::None => None,
        Fault::Drop => Some(dropped_response()),
        Fault::RateLimit { retry_after_secs } => {
            Some(ApiError::rate_limited(retry_after_secs).into_response())
        }
        Fault::Fail { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Error");
            Some(ApiError::new(status, reason).into_response())
        }
        Fault::Malformed => Some(
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                "{\"scan_id\": ",
            )
                .into_response(),
        ),
    }
}

async fn v1_handler(State(app): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let endpoint = Endpoint::classify(parts.uri.path());
    let ids = endpoint
        .and_then(Endpoint::ids_param)
        .and_then(|(name, _)| query_param(parts.uri.query(), name));
    let (kind, key) = match endpoint {
        Some(e @ (Endpoint::Results | Endpoint::Reports)) => (
            e.kind(),
            format!("{}:{}", e.kind(), ids.as_deref().unwrap_or_default()),
        ),
        Some(e) => (e.kind(), e.kind().to_owned()),
        None => (
            "unknown",
            format!("unknown:{} {}", parts.method, parts.uri.path()),
        ),
    };
    app.ctl.stats.record(kind, &key);
    tracing::debug!(method = %parts.method, %key, "airs request");

    if let Some(r) = fault_response(app.ctl.faults.apply().await) {
        return r;
    }
    let Some(endpoint) = endpoint else {
        return ApiError::new(StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    if parts.method != endpoint.method() {
        let mut r =
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(endpoint.allow()));
        return r;
    }
    if let Err(e) = authorize(&app.sim, &parts.headers) {
        return e.into_response();
    }
    let sim = &app.sim;
    let result = match endpoint {
        Endpoint::Sync => sync_scan(sim, &parts.headers, body).await,
        Endpoint::Async => async_scan(sim, &parts.headers, body).await,
        Endpoint::Results => parse_ids(ids.as_deref(), endpoint)
            .map(|ids| json_ok(&sim.store.results(&ids, Instant::now()))),
        Endpoint::Reports => parse_ids(ids.as_deref(), endpoint)
            .map(|ids| json_ok(&sim.store.reports(&ids, Instant::now()))),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Checks `x-pan-token` (401 when missing or empty, 403 when wrong), then
/// the per-key rate limit (429).
fn authorize(sim: &AirsSim, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(TOKEN_HEADER)
        .map(HeaderValue::as_bytes)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "Not Authenticated"));
    };
    if token != sim.config.api_key.as_bytes() {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "Invalid API key"));
    }
    if !sim.limiter.allow(&sim.config.api_key, Instant::now()) {
        return Err(ApiError::rate_limited(1));
    }
    Ok(())
}

/// Splits `raw` on commas: 1 to [`MAX_IDS`] non-empty ids within the
/// endpoint's length limit; duplicates are dropped.
fn parse_ids(raw: Option<&str>, endpoint: Endpoint) -> Result<Vec<&str>, ApiError> {
    let Some((name, max_len)) = endpoint.ids_param() else {
        return Err(ApiError::bad("no ids expected"));
    };
    let raw = raw.ok_or_else(|| ApiError::bad(format!("{name} is required")))?;
    let ids: Vec<&str> = raw.split(',').collect();
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad(format!("{name} must not contain empty ids")));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad(format!(
            "{name} accepts at most {MAX_IDS} ids"
        )));
    }
    if ids.iter().any(|id| id.chars().count() > max_len) {
        return Err(ApiError::bad(format!(
            "each id in {name} must be at most {max_len} characters"
        )));
    }
    let mut seen = HashSet::new();
    Ok(ids.into_iter().filter(|id| seen.insert(*id)).collect())
}

/// Reads a body of at most `limit` bytes, checking `Content-Length` first
/// and then the bytes actually received (413 either way).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > limit as u64) {
        drain(&mut stream, 0).await;
        return Err(ApiError::too_large());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad(format!("cannot read body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            drain(&mut stream, buf.len() + chunk.len()).await;
            return Err(ApiError::too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Discards the rest of a rejected body (bounded by [`DRAIN_LIMIT`] and
/// [`DRAIN_IDLE`]) so the 413 reaches the client.
async fn drain(stream: &mut axum::body::BodyDataStream, mut read: usize) {
    while read < DRAIN_LIMIT {
        match tokio::time::timeout(DRAIN_IDLE, stream.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len(),
            _ => break,
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad(format!("invalid request body: {e}")))
}

fn new_ids() -> (String, String) {
    let scan_id = uuid::Uuid::new_v4().to_string();
    let report_id = format!("R{scan_id}");
    (scan_id, report_id)
}

async fn sync_scan(sim: &AirsSim, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, SYNC_BODY_LIMIT).await?;
    let req: ScanRequest = parse_json(&bytes)?;
    let valid = scan::validate(&req, &sim.config.profiles)?;
    let (scan_id, report_id) = new_ids();
    let now = SystemTime::now();
    let item = scan::evaluate(
        &req,
        valid,
        scan::ItemIds {
            scan_id: &scan_id,
            report_id: &report_id,
            req_id: 0,
            created: now,
            completed: now,
        },
    );
    let response = json_ok(&item.result);
    sim.store.insert(ScanRecord {
        scan_id,
        report_id,
        ready_at: Instant::now(),
        items: vec![item],
    });
    Ok(response)
}

async fn async_scan(sim: &AirsSim, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, ASYNC_BODY_LIMIT).await?;
    let batch: Vec<AsyncScanObject> = parse_json(&bytes)?;
    if batch.is_empty() || batch.len() > MAX_BATCH {
        return Err(ApiError::bad(format!(
            "the batch must hold 1 to {MAX_BATCH} items, got {}",
            batch.len()
        )));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = batch.iter().find(|o| !seen.insert(o.req_id)) {
        return Err(ApiError::bad(format!("duplicate req_id {}", dup.req_id)));
    }
    let valid = batch
        .iter()
        .map(|o| scan::validate(&o.scan_req, &sim.config.profiles))
        .collect::<Result<Vec<_>, _>>()?;
    let (scan_id, report_id) = new_ids();
    let received = SystemTime::now();
    let delay = sim.config.async_delay;
    let ready_at = Instant::now() + delay;
    let items = batch
        .iter()
        .zip(valid)
        .map(|(o, v)| {
            scan::evaluate(
                &o.scan_req,
                v,
                scan::ItemIds {
                    scan_id: &scan_id,
                    report_id: &report_id,
                    req_id: o.req_id,
                    created: received,
                    completed: received + delay,
                },
            )
        })
        .collect();
    let response = json_ok(&AsyncScanResponse {
        received: rfc3339(received),
        scan_id: scan_id.clone(),
        report_id: report_id.clone(),
        source: SOURCE,
        x_sim_detector_version: SIM_DETECTOR_VERSION,
    });
    sim.store.insert(ScanRecord {
        scan_id,
        report_id,
        ready_at,
        items,
    });
    Ok(response)
}
