//! `check_access`: is an address allowed in, and by which rule? Computed, not listed: CIDR
//! containment (IPv4 and IPv6), port ranges, protocol `-1`, ICMP, security-group references
//! and managed prefix lists (their entries resolved).

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use mcp_core::validate::PortArg;
use mcp_core::{CallCtx, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{clients, read};
use crate::Whitelist;
use crate::client::model::Rule;
use crate::policy;

const CHECK_ACCESS: ToolSpec = read(
    "check_access",
    "Is this address allowed in?",
    "Answer whether an IP address may reach a port of a security group or of the groups behind a resource (sg-…, rds:ID, elasticache:ID, elb:NAME, ec2:i-…), and by which ingress rules: computed from CIDR containment (IPv4 and IPv6), port ranges, protocol -1 and ICMP, with prefix lists resolved. Rules that reference another security group are reported as conditions, not guessed. Also lists near misses (the right source on another port or protocol). Network ACLs are not evaluated.",
    "groups",
);

pub fn tools() -> Vec<ToolDef<Whitelist>> {
    vec![ToolDef::new(CHECK_ACCESS, check_access)]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessInput {
    /// The source IP address, v4 or v6 (a /32 or /128 CIDR is accepted too).
    pub address: String,
    /// For tcp and udp (required): a port number (443), or a name ("https"). For icmp and icmpv6 (optional): the ICMP type; omitted means every type.
    #[serde(default)]
    #[schemars(schema_with = "mcp_core::validate::optional_port_schema")]
    pub port: Option<PortArg>,
    /// `tcp` (default), `udp`, `icmp` or `icmpv6`.
    pub protocol: Option<String>,
    /// `sg-…`, or `rds:DB-ID`, `elasticache:CLUSTER-ID`, `elb:NAME-OR-ARN`, `ec2:i-…`.
    pub target: String,
    /// AWS region (default: the server's).
    pub region: Option<String>,
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
}

/// One rule, as it bears on the question.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RuleMatch {
    /// The security group.
    pub group_id: String,
    /// The rule id (sgr-…).
    pub rule_id: String,
    /// The rule's source: a CIDR, a security group (sg-…) or a prefix list (pl-…).
    pub source: String,
    /// The rule's protocol (`-1` is every protocol).
    pub protocol: String,
    /// The ports (or ICMP type and code) the rule opens: `443`, `8000-8100`, `all`.
    pub ports: String,
    /// The rule's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether this server wrote the rule.
    pub managed: bool,
    /// Who added it (managed rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it expires (managed rules with a ttl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Why it matches, conditionally matches, or misses.
    pub why: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccessOutput {
    /// The address asked about.
    pub address: String,
    /// The protocol asked about.
    pub protocol: String,
    /// The port (or ICMP type) asked about; absent for "any ICMP type".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The region looked in.
    pub region: String,
    /// The security groups of the target.
    pub groups: Vec<String>,
    /// `allowed` (a rule allows it), `conditional` (only a rule that depends on where the
    /// traffic comes from: a security group reference, or a prefix list that could not be
    /// read) or `not_allowed`.
    pub verdict: String,
    /// Whether at least one rule allows it outright.
    pub allowed: bool,
    /// The rules that allow it.
    pub allowing: Vec<RuleMatch>,
    /// Rules that allow it only under a condition this server cannot check.
    pub conditional: Vec<RuleMatch>,
    /// Rules that come close: the right source on another port or protocol.
    pub near_misses: Vec<RuleMatch>,
    /// What the answer does not cover.
    pub not_evaluated: Vec<String>,
}

/// A protocol as a question asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

impl Proto {
    fn parse(p: Option<&str>) -> Result<Self, ToolError> {
        match p.map(|p| p.trim().to_ascii_lowercase()).as_deref() {
            None | Some("tcp") => Ok(Self::Tcp),
            Some("udp") => Ok(Self::Udp),
            Some("icmp") => Ok(Self::Icmp),
            Some("icmpv6") => Ok(Self::Icmpv6),
            Some(other) => Err(ToolError::invalid(
                "protocol",
                format!(
                    "`{}` is not tcp, udp, icmp or icmpv6",
                    mcp_core::validate::excerpt(other, 20)
                ),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::Icmpv6 => "icmpv6",
        }
    }

    /// Whether an AWS rule protocol (`-1`, a name or an IANA number) covers this one.
    fn covered_by(self, rule: &str) -> bool {
        let rule = rule.to_ascii_lowercase();
        rule == "-1"
            || rule == "all"
            || match self {
                Self::Tcp => rule == "tcp" || rule == "6",
                Self::Udp => rule == "udp" || rule == "17",
                Self::Icmp => rule == "icmp" || rule == "1",
                Self::Icmpv6 => rule == "icmpv6" || rule == "58",
            }
    }
}

/// The question, validated.
#[derive(Debug, Clone, Copy)]
pub struct Question {
    pub address: IpAddr,
    pub proto: Proto,
    /// The port (tcp/udp) or ICMP type; `None`: any ICMP type.
    pub port: Option<u16>,
}

/// An address: a bare IP, or a host CIDR (/32, /128).
fn address(v: &str) -> Result<IpAddr, ToolError> {
    mcp_core::validate::check_no_control("address", v)?;
    let s = v.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ip);
    }
    match s.parse::<IpNet>() {
        Ok(n) if n.prefix_len() == n.max_prefix_len() => Ok(n.addr()),
        Ok(_) => Err(ToolError::invalid(
            "address",
            "is a network; give one address (check_access answers for one source)",
        )),
        Err(_) => Err(ToolError::invalid(
            "address",
            format!(
                "`{}` is not an IPv4 or IPv6 address",
                mcp_core::validate::excerpt(s, 64)
            ),
        )),
    }
}

/// How a rule's source relates to the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMatch {
    /// The CIDR (or a prefix-list entry, named) contains the address.
    Contains(Option<String>),
    /// A security group: only traffic from its members.
    Group(String),
    /// A prefix list whose entries could not be read.
    UnreadList(String, String),
    /// No.
    No,
}

/// Whether `rule`'s ports cover the question's (tcp/udp ports, or ICMP type/code).
fn ports_cover(rule: &Rule, q: &Question) -> bool {
    if rule.protocol == "-1" {
        return true;
    }
    let (from, to) = (rule.from_port.unwrap_or(-1), rule.to_port.unwrap_or(-1));
    match q.proto {
        Proto::Tcp | Proto::Udp => match q.port {
            Some(p) => from <= i32::from(p) && i32::from(p) <= to,
            None => false,
        },
        // ICMP: from_port is the type (-1: every type), to_port the code.
        Proto::Icmp | Proto::Icmpv6 => match (from, q.port) {
            (-1, _) => true,
            (_, None) => false,
            (t, Some(p)) => t == i32::from(p),
        },
    }
}

/// The ports a rule opens, in words.
fn ports_text(rule: &Rule) -> String {
    match (rule.protocol.as_str(), rule.from_port, rule.to_port) {
        ("-1", _, _) => "all".into(),
        (_, Some(-1), _) | (_, None, _) => "all".into(),
        ("icmp" | "icmpv6" | "1" | "58", Some(t), Some(c)) => {
            if c == -1 {
                format!("type {t}")
            } else {
                format!("type {t} code {c}")
            }
        }
        (_, Some(f), Some(t)) if f == t => f.to_string(),
        (_, Some(f), Some(t)) => format!("{f}-{t}"),
        (_, Some(f), None) => f.to_string(),
    }
}

fn entry(rule: &Rule, why: String) -> RuleMatch {
    RuleMatch {
        group_id: rule.group_id.clone(),
        rule_id: rule.rule_id.clone(),
        source: rule.source.clone(),
        protocol: rule.protocol.clone(),
        ports: ports_text(rule),
        description: rule.description.clone(),
        managed: rule.managed,
        owner: rule.owner().map(str::to_string),
        expires_at: rule.expires_at.clone(),
        why,
    }
}

/// The verdict over the ingress `rules`, given how each one's source relates to the address
/// (`source_of`). Pure: the tests drive it with hand-made rules.
pub fn decide(
    q: &Question,
    rules: &[Rule],
    source_of: &dyn Fn(&Rule) -> SourceMatch,
) -> (Vec<RuleMatch>, Vec<RuleMatch>, Vec<RuleMatch>) {
    let (mut allowing, mut conditional, mut near) = (Vec::new(), Vec::new(), Vec::new());
    for r in rules.iter().filter(|r| r.direction == "ingress") {
        let proto_ok = q.proto.covered_by(&r.protocol);
        let ports_ok = proto_ok && ports_cover(r, q);
        let what = match q.port {
            Some(p) => format!("{}/{p}", q.proto.name()),
            None => format!("{} (any type)", q.proto.name()),
        };
        match source_of(r) {
            SourceMatch::Contains(via) => {
                let via = via
                    .map(|e| format!(" (prefix list entry {e})"))
                    .unwrap_or_default();
                if ports_ok {
                    allowing.push(entry(
                        r,
                        format!("{} contains {}{via} and the rule opens {what}", r.source, q.address),
                    ));
                } else {
                    near.push(entry(
                        r,
                        format!(
                            "{} contains {}{via}, but the rule opens {} {}, not {what}",
                            r.source,
                            q.address,
                            r.protocol,
                            ports_text(r)
                        ),
                    ));
                }
            }
            SourceMatch::Group(g) if ports_ok => conditional.push(entry(
                r,
                format!(
                    "allowed only if the source is a member of security group {g} (a reference, not an address range)"
                ),
            )),
            SourceMatch::UnreadList(pl, why) if ports_ok => conditional.push(entry(
                r,
                format!("allowed only if {} is in prefix list {pl}, whose entries could not be read: {why}", q.address),
            )),
            _ => {}
        }
    }
    (allowing, conditional, near)
}

/// How `rule`'s source relates to `addr`, with prefix lists resolved in `lists`.
fn source_match(
    rule: &Rule,
    addr: IpAddr,
    lists: &std::collections::BTreeMap<String, Result<Vec<String>, String>>,
) -> SourceMatch {
    let src = rule.source.as_str();
    if src.starts_with("sg-") {
        return SourceMatch::Group(src.to_string());
    }
    if src.starts_with("pl-") {
        return match lists.get(src) {
            Some(Ok(entries)) => entries
                .iter()
                .find(|c| c.parse::<IpNet>().is_ok_and(|n| n.contains(&addr)))
                .map(|c| SourceMatch::Contains(Some(c.clone())))
                .unwrap_or(SourceMatch::No),
            Some(Err(e)) => SourceMatch::UnreadList(src.to_string(), e.clone()),
            None => SourceMatch::UnreadList(src.to_string(), "not looked up".into()),
        };
    }
    match src.parse::<IpNet>() {
        Ok(n) if n.contains(&addr) => SourceMatch::Contains(None),
        _ => SourceMatch::No,
    }
}

async fn check_access(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: AccessInput,
) -> Result<AccessOutput, ToolError> {
    let addr = address(&i.address)?;
    let proto = Proto::parse(i.protocol.as_deref())?;
    let port = match (proto, &i.port) {
        (Proto::Tcp | Proto::Udp, None) => {
            return Err(ToolError::invalid(
                "port",
                "is required for tcp and udp (a number such as 443 or a name such as https)",
            ));
        }
        (_, None) => None,
        (_, Some(p)) => {
            let r = p.resolve("port", &s.settings.aliases, "capabilities")?;
            if r.from != r.to {
                return Err(ToolError::invalid(
                    "port",
                    "must be one port: check_access answers for one port",
                ));
            }
            Some(r.from)
        }
    };
    if matches!(proto, Proto::Icmp | Proto::Icmpv6) && port.is_some_and(|p| p > 255) {
        return Err(ToolError::invalid("port", "an ICMP type is 0 to 255"));
    }
    match (proto, addr) {
        (Proto::Icmp, IpAddr::V6(_)) | (Proto::Icmpv6, IpAddr::V4(_)) => {
            return Err(ToolError::invalid(
                "protocol",
                "icmp is for IPv4 addresses and icmpv6 for IPv6",
            ));
        }
        _ => {}
    }
    let target = policy::target(&i.target)?;
    if let Some(r) = &i.region {
        policy::region("region", r)?;
    }
    let aws = clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = aws.resolve(&target).await?;
    let mut rules = Vec::new();
    for g in &groups {
        rules.extend(aws.group_rules(g).await?);
    }
    let mut lists = std::collections::BTreeMap::new();
    for r in rules
        .iter()
        .filter(|r| r.direction == "ingress" && r.source.starts_with("pl-"))
    {
        if !lists.contains_key(&r.source) {
            let entries = aws
                .prefix_list_entries(&r.source)
                .await
                .map_err(|e| e.to_string());
            lists.insert(r.source.clone(), entries);
        }
    }
    let q = Question {
        address: addr,
        proto,
        port,
    };
    let (allowing, conditional, near_misses) =
        decide(&q, &rules, &|r| source_match(r, addr, &lists));
    let verdict = if !allowing.is_empty() {
        "allowed"
    } else if !conditional.is_empty() {
        "conditional"
    } else {
        "not_allowed"
    };
    Ok(AccessOutput {
        address: addr.to_string(),
        protocol: proto.name().into(),
        port,
        region: aws.region.clone(),
        groups,
        verdict: verdict.into(),
        allowed: !allowing.is_empty(),
        allowing,
        conditional,
        near_misses,
        not_evaluated: vec![
            "network ACLs of the subnets".into(),
            "route tables and the resource's own firewall".into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, source: &str, proto: &str, from: i32, to: i32) -> Rule {
        Rule {
            rule_id: id.into(),
            group_id: "sg-1".into(),
            direction: "ingress".into(),
            protocol: proto.into(),
            from_port: Some(from),
            to_port: Some(to),
            source: source.into(),
            description: None,
            tags: Default::default(),
            expires_at: None,
            managed: false,
        }
    }

    fn ask(
        addr: &str,
        proto: Proto,
        port: Option<u16>,
        rules: &[Rule],
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let a: IpAddr = addr.parse().expect("ip");
        let q = Question {
            address: a,
            proto,
            port,
        };
        let mut lists = std::collections::BTreeMap::new();
        lists.insert("pl-ok".to_string(), Ok(vec!["198.51.100.0/24".to_string()]));
        lists.insert("pl-denied".to_string(), Err("AccessDenied".to_string()));
        let (y, c, n) = decide(&q, rules, &|r| source_match(r, a, &lists));
        let ids = |v: Vec<RuleMatch>| v.into_iter().map(|m| m.rule_id).collect();
        (ids(y), ids(c), ids(n))
    }

    #[test]
    fn containment_ports_protocols_and_references() {
        let rules = vec![
            rule("r24", "203.0.113.0/24", "tcp", 443, 443),
            rule("r6", "2001:db8:1::/64", "tcp", 22, 22),
            rule("range", "192.0.2.0/24", "tcp", 8000, 8100),
            rule("all", "10.9.0.0/16", "-1", -1, -1),
            rule("sg", "sg-0abc", "tcp", 443, 443),
            rule("pl", "pl-ok", "tcp", 5432, 5432),
            rule("pldenied", "pl-denied", "tcp", 5432, 5432),
            rule("ping", "100.64.0.0/10", "icmp", 8, -1),
            rule("udp", "203.0.113.0/24", "udp", 53, 53),
        ];
        let none: Vec<String> = Vec::new();
        assert_eq!(
            ask("203.0.113.7", Proto::Tcp, Some(443), &rules),
            (vec!["r24".into()], vec!["sg".into()], vec!["udp".into()])
        );
        assert_eq!(
            ask("2001:db8:1::42", Proto::Tcp, Some(22), &rules).0,
            vec!["r6"]
        );
        assert_eq!(
            ask("2001:db8:2::42", Proto::Tcp, Some(22), &rules).0,
            none,
            "another /64"
        );
        assert_eq!(
            ask("192.0.2.9", Proto::Tcp, Some(8050), &rules).0,
            vec!["range"]
        );
        assert_eq!(
            ask("192.0.2.9", Proto::Tcp, Some(8101), &rules).2,
            vec!["range"],
            "a near miss"
        );
        assert_eq!(
            ask("10.9.3.4", Proto::Udp, Some(9999), &rules).0,
            vec!["all"],
            "protocol -1"
        );
        assert_eq!(
            ask("198.51.100.5", Proto::Tcp, Some(5432), &rules),
            (vec!["pl".into()], vec!["pldenied".into()], none.clone())
        );
        assert_eq!(
            ask("100.64.1.1", Proto::Icmp, Some(8), &rules).0,
            vec!["ping"]
        );
        assert_eq!(
            ask("100.64.1.1", Proto::Icmp, Some(0), &rules).2,
            vec!["ping"],
            "another ICMP type"
        );
        assert_eq!(
            ask("100.64.1.1", Proto::Icmp, None, &rules).2,
            vec!["ping"],
            "not every type"
        );
        assert_eq!(ask("8.8.8.8", Proto::Tcp, Some(443), &rules).0, none);
    }

    #[test]
    fn addresses_are_one_host() {
        assert_eq!(
            address("203.0.113.7/32").expect("host"),
            "203.0.113.7".parse::<IpAddr>().expect("ip")
        );
        assert!(
            address("203.0.113.0/24")
                .expect_err("net")
                .to_string()
                .contains("is a network")
        );
        assert!(address("nope").is_err());
        assert!(address("1.2.3.4\n").is_err());
    }
}
