//! A raw JSON-RPC client for Streamable HTTP, for protocol-level assertions.

use serde_json::{Value, json};

/// One MCP client over Streamable HTTP, speaking raw JSON-RPC.
#[derive(Debug, Clone)]
pub struct RpcClient {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
    pub session: Option<String>,
    next_id: u64,
}

/// A response: HTTP status, headers, and the JSON-RPC message (from JSON or from SSE).
#[derive(Debug)]
pub struct RpcResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Option<Value>,
    pub raw: String,
}

impl RpcClient {
    pub fn new(url: impl Into<String>, token: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
            token,
            session: None,
            next_id: 1,
        }
    }

    /// POST a raw body with the usual MCP headers (panics on a transport error).
    pub async fn post_raw(&self, body: String) -> RpcResponse {
        match self.try_post_raw(body).await {
            Ok(r) => r,
            Err(e) => panic!("POST {}: {e}", self.url),
        }
    }

    /// POST a raw body; a transport error is returned, not a panic.
    pub async fn try_post_raw(&self, body: String) -> Result<RpcResponse, reqwest::Error> {
        let mut rb = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(s) = &self.session {
            rb = rb
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp.text().await?;
        let body = parse_body(&raw);
        Ok(RpcResponse {
            status,
            headers,
            body,
            raw,
        })
    }

    /// A tools/call that reports failure instead of panicking: Ok(true) for a result that is
    /// not an error, Ok(false) for an error result or a JSON-RPC error.
    pub async fn try_call(&mut self, name: &str, args: Value) -> Result<bool, String> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": args}});
        let r = self
            .try_post_raw(body.to_string())
            .await
            .map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("HTTP {}", r.status));
        }
        let v = r.body.ok_or("no JSON-RPC response")?;
        Ok(v.get("result")
            .is_some_and(|res| res["isError"] != json!(true)))
    }

    /// Send a request and return the response.
    pub async fn request(&mut self, method: &str, params: Value) -> RpcResponse {
        let id = self.next_id;
        self.next_id += 1;
        self.post_raw(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        )
        .await
    }

    /// initialize + notifications/initialized. Stores the session id if any.
    pub async fn initialize(&mut self) -> RpcResponse {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "secops-tests", "version": "0"}}),
            )
            .await;
        if let Some(s) = r
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            self.session = Some(s.to_string());
        }
        if r.status == 200 {
            let _ = self
                .post_raw(
                    json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
                )
                .await;
        }
        r
    }

    /// tools/list → the tool names.
    pub async fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({})).await;
        let body = r
            .body
            .unwrap_or_else(|| panic!("tools/list: status {} body {}", r.status, r.raw));
        body["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list has no tools: {body}"))
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect()
    }

    /// resources/read → the JSON of its one `application/json` content; panics with the
    /// response when it is an error, another MIME type or not JSON.
    pub async fn read_resource_json(&mut self, uri: &str) -> Value {
        let r = self.request("resources/read", json!({"uri": uri})).await;
        let content = r
            .body
            .as_ref()
            .map(|b| b["result"]["contents"][0].clone())
            .filter(|c| c["text"].is_string())
            .unwrap_or_else(|| panic!("resources/read {uri}: status {} body {}", r.status, r.raw));
        assert_eq!(content["mimeType"], "application/json", "{uri}: {content}");
        serde_json::from_str(content["text"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("resources/read {uri}: not JSON ({e}): {content}"))
    }

    /// tools/call → the whole JSON-RPC message.
    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        let r = self
            .request("tools/call", json!({"name": name, "arguments": args}))
            .await;
        r.body
            .unwrap_or_else(|| panic!("tools/call {name}: status {} body {}", r.status, r.raw))
    }
}

/// Call a tool that must succeed; return its `structuredContent`, or panic with the response.
pub async fn call_ok(c: &mut RpcClient, tool: &str, args: Value) -> Value {
    let r = c.call(tool, args.clone()).await;
    assert_eq!(r["result"]["isError"], false, "{tool}({args}) failed: {r}");
    r["result"]["structuredContent"].clone()
}

/// Call a tool that must fail with a tool error (`isError: true`); return its error text.
pub async fn call_err(c: &mut RpcClient, tool: &str, args: Value) -> String {
    let r = c.call(tool, args.clone()).await;
    assert_eq!(
        r["result"]["isError"], true,
        "{tool}({args}) should fail: {r}"
    );
    r["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A JSON body, or the last `data:` JSON of an SSE body.
fn parse_body(raw: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return Some(v);
    }
    raw.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .rfind(|v| v.get("id").is_some())
}
