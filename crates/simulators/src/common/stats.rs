//! Request counters exposed at `GET /_sim/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A copy of the counters, serialized as the `/_sim/stats` JSON body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Every counted request.
    pub total: u64,
    /// Requests by kind (for PAN-OS, the `type` parameter).
    pub by_type: BTreeMap<String, u64>,
    /// Requests by a finer key, such as `config:get:XPATH` or `op:show-system-info`.
    pub by_key: BTreeMap<String, u64>,
}

/// Thread-safe request counters.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsSnapshot> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request of kind `kind` with the finer key `key`.
    pub fn record(&self, kind: &str, key: &str) {
        let mut s = self.lock();
        s.total += 1;
        *s.by_type.entry(kind.to_owned()).or_insert(0) += 1;
        *s.by_key.entry(key.to_owned()).or_insert(0) += 1;
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.lock().clone()
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        *self.lock() = StatsSnapshot::default();
    }
}
