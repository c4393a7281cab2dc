//! A fault-injecting HTTP proxy in front of a real peer (moto): it forwards every request
//! unchanged, except the next N requests of an AWS action (the `Action=` of a query-protocol
//! request, in the form body or the query), which get the answer the test sets instead.
//! It counts the requests of each action it saw, forwarded or faulted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// EC2's throttling answer, as AWS sends it (HTTP 503).
pub const EC2_THROTTLED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>";

/// EC2's answer when the service fails (HTTP 500).
pub const EC2_INTERNAL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred.</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>";

#[derive(Debug, Clone)]
struct Fault {
    left: u32,
    status: u16,
    body: String,
}

#[derive(Debug, Default)]
struct Shared {
    faults: Mutex<HashMap<String, Fault>>,
    seen: Mutex<HashMap<String, u64>>,
    bodies: Mutex<HashMap<String, Vec<String>>>,
}

#[derive(Debug, Clone)]
struct Ctx {
    target: String,
    http: reqwest::Client,
    shared: Arc<Shared>,
}

/// The running proxy. Stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: point the server under test here.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `Action` of a query-protocol request.
fn action_of(uri: &Uri, body: &[u8]) -> String {
    let from = |s: &str| {
        s.split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string)
    };
    uri.query()
        .and_then(from)
        .or_else(|| std::str::from_utf8(body).ok().and_then(from))
        .unwrap_or_else(|| "(none)".to_string())
}

async fn handle(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = action_of(&uri, &body);
    if let Ok(mut seen) = ctx.shared.seen.lock() {
        *seen.entry(action.clone()).or_insert(0) += 1;
    }
    if let Ok(mut b) = ctx.shared.bodies.lock() {
        b.entry(action.clone())
            .or_default()
            .push(String::from_utf8_lossy(&body).into_owned());
    }
    let fault = ctx.shared.faults.lock().ok().and_then(|mut f| {
        let key = if f.contains_key(&action) {
            action.clone()
        } else {
            "*".to_string()
        };
        let entry = f.get_mut(&key)?;
        if entry.left == 0 {
            return None;
        }
        entry.left -= 1;
        Some(entry.clone())
    });
    if let Some(f) = fault {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, [("content-type", "text/xml")], f.body).into_response();
    }
    let url = format!(
        "{}{}",
        ctx.target,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut rb = ctx.http.request(method, url).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    match rb.send().await {
        Ok(r) => {
            let status = r.status();
            let mut out = HeaderMap::new();
            for (k, v) in r.headers() {
                if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                    out.insert(k.clone(), v.clone());
                }
            }
            let bytes = r.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("fault proxy: {e}")).into_response(),
    }
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 forwarding to `target` (`http://127.0.0.1:PORT`).
    pub async fn start(target: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let ctx = Ctx {
            target: target.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            shared: shared.clone(),
        };
        let app = Router::new().fallback(handle).with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    /// Answer the next `times` requests of `action` (`*`: of any action without a fault of
    /// its own) with `status` and `body` instead of forwarding them.
    pub fn fail(&self, action: &str, times: u32, status: u16, body: &str) {
        if let Ok(mut f) = self.shared.faults.lock() {
            f.insert(
                action.to_string(),
                Fault {
                    left: times,
                    status,
                    body: body.to_string(),
                },
            );
        }
    }

    /// Forward everything again.
    pub fn clear(&self) {
        if let Ok(mut f) = self.shared.faults.lock() {
            f.clear();
        }
    }

    /// The bodies of the requests of `action` seen so far, in order.
    pub fn bodies(&self, action: &str) -> Vec<String> {
        self.shared
            .bodies
            .lock()
            .ok()
            .and_then(|b| b.get(action).cloned())
            .unwrap_or_default()
    }

    /// Requests of `action` seen so far, forwarded or faulted.
    pub fn count(&self, action: &str) -> u64 {
        self.shared
            .seen
            .lock()
            .ok()
            .and_then(|s| s.get(action).copied())
            .unwrap_or(0)
    }
}

/// The decoded `key=value` pairs of a form body (`application/x-www-form-urlencoded`).
pub fn form(body: &str) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => match s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}
