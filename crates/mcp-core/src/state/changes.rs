//! Pending changes and approvals in a [`StateStore`], so that a change submitted on one
//! replica can be approved on a second and applied on a third.
//!
//! Each change is one JSON value under `change:<id>`. Approve and consume read it, check it
//! with the same rules as the in-memory store, and write it back with a compare-and-swap on
//! the exact bytes read: if another replica changed it in between, the swap fails and the
//! change is read and checked again. So an approval is consumed once, whichever replicas race.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{StateError, StateStore};
use crate::change::{
    ChangeError, ChangeState, ChangeStore, PendingChange, StoreFuture, approve_in_place,
    consume_in_place,
};

/// How long a change is kept after it lapses or is applied (as the in-memory store does).
const KEEP: Duration = Duration::from_secs(3600);
/// The most changes `list` reads.
const LIST_LIMIT: usize = 1000;
/// Compare-and-swap attempts before giving up on a change many replicas write at once.
const ATTEMPTS: usize = 16;

/// [`ChangeStore`] over any [`StateStore`].
#[derive(Debug, Clone)]
pub struct SharedChangeStore {
    store: Arc<dyn StateStore>,
}

impl SharedChangeStore {
    /// Changes kept in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self { store }
    }

    fn key(id: &str) -> String {
        format!("change:{id}")
    }

    /// How long the stored value should live from `now`.
    fn ttl(c: &PendingChange, now: SystemTime) -> Duration {
        let end = match &c.state {
            ChangeState::Pending => c.expires_at,
            ChangeState::Approved { until, .. } => *until,
            ChangeState::Applied { at, .. } => *at,
        };
        (end + KEEP).duration_since(now).unwrap_or(KEEP)
    }

    fn encode(c: &PendingChange) -> Result<Vec<u8>, ChangeError> {
        serde_json::to_vec(c).map_err(|e| ChangeError::Store(format!("cannot encode: {e}")))
    }

    fn decode(raw: &[u8]) -> Result<PendingChange, ChangeError> {
        serde_json::from_slice(raw)
            .map_err(|e| ChangeError::Store(StateError::Corrupt(e.to_string()).to_string()))
    }

    async fn read(&self, id: &str) -> Result<(Vec<u8>, PendingChange), ChangeError> {
        let raw = self
            .store
            .get(&Self::key(id))
            .await
            .map_err(store_error)?
            .ok_or_else(|| ChangeError::NotFound(crate::validate::excerpt(id, 64)))?;
        let c = Self::decode(&raw)?;
        Ok((raw, c))
    }

    /// Read change `id`, let `step` check and change it, and write it back only if nobody
    /// else wrote it meanwhile; otherwise read again.
    async fn update(
        &self,
        id: &str,
        now: SystemTime,
        step: impl Fn(&mut PendingChange) -> Result<(), ChangeError>,
    ) -> Result<PendingChange, ChangeError> {
        for _ in 0..ATTEMPTS {
            let (raw, mut c) = self.read(id).await?;
            step(&mut c)?;
            let new = Self::encode(&c)?;
            if self
                .store
                .swap_if(&Self::key(id), &raw, &new, Self::ttl(&c, now))
                .await
                .map_err(store_error)?
            {
                return Ok(c);
            }
        }
        Err(ChangeError::Store(format!(
            "change {} is being written by other replicas; try again",
            crate::validate::excerpt(id, 64)
        )))
    }
}

/// `once:<sha256 of token>`: a bounded key whatever the token.
fn once_key(token: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(token.as_bytes());
    let mut k = String::from("once:");
    for b in d {
        k.push_str(&format!("{b:02x}"));
    }
    k
}

fn store_error(e: StateError) -> ChangeError {
    metrics::counter!("mcp_state_errors_total", "use" => "changes").increment(1);
    tracing::warn!(error = %e, "change store: the shared state store failed");
    ChangeError::Store(e.to_string())
}

impl ChangeStore for SharedChangeStore {
    fn insert(&self, change: PendingChange) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let raw = Self::encode(&change)?;
            let ttl = Self::ttl(&change, change.created_at);
            let fresh = self
                .store
                .put_if_absent(&Self::key(&change.id), &raw, ttl)
                .await
                .map_err(store_error)?;
            if fresh {
                Ok(())
            } else {
                Err(ChangeError::Store(format!(
                    "change id {} is already taken",
                    change.id
                )))
            }
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, PendingChange> {
        Box::pin(async move { self.read(id).await.map(|(_, c)| c) })
    }

    fn list(&self, now: SystemTime) -> StoreFuture<'_, Vec<PendingChange>> {
        Box::pin(async move {
            let keys = self
                .store
                .keys("change:", LIST_LIMIT)
                .await
                .map_err(store_error)?;
            let mut v = Vec::new();
            for k in keys {
                // A change that lapsed between the listing and the read is simply not shown.
                let Some(raw) = self.store.get(&k).await.map_err(store_error)? else {
                    continue;
                };
                let c = Self::decode(&raw)?;
                if matches!(c.status(now), "pending" | "approved") {
                    v.push(c);
                }
            }
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
            self.update(id, now, |c| approve_in_place(c, approver, digest, now))
                .await
        })
    }

    fn consume<'a>(
        &'a self,
        id: &'a str,
        digest: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, PendingChange> {
        Box::pin(async move {
            self.update(id, now, |c| consume_in_place(c, digest, now))
                .await
        })
    }

    fn use_once<'a>(&'a self, token: &'a str, until: SystemTime) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let ttl = until
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::from_millis(1));
            self.store
                .put_if_absent(&once_key(token), b"1", ttl)
                .await
                .map_err(store_error)
        })
    }
}
