//! Day-2 operations of the simulated cluster: snapshots (a tree per guest, with `current`),
//! vzdump backups written as volumes to a storage's content, restore from those volumes,
//! guest config updates, and the read-only network and firewall views.
//!
//! Shapes and messages follow PVE's API schema (`apidata.js`) and PVE's own wording:
//! a guest busy with a task is "VM is locked (snapshot)", a missing snapshot is
//! "snapshot 'NAME' does not exist", and a backup that does not fit its storage fails its
//! task with "job errors" and a log line naming "No space left on device".

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::errors::PveError;
use super::state::{Cluster, GuestKind, GuestSpec, GuestStatus};
use super::tasks::{PowerAction, Task};

const GIB: u64 = 1024 * 1024 * 1024;

/// What a task does.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// A power action.
    Power(PowerAction),
    /// `POST .../snapshot`.
    Snapshot {
        /// Snapshot name.
        name: String,
        /// Description.
        description: String,
        /// Include RAM (qemu).
        vmstate: bool,
    },
    /// `POST .../snapshot/NAME/rollback`.
    Rollback {
        /// Snapshot name.
        name: String,
        /// Start the guest afterwards.
        start: bool,
    },
    /// `DELETE .../snapshot/NAME`.
    DelSnapshot {
        /// Snapshot name.
        name: String,
    },
    /// `POST /nodes/N/vzdump` of one guest.
    Vzdump {
        /// Target storage.
        storage: String,
        /// `snapshot`, `suspend` or `stop`.
        mode: String,
        /// `0`, `gzip`, `lzo` or `zstd`.
        compress: String,
        /// Mark the backup protected.
        protected: bool,
        /// Notes of the backup.
        notes: Option<String>,
    },
    /// `POST /nodes/N/{qemu,lxc}` with an archive.
    Restore {
        /// The backup volume.
        archive: String,
    },
}

impl Work {
    /// The task type: `qmsnapshot`, `vzdump`, `qmrestore`...
    pub fn task_type(&self, kind: GuestKind) -> String {
        let prefix = match kind {
            GuestKind::Qemu => "qm",
            GuestKind::Lxc => "vz",
        };
        match self {
            Self::Power(a) => a.task_type(kind),
            Self::Snapshot { .. } => format!("{prefix}snapshot"),
            Self::Rollback { .. } => format!("{prefix}rollback"),
            Self::DelSnapshot { .. } => format!("{prefix}delsnapshot"),
            Self::Vzdump { .. } => "vzdump".into(),
            Self::Restore { .. } => format!("{prefix}restore"),
        }
    }

    /// The first log line.
    pub fn first_line(&self, kind: GuestKind, vmid: u32) -> String {
        let noun = kind.noun();
        match self {
            Self::Power(a) => format!("{} {noun} {vmid}", a.as_str()),
            Self::Snapshot { name, .. } => format!("snapshot '{name}' of {noun} {vmid}"),
            Self::Rollback { name, .. } => format!("rollback {noun} {vmid} to snapshot '{name}'"),
            Self::DelSnapshot { name } => format!("delete snapshot '{name}' of {noun} {vmid}"),
            Self::Vzdump { storage, mode, .. } => {
                format!(
                    "INFO: starting new backup job: vzdump {vmid} --storage {storage} --mode {mode}"
                )
            }
            Self::Restore { archive } => format!("restore vma archive: {archive}"),
        }
    }

    /// The guest lock held while the task runs.
    pub fn lock(&self) -> Option<&'static str> {
        match self {
            Self::Power(_) => None,
            Self::Snapshot { .. } => Some("snapshot"),
            Self::Rollback { .. } => Some("rollback"),
            Self::DelSnapshot { .. } => Some("snapshot-delete"),
            Self::Vzdump { .. } => Some("backup"),
            Self::Restore { .. } => Some("create"),
        }
    }
}

/// One snapshot of a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct Snap {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unix time taken.
    pub snaptime: u64,
    /// RAM included.
    pub vmstate: bool,
    /// The snapshot it was taken on top of.
    pub parent: Option<String>,
    /// The guest as it was.
    pub saved: GuestSpec,
}

/// A guest's snapshots and the parent of its current state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapTree {
    /// Oldest first.
    pub snaps: Vec<Snap>,
    /// The snapshot `current` descends from.
    pub current_parent: Option<String>,
}

/// A backup volume on a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The node whose local storage holds it (`None` for shared storage).
    pub node: Option<String>,
    /// Storage id.
    pub storage: String,
    /// `STORAGE:backup/vzdump-...`.
    pub volid: String,
    /// Guest backed up.
    pub vmid: u32,
    /// Its kind.
    pub kind: GuestKind,
    /// Bytes.
    pub size: u64,
    /// Unix time written.
    pub ctime: u64,
    /// Notes.
    pub notes: Option<String>,
    /// Protected from pruning and removal.
    pub protected: bool,
    /// `vma.zst`, `tar.zst`...
    pub format: String,
    /// The guest as backed up.
    pub saved: GuestSpec,
}

impl Volume {
    /// An entry of `GET /nodes/N/storage/S/content`.
    pub fn json(&self) -> Value {
        let mut o = Map::new();
        o.insert("volid".into(), json!(self.volid));
        o.insert("content".into(), json!("backup"));
        o.insert("format".into(), json!(self.format));
        o.insert("size".into(), json!(self.size));
        o.insert("ctime".into(), json!(self.ctime));
        o.insert("vmid".into(), json!(self.vmid));
        o.insert("subtype".into(), json!(self.kind.as_str()));
        if let Some(n) = &self.notes {
            o.insert("notes".into(), json!(n));
        }
        if self.protected {
            o.insert("protected".into(), json!(1));
        }
        Value::Object(o)
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY_MM_DD-HH_MM_SS` (UTC) of a Unix time, as vzdump names its files.
pub fn vzdump_stamp(t: u64) -> String {
    let days = t / 86_400;
    let rem = t % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}_{m:02}_{d:02}-{:02}_{:02}_{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A snapshot name as PVE's `pve-configid` allows: a letter, then one or more letters,
/// digits, `-` and `_` (at least two characters); at most 40 characters.
pub fn check_snapname(field: &str, name: &str) -> Result<(), PveError> {
    let ok = (2..=40).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PveError::param(
            field,
            format!("invalid format - invalid configuration ID '{name}'"),
        ))
    }
}

impl Cluster {
    /// `GET /nodes/N/{kind}/VMID/snapshot`: every snapshot, then `current`.
    pub fn snapshot_list(&self, vmid: u32, kind: GuestKind, running: bool) -> Value {
        let tree = self.snapshots.get(&vmid).cloned().unwrap_or_default();
        let mut out: Vec<Value> = tree
            .snaps
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("name".into(), json!(s.name));
                o.insert("description".into(), json!(s.description));
                o.insert("snaptime".into(), json!(s.snaptime));
                if kind == GuestKind::Qemu {
                    o.insert("vmstate".into(), json!(u8::from(s.vmstate)));
                }
                if let Some(p) = &s.parent {
                    o.insert("parent".into(), json!(p));
                }
                Value::Object(o)
            })
            .collect();
        let mut cur = Map::new();
        cur.insert("name".into(), json!("current"));
        cur.insert("description".into(), json!("You are here!"));
        if kind == GuestKind::Qemu {
            cur.insert("running".into(), json!(u8::from(running)));
        }
        if let Some(p) = &tree.current_parent {
            cur.insert("parent".into(), json!(p));
        }
        out.push(Value::Object(cur));
        Value::Array(out)
    }

    /// The snapshot `name` of `vmid`, or PVE's error for a missing one.
    pub fn snapshot(&self, vmid: u32, name: &str) -> Result<&Snap, PveError> {
        self.snapshots
            .get(&vmid)
            .and_then(|t| t.snaps.iter().find(|s| s.name == name))
            .ok_or_else(|| PveError::internal(format!("snapshot '{name}' does not exist")))
    }

    /// Bytes the backup volumes take on `storage` of `node`.
    pub fn volumes_used(&self, node: &str, storage: &str) -> u64 {
        self.volumes_on(node, storage).map(|v| v.size).sum()
    }

    /// The backup volumes on `storage` as seen from `node`.
    pub fn volumes_on<'a>(
        &'a self,
        node: &'a str,
        storage: &'a str,
    ) -> impl Iterator<Item = &'a Volume> + 'a {
        self.volumes
            .iter()
            .filter(move |v| v.storage == storage && v.node.as_deref().is_none_or(|n| n == node))
    }

    /// Free bytes on `storage` of `node`.
    pub fn storage_avail(&self, node: &str, storage: &str) -> Option<u64> {
        let s = self.seed.storage.iter().find(|s| s.storage == storage)?;
        Some(
            s.total
                .saturating_sub(s.used)
                .saturating_sub(self.volumes_used(node, storage)),
        )
    }

    /// The volume `volid` as seen from `node`.
    pub fn volume(&self, node: &str, volid: &str) -> Option<&Volume> {
        self.volumes
            .iter()
            .find(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node))
    }
}

/// The size of a backup of `g`: an eighth of its disk, compressed.
fn backup_size(g: &GuestSpec) -> u64 {
    g.disk_gb * GIB / 8
}

fn noun(kind: GuestKind) -> &'static str {
    kind.noun()
}

/// Applies a finished non-power task; returns its exit status and log lines (between the
/// first line and `TASK OK` / `TASK ERROR`).
pub fn finish(cluster: &mut Cluster, task: &Task) -> (String, Vec<String>) {
    let vmid = task.vmid;
    let kind = task.kind;
    let node = task.upid.node.clone();
    let unlock = |c: &mut Cluster| {
        if let Some(g) = c.guests.get_mut(&vmid) {
            g.spec.lock = None;
        }
    };
    let Some(guest) = cluster.guests.get(&vmid).cloned() else {
        return (format!("{} {vmid} vanished", noun(kind)), Vec::new());
    };
    match &task.work {
        Work::Power(_) => ("OK".into(), Vec::new()),
        Work::Snapshot {
            name,
            description,
            vmstate,
        } => {
            let mut saved = guest.spec.clone();
            saved.lock = None;
            let tree = cluster.snapshots.entry(vmid).or_default();
            tree.snaps.push(Snap {
                name: name.clone(),
                description: description.clone(),
                snaptime: task.upid.starttime,
                vmstate: *vmstate && guest.spec.status.is_active(),
                parent: tree.current_parent.clone(),
                saved,
            });
            tree.current_parent = Some(name.clone());
            unlock(cluster);
            let mut log = Vec::new();
            if *vmstate && kind == GuestKind::Qemu {
                log.push("saving VM state and RAM using storage 'local-lvm'".into());
            }
            log.push(format!(
                "snapshotting 'rootfs' (local-lvm:vm-{vmid}-disk-0)"
            ));
            ("OK".into(), log)
        }
        Work::Rollback { name, start } => {
            let Ok(snap) = cluster.snapshot(vmid, name).cloned() else {
                unlock(cluster);
                return (format!("snapshot '{name}' does not exist"), Vec::new());
            };
            let at = task.ends_at;
            if let Some(g) = cluster.guests.get_mut(&vmid) {
                let status = if snap.vmstate || *start {
                    GuestStatus::Running
                } else {
                    GuestStatus::Stopped
                };
                let mut spec = snap.saved;
                spec.node = g.spec.node.clone();
                spec.status = g.spec.status;
                spec.lock = None;
                g.spec = spec;
                g.set_status(status, true, at);
            }
            if let Some(t) = cluster.snapshots.get_mut(&vmid) {
                t.current_parent = Some(name.clone());
            }
            let mut log = vec![format!(
                "Logical volume \"vm-{vmid}-disk-0\" successfully removed"
            )];
            if *start {
                log.push(format!("start {} {vmid}", noun(kind)));
            }
            ("OK".into(), log)
        }
        Work::DelSnapshot { name } => {
            if let Some(t) = cluster.snapshots.get_mut(&vmid)
                && let Some(i) = t.snaps.iter().position(|s| &s.name == name)
            {
                let gone = t.snaps.remove(i);
                for s in &mut t.snaps {
                    if s.parent.as_deref() == Some(name) {
                        s.parent.clone_from(&gone.parent);
                    }
                }
                if t.current_parent.as_deref() == Some(name) {
                    t.current_parent = gone.parent;
                }
            }
            unlock(cluster);
            ("OK".into(), Vec::new())
        }
        Work::Vzdump {
            storage,
            mode,
            compress,
            protected,
            notes,
        } => {
            unlock(cluster);
            let size = backup_size(&guest.spec);
            let kind_s = kind.as_str();
            let mut log = vec![format!("INFO: Starting Backup of VM {vmid} ({kind_s})")];
            log.push(format!("INFO: backup mode: {mode}"));
            let avail = cluster.storage_avail(&node, storage).unwrap_or(0);
            if size > avail {
                log.push(format!(
                    "ERROR: Backup of VM {vmid} failed - vma_queue_write: write error - No space left on device"
                ));
                log.push("INFO: Failed at backup job".into());
                return ("job errors".into(), log);
            }
            let ext = match (kind, compress.as_str()) {
                (GuestKind::Qemu, "0") => "vma".to_string(),
                (GuestKind::Qemu, c) => format!("vma.{}", compress_ext(c)),
                (GuestKind::Lxc, "0") => "tar".to_string(),
                (GuestKind::Lxc, c) => format!("tar.{}", compress_ext(c)),
            };
            let stamp = vzdump_stamp(task.upid.starttime);
            let volid = format!("{storage}:backup/vzdump-{kind_s}-{vmid}-{stamp}.{ext}");
            let shared = cluster
                .seed
                .storage
                .iter()
                .any(|s| s.storage == *storage && s.shared == 1);
            let mut saved = guest.spec;
            saved.lock = None;
            cluster.volumes.push(Volume {
                node: (!shared).then(|| node.clone()),
                storage: storage.clone(),
                volid: volid.clone(),
                vmid,
                kind,
                size,
                ctime: task.upid.starttime,
                notes: notes.clone(),
                protected: *protected,
                format: ext,
                saved,
            });
            log.push(format!("INFO: creating vzdump archive '{volid}'"));
            log.push(format!("INFO: Finished Backup of VM {vmid} (00:00:01)"));
            log.push("INFO: Backup job finished successfully".into());
            ("OK".into(), log)
        }
        Work::Restore { archive } => {
            unlock(cluster);
            (
                "OK".into(),
                vec![format!(
                    "restore {} {vmid} from {archive}: done",
                    noun(kind)
                )],
            )
        }
    }
}

fn compress_ext(c: &str) -> &'static str {
    match c {
        "gzip" => "gz",
        "lzo" => "lzo",
        _ => "zst",
    }
}

/// `GET /nodes/N/network`: a bridge on the node's address and its port.
pub fn network(ip: Option<&str>) -> Value {
    let mut bridge = json!({
        "iface": "vmbr0",
        "type": "bridge",
        "method": "static",
        "families": ["inet"],
        "active": 1,
        "autostart": 1,
        "bridge_ports": "eno1",
        "bridge_stp": "off",
        "bridge_fd": "0",
        "priority": 3,
    });
    if let (Some(ip), Some(o)) = (ip, bridge.as_object_mut()) {
        o.insert("address".into(), json!(ip));
        o.insert("netmask".into(), json!("24"));
        o.insert("cidr".into(), json!(format!("{ip}/24")));
        let gw = ip.rsplit_once('.').map(|(a, _)| format!("{a}.1"));
        if let Some(gw) = gw {
            o.insert("gateway".into(), json!(gw));
        }
    }
    json!([
        {"iface": "eno1", "type": "eth", "method": "manual", "families": ["inet"], "active": 1, "exists": 1, "priority": 2},
        bridge,
        {"iface": "vmbr1", "type": "bridge", "method": "manual", "families": ["inet"], "active": 1, "autostart": 1, "bridge_ports": "", "bridge_vlan_aware": 1, "comments": "guest-only VLANs\n", "priority": 4},
    ])
}

/// `GET .../firewall/rules` of the cluster, a node or a guest (keys as in the shared
/// fixtures of real PVE answers: `pos`, `type`, `action`, `enable`, `iface`, `source`,
/// `dest`, `proto`, `dport`, `comment`, `macro`, `log`).
pub fn firewall_rules(level: &str) -> Value {
    match level {
        "cluster" => json!([
            {"pos": 0, "type": "in", "action": "ACCEPT", "enable": 1, "proto": "tcp", "dport": "8006", "source": "10.0.0.0/24", "comment": "web UI"},
            {"pos": 1, "type": "in", "action": "ACCEPT", "enable": 1, "macro": "SSH", "source": "10.0.0.0/24", "comment": "admin network"},
            {"pos": 2, "type": "in", "action": "DROP", "enable": 1, "log": "nolog"},
        ]),
        "node" => json!([
            {"pos": 0, "type": "in", "action": "ACCEPT", "enable": 1, "iface": "vmbr0", "source": "10.0.0.0/24", "dest": "10.0.0.11", "proto": "tcp", "dport": "22", "comment": "SSH from the admin network"},
            {"pos": 1, "type": "in", "action": "ACCEPT", "enable": 1, "proto": "icmp"},
        ]),
        _ => json!([
            {"pos": 0, "type": "in", "action": "ACCEPT", "enable": 1, "proto": "tcp", "dport": "443", "comment": "https"},
            {"pos": 1, "type": "out", "action": "REJECT", "enable": 0, "proto": "tcp", "dport": "25"},
        ]),
    }
}
