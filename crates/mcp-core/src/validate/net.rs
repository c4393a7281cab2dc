//! IP addresses, CIDRs, ports and protocols.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::ToolError;

/// What kind of address range a CIDR is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetClass {
    /// `0.0.0.0/0` or `::/0`.
    Everything,
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    Multicast,
    /// Shared address space (100.64/10), benchmarking, reserved, and so on.
    Reserved,
    /// A broad range that is not inside any special range but includes one (`8.0.0.0/5`
    /// includes 10.0.0.0/8).
    Mixed,
    Public,
}

impl fmt::Display for NetClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Everything => "the whole address space",
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback range",
            Self::Private => "a private range",
            Self::LinkLocal => "a link-local range",
            Self::Multicast => "a multicast range",
            Self::Reserved => "a reserved or special-purpose range",
            Self::Mixed => "a range that includes private, loopback or reserved addresses",
            Self::Public => "a public range",
        })
    }
}

/// A parsed, normalised CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network with host bits cleared (`10.1.2.3/16` becomes `10.1.0.0/16`).
    pub net: IpNet,
    /// Whether the input had host bits set.
    pub had_host_bits: bool,
}

impl Cidr {
    pub fn prefix_len(&self) -> u8 {
        self.net.prefix_len()
    }
    pub fn is_ipv4(&self) -> bool {
        matches!(self.net, IpNet::V4(_))
    }
    pub fn class(&self) -> NetClass {
        classify(&self.net)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net)
    }
}

/// Parse an IP or CIDR, v4 or v6. A bare address becomes /32 or /128. IPv4-mapped IPv6
/// (`::ffff:1.2.3.4`) and IPv4 with leading zeros (`010.1.1.1`, ambiguous octal) are refused.
pub fn parse_cidr(field: &str, input: &str) -> Result<Cidr, ToolError> {
    super::check_no_control(field, input)?;
    let s = input.trim();
    if s.is_empty() {
        return Err(ToolError::invalid(
            field,
            "must be an IP address or CIDR, e.g. 203.0.113.7 or 2001:db8::/64",
        ));
    }
    if s.len() > 64 {
        return Err(ToolError::invalid(
            field,
            "is too long for an IP address or CIDR",
        ));
    }
    let (addr_s, prefix_s) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = IpAddr::from_str(addr_s).map_err(|_| {
        if addr_s.split('.').count() == 4 && addr_s.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
            ToolError::invalid(field, format!("`{s}` has an octet with a leading zero, which some systems read as octal; write it without leading zeros"))
        } else {
            ToolError::invalid(field, format!("`{s}` is not an IPv4 or IPv6 address or CIDR"))
        }
    })?;
    if let IpAddr::V6(v6) = addr
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(ToolError::invalid(
            field,
            format!("`{s}` is an IPv4-mapped IPv6 address; give the IPv4 form instead"),
        ));
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_s {
        None => max,
        Some(p) => {
            if p.is_empty()
                || !p.chars().all(|c| c.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return Err(ToolError::invalid(
                    field,
                    format!("`{s}` has an invalid prefix length `/{p}`"),
                ));
            }
            let n: u8 = p
                .parse()
                .map_err(|_| ToolError::invalid(field, format!("prefix `/{p}` is out of range")))?;
            if n > max {
                return Err(ToolError::invalid(
                    field,
                    format!("prefix `/{n}` is longer than /{max}"),
                ));
            }
            n
        }
    };
    let net = match addr {
        IpAddr::V4(a) => IpNet::V4(
            Ipv4Net::new(a, prefix).map_err(|e| ToolError::invalid(field, e.to_string()))?,
        ),
        IpAddr::V6(a) => IpNet::V6(
            Ipv6Net::new(a, prefix).map_err(|e| ToolError::invalid(field, e.to_string()))?,
        ),
    };
    let trunc = net.trunc();
    Ok(Cidr {
        had_host_bits: trunc.addr() != net.addr(),
        net: trunc,
    })
}

/// Classify a network by the most specific special-purpose range that contains it.
pub fn classify(net: &IpNet) -> NetClass {
    if net.prefix_len() == 0 {
        return NetClass::Everything;
    }
    match net {
        IpNet::V4(n) => classify_v4(n),
        IpNet::V6(n) => classify_v6(n),
    }
}

fn v4(s: &str) -> Ipv4Net {
    Ipv4Net::from_str(s).unwrap_or_default()
}

fn v6(s: &str) -> Ipv6Net {
    Ipv6Net::from_str(s).unwrap_or_default()
}

fn classify_v4(n: &Ipv4Net) -> NetClass {
    // Documentation ranges (TEST-NET-1/2/3, RFC 5737) are deliberately absent: they are never
    // routed, so examples and tests can use them as the public addresses they stand for.
    let table: [(&str, NetClass); 13] = [
        ("0.0.0.0/32", NetClass::Unspecified),
        ("0.0.0.0/8", NetClass::Reserved),
        ("127.0.0.0/8", NetClass::Loopback),
        ("10.0.0.0/8", NetClass::Private),
        ("172.16.0.0/12", NetClass::Private),
        ("192.168.0.0/16", NetClass::Private),
        ("169.254.0.0/16", NetClass::LinkLocal),
        ("224.0.0.0/4", NetClass::Multicast),
        ("100.64.0.0/10", NetClass::Reserved),
        ("192.0.0.0/24", NetClass::Reserved),
        ("198.18.0.0/15", NetClass::Reserved),
        ("240.0.0.0/4", NetClass::Reserved),
        ("255.255.255.255/32", NetClass::Reserved),
    ];
    let nets = table.map(|(r, c)| (v4(r), c));
    if let Some((_, c)) = nets.iter().find(|(r, _)| r.contains(n)) {
        return *c;
    }
    if nets.iter().any(|(r, _)| n.contains(r)) {
        return NetClass::Mixed;
    }
    NetClass::Public
}

fn classify_v6(n: &Ipv6Net) -> NetClass {
    if n.addr() == Ipv6Addr::UNSPECIFIED && n.prefix_len() == 128 {
        return NetClass::Unspecified;
    }
    let table: [(&str, NetClass); 7] = [
        ("::1/128", NetClass::Loopback),
        ("fc00::/7", NetClass::Private),
        ("fe80::/10", NetClass::LinkLocal),
        ("ff00::/8", NetClass::Multicast),
        ("::ffff:0:0/96", NetClass::Reserved),
        ("64:ff9b::/96", NetClass::Reserved),
        ("100::/64", NetClass::Reserved),
    ];
    let nets = table.map(|(r, c)| (v6(r), c));
    if let Some((_, c)) = nets.iter().find(|(r, _)| r.contains(n)) {
        return *c;
    }
    if nets.iter().any(|(r, _)| n.contains(r)) {
        return NetClass::Mixed;
    }
    if !v6("2000::/3").contains(n) {
        // Outside global unicast: nothing public lives there.
        return if n.contains(&v6("2000::/3")) {
            NetClass::Mixed
        } else {
            NetClass::Reserved
        };
    }
    NetClass::Public
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// Parse `443` or `8000-8100`. Port 0 is refused.
pub fn parse_port_range(field: &str, s: &str) -> Result<PortRange, ToolError> {
    let s = s.trim();
    let parse = |p: &str| -> Result<u16, ToolError> {
        let p = p.trim();
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return Err(ToolError::invalid(
                field,
                format!("`{s}` is not a port or port range like 443 or 8000-8100"),
            ));
        }
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(ToolError::invalid(
                field,
                format!("port `{p}` is outside 1-65535"),
            )),
        }
    };
    let (from, to) = match s.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(s)?;
            (p, p)
        }
    };
    if from > to {
        return Err(ToolError::invalid(
            field,
            format!("range `{s}` starts after it ends"),
        ));
    }
    Ok(PortRange { from, to })
}

/// An IP protocol for firewall rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::Icmpv6 => "icmpv6",
        }
    }
}

/// Parse `tcp`, `udp`, `icmp`, `icmpv6` (case-insensitive). "all"/"-1" is never accepted.
pub fn parse_protocol(field: &str, s: &str) -> Result<Protocol, ToolError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "tcp" | "6" => Ok(Protocol::Tcp),
        "udp" | "17" => Ok(Protocol::Udp),
        "icmp" | "1" => Ok(Protocol::Icmp),
        "icmpv6" | "58" => Ok(Protocol::Icmpv6),
        other => Err(ToolError::invalid(
            field,
            format!("`{other}` is not one of tcp, udp, icmp, icmpv6"),
        )),
    }
}

/// Whether an address is loopback (for bind checks).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.to_ipv4_mapped()
                    .is_some_and(|m: Ipv4Addr| m.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cidrs_normalise_like_aws() {
        let c = parse_cidr("cidr", "10.1.2.3/16").expect("ok");
        assert_eq!(c.to_string(), "10.1.0.0/16");
        assert!(c.had_host_bits);
        assert_eq!(c.class(), NetClass::Private);
        let c = parse_cidr("cidr", "203.0.113.7").expect("ok");
        assert_eq!(c.to_string(), "203.0.113.7/32");
        assert_eq!(c.class(), NetClass::Public);
        let c = parse_cidr("cidr", "2001:db8:abcd::1/48").expect("ok");
        assert_eq!(c.to_string(), "2001:db8:abcd::/48");
    }

    #[test]
    fn special_ranges_are_classified() {
        let cases = [
            ("0.0.0.0/0", NetClass::Everything),
            ("::/0", NetClass::Everything),
            ("0.0.0.0", NetClass::Unspecified),
            ("::", NetClass::Unspecified),
            ("127.0.0.1", NetClass::Loopback),
            ("::1", NetClass::Loopback),
            ("192.168.1.0/24", NetClass::Private),
            ("172.20.0.0/16", NetClass::Private),
            ("fd00::/8", NetClass::Private),
            ("169.254.169.254", NetClass::LinkLocal),
            ("fe80::1", NetClass::LinkLocal),
            ("224.0.0.1", NetClass::Multicast),
            ("ff02::1", NetClass::Multicast),
            ("100.64.0.1", NetClass::Reserved),
            ("8.0.0.0/5", NetClass::Mixed),
            ("0.0.0.0/1", NetClass::Mixed),
            ("1.0.0.0/8", NetClass::Public),
            ("198.51.100.0/24", NetClass::Public),
            ("3fff::/20", NetClass::Public),
            ("4000::/3", NetClass::Reserved),
            ("2600::/16", NetClass::Public),
        ];
        for (s, want) in cases {
            assert_eq!(parse_cidr("cidr", s).expect(s).class(), want, "{s}");
        }
    }

    #[test]
    fn hostile_cidrs_are_refused_with_field() {
        for bad in [
            "",
            "1.2.3.4/33",
            "::/129",
            "010.1.1.1",
            "1.2.3.4/08",
            "::ffff:1.2.3.4",
            "1.2.3.4/",
            "1.2.3",
            "1.2.3.4\n",
            "a.b.c.d",
            "1.2.3.4/-1",
            "1.2.3.4 /24",
        ] {
            let e = parse_cidr("cidr", bad).expect_err(bad);
            assert_eq!(e.field(), Some("cidr"), "{bad}");
        }
    }

    #[test]
    fn ports_and_protocols() {
        assert_eq!(
            parse_port_range("port", "443").expect("ok"),
            PortRange { from: 443, to: 443 }
        );
        assert_eq!(
            parse_port_range("port", "8000-8100")
                .expect("ok")
                .to_string(),
            "8000-8100"
        );
        for bad in ["0", "65536", "-1", "80-22", "x", "", "1e3", "+80"] {
            assert!(parse_port_range("port", bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_protocol("protocol", "TCP").expect("ok"),
            Protocol::Tcp
        );
        assert!(parse_protocol("protocol", "all").is_err());
        assert!(parse_protocol("protocol", "-1").is_err());
    }

    proptest! {
        #[test]
        fn any_v4_cidr_roundtrips(a: u32, p in 0u8..=32) {
            let s = format!("{}/{}", Ipv4Addr::from(a), p);
            let c = parse_cidr("cidr", &s).expect("valid");
            prop_assert_eq!(c.prefix_len(), p);
            let again = parse_cidr("cidr", &c.to_string()).expect("normalised parses");
            prop_assert_eq!(again.net, c.net);
            prop_assert!(!again.had_host_bits);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse_cidr("cidr", &s);
            let _ = parse_port_range("port", &s);
            let _ = super::super::name("name", &s, super::super::NameRules::PANOS_OBJECT);
        }

        #[test]
        fn any_v6_cidr_roundtrips(a: u128, p in 0u8..=128) {
            let addr = Ipv6Addr::from(a);
            let s = format!("{addr}/{p}");
            match parse_cidr("cidr", &s) {
                Ok(c) => {
                    prop_assert_eq!(c.prefix_len(), p);
                    let again = parse_cidr("cidr", &c.to_string()).expect("normalised parses");
                    prop_assert_eq!(again.net, c.net);
                    prop_assert!(!again.had_host_bits);
                    let _ = c.class().to_string();
                }
                Err(_) => prop_assert!(addr.to_ipv4_mapped().is_some(), "{} refused", s),
            }
        }

        /// CIDR-shaped text: whatever is accepted is a valid network that re-parses to
        /// itself; nothing panics.
        #[test]
        fn cidr_shaped_text(s in "[0-9a-f:.]{0,40}(/[0-9]{0,4})?") {
            if let Ok(c) = parse_cidr("cidr", &s) {
                let max_prefix = if c.is_ipv4() { 32 } else { 128 };
                prop_assert!(c.prefix_len() <= max_prefix);
                let again = parse_cidr("cidr", &c.to_string()).expect("normalised parses");
                prop_assert_eq!(again.net, c.net);
            }
        }

        #[test]
        fn port_ranges_roundtrip(a in 0u32..70_000, b in 0u32..70_000, single: bool) {
            let s = if single { a.to_string() } else { format!("{a} - {b}") };
            let want = if single { (a, a) } else { (a, b) };
            match parse_port_range("port", &s) {
                Ok(r) => {
                    prop_assert_eq!((u32::from(r.from), u32::from(r.to)), want);
                    prop_assert!(1 <= r.from && r.from <= r.to);
                    prop_assert_eq!(parse_port_range("port", &r.to_string()).expect("again"), r);
                }
                Err(_) => prop_assert!(want.0 == 0 || want.1 > 65535 || want.0 > want.1 || want.1 == 0),
            }
        }

        #[test]
        fn protocols_roundtrip(s in "(?i)(tcp|udp|icmp|icmpv6|6|17|1|58|all|-1|\\PC{0,6})", pad in " {0,2}") {
            if let Ok(p) = parse_protocol("protocol", &format!("{pad}{s}{pad}")) {
                prop_assert_eq!(parse_protocol("protocol", p.as_str()).expect("again"), p);
            }
        }
    }
}
