//! In-process rate limits per subject and tool, for deployments without a proxy that limits
//! (systemd, compose): `MCP_RATE_LIMIT` (every tool), `MCP_RATE_LIMIT_WRITES` (tools that
//! can write) and `MCP_RATE_LIMIT_TOOLS` (`tool=N/period` overrides), each `N/s`, `N/m` or
//! `N/h`. A call over a limit is refused before the tool runs, with a tool error that says
//! when to retry, and counted in `mcp_rate_limited_total`. GCRA (the `governor` crate):
//! `N/m` allows a burst of N, then one every minute/N.
//!
//! With a shared state store (`MCP_STATE_URL`) the same GCRA runs in the store, so the
//! replicas of a server share one budget per subject and tool instead of each granting it
//! (an autoscaler would multiply it). If the store is unreachable, a read falls back to this
//! replica's own limiter (logged, and counted in `mcp_state_fallback_total`); a write is
//! refused, because its budget cannot be checked.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{ConfigError, Env};

type Limiter = DefaultKeyedRateLimiter<(String, &'static str)>;

/// One limit: its quota (for the shared store) and this replica's own limiter.
#[derive(Debug)]
struct Limit {
    quota: Quota,
    local: Limiter,
}

impl Limit {
    fn new(quota: Quota) -> Self {
        Self {
            quota,
            local: RateLimiter::keyed(quota),
        }
    }
}

/// The configured limits; none configured means none checked.
#[derive(Debug, Default)]
pub struct RateLimits {
    all: Option<Limit>,
    writes: Option<Limit>,
    per_tool: HashMap<String, Limit>,
    checks: AtomicU64,
    shared: Option<Arc<dyn crate::state::StateStore>>,
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over a limit: retry after this long.
    Wait(Duration),
    /// A write whose budget is kept in the shared store, which is unreachable.
    StoreDown(String),
}

/// Parse `N/s`, `N/m` or `N/h` (also `sec`, `min`, `hour`).
pub fn parse_quota(v: &str) -> Result<Quota, String> {
    let (n, per) = v.trim().split_once('/').ok_or_else(|| {
        format!(
            "`{}` is not N/s, N/m or N/h",
            crate::validate::excerpt(v, 32)
        )
    })?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        format!(
            "`{}`: the count must be a whole number from 1",
            crate::validate::excerpt(v, 32)
        )
    })?;
    let n = NonZeroU32::new(n).ok_or("the count must be at least 1")?;
    match per.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" => Ok(Quota::per_second(n)),
        "m" | "min" | "minute" => Ok(Quota::per_minute(n)),
        "h" | "hour" => Ok(Quota::per_hour(n)),
        _ => Err(format!(
            "`{}`: the period must be s, m or h",
            crate::validate::excerpt(v, 32)
        )),
    }
}

fn limiter(env: &Env, var: &str) -> Result<Option<Limit>, ConfigError> {
    match env.get(var)? {
        None => Ok(None),
        Some(v) => parse_quota(&v)
            .map(|q| Some(Limit::new(q)))
            .map_err(|r| ConfigError::invalid(var, r)),
    }
}

impl RateLimits {
    /// The limits from the environment. `known_tools` lets `MCP_RATE_LIMIT_TOOLS` refuse a
    /// name that is not a tool (a typo would otherwise limit nothing).
    pub fn from_env(env: &Env, known_tools: &[&str]) -> Result<Self, ConfigError> {
        let mut per_tool = HashMap::new();
        for item in env.list("MCP_RATE_LIMIT_TOOLS")?.unwrap_or_default() {
            let (tool, quota) = item.split_once('=').ok_or_else(|| {
                ConfigError::invalid(
                    "MCP_RATE_LIMIT_TOOLS",
                    format!(
                        "`{}` is not tool=N/period",
                        crate::validate::excerpt(&item, 64)
                    ),
                )
            })?;
            let tool = tool.trim();
            if !known_tools.contains(&tool) {
                return Err(ConfigError::invalid(
                    "MCP_RATE_LIMIT_TOOLS",
                    format!(
                        "`{}` is not a tool of this server",
                        crate::validate::excerpt(tool, 64)
                    ),
                ));
            }
            let q =
                parse_quota(quota).map_err(|r| ConfigError::invalid("MCP_RATE_LIMIT_TOOLS", r))?;
            per_tool.insert(tool.to_string(), Limit::new(q));
        }
        Ok(Self {
            all: limiter(env, "MCP_RATE_LIMIT")?,
            writes: limiter(env, "MCP_RATE_LIMIT_WRITES")?,
            per_tool,
            checks: AtomicU64::new(0),
            shared: None,
        })
    }

    /// Count in `store`, shared by the replicas, instead of in this process.
    #[must_use]
    pub fn shared(mut self, store: Option<Arc<dyn crate::state::StateStore>>) -> Self {
        self.shared = store;
        self
    }

    /// The limits that apply to `tool`: its own (or the general one), then the write limit.
    fn applicable(&self, tool: &str, writes: bool) -> impl Iterator<Item = (&'static str, &Limit)> {
        let first = match self.per_tool.get(tool) {
            Some(l) => Some(("tool", l)),
            None => self.all.as_ref().map(|l| ("all", l)),
        };
        let second = if writes {
            self.writes.as_ref().map(|l| ("writes", l))
        } else {
            None
        };
        first.into_iter().chain(second)
    }

    /// Whether `subject` may call `tool` now: in the shared store when there is one, else
    /// in this process.
    pub async fn admit(
        &self,
        subject: &str,
        tool: &'static str,
        writes: bool,
    ) -> Result<(), Refusal> {
        let Some(store) = &self.shared else {
            return self.check(subject, tool, writes).map_err(Refusal::Wait);
        };
        if self.all.is_none() && self.writes.is_none() && self.per_tool.is_empty() {
            return Ok(());
        }
        let who = subject_key(subject);
        for (name, l) in self.applicable(tool, writes) {
            let key = format!("rate:{name}:{tool}:{who}");
            match store
                .throttle(
                    &key,
                    l.quota.replenish_interval(),
                    l.quota.burst_size().get(),
                )
                .await
            {
                Ok(None) => {}
                Ok(Some(wait)) => return Err(Refusal::Wait(wait.max(Duration::from_secs(1)))),
                Err(e) if writes => {
                    metrics::counter!("mcp_state_errors_total", "use" => "rate_limits")
                        .increment(1);
                    tracing::warn!(error = %e, tool, "rate limit: the shared state store failed; the write is refused");
                    return Err(Refusal::StoreDown(e.to_string()));
                }
                Err(e) => {
                    metrics::counter!("mcp_state_fallback_total", "use" => "rate_limits")
                        .increment(1);
                    tracing::warn!(error = %e, tool, "rate limit: the shared state store failed; this replica's own limit applies to the read");
                    return self.check(subject, tool, writes).map_err(Refusal::Wait);
                }
            }
        }
        Ok(())
    }

    /// Whether `subject` may call `tool` now; otherwise how long until it may.
    pub fn check(&self, subject: &str, tool: &'static str, writes: bool) -> Result<(), Duration> {
        if self.all.is_none() && self.writes.is_none() && self.per_tool.is_empty() {
            return Ok(());
        }
        // Forget keys that have been idle long enough to be full again, now and then.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for l in self
                .all
                .iter()
                .chain(self.writes.iter())
                .chain(self.per_tool.values())
            {
                l.local.retain_recent();
            }
        }
        let key = (subject.to_string(), tool);
        for (_, l) in self.applicable(tool, writes) {
            if let Err(not_until) = l.local.check_key(&key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(wait.max(Duration::from_secs(1)));
            }
        }
        Ok(())
    }
}

/// A bounded, printable key for `subject` (a token's `sub` may hold anything).
fn subject_key(subject: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(subject.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_and_refuse_nonsense() {
        for ok in ["10/s", "30/h", " 5 / m ", "1/hour"] {
            assert!(parse_quota(ok).is_ok(), "{ok}");
        }
        for bad in ["", "10", "0/s", "-1/s", "x/s", "10/d", "10/"] {
            assert!(parse_quota(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_per_subject_and_tool() {
        let env = Env::from_pairs([
            ("MCP_RATE_LIMIT_TOOLS", "get=2/m"),
            ("MCP_RATE_LIMIT_WRITES", "1/h"),
        ]);
        let l = RateLimits::from_env(&env, &["get", "set"]).expect("ok");
        assert!(l.check("a", "get", false).is_ok() && l.check("a", "get", false).is_ok());
        let wait = l
            .check("a", "get", false)
            .expect_err("third call in a minute");
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(
            l.check("b", "get", false).is_ok(),
            "another subject has its own budget"
        );
        assert!(l.check("a", "set", true).is_ok());
        assert!(l.check("a", "set", true).is_err(), "one write an hour");
        let bad = Env::from_pairs([("MCP_RATE_LIMIT_TOOLS", "gte=2/m")]);
        assert!(
            RateLimits::from_env(&bad, &["get"])
                .expect_err("typo")
                .to_string()
                .contains("`gte` is not a tool")
        );
        assert!(RateLimits::default().check("a", "get", true).is_ok());
    }

    #[tokio::test]
    async fn replicas_sharing_a_store_share_one_budget() {
        let store: Arc<dyn crate::state::StateStore> =
            Arc::new(crate::state::MemoryStore::default());
        let env = Env::from_pairs([("MCP_RATE_LIMIT", "5/h")]);
        let replicas: Vec<RateLimits> = (0..3)
            .map(|_| {
                RateLimits::from_env(&env, &["get"])
                    .expect("ok")
                    .shared(Some(store.clone()))
            })
            .collect();
        let mut refused = 0;
        for i in 0..8 {
            if let Err(r) = replicas[i % 3].admit("alice", "get", false).await {
                assert!(
                    matches!(r, Refusal::Wait(w) if w >= Duration::from_secs(1)),
                    "{r:?}"
                );
                refused += 1;
            }
        }
        assert_eq!(refused, 3, "5 allowed across 3 replicas, then 3 refused");
        assert!(
            replicas[0].admit("bob", "get", false).await.is_ok(),
            "bob's own budget"
        );
    }

    #[tokio::test]
    async fn an_unreachable_store_refuses_writes_and_falls_back_for_reads() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let store: Arc<dyn crate::state::StateStore> = Arc::new(
            crate::state::RedisStore::new(&format!("redis://127.0.0.1:{port}"), "t:").expect("url"),
        );
        let env = Env::from_pairs([("MCP_RATE_LIMIT", "1/h")]);
        let l = RateLimits::from_env(&env, &["get", "set"])
            .expect("ok")
            .shared(Some(store));
        match l.admit("a", "set", true).await {
            Err(Refusal::StoreDown(e)) => assert!(e.contains("unreachable"), "{e}"),
            other => panic!("a write must be refused: {other:?}"),
        }
        assert!(
            l.admit("a", "get", false).await.is_ok(),
            "the local limit allows one"
        );
        assert!(
            matches!(l.admit("a", "get", false).await, Err(Refusal::Wait(_))),
            "and the local limit still holds"
        );
    }
}
