//! Rules and address objects as MCP resources (`ngfw:read`), read as the tools answer them:
//! `panos://{location}/rules` and `panos://{location}/objects/{name}`, where `location` is
//! `vsys:vsys1`, `shared`, `device-group:NAME` or `pushed:vsys1` (the `location` labels the
//! tools report).

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::{ResourceDef, ResourceSpec, ToolError};

use super::Location;
use super::objects::{ObjectsInput, retrieve_address_objects_for};
use super::policies::{PoliciesInput, retrieve_security_policies_for};
use crate::Ngfw;

const RULES: ResourceSpec = ResourceSpec {
    uri: "panos://{location}/rules",
    name: "rules",
    title: "Security rules",
    description: "The security rules of a location (vsys:vsys1, shared, device-group:NAME, pushed:vsys1), in order: the first page as retrieve_security_policies answers.",
    scope: "ngfw:read",
    toolset: "policies",
};

const OBJECT: ResourceSpec = ResourceSpec {
    uri: "panos://{location}/objects/{name}",
    name: "address-object",
    title: "Address object",
    description: "One address object by name in a location, as retrieve_address_objects answers it.",
    scope: "ngfw:read",
    toolset: "objects",
};

/// `vsys:vsys1`, `shared`, `device-group:DG`, `pushed:vsys1`: the location and its name.
fn location(vars: &BTreeMap<String, String>) -> Result<(Location, Option<String>), ToolError> {
    let raw = vars
        .get("location")
        .ok_or_else(|| ToolError::invalid("location", "is required"))?;
    let bad = || {
        ToolError::invalid(
            "location",
            "must be vsys:NAME, shared, device-group:NAME or pushed:NAME",
        )
    };
    match raw.split_once(':') {
        None if raw == "shared" => Ok((Location::Shared, None)),
        Some(("vsys", v)) if !v.is_empty() => Ok((Location::Vsys, Some(v.to_string()))),
        Some(("pushed", v)) if !v.is_empty() => Ok((Location::Pushed, Some(v.to_string()))),
        Some(("device-group", v)) if !v.is_empty() => {
            Ok((Location::DeviceGroup, Some(v.to_string())))
        }
        _ => Err(bad()),
    }
}

pub fn resources() -> Vec<ResourceDef<Ngfw>> {
    vec![
        ResourceDef::new(RULES, |s: Arc<Ngfw>, vars| async move {
            let (loc, name) = location(&vars)?;
            let (vsys, device_group) = match loc {
                Location::DeviceGroup => (None, name),
                _ => (name, None),
            };
            retrieve_security_policies_for(
                s,
                PoliciesInput {
                    location: loc,
                    vsys,
                    device_group,
                    rulebase: None,
                    name_filter: None,
                    limit: None,
                    offset: None,
                    config: None,
                    device: None,
                },
            )
            .await
        }),
        ResourceDef::new(OBJECT, |s: Arc<Ngfw>, vars| async move {
            let (loc, name) = location(&vars)?;
            let object = vars
                .get("name")
                .cloned()
                .ok_or_else(|| ToolError::invalid("name", "is required"))?;
            let (vsys, device_group) = match loc {
                Location::DeviceGroup => (None, name),
                _ => (name, None),
            };
            // The filter is a substring: page through the matches for the exact name.
            let mut offset = 0u32;
            loop {
                let page = retrieve_address_objects_for(
                    s.clone(),
                    ObjectsInput {
                        location: loc,
                        vsys: vsys.clone(),
                        device_group: device_group.clone(),
                        name_filter: Some(object.clone()),
                        limit: Some(200),
                        offset: Some(offset),
                        config: None,
                        device: None,
                    },
                )
                .await?;
                let more = page.page.next_offset;
                if let Some(found) = page.page.items.into_iter().find(|o| o.name == object) {
                    return Ok(found);
                }
                match more.and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => offset = n,
                    None => {
                        return Err(ToolError::NotFound(format!("no address object {object}")));
                    }
                }
            }
        }),
    ]
}
