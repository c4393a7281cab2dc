//! Virtual machines and containers: list, status, power actions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{node, page, vmid};
use crate::Proxmox;

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
    description: "Start, stop, shutdown, reboot, suspend, resume or reset (qemu only) a VM or container. Returns the task UPID; with wait=true, waits for the task and returns its exit status. Refuses protected guests for stopping actions and VMIDs outside the configured allowlist.",
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
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Data {
    pub data: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionOutput {
    pub vmid: u32,
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    pub action: String,
    /// The task id.
    pub upid: String,
    /// With wait: `stopped` or `running` (timed out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
    /// With wait: `OK` or the task's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<String>,
    /// With wait: whether the task finished with `OK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_VMS, list_vms),
        ToolDef::new(VM_STATUS, vm_status),
        ToolDef::new(VM_ACTION, vm_action),
    ]
}

pub(crate) async fn guests(s: &Proxmox) -> Result<Vec<Value>, ToolError> {
    let data = s
        .api
        .get("/cluster/resources", &[("type".into(), "vm".into())])
        .await?;
    Ok(guests_of(&data))
}

/// The guests (qemu and lxc) in a `/cluster/resources` answer; nodes and storage are dropped.
pub fn guests_of(data: &Value) -> Vec<Value> {
    data.as_array()
        .map(|a| {
            a.iter()
                .filter(|r| matches!(r["type"].as_str(), Some("qemu" | "lxc")))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

async fn list_vms(s: Arc<Proxmox>, _c: CallCtx, i: ListInput) -> Result<Value, ToolError> {
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
    page(Vec::new(), i.limit, i.offset)?;
    let mut all: Vec<Value> = guests(&s)
        .await?
        .into_iter()
        .filter(|g| node_f.as_deref().is_none_or(|n| g["node"] == n))
        .filter(|g| match i.kind {
            Kind::All => true,
            Kind::Qemu => g["type"] == "qemu",
            Kind::Lxc => g["type"] == "lxc",
        })
        .filter(|g| i.status.as_deref().is_none_or(|st| g["status"] == st))
        .filter(|g| {
            name_f.as_deref().is_none_or(|f| {
                g["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .contains(f)
            })
        })
        .collect();
    all.sort_by_key(|g| g["vmid"].as_u64().unwrap_or(0));
    page(all, i.limit, i.offset)
}

/// Find (node, kind) of a guest, checking a given node against the cluster.
async fn locate(s: &Proxmox, id: u32, given: Option<&str>) -> Result<(String, String), ToolError> {
    let found = guests(s)
        .await?
        .into_iter()
        .find(|g| g["vmid"].as_u64() == Some(u64::from(id)));
    match (found, given) {
        (Some(g), given) => {
            let n = g["node"].as_str().unwrap_or_default().to_string();
            if let Some(want) = given
                && want != n
            {
                return Err(ToolError::invalid(
                    "node",
                    format!("VM {id} is on node {n}, not {want}"),
                ));
            }
            Ok((n, g["type"].as_str().unwrap_or("qemu").to_string()))
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
    kind: &str,
    id: u32,
) -> Result<bool, ToolError> {
    let config = s
        .api
        .get(&format!("/nodes/{node}/{kind}/{id}/config"), &[])
        .await?;
    Ok(config["protection"].as_i64() == Some(1) || config["protection"].as_str() == Some("1"))
}

async fn vm_status(s: Arc<Proxmox>, _c: CallCtx, i: StatusInput) -> Result<Value, ToolError> {
    let id = vmid(i.vmid)?;
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let (n, kind) = locate(&s, id, given.as_deref()).await?;
    let data = s
        .api
        .get(&format!("/nodes/{n}/{kind}/{id}/status/current"), &[])
        .await?;
    Ok(json!({"vmid": id, "node": n, "kind": kind, "status": data}))
}

async fn vm_action(
    s: Arc<Proxmox>,
    _c: CallCtx,
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
    if let Some(allow) = &s.vmid_allow
        && !allow.contains(id)
    {
        return Err(ToolError::denied(format!(
            "VMID {id} is not in PROXMOX_VMID_ALLOWLIST"
        )));
    }
    if let Some(deny) = &s.vmid_deny
        && deny.contains(id)
    {
        return Err(ToolError::denied(format!(
            "VMID {id} is in PROXMOX_VMID_DENYLIST"
        )));
    }
    let (n, kind) = locate(&s, id, given.as_deref()).await?;
    if i.action == Action::Reset && kind != "qemu" {
        return Err(ToolError::invalid(
            "action",
            "reset is only for qemu VMs; use reboot or stop for a container",
        ));
    }
    if i.action.interrupts() && protected(&s, &n, &kind, id).await? {
        return Err(ToolError::denied(format!(
            "VM {id} has the protection flag set; `{}` is refused. Clear protection in Proxmox first if this is intended",
            i.action.as_str()
        )));
    }
    let upid = s
        .api
        .write(
            reqwest::Method::POST,
            &format!("/nodes/{n}/{kind}/{id}/status/{}", i.action.as_str()),
            &[],
        )
        .await?;
    let upid = upid
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ToolError::upstream("Proxmox VE", "the action returned no task id"))?;
    tracing::info!(vmid = id, node = %n, action = i.action.as_str(), upid = %upid, "power action started");
    let mut out = ActionOutput {
        vmid: id,
        node: n.clone(),
        kind,
        action: i.action.as_str().into(),
        upid: upid.clone(),
        task_status: None,
        exit_status: None,
        ok: None,
    };
    if !i.wait {
        return Ok(out);
    }
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout));
    let mut pause = Duration::from_millis(100);
    loop {
        let st = s
            .api
            .get(&format!("/nodes/{n}/tasks/{upid}/status"), &[])
            .await?;
        let status = st["status"].as_str().unwrap_or("running").to_string();
        if status == "stopped" || Instant::now() + pause > deadline {
            out.exit_status = st["exitstatus"].as_str().map(str::to_string);
            out.ok = Some(status == "stopped" && out.exit_status.as_deref() == Some("OK"));
            out.task_status = Some(status);
            return Ok(out);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
