//! NAT rules and the firewall's own NAT policy-match test, and rule hit counts.

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policies::{FlowProtocol, PoliciesInput, Rulebase, host};
use super::{Location, Page, location_base, matches_filter, name_filter, paging, values};
use crate::Ngfw;
use crate::client::changes::{HitCountScope, NatMatchQuery};
use crate::client::model::{HitCount, NatRule};
use crate::client::{ConfigSource, Name};

const RETRIEVE_NAT_POLICIES: ToolSpec = ToolSpec {
    name: "retrieve_nat_policies",
    title: "NAT policies",
    description: "List NAT rules in evaluation order with zones, egress interface, addresses, service, source translation (dynamic IP and port, dynamic IP, static IP) and destination translation. On Panorama choose rulebase `pre` or `post`. Paged.",
    scope: "ngfw:read",
    toolset: "policies",
    effect: Effect::ReadOnly,
    open_world: true,
};

const TEST_NAT_POLICY_MATCH: ToolSpec = ToolSpec {
    name: "test_nat_policy_match",
    title: "Test NAT match",
    description: "Ask the firewall which NAT rule a flow would hit (its own `test nat-policy-match`). Answers the rule, or that no NAT rule matches.",
    scope: "ngfw:read",
    toolset: "policies",
    effect: Effect::ReadOnly,
    open_world: true,
};

const RETRIEVE_RULE_HIT_COUNTS: ToolSpec = ToolSpec {
    name: "retrieve_rule_hit_counts",
    title: "Rule hit counts",
    description: "List each rule's hit count with its first and last hit, last counter reset, creation and modification times: the evidence for \"which rules are unused?\" before a cleanup. Security rules by default, or NAT. `unused_only` keeps rules never hit. Paged.",
    scope: "ngfw:read",
    toolset: "policies",
    effect: Effect::ReadOnly,
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(
            RETRIEVE_NAT_POLICIES,
            super::device::on_device(retrieve_nat_policies),
        ),
        ToolDef::new(
            TEST_NAT_POLICY_MATCH,
            super::device::on_device(test_nat_policy_match),
        ),
        ToolDef::new(
            RETRIEVE_RULE_HIT_COUNTS,
            super::device::on_device(retrieve_rule_hit_counts),
        ),
    ]
}

async fn retrieve_nat_policies(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: PoliciesInput,
) -> Result<Page<NatRule>, ToolError> {
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
        .nat_rules(source, &container, rulebase_label, &label)
        .await?
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

/// A flow to test against the NAT rules.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatMatchInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// Source zone.
    pub from_zone: String,
    /// Destination zone (before translation).
    pub to_zone: String,
    /// Source IP address (a single host, v4 or v6).
    pub source: String,
    /// Destination IP address (a single host, v4 or v6), before translation.
    pub destination: String,
    /// Destination port, 1-65535 (ignored for icmp).
    pub destination_port: Option<u16>,
    /// `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: FlowProtocol,
    /// Egress interface, e.g. `ethernet1/1`.
    pub to_interface: Option<String>,
    /// Virtual system; default `vsys1`.
    pub vsys: Option<String>,
}

/// Which NAT rule a flow hits.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NatMatchOutput {
    /// Whether a NAT rule matched.
    pub matched: bool,
    /// The rule that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The command that was sent, for the record.
    pub command: String,
}

async fn test_nat_policy_match(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: NatMatchInput,
) -> Result<NatMatchOutput, ToolError> {
    let from = Name::parse("from_zone", &input.from_zone)?;
    let to = Name::parse("to_zone", &input.to_zone)?;
    let source = host("source", &input.source)?;
    let destination = host("destination", &input.destination)?;
    let vsys = Name::parse("vsys", input.vsys.as_deref().unwrap_or("vsys1"))?;
    let to_interface = input
        .to_interface
        .as_deref()
        .map(|i| values::interface("to_interface", i))
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
    let query = NatMatchQuery {
        from,
        to,
        source,
        destination,
        protocol,
        destination_port,
        to_interface,
        vsys,
    };
    s.require_device("a NAT policy match").await?;
    let (command, rule) = s.client.test_nat_policy_match(&query).await?;
    Ok(NatMatchOutput {
        matched: rule.is_some(),
        rule,
        command,
    })
}

/// Which rules' hit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    /// Security rules (default).
    #[default]
    Security,
    /// NAT rules.
    Nat,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HitCountsInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
    /// `vsys` (default, a firewall's rules), or on Panorama `shared` or `device-group`.
    #[serde(default)]
    pub location: Location,
    /// Virtual system for `vsys`; default `vsys1`.
    pub vsys: Option<String>,
    /// Device group; required when location is `device-group`.
    pub device_group: Option<String>,
    /// `pre` (default) or `post`, for `shared` and `device-group`.
    pub rulebase: Option<Rulebase>,
    /// `security` (default) or `nat`.
    #[serde(default)]
    pub rule_type: RuleType,
    /// Only rules that were never hit.
    #[serde(default)]
    pub unused_only: bool,
    /// Only rules whose name contains this text (case-insensitive).
    pub name_filter: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
}

async fn retrieve_rule_hit_counts(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: HitCountsInput,
) -> Result<Page<HitCount>, ToolError> {
    let paging = paging(input.limit, input.offset)?;
    let filter = name_filter(input.name_filter.as_deref())?;
    if input.location == Location::Pushed {
        return Err(ToolError::invalid(
            "location",
            "hit counts are per vsys on a firewall (location `vsys`, which includes pushed rules), or `shared`/`device-group` on Panorama",
        ));
    }
    let (_, label) = location_base(
        input.location,
        input.vsys.as_deref(),
        input.device_group.as_deref(),
    )?;
    let post = match (input.location, input.rulebase) {
        (Location::Vsys, Some(_)) => {
            return Err(ToolError::invalid(
                "rulebase",
                "applies to shared and device-group rules; a vsys has one local rulebase",
            ));
        }
        (_, r) => r == Some(Rulebase::Post),
    };
    let scope = match input.location {
        Location::Shared => HitCountScope::Shared { post },
        Location::DeviceGroup => HitCountScope::DeviceGroup {
            name: Name::parse(
                "device_group",
                input.device_group.as_deref().unwrap_or_default(),
            )?,
            post,
        },
        _ => HitCountScope::Vsys(Name::parse(
            "vsys",
            input.vsys.as_deref().unwrap_or("vsys1"),
        )?),
    };
    let rule_type = match input.rule_type {
        RuleType::Security => "security",
        RuleType::Nat => "nat",
    };
    let counts = s
        .client
        .rule_hit_counts(&scope, rule_type)
        .await?
        .into_iter()
        .filter(|h| matches_filter(&h.name, &filter))
        .filter(|h| !input.unused_only || h.hit_count == 0)
        .collect();
    let rb = match (input.location, post) {
        (Location::Vsys, _) => "local",
        (_, true) => "post",
        (_, false) => "pre",
    };
    Ok(Page::of(
        counts,
        paging,
        format!("{label}:{rb}"),
        ConfigSource::Running,
    ))
}

crate::on_device_inputs!(NatMatchInput, HitCountsInput);
