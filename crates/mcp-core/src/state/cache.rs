//! A read cache shared by the replicas, with a single-flight lock in the store: of the
//! replicas that miss the same key at once, one asks the upstream and the others wait for its
//! answer, so ten replicas do not make ten requests to a slow management plane.
//!
//! Each replica keeps its own cache in front of this one (and coalesces its own callers), so
//! the store sees at most one lookup per key per replica at a time. A write invalidates every
//! replica's shared entries at once by bumping a generation number that is part of each key.
//!
//! When the store is unreachable, a read goes to the upstream directly (logged, and counted in
//! `mcp_state_fallback_total{use="cache"}`): the cache is an optimisation, never a reason to
//! fail a read.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{MAX_VALUE_BYTES, StateError, StateStore};

/// How often a replica that lost the single-flight race looks for the winner's answer.
const POLL: Duration = Duration::from_millis(10);

/// A shared cache of byte values under one name (`cache:<name>:...` keys).
#[derive(Debug, Clone)]
pub struct SharedCache {
    store: Arc<dyn StateStore>,
    name: String,
    ttl: Duration,
    /// How long a replica may hold the single-flight lock (the upstream call's deadline).
    flight: Duration,
    holder: String,
}

/// How a value was obtained (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Found in the shared cache.
    Hit,
    /// This replica asked the upstream (it held the lock).
    Fetched,
    /// Another replica asked the upstream; this one waited for its answer.
    Waited,
    /// The store failed; this replica asked the upstream without it.
    Fallback,
}

impl SharedCache {
    /// Values live `ttl`; a fetch may hold the single-flight lock for `flight`.
    pub fn new(store: Arc<dyn StateStore>, name: &str, ttl: Duration, flight: Duration) -> Self {
        Self {
            store,
            name: name.to_string(),
            ttl,
            flight,
            holder: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn digest(key: &str) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(key.as_bytes())
            .iter()
            .take(20)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The generation now: bumped by every [`SharedCache::invalidate`]. A replica that keys
    /// its own local cache by it sees another replica's write at once.
    pub async fn generation(&self) -> Result<u64, StateError> {
        Ok(self
            .store
            .get(&format!("cache:{}:gen", self.name))
            .await?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
            .unwrap_or(0))
    }

    /// Drop every replica's shared entries (after a write).
    pub async fn invalidate(&self) {
        // The generation lives a day after its last bump; entries live `ttl`.
        if let Err(e) = self
            .store
            .incr(
                &format!("cache:{}:gen", self.name),
                Duration::from_secs(24 * 3600),
            )
            .await
        {
            metrics::counter!("mcp_state_errors_total", "use" => "cache").increment(1);
            tracing::warn!(error = %e, cache = %self.name, "cannot invalidate the shared cache; other replicas may serve entries up to the cache TTL old");
        }
    }

    /// The value of `key`: from the shared cache, or from `fetch` run by exactly one replica at
    /// a time while the others wait for its answer. Errors from `fetch` are not cached.
    pub async fn get_or_fetch<E, F, Fut>(&self, key: &str, fetch: F) -> Result<(Vec<u8>, Source), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let generation = match self.lookup(key).await {
            Ok(Ok((v, source))) => return Ok((v, source)),
            Ok(Err(generation)) => generation,
            Err(e) => {
                metrics::counter!("mcp_state_fallback_total", "use" => "cache").increment(1);
                tracing::warn!(error = %e, cache = %self.name, "the shared cache is unreachable: this read goes to the upstream directly");
                return fetch().await.map(|v| (v, Source::Fallback));
            }
        };
        // This replica holds the lock: fetch, publish, release.
        let v = fetch().await;
        let digest = Self::digest(key);
        if let Ok(v) = &v
            && v.len() <= MAX_VALUE_BYTES
        {
            let _ = self
                .store
                .put(
                    &format!("cache:{}:{generation}:{digest}", self.name),
                    v,
                    self.ttl,
                )
                .await;
        }
        let _ = self
            .store
            .delete_if(
                &format!("flight:{}:{digest}", self.name),
                self.holder.as_bytes(),
            )
            .await;
        v.map(|v| (v, Source::Fetched))
    }

    /// A value from the cache or from the replica that fetches it (`Ok`), or the generation
    /// this replica took the lock in (`Err`): it must fetch, and store under that generation
    /// (so an answer fetched across a write is never filed under the new generation).
    async fn lookup(&self, key: &str) -> Result<Result<(Vec<u8>, Source), u64>, StateError> {
        let digest = Self::digest(key);
        let lock = format!("flight:{}:{digest}", self.name);
        let mut waited = false;
        let rounds = (self.flight.as_millis() / POLL.as_millis()).max(1) + 1;
        for _ in 0..rounds {
            let generation = self.generation().await?;
            let entry = format!("cache:{}:{generation}:{digest}", self.name);
            if let Some(v) = self.store.get(&entry).await? {
                let source = if waited { Source::Waited } else { Source::Hit };
                return Ok(Ok((v, source)));
            }
            if self
                .store
                .put_if_absent(&lock, self.holder.as_bytes(), self.flight)
                .await?
            {
                // Look again now that the lock is ours: the previous holder may have stored
                // its answer and let go between the miss above and the lock.
                if let Some(v) = self.store.get(&entry).await? {
                    let _ = self.store.delete_if(&lock, self.holder.as_bytes()).await;
                    let source = if waited { Source::Waited } else { Source::Hit };
                    return Ok(Ok((v, source)));
                }
                return Ok(Err(generation));
            }
            // Another replica is fetching: wait for its answer (or for its lock to lapse,
            // when it failed or died, and then take the lock).
            waited = true;
            tokio::time::sleep(POLL).await;
        }
        // The holder took longer than its own deadline: fetch without it, and file the
        // answer under the generation as it is now.
        Ok(Err(self.generation().await?))
    }
}
