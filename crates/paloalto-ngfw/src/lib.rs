//! `paloalto-ngfw`: an MCP server for PAN-OS firewalls and Panorama over the XML API.
//!
//! Read-only: address objects and groups, services, zones, security rules, system info,
//! device groups, and the firewall's own `test security-policy-match`. Every name that
//! reaches an XPath or an op command is validated first; XPaths are built from validated
//! parts. Reads are cached briefly and identical concurrent reads coalesced.

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
}

impl App for Ngfw {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "paloalto-ngfw",
            version: env!("CARGO_PKG_VERSION"),
            about: "MCP server for PAN-OS firewalls and Panorama (XML API), read-only.",
        }
    }

    fn instructions() -> Option<String> {
        Some(
            "Read-only access to a PAN-OS firewall or Panorama. On a firewall use location `vsys` (default) \
             or `pushed`; on Panorama use `shared` or `device-group` with rulebase `pre`/`post`, and location \
             `template` for zones. Lists are paged with limit/offset. To check whether traffic is allowed, \
             use test_security_policy_match rather than reasoning over the rules."
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
            .map_err(|e| StartupError::App(format!("PAN-OS: {e}")))?;
        Ok(Self {
            client,
            default_source: settings.default_source,
        })
    }

    async fn probe(&self) -> Result<String, String> {
        let fields = self.client.version().await.map_err(|e| e.to_string())?;
        Ok(format!(
            "PAN-OS {} on {}",
            fields.get("sw-version").map_or("?", String::as_str),
            fields.get("model").map_or("?", String::as_str)
        ))
    }
}
