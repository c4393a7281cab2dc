//! `mcp-bench`: a load generator that speaks MCP.
//!
//! Load mode (the default): each of `--concurrency` workers opens its own session
//! (initialize and initialized; for `--transport sse` the legacy SSE stream first), makes
//! `--warmup` untimed calls, and waits for the others. When every worker is ready, the
//! measurement window of `--duration` starts and each worker calls `--tool` with `--args` in a
//! closed loop until it ends (or `--calls` calls each). Session set-up is not timed. Workers
//! share one HTTP client, which holds a connection per request in flight.
//! `--transport raw` sends plain HTTP requests to `--url` instead (the ceiling to compare
//! against): `GET`, or a `POST` of `--args` as JSON, or of `--body` as is with
//! `--content-type`, with any `--header`s; the body is read whole and may be checked with
//! `--expect`. Prints one JSON line: requests, errors, rps, p50/p99/p99.9 latency in ms.
//!
//! Idle mode (`--idle`, stateful or sse): opens `--concurrency` sessions and holds them
//! (the legacy SSE stream, or with `--idle-stream` the Streamable HTTP `GET /mcp` stream)
//! without calling anything. Prints one JSON line once every session is open (or failed),
//! then holds them for `--duration` and exits, so that the caller can measure the server's
//! memory in between.

#![allow(clippy::print_stdout)] // the JSON result line on stdout is this tool's output

use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures::StreamExt;
use hdrhistogram::Histogram;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use test_support::RpcClient;
use tokio::sync::{Barrier, Semaphore, mpsc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    Stateless,
    Stateful,
    Sse,
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RawMethod {
    Get,
    Post,
}

#[derive(Debug, Parser)]
#[command(
    about = "MCP load generator: tools/call throughput and latency, or idle sessions held open"
)]
struct Args {
    /// Base URL of the server (http://127.0.0.1:PORT); for raw, the full URL to request.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "stateless")]
    transport: Transport,
    /// Bearer token.
    #[arg(long)]
    token: Option<String>,
    #[arg(long, default_value = "get_item")]
    tool: String,
    /// Tool arguments (JSON); for raw, the JSON body to POST (`null`: a GET).
    #[arg(long, default_value = "{}")]
    args: String,
    /// Extra request header, `Name: value` (repeatable). Sent with raw requests and with
    /// every Streamable HTTP request; not with legacy SSE.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Raw only: the method. Default: GET when `--args null` and no `--body`, else POST.
    #[arg(long, value_enum)]
    method: Option<RawMethod>,
    /// Raw only: the request body, sent as is (instead of `--args`), e.g. a form.
    #[arg(long)]
    body: Option<String>,
    /// Raw only: the Content-Type of `--body`.
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// Raw only: a response counts as OK only when its body contains this text.
    #[arg(long)]
    expect: Option<String>,
    /// Load mode: each worker makes exactly this many calls (all workers start together),
    /// within `--duration` at most; 0: call until `--duration` is up.
    #[arg(long, default_value_t = 0)]
    calls: u64,
    /// Load mode: untimed calls each worker makes after its set-up, before the window.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Workers in load mode; sessions to open in idle mode.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measurement time in load mode, hold time in idle mode, e.g. 5s.
    #[arg(long, default_value = "5s", value_parser = parse_secs)]
    duration: Duration,
    /// Longest a single request may take before it counts as an error, e.g. 60s.
    #[arg(long, default_value = "60s", value_parser = parse_secs)]
    timeout: Duration,
    /// Idle mode: open `--concurrency` sessions (stateful or sse) and hold them.
    #[arg(long)]
    idle: bool,
    /// Idle mode, stateful: also open and hold each session's `GET /mcp` SSE stream.
    #[arg(long)]
    idle_stream: bool,
    /// Idle mode: sessions being opened at the same time.
    #[arg(long, default_value_t = 100)]
    open_parallel: usize,
    /// Label echoed in the output.
    #[arg(long, default_value = "")]
    label: String,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let n: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|e| format!("{s}: {e}"))?;
    Ok(Duration::from_secs_f64(n))
}

fn header_map(headers: &[String]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for h in headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("--header {h:?}: expected `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| format!("--header {h:?}: {e}"))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|e| format!("--header {h:?}: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// What every worker shares.
struct Run {
    args: Args,
    call_args: Value,
    /// Shared by every worker (a connection per request in flight), with `--header`s and
    /// the `--timeout`.
    http: reqwest::Client,
    /// For the legacy SSE streams: no overall timeout, which would cut them.
    streams: reqwest::Client,
    /// Every worker waits here after its set-up, so that the window starts for all at once.
    ready: Barrier,
    /// When the measurement window started (set by the first worker past the barrier).
    start: OnceLock<Instant>,
}

struct Worker {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    setup_failed: bool,
    finished: Instant,
}

/// One legacy SSE session: its stream and the endpoint it named for POSTs.
struct SseSession {
    frames: Frames,
    endpoint: String,
    next_id: u64,
}

enum Conn {
    Raw,
    Rpc(Box<RpcClient>),
    Sse(Box<SseSession>),
}

impl Run {
    async fn setup(&self) -> Option<Conn> {
        let args = &self.args;
        let mut conn = match args.transport {
            Transport::Raw => Conn::Raw,
            Transport::Stateless | Transport::Stateful => {
                let mut c = RpcClient::new(format!("{}/mcp", args.url), args.token.clone());
                c.http = self.http.clone();
                let r = c
                    .try_post_raw(initialize_body("2025-06-18").to_string())
                    .await
                    .ok()
                    .filter(|r| r.status == 200)?;
                c.session = r
                    .headers
                    .get("mcp-session-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let _ = c
                    .try_post_raw(
                        json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string(),
                    )
                    .await;
                Conn::Rpc(Box::new(c))
            }
            Transport::Sse => {
                let (frames, endpoint) = open_sse(args, &self.http, &self.streams).await.ok()?;
                Conn::Sse(Box::new(SseSession {
                    frames,
                    endpoint,
                    next_id: 1,
                }))
            }
        };
        for _ in 0..args.warmup {
            let _ = self.call(&mut conn).await;
        }
        Some(conn)
    }

    /// One call; true when it succeeded.
    async fn call(&self, conn: &mut Conn) -> bool {
        let args = &self.args;
        match conn {
            Conn::Raw => self.raw_once().await,
            Conn::Rpc(c) => c
                .try_call(&args.tool, self.call_args.clone())
                .await
                .unwrap_or(false),
            Conn::Sse(s) => {
                let id = s.next_id;
                s.next_id += 1;
                let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": {"name": args.tool, "arguments": self.call_args}});
                let sent = self
                    .http
                    .post(&s.endpoint)
                    .bearer_auth(args.token.as_deref().unwrap_or_default())
                    .json(&msg)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !sent {
                    return false;
                }
                let answer = tokio::time::timeout(args.timeout, async {
                    while let Some((_, data)) = s.frames.next().await {
                        if let Ok(v) = serde_json::from_str::<Value>(&data)
                            && v.get("id") == Some(&json!(id))
                        {
                            return Some(v);
                        }
                    }
                    None
                })
                .await
                .ok()
                .flatten();
                answer.is_some_and(|v| v.get("result").is_some_and(|r| r["isError"] != json!(true)))
            }
        }
    }

    async fn raw_once(&self) -> bool {
        let args = &self.args;
        let method = args
            .method
            .unwrap_or(if self.call_args.is_null() && args.body.is_none() {
                RawMethod::Get
            } else {
                RawMethod::Post
            });
        let rb = match method {
            RawMethod::Get => self.http.get(&args.url),
            RawMethod::Post => match &args.body {
                Some(b) => self
                    .http
                    .post(&args.url)
                    .header(reqwest::header::CONTENT_TYPE, &args.content_type)
                    .body(b.clone()),
                None => self.http.post(&args.url).json(&self.call_args),
            },
        };
        let Ok(resp) = rb.send().await else {
            return false;
        };
        let ok = resp.status().is_success();
        // The whole body is read, as a server reads its upstream's answer.
        match resp.bytes().await {
            Ok(body) => {
                ok && args.expect.as_ref().is_none_or(|e| {
                    e.is_empty() || body.windows(e.len()).any(|w| w == e.as_bytes())
                })
            }
            Err(_) => false,
        }
    }
}

async fn run_worker(run: Arc<Run>) -> Worker {
    let mut w = Worker {
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)
            .expect("constant histogram bounds are valid"),
        ok: 0,
        errors: 0,
        setup_failed: false,
        finished: Instant::now(),
    };
    let conn = tokio::time::timeout(run.args.timeout, run.setup())
        .await
        .ok()
        .flatten();
    run.ready.wait().await;
    let start = *run.start.get_or_init(Instant::now);
    let deadline = start + run.args.duration;
    let Some(mut conn) = conn else {
        w.setup_failed = true;
        w.errors += 1;
        w.finished = Instant::now();
        return w;
    };
    let args = &run.args;
    let mut made = 0u64;
    while Instant::now() < deadline && (args.calls == 0 || made < args.calls) {
        made += 1;
        let started = Instant::now();
        let ok = run.call(&mut conn).await;
        let _ = w.hist.record(started.elapsed().as_micros().max(1) as u64);
        if ok {
            w.ok += 1;
        } else {
            w.errors += 1;
        }
    }
    w.finished = Instant::now();
    if let Conn::Rpc(c) = &conn
        && let Some(s) = &c.session
    {
        let _ = c
            .http
            .delete(&c.url)
            .header("mcp-session-id", s)
            .bearer_auth(args.token.clone().unwrap_or_default())
            .send()
            .await;
    }
    w
}

async fn load(run: Arc<Run>) {
    let tasks: Vec<_> = (0..run.args.concurrency)
        .map(|_| tokio::spawn(run_worker(run.clone())))
        .collect();
    let mut total = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let (mut ok, mut errors, mut setup_errors) = (0u64, 0u64, 0u64);
    let mut finished: Option<Instant> = None;
    for t in futures::future::join_all(tasks).await {
        match t {
            Ok(w) => {
                let _ = total.add(&w.hist);
                ok += w.ok;
                errors += w.errors;
                setup_errors += u64::from(w.setup_failed);
                finished = finished.max(Some(w.finished));
            }
            Err(_) => errors += 1,
        }
    }
    let secs = match (run.start.get(), finished) {
        (Some(s), Some(f)) => f.duration_since(*s).as_secs_f64().max(1e-9),
        _ => run.args.duration.as_secs_f64(),
    };
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}",
        json!({
            "label": run.args.label, "transport": format!("{:?}", run.args.transport).to_lowercase(),
            "concurrency": run.args.concurrency, "requests": ok + errors, "errors": errors,
            "setup_errors": setup_errors, "secs": (secs * 1000.0).round() / 1000.0,
            "rps": (ok as f64 / secs * 10.0).round() / 10.0,
            "p50_ms": ms(0.5), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        })
    );
}

/// Reads server-sent events from a response body: `(event, data)` per frame.
struct Frames {
    stream: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Frames {
    fn new(resp: reqwest::Response) -> Self {
        Self {
            stream: resp.bytes_stream().map(|r| r.map(|b| b.to_vec())).boxed(),
            buf: Vec::new(),
        }
    }

    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8_lossy(&self.buf[..i]).replace('\r', "");
                self.buf.drain(..i + 2);
                if let Some(ev) = test_support::parse_sse_frame(&frame) {
                    return Some(ev);
                }
                continue;
            }
            let chunk = self.stream.next().await?.ok()?;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Reads until the stream ends (the server closed it, or the process exits).
    async fn drain(mut self) {
        while let Some(Ok(_)) = self.stream.next().await {}
    }
}

fn initialize_body(version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"mcp-bench","version":"0"}}})
}

/// Opens one stateful Streamable HTTP session; with `stream`, also its GET stream.
async fn open_stateful(args: &Args, http: &reqwest::Client) -> Result<Option<Frames>, String> {
    let url = format!("{}/mcp", args.url);
    let token = args.token.clone().unwrap_or_default();
    let resp = http
        .post(&url)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize_body("2025-06-18"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("initialize: HTTP {}", resp.status()));
    }
    let session = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or("initialize: no mcp-session-id")?;
    let _ = resp.bytes().await;
    let status = http
        .post(&url)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status();
    if !status.is_success() {
        return Err(format!("initialized: HTTP {status}"));
    }
    if !args.idle_stream {
        return Ok(None);
    }
    let resp = http
        .get(&url)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("GET /mcp: HTTP {}", resp.status()));
    }
    Ok(Some(Frames::new(resp)))
}

/// Opens one legacy SSE session (stream through `streams`, then initialize and initialized
/// POSTed through `http`); returns its stream and its POST endpoint.
async fn open_sse(
    args: &Args,
    http: &reqwest::Client,
    streams: &reqwest::Client,
) -> Result<(Frames, String), String> {
    let token = args.token.clone().unwrap_or_default();
    let resp = streams
        .get(format!("{}/sse", args.url))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("GET /sse: HTTP {}", resp.status()));
    }
    let mut frames = Frames::new(resp);
    let (event, data) = frames.next().await.ok_or("no endpoint event")?;
    if event != "endpoint" {
        return Err(format!("first event was {event}"));
    }
    let endpoint = if data.starts_with("http") {
        data
    } else {
        format!("{}{data}", args.url)
    };
    let post = |msg: Value| http.post(&endpoint).bearer_auth(&token).json(&msg).send();
    let status = post(initialize_body("2024-11-05"))
        .await
        .map_err(|e| e.to_string())?
        .status();
    if !status.is_success() {
        return Err(format!("initialize: HTTP {status}"));
    }
    loop {
        let (_, data) = frames
            .next()
            .await
            .ok_or("stream ended before the response")?;
        if serde_json::from_str::<Value>(&data).is_ok_and(|v| v.get("id") == Some(&json!(0))) {
            break;
        }
    }
    post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .map_err(|e| e.to_string())?;
    Ok((frames, endpoint))
}

async fn idle(args: Arc<Args>) {
    if !matches!(args.transport, Transport::Stateful | Transport::Sse) {
        eprintln!("--idle needs --transport stateful or sse");
        std::process::exit(2);
    }
    // No overall request timeout: it would cut the held streams.
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("http client: {e}");
            std::process::exit(1);
        }
    };
    let gate = Arc::new(Semaphore::new(args.open_parallel.max(1)));
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let started = Instant::now();
    for _ in 0..args.concurrency {
        let (args, http, gate, tx) = (args.clone(), http.clone(), gate.clone(), tx.clone());
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let opened = tokio::time::timeout(args.timeout, async {
                match args.transport {
                    Transport::Sse => open_sse(&args, &http, &http).await.map(|(f, _)| Some(f)),
                    _ => open_stateful(&args, &http).await,
                }
            })
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            drop(permit);
            match opened {
                Ok(frames) => {
                    let _ = tx.send(Ok(()));
                    if let Some(f) = frames {
                        f.drain().await;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    }
    drop(tx);
    let (mut opened, mut failed, mut first_error) = (0usize, 0usize, None);
    // Count answers rather than wait for the channel to close: a session that holds its
    // stream keeps its sender until it ends.
    for _ in 0..args.concurrency {
        let Some(r) = rx.recv().await else { break };
        match r {
            Ok(()) => opened += 1,
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    println!(
        "{}",
        json!({
            "label": args.label, "transport": format!("{:?}", args.transport).to_lowercase(),
            "idle": true, "stream": args.idle_stream || args.transport == Transport::Sse,
            "opened": opened, "errors": failed, "first_error": first_error,
            "open_secs": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        })
    );
    let _ = std::io::stdout().flush();
    tokio::time::sleep(args.duration).await;
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let call_args: Value = match serde_json::from_str(&args.args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("--args is not JSON: {e}");
            std::process::exit(2);
        }
    };
    if args.idle {
        idle(Arc::new(args)).await;
        return;
    }
    let clients = header_map(&args.headers).and_then(|headers| {
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(args.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        let streams = reqwest::Client::builder()
            .connect_timeout(args.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok((http, streams))
    });
    let (http, streams) = match clients {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let ready = Barrier::new(args.concurrency.max(1));
    load(Arc::new(Run {
        args,
        call_args,
        http,
        streams,
        ready,
        start: OnceLock::new(),
    }))
    .await;
}
