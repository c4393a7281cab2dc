//! Every call this server makes to the PVE API of its own accord, in one place: the client
//! builds each request from a [`Call`], and [`table`] lists every method, path template and
//! parameter those calls can send, for every guest kind and power action. The test
//! `tests/api_schema.rs` checks each row against PVE's own API schema (the shared fixture
//! `proxmox/schema/apidata.js`), so a call that does not exist in the real API fails the build,
//! whatever the simulator accepts. The `proxmox_api` passthrough is not here: its method and
//! path are the caller's, checked by `policy::paths`.

use super::model::GuestKind;

/// Power actions `vm_action` sends, per guest kind (`reset` exists for qemu only).
pub const QEMU_ACTIONS: &[&str] = &[
    "start", "stop", "shutdown", "reboot", "suspend", "resume", "reset",
];
pub const LXC_ACTIONS: &[&str] = &["start", "stop", "shutdown", "reboot", "suspend", "resume"];

/// Whose firewall rules: the cluster's, a node's or a guest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewallLevel<'a> {
    Cluster,
    Node(&'a str),
    Guest(&'a str, GuestKind, u32),
}

/// What `vzdump` is asked for (`POST /nodes/{node}/vzdump`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vzdump<'a> {
    pub vmid: u32,
    /// The backup storage; PVE's default (`local`, or the node's vzdump.conf) when `None`.
    pub storage: Option<&'a str>,
    /// `snapshot`, `suspend` or `stop`.
    pub mode: &'a str,
    /// `0`, `gzip`, `lzo` or `zstd`.
    pub compress: &'a str,
    pub protected: bool,
    pub notes: Option<&'a str>,
}

/// One request of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    Version,
    Guests,
    Nodes,
    NextId,
    NodeStatus {
        node: &'a str,
    },
    GuestStatus {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
    },
    GuestConfig {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
    },
    /// `PUT .../config` with checked keys and values.
    SetConfig {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        values: &'a [(&'static str, String)],
    },
    TaskStatus {
        node: &'a str,
        upid: &'a str,
    },
    TaskLog {
        node: &'a str,
        upid: &'a str,
    },
    Tasks {
        node: &'a str,
        vmid: Option<u32>,
        typefilter: Option<&'a str>,
        limit: u32,
    },
    GuestAction {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        action: &'static str,
    },
    Snapshots {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
    },
    CreateSnapshot {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        name: &'a str,
        description: Option<&'a str>,
        /// qemu only.
        vmstate: bool,
    },
    Rollback {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        name: &'a str,
        start: bool,
    },
    DeleteSnapshot {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        name: &'a str,
    },
    Vzdump {
        node: &'a str,
        job: Vzdump<'a>,
    },
    /// `POST /nodes/{node}/{kind}` restoring `archive` (qemu `archive`, lxc `ostemplate`
    /// with `restore=1`).
    Restore {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        archive: &'a str,
        storage: Option<&'a str>,
        force: bool,
    },
    Storages {
        node: &'a str,
    },
    /// Backup volumes of a storage.
    StorageBackups {
        node: &'a str,
        storage: &'a str,
        vmid: Option<u32>,
    },
    Networks {
        node: &'a str,
    },
    FirewallRules {
        level: FirewallLevel<'a>,
    },
}

/// A parameter a call sends: its name and JSON-schema type.
pub type Param = (&'static str, &'static str);

/// Keys `set_guest_config` may send, with their JSON types.
pub const CONFIG_KEYS: &[Param] = &[
    ("cores", "integer"),
    ("memory", "integer"),
    ("description", "string"),
    ("tags", "string"),
    ("onboot", "boolean"),
    ("digest", "string"),
];

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

impl Call<'_> {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub fn method(&self) -> &'static str {
        match self {
            Self::GuestAction { .. }
            | Self::CreateSnapshot { .. }
            | Self::Rollback { .. }
            | Self::Vzdump { .. }
            | Self::Restore { .. } => "POST",
            Self::SetConfig { .. } => "PUT",
            Self::DeleteSnapshot { .. } => "DELETE",
            _ => "GET",
        }
    }

    /// The path with `{node}`, `{vmid}`, `{upid}`, `{snapname}` and `{storage}` left as PVE's
    /// schema writes them.
    pub fn template(&self) -> String {
        self.render(false)
    }

    /// The path to request, with the checked values in place.
    pub fn path(&self) -> String {
        self.render(true)
    }

    fn render(&self, fill: bool) -> String {
        let node = |n: &str| if fill { n.to_string() } else { "{node}".into() };
        let vmid = |v: u32| if fill { v.to_string() } else { "{vmid}".into() };
        let upid = |u: &str| if fill { u.to_string() } else { "{upid}".into() };
        let snap = |s: &str| {
            if fill {
                s.to_string()
            } else {
                "{snapname}".into()
            }
        };
        let store = |s: &str| {
            if fill {
                s.to_string()
            } else {
                "{storage}".into()
            }
        };
        match *self {
            Self::Version => "/version".into(),
            Self::Guests => "/cluster/resources".into(),
            Self::Nodes => "/nodes".into(),
            Self::NextId => "/cluster/nextid".into(),
            Self::NodeStatus { node: n } => format!("/nodes/{}/status", node(n)),
            Self::GuestStatus {
                node: n,
                kind,
                vmid: v,
            } => {
                format!("/nodes/{}/{kind}/{}/status/current", node(n), vmid(v))
            }
            Self::GuestConfig {
                node: n,
                kind,
                vmid: v,
            }
            | Self::SetConfig {
                node: n,
                kind,
                vmid: v,
                ..
            } => {
                format!("/nodes/{}/{kind}/{}/config", node(n), vmid(v))
            }
            Self::TaskStatus { node: n, upid: u } => {
                format!("/nodes/{}/tasks/{}/status", node(n), upid(u))
            }
            Self::TaskLog { node: n, upid: u } => {
                format!("/nodes/{}/tasks/{}/log", node(n), upid(u))
            }
            Self::Tasks { node: n, .. } => format!("/nodes/{}/tasks", node(n)),
            Self::GuestAction {
                node: n,
                kind,
                vmid: v,
                action,
            } => {
                format!("/nodes/{}/{kind}/{}/status/{action}", node(n), vmid(v))
            }
            Self::Snapshots {
                node: n,
                kind,
                vmid: v,
            }
            | Self::CreateSnapshot {
                node: n,
                kind,
                vmid: v,
                ..
            } => {
                format!("/nodes/{}/{kind}/{}/snapshot", node(n), vmid(v))
            }
            Self::Rollback {
                node: n,
                kind,
                vmid: v,
                name,
                ..
            } => format!(
                "/nodes/{}/{kind}/{}/snapshot/{}/rollback",
                node(n),
                vmid(v),
                snap(name)
            ),
            Self::DeleteSnapshot {
                node: n,
                kind,
                vmid: v,
                name,
            } => format!(
                "/nodes/{}/{kind}/{}/snapshot/{}",
                node(n),
                vmid(v),
                snap(name)
            ),
            Self::Vzdump { node: n, .. } => format!("/nodes/{}/vzdump", node(n)),
            Self::Restore { node: n, kind, .. } => format!("/nodes/{}/{kind}", node(n)),
            Self::Storages { node: n } => format!("/nodes/{}/storage", node(n)),
            Self::StorageBackups {
                node: n, storage, ..
            } => {
                format!("/nodes/{}/storage/{}/content", node(n), store(storage))
            }
            Self::Networks { node: n } => format!("/nodes/{}/network", node(n)),
            Self::FirewallRules { level } => match level {
                FirewallLevel::Cluster => "/cluster/firewall/rules".into(),
                FirewallLevel::Node(n) => format!("/nodes/{}/firewall/rules", node(n)),
                FirewallLevel::Guest(n, kind, v) => {
                    format!("/nodes/{}/{kind}/{}/firewall/rules", node(n), vmid(v))
                }
            },
        }
    }

    /// Query (GET, DELETE) or form (POST, PUT) parameters, with their values.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| out.push((k.to_string(), v));
        match *self {
            Self::Guests => put("type", "vm".into()),
            Self::SetConfig { values, .. } => {
                for (k, v) in values {
                    put(k, v.clone());
                }
            }
            Self::Tasks {
                vmid,
                typefilter,
                limit,
                ..
            } => {
                put("source", "all".into());
                put("limit", limit.to_string());
                if let Some(v) = vmid {
                    put("vmid", v.to_string());
                }
                if let Some(t) = typefilter {
                    put("typefilter", t.to_string());
                }
            }
            Self::TaskLog { .. } => put("limit", "5000".into()),
            Self::CreateSnapshot {
                kind,
                name,
                description,
                vmstate,
                ..
            } => {
                put("snapname", name.to_string());
                if let Some(d) = description {
                    put("description", d.to_string());
                }
                if kind == GuestKind::Qemu && vmstate {
                    put("vmstate", "1".into());
                }
            }
            Self::Rollback { start: true, .. } => put("start", "1".into()),
            Self::Vzdump { job, .. } => {
                put("vmid", job.vmid.to_string());
                if let Some(st) = job.storage {
                    put("storage", st.to_string());
                }
                put("mode", job.mode.to_string());
                put("compress", job.compress.to_string());
                if job.protected {
                    put("protected", "1".into());
                }
                if let Some(n) = job.notes {
                    put("notes-template", n.to_string());
                }
            }
            Self::Restore {
                kind,
                vmid,
                archive,
                storage,
                force,
                ..
            } => {
                put("vmid", vmid.to_string());
                match kind {
                    GuestKind::Qemu => put("archive", archive.to_string()),
                    GuestKind::Lxc => {
                        put("ostemplate", archive.to_string());
                        put("restore", "1".into());
                    }
                }
                if let Some(s) = storage {
                    put("storage", s.to_string());
                }
                if force {
                    put("force", flag(true));
                }
            }
            Self::StorageBackups { vmid, .. } => {
                put("content", "backup".into());
                if let Some(v) = vmid {
                    put("vmid", v.to_string());
                }
            }
            _ => {}
        }
        out
    }

    /// Every parameter this call can send, with its JSON type, for the schema check.
    pub fn param_types(&self) -> &'static [Param] {
        match self {
            Self::Guests => &[("type", "string")],
            Self::SetConfig { .. } => CONFIG_KEYS,
            Self::Tasks { .. } => &[
                ("source", "string"),
                ("limit", "integer"),
                ("vmid", "integer"),
                ("typefilter", "string"),
            ],
            Self::TaskLog { .. } => &[("limit", "integer")],
            Self::CreateSnapshot {
                kind: GuestKind::Qemu,
                ..
            } => &[
                ("snapname", "string"),
                ("description", "string"),
                ("vmstate", "boolean"),
            ],
            Self::CreateSnapshot { .. } => &[("snapname", "string"), ("description", "string")],
            Self::Rollback { .. } => &[("start", "boolean")],
            Self::Vzdump { .. } => &[
                ("vmid", "string"),
                ("storage", "string"),
                ("mode", "string"),
                ("compress", "string"),
                ("protected", "boolean"),
                ("notes-template", "string"),
            ],
            Self::Restore {
                kind: GuestKind::Qemu,
                ..
            } => &[
                ("vmid", "integer"),
                ("archive", "string"),
                ("storage", "string"),
                ("force", "boolean"),
            ],
            Self::Restore { .. } => &[
                ("vmid", "integer"),
                ("ostemplate", "string"),
                ("restore", "boolean"),
                ("storage", "string"),
                ("force", "boolean"),
            ],
            Self::StorageBackups { .. } => &[("content", "string"), ("vmid", "integer")],
            _ => &[],
        }
    }
}

/// One row of the table: a method, a path template and the parameters sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRow {
    pub method: &'static str,
    pub template: String,
    pub params: &'static [Param],
}

/// Every request the client can make, one row per method and path template.
pub fn table() -> Vec<ApiRow> {
    let n = "n";
    let mut calls = vec![
        Call::Version,
        Call::Guests,
        Call::Nodes,
        Call::NextId,
        Call::NodeStatus { node: n },
        Call::TaskStatus { node: n, upid: "u" },
        Call::TaskLog { node: n, upid: "u" },
        Call::Tasks {
            node: n,
            vmid: None,
            typefilter: None,
            limit: 1,
        },
        Call::Vzdump {
            node: n,
            job: Vzdump {
                vmid: 100,
                storage: Some("s"),
                mode: "snapshot",
                compress: "zstd",
                protected: false,
                notes: None,
            },
        },
        Call::Storages { node: n },
        Call::StorageBackups {
            node: n,
            storage: "s",
            vmid: None,
        },
        Call::Networks { node: n },
        Call::FirewallRules {
            level: FirewallLevel::Cluster,
        },
        Call::FirewallRules {
            level: FirewallLevel::Node(n),
        },
    ];
    for kind in [GuestKind::Qemu, GuestKind::Lxc] {
        let vmid = 100;
        calls.extend([
            Call::GuestStatus {
                node: n,
                kind,
                vmid,
            },
            Call::GuestConfig {
                node: n,
                kind,
                vmid,
            },
            Call::SetConfig {
                node: n,
                kind,
                vmid,
                values: &[],
            },
            Call::Snapshots {
                node: n,
                kind,
                vmid,
            },
            Call::CreateSnapshot {
                node: n,
                kind,
                vmid,
                name: "s",
                description: None,
                vmstate: false,
            },
            Call::Rollback {
                node: n,
                kind,
                vmid,
                name: "s",
                start: false,
            },
            Call::DeleteSnapshot {
                node: n,
                kind,
                vmid,
                name: "s",
            },
            Call::Restore {
                node: n,
                kind,
                vmid,
                archive: "a",
                storage: None,
                force: false,
            },
            Call::FirewallRules {
                level: FirewallLevel::Guest(n, kind, vmid),
            },
        ]);
        let actions = match kind {
            GuestKind::Qemu => QEMU_ACTIONS,
            GuestKind::Lxc => LXC_ACTIONS,
        };
        for action in actions {
            calls.push(Call::GuestAction {
                node: n,
                kind,
                vmid,
                action,
            });
        }
    }
    calls
        .iter()
        .map(|c| ApiRow {
            method: c.method(),
            template: c.template(),
            params: c.param_types(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_the_templates() {
        let c = Call::GuestAction {
            node: "pve1",
            kind: GuestKind::Lxc,
            vmid: 200,
            action: "start",
        };
        assert_eq!(c.path(), "/nodes/pve1/lxc/200/status/start");
        assert_eq!(c.template(), "/nodes/{node}/lxc/{vmid}/status/start");
        assert_eq!(
            Call::TaskStatus {
                node: "pve1",
                upid: "UPID:x"
            }
            .path(),
            "/nodes/pve1/tasks/UPID:x/status"
        );
        assert_eq!(
            table().len(),
            14 + 2 * 9 + QEMU_ACTIONS.len() + LXC_ACTIONS.len()
        );
        let rb = Call::Rollback {
            node: "pve1",
            kind: GuestKind::Qemu,
            vmid: 100,
            name: "pre-up",
            start: true,
        };
        assert_eq!(rb.path(), "/nodes/pve1/qemu/100/snapshot/pre-up/rollback");
        assert_eq!(
            rb.template(),
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback"
        );
        assert_eq!(rb.params(), vec![("start".to_string(), "1".to_string())]);
        let restore = Call::Restore {
            node: "pve1",
            kind: GuestKind::Lxc,
            vmid: 300,
            archive: "local:backup/x.tar.zst",
            storage: None,
            force: false,
        };
        assert_eq!(restore.method(), "POST");
        assert_eq!(restore.path(), "/nodes/pve1/lxc");
        let names: Vec<String> = restore.params().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["vmid", "ostemplate", "restore"]);
        // Every parameter a call sends is one it declares for the schema check.
        for c in [rb, restore] {
            for (k, _) in c.params() {
                assert!(c.param_types().iter().any(|(n, _)| *n == k), "{k}");
            }
        }
    }
}
