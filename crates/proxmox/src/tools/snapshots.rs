//! Snapshots of VMs and containers: list, create, roll back, delete.
//!
//! Creating a snapshot adds state and interrupts nothing: no confirmation, and allowed on
//! protected guests (a snapshot before a risky change is what protection wants). Rolling
//! back discards the guest's present state and deleting removes a recovery point: both ask
//! for confirmation and are refused for protected guests.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::guard::{self, Target};
use super::jobs::{self, Job};
use super::vmid;
use crate::Proxmox;
use crate::client::model::{GuestKind, Snapshot};

const LIST_SNAPSHOTS: ToolSpec = ToolSpec {
    name: "list_snapshots",
    title: "Guest snapshots",
    description: "List the snapshots of a VM or container by VMID: name, description, time, parent (the tree), whether RAM is included; the last entry, `current`, is the present state and names the snapshot it descends from.",
    scope: "proxmox:read",
    toolset: "snapshots",
    effect: Effect::ReadOnly,
    open_world: true,
};

const CREATE_SNAPSHOT: ToolSpec = ToolSpec {
    name: "create_snapshot",
    title: "Create snapshot",
    description: "Take a snapshot of a VM or container by VMID (name, description; include_ram for a running qemu VM). Returns the task UPID; wait_seconds waits for it. Allowed on protected guests; VMIDs outside the configured lists are refused.",
    scope: "proxmox:snapshot",
    toolset: "snapshots",
    effect: Effect::AdditiveWrite,
    open_world: true,
};

const ROLLBACK_SNAPSHOT: ToolSpec = ToolSpec {
    name: "rollback_snapshot",
    title: "Roll back to snapshot",
    description: "Roll a VM or container back to a snapshot, discarding its present state (a VM without RAM in the snapshot is stopped; start=true starts it after). Asks for confirmation. Refused for protected guests. Returns the task UPID; wait_seconds waits for it.",
    scope: "proxmox:snapshot",
    toolset: "snapshots",
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

const DELETE_SNAPSHOT: ToolSpec = ToolSpec {
    name: "delete_snapshot",
    title: "Delete snapshot",
    description: "Delete a snapshot of a VM or container (its children move up to its parent). Asks for confirmation. Refused for protected guests. Returns the task UPID; wait_seconds waits for it.",
    scope: "proxmox:snapshot",
    toolset: "snapshots",
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// Snapshot name: a letter, then one or more letters, digits, `-` and `_`; 2 to 40 characters.
    pub name: String,
    /// Description, at most 1024 characters.
    pub description: Option<String>,
    /// qemu only: include the VM's RAM, so a rollback resumes it running.
    #[serde(default)]
    pub include_ram: bool,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
    /// Wait up to this many seconds for the task to end (0-600; default 0: return the UPID at once).
    pub wait_seconds: Option<u32>,
    /// Show the plan without acting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// The snapshot to roll back to.
    pub name: String,
    /// Start the guest after the rollback.
    #[serde(default)]
    pub start: bool,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
    /// Wait up to this many seconds for the task to end (0-600; default 0).
    pub wait_seconds: Option<u32>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// The snapshot to delete.
    pub name: String,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
    /// Wait up to this many seconds for the task to end (0-600; default 0).
    pub wait_seconds: Option<u32>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The snapshots, then `current`.
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The snapshot.
    pub name: String,
    /// The task started, and with wait_seconds how it ended.
    #[serde(flatten)]
    pub job: Job,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_SNAPSHOTS, list_snapshots),
        ToolDef::new(CREATE_SNAPSHOT, create_snapshot).confirm(Confirm::Never),
        ToolDef::new(ROLLBACK_SNAPSHOT, rollback_snapshot).confirm(Confirm::Always),
        ToolDef::new(DELETE_SNAPSHOT, delete_snapshot).confirm(Confirm::Always),
    ]
}

async fn list_snapshots(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: ListInput,
) -> Result<ListOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let given = i
        .node
        .as_deref()
        .map(|n| super::node("node", n))
        .transpose()?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    let snapshots = s.api.snapshots(&t.node, t.kind, id).await?;
    Ok(ListOutput {
        vmid: id,
        node: t.node,
        kind: t.kind,
        snapshots,
    })
}

/// The snapshot `name` of `t`, or a NotFound that lists the ones there are.
async fn existing(s: &Proxmox, t: &Target, name: &str) -> Result<Snapshot, ToolError> {
    let all = s.api.snapshots(&t.node, t.kind, t.vmid).await?;
    let names: Vec<&str> = all
        .iter()
        .map(|x| x.name.as_str())
        .filter(|n| *n != "current")
        .collect();
    match all.iter().find(|x| x.name == name) {
        Some(x) => Ok(x.clone()),
        None => Err(ToolError::NotFound(format!(
            "VM {} has no snapshot `{name}` (it has: {}); see list_snapshots",
            t.vmid,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))),
    }
}

fn output(t: Target, name: String, plan: Plan, gate: &Gate) -> SnapshotOutput {
    SnapshotOutput {
        vmid: t.vmid,
        node: t.node,
        kind: t.kind,
        name,
        job: Job::default(),
        change: ChangeReport::from_gate(plan, gate),
    }
}

async fn create_snapshot(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: CreateInput,
) -> Result<SnapshotOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let name = guard::snapname(&i.name)?;
    let description = i
        .description
        .as_deref()
        .map(|d| guard::text("description", d, 1024))
        .transpose()?;
    let wait = guard::wait_seconds(i.wait_seconds)?;
    let given = i
        .node
        .as_deref()
        .map(|n| super::node("node", n))
        .transpose()?;
    guard::lists(&s, id)?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    if i.include_ram && t.kind != GuestKind::Qemu {
        return Err(ToolError::invalid(
            "include_ram",
            "is for qemu VMs only; a container snapshot never includes RAM",
        ));
    }
    let mut change = PlannedChange::new("create", "snapshot", format!("{id}/{name}"));
    change = change.after(serde_json::json!({
        "description": description,
        "include_ram": i.include_ram,
    }));
    let plan = Plan::new(
        CREATE_SNAPSHOT.name,
        format!("{} {id} on node {}", t.kind, t.node),
        format!("snapshot {} {id} as `{name}`", t.kind),
        vec![change],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = output(t.clone(), name.clone(), plan, &gate);
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s
        .api
        .create_snapshot(
            &t.node,
            t.kind,
            id,
            &name,
            description.as_deref(),
            i.include_ram,
        )
        .await?;
    tracing::info!(vmid = id, node = %t.node, snapshot = %name, upid = %upid, "snapshot started");
    out.job = jobs::follow(&s, &ctx, &t.node, upid, Duration::from_secs(wait.into())).await?;
    Ok(out)
}

async fn rollback_snapshot(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: RollbackInput,
) -> Result<SnapshotOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let name = guard::snapname(&i.name)?;
    let wait = guard::wait_seconds(i.wait_seconds)?;
    let given = i
        .node
        .as_deref()
        .map(|n| super::node("node", n))
        .transpose()?;
    guard::lists(&s, id)?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    guard::destructive(&s, &t, "rollback_snapshot").await?;
    let snap = existing(&s, &t, &name).await?;
    let plan = Plan::new(
        ROLLBACK_SNAPSHOT.name,
        format!("{} {id} on node {}", t.kind, t.node),
        format!(
            "roll {} {id} back to snapshot `{name}`, discarding its present state",
            t.kind
        ),
        vec![
            PlannedChange::new("rollback", t.kind.as_str(), id.to_string()).after(
                serde_json::json!({
                    "snapshot": name,
                    "snaptime": snap.snaptime,
                    "start": i.start,
                }),
            ),
        ],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = output(t.clone(), name.clone(), plan, &gate);
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s.api.rollback(&t.node, t.kind, id, &name, i.start).await?;
    tracing::info!(vmid = id, node = %t.node, snapshot = %name, upid = %upid, "rollback started");
    out.job = jobs::follow(&s, &ctx, &t.node, upid, Duration::from_secs(wait.into())).await?;
    Ok(out)
}

async fn delete_snapshot(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: DeleteInput,
) -> Result<SnapshotOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let name = guard::snapname(&i.name)?;
    let wait = guard::wait_seconds(i.wait_seconds)?;
    let given = i
        .node
        .as_deref()
        .map(|n| super::node("node", n))
        .transpose()?;
    guard::lists(&s, id)?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    guard::destructive(&s, &t, "delete_snapshot").await?;
    let snap = existing(&s, &t, &name).await?;
    let plan = Plan::new(
        DELETE_SNAPSHOT.name,
        format!("{} {id} on node {}", t.kind, t.node),
        format!("delete snapshot `{name}` of {} {id}", t.kind),
        vec![
            PlannedChange::new("delete", "snapshot", format!("{id}/{name}")).before(
                serde_json::json!({
                    "description": snap.description,
                    "snaptime": snap.snaptime,
                    "parent": snap.parent,
                }),
            ),
        ],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = output(t.clone(), name.clone(), plan, &gate);
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s.api.delete_snapshot(&t.node, t.kind, id, &name).await?;
    tracing::info!(vmid = id, node = %t.node, snapshot = %name, upid = %upid, "snapshot delete started");
    out.job = jobs::follow(&s, &ctx, &t.node, upid, Duration::from_secs(wait.into())).await?;
    Ok(out)
}
