//! Nodes and tasks.

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{node, upid};
use crate::Proxmox;

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

/// Data returned by the API, as is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Data {
    pub data: Value,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_NODES, list_nodes),
        ToolDef::new(NODE_STATUS, node_status),
        ToolDef::new(TASK_STATUS, task_status),
    ]
}

async fn list_nodes(s: Arc<Proxmox>, _c: CallCtx, _i: NoInput) -> Result<Data, ToolError> {
    Ok(Data {
        data: s.api.get("/nodes", &[]).await?,
    })
}

async fn node_status(s: Arc<Proxmox>, _c: CallCtx, i: NodeInput) -> Result<Data, ToolError> {
    let n = node("node", &i.node)?;
    Ok(Data {
        data: s.api.get(&format!("/nodes/{n}/status"), &[]).await?,
    })
}

async fn task_status(s: Arc<Proxmox>, _c: CallCtx, i: TaskInput) -> Result<Data, ToolError> {
    let n = node("node", &i.node)?;
    let u = upid(&i.upid)?;
    Ok(Data {
        data: s
            .api
            .get(&format!("/nodes/{n}/tasks/{u}/status"), &[])
            .await?,
    })
}
