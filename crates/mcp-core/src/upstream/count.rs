//! Counting upstream requests per tool call, for the audit event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

tokio::task_local! {
    static CALLS: Arc<AtomicU32>;
}

/// Run `fut` and return its output with the number of upstream requests it made.
pub async fn count_upstream_calls<F: std::future::Future>(fut: F) -> (F::Output, u32) {
    let counter = Arc::new(AtomicU32::new(0));
    let out = CALLS.scope(counter.clone(), fut).await;
    (out, counter.load(Ordering::Relaxed))
}

/// Note one upstream request made on behalf of the current tool call, if any.
pub fn record_upstream_call() {
    let _ = CALLS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
}
