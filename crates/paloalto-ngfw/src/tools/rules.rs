//! Security rule changes in the candidate configuration: set, delete and move. On Panorama,
//! rules live in the pre- or post-rulebase of `shared` or a device group.

use std::sync::Arc;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Location;
use super::changes::{
    DeleteOutput, SetOutput, TOOLSET, WRITE_SCOPE, Write, WriteTarget, delete_entry, locked,
    plan_edit, plan_target, set_entry, write_target,
};
use super::policies::Rulebase;
use super::values::{self, MAX_DESCRIPTION};
use crate::Ngfw;
use crate::client::ConfigSource;
#[cfg(test)]
use crate::client::Name;
use crate::client::XPath;
use crate::client::changes::MoveTo;
use crate::client::entry::{PROFILE_TYPES, ProfileChange, SecurityRuleSpec, TextChange};
use crate::client::model::{self, SecurityRule};

const SET_SECURITY_RULE: ToolSpec = ToolSpec {
    name: "set_security_rule",
    title: "Set security rule",
    description: "Create or update a security rule in the candidate configuration (enforced only after commit_changes). Fields you leave out keep their value; a new rule needs `from`, `to` and `action`, defaults the rest to `any` (service `application-default`) and goes to the bottom of its rulebase: place it with move_security_rule. Identical settings report `unchanged` and write nothing.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const DELETE_SECURITY_RULE: ToolSpec = ToolSpec {
    name: "delete_security_rule",
    title: "Delete security rule",
    description: "Delete a security rule from the candidate configuration. Deleting a rule that is not there reports `unchanged`.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const MOVE_SECURITY_RULE: ToolSpec = ToolSpec {
    name: "move_security_rule",
    title: "Move security rule",
    description: "Move a security rule within its rulebase in the candidate configuration: to the `top` or `bottom`, or `before`/`after` the rule named in `other`. A rule already in place reports `unchanged`.",
    scope: WRITE_SCOPE,
    toolset: TOOLSET,
    effect: Effect::IdempotentWrite,
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(
            SET_SECURITY_RULE,
            super::device::on_device(set_security_rule),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            DELETE_SECURITY_RULE,
            super::device::on_device(delete_security_rule),
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            MOVE_SECURITY_RULE,
            super::device::on_device(move_security_rule),
        )
        .confirm(Confirm::Never),
    ]
}

/// A rule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RuleAction {
    Allow,
    Deny,
    Drop,
    ResetClient,
    ResetServer,
    ResetBoth,
}

impl RuleAction {
    fn word(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Drop => "drop",
            Self::ResetClient => "reset-client",
            Self::ResetServer => "reset-server",
            Self::ResetBoth => "reset-both",
        }
    }
}

/// Individual security profiles, one name per type.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleProfiles {
    /// Antivirus profile.
    pub virus: Option<String>,
    /// Anti-spyware profile.
    pub spyware: Option<String>,
    /// Vulnerability protection profile.
    pub vulnerability: Option<String>,
    /// URL filtering profile.
    pub url_filtering: Option<String>,
    /// File blocking profile.
    pub file_blocking: Option<String>,
    /// WildFire analysis profile.
    pub wildfire_analysis: Option<String>,
    /// Data filtering profile.
    pub data_filtering: Option<String>,
}

/// Create or update a security rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRuleInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Rule name: letters, digits, spaces, `_ - . :`, at most 63 characters.
    pub name: String,
    /// Source zones (or `any`). Required when creating.
    pub from: Option<Vec<String>>,
    /// Destination zones (or `any`). Required when creating.
    pub to: Option<Vec<String>>,
    /// Source addresses: `any`, object or group names, IPs, CIDRs or ranges `A-B`.
    pub source: Option<Vec<String>>,
    /// Destination addresses, same forms as `source`.
    pub destination: Option<Vec<String>>,
    /// Source users or groups: `any`, `known-user`, `unknown`, `pre-logon` or names such as `example\alice`.
    pub source_user: Option<Vec<String>>,
    /// App-ID names (or `any`).
    pub application: Option<Vec<String>>,
    /// Services: `application-default`, `any`, or service object or group names.
    pub service: Option<Vec<String>>,
    /// URL categories (or `any`).
    pub category: Option<Vec<String>>,
    /// `allow`, `deny`, `drop`, `reset-client`, `reset-server` or `reset-both`. Required when creating.
    pub action: Option<RuleAction>,
    /// Match every source but the listed ones.
    pub negate_source: Option<bool>,
    /// Match every destination but the listed ones.
    pub negate_destination: Option<bool>,
    /// Keep the rule but do not enforce it.
    pub disabled: Option<bool>,
    /// Log forwarding profile; `""` removes it.
    pub log_setting: Option<String>,
    /// Log at session start.
    pub log_start: Option<bool>,
    /// Log at session end.
    pub log_end: Option<bool>,
    /// Security profile group; `""` removes every security profile. Not with `profiles`.
    pub profile_group: Option<String>,
    /// Individual security profiles (replacing a group); `{}` removes every security profile.
    pub profiles: Option<RuleProfiles>,
    /// Tag names (the whole list); `[]` removes every tag.
    pub tags: Option<Vec<String>>,
    /// Description, at most 1023 characters; `""` removes it.
    pub description: Option<String>,
    /// `vsys` (default, the firewall's local rules), `shared` or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// `pre` (default) or `post`, for `shared` and `device-group` rules.
    pub rulebase: Option<Rulebase>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Delete a security rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRuleInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// The rule to delete.
    pub name: String,
    /// `vsys` (default), `shared` or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// `pre` (default) or `post`, for `shared` and `device-group` rules.
    pub rulebase: Option<Rulebase>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Where a rule moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Where {
    Top,
    Bottom,
    Before,
    After,
}

/// Move a security rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRuleInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// The rule to move.
    pub name: String,
    /// `top`, `bottom`, `before` or `after` (the last two need `other`).
    #[serde(rename = "where")]
    pub where_: Where,
    /// The rule to move before or after.
    pub other: Option<String>,
    /// `vsys` (default), `shared` or `device-group` (Panorama).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for location `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// `pre` (default) or `post`, for `shared` and `device-group` rules.
    pub rulebase: Option<Rulebase>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// The rule-list container of a location and rulebase, and the rulebase's label.
pub(crate) fn rules_container(
    t: &WriteTarget,
    rulebase: Option<Rulebase>,
    rule_type: &'static str,
) -> Result<(XPath, &'static str), ToolError> {
    let (rb, label) = match (t.location, rulebase) {
        (Location::Vsys, Some(_)) => {
            return Err(ToolError::invalid(
                "rulebase",
                "applies to shared and device-group rules; a vsys has one local rulebase",
            ));
        }
        (Location::Vsys, None) => (t.base.clone().child("rulebase"), "local"),
        (_, Some(Rulebase::Post)) => (t.base.clone().child("post-rulebase"), "post"),
        (_, Some(Rulebase::Pre) | None) => (t.base.clone().child("pre-rulebase"), "pre"),
    };
    Ok((rb.child(rule_type).child("rules"), label))
}

fn profile_change(
    group: Option<&str>,
    profiles: Option<&RuleProfiles>,
) -> Result<Option<ProfileChange>, ToolError> {
    match (group, profiles) {
        (Some(_), Some(_)) => Err(ToolError::invalid(
            "profiles",
            "give profile_group or profiles, not both",
        )),
        (Some(""), None) => Ok(Some(ProfileChange::Clear)),
        (Some(g), None) => Ok(Some(ProfileChange::Group(
            values::name("profile_group", g)?.to_string(),
        ))),
        (None, Some(p)) => {
            let given = [
                ("virus", &p.virus),
                ("spyware", &p.spyware),
                ("vulnerability", &p.vulnerability),
                ("url-filtering", &p.url_filtering),
                ("file-blocking", &p.file_blocking),
                ("wildfire-analysis", &p.wildfire_analysis),
                ("data-filtering", &p.data_filtering),
            ];
            let mut out = Vec::new();
            for (kind, v) in given {
                if let Some(v) = v {
                    let field = format!("profiles.{}", kind.replace('-', "_"));
                    let n = values::name(&field, v)?;
                    let k = PROFILE_TYPES
                        .iter()
                        .find(|t| **t == kind)
                        .copied()
                        .unwrap_or("virus");
                    out.push((k, n.to_string()));
                }
            }
            Ok(Some(if out.is_empty() {
                ProfileChange::Clear
            } else {
                ProfileChange::Profiles(out)
            }))
        }
        (None, None) => Ok(None),
    }
}

async fn set_security_rule(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: SetRuleInput,
) -> Result<SetOutput<SecurityRule>, ToolError> {
    let name = values::name("name", &input.name)?;
    let zones =
        |f: &str, v: Option<&Vec<String>>| values::opt_list(f, v, false, values::name_member);
    let spec = SecurityRuleSpec {
        from: zones("from", input.from.as_ref())?,
        to: zones("to", input.to.as_ref())?,
        source: values::opt_list(
            "source",
            input.source.as_ref(),
            false,
            values::address_member,
        )?,
        destination: values::opt_list(
            "destination",
            input.destination.as_ref(),
            false,
            values::address_member,
        )?,
        source_user: values::opt_list(
            "source_user",
            input.source_user.as_ref(),
            false,
            values::user_member,
        )?,
        application: zones("application", input.application.as_ref())?,
        service: zones("service", input.service.as_ref())?,
        category: zones("category", input.category.as_ref())?,
        action: input.action.map(RuleAction::word),
        negate_source: input.negate_source,
        negate_destination: input.negate_destination,
        disabled: input.disabled,
        log_setting: input
            .log_setting
            .as_deref()
            .map(|l| {
                if l.is_empty() {
                    Ok(TextChange::Clear)
                } else {
                    values::name("log_setting", l).map(|n| TextChange::Set(n.to_string()))
                }
            })
            .transpose()?,
        log_start: input.log_start,
        log_end: input.log_end,
        profiles: profile_change(input.profile_group.as_deref(), input.profiles.as_ref())?,
        tags: values::opt_list("tags", input.tags.as_ref(), true, values::tag_member)?,
        description: input
            .description
            .as_deref()
            .map(|d| values::text("description", Some(d), MAX_DESCRIPTION))
            .transpose()?,
    };
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let (rules, rulebase) = rules_container(&t, input.rulebase, "security")?;
    let xpath = rules.clone().entry(&name);
    let label = t.label.clone();
    let edit = plan_edit(
        &s,
        &xpath,
        &name,
        |cur: Option<&SecurityRule>| {
            let mut spec = spec.clone();
            if cur.is_none() {
                for (field, v) in [("from", &spec.from), ("to", &spec.to)] {
                    if v.is_none() {
                        return Err(ToolError::invalid(
                            field,
                            format!("is required to create rule `{name}`"),
                        ));
                    }
                }
                if spec.action.is_none() {
                    return Err(ToolError::invalid(
                        "action",
                        format!("is required to create rule `{name}`"),
                    ));
                }
                let any = || Some(vec!["any".to_string()]);
                spec.source = spec.source.or_else(any);
                spec.destination = spec.destination.or_else(any);
                spec.source_user = spec.source_user.or_else(any);
                spec.application = spec.application.or_else(any);
                spec.category = spec.category.or_else(any);
                spec.service = spec
                    .service
                    .or_else(|| Some(vec!["application-default".to_string()]));
            }
            Ok(spec.fields())
        },
        |n| model::security_rule(n, 0, rulebase, &label),
    )
    .await?;
    // An edit keeps a rule in its place; a new rule goes to the bottom.
    let order = rule_names(&s, &rules).await?;
    let position = order
        .iter()
        .position(|n| n == name.as_str())
        .map_or(order.len() + 1, |i| i + 1);
    let mut edit = edit;
    edit.after.position = position;
    if let Some(b) = edit.before.as_mut() {
        b.position = position;
    }
    set_entry(
        &s,
        &ctx,
        Write {
            spec: &SET_SECURITY_RULE,
            target: &t,
            kind: "security-rule",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        edit,
    )
    .await
}

async fn delete_security_rule(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: DeleteRuleInput,
) -> Result<DeleteOutput, ToolError> {
    let name = values::name("name", &input.name)?;
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let (rules, rulebase) = rules_container(&t, input.rulebase, "security")?;
    let xpath = rules.entry(&name);
    let label = t.label.clone();
    delete_entry(
        &s,
        &ctx,
        Write {
            spec: &DELETE_SECURITY_RULE,
            target: &t,
            kind: "security-rule",
            xpath,
            name: &name,
            dry_run: input.dry_run,
        },
        None,
        |n| serde_json::to_value(model::security_rule(n, 0, rulebase, &label)).unwrap_or_default(),
    )
    .await
}

/// The answer of `move_security_rule`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MoveOutput {
    pub name: String,
    pub location: String,
    /// `local`, `pre` or `post`.
    pub rulebase: String,
    /// 1-based position before the move.
    pub position_before: usize,
    /// 1-based position after the move (or, for a plan, where it would go).
    pub position_after: usize,
    /// What was done (or would be done) and how it was confirmed.
    pub change: ChangeReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Rule names in order after moving `name` as `to` says.
fn reordered(order: &[String], name: &str, to: &MoveTo) -> Result<Vec<String>, ToolError> {
    let mut v: Vec<String> = order.iter().filter(|n| *n != name).cloned().collect();
    let at = match to {
        MoveTo::Top => 0,
        MoveTo::Bottom => v.len(),
        MoveTo::Before(o) | MoveTo::After(o) => {
            let i = v.iter().position(|n| n == o.as_str()).ok_or_else(|| {
                ToolError::invalid("other", format!("there is no rule `{o}` in this rulebase"))
            })?;
            if matches!(to, MoveTo::After(_)) {
                i + 1
            } else {
                i
            }
        }
    };
    v.insert(at, name.to_string());
    Ok(v)
}

async fn move_security_rule(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: MoveRuleInput,
) -> Result<MoveOutput, ToolError> {
    let name = values::name("name", &input.name)?;
    let other = input
        .other
        .as_deref()
        .map(|o| values::name("other", o))
        .transpose()?;
    let to = match (input.where_, other) {
        (Where::Top, None) => MoveTo::Top,
        (Where::Bottom, None) => MoveTo::Bottom,
        (Where::Top | Where::Bottom, Some(_)) => {
            return Err(ToolError::invalid(
                "other",
                "is only used with where `before` or `after`",
            ));
        }
        (Where::Before | Where::After, None) => {
            return Err(ToolError::invalid(
                "other",
                "is required with where `before` or `after`",
            ));
        }
        (_, Some(o)) if o == name => {
            return Err(ToolError::invalid("other", "names the rule being moved"));
        }
        (Where::Before, Some(o)) => MoveTo::Before(o),
        (Where::After, Some(o)) => MoveTo::After(o),
    };
    let t = write_target(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let (rules, rulebase) = rules_container(&t, input.rulebase, "security")?;
    let order = rule_names(&s, &rules).await?;
    let from = order.iter().position(|n| n == name.as_str()).ok_or_else(|| {
        ToolError::NotFound(format!(
            "there is no security rule `{name}` in {} ({rulebase} rulebase) of the candidate configuration",
            t.label
        ))
    })?;
    let after_order = reordered(&order, name.as_str(), &to)?;
    let dest = after_order
        .iter()
        .position(|n| n == name.as_str())
        .unwrap_or(from);
    let target = plan_target(&s, &t.label);
    if after_order == order {
        return Ok(MoveOutput {
            name: name.to_string(),
            location: t.label.clone(),
            rulebase: rulebase.into(),
            position_before: from + 1,
            position_after: from + 1,
            change: ChangeReport::unchanged(Plan::new(
                MOVE_SECURITY_RULE.name,
                target,
                format!("nothing to do: rule `{name}` is already there"),
                Vec::new(),
            )),
            warnings: Vec::new(),
        });
    }
    let other_name = match &to {
        MoveTo::Before(o) | MoveTo::After(o) => Some(o.to_string()),
        _ => None,
    };
    let plan = Plan::new(
        MOVE_SECURITY_RULE.name,
        target,
        format!(
            "move rule `{name}` from position {} to {} in {} ({rulebase} rulebase)",
            from + 1,
            dest + 1,
            t.label
        ),
        vec![
            PlannedChange::new("move", "security-rule", name.as_str())
                .before(json!({"position": from + 1, "order": order}))
                .after(json!({"position": dest + 1, "where": to.word(), "other": other_name})),
        ],
    );
    let gate = ctx.gate(&plan, input.dry_run).await?;
    let mut warnings = Vec::new();
    if let Gate::Proceed(_) = gate {
        let xpath = rules.clone().entry(&name);
        let ((), w) = locked(&s, &ctx, t.lock_scope.as_ref(), MOVE_SECURITY_RULE.name, |_| async {
            if rule_names(&s, &rules).await? != order {
                return Err(ToolError::Conflict(format!(
                    "the rule order in {} changed after this move was planned; nothing was changed. Call the tool again",
                    t.label
                )));
            }
            s.client.move_entry(&xpath, &to).await?;
            Ok(())
        })
        .await?;
        warnings = w;
    }
    Ok(MoveOutput {
        name: name.to_string(),
        location: t.label.clone(),
        rulebase: rulebase.into(),
        position_before: from + 1,
        position_after: dest + 1,
        change: ChangeReport::from_gate(plan, &gate),
        warnings,
    })
}

/// The rule names of a rules container in the candidate, in order, read now.
pub(crate) async fn rule_names(s: &Ngfw, rules: &XPath) -> Result<Vec<String>, ToolError> {
    let entries = s
        .client
        .entries_xml(ConfigSource::Candidate, &rules.clone().entries())
        .await?;
    Ok(entries
        .iter()
        .filter_map(|xml| {
            roxmltree::Document::parse(xml)
                .ok()
                .and_then(|d| d.root_element().attribute("name").map(str::to_string))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &str) -> Name {
        Name::parse("x", v).expect("name")
    }

    #[test]
    fn reorders_like_pan_os() {
        let order: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let got = |name: &str, to: MoveTo| reordered(&order, name, &to).expect("ok").join("");
        assert_eq!(got("c", MoveTo::Top), "cabd");
        assert_eq!(got("a", MoveTo::Bottom), "bcda");
        assert_eq!(got("d", MoveTo::Before(n("b"))), "adbc");
        assert_eq!(got("a", MoveTo::After(n("c"))), "bcad");
        assert_eq!(got("a", MoveTo::Top), "abcd");
        assert!(reordered(&order, "a", &MoveTo::After(n("zz"))).is_err());
    }
}

crate::on_device_inputs!(SetRuleInput, DeleteRuleInput, MoveRuleInput);
