//! The example server end to end through an rmcp client over every transport: stdio,
//! Streamable HTTP stateful and stateless, and legacy SSE.

use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};
use test_support::tokens::token;
use test_support::{ServerProcess, ServerSpec, rmcp_sse_transport};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn structured(r: &CallToolResult) -> &Value {
    r.structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("no structuredContent in {r:?}"))
}

/// List, write, read back and hit a validation error through one rmcp client session.
async fn exercise<S: rmcp::service::Service<rmcp::RoleClient>>(
    client: &rmcp::service::RunningService<rmcp::RoleClient, S>,
) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for want in ["get_item", "set_item", "slow_echo"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let set = tools
        .iter()
        .find(|t| t.name == "set_item")
        .expect("set_item");
    let ann = set.annotations.as_ref().expect("annotations");
    assert_eq!(ann.read_only_hint, Some(false));
    assert_eq!(ann.idempotent_hint, Some(true));
    assert!(set.output_schema.is_some());

    let r = client
        .call_tool(
            CallToolRequestParams::new("set_item")
                .with_arguments(args(json!({"key": "k1", "value": "v1"}))),
        )
        .await
        .expect("set_item");
    assert_eq!(r.is_error, Some(false));
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_item").with_arguments(args(json!({"key": "k1"}))),
        )
        .await
        .expect("get");
    assert_eq!(structured(&r)["value"], "v1");
    assert_eq!(structured(&r)["found"], true);

    let r = client
        .call_tool(
            CallToolRequestParams::new("get_item").with_arguments(args(json!({"key": "a/b"}))),
        )
        .await
        .expect("bad key still answers");
    assert_eq!(r.is_error, Some(true));
    let text = serde_json::to_string(&r.content).expect("json");
    assert!(text.contains("invalid argument `key`"), "{text}");

    let r = client
        .call_tool(CallToolRequestParams::new("get_item").with_arguments(args(json!({"key": 5}))))
        .await
        .expect("type error");
    assert_eq!(r.is_error, Some(true));
    assert!(
        serde_json::to_string(&r.content)
            .expect("json")
            .contains("`key`")
    );

    let r = client
        .call_tool(CallToolRequestParams::new("get_item").with_arguments(args(json!({}))))
        .await
        .expect("missing");
    assert!(
        serde_json::to_string(&r.content)
            .expect("json")
            .contains("invalid argument `key`: is required")
    );
}

#[tokio::test]
async fn stdio_with_rmcp_client() {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .env("MCP_TRANSPORT", "stdio")
        .env("MCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug");
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let client = ().serve(transport).await.expect("initialize over stdio");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("mcp-example")
    );
    exercise(&client).await;
    client.cancel().await.expect("close");
    // Logs went to stderr, as JSON lines, and include the audit events.
    let mut lines = BufReader::new(stderr.expect("stderr")).lines();
    let mut audit = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("non-JSON log line ({e}): {line}"));
        if v["target"] == "audit" && v["tool"] == "set_item" {
            assert_eq!(v["subject"], "local");
            audit += 1;
        }
    }
    assert_eq!(audit, 1, "one audit event for the one set_item call");
}

#[tokio::test]
async fn stdio_stdout_carries_only_protocol() {
    let mut child = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("MCP_TRANSPORT", "stdio")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}});
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    for m in [init, note, list] {
        stdin
            .write_all(format!("{m}\n").as_bytes())
            .await
            .expect("write");
    }
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = 0;
    while seen < 2 {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), out.next_line())
            .await
            .expect("answer in time")
            .expect("read")
            .expect("line");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON-RPC ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
        seen += 1;
    }
    drop(stdin);
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("exits on EOF")
        .expect("status");
    assert!(status.success(), "{status:?}");
}

async fn http_client(
    url: String,
    tok: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(tok.to_string()),
    );
    ().serve(transport).await.expect("initialize over HTTP")
}

#[tokio::test]
async fn streamable_http_stateful_with_rmcp_client() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let client = http_client(
        format!("{}/mcp", server.base()),
        &token("alice", &["example:write"]),
    )
    .await;
    exercise(&client).await;
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn streamable_http_stateless_with_rmcp_client() {
    let server = ServerProcess::start(&ServerSpec::http(BIN).env("MCP_STATELESS", "true")).await;
    let client = http_client(
        format!("{}/mcp", server.base()),
        &token("alice", &["example:write"]),
    )
    .await;
    exercise(&client).await;
    client.cancel().await.expect("close");
    // No sessions are kept in stateless mode.
    let r = reqwest::get(format!("{}/metrics", server.base()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        !r.lines()
            .any(|l| l.starts_with("mcp_active_sessions{transport=\"streamable_http\"} 1")),
        "{r}"
    );
}

#[tokio::test]
async fn legacy_sse_with_rmcp_client() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let tok = token("alice", &["example:write"]);
    let transport = rmcp_sse_transport(&server.base(), Some(&tok))
        .await
        .expect("open /sse");
    let client = ().serve(transport).await.expect("initialize over SSE");
    exercise(&client).await;
    client.cancel().await.expect("close");
}

/// Legacy SSE across replicas with no sticky routing (`MCP_STATE_URL`, a real redis-server):
/// the stream is held by A, messages are posted to B and C, and every answer arrives on A's
/// stream. Another subject cannot post to the session through any replica; once A is gone a
/// post through B is 404 (the client opens a new session) and no answer goes anywhere else.
#[tokio::test]
async fn legacy_sse_messages_posted_to_any_replica_reach_the_session() {
    let redis = test_support::RedisServer::start().await;
    let spec = ServerSpec::http(BIN).env("MCP_STATE_URL", redis.url());
    let a = ServerProcess::start(&spec).await;
    let b = ServerProcess::start(&spec).await;
    let c = ServerProcess::start(&spec).await;
    let alice = token("alice", &["example:write"]);
    let mut sse = test_support::SseClient::connect(&a.base(), Some(&alice))
        .await
        .expect("SSE opens on A");
    sse.post_via(&b.base());
    let init = sse.initialize().await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "mcp-example",
        "{init}"
    );
    sse.post_via(&c.base());
    assert!(sse.tool_names().await.contains(&"get_item".to_string()));
    for (i, base) in [a.base(), b.base(), c.base()].iter().enumerate() {
        sse.post_via(base);
        let r = sse
            .call("set_item", json!({"key": format!("k{i}"), "value": "v"}))
            .await;
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    // The session lives on A: everything set above is in A's store, asked through C.
    sse.post_via(&c.base());
    for i in 0..3 {
        let r = sse.call("get_item", json!({"key": format!("k{i}")})).await;
        assert_eq!(r["result"]["structuredContent"]["found"], true, "{r}");
    }
    let relayed = b.metric("mcp_sse_relayed_total").await.unwrap_or(0.0)
        + c.metric("mcp_sse_relayed_total").await.unwrap_or(0.0);
    assert!(relayed >= 8.0, "posts to B and C were relayed: {relayed}");

    // Bob cannot post into alice's session, through the holder or through another replica.
    let bob = token("bob", &["example:write"]);
    let ping = json!({"jsonrpc": "2.0", "id": 99, "method": "ping"});
    for base in [a.base(), b.base()] {
        sse.post_via(&base);
        assert_eq!(sse.post_as(&ping, Some(&bob)).await, 404, "{base}");
    }

    // A dies (SIGKILL): the session is gone; a post through B says so.
    drop(a);
    sse.post_via(&b.base());
    let mut status = 0;
    for _ in 0..50 {
        status = sse.post(&ping).await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 404, "a session whose replica is gone is not found");
}

/// Stateful Streamable HTTP across replicas with no sticky routing (`MCP_STATE_URL`, a real
/// redis-server): the session is opened on A, and requests naming it through B and C are run
/// by A (the items live in A's memory). The standalone GET stream works through another
/// replica too. Another subject gets 404 through any replica; a session deleted through C is
/// gone everywhere; once A is gone a request through B is 404 (the client opens a new one).
#[tokio::test]
async fn stateful_sessions_answer_through_any_replica() {
    let redis = test_support::RedisServer::start().await;
    let spec = ServerSpec::http(BIN).env("MCP_STATE_URL", redis.url());
    let a = ServerProcess::start(&spec).await;
    let b = ServerProcess::start(&spec).await;
    let c = ServerProcess::start(&spec).await;
    let alice = token("alice", &["example:write"]);
    let mut client =
        test_support::rpc::RpcClient::new(format!("{}/mcp", a.base()), Some(alice.clone()));
    let init = client.initialize().await;
    assert_eq!(init.status, 200, "{}", init.raw);
    let session = client.session.clone().expect("a stateful session");

    for (i, base) in [a.base(), b.base(), c.base()].iter().enumerate() {
        client.url = format!("{base}/mcp");
        let r = client
            .request(
                "tools/call",
                json!({"name": "set_item", "arguments": {"key": format!("k{i}"), "value": "v"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{base}: {}", r.raw);
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/event-stream"),
            "{base}"
        );
        let body = r.body.expect("a JSON-RPC answer");
        assert_eq!(body["result"]["isError"], false, "{body}");
    }
    client.url = format!("{}/mcp", c.base());
    for i in 0..3 {
        let r = client
            .request(
                "tools/call",
                json!({"name": "get_item", "arguments": {"key": format!("k{i}")}}),
            )
            .await;
        let body = r.body.expect("a JSON-RPC answer");
        assert_eq!(
            body["result"]["structuredContent"]["found"], true,
            "k{i} is in A's memory: {body}"
        );
    }
    client.url = format!("{}/mcp", b.base());
    let listed = client
        .request("tools/list", json!({}))
        .await
        .body
        .expect("tools");
    assert!(
        listed["result"]["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "get_item")),
        "{listed}"
    );
    let relayed = b.metric("mcp_session_relayed_total").await.unwrap_or(0.0)
        + c.metric("mcp_session_relayed_total").await.unwrap_or(0.0);
    assert!(
        relayed >= 6.0,
        "requests through B and C were relayed to A: {relayed}"
    );
    assert_eq!(
        a.metric("mcp_session_relayed_total").await.unwrap_or(0.0),
        0.0
    );

    // The standalone server-to-client stream, opened through C.
    let get = reqwest::Client::new()
        .get(format!("{}/mcp", c.base()))
        .bearer_auth(&alice)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("GET /mcp through C");
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    drop(get);

    // Bob cannot use alice's session, through the holder or through another replica.
    let mut bob = test_support::rpc::RpcClient::new(
        format!("{}/mcp", b.base()),
        Some(token("bob", &["example:write"])),
    );
    bob.session = Some(session.clone());
    for base in [a.base(), b.base(), c.base()] {
        bob.url = format!("{base}/mcp");
        assert_eq!(bob.request("ping", json!({})).await.status, 404, "{base}");
    }

    // Deleted through C: gone on every replica.
    let del = reqwest::Client::new()
        .delete(format!("{}/mcp", c.base()))
        .bearer_auth(&alice)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("DELETE through C");
    assert_eq!(del.status(), 204);
    for base in [a.base(), b.base()] {
        client.url = format!("{base}/mcp");
        assert_eq!(
            client.request("ping", json!({})).await.status,
            404,
            "{base}"
        );
    }

    // A new session on A, then A dies (SIGKILL): a request through B says the session is gone.
    client.url = format!("{}/mcp", a.base());
    client.session = None;
    assert_eq!(client.initialize().await.status, 200);
    client.url = format!("{}/mcp", b.base());
    assert_eq!(
        client.request("ping", json!({})).await.status,
        200,
        "relayed while A lives"
    );
    drop(a);
    let mut status = 0;
    for _ in 0..50 {
        status = client.request("ping", json!({})).await.status;
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 404, "a session whose replica is gone is not found");
}
