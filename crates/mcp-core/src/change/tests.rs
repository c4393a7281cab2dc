use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;

fn plan(name: &str) -> Plan {
    Plan::new(
        "delete_item",
        "store",
        "delete it",
        vec![PlannedChange::new("delete", "item", name).before(json!("v"))],
    )
}

#[test]
fn digest_binds_tool_target_and_changes_but_not_the_summary() {
    let a = plan("a");
    assert!(
        a.digest.starts_with("sha256:") && a.digest.len() == 71,
        "{}",
        a.digest
    );
    assert_eq!(a.digest, plan("a").digest, "stable");
    assert_ne!(a.digest, plan("b").digest, "another object");
    let other_tool = Plan::new("set_item", "store", "delete it", a.changes.clone());
    assert_ne!(a.digest, other_tool.digest);
    let other_target = Plan::new("delete_item", "fw2", "delete it", a.changes.clone());
    assert_ne!(a.digest, other_target.digest);
    let reworded = Plan::new("delete_item", "store", "other words", a.changes.clone());
    assert_eq!(a.digest, reworded.digest);
    let q = a.question();
    assert!(q.starts_with("Apply 1 change to store? delete it"), "{q}");
    assert!(q.contains(&a.digest), "{q}");
}

#[test]
fn confirm_policies() {
    let args = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    assert!(!Confirm::Never.needed(&args(json!({}))));
    assert!(Confirm::Always.needed(&args(json!({}))));
    let stop = Confirm::When {
        when: |a| a.get("action").and_then(|v| v.as_str()) == Some("stop"),
        doc: "when `action` is stop",
    };
    assert!(stop.needed(&args(json!({"action": "stop"}))));
    assert!(!stop.needed(&args(json!({"action": "start"}))));
    assert_eq!(stop.doc(), "when `action` is stop");
}

#[test]
fn elicitation_answers() {
    assert_eq!(
        accepted(&json!({"action": "accept", "content": {"confirm": true}})),
        Ok(true)
    );
    assert_eq!(
        accepted(&json!({"action": "accept", "content": {"confirm": false}})),
        Ok(false)
    );
    assert_eq!(
        accepted(&json!({"action": "accept"})),
        Ok(false),
        "no confirm: not a yes"
    );
    assert_eq!(
        accepted(&json!({"action": "accept", "content": {"confirm": "true"}})),
        Ok(false)
    );
    assert_eq!(
        accepted(&json!({"action": "decline"})),
        Err("declined".into())
    );
    assert_eq!(
        accepted(&json!({"action": "cancel"})),
        Err("cancelled".into())
    );
    assert!(accepted(&json!(null)).is_err());
    assert!(accepted(&json!({"action": "yes"})).is_err());
}

#[test]
fn settings_are_checked() {
    let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
    let c = ChangeControl::from_env(&env(&[]), "ns").expect("defaults");
    assert!(!c.confirm_off && c.approvals == Approvals::Off && !c.shared_key);
    assert_eq!(c.approval_ttl, Duration::from_secs(900));
    assert_eq!(c.approve_scope(), "ns:approve");
    let c = ChangeControl::from_env(
        &env(&[
            ("MCP_CONFIRM", "off"),
            ("MCP_APPROVALS", "required"),
            ("MCP_APPROVAL_TTL", "5m"),
            ("MCP_STATE_KEY", "0123456789abcdef0123456789abcdef"),
        ]),
        "ns",
    )
    .expect("valid");
    assert!(c.confirm_off && c.approvals == Approvals::Required && c.shared_key);
    assert_eq!(c.approval_ttl, Duration::from_secs(300));
    for (k, v, needle) in [
        ("MCP_CONFIRM", "maybe", "MCP_CONFIRM"),
        ("MCP_APPROVALS", "yes", "MCP_APPROVALS"),
        ("MCP_APPROVAL_TTL", "0s", "MCP_APPROVAL_TTL"),
        ("MCP_STATE_KEY", "short", "at least 32 bytes"),
    ] {
        let e = ChangeControl::from_env(&env(&[(k, v)]), "ns").expect_err(k);
        assert!(e.to_string().contains(needle), "{k}: {e}");
        if k == "MCP_STATE_KEY" {
            assert!(
                !e.to_string().contains("`short`"),
                "the key is never echoed: {e}"
            );
        }
    }
}

#[tokio::test]
async fn two_person_rule_in_the_store() {
    let store = MemoryChangeStore::default();
    let now = SystemTime::now();
    let p = plan("a");
    let c = PendingChange::new(
        "delete_item",
        JsonObject::new(),
        "alice",
        &p,
        now,
        Duration::from_secs(60),
    );
    let id = c.id.clone();
    store.insert(c).await.expect("insert");
    assert!(matches!(
        store.consume(&id, &p.digest, now).await,
        Err(ChangeError::NotApproved(_))
    ));
    assert!(matches!(
        store.approve(&id, "alice", &p.digest, now).await,
        Err(ChangeError::SelfApproval(_))
    ));
    assert!(matches!(
        store.approve(&id, "bob", &plan("b").digest, now).await,
        Err(ChangeError::DigestMismatch { .. })
    ));
    assert!(matches!(
        store.approve("nope", "bob", &p.digest, now).await,
        Err(ChangeError::NotFound(_))
    ));
    let approved = store
        .approve(&id, "bob", &p.digest, now)
        .await
        .expect("approve");
    assert_eq!(approved.approver(), Some("bob"));
    assert!(matches!(
        store.approve(&id, "carol", &p.digest, now).await,
        Err(ChangeError::AlreadyApproved(_))
    ));
    assert_eq!(store.list(now).await.expect("list").len(), 1);
    assert!(matches!(
        store.consume(&id, &plan("b").digest, now).await,
        Err(ChangeError::DigestMismatch { .. })
    ));
    let later = now + Duration::from_secs(61);
    assert!(matches!(
        store.consume(&id, &p.digest, later).await,
        Err(ChangeError::Expired(_))
    ));
    let used = store.consume(&id, &p.digest, now).await.expect("consume");
    assert_eq!(used.approver(), Some("bob"));
    assert!(
        matches!(
            store.consume(&id, &p.digest, now).await,
            Err(ChangeError::AlreadyApplied(_))
        ),
        "single use"
    );
    assert!(
        store.list(now).await.expect("list").is_empty(),
        "applied changes are not listed"
    );
}

#[tokio::test]
async fn a_token_is_used_once() {
    let store = MemoryChangeStore::default();
    let until = SystemTime::now() + Duration::from_secs(60);
    assert!(store.use_once("confirm:a", until).await.expect("ok"));
    assert!(
        !store.use_once("confirm:a", until).await.expect("ok"),
        "second use"
    );
    assert!(store.use_once("confirm:b", until).await.expect("ok"));
    let past = SystemTime::now() - Duration::from_secs(1);
    assert!(store.use_once("confirm:c", past).await.expect("ok"));
    assert!(
        store.use_once("confirm:c", until).await.expect("ok"),
        "an expired record is forgotten"
    );
}

#[tokio::test]
async fn an_unapproved_change_expires() {
    let store = MemoryChangeStore::default();
    let now = SystemTime::now();
    let p = plan("a");
    let c = PendingChange::new(
        "delete_item",
        JsonObject::new(),
        "alice",
        &p,
        now,
        Duration::from_secs(60),
    );
    let id = c.id.clone();
    store.insert(c).await.expect("insert");
    let later = now + Duration::from_secs(61);
    assert!(matches!(
        store.approve(&id, "bob", &p.digest, later).await,
        Err(ChangeError::Expired(_))
    ));
    assert!(store.list(later).await.expect("list").is_empty());
}

#[test]
fn sealed_state_is_bound_to_subject_and_tool() {
    let c = ChangeControl::in_process("ns");
    let state = c
        .codec()
        .seal_json_with(
            &SealedConfirm {
                tool: "t".into(),
                digest: "d".into(),
                nonce: "nd".into(),
            },
            &SealOptions::new().associated_data(&associated_data("alice", "t")),
        )
        .expect("seal");
    let ok: SealedConfirm = c
        .codec()
        .open_json_with(&state, &associated_data("alice", "t"))
        .expect("open");
    assert_eq!(ok.digest, "d");
    assert!(
        c.codec()
            .open_json_with::<SealedConfirm>(&state, &associated_data("bob", "t"))
            .is_err()
    );
    assert!(
        c.codec()
            .open_json_with::<SealedConfirm>(&state, &associated_data("alice", "u"))
            .is_err()
    );
    let other = ChangeControl::in_process("ns");
    assert!(
        other
            .codec()
            .open_json_with::<SealedConfirm>(&state, &associated_data("alice", "t"))
            .is_err(),
        "another random key (another replica without MCP_STATE_KEY) cannot open it"
    );
}

#[test]
fn a_rotated_state_key_still_opens_what_the_previous_key_sealed() {
    let c = ChangeControl::from_env(&Env::from_pairs([("MCP_STATE_KEY", "a".repeat(32))]), "ns")
        .expect("key");
    let ad = associated_data("alice", "t");
    let old = c
        .codec()
        .seal_json_with(
            &SealedConfirm {
                tool: "t".into(),
                digest: "d".into(),
                nonce: "nd".into(),
            },
            &SealOptions::new().associated_data(&ad),
        )
        .expect("seal");
    c.rotate_state_key("b".repeat(32).into_bytes())
        .expect("rotate");
    let opened: SealedConfirm = c
        .codec()
        .open_json_with(&old, &ad)
        .expect("the previous key still opens");
    assert_eq!(opened.digest, "d");
    let new = c
        .codec()
        .seal_json_with(
            &SealedConfirm {
                tool: "t".into(),
                digest: "e".into(),
                nonce: "ne".into(),
            },
            &SealOptions::new().associated_data(&ad),
        )
        .expect("seal");
    // A replica that read only the new key opens what this one seals now.
    let other =
        ChangeControl::from_env(&Env::from_pairs([("MCP_STATE_KEY", "b".repeat(32))]), "ns")
            .expect("key");
    let e: SealedConfirm = other
        .codec()
        .open_json_with(&new, &ad)
        .expect("same key, same id");
    assert_eq!(e.digest, "e");
    // Two rotations later the first key is gone.
    c.rotate_state_key("c".repeat(32).into_bytes())
        .expect("rotate");
    assert!(
        c.codec()
            .open_json_with::<SealedConfirm>(&old, &ad)
            .is_err()
    );
    assert!(c.rotate_state_key(b"short".to_vec()).is_err());
}
