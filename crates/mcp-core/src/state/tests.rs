use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::change::{ChangeError, ChangeStore, PendingChange, Plan, PlannedChange};
use crate::config::Env;

const T: Duration = Duration::from_secs(60);

fn plan() -> Plan {
    Plan::new(
        "delete_item",
        "store",
        "delete item a",
        vec![PlannedChange::new("delete", "item", "a")],
    )
}

#[tokio::test]
async fn memory_primitives_are_atomic_and_expire() {
    let s = MemoryStore::default();
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
    s.put("gone", b"x", Duration::from_millis(1))
        .await
        .expect("ok");
    // Expiry is checked against the clock: wait for it by polling, bounded.
    let mut expired = false;
    for _ in 0..200 {
        if s.get("gone").await.expect("ok").is_none() {
            expired = true;
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(expired, "a 1 ms entry never expired");
    assert!(s.put_if_absent("gone", b"y", T).await.expect("ok"));
    s.put("change:1", b"1", T).await.expect("ok");
    s.put("change:2", b"2", T).await.expect("ok");
    s.put("other", b"3", T).await.expect("ok");
    assert_eq!(
        s.keys("change:", 10).await.expect("ok"),
        vec!["change:1".to_string(), "change:2".to_string()]
    );
    let big = vec![0u8; MAX_VALUE_BYTES + 1];
    assert!(matches!(
        s.put("big", &big, T).await,
        Err(StateError::Refused(_))
    ));
}

#[tokio::test]
async fn shared_change_store_applies_an_approval_once_across_racing_replicas() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
    // Three "replicas": three change stores over one state store.
    let a = SharedChangeStore::new(store.clone());
    let b = SharedChangeStore::new(store.clone());
    let c = SharedChangeStore::new(store.clone());
    let now = SystemTime::now();
    let p = plan();
    let change = PendingChange::new("delete_item", Default::default(), "alice", &p, now, T);
    let id = change.id.clone();
    a.insert(change).await.expect("ok");
    assert_eq!(b.list(now).await.expect("ok").len(), 1);
    assert!(matches!(
        b.approve(&id, "alice", &p.digest, now).await,
        Err(ChangeError::SelfApproval(_))
    ));
    assert!(matches!(
        b.approve(&id, "bob", "sha256:wrong", now).await,
        Err(ChangeError::DigestMismatch { .. })
    ));
    assert!(matches!(
        c.consume(&id, &p.digest, now).await,
        Err(ChangeError::NotApproved(_))
    ));
    let approved = b.approve(&id, "bob", &p.digest, now).await.expect("ok");
    assert_eq!(approved.approver(), Some("bob"));
    // Ten consumers race; exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = SharedChangeStore::new(store.clone());
        let id = id.clone();
        let d = p.digest.clone();
        tasks.push(tokio::spawn(async move {
            s.consume(&id, &d, SystemTime::now()).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.expect("ok") {
            Ok(_) => won += 1,
            Err(ChangeError::AlreadyApplied(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        c.get(&id).await.expect("ok").status(SystemTime::now()),
        "applied"
    );
    assert!(c.list(SystemTime::now()).await.expect("ok").is_empty());
    assert!(matches!(c.get("nope").await, Err(ChangeError::NotFound(_))));
}

#[tokio::test]
async fn a_confirmation_token_is_used_once_across_replicas() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
    let a = SharedChangeStore::new(store.clone());
    let b = SharedChangeStore::new(store);
    let until = SystemTime::now() + T;
    assert!(a.use_once("nonce-1", until).await.expect("ok"));
    assert!(!b.use_once("nonce-1", until).await.expect("ok"));
    assert!(b.use_once("nonce-2", until).await.expect("ok"));
}

#[test]
fn the_state_url_is_checked_and_never_echoed() {
    assert!(from_env(&Env::default(), "x").expect("ok").is_none());
    for (url, want) in [
        ("http://h:6379", "scheme"),
        ("redis://", "no host"),
        ("not a url s3cr3tpw", "not a URL"),
    ] {
        let err = from_env(&Env::from_pairs([("MCP_STATE_URL", url)]), "x")
            .expect_err("must fail")
            .to_string();
        assert!(err.contains(want), "{url}: {err}");
        assert!(err.contains("MCP_STATE_URL"), "{err}");
        assert!(!err.contains("s3cr3tpw"), "{err}");
    }
    let s = from_env(
        &Env::from_pairs([(
            "MCP_STATE_URL",
            "rediss://user:s3cr3t%21@cache.internal:6380/2",
        )]),
        "paloalto-ngfw",
    )
    .expect("ok")
    .expect("ok");
    assert_eq!(s.kind(), "redis");
    let shown = format!("{s:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("secops:paloalto-ngfw:"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_not_a_hang_and_never_shows_the_password() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("ok")
        .local_addr()
        .expect("ok")
        .port();
    let s =
        RedisStore::new(&format!("redis://:hunter2pw@127.0.0.1:{port}"), "secops:t:").expect("ok");
    let err = s.ping().await.expect_err("must fail");
    assert!(matches!(err, StateError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2pw"), "{err}");
    let c = SharedChangeStore::new(Arc::new(s));
    let err = c
        .use_once("t", SystemTime::now() + T)
        .await
        .expect_err("must fail");
    assert!(
        err.to_string()
            .contains("shared state store is unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn a_lease_has_one_holder_is_renewed_and_is_taken_over_when_it_lapses() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
    let a = Lease::new(store.clone(), "job", Duration::from_millis(50));
    let b = Lease::new(store.clone(), "job", Duration::from_millis(50));
    assert!(a.hold().await.expect("ok"), "a takes it");
    assert!(!b.hold().await.expect("ok"), "b cannot while a holds it");
    assert!(a.hold().await.expect("ok"), "a renews");
    // a stops renewing (it died): b gets it once the lease lapses. Bounded polling.
    let mut taken = false;
    for _ in 0..200 {
        if b.hold().await.expect("ok") {
            taken = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(taken, "b never took over");
    assert!(!a.hold().await.expect("ok"), "a lost it");
    assert!(
        !a.release().await.expect("ok"),
        "a cannot release b's lease"
    );
    assert!(b.release().await.expect("ok"));
    assert!(a.hold().await.expect("ok"), "free again");
}

#[tokio::test]
async fn a_shared_cache_fetches_once_for_every_replica_and_never_files_an_answer_across_a_write() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
    let replica = |_: usize| SharedCache::new(store.clone(), "t", T, Duration::from_secs(5));
    let caches: Vec<SharedCache> = (0..3).map(replica).collect();
    let fetches = Arc::new(AtomicUsize::new(0));
    let calls = (0..30).map(|i| {
        let c = caches[i % 3].clone();
        let n = fetches.clone();
        async move {
            c.get_or_fetch("k", || async move {
                n.fetch_add(1, Ordering::SeqCst);
                // A slow upstream, so that the others arrive while it is asked.
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok::<_, String>(b"v1".to_vec())
            })
            .await
        }
    });
    let out = futures::future::join_all(calls).await;
    assert!(
        out.iter()
            .all(|r| r.as_ref().map(|(v, _)| v.as_slice()) == Ok(&b"v1"[..]))
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch for 30 calls");
    let sources: Vec<Source> = out.into_iter().map(|r| r.expect("ok").1).collect();
    assert_eq!(sources.iter().filter(|s| **s == Source::Fetched).count(), 1);

    // An error is not cached.
    let e = caches[0]
        .get_or_fetch("e", || async { Err::<Vec<u8>, _>("down".to_string()) })
        .await;
    assert_eq!(e, Err("down".to_string()));
    let (v, s) = caches[1]
        .get_or_fetch("e", || async { Ok::<_, String>(b"up".to_vec()) })
        .await
        .expect("ok");
    assert_eq!((v.as_slice(), s), (&b"up"[..], Source::Fetched));

    // A write (invalidate) while an answer is fetched: that answer is not served afterwards.
    let writer = caches[2].clone();
    let (v, _) = caches[0]
        .get_or_fetch("w", || async move {
            writer.invalidate().await;
            Ok::<_, String>(b"old".to_vec())
        })
        .await
        .expect("ok");
    assert_eq!(v, b"old");
    let (v, s) = caches[1]
        .get_or_fetch("w", || async { Ok::<_, String>(b"new".to_vec()) })
        .await
        .expect("ok");
    assert_eq!((v.as_slice(), s), (&b"new"[..], Source::Fetched));
    let (v, s) = caches[2]
        .get_or_fetch("w", || async { Ok::<_, String>(b"newer".to_vec()) })
        .await
        .expect("ok");
    assert_eq!((v.as_slice(), s), (&b"new"[..], Source::Hit), "cached now");
}
