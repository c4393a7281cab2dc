//! `proxmox`: an MCP server for Proxmox VE over its REST API and SSH.
//!
//! VMs, containers, nodes and tasks through the API with a least-privilege token, power
//! actions with protection and VMID policy, a guarded API passthrough, and allowlisted
//! diagnostic commands over SSH with verified host keys and pooled connections.

pub mod client;
pub mod config;
pub mod policy;
pub mod tools;

use mcp_core::upstream::Upstream;
use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef, ToolError};

use crate::client::{PveClient, SshPool};
use crate::config::{ProxmoxSettings, SshSettings};
use crate::policy::{CommandPolicy, VmidSet};

/// Server state.
#[derive(Debug)]
pub struct Proxmox {
    pub api: PveClient,
    pub ssh: Option<SshPool>,
    pub ssh_settings: Option<SshSettings>,
    pub commands: CommandPolicy,
    pub vmid_allow: Option<VmidSet>,
    pub vmid_deny: Option<VmidSet>,
    pub api_deny: Vec<String>,
    pub protected: policy::Protected,
}

impl App for Proxmox {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "proxmox",
            version: env!("CARGO_PKG_VERSION"),
            about: "MCP server for Proxmox VE (REST API and SSH), with guarded command execution.",
        }
    }

    fn instructions() -> Option<String> {
        Some(
            "Proxmox VE: list_vms and vm_status to see guests (by VMID; the node is found for you), \
             guest_config for their configuration, vm_action to power them. Snapshots: list_snapshots, \
             create_snapshot, rollback_snapshot, delete_snapshot. Backups: list_backups, backup_guest, \
             restore_backup (to a new VMID by default). Tools that start a task return its UPID; \
             wait_seconds follows it, task_status, task_log and list_tasks read it later. list_storage, \
             list_networks and list_firewall_rules read the infrastructure, node_status and list_nodes \
             the hosts. execute_command runs only allowlisted diagnostics, as plain words without shell \
             syntax."
                .into(),
        )
    }

    fn resources() -> Vec<mcp_core::ResourceDef<Self>> {
        tools::resources::resources()
    }

    fn extra_scopes() -> &'static [&'static str] {
        // `proxmox_api` requires proxmox:read and checks proxmox:admin itself for non-GET.
        &["proxmox:admin"]
    }

    fn tools() -> Vec<ToolDef<Self>> {
        tools::all()
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let s = ProxmoxSettings::from_env(ctx.env)?;
        let upstream =
            Upstream::new(s.upstream.clone()).map_err(|e| StartupError::App(e.to_string()))?;
        let api = PveClient::new(upstream, &s.token_id, &s.token_secret);
        let ssh = match &s.ssh {
            Some(cfg) => Some(
                SshPool::new(
                    &cfg.key_path,
                    cfg.host_keys.clone(),
                    std::time::Duration::from_secs(10),
                    cfg.output_cap,
                )
                .map_err(|e| StartupError::App(e.to_string()))?,
            ),
            None => {
                tracing::info!("no PROXMOX_SSH_KEY_PATH: execute_command is disabled");
                None
            }
        };
        Ok(Self {
            api,
            ssh,
            ssh_settings: s.ssh,
            commands: s.commands,
            vmid_allow: s.vmid_allow,
            vmid_deny: s.vmid_deny,
            api_deny: s.api_deny,
            protected: s.protected,
        })
    }

    /// `ssh`: each configured SSH host is reachable, its host key verified and the login
    /// accepted (a pooled session counts; no command runs).
    async fn health_checks(
        &self,
    ) -> Vec<(&'static str, Result<String, String>, std::time::Duration)> {
        let (Some(pool), Some(cfg)) = (&self.ssh, &self.ssh_settings) else {
            return Vec::new();
        };
        let mut targets = vec![cfg.default.clone()];
        for (host, port) in cfg.nodes.values() {
            let t = client::SshTarget {
                host: host.clone(),
                port: *port,
                user: cfg.default.user.clone(),
            };
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        let started = std::time::Instant::now();
        let mut failed = Vec::new();
        for t in &targets {
            let check = tokio::time::timeout(std::time::Duration::from_secs(10), pool.check(t));
            match check.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed.push(ToolError::from(e).to_string()),
                Err(_) => failed.push(format!("{}:{}: no answer within 10 s", t.host, t.port)),
            }
        }
        let r = if failed.is_empty() {
            Ok(format!(
                "{} SSH host(s) reachable, host keys verified",
                targets.len()
            ))
        } else {
            Err(failed.join("; "))
        };
        vec![("ssh", r, started.elapsed())]
    }

    async fn probe(&self) -> Result<String, String> {
        let v = self
            .api
            .version()
            .await
            .map_err(|e| ToolError::from(e).to_string())?;
        Ok(format!(
            "Proxmox VE {}",
            v.version.as_deref().unwrap_or("?")
        ))
    }
}
