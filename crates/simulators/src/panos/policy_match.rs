//! `test security-policy-match`: evaluate a vsys security rulebase in order.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::dom::{Element, escape_attr, escape_text};

/// The traffic being tested. `None` fields do not restrict the match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchQuery {
    /// Source zone.
    pub from: Option<String>,
    /// Destination zone.
    pub to: Option<String>,
    /// Source address.
    pub source: Option<IpAddr>,
    /// Destination address.
    pub destination: Option<IpAddr>,
    /// Destination port.
    pub destination_port: Option<u16>,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp).
    pub protocol: Option<u8>,
    /// Application name.
    pub application: Option<String>,
    /// Source user.
    pub source_user: Option<String>,
}

impl MatchQuery {
    /// Reads the query from the children of a `<security-policy-match>` element.
    pub fn from_element(el: &Element) -> Result<Self, String> {
        let text = |name: &str| el.child_text(name).filter(|t| !t.is_empty());
        let ip = |name: &str| -> Result<Option<IpAddr>, String> {
            text(name)
                .map(|v| {
                    v.parse::<IpAddr>()
                        .map_err(|_| format!("{v} is not a valid IP address for {name}"))
                })
                .transpose()
        };
        let destination_port = text("destination-port")
            .map(|v| {
                v.parse::<u16>()
                    .map_err(|_| format!("{v} is not a valid destination-port"))
            })
            .transpose()?;
        let protocol = text("protocol")
            .map(|v| {
                v.parse::<u8>()
                    .map_err(|_| format!("{v} is not a valid protocol number"))
            })
            .transpose()?;
        Ok(Self {
            from: text("from"),
            to: text("to"),
            source: ip("source")?,
            destination: ip("destination")?,
            destination_port,
            protocol,
            application: text("application"),
            source_user: text("source-user"),
        })
    }
}

/// Where object names are looked up: the vsys first, then `/config/shared`.
#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    vsys: Option<&'a Element>,
    shared: Option<&'a Element>,
}

impl<'a> Scope<'a> {
    /// Finds `<KIND><entry name="NAME">` in the vsys, then in shared.
    fn lookup(&self, kind: &str, name: &str) -> Option<&'a Element> {
        [self.vsys, self.shared]
            .into_iter()
            .flatten()
            .find_map(|scope| scope.child(kind).and_then(|k| k.entry(name)))
    }
}

/// An address literal: a host, a CIDR prefix or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpSpec {
    Cidr(IpAddr, u8),
    Range(IpAddr, IpAddr),
}

fn parse_ip_spec(s: &str) -> Option<IpSpec> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('-') {
        let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return Some(IpSpec::Range(a, b));
    }
    if let Some((a, n)) = s.split_once('/') {
        let a: IpAddr = a.parse().ok()?;
        let n: u8 = n.parse().ok()?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        return (n <= max).then_some(IpSpec::Cidr(a, n));
    }
    let a: IpAddr = s.parse().ok()?;
    Some(IpSpec::Cidr(a, if a.is_ipv4() { 32 } else { 128 }))
}

/// Is `s` an address literal a rule may hold: an IP address, a CIDR or a range `a-b`?
pub(crate) fn is_ip_literal(s: &str) -> bool {
    parse_ip_spec(s).is_some()
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v) => (true, u128::from(u32::from(v))),
        IpAddr::V6(v) => (false, u128::from(v)),
    }
}

impl IpSpec {
    fn contains(self, ip: IpAddr) -> bool {
        let (v4, x) = ip_bits(ip);
        match self {
            IpSpec::Cidr(net, len) => {
                let (nv4, n) = ip_bits(net);
                if nv4 != v4 {
                    return false;
                }
                let width: u32 = if v4 { 32 } else { 128 };
                let host_bits = width - u32::from(len);
                let mask = if host_bits >= 128 {
                    0
                } else {
                    u128::MAX << host_bits
                };
                (x & mask) == (n & mask)
            }
            IpSpec::Range(a, b) => {
                let ((av4, a), (bv4, b)) = (ip_bits(a), ip_bits(b));
                av4 == v4 && bv4 == v4 && a <= x && x <= b
            }
        }
    }
}

/// Does the address object `obj` contain `ip`? fqdn and ip-wildcard never match.
fn address_object_matches(obj: &Element, ip: IpAddr) -> bool {
    if let Some(v) = obj.child_text("ip-netmask") {
        return parse_ip_spec(&v)
            .is_some_and(|s| !matches!(s, IpSpec::Range(..)) && s.contains(ip));
    }
    if let Some(v) = obj.child_text("ip-range") {
        return parse_ip_spec(&v).is_some_and(|s| matches!(s, IpSpec::Range(..)) && s.contains(ip));
    }
    false
}

fn address_matches(scope: Scope<'_>, member: &str, ip: IpAddr, seen: &mut HashSet<String>) -> bool {
    if member == "any" {
        return true;
    }
    if let Some(obj) = scope.lookup("address", member) {
        return address_object_matches(obj, ip);
    }
    if let Some(group) = scope.lookup("address-group", member) {
        if !seen.insert(member.to_owned()) {
            return false; // cycle
        }
        // Dynamic groups never match: only static members are resolved.
        return group.child("static").is_some_and(|st| {
            st.member_texts()
                .iter()
                .any(|m| address_matches(scope, m, ip, seen))
        });
    }
    parse_ip_spec(member).is_some_and(|s| s.contains(ip))
}

fn addresses_match(scope: Scope<'_>, members: &[String], ip: Option<IpAddr>) -> bool {
    let Some(ip) = ip else { return true };
    if members.is_empty() {
        return true;
    }
    members
        .iter()
        .any(|m| address_matches(scope, m, ip, &mut HashSet::new()))
}

fn port_list_contains(list: &str, port: u16) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|part| match part.split_once('-') {
            Some((lo, hi)) => match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
                (Ok(lo), Ok(hi)) => lo <= port && port <= hi,
                _ => false,
            },
            None => part.parse::<u16>() == Ok(port),
        })
}

fn proto_port_matches(q: &MatchQuery, proto: u8, ports: &str) -> bool {
    q.protocol.is_none_or(|p| p == proto)
        && q.destination_port
            .is_none_or(|port| port_list_contains(ports, port))
}

fn service_matches(
    scope: Scope<'_>,
    member: &str,
    q: &MatchQuery,
    seen: &mut HashSet<String>,
) -> bool {
    if member == "any" || member == "application-default" {
        return true;
    }
    if let Some(svc) = scope.lookup("service", member) {
        let Some(protocol) = svc.child("protocol") else {
            return false;
        };
        return [("tcp", 6u8), ("udp", 17u8)].iter().any(|(name, num)| {
            protocol
                .child(name)
                .and_then(|p| p.child_text("port"))
                .is_some_and(|ports| proto_port_matches(q, *num, &ports))
        });
    }
    if let Some(group) = scope.lookup("service-group", member) {
        if !seen.insert(member.to_owned()) {
            return false;
        }
        let mut members = group.members("members");
        members.extend(group.member_texts());
        return members.iter().any(|m| service_matches(scope, m, q, seen));
    }
    match member {
        "service-http" => proto_port_matches(q, 6, "80,8080"),
        "service-https" => proto_port_matches(q, 6, "443"),
        _ => false,
    }
}

fn zones_match(members: &[String], zone: Option<&str>) -> bool {
    match zone {
        None => true,
        Some(z) => members.is_empty() || members.iter().any(|m| m == "any" || m == z),
    }
}

fn yes(rule: &Element, name: &str) -> bool {
    rule.child_text(name).as_deref() == Some("yes")
}

/// Does `rule` match the query?
fn rule_matches(scope: Scope<'_>, rule: &Element, q: &MatchQuery) -> bool {
    if yes(rule, "disabled") {
        return false;
    }
    if !zones_match(&rule.members("from"), q.from.as_deref())
        || !zones_match(&rule.members("to"), q.to.as_deref())
    {
        return false;
    }
    if q.source.is_some()
        && addresses_match(scope, &rule.members("source"), q.source) == yes(rule, "negate-source")
    {
        return false;
    }
    if q.destination.is_some()
        && addresses_match(scope, &rule.members("destination"), q.destination)
            == yes(rule, "negate-destination")
    {
        return false;
    }
    if let Some(app) = &q.application {
        let apps = rule.members("application");
        if !apps.is_empty() && !apps.iter().any(|a| a == "any" || a == app) {
            return false;
        }
    }
    let services = rule.members("service");
    if !services.is_empty()
        && !services
            .iter()
            .any(|s| service_matches(scope, s, q, &mut HashSet::new()))
    {
        return false;
    }
    if let Some(user) = &q.source_user {
        let users = rule.members("source-user");
        if !users.is_empty()
            && !users.iter().any(|u| u == "any")
            && !users
                .iter()
                .any(|u| u == "known-user" || u.eq_ignore_ascii_case(user))
        {
            return false;
        }
    }
    true
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// The first matching rule and its 1-based position.
    Rule {
        /// 1-based position in the rulebase.
        index: usize,
        /// The rule entry.
        rule: &'a Element,
    },
    /// No rule matched: `intrazone-default` (allow) or `interzone-default` (deny).
    Default {
        /// Whether from and to are the same zone.
        intrazone: bool,
    },
}

/// The vsys entry named `vsys` under `/config/devices/entry/vsys`.
pub fn find_vsys<'a>(config: &'a Element, vsys: &str) -> Option<&'a Element> {
    config
        .child("devices")?
        .elements()
        .filter(|e| e.name == "entry")
        .find_map(|dev| dev.child("vsys").and_then(|v| v.entry(vsys)))
}

/// Evaluates the security rulebase of `vsys` in `config` against `q`.
pub fn evaluate<'a>(config: &'a Element, vsys: &str, q: &MatchQuery) -> Verdict<'a> {
    let vsys_el = find_vsys(config, vsys);
    let scope = Scope {
        vsys: vsys_el,
        shared: config.child("shared"),
    };
    let rules = vsys_el
        .and_then(|v| v.path(&["rulebase", "security", "rules"]))
        .map(|r| {
            r.elements()
                .filter(|e| e.name == "entry")
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for (i, rule) in rules.into_iter().enumerate() {
        if rule_matches(scope, rule, q) {
            return Verdict::Rule { index: i + 1, rule };
        }
    }
    Verdict::Default {
        intrazone: q.from == q.to,
    }
}

fn write_members(out: &mut String, tag: &str, members: &[String]) {
    let _ = write!(out, "<{tag}>");
    if members.is_empty() {
        out.push_str("<member>any</member>");
    }
    for m in members {
        let _ = write!(out, "<member>{}</member>", escape_text(m));
    }
    let _ = write!(out, "</{tag}>");
}

/// Renders the API response for a verdict.
pub fn render(verdict: &Verdict<'_>, q: &MatchQuery) -> String {
    let mut out = String::from("<response status=\"success\"><result><rules>");
    match verdict {
        Verdict::Rule { index, rule } => {
            let _ = write!(
                out,
                "<entry name=\"{}\"><index>{index}</index>",
                escape_attr(rule.name_attr().unwrap_or_default())
            );
            for tag in [
                "from",
                "to",
                "source",
                "destination",
                "application",
                "service",
            ] {
                write_members(&mut out, tag, &rule.members(tag));
            }
            let action = rule
                .child_text("action")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "allow".to_owned());
            let _ = write!(out, "<action>{}</action></entry>", escape_text(&action));
        }
        Verdict::Default { intrazone } => {
            let (name, action) = if *intrazone {
                ("intrazone-default", "allow")
            } else {
                ("interzone-default", "deny")
            };
            let zone = |z: &Option<String>| vec![z.clone().unwrap_or_else(|| "any".to_owned())];
            let _ = write!(out, "<entry name=\"{name}\"><index>0</index>");
            write_members(&mut out, "from", &zone(&q.from));
            write_members(&mut out, "to", &zone(&q.to));
            for tag in ["source", "destination", "application", "service"] {
                write_members(&mut out, tag, &[]);
            }
            let _ = write!(out, "<action>{action}</action></entry>");
        }
    }
    out.push_str("</rules></result></response>");
    out
}

/// `test nat-policy-match`: the first enabled NAT rule of `vsys` whose zones, addresses,
/// service (`any` or a service name) and `to-interface` (when both name one) match, with
/// its 1-based position.
pub fn evaluate_nat<'a>(
    config: &'a Element,
    vsys: &str,
    q: &MatchQuery,
    to_interface: Option<&str>,
) -> Option<(usize, &'a Element)> {
    let vsys_el = find_vsys(config, vsys);
    let scope = Scope {
        vsys: vsys_el,
        shared: config.child("shared"),
    };
    let rules = vsys_el.and_then(|v| v.path(&["rulebase", "nat", "rules"]))?;
    rules
        .elements()
        .filter(|e| e.name == "entry")
        .enumerate()
        .find(|(_, rule)| {
            if yes(rule, "disabled")
                || !zones_match(&rule.members("from"), q.from.as_deref())
                || !zones_match(&rule.members("to"), q.to.as_deref())
                || !addresses_match(scope, &rule.members("source"), q.source)
                || !addresses_match(scope, &rule.members("destination"), q.destination)
            {
                return false;
            }
            let service = rule
                .child_text("service")
                .unwrap_or_else(|| "any".to_owned());
            if !service.is_empty() && !service_matches(scope, &service, q, &mut HashSet::new()) {
                return false;
            }
            match (rule.child_text("to-interface"), to_interface) {
                (Some(want), Some(given)) if !want.is_empty() && want != "any" => want == given,
                _ => true,
            }
        })
        .map(|(i, rule)| (i + 1, rule))
}

/// The answer to `test nat-policy-match`: the rule as PAN-OS names it, or no rules.
pub fn render_nat(found: Option<(usize, &Element)>) -> String {
    match found {
        Some((index, rule)) => format!(
            "<response status=\"success\"><result><rules><entry name=\"{}\"><index>{index}</index></entry></rules></result></response>",
            escape_attr(rule.name_attr().unwrap_or_default())
        ),
        None => "<response status=\"success\"><result><rules/></result></response>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ip_specs() {
        let c = parse_ip_spec("10.1.0.0/16").expect("cidr");
        assert!(c.contains(ip("10.1.255.1")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("2001:db8::1")));
        let z = parse_ip_spec("0.0.0.0/0").expect("cidr");
        assert!(z.contains(ip("198.51.100.7")));
        let r = parse_ip_spec("192.0.2.10-192.0.2.20").expect("range");
        assert!(r.contains(ip("192.0.2.15")));
        assert!(!r.contains(ip("192.0.2.21")));
        let h = parse_ip_spec("2001:db8::/32").expect("v6");
        assert!(h.contains(ip("2001:db8:1::5")));
        assert!(parse_ip_spec("10.0.0.0/33").is_none());
        assert!(parse_ip_spec("web-server").is_none());
    }

    #[test]
    fn ports() {
        assert!(port_list_contains("80,443,8000-8100", 8050));
        assert!(port_list_contains("80, 443", 443));
        assert!(!port_list_contains("80,443,8000-8100", 8101));
        assert!(!port_list_contains("junk", 1));
    }

    #[test]
    fn group_cycles_terminate() {
        let cfg = Element::parse(
            "<config><devices><entry name='d'><vsys><entry name='vsys1'>\
             <address-group><entry name='a'><static><member>b</member></static></entry>\
             <entry name='b'><static><member>a</member><member>10.0.0.0/8</member></static></entry></address-group>\
             <rulebase><security><rules><entry name='r'><source><member>a</member></source><action>allow</action></entry></rules></security></rulebase>\
             </entry></vsys></entry></devices></config>",
        )
        .expect("parses");
        let q = MatchQuery {
            source: Some(ip("10.9.9.9")),
            ..MatchQuery::default()
        };
        assert!(matches!(
            evaluate(&cfg, "vsys1", &q),
            Verdict::Rule { index: 1, .. }
        ));
        let q = MatchQuery {
            source: Some(ip("192.0.2.1")),
            from: Some("x".into()),
            to: Some("y".into()),
            ..MatchQuery::default()
        };
        assert_eq!(
            evaluate(&cfg, "vsys1", &q),
            Verdict::Default { intrazone: false }
        );
    }
}
