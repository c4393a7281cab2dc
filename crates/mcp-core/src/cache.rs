//! A read cache for upstream answers: fresh for a TTL, then served stale while one caller
//! refreshes it, with identical misses coalesced into one fetch.
//!
//! - **Fresh** (younger than the TTL): answered from the cache.
//! - **Stale** (older than the TTL, younger than twice it): the first caller refetches, and
//!   waits for its own refetch; every other caller gets the stale answer at once. A caller
//!   never waits behind a refetch longer than the refetch itself, and an answer is never older
//!   than twice the TTL. A failed refetch is that caller's error; the stale answer stays until
//!   it ages out, so a flapping upstream does not turn every call into an error.
//! - **Missing** (or older than twice the TTL): one fetch for all the callers asking at once.
//!   They wait on a `tokio::sync::OnceCell`, which wakes them all at once when the answer is in.
//!
//! Why not moka's `try_get_with`: its waiters queue on an `async_lock::RwLock` whose readers
//! are woken one after another (each woken reader wakes the next), so under load the
//! thousandth waiter of an expired entry waited seconds for an answer fetched in milliseconds
//! (docs/benchmarks.md: p99.9 of 4.1 s at 1,000 clients with a 5 s TTL).
//!
//! `invalidate_all` (after a write) drops every entry and every fetch in flight: an answer
//! fetched across the write is returned to the callers that asked before it, never stored.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Cell<V, E> = Arc<tokio::sync::OnceCell<Result<V, E>>>;

/// See the module documentation.
pub struct ReadCache<K, V, E> {
    name: &'static str,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
    inflight: Mutex<HashMap<K, Cell<V, E>>>,
    refreshing: Mutex<HashSet<K>>,
    /// Bumped by `invalidate_all`: a fetch that started before stores nothing.
    generation: AtomicU64,
}

impl<K, V, E> std::fmt::Debug for ReadCache<K, V, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

enum Found<V> {
    Fresh(V),
    Stale(V),
    Missing,
}

impl<K, V, E> ReadCache<K, V, E>
where
    K: Eq + Hash + Clone,
    V: Clone,
    E: Clone,
{
    /// A cache named `name` (in metrics) keeping answers `ttl`, at most `capacity` of them.
    pub fn new(name: &'static str, ttl: Duration, capacity: usize) -> Self {
        Self {
            name,
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(HashSet::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The answer for `key`: cached, or from `fetch` (see the module documentation).
    pub async fn get_or_fetch<F, Fut>(&self, key: K, fetch: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let found = match self.entries.lock() {
            Ok(entries) => match entries.get(&key) {
                Some((at, v)) if at.elapsed() < self.ttl => Found::Fresh(v.clone()),
                Some((at, v)) if at.elapsed() < self.ttl * 2 => Found::Stale(v.clone()),
                _ => Found::Missing,
            },
            Err(_) => Found::Missing,
        };
        let generation = self.generation.load(Ordering::Acquire);
        match found {
            Found::Fresh(v) => {
                metrics::counter!("mcp_read_cache_total", "cache" => self.name, "result" => "fresh")
                    .increment(1);
                Ok(v)
            }
            Found::Stale(v) => {
                let Some(_refreshing) = self.claim_refresh(&key) else {
                    metrics::counter!("mcp_read_cache_total", "cache" => self.name, "result" => "stale")
                        .increment(1);
                    return Ok(v);
                };
                metrics::counter!("mcp_read_cache_total", "cache" => self.name, "result" => "refresh")
                    .increment(1);
                let r = fetch().await;
                if let Ok(v) = &r {
                    self.store(generation, key.clone(), v.clone());
                }
                r
            }
            Found::Missing => {
                metrics::counter!("mcp_read_cache_total", "cache" => self.name, "result" => "miss")
                    .increment(1);
                let cell: Cell<V, E> = match self.inflight.lock() {
                    Ok(mut m) => m.entry(key.clone()).or_default().clone(),
                    Err(_) => Arc::default(),
                };
                let r = cell
                    .get_or_init(|| async {
                        let r = fetch().await;
                        if let Ok(v) = &r {
                            self.store(generation, key.clone(), v.clone());
                        }
                        r
                    })
                    .await
                    .clone();
                if let Ok(mut m) = self.inflight.lock()
                    && m.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell))
                {
                    m.remove(&key);
                }
                r
            }
        }
    }

    /// Drop every answer, and forget every fetch in flight (their answers are not stored).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
        if let Ok(mut m) = self.inflight.lock() {
            m.clear();
        }
    }

    fn store(&self, generation: u64, key: K, value: V) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Checked under the lock that `invalidate_all` clears under: nothing fetched across
        // a write is stored after it.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let limit = self.ttl * 2;
            entries.retain(|_, (at, _)| at.elapsed() < limit);
            if entries.len() >= self.capacity {
                // Still full of live answers: start again rather than grow.
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// The right to refresh `key`, held until the guard is dropped (also when the refreshing
    /// call is cancelled); `None` when another caller holds it.
    fn claim_refresh(&self, key: &K) -> Option<RefreshGuard<'_, K>> {
        let mut r = self.refreshing.lock().ok()?;
        r.insert(key.clone()).then(|| RefreshGuard {
            set: &self.refreshing,
            key: key.clone(),
        })
    }
}

struct RefreshGuard<'a, K: Eq + Hash> {
    set: &'a Mutex<HashSet<K>>,
    key: K,
}

impl<K: Eq + Hash> Drop for RefreshGuard<'_, K> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    type C = ReadCache<&'static str, u32, String>;

    #[tokio::test]
    async fn identical_misses_make_one_fetch_and_every_waiter_gets_it() {
        let cache = Arc::new(C::new("t", Duration::from_secs(60), 10));
        let fetches = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut calls = Vec::new();
        for _ in 0..200 {
            let (cache, fetches, started, mut rx) =
                (cache.clone(), fetches.clone(), started.clone(), rx.clone());
            calls.push(tokio::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                cache
                    .get_or_fetch("k", || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        // Held until every caller is waiting.
                        let _ = rx.wait_for(|go| *go).await;
                        Ok(7)
                    })
                    .await
            }));
        }
        // One thread: each task runs until it parks in `get_or_fetch`.
        for _ in 0..10_000 {
            if started.load(Ordering::SeqCst) == 200 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(started.load(Ordering::SeqCst), 200);
        tokio::task::yield_now().await;
        assert!(
            cache.entries.lock().map(|e| e.is_empty()).unwrap_or(false),
            "nothing answered yet"
        );
        tx.send(true).expect("send");
        for c in calls {
            assert_eq!(c.await.expect("joined"), Ok(7));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_stale_answer_is_served_while_one_caller_refreshes() {
        let cache = C::new("t", Duration::from_secs(5), 10);
        assert_eq!(cache.get_or_fetch("k", || async { Ok(1) }).await, Ok(1));
        // Age the entry past its TTL.
        if let Ok(mut e) = cache.entries.lock() {
            let v = e.get_mut("k").expect("entry");
            v.0 = Instant::now()
                .checked_sub(Duration::from_secs(6))
                .expect("instant");
        }
        let refresher = cache.claim_refresh(&"k").expect("free");
        // Someone is refreshing: the stale answer, and no fetch.
        let got = cache
            .get_or_fetch("k", || async { Err("must not fetch".to_string()) })
            .await;
        assert_eq!(got, Ok(1));
        drop(refresher);
        // Nobody is: this caller refreshes, and gets the new answer.
        assert_eq!(cache.get_or_fetch("k", || async { Ok(2) }).await, Ok(2));
        assert_eq!(cache.get_or_fetch("k", || async { Ok(3) }).await, Ok(2));
    }

    #[tokio::test]
    async fn an_answer_older_than_twice_the_ttl_is_never_served() {
        let cache = C::new("t", Duration::from_secs(5), 10);
        assert_eq!(cache.get_or_fetch("k", || async { Ok(1) }).await, Ok(1));
        if let Ok(mut e) = cache.entries.lock() {
            let v = e.get_mut("k").expect("entry");
            v.0 = Instant::now()
                .checked_sub(Duration::from_secs(11))
                .expect("instant");
        }
        let _other = cache.claim_refresh(&"k").expect("free");
        assert_eq!(
            cache
                .get_or_fetch("k", || async { Err("down".to_string()) })
                .await,
            Err("down".to_string()),
            "too old to serve, even while someone else refreshes"
        );
    }

    #[tokio::test]
    async fn nothing_fetched_across_an_invalidation_is_stored() {
        let cache = C::new("t", Duration::from_secs(60), 10);
        let got = cache
            .get_or_fetch("k", || async {
                // A write lands while this read is on the wire.
                cache.invalidate_all();
                Ok(1)
            })
            .await;
        assert_eq!(
            got,
            Ok(1),
            "the caller that asked before the write gets its answer"
        );
        assert_eq!(
            cache.get_or_fetch("k", || async { Ok(2) }).await,
            Ok(2),
            "but it was not kept"
        );
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_capacity_is_bounded() {
        let cache = C::new("t", Duration::from_secs(60), 3);
        assert_eq!(
            cache
                .get_or_fetch("e", || async { Err("x".to_string()) })
                .await,
            Err("x".to_string())
        );
        assert_eq!(cache.get_or_fetch("e", || async { Ok(1) }).await, Ok(1));
        for k in ["a", "b", "c", "d", "f"] {
            let _ = cache.get_or_fetch(k, || async { Ok(0) }).await;
        }
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(99) <= 3);
    }
}
