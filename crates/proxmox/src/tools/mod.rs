//! The tools, one file per domain, and the validators they share.

pub mod api;
pub mod exec;
pub mod nodes;
pub mod vms;

use mcp_core::{ToolDef, ToolError};
use serde_json::Value;

use crate::Proxmox;

pub fn all() -> Vec<ToolDef<Proxmox>> {
    let mut t = exec::tools();
    t.extend(vms::tools());
    t.extend(nodes::tools());
    t.extend(api::tools());
    t
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;

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

/// Paging over an already-filtered list.
pub fn page(
    items: Vec<Value>,
    limit: Option<u32>,
    offset: Option<u32>,
) -> Result<Value, ToolError> {
    let limit = limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ToolError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = offset.unwrap_or(0) as usize;
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let has_more = offset + page.len() < total;
    Ok(
        serde_json::json!({"items": page, "total": total, "offset": offset, "limit": limit, "has_more": has_more}),
    )
}
