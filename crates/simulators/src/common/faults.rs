//! Fault injection: added latency, random failures and one-shot faults
//! (fail, malformed body, dropped connection, rate limit).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The full set of fault settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultConfig {
    /// Delay added before every counted request, in milliseconds.
    pub latency_ms: u64,
    /// Probability (0.0-1.0) that a request fails with `fail_status`.
    pub fail_rate: f64,
    /// HTTP status of injected failures.
    pub fail_status: u16,
    /// The next N requests fail with `fail_status`.
    pub fail_next: u32,
    /// The next N requests get a truncated (malformed) body.
    pub malformed_next: u32,
    /// The next N requests have their connection closed without a response.
    pub drop_next: u32,
    /// The next N requests get HTTP 429.
    pub rate_limit_next: u32,
    /// `Retry-After` value sent with 429 responses.
    pub retry_after_secs: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            fail_rate: 0.0,
            fail_status: 500,
            fail_next: 0,
            malformed_next: 0,
            drop_next: 0,
            rate_limit_next: 0,
            retry_after_secs: 1,
        }
    }
}

/// Body of `POST /_sim/faults`; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultUpdate {
    /// See [`FaultConfig::latency_ms`].
    pub latency_ms: Option<u64>,
    /// See [`FaultConfig::fail_rate`].
    pub fail_rate: Option<f64>,
    /// See [`FaultConfig::fail_status`].
    pub fail_status: Option<u16>,
    /// See [`FaultConfig::fail_next`].
    pub fail_next: Option<u32>,
    /// See [`FaultConfig::malformed_next`].
    pub malformed_next: Option<u32>,
    /// See [`FaultConfig::drop_next`].
    pub drop_next: Option<u32>,
    /// See [`FaultConfig::rate_limit_next`].
    pub rate_limit_next: Option<u32>,
    /// See [`FaultConfig::retry_after_secs`].
    pub retry_after_secs: Option<u64>,
}

/// What to do with one request, decided by [`Faults::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle the request normally.
    None,
    /// Close the connection without any response.
    Drop,
    /// Answer 429 with `Retry-After: secs`.
    RateLimit {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// Answer with this status and a generic error page.
    Fail {
        /// HTTP status to send.
        status: u16,
    },
    /// Answer 200 with a truncated body.
    Malformed,
}

/// Checks a fail rate and status; shared by the CLI and `POST /_sim/faults`.
pub fn validate(fail_rate: f64, fail_status: u16) -> Result<(), String> {
    if !(0.0..=1.0).contains(&fail_rate) {
        return Err(format!("fail_rate must be within 0.0-1.0, got {fail_rate}"));
    }
    if !(100..=599).contains(&fail_status) {
        return Err(format!(
            "fail_status must be an HTTP status 100-599, got {fail_status}"
        ));
    }
    Ok(())
}

/// Fault settings: the initial (CLI) values plus the runtime ones.
#[derive(Debug)]
pub struct Faults {
    initial: FaultConfig,
    current: Mutex<FaultConfig>,
    rng: AtomicU64,
}

impl Faults {
    /// Creates the fault state; `initial` is also what `reset` returns to.
    pub fn new(initial: FaultConfig) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
        Self {
            current: Mutex::new(initial.clone()),
            initial,
            rng: AtomicU64::new(seed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultConfig> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings in force.
    pub fn current(&self) -> FaultConfig {
        self.lock().clone()
    }

    /// Replaces the runtime settings. Fields missing from `update` take the
    /// initial (CLI) value for `latency_ms`, `fail_rate` and `fail_status`,
    /// zero for the one-shot counters and 1 for `retry_after_secs`.
    pub fn replace(&self, update: FaultUpdate) -> Result<FaultConfig, String> {
        let defaults = FaultConfig::default();
        let cfg = FaultConfig {
            latency_ms: update.latency_ms.unwrap_or(self.initial.latency_ms),
            fail_rate: update.fail_rate.unwrap_or(self.initial.fail_rate),
            fail_status: update.fail_status.unwrap_or(self.initial.fail_status),
            fail_next: update.fail_next.unwrap_or(0),
            malformed_next: update.malformed_next.unwrap_or(0),
            drop_next: update.drop_next.unwrap_or(0),
            rate_limit_next: update.rate_limit_next.unwrap_or(0),
            retry_after_secs: update.retry_after_secs.unwrap_or(defaults.retry_after_secs),
        };
        validate(cfg.fail_rate, cfg.fail_status)?;
        *self.lock() = cfg.clone();
        Ok(cfg)
    }

    /// Returns to the initial (CLI) settings.
    pub fn reset(&self) {
        *self.lock() = self.initial.clone();
    }

    /// Sleeps for the configured latency, then decides (and consumes) the fault
    /// for one request: drop, then rate limit, then fail, then malformed, then
    /// the random fail rate.
    pub async fn apply(&self) -> Fault {
        let latency = self.lock().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        self.decide()
    }

    /// Decides (and consumes) the fault for one request, without the latency.
    pub fn decide(&self) -> Fault {
        let mut cfg = self.lock();
        if cfg.drop_next > 0 {
            cfg.drop_next -= 1;
            return Fault::Drop;
        }
        if cfg.rate_limit_next > 0 {
            cfg.rate_limit_next -= 1;
            return Fault::RateLimit {
                retry_after_secs: cfg.retry_after_secs,
            };
        }
        if cfg.fail_next > 0 {
            cfg.fail_next -= 1;
            return Fault::Fail {
                status: cfg.fail_status,
            };
        }
        if cfg.malformed_next > 0 {
            cfg.malformed_next -= 1;
            return Fault::Malformed;
        }
        if cfg.fail_rate > 0.0 && self.next_unit() < cfg.fail_rate {
            return Fault::Fail {
                status: cfg.fail_status,
            };
        }
        Fault::None
    }

    /// A uniform value in [0, 1) from a xorshift64 generator.
    fn next_unit(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_order_and_reset() {
        let f = Faults::new(FaultConfig::default());
        f.replace(FaultUpdate {
            fail_next: Some(1),
            drop_next: Some(1),
            rate_limit_next: Some(1),
            malformed_next: Some(1),
            retry_after_secs: Some(7),
            ..FaultUpdate::default()
        })
        .expect("valid");
        assert_eq!(f.decide(), Fault::Drop);
        assert_eq!(
            f.decide(),
            Fault::RateLimit {
                retry_after_secs: 7
            }
        );
        assert_eq!(f.decide(), Fault::Fail { status: 500 });
        assert_eq!(f.decide(), Fault::Malformed);
        assert_eq!(f.decide(), Fault::None);
        f.replace(FaultUpdate {
            fail_rate: Some(1.0),
            fail_status: Some(503),
            ..FaultUpdate::default()
        })
        .expect("valid");
        assert_eq!(f.decide(), Fault::Fail { status: 503 });
        f.reset();
        assert_eq!(f.decide(), Fault::None);
        assert!(
            f.replace(FaultUpdate {
                fail_rate: Some(1.5),
                ..FaultUpdate::default()
            })
            .is_err()
        );
    }

    #[test]
    fn rng_in_unit_interval() {
        let f = Faults::new(FaultConfig::default());
        for _ in 0..1000 {
            let v = f.next_unit();
            assert!((0.0..1.0).contains(&v));
        }
    }
}
