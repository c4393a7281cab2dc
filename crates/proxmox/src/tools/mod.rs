//! The tools, one file per domain, and what they share: the validators and paging.

pub mod api;
pub mod backups;
pub mod exec;
pub mod guard;
pub mod infra;
pub mod jobs;
pub mod nodes;
pub mod resources;
pub mod settings;
pub mod snapshots;
pub mod vms;

use mcp_core::{PageSpec, Paging, ToolDef, ToolError};

use crate::Proxmox;

pub fn all() -> Vec<ToolDef<Proxmox>> {
    let mut t = exec::tools();
    t.extend(vms::tools());
    t.extend(nodes::tools());
    t.extend(api::tools());
    t.extend(snapshots::tools());
    t.extend(backups::tools());
    t.extend(settings::tools());
    t.extend(infra::tools());
    t
}

/// Paging of the list tools: 100 items by default, at most 500.
pub const PAGE: PageSpec = PageSpec::new(100, 500);

/// Checked paging for a list tool.
pub fn paging(limit: Option<u32>, offset: Option<u32>) -> Result<Paging, ToolError> {
    Paging::new(limit, offset, PAGE)
}

/// A node name: letters, digits and `-`, at most 63 characters (a DNS label).
pub fn node(field: &str, v: &str) -> Result<String, ToolError> {
    if v.is_empty()
        || v.len() > 63
        || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || v.starts_with('-')
    {
        return Err(ToolError::invalid(
            field,
            "must be a node name: letters, digits and `-`, at most 63 characters",
        ));
    }
    Ok(v.to_string())
}

/// A VMID: 100 to 999999999, as PVE allows.
pub fn vmid(v: i64) -> Result<u32, ToolError> {
    if !(100..=999_999_999).contains(&v) {
        return Err(ToolError::invalid(
            "vmid",
            "must be between 100 and 999999999",
        ));
    }
    Ok(v as u32)
}

/// A task UPID: `UPID:node:pid:pstart:starttime:type:id:user:`.
pub fn upid(v: &str) -> Result<String, ToolError> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = v.len() <= 256
        && parts.len() == 9
        && parts[0] == "UPID"
        && parts[8].is_empty()
        && parts[1..8].iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@!".contains(c))
        })
        && parts[2..5]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(ToolError::invalid(
            "upid",
            "must be a task id like UPID:pve1:0000ABCD:00112233:65F0A1B2:qmstart:100:root@pam:",
        ));
    }
    Ok(v.to_string())
}
