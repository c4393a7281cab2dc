//! Process lifecycle and operator controls: graceful shutdown, readiness, subcommands,
//! filters, request ids, config files, session accounting.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::tokens::{TEST_SECRET, token};
use test_support::{RpcClient, ServerProcess, ServerSpec, SseClient};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

#[tokio::test]
async fn sigterm_lets_the_inflight_call_finish_then_exits_zero() {
    let mut server =
        ServerProcess::start(&ServerSpec::http(BIN).env("MCP_SHUTDOWN_GRACE", "30s")).await;
    let url = format!("{}/mcp", server.base());
    let mut client = RpcClient::new(&url, Some(token("alice", &["example:read"])));
    assert_eq!(client.initialize().await.status, 200);
    let call = tokio::spawn(async move {
        client
            .call(
                "slow_echo",
                json!({"message": "still here", "millis": 1500}),
            )
            .await
    });
    server
        .wait_metric("mcp_inflight_tool_calls", |v| v >= 1.0)
        .await;
    server.terminate();
    // The listener stops accepting at once (design: stop accepting, then drain), so new
    // connections are refused while the in-flight call is still allowed to finish.
    let mut refused = false;
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", server.base()))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let result = call.await.expect("join");
    assert_eq!(
        result["result"]["structuredContent"]["message"], "still here",
        "{result}"
    );
    assert_eq!(
        server.wait_exit(Duration::from_secs(20)).await,
        Some(0),
        "logs:\n{}",
        server.logs().join("\n")
    );
    assert!(refused, "the listener kept accepting after SIGTERM");
    let logs = server.logs().join("\n");
    assert!(
        logs.contains("SIGTERM received") && logs.contains("draining in-flight calls"),
        "{logs}"
    );
}

#[tokio::test]
async fn sigterm_drains_a_legacy_sse_call_too() {
    let mut server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let mut client = SseClient::connect(&server.base(), Some(&token("alice", &["example:read"])))
        .await
        .expect("open");
    client.initialize().await;
    let call = tokio::spawn(async move {
        client
            .call("slow_echo", json!({"message": "sse", "millis": 1000}))
            .await
    });
    server
        .wait_metric("mcp_inflight_tool_calls", |v| v >= 1.0)
        .await;
    server.terminate();
    let result = call.await.expect("join");
    assert_eq!(
        result["result"]["structuredContent"]["message"], "sse",
        "{result}"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(20)).await, Some(0));
}

#[tokio::test]
async fn readyz_follows_the_upstream_while_healthz_stays_up() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let server = ServerProcess::start_unready(
        &ServerSpec::http(BIN).env("EXAMPLE_UPSTREAM_URL", format!("http://127.0.0.1:{port}")),
    )
    .await;
    let healthz = reqwest::get(format!("{}/healthz", server.base()))
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let readyz = reqwest::get(format!("{}/readyz", server.base()))
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503);
    // The probe's error names the upstream's address: it stays in the log, off the wire.
    let body = readyz.text().await.expect("body");
    assert_eq!(body, "upstream not reachable (details in the server log)");
    assert!(!body.contains(&port.to_string()), "{body}");
    server
        .wait_for_log("readiness probe failed: upstream not reachable")
        .await;
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("cannot connect to example-upstream")),
        "the details are logged"
    );
}

/// An upstream that accepts connections and never answers: /readyz still answers, 503, within
/// its own probe deadline (4 s), although the upstream's timeout is 30 s; /healthz is unaffected.
#[tokio::test]
async fn readyz_answers_when_the_upstream_is_silent() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let server = ServerProcess::start_unready(
        &ServerSpec::http(BIN)
            .env("EXAMPLE_UPSTREAM_URL", format!("http://127.0.0.1:{port}"))
            .env("EXAMPLE_TIMEOUT", "30s"),
    )
    .await;
    // Far below the upstream's 60 s call deadline, above /readyz's own 4 s.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let readyz = client
        .get(format!("{}/readyz", server.base()))
        .send()
        .await
        .expect("/readyz must answer before the client gives up");
    assert_eq!(readyz.status(), 503);
    let body = readyz.text().await.expect("body");
    assert_eq!(
        body, "upstream not reachable (details in the server log)",
        "{body}"
    );
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("the upstream did not answer within 4 s")),
        "the reason is logged"
    );
    let healthz = client
        .get(format!("{}/healthz", server.base()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    drop(silent);
}

#[tokio::test]
async fn check_subcommand_exit_codes() {
    use test_support::cli::{check_fails, check_ok};
    assert_eq!(
        check_ok(BIN, &[]).await,
        "mcp-example: ok: no upstream configured"
    );
    let err = check_fails(
        BIN,
        &[("EXAMPLE_UPSTREAM_URL", "http://127.0.0.1:1")],
        "upstream check failed",
    )
    .await;
    assert!(
        err.lines()
            .last()
            .unwrap_or_default()
            .contains("upstream check failed"),
        "one last line says why: {err}"
    );
    check_fails(
        BIN,
        &[("EXAMPLE_UPSTREAM_URL", "http://upstream.example.com")],
        "EXAMPLE_UPSTREAM_URL: plain http is allowed only for loopback",
    )
    .await;
}

#[tokio::test]
async fn tools_subcommand_prints_the_inventory() {
    let out = tokio::process::Command::new(BIN)
        .args(["tools", "--json"])
        .env_clear()
        .output()
        .await
        .expect("run");
    assert!(out.status.success());
    let tools: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let set = tools
        .iter()
        .find(|t| t["name"] == "set_item")
        .expect("set_item");
    assert_eq!(set["scope"], "example:write");
    assert_eq!(set["toolset"], "items");
    assert_eq!(set["annotations"]["readOnlyHint"], false);
    assert_eq!(
        set["inputSchema"]["properties"]["store_credential"]["writeOnly"],
        true
    );
    let out = tokio::process::Command::new(BIN)
        .arg("tools")
        .env_clear()
        .output()
        .await
        .expect("run");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().any(|l| l.starts_with("set_item")
            && l.contains("example:write")
            && l.contains("write, idempotent")),
        "{table}"
    );
}

#[tokio::test]
async fn read_only_and_toolsets_filter_whatever_the_token_says() {
    let server = ServerProcess::start(
        &ServerSpec::http(BIN)
            .env("MCP_READ_ONLY", "true")
            .env("MCP_TOOLSETS", "items"),
    )
    .await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("admin", &["example:write"])),
    );
    c.initialize().await;
    let mut names = c.tool_names().await;
    names.sort();
    assert_eq!(names, vec!["get_item", "slow_echo"]);
    let r = c.call("set_item", json!({"key": "k", "value": "v"})).await;
    assert_eq!(r["error"]["message"], "tool `set_item` not found");

    let out = tokio::process::Command::new(BIN)
        .args([
            "serve",
            "--transport",
            "http",
            "--bind",
            "127.0.0.1:0",
            "--toolsets",
            "items,nope",
        ])
        .env_clear()
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("MCP_TOOLSETS: unknown toolset `nope`; known: conformance, items")
    );
}

#[tokio::test]
async fn request_ids_are_echoed_and_audited() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let tok = token("alice", &["example:read"]);
    let mut c = RpcClient::new(format!("{}/mcp", server.base()), Some(tok.clone()));
    c.initialize().await;
    let body = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_item","arguments":{"key":"k"}}});
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/mcp", server.base()))
        .bearer_auth(&tok)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", c.session.clone().expect("session"))
        .header("mcp-protocol-version", "2025-06-18")
        .header("x-request-id", "req-abc.123")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-request-id"], "req-abc.123");
    let _ = r.text().await;
    let line = server.wait_for_log("\"request_id\":\"req-abc.123\"").await;
    assert!(line.contains("\"tool\":\"get_item\""), "{line}");

    let r = http
        .get(format!("{}/healthz", server.base()))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .expect("send");
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(
        id.len(),
        36,
        "a generated uuid replaces an unusable id: {id}"
    );
}

#[tokio::test]
async fn metrics_count_tool_calls_by_tool_and_outcome() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("alice", &["example:read"])),
    );
    c.initialize().await;
    c.call("get_item", json!({"key": "k"})).await;
    c.call("get_item", json!({"key": "a/b"})).await;
    let ok = server
        .wait_metric(
            "mcp_tool_calls_total{tool=\"get_item\",outcome=\"ok\"}",
            |v| v >= 1.0,
        )
        .await;
    assert_eq!(ok, 1.0);
    let bad = server
        .wait_metric(
            "mcp_tool_calls_total{tool=\"get_item\",outcome=\"invalid_input\"}",
            |v| v >= 1.0,
        )
        .await;
    assert_eq!(bad, 1.0);
    let text = reqwest::get(format!("{}/metrics", server.base()))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("mcp_tool_call_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("mcp_http_requests_total{route=\"/mcp\""),
        "{text}"
    );
}

#[tokio::test]
async fn secrets_from_files_and_settings_from_a_config_file() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("jwt-secret");
    std::fs::write(&secret, format!("{TEST_SECRET}\n")).expect("write");
    let config = dir.path().join("server.env");
    std::fs::write(
        &config,
        "# defaults for this host\nMCP_READ_ONLY=true\nMCP_TRANSPORT=stdio\n",
    )
    .expect("write");
    let server = ServerProcess::start(
        &ServerSpec::http(BIN)
            .without_env("MCP_JWT_SECRET")
            .env("MCP_JWT_SECRET_FILE", secret.display().to_string())
            .arg("--config")
            .arg(&config.display().to_string()),
    )
    .await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("alice", &["example:write"])),
    );
    assert_eq!(
        c.initialize().await.status,
        200,
        "token verified with the secret read from a file"
    );
    let names = c.tool_names().await;
    assert!(
        !names.contains(&"set_item".to_string()),
        "MCP_READ_ONLY from the config file applies: {names:?}"
    );
    assert!(!server.logs().join("\n").contains(TEST_SECRET));
}

#[tokio::test]
async fn sse_sessions_are_reaped_on_disconnect_and_capped() {
    let server = ServerProcess::start(&ServerSpec::http(BIN).env("MCP_MAX_SESSIONS", "2")).await;
    let tok = token("alice", &["example:read"]);
    let series = "mcp_active_sessions{transport=\"sse\"}";
    let mut a = SseClient::connect(&server.base(), Some(&tok))
        .await
        .expect("first");
    a.initialize().await;
    let mut b = SseClient::connect(&server.base(), Some(&tok))
        .await
        .expect("second");
    b.initialize().await;
    server.wait_metric(series, |v| v == 2.0).await;
    let third = SseClient::connect(&server.base(), Some(&tok))
        .await
        .expect_err("over the cap");
    assert_eq!(third.status, 503);
    drop(a);
    drop(b);
    server.wait_metric(series, |v| v == 0.0).await;
    let mut c = SseClient::connect(&server.base(), Some(&tok))
        .await
        .expect("room again");
    c.initialize().await;
    assert!(c.tool_names().await.contains(&"get_item".to_string()));
}

#[tokio::test]
async fn stateful_http_sessions_close_on_delete() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let tok = token("alice", &["example:read"]);
    let series = "mcp_active_sessions{transport=\"streamable_http\"}";
    let mut c = RpcClient::new(format!("{}/mcp", server.base()), Some(tok.clone()));
    c.initialize().await;
    server.wait_metric(series, |v| v == 1.0).await;
    let r = reqwest::Client::new()
        .delete(format!("{}/mcp", server.base()))
        .bearer_auth(&tok)
        .header("mcp-session-id", c.session.clone().expect("session"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 204);
    server.wait_metric(series, |v| v == 0.0).await;
    let again = reqwest::Client::new()
        .delete(format!("{}/mcp", server.base()))
        .bearer_auth(&tok)
        .header("mcp-session-id", c.session.clone().expect("session"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(again.status(), 404, "an ended session is gone");
}

#[tokio::test]
async fn flag_variables_accept_files_and_boolish_values() {
    let dir = tempfile::tempdir().expect("dir");
    let ro = dir.path().join("read-only");
    std::fs::write(&ro, "yes\n").expect("write");
    let server = ServerProcess::start(
        &ServerSpec::http(BIN).env("MCP_READ_ONLY_FILE", ro.display().to_string()),
    )
    .await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("alice", &["example:write"])),
    );
    c.initialize().await;
    assert!(
        !c.tool_names().await.contains(&"set_item".to_string()),
        "MCP_READ_ONLY_FILE=yes applies"
    );
    drop(server);

    let server = ServerProcess::start(&ServerSpec::http(BIN).env("MCP_STATELESS", "1")).await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("alice", &["example:read"])),
    );
    assert_eq!(c.initialize().await.status, 200);
    assert!(c.session.is_none(), "MCP_STATELESS=1 means no session id");

    let out = tokio::process::Command::new(BIN)
        .args(["serve", "--transport", "http", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("MCP_TOOLSETS", " , ")
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MCP_TOOLSETS: is empty"));
}

#[tokio::test]
async fn stdio_server_exits_on_sigterm_while_stdin_stays_open() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut child = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("MCP_TRANSPORT", "stdio")
        .env("MCP_LOG_FORMAT", "json")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"lifecycle-test","version":"0"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .expect("write");
    let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("an initialize answer")
        .expect("read")
        .expect("a line");
    assert!(line.contains("\"serverInfo\""), "{line}");
    // stdin stays open (as a client that is shutting the server down keeps it), then SIGTERM.
    let pid = child.id().expect("pid");
    let sent = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the server exits after SIGTERM although stdin is still open")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    drop(stdin);
}
