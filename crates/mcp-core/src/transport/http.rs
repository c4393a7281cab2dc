//! One axum listener for every HTTP endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::guard::{HostPolicy, host_guard};
use super::sse::{self, SseState};
use crate::app::App;
use crate::auth::{AuthLayerState, auth_middleware};
use crate::readiness::ProbeCache;
use crate::server::{McpServer, Shared};

/// Time between the last in-flight call finishing and sessions being closed on shutdown.
const SSE_FLUSH: Duration = Duration::from_millis(200);

/// Default `MCP_MAX_SESSIONS_PER_SUBJECT`.
pub const DEFAULT_MAX_SESSIONS_PER_SUBJECT: usize = 1_000;
/// Default `MCP_HTTP_HEADER_TIMEOUT` (hyper's own default, which needs a timer to apply).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `MCP_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// Default `MCP_HTTP_REQUEST_TIMEOUT`.
pub const DEFAULT_HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// HTTP transport settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub bind: SocketAddr,
    /// Serve `/mcp` without sessions: any replica answers any request.
    pub stateless: bool,
    pub hosts: HostPolicy,
    /// External base URL, for OAuth metadata.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    /// Open sessions one subject may hold (stateful HTTP and SSE together), so that one token
    /// cannot take the whole session budget.
    pub max_sessions_per_subject: usize,
    /// A client must send a request's headers within this long (also the longest an idle
    /// keep-alive connection is held): slow-header clients cannot hold connections open.
    pub header_read_timeout: Duration,
    /// Connections served at once; further connections are accepted and closed at once.
    pub max_connections: usize,
    /// The longest a request on a non-streaming route (health, readiness, metrics, OAuth
    /// metadata, legacy SSE `POST /messages/`) may take, body included, and the longest a
    /// `POST /mcp` body may take to arrive.
    pub http_request_timeout: Duration,
    /// Idle stateful sessions are closed after this long.
    pub session_idle: Duration,
    pub sse_keep_alive: Duration,
    /// How long SIGTERM waits for in-flight calls.
    pub shutdown_grace: Duration,
    /// Which client addresses may connect, and whose `X-Forwarded-For` is believed.
    pub clients: super::ClientPolicy,
    /// Serve the REST facade under `/api/mcp/` (`MCP_REST`).
    pub rest: bool,
    /// How often the `/health` checks run.
    pub health_interval: Duration,
    /// `/health` shows error texts whole, addresses included (`MCP_HEALTH_DETAILS`).
    pub health_details: bool,
    /// Scopes this server knows, for the protected-resource metadata.
    pub scopes: Vec<String>,
    pub jwt_issuer: Option<String>,
}

impl HttpSettings {
    /// Defaults for a loopback test server.
    pub fn local(bind: SocketAddr) -> Self {
        Self {
            bind,
            stateless: false,
            hosts: HostPolicy::loopback_plus([]),
            public_url: None,
            max_body_bytes: 8 * 1024 * 1024,
            max_sessions: 10_000,
            max_sessions_per_subject: DEFAULT_MAX_SESSIONS_PER_SUBJECT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            http_request_timeout: DEFAULT_HTTP_REQUEST_TIMEOUT,
            session_idle: Duration::from_secs(300),
            sse_keep_alive: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(25),
            clients: super::ClientPolicy::default(),
            rest: false,
            health_interval: Duration::from_secs(15),
            health_details: false,
            scopes: Vec::new(),
            jwt_issuer: None,
        }
    }
}

struct Ops<A: App> {
    shared: Arc<Shared<A>>,
    probe: Arc<ProbeCache>,
    settings: Arc<HttpSettings>,
    health: crate::health::HealthState,
    verifier: Option<crate::auth::Verifier>,
}

/// The full router: `/mcp`, `/sse`, `/messages/`, health, readiness, metrics, OAuth metadata.
pub fn build_router<A: App>(
    shared: Arc<Shared<A>>,
    settings: HttpSettings,
    auth: AuthLayerState,
    shutdown: CancellationToken,
) -> Router {
    let settings = Arc::new(settings);
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(if settings.hosts.allowed.is_empty() {
            Vec::new()
        } else {
            settings.hosts.allowed.clone()
        })
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_sse_keep_alive(Some(settings.sse_keep_alive));
    let mcp_config = if settings.hosts.allowed.is_empty() {
        mcp_config.disable_allowed_hosts()
    } else {
        mcp_config
    };

    let mcp_router: Router = if settings.stateless {
        let s = shared.clone();
        let svc = StreamableHttpService::new(
            move || Ok(McpServer::stateless(s.clone())),
            Arc::new(NeverSessionManager::default()),
            mcp_config
                .with_legacy_session_mode(false)
                .with_json_response(true),
        );
        Router::new().nest_service("/mcp", svc)
    } else {
        let s = shared.clone();
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(settings.session_idle);
        let manager = Arc::new(manager);
        let svc = StreamableHttpService::new(
            move || Ok(McpServer::session(s.clone(), "streamable_http", None)),
            manager.clone(),
            mcp_config.with_legacy_session_mode(true),
        );
        let limit = Arc::new(SessionLimits {
            shared: shared.clone(),
            max: settings.max_sessions,
            per_subject: settings.max_sessions_per_subject,
        });
        let relay = shared.state().map(|store| {
            super::session_relay::SessionRelay::new(store.clone(), settings.sse_keep_alive)
        });
        let owners = Arc::new(SessionOwners {
            manager,
            owners: std::sync::Mutex::new(std::collections::HashMap::new()),
            relay: relay.clone(),
        });
        let inner = Router::new()
            .nest_service("/mcp", svc)
            .layer(axum::middleware::from_fn_with_state(owners, session_owner));
        if let Some(relay) = &relay {
            relay.spawn(inner.clone(), &shared.readiness, shutdown.child_token());
        }
        inner.layer(axum::middleware::from_fn_with_state(
            limit,
            session_cap::<A>,
        ))
    };

    // Bodies that are too large, not JSON or not one JSON-RPC message get the JSON-RPC
    // answer here (rmcp would send a plain-text 415 or a 500).
    let mcp_router = mcp_router.layer(axum::middleware::from_fn(super::jsonrpc::check_mcp_body));

    let sse_state = Arc::new(SseState::new(
        shared.clone(),
        settings.max_sessions,
        settings.max_sessions_per_subject,
        settings.sse_keep_alive,
        shutdown.child_token(),
    ));
    sse_state.spawn_relay_listener();
    let request_timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        settings.http_request_timeout,
    );
    // `GET /sse` answers at once with its stream, so the timeout (which ends when the
    // response starts) never cuts a stream short.
    let sse_router = Router::new()
        .route("/sse", get(sse::open::<A>))
        // The AIRS README connects to `/sse/`: the same stream, the same `endpoint` event.
        .route("/sse/", get(sse::open::<A>))
        .route("/messages/", post(sse::post::<A>))
        .route("/messages", post(sse::post::<A>))
        .with_state(sse_state)
        .layer(request_timeout);

    let mut sse_router = sse_router;
    if settings.rest {
        let rest = Arc::new(super::rest::RestState {
            deadline: shared.call_timeout() + Duration::from_secs(10),
            shared: shared.clone(),
        });
        sse_router = sse_router.merge(
            Router::new()
                .route(
                    "/api/mcp/tools/list",
                    get(super::rest::list::<A>).post(super::rest::list::<A>),
                )
                .route("/api/mcp/tools/call", post(super::rest::call::<A>))
                .route("/api/mcp/openapi.json", get(super::rest::openapi::<A>))
                .with_state(rest),
        );
    }
    let host_policy = Arc::new(settings.hosts.clone());
    let protected = mcp_router
        .merge(sse_router)
        .layer(axum::middleware::from_fn_with_state(
            shared.readiness.clone(),
            track_posts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            host_policy,
            host_guard,
        ));

    let health = crate::health::HealthState::default();
    spawn_health_checks(
        shared.clone(),
        health.clone(),
        settings.health_interval,
        settings.health_details,
        shutdown.child_token(),
    );
    let ops = Arc::new(Ops {
        shared,
        probe: Arc::new(ProbeCache::new(Duration::from_secs(10))),
        settings: settings.clone(),
        health,
        verifier: auth.verifier.clone(),
    });
    let mut public = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<A>))
        .route("/ready", get(readyz::<A>))
        .route("/health", get(health_endpoint::<A>))
        .route("/metrics", get(metrics_endpoint));
    if auth.verifier.is_some() {
        // RFC 9728 metadata only means something when tokens are required.
        public = public
            .route(
                "/.well-known/oauth-protected-resource",
                get(resource_metadata::<A>),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*rest}",
                get(resource_metadata::<A>),
            );
    }
    let public = public.with_state(ops).layer(request_timeout);

    let auth = Arc::new(auth);
    protected
        .merge(public)
        .layer(axum::middleware::from_fn_with_state(auth, auth_middleware))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            settings.max_body_bytes,
        ))
        // A body that trickles in (slow POST) is cut off: `read_body` answers 408.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            settings.http_request_timeout,
        ))
        // Before auth: a client outside MCP_ALLOWED_CLIENTS is refused without a look at its
        // token.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(settings.clients.clone()),
            super::clients::client_guard,
        ))
        .layer(axum::middleware::from_fn(super::request_context))
}

struct SessionLimits<A: App> {
    shared: Arc<Shared<A>>,
    max: usize,
    per_subject: usize,
}

/// 429 for a subject at its own session cap (other subjects are not affected).
pub(crate) fn subject_cap_response(per_subject: usize) -> Response {
    tracing::warn!(
        per_subject,
        "new session refused: this subject holds MCP_MAX_SESSIONS_PER_SUBJECT sessions"
    );
    metrics::counter!("mcp_sessions_refused_total", "reason" => "per_subject").increment(1);
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "5")],
        "too many open sessions for this token; close one (DELETE /mcp) or retry later",
    )
        .into_response();
    super::guard::close_connection(&mut resp);
    resp
}

/// Refuse a new stateful session (a POST without `Mcp-Session-Id`) at the session cap, or
/// when its subject already holds its share.
async fn session_cap<A: App>(
    State(limit): State<Arc<SessionLimits<A>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() == axum::http::Method::POST && !req.headers().contains_key("mcp-session-id") {
        if limit.shared.sessions.count() >= limit.max {
            tracing::warn!(
                max = limit.max,
                "new session refused: session limit reached (MCP_MAX_SESSIONS)"
            );
            metrics::counter!("mcp_sessions_refused_total", "reason" => "total").increment(1);
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "too many sessions; retry later",
            )
                .into_response();
            super::guard::close_connection(&mut resp);
            return resp;
        }
        if limit.shared.sessions.count_for(&subject_of(&req)) >= limit.per_subject {
            return subject_cap_response(limit.per_subject);
        }
    }
    next.run(req).await
}

/// Which subject opened each stateful session.
struct SessionOwners {
    manager: Arc<LocalSessionManager>,
    owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// With a shared store: sessions recorded there, requests for others' relayed.
    relay: Option<Arc<super::session_relay::SessionRelay>>,
}

fn subject_of(req: &axum::extract::Request) -> String {
    req.extensions()
        .get::<Arc<crate::policy::Principal>>()
        .map(|p| p.subject.clone())
        .unwrap_or_default()
}

/// Bind each stateful session to the subject that opened it. A request naming a session that
/// does not exist, has ended, or belongs to someone else gets 404, like the spec's answer for
/// an unknown session. `DELETE` answers 204 (rmcp says 202, which some clients treat as a
/// failure).
async fn session_owner(
    State(state): State<Arc<SessionOwners>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let subject = subject_of(&req);
    let id = req
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(id) = id else {
        // A new session: count it for its subject, and remember who opened it.
        let resp = crate::server::OPENING_SUBJECT
            .scope(subject.clone(), next.run(req))
            .await;
        if let Some(new_id) = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            let live = state.manager.sessions.read().await;
            if let Ok(mut owners) = state.owners.lock() {
                // Forget ended sessions only when the table has grown well past the live
                // count: pruning on every new session made opening N sessions cost O(N²).
                if owners.len() >= 2 * live.len() + 64 {
                    owners.retain(|k, _| live.contains_key(k.as_str()));
                }
                owners.insert(new_id.to_string(), subject.clone());
            }
            if let Some(relay) = &state.relay {
                relay.record(new_id, &subject).await;
            }
        }
        return resp;
    };
    let known = state
        .manager
        .sessions
        .read()
        .await
        .contains_key(id.as_str());
    let owner = state.owners.lock().ok().and_then(|o| o.get(&id).cloned());
    if !known && let Some(relay) = &state.relay {
        if req
            .extensions()
            .get::<super::session_relay::RelayedHere>()
            .is_some()
        {
            // Relayed here for a session that has ended here.
            relay.forget(&id).await;
        } else if let Some(principal) = req
            .extensions()
            .get::<Arc<crate::policy::Principal>>()
            .cloned()
        {
            return relay.forward(&id, &principal, req).await;
        }
    }
    if !known || !owner_matches(owner.as_deref(), &subject) {
        if known {
            tracing::warn!(
                session = %id,
                owner_known = owner.is_some(),
                "request refused: the session belongs to another subject, or its owner is not on record"
            );
        }
        let mut resp = (StatusCode::NOT_FOUND, "session not found").into_response();
        super::guard::close_connection(&mut resp);
        return resp;
    }
    let is_delete = req.method() == axum::http::Method::DELETE;
    let resp = next.run(req).await;
    if is_delete && resp.status() == StatusCode::ACCEPTED {
        if let Some(relay) = &state.relay {
            relay.forget(&id).await;
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    resp
}

/// Whether a request by `subject` may use a session whose recorded owner is `owner`. A
/// session with no owner on record (the table was poisoned, or the entry is gone) fails
/// closed: nobody may use it.
fn owner_matches(owner: Option<&str>, subject: &str) -> bool {
    owner.is_some_and(|o| o == subject)
}

/// Count a POST as in flight until its response body has been sent (or dropped), so a
/// graceful shutdown waits for the answer to reach the client, not just for the tool to return.
async fn track_posts(
    State(readiness): State<crate::readiness::Readiness>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let guard = readiness.inflight();
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    let stream = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        let _held = &guard;
        chunk
    });
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

async fn healthz() -> &'static str {
    "ok"
}

/// The longest `/readyz` waits for the upstream probe: below the chart's 5 s readiness
/// `timeoutSeconds`, so a silent upstream gets a clean 503 rather than a kubelet timeout, and
/// probes do not pile up behind it.
const READY_PROBE_DEADLINE: Duration = Duration::from_secs(4);

async fn readyz<A: App>(State(ops): State<Arc<Ops<A>>>) -> Response {
    if ops.shared.readiness.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    let pending = ops.shared.readiness.pending();
    if !pending.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for: {}", pending.join(", ")),
        )
            .into_response();
    }
    let app = ops.shared.app.clone();
    let probe = || async move {
        let r = tokio::time::timeout(READY_PROBE_DEADLINE, app.probe())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the upstream did not answer within {} s",
                    READY_PROBE_DEADLINE.as_secs()
                ))
            });
        if let Err(e) = &r {
            // The details (which may name internal addresses) go to the log only.
            tracing::warn!(error = %crate::redact::redact_text(e), "readiness probe failed: upstream not reachable");
        }
        r
    };
    match ops.probe.get(probe).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream not reachable (details in the server log)",
        )
            .into_response(),
    }
}

/// Run the health checks now and every `every` until `stop`.
fn spawn_health_checks<A: App>(
    shared: Arc<Shared<A>>,
    health: crate::health::HealthState,
    every: Duration,
    details: bool,
    stop: CancellationToken,
) {
    health.set("upstream", crate::health::CheckReport::pending());
    tokio::spawn(async move {
        loop {
            let app = shared.app.clone();
            let (r, took) = crate::health::timed(READY_PROBE_DEADLINE, app.probe()).await;
            health.record("upstream", &r, took, details);
            for (name, r, took) in app.health_checks().await {
                health.record(name, &r, took, details);
            }
            if let Some(st) = shared.state() {
                let (r, took) = crate::health::timed(READY_PROBE_DEADLINE, async {
                    st.ping()
                        .await
                        .map(|()| format!("{} store answers", st.kind()))
                        .map_err(|e| e.to_string())
                })
                .await;
                metrics::gauge!("mcp_state_up").set(if r.is_ok() { 1.0 } else { 0.0 });
                health.record("state", &r, took, details);
            }
            #[cfg(feature = "airs")]
            if let Some(g) = shared.guard() {
                let (r, took) = crate::health::timed(READY_PROBE_DEADLINE, g.probe()).await;
                health.record("guard", &r, took, details);
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}

/// `GET /health`: the checks' cached results; 503 when the upstream is down.
async fn health_endpoint<A: App>(State(ops): State<Arc<Ops<A>>>) -> Response {
    let mut checks = ops.health.snapshot();
    if let Some(v) = &ops.verifier
        && v.has_jwks()
    {
        let pending = v.keys_pending();
        checks.insert(
            "jwks".into(),
            crate::health::CheckReport {
                status: if pending { "down" } else { "ok" },
                last_run: None,
                latency_ms: None,
                detail: Some(
                    if pending {
                        "the signing keys are not loaded yet"
                    } else {
                        "signing keys loaded"
                    }
                    .into(),
                ),
            },
        );
    }
    let mut status = crate::health::overall(&checks);
    if ops.shared.readiness.is_draining() {
        status = "down";
    }
    let code = if status == "down" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let meta = A::meta();
    (
        code,
        axum::Json(serde_json::json!({
            "status": status,
            "server": meta.name,
            "version": meta.version,
            "checks": checks,
        })),
    )
        .into_response()
}

async fn metrics_endpoint() -> Response {
    match crate::telemetry::prometheus() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

async fn resource_metadata<A: App>(
    State(ops): State<Arc<Ops<A>>>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let base = crate::auth::base_url_for(ops.settings.public_url.as_deref(), &headers);
    let suffix = uri
        .path()
        .strip_prefix("/.well-known/oauth-protected-resource")
        .unwrap_or("");
    let mut doc = serde_json::json!({
        "resource": format!("{base}{suffix}"),
        "bearer_methods_supported": ["header"],
        "scopes_supported": ops.settings.scopes,
        "resource_name": A::meta().name,
    });
    if let Some(iss) = &ops.settings.jwt_issuer {
        doc["authorization_servers"] = serde_json::json!([iss]);
    }
    axum::Json(doc).into_response()
}

/// A running HTTP server.
#[derive(Debug)]
pub struct ServeHandle {
    pub local_addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Bind and serve in the background (tests, embedding). Cancel `shutdown` to stop.
pub async fn spawn_http<A: App>(
    shared: Arc<Shared<A>>,
    settings: HttpSettings,
    auth: AuthLayerState,
) -> std::io::Result<ServeHandle> {
    let listener = TcpListener::bind(settings.bind).await?;
    let local_addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(serve_http(listener, shared, settings, auth, token));
    Ok(ServeHandle {
        local_addr,
        shutdown,
        task,
    })
}

/// Serve until `shutdown` is cancelled, then drain: readiness turns false, the listener stops
/// accepting, in-flight tool calls get `shutdown_grace` to finish, then sessions close.
pub async fn serve_http<A: App>(
    listener: TcpListener,
    shared: Arc<Shared<A>>,
    settings: HttpSettings,
    auth: AuthLayerState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let grace = settings.shutdown_grace;
    let conn_limits = ConnLimits {
        header_read_timeout: settings.header_read_timeout,
        max_connections: settings.max_connections.max(1),
    };
    let sessions_token = CancellationToken::new();
    let router = build_router(shared.clone(), settings, auth, sessions_token.clone());
    let readiness = shared.readiness.clone();
    let stop_accepting = shutdown.clone();
    let drain = {
        let readiness = readiness.clone();
        let sessions_token = sessions_token.clone();
        async move {
            stop_accepting.cancelled().await;
            readiness.start_draining();
            tracing::info!(
                inflight = readiness.inflight_count(),
                grace_s = grace.as_secs(),
                "shutting down: draining in-flight calls"
            );
            if !readiness.wait_idle(grace).await {
                tracing::warn!(
                    inflight = readiness.inflight_count(),
                    "grace period over; closing with calls still in flight"
                );
            }
            // Legacy SSE answers travel on the GET stream after the POST is done; give the
            // session loops a moment to hand the last messages to their streams.
            tokio::time::sleep(SSE_FLUSH).await;
            sessions_token.cancel();
        }
    };
    tokio::spawn(drain);
    let server = serve_connections(listener, router, conn_limits, shutdown);
    // Connections that never close (idle keep-alive, streams) must not hold the exit forever.
    let hard_stop = async {
        sessions_token.cancelled().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    tokio::select! {
        r = server => r,
        _ = hard_stop => {
            tracing::info!("closing remaining connections");
            Ok(())
        }
    }
}

/// What bounds the connections themselves, before any request is routed.
#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    header_read_timeout: Duration,
    max_connections: usize,
}

/// The accept loop. axum's own `serve` builds hyper without a timer, so a client that sends
/// its headers one byte a minute (slowloris) holds a connection forever, before any auth; and
/// it accepts without bound. Here every connection gets hyper's header-read timeout (which
/// also closes idle keep-alive connections after that long), and at most `max_connections`
/// are served at once: one more is accepted and closed at once, counted and logged. On
/// `shutdown` the loop stops accepting and asks each connection to finish its request and
/// close, like axum's graceful shutdown.
async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let connections = tokio_util::task::TaskTracker::new();
    let closing = CancellationToken::new();
    let mut last_refusal_log: Option<std::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                // Per-connection errors (reset before accept) and fd exhaustion: keep serving,
                // but do not spin on a persistent error.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("mcp_connections_refused_total").increment(1);
            if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                last_refusal_log = Some(std::time::Instant::now());
                tracing::warn!(
                    max = limits.max_connections,
                    "connection refused: connection limit reached (MCP_MAX_CONNECTIONS); further refusals are counted in mcp_connections_refused_total"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let closing = closing.clone();
        connections.spawn(async move {
            let _slot = slot;
            metrics::gauge!("mcp_open_connections").increment(1.0);
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = closing.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    metrics::counter!("mcp_connections_timed_out_total").increment(1);
                    tracing::debug!("connection closed: request headers not received within MCP_HTTP_HEADER_TIMEOUT");
                } else {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
            }
            metrics::gauge!("mcp_open_connections").decrement(1.0);
        });
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session is usable only by the subject on record; with no owner on record (the table
    /// was poisoned at insert, or lost the entry) nobody may use it. The old check let a
    /// request through whenever the owner was missing.
    #[test]
    fn a_session_without_an_owner_on_record_fails_closed() {
        assert!(owner_matches(Some("alice"), "alice"));
        assert!(!owner_matches(Some("alice"), "mallory"));
        assert!(!owner_matches(None, "mallory"));
        assert!(!owner_matches(None, ""));
    }

    /// The owner table behind a poisoned lock reads as "no owner", which refuses.
    #[test]
    fn a_poisoned_owner_table_refuses() {
        let owners =
            std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::from([(
                "s1".to_string(),
                "alice".to_string(),
            )])));
        let o2 = owners.clone();
        let _ = std::thread::spawn(move || {
            let _guard = o2.lock();
            panic!("poison the lock");
        })
        .join();
        let owner = owners.lock().ok().and_then(|o| o.get("s1").cloned());
        assert!(!owner_matches(owner.as_deref(), "alice"));
    }
}
