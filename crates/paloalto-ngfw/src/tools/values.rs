//! Checks for every value a write sends: names, members, addresses, ports, free text. Each
//! refusal names the field (`tags[2]`, `source[0]`) and happens before any request.

use std::net::IpAddr;
use std::str::FromStr;

use mcp_core::ToolError;
use mcp_core::validate::{self, NameRules};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::client::entry::TextChange;
use crate::client::{Name, tagfilter};

/// Tag names: like object names, up to 127 characters.
pub const TAG_NAME: NameRules = NameRules {
    min_len: 1,
    max_len: 127,
    extra: "_-.:",
    spaces: true,
};

/// Most members a list may hold in one write.
pub const MAX_MEMBERS: usize = 500;

/// Longest description or comment PAN-OS stores.
pub const MAX_DESCRIPTION: usize = 1023;

/// An object, rule, zone, application, profile or group name.
pub fn name(field: &str, v: &str) -> Result<Name, ToolError> {
    Name::parse(field, v)
}

/// A tag name.
pub fn tag(field: &str, v: &str) -> Result<Name, ToolError> {
    Name::parse_with(field, v, TAG_NAME)
}

/// A list of `check`ed values, 1 to [`MAX_MEMBERS`] long, each refused as `field[i]`.
pub fn list(
    field: &str,
    v: &[String],
    allow_empty: bool,
    check: impl Fn(&str, &str) -> Result<String, ToolError>,
) -> Result<Vec<String>, ToolError> {
    validate::bounded_list(field, v, usize::from(!allow_empty), MAX_MEMBERS)?;
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for (i, m) in v.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let m = check(&f, m)?;
        if out.contains(&m) {
            return Err(ToolError::invalid(f, format!("repeats `{m}`")));
        }
        out.push(m);
    }
    Ok(out)
}

/// An optional list: `None` keeps what is there.
pub fn opt_list(
    field: &str,
    v: Option<&Vec<String>>,
    allow_empty: bool,
    check: impl Fn(&str, &str) -> Result<String, ToolError>,
) -> Result<Option<Vec<String>>, ToolError> {
    v.map(|l| list(field, l, allow_empty, check)).transpose()
}

/// A name member (zones, applications, services, categories, profiles, group members).
pub fn name_member(field: &str, v: &str) -> Result<String, ToolError> {
    name(field, v).map(|n| n.as_str().to_string())
}

/// A tag member.
pub fn tag_member(field: &str, v: &str) -> Result<String, ToolError> {
    tag(field, v).map(|n| n.as_str().to_string())
}

/// A rule's source or destination: `any`, an address object or group name, an IP address, a
/// CIDR (no host bits) or an IP range `A-B`. Addresses are printed back from their parsed form.
pub fn address_member(field: &str, v: &str) -> Result<String, ToolError> {
    validate::check_no_control(field, v)?;
    let looks_numeric = v.parse::<IpAddr>().is_ok()
        || v.contains('/')
        || (v.contains('-') && v.split('-').all(|p| p.parse::<IpAddr>().is_ok()));
    if !looks_numeric {
        return name_member(field, v);
    }
    if let Some((a, b)) = v.split_once('-') {
        return ip_range(field, a, b);
    }
    let c = validate::parse_cidr(field, v)?;
    if c.had_host_bits {
        return Err(ToolError::invalid(
            field,
            format!(
                "`{}` has host bits set; the network is {}",
                validate::excerpt(v, 64),
                c.net
            ),
        ));
    }
    let full = if c.is_ipv4() { 32 } else { 128 };
    Ok(if c.prefix_len() == full && !v.contains('/') {
        c.net.addr().to_string()
    } else {
        c.net.to_string()
    })
}

/// A single host address (no prefix).
fn host(field: &str, v: &str) -> Result<IpAddr, ToolError> {
    if v.contains('/') {
        return Err(ToolError::invalid(
            field,
            "a range's ends are single addresses",
        ));
    }
    let c = validate::parse_cidr(field, v)?;
    Ok(c.net.addr())
}

fn ip_range(field: &str, a: &str, b: &str) -> Result<String, ToolError> {
    let (a, b) = (host(field, a.trim())?, host(field, b.trim())?);
    if a.is_ipv4() != b.is_ipv4() {
        return Err(ToolError::invalid(
            field,
            "a range's ends are both IPv4 or both IPv6",
        ));
    }
    if a > b {
        return Err(ToolError::invalid(
            field,
            format!("the range {a}-{b} ends before it starts"),
        ));
    }
    Ok(format!("{a}-{b}"))
}

/// The kind of an address object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AddressKind {
    /// An address or network: `10.1.2.3`, `10.1.0.0/16`, `2001:db8::/64`.
    IpNetmask,
    /// A range: `10.1.1.10-10.1.1.99`.
    IpRange,
    /// An IPv4 address and wildcard mask: `10.1.0.1/0.0.255.254`.
    IpWildcard,
    /// A host name: `updates.example.com`.
    Fqdn,
}

impl AddressKind {
    pub fn element(self) -> &'static str {
        match self {
            Self::IpNetmask => "ip-netmask",
            Self::IpRange => "ip-range",
            Self::IpWildcard => "ip-wildcard",
            Self::Fqdn => "fqdn",
        }
    }
}

/// An address object's value, checked for its kind and printed back from its parsed form.
pub fn address_value(field: &str, kind: AddressKind, v: &str) -> Result<String, ToolError> {
    validate::check_no_control(field, v)?;
    match kind {
        AddressKind::IpNetmask => {
            // PAN-OS keeps an address with its mask (`10.1.2.3/24`): check, keep both parts.
            validate::parse_cidr(field, v)?;
            let (addr, prefix) = match v.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (v, None),
            };
            let addr = IpAddr::from_str(addr.trim())
                .map_err(|_| ToolError::invalid(field, "is not an IP address or network"))?;
            Ok(match prefix {
                Some(p) => format!("{addr}/{}", p.trim()),
                None => addr.to_string(),
            })
        }
        AddressKind::IpRange => {
            let (a, b) = v.split_once('-').ok_or_else(|| {
                ToolError::invalid(field, "an ip-range is FIRST-LAST, e.g. 10.1.1.10-10.1.1.99")
            })?;
            ip_range(field, a, b)
        }
        AddressKind::IpWildcard => {
            let (a, m) = v.split_once('/').ok_or_else(|| {
                ToolError::invalid(
                    field,
                    "an ip-wildcard is ADDRESS/MASK, e.g. 10.1.0.1/0.0.255.254",
                )
            })?;
            let a = host(field, a.trim())?;
            let m = host(field, m.trim())?;
            if !(a.is_ipv4() && m.is_ipv4()) {
                return Err(ToolError::invalid(field, "an ip-wildcard is IPv4 only"));
            }
            Ok(format!("{a}/{m}"))
        }
        AddressKind::Fqdn => fqdn(field, v),
    }
}

/// A host name: labels of letters, digits, `-` and `_`, at most 255 characters.
pub fn fqdn(field: &str, v: &str) -> Result<String, ToolError> {
    validate::check_len(field, v, 255)?;
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if v.is_empty() || !v.split('.').all(ok_label) {
        return Err(ToolError::invalid(
            field,
            format!(
                "`{}` is not a host name (labels of letters, digits, `-` and `_`, separated by dots)",
                validate::excerpt(v, 64)
            ),
        ));
    }
    Ok(v.to_string())
}

/// A port list: `443`, `80,443`, `8000-8100`, ports 0-65535.
pub fn ports(field: &str, v: &str) -> Result<String, ToolError> {
    validate::check_no_control(field, v)?;
    validate::check_len(field, v, 1023)?;
    let mut parts = Vec::new();
    for p in v.split(',') {
        let p = p.trim();
        let num = |s: &str| -> Result<u16, ToolError> {
            if s.is_empty()
                || !s.chars().all(|c| c.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return Err(ToolError::invalid(
                    field,
                    format!(
                        "`{}` is not a port or range (e.g. 443 or 8000-8100)",
                        validate::excerpt(p, 32)
                    ),
                ));
            }
            s.parse::<u16>().map_err(|_| {
                ToolError::invalid(
                    field,
                    format!("`{}` is beyond 65535", validate::excerpt(s, 32)),
                )
            })
        };
        match p.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a.trim())?, num(b.trim())?);
                if a > b {
                    return Err(ToolError::invalid(
                        field,
                        format!("the range {a}-{b} ends before it starts"),
                    ));
                }
                parts.push(format!("{a}-{b}"));
            }
            None => parts.push(num(p)?.to_string()),
        }
    }
    Ok(parts.join(","))
}

/// Refuse characters a person reading the configuration would not see or would see
/// reordered: control characters, zero-width characters, line separators, bidirectional
/// overrides and isolates, the BOM.
pub fn check_visible(field: &str, v: &str) -> Result<(), ToolError> {
    validate::check_no_control(field, v)?;
    if let Some(c) = v.chars().find(|c| {
        matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    }) {
        return Err(ToolError::invalid(
            field,
            format!("contains {}", validate::describe_char(c)),
        ));
    }
    Ok(())
}

/// Free text (a description, comments): visible characters only, at most `max` characters.
/// `None` keeps what is there, `""` clears it.
pub fn text(field: &str, v: Option<&str>, max: usize) -> Result<TextChange, ToolError> {
    if let Some(s) = v {
        check_visible(field, s)?;
        validate::check_len(field, s, max)?;
        if s.trim() != s {
            return Err(ToolError::invalid(
                field,
                "must not start or end with white space",
            ));
        }
    }
    Ok(TextChange::from_arg(v.map(str::to_string)))
}

/// A user or user group of a rule: `any`, `known-user`, `unknown`, `pre-logon`, or a name
/// such as `example\alice` or `cn=ops,dc=example,dc=com`.
pub fn user_member(field: &str, v: &str) -> Result<String, ToolError> {
    validate::name(
        field,
        v,
        NameRules {
            min_len: 1,
            max_len: 255,
            extra: "_-.@\\=,",
            spaces: true,
        },
    )
    .map(str::to_string)
}

/// A dynamic address-group filter: `'web' and ('prod' or 'dmz')`.
pub fn tag_filter(field: &str, v: &str) -> Result<String, ToolError> {
    check_visible(field, v)?;
    validate::check_len(field, v, 2047)?;
    if v.trim().is_empty() {
        return Err(ToolError::invalid(field, "must not be empty"));
    }
    tagfilter::parse(v).map_err(|e| {
        ToolError::invalid(
            field,
            format!(
                "is not a tag filter like 'web' and ('prod' or 'dmz'): {}",
                validate::excerpt(&e, 120)
            ),
        )
    })?;
    Ok(v.trim().to_string())
}

/// A tag color: `color1` to `color42`; `""` removes it.
pub fn color(field: &str, v: Option<&str>) -> Result<TextChange, ToolError> {
    match v {
        None => Ok(TextChange::Keep),
        Some("") => Ok(TextChange::Clear),
        Some(c) => {
            let n = c.strip_prefix("color").and_then(|n| {
                (!n.starts_with('0'))
                    .then(|| n.parse::<u8>().ok())
                    .flatten()
            });
            match n {
                Some(1..=42) => Ok(TextChange::Set(c.to_string())),
                _ => Err(ToolError::invalid(
                    field,
                    format!("`{}` is not color1 to color42", validate::excerpt(c, 32)),
                )),
            }
        }
    }
}

/// An interface name: `ethernet1/1`, `ethernet1/1.10`, `ae1`, `tunnel.1`, `loopback.2`.
pub fn interface(field: &str, v: &str) -> Result<String, ToolError> {
    validate::check_no_control(field, v)?;
    let ok = !v.is_empty()
        && v.len() <= 31
        && v.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(ToolError::invalid(
            field,
            format!(
                "`{}` is not an interface name like ethernet1/1 or ae1.10",
                validate::excerpt(v, 32)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_values_per_kind() {
        let ok = |k, v: &str| address_value("value", k, v).expect(v);
        assert_eq!(ok(AddressKind::IpNetmask, "10.1.2.3"), "10.1.2.3");
        assert_eq!(ok(AddressKind::IpNetmask, "10.1.2.3/24"), "10.1.2.3/24");
        assert_eq!(ok(AddressKind::IpNetmask, "2001:db8::/64"), "2001:db8::/64");
        assert_eq!(
            ok(AddressKind::IpRange, "10.0.0.1-10.0.0.9"),
            "10.0.0.1-10.0.0.9"
        );
        assert_eq!(
            ok(AddressKind::IpWildcard, "10.1.0.1/0.0.255.254"),
            "10.1.0.1/0.0.255.254"
        );
        assert_eq!(
            ok(AddressKind::Fqdn, "updates.example.com"),
            "updates.example.com"
        );
        for (k, bad) in [
            (AddressKind::IpNetmask, "10.0.0.1/33"),
            (AddressKind::IpNetmask, "010.0.0.1"),
            (AddressKind::IpNetmask, "10.0.0.1</ip-netmask><x>"),
            (AddressKind::IpNetmask, "::ffff:10.0.0.1"),
            (AddressKind::IpRange, "10.0.0.9-10.0.0.1"),
            (AddressKind::IpRange, "10.0.0.1-2001:db8::1"),
            (AddressKind::IpRange, "10.0.0.1"),
            (AddressKind::IpWildcard, "2001:db8::1/::ff"),
            (AddressKind::Fqdn, "a..b"),
            (AddressKind::Fqdn, "a b.com"),
            (AddressKind::Fqdn, "x.com\n"),
            (AddressKind::Fqdn, "-x.com"),
        ] {
            let e = address_value("value", k, bad).expect_err(bad);
            assert_eq!(e.field(), Some("value"), "{bad}");
        }
    }

    #[test]
    fn members_and_ports() {
        assert_eq!(address_member("s", "any").expect("any"), "any");
        assert_eq!(
            address_member("s", "web-srv-01").expect("name"),
            "web-srv-01"
        );
        assert_eq!(
            address_member("s", "10.0.0.0/8").expect("cidr"),
            "10.0.0.0/8"
        );
        assert_eq!(address_member("s", "10.0.0.5").expect("host"), "10.0.0.5");
        assert_eq!(
            address_member("s", "10.0.0.1-10.0.0.5").expect("range"),
            "10.0.0.1-10.0.0.5"
        );
        assert!(address_member("s", "10.0.0.5/8").is_err(), "host bits");
        assert!(address_member("s", "a'b").is_err());
        let e = list(
            "source",
            &["any".into(), "x]".into()],
            false,
            address_member,
        )
        .expect_err("bad");
        assert_eq!(e.field(), Some("source[1]"));
        let e = list("tags", &["a".into(), "a".into()], false, tag_member).expect_err("dup");
        assert_eq!(e.field(), Some("tags[1]"));
        assert!(list("from", &[], false, name_member).is_err());
        assert_eq!(
            ports("port", "80, 443,8000-8100").expect("ok"),
            "80,443,8000-8100"
        );
        for bad in ["", "70000", "10-5", "08", "80;rm", "1,,2", "a"] {
            assert!(ports("port", bad).is_err(), "{bad}");
        }
        assert_eq!(
            user_member("u", "example\\alice").expect("ok"),
            "example\\alice"
        );
        assert!(user_member("u", "a<b").is_err());
        assert!(tag_filter("f", "'web' and ('prod' or 'dmz')").is_ok());
        assert!(tag_filter("f", "'web' and (").is_err());
        assert!(matches!(
            color("c", Some("color42")),
            Ok(TextChange::Set(_))
        ));
        assert!(color("c", Some("color43")).is_err());
        assert!(color("c", Some("color07")).is_err());
        assert!(matches!(color("c", Some("")), Ok(TextChange::Clear)));
        assert_eq!(
            interface("i", "ethernet1/1.10").expect("ok"),
            "ethernet1/1.10"
        );
        assert!(interface("i", "eth<1>").is_err());
        assert!(matches!(text("d", Some(""), 10), Ok(TextChange::Clear)));
        assert!(text("d", Some("x\u{0}"), 10).is_err());
        assert!(text("d", Some("safe\u{202e}evil"), 20).is_err());
        assert!(text("d", Some("Grüße, ok"), 20).is_ok());
        assert!(text("d", Some(&"x".repeat(11)), 10).is_err());
    }
}
