//! [`StateStore`] on Redis 7 or Valkey: plain commands and two Lua scripts, no modules.
//!
//! One multiplexed connection (redis-rs's `ConnectionManager`, which reconnects by itself) is
//! opened on first use, so a store that is down at start-up does not stop the server. Every
//! command has a deadline; a store that does not answer is an error, never a hang.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

use super::{StateError, StateFuture, StateStore, check_value, ttl_ms};

/// How long one command may take, connection included.
const DEADLINE: Duration = Duration::from_secs(2);

/// Compare-and-swap: `KEYS[1]` becomes `ARGV[2]` (for `ARGV[3]` ms) only if it is `ARGV[1]`.
const SWAP_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Delete `KEYS[1]` only if it is `ARGV[1]`.
const DELETE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// `INCR`, and a TTL on a counter that has none (a new one).
const INCR: &str = r"
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n";

/// GCRA on the store's own clock (`TIME`), so replicas' clocks do not matter: `KEYS[1]`
/// holds the theoretical arrival time in ms; `ARGV[1]` is the interval in ms, `ARGV[2]` the
/// burst. Returns 0 when allowed (and counted), else the wait in ms.
const THROTTLE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  local wait = tat - now - tolerance
  if wait < 1 then wait = 1 end
  return wait
end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', string.format('%.0f', next - now + interval))
return 0";

/// The shared store of one server's replicas.
pub struct RedisStore {
    client: redis::Client,
    /// `secops:<server>:`, put in front of every key.
    prefix: String,
    /// The password of the URL, if any: scrubbed from any error text.
    password: Option<String>,
    conn: Mutex<Option<ConnectionManager>>,
    swap_if: Arc<redis::Script>,
    delete_if: Arc<redis::Script>,
    incr: Arc<redis::Script>,
    throttle: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url` (`redis://` or `rediss://`; user, password and database number as
    /// Redis URLs have them). Nothing is connected yet. The error text never holds the URL.
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| {
            format!(
                "not a URL ({e}); expected redis://[user:password@]host:port[/db] or rediss://…"
            )
        })?;
        match parsed.scheme() {
            "redis" | "rediss" => {}
            other => {
                return Err(format!(
                    "scheme `{}` is not redis or rediss",
                    crate::validate::excerpt(other, 16)
                ));
            }
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("the URL names no host".into());
        }
        let password = parsed
            .password()
            .map(percent_decode)
            .filter(|p| !p.is_empty());
        let client = redis::Client::open(url).map_err(|e| {
            let text = e.to_string();
            match &password {
                Some(p) => text.replace(p.as_str(), "[redacted]"),
                None => text,
            }
        })?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            password,
            conn: Mutex::new(None),
            swap_if: Arc::new(redis::Script::new(SWAP_IF)),
            delete_if: Arc::new(redis::Script::new(DELETE_IF)),
            incr: Arc::new(redis::Script::new(INCR)),
            throttle: Arc::new(redis::Script::new(THROTTLE)),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// Error text without the password, and in one of two kinds.
    fn error(&self, e: &redis::RedisError) -> StateError {
        let mut text = crate::redact::redact_text(&e.to_string());
        if let Some(p) = &self.password {
            text = text.replace(p.as_str(), "[redacted]");
        }
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error()
        {
            StateError::Unavailable(text)
        } else {
            StateError::Refused(text)
        }
    }

    /// The connection, opened now if it is not yet.
    async fn conn(&self) -> Result<ConnectionManager, StateError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEADLINE))
            .set_response_timeout(Some(DEADLINE))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let c = tokio::time::timeout(
            DEADLINE * 2,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| StateError::Unavailable("no connection within the deadline".into()))?
        .map_err(|e| self.error(&e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Run `f` on the connection with the deadline.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StateError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.conn().await?;
        match tokio::time::timeout(DEADLINE, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(&e)),
            Err(_) => Err(StateError::Unavailable(format!(
                "no answer within {} s",
                DEADLINE.as_secs()
            ))),
        }
    }
}

/// `%XX` sequences decoded (a URL's password as Redis receives it).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl StateStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let k = self.key(key);
            self.run(|mut c| async move {
                redis::cmd("GET")
                    .arg(&k)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StateFuture<'a, ()> {
        Box::pin(async move {
            check_value(value)?;
            let k = self.key(key);
            self.run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&k)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
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
            let k = self.key(key);
            let r: Option<String> = self
                .run(|mut c| async move {
                    redis::cmd("SET")
                        .arg(&k)
                        .arg(value)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms(ttl))
                        .query_async::<Option<String>>(&mut c)
                        .await
                })
                .await?;
            Ok(r.is_some())
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
            let k = self.key(key);
            let script = self.swap_if.clone();
            let n: i64 = self
                .run(|mut c| async move {
                    script
                        .key(&k)
                        .arg(expected)
                        .arg(new)
                        .arg(ttl_ms(ttl))
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await?;
            Ok(n == 1)
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, expected: &'a [u8]) -> StateFuture<'a, bool> {
        Box::pin(async move {
            let k = self.key(key);
            let script = self.delete_if.clone();
            let n: i64 = self
                .run(|mut c| async move {
                    script
                        .key(&k)
                        .arg(expected)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await?;
            Ok(n == 1)
        })
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let k = self.key(key);
            let script = self.incr.clone();
            let n: i64 = self
                .run(|mut c| async move {
                    script
                        .key(&k)
                        .arg(ttl_ms(ttl))
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await?;
            u64::try_from(n).map_err(|_| StateError::Corrupt(format!("{key} went negative")))
        })
    }

    fn throttle<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
        burst: u32,
    ) -> StateFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let k = self.key(key);
            let script = self.throttle.clone();
            let wait: i64 = self
                .run(|mut c| async move {
                    script
                        .key(&k)
                        .arg(ttl_ms(interval))
                        .arg(burst.max(1))
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await?;
            Ok(u64::try_from(wait)
                .ok()
                .filter(|w| *w > 0)
                .map(Duration::from_millis))
        })
    }

    fn keys<'a>(&'a self, prefix: &'a str, limit: usize) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            // SCAN with a glob: escape the glob characters of the prefix.
            let mut pattern = String::new();
            for ch in self.key(prefix).chars() {
                if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(ch);
            }
            pattern.push('*');
            let strip = self.prefix.len();
            let mut out = Vec::new();
            let mut cursor: u64 = 0;
            // Bounded: SCAN visits every key once per full iteration; 10,000 rounds of 200 is
            // far more than the store of one server holds.
            for _ in 0..10_000 {
                let p = pattern.clone();
                let (next, batch): (u64, Vec<String>) = self
                    .run(|mut c| async move {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&p)
                            .arg("COUNT")
                            .arg(200)
                            .query_async::<(u64, Vec<String>)>(&mut c)
                            .await
                    })
                    .await?;
                out.extend(
                    batch
                        .into_iter()
                        .filter_map(|k| k.get(strip..).map(str::to_string)),
                );
                if next == 0 || out.len() >= limit {
                    break;
                }
                cursor = next;
            }
            out.sort();
            out.dedup();
            out.truncate(limit);
            Ok(out)
        })
    }

    fn publish<'a>(&'a self, channel: &'a str, payload: &'a [u8]) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let ch = self.key(channel);
            let n: i64 = self
                .run(|mut c| async move {
                    redis::cmd("PUBLISH")
                        .arg(&ch)
                        .arg(payload)
                        .query_async::<i64>(&mut c)
                        .await
                })
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn subscribe(
        &self,
        channel: &str,
        until_tried: Option<crate::readiness::ReadyGuard>,
    ) -> tokio::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let client = self.client.clone();
        let ch = self.key(channel);
        let password = self.password.clone();
        tokio::spawn(async move {
            let mut until_tried = until_tried;
            let mut backoff = Duration::from_millis(100);
            // Until the receiver is dropped: subscribe, forward, and subscribe again after
            // the connection is lost.
            while !tx.is_closed() {
                let sub = async {
                    let mut ps = client.get_async_pubsub().await?;
                    ps.subscribe(&ch).await?;
                    Ok::<_, redis::RedisError>(ps)
                };
                let attempt = tokio::time::timeout(DEADLINE * 2, sub).await;
                drop(until_tried.take());
                match attempt {
                    Ok(Ok(ps)) => {
                        backoff = Duration::from_millis(100);
                        tracing::debug!(channel = %ch, "subscribed");
                        let mut stream = ps.into_on_message();
                        loop {
                            tokio::select! {
                                m = futures::StreamExt::next(&mut stream) => match m {
                                    Some(m) => {
                                        let payload: Vec<u8> = m.get_payload_bytes().to_vec();
                                        if tx.send(payload).await.is_err() {
                                            return;
                                        }
                                    }
                                    None => break,
                                },
                                () = tx.closed() => return,
                            }
                        }
                        tracing::warn!(channel = %ch, "the shared state store dropped a subscription; subscribing again");
                    }
                    Ok(Err(e)) => {
                        let mut text = crate::redact::redact_text(&e.to_string());
                        if let Some(p) = &password {
                            text = text.replace(p.as_str(), "[redacted]");
                        }
                        tracing::warn!(channel = %ch, error = %text, "cannot subscribe to the shared state store; retrying");
                    }
                    Err(_) => {
                        tracing::warn!(channel = %ch, "subscribing to the shared state store timed out; retrying");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
        rx
    }

    fn ping(&self) -> StateFuture<'_, ()> {
        Box::pin(async move {
            let pong: String = self
                .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
                .await?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(StateError::Refused(format!(
                    "PING answered `{}`",
                    crate::validate::excerpt(&pong, 32)
                )))
            }
        })
    }
}
