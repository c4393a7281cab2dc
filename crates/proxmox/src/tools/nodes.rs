//! Nodes and tasks.

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{node, upid};
use crate::Proxmox;
use crate::client::model::{NodeEntry, NodeStatus, TaskStatus};

const LIST_NODES: ToolSpec = ToolSpec {
    name: "list_nodes",
    title: "Nodes",
    description: "List the cluster's nodes with status (online/offline), CPU, memory, disk and uptime.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const NODE_STATUS: ToolSpec = ToolSpec {
    name: "node_status",
    title: "Node status",
    description: "Status of one node: CPU, memory, load average, uptime, kernel and PVE versions.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

const TASK_STATUS: ToolSpec = ToolSpec {
    name: "task_status",
    title: "Task status",
    description: "Status of a task (by UPID): running or stopped, and its exit status.",
    scope: "proxmox:read",
    toolset: "nodes",
    effect: Effect::ReadOnly,
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeInput {
    /// Node name, e.g. `pve1`.
    pub node: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// Node that runs the task.
    pub node: String,
    /// Task id, `UPID:…`.
    pub upid: String,
}

/// What the API returned.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Data<T> {
    /// PVE's answer, every field as given.
    pub data: T,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_NODES, list_nodes),
        ToolDef::new(NODE_STATUS, node_status),
        ToolDef::new(TASK_STATUS, task_status),
    ]
}

async fn list_nodes(
    s: Arc<Proxmox>,
    _c: CallCtx,
    _i: NoInput,
) -> Result<Data<Vec<NodeEntry>>, ToolError> {
    Ok(Data {
        data: s.api.nodes().await?,
    })
}

async fn node_status(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: NodeInput,
) -> Result<Data<NodeStatus>, ToolError> {
    status_of(&s, &i.node).await
}

/// One node's status (the `node_status` tool and the `proxmox://nodes/{node}` resource).
pub(crate) async fn status_of(s: &Proxmox, node_name: &str) -> Result<Data<NodeStatus>, ToolError> {
    let n = node("node", node_name)?;
    Ok(Data {
        data: s.api.node_status(&n).await?,
    })
}

async fn task_status(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: TaskInput,
) -> Result<Data<TaskStatus>, ToolError> {
    let n = node("node", &i.node)?;
    let u = upid(&i.upid)?;
    Ok(Data {
        data: s.api.task_status(&n, &u).await?,
    })
}
