//! Reading a JSON-RPC message from an HTTP request body, with the errors JSON-RPC 2.0 and
//! the MCP transport specify: 413 over the body limit, 400 with -32700 for a body that is
//! not JSON, 400 with -32600 for JSON that is not one JSON-RPC message (batches included).
//!
//! rmcp's Streamable HTTP service answers all of these with a plain-text 415 (and a chunked
//! body over the limit with a 500), so `/mcp` goes through [`check_mcp_body`] first; the
//! legacy `/messages/` endpoint uses [`read_message`] directly.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// A JSON-RPC error response with a null or echoed id.
fn rpc_error(status: StatusCode, id: Value, code: i64, message: String) -> Box<Response> {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    Box::new((status, axum::Json(body)).into_response())
}

/// Reads the whole body; 413 when it is over the limit (the body-limit layer makes the body
/// fail part-way when there is no `Content-Length`).
pub(crate) async fn read_body(body: Body) -> Result<Bytes, Box<Response>> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| -> Box<Response> {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |err| {
                    err.source()
                })
                .any(|err| err.is::<http_body_util::LengthLimitError>());
            let timed_out =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |err| {
                    err.source()
                })
                .any(|err| err.is::<tower_http::timeout::TimeoutError>());
            if timed_out {
                metrics::counter!("mcp_connections_timed_out_total").increment(1);
                tracing::info!("request refused: body not received within MCP_HTTP_REQUEST_TIMEOUT");
                let mut resp = (
                    StatusCode::REQUEST_TIMEOUT,
                    axum::Json(json!({"error": "request body not received in time (MCP_HTTP_REQUEST_TIMEOUT)"})),
                )
                    .into_response();
                super::guard::close_connection(&mut resp);
                return Box::new(resp);
            }
            Box::new(if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    axum::Json(json!({"error": "request body too large (MCP_MAX_BODY_BYTES)"})),
                )
                    .into_response()
            } else {
                tracing::debug!(error = %e, "could not read the request body");
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "could not read the request body"})),
                )
                    .into_response()
            })
        })
}

/// Numbers beyond what an `f64` holds (`1e400`, a 400-digit integer) are valid JSON that
/// serde_json refuses as a whole document. Quoting them turns them into strings, so the
/// argument they were given for is refused by the tool's own schema check, which names the
/// field, instead of the whole request failing to parse. `None` when there is none.
fn quote_huge_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            // Copy the string through, escapes included.
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            out.extend_from_slice(&bytes[start..i]);
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &bytes[start..i];
            let huge = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|f| f.is_infinite());
            if huge {
                changed = true;
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
            } else {
                out.extend_from_slice(token);
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    changed.then_some(out)
}

/// Parses one JSON-RPC message, or the error response to send instead. The second value is
/// the body to pass on when it had to be rewritten (see [`quote_huge_numbers`]).
///
/// A well-formed message is parsed once, straight into rmcp's type. Only a body that fails
/// that goes through a `Value` first, to find what is wrong and the id to answer with; the
/// errors are the same either way (the typed parse accepts a subset of what the checks
/// below accept: `jsonrpc` must be `"2.0"` and a batch is not an object).
pub(crate) fn parse_message(
    bytes: &[u8],
) -> Result<(ClientJsonRpcMessage, Option<Vec<u8>>), Box<Response>> {
    if let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(bytes) {
        return Ok((message, None));
    }
    check_message(bytes)
}

/// The checks of [`parse_message`] one by one, through a `Value`.
fn check_message(bytes: &[u8]) -> Result<(ClientJsonRpcMessage, Option<Vec<u8>>), Box<Response>> {
    let parse_error = |e: serde_json::Error| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            PARSE_ERROR,
            format!("Parse error: {e}"),
        )
    };
    let (value, rewritten): (Value, Option<Vec<u8>>) = match serde_json::from_slice(bytes) {
        Ok(v) => (v, None),
        Err(e) if e.to_string().starts_with("number out of range") => {
            match quote_huge_numbers(bytes) {
                Some(fixed) => (
                    serde_json::from_slice(&fixed).map_err(parse_error)?,
                    Some(fixed),
                ),
                None => return Err(parse_error(e)),
            }
        }
        Err(e) => return Err(parse_error(e)),
    };
    let id = match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    if value.is_array() {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            INVALID_REQUEST,
            "Invalid Request: JSON-RPC batches are not supported; send one message per request"
                .into(),
        ));
    }
    if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            INVALID_REQUEST,
            "Invalid Request: `jsonrpc` must be \"2.0\"".into(),
        ));
    }
    let message = serde_json::from_value::<ClientJsonRpcMessage>(value).map_err(|e| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            INVALID_REQUEST,
            format!("Invalid Request: not a JSON-RPC request, notification or response: {e}"),
        )
    })?;
    Ok((message, rewritten))
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Middleware for `POST /mcp`: answers a body that is too large, not JSON or not one
/// JSON-RPC message itself, and hands anything else on with the body intact. Requests that
/// are not `POST` with a JSON content type go straight on (rmcp answers 405/415/406).
pub(crate) async fn check_mcp_body(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !is_json(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let body = match parse_message(&bytes) {
        Ok((_, Some(rewritten))) => Body::from(rewritten),
        Ok((_, None)) => Body::from(bytes),
        Err(resp) => {
            tracing::info!(path = %parts.uri.path(), "request refused: not a JSON-RPC message");
            return *resp;
        }
    };
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refusal(body: &str) -> (StatusCode, Value) {
        let resp = parse_message(body.as_bytes()).expect_err(body);
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn not_json_is_a_parse_error() {
        for body in [
            "",
            "{",
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":",
            "NaN",
            "[1,",
        ] {
            let (status, v) = refusal(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(v["error"]["code"], PARSE_ERROR, "{body}: {v}");
            assert_eq!(v["id"], Value::Null);
        }
    }

    #[test]
    fn numbers_beyond_f64_become_strings() {
        let digits = format!("1{}", "0".repeat(400));
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{{"offset":{digits},"s":"1e999 \" {digits}","n":-2e400,"ok":12.5}}}}}}"#
        );
        let (_, rewritten) = parse_message(body.as_bytes()).expect("parses once quoted");
        let v: Value = serde_json::from_slice(&rewritten.expect("rewritten")).expect("JSON");
        let args = &v["params"]["arguments"];
        assert_eq!(args["offset"], Value::String(digits.clone()));
        assert_eq!(args["n"], "-2e400");
        assert_eq!(
            args["s"],
            format!("1e999 \" {digits}"),
            "strings are left alone"
        );
        assert_eq!(args["ok"], 12.5);
        assert_eq!(v["id"], 1);
        // Ordinary bodies are passed on as they came.
        let (_, same) = parse_message(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).expect("ok");
        assert!(same.is_none());
    }

    #[test]
    fn the_one_pass_parse_accepts_only_what_the_checks_accept() {
        // Whatever the typed parse lets through must pass every check too; the rest goes to
        // the checks, which answer it as before.
        let bodies = [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"t","arguments":{"x":[1,{"y":null}]}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#,
            r#"{"id":1,"method":"ping"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#,
            r#"{"jsonrpc":"2.0","id":1e999,"method":"ping"}"#,
            r#""2.0""#,
            "null",
        ];
        for body in bodies {
            let fast = serde_json::from_slice::<ClientJsonRpcMessage>(body.as_bytes()).is_ok();
            let checked = check_message(body.as_bytes()).is_ok();
            assert!(
                !fast || checked,
                "typed parse accepts what the checks refuse: {body}"
            );
            assert_eq!(
                parse_message(body.as_bytes()).is_ok(),
                checked,
                "same answer either way: {body}"
            );
        }
        assert!(serde_json::from_slice::<ClientJsonRpcMessage>(bodies[0].as_bytes()).is_ok());
    }

    #[tokio::test]
    async fn json_that_is_not_one_message_is_an_invalid_request() {
        for (body, id) in [
            ("[]", Value::Null),
            (
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                Value::Null,
            ),
            ("{\"id\":3,\"method\":\"ping\"}", json!(3)),
            (
                "{\"jsonrpc\":\"1.0\",\"id\":\"a\",\"method\":\"ping\"}",
                json!("a"),
            ),
            ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":7}", json!(4)),
            (
                "{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}",
                Value::Null,
            ),
            ("42", Value::Null),
        ] {
            let (status, v) = refusal(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(v["error"]["code"], INVALID_REQUEST, "{body}: {v}");
            assert_eq!(v["id"], id, "{body}");
        }
    }

    #[test]
    fn a_message_passes() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}"#,
        ] {
            assert!(parse_message(body.as_bytes()).is_ok(), "{body}");
        }
    }
}
