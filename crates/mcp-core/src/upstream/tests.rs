//! The upstream helper against a local fault-injecting HTTP server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::io::AsyncWriteExt;

use super::*;

/// What the fault server does on each request, by path.
#[derive(Default)]
struct Faults {
    hits: AtomicU32,
    /// For `/flaky`: the number of 503s before a 200.
    fail_first: AtomicU32,
}

async fn handler(State(f): State<Arc<Faults>>, uri: axum::http::Uri) -> Response {
    let n = f.hits.fetch_add(1, Ordering::SeqCst);
    match uri.path() {
        "/ok" => "fine".into_response(),
        "/flaky" if n < f.fail_first.load(Ordering::SeqCst) => {
            (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
        }
        "/flaky" => "recovered".into_response(),
        "/500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "/429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "120")],
            "slow down",
        )
            .into_response(),
        "/429-short" if n == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "slow down",
        )
            .into_response(),
        "/429-short" => "ok now".into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late".into_response()
        }
        "/big" => "x".repeat(4096).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn fault_server() -> (url::Url, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let app = axum::Router::new()
        .fallback(any(handler))
        .with_state(faults.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        url::Url::parse(&format!("http://{addr}/")).expect("url"),
        faults,
    )
}

fn fast(name: &str, base: url::Url) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(name, base);
    c.retry_base = Duration::from_millis(1);
    c.retry_max = Duration::from_millis(20);
    c.read_timeout = Duration::from_millis(300);
    c.total_timeout = Duration::from_secs(3);
    c.max_response_bytes = 1024;
    c
}

#[tokio::test]
async fn retries_idempotent_5xx_until_success() {
    let (base, f) = fault_server().await;
    f.fail_first.store(2, Ordering::SeqCst);
    let up = Upstream::new(fast("sim", base)).expect("upstream");
    let (r, calls) = count_upstream_calls(up.send(
        up.request(reqwest::Method::GET, "/flaky"),
        Idempotency::Idempotent,
    ))
    .await;
    let r = r.expect("response");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"recovered");
    assert_eq!(calls, 3);
    assert_eq!(f.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn non_idempotent_is_not_retried_after_5xx() {
    let (base, f) = fault_server().await;
    let up = Upstream::new(fast("sim", base)).expect("upstream");
    let r = up
        .send(
            up.request(reqwest::Method::POST, "/500"),
            Idempotency::NonIdempotent,
        )
        .await
        .expect("response");
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.text_snippet(100), "boom");
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn long_retry_after_is_returned_not_waited() {
    let (base, f) = fault_server().await;
    let up = Upstream::new(fast("sim", base)).expect("upstream");
    let r = up
        .send(
            up.request(reqwest::Method::GET, "/429"),
            Idempotency::Idempotent,
        )
        .await
        .expect("response");
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);

    let r = up
        .send(
            up.request(reqwest::Method::GET, "/429-short"),
            Idempotency::Idempotent,
        )
        .await
        .expect("response");
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a short Retry-After is honoured and retried"
    );
}

#[tokio::test]
async fn read_timeout_becomes_unavailable_error() {
    let (base, _f) = fault_server().await;
    let mut c = fast("sim", base);
    c.max_retries = 0;
    let up = Upstream::new(c).expect("upstream");
    let e = up
        .send(
            up.request(reqwest::Method::GET, "/slow"),
            Idempotency::Idempotent,
        )
        .await
        .expect_err("timeout");
    assert!(matches!(e, UpstreamError::Timeout { .. }), "{e:?}");
    let t: ToolError = e.into();
    assert!(
        t.to_string()
            .starts_with("sim is unavailable: no answer within"),
        "{t}"
    );
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let (base, _f) = fault_server().await;
    let up = Upstream::new(fast("sim", base)).expect("upstream");
    let e = up
        .send(
            up.request(reqwest::Method::GET, "/big"),
            Idempotency::Idempotent,
        )
        .await
        .expect_err("too large");
    assert!(
        matches!(e, UpstreamError::TooLarge { limit: 1024, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn connection_reset_and_dead_upstream() {
    // A server that accepts and immediately closes: a reset mid-request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicU32::new(0));
    let a2 = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            a2.fetch_add(1, Ordering::SeqCst);
            let _ = s.shutdown().await;
        }
    });
    let up = Upstream::new(fast(
        "sim",
        url::Url::parse(&format!("http://{addr}/")).expect("url"),
    ))
    .expect("upstream");
    let e = up
        .send(
            up.request(reqwest::Method::POST, "/x"),
            Idempotency::NonIdempotent,
        )
        .await
        .expect_err("reset");
    assert!(matches!(e, UpstreamError::Transport { .. }), "{e:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a non-idempotent call that may have been sent is not retried"
    );

    // Nothing listening: connect errors are retried even for non-idempotent calls (nothing was sent).
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let up = Upstream::new(fast(
        "dead",
        url::Url::parse(&format!("http://{dead_addr}/")).expect("url"),
    ))
    .expect("upstream");
    let (r, calls) = count_upstream_calls(up.send(
        up.request(reqwest::Method::POST, "/x"),
        Idempotency::NonIdempotent,
    ))
    .await;
    assert!(matches!(r, Err(UpstreamError::Connect { .. })), "{r:?}");
    assert_eq!(calls, 3);
}

#[tokio::test]
async fn breaker_opens_half_opens_and_recovers() {
    let (base, f) = fault_server().await;
    let mut c = fast("sim", base);
    c.max_retries = 0;
    c.breaker_failures = 3;
    c.breaker_cooldown = Duration::from_millis(200);
    let up = Upstream::new(c).expect("upstream");
    for _ in 0..3 {
        let r = up
            .send(
                up.request(reqwest::Method::GET, "/500"),
                Idempotency::Idempotent,
            )
            .await
            .expect("5xx");
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    let hits = f.hits.load(Ordering::SeqCst);
    let e = up
        .send(
            up.request(reqwest::Method::GET, "/ok"),
            Idempotency::Idempotent,
        )
        .await
        .expect_err("open");
    let UpstreamError::CircuitOpen { retry_in, .. } = e else {
        panic!("expected open circuit, got {e:?}")
    };
    assert!(retry_in <= Duration::from_millis(200));
    assert_eq!(
        f.hits.load(Ordering::SeqCst),
        hits,
        "an open breaker sends nothing"
    );

    // After the cooldown the breaker lets a call through (half-open); success closes it.
    let mut recovered = false;
    for _ in 0..100 {
        match up
            .send(
                up.request(reqwest::Method::GET, "/ok"),
                Idempotency::Idempotent,
            )
            .await
        {
            Ok(r) if r.status == StatusCode::OK => {
                recovered = true;
                break;
            }
            Err(UpstreamError::CircuitOpen { retry_in, .. }) => tokio::time::sleep(retry_in).await,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(recovered, "breaker never half-opened");
    let r = up
        .send(
            up.request(reqwest::Method::GET, "/ok"),
            Idempotency::Idempotent,
        )
        .await
        .expect("closed again");
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn base_url_rules() {
    assert_eq!(
        parse_base_url("H", "fw.example.com").expect("ok").as_str(),
        "https://fw.example.com/"
    );
    assert!(parse_base_url("H", "http://127.0.0.1:8443").is_ok());
    assert!(parse_base_url("H", "http://[::1]:1").is_ok());
    assert!(parse_base_url("H", "http://localhost:1").is_ok());
    let e = parse_base_url("PANOS_HOST", "http://fw.example.com").expect_err("plain http");
    assert!(
        e.to_string()
            .starts_with("PANOS_HOST: plain http is allowed only for loopback"),
        "{e}"
    );
    assert!(parse_base_url("H", "https://user:pw@fw").is_err());
    assert!(parse_base_url("H", "https://fw/?key=1").is_err());
    assert!(parse_base_url("H", "ftp://fw").is_err());
}

#[test]
fn retry_after_forms() {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("7"),
    );
    assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
    h.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
    h.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("soon"),
    );
    assert_eq!(parse_retry_after(&h), None);
}

#[test]
fn ca_file_errors_are_clear() {
    let mut c = UpstreamConfig::new("sim", url::Url::parse("https://fw.example").expect("url"));
    c.tls.ca_file = Some("/nonexistent/ca.pem".into());
    let e = Upstream::new(c).expect_err("missing CA");
    assert!(
        e.to_string()
            .contains("cannot read CA file /nonexistent/ca.pem"),
        "{e}"
    );
}
