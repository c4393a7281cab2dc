//! Security zones: a firewall vsys, or a Panorama template.

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Page, paging};
use crate::Ngfw;
use crate::client::model::Zone;
use crate::client::{ConfigSource, Name, XPath};

const RETRIEVE_SECURITY_ZONES: ToolSpec = ToolSpec {
    name: "retrieve_security_zones",
    title: "Security zones",
    description: "List security zones with their mode (layer3, layer2, virtual-wire, tap, tunnel), interfaces, zone-protection profile and whether User-ID is enabled. On Panorama, zones live in templates: use location `template`.",
    scope: "ngfw:read",
    toolset: "network",
    effect: Effect::ReadOnly,
    open_world: true,
};

/// Where zones live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneLocation {
    /// A firewall vsys (default).
    #[default]
    Vsys,
    /// A Panorama template (`template` required).
    Template,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZonesInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// `vsys` (default) on a firewall, or `template` on Panorama.
    #[serde(default)]
    pub location: ZoneLocation,
    /// Virtual system; default `vsys1` (also inside a template).
    pub vsys: Option<String>,
    /// Panorama template name; required when location is `template`.
    pub template: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// `running` (default) or `candidate`.
    pub config: Option<ConfigSource>,
}

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![ToolDef::new(
        RETRIEVE_SECURITY_ZONES,
        super::device::on_device(retrieve_security_zones),
    )]
}

async fn retrieve_security_zones(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: ZonesInput,
) -> Result<Page<Zone>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let vsys = Name::parse("vsys", input.vsys.as_deref().unwrap_or("vsys1"))?;
    let (base, label) = match (input.location, input.template.as_deref()) {
        (ZoneLocation::Vsys, Some(_)) => {
            return Err(ToolError::invalid(
                "template",
                "is only used with location `template`",
            ));
        }
        (ZoneLocation::Vsys, None) => (XPath::device(), format!("vsys:{vsys}")),
        (ZoneLocation::Template, None) => {
            return Err(ToolError::invalid(
                "template",
                "is required when location is `template`",
            ));
        }
        (ZoneLocation::Template, Some(t)) => {
            let t = Name::parse("template", t)?;
            let base = XPath::device()
                .child("template")
                .entry(&t)
                .child("config")
                .local_device();
            (base, format!("template:{t}:{vsys}"))
        }
    };
    let source = input.config.unwrap_or(s.default_source);
    let zones = s.client.zones(source, &base, &vsys, &label).await?;
    Ok(Page::of(zones, paging, label, source))
}

crate::on_device_inputs!(ZonesInput);
