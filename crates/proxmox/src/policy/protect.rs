//! Protected guests: `PROXMOX_PROTECTED_VMIDS` (a VMID set) and `PROXMOX_PROTECTED_TAGS`
//! (PVE tags). No destructive action reaches them through any tool, the `proxmox_api`
//! passthrough included; PVE's own `protection` flag is honoured besides (it is read from
//! the guest's config where a tool acts).

use std::collections::BTreeSet;

use super::VmidSet;

/// The configured protected guests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protected {
    pub vmids: Option<VmidSet>,
    /// Lower-cased tags.
    pub tags: BTreeSet<String>,
}

/// Why a tag list cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a PVE tag (letters, digits, `-`, `_`, `+`, `.`; at most 64 characters)")]
pub struct TagError(pub String);

/// A PVE tag: letters, digits and `-_+.`, not starting with `-`, `_`, `+` or `.`.
pub fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
}

impl Protected {
    /// From the two variables' values.
    pub fn new(vmids: Option<VmidSet>, tags: &[String]) -> Result<Self, TagError> {
        let mut set = BTreeSet::new();
        for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            if !is_tag(t) {
                return Err(TagError(t.to_string()));
            }
            set.insert(t.to_ascii_lowercase());
        }
        Ok(Self { vmids, tags: set })
    }

    /// Whether any guest is protected by this configuration.
    pub fn any(&self) -> bool {
        self.vmids.is_some() || !self.tags.is_empty()
    }

    /// Why guest `vmid` with PVE tags `tags` (`a;b`, as PVE lists them) is protected, if it is.
    pub fn reason(&self, vmid: u32, tags: Option<&str>) -> Option<String> {
        if self.vmids.as_ref().is_some_and(|s| s.contains(vmid)) {
            return Some(format!("VMID {vmid} is in PROXMOX_PROTECTED_VMIDS"));
        }
        let hit = tags
            .into_iter()
            .flat_map(split_tags)
            .find(|t| self.tags.contains(&t.to_ascii_lowercase()))?;
        Some(format!(
            "VM {vmid} has the tag `{hit}`, which is in PROXMOX_PROTECTED_TAGS"
        ))
    }
}

/// The tags of a PVE tag list (`a;b`, `a,b` or `a b`).
pub fn split_tags(list: &str) -> impl Iterator<Item = &str> {
    list.split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmids_and_tags_protect() {
        let p = Protected::new(
            Some(VmidSet::parse("101,500-599").expect("set")),
            &["Prod".into(), " db ".into()],
        )
        .expect("ok");
        assert!(
            p.reason(101, None)
                .is_some_and(|r| r.contains("PROXMOX_PROTECTED_VMIDS"))
        );
        assert!(p.reason(550, Some("x")).is_some());
        assert!(
            p.reason(100, Some("web;PROD"))
                .is_some_and(|r| r.contains("`PROD`"))
        );
        assert!(p.reason(100, Some("web;staging")).is_none());
        assert!(p.reason(100, None).is_none());
        assert!(Protected::new(None, &["bad tag".into()]).is_err());
        assert!(Protected::new(None, &["-x".into()]).is_err());
        assert!(!Protected::default().any());
    }
}
