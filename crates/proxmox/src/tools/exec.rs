//! `execute_command`: an allowlisted command on a node over SSH.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::node;
use crate::Proxmox;
use crate::client::SshTarget;
use crate::config::SshSettings;
use crate::config::{DEFAULT_COMMAND_TIMEOUT, MAX_COMMAND_TIMEOUT};
use crate::policy::{check_path, denied, program, quote};

const EXECUTE_COMMAND: ToolSpec = ToolSpec {
    name: "execute_command",
    title: "Run a diagnostic command",
    description: "Run an allowlisted diagnostic command on a node over SSH (e.g. `qm list`, `pvesh get /nodes`, `zpool status`, `journalctl -n 50`). Plain words only: no shell syntax. Returns stdout, stderr (capped), exit status and duration.",
    scope: "proxmox:exec",
    toolset: "exec",
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecInput {
    /// The command, as plain words: `qm status 100`.
    pub command: String,
    /// Node to run it on: a name from PROXMOX_SSH_NODES. May be omitted when one SSH host is configured (PROXMOX_SSH_HOST without PROXMOX_SSH_NODES, or a map of one node).
    #[serde(default)]
    #[schemars(with = "String", transform = no_default)]
    pub node: Option<String>,
    /// Seconds before the command is abandoned (1-300; default 30).
    pub timeout_seconds: Option<u32>,
    /// Show the plan without asking or running anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// `node` is optional without a `"default": null` in the schema: omitted means "the one host".
fn no_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecResult {
    pub node: String,
    /// The command line that ran, with every argument quoted.
    pub command: String,
    pub exit_status: Option<u32>,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the cap was dropped.
    pub truncated: bool,
    pub duration_ms: u64,
    /// What was run (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

/// Whether `command` is one of the built-in read-only diagnostics
/// ([`DEFAULT_ALLOWLIST`](crate::policy::commands::DEFAULT_ALLOWLIST)), word for word at its
/// start. Anything an operator added beyond them asks for a confirmation.
fn builtin_diagnostic(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    crate::policy::commands::DEFAULT_ALLOWLIST
        .iter()
        .any(|entry| {
            let e: Vec<&str> = entry.split_whitespace().collect();
            words.len() >= e.len() && words.iter().zip(&e).all(|(w, x)| w == x)
        })
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(EXECUTE_COMMAND, execute_command).confirm(Confirm::When {
            when: |args| {
                !args
                    .get("command")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(builtin_diagnostic)
            },
            doc: "unless the command is one of the built-in read-only diagnostics (qm list, pvesh get, journalctl -n, ...); commands the operator added to PROXMOX_COMMAND_ALLOWLIST ask",
        }),
    ]
}

async fn execute_command(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: ExecInput,
) -> Result<ExecResult, ToolError> {
    let argv = s.commands.check(&i.command)?;
    // `pvesh` runs as the SSH user, not as the API token: hold it to the API path rules.
    // By name, whatever the directory: `/usr/bin/pvesh` is `pvesh`.
    if argv.first().is_some_and(|a| program(a) == "pvesh") {
        let path = argv.get(2).ok_or_else(|| {
            ToolError::invalid("command", "pvesh needs an API path, e.g. pvesh get /nodes")
        })?;
        let segments =
            check_path(path).map_err(|e| ToolError::invalid("command", e.to_string()))?;
        if let Some(pattern) = denied(&segments, &s.api_deny) {
            return Err(ToolError::denied(format!(
                "the path {path} is denied by this server's policy ({pattern}; PROXMOX_API_DENY)"
            )));
        }
    }
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let timeout = match i.timeout_seconds {
        None => DEFAULT_COMMAND_TIMEOUT,
        Some(t) if t >= 1 && u64::from(t) <= MAX_COMMAND_TIMEOUT.as_secs() => {
            Duration::from_secs(u64::from(t))
        }
        Some(_) => {
            return Err(ToolError::invalid(
                "timeout_seconds",
                format!("must be between 1 and {}", MAX_COMMAND_TIMEOUT.as_secs()),
            ));
        }
    };
    let (Some(pool), Some(ssh)) = (&s.ssh, &s.ssh_settings) else {
        return Err(ToolError::denied(
            "command execution is not configured on this server (set PROXMOX_SSH_KEY_PATH, PROXMOX_SSH_USER and PROXMOX_SSH_KNOWN_HOSTS)",
        ));
    };
    let (n, target) = target(ssh, given.as_deref())?;
    // The node enforces the limit too (a second later than we stop waiting), so an abandoned
    // command does not keep running.
    let mut remote = vec![
        "timeout".to_string(),
        "-k".into(),
        "2".into(),
        (timeout.as_secs() + 1).to_string(),
    ];
    remote.extend(argv.iter().cloned());
    let shown = quote(&argv);
    let line = quote(&remote);
    let plan = Plan::new(
        EXECUTE_COMMAND.name,
        format!("node {n}"),
        format!("run `{shown}`"),
        vec![PlannedChange::new("run", "command", &shown)],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(ExecResult {
            node: n,
            command: shown,
            exit_status: None,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            duration_ms: 0,
            change: ChangeReport::from_gate(plan, &gate),
        });
    }
    let out = pool.exec(&target, &line, timeout).await?;
    Ok(ExecResult {
        node: n,
        command: shown,
        exit_status: out.exit_status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        truncated: out.truncated,
        duration_ms: out.duration.as_millis() as u64,
        change: ChangeReport::from_gate(plan, &gate),
    })
}

/// Where a command runs: the node named in `PROXMOX_SSH_NODES`, or the one host when only one
/// is configured and `node` is omitted. Returns the node as reported (the SSH host when no
/// node map is set) and the SSH target. A `node` that maps to no host is refused.
pub fn target(ssh: &SshSettings, node: Option<&str>) -> Result<(String, SshTarget), ToolError> {
    let mapped = |name: &str, (host, port): &(String, u16)| {
        (
            name.to_string(),
            SshTarget {
                host: host.clone(),
                port: *port,
                user: ssh.default.user.clone(),
            },
        )
    };
    let listed = || ssh.nodes.keys().cloned().collect::<Vec<_>>().join(", ");
    match node {
        None if ssh.nodes.is_empty() => Ok((ssh.default.host.clone(), ssh.default.clone())),
        None => match ssh.nodes.iter().next() {
            Some((name, addr)) if ssh.nodes.len() == 1 => Ok(mapped(name, addr)),
            _ => Err(ToolError::invalid(
                "node",
                format!(
                    "is required: PROXMOX_SSH_NODES lists {}; name the node to run on",
                    listed()
                ),
            )),
        },
        Some(n) if ssh.nodes.is_empty() => Err(ToolError::invalid(
            "node",
            format!(
                "no SSH address for node {n}: PROXMOX_SSH_NODES is not set, so commands run only on PROXMOX_SSH_HOST ({}); omit `node`, or map {n} in PROXMOX_SSH_NODES",
                ssh.default.host
            ),
        )),
        Some(n) => match ssh.nodes.get(n) {
            Some(addr) => Ok(mapped(n, addr)),
            None => Err(ToolError::invalid(
                "node",
                format!(
                    "no SSH address for node {n} (PROXMOX_SSH_NODES lists {})",
                    listed()
                ),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::HostKeyPolicy;

    fn settings(nodes: &[(&str, &str)]) -> SshSettings {
        SshSettings {
            key_path: "/k".into(),
            default: SshTarget {
                host: "pve.example.com".into(),
                port: 22,
                user: "mcp".into(),
            },
            nodes: nodes
                .iter()
                .map(|(n, h)| (n.to_string(), (h.to_string(), 2222)))
                .collect(),
            host_keys: HostKeyPolicy::TrustOnFirstUse,
            output_cap: 1,
        }
    }

    #[test]
    fn node_is_optional_only_with_one_host() {
        let none = settings(&[]);
        let (n, t) = target(&none, None).expect("default host");
        assert_eq!(
            (n.as_str(), t.host.as_str()),
            ("pve.example.com", "pve.example.com")
        );
        let e = target(&none, Some("pve1")).expect_err("not mapped");
        assert_eq!(e.field(), Some("node"));
        assert!(
            e.to_string().contains("PROXMOX_SSH_NODES is not set"),
            "{e}"
        );

        let one = settings(&[("pve1", "10.0.0.1")]);
        for given in [None, Some("pve1")] {
            let (n, t) = target(&one, given).expect("the one node");
            assert_eq!(
                (n.as_str(), t.host.as_str(), t.port, t.user.as_str()),
                ("pve1", "10.0.0.1", 2222, "mcp")
            );
        }
        assert_eq!(
            target(&one, Some("pve2")).expect_err("unknown").field(),
            Some("node")
        );

        let two = settings(&[("pve1", "10.0.0.1"), ("pve2", "10.0.0.2")]);
        let e = target(&two, None).expect_err("ambiguous");
        assert!(
            e.to_string()
                .contains("is required: PROXMOX_SSH_NODES lists pve1, pve2"),
            "{e}"
        );
        assert_eq!(
            target(&two, Some("pve2")).expect("mapped").1.host,
            "10.0.0.2"
        );
    }
}
