//! Readiness: `/readyz` is true only when every startup guard has been released, the server
//! is not draining, and the upstream probe (cached, at most every 10 s) last succeeded.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The set of things still preventing readiness.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pending: Mutex<BTreeSet<String>>,
    draining: AtomicBool,
    inflight: AtomicUsize,
    idle: Notify,
}

/// Holds readiness false until dropped.
#[derive(Debug)]
#[must_use = "readiness is released when the guard is dropped"]
pub struct ReadyGuard {
    name: String,
    inner: Arc<Inner>,
}

impl Drop for ReadyGuard {
    fn drop(&mut self) {
        if let Ok(mut p) = self.inner.pending.lock() {
            p.remove(&self.name);
        }
    }
}

/// Counts one in-flight tool call until dropped.
#[derive(Debug)]
pub struct InflightGuard {
    inner: Arc<Inner>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.inner.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

impl Readiness {
    /// Block readiness until the returned guard is dropped.
    pub fn guard(&self, name: impl Into<String>) -> ReadyGuard {
        let name = name.into();
        if let Ok(mut p) = self.inner.pending.lock() {
            p.insert(name.clone());
        }
        ReadyGuard {
            name,
            inner: self.inner.clone(),
        }
    }

    /// Names of guards still held.
    pub fn pending(&self) -> Vec<String> {
        self.inner
            .pending
            .lock()
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Start draining: readiness turns false and new tool calls are refused.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Mark a tool call in flight.
    pub fn inflight(&self) -> InflightGuard {
        self.inner.inflight.fetch_add(1, Ordering::AcqRel);
        InflightGuard {
            inner: self.inner.clone(),
        }
    }

    pub fn inflight_count(&self) -> usize {
        self.inner.inflight.load(Ordering::Acquire)
    }

    /// Wait until no tool call is in flight, or `deadline` passes. Returns whether idle.
    pub async fn wait_idle(&self, deadline: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.inner.idle.notified();
                if self.inflight_count() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(deadline, wait).await.is_ok()
    }
}

/// Caches the result of an upstream probe for `ttl`.
#[derive(Debug)]
pub struct ProbeCache {
    ttl: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Result<String, String>)>>,
}

impl ProbeCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached result, or a fresh one from `probe` when stale.
    pub async fn get<F, Fut>(&self, probe: F) -> Result<String, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, String>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, r)) = &*last
            && at.elapsed() < self.ttl
        {
            return r.clone();
        }
        let r = probe().await;
        *last = Some((Instant::now(), r.clone()));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guards_and_drain() {
        let r = Readiness::default();
        let g = r.guard("jwks");
        assert_eq!(r.pending(), vec!["jwks".to_string()]);
        drop(g);
        assert!(r.pending().is_empty());

        let call = r.inflight();
        assert!(!r.wait_idle(Duration::from_millis(20)).await);
        let r2 = r.clone();
        let waiter = tokio::spawn(async move { r2.wait_idle(Duration::from_secs(30)).await });
        tokio::task::yield_now().await;
        drop(call);
        assert!(waiter.await.expect("join"));
    }

    #[tokio::test]
    async fn probe_is_cached() {
        let c = ProbeCache::new(Duration::from_secs(60));
        let n = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            let r = c
                .get(|| async {
                    n.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>("up".into())
                })
                .await;
            assert_eq!(r.as_deref(), Ok("up"));
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
