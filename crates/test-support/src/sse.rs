//! A minimal legacy HTTP+SSE (2024-11-05) client: `GET /sse`, then POST to the endpoint it
//! names, reading responses from the stream.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// One SSE frame (the text between two blank lines) as `(event, data)`: `event` defaults to
/// `message`, `data` lines are joined. `None` for a frame without data (a comment or a
/// keep-alive).
pub fn parse_sse_frame(frame: &str) -> Option<(String, String)> {
    let mut event = String::from("message");
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(e) = line.strip_prefix("event:") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        }
    }
    (!data.is_empty()).then_some((event, data))
}

/// A connected legacy SSE session.
#[derive(Debug)]
pub struct SseClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// The POST URL from the `endpoint` event.
    pub endpoint: String,
    events: mpsc::Receiver<(String, String)>,
    next_id: u64,
    _reader: tokio::task::JoinHandle<()>,
}

/// Why the SSE stream could not be opened.
#[derive(Debug)]
pub struct SseOpenError {
    pub status: u16,
    pub body: String,
}

impl Drop for SseClient {
    fn drop(&mut self) {
        // Closing the stream is how a legacy SSE client ends its session.
        self._reader.abort();
    }
}

impl SseClient {
    /// Open `GET {base}/sse` and wait for the `endpoint` event.
    pub async fn connect(base: &str, token: Option<&str>) -> Result<Self, SseOpenError> {
        let http = reqwest::Client::new();
        let mut rb = http
            .get(format!("{base}/sse"))
            .header("accept", "text/event-stream");
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.map_err(|e| SseOpenError {
            status: 0,
            body: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.text().await.unwrap_or_default();
            return Err(SseOpenError { status, body });
        }
        let (tx, mut rx) = mpsc::channel(256);
        let reader = tokio::spawn(async move {
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find("\n\n") {
                    let frame = buf[..i].to_string();
                    buf.drain(..i + 2);
                    if let Some(ev) = parse_sse_frame(&frame)
                        && tx.send(ev).await.is_err()
                    {
                        return;
                    }
                }
            }
        });
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        let Ok(Some((event, data))) = first else {
            return Err(SseOpenError {
                status,
                body: "no endpoint event".into(),
            });
        };
        if event != "endpoint" {
            return Err(SseOpenError {
                status,
                body: format!("first event was {event}"),
            });
        }
        let endpoint = if data.starts_with("http") {
            data
        } else {
            format!("{base}{data}")
        };
        Ok(Self {
            http,
            base: base.to_string(),
            token: token.map(str::to_string),
            endpoint,
            events: rx,
            next_id: 1,
            _reader: reader,
        })
    }

    /// POST from now on to another replica at `base` (same path and session id), as a load
    /// balancer without sticky sessions would.
    pub fn post_via(&mut self, base: &str) {
        let path = self
            .endpoint
            .find("/messages")
            .map(|i| self.endpoint[i..].to_string())
            .unwrap_or_default();
        self.endpoint = format!("{base}{path}");
    }

    /// POST one message; returns the HTTP status.
    pub async fn post(&self, msg: &Value) -> u16 {
        self.post_as(msg, self.token.as_deref()).await
    }

    /// POST one message with another token (or none).
    pub async fn post_as(&self, msg: &Value, token: Option<&str>) -> u16 {
        let mut rb = self.http.post(&self.endpoint).json(msg);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    /// Send a request and wait (bounded) for the response with its id. Panics on failure.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        match self.try_request(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method} on {}: {e}", self.base),
        }
    }

    /// Send a request and wait (bounded, 30 s) for the response with its id.
    pub async fn try_request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let status = self.post(&msg).await;
        if status != 202 {
            return Err(format!("POST to {} answered {status}", self.endpoint));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.recv()).await;
            let Ok(Some((_, data))) = next else {
                return Err("no response on the stream".into());
            };
            let Ok(v) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if v.get("id") == Some(&json!(id)) {
                return Ok(v);
            }
        }
    }

    /// initialize + initialized.
    pub async fn initialize(&mut self) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "secops-sse-test", "version": "0"}}),
            )
            .await;
        let _ = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r
    }

    pub async fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({})).await;
        r["result"]["tools"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }
}

/// An rmcp client transport over the legacy SSE protocol: a `(Sink, Stream)` pair that rmcp
/// serves like any other transport. Lets the rmcp client exercise `/sse` end to end.
pub async fn rmcp_sse_transport(
    base: &str,
    token: Option<&str>,
) -> Result<
    (
        tokio_util::sync::PollSender<rmcp::model::ClientJsonRpcMessage>,
        tokio_stream::wrappers::ReceiverStream<rmcp::model::ServerJsonRpcMessage>,
    ),
    SseOpenError,
> {
    let mut client = SseClient::connect(base, token).await?;
    let (in_tx, in_rx) = mpsc::channel::<rmcp::model::ServerJsonRpcMessage>(256);
    let (out_tx, mut out_rx) = mpsc::channel::<rmcp::model::ClientJsonRpcMessage>(256);
    let mut events = std::mem::replace(&mut client.events, mpsc::channel(1).1);
    tokio::spawn(async move {
        while let Some((event, data)) = events.recv().await {
            if event != "message" {
                continue;
            }
            match serde_json::from_str::<rmcp::model::ServerJsonRpcMessage>(&data) {
                Ok(m) => {
                    if in_tx.send(m).await.is_err() {
                        return;
                    }
                }
                Err(e) => panic!("server sent an unparseable SSE message ({e}): {data}"),
            }
        }
    });
    tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let v = serde_json::to_value(&msg).unwrap_or_default();
            let status = client.post(&v).await;
            if status != 202 {
                panic!("POST to {} answered {status}", client.endpoint);
            }
        }
    });
    Ok((
        tokio_util::sync::PollSender::new(out_tx),
        tokio_stream::wrappers::ReceiverStream::new(in_rx),
    ))
}
