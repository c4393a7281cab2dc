//! Helpers shared by the fuzz targets: turning fuzz input into an upstream HTTP response.
//!
//! An input may start with a status line and headers, like a raw HTTP/1 answer without the
//! version: `NNN reason\nRetry-After: 7\n\nbody`. Without a leading three-digit status the
//! whole input is the body. The reason phrase matters: Proxmox puts its errors there.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcp_core::upstream::UpstreamResponse;

/// Statuses a body without a status line is tried with (besides 200), so the error mapping
/// sees arbitrary bodies too.
pub const STATUSES: &[u16] = &[
    200, 201, 204, 301, 400, 401, 403, 404, 405, 413, 429, 500, 501, 502, 503, 504, 595, 599,
];

/// A parsed fuzz input.
#[derive(Debug)]
pub struct RawResponse<'a> {
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub headers: HeaderMap,
    pub body: &'a [u8],
}

/// Split an input into an optional status line and headers, and the body.
pub fn split_http(data: &[u8]) -> RawResponse<'_> {
    let has_status = data.len() >= 3
        && data[..3].iter().all(u8::is_ascii_digit)
        && matches!(data.get(3), None | Some(b' ' | b'\n'));
    if !has_status {
        return RawResponse {
            status: None,
            reason: None,
            headers: HeaderMap::new(),
            body: data,
        };
    }
    let (head, body) = match find(data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let first = lines.next().unwrap_or_default();
    let status = std::str::from_utf8(&first[..3])
        .ok()
        .and_then(|s| s.parse().ok());
    let reason = first
        .get(4..)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .filter(|r| !r.is_empty());
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    RawResponse {
        status,
        reason,
        headers,
        body,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The response for `status` (an invalid status reads as 200).
pub fn response(raw: &RawResponse<'_>, status: u16) -> UpstreamResponse {
    UpstreamResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers: raw.headers.clone(),
        body: Bytes::copy_from_slice(raw.body),
        reason: raw.reason.clone(),
    }
}

/// The responses to try for an input: its own status if it has one, else 200 and one status
/// of [`STATUSES`] picked by the input's length (deterministic, and cheaper than all of them).
pub fn responses(data: &[u8]) -> Vec<UpstreamResponse> {
    let raw = split_http(data);
    match raw.status {
        Some(s) => vec![response(&raw, s)],
        None => vec![
            response(&raw, 200),
            response(&raw, STATUSES[data.len() % STATUSES.len()]),
        ],
    }
}

/// Every status variant of `data` (see [`responses`]) through a server's `interpret`: each
/// response goes through [`common`], an error must print, and only a 2xx may be read as a
/// success, which is handed to `on_ok`.
pub fn each_interpreted<T, E: std::fmt::Display>(
    data: &[u8],
    interpret: impl Fn(&UpstreamResponse) -> Result<T, E>,
    mut on_ok: impl FnMut(T),
) {
    for resp in responses(data) {
        common(&resp);
        match interpret(&resp) {
            Ok(v) => {
                assert!(
                    resp.status.is_success(),
                    "a {} was read as success",
                    resp.status
                );
                on_ok(v);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// Exercise the helpers every response goes through: the Retry-After parser and the snippet
/// used in error messages.
pub fn common(resp: &UpstreamResponse) {
    let _ = resp.retry_after();
    let s = resp.text_snippet(200);
    assert!(s.chars().count() <= 201, "snippet longer than its limit");
}
