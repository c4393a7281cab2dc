//! Per-API-key request rate limit (`--rate-limit N`): at most N accepted
//! requests in any sliding one-second window; refused requests do not count.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// Sliding-window limiter keyed by API key.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// `per_second` requests per key per second; 0 means unlimited.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a request for `key` at `now`; false when over the limit.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let q = hits.entry(key.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            q.pop_front();
        }
        if q.len() >= self.per_second as usize {
            return false;
        }
        q.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides() {
        let rl = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(rl.allow("k", t0));
        assert!(rl.allow("k", t0));
        assert!(!rl.allow("k", t0 + Duration::from_millis(500)));
        assert!(rl.allow("other", t0));
        assert!(rl.allow("k", t0 + Duration::from_millis(1000)));
        assert!(RateLimiter::new(0).allow("k", t0));
    }
}
