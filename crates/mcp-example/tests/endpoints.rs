//! Endpoints and settings that documented clients of the servers this project replaces
//! expect: `/sse/` with the trailing slash, `/ready`, `LOG_LEVEL`, and the client allowlist
//! with trusted proxies, against the real binary.

use std::time::Duration;

use test_support::tokens::token;
use test_support::{ServerProcess, ServerSpec, SseClient};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

/// `GET /sse/` (the AIRS README's URL) opens the same legacy SSE session as `/sse`: its
/// `endpoint` event names `/messages/`, and a tool call answers on the stream.
#[tokio::test]
async fn sse_with_a_trailing_slash_is_the_sse_endpoint() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let tok = token("alice", &["example:read"]);
    // SseClient appends `/sse` to the base: a base ending in `/sse` asks for `/sse/sse`, so
    // open `/sse/` by hand and check the endpoint event.
    let resp = reqwest::Client::new()
        .get(format!("{}/sse/", server.base()))
        .bearer_auth(&tok)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET /sse/");
    assert_eq!(resp.status(), 200);
    let mut body = resp;
    let mut seen = String::new();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.chunk().await.expect("chunk") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\n\n") {
                break;
            }
        }
        seen
    })
    .await
    .expect("the endpoint event arrives");
    assert!(
        first.contains("event: endpoint") && first.contains("data: /messages/?session_id="),
        "{first}"
    );
    // And the whole session works the way it does on /sse.
    let mut c = SseClient::connect(&server.base(), Some(&tok))
        .await
        .expect("sse");
    c.initialize().await;
    assert!(c.tool_names().await.contains(&"get_item".to_string()));
}

#[tokio::test]
async fn ready_is_readyz() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    for path in ["/ready", "/readyz"] {
        let r = reqwest::get(format!("{}{path}", server.base()))
            .await
            .expect(path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.text().await.expect("body"), "ready");
    }
}

/// `LOG_LEVEL` sets the level when `RUST_LOG` is unset; `RUST_LOG` wins; a bad value is a
/// one-line refusal that names the variable. (The harness needs the info-level "listening on"
/// line, so the levels compared here are info and debug: each HTTP request logs a debug line.)
#[tokio::test]
async fn log_level_is_honoured_when_rust_log_is_unset() {
    async fn debug_lines(spec: ServerSpec) -> usize {
        let server = ServerProcess::start(&spec).await;
        let r = reqwest::get(format!("{}/healthz", server.base()))
            .await
            .expect("healthz");
        assert_eq!(r.status(), 200);
        // The metrics request comes after the healthz one, and its own line after that:
        // once the /metrics answer is here, the /healthz debug line (if any) was written.
        let _ = server.metric("mcp_http_requests_total").await;
        server.wait_for_log("\"level\":\"INFO\"").await;
        server
            .logs()
            .iter()
            .filter(|l| l.contains("\"level\":\"DEBUG\""))
            .count()
    }
    let base = || ServerSpec::http(BIN).without_env("RUST_LOG");
    assert_eq!(debug_lines(base()).await, 0, "info by default");
    assert!(
        debug_lines(base().env("LOG_LEVEL", "debug")).await > 0,
        "LOG_LEVEL=debug logs debug lines"
    );
    assert_eq!(
        debug_lines(base().env("LOG_LEVEL", "debug").env("RUST_LOG", "info")).await,
        0,
        "RUST_LOG wins over LOG_LEVEL"
    );
    let stderr = test_support::cli::exits_with(BIN, &["check"], &[("LOG_LEVEL", "loud")], 2).await;
    assert!(
        stderr.contains("LOG_LEVEL: `loud` is not debug, info, warn or error"),
        "{stderr}"
    );
}

async fn status_from(server: &ServerProcess, forwarded_for: Option<&str>) -> u16 {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/mcp", server.base()))
        .bearer_auth(token("alice", &["example:read"]))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"allowlist-test","version":"1"}}}"#,
        );
    if let Some(xff) = forwarded_for {
        rb = rb.header("x-forwarded-for", xff);
    }
    rb.send().await.expect("POST").status().as_u16()
}

/// A client outside `MCP_ALLOWED_CLIENTS` gets 403 before auth (the probes still answer);
/// `X-Forwarded-For` is believed only from `MCP_TRUSTED_PROXIES`, read from the right.
#[tokio::test]
async fn the_client_allowlist_and_trusted_proxies() {
    // Loopback is not in the list: refused, even with a valid token, counted and logged.
    let closed = ServerProcess::start_unready(
        &ServerSpec::http(BIN).env("MCP_ALLOWED_CLIENTS", "10.0.0.0/8"),
    )
    .await;
    assert_eq!(status_from(&closed, None).await, 403);
    let r = reqwest::get(format!("{}/healthz", closed.base()))
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200, "the probes answer everyone");
    closed
        .wait_for_log("request refused: client address not in MCP_ALLOWED_CLIENTS")
        .await;
    let metrics = reqwest::get(format!("{}/metrics", closed.base()))
        .await
        .expect("metrics");
    assert_eq!(
        metrics.status(),
        403,
        "/metrics is not a probe: refused too"
    );
    // Without trusted proxies, a forwarded address is not believed.
    let no_proxy = ServerProcess::start_unready(
        &ServerSpec::http(BIN).env("MCP_ALLOWED_CLIENTS", "10.1.0.0/16"),
    )
    .await;
    assert_eq!(status_from(&no_proxy, Some("10.1.2.3")).await, 403);

    // Behind a trusted proxy (this test, on loopback), the right-most untrusted hop counts.
    let proxied = ServerProcess::start(
        &ServerSpec::http(BIN)
            .env("MCP_ALLOWED_CLIENTS", "10.1.0.0/16,127.0.0.1")
            .env("MCP_TRUSTED_PROXIES", "127.0.0.1/32, 10.9.0.0/16"),
    )
    .await;
    for (xff, want) in [
        (None, 200),
        (Some("10.1.2.3"), 200),
        (Some("203.0.113.9"), 403),
        (Some("10.1.2.3, 203.0.113.9"), 403),
        (Some("203.0.113.9, 10.1.2.3"), 200),
        (Some("203.0.113.9, 10.1.2.3, 10.9.0.1"), 200),
        (Some("10.1.2.3, 203.0.113.9, 10.9.0.1"), 403),
    ] {
        assert_eq!(
            status_from(&proxied, xff).await,
            want,
            "X-Forwarded-For: {xff:?}"
        );
    }
    let text = reqwest::get(format!("{}/metrics", proxied.base()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    // Each refusal above was counted before its 403 was sent.
    assert!(
        text.lines().any(|l| l == "mcp_clients_refused_total 3"),
        "every refusal is counted:\n{}",
        text.lines()
            .filter(|l| l.contains("refused"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `MCP_ALLOWED_CLIENTS` and `MCP_TRUSTED_PROXIES` must be CIDRs or addresses.
#[tokio::test]
async fn bad_client_lists_are_refused_naming_the_variable() {
    for var in ["MCP_ALLOWED_CLIENTS", "MCP_TRUSTED_PROXIES"] {
        let stderr = test_support::cli::exits_with(
            BIN,
            &["serve"],
            &[
                ("MCP_TRANSPORT", "http"),
                ("MCP_BIND", "127.0.0.1:0"),
                ("MCP_JWT_SECRET", test_support::tokens::TEST_SECRET),
                (var, "10.0.0.0/8, not-an-address"),
            ],
            1,
        )
        .await;
        assert!(
            stderr.contains(&format!("{var}: `not-an-address` is not a CIDR")),
            "{stderr}"
        );
    }
}

/// `GET /health` answers JSON with an overall status, the version and each check (status,
/// last run, latency, detail), from cached results: it answers at once while the upstream
/// probe is still waiting, turns `down` (503) when the upstream is, and keeps internal
/// addresses out of the detail unless `MCP_HEALTH_DETAILS=true`.
#[tokio::test]
async fn health_reports_each_check_as_json() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let (code, v) = server.health_until(|v| v["status"] == "ok").await;
    assert_eq!(code, 200);
    assert_eq!(v["server"], "mcp-example");
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()));
    let up = &v["checks"]["upstream"];
    assert_eq!(up["status"], "ok");
    // A success says only "ok" (a probe's description can name versions and accounts).
    assert_eq!(up["detail"], "ok");
    assert!(
        up["last_run"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{up}"
    );
    assert!(up["latency_ms"].as_u64().is_some(), "{up}");

    // A silent upstream: the probe waits 4 s; /health does not.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let slow = ServerProcess::start_unready(
        &ServerSpec::http(BIN).env("EXAMPLE_UPSTREAM_URL", format!("http://127.0.0.1:{port}")),
    )
    .await;
    let (code, v) = slow.health().await;
    assert_eq!((code, v["status"].as_str()), (200, Some("degraded")), "{v}");
    assert_eq!(v["checks"]["upstream"]["status"], "pending", "{v}");
    drop(silent);

    // A dead upstream: down, 503, and the detail names no address.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    for details in [false, true] {
        let mut spec =
            ServerSpec::http(BIN).env("EXAMPLE_UPSTREAM_URL", format!("http://127.0.0.1:{port}"));
        if details {
            spec = spec.env("MCP_HEALTH_DETAILS", "true");
        }
        let down = ServerProcess::start_unready(&spec).await;
        let (code, v) = down.health_until(|v| v["status"] == "down").await;
        assert_eq!(code, 503);
        let detail = v["checks"]["upstream"]["detail"]
            .as_str()
            .unwrap_or_default();
        assert!(
            detail.contains("cannot connect to example-upstream"),
            "{detail}"
        );
        assert_eq!(
            detail.contains(&format!("127.0.0.1:{port}")),
            details,
            "addresses only with MCP_HEALTH_DETAILS: {detail}"
        );
    }
}

/// `POST /api/mcp/...` with a bearer token, the way the runbooks' curl lines do.
async fn rest(
    server: &ServerProcess,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", server.base());
    let mut rb = match body {
        Some(b) => http
            .post(url)
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => http.get(url),
    };
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The REST facade (`MCP_REST=true`): list and call with the same auth, scopes, read-only mode,
/// audit and output as MCP `tools/call`; an OpenAPI document of what the token may call; off
/// by default.
#[tokio::test]
async fn the_rest_facade_calls_tools_like_mcp() {
    let off = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let writer = token("alice", &["example:write"]);
    let (code, _) = rest(&off, "/api/mcp/tools/list", Some(&writer), None).await;
    assert_eq!(code, 404, "off unless MCP_REST=true");

    let server = ServerProcess::start(&ServerSpec::http(BIN).env("MCP_REST", "true")).await;
    let reader = token("bob", &["example:read"]);
    let call = |name: &str, args: serde_json::Value| {
        serde_json::json!({"name": name, "arguments": args}).to_string()
    };
    // Auth and scopes.
    let (code, _) = rest(&server, "/api/mcp/tools/list", None, None).await;
    assert_eq!(code, 401);
    let (code, v) = rest(&server, "/api/mcp/tools/list", Some(&reader), None).await;
    assert_eq!(code, 200, "{v}");
    let names: Vec<&str> = v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"get_item") && !names.contains(&"set_item"),
        "{names:?}"
    );
    let (code, v) = rest(&server, "/api/mcp/tools/list", Some(&reader), Some("{}")).await;
    assert_eq!(
        (code, v["tools"].as_array().map(Vec::len)),
        (200, Some(names.len()))
    );
    let body = call("set_item", serde_json::json!({"key": "k1", "value": "v1"}));
    let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&reader), Some(&body)).await;
    assert_eq!(
        code, 404,
        "a tool outside the token's scopes is not found: {v}"
    );
    // A write and the read of it, with MCP's output.
    let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&writer), Some(&body)).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["structuredContent"]["key"], "k1", "{v}");
    assert_eq!(v["structuredContent"]["previous"], serde_json::Value::Null);
    assert_eq!(v["structuredContent"]["change"]["status"], "applied", "{v}");
    assert_eq!(v["isError"], false, "{v}");
    // A write that needs a human's confirmation is refused over REST: nobody can be asked.
    let body = call("delete_item", serde_json::json!({"key": "k1"}));
    let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&writer), Some(&body)).await;
    assert_eq!(
        (code, &v["isError"]),
        (200, &serde_json::json!(true)),
        "{v}"
    );
    let text = v["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("needs a human's confirmation"), "{text}");
    let body = call("get_item", serde_json::json!({"key": "k1"}));
    let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&reader), Some(&body)).await;
    assert_eq!(code, 200);
    assert_eq!(v["structuredContent"]["value"], "v1");
    // A refusal the model can act on stays a tool result; a malformed call is a 400.
    let body = call("get_item", serde_json::json!({"key": "bad key!"}));
    let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&reader), Some(&body)).await;
    assert_eq!(
        (code, &v["isError"]),
        (200, &serde_json::json!(true)),
        "{v}"
    );
    for bad in [
        "not json",
        "[]",
        r#"{"arguments": {}}"#,
        r#"{"name": "get_item", "arguments": [1]}"#,
        r#"{"name": "get_item", "extra": 1}"#,
    ] {
        let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&reader), Some(bad)).await;
        assert_eq!(code, 400, "{bad}: {v}");
        assert!(v["error"].as_str().is_some(), "{bad}: {v}");
    }
    // The audit event names the token's subject.
    server
        .wait_for_log(r#""subject":"alice","tool":"set_item""#)
        .await;
    // The OpenAPI document lists what this token may call.
    let (code, doc) = rest(&server, "/api/mcp/openapi.json", Some(&reader), None).await;
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/mcp/tools/call"]["post"].is_object());
    assert!(doc["components"]["schemas"]["get_item_arguments"].is_object());
    assert!(
        doc["components"]["schemas"]
            .get("set_item_arguments")
            .is_none()
    );

    // Read-only mode hides the writes here too.
    let ro = ServerProcess::start(
        &ServerSpec::http(BIN)
            .env("MCP_REST", "true")
            .env("MCP_READ_ONLY", "true"),
    )
    .await;
    let body = call("set_item", serde_json::json!({"key": "k1", "value": "v1"}));
    let (code, _) = rest(&ro, "/api/mcp/tools/call", Some(&writer), Some(&body)).await;
    assert_eq!(code, 404);
}

/// In-process rate limits per subject and tool (`MCP_RATE_LIMIT_TOOLS`, `MCP_RATE_LIMIT_WRITES`):
/// the call over the limit is a tool error that says when to retry, the tool never runs, other
/// subjects keep their own budget, and the refusal is counted.
#[tokio::test]
async fn rate_limits_hold_per_subject_and_tool() {
    let server = ServerProcess::start(
        &ServerSpec::http(BIN)
            .env("MCP_REST", "true")
            .env("MCP_RATE_LIMIT_TOOLS", "get_item=2/m")
            .env("MCP_RATE_LIMIT_WRITES", "1/h"),
    )
    .await;
    let alice = token("alice", &["example:write"]);
    let bob = token("bob", &["example:read"]);
    let get = r#"{"name": "get_item", "arguments": {"key": "k"}}"#;
    for _ in 0..2 {
        let (code, v) = rest(&server, "/api/mcp/tools/call", Some(&alice), Some(get)).await;
        assert_eq!(
            (code, &v["isError"]),
            (200, &serde_json::json!(false)),
            "{v}"
        );
    }
    let (_, v) = rest(&server, "/api/mcp/tools/call", Some(&alice), Some(get)).await;
    assert_eq!(v["isError"], true, "{v}");
    let text = v["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("this server is rate limiting requests; retry after "),
        "{text}"
    );
    let (_, v) = rest(&server, "/api/mcp/tools/call", Some(&bob), Some(get)).await;
    assert_eq!(v["isError"], false, "bob has his own budget: {v}");
    let set = r#"{"name": "set_item", "arguments": {"key": "k", "value": "v"}}"#;
    let (_, v) = rest(&server, "/api/mcp/tools/call", Some(&alice), Some(set)).await;
    assert_eq!(v["isError"], false, "{v}");
    let set_again = r#"{"name": "set_item", "arguments": {"key": "k", "value": "w"}}"#;
    let (_, v) = rest(
        &server,
        "/api/mcp/tools/call",
        Some(&alice),
        Some(set_again),
    )
    .await;
    assert_eq!(v["isError"], true, "one write an hour: {v}");
    // The refused write did not run: the value is still the first one.
    let (_, v) = rest(&server, "/api/mcp/tools/call", Some(&bob), Some(get)).await;
    assert_eq!(v["structuredContent"]["value"], "v", "{v}");
    let limited = server
        .wait_metric("mcp_rate_limited_total{tool=\"get_item\"}", |n| n >= 1.0)
        .await;
    assert_eq!(limited, 1.0);
    let stderr = test_support::cli::exits_with(
        BIN,
        &["check"],
        &[("MCP_RATE_LIMIT_TOOLS", "get_itme=2/m")],
        1,
    )
    .await;
    assert!(stderr.contains("`get_itme` is not a tool"), "{stderr}");
}

/// With `MCP_STATE_URL` (a real redis-server) three replicas share one budget per subject and
/// tool: 5 calls an hour allowed, then 8 more spread over the replicas give exactly 8
/// refusals, and the refused calls never run. A write that needs a budget is refused while
/// Redis is down, and a read falls back to the replica's own limit.
#[tokio::test]
async fn a_rate_limit_holds_across_replicas_sharing_redis() {
    let mut redis = test_support::RedisServer::start().await;
    let spec = ServerSpec::http(BIN)
        .env("MCP_REST", "true")
        .env("MCP_RATE_LIMIT", "5/h")
        .env("MCP_STATE_URL", redis.url());
    let replicas = [
        ServerProcess::start(&spec).await,
        ServerProcess::start(&spec).await,
        ServerProcess::start(&spec).await,
    ];
    let alice = token("alice", &["example:write"]);
    let get = r#"{"name": "get_item", "arguments": {"key": "k"}}"#;
    let mut refused = 0;
    for i in 0..13 {
        let (code, v) = rest(
            &replicas[i % 3],
            "/api/mcp/tools/call",
            Some(&alice),
            Some(get),
        )
        .await;
        assert_eq!(code, 200, "{v}");
        if v["isError"] == true {
            let text = v["content"][0]["text"].as_str().unwrap_or_default();
            assert!(text.contains("rate limiting"), "{text}");
            refused += 1;
        }
    }
    assert_eq!(
        refused, 8,
        "5 of 13 calls allowed across the three replicas"
    );
    let mut counted = 0.0;
    for r in &replicas {
        counted += r
            .metric("mcp_rate_limited_total{tool=\"get_item\"}")
            .await
            .unwrap_or(0.0);
    }
    assert_eq!(
        counted, 8.0,
        "each refusal counted once, by the replica that refused"
    );

    // Redis down: a write is refused (its budget cannot be checked), a read is served under
    // the replica's own limit.
    redis.kill().await;
    let set = r#"{"name": "set_item", "arguments": {"key": "k", "value": "v"}}"#;
    let (_, v) = rest(&replicas[0], "/api/mcp/tools/call", Some(&alice), Some(set)).await;
    assert_eq!(v["isError"], true, "{v}");
    let text = v["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("shared state store") && text.contains("nothing was changed"),
        "{text}"
    );
    let bob = token("bob", &["example:read"]);
    let (_, v) = rest(&replicas[0], "/api/mcp/tools/call", Some(&bob), Some(get)).await;
    assert_eq!(
        v["isError"], false,
        "a read falls back to the local limit: {v}"
    );
    assert_eq!(
        v["structuredContent"]["found"], false,
        "the write never ran: {v}"
    );
    let fallbacks = replicas[0]
        .wait_metric("mcp_state_fallback_total{use=\"rate_limits\"}", |n| {
            n >= 1.0
        })
        .await;
    assert_eq!(fallbacks, 1.0);
}
