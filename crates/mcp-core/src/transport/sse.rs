//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp 3.x no longer ships.
//!
//! `GET /sse` opens a session: the stream's first event is `endpoint`, whose data is the URL
//! to POST messages to (`/messages/?session_id=ID`); every server message follows as an
//! `event: message`. `POST /messages/?session_id=ID` hands one JSON-RPC message to the
//! session and answers 202. A session belongs to the subject that opened it; a POST from
//! anybody else is answered as if the session did not exist. Closing the stream ends the
//! session; the number of open sessions is capped.

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

/// State of the SSE endpoints.
pub(crate) struct SseState<A: App> {
    pub(crate) shared: Arc<Shared<A>>,
    sessions: Mutex<HashMap<String, Session>>,
    max_sessions: usize,
    max_per_subject: usize,
    keep_alive: Duration,
    shutdown: CancellationToken,
}

impl<A: App> SseState<A> {
    pub(crate) fn new(
        shared: Arc<Shared<A>>,
        max_sessions: usize,
        max_per_subject: usize,
        keep_alive: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            shared,
            sessions: Mutex::new(HashMap::new()),
            max_sessions,
            max_per_subject,
            keep_alive,
            shutdown,
        }
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
            Some(s) if Some(&s.owner) == subject.as_ref() => s.to_server.clone(),
            Some(_) => {
                tracing::warn!(session = %id, "SSE message refused: caller is not the session owner");
                return json_error(StatusCode::NOT_FOUND, "session not found");
            }
            None => return json_error(StatusCode::NOT_FOUND, "session not found"),
        }
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
    match &mut message {
        ClientJsonRpcMessage::Request(req) => {
            req.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(n) => {
            n.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    match tokio::time::timeout(Duration::from_secs(10), sender.send(message)).await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(_)) => json_error(StatusCode::NOT_FOUND, "session not found"),
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "session is busy; retry"),
    }
}
