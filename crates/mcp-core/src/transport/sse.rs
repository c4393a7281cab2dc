//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp 3.x no longer ships.
//!
//! `GET /sse` opens a session: the stream's first event is `endpoint`, whose data is the URL
//! to POST messages to (`/messages/?session_id=ID`); every server message follows as an
//! `event: message`. `POST /messages/?session_id=ID` hands one JSON-RPC message to the
//! session and answers 202. A session belongs to the subject that opened it; a POST from
//! anybody else is answered as if the session did not exist. Closing the stream ends the
//! session; the number of open sessions is capped.
//!
//! With a shared state store (`MCP_STATE_URL`) a session works across replicas without a
//! sticky cookie: the replica that holds the stream records the session (its replica id and
//! owner) in the store and listens on its own channel. A `POST /messages/` that lands on
//! another replica is checked there (the caller's token, the session's owner, the JSON-RPC
//! body) and published to the holder's channel with the caller's verified subject and scopes;
//! the holder hands it to the session, and the answer flows back on the stream. If the holder
//! is gone nobody receives it: the POST gets 404 and the client opens a new session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::app::App;
use crate::policy::Principal;
use crate::server::{McpServer, Shared};

struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    owner: String,
}

/// Sessions shared through the state store (`sse:<id>`): which replica holds each.
struct Relay {
    dir: super::session_relay::Directory,
}

/// A message relayed to the replica that holds the session.
#[derive(serde::Serialize, serde::Deserialize)]
struct Relayed {
    session: String,
    subject: String,
    /// `None`: every scope (authentication off).
    scopes: Option<Vec<String>>,
    request_id: Option<String>,
    message: serde_json::Value,
}

fn channel(replica: &str) -> String {
    format!("sse-replica:{replica}")
}

/// State of the SSE endpoints.
pub(crate) struct SseState<A: App> {
    pub(crate) shared: Arc<Shared<A>>,
    sessions: Mutex<HashMap<String, Session>>,
    max_sessions: usize,
    max_per_subject: usize,
    keep_alive: Duration,
    shutdown: CancellationToken,
    relay: Option<Relay>,
}

impl<A: App> SseState<A> {
    pub(crate) fn new(
        shared: Arc<Shared<A>>,
        max_sessions: usize,
        max_per_subject: usize,
        keep_alive: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let relay = shared.state().map(|store| Relay {
            dir: super::session_relay::Directory::new(store.clone(), "sse"),
        });
        Self {
            shared,
            sessions: Mutex::new(HashMap::new()),
            max_sessions,
            max_per_subject,
            keep_alive,
            shutdown,
            relay,
        }
    }

    /// With a shared store: listen on this replica's channel and hand what other replicas
    /// relay to the sessions held here.
    pub(crate) fn spawn_relay_listener(self: &Arc<Self>) {
        let Some(relay) = &self.relay else {
            return;
        };
        let mut rx = relay.dir.store.subscribe(
            &channel(&relay.dir.replica),
            Some(self.shared.readiness.guard("state: SSE relay subscription")),
        );
        let state = self.clone();
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let payload = tokio::select! {
                    p = rx.recv() => match p { Some(p) => p, None => return },
                    () = stop.cancelled() => return,
                };
                state.deliver_relayed(&payload).await;
            }
        });
        tracing::info!(
            replica = %relay.dir.replica,
            "legacy SSE sessions are shared through the state store: a message may be posted to any replica"
        );
    }

    async fn deliver_relayed(&self, payload: &[u8]) {
        let Ok(r) = serde_json::from_slice::<Relayed>(payload) else {
            tracing::warn!("SSE relay: an unreadable message was dropped");
            return;
        };
        let sender = match self.sessions.lock() {
            Ok(sessions) => match sessions.get(&r.session) {
                Some(s) if s.owner == r.subject => Some(s.to_server.clone()),
                Some(_) => {
                    tracing::warn!(session = %r.session, "SSE relay: a message from another subject was dropped");
                    None
                }
                None => {
                    tracing::debug!(session = %r.session, "SSE relay: the session is no longer here");
                    None
                }
            },
            Err(_) => None,
        };
        let Some(sender) = sender else {
            return;
        };
        let Ok(mut message) = serde_json::from_value::<ClientJsonRpcMessage>(r.message) else {
            tracing::warn!(session = %r.session, "SSE relay: a message that is not JSON-RPC was dropped");
            return;
        };
        let principal = Principal {
            subject: r.subject,
            scopes: match r.scopes {
                None => crate::policy::ScopeSet::All,
                Some(v) => crate::policy::ScopeSet::granted(v),
            },
        };
        let Ok(req) = http::Request::builder()
            .method(http::Method::POST)
            .uri("/messages/")
            .body(())
        else {
            return;
        };
        let (mut parts, ()) = req.into_parts();
        parts.extensions.insert(Arc::new(principal));
        if let Some(id) = r.request_id {
            parts
                .extensions
                .insert(super::RequestId(Arc::from(id.as_str())));
        }
        attach(&mut message, parts);
        if tokio::time::timeout(Duration::from_secs(10), sender.send(message))
            .await
            .map_or(true, |r| r.is_err())
        {
            tracing::warn!(session = %r.session, "SSE relay: the session did not take the message");
        }
    }
}

/// Hand the request's parts (principal, request id) to the handler with the message.
fn attach(message: &mut ClientJsonRpcMessage, parts: http::request::Parts) {
    match message {
        ClientJsonRpcMessage::Request(req) => {
            req.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(n) => {
            n.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
}

/// Removes the session and stops its MCP service when the SSE stream is dropped.
struct Cleanup<A: App> {
    state: Arc<SseState<A>>,
    id: String,
    stop: CancellationToken,
}

impl<A: App> Drop for Cleanup<A> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.sessions.lock() {
            s.remove(&self.id);
        }
        if self.state.relay.is_some()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let state = self.state.clone();
            let id = self.id.clone();
            rt.spawn(async move {
                if let Some(relay) = &state.relay {
                    relay.dir.forget(&id).await;
                }
            });
        }
        self.stop.cancel();
        tracing::debug!(session = %self.id, "SSE session closed");
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SessionQuery {
    session_id: Option<String>,
}

fn json_error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": msg}))).into_response()
}

/// `GET /sse`
pub(crate) async fn open<A: App>(
    State(state): State<Arc<SseState<A>>>,
    axum::Extension(principal): axum::Extension<Arc<Principal>>,
) -> Response {
    if state.shared.readiness.is_draining() {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down");
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server_tx, to_server_rx) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let (to_client_tx, to_client_rx) = mpsc::channel(64);
    {
        let Ok(mut sessions) = state.sessions.lock() else {
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "session table unavailable",
            );
        };
        if state.shared.sessions.count() >= state.max_sessions {
            tracing::warn!(
                max = state.max_sessions,
                "SSE session refused: session limit reached"
            );
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many sessions; retry later",
            );
        }
        if state.shared.sessions.count_for(&principal.subject) >= state.max_per_subject {
            return super::http::subject_cap_response(state.max_per_subject);
        }
        sessions.insert(
            id.clone(),
            Session {
                to_server: to_server_tx,
                owner: principal.subject.clone(),
            },
        );
    }
    if let Some(relay) = &state.relay
        && let Err(e) = relay.dir.record(&id, &principal.subject).await
    {
        // The session still works through this replica (a sticky route), not others.
        metrics::counter!("mcp_state_fallback_total", "use" => "sse").increment(1);
        tracing::warn!(session = %id, error = %e, "SSE session not shared: the state store failed; messages must reach this replica");
    }
    let stop = state.shutdown.child_token();
    let handler = McpServer::session(state.shared.clone(), "sse", Some(principal.subject.clone()));
    let transport = (
        PollSender::new(to_client_tx),
        ReceiverStream::new(to_server_rx),
    );
    let session_id = id.clone();
    let task_stop = stop.clone();
    tokio::spawn(async move {
        let running = match handler.serve_with_ct(transport, task_stop.clone()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(session = %session_id, error = %e, "SSE session ended before initialize completed");
                return;
            }
        };
        let _ = running.waiting().await;
    });
    tracing::debug!(session = %id, subject = %principal.subject, "SSE session opened");

    let cleanup = Cleanup {
        state: state.clone(),
        id: id.clone(),
        stop,
    };
    let endpoint = futures::stream::once(futures::future::ready(Ok::<_, Infallible>(
        Event::default()
            .event("endpoint")
            .data(format!("/messages/?session_id={id}")),
    )));
    let messages = ReceiverStream::new(to_client_rx).map(move |msg| {
        let _keep = &cleanup;
        let data = serde_json::to_string(&msg).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot serialise a server message");
            String::from("{}")
        });
        Ok::<_, Infallible>(Event::default().event("message").data(data))
    });
    // The stream ends when the session's service stops (client gone, or shutdown cancelled
    // it) and drops its sender: messages already queued are still delivered first.
    let stream = endpoint.chain(messages);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(state.keep_alive))
        .into_response()
}

/// `POST /messages/?session_id=ID`
pub(crate) async fn post<A: App>(
    State(state): State<Arc<SseState<A>>>,
    Query(q): Query<SessionQuery>,
    request: axum::extract::Request,
) -> Response {
    let Some(id) = q.session_id.filter(|s| !s.is_empty() && s.len() <= 64) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "session_id query parameter is required",
        );
    };
    let (mut parts, body) = request.into_parts();
    let subject = parts
        .extensions
        .get::<Arc<Principal>>()
        .map(|p| p.subject.clone());
    let sender = {
        let Ok(sessions) = state.sessions.lock() else {
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "session table unavailable",
            );
        };
        match sessions.get(&id) {
            Some(s) if Some(&s.owner) == subject.as_ref() => Some(s.to_server.clone()),
            Some(_) => {
                tracing::warn!(session = %id, "SSE message refused: caller is not the session owner");
                return json_error(StatusCode::NOT_FOUND, "session not found");
            }
            None if state.relay.is_some() => None,
            None => return json_error(StatusCode::NOT_FOUND, "session not found"),
        }
    };
    let Some(sender) = sender else {
        return relay_post(&state, &id, parts, body).await;
    };
    let bytes: Bytes = match super::jsonrpc::read_body(body).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let mut message = match super::jsonrpc::parse_message(&bytes) {
        Ok((m, _)) => m,
        Err(resp) => return *resp,
    };
    parts.extensions.remove::<axum::extract::MatchedPath>();
    attach(&mut message, parts);
    match tokio::time::timeout(Duration::from_secs(10), sender.send(message)).await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(_)) => json_error(StatusCode::NOT_FOUND, "session not found"),
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "session is busy; retry"),
    }
}

/// A message for a session held by another replica: checked here, then published to it.
async fn relay_post<A: App>(
    state: &SseState<A>,
    id: &str,
    parts: http::request::Parts,
    body: axum::body::Body,
) -> Response {
    let Some(relay) = &state.relay else {
        return json_error(StatusCode::NOT_FOUND, "session not found");
    };
    let Some(principal) = parts.extensions.get::<Arc<Principal>>().cloned() else {
        return json_error(StatusCode::NOT_FOUND, "session not found");
    };
    let record = match relay.dir.lookup(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return json_error(StatusCode::NOT_FOUND, "session not found"),
        Err(e) => {
            tracing::warn!(session = %id, error = %e, "SSE message: the state store failed; the session cannot be found from this replica");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the session is held by another replica and the shared state store is unreachable; retry",
            );
        }
    };
    if record.owner != principal.subject {
        tracing::warn!(session = %id, "SSE message refused: caller is not the session owner");
        return json_error(StatusCode::NOT_FOUND, "session not found");
    }
    let bytes: Bytes = match super::jsonrpc::read_body(body).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    // Parsed here, so a malformed body gets the same answer on every replica.
    if let Err(resp) = super::jsonrpc::parse_message(&bytes) {
        return *resp;
    }
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return json_error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let relayed = Relayed {
        session: id.to_string(),
        subject: principal.subject.clone(),
        scopes: match &principal.scopes {
            crate::policy::ScopeSet::All => None,
            crate::policy::ScopeSet::Granted(s) => Some(s.iter().cloned().collect()),
        },
        request_id: parts
            .extensions
            .get::<super::RequestId>()
            .map(|r| r.0.to_string()),
        message,
    };
    let Ok(payload) = serde_json::to_vec(&relayed) else {
        return json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot relay the message",
        );
    };
    match relay
        .dir
        .store
        .publish(&channel(&record.replica), &payload)
        .await
    {
        Ok(0) => {
            // Its replica is gone: forget the session; the client opens a new one.
            relay.dir.forget_held(id, &record).await;
            tracing::info!(session = %id, "SSE message: the replica that held the session is gone");
            json_error(StatusCode::NOT_FOUND, "session not found")
        }
        Ok(_) => {
            metrics::counter!("mcp_sse_relayed_total").increment(1);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => {
            tracing::warn!(session = %id, error = %e, "SSE message: cannot relay it through the state store");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the session is held by another replica and the shared state store is unreachable; retry",
            )
        }
    }
}
