//! The tools, one file per domain, plus what they share: locations and paging.

pub mod changes;
pub mod commit;
pub mod device;
pub mod explain;
pub mod nat;
pub mod objects;
pub mod operations;
pub mod policies;
pub mod resources;
pub mod rules;
pub mod system;
pub mod values;
pub mod zones;

use mcp_core::{PageSpec, Paging, ToolDef, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Ngfw;
use crate::client::{ConfigSource, Name, XPath};

/// Every tool of this server.
pub fn all() -> Vec<ToolDef<Ngfw>> {
    let mut t = objects::tools();
    t.extend(zones::tools());
    t.extend(policies::tools());
    t.extend(nat::tools());
    t.extend(system::tools());
    t.extend(changes::tools());
    t.extend(rules::tools());
    t.extend(commit::tools());
    t.extend(operations::tools());
    t.extend(explain::tools());
    t
}

/// Paging of every list tool here: 50 items by default, at most 200.
pub const PAGE: PageSpec = PageSpec::new(50, 200);

/// Where configuration lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// A firewall virtual system (default `vsys1`).
    #[default]
    Vsys,
    /// Objects shared by every vsys (firewall) or every device group (Panorama).
    Shared,
    /// A Panorama device group (`device_group` required).
    DeviceGroup,
    /// On a firewall: what Panorama pushed to the vsys.
    Pushed,
}

/// Checked paging for this server's list tools.
pub fn paging(limit: Option<u32>, offset: Option<u32>) -> Result<Paging, ToolError> {
    Paging::new(limit, offset, PAGE)
}

/// One page of configuration, and where it was read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    #[serde(flatten)]
    pub page: mcp_core::Page<T>,
    /// The location that was read, e.g. `vsys:vsys1`.
    pub location: String,
    /// `running` or `candidate`.
    pub config: String,
}

impl<T> Page<T> {
    pub fn of(all: Vec<T>, paging: Paging, location: String, source: ConfigSource) -> Self {
        Self {
            page: mcp_core::Page::of(all, paging),
            location,
            config: match source {
                ConfigSource::Running => "running".into(),
                ConfigSource::Candidate => "candidate".into(),
            },
        }
    }
}

/// A validated name filter: a case-insensitive substring of the name.
pub fn name_filter(filter: Option<&str>) -> Result<Option<String>, ToolError> {
    match filter {
        None => Ok(None),
        Some(f) => Name::parse("name_filter", f).map(|n| Some(n.as_str().to_ascii_lowercase())),
    }
}

pub fn matches_filter(name: &str, filter: &Option<String>) -> bool {
    filter
        .as_ref()
        .is_none_or(|f| name.to_ascii_lowercase().contains(f))
}

/// The config node of a location, and its label (`vsys:vsys1`, `device-group:DG`, ...).
pub fn location_base(
    location: Location,
    vsys: Option<&str>,
    device_group: Option<&str>,
) -> Result<(XPath, String), ToolError> {
    if location != Location::DeviceGroup && device_group.is_some() {
        return Err(ToolError::invalid(
            "device_group",
            "is only used with location `device-group`",
        ));
    }
    if matches!(location, Location::Shared | Location::DeviceGroup) && vsys.is_some() {
        return Err(ToolError::invalid(
            "vsys",
            "is only used with location `vsys` or `pushed`",
        ));
    }
    let vsys = || Name::parse("vsys", vsys.unwrap_or("vsys1"));
    Ok(match location {
        Location::Vsys => {
            let v = vsys()?;
            (XPath::device().child("vsys").entry(&v), format!("vsys:{v}"))
        }
        Location::Shared => (XPath::config().child("shared"), "shared".into()),
        Location::DeviceGroup => {
            let dg = device_group.ok_or_else(|| {
                ToolError::invalid(
                    "device_group",
                    "is required when location is `device-group`",
                )
            })?;
            let dg = Name::parse("device_group", dg)?;
            (
                XPath::device().child("device-group").entry(&dg),
                format!("device-group:{dg}"),
            )
        }
        Location::Pushed => {
            let v = vsys()?;
            (
                XPath::config().child("panorama").child("vsys").entry(&v),
                format!("pushed:{v}"),
            )
        }
    })
}
