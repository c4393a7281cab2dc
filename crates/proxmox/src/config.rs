//! Settings: `PROXMOX_*` variables.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mcp_core::upstream::{TlsOptions, UpstreamConfig, parse_base_url};
use mcp_core::{ConfigError, Env};
use secrecy::SecretString;

use crate::client::{HostKeyPolicy, SshTarget};
use crate::policy::{CommandPolicy, Protected, VmidSet};

/// SSH settings; absent when no key is configured (execute_command then refuses).
#[derive(Debug, Clone)]
pub struct SshSettings {
    pub key_path: PathBuf,
    pub default: SshTarget,
    /// Per-node overrides: `PROXMOX_SSH_NODES=pve1=10.0.0.1,pve2=10.0.0.2:2222`.
    pub nodes: BTreeMap<String, (String, u16)>,
    pub host_keys: HostKeyPolicy,
    pub output_cap: usize,
}

#[derive(Debug, Clone)]
pub struct ProxmoxSettings {
    pub upstream: UpstreamConfig,
    pub token_id: String,
    pub token_secret: SecretString,
    pub ssh: Option<SshSettings>,
    pub commands: CommandPolicy,
    pub vmid_allow: Option<VmidSet>,
    pub vmid_deny: Option<VmidSet>,
    pub api_deny: Vec<String>,
    /// `PROXMOX_PROTECTED_VMIDS` and `PROXMOX_PROTECTED_TAGS`.
    pub protected: Protected,
}

/// API paths denied by default (prefixes, and path segments anywhere).
pub const DEFAULT_API_DENY: &[&str] = &[
    "/access",
    "/cluster/acme",
    "/cluster/config",
    "/cluster/jobs",
    "/nodes/*/termproxy",
    "/nodes/*/vncshell",
    "/nodes/*/spiceshell",
    "/nodes/*/vncwebsocket",
    "/nodes/*/execute",
    "/nodes/*/*/*/termproxy",
    "/nodes/*/*/*/vncproxy",
    "/nodes/*/*/*/spiceproxy",
    "/nodes/*/*/*/vncwebsocket",
    "/nodes/*/*/*/mtunnel",
    "/nodes/*/*/*/mtunnelwebsocket",
    "/nodes/*/*/*/agent/exec",
    "/nodes/*/*/*/agent/file-read",
    "/nodes/*/*/*/agent/file-write",
    "/nodes/*/*/*/agent/set-user-password",
    // GETs with side effects.
    "/nodes/*/*/*/agent/exec-status",
    "/nodes/*/scan",
    "/nodes/*/query-url-metadata",
    "/nodes/*/query-oci-repo-tags",
    "/nodes/*/storage/*/file-restore",
    "/nodes/*/storage/*/import-metadata",
    "/nodes/*/apt/changelog",
    "/nodes/*/report",
];

impl ProxmoxSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let host = env.require(
            "PROXMOX_HOST",
            "the PVE address, e.g. pve.example.com or https://10.0.0.5:8006",
        )?;
        let with_port = if !host.contains("://") && !host.contains(':') {
            format!("{host}:8006")
        } else {
            host
        };
        let base = parse_base_url("PROXMOX_HOST", &with_port)?;
        let token_id = env.require(
            "PROXMOX_TOKEN_ID",
            "USER@REALM!TOKENID, e.g. mcp@pve!readonly",
        )?;
        if !token_id.contains('@')
            || !token_id.contains('!')
            || token_id.chars().any(|c| c.is_whitespace() || c == '=')
        {
            return Err(ConfigError::invalid(
                "PROXMOX_TOKEN_ID",
                "must look like USER@REALM!TOKENID",
            ));
        }
        let token_secret = env
            .secret("PROXMOX_TOKEN_SECRET")?
            .ok_or_else(|| ConfigError::missing("PROXMOX_TOKEN_SECRET", ""))?;
        let mut upstream = UpstreamConfig::new("Proxmox VE", base);
        upstream.tls = TlsOptions::from_env(env, "PROXMOX")?;
        upstream.tune_from_env(env, "PROXMOX")?;
        upstream.application_error = Some(crate::client::api::is_application_error);

        let ssh = match env.get("PROXMOX_SSH_KEY_PATH")? {
            None => None,
            Some(key) => {
                let default_host = env.get("PROXMOX_SSH_HOST")?.unwrap_or_else(|| {
                    upstream.base_url.host_str().unwrap_or_default().to_string()
                });
                let port = env.parse::<u16>("PROXMOX_SSH_PORT")?.unwrap_or(22);
                // No default: a silent `root` would run every allowlisted command as root.
                let user = env.require(
                    "PROXMOX_SSH_USER",
                    "the SSH login for execute_command, e.g. mcp-diag; there is no default, and root only on purpose",
                )?;
                let host_keys = match (
                    env.get("PROXMOX_SSH_KNOWN_HOSTS")?,
                    env.get("PROXMOX_SSH_HOST_FINGERPRINT")?,
                    env.flag("PROXMOX_SSH_TOFU")?.unwrap_or(false),
                ) {
                    (Some(k), None, false) => HostKeyPolicy::KnownHosts(k.into()),
                    (None, Some(f), false) => {
                        if !f.starts_with("SHA256:") {
                            return Err(ConfigError::invalid(
                                "PROXMOX_SSH_HOST_FINGERPRINT",
                                "must be SHA256:… as printed by `ssh-keygen -lf`",
                            ));
                        }
                        HostKeyPolicy::Fingerprint(f)
                    }
                    (None, None, true) => HostKeyPolicy::TrustOnFirstUse,
                    (None, None, false) => {
                        return Err(ConfigError::missing(
                            "PROXMOX_SSH_KNOWN_HOSTS",
                            "or PROXMOX_SSH_HOST_FINGERPRINT: SSH host keys are always verified (PROXMOX_SSH_TOFU=true trusts on first use, explicitly)",
                        ));
                    }
                    _ => {
                        return Err(ConfigError::invalid(
                            "PROXMOX_SSH_KNOWN_HOSTS",
                            "set only one of PROXMOX_SSH_KNOWN_HOSTS, PROXMOX_SSH_HOST_FINGERPRINT, PROXMOX_SSH_TOFU",
                        ));
                    }
                };
                let mut nodes = BTreeMap::new();
                for item in env.list("PROXMOX_SSH_NODES")?.unwrap_or_default() {
                    let (node, addr) = item.split_once('=').ok_or_else(|| {
                        ConfigError::invalid(
                            "PROXMOX_SSH_NODES",
                            format!("`{item}` is not NODE=HOST[:PORT]"),
                        )
                    })?;
                    let (h, p) = match addr.rsplit_once(':') {
                        Some((h, p)) if !h.contains(':') => (
                            h.to_string(),
                            p.parse().map_err(|_| {
                                ConfigError::invalid(
                                    "PROXMOX_SSH_NODES",
                                    format!("bad port in `{item}`"),
                                )
                            })?,
                        ),
                        _ => (addr.to_string(), port),
                    };
                    nodes.insert(node.trim().to_string(), (h, p));
                }
                Some(SshSettings {
                    key_path: key.into(),
                    default: SshTarget {
                        host: default_host,
                        port,
                        user,
                    },
                    nodes,
                    host_keys,
                    output_cap: env.parse("PROXMOX_SSH_OUTPUT_CAP")?.unwrap_or(64 * 1024),
                })
            }
        };
        let commands = match env.list("PROXMOX_COMMAND_ALLOWLIST")? {
            None => CommandPolicy::default_policy(),
            Some(list) => CommandPolicy::new(&list)
                .map_err(|e| ConfigError::invalid("PROXMOX_COMMAND_ALLOWLIST", e.to_string()))?,
        };
        let set = |var: &str| -> Result<Option<VmidSet>, ConfigError> {
            env.get(var)?
                .map(|v| VmidSet::parse(&v).map_err(|e| ConfigError::invalid(var, e.to_string())))
                .transpose()
        };
        let api_deny = env
            .list("PROXMOX_API_DENY")?
            .unwrap_or_else(|| DEFAULT_API_DENY.iter().map(|s| s.to_string()).collect());
        Ok(Self {
            upstream,
            token_id,
            token_secret,
            ssh,
            commands,
            vmid_allow: set("PROXMOX_VMID_ALLOWLIST")?,
            vmid_deny: set("PROXMOX_VMID_DENYLIST")?,
            api_deny,
            protected: Protected::new(
                set("PROXMOX_PROTECTED_VMIDS")?,
                &env.list("PROXMOX_PROTECTED_TAGS")?.unwrap_or_default(),
            )
            .map_err(|e| ConfigError::invalid("PROXMOX_PROTECTED_TAGS", e.to_string()))?,
        })
    }
}

/// Default command timeout and its ceiling.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
