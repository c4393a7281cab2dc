//! Stateful Streamable HTTP sessions across replicas (protocol versions before 2026-07-28).
//!
//! A stateful session lives in the memory of the replica that answered its `initialize`: its
//! rmcp worker, its open request streams, the client's capabilities. With a shared state store
//! (`MCP_STATE_URL`) that replica records the session in the store (`mcp-session:<id>`: its
//! replica id and the subject that opened it). A request naming the session that reaches
//! another replica is checked there (the caller's token, then the recorded owner: another
//! subject gets 404 as before), and relayed whole through the store's pub/sub to the holder,
//! which runs it through its own `/mcp` service as the verified subject. The answer (status,
//! headers, then the body frame by frame, SSE included) comes back the same way, on this
//! replica's reply channel, and is streamed to the client as it arrives.
//!
//! What cannot move: the session itself. If its replica dies the session is gone, and the
//! client gets 404 and opens a new one (the spec's answer for an expired session). A
//! server-to-client request in flight (sampling, elicitation) is answered through any replica,
//! since the answer is a POST naming the session; but a stream the client holds through one
//! replica ends if that replica dies, even though the holder is alive. Frames published while a
//! subscription to the store is being re-established are lost: the stream is then cut (no frame
//! within the idle limit), never delivered to another request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::policy::{Principal, ScopeSet};
use crate::state::{StateError, StateStore};

/// How long a session's record lives in the store (deleted when the session is deleted).
const RECORD_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a relayed request waits for the holder's status line.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames buffered for one relayed response before it is cut (a client that stopped reading).
const FRAME_BUFFER: usize = 1024;
/// While an answer is awaited, how often the holder is checked for life (a replica that died
/// mid-request ends the wait at once, not after the timeout).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Request headers the holder needs; the rest (Authorization above all) stay here.
const FORWARDED: [&str; 7] = [
    "host",
    "origin",
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// Response headers that belong to one hop.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
];

/// Marks a request that another replica relayed here: it is never relayed again.
#[derive(Clone, Copy)]
pub(crate) struct RelayedHere;

#[derive(serde::Serialize, serde::Deserialize)]
struct SessionRecord {
    replica: String,
    owner: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Call {
    id: String,
    reply_to: String,
    subject: String,
    /// `None`: every scope (authentication off).
    scopes: Option<Vec<String>>,
    request_id: Option<String>,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    /// base64
    body: String,
}

/// To the replica holding the session.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum ToHolder {
    Call(Call),
    /// The client of a relayed request went away: stop streaming its answer.
    Cancel {
        id: String,
    },
    /// Ignored: published only to learn whether the holder still listens.
    Probe,
}

/// Back to the replica that relayed a request.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Frame {
    Head {
        id: String,
        status: u16,
        headers: Vec<(String, String)>,
    },
    Data {
        id: String,
        /// base64
        data: String,
    },
    End {
        id: String,
    },
}

impl Frame {
    fn id(&self) -> &str {
        match self {
            Frame::Head { id, .. } | Frame::Data { id, .. } | Frame::End { id } => id,
        }
    }
}

fn calls_channel(replica: &str) -> String {
    format!("mcp-replica:{replica}")
}

fn reply_channel(replica: &str) -> String {
    format!("mcp-reply:{replica}")
}

fn plain(status: StatusCode, msg: &'static str) -> Response {
    let mut resp = (status, msg).into_response();
    super::guard::close_connection(&mut resp);
    resp
}

const UNREACHABLE: &str =
    "the session is held by another replica and the shared state store is unreachable; retry";

/// Where the sessions of one transport live, in the store: each record names the replica
/// holding the session and the subject that opened it. Used by the legacy SSE relay
/// (`sse:<id>`) and by the stateful `/mcp` relay (`mcp-session:<id>`).
pub(crate) struct Directory {
    pub(crate) store: Arc<dyn StateStore>,
    /// This replica's id, as written in the records of the sessions it holds.
    pub(crate) replica: String,
    prefix: &'static str,
}

/// A session's record as read from the store (`raw`: its bytes, to delete exactly it).
pub(crate) struct Held {
    pub(crate) replica: String,
    pub(crate) owner: String,
    raw: Vec<u8>,
}

impl Directory {
    pub(crate) fn new(store: Arc<dyn StateStore>, prefix: &'static str) -> Self {
        Self {
            store,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            prefix,
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}:{id}", self.prefix)
    }

    /// Record a session held here, opened by `owner`.
    pub(crate) async fn record(&self, id: &str, owner: &str) -> Result<(), StateError> {
        let record = SessionRecord {
            replica: self.replica.clone(),
            owner: owner.to_string(),
        };
        let v = serde_json::to_vec(&record).map_err(|e| StateError::Corrupt(e.to_string()))?;
        self.store.put(&self.key(id), &v, RECORD_TTL).await
    }

    /// The record of session `id`; `None` when there is none or it is unreadable.
    pub(crate) async fn lookup(&self, id: &str) -> Result<Option<Held>, StateError> {
        Ok(self.store.get(&self.key(id)).await?.and_then(|raw| {
            serde_json::from_slice::<SessionRecord>(&raw)
                .ok()
                .map(|r| Held {
                    replica: r.replica,
                    owner: r.owner,
                    raw,
                })
        }))
    }

    /// Delete exactly this record (its holder is gone), not one written since.
    pub(crate) async fn forget_held(&self, id: &str, held: &Held) {
        let _ = self.store.delete_if(&self.key(id), &held.raw).await;
    }

    /// Forget a session of this replica (closed, or found gone); another replica's record of
    /// the same id is left alone.
    pub(crate) async fn forget(&self, id: &str) {
        if let Ok(Some(held)) = self.lookup(id).await
            && held.replica == self.replica
        {
            self.forget_held(id, &held).await;
        }
    }
}

/// Stateful sessions shared through the state store.
pub(crate) struct SessionRelay {
    dir: Directory,
    /// Relayed requests waiting here for their answer, by call id.
    pending: Mutex<HashMap<String, mpsc::Sender<Frame>>>,
    /// Relayed requests served here, by call id.
    serving: Mutex<HashMap<String, CancellationToken>>,
    /// A relayed answer with no frame for this long is cut (the holder or the store is gone).
    idle: Duration,
}

impl SessionRelay {
    pub(crate) fn new(store: Arc<dyn StateStore>, keep_alive: Duration) -> Arc<Self> {
        Arc::new(Self {
            dir: Directory::new(store, "mcp-session"),
            pending: Mutex::new(HashMap::new()),
            serving: Mutex::new(HashMap::new()),
            idle: (keep_alive * 3).max(Duration::from_secs(60)),
        })
    }

    /// Record a session opened here, so that other replicas can relay to it.
    pub(crate) async fn record(&self, id: &str, owner: &str) {
        if let Err(e) = self.dir.record(id, owner).await {
            tracing::warn!(session = %id, error = %e, "session not shared: the state store failed; its requests must reach this replica");
            metrics::counter!("mcp_state_fallback_total", "use" => "sessions").increment(1);
        }
    }

    /// Forget a session of this replica (deleted, or found gone).
    pub(crate) async fn forget(&self, id: &str) {
        self.dir.forget(id).await;
    }

    /// Listen for requests relayed to this replica (run through `inner`, the `/mcp` service)
    /// and for the answers to those it relayed.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        inner: Router,
        readiness: &crate::readiness::Readiness,
        shutdown: CancellationToken,
    ) {
        let mut calls = self.dir.store.subscribe(
            &calls_channel(&self.dir.replica),
            Some(readiness.guard("state: session relay subscription")),
        );
        let mut frames = self.dir.store.subscribe(
            &reply_channel(&self.dir.replica),
            Some(readiness.guard("state: session reply subscription")),
        );
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    m = calls.recv() => match m {
                        Some(payload) => me.on_call(&payload, &inner),
                        None => return,
                    },
                    m = frames.recv() => match m {
                        Some(payload) => me.on_frame(&payload),
                        None => return,
                    },
                }
            }
        });
        tracing::info!(
            replica = %self.dir.replica,
            "stateful /mcp sessions are shared through the state store: a request may reach any replica"
        );
    }

    fn on_frame(&self, payload: &[u8]) {
        let Ok(frame) = serde_json::from_slice::<Frame>(payload) else {
            tracing::warn!("session relay: an unreadable answer frame was dropped");
            return;
        };
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let id = frame.id().to_string();
        let full = match pending.get(&id) {
            Some(tx) => tx.try_send(frame).is_err(),
            None => false,
        };
        if full {
            // The client stopped reading: cut its answer rather than buffer without bound.
            tracing::warn!(call = %id, "session relay: the client does not read its answer; the stream is cut");
            pending.remove(&id);
        }
    }

    fn on_call(self: &Arc<Self>, payload: &[u8], inner: &Router) {
        match serde_json::from_slice::<ToHolder>(payload) {
            Ok(ToHolder::Call(call)) => {
                let token = CancellationToken::new();
                if let Ok(mut serving) = self.serving.lock() {
                    serving.insert(call.id.clone(), token.clone());
                }
                let me = self.clone();
                let inner = inner.clone();
                tokio::spawn(async move {
                    let id = call.id.clone();
                    me.serve(call, inner, token).await;
                    if let Ok(mut serving) = me.serving.lock() {
                        serving.remove(&id);
                    }
                });
            }
            Ok(ToHolder::Probe) => {}
            Ok(ToHolder::Cancel { id }) => {
                if let Some(token) = self.serving.lock().ok().and_then(|s| s.get(&id).cloned()) {
                    token.cancel();
                }
            }
            Err(_) => tracing::warn!("session relay: an unreadable request was dropped"),
        }
    }

    /// Run a relayed request here and stream its answer back.
    async fn serve(&self, call: Call, inner: Router, cancel: CancellationToken) {
        let reply = reply_channel(&call.reply_to);
        let id = call.id.clone();
        let Some(request) = Self::rebuild(call) else {
            tracing::warn!(call = %id, "session relay: a malformed request was dropped");
            let _ = self
                .send(
                    &reply,
                    &Frame::Head {
                        id: id.clone(),
                        status: 400,
                        headers: Vec::new(),
                    },
                )
                .await;
            let _ = self.send(&reply, &Frame::End { id }).await;
            return;
        };
        let response = match inner.oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, mut body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()))
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let head = Frame::Head {
            id: id.clone(),
            status: parts.status.as_u16(),
            headers,
        };
        if !self.send(&reply, &head).await {
            return;
        }
        loop {
            let frame = tokio::select! {
                () = cancel.cancelled() => return,
                f = body.frame() => f,
            };
            match frame {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let data = Frame::Data {
                        id: id.clone(),
                        data: base64::engine::general_purpose::STANDARD.encode(&data),
                    };
                    if !self.send(&reply, &data).await {
                        return;
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(call = %id, error = %e, "session relay: the answer's body failed");
                    break;
                }
                None => break,
            }
        }
        let _ = self.send(&reply, &Frame::End { id }).await;
    }

    /// Publish one frame; false when nobody listens there any more (that replica is gone) or
    /// the store failed, and the answer should stop.
    async fn send(&self, channel: &str, frame: &Frame) -> bool {
        let Ok(payload) = serde_json::to_vec(frame) else {
            return false;
        };
        match self.dir.store.publish(channel, &payload).await {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "session relay: cannot send an answer through the state store");
                false
            }
        }
    }

    /// Whether the holder still listens (a store error counts as alive: the timeouts decide).
    async fn holder_alive(&self, holder: &str) -> bool {
        let Ok(probe) = serde_json::to_vec(&ToHolder::Probe) else {
            return true;
        };
        !matches!(
            self.dir.store.publish(&calls_channel(holder), &probe).await,
            Ok(0)
        )
    }

    fn rebuild(call: Call) -> Option<axum::extract::Request> {
        let body = base64::engine::general_purpose::STANDARD
            .decode(call.body.as_bytes())
            .ok()?;
        let mut builder = http::Request::builder()
            .method(http::Method::from_bytes(call.method.as_bytes()).ok()?)
            .uri(call.path);
        for (k, v) in &call.headers {
            let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) else {
                return None;
            };
            builder = builder.header(k, v);
        }
        let mut request = builder.body(Body::from(body)).ok()?;
        let principal = Principal {
            subject: call.subject,
            scopes: match call.scopes {
                None => ScopeSet::All,
                Some(v) => ScopeSet::granted(v),
            },
        };
        let ext = request.extensions_mut();
        ext.insert(Arc::new(principal));
        ext.insert(RelayedHere);
        if let Some(rid) = call.request_id {
            ext.insert(super::RequestId(Arc::from(rid.as_str())));
        }
        Some(request)
    }

    /// A request for a session this replica does not hold: relay it to the one that does.
    pub(crate) async fn forward(
        self: &Arc<Self>,
        session: &str,
        principal: &Principal,
        request: axum::extract::Request,
    ) -> Response {
        let record = match self.dir.lookup(session).await {
            Ok(Some(r)) => r,
            Ok(None) => return plain(StatusCode::NOT_FOUND, "session not found"),
            Err(e) => {
                tracing::warn!(session = %session, error = %e, "session request: the state store failed; the session cannot be found from this replica");
                return plain(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
            }
        };
        if record.owner != principal.subject {
            tracing::warn!(session = %session, "request refused: the session belongs to another subject");
            return plain(StatusCode::NOT_FOUND, "session not found");
        }
        if record.replica == self.dir.replica {
            // Recorded here but gone from here: it ended.
            self.forget(session).await;
            return plain(StatusCode::NOT_FOUND, "session not found");
        }
        let (parts, body) = request.into_parts();
        let bytes: Bytes = match super::jsonrpc::read_body(body).await {
            Ok(b) => b,
            Err(resp) => return *resp,
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let call = ToHolder::Call(Call {
            id: id.clone(),
            reply_to: self.dir.replica.clone(),
            subject: principal.subject.clone(),
            scopes: match &principal.scopes {
                ScopeSet::All => None,
                ScopeSet::Granted(s) => Some(s.iter().cloned().collect()),
            },
            request_id: parts
                .extensions
                .get::<super::RequestId>()
                .map(|r| r.0.to_string()),
            method: parts.method.as_str().to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/mcp".to_string(), |p| p.as_str().to_string()),
            headers: parts
                .headers
                .iter()
                .filter(|(k, _)| FORWARDED.contains(&k.as_str()))
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(&bytes),
        });
        let Ok(payload) = serde_json::to_vec(&call) else {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot relay the request",
            );
        };
        let (tx, mut rx) = mpsc::channel(FRAME_BUFFER);
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id.clone(), tx);
        }
        let mut guard = Pending {
            relay: self.clone(),
            id: id.clone(),
            holder: record.replica.clone(),
            ended: false,
        };
        match self
            .dir
            .store
            .publish(&calls_channel(&record.replica), &payload)
            .await
        {
            Ok(0) => {
                // Its replica is gone: forget the session; the client opens a new one.
                guard.ended = true;
                self.dir.forget_held(session, &record).await;
                tracing::info!(session = %session, "session request: the replica that held the session is gone");
                return plain(StatusCode::NOT_FOUND, "session not found");
            }
            Ok(_) => {}
            Err(e) => {
                guard.ended = true;
                tracing::warn!(session = %session, error = %e, "session request: cannot relay it through the state store");
                return plain(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
            }
        }
        let started = tokio::time::Instant::now();
        let (status, headers) = loop {
            match tokio::time::timeout(PROBE_EVERY, rx.recv()).await {
                Ok(Some(Frame::Head {
                    status, headers, ..
                })) => break (status, headers),
                Ok(_) => {
                    return plain(
                        StatusCode::BAD_GATEWAY,
                        "the replica holding the session did not answer; retry",
                    );
                }
                Err(_) if started.elapsed() >= HEAD_TIMEOUT => {
                    tracing::warn!(session = %session, "session request: the replica holding the session did not answer in time");
                    return plain(
                        StatusCode::GATEWAY_TIMEOUT,
                        "the replica holding the session did not answer in time; retry",
                    );
                }
                Err(_) => {
                    if !self.holder_alive(&record.replica).await {
                        guard.ended = true;
                        self.dir.forget_held(session, &record).await;
                        tracing::info!(session = %session, "session request: the replica that held the session died before answering");
                        return plain(StatusCode::NOT_FOUND, "session not found");
                    }
                }
            }
        };
        metrics::counter!("mcp_session_relayed_total").increment(1);
        let idle = self.idle;
        let stream = futures::stream::unfold((rx, guard), move |(mut rx, mut guard)| async move {
            if guard.ended {
                return None;
            }
            let mut quiet = Duration::ZERO;
            loop {
                match tokio::time::timeout(PROBE_EVERY * 5, rx.recv()).await {
                    Ok(Some(Frame::Data { data, .. })) => {
                        match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
                            Ok(bytes) => {
                                return Some((
                                    Ok::<_, std::io::Error>(Bytes::from(bytes)),
                                    (rx, guard),
                                ));
                            }
                            Err(_) => continue,
                        }
                    }
                    Ok(Some(Frame::End { .. })) => {
                        guard.ended = true;
                        drop(guard);
                        return None;
                    }
                    Ok(Some(Frame::Head { .. })) => continue,
                    Ok(None) => return None,
                    Err(_) => {
                        quiet += PROBE_EVERY * 5;
                        if !guard.relay.holder_alive(&guard.holder).await {
                            tracing::warn!(call = %guard.id, "session relay: the replica holding the session died mid-answer; the stream is cut");
                            guard.ended = true;
                            drop(guard);
                            return None;
                        }
                        if quiet >= idle {
                            tracing::warn!(call = %guard.id, "session relay: no answer frame within the idle limit; the stream is cut");
                            return None;
                        }
                    }
                }
            }
        });
        let mut response = Response::new(Body::from_stream(stream));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) && !HOP_BY_HOP.contains(&k.as_str())
            {
                response.headers_mut().append(k, v);
            }
        }
        response
    }
}

/// A relayed request waiting here: forgotten when its answer is dropped, and the holder told
/// to stop if the answer had not ended (the client went away).
struct Pending {
    relay: Arc<SessionRelay>,
    id: String,
    holder: String,
    ended: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.relay.pending.lock() {
            pending.remove(&self.id);
        }
        if self.ended {
            return;
        }
        let Ok(payload) = serde_json::to_vec(&ToHolder::Cancel {
            id: self.id.clone(),
        }) else {
            return;
        };
        let store = self.relay.dir.store.clone();
        let channel = calls_channel(&self.holder);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = store.publish(&channel, &payload).await;
            });
        }
    }
}
