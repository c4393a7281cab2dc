//! Address objects, address groups and service objects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Location, Page, location_base, matches_filter, name_filter, paging};
use crate::Ngfw;
use crate::client::model::{AddressGroup, AddressObject, ServiceObject};
use crate::client::{ConfigSource, XPath, tagfilter};

const RETRIEVE_ADDRESS_OBJECTS: ToolSpec = ToolSpec {
    name: "retrieve_address_objects",
    title: "Address objects",
    description: "List address objects (ip-netmask, ip-range, ip-wildcard, fqdn) of a vsys, the shared location, a Panorama device group, or what Panorama pushed to a firewall. Paged.",
    scope: "ngfw:read",
    toolset: "objects",
    effect: Effect::ReadOnly,
    open_world: true,
};

const RETRIEVE_ADDRESS_GROUPS: ToolSpec = ToolSpec {
    name: "retrieve_address_groups",
    title: "Address groups",
    description: "List address groups with their static members or dynamic filter; with expand=true, also the address objects each group resolves to. Paged.",
    scope: "ngfw:read",
    toolset: "objects",
    effect: Effect::ReadOnly,
    open_world: true,
};

const RETRIEVE_SERVICE_OBJECTS: ToolSpec = ToolSpec {
    name: "retrieve_service_objects",
    title: "Service objects",
    description: "List service objects (protocol and ports) and service groups of a location. Paged.",
    scope: "ngfw:read",
    toolset: "objects",
    effect: Effect::ReadOnly,
    open_world: true,
};

/// Which objects to read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectsInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// `vsys` (default), `shared`, `device-group` (Panorama) or `pushed` (what Panorama pushed to this firewall).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for `vsys` and `pushed`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group name; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Only names containing this text (case-insensitive).
    pub name_filter: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// `running` (default: what is enforced) or `candidate` (includes uncommitted changes).
    pub config: Option<ConfigSource>,
}

/// Which address groups to read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// `vsys` (default), `shared`, `device-group` (Panorama) or `pushed` (what Panorama pushed to this firewall).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for `vsys` and `pushed`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group name; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Only names containing this text (case-insensitive).
    pub name_filter: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// `running` (default) or `candidate`.
    pub config: Option<ConfigSource>,
    /// Resolve each group to its address objects (static members recursively, dynamic filters by tag).
    #[serde(default)]
    pub expand: bool,
}

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(
            RETRIEVE_ADDRESS_OBJECTS,
            super::device::on_device(retrieve_address_objects),
        ),
        ToolDef::new(
            RETRIEVE_ADDRESS_GROUPS,
            super::device::on_device(retrieve_address_groups),
        ),
        ToolDef::new(
            RETRIEVE_SERVICE_OBJECTS,
            super::device::on_device(retrieve_service_objects),
        ),
    ]
}

async fn retrieve_address_objects(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: ObjectsInput,
) -> Result<Page<AddressObject>, ToolError> {
    retrieve_address_objects_for(s, input).await
}

/// The tool's answer, for the tool and for the resource that reads as it.
pub(crate) async fn retrieve_address_objects_for(
    s: Arc<Ngfw>,
    input: ObjectsInput,
) -> Result<Page<AddressObject>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let filter = name_filter(input.name_filter.as_deref())?;
    let (base, label) = location_base(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let source = input.config.unwrap_or(s.default_source);
    let all = s.client.address_objects(source, &base, &label).await?;
    let all = all
        .into_iter()
        .filter(|o| matches_filter(&o.name, &filter))
        .collect();
    Ok(Page::of(all, paging, label, source))
}

async fn retrieve_address_groups(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: GroupsInput,
) -> Result<Page<AddressGroup>, ToolError> {
    let o = &input;
    let paging = paging(o.limit, o.offset)?;
    let filter = name_filter(o.name_filter.as_deref())?;
    let (base, label) = location_base(o.location, o.vsys.as_deref(), o.device_group.as_deref())?;
    let source = o.config.unwrap_or(s.default_source);
    let mut groups: Vec<AddressGroup> = s
        .client
        .address_groups(source, &base, &label)
        .await?
        .into_iter()
        .filter(|g| matches_filter(&g.name, &filter))
        .collect();
    if input.expand {
        // Members may live here or in shared; a local name hides a shared one.
        let shared = XPath::config().child("shared");
        let mut objects = s.client.address_objects(source, &shared, "shared").await?;
        let mut all_groups = s.client.address_groups(source, &shared, "shared").await?;
        if label != "shared" {
            objects.extend(s.client.address_objects(source, &base, &label).await?);
            all_groups.extend(s.client.address_groups(source, &base, &label).await?);
        }
        let objects: BTreeMap<String, AddressObject> =
            objects.into_iter().map(|o| (o.name.clone(), o)).collect();
        let by_name: BTreeMap<String, AddressGroup> = all_groups
            .into_iter()
            .map(|g| (g.name.clone(), g))
            .collect();
        for g in &mut groups {
            let mut out = BTreeMap::new();
            expand(g, &objects, &by_name, &mut BTreeSet::new(), &mut out)?;
            g.expanded = Some(out.into_values().collect());
        }
    }
    Ok(Page::of(groups, paging, label, source))
}

fn expand(
    g: &AddressGroup,
    objects: &BTreeMap<String, AddressObject>,
    groups: &BTreeMap<String, AddressGroup>,
    seen: &mut BTreeSet<String>,
    out: &mut BTreeMap<String, AddressObject>,
) -> Result<(), ToolError> {
    if !seen.insert(g.name.clone()) || seen.len() > 64 {
        return Ok(()); // a cycle or absurd depth: stop, the members found so far stand
    }
    if let Some(filter) = &g.filter {
        let expr = tagfilter::parse(filter).map_err(|e| {
            ToolError::upstream(
                "PAN-OS",
                format!(
                    "group {} has a filter this server cannot evaluate ({e}): {filter}",
                    g.name
                ),
            )
        })?;
        for o in objects.values().filter(|o| expr.matches(&o.tags)) {
            out.insert(o.name.clone(), o.clone());
        }
        return Ok(());
    }
    for m in &g.members {
        if let Some(o) = objects.get(m) {
            out.insert(o.name.clone(), o.clone());
        } else if let Some(inner) = groups.get(m) {
            expand(inner, objects, groups, seen, out)?;
        }
    }
    Ok(())
}

async fn retrieve_service_objects(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: ObjectsInput,
) -> Result<Page<ServiceObject>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let filter = name_filter(input.name_filter.as_deref())?;
    let (base, label) = location_base(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let source = input.config.unwrap_or(s.default_source);
    let all = s.client.service_objects(source, &base, &label).await?;
    let all = all
        .into_iter()
        .filter(|o| matches_filter(&o.name, &filter))
        .collect();
    Ok(Page::of(all, paging, label, source))
}

crate::on_device_inputs!(ObjectsInput, GroupsInput);
