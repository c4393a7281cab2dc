//! Power tasks: UPIDs (`UPID:NODE:PID:PSTART:STARTTIME:TYPE:ID:USER:`), the
//! task table, and the lifecycle that applies a task's effect to its guest
//! once it has run for the configured duration.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::ops;
pub use super::ops::Work;
use super::state::{Cluster, GuestKind, GuestStatus};

/// Most tasks kept; the oldest finished ones are forgotten first.
pub const MAX_TASKS: usize = 1000;

/// A guest power action (`POST .../status/ACTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// Start a stopped guest.
    Start,
    /// Hard stop (a stopped guest gives a no-op task).
    Stop,
    /// Clean shutdown (a stopped guest gives a no-op task).
    Shutdown,
    /// Reboot a running guest.
    Reboot,
    /// Suspend (pause) a running guest.
    Suspend,
    /// Resume a suspended guest.
    Resume,
    /// Hard reset (QEMU only).
    Reset,
}

impl PowerAction {
    /// Parses the URL segment; `reset` exists for QEMU only.
    pub fn parse(s: &str, kind: GuestKind) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "shutdown" => Self::Shutdown,
            "reboot" => Self::Reboot,
            "suspend" => Self::Suspend,
            "resume" => Self::Resume,
            "reset" if kind == GuestKind::Qemu => Self::Reset,
            _ => return None,
        })
    }

    /// The URL segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Shutdown => "shutdown",
            Self::Reboot => "reboot",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
        }
    }

    /// The task type: `qmstart`, `vzstop`...
    pub fn task_type(self, kind: GuestKind) -> String {
        let prefix = match kind {
            GuestKind::Qemu => "qm",
            GuestKind::Lxc => "vz",
        };
        format!("{prefix}{}", self.as_str())
    }

    /// The status the guest has once the task has finished.
    fn outcome(self) -> GuestStatus {
        match self {
            Self::Start | Self::Reboot | Self::Resume | Self::Reset => GuestStatus::Running,
            Self::Stop | Self::Shutdown => GuestStatus::Stopped,
            Self::Suspend => GuestStatus::Paused,
        }
    }
}

/// A decoded UPID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upid {
    /// Node that runs the task.
    pub node: String,
    /// Worker process id.
    pub pid: u32,
    /// Worker process start time (clock ticks since boot).
    pub pstart: u32,
    /// Start time (Unix seconds).
    pub starttime: u64,
    /// Task type (`qmstart`...).
    pub kind: String,
    /// Task object id (the vmid).
    pub id: String,
    /// User (for API tokens, `USER@REALM!TOKENID`).
    pub user: String,
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node, self.pid, self.pstart, self.starttime, self.kind, self.id, self.user
        )
    }
}

impl Upid {
    /// Parses `UPID:NODE:PID:PSTART:STARTTIME:TYPE:ID:USER:` (hex numbers).
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("UPID:")?.strip_suffix(':')?;
        let parts: Vec<&str> = rest.split(':').collect();
        let [node, pid, pstart, starttime, kind, id, user] = parts.as_slice() else {
            return None;
        };
        let hex8 = |v: &str| v.len() == 8 && v.bytes().all(|b| b.is_ascii_hexdigit());
        if node.is_empty() || kind.is_empty() || user.is_empty() {
            return None;
        }
        if !hex8(pid) || !hex8(pstart) || !hex8(starttime) {
            return None;
        }
        Some(Self {
            node: (*node).to_owned(),
            pid: u32::from_str_radix(pid, 16).ok()?,
            pstart: u32::from_str_radix(pstart, 16).ok()?,
            starttime: u64::from_str_radix(starttime, 16).ok()?,
            kind: (*kind).to_owned(),
            id: (*id).to_owned(),
            user: (*user).to_owned(),
        })
    }
}

/// One power task.
#[derive(Debug, Clone)]
pub struct Task {
    /// The decoded UPID.
    pub upid: Upid,
    /// The UPID as text.
    pub text: String,
    /// Target guest.
    pub vmid: u32,
    /// Target guest kind.
    pub kind: GuestKind,
    /// What the task does.
    pub work: Work,
    /// The task changes nothing (stop of a stopped guest...).
    pub noop: bool,
    /// Log lines written while the task ran (besides the first and the last).
    pub log: Vec<String>,
    /// When the task finishes.
    pub ends_at: Instant,
    /// Unix time the task finishes.
    pub endtime: u64,
    /// `Some` once finished: `OK` or an error message.
    pub exitstatus: Option<String>,
}

impl Task {
    fn base(&self) -> serde_json::Map<String, Value> {
        let u = &self.upid;
        let mut o = serde_json::Map::new();
        o.insert("upid".into(), json!(self.text));
        o.insert("node".into(), json!(u.node));
        o.insert("pid".into(), json!(u.pid));
        o.insert("pstart".into(), json!(u.pstart));
        o.insert("starttime".into(), json!(u.starttime));
        o.insert("type".into(), json!(u.kind));
        o.insert("id".into(), json!(u.id));
        o.insert("user".into(), json!(u.user));
        o
    }

    /// `GET /nodes/N/tasks/UPID/status`.
    pub fn status_json(&self) -> Value {
        let mut o = self.base();
        match &self.exitstatus {
            None => {
                o.insert("status".into(), json!("running"));
            }
            Some(exit) => {
                o.insert("status".into(), json!("stopped"));
                o.insert("exitstatus".into(), json!(exit));
            }
        }
        Value::Object(o)
    }

    /// An entry of `GET /nodes/N/tasks`: finished tasks carry `endtime` and
    /// their exit status in `status`.
    pub fn list_json(&self) -> Value {
        let mut o = self.base();
        if let Some(exit) = &self.exitstatus {
            o.insert("endtime".into(), json!(self.endtime));
            o.insert("status".into(), json!(exit));
        }
        Value::Object(o)
    }

    /// `GET /nodes/N/tasks/UPID/log` lines.
    pub fn log_json(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        let noun = self.kind.noun();
        match &self.work {
            Work::Power(action) => {
                let first = if self.noop {
                    format!(
                        "{noun} {} already in the requested state - nothing to do",
                        self.vmid
                    )
                } else {
                    format!("{} {noun} {}", action.as_str(), self.vmid)
                };
                lines.push(first);
            }
            other => lines.push(other.first_line(self.kind, self.vmid)),
        }
        lines.extend(self.log.iter().cloned());
        match self.exitstatus.as_deref() {
            None => {}
            Some("OK") => lines.push("TASK OK".to_owned()),
            Some(err) => lines.push(format!("TASK ERROR: {err}")),
        }
        lines
            .into_iter()
            .enumerate()
            .map(|(i, t)| json!({"n": i + 1, "t": t}))
            .collect()
    }

    /// Is the task still running?
    pub fn is_running(&self) -> bool {
        self.exitstatus.is_none()
    }
}

/// What a new task is for.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// Node of the guest.
    pub node: &'a str,
    /// Guest kind.
    pub kind: GuestKind,
    /// Guest id.
    pub vmid: u32,
    /// What the task does.
    pub work: Work,
    /// Task owner (the API token id).
    pub user: &'a str,
    /// The action changes nothing.
    pub noop: bool,
    /// How long the task runs.
    pub duration: Duration,
}

/// Every task, oldest first.
#[derive(Debug)]
pub struct TaskTable {
    tasks: VecDeque<Task>,
    next_pid: u32,
}

impl Default for TaskTable {
    fn default() -> Self {
        Self {
            tasks: VecDeque::new(),
            next_pid: 0x0002_0000,
        }
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TaskTable {
    /// Starts a task; returns its UPID.
    pub fn create(&mut self, new: NewTask<'_>, now: Instant, age: Duration) -> String {
        let starttime = unix_secs(SystemTime::now());
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(1).max(0x0002_0000);
        let upid = Upid {
            node: new.node.to_owned(),
            pid,
            // Clock ticks (100 Hz) since the simulated boot.
            pstart: (1_000_000u64 + age.as_millis() as u64 / 10) as u32,
            starttime,
            kind: new.work.task_type(new.kind),
            id: new.vmid.to_string(),
            user: new.user.to_owned(),
        };
        let text = upid.to_string();
        let secs = new.duration.as_millis().div_ceil(1000) as u64;
        self.tasks.push_back(Task {
            upid,
            text: text.clone(),
            vmid: new.vmid,
            kind: new.kind,
            work: new.work,
            noop: new.noop,
            log: Vec::new(),
            ends_at: now + new.duration,
            endtime: starttime + secs,
            exitstatus: None,
        });
        while self.tasks.len() > MAX_TASKS {
            match self.tasks.iter().position(|t| !t.is_running()) {
                Some(i) => {
                    self.tasks.remove(i);
                }
                None => break,
            }
        }
        text
    }

    /// Is a task running on guest `vmid`?
    pub fn active_for(&self, vmid: u32) -> bool {
        self.tasks.iter().any(|t| t.vmid == vmid && t.is_running())
    }

    /// The task with this UPID text.
    pub fn find(&self, upid: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.text == upid)
    }

    /// Every task, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.tasks.iter()
    }
}

/// Finishes every task whose time has come, in the order they end, and
/// applies its effect to its guest. Called before every API request, so a
/// task's effect is visible exactly once it reports `stopped`.
pub fn advance(cluster: &mut Cluster, now: Instant) {
    let mut due: Vec<usize> = cluster
        .tasks
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_running() && t.ends_at <= now)
        .map(|(i, _)| i)
        .collect();
    due.sort_by_key(|i| cluster.tasks.tasks.get(*i).map(|t| t.ends_at));
    for i in due {
        let Some(task) = cluster.tasks.tasks.get(i) else {
            continue;
        };
        if !matches!(task.work, Work::Power(_)) {
            let task = task.clone();
            let (exit, log) = ops::finish(cluster, &task);
            if let Some(t) = cluster.tasks.tasks.get_mut(i) {
                t.exitstatus = Some(exit);
                t.log = log;
            }
            continue;
        }
        let Some(task) = cluster.tasks.tasks.get_mut(i) else {
            continue;
        };
        let Work::Power(action) = task.work else {
            continue;
        };
        let guest = cluster.guests.get_mut(&task.vmid);
        let exit = match (guest, task.noop) {
            (None, _) => format!("{} {} vanished", task.kind.noun(), task.vmid),
            (Some(g), _) if g.spec.task_error.is_some() => {
                g.spec.task_error.clone().unwrap_or_default()
            }
            (Some(_), true) => "OK".to_owned(),
            (Some(g), false) => {
                let restart = matches!(action, PowerAction::Reboot | PowerAction::Reset);
                g.set_status(action.outcome(), restart, task.ends_at);
                "OK".to_owned()
            }
        };
        task.exitstatus = Some(exit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upid_round_trip() {
        let u = Upid {
            node: "pve1".into(),
            pid: 0x2_0001,
            pstart: 0xF4240,
            starttime: 0x6650_0000,
            kind: "qmstart".into(),
            id: "104".into(),
            user: "root@pam!token".into(),
        };
        let text = u.to_string();
        assert_eq!(
            text,
            "UPID:pve1:00020001:000F4240:66500000:qmstart:104:root@pam!token:"
        );
        assert_eq!(Upid::parse(&text), Some(u));
        for bad in [
            "",
            "UPID:",
            "UPID:pve1:1:2:3:qmstart:104:root@pam:",
            "UPID:pve1:00020001:000F4240:66500000:qmstart:104:root@pam",
            "XPID:pve1:00020001:000F4240:66500000:qmstart:104:root@pam:",
            "UPID:pve1:0002000G:000F4240:66500000:qmstart:104:root@pam:",
        ] {
            assert_eq!(Upid::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn actions_per_kind() {
        assert_eq!(
            PowerAction::parse("reset", GuestKind::Qemu),
            Some(PowerAction::Reset)
        );
        assert_eq!(PowerAction::parse("reset", GuestKind::Lxc), None);
        assert_eq!(
            PowerAction::Shutdown.task_type(GuestKind::Lxc),
            "vzshutdown"
        );
        assert_eq!(PowerAction::Start.task_type(GuestKind::Qemu), "qmstart");
    }
}
