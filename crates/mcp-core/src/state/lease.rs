//! One replica at a time: a lease in the shared store, renewed by its holder and taken over
//! by another replica when the holder stops renewing (it died, or lost the store).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{StateError, StateStore};

/// A named lease held by this replica's `holder` id.
#[derive(Debug, Clone)]
pub struct Lease {
    store: Arc<dyn StateStore>,
    key: String,
    holder: String,
    ttl: Duration,
}

impl Lease {
    /// The lease `name`, held for `ttl` after each [`Lease::hold`] by a new random holder id.
    pub fn new(store: Arc<dyn StateStore>, name: &str, ttl: Duration) -> Self {
        Self {
            store,
            key: format!("lease:{name}"),
            holder: uuid::Uuid::new_v4().to_string(),
            ttl,
        }
    }

    /// This replica's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Renew the lease if this replica holds it, or take it if nobody does: `true` if this
    /// replica holds it for the next `ttl`.
    pub async fn hold(&self) -> Result<bool, StateError> {
        let me = self.holder.as_bytes();
        if self.store.swap_if(&self.key, me, me, self.ttl).await? {
            return Ok(true);
        }
        self.store.put_if_absent(&self.key, me, self.ttl).await
    }

    /// Give the lease up now (on shutdown), if this replica holds it.
    pub async fn release(&self) -> Result<bool, StateError> {
        self.store
            .delete_if(&self.key, self.holder.as_bytes())
            .await
    }
}

/// Run `job` every `every`: on every replica without a shared store (as before), or on the
/// one replica that holds the lease `name` with one. The lease outlives a renewal by half an
/// interval, so a replica that dies (even by SIGKILL) is replaced within about 1.5 intervals.
///
/// When the store is unreachable the job runs anyway, on this replica: a job that is safe to
/// repeat (the aws-whitelist sweep is) should not stop because the store did. The fallback is
/// logged and counted in `mcp_state_fallback_total{use="lease"}`.
pub fn every_on_one_replica<F, Fut>(
    state: Option<Arc<dyn StateStore>>,
    name: &'static str,
    every: Duration,
    job: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let lease = state.map(|s| Lease::new(s, name, every + every / 2));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut held = false;
        loop {
            tick.tick().await;
            if let Some(l) = &lease {
                match l.hold().await {
                    Ok(true) => {
                        if !held {
                            tracing::info!(
                                job = name,
                                holder = l.holder(),
                                "this replica now holds the lease and runs the job"
                            );
                        }
                        held = true;
                    }
                    Ok(false) => {
                        if held {
                            tracing::info!(job = name, "another replica holds the lease now");
                        }
                        held = false;
                        continue;
                    }
                    Err(e) => {
                        metrics::counter!("mcp_state_fallback_total", "use" => "lease")
                            .increment(1);
                        tracing::warn!(job = name, error = %e, "the shared state store is unreachable: the job runs on this replica this time (it may also run on others)");
                        held = false;
                    }
                }
            }
            metrics::counter!("mcp_scheduled_jobs_total", "job" => name).increment(1);
            job().await;
        }
    });
}
