//! A per-upstream circuit breaker (failsafe's state machine) that reports its state as a
//! metric and in logs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use failsafe::{StateMachine, backoff};

#[derive(Debug, Clone)]
struct Instrument {
    upstream: String,
    opened_at: Arc<Mutex<Option<Instant>>>,
}

impl Instrument {
    fn state(&self, v: f64) {
        metrics::gauge!("mcp_upstream_circuit_state", "upstream" => self.upstream.clone()).set(v);
    }
}

impl failsafe::Instrument for Instrument {
    fn on_call_rejected(&self) {}
    fn on_open(&self) {
        tracing::warn!(upstream = %self.upstream, "circuit breaker opened: upstream calls paused");
        if let Ok(mut g) = self.opened_at.lock() {
            *g = Some(Instant::now());
        }
        self.state(2.0);
    }
    fn on_half_open(&self) {
        tracing::info!(upstream = %self.upstream, "circuit breaker half-open: trying calls again");
        self.state(1.0);
    }
    fn on_closed(&self) {
        // failsafe also reports "closed" when the breaker is built; only a recovery is news.
        let was_open = self
            .opened_at
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .is_some();
        if was_open {
            tracing::info!(upstream = %self.upstream, "circuit breaker closed: upstream recovered");
        }
        self.state(0.0);
    }
}

/// A circuit breaker for one upstream: opens after `failures` consecutive failures and
/// lets a trial call through after `cooldown`. Reports `mcp_upstream_circuit_state`.
pub struct Breaker {
    sm: StateMachine<ConsecutiveFailures<backoff::Constant>, Instrument>,
    cooldown: Duration,
    opened_at: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl Breaker {
    /// A closed breaker for `upstream` (its name in metrics and logs).
    pub fn new(upstream: &str, failures: u32, cooldown: Duration) -> Self {
        let opened_at = Arc::new(Mutex::new(None));
        let instrument = Instrument {
            upstream: upstream.to_string(),
            opened_at: opened_at.clone(),
        };
        instrument.state(0.0);
        let policy = consecutive_failures(failures.max(1), backoff::constant(cooldown));
        let sm = failsafe::Config::new()
            .failure_policy(policy)
            .instrument(instrument)
            .build();
        Self {
            sm,
            cooldown,
            opened_at,
        }
    }

    /// `Ok` when a call may go out; otherwise how long until the breaker half-opens.
    pub fn permit(&self) -> Result<(), Duration> {
        if self.sm.is_call_permitted() {
            return Ok(());
        }
        let since = self
            .opened_at
            .lock()
            .ok()
            .and_then(|g| *g)
            .map(|t| t.elapsed())
            .unwrap_or_default();
        Err(self
            .cooldown
            .saturating_sub(since)
            .max(Duration::from_millis(1)))
    }

    /// A call succeeded.
    pub fn on_success(&self) {
        self.sm.on_success();
    }

    /// A call failed in a way that counts against the upstream.
    pub fn on_failure(&self) {
        self.sm.on_error();
    }
}
