//! Tasks a tool starts: the UPID it returns, and with `wait_seconds` the polling until the
//! task ends, with MCP progress notifications when the client gave a progress token, and
//! the tail of the task's log when it failed.

use std::time::{Duration, Instant};

use mcp_core::reexport::rmcp::model::ProgressNotificationParam;
use mcp_core::{CallCtx, ToolError};
use schemars::JsonSchema;
use serde::Serialize;

use crate::Proxmox;

/// Lines of a failed task's log returned.
pub const LOG_TAIL: usize = 20;

/// A task a tool started.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Job {
    /// The task id (absent when nothing was started: dry run or pending approval). Follow it with task_status and task_log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    /// With wait_seconds: `stopped`, or `running` when the task did not end in time (follow it with task_status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
    /// Once stopped: `OK` or the task's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<String>,
    /// With wait_seconds: `true` only for a task that stopped with `OK` (`false` when it failed or still runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// When the task failed: the last lines of its log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<Vec<String>>,
}

/// Poll task `upid` on `node` for up to `wait`, telling the client's progress token; the log
/// tail is read when it failed. `wait` zero: the UPID only.
pub async fn follow(
    s: &Proxmox,
    ctx: &CallCtx,
    node: &str,
    upid: String,
    wait: Duration,
) -> Result<Job, ToolError> {
    let mut job = Job {
        upid: Some(upid.clone()),
        ..Job::default()
    };
    if wait.is_zero() {
        return Ok(job);
    }
    let started = Instant::now();
    let deadline = started + wait;
    let token = ctx.rmcp.meta.get_progress_token();
    let mut pause = Duration::from_millis(100);
    loop {
        let st = s.api.task_status(node, &upid).await?;
        let status = st.status.clone().unwrap_or_else(|| "running".into());
        if let Some(t) = &token {
            let elapsed = started.elapsed().as_secs_f64();
            let n = ProgressNotificationParam::new(t.clone(), elapsed.min(wait.as_secs_f64()))
                .with_total(wait.as_secs_f64())
                .with_message(format!(
                    "task {}: {status}",
                    st.task_type.as_deref().unwrap_or("?")
                ));
            if let Err(e) = ctx.rmcp.peer.notify_progress(n).await {
                tracing::debug!(error = %e, "progress notification not delivered");
            }
        }
        let now = Instant::now();
        if status == "stopped" {
            let ok = st.exitstatus.as_deref() == Some("OK");
            job.exit_status = st.exitstatus;
            job.ok = Some(ok);
            job.task_status = Some(status);
            if !ok {
                job.log_tail = Some(tail(s, node, &upid).await?);
            }
            return Ok(job);
        }
        if now >= deadline {
            job.task_status = Some(status);
            job.ok = Some(false);
            return Ok(job);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The last [`LOG_TAIL`] lines of a task's log.
pub async fn tail(s: &Proxmox, node: &str, upid: &str) -> Result<Vec<String>, ToolError> {
    let lines = s.api.task_log(node, upid).await?;
    let skip = lines.len().saturating_sub(LOG_TAIL);
    Ok(lines.into_iter().skip(skip).map(|l| l.t).collect())
}
