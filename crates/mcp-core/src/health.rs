//! `GET /health`: what the server's checks last found, as JSON, from cached results.
//!
//! A background task runs every check each `MCP_HEALTH_INTERVAL` (15 s by default): the
//! upstream probe (the one `check` and `/readyz` use, bounded to 4 s) and the server's own
//! checks (`App::health_checks`: proxmox adds `ssh`). `jwks` is read at request time from the
//! verifier. `/health` only reads these results, so it answers at once whatever the upstream
//! does. Error texts are cleaned of addresses (URLs, IPs, host names, ports) unless
//! `MCP_HEALTH_DETAILS=true`; the full text is in the log.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

/// One check's last result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// `ok`, `down`, or `pending` before its first run.
    pub status: &'static str,
    /// When it last ran (RFC 3339, UTC); none before its first run.
    pub last_run: Option<String>,
    /// How long it took.
    pub latency_ms: Option<u64>,
    /// What it found: a one-line description when ok, the (cleaned) error when down.
    pub detail: Option<String>,
}

impl CheckReport {
    pub(crate) fn pending() -> Self {
        Self {
            status: "pending",
            last_run: None,
            latency_ms: None,
            detail: None,
        }
    }

    fn from_result(r: &Result<String, String>, took: Duration, details: bool) -> Self {
        let (status, detail) = match r {
            Ok(d) => ("ok", d.clone()),
            Err(e) => ("down", e.clone()),
        };
        let detail = crate::redact::redact_text(&detail);
        // `/health` answers anyone who may connect: a success says only "ok" (a probe's
        // description names versions, models, accounts), and an error is cleaned of addresses
        // and identifiers, unless the operator asks for the whole text.
        let detail = match (details, status) {
            (true, _) => detail,
            (false, "ok") => "ok".to_string(),
            (false, _) => scrub_addresses(&detail),
        };
        Self {
            status,
            last_run: Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string()),
            latency_ms: Some(took.as_millis().min(u128::from(u64::MAX)) as u64),
            detail: Some(detail),
        }
    }
}

/// The latest results, shared by the checking task and `/health`.
#[derive(Debug, Clone, Default)]
pub struct HealthState {
    checks: Arc<RwLock<BTreeMap<String, CheckReport>>>,
}

impl HealthState {
    pub(crate) fn set(&self, name: &str, report: CheckReport) {
        if let Ok(mut m) = self.checks.write() {
            m.insert(name.to_string(), report);
        }
    }

    /// Record the result of running a check that took `took`.
    pub fn record(&self, name: &str, r: &Result<String, String>, took: Duration, details: bool) {
        if let Err(e) = r {
            tracing::warn!(check = name, error = %crate::redact::redact_text(e), "health check failed");
        }
        self.set(name, CheckReport::from_result(r, took, details));
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, CheckReport> {
        self.checks.read().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Time `f`, bounded by `deadline`.
pub async fn timed<F>(deadline: Duration, f: F) -> (Result<String, String>, Duration)
where
    F: std::future::Future<Output = Result<String, String>>,
{
    let started = Instant::now();
    let r = tokio::time::timeout(deadline, f).await.unwrap_or_else(|_| {
        Err(format!(
            "no answer within {} s",
            deadline.as_secs_f64().round()
        ))
    });
    (r, started.elapsed())
}

/// The overall status: `down` when the upstream is down, `degraded` when another check is
/// down (or the upstream has not been probed yet), `ok` otherwise.
pub(crate) fn overall(checks: &BTreeMap<String, CheckReport>) -> &'static str {
    match checks.get("upstream").map(|c| c.status) {
        Some("down") => "down",
        Some("ok") if checks.values().all(|c| c.status == "ok") => "ok",
        _ => "degraded",
    }
}

/// Replace what looks like an address in `text` (a URL, an IP with or without a port, a
/// `host:port`, a dotted host name) with `[address]`.
pub fn scrub_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let trimmed = word.trim_matches(|c: char| "()[]<>,;:'\"`".contains(c) || c == '.');
        if !trimmed.is_empty() && looks_like_address(trimmed) {
            out.push_str(&word.replacen(trimmed, "[address]", 1));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    // Words end at white space of any kind and at `=` (`host=10.0.0.5`).
    for c in text.chars() {
        if c.is_whitespace() || c == '=' {
            flush(&mut word, &mut out);
            out.push(if c == '=' { '=' } else { ' ' });
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn looks_like_address(t: &str) -> bool {
    if t.contains("://") || t.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    // ARNs, CIDRs, zone-scoped IPv6, 12-digit AWS account ids.
    if t.starts_with("arn:")
        || t.parse::<ipnet::IpNet>().is_ok()
        || t.split('%')
            .next()
            .is_some_and(|a| a != t && a.parse::<std::net::IpAddr>().is_ok())
        || (t.len() == 12 && t.chars().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    if t.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    // host:port
    if let Some((host, port)) = t.rsplit_once(':')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && !host.is_empty()
    {
        return true;
    }
    // A dotted host name: letters, digits, '-' and '.', a last label of letters.
    let labels: Vec<&str> = t.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|l| l.len() >= 2 && l.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_scrubbed() {
        let s = scrub_addresses(
            "cannot connect to PAN-OS (https://10.0.0.5:443/api): connection refused by 10.0.0.5, fw1.corp.example:22 and [2001:db8::1]:443 at pve.internal.lan.",
        );
        for leak in [
            "10.0.0.5",
            "corp.example",
            "2001:db8",
            "pve.internal",
            ":22",
        ] {
            assert!(!s.contains(leak), "{leak} in {s}");
        }
        assert!(s.starts_with("cannot connect to PAN-OS ([address]"), "{s}");
        assert!(s.contains("connection refused by [address],"), "{s}");
        // A version is not an address.
        assert_eq!(
            scrub_addresses("PAN-OS 10.1.0 on PA-VM"),
            "PAN-OS 10.1.0 on PA-VM"
        );
        assert_eq!(
            scrub_addresses("the upstream did not answer within 4 s"),
            "the upstream did not answer within 4 s"
        );
        let s = scrub_addresses(
            "denied for arn:aws:iam::123456789012:role/x at host=10.0.0.5\tnet 10.0.0.0/24 via fe80::1%eth0 account 123456789012",
        );
        for leak in ["123456789012", "10.0.0.5", "10.0.0.0/24", "fe80", "role/x"] {
            assert!(!s.contains(leak), "{leak} in {s}");
        }
    }

    #[test]
    fn overall_status() {
        let mut m = BTreeMap::new();
        m.insert("upstream".to_string(), CheckReport::pending());
        assert_eq!(overall(&m), "degraded");
        let ok = CheckReport::from_result(&Ok("up".into()), Duration::from_millis(3), false);
        let down = CheckReport::from_result(&Err("x".into()), Duration::from_millis(3), false);
        m.insert("upstream".to_string(), ok.clone());
        assert_eq!(overall(&m), "ok");
        m.insert("ssh".to_string(), down.clone());
        assert_eq!(overall(&m), "degraded");
        m.insert("upstream".to_string(), down);
        assert_eq!(overall(&m), "down");
        assert_eq!(ok.latency_ms, Some(3));
    }
}
