//! What the tools read from the REST API, typed.
//!
//! Each model names the fields a tool reads or reports, and keeps every other field PVE sends
//! in `other`, as given: the tools report PVE's answers whole (a node's status holds dozens
//! of fields, a VM's status per-disk block statistics), and a typed model must not drop or
//! rewrite any of them. Numbers are [`Number`]s, so `0` stays `0` and `0.05` stays `0.05`.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};

/// The other fields of an answer, passed through as PVE sent them.
pub type Fields = Map<String, Value>;

/// A guest's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A virtual machine.
    Qemu,
    /// A container.
    Lxc,
}

impl GuestKind {
    /// As in API paths: `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Lxc => "lxc",
        }
    }

    /// From an API path segment or a resource `type`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "qemu" => Some(Self::Qemu),
            "lxc" => Some(Self::Lxc),
            _ => None,
        }
    }
}

impl std::fmt::Display for GuestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A VM or container, as `/cluster/resources` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Guest {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` (a VM) or `lxc` (a container).
    #[serde(rename = "type")]
    pub kind: GuestKind,
    /// The guest's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `running`, `stopped` or `paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// CPU usage, 0 to `maxcpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Number>,
    /// Virtual CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxcpu: Option<Number>,
    /// Memory in use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<Number>,
    /// Memory size, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<Number>,
    /// Every other field PVE reports (`id`, `disk`, `maxdisk`, `uptime`, `tags`, `template`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// The guests (qemu and lxc) in a `/cluster/resources` answer. Nodes, storage and anything
/// else are dropped, and so is a guest entry that cannot be read (logged).
pub fn guests_of(data: &Value) -> Vec<Guest> {
    let Some(all) = data.as_array() else {
        return Vec::new();
    };
    all.iter()
        .filter(|r| r.get("type").and_then(Value::as_str).is_some_and(|t| GuestKind::parse(t).is_some()))
        .filter_map(|r| match Guest::deserialize(r) {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "a guest in /cluster/resources cannot be read; left out");
                None
            }
        })
        .collect()
}

/// A node, as `/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeEntry {
    /// The node's name.
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// CPU usage, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Number>,
    /// CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxcpu: Option<Number>,
    /// Memory in use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<Number>,
    /// Memory size, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<Number>,
    /// Root disk in use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Number>,
    /// Root disk size, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxdisk: Option<Number>,
    /// Seconds since boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Number>,
    /// Every other field PVE reports (`id`, `level`, `ssl_fingerprint`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// One node's status (`/nodes/{node}/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStatus {
    /// The PVE version, e.g. `pve-manager/8.2.4/faa83925c9641325`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pveversion: Option<String>,
    /// The running kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kversion: Option<String>,
    /// Seconds since boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Number>,
    /// CPU usage, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Number>,
    /// Every other field PVE reports (`memory`, `loadavg`, `cpuinfo`, `rootfs`, `swap`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A guest's current status (`/nodes/{node}/{kind}/{vmid}/status/current`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GuestStatus {
    /// `running` or `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The guest's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds since the guest started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Number>,
    /// CPU usage, 0 to `cpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Number>,
    /// Memory in use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<Number>,
    /// Memory size, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<Number>,
    /// Every other field PVE reports (`qmpstatus`, `cpus`, `disk`, `netin`, `ha`, `blockstat`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// What a tool reads of a guest's configuration (`/nodes/{node}/{kind}/{vmid}/config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GuestConfig {
    /// The protection flag: set when PVE says `1` (a number or a string).
    #[serde(default, deserialize_with = "flag")]
    pub protection: bool,
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.as_i64() == Some(1) || v.as_str() == Some("1"))
}

/// A flag PVE sends as `1`, `"1"` or `true`.
fn flag_or_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.as_i64() == Some(1) || v.as_str() == Some("1") || v.as_bool() == Some(true))
}

/// A task's status (`/nodes/{node}/tasks/{upid}/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Once stopped: `OK`, or the task's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exitstatus: Option<String>,
    /// The task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    /// The task type, e.g. `qmstart`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// Every other field PVE reports (`node`, `id`, `user`, `starttime`, `pid`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// The API version (`/version`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Version {
    /// e.g. `8.2.4`.
    #[serde(default)]
    pub version: Option<String>,
}

/// The answer of a `proxmox_api` passthrough call. Its `data` is free-form by nature: any
/// path of the API, whatever it returns, so it stays a JSON value (the only one a tool gets
/// from this client).
#[derive(Debug, Clone, PartialEq)]
pub struct RawResponse {
    /// The `data` of the answer (`null` when PVE sent none).
    pub data: Value,
}

/// A snapshot, or `current` (`/nodes/{node}/{kind}/{vmid}/snapshot`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// The snapshot's name; `current` is the guest's present state.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was taken (Unix time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snaptime: Option<Number>,
    /// The snapshot it was taken on top of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Every other field PVE reports (`vmstate`, `running`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A backup volume (`/nodes/{node}/storage/{storage}/content?content=backup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackupVolume {
    /// The volume id, e.g. `local:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst`.
    pub volid: String,
    /// The guest backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<Number>,
    /// When it was written (Unix time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<Number>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Number>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Protected from pruning and removal.
    #[serde(default, deserialize_with = "flag_or_bool")]
    pub protected: bool,
    /// Every other field PVE reports (`format`, `subtype`, `verification`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A storage of a node, with usage (`/nodes/{node}/storage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StorageEntry {
    /// The storage id.
    pub storage: String,
    /// Content types it holds, e.g. `backup,iso,vztmpl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Bytes in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Number>,
    /// Bytes used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<Number>,
    /// Bytes free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avail: Option<Number>,
    /// Every other field PVE reports (`type`, `shared`, `active`, `enabled`, `used_fraction`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A network interface of a node (`/nodes/{node}/network`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkIface {
    /// The interface name, e.g. `vmbr0`.
    pub iface: String,
    /// `bridge`, `eth`, `bond`, `vlan`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Every other field PVE reports (`cidr`, `bridge_ports`, `active`, `gateway`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A firewall rule (`.../firewall/rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FirewallRule {
    /// Position in the rule list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<Number>,
    /// `in`, `out` or `group`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `ACCEPT`, `DROP`, `REJECT` or a security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Every other field PVE reports (`proto`, `dport`, `source`, `enable`, `macro`, `comment`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// A task as `/nodes/{node}/tasks` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskEntry {
    /// The task id.
    pub upid: String,
    /// The task type, e.g. `vzdump`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// The object, usually a VMID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Once finished: `OK` or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Every other field PVE reports (`node`, `user`, `starttime`, `endtime`, ...), as given.
    #[serde(flatten)]
    pub other: Fields,
}

/// One line of a task log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// Line number.
    pub n: u64,
    /// Text.
    pub t: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_keep_every_field_as_given() {
        let g = serde_json::json!({"vmid": 100, "node": "pve1", "type": "qemu", "name": "web",
            "status": "running", "cpu": 0, "maxcpu": 2, "mem": 12.5, "tags": "a;b", "template": 0,
            "id": "qemu/100"});
        let parsed =
            guests_of(&serde_json::json!([g, {"type": "node", "node": "pve1"}, {"type": "lxc"}]));
        assert_eq!(
            parsed.len(),
            1,
            "the node and the unreadable guest are left out"
        );
        assert_eq!(serde_json::to_value(&parsed[0]).expect("serialises"), g);
        let cfg: GuestConfig =
            serde_json::from_value(serde_json::json!({"protection": "1"})).expect("cfg");
        assert!(cfg.protection);
        let cfg: GuestConfig =
            serde_json::from_value(serde_json::json!({"protection": true})).expect("cfg");
        assert!(!cfg.protection);
        let cfg: GuestConfig = serde_json::from_value(serde_json::json!({})).expect("cfg");
        assert!(!cfg.protection);
    }
}
