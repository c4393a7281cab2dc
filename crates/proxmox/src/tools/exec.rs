//! `execute_command`: an allowlisted command on a node over SSH.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::node;
use crate::Proxmox;
use crate::client::SshTarget;
use crate::config::{DEFAULT_COMMAND_TIMEOUT, MAX_COMMAND_TIMEOUT};
use crate::policy::quote;

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
    /// Node to run it on.
    pub node: String,
    /// Seconds before the command is abandoned (1-300; default 30).
    pub timeout_seconds: Option<u32>,
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
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![ToolDef::new(EXECUTE_COMMAND, execute_command)]
}

async fn execute_command(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: ExecInput,
) -> Result<ExecResult, ToolError> {
    let argv = s.commands.check(&i.command)?;
    // `pvesh` runs as the SSH user, not as the API token: hold it to the API path rules.
    if argv.first().is_some_and(|a| a == "pvesh") {
        let path = argv.get(2).ok_or_else(|| {
            ToolError::invalid("command", "pvesh needs an API path, e.g. pvesh get /nodes")
        })?;
        let segments = super::api::check_path(path)
            .map_err(|e| ToolError::invalid("command", e.to_string()))?;
        if let Some(pattern) = super::api::denied(&segments, &s.api_deny) {
            return Err(ToolError::denied(format!(
                "the path {path} is denied by this server's policy ({pattern}; PROXMOX_API_DENY)"
            )));
        }
    }
    let n = node("node", &i.node)?;
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
            "command execution is not configured on this server (set PROXMOX_SSH_KEY_PATH and PROXMOX_SSH_KNOWN_HOSTS)",
        ));
    };
    let target = match ssh.nodes.get(&n) {
        Some((host, port)) => SshTarget {
            host: host.clone(),
            port: *port,
            user: ssh.default.user.clone(),
        },
        None if ssh.nodes.is_empty() => ssh.default.clone(),
        None => {
            return Err(ToolError::invalid(
                "node",
                format!(
                    "no SSH address for node {n} (PROXMOX_SSH_NODES lists {})",
                    ssh.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    };
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
    let out = pool.exec(&target, &line, timeout).await?;
    Ok(ExecResult {
        node: n,
        command: shown,
        exit_status: out.exit_status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        truncated: out.truncated,
        duration_ms: out.duration.as_millis() as u64,
    })
}
