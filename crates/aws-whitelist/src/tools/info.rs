//! Lookups and diagnostics: groups, rules, caller IP, profiles, identity, capabilities.

use std::sync::Arc;

use aws_sdk_ec2::types::Filter;
use mcp_core::upstream::{Idempotency, Upstream, UpstreamConfig, parse_base_url};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::clients;
use crate::Whitelist;
use crate::aws::errors::map;
use crate::aws::rules::{self, Rule};
use crate::guard;

const fn read(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    toolset: &'static str,
) -> ToolSpec {
    ToolSpec {
        name,
        title,
        description,
        scope: "aws:read",
        toolset,
        effect: Effect::ReadOnly,
        open_world: true,
    }
}

const LIST_SECURITY_GROUPS: ToolSpec = read(
    "list_security_groups",
    "Security groups",
    "List security groups, filtered by VPC, name, tag or id. Paged.",
    "groups",
);
const FIND_SECURITY_GROUP: ToolSpec = read(
    "find_security_group",
    "Find security groups",
    "Find the security groups of a resource (rds:ID, elasticache:ID, elb:NAME, ec2:i-…), or by exact name, id or tag.",
    "groups",
);
const LIST_RULES: ToolSpec = read(
    "list_rules",
    "Security group rules",
    "List the ingress and egress rules of a security group (or of a resource's groups) with descriptions, tags, expiry and whether secops-mcp manages them.",
    "groups",
);
const GET_MY_IP: ToolSpec = read(
    "get_my_ip",
    "My public IP",
    "The public IP address this server's side sees itself as (from the configured checker URL).",
    "diagnostics",
);
const LIST_PROFILES: ToolSpec = read(
    "list_profiles",
    "AWS profiles",
    "Profile names and regions from the shared AWS config files, and which ones calls may use. Never shows secrets.",
    "diagnostics",
);
const TEST_CREDENTIALS: ToolSpec = read(
    "test_credentials",
    "Test credentials",
    "sts:GetCallerIdentity for a profile: the account and ARN the server acts as.",
    "diagnostics",
);
const CAPABILITIES: ToolSpec = read(
    "capabilities",
    "Capabilities",
    "What this server allows: resource types, allowed ports, the broadest CIDRs, default region and profile, the description template.",
    "diagnostics",
);
const HEALTH: ToolSpec = read(
    "health",
    "Health",
    "Whether the AWS endpoint is reachable, and as whom.",
    "diagnostics",
);

pub fn tools() -> Vec<ToolDef<Whitelist>> {
    vec![
        ToolDef::new(LIST_SECURITY_GROUPS, list_security_groups),
        ToolDef::new(FIND_SECURITY_GROUP, find_security_group),
        ToolDef::new(LIST_RULES, list_rules),
        ToolDef::new(GET_MY_IP, get_my_ip),
        ToolDef::new(LIST_PROFILES, list_profiles),
        ToolDef::new(TEST_CREDENTIALS, test_credentials),
        ToolDef::new(CAPABILITIES, capabilities),
        ToolDef::new(HEALTH, health),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Where {
    pub profile: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub ingress_rules: usize,
}

fn group(g: &aws_sdk_ec2::types::SecurityGroup) -> Group {
    Group {
        group_id: g.group_id().unwrap_or_default().into(),
        name: g.group_name().unwrap_or_default().into(),
        description: g.description().unwrap_or_default().into(),
        vpc_id: g.vpc_id().map(str::to_string),
        tags: g
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        ingress_rules: g.ip_permissions().len(),
    }
}

fn tag_filter(field: &str, tag: &str) -> Result<Filter, ToolError> {
    let (k, v) = tag
        .split_once('=')
        .ok_or_else(|| ToolError::invalid(field, "must be KEY=VALUE"))?;
    mcp_core::validate::check_no_control(field, tag)?;
    if k.is_empty() || k.len() > 128 || v.len() > 256 {
        return Err(ToolError::invalid(
            field,
            "has an empty or too long key or value",
        ));
    }
    Ok(Filter::builder().name(format!("tag:{k}")).values(v).build())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroupsInput {
    /// Only groups in this VPC (vpc-…).
    pub vpc_id: Option<String>,
    /// Only groups with this exact name.
    pub name: Option<String>,
    /// Only groups with this tag, `KEY=VALUE`.
    pub tag: Option<String>,
    /// Only these group ids (at most 200).
    #[serde(default)]
    pub group_ids: Vec<String>,
    /// Page size 1-200, default 50.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub profile: Option<String>,
    pub region: Option<String>,
}

async fn describe_groups(
    s: &Whitelist,
    w: &Where,
    filters: Vec<Filter>,
    ids: Vec<String>,
) -> Result<Vec<Group>, ToolError> {
    let aws = clients(s, w.profile.as_deref(), w.region.as_deref()).await?;
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..20 {
        let mut req = aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(filters.clone()))
            .set_next_token(token);
        if ids.is_empty() {
            req = req.max_results(1000);
        } else {
            req = req.set_group_ids(Some(ids.clone()));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| map("ec2:DescribeSecurityGroups", e))?;
        out.extend(resp.security_groups().iter().map(group));
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The most ids one call may name: AWS's own filter limit, and a bound on the request size.
const MAX_IDS: usize = 200;

async fn list_security_groups(
    s: Arc<Whitelist>,
    _c: CallCtx,
    i: ListGroupsInput,
) -> Result<Value, ToolError> {
    let limit = i.limit.unwrap_or(50) as usize;
    if limit == 0 || limit > 200 {
        return Err(ToolError::invalid("limit", "must be between 1 and 200"));
    }
    let mut filters = Vec::new();
    if let Some(v) = &i.vpc_id {
        if !v.starts_with("vpc-") || v.len() > 32 || !v[4..].chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(ToolError::invalid(
                "vpc_id",
                "must look like vpc-0123456789abcdef0",
            ));
        }
        filters.push(Filter::builder().name("vpc-id").values(v).build());
    }
    if let Some(n) = &i.name {
        group_name("name", n)?;
        filters.push(Filter::builder().name("group-name").values(n).build());
    }
    if let Some(t) = &i.tag {
        filters.push(tag_filter("tag", t)?);
    }
    mcp_core::validate::bounded_list("group_ids", &i.group_ids, 0, MAX_IDS)?;
    let ids = i
        .group_ids
        .iter()
        .enumerate()
        .map(|(n, g)| guard::group_id(&format!("group_ids[{n}]"), g))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all = describe_groups(
        &s,
        &Where {
            profile: i.profile,
            region: i.region,
        },
        filters,
        ids,
    )
    .await?;
    all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let total = all.len();
    let offset = i.offset.unwrap_or(0) as usize;
    let items: Vec<Group> = all.into_iter().skip(offset).take(limit).collect();
    let has_more = offset + items.len() < total;
    Ok(
        json!({"items": items, "total": total, "offset": offset, "limit": limit, "has_more": has_more}),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindInput {
    /// A resource (rds:ID, elasticache:ID, elb:NAME-OR-ARN, ec2:i-…) or a group id.
    pub resource: Option<String>,
    /// An exact group name.
    pub name: Option<String>,
    /// A tag, `KEY=VALUE`.
    pub tag: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// A security group name as AWS allows it (1-255 characters of a fixed set), checked before
/// it goes into a filter.
fn group_name(field: &str, n: &str) -> Result<(), ToolError> {
    mcp_core::validate::name(
        field,
        n,
        mcp_core::validate::NameRules {
            min_len: 1,
            max_len: 255,
            extra: "_-.:/()#,@[]+=&;{}!$*",
            spaces: true,
        },
    )?;
    Ok(())
}

async fn find_security_group(
    s: Arc<Whitelist>,
    _c: CallCtx,
    i: FindInput,
) -> Result<Value, ToolError> {
    let w = Where {
        profile: i.profile.clone(),
        region: i.region.clone(),
    };
    let groups = match (&i.resource, &i.name, &i.tag) {
        (Some(r), None, None) => {
            // guard::target names its own field `target`; this tool calls it `resource`.
            let t = guard::target(r).map_err(|e| match e {
                ToolError::InvalidInput { reason, .. } => ToolError::invalid("resource", reason),
                other => other,
            })?;
            let aws = clients(&s, w.profile.as_deref(), w.region.as_deref()).await?;
            let ids = rules::resolve(&aws, &t).await?;
            describe_groups(&s, &w, Vec::new(), ids).await?
        }
        (None, Some(n), None) => {
            group_name("name", n)?;
            describe_groups(
                &s,
                &w,
                vec![Filter::builder().name("group-name").values(n).build()],
                Vec::new(),
            )
            .await?
        }
        (None, None, Some(t)) => {
            describe_groups(&s, &w, vec![tag_filter("tag", t)?], Vec::new()).await?
        }
        _ => {
            return Err(ToolError::invalid(
                "resource",
                "give exactly one of resource, name or tag",
            ));
        }
    };
    Ok(json!({"groups": groups}))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    /// A group id (sg-…) or a resource whose groups to list.
    pub target: String,
    pub profile: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RulesOutput {
    pub groups: Vec<String>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

async fn list_rules(
    s: Arc<Whitelist>,
    _c: CallCtx,
    i: RulesInput,
) -> Result<RulesOutput, ToolError> {
    let t = guard::target(&i.target)?;
    let aws = clients(&s, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = rules::resolve(&aws, &t).await?;
    let mut all = Vec::new();
    for g in &groups {
        all.extend(rules::group_rules(&aws, g).await?);
    }
    let (egress, ingress) = all.into_iter().partition(|r| r.direction == "egress");
    Ok(RulesOutput {
        groups,
        ingress,
        egress,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MyIp {
    pub ip: String,
    /// The same address as a /32 or /128, ready for `whitelist`.
    pub cidr: String,
    pub source: String,
}

async fn get_my_ip(s: Arc<Whitelist>, _c: CallCtx, _i: NoInput) -> Result<MyIp, ToolError> {
    let up = s
        .checkip
        .as_ref()
        .ok_or_else(|| ToolError::denied("no IP checker is configured (AWSWL_CHECKIP_URL)"))?;
    let resp = up
        .send(
            up.request(reqwest::Method::GET, ""),
            Idempotency::Idempotent,
        )
        .await?;
    if !resp.status.is_success() {
        return Err(ToolError::upstream(
            "IP checker",
            format!("HTTP {}", resp.status),
        ));
    }
    let text = String::from_utf8_lossy(&resp.body).trim().to_string();
    let c = mcp_core::validate::parse_cidr("ip", &text)
        .map_err(|_| ToolError::upstream("IP checker", "the answer is not an IP address"))?;
    Ok(MyIp {
        ip: c.net.addr().to_string(),
        cidr: c.to_string(),
        source: up.config().base_url.to_string(),
    })
}

/// Build the checker client (plain http only for loopback, as for every upstream).
pub fn checkip_client(url: &str) -> Result<Upstream, String> {
    let base = parse_base_url("AWSWL_CHECKIP_URL", url).map_err(|e| e.to_string())?;
    let mut cfg = UpstreamConfig::new("IP checker", base);
    cfg.total_timeout = std::time::Duration::from_secs(10);
    cfg.max_response_bytes = 1024;
    Upstream::new(cfg).map_err(|e| e.to_string())
}

async fn list_profiles(s: Arc<Whitelist>, _c: CallCtx, _i: NoInput) -> Result<Value, ToolError> {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/config"));
    let creds = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    let mut profiles: std::collections::BTreeMap<String, Value> = Default::default();
    for (path, is_config) in [(config, true), (creds, false)] {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let h = h.trim();
                let name = if is_config {
                    h.strip_prefix("profile ").unwrap_or(h).trim()
                } else {
                    h
                };
                current = (!h.starts_with("sso-session") && !h.starts_with("services"))
                    .then(|| name.to_string());
                if let Some(n) = &current {
                    profiles
                        .entry(n.clone())
                        .or_insert_with(|| json!({"name": n}));
                }
            } else if let (Some(n), Some((k, v))) = (&current, line.split_once('=')) {
                // Only non-secret, descriptive keys are reported.
                let k = k.trim();
                if [
                    "region",
                    "role_arn",
                    "source_profile",
                    "sso_account_id",
                    "sso_role_name",
                    "credential_source",
                ]
                .contains(&k)
                    && let Some(p) = profiles.get_mut(n)
                {
                    p[k] = json!(v.trim());
                }
            }
        }
    }
    Ok(json!({
        "profiles": profiles.into_values().collect::<Vec<_>>(),
        "allowed_for_calls": s.settings.profiles,
        "default_profile": s.settings.profile,
        "default_region": s.settings.region,
    }))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Identity {
    pub account: Option<String>,
    pub arn: Option<String>,
    pub user_id: Option<String>,
    pub region: String,
    pub profile: Option<String>,
}

async fn identity(s: &Whitelist, w: &Where) -> Result<Identity, ToolError> {
    let aws = clients(s, w.profile.as_deref(), w.region.as_deref()).await?;
    let id = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| map("sts:GetCallerIdentity", e))?;
    Ok(Identity {
        account: id.account().map(str::to_string),
        arn: id.arn().map(str::to_string),
        user_id: id.user_id().map(str::to_string),
        region: aws.region.clone(),
        profile: aws.profile.clone(),
    })
}

async fn test_credentials(s: Arc<Whitelist>, _c: CallCtx, i: Where) -> Result<Identity, ToolError> {
    identity(&s, &i).await
}

async fn capabilities(s: Arc<Whitelist>, _c: CallCtx, _i: NoInput) -> Result<Value, ToolError> {
    let st = &s.settings;
    Ok(json!({
        "targets": ["sg-…", "rds:DB-INSTANCE-ID", "elasticache:CLUSTER-ID", "elb:NAME-OR-ARN", "ec2:INSTANCE-ID"],
        "allowed_ports": st.allowed_ports.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "port_aliases": st.aliases.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
        "broadest_ipv4_prefix": st.max_prefix_v4,
        "broadest_ipv6_prefix": st.max_prefix_v6,
        "private_ranges_allowed": st.allow_private,
        "protocols": ["tcp", "udp"],
        "default_region": st.region,
        "default_profile": st.profile,
        "profiles_allowed_per_call": st.profiles,
        "description_template": st.description_template,
        "max_ttl": humantime::format_duration(st.max_ttl).to_string(),
        "sweep_interval": st.sweep_interval.map(|d| humantime::format_duration(d).to_string()),
        "ttl_regions": if st.sweep_interval.is_some() { st.swept_regions() } else { Vec::new() },
        "require_ttl": st.require_ttl,
        "remove_own_only": st.remove_own_only,
        "instance": st.instance,
    }))
}

async fn health(s: Arc<Whitelist>, _c: CallCtx, _i: NoInput) -> Result<Value, ToolError> {
    match identity(
        &s,
        &Where {
            profile: None,
            region: None,
        },
    )
    .await
    {
        Ok(id) => Ok(json!({"reachable": true, "identity": id})),
        Err(e) => Ok(json!({"reachable": false, "error": e.to_string()})),
    }
}
