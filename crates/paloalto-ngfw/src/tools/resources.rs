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
};

const OBJECT: ResourceSpec = ResourceSpec {
    uri: "panos://{location}/objects/{name}",
    name: "address-object",
    title: "Address object",
    description: "One address object by name in a location, as retrieve_address_objects answers it.",
    scope: "ngfw:read",
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
            let page = retrieve_address_objects_for(
                s,
                ObjectsInput {
                    location: loc,
                    vsys,
                    device_group,
                    name_filter: Some(object.clone()),
                    limit: Some(200),
                    offset: None,
                    config: None,
                },
            )
            .await?;
            page.page
                .items
                .into_iter()
                .find(|o| o.name == object)
                .ok_or_else(|| ToolError::NotFound(format!("no address object {object}")))
        }),
    ]
}
