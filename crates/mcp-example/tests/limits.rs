//! Limits that hold before any tool runs, against the real binary: slow clients (headers and
//! bodies that trickle in), the connection cap, and the per-subject session cap.

use std::time::Duration;

use test_support::tokens::token;
use test_support::{RpcClient, ServerProcess, ServerSpec, SseClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

/// Read until the server closes the connection (or `limit` passes: `None`). Returns what it
/// sent before closing.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let r = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    r.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// A client that sends half a request head and then nothing (slowloris) is disconnected
/// after `MCP_HTTP_HEADER_TIMEOUT`, before auth ever runs; the server keeps serving.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let server =
        ServerProcess::start(&ServerSpec::http(BIN).env("MCP_HTTP_HEADER_TIMEOUT", "1s")).await;
    let mut s = TcpStream::connect(server.addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
        .await
        .expect("write");
    let closed = read_until_closed(&mut s, Duration::from_secs(15)).await;
    assert!(
        closed.is_some(),
        "the server held a connection whose headers never ended"
    );
    // An idle keep-alive connection is held no longer than that either.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let answered = read_until_closed(&mut idle, Duration::from_secs(15))
        .await
        .expect("an idle keep-alive connection is closed too");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let ok = reqwest::get(format!("{}/healthz", server.base()))
        .await
        .expect("healthz");
    assert_eq!(ok.status(), 200);
}

/// A body that trickles in is cut off after `MCP_HTTP_REQUEST_TIMEOUT` with 408.
#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let server =
        ServerProcess::start(&ServerSpec::http(BIN).env("MCP_HTTP_REQUEST_TIMEOUT", "1s")).await;
    let tok = token("alice", &["example:read"]);
    let mut s = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tok}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: 200\r\n\r\n{{\"jsonrpc\":"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut s, Duration::from_secs(15))
        .await
        .expect("the server answers and closes instead of waiting for the body forever");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("MCP_HTTP_REQUEST_TIMEOUT"), "{answer}");
}

/// At `MCP_MAX_CONNECTIONS` open connections one more is closed at once, counted; when one
/// closes, there is room again.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let server = ServerProcess::start(&ServerSpec::http(BIN).env("MCP_MAX_CONNECTIONS", "3")).await;
    // Hold the cap's worth open and idle, each with one request answered so it is surely
    // being served. The harness's own readiness connection may still hold a slot for a moment
    // after it closed: a connection closed at once is retried (bounded).
    let mut held = Vec::new();
    for _ in 0..200 {
        if held.len() == 3 {
            break;
        }
        let mut s = TcpStream::connect(server.addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        match s.read(&mut buf).await {
            Ok(n) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") => held.push(s),
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert_eq!(held.len(), 3, "three connections served");
    let mut extra = TcpStream::connect(server.addr).await.expect("connect");
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut extra, Duration::from_secs(10))
        .await
        .expect("the connection over the cap is closed, not held");
    assert!(
        answer.is_empty(),
        "no answer over the cap, only a close: {answer}"
    );
    server
        .wait_for_log("connection limit reached (MCP_MAX_CONNECTIONS)")
        .await;
    drop(held.pop());
    // Room again once the server has seen that one close (bounded poll).
    let mut served = false;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{}/metrics", server.base())).await
            && r.status() == 200
        {
            let text = r.text().await.unwrap_or_default();
            assert!(
                text.lines()
                    .any(|l| l.starts_with("mcp_connections_refused_total") && !l.ends_with(" 0")),
                "the refusal is counted"
            );
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(served, "a slot never came free");
}

/// One subject may hold `MCP_MAX_SESSIONS_PER_SUBJECT` sessions over Streamable HTTP and
/// legacy SSE together; the next gets 429 with `Retry-After`, other subjects are unaffected,
/// and ending a session makes room.
#[tokio::test]
async fn one_token_cannot_take_the_whole_session_budget() {
    let server =
        ServerProcess::start(&ServerSpec::http(BIN).env("MCP_MAX_SESSIONS_PER_SUBJECT", "2")).await;
    let url = format!("{}/mcp", server.base());
    let alice = token("alice", &["example:read"]);
    let mut first = RpcClient::new(&url, Some(alice.clone()));
    assert_eq!(first.initialize().await.status, 200);
    let mut sse = SseClient::connect(&server.base(), Some(&alice))
        .await
        .expect("second session over SSE");
    sse.initialize().await;

    let mut third = RpcClient::new(&url, Some(alice.clone()));
    let refused = third.initialize().await;
    assert_eq!(refused.status, 429, "{}", refused.raw);
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let sse_refused = SseClient::connect(&server.base(), Some(&alice)).await;
    assert_eq!(sse_refused.err().map(|e| e.status), Some(429));

    let mut bob = RpcClient::new(&url, Some(token("bob", &["example:read"])));
    assert_eq!(
        bob.initialize().await.status,
        200,
        "other subjects still get sessions"
    );

    let del = reqwest::Client::new()
        .delete(&url)
        .bearer_auth(&alice)
        .header("mcp-session-id", first.session.clone().expect("session"))
        .send()
        .await
        .expect("DELETE");
    assert!(del.status().is_success(), "{}", del.status());
    let mut reopened = false;
    for _ in 0..200 {
        let mut again = RpcClient::new(&url, Some(alice.clone()));
        if again.initialize().await.status == 200 {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(reopened, "ending a session makes room for a new one");
    assert!(
        sse.tool_names().await.contains(&"get_item".to_string()),
        "the SSE session still works"
    );
}
