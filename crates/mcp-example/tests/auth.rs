//! Auth and scope policy over Streamable HTTP and legacy SSE, against the real binary.

use serde_json::{Value, json};
use test_support::tokens::{TEST_ISSUER, bad_tokens, token};
use test_support::{RpcClient, ServerProcess, ServerSpec, SseClient};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

#[tokio::test]
async fn every_bad_token_gets_401_on_http_and_sse() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let base = server.base();
    let meta = format!("resource_metadata=\"{base}/.well-known/oauth-protected-resource\"");
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});

    let mut cases: Vec<(&str, Option<String>)> = vec![("missing", None)];
    cases.extend(
        bad_tokens(&["example:write"])
            .into_iter()
            .map(|(n, t)| (n, Some(t))),
    );
    for (name, tok) in &cases {
        let with_auth = |rb: reqwest::RequestBuilder| match tok {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let r = with_auth(
            http.post(format!("{base}/mcp"))
                .header("accept", "application/json, text/event-stream")
                .json(&init),
        )
        .send()
        .await
        .expect("POST /mcp");
        assert_eq!(r.status(), 401, "{name}: /mcp");
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(&meta),
            "{name}: {challenge}"
        );
        assert_eq!(
            challenge.contains("error=\"invalid_token\""),
            tok.is_some(),
            "{name}: {challenge}"
        );

        let r = with_auth(http.get(format!("{base}/sse")))
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(r.status(), 401, "{name}: /sse");
        let r = with_auth(
            http.post(format!("{base}/messages/?session_id=abc"))
                .json(&init),
        )
        .send()
        .await
        .expect("POST /messages/");
        assert_eq!(r.status(), 401, "{name}: /messages/");
    }
    // Health, readiness and metadata stay reachable without a token.
    for path in [
        "/healthz",
        "/readyz",
        "/.well-known/oauth-protected-resource",
    ] {
        assert_eq!(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .expect("GET")
                .status(),
            200,
            "{path}"
        );
    }
    let logs = server.logs().join("\n");
    for (_, tok) in bad_tokens(&["example:write"]) {
        assert!(!logs.contains(&tok), "a refused token reached the logs");
    }
    assert!(logs.contains("request refused: 401"));
}

/// The JSON-RPC error for a call, as (code, message).
fn rpc_error(v: &Value) -> (i64, String) {
    (
        v["error"]["code"].as_i64().unwrap_or(0),
        v["error"]["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn scopes_shape_the_tool_list_and_calls_over_http() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let url = format!("{}/mcp", server.base());

    let read_tok = token("reader", &["example:read"]);
    let mut reader = RpcClient::new(&url, Some(read_tok.clone()));
    assert_eq!(reader.initialize().await.status, 200);
    let names = reader.tool_names().await;
    assert!(
        names.contains(&"get_item".to_string()) && !names.contains(&"set_item".to_string()),
        "{names:?}"
    );
    let denied = reader
        .call("set_item", json!({"key": "k", "value": "v"}))
        .await;
    let unknown = reader.call("no_such_tool", json!({})).await;
    let (code, msg) = rpc_error(&denied);
    assert_eq!(code, -32602, "{denied}");
    assert_eq!(msg, "tool `set_item` not found");
    assert_eq!(
        rpc_error(&unknown),
        (-32602, "tool `no_such_tool` not found".to_string()),
        "refusal looks like an unknown tool"
    );

    let write_tok = token("writer", &["example:write"]);
    let mut writer = RpcClient::new(&url, Some(write_tok.clone()));
    assert_eq!(writer.initialize().await.status, 200);
    let names = writer.tool_names().await;
    assert!(
        names.contains(&"get_item".to_string()) && names.contains(&"set_item".to_string()),
        "{names:?}"
    );
    let r = writer
        .call(
            "set_item",
            json!({"key": "k", "value": "v", "store_credential": "hunter2-credential"}),
        )
        .await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    assert_eq!(
        reader.call("get_item", json!({"key": "k"})).await["result"]["structuredContent"]["value"],
        "v"
    );

    let other = RpcClient::new(&url, Some(token("x", &["ngfw:read"])));
    let mut other = other;
    other.initialize().await;
    assert!(
        other.tool_names().await.is_empty(),
        "a token for another server sees nothing"
    );

    // Audit events name the subject; secrets never reach the logs.
    let audit = server.wait_for_log("\"subject\":\"writer\"").await;
    let v: Value = serde_json::from_str(&audit).expect("json log");
    assert_eq!(v["tool"], "set_item");
    assert_eq!(v["target"], "audit");
    assert_eq!(v["outcome"], "ok");
    assert_eq!(
        v["arguments"].as_str().map(|a| a.contains("[REDACTED]")),
        Some(true),
        "{v}"
    );
    assert!(v["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    let logs = server.logs().join("\n");
    assert!(logs.contains("denied_scope"), "the refusal is logged");
    for secret in [read_tok.as_str(), write_tok.as_str(), "hunter2-credential"] {
        assert!(!logs.contains(secret), "secret {secret} leaked into logs");
    }
}

#[tokio::test]
async fn scopes_and_ownership_over_legacy_sse() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let base = server.base();
    let mut reader = SseClient::connect(&base, Some(&token("reader", &["example:read"])))
        .await
        .expect("open");
    reader.initialize().await;
    let names = reader.tool_names().await;
    assert!(
        names.contains(&"get_item".to_string()) && !names.contains(&"set_item".to_string()),
        "{names:?}"
    );
    let denied = reader
        .call("set_item", json!({"key": "k", "value": "v"}))
        .await;
    assert_eq!(
        rpc_error(&denied),
        (-32602, "tool `set_item` not found".to_string()),
        "{denied}"
    );

    let mut writer = SseClient::connect(&base, Some(&token("writer", &["example:write"])))
        .await
        .expect("open");
    writer.initialize().await;
    assert!(writer.tool_names().await.contains(&"set_item".to_string()));

    // Another subject cannot post into reader's session; nor can an anonymous caller.
    let msg = json!({"jsonrpc":"2.0","id":99,"method":"tools/list","params":{}});
    assert_eq!(
        reader
            .post_as(&msg, Some(&token("mallory", &["example:write"])))
            .await,
        404
    );
    assert_eq!(reader.post_as(&msg, None).await, 401);
    assert_eq!(reader.post(&msg).await, 202);
}

#[tokio::test]
async fn protected_resource_metadata() {
    let server = ServerProcess::start(
        &ServerSpec::http(BIN).env("MCP_PUBLIC_URL", "https://mcp.test.invalid"),
    )
    .await;
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource",
        server.base()
    ))
    .await
    .expect("GET")
    .json()
    .await
    .expect("json");
    assert_eq!(doc["resource"], "https://mcp.test.invalid");
    assert_eq!(doc["authorization_servers"], json!([TEST_ISSUER]));
    let scopes = doc["scopes_supported"].as_array().expect("scopes");
    assert!(
        scopes.contains(&json!("example:read")) && scopes.contains(&json!("example:write")),
        "{doc}"
    );
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base()
    ))
    .await
    .expect("GET")
    .json()
    .await
    .expect("json");
    assert_eq!(doc["resource"], "https://mcp.test.invalid/mcp");
}

#[tokio::test]
async fn host_and_origin_are_checked() {
    let server = ServerProcess::start(
        &ServerSpec::http(BIN).env("MCP_PUBLIC_URL", "https://mcp.test.invalid"),
    )
    .await;
    let tok = token("alice", &["example:read"]);
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let send = |host: &'static str, origin: Option<&'static str>, path: &'static str| {
        let mut rb = http
            .post(format!("{}{path}", server.base()))
            .bearer_auth(&tok)
            .header("host", host)
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb.send()
    };
    assert_eq!(
        send("evil.example.com", None, "/mcp")
            .await
            .expect("send")
            .status(),
        403
    );
    assert_eq!(
        send("evil.example.com", None, "/messages/?session_id=x")
            .await
            .expect("send")
            .status(),
        403
    );
    assert_eq!(
        send("mcp.test.invalid", Some("https://evil.example.com"), "/mcp")
            .await
            .expect("send")
            .status(),
        403
    );
    assert_eq!(
        send("mcp.test.invalid", None, "/mcp")
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(
        send("mcp.test.invalid", Some("https://mcp.test.invalid"), "/mcp")
            .await
            .expect("send")
            .status(),
        200
    );
}

#[tokio::test]
async fn non_loopback_bind_requires_auth_or_explicit_none() {
    let out = tokio::process::Command::new(BIN)
        .args(["serve", "--transport", "http", "--bind", "0.0.0.0:0"])
        .env_clear()
        .env("MCP_LOG_FORMAT", "json")
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("refusing to serve on 0.0.0.0:0 without authentication")
            && last.contains("MCP_AUTH=none"),
        "{stderr}"
    );

    let server = ServerProcess::start(
        &ServerSpec::http(BIN)
            .without_env("MCP_JWT_SECRET")
            .env("MCP_AUTH", "none")
            .env("MCP_BIND", "0.0.0.0:0"),
    )
    .await;
    assert!(server.logs().join("\n").contains("AUTHENTICATION IS OFF"));
    let port = server.addr.port();
    let mut c = RpcClient::new(format!("http://127.0.0.1:{port}/mcp"), None);
    assert_eq!(c.initialize().await.status, 200);
    assert!(c.tool_names().await.contains(&"set_item".to_string()));
}

#[tokio::test]
async fn token_subcommand_mints_a_token_the_server_accepts() {
    let spec = ServerSpec::http(BIN);
    let out = tokio::process::Command::new(BIN)
        .args([
            "token",
            "--sub",
            "ci-bot",
            "--scope",
            "example:read",
            "--ttl",
            "5m",
        ])
        .env_clear()
        .envs(spec.env.iter().filter(|(k, _)| k.starts_with("MCP_JWT")))
        .output()
        .await
        .expect("token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tok = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    assert_eq!(tok.split('.').count(), 3);

    let server = ServerProcess::start(&spec).await;
    let mut c = RpcClient::new(format!("{}/mcp", server.base()), Some(tok));
    assert_eq!(c.initialize().await.status, 200);
    let names = c.tool_names().await;
    assert!(names.contains(&"get_item".to_string()) && !names.contains(&"set_item".to_string()));

    let out = tokio::process::Command::new(BIN)
        .args(["token", "--sub", "x", "--scope", "a:read"])
        .env_clear()
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MCP_JWT_SECRET"));
}

#[tokio::test]
async fn stateful_sessions_belong_to_their_subject() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let url = format!("{}/mcp", server.base());
    let mut alice = RpcClient::new(&url, Some(token("alice", &["example:read"])));
    assert_eq!(alice.initialize().await.status, 200);
    let mut mallory = RpcClient::new(&url, Some(token("mallory", &["example:write"])));
    mallory.session = alice.session.clone();
    let r = mallory.request("tools/list", json!({})).await;
    assert_eq!(
        r.status, 404,
        "another subject cannot use alice's session: {}",
        r.raw
    );
    let del = reqwest::Client::new()
        .delete(&url)
        .bearer_auth(token("mallory", &["example:write"]))
        .header("mcp-session-id", alice.session.clone().expect("session"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(del.status(), 404, "nor end it");
    assert!(
        alice.tool_names().await.contains(&"get_item".to_string()),
        "alice's session still works"
    );
}

#[tokio::test]
async fn auth_settings_that_cannot_work_are_refused() {
    let run = |env: Vec<(&'static str, &'static str)>, args: Vec<&'static str>| async move {
        tokio::process::Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(env)
            .output()
            .await
            .expect("run")
    };
    let out = run(
        vec![("MCP_AUTH", "jwt")],
        vec!["serve", "--transport", "http", "--bind", "127.0.0.1:0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MCP_AUTH=jwt but no verifier is configured")
    );
    let out = run(vec![("MCP_JWT_SECRET", "short")], vec!["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MCP_JWT_SECRET: must be at least 32 bytes")
    );
    let out = run(
        vec![("MCP_TRANSPORT", "http"), ("MCP_BIND", "0.0.0.0:8080")],
        vec!["check"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "check makes the same refusal as serve"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("refusing to serve on 0.0.0.0:8080 without authentication")
    );
}

#[tokio::test]
async fn no_oauth_metadata_without_auth() {
    let server = ServerProcess::start(&ServerSpec::http(BIN).without_env("MCP_JWT_SECRET")).await;
    let r = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource",
        server.base()
    ))
    .await
    .expect("GET");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn only_the_mcp_endpoints_need_a_token_and_unknown_paths_are_404() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let http = reqwest::Client::new();
    // What an OAuth client probes for when it meets a 401: not an auth failure, just absent.
    for path in ["/register", "/token", "/authorize", "/nonexistent", "/mcpx"] {
        let r = http
            .post(format!("{}{path}", server.base()))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 404, "{path}");
    }
    // The MCP endpoints still refuse a caller without a token, and say so.
    for (method, path) in [("POST", "/mcp"), ("GET", "/sse"), ("POST", "/messages/")] {
        let r = http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", server.base()),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401, "{method} {path}");
        assert_eq!(
            r.headers().get("connection").and_then(|v| v.to_str().ok()),
            Some("close"),
            "a refusal sent before the body was read ends the connection explicitly"
        );
    }
    let metrics = http
        .get(format!("{}/metrics", server.base()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let failures: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("mcp_auth_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        failures, 3.0,
        "only the three MCP requests count as auth failures"
    );
}

/// A JWKS URL that does not answer at startup: the server listens anyway, `/readyz` says
/// `waiting for: jwks`, ES256 tokens get 503 with `Retry-After` (not 401: the token may be
/// fine), HS256 tokens keep working; once the URL answers, the server fetches the keys on its
/// own (backoff from 1 s), turns ready and accepts the ES256 token. `check` fails meanwhile.
#[tokio::test]
async fn jwks_url_down_at_startup_holds_readiness_until_it_answers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use test_support::tokens::{EcKey, claims};

    let key = EcKey::generate("k1");
    let up = Arc::new(AtomicBool::new(false));
    let fetches = Arc::new(AtomicU32::new(0));
    let doc = EcKey::jwks(&[&key]);
    let jwks_app = {
        let (up, fetches) = (up.clone(), fetches.clone());
        axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (up, fetches, doc) = (up.clone(), fetches.clone(), doc.clone());
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        (axum::http::StatusCode::OK, doc)
                    } else {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new())
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, jwks_app).await });

    // `check` reports the unreachable JWKS instead of waiting for it.
    let out = tokio::process::Command::new(BIN)
        .arg("check")
        .env_clear()
        .env("MCP_JWT_JWKS_URL", &jwks_url)
        .env("MCP_JWT_AUDIENCE", test_support::tokens::TEST_AUDIENCE)
        .output()
        .await
        .expect("check");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 503"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let spec = ServerSpec::http(BIN).env("MCP_JWT_JWKS_URL", &jwks_url);
    let server = ServerProcess::start_unready(&spec).await;
    server.wait_for_log("JWKS not fetched").await;
    let http = reqwest::Client::new();
    let readyz = http
        .get(format!("{}/readyz", server.base()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503);
    assert_eq!(readyz.text().await.expect("body"), "waiting for: jwks");
    let healthz = http
        .get(format!("{}/healthz", server.base()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);

    let es256 = key.sign(&claims("alice", &["example:read"]));
    let mut c = RpcClient::new(format!("{}/mcp", server.base()), Some(es256.clone()));
    let refused = c.initialize().await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(
        refused.raw.contains("temporarily_unavailable"),
        "{}",
        refused.raw
    );
    let mut hs = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(token("bob", &["example:read"])),
    );
    assert_eq!(
        hs.initialize().await.status,
        200,
        "HS256 does not wait for the JWKS"
    );

    let before = fetches.load(Ordering::SeqCst);
    assert!(before >= 2, "check and serve each fetched once: {before}");
    up.store(true, Ordering::SeqCst);
    // Bounded poll: the retry backoff is 1 s, 2 s, 4 s … (jittered), capped at 30 s.
    let mut ready = false;
    for _ in 0..600 {
        let r = http
            .get(format!("{}/readyz", server.base()))
            .send()
            .await
            .expect("readyz");
        if r.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "never ready; logs:\n{}", server.logs().join("\n"));
    server.wait_for_log("JWKS fetched").await;
    assert!(fetches.load(Ordering::SeqCst) > before);
    let mut c = RpcClient::new(format!("{}/mcp", server.base()), Some(es256));
    assert_eq!(c.initialize().await.status, 200);
    assert!(c.tool_names().await.contains(&"get_item".to_string()));
}

/// A loopback bind is not private when a proxy forwards to it: a public URL, a non-loopback
/// `Host` the server accepts, or trusted forwarding headers all mean callers come from beyond
/// this host. Without a verifier each of these is refused (by `serve` and by `check`) unless
/// `MCP_AUTH=none` says so explicitly; loopback-only settings still start.
#[tokio::test]
async fn a_proxied_loopback_server_without_a_verifier_is_refused() {
    let run = |cmd: &'static str, env: Vec<(&'static str, &'static str)>| async move {
        let mut all = vec![("MCP_TRANSPORT", "http"), ("MCP_BIND", "127.0.0.1:0")];
        all.extend(env);
        // A refusal exits at once; `serve` would otherwise run until cli::run gives up.
        test_support::cli::run(BIN, &[cmd], &all).await
    };
    for (var, val) in [
        ("MCP_PUBLIC_URL", "https://mcp.example.com"),
        ("MCP_ALLOWED_HOSTS", "localhost,mcp.example.com"),
        ("MCP_ALLOWED_HOSTS", "*"),
        ("MCP_TRUSTED_PROXIES", "10.0.0.0/8"),
    ] {
        for cmd in ["serve", "check"] {
            let out = run(cmd, vec![(var, val)]).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {var}={val}: {stderr}");
            let last = stderr.lines().last().unwrap_or_default();
            assert!(
                last.contains("refusing to serve without authentication")
                    && last.contains(var)
                    && last.contains("MCP_AUTH=none"),
                "{cmd} {var}={val}: {stderr}"
            );
        }
        // Explicitly off, it starts (and `check` passes).
        let out = run("check", vec![(var, val), ("MCP_AUTH", "none")]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{var}={val} with MCP_AUTH=none: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for loopback in ["localhost", "127.0.0.1:8080", "[::1]:8080,localhost:9"] {
        let out = run("check", vec![("MCP_ALLOWED_HOSTS", loopback)]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{loopback}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// With keys from a JWKS, `MCP_JWT_AUDIENCE` is required: `serve` and `check` refuse to start
/// without it, naming the variable.
#[tokio::test]
async fn a_jwks_verifier_needs_an_audience() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jwks.json");
    let key = test_support::tokens::EcKey::generate("k1");
    std::fs::write(&path, test_support::tokens::EcKey::jwks(&[&key])).expect("write");
    let jwks = path.display().to_string();
    for cmd in ["serve", "check"] {
        let stderr = test_support::cli::exits_with(
            BIN,
            &[cmd],
            &[
                ("MCP_TRANSPORT", "http"),
                ("MCP_BIND", "127.0.0.1:0"),
                ("MCP_JWT_JWKS_FILE", &jwks),
            ],
            1,
        )
        .await;
        assert!(stderr.contains("MCP_JWT_AUDIENCE is required"), "{stderr}");
    }
    test_support::cli::check_ok(
        BIN,
        &[
            ("MCP_JWT_JWKS_FILE", &jwks),
            ("MCP_JWT_AUDIENCE", "secops-mcp-example"),
        ],
    )
    .await;
}

/// A write scope implies read only when this server declares it: `example:write` lists the
/// read tools, an invented `example:anything` or a sibling's `example:approve` lists nothing.
#[tokio::test]
async fn only_declared_scopes_imply_read() {
    let server = ServerProcess::start(&ServerSpec::http(BIN)).await;
    let url = format!("{}/mcp", server.base());
    let listed = |scopes: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut c = RpcClient::new(&url, Some(token("alice", scopes)));
            assert_eq!(c.initialize().await.status, 200);
            c.tool_names().await
        }
    };
    let w = listed(&["example:write"]).await;
    assert!(w.contains(&"get_item".to_string()) && w.contains(&"set_item".to_string()));
    for invented in [&["example:anything"][..], &["example:approve"][..]] {
        let names = listed(invented).await;
        assert!(
            !names.contains(&"get_item".to_string()),
            "{invented:?} must not imply example:read: {names:?}"
        );
    }
    let mut c = RpcClient::new(&url, Some(token("eve", &["example:anything"])));
    assert_eq!(c.initialize().await.status, 200);
    let r = c
        .request(
            "tools/call",
            json!({"name": "get_item", "arguments": {"key": "a"}}),
        )
        .await;
    assert!(
        r.raw.contains("not found"),
        "an undeclared scope cannot call a read tool: {}",
        r.raw
    );
}
