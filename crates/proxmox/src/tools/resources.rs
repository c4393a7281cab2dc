//! Nodes and guests as MCP resources (`proxmox:read`): each reads as the matching tool
//! answers, and `resources/list` offers every node and guest.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::{ResourceDef, ResourceItem, ResourceSpec, ToolError};

use super::nodes::Data;
use crate::Proxmox;

const NODES: ResourceSpec = ResourceSpec {
    uri: "proxmox://nodes",
    name: "nodes",
    title: "Cluster nodes",
    description: "Every node of the cluster with its status, CPU and memory (as list_nodes answers).",
    scope: "proxmox:read",
    toolset: "nodes",
};

const NODE: ResourceSpec = ResourceSpec {
    uri: "proxmox://nodes/{node}",
    name: "node",
    title: "Node status",
    description: "One node's status: CPU, memory, uptime, versions (as node_status answers).",
    scope: "proxmox:read",
    toolset: "nodes",
};

const GUEST: ResourceSpec = ResourceSpec {
    uri: "proxmox://guests/{vmid}",
    name: "guest",
    title: "Guest status",
    description: "One VM's or container's current status, found by VMID on whatever node it runs (as vm_status answers).",
    scope: "proxmox:read",
    toolset: "vms",
};

fn var<'a>(vars: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, ToolError> {
    vars.get(name)
        .map(String::as_str)
        .ok_or_else(|| ToolError::invalid(name, "is required"))
}

pub fn resources() -> Vec<ResourceDef<Proxmox>> {
    vec![
        ResourceDef::new(NODES, |s: Arc<Proxmox>, _| async move {
            Ok(Data {
                data: s.api.nodes().await?,
            })
        }),
        ResourceDef::new(NODE, |s: Arc<Proxmox>, vars| async move {
            super::nodes::status_of(&s, var(&vars, "node")?).await
        })
        .listing(|s: Arc<Proxmox>| async move {
            Ok(s.api
                .nodes()
                .await?
                .into_iter()
                .map(|n| ResourceItem {
                    uri: format!("proxmox://nodes/{}", n.node),
                    name: format!("node {}", n.node),
                    description: None,
                })
                .collect())
        }),
        ResourceDef::new(GUEST, |s: Arc<Proxmox>, vars| async move {
            let raw = var(&vars, "vmid")?;
            let vmid = raw
                .parse::<i64>()
                .map_err(|_| ToolError::invalid("vmid", "must be a number, 100-999999999"))?;
            super::vms::status_of(&s, vmid, None).await
        })
        .listing(|s: Arc<Proxmox>| async move {
            Ok(s.api
                .guests()
                .await?
                .into_iter()
                .map(|g| ResourceItem {
                    uri: format!("proxmox://guests/{}", g.vmid),
                    name: match &g.name {
                        Some(n) => format!("{} ({})", g.vmid, n),
                        None => g.vmid.to_string(),
                    },
                    description: Some(format!("guest {} on {}", g.vmid, g.node)),
                })
                .collect())
        }),
    ]
}
