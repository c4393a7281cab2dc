//! In-process rate limits per subject and tool, for deployments without a proxy that limits
//! (systemd, compose): `MCP_RATE_LIMIT` (every tool), `MCP_RATE_LIMIT_WRITES` (tools that
//! can write) and `MCP_RATE_LIMIT_TOOLS` (`tool=N/period` overrides), each `N/s`, `N/m` or
//! `N/h`. A call over a limit is refused before the tool runs, with a tool error that says
//! when to retry, and counted in `mcp_rate_limited_total`. GCRA (the `governor` crate):
//! `N/m` allows a burst of N, then one every minute/N.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{ConfigError, Env};

type Limiter = DefaultKeyedRateLimiter<(String, &'static str)>;

/// The configured limits; none configured means none checked.
#[derive(Debug, Default)]
pub struct RateLimits {
    all: Option<Limiter>,
    writes: Option<Limiter>,
    per_tool: HashMap<String, Limiter>,
    checks: AtomicU64,
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

fn limiter(env: &Env, var: &str) -> Result<Option<Limiter>, ConfigError> {
    match env.get(var)? {
        None => Ok(None),
        Some(v) => parse_quota(&v)
            .map(|q| Some(RateLimiter::keyed(q)))
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
            per_tool.insert(tool.to_string(), RateLimiter::keyed(q));
        }
        Ok(Self {
            all: limiter(env, "MCP_RATE_LIMIT")?,
            writes: limiter(env, "MCP_RATE_LIMIT_WRITES")?,
            per_tool,
            checks: AtomicU64::new(0),
        })
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
                l.retain_recent();
            }
        }
        let key = (subject.to_string(), tool);
        let first = self.per_tool.get(tool).or(self.all.as_ref());
        let second = if writes { self.writes.as_ref() } else { None };
        for l in first.into_iter().chain(second) {
            if let Err(not_until) = l.check_key(&key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(wait.max(Duration::from_secs(1)));
            }
        }
        Ok(())
    }
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
}
