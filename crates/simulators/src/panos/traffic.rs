//! Deterministic traffic built from the running configuration's security
//! rules and zones: for each rule, a flow made from the rule's own zones,
//! addresses, application and service (the "allowed" flow of an allow rule)
//! and one from an unknown source on port 1 (the "denied" flow). The rule
//! and action of each flow are what policy match answers for it, so the
//! logs and sessions never contradict `test security-policy-match`.
//!
//! `show session all [filter ...]` lists one session per flow: `ACTIVE` for
//! allowed flows, `DISCARD` for denied ones.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::dom::{Element, escape_text};
use super::netstate::{self, parse_cidr};
use super::policy_match::{MatchQuery, Verdict, evaluate};

/// One simulated flow and the rule that decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Source zone.
    pub from: String,
    /// Destination zone.
    pub to: String,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Destination port.
    pub dport: u16,
    /// `tcp`, `udp` or `icmp`.
    pub proto: &'static str,
    /// Application.
    pub app: String,
    /// Rule that matched (`interzone-default` / `intrazone-default` when none).
    pub rule: String,
    /// `allow`, `deny`, `drop`, `reset-client`, `reset-server`, `reset-both`.
    pub action: String,
    /// Ingress and egress interfaces (empty when no zone has one).
    pub inbound: String,
    /// Egress interface.
    pub outbound: String,
}

impl Flow {
    /// Is the flow allowed?
    pub fn allowed(&self) -> bool {
        self.action == "allow"
    }

    /// The IP protocol number.
    pub fn proto_number(&self) -> u8 {
        match self.proto {
            "udp" => 17,
            "icmp" => 1,
            _ => 6,
        }
    }
}

fn vsys_list(config: &Element) -> Vec<&Element> {
    config
        .child("devices")
        .into_iter()
        .flat_map(|d| d.elements().filter(|e| e.name == "entry"))
        .filter_map(|d| d.child("vsys"))
        .flat_map(|v| v.elements().filter(|e| e.name == "entry"))
        .collect()
}

fn lookup<'a>(
    config: &'a Element,
    vsys: &'a Element,
    kind: &str,
    name: &str,
) -> Option<&'a Element> {
    vsys.child(kind).and_then(|k| k.entry(name)).or_else(|| {
        config
            .child("shared")
            .and_then(|s| s.child(kind))
            .and_then(|k| k.entry(name))
    })
}

fn first_host(spec: &str) -> Option<Ipv4Addr> {
    if let Some((a, _)) = spec.split_once('-') {
        return a.trim().parse().ok();
    }
    let (ip, len) = parse_cidr(spec)?;
    if len >= 31 {
        return Some(ip);
    }
    let net = u32::from(ip) & (u32::MAX << (32 - len));
    Some(Ipv4Addr::from(net.saturating_add(10)))
}

/// A representative IPv4 address for a rule member (literal, object or
/// static group), or `None` for `any`, FQDNs and IPv6.
fn member_ip(config: &Element, vsys: &Element, member: &str, depth: u8) -> Option<Ipv4Addr> {
    if member == "any" || depth > 8 {
        return None;
    }
    if let Some(ip) = first_host(member) {
        return Some(ip);
    }
    if let Some(obj) = lookup(config, vsys, "address", member) {
        return ["ip-netmask", "ip-range"]
            .into_iter()
            .find_map(|k| obj.child_text(k))
            .and_then(|v| first_host(&v));
    }
    let group = lookup(config, vsys, "address-group", member)?;
    group
        .members("static")
        .iter()
        .find_map(|m| member_ip(config, vsys, m, depth + 1))
}

fn app_port(app: &str) -> (&'static str, u16) {
    match app {
        "web-browsing" => ("tcp", 80),
        "dns" => ("udp", 53),
        "ssh" => ("tcp", 22),
        "ntp" => ("udp", 123),
        "smtp" => ("tcp", 25),
        "ping" | "icmp" => ("icmp", 0),
        "ms-rdp" => ("tcp", 3389),
        "ldap" => ("tcp", 389),
        _ => ("tcp", 443),
    }
}

fn service_port(
    config: &Element,
    vsys: &Element,
    service: &str,
    depth: u8,
) -> Option<(&'static str, u16)> {
    match service {
        "service-http" => return Some(("tcp", 80)),
        "service-https" => return Some(("tcp", 443)),
        "any" | "application-default" => return None,
        _ => {}
    }
    if depth > 8 {
        return None;
    }
    if let Some(obj) = lookup(config, vsys, "service", service) {
        let proto = obj.child("protocol")?;
        let (name, p) = if let Some(t) = proto.child("tcp") {
            ("tcp", t)
        } else {
            ("udp", proto.child("udp")?)
        };
        let port = p.child_text("port")?;
        let first = port.split([',', '-']).next()?.trim().parse().ok()?;
        return Some((name, first));
    }
    let group = lookup(config, vsys, "service-group", service)?;
    group
        .members("members")
        .iter()
        .find_map(|m| service_port(config, vsys, m, depth + 1))
}

/// The first address of the first interface in `zone`, else a made-up
/// address in 10.(200+index).0.0/24.
fn zone_ip(ifaces: &[netstate::Iface], zones: &[String], zone: &str, host: u32) -> Ipv4Addr {
    let from_iface = ifaces
        .iter()
        .filter(|i| i.zone.as_deref() == Some(zone))
        .find_map(|i| i.ips.first().and_then(|c| parse_cidr(c)))
        .filter(|(_, len)| *len < 31)
        .map(|(ip, len)| {
            let net = u32::from(ip) & (u32::MAX << (32 - len));
            Ipv4Addr::from(net + host)
        });
    from_iface.unwrap_or_else(|| {
        let idx = zones.iter().position(|z| z == zone).unwrap_or(0) as u8;
        Ipv4Addr::new(10, 200u8.saturating_add(idx), 0, host as u8)
    })
}

fn zone_iface(ifaces: &[netstate::Iface], zone: &str) -> String {
    ifaces
        .iter()
        .find(|i| i.zone.as_deref() == Some(zone))
        .map(|i| i.name.clone())
        .unwrap_or_default()
}

/// The flows of every vsys security rule, in rule order: the rule's own flow,
/// then the unknown-source flow on port 1.
pub fn flows(config: &Element) -> Vec<Flow> {
    let ifaces = netstate::interfaces(config);
    let mut out = Vec::new();
    for vsys in vsys_list(config) {
        let vsys_name = vsys.name_attr().unwrap_or("vsys1");
        let zones: Vec<String> = vsys
            .child("zone")
            .into_iter()
            .flat_map(|z| z.elements().filter(|e| e.name == "entry"))
            .filter_map(|z| z.name_attr().map(str::to_owned))
            .collect();
        let pick = |members: Vec<String>, fallback: usize| -> String {
            members
                .into_iter()
                .find(|m| m != "any")
                .or_else(|| zones.get(fallback).or(zones.first()).cloned())
                .unwrap_or_else(|| "trust".to_owned())
        };
        let rules: Vec<&Element> = vsys
            .path(&["rulebase", "security", "rules"])
            .into_iter()
            .flat_map(|r| r.elements().filter(|e| e.name == "entry"))
            .collect();
        for (idx, rule) in rules.iter().enumerate() {
            let from = pick(rule.members("from"), 0);
            let to = pick(rule.members("to"), 1);
            let src = rule
                .members("source")
                .iter()
                .find_map(|m| member_ip(config, vsys, m, 0))
                .unwrap_or_else(|| zone_ip(&ifaces, &zones, &from, 10 + (idx as u32 % 200)));
            let dst = rule
                .members("destination")
                .iter()
                .find_map(|m| member_ip(config, vsys, m, 0))
                .unwrap_or_else(|| zone_ip(&ifaces, &zones, &to, 20 + (idx as u32 % 200)));
            let app = rule
                .members("application")
                .into_iter()
                .find(|a| a != "any")
                .unwrap_or_else(|| "ssl".to_owned());
            let (proto, dport) = rule
                .members("service")
                .iter()
                .find_map(|s| service_port(config, vsys, s, 0))
                .unwrap_or_else(|| app_port(&app));
            let own = (src, dst, dport, proto, app.clone());
            let unknown = (
                Ipv4Addr::new(198, 51, 100, 1 + (idx % 250) as u8),
                dst,
                1u16,
                "tcp",
                "unknown-tcp".to_owned(),
            );
            for (src, dst, dport, proto, app) in [own, unknown] {
                let q = MatchQuery {
                    from: Some(from.clone()),
                    to: Some(to.clone()),
                    source: Some(IpAddr::V4(src)),
                    destination: Some(IpAddr::V4(dst)),
                    destination_port: (proto != "icmp").then_some(dport),
                    protocol: Some(match proto {
                        "udp" => 17,
                        "icmp" => 1,
                        _ => 6,
                    }),
                    application: Some(app.clone()),
                    source_user: None,
                };
                let (rule_name, action) = match evaluate(config, vsys_name, &q) {
                    Verdict::Rule { rule, .. } => (
                        rule.name_attr().unwrap_or_default().to_owned(),
                        rule.child_text("action")
                            .filter(|a| !a.is_empty())
                            .unwrap_or_else(|| "allow".to_owned()),
                    ),
                    Verdict::Default { intrazone: true } => {
                        ("intrazone-default".to_owned(), "allow".to_owned())
                    }
                    Verdict::Default { intrazone: false } => {
                        ("interzone-default".to_owned(), "deny".to_owned())
                    }
                };
                out.push(Flow {
                    inbound: zone_iface(&ifaces, &from),
                    outbound: zone_iface(&ifaces, &to),
                    from: from.clone(),
                    to: to.clone(),
                    src,
                    dst,
                    dport,
                    proto,
                    app,
                    rule: rule_name,
                    action,
                });
            }
        }
    }
    out
}

/// `show session all [filter ...]`.
pub fn show_sessions(config: &Element, filter: Option<&Element>) -> String {
    let f = |name: &str| {
        filter
            .and_then(|f| f.child_text(name))
            .filter(|v| !v.is_empty())
    };
    let mut out = String::from("<response status=\"success\"><result>");
    for (i, flow) in flows(config).iter().enumerate() {
        let state = if flow.allowed() { "ACTIVE" } else { "DISCARD" };
        let sport = 40_000 + (i as u32 % 20_000);
        let idx = 1000 + i;
        let checks: [(&str, String); 9] = [
            ("source", flow.src.to_string()),
            ("destination", flow.dst.to_string()),
            ("destination-port", flow.dport.to_string()),
            ("source-port", sport.to_string()),
            ("application", flow.app.clone()),
            ("rule", flow.rule.clone()),
            ("from", flow.from.clone()),
            ("to", flow.to.clone()),
            ("protocol", flow.proto_number().to_string()),
        ];
        if checks
            .iter()
            .any(|(k, v)| f(k).is_some_and(|want| &want != v))
        {
            continue;
        }
        if f("state").is_some_and(|s| !s.eq_ignore_ascii_case(state)) {
            continue;
        }
        let _ = write!(
            out,
            "<entry><dst>{dst}</dst><xsource>{src}</xsource><source>{src}</source><xdst>{dst}</xdst><xsport>{sport}</xsport><xdport>{dport}</xdport><sport>{sport}</sport><dport>{dport}</dport><proto>{proto}</proto><from>{from}</from><to>{to}</to><start-time>Sat Nov 21 00:00:00 2026</start-time><nat>False</nat><srcnat>False</srcnat><dstnat>False</dstnat><proxy>False</proxy><decrypt-mirror>False</decrypt-mirror><state>{state}</state><type>FLOW</type><total-byte-count>{bytes}</total-byte-count><idx>{idx}</idx><vsys-idx>1</vsys-idx><vsys>vsys1</vsys><application>{app}</application><security-rule>{rule}</security-rule><ingress>{inb}</ingress><egress>{outb}</egress><flags> </flags></entry>",
            dst = flow.dst,
            src = flow.src,
            dport = flow.dport,
            proto = flow.proto_number(),
            from = escape_text(&flow.from),
            to = escape_text(&flow.to),
            bytes = if flow.allowed() { 4_096 + 64 * i } else { 0 },
            app = escape_text(&flow.app),
            rule = escape_text(&flow.rule),
            inb = escape_text(&flow.inbound),
            outb = escape_text(&flow.outbound),
        );
    }
    out.push_str("</result></response>");
    out
}
