//! System information and Panorama device groups.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Page, paging};
use crate::Ngfw;
use crate::client::ConfigSource;
use crate::client::model::DeviceGroup;

const GET_SYSTEM_INFO: ToolSpec = ToolSpec {
    name: "get_system_info",
    title: "System info",
    description: "Show system info: hostname, model, serial, PAN-OS version, content versions, uptime, management address.",
    scope: "ngfw:read",
    toolset: "system",
    effect: Effect::ReadOnly,
    open_world: true,
};

const LIST_DEVICE_GROUPS: ToolSpec = ToolSpec {
    name: "list_device_groups",
    title: "Device groups",
    description: "On Panorama: list device groups with their parent hierarchy (from `shared` down) and the serials of their firewalls. Paged.",
    scope: "ngfw:read",
    toolset: "system",
    effect: Effect::ReadOnly,
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SystemInfo {
    pub hostname: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub sw_version: Option<String>,
    /// Every field PAN-OS reported.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceGroupsInput {
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// `running` (default) or `candidate`.
    pub config: Option<ConfigSource>,
}

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(GET_SYSTEM_INFO, super::device::on_device(get_system_info)),
        ToolDef::new(LIST_DEVICE_GROUPS, list_device_groups),
    ]
}

async fn get_system_info(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    _input: NoInput,
) -> Result<SystemInfo, ToolError> {
    let fields = s.client.system_info().await?;
    if fields.is_empty() {
        return Err(ToolError::upstream(
            "PAN-OS",
            "show system info returned nothing",
        ));
    }
    Ok(SystemInfo {
        hostname: fields.get("hostname").cloned(),
        model: fields.get("model").cloned(),
        serial: fields.get("serial").cloned(),
        sw_version: fields.get("sw-version").cloned(),
        fields,
    })
}

async fn list_device_groups(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: DeviceGroupsInput,
) -> Result<Page<DeviceGroup>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let source = input.config.unwrap_or(s.default_source);
    let mut groups = s.client.device_groups(source).await?;
    let parents = s.client.device_group_parents(source).await?;
    for g in &mut groups {
        if let Some(p) = parents.get(&g.name) {
            g.parent = p.clone();
        }
        let mut path = vec![g.name.clone()];
        let mut cur = g.name.clone();
        while let Some(p) = parents.get(&cur) {
            if path.contains(p) || path.len() > 32 {
                break; // a cycle in the data: stop rather than loop
            }
            path.push(p.clone());
            cur = p.clone();
        }
        path.push("shared".into());
        path.reverse();
        g.path = path;
    }
    Ok(Page::of(groups, paging, "panorama".into(), source))
}

crate::on_device_inputs!(NoInput);
