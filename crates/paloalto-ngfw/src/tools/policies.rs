//! Security policies and the firewall's own policy-match test.

use std::net::IpAddr;
use std::sync::Arc;

use mcp_core::validate;
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Location, Page, location_base, matches_filter, name_filter, paging};
use crate::Ngfw;
use crate::client::model::{MatchedRule, PolicyMatchQuery, SecurityRule};
use crate::client::{ConfigSource, Name};

const RETRIEVE_SECURITY_POLICIES: ToolSpec = ToolSpec {
    name: "retrieve_security_policies",
    title: "Security policies",
    description: "List security rules in evaluation order with zones, addresses, users, applications, services, URL categories, action, disabled flag, logging, security profiles, tags and description. On Panorama choose rulebase `pre` or `post` for shared and device-group rules. Paged.",
    scope: "ngfw:read",
    toolset: "policies",
    effect: Effect::ReadOnly,
    open_world: true,
};

const TEST_SECURITY_POLICY_MATCH: ToolSpec = ToolSpec {
    name: "test_security_policy_match",
    title: "Test policy match",
    description: "Ask the firewall which security rule a flow would hit (its own `test security-policy-match`). Answers whether the flow is allowed and by which rule.",
    scope: "ngfw:read",
    toolset: "policies",
    effect: Effect::ReadOnly,
    open_world: true,
};

/// Panorama rulebase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rulebase {
    /// Evaluated before the firewall's local rules.
    Pre,
    /// Evaluated after the firewall's local rules.
    Post,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoliciesInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// `vsys` (default, the firewall's local rules), `shared` or `device-group` (Panorama), or `pushed` (rules Panorama pushed to this firewall).
    #[serde(default)]
    pub location: Location,
    /// Virtual system for `vsys` and `pushed`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// `pre` (default) or `post`; for `shared`, `device-group` and `pushed` only.
    pub rulebase: Option<Rulebase>,
    /// Only rules whose name contains this text (case-insensitive).
    pub name_filter: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// `running` (default) or `candidate`.
    pub config: Option<ConfigSource>,
}

/// IP protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum FlowProtocol {
    #[default]
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Source zone.
    pub from_zone: String,
    /// Destination zone.
    pub to_zone: String,
    /// Source IP address (a single host, v4 or v6).
    pub source: String,
    /// Destination IP address (a single host, v4 or v6).
    pub destination: String,
    /// Destination port, 1-65535 (ignored for icmp).
    pub destination_port: Option<u16>,
    /// `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: FlowProtocol,
    /// App-ID name, e.g. `web-browsing` or `ssl`.
    pub application: Option<String>,
    /// Virtual system; default `vsys1`.
    pub vsys: Option<String>,
}

/// Which rule a flow hits.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MatchOutput {
    /// Whether the matching rule allows the flow.
    pub allowed: bool,
    /// The rule that matched.
    pub rule: String,
    /// Its action (`allow`, `deny`, `drop`, `reset-*`).
    pub action: String,
    /// Position of the rule in the rulebase, if PAN-OS reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// True when no explicit rule matched and a default rule decided.
    pub default_rule: bool,
    /// The command that was sent, for the record.
    pub command: String,
}

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(
            RETRIEVE_SECURITY_POLICIES,
            super::device::on_device(retrieve_security_policies),
        ),
        ToolDef::new(
            TEST_SECURITY_POLICY_MATCH,
            super::device::on_device(test_security_policy_match),
        ),
    ]
}

async fn retrieve_security_policies(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: PoliciesInput,
) -> Result<Page<SecurityRule>, ToolError> {
    retrieve_security_policies_for(s, input).await
}

/// The tool's answer, for the tool and for the resource that reads as it.
pub(crate) async fn retrieve_security_policies_for(
    s: Arc<Ngfw>,
    input: PoliciesInput,
) -> Result<Page<SecurityRule>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let filter = name_filter(input.name_filter.as_deref())?;
    let (base, label) = location_base(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let (container, rulebase_label) = match (input.location, input.rulebase) {
        (Location::Vsys, Some(_)) => {
            return Err(ToolError::invalid(
                "rulebase",
                "applies to shared, device-group and pushed rules; a vsys has one local rulebase",
            ));
        }
        (Location::Vsys, None) => (base.child("rulebase"), "local"),
        (_, Some(Rulebase::Post)) => (base.child("post-rulebase"), "post"),
        (_, Some(Rulebase::Pre) | None) => (base.child("pre-rulebase"), "pre"),
    };
    let source = input.config.unwrap_or(s.default_source);
    let rules = s
        .client
        .security_rules(source, &container, rulebase_label, &label)
        .await?;
    let rules = rules
        .into_iter()
        .filter(|r| matches_filter(&r.name, &filter))
        .collect();
    Ok(Page::of(
        rules,
        paging,
        format!("{label}:{rulebase_label}"),
        source,
    ))
}

pub(crate) fn host(field: &str, value: &str) -> Result<IpAddr, ToolError> {
    let c = validate::parse_cidr(field, value)?;
    let full = if c.is_ipv4() { 32 } else { 128 };
    if c.prefix_len() != full {
        return Err(ToolError::invalid(
            field,
            "must be a single IP address, not a network",
        ));
    }
    Ok(c.net.addr())
}

async fn test_security_policy_match(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: MatchInput,
) -> Result<MatchOutput, ToolError> {
    let from = Name::parse("from_zone", &input.from_zone)?;
    let to = Name::parse("to_zone", &input.to_zone)?;
    let source = host("source", &input.source)?;
    let destination = host("destination", &input.destination)?;
    let vsys = Name::parse("vsys", input.vsys.as_deref().unwrap_or("vsys1"))?;
    let application = input
        .application
        .as_deref()
        .map(|a| Name::parse("application", a))
        .transpose()?;
    let (protocol, destination_port) = match input.protocol {
        FlowProtocol::Icmp => (1, None),
        p => {
            let port = input.destination_port.filter(|p| *p > 0).ok_or_else(|| {
                ToolError::invalid("destination_port", "is required (1-65535) for tcp and udp")
            })?;
            (if p == FlowProtocol::Tcp { 6 } else { 17 }, Some(port))
        }
    };
    let query = PolicyMatchQuery {
        from,
        to,
        source,
        destination,
        protocol,
        destination_port,
        application,
        vsys,
    };
    s.require_device("a security policy match").await?;
    let found = s.client.test_security_policy_match(&query).await?;
    let MatchedRule {
        name: rule,
        action,
        index,
    } = found.rule.ok_or_else(|| {
        ToolError::upstream("PAN-OS", "test security-policy-match returned no rule")
    })?;
    let default_rule = rule == "intrazone-default" || rule == "interzone-default";
    let action = match action {
        Some(a) => a,
        None if rule == "interzone-default" => "deny".into(),
        None if rule == "intrazone-default" => "allow".into(),
        // Older PAN-OS answers `<entry>NAME; index: N</entry>` without the action: read it
        // from the rulebase rather than guess.
        None => s
            .client
            .security_rule_action(s.default_source, &query.vsys, &rule)
            .await?
            .unwrap_or_else(|| "unknown".into()),
    };
    Ok(MatchOutput {
        allowed: action == "allow",
        rule,
        action,
        index,
        default_rule,
        command: found.command,
    })
}

crate::on_device_inputs!(PoliciesInput, MatchInput);
