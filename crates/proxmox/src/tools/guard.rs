//! What every guest tool shares: finding a guest by VMID (its node and kind from the
//! cluster, a given node checked against it), the VMID lists, the protected guests and the
//! protection flag, and the validators of the day-2 arguments.

use mcp_core::ToolError;

use super::node;
use crate::Proxmox;
use crate::client::model::GuestKind;

/// A guest found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub vmid: u32,
    pub node: String,
    pub kind: GuestKind,
    /// PVE's tag list (`a;b`), if any.
    pub tags: Option<String>,
}

/// Find guest `id`, checking a given node against the cluster.
pub async fn locate(s: &Proxmox, id: u32, given: Option<&str>) -> Result<Target, ToolError> {
    let given = given.map(|n| node("node", n)).transpose()?;
    let Some(g) = s.api.guests().await?.into_iter().find(|g| g.vmid == id) else {
        return Err(ToolError::NotFound(format!(
            "no VM or container with VMID {id} in the cluster"
        )));
    };
    if let Some(want) = given
        && want != g.node
    {
        return Err(ToolError::invalid(
            "node",
            format!("VM {id} is on node {}, not {want}", g.node),
        ));
    }
    let tags = g
        .other
        .get("tags")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    Ok(Target {
        vmid: g.vmid,
        node: g.node,
        kind: g.kind,
        tags,
    })
}

/// `PROXMOX_VMID_ALLOWLIST` and `PROXMOX_VMID_DENYLIST`, before anything is asked.
pub fn lists(s: &Proxmox, id: u32) -> Result<(), ToolError> {
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
    Ok(())
}

/// A destructive `action` on `t`: refused for a protected guest (PROXMOX_PROTECTED_VMIDS,
/// PROXMOX_PROTECTED_TAGS, PVE's protection flag).
pub async fn destructive(s: &Proxmox, t: &Target, action: &str) -> Result<(), ToolError> {
    if let Some(why) = s.protected.reason(t.vmid, t.tags.as_deref()) {
        return Err(ToolError::denied(format!(
            "{why}: `{action}` is refused for protected guests. Nothing was changed"
        )));
    }
    if s.api
        .guest_config(&t.node, t.kind, t.vmid)
        .await?
        .protection
    {
        return Err(ToolError::denied(format!(
            "VM {} has the protection flag set; `{action}` is refused. Clear protection in Proxmox first if this is intended",
            t.vmid
        )));
    }
    Ok(())
}

/// A snapshot name as PVE's `pve-configid` allows it: a letter, then one or more letters,
/// digits, `-` and `_`, at most 40 characters; `current` is PVE's name for the present state.
pub fn snapname(v: &str) -> Result<String, ToolError> {
    let ok = (2..=40).contains(&v.len())
        && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ToolError::invalid(
            "name",
            "must be a snapshot name: a letter, then one or more letters, digits, `-` and `_`, 2 to 40 characters",
        ));
    }
    if v == "current" {
        return Err(ToolError::invalid(
            "name",
            "`current` is the guest's present state, not a snapshot",
        ));
    }
    Ok(v.to_string())
}

/// A storage id: a letter, then letters, digits, `-`, `_` and `.`, at most 64 characters.
pub fn storage(field: &str, v: &str) -> Result<String, ToolError> {
    let ok = v.len() <= 64
        && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(ToolError::invalid(
            field,
            "must be a storage id: a letter, then letters, digits, `-`, `_` and `.`, at most 64 characters",
        ));
    }
    Ok(v.to_string())
}

/// A backup volume id, `STORAGE:backup/vzdump-KIND-VMID-...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volid {
    pub text: String,
    pub storage: String,
    pub kind: GuestKind,
    /// The guest that was backed up.
    pub vmid: u32,
}

/// A backup volume id as `list_backups` reports it: `STORAGE:backup/vzdump-qemu-100-...` or
/// `vzdump-lxc-...`, without `..`, white space or control characters.
pub fn volid(v: &str) -> Result<Volid, ToolError> {
    let bad = || {
        ToolError::invalid(
            "volid",
            "must be a backup volume id as list_backups reports it, e.g. local:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst",
        )
    };
    if v.len() > 255
        || v.contains("..")
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        return Err(bad());
    }
    let (store, rest) = v.split_once(':').ok_or_else(bad)?;
    let store = storage("volid", store).map_err(|_| bad())?;
    let file = rest.strip_prefix("backup/").unwrap_or(rest);
    if file.contains('/') || file.contains(':') {
        return Err(bad());
    }
    let mut parts = file.strip_prefix("vzdump-").ok_or_else(bad)?.splitn(3, '-');
    let kind = parts.next().and_then(GuestKind::parse).ok_or_else(bad)?;
    let id: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .filter(|id| (100..=999_999_999).contains(id))
        .ok_or_else(bad)?;
    if parts.next().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(Volid {
        text: v.to_string(),
        storage: store,
        kind,
        vmid: id,
    })
}

/// `wait_seconds`: 0 to 600.
pub fn wait_seconds(v: Option<u32>) -> Result<u32, ToolError> {
    let w = v.unwrap_or(0);
    if w > 600 {
        return Err(ToolError::invalid(
            "wait_seconds",
            "must be between 0 and 600",
        ));
    }
    Ok(w)
}

/// Free text (a description, notes): no control characters but new lines, at most `max`
/// characters.
pub fn text(field: &str, v: &str, max: usize) -> Result<String, ToolError> {
    if v.chars().count() > max {
        return Err(ToolError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ToolError::invalid(
            field,
            "must not contain control characters (new lines are allowed)",
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volids() {
        let v = volid("local:backup/vzdump-lxc-200-2026_12_05-04_30_00.tar.zst").expect("ok");
        assert_eq!(
            (v.storage.as_str(), v.kind, v.vmid),
            ("local", GuestKind::Lxc, 200)
        );
        for bad in [
            "",
            "local",
            "local:backup/../etc/passwd",
            "local:backup/vzdump-qemu-abc-x.vma",
            "local:backup/vzdump-docker-100-x.tar",
            "local:backup/vzdump-qemu-100-",
            "local:iso/x.iso",
            "1local:backup/vzdump-qemu-100-x.vma",
            "local:backup/vzdump-qemu-100-x y.vma",
            "local:backup/sub/vzdump-qemu-100-x.vma",
        ] {
            assert!(volid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_waits() {
        assert!(snapname("pre-upgrade_1").is_ok());
        for bad in ["", "a", "1a", "a b", "current", "a/b", &"a".repeat(41)] {
            assert!(snapname(bad).is_err(), "{bad}");
        }
        assert!(storage("storage", "local-lvm").is_ok());
        assert!(storage("storage", "../x").is_err());
        assert_eq!(wait_seconds(None).expect("ok"), 0);
        assert!(wait_seconds(Some(601)).is_err());
        assert!(text("notes", "a\nb", 10).is_ok());
        assert!(text("notes", "a\u{7}", 10).is_err());
    }
}
