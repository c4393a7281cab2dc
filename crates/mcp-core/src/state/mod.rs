//! State shared by the replicas of one server: `MCP_STATE_URL` (`redis://` or `rediss://`,
//! Redis 7 or Valkey, no modules). Unset, every replica keeps its state in process, as before.
//!
//! [`StateStore`] is the one abstraction the features use. It offers a few atomic primitives
//! (put, put-if-absent, compare-and-swap, delete-if, counters, key listing) over byte values,
//! so that the Redis implementation is a handful of commands and scripts and the in-memory one
//! behaves the same. Keys are namespaced by the server (`secops:<server>:`), so the releases of
//! several servers may share one Redis.
//!
//! What uses it today: pending changes and approvals ([`SharedChangeStore`]), confirmation
//! tokens used once, rate limits (`crate::limits`), read caches with a single-flight lock
//! ([`SharedCache`]: paloalto-ngfw's reads), and leases for jobs that one replica runs
//! ([`every_on_one_replica`]). See `docs/state.md` for what is kept there and what is not yet.

mod cache;
mod changes;
mod lease;
mod memory;
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use cache::{SharedCache, Source};
pub use changes::SharedChangeStore;
pub use lease::{Lease, every_on_one_replica};
pub use memory::MemoryStore;
pub use redis::RedisStore;

use crate::config::{ConfigError, Env};

/// Why a store operation failed. The text never holds the store's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The store did not answer, or refused the connection.
    #[error("the shared state store is unreachable: {0}")]
    Unavailable(String),
    /// The store answered with an error.
    #[error("the shared state store refused the operation: {0}")]
    Refused(String),
    /// A stored value could not be read back.
    #[error("a value in the shared state store is unreadable: {0}")]
    Corrupt(String),
}

/// A boxed store future.
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// The largest value a store accepts (1 MiB): a bound on what one key may hold.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Atomic primitives over byte values with a time to live. Keys are relative to the store's
/// namespace. Every operation is one round trip and atomic on its own.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;
    /// The value of `key`, unless absent or expired.
    fn get<'a>(&'a self, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>>;
    /// Set `key` to `value` for `ttl`.
    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StateFuture<'a, ()>;
    /// Set `key` only if it is absent: `true` if this call set it.
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StateFuture<'a, bool>;
    /// Replace the value of `key` with `new` only if it is still `expected`: `true` if
    /// replaced. The compare and the write are one atomic step.
    fn swap_if<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> StateFuture<'a, bool>;
    /// Delete `key` only if its value is `expected` (a lock released by its holder).
    fn delete_if<'a>(&'a self, key: &'a str, expected: &'a [u8]) -> StateFuture<'a, bool>;
    /// Add one to the counter `key` and return the new count; a new counter lives `ttl`.
    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StateFuture<'a, u64>;
    /// One event under a GCRA limit of `burst` events, then one per `interval`: `None` if it
    /// is allowed (and counted), or how long until one would be. The check and the count are
    /// one atomic step, so replicas sharing the store share the budget.
    fn throttle<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
        burst: u32,
    ) -> StateFuture<'a, Option<Duration>>;
    /// The keys that start with `prefix` (at most `limit`), relative to the namespace.
    fn keys<'a>(&'a self, prefix: &'a str, limit: usize) -> StateFuture<'a, Vec<String>>;
    /// One round trip, for health checks.
    fn ping(&self) -> StateFuture<'_, ()>;
    /// Send `payload` to every current listener of `channel`: how many got it (0: nobody
    /// listens, for example because the replica that did has died). Fire and forget.
    fn publish<'a>(&'a self, channel: &'a str, payload: &'a [u8]) -> StateFuture<'a, u64>;
    /// Listen on `channel` until the receiver is dropped. The subscription is made again
    /// after the store comes back; what is published in between is not received.
    /// `until_tried` (a readiness guard) is dropped once the first attempt to subscribe has
    /// succeeded or failed, so that a replica is not ready before it can hear its peers.
    fn subscribe(
        &self,
        channel: &str,
        until_tried: Option<crate::readiness::ReadyGuard>,
    ) -> tokio::sync::mpsc::Receiver<Vec<u8>>;
}

fn check_value(value: &[u8]) -> Result<(), StateError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StateError::Refused(format!(
            "a value of {} bytes is over the {} byte limit",
            value.len(),
            MAX_VALUE_BYTES
        )));
    }
    Ok(())
}

/// The TTL in milliseconds, at least 1 (a zero TTL would mean "forever" to some commands).
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Milliseconds since the Unix epoch.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// GCRA on a theoretical arrival time `tat` (ms) at `now` (ms): the new `tat` if allowed,
/// or the wait in ms.
fn gcra(tat: Option<u64>, now: u64, interval_ms: u64, burst: u32) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now).max(now);
    let tolerance = interval_ms.saturating_mul(u64::from(burst.saturating_sub(1)));
    if tat - now > tolerance {
        Err((tat - now - tolerance).max(1))
    } else {
        Ok(tat + interval_ms)
    }
}

/// `MCP_STATE_URL` (or `MCP_STATE_URL_FILE`): the shared store of `server`'s replicas, or
/// `None` when unset. The URL is checked here; the first connection is made on first use,
/// so a store that is down at start-up does not stop the server (its reads stay local).
pub fn from_env(env: &Env, server: &str) -> Result<Option<Arc<dyn StateStore>>, ConfigError> {
    let Some(url) = env.get("MCP_STATE_URL")? else {
        return Ok(None);
    };
    let store = RedisStore::new(url.trim(), &format!("secops:{server}:"))
        .map_err(|e| ConfigError::invalid("MCP_STATE_URL", e))?;
    Ok(Some(Arc::new(store)))
}

#[cfg(test)]
mod tests;
