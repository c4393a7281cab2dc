//! Which guests a `proxmox_api` write reaches, read from its path and parameters.
//!
//! The VMID lists and the protection flag bind every write that names a guest, not only
//! `vm_action`: the path (`/nodes/N/qemu/100/...`, `/cluster/ha/resources/vm:100`,
//! `/cluster/replication/100-0`), and the parameters that hold VMIDs (`vmid`, `vms`, `newid`,
//! `target-vmid`, `guest`, an HA `sid` or `resources`, a replication job `id`), and volume ids
//! (a backup archive `vzdump-qemu-100-...` or a disk `vm-100-disk-0`, in the path of a
//! storage content call or in `volume`). A write that
//! names no guest but acts on every guest of a node or of the cluster (`stopall`,
//! `startall`, `suspendall`, `migrateall`, `bulk-action/guest/*` without `vms`; `vzdump` or a
//! backup job with `all` or `pool`) is reported as such.

use mcp_core::ToolError;

use crate::client::model::GuestKind;

/// Where a guest was named, for refusals: `the path /cluster/ha/resources/vm:100` or
/// `` `params.vms` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Param(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "the path {p}"),
            Self::Param(k) => write!(f, "`params.{k}`"),
        }
    }
}

/// One guest a write names. `at` is the node and kind when the path gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub vmid: u32,
    pub source: Source,
    pub at: Option<(String, GuestKind)>,
}

/// A write that acts on every guest of `node` (or of the cluster when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Every {
    pub node: Option<String>,
    pub source: Source,
}

/// What a write reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub named: Vec<Named>,
    pub every: Option<Every>,
}

/// Node-level actions on every guest, named by the last path segment.
const NODE_BULK: &[&str] = &["startall", "stopall", "suspendall", "migrateall"];

/// Parameters that hold one VMID or a list of them.
const VMID_PARAMS: &[&str] = &["vmid", "vms", "newid", "target-vmid", "guest"];

/// Parameters that hold a volume id whose guest a write changes (a disk `vm-100-disk-0`).
/// Not `archive` or `ostemplate`: restoring a backup reads it, and reaches the guest `vmid`.
const VOLUME_PARAMS: &[&str] = &["volume"];

/// The VMID a volume id names: `STORAGE:backup/vzdump-KIND-VMID-...`, `STORAGE:vm-VMID-disk-N`,
/// `STORAGE:VMID/vm-VMID-disk-N.qcow2`, `base-VMID-disk-N`; `None` for volumes of no guest
/// (an ISO, a template).
pub fn volume_vmid(volid: &str) -> Option<u32> {
    let name = volid.rsplit(['/', ':']).next()?;
    let rest = name
        .strip_prefix("vzdump-qemu-")
        .or_else(|| name.strip_prefix("vzdump-lxc-"))
        .or_else(|| name.strip_prefix("vzdump-openvz-"))
        .or_else(|| name.strip_prefix("vm-"))
        .or_else(|| name.strip_prefix("base-"))
        .or_else(|| name.strip_prefix("subvol-"))?;
    vmid_of(rest.split('-').next()?)
}

fn vmid_of(text: &str) -> Option<u32> {
    let t = text.trim();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// An HA resource id: `vm:100`, `ct:100` or `100`.
fn sid_vmid(sid: &str) -> Option<u32> {
    let id = match sid.split_once(':') {
        Some(("vm" | "ct", id)) => id,
        Some(_) => return None,
        None => sid,
    };
    vmid_of(id)
}

/// A replication job id: `100-0`.
fn job_vmid(id: &str) -> Option<u32> {
    id.split_once('-')
        .and_then(|(g, n)| vmid_of(n).and(vmid_of(g)))
}

/// The items of a list parameter: split on commas, semicolons and white space.
fn items(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn truthy(v: &str) -> bool {
    !matches!(v.trim(), "" | "0" | "false" | "no" | "off")
}

fn unreadable(key: &str, what: &str) -> ToolError {
    ToolError::invalid(
        format!("params.{key}"),
        format!("must be {what}: this server checks every guest a write names"),
    )
}

/// The guests a write to `path` (its `segments`) with `params` reaches. A parameter that
/// should name guests but cannot be read as such is refused rather than let through.
pub fn reach(
    path: &str,
    segments: &[&str],
    params: &[(String, String)],
) -> Result<Reach, ToolError> {
    let mut out = Reach::default();
    let at_path = || Source::Path(path.to_string());
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match segments {
        ["nodes", node, kind, id, ..] if GuestKind::parse(kind).is_some() => {
            if let (Some(vmid), Some(kind)) = (vmid_of(id), GuestKind::parse(kind)) {
                out.named.push(Named {
                    vmid,
                    source: at_path(),
                    at: Some((node.to_string(), kind)),
                });
            }
        }
        ["cluster", "ha", "resources", sid, ..] => {
            let vmid = sid_vmid(sid).ok_or_else(|| {
                ToolError::invalid(
                    "path",
                    "names an HA resource that is not vm:VMID, ct:VMID or VMID",
                )
            })?;
            out.named.push(Named {
                vmid,
                source: at_path(),
                at: None,
            });
        }
        ["cluster", "replication", id, ..] | ["nodes", _, "replication", id, ..] => {
            let vmid = job_vmid(id).ok_or_else(|| {
                ToolError::invalid("path", "names a replication job that is not VMID-NUMBER")
            })?;
            out.named.push(Named {
                vmid,
                source: at_path(),
                at: None,
            });
        }
        // A storage volume (a backup, a disk): the guest its name carries.
        ["nodes", _, "storage", _, "content", volume @ ..] if !volume.is_empty() => {
            if let Some(vmid) = volume_vmid(&volume.join("/")) {
                out.named.push(Named {
                    vmid,
                    source: at_path(),
                    at: None,
                });
            }
        }
        _ => {}
    }
    for (key, value) in params {
        if VOLUME_PARAMS.contains(&key.as_str())
            && let Some(vmid) = volume_vmid(value)
        {
            out.named.push(Named {
                vmid,
                source: Source::Param(key.clone()),
                at: None,
            });
        }
    }
    for (key, value) in params {
        let key = key.as_str();
        if VMID_PARAMS.contains(&key) {
            for item in items(value) {
                let vmid = vmid_of(item).ok_or_else(|| unreadable(key, "VMIDs"))?;
                out.named.push(Named {
                    vmid,
                    source: Source::Param(key.into()),
                    at: None,
                });
            }
        } else if key == "sid" || (key == "resources" && segments.starts_with(&["cluster", "ha"])) {
            for item in items(value) {
                let vmid =
                    sid_vmid(item).ok_or_else(|| unreadable(key, "vm:VMID, ct:VMID or VMID"))?;
                out.named.push(Named {
                    vmid,
                    source: Source::Param(key.into()),
                    at: None,
                });
            }
        } else if key == "id" && segments == ["cluster", "replication"] {
            let vmid = job_vmid(value)
                .ok_or_else(|| unreadable(key, "a replication job id VMID-NUMBER"))?;
            out.named.push(Named {
                vmid,
                source: Source::Param(key.into()),
                at: None,
            });
        }
    }
    let has = |k: &str| param(k).is_some_and(|v| !v.trim().is_empty());
    out.every = match segments {
        ["nodes", node, action] if NODE_BULK.contains(action) && !has("vms") => Some(Every {
            node: Some(node.to_string()),
            source: at_path(),
        }),
        ["cluster", "bulk-action", "guest", _] if !has("vms") => Some(Every {
            node: None,
            source: at_path(),
        }),
        ["nodes", _, "vzdump"] | ["cluster", "backup", ..] => {
            let node = match segments {
                ["nodes", n, _] => Some(n.to_string()),
                _ => None,
            };
            if param("all").is_some_and(truthy) {
                Some(Every {
                    node,
                    source: Source::Param("all".into()),
                })
            } else if has("pool") {
                Some(Every {
                    node,
                    source: Source::Param("pool".into()),
                })
            } else if let ["cluster", "backup", _, ..] = segments {
                // An existing job: what it covers is stored, not sent; changing or deleting
                // it reaches every guest it may cover.
                Some(Every {
                    node: None,
                    source: at_path(),
                })
            } else {
                None
            }
        }
        // Shutting down or rebooting a node stops every guest on it.
        ["nodes", node, "status"] => Some(Every {
            node: Some(node.to_string()),
            source: at_path(),
        }),
        // HA groups move the HA guests they hold without naming them.
        ["cluster", "ha", "groups", ..] => Some(Every {
            node: None,
            source: at_path(),
        }),
        _ => None,
    };
    Ok(out)
}

/// Whether a write is a start or resume of the guest its path names: these do not interrupt
/// a guest, and the protection flag does not refuse them (as in `vm_action`).
pub fn starts_only(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["nodes", _, "qemu" | "lxc", _, "status", "start" | "resume"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str, params: &[(&str, &str)]) -> Result<Reach, ToolError> {
        let segments: Vec<&str> = path[1..].split('/').collect();
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        reach(path, &segments, &params)
    }

    fn ids(reach: &Reach) -> Vec<(u32, String)> {
        reach
            .named
            .iter()
            .map(|n| (n.vmid, n.source.to_string()))
            .collect()
    }

    #[test]
    fn guests_named_by_parameters_and_paths() {
        let p = |k: &str| format!("`params.{k}`");
        assert_eq!(
            ids(&r("/nodes/pve1/stopall", &[("vms", "100, 101 102;103")]).expect("ok")),
            vec![
                (100, p("vms")),
                (101, p("vms")),
                (102, p("vms")),
                (103, p("vms"))
            ]
        );
        assert_eq!(
            ids(&r(
                "/nodes/pve1/vzdump",
                &[("vmid", "100,9000"), ("exclude", "5")]
            )
            .expect("ok")),
            vec![(100, p("vmid")), (9000, p("vmid"))]
        );
        assert_eq!(
            ids(&r("/nodes/pve1/qemu", &[("vmid", "9000"), ("force", "1")]).expect("ok")),
            vec![(9000, p("vmid"))]
        );
        let clone = r("/nodes/pve1/qemu/100/clone", &[("newid", "9005")]).expect("ok");
        assert_eq!(clone.named[0].at, Some(("pve1".into(), GuestKind::Qemu)));
        assert_eq!(ids(&clone)[1], (9005, p("newid")));
        for (path, sid) in [
            ("/cluster/ha/resources/vm:100/migrate", 100),
            ("/cluster/ha/resources/ct:200", 200),
            ("/cluster/ha/resources/300", 300),
            ("/cluster/replication/400-0", 400),
            ("/nodes/pve1/replication/500-1/schedule_now", 500),
        ] {
            assert_eq!(
                ids(&r(path, &[]).expect(path)),
                vec![(sid, format!("the path {path}"))]
            );
        }
        assert_eq!(
            ids(&r("/cluster/ha/resources", &[("sid", "ct:201")]).expect("ok")),
            vec![(201, p("sid"))]
        );
        assert_eq!(
            ids(&r("/cluster/ha/rules", &[("resources", "vm:100,ct:101")]).expect("ok")),
            vec![(100, p("resources")), (101, p("resources"))]
        );
        assert_eq!(
            ids(&r(
                "/nodes/pve1/qemu/101/sendkey",
                &[("key", "ctrl-alt-delete")]
            )
            .expect("ok")),
            vec![(101, "the path /nodes/pve1/qemu/101/sendkey".into())]
        );
        assert!(
            r("/nodes/pve1/storage", &[("content", "iso")])
                .expect("ok")
                .named
                .is_empty()
        );
    }

    #[test]
    fn unreadable_guest_names_are_refused() {
        for (path, params, field) in [
            (
                "/nodes/pve1/stopall",
                vec![("vms", "100,all")],
                "params.vms",
            ),
            ("/nodes/pve1/vzdump", vec![("vmid", "1e3")], "params.vmid"),
            (
                "/cluster/ha/resources",
                vec![("sid", "fence:1")],
                "params.sid",
            ),
            ("/cluster/ha/resources/vm:abc", vec![], "path"),
            ("/cluster/replication/x", vec![], "path"),
        ] {
            let e = r(path, &params).expect_err(path);
            assert_eq!(e.field(), Some(field), "{path}");
        }
    }

    /// A node shutdown or reboot, a change to a stored backup job, and HA group edits reach
    /// guests they do not name (found by review: they passed the VMID lists before).
    #[test]
    fn node_power_backup_jobs_and_ha_groups_reach_every_guest() {
        let every = r("/nodes/pve1/status", &[("command", "shutdown")])
            .expect("ok")
            .every
            .expect("every");
        assert_eq!(every.node.as_deref(), Some("pve1"));
        for path in ["/cluster/backup/backup-1234", "/cluster/ha/groups/prod"] {
            let every = r(path, &[("mode", "stop")]).expect(path).every.expect(path);
            assert_eq!(every.node, None, "{path}");
        }
        // Creating a backup job for named guests is not "every guest".
        assert!(
            r("/cluster/backup", &[("vmid", "100")])
                .expect("ok")
                .every
                .is_none()
        );
    }

    #[test]
    fn writes_on_every_guest() {
        for path in [
            "/nodes/pve1/stopall",
            "/nodes/pve1/startall",
            "/nodes/pve1/suspendall",
            "/nodes/pve1/migrateall",
        ] {
            let every = r(path, &[]).expect(path).every.expect("every");
            assert_eq!(every.node.as_deref(), Some("pve1"));
            assert!(r(path, &[("vms", "100")]).expect(path).every.is_none());
        }
        let e = r("/cluster/bulk-action/guest/shutdown", &[])
            .expect("ok")
            .every
            .expect("every");
        assert_eq!(e.node, None);
        let e = r("/nodes/pve1/vzdump", &[("all", "1")])
            .expect("ok")
            .every
            .expect("every");
        assert_eq!(e.source, Source::Param("all".into()));
        assert!(
            r("/nodes/pve1/vzdump", &[("all", "0"), ("vmid", "100")])
                .expect("ok")
                .every
                .is_none()
        );
        let e = r("/cluster/backup", &[("pool", "prod")])
            .expect("ok")
            .every
            .expect("every");
        assert_eq!((e.node, e.source), (None, Source::Param("pool".into())));
    }

    /// Backup archives and disks name their guest: deleting a protected guest's backup, or
    /// restoring an archive, reaches that guest.
    #[test]
    fn volumes_name_their_guest() {
        assert_eq!(
            volume_vmid("local:backup/vzdump-qemu-101-2026_01_01-00_00_00.vma.zst"),
            Some(101)
        );
        assert_eq!(volume_vmid("local-lvm:vm-200-disk-0"), Some(200));
        assert_eq!(volume_vmid("local:104/vm-104-disk-1.qcow2"), Some(104));
        assert_eq!(volume_vmid("local:iso/debian.iso"), None);
        let path = "/nodes/pve1/storage/local/content/local:backup/vzdump-lxc-201-x.tar";
        assert_eq!(
            ids(&r(path, &[]).expect("ok")),
            vec![(201, format!("the path {path}"))]
        );
        // Restoring reads the archive; it reaches the guest it creates or replaces.
        assert_eq!(
            ids(&r(
                "/nodes/pve1/qemu",
                &[
                    ("archive", "local:backup/vzdump-qemu-101-x.vma"),
                    ("vmid", "300")
                ]
            )
            .expect("ok")),
            vec![(300, "`params.vmid`".into())]
        );
        assert_eq!(
            ids(&r(
                "/nodes/pve1/qemu/100/move_disk",
                &[("volume", "local-lvm:vm-101-disk-0")]
            )
            .expect("ok"))[1],
            (101, "`params.volume`".into())
        );
    }

    #[test]
    fn start_and_resume_only() {
        assert!(starts_only(&[
            "nodes", "pve1", "qemu", "100", "status", "start"
        ]));
        assert!(starts_only(&[
            "nodes", "pve1", "lxc", "200", "status", "resume"
        ]));
        assert!(!starts_only(&[
            "nodes", "pve1", "qemu", "100", "status", "stop"
        ]));
        assert!(!starts_only(&["nodes", "pve1", "startall"]));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_parameters_never_panic(k in "[a-z-]{1,12}", v in "\\PC{0,40}") {
            let _ = r("/nodes/pve1/stopall", &[(k.as_str(), v.as_str())]);
            let _ = r("/cluster/ha/resources", &[("sid", v.as_str())]);
        }
    }
}
