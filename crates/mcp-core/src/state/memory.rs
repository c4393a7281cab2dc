//! The in-process [`StateStore`]: the same semantics as Redis, for one replica and for tests.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{StateError, StateFuture, StateStore, check_value};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    until: Instant,
}

/// Keys in a map behind a mutex; expired entries are dropped when touched and swept on write.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Entry>>,
    channels: Mutex<HashMap<String, Vec<tokio::sync::mpsc::Sender<Vec<u8>>>>>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, HashMap<String, Entry>>, StateError> {
        self.map
            .lock()
            .map_err(|_| StateError::Unavailable("the in-memory store is poisoned".into()))
    }

    /// The live value of `key` at `now`.
    fn live<'m>(m: &'m HashMap<String, Entry>, key: &str, now: Instant) -> Option<&'m Entry> {
        m.get(key).filter(|e| e.until > now)
    }

    /// Drop expired entries once the map has grown (amortised: not on every write).
    fn sweep(m: &mut HashMap<String, Entry>, now: Instant) {
        if m.len() > 1024 && m.len().is_power_of_two() {
            m.retain(|_, e| e.until > now);
        }
    }
}

impl StateStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let m = self.lock()?;
            Ok(Self::live(&m, key, Instant::now()).map(|e| e.value.clone()))
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StateFuture<'a, ()> {
        Box::pin(async move {
            check_value(value)?;
            let now = Instant::now();
            let mut m = self.lock()?;
            Self::sweep(&mut m, now);
            m.insert(
                key.to_string(),
                Entry {
                    value: value.to_vec(),
                    until: now + ttl,
                },
            );
            Ok(())
        })
    }

    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            check_value(value)?;
            let now = Instant::now();
            let mut m = self.lock()?;
            if Self::live(&m, key, now).is_some() {
                return Ok(false);
            }
            Self::sweep(&mut m, now);
            m.insert(
                key.to_string(),
                Entry {
                    value: value.to_vec(),
                    until: now + ttl,
                },
            );
            Ok(true)
        })
    }

    fn swap_if<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            check_value(new)?;
            let now = Instant::now();
            let mut m = self.lock()?;
            match Self::live(&m, key, now) {
                Some(e) if e.value == expected => {}
                _ => return Ok(false),
            }
            m.insert(
                key.to_string(),
                Entry {
                    value: new.to_vec(),
                    until: now + ttl,
                },
            );
            Ok(true)
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, expected: &'a [u8]) -> StateFuture<'a, bool> {
        Box::pin(async move {
            let mut m = self.lock()?;
            match Self::live(&m, key, Instant::now()) {
                Some(e) if e.value == expected => {
                    m.remove(key);
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let now = Instant::now();
            let mut m = self.lock()?;
            let current = match Self::live(&m, key, now) {
                Some(e) => std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| StateError::Corrupt(format!("{key} is not a counter")))?,
                None => 0,
            };
            let until = match Self::live(&m, key, now) {
                Some(e) => e.until,
                None => now + ttl,
            };
            let next = current.saturating_add(1);
            Self::sweep(&mut m, now);
            m.insert(
                key.to_string(),
                Entry {
                    value: next.to_string().into_bytes(),
                    until,
                },
            );
            Ok(next)
        })
    }

    fn throttle<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
        burst: u32,
    ) -> StateFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let now = Instant::now();
            let now_ms = super::epoch_ms();
            let interval_ms = super::ttl_ms(interval);
            let mut m = self.lock()?;
            let tat = Self::live(&m, key, now)
                .and_then(|e| std::str::from_utf8(&e.value).ok()?.parse::<u64>().ok());
            match super::gcra(tat, now_ms, interval_ms, burst) {
                Err(wait) => Ok(Some(Duration::from_millis(wait))),
                Ok(next) => {
                    Self::sweep(&mut m, now);
                    m.insert(
                        key.to_string(),
                        Entry {
                            value: next.to_string().into_bytes(),
                            until: now + Duration::from_millis(next - now_ms + interval_ms),
                        },
                    );
                    Ok(None)
                }
            }
        })
    }

    fn keys<'a>(&'a self, prefix: &'a str, limit: usize) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = Instant::now();
            let m = self.lock()?;
            let mut v: Vec<String> = m
                .iter()
                .filter(|(k, e)| k.starts_with(prefix) && e.until > now)
                .map(|(k, _)| k.clone())
                .take(limit)
                .collect();
            v.sort();
            Ok(v)
        })
    }

    fn ping(&self) -> StateFuture<'_, ()> {
        Box::pin(async move { self.lock().map(|_| ()) })
    }

    fn publish<'a>(&'a self, channel: &'a str, payload: &'a [u8]) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let mut c = self
                .channels
                .lock()
                .map_err(|_| StateError::Unavailable("the in-memory store is poisoned".into()))?;
            let Some(listeners) = c.get_mut(channel) else {
                return Ok(0);
            };
            listeners.retain(|tx| !tx.is_closed());
            let mut got = 0;
            for tx in listeners.iter() {
                if tx.try_send(payload.to_vec()).is_ok() {
                    got += 1;
                }
            }
            Ok(got)
        })
    }

    fn subscribe(
        &self,
        channel: &str,
        _until_tried: Option<crate::readiness::ReadyGuard>,
    ) -> tokio::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        if let Ok(mut c) = self.channels.lock() {
            c.entry(channel.to_string()).or_default().push(tx);
        }
        rx
    }
}
