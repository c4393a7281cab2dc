//! Virtual machines and containers: list, status, power actions.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use mcp_core::{Page, Paging};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{node, paging, vmid};
use crate::Proxmox;
use crate::client::model::{Guest, GuestKind, GuestStatus};

const LIST_VMS: ToolSpec = ToolSpec {
    name: "list_vms",
    title: "VMs and containers",
    description: "List virtual machines (qemu) and containers (lxc) across the cluster with node, status, CPU and memory; filter by node, kind, status and name. Paged.",
    scope: "proxmox:read",
    toolset: "vms",
    effect: Effect::ReadOnly,
    open_world: true,
};

const VM_STATUS: ToolSpec = ToolSpec {
    name: "vm_status",
    title: "VM status",
    description: "Current status of one VM or container by VMID; the node is found when not given.",
    scope: "proxmox:read",
    toolset: "vms",
    effect: Effect::ReadOnly,
    open_world: true,
};

const VM_ACTION: ToolSpec = ToolSpec {
    name: "vm_action",
    title: "VM power action",
    description: "Start, stop, shutdown, reboot, suspend, resume or reset (qemu only) a VM or container. Returns the task UPID; wait_seconds (or wait=true) waits for the task and returns its exit status, with the log tail on failure. Refuses protected guests (PROXMOX_PROTECTED_VMIDS, PROXMOX_PROTECTED_TAGS, the protection flag) for interrupting actions and VMIDs outside the configured lists.",
    scope: "proxmox:power",
    toolset: "vms",
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Qemu,
    Lxc,
    #[default]
    All,
}

impl Kind {
    fn admits(self, kind: GuestKind) -> bool {
        match self {
            Self::All => true,
            Self::Qemu => kind == GuestKind::Qemu,
            Self::Lxc => kind == GuestKind::Lxc,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Only guests on this node.
    pub node: Option<String>,
    /// `qemu`, `lxc` or `all` (default).
    #[serde(default)]
    pub kind: Kind,
    /// Only guests with this status: `running`, `stopped` or `paused`.
    pub status: Option<String>,
    /// Only names containing this text (case-insensitive).
    pub name_filter: Option<String>,
    /// Page size, 1-500; default 100.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// Node; found from the cluster when omitted.
    pub node: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Suspend,
    Resume,
    /// qemu only.
    Reset,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Shutdown => "shutdown",
            Self::Reboot => "reboot",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
        }
    }

    /// Whether the action interrupts a running guest.
    fn interrupts(self) -> bool {
        !matches!(self, Self::Start | Self::Resume)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// `start`, `stop`, `shutdown`, `reboot`, `suspend`, `resume`, or `reset` (qemu only).
    pub action: Action,
    /// Node; found from the cluster when omitted.
    pub node: Option<String>,
    /// Wait for the task to finish and report its exit status.
    #[serde(default)]
    pub wait: bool,
    /// With wait: give up after this many seconds (1-600; default 120).
    pub timeout_seconds: Option<u32>,
    /// Wait up to this many seconds for the task to end, reporting progress (0-600; default 0). Takes precedence over wait and timeout_seconds.
    pub wait_seconds: Option<u32>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

/// One guest's status, and where it is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The guest's current status, as PVE reports it.
    pub status: GuestStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    /// The action started.
    pub action: String,
    /// The task id (absent when nothing was started: dry run or pending approval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    /// With wait: `stopped` or `running` (timed out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
    /// With wait: `OK` or the task's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<String>,
    /// With wait: whether the task finished with `OK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// When the task failed: the last lines of its log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<Vec<String>>,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_VMS, list_vms),
        ToolDef::new(VM_STATUS, vm_status),
        ToolDef::new(VM_ACTION, vm_action).confirm(Confirm::When {
            when: |args| {
                matches!(
                    args.get("action").and_then(serde_json::Value::as_str),
                    Some("stop" | "reset" | "shutdown")
                )
            },
            doc: "when `action` is stop, reset or shutdown",
        }),
    ]
}

async fn list_vms(s: Arc<Proxmox>, _c: CallCtx, i: ListInput) -> Result<Page<Guest>, ToolError> {
    let node_f = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    if let Some(st) = &i.status
        && !["running", "stopped", "paused"].contains(&st.as_str())
    {
        return Err(ToolError::invalid(
            "status",
            "must be running, stopped or paused",
        ));
    }
    let name_f = i
        .name_filter
        .as_deref()
        .map(|f| {
            mcp_core::validate::name("name_filter", f, mcp_core::validate::NameRules::IDENTIFIER)
                .map(str::to_ascii_lowercase)
        })
        .transpose()?;
    // Paging arguments are checked before the cluster is asked anything.
    let paging: Paging = paging(i.limit, i.offset)?;
    let mut all: Vec<Guest> = s
        .api
        .guests()
        .await?
        .into_iter()
        .filter(|g| node_f.as_deref().is_none_or(|n| g.node == n))
        .filter(|g| i.kind.admits(g.kind))
        .filter(|g| i.status.is_none() || g.status == i.status)
        .filter(|g| {
            name_f.as_deref().is_none_or(|f| {
                g.name
                    .as_deref()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .contains(f)
            })
        })
        .collect();
    all.sort_by_key(|g| g.vmid);
    Ok(Page::of(all, paging))
}

/// Find the node and kind of a guest, checking a given node against the cluster.
async fn locate(
    s: &Proxmox,
    id: u32,
    given: Option<&str>,
) -> Result<(String, GuestKind), ToolError> {
    let found = s.api.guests().await?.into_iter().find(|g| g.vmid == id);
    match (found, given) {
        (Some(g), given) => {
            if let Some(want) = given
                && want != g.node
            {
                return Err(ToolError::invalid(
                    "node",
                    format!("VM {id} is on node {}, not {want}", g.node),
                ));
            }
            Ok((g.node, g.kind))
        }
        (None, _) => Err(ToolError::NotFound(format!(
            "no VM or container with VMID {id} in the cluster"
        ))),
    }
}

/// Whether a guest has the protection flag set (read from its config).
pub(crate) async fn protected(
    s: &Proxmox,
    node: &str,
    kind: GuestKind,
    id: u32,
) -> Result<bool, ToolError> {
    Ok(s.api.guest_config(node, kind, id).await?.protection)
}

async fn vm_status(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: StatusInput,
) -> Result<StatusOutput, ToolError> {
    status_of(&s, i.vmid, i.node.as_deref()).await
}

/// A guest's status (the `vm_status` tool and the `proxmox://guests/{vmid}` resource).
pub(crate) async fn status_of(
    s: &Proxmox,
    vmid_arg: i64,
    node_arg: Option<&str>,
) -> Result<StatusOutput, ToolError> {
    let id = vmid(vmid_arg)?;
    let given = node_arg.map(|n| node("node", n)).transpose()?;
    let (n, kind) = locate(s, id, given.as_deref()).await?;
    let status = s.api.guest_status(&n, kind, id).await?;
    Ok(StatusOutput {
        vmid: id,
        node: n,
        kind,
        status,
    })
}

async fn vm_action(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: ActionInput,
) -> Result<ActionOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let timeout = i.timeout_seconds.unwrap_or(120);
    if !(1..=600).contains(&timeout) {
        return Err(ToolError::invalid(
            "timeout_seconds",
            "must be between 1 and 600",
        ));
    }
    let wait_seconds = super::guard::wait_seconds(i.wait_seconds)?;
    super::guard::lists(&s, id)?;
    let t = super::guard::locate(&s, id, given.as_deref()).await?;
    let (n, kind) = (t.node.clone(), t.kind);
    if i.action == Action::Reset && kind != GuestKind::Qemu {
        return Err(ToolError::invalid(
            "action",
            "reset is only for qemu VMs; use reboot or stop for a container",
        ));
    }
    if i.action.interrupts() {
        super::guard::destructive(&s, &t, i.action.as_str()).await?;
    }
    let plan = Plan::new(
        VM_ACTION.name,
        format!("node {n}"),
        format!("{} {} {id}", i.action.as_str(), kind.as_str()),
        vec![PlannedChange::new(
            i.action.as_str(),
            kind.as_str(),
            id.to_string(),
        )],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = ActionOutput {
        vmid: id,
        node: n.clone(),
        kind: kind.as_str().into(),
        action: i.action.as_str().into(),
        upid: None,
        task_status: None,
        exit_status: None,
        ok: None,
        log_tail: None,
        change: ChangeReport::from_gate(plan, &gate),
    };
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s.api.guest_action(&n, kind, id, i.action.as_str()).await?;
    tracing::info!(vmid = id, node = %n, action = i.action.as_str(), upid = %upid, "power action started");
    let wait = if wait_seconds > 0 {
        wait_seconds
    } else if i.wait {
        timeout
    } else {
        0
    };
    let job = super::jobs::follow(&s, &ctx, &n, upid, Duration::from_secs(wait.into())).await?;
    out.upid = job.upid;
    out.task_status = job.task_status;
    out.exit_status = job.exit_status;
    out.ok = job.ok;
    out.log_tail = job.log_tail;
    Ok(out)
}

#[cfg(test)]
mod call_table {
    use super::*;
    use crate::client::calls::{LXC_ACTIONS, QEMU_ACTIONS};

    /// Every action the tool can send is in the client's table of calls (which
    /// tests/api_schema.rs checks against PVE's schema), for the kinds it allows.
    #[test]
    fn every_action_is_in_the_call_table() {
        for a in [
            Action::Start,
            Action::Stop,
            Action::Shutdown,
            Action::Reboot,
            Action::Suspend,
            Action::Resume,
            Action::Reset,
        ] {
            assert!(QEMU_ACTIONS.contains(&a.as_str()), "{a:?}");
            assert_eq!(
                LXC_ACTIONS.contains(&a.as_str()),
                a != Action::Reset,
                "{a:?} for lxc"
            );
        }
    }
}
