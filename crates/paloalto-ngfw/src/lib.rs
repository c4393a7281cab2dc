//! `paloalto-ngfw`: an MCP server for PAN-OS firewalls and Panorama over the XML API.
//!
//! Reads (`ngfw:read`): address objects and groups, services, zones, security and NAT rules,
//! hit counts, system info, device groups, the firewall's own `test security-policy-match`
//! and `test nat-policy-match`, and the candidate-versus-running preview.
//!
//! Changes (`ngfw:write`, toolset `changes`): objects, tags and security rules in the
//! candidate configuration, then commit (a partial commit of this server's administrator,
//! confirmed by a human through mcp-core's gate, described with the token's subject and a
//! reason), revert, and Panorama push. Every write is planned first (`dry_run` returns the
//! plan), is idempotent, and runs under a config lock.
//!
//! Every name that reaches an XPath or an op command is validated first; XPaths and XML are
//! built from validated parts. Reads are cached briefly and identical concurrent reads
//! coalesced; a write drops the cache.

pub mod client;
pub mod config;
pub mod tools;

use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef};

use crate::client::{ConfigSource, PanosClient};
use crate::config::PanosSettings;

/// Server state.
#[derive(Debug)]
pub struct Ngfw {
    pub client: PanosClient,
    pub default_source: ConfigSource,
    /// The device as plans name it (`PAN-OS fw.example.com`).
    pub device: String,
    /// The PAN-OS administrator behind the credentials, when known from PANOS_USERNAME;
    /// otherwise learnt from the first config lock this server takes.
    pub admin: std::sync::Mutex<Option<String>>,
    /// One write at a time from this process: the config lock is per administrator, and
    /// every replica and call of this server is the same administrator.
    pub writes: tokio::sync::Mutex<()>,
    /// Whether the host is Panorama (from the readiness probe or the first call that needs it).
    pub panorama: tokio::sync::OnceCell<bool>,
}

impl App for Ngfw {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "paloalto-ngfw",
            version: env!("CARGO_PKG_VERSION"),
            about: "MCP server for PAN-OS firewalls and Panorama (XML API): reads, and confirmed changes to the candidate configuration with commit.",
        }
    }

    fn instructions() -> Option<String> {
        Some(
            "Access to a PAN-OS firewall or Panorama. On a firewall use location `vsys` (default) \
             or `pushed`; on Panorama use `shared` or `device-group` with rulebase `pre`/`post`, and location \
             `template` for zones. Lists are paged with limit/offset. To check whether traffic is allowed, \
             use test_security_policy_match rather than reasoning over the rules. With ngfw:write, changes \
             go to the candidate configuration (set_*, delete_*, move_security_rule; read them back with \
             config=candidate), preview_changes shows what differs from running, and commit_changes \
             (with a reason) makes the firewall enforce them after the user confirms. Use dry_run to show \
             a plan first. To answer why traffic is allowed or blocked, use explain_traffic (zones, NAT and \
             security rule, recent traffic logs, verdict); query_logs reads logs with a PAN-OS filter. On \
             Panorama, name a managed firewall with `device` (list_managed_devices lists them)."
                .into(),
        )
    }

    fn resources() -> Vec<mcp_core::ResourceDef<Self>> {
        tools::resources::resources()
    }

    fn tools() -> Vec<ToolDef<Self>> {
        tools::all()
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let settings = PanosSettings::from_env(ctx.env)?;
        let client = PanosClient::connect(&settings)
            .await
            .map_err(|e| StartupError::App(format!("PAN-OS: {e}")))?
            .with_shared_cache(ctx.state.clone(), &settings);
        let host = settings.upstream.base_url.host_str().unwrap_or("?");
        let device = match settings.upstream.base_url.port() {
            Some(p) => format!("PAN-OS {host}:{p}"),
            None => format!("PAN-OS {host}"),
        };
        let admin = match &settings.credentials {
            crate::config::Credentials::Password { username, .. } => Some(username.clone()),
            crate::config::Credentials::ApiKey(_) => None,
        };
        Ok(Self {
            client,
            default_source: settings.default_source,
            device,
            admin: std::sync::Mutex::new(admin),
            writes: tokio::sync::Mutex::new(()),
            panorama: tokio::sync::OnceCell::new(),
        })
    }

    async fn probe(&self) -> Result<String, String> {
        let fields = self.client.version().await.map_err(|e| e.to_string())?;
        if let Some(model) = fields.get("model") {
            let _ = self.panorama.set(model.eq_ignore_ascii_case("Panorama"));
        }
        Ok(format!(
            "PAN-OS {} on {}",
            fields.get("sw-version").map_or("?", String::as_str),
            fields.get("model").map_or("?", String::as_str)
        ))
    }
}
