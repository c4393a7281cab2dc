//! A guest's configuration: read it (secrets redacted), and set a few safe keys.
//!
//! `set_guest_config` takes only `cores`, `memory`, `description`, `tags` and `onboot`:
//! `hookscript`, `args`, device passthrough (`hostpci*`, `usb*`, `dev*`, `mp*` with host
//! paths) and every other key are outside its schema and refused before anything is asked.
//! It is refused for protected guests: their tags are what PROXMOX_PROTECTED_TAGS protects.

use std::sync::Arc;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::guard;
use super::{node, vmid};
use crate::Proxmox;
use crate::client::model::{Fields, GuestKind};
use crate::policy::protect::{is_tag, split_tags};

const GUEST_CONFIG: ToolSpec = ToolSpec {
    name: "guest_config",
    title: "Guest configuration",
    description: "The configuration of a VM or container by VMID (cores, memory, disks, network, tags, protection, ...), as Proxmox stores it; secrets such as cipassword are redacted.",
    scope: "proxmox:read",
    toolset: "vms",
    effect: Effect::ReadOnly,
    open_world: true,
};

const SET_GUEST_CONFIG: ToolSpec = ToolSpec {
    name: "set_guest_config",
    title: "Set guest configuration",
    description: "Set cores, memory (MiB), description, tags or onboot of a VM or container. No other key is accepted (no hookscript, args or device passthrough). Changing cores or memory asks for confirmation. Refused for protected guests.",
    scope: "proxmox:config",
    toolset: "vms",
    effect: Effect::IdempotentWrite,
    open_world: true,
};

/// Keys whose values never leave the server.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "cipassword" || k.contains("password") || k.contains("secret") || k.contains("token")
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// Virtual CPU cores, 1-512.
    pub cores: Option<u32>,
    /// Memory in MiB, 16-4194304.
    pub memory: Option<u64>,
    /// Description (the notes shown in the web UI), at most 8192 characters.
    pub description: Option<String>,
    /// The guest's tags, replacing the present ones (an empty list removes them).
    pub tags: Option<Vec<String>>,
    /// Start the guest when its node boots.
    pub onboot: Option<bool>,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The configuration, as PVE reports it, secrets redacted.
    pub config: Fields,
    /// Keys whose values were redacted.
    pub redacted: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SetOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// Keys that change (the others already had the value asked for).
    pub changed: Vec<String>,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(GUEST_CONFIG, guest_config),
        ToolDef::new(SET_GUEST_CONFIG, set_guest_config).confirm(Confirm::When {
            when: |args| {
                ["cores", "memory"]
                    .iter()
                    .any(|k| args.get(*k).is_some_and(|v| !v.is_null()))
            },
            doc: "when `cores` or `memory` is given",
        }),
    ]
}

async fn guest_config(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: ConfigInput,
) -> Result<ConfigOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    let mut config = s.api.guest_config_all(&t.node, t.kind, id).await?;
    let mut redacted = Vec::new();
    for (k, v) in config.iter_mut() {
        if secret_key(k) {
            *v = Value::String(mcp_core::redact::REDACTED.into());
            redacted.push(k.clone());
        }
    }
    Ok(ConfigOutput {
        vmid: id,
        node: t.node,
        kind: t.kind,
        config,
        redacted,
    })
}

/// The present value of `key` as text, for comparing.
fn present(cfg: &Fields, key: &str) -> Option<String> {
    cfg.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

async fn set_guest_config(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: SetInput,
) -> Result<SetOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let mut wanted: Vec<(&'static str, String)> = Vec::new();
    if let Some(c) = i.cores {
        if !(1..=512).contains(&c) {
            return Err(ToolError::invalid("cores", "must be between 1 and 512"));
        }
        wanted.push(("cores", c.to_string()));
    }
    if let Some(m) = i.memory {
        if !(16..=4_194_304).contains(&m) {
            return Err(ToolError::invalid(
                "memory",
                "must be between 16 and 4194304 (MiB)",
            ));
        }
        wanted.push(("memory", m.to_string()));
    }
    if let Some(d) = &i.description {
        wanted.push(("description", guard::text("description", d, 8192)?));
    }
    if let Some(tags) = &i.tags {
        if tags.len() > 32 {
            return Err(ToolError::invalid("tags", "at most 32 tags"));
        }
        for t in tags {
            if !is_tag(t) {
                return Err(ToolError::invalid(
                    "tags",
                    format!(
                        "`{t}` is not a tag: letters, digits, `-`, `_`, `+`, `.`, starting with a letter or digit, at most 64 characters"
                    ),
                ));
            }
        }
        wanted.push(("tags", tags.join(";")));
    }
    if let Some(b) = i.onboot {
        wanted.push(("onboot", if b { "1" } else { "0" }.into()));
    }
    if wanted.is_empty() {
        return Err(ToolError::invalid(
            "cores",
            "nothing to set: give at least one of cores, memory, description, tags, onboot",
        ));
    }
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    guard::lists(&s, id)?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    guard::destructive(&s, &t, "set_guest_config").await?;
    let cfg = s.api.guest_config_all(&t.node, t.kind, id).await?;
    let mut changes = Vec::new();
    let mut send: Vec<(&'static str, String)> = Vec::new();
    for (k, v) in &wanted {
        let before = present(&cfg, k);
        let same = match *k {
            "tags" => {
                let a: Vec<&str> = before
                    .as_deref()
                    .map(|b| split_tags(b).collect())
                    .unwrap_or_default();
                let b: Vec<&str> = split_tags(v).collect();
                a == b
            }
            _ => before.as_deref() == Some(v.as_str()),
        };
        if same {
            continue;
        }
        changes.push(
            PlannedChange::new("update", "config", format!("{id}/{k}"))
                .before(json!(before))
                .after(json!(v)),
        );
        send.push((k, v.clone()));
    }
    let changed: Vec<String> = send.iter().map(|(k, _)| (*k).to_string()).collect();
    let plan = Plan::new(
        SET_GUEST_CONFIG.name,
        format!("{} {id} on node {}", t.kind, t.node),
        if changed.is_empty() {
            format!("{} {id} already has this configuration", t.kind)
        } else {
            format!("set {} of {} {id}", changed.join(", "), t.kind)
        },
        changes,
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let out = SetOutput {
        vmid: id,
        node: t.node.clone(),
        kind: t.kind,
        changed,
        change: ChangeReport::from_gate(plan, &gate),
    };
    if !matches!(gate, Gate::Proceed(_)) || send.is_empty() {
        return Ok(out);
    }
    // The digest makes PVE refuse the change if the config moved since it was read.
    if let Some(d) = present(&cfg, "digest") {
        send.push(("digest", d));
    }
    s.api.set_config(&t.node, t.kind, id, &send).await?;
    tracing::info!(vmid = id, node = %t.node, keys = ?out.changed, "guest config set");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        for k in [
            "cipassword",
            "CIPassword",
            "vnc_password",
            "api-token",
            "client_secret",
        ] {
            assert!(secret_key(k), "{k}");
        }
        for k in ["ciuser", "sshkeys", "cores", "net0", "description"] {
            assert!(!secret_key(k), "{k}");
        }
    }

    /// Every key the tool can send is in the client's table of calls.
    #[test]
    fn keys_are_in_the_call_table() {
        for k in ["cores", "memory", "description", "tags", "onboot", "digest"] {
            assert!(
                crate::client::calls::CONFIG_KEYS
                    .iter()
                    .any(|(n, _)| *n == k),
                "{k}"
            );
        }
    }
}
