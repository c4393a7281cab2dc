//! `explain_traffic`: one answer to "why is this flow allowed or blocked?", put together
//! from the firewall's own answers: routes and interfaces (zones), NAT and security policy
//! match, and the last traffic log entries for the flow. A part the firewall could not
//! answer is named in `missing`, never guessed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::device::on_device;
use super::operations::{LogRow, LogType, route_for, run_log_job};
use super::policies::{FlowProtocol, host};
use crate::Ngfw;
use crate::client::Name;
use crate::client::changes::NatMatchQuery;
use crate::client::model::{MatchedRule, PolicyMatchQuery};
use crate::client::opstate::{Interface, Route};

const EXPLAIN_TRAFFIC: ToolSpec = ToolSpec {
    name: "explain_traffic",
    title: "Explain traffic",
    description: "Why is a flow allowed or blocked? Finds the zones from the routes and interfaces (unless given), asks the firewall which NAT rule and which security rule the flow hits (or the default rule), reads the last traffic log entries for the flow with their action and session end reason, and answers with a one-line verdict. Every part the firewall could not answer is listed in `missing`.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![ToolDef::new(EXPLAIN_TRAFFIC, on_device(explain_traffic))]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainInput {
    /// Source IP address (a single host).
    pub source: String,
    /// Destination IP address (a single host).
    pub destination: String,
    /// Destination port, 1-65535 (ignored for icmp).
    pub port: Option<u16>,
    /// `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: FlowProtocol,
    /// App-ID name, e.g. `ssl`.
    pub application: Option<String>,
    /// Source zone; found from the routes and interfaces when left out.
    pub from_zone: Option<String>,
    /// Destination zone; found from the routes and interfaces when left out.
    pub to_zone: Option<String>,
    /// Virtual system; default `vsys1`.
    pub vsys: Option<String>,
    /// Traffic log entries to show, 0-100; default 10.
    pub log_entries: Option<u32>,
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

crate::on_device_inputs!(ExplainInput);

/// A zone and how it was found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ZoneFound {
    pub zone: String,
    /// `given`, or `route` (the interface of the route to the address).
    pub how: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// The security rule the flow hits.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecurityVerdict {
    pub rule: String,
    pub action: String,
    pub allowed: bool,
    /// True when no explicit rule matched and a default rule decided.
    pub default_rule: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExplainOutput {
    /// One line for the model.
    pub verdict: String,
    pub from_zone: Option<ZoneFound>,
    pub to_zone: Option<ZoneFound>,
    pub security: Option<SecurityVerdict>,
    /// The NAT rule the flow hits (`None` with `nat_checked`: no NAT rule applies).
    pub nat_rule: Option<String>,
    /// Whether the firewall answered the NAT question.
    pub nat_checked: bool,
    /// The last traffic log entries for this flow, newest first.
    pub logs: Vec<LogRow>,
    /// Every part that could not be found, and why.
    pub missing: Vec<String>,
}

fn zone_of(
    addr: IpAddr,
    routes: &[Route],
    ifaces: &[Interface],
) -> Result<(String, String, String), String> {
    let Some(route) = route_for(routes, addr) else {
        return Err(format!("no route covers {addr}"));
    };
    let Some(iface) = route.interface.clone() else {
        return Err(format!(
            "the route {} for {addr} (virtual router {}) names no interface (next hop {})",
            route.destination,
            route.virtual_router,
            route.nexthop.as_deref().unwrap_or("none")
        ));
    };
    let zone = ifaces
        .iter()
        .find(|i| i.name == iface)
        .and_then(|i| i.zone.clone())
        .ok_or_else(|| {
            format!(
                "interface {iface} (route {} for {addr}) is in no zone",
                route.destination
            )
        })?;
    Ok((zone, iface, route.destination.clone()))
}

async fn explain_traffic(
    s: Arc<Ngfw>,
    ctx: CallCtx,
    input: ExplainInput,
) -> Result<ExplainOutput, ToolError> {
    let source = host("source", &input.source)?;
    let destination = host("destination", &input.destination)?;
    let vsys = Name::parse("vsys", input.vsys.as_deref().unwrap_or("vsys1"))?;
    let application = input
        .application
        .as_deref()
        .map(|a| Name::parse("application", a))
        .transpose()?;
    let from_given = input
        .from_zone
        .as_deref()
        .map(|z| Name::parse("from_zone", z))
        .transpose()?;
    let to_given = input
        .to_zone
        .as_deref()
        .map(|z| Name::parse("to_zone", z))
        .transpose()?;
    let (protocol, port) = match input.protocol {
        FlowProtocol::Icmp => (1u8, None),
        p => {
            let port = input.port.filter(|p| *p > 0).ok_or_else(|| {
                ToolError::invalid("port", "is required (1-65535) for tcp and udp")
            })?;
            (if p == FlowProtocol::Tcp { 6 } else { 17 }, Some(port))
        }
    };
    let n_logs = input.log_entries.unwrap_or(10);
    if n_logs > 100 {
        return Err(ToolError::invalid("log_entries", "must be 0-100"));
    }
    s.require_device("explaining a flow").await?;

    let mut missing = Vec::new();
    // 1. Zones.
    let (mut routes, mut ifaces) = (Vec::new(), Vec::new());
    if from_given.is_none() || to_given.is_none() {
        match s.client.routes(None).await {
            Ok(r) => routes = r,
            Err(e) => missing.push(format!("routes: {e}")),
        }
        match s.client.interfaces(None).await {
            Ok(i) => ifaces = i,
            Err(e) => missing.push(format!("interfaces: {e}")),
        }
    }
    let mut find = |given: Option<Name>, addr: IpAddr, which: &str| -> Option<ZoneFound> {
        if let Some(z) = given {
            return Some(ZoneFound {
                zone: z.as_str().to_string(),
                how: "given".into(),
                interface: None,
                route: None,
            });
        }
        match zone_of(addr, &routes, &ifaces) {
            Ok((zone, iface, route)) => Some(ZoneFound {
                zone,
                how: "route".into(),
                interface: Some(iface),
                route: Some(route),
            }),
            Err(why) => {
                missing.push(format!("{which}: {why}; give it as `{which}`"));
                None
            }
        }
    };
    let from_zone = find(from_given, source, "from_zone");
    let to_zone = find(to_given, destination, "to_zone");

    // 2-3. NAT and security policy match, when both zones are known.
    let (mut security, mut nat_rule, mut nat_checked) = (None, None, false);
    if let (Some(f), Some(t)) = (&from_zone, &to_zone) {
        let from = Name::parse("from_zone", &f.zone)?;
        let to = Name::parse("to_zone", &t.zone)?;
        let nat = NatMatchQuery {
            from: from.clone(),
            to: to.clone(),
            source,
            destination,
            protocol,
            destination_port: port,
            to_interface: None,
            vsys: vsys.clone(),
        };
        match s.client.test_nat_policy_match(&nat).await {
            Ok((_, rule)) => {
                nat_checked = true;
                nat_rule = rule;
            }
            Err(e) => missing.push(format!(
                "NAT rule: the firewall did not answer test nat-policy-match ({e})"
            )),
        }
        let q = PolicyMatchQuery {
            from,
            to,
            source,
            destination,
            protocol,
            destination_port: port,
            application,
            vsys,
        };
        match s.client.test_security_policy_match(&q).await {
            Ok(found) => match found.rule {
                Some(MatchedRule {
                    name,
                    action,
                    index,
                }) => {
                    let default_rule = name == "intrazone-default" || name == "interzone-default";
                    match action.or_else(|| match name.as_str() {
                        "interzone-default" => Some("deny".into()),
                        "intrazone-default" => Some("allow".into()),
                        _ => None,
                    }) {
                        Some(action) => {
                            security = Some(SecurityVerdict {
                                allowed: action == "allow",
                                rule: name,
                                action,
                                default_rule,
                                index,
                            })
                        }
                        None => missing.push(format!(
                            "security action: the firewall named rule `{name}` without its action"
                        )),
                    }
                }
                None => missing
                    .push("security rule: test security-policy-match returned no rule".into()),
            },
            Err(e) => missing.push(format!("security rule: {e}")),
        }
    } else {
        missing.push("NAT and security rule: not asked, the zones are not known".into());
    }

    // 4. The last traffic log entries for this flow.
    let mut logs = Vec::new();
    if n_logs > 0 {
        let mut q = format!("( addr.src in {source} ) and ( addr.dst in {destination} )");
        if let Some(p) = port {
            q.push_str(&format!(" and ( port.dst eq {p} )"));
        }
        match run_log_job(
            &s,
            &ctx,
            LogType::Traffic,
            Some(&q),
            n_logs,
            0,
            Duration::from_secs(60),
        )
        .await
        {
            Ok((_, entries)) => logs = entries.iter().map(LogRow::from_fields).collect(),
            Err(e) => missing.push(format!("traffic logs: {e}")),
        }
    }

    // 5. The verdict.
    let flow = format!(
        "{source} -> {destination}{}",
        port.map(|p| format!(":{p}")).unwrap_or_default()
    );
    let zones = match (&from_zone, &to_zone) {
        (Some(f), Some(t)) => format!(" ({} -> {})", f.zone, t.zone),
        _ => String::new(),
    };
    let log_note = if n_logs == 0 {
        String::new()
    } else if logs.is_empty() {
        "; no traffic logged for this flow".into()
    } else {
        let denied = logs
            .iter()
            .filter(|l| l.action.as_deref().is_some_and(|a| a != "allow"))
            .count();
        format!(
            "; {} of the last {} logged sessions were denied",
            denied,
            logs.len()
        )
    };
    let nat_note = match (&nat_rule, nat_checked) {
        (Some(r), _) => format!(", NAT rule `{r}`"),
        (None, true) => ", no NAT".into(),
        (None, false) => String::new(),
    };
    let verdict = match &security {
        Some(sv) => format!(
            "{} {flow}{zones} by {}rule `{}` (action {}){nat_note}{log_note}",
            if sv.allowed { "ALLOWED" } else { "BLOCKED" },
            if sv.default_rule { "default " } else { "" },
            sv.rule,
            sv.action
        ),
        None => format!(
            "UNKNOWN {flow}{zones}: the security rule could not be found ({}){log_note}",
            missing.join("; ")
        ),
    };
    Ok(ExplainOutput {
        verdict,
        from_zone,
        to_zone,
        security,
        nat_rule,
        nat_checked,
        logs,
        missing,
    })
}
