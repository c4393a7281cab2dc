//! `mcp-bench`: a load generator that speaks MCP.
//!
//! Each of `--concurrency` workers opens its own session (initialize, plus the SSE stream for
//! `--transport sse`), then calls `--tool` with `--args` in a loop until `--duration` is up.
//! `--transport raw` POSTs `--args` to `--url` as plain JSON: the ceiling to compare against.
//! Prints one JSON line: requests, errors, rps, p50/p99/p99.9 latency in ms.

#![allow(clippy::print_stdout)] // the JSON result line on stdout is this tool's output

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use test_support::{RpcClient, SseClient};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    Stateless,
    Stateful,
    Sse,
    Raw,
}

#[derive(Debug, Parser)]
#[command(about = "MCP load generator: tools/call throughput and latency")]
struct Args {
    /// Base URL of the server (http://127.0.0.1:PORT); for raw, the full URL to POST to.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "stateless")]
    transport: Transport,
    /// Bearer token.
    #[arg(long)]
    token: Option<String>,
    #[arg(long, default_value = "get_item")]
    tool: String,
    /// Tool arguments (JSON), or the raw body for --transport raw.
    #[arg(long, default_value = "{}")]
    args: String,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measurement time per run, e.g. 5s.
    #[arg(long, default_value = "5s", value_parser = parse_secs)]
    duration: Duration,
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

struct Worker {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
}

async fn run_worker(args: Arc<Args>, call_args: Value, deadline: Instant) -> Worker {
    let mut w = Worker {
        hist: Histogram::new_with_bounds(1, 60_000_000, 3)
            .expect("constant histogram bounds are valid"),
        ok: 0,
        errors: 0,
    };
    let record = |w: &mut Worker, started: Instant, ok: bool| {
        let _ = w.hist.record(started.elapsed().as_micros().max(1) as u64);
        if ok { w.ok += 1 } else { w.errors += 1 }
    };
    match args.transport {
        Transport::Raw => {
            let http = reqwest::Client::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let rb = if call_args.is_null() {
                    http.get(&args.url)
                } else {
                    http.post(&args.url).json(&call_args)
                };
                let ok = rb
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                record(&mut w, started, ok);
            }
        }
        Transport::Stateless | Transport::Stateful => {
            let mut c = RpcClient::new(format!("{}/mcp", args.url), args.token.clone());
            let init = c.try_post_raw(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-bench","version":"0"}}}).to_string()).await;
            match init {
                Ok(r) if r.status == 200 => {
                    c.session = r
                        .headers
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let _ = c
                        .try_post_raw(
                            json!({"jsonrpc":"2.0","method":"notifications/initialized"})
                                .to_string(),
                        )
                        .await;
                }
                _ => {
                    w.errors += 1;
                    return w;
                }
            }
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = c
                    .try_call(&args.tool, call_args.clone())
                    .await
                    .unwrap_or(false);
                record(&mut w, started, ok);
            }
            if let Some(s) = &c.session {
                let _ = c
                    .http
                    .delete(&c.url)
                    .header("mcp-session-id", s)
                    .bearer_auth(args.token.clone().unwrap_or_default())
                    .send()
                    .await;
            }
        }
        Transport::Sse => {
            let Ok(mut c) = SseClient::connect(&args.url, args.token.as_deref()).await else {
                w.errors += 1;
                return w;
            };
            if c.try_request("initialize", json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"mcp-bench","version":"0"}})).await.is_err() {
                w.errors += 1;
                return w;
            }
            let _ = c
                .post(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
                .await;
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = c
                    .try_request(
                        "tools/call",
                        json!({"name": args.tool, "arguments": call_args}),
                    )
                    .await
                    .is_ok_and(|v| v.get("result").is_some_and(|r| r["isError"] != json!(true)));
                record(&mut w, started, ok);
            }
        }
    }
    w
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let call_args: Value = match serde_json::from_str(&args.args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("--args is not JSON: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let deadline = started + args.duration;
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(run_worker(args.clone(), call_args.clone(), deadline)))
        .collect();
    let mut total = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let (mut ok, mut errors) = (0u64, 0u64);
    for t in futures::future::join_all(tasks).await {
        match t {
            Ok(w) => {
                let _ = total.add(&w.hist);
                ok += w.ok;
                errors += w.errors;
            }
            Err(_) => errors += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}",
        json!({
            "label": args.label, "transport": format!("{:?}", args.transport).to_lowercase(),
            "concurrency": args.concurrency, "requests": ok + errors, "errors": errors,
            "rps": (ok as f64 / secs * 10.0).round() / 10.0,
            "p50_ms": ms(0.5), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        })
    );
}
