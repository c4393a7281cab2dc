//! Logging (tracing, JSON or pretty, always to stderr) and the Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Install the global tracing subscriber. Logs go to stderr, never stdout: stdout carries the
/// stdio transport. Each line is written whole, at once, before the call that logged it
/// answers: an answered call's audit record is never lost to a crash. (A queue and a writer
/// thread were measured: about 5% more calls a second, not worth that guarantee; see
/// docs/benchmarks.md#profile.) `RUST_LOG` sets the filter; without it, `default_level` (`LOG_LEVEL`).
/// Safe to call more than once (later calls do nothing).
pub fn init_logging(format: LogFormat, default_level: &str) {
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default_level.to_string());
    let filter = EnvFilter::try_new(quiet_rmcp(&directives))
        .unwrap_or_else(|_| EnvFilter::new(quiet_rmcp(default_level)));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    let _ = result;
}

/// rmcp logs three lines at info for every stateless request and every session's end
/// ("Service initialized", "input stream terminated", "serve finished"): noise next to our one
/// audit line a call. They are kept at warn unless the filter names `rmcp` itself.
fn quiet_rmcp(directives: &str) -> String {
    if directives.contains("rmcp") {
        directives.to_string()
    } else {
        format!("{directives},rmcp=warn")
    }
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus handle (installed on first use).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let buckets = [
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Describe the metrics once so `/metrics` carries HELP text.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "mcp_http_requests_total",
        "HTTP requests by route and status"
    );
    describe_histogram!(
        "mcp_http_request_duration_seconds",
        "HTTP request latency by route"
    );
    describe_counter!("mcp_tool_calls_total", "Tool calls by tool and outcome");

    describe_histogram!(
        "mcp_tool_call_duration_seconds",
        "Tool call latency by tool"
    );
    describe_gauge!("mcp_active_sessions", "Open MCP sessions by transport");
    describe_gauge!("mcp_inflight_tool_calls", "Tool calls in progress");
    describe_counter!(
        "mcp_auth_failures_total",
        "Requests refused with 401, by reason"
    );
    describe_counter!(
        "mcp_upstream_requests_total",
        "Upstream requests by upstream and outcome"
    );
    describe_histogram!(
        "mcp_upstream_request_duration_seconds",
        "Upstream request latency"
    );
    describe_counter!("mcp_upstream_retries_total", "Upstream retries");
    describe_gauge!(
        "mcp_upstream_circuit_state",
        "Circuit breaker: 0 closed, 1 half-open, 2 open"
    );
}

#[cfg(test)]
mod tests {
    use super::quiet_rmcp;

    #[test]
    fn rmcp_is_kept_at_warn_unless_the_filter_names_it() {
        assert_eq!(quiet_rmcp("info"), "info,rmcp=warn");
        assert_eq!(
            quiet_rmcp("warn,mcp_core=info"),
            "warn,mcp_core=info,rmcp=warn"
        );
        assert_eq!(
            quiet_rmcp("info,rmcp::service=debug"),
            "info,rmcp::service=debug"
        );
        assert_eq!(quiet_rmcp("info,rmcp=info"), "info,rmcp=info");
    }
}
