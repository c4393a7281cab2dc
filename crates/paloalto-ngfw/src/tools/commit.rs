//! The candidate's lifecycle: preview what differs from running, commit it (asking a human
//! first), follow a job, revert, and on Panorama push to firewalls.
//!
//! A commit's plan is the candidate-versus-running difference itself, so a confirmation or an
//! approval binds to exactly what will be committed: under the config lock the difference is
//! read again, and the commit goes ahead only when it is unchanged. The commit is a partial
//! commit of this server's administrator's changes; its description names the token's
//! subject and the reason given.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::validate;
use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, PageSpec, Paging, Plan, PlannedChange, ToolDef,
    ToolError, ToolSpec,
};
use rmcp::model::ProgressNotificationParam;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::changes::{TOOLSET, WRITE_SCOPE, locked};
use super::values;
use super::{Location, location_base};
use crate::Ngfw;
use crate::client::changes::{CommitCommand, PushCommand, PushTarget};
use crate::client::diff::{self, Diff, DiffItem};
use crate::client::model::{self, Job};
use crate::client::{ConfigSource, PanosError, XPath};

const PREVIEW_CHANGES: ToolSpec = ToolSpec {
    name: "preview_changes",
    title: "Preview changes",
    description: "List what the candidate configuration changes compared with the running configuration: objects, rules (with moves) and settings, each with before and after. This is exactly what commit_changes would commit. Optionally only one location. Paged.",
    scope: "ngfw:read",
    toolset: TOOLSET,
    effect: Effect::ReadOnly,
    open_world: true,
};

const COMMIT_CHANGES: ToolSpec = ToolSpec {
    name: "commit_changes",
    title: "Commit changes",
    description: "Commit the candidate configuration so the firewall enforces it. Asks the user to confirm the exact changes first (or, under the two-person rule, waits for another person's approval). A partial commit of this server's administrator's changes; the description names you and `reason`. Waits up to `wait_seconds` for the job, then returns its id and status (follow with commit_status).",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const COMMIT_STATUS: ToolSpec = ToolSpec {
    name: "commit_status",
    title: "Commit status",
    description: "Show a commit or push job: status (ACT, PEND, FIN), result (OK, FAIL), progress, details and warnings, and each firewall's result for a push.",
    scope: "ngfw:read",
    toolset: TOOLSET,
    effect: Effect::ReadOnly,
    open_world: true,
};

const REVERT_CHANGES: ToolSpec = ToolSpec {
    name: "revert_changes",
    title: "Revert changes",
    description: "Discard this server's administrator's uncommitted changes: the candidate configuration goes back to the running one. Asks the user to confirm first; `dry_run` lists what would be discarded.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const PUSH_TO_DEVICES: ToolSpec = ToolSpec {
    name: "push_to_devices",
    title: "Push to devices",
    description: "On Panorama: push a device group's policy or a template stack's configuration to its firewalls (commit-all), after the user confirms. Push what Panorama has committed: commit_changes first. Waits up to `wait_seconds` and reports the job and each firewall's result.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(PREVIEW_CHANGES, super::device::on_device(preview_changes)),
        ToolDef::new(COMMIT_CHANGES, super::device::on_device(commit_changes))
            .confirm(Confirm::Always),
        ToolDef::new(COMMIT_STATUS, super::device::on_device(commit_status)),
        ToolDef::new(REVERT_CHANGES, super::device::on_device(revert_changes))
            .confirm(Confirm::Always),
        ToolDef::new(PUSH_TO_DEVICES, push_to_devices).confirm(Confirm::Always),
    ]
}

/// Paging of `preview_changes`.
const PREVIEW_PAGE: PageSpec = PageSpec::new(50, 200);
/// Differences read at most: beyond this a plan says how many more there are.
const MAX_ITEMS: usize = 2000;
/// Longest wait for a job in one call: under the default 120 s call limit.
const MAX_WAIT: u64 = 110;

/// The candidate-versus-running difference, read now.
async fn current_diff(s: &Ngfw) -> Result<Diff, ToolError> {
    let candidate = s.client.whole_config(ConfigSource::Candidate).await?;
    let running = s.client.whole_config(ConfigSource::Running).await?;
    diff::diff(&candidate, &running, MAX_ITEMS).map_err(|e| PanosError::Parse(e).into())
}

fn item_name(i: &DiffItem) -> String {
    match &i.rulebase {
        Some(rb) => format!("{}:{rb}/{}", i.location, i.name),
        None => format!("{}/{}", i.location, i.name),
    }
}

/// The plan's changes for a difference: each item, then how many were not listed.
fn planned(d: &Diff, revert: bool) -> Vec<PlannedChange> {
    let mut out: Vec<PlannedChange> = d
        .items
        .iter()
        .map(|i| {
            let (action, before, after) = if revert {
                (format!("revert {}", i.action), &i.after, &i.before)
            } else {
                (i.action.clone(), &i.before, &i.after)
            };
            let mut c = PlannedChange::new(action, i.kind.as_str(), item_name(i));
            if let Some(b) = before {
                c = c.before(b.clone());
            }
            if let Some(a) = after {
                c = c.after(a.clone());
            }
            c
        })
        .collect();
    if d.total > d.items.len() {
        out.push(PlannedChange::new(
            if revert { "revert" } else { "update" },
            "more changes",
            format!("{} more not listed", d.total - d.items.len()),
        ));
    }
    out
}

// --- preview --------------------------------------------------------------------------------

/// Which differences to list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Only this location: `vsys`, `shared`, `device-group` or `pushed`; default every location (and device settings).
    pub location: Option<Location>,
    /// Virtual system for `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
}

/// The differences between candidate and running.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PreviewOutput {
    #[serde(flatten)]
    pub page: mcp_core::Page<DiffItem>,
    /// Whether there are more differences than this server reads at once (2000): commit or
    /// narrow by location to see the rest.
    pub truncated: bool,
}

async fn preview_changes(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: PreviewInput,
) -> Result<PreviewOutput, ToolError> {
    let paging = Paging::new(input.limit, input.offset, PREVIEW_PAGE)?;
    let only = match input.location {
        None => {
            if input.vsys.is_some() {
                return Err(ToolError::invalid("vsys", "is only used with a location"));
            }
            if input.device_group.is_some() {
                return Err(ToolError::invalid(
                    "device_group",
                    "is only used with location `device-group`",
                ));
            }
            None
        }
        Some(l) => Some(location_base(l, input.vsys.as_deref(), input.device_group.as_deref())?.1),
    };
    let d = current_diff(&s).await?;
    let truncated = d.total > d.items.len();
    let items: Vec<DiffItem> = d
        .items
        .into_iter()
        .filter(|i| only.as_ref().is_none_or(|l| &i.location == l))
        .collect();
    Ok(PreviewOutput {
        page: mcp_core::Page::of(items, paging),
        truncated,
    })
}

// --- jobs -----------------------------------------------------------------------------------

/// Poll job `id` until it finishes or `wait` passes, telling the client's progress token.
async fn follow(s: &Ngfw, ctx: &CallCtx, id: u64, wait: Duration) -> Result<Job, ToolError> {
    let deadline = Instant::now() + wait;
    let token = ctx.rmcp.meta.get_progress_token();
    let mut pause = Duration::from_millis(200);
    loop {
        let job = s.client.job(id).await?;
        if let Some(t) = &token {
            let n = ProgressNotificationParam::new(t.clone(), f64::from(job.progress))
                .with_total(100.0)
                .with_message(format!("job {id}: {} {}%", job.status, job.progress));
            if let Err(e) = ctx.rmcp.peer.notify_progress(n).await {
                tracing::debug!(error = %e, "progress notification not delivered");
            }
        }
        let now = Instant::now();
        if job.finished() || now >= deadline {
            return Ok(job);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The job a commit, revert or push produced, and what it means.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobOutput {
    /// The job id (absent when nothing was enqueued: a plan, a pending approval, nothing to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<u64>,
    /// `committed`, `pushed`, `reverted`, `running` (not finished within `wait_seconds`: follow with commit_status), `nothing_to_commit`, `nothing_to_push`, `unchanged`, `planned` or `pending_approval`.
    pub status: String,
    /// The job as PAN-OS last reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// The description sent with the commit or push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whose changes were committed or reverted (a partial commit by administrator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// What was done (or would be done) and how it was confirmed.
    pub change: ChangeReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn wait_of(v: Option<u64>, default: u64) -> Result<Duration, ToolError> {
    let w = v.unwrap_or(default);
    if w > MAX_WAIT {
        return Err(ToolError::invalid(
            "wait_seconds",
            format!(
                "must be 0 to {MAX_WAIT} (a call may last at most MCP_REQUEST_TIMEOUT); follow a longer job with commit_status"
            ),
        ));
    }
    Ok(Duration::from_secs(w))
}

/// The commit or push reason: one line, 1-256 characters.
fn reason(v: &str) -> Result<String, ToolError> {
    values::check_visible("reason", v)?;
    validate::check_len("reason", v, 256)?;
    let r = v.trim();
    if r.is_empty() {
        return Err(ToolError::invalid(
            "reason",
            "must say why (a change ticket, a sentence)",
        ));
    }
    Ok(r.to_string())
}

/// `REASON (by SUBJECT via secops-mcp)`.
fn description(reason: &str, subject: &str) -> String {
    format!(
        "{reason} (by {} via secops-mcp)",
        validate::excerpt(subject, 64)
    )
}

/// The administrator whose changes a partial commit or revert takes: the configured user, or
/// the holder of the config lock this call took (found by its comment).
async fn admin(s: &Ngfw, comment: &str) -> Result<String, ToolError> {
    if let Some(a) = s.admin.lock().ok().and_then(|a| a.clone()) {
        return Ok(a);
    }
    let locks = s.client.config_locks().await?;
    let mine = locks
        .iter()
        .find(|l| l.comment.as_deref() == Some(comment))
        .or_else(|| {
            locks
                .iter()
                .find(|l| l.comment.as_deref().is_some_and(|c| c.starts_with("secops-mcp ")))
        })
        .map(|l| l.admin.clone())
        .ok_or_else(|| {
            ToolError::upstream(
                "PAN-OS",
                "cannot tell which administrator this API key belongs to (the config lock this server took is not in `show config-locks`), so a partial commit of only its changes is impossible; nothing was committed. Set PANOS_USERNAME and PANOS_PASSWORD instead of PANOS_API_KEY",
            )
        })?;
    if let Ok(mut a) = s.admin.lock() {
        *a = Some(mine.clone());
    }
    Ok(mine)
}

fn not_applied(status: &str, plan: Plan, gate: &Gate, description: Option<String>) -> JobOutput {
    JobOutput {
        job_id: None,
        status: status.into(),
        job: None,
        description,
        admin: None,
        change: ChangeReport::from_gate(plan, gate),
        warnings: Vec::new(),
    }
}

fn finished_status(job: &Job, done: &str) -> Result<String, ToolError> {
    if !job.finished() {
        return Ok("running".into());
    }
    if !job.succeeded() {
        let mut details = job.details.clone();
        for d in job.devices.iter().filter(|d| d.result != "OK") {
            details.push(format!(
                "{}: {} {}",
                d.serial,
                d.result,
                d.details.join(" ")
            ));
        }
        return Err(PanosError::JobFailed {
            job: job.id,
            details,
        }
        .into());
    }
    Ok(done.into())
}

// --- commit ---------------------------------------------------------------------------------

/// Commit the candidate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Why: a change ticket or a sentence, 1-256 characters. Goes into the commit description with your name.
    pub reason: String,
    /// How long to wait for the commit job, 0-110 seconds; default 60. A job still running is reported as `running`.
    pub wait_seconds: Option<u64>,
    /// Return the plan (the changes that would be committed) without asking or committing.
    #[serde(default)]
    pub dry_run: bool,
}

async fn commit_changes(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: CommitInput,
) -> Result<JobOutput, ToolError> {
    let reason = reason(&input.reason)?;
    let wait = wait_of(input.wait_seconds, 60)?;
    let description = description(&reason, &ctx.principal.subject);
    let d = current_diff(&s).await?;
    let target = format!("{} running configuration", s.device_label());
    if d.total == 0 {
        let plan = Plan::new(
            COMMIT_CHANGES.name,
            target,
            "nothing to commit: the candidate is the running configuration",
            Vec::new(),
        );
        let mut out = not_applied(
            "nothing_to_commit",
            plan.clone(),
            &Gate::DryRun,
            Some(description),
        );
        out.change = ChangeReport::unchanged(plan);
        return Ok(out);
    }
    let mut changes = planned(&d, false);
    changes.push(
        PlannedChange::new("commit", "configuration", s.device_label().as_str()).after(json!({
            "description": description,
            "partial": "the changes of this server's PAN-OS administrator",
        })),
    );
    let plan = Plan::new(
        COMMIT_CHANGES.name,
        target,
        format!(
            "commit {} change{}: {reason}",
            d.total,
            if d.total == 1 { "" } else { "s" }
        ),
        changes,
    );
    let gate = ctx.gate(&plan, input.dry_run).await?;
    match gate {
        Gate::Proceed(_) => {}
        Gate::DryRun => return Ok(not_applied("planned", plan, &gate, Some(description))),
        Gate::Pending(_) => {
            return Ok(not_applied(
                "pending_approval",
                plan,
                &gate,
                Some(description),
            ));
        }
    }
    let (sr, dr, cr, desc) = (&s, &d, &ctx, description.clone());
    let ((job, admin), warnings) = locked(&s, &ctx, None, COMMIT_CHANGES.name, |comment| async move {
        if current_diff(sr).await? != *dr {
            return Err(ToolError::Conflict(
                "the candidate configuration changed after this commit was planned and confirmed; nothing was committed. Review preview_changes and commit again".into(),
            ));
        }
        let admin = admin(sr, &comment).await?;
        let cmd = CommitCommand {
            description: desc,
            admin: Some(admin.clone()),
        };
        let job = match sr.client.commit(&cmd).await? {
            Some(id) => Some(follow(sr, cr, id, wait).await?),
            None => None,
        };
        Ok((job, admin))
    })
    .await?;
    let status = match &job {
        None => "nothing_to_commit".to_string(),
        Some(j) => finished_status(j, "committed")?,
    };
    Ok(JobOutput {
        job_id: job.as_ref().map(|j| j.id),
        status,
        job,
        description: Some(description),
        admin: Some(admin),
        change: ChangeReport::from_gate(plan, &gate),
        warnings,
    })
}

// --- status ---------------------------------------------------------------------------------

/// Which job.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// The job id commit_changes or push_to_devices returned.
    pub job_id: u64,
}

/// A job and what it means.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOutput {
    #[serde(flatten)]
    pub job: Job,
    /// Whether the job finished.
    pub done: bool,
    /// Whether it finished with result OK (and, for a push, OK on every firewall).
    pub succeeded: bool,
}

async fn commit_status(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: StatusInput,
) -> Result<StatusOutput, ToolError> {
    if input.job_id == 0 || input.job_id > u64::from(u32::MAX) {
        return Err(ToolError::invalid(
            "job_id",
            "must be a job id (1 or more) as a commit or push returned it",
        ));
    }
    let job = s.client.job(input.job_id).await?;
    Ok(StatusOutput {
        done: job.finished(),
        succeeded: job.succeeded(),
        job,
    })
}

// --- revert ---------------------------------------------------------------------------------

/// Revert the candidate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Return the plan (the changes that would be discarded) without asking or reverting.
    #[serde(default)]
    pub dry_run: bool,
}

async fn revert_changes(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: RevertInput,
) -> Result<JobOutput, ToolError> {
    let d = current_diff(&s).await?;
    let target = format!("{} candidate configuration", s.device_label());
    if d.total == 0 {
        let plan = Plan::new(
            REVERT_CHANGES.name,
            target,
            "nothing to revert: the candidate is the running configuration",
            Vec::new(),
        );
        let mut out = not_applied("unchanged", plan.clone(), &Gate::DryRun, None);
        out.change = ChangeReport::unchanged(plan);
        return Ok(out);
    }
    let mut changes = planned(&d, true);
    changes.push(
        PlannedChange::new(
            "revert",
            "candidate configuration",
            s.device_label().as_str(),
        )
        .after(json!({
            "partial": "the changes of this server's PAN-OS administrator",
        })),
    );
    let plan = Plan::new(
        REVERT_CHANGES.name,
        target,
        format!(
            "discard {} uncommitted change{}",
            d.total,
            if d.total == 1 { "" } else { "s" }
        ),
        changes,
    );
    let gate = ctx.gate(&plan, input.dry_run).await?;
    match gate {
        Gate::Proceed(_) => {}
        Gate::DryRun => return Ok(not_applied("planned", plan, &gate, None)),
        Gate::Pending(_) => return Ok(not_applied("pending_approval", plan, &gate, None)),
    }
    let (sr, dr, cr) = (&s, &d, &ctx);
    let ((job, admin), warnings) = locked(&s, &ctx, None, REVERT_CHANGES.name, |comment| async move {
        if current_diff(sr).await? != *dr {
            return Err(ToolError::Conflict(
                "the candidate configuration changed after this revert was planned and confirmed; nothing was reverted. Review preview_changes and try again".into(),
            ));
        }
        let admin = admin(sr, &comment).await?;
        let job = match sr.client.revert(Some(&admin)).await? {
            Some(id) => Some(follow(sr, cr, id, Duration::from_secs(60)).await?),
            None => None,
        };
        Ok((job, admin))
    })
    .await?;
    let status = match &job {
        None => "reverted".to_string(),
        Some(j) => finished_status(j, "reverted")?,
    };
    Ok(JobOutput {
        job_id: job.as_ref().map(|j| j.id),
        status,
        job,
        description: None,
        admin: Some(admin),
        change: ChangeReport::from_gate(plan, &gate),
        warnings,
    })
}

// --- push -----------------------------------------------------------------------------------

/// Push from Panorama.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushInput {
    /// Push this device group's policy and objects to its firewalls. Give this or `template_stack`.
    pub device_group: Option<String>,
    /// Push this template stack's network and device settings to its firewalls.
    pub template_stack: Option<String>,
    /// Why: a change ticket or a sentence, 1-256 characters. Goes into the push description with your name.
    pub reason: String,
    /// How long to wait for the push job, 0-110 seconds; default 60.
    pub wait_seconds: Option<u64>,
    /// Return the plan without asking or pushing.
    #[serde(default)]
    pub dry_run: bool,
}

async fn push_to_devices(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: PushInput,
) -> Result<JobOutput, ToolError> {
    let (kind, name, container) = match (&input.device_group, &input.template_stack) {
        (Some(dg), None) => (
            "device-group",
            values::name("device_group", dg)?,
            "device-group",
        ),
        (None, Some(ts)) => (
            "template-stack",
            values::name("template_stack", ts)?,
            "template-stack",
        ),
        (Some(_), Some(_)) => {
            return Err(ToolError::invalid(
                "template_stack",
                "give device_group or template_stack, not both",
            ));
        }
        (None, None) => {
            return Err(ToolError::invalid(
                "device_group",
                "(or template_stack) is required",
            ));
        }
    };
    let reason = reason(&input.reason)?;
    let wait = wait_of(input.wait_seconds, 60)?;
    let description = description(&reason, &ctx.principal.subject);
    let xpath = match container {
        "device-group" => XPath::device().child("device-group").entry(&name),
        _ => XPath::device().child("template-stack").entry(&name),
    };
    let entry = s.client.entry_xml(ConfigSource::Running, &xpath).await?.ok_or_else(|| {
        ToolError::NotFound(format!(
            "there is no {kind} `{name}` in Panorama's running configuration (push_to_devices works on Panorama; commit_changes first if you just created it)"
        ))
    })?;
    let devices: Vec<String> = model::with_result(&entry, |r| {
        r.descendants()
            .filter(|n| n.has_tag_name("devices"))
            .flat_map(|d| d.children().filter(|e| e.has_tag_name("entry")))
            .filter_map(|e| e.attribute("name").map(str::to_string))
            .collect()
    })
    .map_err(|e| ToolError::from(PanosError::Parse(e)))?;
    let plan = Plan::new(
        PUSH_TO_DEVICES.name,
        format!("{} firewalls of {kind} `{name}`", s.device_label()),
        format!(
            "push {kind} `{name}` to {} firewall{}: {reason}",
            devices.len(),
            if devices.len() == 1 { "" } else { "s" }
        ),
        vec![
            PlannedChange::new("push", kind, name.as_str()).after(json!({
                "devices": devices,
                "description": description,
            })),
        ],
    );
    let gate = ctx.gate(&plan, input.dry_run).await?;
    match gate {
        Gate::Proceed(_) => {}
        Gate::DryRun => return Ok(not_applied("planned", plan, &gate, Some(description))),
        Gate::Pending(_) => {
            return Ok(not_applied(
                "pending_approval",
                plan,
                &gate,
                Some(description),
            ));
        }
    }
    let target = match kind {
        "device-group" => PushTarget::DeviceGroup(name),
        _ => PushTarget::TemplateStack(name),
    };
    let cmd = PushCommand {
        target,
        description: description.clone(),
    };
    let job = match s.client.push(&cmd).await? {
        Some(id) => Some(follow(&s, &ctx, id, wait).await?),
        None => None,
    };
    let status = match &job {
        None => "nothing_to_push".to_string(),
        Some(j) => finished_status(j, "pushed")?,
    };
    Ok(JobOutput {
        job_id: job.as_ref().map(|j| j.id),
        status,
        job,
        description: Some(description),
        admin: None,
        change: ChangeReport::from_gate(plan, &gate),
        warnings: Vec::new(),
    })
}

crate::on_device_inputs!(PreviewInput, CommitInput, StatusInput, RevertInput);
