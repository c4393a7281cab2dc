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

/// One request of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    Version,
    Guests,
    Nodes,
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
    TaskStatus {
        node: &'a str,
        upid: &'a str,
    },
    GuestAction {
        node: &'a str,
        kind: GuestKind,
        vmid: u32,
        action: &'static str,
    },
}

/// A parameter a call sends: its name and JSON-schema type.
pub type Param = (&'static str, &'static str);

impl Call<'_> {
    /// `GET` or `POST`.
    pub fn method(&self) -> &'static str {
        match self {
            Self::GuestAction { .. } => "POST",
            _ => "GET",
        }
    }

    /// The path with `{node}`, `{vmid}` and `{upid}` left as PVE's schema writes them.
    pub fn template(&self) -> String {
        self.render("{node}", "{vmid}", "{upid}")
    }

    /// The path to request, with the checked values in place.
    pub fn path(&self) -> String {
        match self {
            Self::NodeStatus { node } => self.render(node, "", ""),
            Self::GuestStatus { node, vmid, .. }
            | Self::GuestConfig { node, vmid, .. }
            | Self::GuestAction { node, vmid, .. } => self.render(node, &vmid.to_string(), ""),
            Self::TaskStatus { node, upid } => self.render(node, "", upid),
            Self::Version | Self::Guests | Self::Nodes => self.template(),
        }
    }

    fn render(&self, node: &str, vmid: &str, upid: &str) -> String {
        match self {
            Self::Version => "/version".into(),
            Self::Guests => "/cluster/resources".into(),
            Self::Nodes => "/nodes".into(),
            Self::NodeStatus { .. } => format!("/nodes/{node}/status"),
            Self::GuestStatus { kind, .. } => format!("/nodes/{node}/{kind}/{vmid}/status/current"),
            Self::GuestConfig { kind, .. } => format!("/nodes/{node}/{kind}/{vmid}/config"),
            Self::TaskStatus { .. } => format!("/nodes/{node}/tasks/{upid}/status"),
            Self::GuestAction { kind, action, .. } => {
                format!("/nodes/{node}/{kind}/{vmid}/status/{action}")
            }
        }
    }

    /// Query (GET) or form (POST) parameters, with their values.
    pub fn params(&self) -> Vec<(String, String)> {
        match self {
            Self::Guests => vec![("type".into(), "vm".into())],
            _ => Vec::new(),
        }
    }

    /// The parameters' names and JSON types, for the schema check.
    pub fn param_types(&self) -> &'static [Param] {
        match self {
            Self::Guests => &[("type", "string")],
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
    let mut calls = vec![
        Call::Version,
        Call::Guests,
        Call::Nodes,
        Call::NodeStatus { node: "n" },
        Call::TaskStatus {
            node: "n",
            upid: "u",
        },
    ];
    for kind in [GuestKind::Qemu, GuestKind::Lxc] {
        calls.push(Call::GuestStatus {
            node: "n",
            kind,
            vmid: 100,
        });
        calls.push(Call::GuestConfig {
            node: "n",
            kind,
            vmid: 100,
        });
        let actions = match kind {
            GuestKind::Qemu => QEMU_ACTIONS,
            GuestKind::Lxc => LXC_ACTIONS,
        };
        for action in actions {
            calls.push(Call::GuestAction {
                node: "n",
                kind,
                vmid: 100,
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
            5 + 2 * 2 + QEMU_ACTIONS.len() + LXC_ACTIONS.len()
        );
    }
}
