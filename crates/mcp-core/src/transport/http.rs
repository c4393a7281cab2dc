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
    /// Idle stateful sessions are closed after this long.
    pub session_idle: Duration,
    pub sse_keep_alive: Duration,
    /// How long SIGTERM waits for in-flight calls.
    pub shutdown_grace: Duration,
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
            session_idle: Duration::from_secs(300),
            sse_keep_alive: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(25),
            scopes: Vec::new(),
            jwt_issuer: None,
        }
    }
}

struct Ops<A: App> {
    shared: Arc<Shared<A>>,
    probe: Arc<ProbeCache>,
    settings: Arc<HttpSettings>,
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
            move || Ok(McpServer::session(s.clone(), "streamable_http")),
            manager.clone(),
            mcp_config.with_legacy_session_mode(true),
        );
        let limit = Arc::new((shared.clone(), settings.max_sessions));
        let owners = Arc::new(SessionOwners {
            manager,
            owners: std::sync::Mutex::new(std::collections::HashMap::new()),
        });
        Router::new()
            .nest_service("/mcp", svc)
            .layer(axum::middleware::from_fn_with_state(owners, session_owner))
            .layer(axum::middleware::from_fn_with_state(
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
        settings.sse_keep_alive,
        shutdown.child_token(),
    ));
    let sse_router = Router::new()
        .route("/sse", get(sse::open::<A>))
        .route("/messages/", post(sse::post::<A>))
        .route("/messages", post(sse::post::<A>))
        .with_state(sse_state);

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

    let ops = Arc::new(Ops {
        shared,
        probe: Arc::new(ProbeCache::new(Duration::from_secs(10))),
        settings: settings.clone(),
    });
    let mut public = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<A>))
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
    let public = public.with_state(ops);

    let auth = Arc::new(auth);
    protected
        .merge(public)
        .layer(axum::middleware::from_fn_with_state(auth, auth_middleware))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            settings.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn(super::request_context))
}

/// Refuse a new stateful session (a POST without `Mcp-Session-Id`) at the session cap.
async fn session_cap<A: App>(
    State(limit): State<Arc<(Arc<Shared<A>>, usize)>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (shared, max) = &*limit;
    if req.method() == axum::http::Method::POST
        && !req.headers().contains_key("mcp-session-id")
        && shared.sessions.count() >= *max
    {
        tracing::warn!(
            max,
            "new session refused: session limit reached (MCP_MAX_SESSIONS)"
        );
        let mut resp = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "too many sessions; retry later",
        )
            .into_response();
        super::guard::close_connection(&mut resp);
        return resp;
    }
    next.run(req).await
}

/// Which subject opened each stateful session.
struct SessionOwners {
    manager: Arc<LocalSessionManager>,
    owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
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
        // A new session: remember who opened it.
        let resp = next.run(req).await;
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
                owners.insert(new_id.to_string(), subject);
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
    if !known || owner.is_some_and(|o| o != subject) {
        if known {
            tracing::warn!(session = %id, "request refused: session belongs to another subject");
        }
        let mut resp = (StatusCode::NOT_FOUND, "session not found").into_response();
        super::guard::close_connection(&mut resp);
        return resp;
    }
    let is_delete = req.method() == axum::http::Method::DELETE;
    let resp = next.run(req).await;
    if is_delete && resp.status() == StatusCode::ACCEPTED {
        return StatusCode::NO_CONTENT.into_response();
    }
    resp
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
        tokio::time::timeout(READY_PROBE_DEADLINE, app.probe())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the upstream did not answer within {} s",
                    READY_PROBE_DEADLINE.as_secs()
                ))
            })
    };
    match ops.probe.get(probe).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("upstream not reachable: {}", crate::redact::redact_text(&e)),
        )
            .into_response(),
    }
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
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await });
    // Connections that never close (idle keep-alive, streams) must not hold the exit forever.
    let hard_stop = async {
        sessions_token.cancelled().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    tokio::select! {
        r = server.into_future() => r,
        _ = hard_stop => {
            tracing::info!("closing remaining connections");
            Ok(())
        }
    }
}
