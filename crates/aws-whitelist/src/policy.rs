//! Validation that runs before any AWS call. Each refusal names the field and the rule.

use mcp_core::ToolError;
use mcp_core::validate::{Cidr, NetClass, PortArg, PortRange, parse_cidr, parse_port_range};

use crate::client::model::Target;
use crate::config::Settings;

/// AWS regions this server accepts.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

pub fn region(field: &str, r: &str) -> Result<String, ToolError> {
    if REGIONS.contains(&r) {
        Ok(r.to_string())
    } else {
        Err(ToolError::invalid(
            field,
            format!(
                "`{}` is not an AWS region this server knows (e.g. us-east-1, eu-west-1)",
                mcp_core::validate::excerpt(r, 40)
            ),
        ))
    }
}

/// The profile a call acts with: one on the allowlist (`AWSWL_PROFILES`), or the server's
/// default when the call names none.
pub fn call_profile(s: &Settings, profile: Option<&str>) -> Result<Option<String>, ToolError> {
    let Some(p) = profile else {
        return Ok(s.profile.clone());
    };
    if !s.profiles.iter().any(|a| a == p) {
        return Err(ToolError::denied(format!(
            "profile `{}` is not on the allowlist (AWSWL_PROFILES: {})",
            mcp_core::validate::excerpt(p, 64),
            if s.profiles.is_empty() {
                "empty".into()
            } else {
                s.profiles.join(", ")
            }
        )));
    }
    // The SDK's chain prefers environment keys over a named profile: a per-call
    // profile would be silently ignored, so refuse it instead.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        return Err(ToolError::denied(
            "the server has AWS_ACCESS_KEY_ID in its environment, which the AWS SDK prefers over any named profile; remove it to use per-call profiles",
        ));
    }
    Ok(Some(p.to_string()))
}

/// The region a call acts in: a known one, or the server's default.
pub fn call_region(s: &Settings, r: Option<&str>) -> Result<String, ToolError> {
    match r {
        Some(r) => region("region", r),
        None => s.region.clone().ok_or_else(|| {
            ToolError::invalid(
                "region",
                "is required: pass region or set AWS_REGION on the server",
            )
        }),
    }
}

/// `sg-` and 8 or 17 hex digits.
pub fn group_id(field: &str, v: &str) -> Result<String, ToolError> {
    let hex = v.strip_prefix("sg-").unwrap_or("");
    if (hex.len() == 8 || hex.len() == 17)
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        Ok(v.to_string())
    } else {
        Err(ToolError::invalid(
            field,
            "must be a security group id like sg-0123456789abcdef0",
        ))
    }
}

/// `sgr-` and 17 hex digits.
pub fn rule_id(field: &str, v: &str) -> Result<String, ToolError> {
    let hex = v.strip_prefix("sgr-").unwrap_or("");
    if (8..=17).contains(&hex.len())
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        Ok(v.to_string())
    } else {
        Err(ToolError::invalid(
            field,
            "must be a security group rule id like sgr-0123456789abcdef0",
        ))
    }
}

/// What a rule may open.
pub fn cidr(s: &Settings, field: &str, input: &str) -> Result<Cidr, ToolError> {
    let c = parse_cidr(field, input)?;
    let class = c.class();
    let refuse = |why: String| Err(ToolError::denied(format!("`{field}` {c}: {why}")));
    match class {
        NetClass::Everything => {
            return refuse(
                "opens the port to the whole internet; name the addresses that need access".into(),
            );
        }
        NetClass::Loopback
        | NetClass::Unspecified
        | NetClass::Multicast
        | NetClass::Reserved
        | NetClass::Mixed => {
            return refuse(format!("is {class}, which never belongs in an allowlist"));
        }
        NetClass::Private | NetClass::LinkLocal if !s.allow_private => {
            return refuse(format!(
                "is {class}; private and link-local ranges are refused unless AWSWL_ALLOW_PRIVATE=true"
            ));
        }
        _ => {}
    }
    let max = if c.is_ipv4() {
        s.max_prefix_v4
    } else {
        s.max_prefix_v6
    };
    if c.prefix_len() < max {
        return refuse(format!(
            "/{} is broader than the allowed /{max} (AWSWL_MAX_PREFIX_V{})",
            c.prefix_len(),
            if c.is_ipv4() { 4 } else { 6 }
        ));
    }
    Ok(c)
}

/// A port (number, alias or range) or a `port_range`; must fall inside an allowed entry.
pub fn ports(
    s: &Settings,
    port: Option<&PortArg>,
    range: Option<&str>,
) -> Result<PortRange, ToolError> {
    let r = match (port, range) {
        (Some(_), Some(_)) => {
            return Err(ToolError::invalid(
                "port_range",
                "give port or port_range, not both",
            ));
        }
        (None, None) => {
            return Err(ToolError::invalid(
                "port",
                "is required (a number such as 443, a name such as ssh or postgres, or a range such as 8000-8100)",
            ));
        }
        // The server's port names are listed by the `capabilities` tool.
        (Some(p), None) => p.resolve("port", &s.aliases, "capabilities")?,
        (None, Some(r)) => parse_port_range("port_range", r)?,
    };
    let field = if range.is_some() {
        "port_range"
    } else {
        "port"
    };
    if !s
        .allowed_ports
        .iter()
        .any(|a| a.from <= r.from && r.to <= a.to)
    {
        let allowed: Vec<String> = s.allowed_ports.iter().map(ToString::to_string).collect();
        return Err(ToolError::denied(format!(
            "`{field}` {r} is not an allowed port; allowed: {} (AWSWL_ALLOWED_PORTS)",
            allowed.join(", ")
        )));
    }
    Ok(r)
}

/// `tcp` or `udp`.
pub fn protocol(p: Option<&str>) -> Result<&'static str, ToolError> {
    match p.map(|p| p.trim().to_ascii_lowercase()).as_deref() {
        None | Some("tcp") => Ok("tcp"),
        Some("udp") => Ok("udp"),
        Some(other) => Err(ToolError::invalid(
            "protocol",
            format!(
                "`{}` is not tcp or udp",
                mcp_core::validate::excerpt(other, 20)
            ),
        )),
    }
}

/// The reason recorded on the rule: plain text AWS accepts in descriptions and tags.
pub fn reason(field: &str, r: &str) -> Result<String, ToolError> {
    let r = r.trim();
    if r.is_empty() || r.len() > 100 {
        return Err(ToolError::invalid(
            field,
            "must be 1-100 characters saying why access is needed",
        ));
    }
    if let Some(c) = r
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " ._-:/@#,+=()".contains(*c)))
    {
        return Err(ToolError::invalid(
            field,
            format!(
                "contains {}; use letters, digits, spaces and . _ - : / @ # , + = ( )",
                mcp_core::validate::describe_char(c)
            ),
        ));
    }
    Ok(r.to_string())
}

/// A TTL such as `8h`, within the configured maximum.
pub fn ttl(s: &Settings, v: &str) -> Result<std::time::Duration, ToolError> {
    let d = mcp_core::config::parse_duration(v).map_err(|e| ToolError::invalid("ttl", e))?;
    if d.as_secs() < 60 {
        return Err(ToolError::invalid("ttl", "must be at least 1m"));
    }
    if d > s.max_ttl {
        return Err(ToolError::invalid(
            "ttl",
            format!(
                "is longer than the allowed {} (AWSWL_MAX_TTL)",
                humantime::format_duration(s.max_ttl)
            ),
        ));
    }
    Ok(d)
}

/// A resource or group: `sg-…`, `rds:ID`, `elasticache:ID`, `elb:NAME-OR-ARN`, `ec2:i-…`.
pub fn target(v: &str) -> Result<Target, ToolError> {
    let f = "target";
    let ident = |s: &str| {
        !s.is_empty()
            && s.len() <= 255
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    };
    if v.starts_with("sg-") {
        return group_id(f, v).map(Target::Group);
    }
    match v.split_once(':') {
        Some(("rds", id)) if ident(id) => Ok(Target::Rds(id.into())),
        Some(("elasticache", id)) if ident(id) => Ok(Target::ElastiCache(id.into())),
        Some(("elb", id))
            if ident(id)
                || (id.starts_with("arn:aws")
                    && id.len() <= 512
                    && !id.chars().any(|c| c.is_whitespace() || c.is_control())) =>
        {
            Ok(Target::Elb(id.into()))
        }
        Some(("ec2", id)) if id.starts_with("i-") && ident(id) => Ok(Target::Ec2(id.into())),
        _ => Err(ToolError::invalid(
            f,
            "must be a security group id (sg-…) or rds:ID, elasticache:ID, elb:NAME-OR-ARN, ec2:i-…",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::Env;

    fn settings() -> Settings {
        Settings::with_file(
            &Env::from_pairs([("AWSWL_ALLOWED_PORTS", "22,443,5432,8000-8100")]),
            crate::config::FileConfig::default(),
        )
        .expect("settings")
    }

    #[test]
    fn cidr_guardrails() {
        let s = settings();
        assert_eq!(
            cidr(&s, "cidr", "203.0.113.7").expect("ok").to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            cidr(&s, "cidr", "198.51.100.9/24").expect("ok").to_string(),
            "198.51.100.0/24"
        );
        assert_eq!(
            cidr(&s, "cidr", "2001:db8:1::5/64")
                .expect("v6")
                .to_string(),
            "2001:db8:1::/64"
        );
        assert!(
            cidr(&s, "cidr", "2001:db8::/48").is_err(),
            "broader than /64"
        );
        for bad in [
            "0.0.0.0/0",
            "::/0",
            "10.0.0.0/8",
            "192.168.1.5",
            "127.0.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "100.64.0.1",
            "203.0.113.0/23",
            "8.0.0.0/5",
            "fe80::1",
        ] {
            assert!(cidr(&s, "cidr", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_and_targets() {
        let s = settings();
        let text = |t: &str| PortArg::Text(t.into());
        assert_eq!(
            ports(&s, Some(&text("ssh")), None).expect("alias"),
            PortRange { from: 22, to: 22 }
        );
        assert_eq!(
            ports(&s, Some(&PortArg::Number(443)), None).expect("number"),
            PortRange { from: 443, to: 443 }
        );
        assert!(ports(&s, Some(&text("8000-8050")), None).is_ok());
        assert!(ports(&s, None, Some("8000-8050")).is_ok());
        assert!(ports(&s, None, Some("7999-8050")).is_err());
        assert!(ports(&s, Some(&text("3389")), None).is_err());
        assert!(ports(&s, Some(&PortArg::Number(3389)), None).is_err());
        assert!(ports(&s, None, None).is_err());
        assert_eq!(
            target("rds:prod-db").expect("ok"),
            Target::Rds("prod-db".into())
        );
        assert_eq!(
            target("sg-0123456789abcdef0").expect("ok"),
            Target::Group("sg-0123456789abcdef0".into())
        );
        for bad in [
            "sg-xyz",
            "rds:",
            "rds:a;b",
            "ec2:abc",
            "s3:bucket",
            "elb:a b",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
        assert!(region("region", "us-east-1").is_ok() && region("region", "mars-1").is_err());
    }
}
