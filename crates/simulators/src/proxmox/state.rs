//! Cluster state: the seed file format ([`StateFile`]), its validation, the
//! built-in default (`fixtures/proxmox/cluster.json`), and the runtime
//! [`Cluster`] that renders the API's JSON objects.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::tasks::TaskTable;

/// The built-in default state; the same text as `fixtures/proxmox/cluster.json`.
pub const DEFAULT_STATE_JSON: &str = include_str!("../../fixtures/proxmox/cluster.json");

/// Privilege needed to power-manage a guest (`POST .../status/*`).
pub const PRIV_POWER: &str = "VM.PowerMgmt";
/// Privilege needed to read a guest's status and configuration.
pub const PRIV_AUDIT: &str = "VM.Audit";

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;
/// Swap every node reports (8 GiB, unused).
const NODE_SWAP: u64 = 8 * GIB;
/// Swap every container reports (512 MiB).
const CT_SWAP: u64 = 512 * MIB;

/// Errors loading a state file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The file (`<built-in>` for the default).
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file parses but is inconsistent (duplicate vmid, unknown node...).
    #[error("invalid state in {path}: {message}")]
    Invalid {
        /// The file (`<built-in>` for the default).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Guest kind: a QEMU VM or an LXC container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// QEMU/KVM virtual machine (`/nodes/N/qemu`).
    Qemu,
    /// LXC container (`/nodes/N/lxc`).
    Lxc,
}

impl GuestKind {
    /// `qemu` or `lxc`, as in URLs and `type` fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Lxc => "lxc",
        }
    }

    /// Parses a URL segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "qemu" => Some(Self::Qemu),
            "lxc" => Some(Self::Lxc),
            _ => None,
        }
    }

    /// The guest's configuration file relative to `/etc/pve`.
    pub fn config_file(self, node: &str, vmid: u32) -> String {
        match self {
            Self::Qemu => format!("nodes/{node}/qemu-server/{vmid}.conf"),
            Self::Lxc => format!("nodes/{node}/lxc/{vmid}.conf"),
        }
    }

    /// `VM` or `CT`, as PVE words its error messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Qemu => "VM",
            Self::Lxc => "CT",
        }
    }
}

/// Guest power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestStatus {
    /// Running.
    Running,
    /// Stopped.
    Stopped,
    /// Suspended (QEMU `qmpstatus: paused`; a frozen container).
    Paused,
}

impl GuestStatus {
    /// `running`, `stopped` or `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Paused => "paused",
        }
    }

    /// Running or paused: the guest has a process.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Stopped)
    }
}

/// The seed state file (`--state FILE.json`). Unknown fields are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Cluster name shown by `/cluster/status`.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// Cluster members, in order.
    pub nodes: Vec<NodeSpec>,
    /// VMs and containers.
    #[serde(default)]
    pub guests: Vec<GuestSpec>,
    /// Storages, present on every node unless `nodes` restricts them.
    #[serde(default)]
    pub storage: Vec<StorageSpec>,
    /// Users served by `/access/users`.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// The API token's privileges by ACL path. A path that is absent grants
    /// every privilege; a listed path grants exactly the listed ones. For a
    /// guest the most specific of `/vms/VMID`, `/vms` and `/` applies.
    #[serde(default)]
    pub token_privs: BTreeMap<String, Vec<String>>,
}

fn default_cluster_name() -> String {
    "simlab".to_owned()
}

fn default_true() -> bool {
    true
}

/// One cluster member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Node name.
    pub node: String,
    /// `false`: every `/nodes/NAME/...` request answers 595 `No route to host`.
    #[serde(default = "default_true")]
    pub online: bool,
    /// Address shown by `/cluster/status` (never contacted).
    #[serde(default)]
    pub ip: Option<String>,
    /// Logical CPUs.
    #[serde(default = "default_maxcpu")]
    pub maxcpu: u32,
    /// CPU sockets.
    #[serde(default = "default_sockets")]
    pub sockets: u32,
    /// CPU model string.
    #[serde(default = "default_cpu_model")]
    pub cpu_model: String,
    /// CPU load (0.0-1.0).
    #[serde(default)]
    pub cpu: f64,
    /// Memory in bytes.
    #[serde(default = "default_node_maxmem")]
    pub maxmem: u64,
    /// Used memory in bytes.
    #[serde(default)]
    pub mem: u64,
    /// Root disk size in bytes.
    #[serde(default = "default_node_maxdisk")]
    pub maxdisk: u64,
    /// Used root disk in bytes.
    #[serde(default)]
    pub disk: u64,
    /// Uptime in seconds when the simulator starts.
    #[serde(default)]
    pub uptime: u64,
}

fn default_maxcpu() -> u32 {
    8
}
fn default_sockets() -> u32 {
    1
}
fn default_cpu_model() -> String {
    "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz".to_owned()
}
fn default_node_maxmem() -> u64 {
    32 * GIB
}
fn default_node_maxdisk() -> u64 {
    100 * GIB
}

/// One VM or container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestSpec {
    /// Guest id (100-999999999), unique in the cluster.
    pub vmid: u32,
    /// `qemu` or `lxc`.
    #[serde(rename = "type")]
    pub kind: GuestKind,
    /// Name (containers: hostname).
    pub name: String,
    /// Node the guest lives on.
    pub node: String,
    /// Initial power state.
    pub status: GuestStatus,
    /// 1 for a template (must be stopped).
    #[serde(default)]
    pub template: u8,
    /// 1 when protected (does not block power actions, as in PVE).
    #[serde(default)]
    pub protection: u8,
    /// Semicolon-separated tags.
    #[serde(default)]
    pub tags: Option<String>,
    /// A config lock (`backup`, `migrate`...): power actions fail while set.
    #[serde(default)]
    pub lock: Option<String>,
    /// vCPUs.
    #[serde(default = "default_cores")]
    pub cores: u32,
    /// Memory in MiB.
    #[serde(default = "default_memory")]
    pub memory: u64,
    /// Disk size in GiB.
    #[serde(default = "default_disk_gb")]
    pub disk_gb: u64,
    /// CPU load while running (default 0.02).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Used memory in bytes while running (default a quarter of `memory`).
    #[serde(default)]
    pub mem: Option<u64>,
    /// Uptime in seconds when the simulator starts, if running (default 3600).
    #[serde(default)]
    pub uptime: Option<u64>,
    /// Extra or overriding keys of `GET .../config` (strings or numbers).
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// When set, every power task on this guest ends with this exit status
    /// and leaves the guest as it was.
    #[serde(default)]
    pub task_error: Option<String>,
}

fn default_cores() -> u32 {
    1
}
fn default_memory() -> u64 {
    512
}
fn default_disk_gb() -> u64 {
    8
}

/// One storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// Storage id.
    pub storage: String,
    /// Plugin type (`dir`, `lvmthin`, `nfs`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Comma-separated content types.
    #[serde(default)]
    pub content: String,
    /// 1 when shared between nodes.
    #[serde(default)]
    pub shared: u8,
    /// Size in bytes.
    #[serde(default)]
    pub total: u64,
    /// Used bytes.
    #[serde(default)]
    pub used: u64,
    /// Nodes that have it (default: all).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
}

/// One user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// `USER@REALM`.
    pub userid: String,
    /// 1 when enabled.
    #[serde(default = "default_enable")]
    pub enable: u8,
    /// Expiry (Unix time, 0 = never).
    #[serde(default)]
    pub expire: u64,
    /// First name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
}

fn default_enable() -> u8 {
    1
}

/// Lowest and highest valid vmid.
pub const VMID_RANGE: std::ops::RangeInclusive<u32> = 100..=999_999_999;

/// Can `s` appear in an HTTP reason phrase and a URL segment unescaped?
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

impl StateFile {
    /// Parses and validates a state document; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, LoadError> {
        let state: Self = serde_json::from_str(text).map_err(|source| LoadError::Parse {
            path: path.to_owned(),
            source,
        })?;
        state.validate().map_err(|message| LoadError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(state)
    }

    /// Reads, parses and validates a state file.
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// The built-in default state ([`DEFAULT_STATE_JSON`]).
    pub fn builtin() -> Result<Self, LoadError> {
        Self::parse(DEFAULT_STATE_JSON, "<built-in>")
    }

    /// Checks the document is consistent.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("at least one node is required".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for n in &self.nodes {
            if !is_plain_name(&n.node) {
                return Err(format!(
                    "node name {:?} must be 1-128 letters, digits, '-', '.' or '_'",
                    n.node
                ));
            }
            if !names.insert(n.node.as_str()) {
                return Err(format!("duplicate node {:?}", n.node));
            }
            if n.maxcpu == 0 || n.sockets == 0 {
                return Err(format!("node {}: maxcpu and sockets must be > 0", n.node));
            }
            if n.mem > n.maxmem || n.disk > n.maxdisk {
                return Err(format!("node {}: mem/disk exceed maxmem/maxdisk", n.node));
            }
            if !(0.0..=1.0).contains(&n.cpu) {
                return Err(format!("node {}: cpu must be within 0.0-1.0", n.node));
            }
        }
        let mut vmids = std::collections::BTreeSet::new();
        for g in &self.guests {
            let at = format!("guest {}", g.vmid);
            if !VMID_RANGE.contains(&g.vmid) {
                return Err(format!("{at}: vmid must be within 100-999999999"));
            }
            if !vmids.insert(g.vmid) {
                return Err(format!("duplicate vmid {}", g.vmid));
            }
            if !names.contains(g.node.as_str()) {
                return Err(format!("{at}: unknown node {:?}", g.node));
            }
            if !is_plain_name(&g.name) {
                return Err(format!(
                    "{at}: name {:?} must be 1-128 letters, digits, '-', '.' or '_'",
                    g.name
                ));
            }
            if g.template > 1 || g.protection > 1 {
                return Err(format!("{at}: template and protection must be 0 or 1"));
            }
            if g.template == 1 && g.status != GuestStatus::Stopped {
                return Err(format!("{at}: a template must be stopped"));
            }
            if g.cores == 0 || g.memory == 0 {
                return Err(format!("{at}: cores and memory must be > 0"));
            }
            if let Some(lock) = g.lock.as_deref().filter(|l| !is_plain_name(l)) {
                return Err(format!("{at}: lock {lock:?} is not a plain word"));
            }
            if g.cpu.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                return Err(format!("{at}: cpu must be within 0.0-1.0"));
            }
            if g.mem.is_some_and(|m| m > g.memory * MIB) {
                return Err(format!("{at}: mem exceeds memory"));
            }
            if let Some((k, _)) = g
                .config
                .iter()
                .find(|(_, v)| !(v.is_string() || v.is_number()))
            {
                return Err(format!("{at}: config.{k} must be a string or a number"));
            }
        }
        for s in &self.storage {
            if !is_plain_name(&s.storage) {
                return Err(format!("storage id {:?} is not a plain word", s.storage));
            }
            if s.used > s.total {
                return Err(format!("storage {}: used exceeds total", s.storage));
            }
            if let Some(unknown) = s
                .nodes
                .iter()
                .flatten()
                .find(|n| !names.contains(n.as_str()))
            {
                return Err(format!("storage {}: unknown node {unknown:?}", s.storage));
            }
        }
        for u in &self.users {
            if !u.userid.contains('@') {
                return Err(format!("user {:?} must be USER@REALM", u.userid));
            }
        }
        for (path, privs) in &self.token_privs {
            if !path.starts_with('/') {
                return Err(format!("token_privs path {path:?} must start with '/'"));
            }
            if privs.iter().any(String::is_empty) {
                return Err(format!("token_privs {path}: empty privilege name"));
            }
        }
        Ok(())
    }
}

/// A deterministic 64-bit FNV-1a hash.
fn fnv64(data: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The splitmix64 finalizer: spreads every input bit over the output.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` pseudo-random bytes derived from `data`.
fn hash_bytes(data: &[u8], n: usize) -> Vec<u8> {
    (0..n.div_ceil(8) as u64)
        .flat_map(|i| mix64(fnv64(data, i) ^ mix64(i)).to_be_bytes())
        .take(n)
        .collect()
}

/// A colon-separated SHA-256-style fingerprint derived from `name`.
pub fn fingerprint(name: &str) -> String {
    hash_bytes(name.as_bytes(), 32)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A 40-hex-digit SHA-1-style digest derived from `data`.
pub fn digest(data: &[u8]) -> String {
    hash_bytes(data, 20)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A guest at run time.
#[derive(Debug, Clone)]
pub struct Guest {
    /// The seed description; `status` and `uptime` change with power tasks.
    pub spec: GuestSpec,
    /// When `spec.uptime` was last true.
    pub since: Instant,
}

impl Guest {
    /// Memory size in bytes.
    pub fn maxmem(&self) -> u64 {
        self.spec.memory * MIB
    }

    /// Disk size in bytes.
    pub fn maxdisk(&self) -> u64 {
        self.spec.disk_gb * GIB
    }

    /// Seconds the guest has been up (0 when stopped).
    pub fn uptime(&self, now: Instant) -> u64 {
        if self.spec.status.is_active() {
            self.spec.uptime.unwrap_or(3600) + now.saturating_duration_since(self.since).as_secs()
        } else {
            0
        }
    }

    /// CPU load: 0 unless running.
    pub fn cpu(&self) -> f64 {
        if self.spec.status == GuestStatus::Running {
            self.spec.cpu.unwrap_or(0.02)
        } else {
            0.0
        }
    }

    /// Used memory: 0 when stopped.
    pub fn mem(&self) -> u64 {
        if self.spec.status.is_active() {
            self.spec.mem.unwrap_or(self.maxmem() / 4)
        } else {
            0
        }
    }

    /// Simulated process id while active.
    pub fn pid(&self) -> Option<u64> {
        self.spec
            .status
            .is_active()
            .then_some(100_000 + u64::from(self.spec.vmid))
    }

    /// Sets the power state; (re)starting resets the uptime.
    pub fn set_status(&mut self, status: GuestStatus, restart: bool, now: Instant) {
        if restart || (!self.spec.status.is_active() && status.is_active()) {
            self.spec.uptime = Some(0);
            self.since = now;
        }
        self.spec.status = status;
    }

    /// Per-guest traffic counters (deterministic, 0 when stopped).
    fn io(&self, now: Instant) -> (u64, u64, u64, u64) {
        if !self.spec.status.is_active() {
            return (0, 0, 0, 0);
        }
        let base = u64::from(self.spec.vmid) * 1_000 + self.uptime(now) * 10;
        (base * 3, base * 2, base * 40, base * 20)
    }

    fn insert_common(&self, o: &mut Map<String, Value>, now: Instant) {
        let s = &self.spec;
        let (netin, netout, diskread, diskwrite) = self.io(now);
        o.insert("vmid".into(), json!(s.vmid));
        o.insert("name".into(), json!(s.name));
        o.insert("status".into(), json!(s.status.as_str()));
        o.insert("uptime".into(), json!(self.uptime(now)));
        o.insert("cpu".into(), json!(self.cpu()));
        o.insert("cpus".into(), json!(s.cores));
        o.insert("mem".into(), json!(self.mem()));
        o.insert("maxmem".into(), json!(self.maxmem()));
        o.insert("maxdisk".into(), json!(self.maxdisk()));
        let disk = match s.kind {
            // QEMU cannot see inside the guest's filesystem.
            GuestKind::Qemu => 0,
            GuestKind::Lxc => self.maxdisk() / 5,
        };
        o.insert("disk".into(), json!(disk));
        o.insert("netin".into(), json!(netin));
        o.insert("netout".into(), json!(netout));
        o.insert("diskread".into(), json!(diskread));
        o.insert("diskwrite".into(), json!(diskwrite));
        if let Some(pid) = self.pid() {
            o.insert("pid".into(), json!(pid));
        }
        if let Some(tags) = &s.tags {
            o.insert("tags".into(), json!(tags));
        }
        if let Some(lock) = &s.lock {
            o.insert("lock".into(), json!(lock));
        }
        if s.kind == GuestKind::Lxc {
            o.insert("type".into(), json!("lxc"));
            o.insert("maxswap".into(), json!(CT_SWAP));
            o.insert("swap".into(), json!(0));
        }
    }

    /// An entry of `GET /nodes/N/{qemu,lxc}`.
    pub fn list_entry(&self, now: Instant) -> Value {
        let mut o = Map::new();
        self.insert_common(&mut o, now);
        if self.spec.template == 1 {
            o.insert("template".into(), json!(1));
        }
        Value::Object(o)
    }

    /// `GET /nodes/N/{qemu,lxc}/VMID/status/current`.
    pub fn status_current(&self, now: Instant) -> Value {
        let s = &self.spec;
        let mut o = Map::new();
        self.insert_common(&mut o, now);
        o.insert("ha".into(), json!({"managed": 0}));
        if s.template == 1 {
            o.insert("template".into(), json!(1));
        }
        if s.kind == GuestKind::Qemu {
            o.insert("qmpstatus".into(), json!(s.status.as_str()));
            o.insert("agent".into(), json!(1));
            o.insert("balloon".into(), json!(self.maxmem()));
            if s.status.is_active() {
                o.insert("freemem".into(), json!(self.maxmem() - self.mem()));
                o.insert("running-machine".into(), json!("pc-i440fx-8.1+pve0"));
                o.insert("running-qemu".into(), json!("8.1.5"));
            }
        }
        Value::Object(o)
    }

    /// An entry of `GET /cluster/resources`; `online` is the node's state.
    pub fn resource(&self, online: bool, now: Instant) -> Value {
        let s = &self.spec;
        let mut o = Map::new();
        o.insert(
            "id".into(),
            json!(format!("{}/{}", s.kind.as_str(), s.vmid)),
        );
        o.insert("type".into(), json!(s.kind.as_str()));
        o.insert("vmid".into(), json!(s.vmid));
        o.insert("name".into(), json!(s.name));
        o.insert("node".into(), json!(s.node));
        o.insert("template".into(), json!(s.template));
        if let Some(tags) = &s.tags {
            o.insert("tags".into(), json!(tags));
        }
        if !online {
            // PVE has no fresh data for guests on an unreachable node.
            o.insert("status".into(), json!("unknown"));
            return Value::Object(o);
        }
        let mut stats = Map::new();
        self.insert_common(&mut stats, now);
        for key in [
            "status",
            "uptime",
            "cpu",
            "mem",
            "maxmem",
            "maxdisk",
            "disk",
            "netin",
            "netout",
            "diskread",
            "diskwrite",
            "lock",
        ] {
            if let Some(v) = stats.remove(key) {
                o.insert(key.into(), v);
            }
        }
        o.insert("maxcpu".into(), json!(s.cores));
        Value::Object(o)
    }

    /// `GET /nodes/N/{qemu,lxc}/VMID/config`.
    pub fn config(&self) -> Value {
        let s = &self.spec;
        let mut o = Map::new();
        let vmid = s.vmid;
        let mac = format!(
            "BC:24:11:{:02X}:{:02X}:{:02X}",
            (vmid >> 16) & 0xff,
            (vmid >> 8) & 0xff,
            vmid & 0xff
        );
        o.insert("memory".into(), json!(s.memory));
        o.insert("cores".into(), json!(s.cores));
        o.insert("protection".into(), json!(s.protection));
        match s.kind {
            GuestKind::Qemu => {
                o.insert("name".into(), json!(s.name));
                o.insert("sockets".into(), json!(1));
                o.insert("ostype".into(), json!("l26"));
                o.insert("boot".into(), json!("order=scsi0;net0"));
                o.insert("scsihw".into(), json!("virtio-scsi-pci"));
                o.insert(
                    "scsi0".into(),
                    json!(format!("local-lvm:vm-{vmid}-disk-0,size={}G", s.disk_gb)),
                );
                o.insert("net0".into(), json!(format!("virtio={mac},bridge=vmbr0")));
                o.insert("agent".into(), json!("1"));
            }
            GuestKind::Lxc => {
                o.insert("hostname".into(), json!(s.name));
                o.insert("arch".into(), json!("amd64"));
                o.insert("ostype".into(), json!("debian"));
                o.insert("swap".into(), json!(CT_SWAP / MIB));
                o.insert(
                    "rootfs".into(),
                    json!(format!("local-lvm:vm-{vmid}-disk-0,size={}G", s.disk_gb)),
                );
                o.insert(
                    "net0".into(),
                    json!(format!(
                        "name=eth0,bridge=vmbr0,hwaddr={mac},ip=dhcp,type=veth"
                    )),
                );
            }
        }
        if s.template == 1 {
            o.insert("template".into(), json!(1));
        }
        if let Some(tags) = &s.tags {
            o.insert("tags".into(), json!(tags));
        }
        if let Some(lock) = &s.lock {
            o.insert("lock".into(), json!(lock));
        }
        for (k, v) in &s.config {
            // PVE never returns the cloud-init password, only that one is set.
            if k == "cipassword" && s.kind == GuestKind::Qemu {
                o.insert(k.clone(), json!("**********"));
                continue;
            }
            o.insert(k.clone(), v.clone());
        }
        let text = serde_json::to_string(&o).unwrap_or_default();
        o.insert("digest".into(), json!(digest(text.as_bytes())));
        Value::Object(o)
    }
}

/// The cluster at run time: seed data, guests and tasks.
#[derive(Debug)]
pub struct Cluster {
    /// The seed (nodes, storage, users and privileges never change).
    pub seed: StateFile,
    /// Guests by vmid.
    pub guests: BTreeMap<u32, Guest>,
    /// Power tasks.
    pub tasks: TaskTable,
    /// Snapshots by vmid.
    pub snapshots: BTreeMap<u32, super::ops::SnapTree>,
    /// Backup volumes on every storage.
    pub volumes: Vec<super::ops::Volume>,
    started: Instant,
}

impl Cluster {
    /// A cluster in the state `seed` describes, as of `now`.
    pub fn new(seed: StateFile, now: Instant) -> Self {
        let guests = seed
            .guests
            .iter()
            .map(|g| {
                (
                    g.vmid,
                    Guest {
                        spec: g.clone(),
                        since: now,
                    },
                )
            })
            .collect();
        Self {
            seed,
            guests,
            tasks: TaskTable::default(),
            snapshots: BTreeMap::new(),
            volumes: Vec::new(),
            started: now,
        }
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.seed.nodes.iter().find(|n| n.node == name)
    }

    fn node_uptime(&self, n: &NodeSpec, now: Instant) -> u64 {
        n.uptime + now.saturating_duration_since(self.started).as_secs()
    }

    fn node_entry(&self, n: &NodeSpec, now: Instant) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("id".into(), json!(format!("node/{}", n.node)));
        o.insert("node".into(), json!(n.node));
        o.insert("type".into(), json!("node"));
        o.insert(
            "status".into(),
            json!(if n.online { "online" } else { "offline" }),
        );
        o.insert("level".into(), json!(""));
        if n.online {
            // PVE omits the statistics of nodes it cannot reach.
            o.insert("cpu".into(), json!(n.cpu));
            o.insert("maxcpu".into(), json!(n.maxcpu));
            o.insert("mem".into(), json!(n.mem));
            o.insert("maxmem".into(), json!(n.maxmem));
            o.insert("disk".into(), json!(n.disk));
            o.insert("maxdisk".into(), json!(n.maxdisk));
            o.insert("uptime".into(), json!(self.node_uptime(n, now)));
        }
        o
    }

    /// `GET /nodes`.
    pub fn nodes(&self, now: Instant) -> Value {
        self.seed
            .nodes
            .iter()
            .map(|n| {
                let mut o = self.node_entry(n, now);
                o.insert("ssl_fingerprint".into(), json!(fingerprint(&n.node)));
                Value::Object(o)
            })
            .collect()
    }

    /// `GET /nodes/N/status` for an online node.
    pub fn node_status(&self, n: &NodeSpec, now: Instant) -> Value {
        let cores = (n.maxcpu / n.sockets).max(1);
        json!({
            "cpu": n.cpu,
            "wait": 0.0012,
            "idle": 0,
            "memory": {"used": n.mem, "total": n.maxmem, "free": n.maxmem - n.mem},
            "swap": {"used": 0, "total": NODE_SWAP, "free": NODE_SWAP},
            "ksm": {"shared": 0},
            "uptime": self.node_uptime(n, now),
            "loadavg": ["0.15", "0.25", "0.30"],
            "kversion": "Linux 6.8.12-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-1 (2024-08-05T16:17Z)",
            "pveversion": "pve-manager/8.2.4/faa83925c9641325",
            "current-kernel": {
                "sysname": "Linux",
                "release": "6.8.12-1-pve",
                "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-1 (2024-08-05T16:17Z)",
                "machine": "x86_64",
            },
            "boot-info": {"mode": "efi", "secureboot": 0},
            "cpuinfo": {
                "model": n.cpu_model,
                "cores": cores,
                "cpus": n.maxcpu,
                "sockets": n.sockets,
                "mhz": "2400.000",
                "hvm": "1",
                "user_hz": 100,
                "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov",
            },
            "rootfs": {
                "used": n.disk,
                "total": n.maxdisk,
                "avail": n.maxdisk - n.disk,
                "free": n.maxdisk - n.disk,
            },
        })
    }

    /// Storages present on `node`.
    pub fn storages_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a StorageSpec> + 'a {
        self.seed.storage.iter().filter(move |s| {
            s.nodes
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| n == node))
        })
    }

    /// `GET /nodes/N/storage`.
    pub fn node_storage(&self, node: &str) -> Value {
        self.storages_on(node)
            .map(|s| {
                let used = (s.used + self.volumes_used(node, &s.storage)).min(s.total);
                let fraction = if s.total == 0 {
                    0.0
                } else {
                    used as f64 / s.total as f64
                };
                json!({
                    "storage": s.storage,
                    "type": s.kind,
                    "content": s.content,
                    "shared": s.shared,
                    "active": 1,
                    "enabled": 1,
                    "total": s.total,
                    "used": used,
                    "avail": s.total - used,
                    "used_fraction": fraction,
                })
            })
            .collect()
    }

    /// `GET /cluster/resources`, optionally filtered by `vm`, `node` or `storage`.
    pub fn resources(&self, filter: Option<&str>, now: Instant) -> Value {
        let want = |t: &str| filter.is_none_or(|f| f == t);
        let mut out = Vec::new();
        if want("node") {
            for n in &self.seed.nodes {
                out.push(Value::Object(self.node_entry(n, now)));
            }
        }
        if want("vm") {
            for g in self.guests.values() {
                let online = self.node(&g.spec.node).is_some_and(|n| n.online);
                out.push(g.resource(online, now));
            }
        }
        if want("storage") {
            for n in &self.seed.nodes {
                for s in self.storages_on(&n.node) {
                    out.push(json!({
                        "id": format!("storage/{}/{}", n.node, s.storage),
                        "type": "storage",
                        "storage": s.storage,
                        "node": n.node,
                        "status": if n.online { "available" } else { "unknown" },
                        "plugintype": s.kind,
                        "content": s.content,
                        "shared": s.shared,
                        "disk": s.used,
                        "maxdisk": s.total,
                    }));
                }
            }
        }
        Value::Array(out)
    }

    /// `GET /cluster/status`.
    pub fn cluster_status(&self) -> Value {
        let total = self.seed.nodes.len();
        let online = self.seed.nodes.iter().filter(|n| n.online).count();
        let mut out = vec![json!({
            "type": "cluster",
            "id": "cluster",
            "name": self.seed.cluster_name,
            "nodes": total,
            "quorate": u8::from(online * 2 > total),
            "version": total + 1,
        })];
        for (i, n) in self.seed.nodes.iter().enumerate() {
            let mut o = json!({
                "type": "node",
                "id": format!("node/{}", n.node),
                "name": n.node,
                "nodeid": i + 1,
                "online": u8::from(n.online),
                "local": u8::from(i == 0),
                "level": "",
            });
            if let (Some(ip), Some(obj)) = (&n.ip, o.as_object_mut()) {
                obj.insert("ip".into(), json!(ip));
            }
            out.push(o);
        }
        Value::Array(out)
    }

    /// `GET /access/users`.
    pub fn users(&self) -> Value {
        self.seed
            .users
            .iter()
            .map(|u| {
                let mut o = Map::new();
                o.insert("userid".into(), json!(u.userid));
                o.insert("enable".into(), json!(u.enable));
                o.insert("expire".into(), json!(u.expire));
                let realm = u.userid.rsplit_once('@').map(|(_, r)| r).unwrap_or("");
                o.insert(
                    "realm-type".into(),
                    json!(if realm == "pam" { "pam" } else { "pve" }),
                );
                for (k, v) in [
                    ("firstname", &u.firstname),
                    ("lastname", &u.lastname),
                    ("email", &u.email),
                    ("comment", &u.comment),
                ] {
                    if let Some(v) = v {
                        o.insert(k.into(), json!(v));
                    }
                }
                Value::Object(o)
            })
            .collect()
    }

    /// Guests of `kind` on `node`, by vmid.
    pub fn guests_on(&self, node: &str, kind: GuestKind, now: Instant) -> Value {
        self.guests
            .values()
            .filter(|g| g.spec.node == node && g.spec.kind == kind)
            .map(|g| g.list_entry(now))
            .collect()
    }

    /// The guest `vmid` if it is a `kind` guest on `node`.
    pub fn guest_on(&self, node: &str, kind: GuestKind, vmid: u32) -> Option<&Guest> {
        self.guests
            .get(&vmid)
            .filter(|g| g.spec.node == node && g.spec.kind == kind)
    }

    /// Does the token hold `privilege` on guest `vmid`? The most specific of
    /// `/vms/VMID`, `/vms` and `/` listed in `token_privs` decides; none
    /// listed grants everything.
    pub fn token_has(&self, vmid: u32, privilege: &str) -> bool {
        let exact = format!("/vms/{vmid}");
        [exact.as_str(), "/vms", "/"]
            .iter()
            .find_map(|p| self.seed.token_privs.get(*p))
            .is_none_or(|privs| privs.iter().any(|p| p == privilege))
    }

    /// Time since the simulator started.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_state_is_valid() {
        let s = StateFile::builtin().expect("built-in state");
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.guests.len(), 7);
    }

    fn with_guest(edit: impl FnOnce(&mut Value)) -> Result<StateFile, LoadError> {
        let mut v: Value = serde_json::from_str(DEFAULT_STATE_JSON).expect("json");
        edit(&mut v);
        StateFile::parse(&v.to_string(), "test")
    }

    #[test]
    fn invalid_states_are_rejected() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "duplicate vmid",
                Box::new(|v| v["guests"][1]["vmid"] = json!(100)),
            ),
            (
                "unknown node",
                Box::new(|v| v["guests"][0]["node"] = json!("pve9")),
            ),
            (
                "a template must be stopped",
                Box::new(|v| v["guests"][4]["status"] = json!("running")),
            ),
            (
                "vmid must be within",
                Box::new(|v| v["guests"][0]["vmid"] = json!(99)),
            ),
            (
                "duplicate node",
                Box::new(|v| v["nodes"][1]["node"] = json!("pve1")),
            ),
            (
                "must start with '/'",
                Box::new(|v| v["token_privs"] = json!({"vms/1": []})),
            ),
            (
                "node name",
                Box::new(|v| v["nodes"][0]["node"] = json!("bad node")),
            ),
        ];
        for (want, edit) in cases {
            let err = with_guest(edit).expect_err(want).to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        let err = with_guest(|v| v["guests"][0]["colour"] = json!("red"))
            .expect_err("unknown field")
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn privileges_most_specific_wins() {
        let mut s = StateFile::builtin().expect("built-in");
        s.token_privs.insert("/vms".into(), vec![PRIV_AUDIT.into()]);
        let c = Cluster::new(s, Instant::now());
        assert!(!c.token_has(104, PRIV_AUDIT));
        assert!(!c.token_has(104, PRIV_POWER));
        assert!(c.token_has(100, PRIV_AUDIT));
        assert!(!c.token_has(100, PRIV_POWER));
    }

    #[test]
    fn digests_and_fingerprints_are_stable() {
        assert_eq!(digest(b"x"), digest(b"x"));
        assert_eq!(digest(b"x").len(), 40);
        assert_ne!(digest(b"x"), digest(b"y"));
        assert_eq!(fingerprint("pve1").len(), 32 * 3 - 1);
    }
}
