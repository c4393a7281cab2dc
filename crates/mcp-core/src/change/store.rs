//! Pending changes under the two-person rule, behind one trait so that a store shared by
//! replicas can replace the in-memory one.
//!
//! Every state change is one call that checks and updates together (approve, consume), so
//! a shared store can make each one atomic and two replicas cannot both apply one approval.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};

use super::Plan;

/// Where a pending change stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChangeState {
    /// Waiting for another subject's approval.
    Pending,
    /// Approved; the writer may apply it once until `until`.
    Approved {
        by: String,
        at: SystemTime,
        until: SystemTime,
    },
    /// Applied (the approval is used up).
    Applied { at: SystemTime, approver: String },
}

/// A write stored for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingChange {
    /// Random id (UUID v4).
    pub id: String,
    /// The tool that will be called.
    pub tool: String,
    /// Its arguments, as the writer sent them.
    pub arguments: JsonObject,
    /// Who asked for it.
    pub subject: String,
    /// The plan's digest: what the approver approves.
    pub digest: String,
    /// The plan, to show to the approver.
    pub plan: Plan,
    pub created_at: SystemTime,
    /// The pending change lapses unless approved by then.
    pub expires_at: SystemTime,
    pub state: ChangeState,
    /// How long an approval stays valid.
    pub approval_ttl: Duration,
}

impl PendingChange {
    /// A new pending change.
    pub fn new(
        tool: &str,
        arguments: JsonObject,
        subject: &str,
        plan: &Plan,
        now: SystemTime,
        ttl: Duration,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            tool: tool.to_string(),
            arguments,
            subject: subject.to_string(),
            digest: plan.digest.clone(),
            plan: plan.clone(),
            created_at: now,
            expires_at: now + ttl,
            state: ChangeState::Pending,
            approval_ttl: ttl,
        }
    }

    /// The approver, once approved or applied.
    pub fn approver(&self) -> Option<&str> {
        match &self.state {
            ChangeState::Approved { by, .. } => Some(by),
            ChangeState::Applied { approver, .. } => Some(approver),
            ChangeState::Pending => None,
        }
    }

    /// `pending`, `approved`, `applied` or `expired` at `now`.
    pub fn status(&self, now: SystemTime) -> &'static str {
        match &self.state {
            ChangeState::Pending if now > self.expires_at => "expired",
            ChangeState::Pending => "pending",
            ChangeState::Approved { until, .. } if now > *until => "expired",
            ChangeState::Approved { .. } => "approved",
            ChangeState::Applied { .. } => "applied",
        }
    }
}

/// Why a change-store operation was refused. The text is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("no pending change {0} (it never existed, or it expired and was forgotten)")]
    NotFound(String),
    #[error("change {0} has expired; submit it again")]
    Expired(String),
    #[error("change {0} was already applied; an approval is good for one apply")]
    AlreadyApplied(String),
    #[error("change {0} is already approved")]
    AlreadyApproved(String),
    #[error("change {0} is not approved yet")]
    NotApproved(String),
    #[error("a subject cannot approve their own change ({0})")]
    SelfApproval(String),
    #[error("digest {given} is not the digest of change {id}; approve exactly what you were shown")]
    DigestMismatch { id: String, given: String },
    #[error("change {0} belongs to another subject; only its writer applies it")]
    NotWriter(String),
    #[error("the change store failed: {0}")]
    Store(String),
}

/// A boxed store future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChangeError>> + Send + 'a>>;

/// Where pending changes live.
pub trait ChangeStore: Send + Sync + std::fmt::Debug {
    /// Store a new pending change.
    fn insert(&self, change: PendingChange) -> StoreFuture<'_, ()>;
    /// One change.
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, PendingChange>;
    /// Changes still worth showing (pending or approved, not expired), newest first.
    fn list(&self, now: SystemTime) -> StoreFuture<'_, Vec<PendingChange>>;
    /// Approve change `id` as `approver`, who names its `digest`.
    fn approve<'a>(
        &'a self,
        id: &'a str,
        approver: &'a str,
        digest: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, PendingChange>;
    /// Use up the approval of change `id` whose plan still has `digest`.
    fn consume<'a>(
        &'a self,
        id: &'a str,
        digest: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, PendingChange>;
    /// Record `token` as used until `until`: `true` the first time, `false` after (a
    /// confirmation sent twice).
    fn use_once<'a>(&'a self, token: &'a str, until: SystemTime) -> StoreFuture<'a, bool>;
}

/// The in-process store (the default). Expired changes are dropped an hour after they lapse.
#[derive(Debug, Default)]
pub struct MemoryChangeStore {
    changes: Mutex<HashMap<String, PendingChange>>,
    used: Mutex<HashMap<String, SystemTime>>,
}

/// Checks shared by every store: may `approver` approve `c` with `digest` at `now`?
pub fn check_approve(
    c: &PendingChange,
    approver: &str,
    digest: &str,
    now: SystemTime,
) -> Result<(), ChangeError> {
    match c.status(now) {
        "expired" => return Err(ChangeError::Expired(c.id.clone())),
        "applied" => return Err(ChangeError::AlreadyApplied(c.id.clone())),
        "approved" => return Err(ChangeError::AlreadyApproved(c.id.clone())),
        _ => {}
    }
    if c.subject == approver {
        return Err(ChangeError::SelfApproval(c.id.clone()));
    }
    if c.digest != digest {
        return Err(ChangeError::DigestMismatch {
            id: c.id.clone(),
            given: crate::validate::excerpt(digest, 80),
        });
    }
    Ok(())
}

/// The approval of `c` by `approver`, checked and recorded (every store's `approve`).
pub fn approve_in_place(
    c: &mut PendingChange,
    approver: &str,
    digest: &str,
    now: SystemTime,
) -> Result<(), ChangeError> {
    check_approve(c, approver, digest, now)?;
    c.state = ChangeState::Approved {
        by: approver.to_string(),
        at: now,
        until: now + c.approval_ttl,
    };
    Ok(())
}

/// The approval of `c` used for `digest`, checked and recorded (every store's `consume`).
pub fn consume_in_place(
    c: &mut PendingChange,
    digest: &str,
    now: SystemTime,
) -> Result<(), ChangeError> {
    check_consume(c, digest, now)?;
    let approver = c.approver().unwrap_or_default().to_string();
    c.state = ChangeState::Applied { at: now, approver };
    Ok(())
}

/// Checks shared by every store: may the approval of `c` be used for `digest` at `now`?
pub fn check_consume(c: &PendingChange, digest: &str, now: SystemTime) -> Result<(), ChangeError> {
    match c.status(now) {
        "expired" => Err(ChangeError::Expired(c.id.clone())),
        "applied" => Err(ChangeError::AlreadyApplied(c.id.clone())),
        "pending" => Err(ChangeError::NotApproved(c.id.clone())),
        _ if c.digest != digest => Err(ChangeError::DigestMismatch {
            id: c.id.clone(),
            given: crate::validate::excerpt(digest, 80),
        }),
        _ => Ok(()),
    }
}

impl MemoryChangeStore {
    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, PendingChange>>, ChangeError> {
        self.changes
            .lock()
            .map_err(|_| ChangeError::Store("the in-memory store is poisoned".into()))
    }

    fn forget_old(m: &mut HashMap<String, PendingChange>, now: SystemTime) {
        let keep = Duration::from_secs(3600);
        m.retain(|_, c| {
            let end = match &c.state {
                ChangeState::Pending => c.expires_at,
                ChangeState::Approved { until, .. } => *until,
                ChangeState::Applied { at, .. } => *at,
            };
            end + keep > now
        });
    }
}

impl ChangeStore for MemoryChangeStore {
    fn insert(&self, change: PendingChange) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut m = self.lock()?;
            Self::forget_old(&mut m, change.created_at);
            m.insert(change.id.clone(), change);
            Ok(())
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, PendingChange> {
        Box::pin(async move {
            self.lock()?
                .get(id)
                .cloned()
                .ok_or_else(|| ChangeError::NotFound(crate::validate::excerpt(id, 64)))
        })
    }

    fn list(&self, now: SystemTime) -> StoreFuture<'_, Vec<PendingChange>> {
        Box::pin(async move {
            let m = self.lock()?;
            let mut v: Vec<_> = m
                .values()
                .filter(|c| matches!(c.status(now), "pending" | "approved"))
                .cloned()
                .collect();
            v.sort_by_key(|c| std::cmp::Reverse(c.created_at));
            Ok(v)
        })
    }

    fn approve<'a>(
        &'a self,
        id: &'a str,
        approver: &'a str,
        digest: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, PendingChange> {
        Box::pin(async move {
            let mut m = self.lock()?;
            let c = m
                .get_mut(id)
                .ok_or_else(|| ChangeError::NotFound(crate::validate::excerpt(id, 64)))?;
            approve_in_place(c, approver, digest, now)?;
            Ok(c.clone())
        })
    }

    fn consume<'a>(
        &'a self,
        id: &'a str,
        digest: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, PendingChange> {
        Box::pin(async move {
            let mut m = self.lock()?;
            let c = m
                .get_mut(id)
                .ok_or_else(|| ChangeError::NotFound(crate::validate::excerpt(id, 64)))?;
            consume_in_place(c, digest, now)?;
            Ok(c.clone())
        })
    }

    fn use_once<'a>(&'a self, token: &'a str, until: SystemTime) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut used = self
                .used
                .lock()
                .map_err(|_| ChangeError::Store("the in-memory store is poisoned".into()))?;
            let now = SystemTime::now();
            used.retain(|_, t| *t > now);
            Ok(used.insert(token.to_string(), until).is_none())
        })
    }
}
