//! Object changes in the candidate configuration: address objects and groups, services and
//! tags. Nothing here is enforced until `commit_changes`, so these tools never ask for a
//! confirmation (`Confirm::Never`); each still goes through the gate, so `dry_run` and the
//! two-person rule's audit hold for them too.
//!
//! Every write: checks every argument (no request on bad input), reads the entry from the
//! candidate, builds the new entry from checked parts over it, and answers `unchanged`
//! without writing when nothing would change. Otherwise it takes the config lock, checks that
//! the entry is still what the plan was made from, writes it with one `edit`, and releases
//! the lock.

use std::future::Future;
use std::sync::Arc;

use mcp_core::validate;
use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use roxmltree::Node;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::values::{self, AddressKind, MAX_DESCRIPTION};
use super::{Location, location_base};
use crate::Ngfw;
use crate::client::entry::{
    AddressGroupSpec, AddressSpec, Field, GroupMembers, ServiceSpec, TagSpec, TextChange,
    build_entry,
};
use crate::client::model::{self, AddressGroup, AddressObject, ServiceObject, Tag};
use crate::client::refs::{self, RefKind};
use crate::client::{ConfigSource, Name, PanosError, XPath, element::Xml};

/// The scope of every tool that changes something.
pub(crate) const WRITE_SCOPE: &str = "ngfw:write";
/// The toolset of the change tools.
pub(crate) const TOOLSET: &str = "changes";

const SET_ADDRESS_OBJECT: ToolSpec = ToolSpec {
    name: "set_address_object",
    title: "Set address object",
    description: "Create or update an address object in the candidate configuration (enforced only after commit_changes). Fields you leave out keep their value; `description: \"\"` or `tags: []` clears them. Setting what is already there reports `unchanged` and writes nothing. `dry_run` shows the plan.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const DELETE_ADDRESS_OBJECT: ToolSpec = ToolSpec {
    name: "delete_address_object",
    title: "Delete address object",
    description: "Delete an address object from the candidate configuration. Refused, naming them, while a rule or group still references it. Deleting what is not there reports `unchanged`.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const SET_ADDRESS_GROUP: ToolSpec = ToolSpec {
    name: "set_address_group",
    title: "Set address group",
    description: "Create or update an address group in the candidate configuration: exact `static_members`, or `add_members`/`remove_members` to change a static group, or a `dynamic_filter` on tags. Fields you leave out keep their value. Identical settings report `unchanged` and write nothing.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const DELETE_ADDRESS_GROUP: ToolSpec = ToolSpec {
    name: "delete_address_group",
    title: "Delete address group",
    description: "Delete an address group from the candidate configuration. Refused, naming them, while a rule or another group still references it.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const SET_SERVICE_OBJECT: ToolSpec = ToolSpec {
    name: "set_service_object",
    title: "Set service object",
    description: "Create or update a service object (tcp, udp or sctp with destination ports, optional source ports) in the candidate configuration. Fields you leave out keep their value. Identical settings report `unchanged` and write nothing.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const DELETE_SERVICE_OBJECT: ToolSpec = ToolSpec {
    name: "delete_service_object",
    title: "Delete service object",
    description: "Delete a service object from the candidate configuration. Refused, naming them, while a rule or service group still references it.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const SET_TAG: ToolSpec = ToolSpec {
    name: "set_tag",
    title: "Set tag",
    description: "Create or update a tag (color and comments) in the candidate configuration. Identical settings report `unchanged` and write nothing.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const DELETE_TAG: ToolSpec = ToolSpec {
    name: "delete_tag",
    title: "Delete tag",
    description: "Delete a tag from the candidate configuration. Refused, naming them, while an object, rule or dynamic group filter still uses it.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(
            SET_ADDRESS_OBJECT,
            super::device::on_device(set_address_object),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            DELETE_ADDRESS_OBJECT,
            super::device::on_device(delete_address_object),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            SET_ADDRESS_GROUP,
            super::device::on_device(set_address_group),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            DELETE_ADDRESS_GROUP,
            super::device::on_device(delete_address_group),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            SET_SERVICE_OBJECT,
            super::device::on_device(set_service_object),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            DELETE_SERVICE_OBJECT,
            super::device::on_device(delete_service_object),
        )
        .confirm(Confirm::Never),
        ToolDef::new(SET_TAG, super::device::on_device(set_tag)).confirm(Confirm::Never),
        ToolDef::new(DELETE_TAG, super::device::on_device(delete_tag)).confirm(Confirm::Never),
    ]
}

// --- what every write shares ----------------------------------------------------------------

/// Where a write goes: the location's config node, its label and the config-lock scope.
#[derive(Debug, Clone)]
pub(crate) struct WriteTarget {
    pub base: XPath,
    pub label: String,
    pub location: Location,
    /// The vsys whose config lock is taken; `None` takes the shared lock.
    pub lock_scope: Option<Name>,
}

/// The target of a write to `location`; `pushed` is refused (Panorama owns it).
pub(crate) fn write_target(
    location: Location,
    vsys: Option<&str>,
    device_group: Option<&str>,
) -> Result<WriteTarget, ToolError> {
    if location == Location::Pushed {
        return Err(ToolError::invalid(
            "location",
            "`pushed` is what Panorama pushed to this firewall and is read-only here; change it on Panorama (location `device-group` or `shared`)",
        ));
    }
    let (base, label) = location_base(location, vsys, device_group)?;
    let lock_scope = match location {
        Location::Vsys => Some(Name::parse("vsys", vsys.unwrap_or("vsys1"))?),
        _ => None,
    };
    Ok(WriteTarget {
        base,
        label,
        location,
        lock_scope,
    })
}

/// What a plan calls the place it changes.
pub(crate) fn plan_target(s: &Ngfw, label: &str) -> String {
    format!("{} candidate configuration, {label}", s.device_label())
}

/// An entry as it is and as the write will make it.
#[derive(Debug)]
pub(crate) struct PlannedEdit<T> {
    /// The entry's XML as read (bookkeeping attributes dropped); `None` when absent.
    pub current: Option<String>,
    /// The whole entry the write sends.
    pub element: Xml,
    pub before: Option<T>,
    pub after: T,
}

fn parse_xml(xml: &str) -> Result<roxmltree::Document<'_>, ToolError> {
    roxmltree::Document::parse(xml)
        .map_err(|e| ToolError::from(PanosError::Parse(format!("an entry: {e}"))))
}

/// Read the entry at `xpath` from the candidate and build the new one from `fields` over it;
/// `view` reads both as the read tools show them.
pub(crate) async fn plan_edit<T>(
    s: &Ngfw,
    xpath: &XPath,
    name: &Name,
    fields: impl Fn(Option<&T>) -> Result<Vec<(&'static str, Field)>, ToolError>,
    view: impl Fn(Node<'_, '_>) -> T,
) -> Result<PlannedEdit<T>, ToolError> {
    let current = s.client.entry_xml(ConfigSource::Candidate, xpath).await?;
    let (before, element) = match &current {
        None => (None, build_entry(name, None, &fields(None)?)),
        Some(xml) => {
            let doc = parse_xml(xml)?;
            let root = doc.root_element();
            let before = view(root);
            let element = build_entry(name, Some(root), &fields(Some(&before))?);
            (Some(before), element)
        }
    };
    let doc = parse_xml(element.as_str()).map_err(ToolError::internal)?;
    let after = view(doc.root_element());
    Ok(PlannedEdit {
        current,
        element,
        before,
        after,
    })
}

/// The lock comment: which tool, for whom.
fn lock_comment(tool: &str, subject: &str) -> String {
    format!(
        "secops-mcp {tool} for {}",
        validate::excerpt(subject, 64).replace(['<', '>', '&'], "_")
    )
}

/// Run `f` holding the config lock of `scope`, then release it. `f` gets the lock's comment.
/// Warnings (a lock that could not be released) come back beside the result.
pub(crate) async fn locked<T, F, Fut>(
    s: &Ngfw,
    ctx: &CallCtx,
    scope: Option<&Name>,
    tool: &str,
    f: F,
) -> Result<(T, Vec<String>), ToolError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<T, ToolError>>,
{
    let _one_at_a_time = s.writes.lock().await;
    let comment = lock_comment(tool, &ctx.principal.subject);
    s.client.lock_config(scope, &comment).await?;
    let result = f(comment).await;
    let mut warnings = Vec::new();
    if let Err(e) = s.client.unlock_config(scope).await {
        tracing::warn!(error = %e, tool, "the config lock could not be released");
        warnings.push(format!(
            "the config lock could not be released ({e}); an administrator can release it with `request config-lock remove`"
        ));
    }
    result.map(|v| (v, warnings))
}

/// Refuse when the entry at `xpath` is no longer what the plan was made from.
pub(crate) async fn still_as_planned(
    s: &Ngfw,
    xpath: &XPath,
    what: &str,
    planned: &Option<String>,
) -> Result<(), ToolError> {
    let now = s.client.entry_xml(ConfigSource::Candidate, xpath).await?;
    if now != *planned {
        return Err(ToolError::Conflict(format!(
            "{what} changed in the candidate configuration after this change was planned; nothing was changed. Call the tool again to plan against what is there now"
        )));
    }
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The answer of every `set_*` tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SetOutput<T> {
    pub name: String,
    /// Where it lives: `vsys:vsys1`, `shared`, `device-group:DG`.
    pub location: String,
    /// The object as the candidate holds it after the write (or would, for a plan).
    pub object: T,
    /// What was done (or would be done) and how it was confirmed.
    pub change: ChangeReport,
    /// Anything to know beside the result (a lock that could not be released).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The answer of every `delete_*` tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    pub name: String,
    /// `address`, `address-group`, `service`, `tag`, `security-rule`.
    pub kind: String,
    pub location: String,
    /// What was done (or would be done); the deleted object is the plan's `before`.
    pub change: ChangeReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One write of one entry: the tool, where, what kind, which entry.
#[derive(Debug)]
pub(crate) struct Write<'a> {
    pub spec: &'a ToolSpec,
    pub target: &'a WriteTarget,
    /// `address`, `address-group`, `service`, `tag`, `security-rule`.
    pub kind: &'static str,
    pub xpath: XPath,
    pub name: &'a Name,
    pub dry_run: bool,
}

/// Create or update an entry as `edit` says, through the gate.
pub(crate) async fn set_entry<T>(
    s: &Ngfw,
    ctx: &CallCtx,
    w: Write<'_>,
    edit: PlannedEdit<T>,
) -> Result<SetOutput<T>, ToolError>
where
    T: Serialize + PartialEq,
{
    let Write {
        spec,
        target: t,
        kind,
        xpath,
        name,
        dry_run,
    } = w;
    let target = plan_target(s, &t.label);
    if edit.before.as_ref() == Some(&edit.after) {
        return Ok(SetOutput {
            name: name.to_string(),
            location: t.label.clone(),
            object: edit.after,
            change: ChangeReport::unchanged(Plan::new(
                spec.name,
                target,
                format!("nothing to do: {kind} `{name}` is already set so"),
                Vec::new(),
            )),
            warnings: Vec::new(),
        });
    }
    let action = if edit.before.is_some() {
        "update"
    } else {
        "create"
    };
    let mut change = PlannedChange::new(action, kind, name.as_str()).after(json(&edit.after));
    if let Some(b) = &edit.before {
        change = change.before(json(b));
    }
    let plan = Plan::new(
        spec.name,
        target,
        format!("{action} {kind} `{name}` in {}", t.label),
        vec![change],
    );
    let gate = ctx.gate(&plan, dry_run).await?;
    let mut warnings = Vec::new();
    if let Gate::Proceed(_) = gate {
        let what = format!("{kind} `{name}`");
        let ((), w) = locked(s, ctx, t.lock_scope.as_ref(), spec.name, |_| async {
            still_as_planned(s, &xpath, &what, &edit.current).await?;
            s.client.edit(&xpath, &edit.element).await?;
            Ok(())
        })
        .await?;
        warnings = w;
    }
    Ok(SetOutput {
        name: name.to_string(),
        location: t.label.clone(),
        object: edit.after,
        change: ChangeReport::from_gate(plan, &gate),
        warnings,
    })
}

/// Delete an entry through the gate, refusing while `refs_kind` references hold it.
pub(crate) async fn delete_entry(
    s: &Ngfw,
    ctx: &CallCtx,
    w: Write<'_>,
    refs_kind: Option<RefKind>,
    view: impl Fn(Node<'_, '_>) -> Value,
) -> Result<DeleteOutput, ToolError> {
    let Write {
        spec,
        target: t,
        kind: container,
        xpath,
        name,
        dry_run,
    } = w;
    let target = plan_target(s, &t.label);
    let kind = container.to_string();
    let current = s.client.entry_xml(ConfigSource::Candidate, &xpath).await?;
    let Some(cur) = current.clone() else {
        return Ok(DeleteOutput {
            name: name.to_string(),
            kind,
            location: t.label.clone(),
            change: ChangeReport::unchanged(Plan::new(
                spec.name,
                target,
                format!(
                    "nothing to do: there is no {container} `{name}` in {}",
                    t.label
                ),
                Vec::new(),
            )),
            warnings: Vec::new(),
        });
    };
    let before = {
        let doc = parse_xml(&cur)?;
        view(doc.root_element())
    };
    if let Some(rk) = refs_kind {
        let config = s.client.whole_config(ConfigSource::Candidate).await?;
        let found = refs::referrers(
            &config,
            &refs::Target {
                kind: rk,
                container,
                name: name.as_str(),
                location: &t.label,
            },
        )
        .map_err(|e| ToolError::from(PanosError::Parse(e)))?;
        if !found.is_empty() {
            let list: Vec<String> = found.iter().take(20).map(ToString::to_string).collect();
            let more = found.len().saturating_sub(20);
            return Err(ToolError::Conflict(format!(
                "{container} `{name}` in {} is still referenced by {} item{}: {}{}. Nothing was deleted; remove those references first",
                t.label,
                found.len(),
                if found.len() == 1 { "" } else { "s" },
                list.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
            )));
        }
    }
    let plan = Plan::new(
        spec.name,
        target,
        format!("delete {container} `{name}` from {}", t.label),
        vec![PlannedChange::new("delete", container, name.as_str()).before(before)],
    );
    let gate = ctx.gate(&plan, dry_run).await?;
    let mut warnings = Vec::new();
    if let Gate::Proceed(_) = gate {
        let what = format!("{container} `{name}`");
        let ((), w) = locked(s, ctx, t.lock_scope.as_ref(), spec.name, |_| async {
            still_as_planned(s, &xpath, &what, &current).await?;
            s.client.delete(&xpath).await?;
            Ok(())
        })
        .await?;
        warnings = w;
    }
    Ok(DeleteOutput {
        name: name.to_string(),
        kind,
        location: t.label.clone(),
        change: ChangeReport::from_gate(plan, &gate),
        warnings,
    })
}

// --- address objects ------------------------------------------------------------------------

/// Create or update an address object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAddressInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Object name: letters, digits, spaces, `_ - . :`, at most 63 characters.
    pub name: String,
    /// `ip-netmask`, `ip-range`, `ip-wildcard` or `fqdn`. Required when creating; when updating, leave out to keep the kind (then `value` is of that kind).
    pub kind: Option<AddressKind>,
    /// The address for its kind: `10.1.2.3`, `10.1.0.0/16`, `10.1.1.10-10.1.1.99`, `10.1.0.1/0.0.255.254` or `updates.example.com`. Required when creating.
    pub value: Option<String>,
    /// Description, at most 1023 characters; `""` removes it.
    pub description: Option<String>,
    /// Tag names (the whole list); `[]` removes every tag.
    pub tags: Option<Vec<String>>,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Delete an object, group, service or tag by name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// The name to delete.
    pub name: String,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

fn kind_of(element: &str) -> AddressKind {
    match element {
        "ip-range" => AddressKind::IpRange,
        "ip-wildcard" => AddressKind::IpWildcard,
        "fqdn" => AddressKind::Fqdn,
        _ => AddressKind::IpNetmask,
    }
}

async fn set_address_object(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: SetAddressInput,
) -> Result<SetOutput<AddressObject>, ToolError> {
    let name = values::name("name", &input.name)?;
    // The value is checked for the kind given, or (updating) for the current kind below.
    if let (Some(k), Some(v)) = (input.kind, input.value.as_deref()) {
        values::address_value("value", k, v)?;
    } else if let Some(v) = input.value.as_deref() {
        // The kind is the object's current one, known after the read; refuse now a value
        // that no kind accepts, so bad input never costs a request.
        let kinds = [
            AddressKind::IpNetmask,
            AddressKind::IpRange,
            AddressKind::IpWildcard,
            AddressKind::Fqdn,
        ];
        if !kinds
            .iter()
            .any(|k| values::address_value("value", *k, v).is_ok())
        {
            return Err(ToolError::invalid(
                "value",
                format!(
                    "`{}` is not an address, network, range, wildcard or host name",
                    validate::excerpt(v, 64)
                ),
            ));
        }
    }
    let description = values::text("description", input.description.as_deref(), MAX_DESCRIPTION)?;
    let tags = values::opt_list("tags", input.tags.as_ref(), true, values::tag_member)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("address").entry(&name);
    let label = t.label.clone();
    let edit = plan_edit(
        &s,
        &xpath,
        &name,
        |cur: Option<&AddressObject>| {
            let kind = match (input.kind, cur) {
                (Some(k), _) => k,
                (None, Some(c)) => kind_of(&c.kind),
                (None, None) => {
                    return Err(ToolError::invalid(
                        "kind",
                        format!("is required to create address object `{name}`"),
                    ));
                }
            };
            let value = match (&input.value, cur) {
                (Some(v), _) => values::address_value("value", kind, v)?,
                (None, Some(c)) if c.kind == kind.element() => c.value.clone(),
                (None, Some(_)) => {
                    return Err(ToolError::invalid(
                        "value",
                        "is required when the kind changes",
                    ));
                }
                (None, None) => {
                    return Err(ToolError::invalid(
                        "value",
                        format!("is required to create address object `{name}`"),
                    ));
                }
            };
            Ok(AddressSpec {
                kind: kind.element(),
                value,
                description: description.clone(),
                tags: tags.clone(),
            }
            .fields())
        },
        |n| model::address_object(n, &label),
    )
    .await?;
    set_entry(
        &s,
        &ctx,
        Write {
            spec: &SET_ADDRESS_OBJECT,
            target: &t,
            kind: "address",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        edit,
    )
    .await
}

async fn delete_address_object(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: DeleteInput,
) -> Result<DeleteOutput, ToolError> {
    let name = values::name("name", &input.name)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("address").entry(&name);
    let label = t.label.clone();
    delete_entry(
        &s,
        &ctx,
        Write {
            spec: &DELETE_ADDRESS_OBJECT,
            target: &t,
            kind: "address",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        Some(RefKind::Address),
        |n| json(&model::address_object(n, &label)),
    )
    .await
}

// --- address groups -------------------------------------------------------------------------

/// Create or update an address group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGroupInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Group name: letters, digits, spaces, `_ - . :`, at most 63 characters.
    pub name: String,
    /// The exact static members (address object or group names); makes the group static.
    pub static_members: Option<Vec<String>>,
    /// A tag filter, e.g. `'web' and ('prod' or 'dmz')`; makes the group dynamic.
    pub dynamic_filter: Option<String>,
    /// Members to add to a static group (kept once; creating with only these makes a static group).
    pub add_members: Option<Vec<String>>,
    /// Members to remove from a static group (absent ones are ignored).
    pub remove_members: Option<Vec<String>>,
    /// Description, at most 1023 characters; `""` removes it.
    pub description: Option<String>,
    /// Tag names (the whole list); `[]` removes every tag.
    pub tags: Option<Vec<String>>,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

async fn set_address_group(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: SetGroupInput,
) -> Result<SetOutput<AddressGroup>, ToolError> {
    let name = values::name("name", &input.name)?;
    let static_members = values::opt_list(
        "static_members",
        input.static_members.as_ref(),
        false,
        values::name_member,
    )?;
    let dynamic = input
        .dynamic_filter
        .as_deref()
        .map(|f| values::tag_filter("dynamic_filter", f))
        .transpose()?;
    let add = values::opt_list(
        "add_members",
        input.add_members.as_ref(),
        false,
        values::name_member,
    )?;
    let remove = values::opt_list(
        "remove_members",
        input.remove_members.as_ref(),
        false,
        values::name_member,
    )?;
    let description = values::text("description", input.description.as_deref(), MAX_DESCRIPTION)?;
    let tags = values::opt_list("tags", input.tags.as_ref(), true, values::tag_member)?;
    if static_members.is_some() && dynamic.is_some() {
        return Err(ToolError::invalid(
            "dynamic_filter",
            "give static_members or dynamic_filter, not both",
        ));
    }
    if (add.is_some() || remove.is_some()) && (static_members.is_some() || dynamic.is_some()) {
        let f = if add.is_some() {
            "add_members"
        } else {
            "remove_members"
        };
        return Err(ToolError::invalid(
            f,
            "changes a static group's members; do not combine it with static_members or dynamic_filter",
        ));
    }
    let all_named = static_members
        .iter()
        .chain(add.iter())
        .flatten()
        .any(|m| m == name.as_str());
    if all_named {
        let f = if static_members.is_some() {
            "static_members"
        } else {
            "add_members"
        };
        return Err(ToolError::invalid(
            f,
            "a group cannot be a member of itself",
        ));
    }
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("address-group").entry(&name);
    let label = t.label.clone();
    let edit = plan_edit(
        &s,
        &xpath,
        &name,
        |cur: Option<&AddressGroup>| {
            let members = if let Some(m) = &static_members {
                GroupMembers::Static(m.clone())
            } else if let Some(f) = &dynamic {
                GroupMembers::Dynamic(f.clone())
            } else if add.is_some() || remove.is_some() {
                let mut list = match cur {
                    Some(g) if g.kind == "dynamic" => {
                        return Err(ToolError::invalid(
                            if add.is_some() { "add_members" } else { "remove_members" },
                            format!(
                                "group `{name}` is dynamic (filter {}); give static_members to make it static, or change dynamic_filter",
                                g.filter.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                    Some(g) => g.members.clone(),
                    None if add.is_none() => {
                        return Err(ToolError::invalid(
                            "remove_members",
                            format!("group `{name}` does not exist; nothing to remove from"),
                        ));
                    }
                    None => Vec::new(),
                };
                for m in add.iter().flatten() {
                    if !list.contains(m) {
                        list.push(m.clone());
                    }
                }
                if let Some(r) = &remove {
                    list.retain(|m| !r.contains(m));
                }
                if list.is_empty() {
                    return Err(ToolError::invalid(
                        "remove_members",
                        format!("would leave group `{name}` without members; delete_address_group deletes it"),
                    ));
                }
                GroupMembers::Static(list)
            } else if cur.is_some() {
                GroupMembers::Keep
            } else {
                return Err(ToolError::invalid(
                    "static_members",
                    format!("(or dynamic_filter or add_members) is required to create group `{name}`"),
                ));
            };
            Ok(AddressGroupSpec {
                members,
                description: description.clone(),
                tags: tags.clone(),
            }
            .fields())
        },
        |n| model::address_group(n, &label),
    )
    .await?;
    set_entry(
        &s,
        &ctx,
        Write {
            spec: &SET_ADDRESS_GROUP,
            target: &t,
            kind: "address-group",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        edit,
    )
    .await
}

async fn delete_address_group(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: DeleteInput,
) -> Result<DeleteOutput, ToolError> {
    let name = values::name("name", &input.name)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("address-group").entry(&name);
    let label = t.label.clone();
    delete_entry(
        &s,
        &ctx,
        Write {
            spec: &DELETE_ADDRESS_GROUP,
            target: &t,
            kind: "address-group",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        Some(RefKind::Address),
        |n| json(&model::address_group(n, &label)),
    )
    .await
}

// --- services ---------------------------------------------------------------------------------

/// A service's transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProtocol {
    Tcp,
    Udp,
    Sctp,
}

impl ServiceProtocol {
    fn element(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

/// Create or update a service object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetServiceInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Service name: letters, digits, spaces, `_ - . :`, at most 63 characters.
    pub name: String,
    /// `tcp`, `udp` or `sctp`. Required when creating.
    pub protocol: Option<ServiceProtocol>,
    /// Destination ports: `443`, `80,443` or `8000-8100`. Required when creating.
    pub port: Option<String>,
    /// Source ports, same form; `""` removes them.
    pub source_port: Option<String>,
    /// Description, at most 1023 characters; `""` removes it.
    pub description: Option<String>,
    /// Tag names (the whole list); `[]` removes every tag.
    pub tags: Option<Vec<String>>,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

async fn set_service_object(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: SetServiceInput,
) -> Result<SetOutput<ServiceObject>, ToolError> {
    let name = values::name("name", &input.name)?;
    let port = input
        .port
        .as_deref()
        .map(|p| values::ports("port", p))
        .transpose()?;
    let source_port = match input.source_port.as_deref() {
        None => TextChange::Keep,
        Some("") => TextChange::Clear,
        Some(p) => TextChange::Set(values::ports("source_port", p)?),
    };
    let description = values::text("description", input.description.as_deref(), MAX_DESCRIPTION)?;
    let tags = values::opt_list("tags", input.tags.as_ref(), true, values::tag_member)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("service").entry(&name);
    let label = t.label.clone();
    let edit = plan_edit(
        &s,
        &xpath,
        &name,
        |cur: Option<&ServiceObject>| {
            let protocol = match (input.protocol, cur.and_then(|c| c.protocol.as_deref())) {
                (Some(p), _) => p.element(),
                (None, Some("udp")) => "udp",
                (None, Some("sctp")) => "sctp",
                (None, Some(_)) => "tcp",
                (None, None) => {
                    return Err(ToolError::invalid(
                        "protocol",
                        format!("is required to create service `{name}`"),
                    ));
                }
            };
            let port = match (&port, cur.and_then(|c| c.port.clone())) {
                (Some(p), _) => p.clone(),
                (None, Some(p)) => p,
                (None, None) => {
                    return Err(ToolError::invalid(
                        "port",
                        format!("is required to create service `{name}`"),
                    ));
                }
            };
            Ok(ServiceSpec {
                protocol,
                port,
                source_port: source_port.clone(),
                description: description.clone(),
                tags: tags.clone(),
            }
            .fields())
        },
        |n| model::service(n, &label),
    )
    .await?;
    set_entry(
        &s,
        &ctx,
        Write {
            spec: &SET_SERVICE_OBJECT,
            target: &t,
            kind: "service",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        edit,
    )
    .await
}

async fn delete_service_object(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: DeleteInput,
) -> Result<DeleteOutput, ToolError> {
    let name = values::name("name", &input.name)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("service").entry(&name);
    let label = t.label.clone();
    delete_entry(
        &s,
        &ctx,
        Write {
            spec: &DELETE_SERVICE_OBJECT,
            target: &t,
            kind: "service",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        Some(RefKind::Service),
        |n| json(&model::service(n, &label)),
    )
    .await
}

// --- tags -------------------------------------------------------------------------------------

/// Create or update a tag.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTagInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Tag name: letters, digits, spaces, `_ - . :`, at most 127 characters.
    pub name: String,
    /// `color1` to `color42`; `""` removes the color.
    pub color: Option<String>,
    /// Comments, at most 1023 characters; `""` removes them.
    pub comments: Option<String>,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

async fn set_tag(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: SetTagInput,
) -> Result<SetOutput<Tag>, ToolError> {
    let name = values::tag("name", &input.name)?;
    let color = values::color("color", input.color.as_deref())?;
    let comments = values::text("comments", input.comments.as_deref(), MAX_DESCRIPTION)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("tag").entry(&name);
    let label = t.label.clone();
    let spec = TagSpec { color, comments };
    let edit = plan_edit(
        &s,
        &xpath,
        &name,
        |_: Option<&Tag>| Ok(spec.fields()),
        |n| model::tag(n, &label),
    )
    .await?;
    set_entry(
        &s,
        &ctx,
        Write {
            spec: &SET_TAG,
            target: &t,
            kind: "tag",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        edit,
    )
    .await
}

/// Delete a tag.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTagInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// The tag to delete.
    pub name: String,
    /// `vsys` (default), `shared`, or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

async fn delete_tag(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: DeleteTagInput,
) -> Result<DeleteOutput, ToolError> {
    let name = values::tag("name", &input.name)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let xpath = t.base.clone().child("tag").entry(&name);
    let label = t.label.clone();
    delete_entry(
        &s,
        &ctx,
        Write {
            spec: &DELETE_TAG,
            target: &t,
            kind: "tag",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        Some(RefKind::Tag),
        |n| json(&model::tag(n, &label)),
    )
    .await
}

crate::on_device_inputs!(
    SetAddressInput,
    DeleteInput,
    SetGroupInput,
    SetServiceInput,
    SetTagInput,
    DeleteTagInput
);
