//! Reads of the cluster's infrastructure: storages with usage, network interfaces, firewall
//! rules, and tasks (recent tasks and a task's log).

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{guard, node, upid, vmid};
use crate::Proxmox;
use crate::client::calls::FirewallLevel;
use crate::client::model::{FirewallRule, NetworkIface, StorageEntry, TaskEntry};

const LIST_STORAGE: ToolSpec = ToolSpec {
    name: "list_storage",
    title: "Storage",
    description: "Storages of each node (or one node) with type, content types (backup, images, iso, ...), total, used and free bytes: where guests and backups can go.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const LIST_NETWORKS: ToolSpec = ToolSpec {
    name: "list_networks",
    title: "Network interfaces",
    description: "Network interfaces of each node (or one node): bridges, bonds, VLANs and ports with addresses; with guest_config's net0..netN this answers which bridge a guest is on.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const LIST_FIREWALL_RULES: ToolSpec = ToolSpec {
    name: "list_firewall_rules",
    title: "Firewall rules",
    description: "Firewall rules of the cluster (no arguments), of a node (node), or of a guest (vmid), in order.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const LIST_TASKS: ToolSpec = ToolSpec {
    name: "list_tasks",
    title: "Recent tasks",
    description: "Recent tasks (running and finished, newest first) of each node or one node, filtered by guest VMID and task type (e.g. vzdump, qmsnapshot, qmrollback, qmstart).",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const TASK_LOG: ToolSpec = ToolSpec {
    name: "task_log",
    title: "Task log",
    description: "The log of a task by UPID (the last `lines` lines, default 50).",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeFilter {
    /// Only this node; every online node when omitted.
    pub node: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallInput {
    /// A node's rules.
    pub node: Option<String>,
    /// A guest's rules (its node is found from the cluster).
    pub vmid: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksInput {
    /// Only this node; every online node when omitted.
    pub node: Option<String>,
    /// Only tasks of this VMID.
    pub vmid: Option<i64>,
    /// Only tasks of this type, e.g. `vzdump`, `qmsnapshot`, `vzrestore`.
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    /// Tasks per node, 1-500; default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogInput {
    /// The task id.
    pub upid: String,
    /// Last lines to return, 1-1000; default 50.
    pub lines: Option<u32>,
}

/// One node's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PerNode<T> {
    /// The node.
    pub node: String,
    /// What it reported.
    pub items: Vec<T>,
}

/// Answers per node.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodesOutput<T> {
    /// One entry per node asked.
    pub nodes: Vec<PerNode<T>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FirewallOutput {
    /// `cluster`, `node` or `guest`.
    pub level: String,
    /// The node (node and guest level).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The VMID (guest level).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// The rules, in order.
    pub rules: Vec<FirewallRule>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogOutput {
    /// The task id.
    pub upid: String,
    /// The node that ran it.
    pub node: String,
    /// The last lines of the log.
    pub lines: Vec<String>,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_STORAGE, list_storage),
        ToolDef::new(LIST_NETWORKS, list_networks),
        ToolDef::new(LIST_FIREWALL_RULES, list_firewall_rules),
        ToolDef::new(LIST_TASKS, list_tasks),
        ToolDef::new(TASK_LOG, task_log),
    ]
}

/// The nodes a per-node read asks: the one given, or every online node.
async fn nodes_of(s: &Proxmox, given: Option<&str>) -> Result<Vec<String>, ToolError> {
    if let Some(n) = given {
        return Ok(vec![node("node", n)?]);
    }
    Ok(s.api
        .nodes()
        .await?
        .into_iter()
        .filter(|n| n.status.as_deref() == Some("online"))
        .map(|n| n.node)
        .collect())
}

async fn list_storage(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: NodeFilter,
) -> Result<NodesOutput<StorageEntry>, ToolError> {
    if let Some(n) = &i.node {
        node("node", n)?;
    }
    let mut out = Vec::new();
    for n in nodes_of(&s, i.node.as_deref()).await? {
        let items = s.api.storages(&n).await?;
        out.push(PerNode { node: n, items });
    }
    Ok(NodesOutput { nodes: out })
}

async fn list_networks(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: NodeFilter,
) -> Result<NodesOutput<NetworkIface>, ToolError> {
    if let Some(n) = &i.node {
        node("node", n)?;
    }
    let mut out = Vec::new();
    for n in nodes_of(&s, i.node.as_deref()).await? {
        let items = s.api.networks(&n).await?;
        out.push(PerNode { node: n, items });
    }
    Ok(NodesOutput { nodes: out })
}

async fn list_firewall_rules(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: FirewallInput,
) -> Result<FirewallOutput, ToolError> {
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let id = i.vmid.map(vmid).transpose()?;
    if let Some(id) = id {
        let t = guard::locate(&s, id, given.as_deref()).await?;
        let rules = s
            .api
            .firewall_rules(FirewallLevel::Guest(&t.node, t.kind, id))
            .await?;
        return Ok(FirewallOutput {
            level: "guest".into(),
            node: Some(t.node),
            vmid: Some(id),
            rules,
        });
    }
    if let Some(n) = given {
        let rules = s.api.firewall_rules(FirewallLevel::Node(&n)).await?;
        return Ok(FirewallOutput {
            level: "node".into(),
            node: Some(n),
            vmid: None,
            rules,
        });
    }
    let rules = s.api.firewall_rules(FirewallLevel::Cluster).await?;
    Ok(FirewallOutput {
        level: "cluster".into(),
        node: None,
        vmid: None,
        rules,
    })
}

async fn list_tasks(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: TasksInput,
) -> Result<NodesOutput<TaskEntry>, ToolError> {
    if let Some(n) = &i.node {
        node("node", n)?;
    }
    let id = i.vmid.map(vmid).transpose()?;
    let limit = i.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ToolError::invalid("limit", "must be between 1 and 500"));
    }
    if let Some(t) = &i.task_type
        && (t.is_empty()
            || t.len() > 32
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ToolError::invalid(
            "type",
            "must be a task type such as vzdump, qmsnapshot or vzrestore",
        ));
    }
    let mut out = Vec::new();
    for n in nodes_of(&s, i.node.as_deref()).await? {
        let items = s.api.tasks(&n, id, i.task_type.as_deref(), limit).await?;
        out.push(PerNode { node: n, items });
    }
    Ok(NodesOutput { nodes: out })
}

async fn task_log(s: Arc<Proxmox>, _c: CallCtx, i: LogInput) -> Result<LogOutput, ToolError> {
    let u = upid(&i.upid)?;
    let lines = i.lines.unwrap_or(50);
    if !(1..=1000).contains(&lines) {
        return Err(ToolError::invalid("lines", "must be between 1 and 1000"));
    }
    // The UPID names the node that ran the task.
    let n = u.split(':').nth(1).unwrap_or_default().to_string();
    let n = node("upid", &n)?;
    let all = s.api.task_log(&n, &u).await?;
    let skip = all.len().saturating_sub(lines as usize);
    Ok(LogOutput {
        upid: u,
        node: n,
        lines: all.into_iter().skip(skip).map(|l| l.t).collect(),
    })
}
