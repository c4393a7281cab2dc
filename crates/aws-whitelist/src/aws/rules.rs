//! Security-group operations: resolve resources, add, find, list and remove rules.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroupRule, Tag,
    TagSpecification,
};
use mcp_core::ToolError;
use mcp_core::validate::{Cidr, PortRange};
use schemars::JsonSchema;
use serde::Serialize;

use super::Clients;
use super::errors::{code, map};
use crate::guard::Target;

pub const TAG_OWNER: &str = "secops-mcp:owner";
pub const TAG_REASON: &str = "secops-mcp:reason";
pub const TAG_EXPIRES: &str = "secops-mcp:expires-at";
/// Which deployment wrote the rule (`AWSWL_INSTANCE`). Sweeps and removals touch only their own.
pub const TAG_INSTANCE: &str = "secops-mcp:instance";
/// The instance a managed rule without [`TAG_INSTANCE`] (written before the tag existed) counts as.
pub const LEGACY_INSTANCE: &str = crate::settings::DEFAULT_INSTANCE;

/// The security groups behind a target.
pub async fn resolve(c: &Clients, t: &Target) -> Result<Vec<String>, ToolError> {
    let groups: Vec<String> = match t {
        Target::Group(g) => vec![g.clone()],
        Target::Rds(id) => {
            let out = c
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| map("rds:DescribeDBInstances", e))?;
            out.db_instances()
                .iter()
                .flat_map(|d| d.vpc_security_groups())
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect()
        }
        Target::ElastiCache(id) => {
            let out = c
                .elasticache
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await
                .map_err(|e| map("elasticache:DescribeCacheClusters", e))?;
            out.cache_clusters()
                .iter()
                .flat_map(|cc| cc.security_groups())
                .filter_map(|g| g.security_group_id().map(str::to_string))
                .collect()
        }
        Target::Elb(id) => {
            let req = c.elb.describe_load_balancers();
            let req = if id.starts_with("arn:") {
                req.load_balancer_arns(id)
            } else {
                req.names(id)
            };
            let out = req
                .send()
                .await
                .map_err(|e| map("elasticloadbalancing:DescribeLoadBalancers", e))?;
            out.load_balancers()
                .iter()
                .flat_map(|lb| lb.security_groups())
                .cloned()
                .collect()
        }
        Target::Ec2(id) => {
            let out = c
                .ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| map("ec2:DescribeInstances", e))?;
            out.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .flat_map(|i| i.security_groups())
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect()
        }
    };
    let mut groups = groups;
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        return Err(ToolError::NotFound(format!(
            "{t:?} has no security groups (or AWS did not report them)"
        )));
    }
    Ok(groups)
}

impl Rule {
    /// The deployment that wrote this managed rule (see [`TAG_INSTANCE`]).
    pub fn instance(&self) -> &str {
        self.tags
            .get(TAG_INSTANCE)
            .map(String::as_str)
            .unwrap_or(LEGACY_INSTANCE)
    }

    /// The `secops-mcp:owner` tag.
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(TAG_OWNER).map(String::as_str)
    }

    /// Managed by the deployment named `instance`.
    pub fn managed_by(&self, instance: &str) -> bool {
        self.managed && self.instance() == instance
    }
}

/// One rule as this server reports it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rule {
    pub rule_id: String,
    pub group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// The CIDR (v4 or v6), or the referenced group.
    pub source: String,
    pub description: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    /// From the `secops-mcp:expires-at` tag.
    pub expires_at: Option<String>,
    /// Whether this server created it (has a `secops-mcp:owner` tag).
    pub managed: bool,
}

pub fn to_rule(r: &SecurityGroupRule) -> Rule {
    let tags: std::collections::BTreeMap<String, String> = r
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let source = r
        .cidr_ipv4()
        .or(r.cidr_ipv6())
        .map(str::to_string)
        .or_else(|| {
            r.referenced_group_info()
                .and_then(|g| g.group_id())
                .map(str::to_string)
        })
        .or_else(|| r.prefix_list_id().map(str::to_string))
        .unwrap_or_default();
    Rule {
        rule_id: r.security_group_rule_id().unwrap_or_default().to_string(),
        group_id: r.group_id().unwrap_or_default().to_string(),
        direction: if r.is_egress() == Some(true) {
            "egress".into()
        } else {
            "ingress".into()
        },
        protocol: r.ip_protocol().unwrap_or("-1").to_string(),
        from_port: r.from_port(),
        to_port: r.to_port(),
        source,
        description: r.description().map(str::to_string),
        expires_at: tags.get(TAG_EXPIRES).cloned(),
        managed: tags.contains_key(TAG_OWNER),
        tags,
    }
}

/// Every rule of a group (both directions).
pub async fn group_rules(c: &Clients, group: &str) -> Result<Vec<Rule>, ToolError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..50 {
        let resp = c
            .ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group).build())
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .map_err(|e| map("ec2:DescribeSecurityGroupRules", e))?;
        out.extend(resp.security_group_rules().iter().map(to_rule));
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// What an authorize attempt did for one group.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Added {
    pub group_id: String,
    /// `added`, `exists` or `dry_run`.
    pub status: String,
    pub rule_ids: Vec<String>,
    /// When the rule expires: for `exists`, the expiry the existing rule really carries (its `secops-mcp:expires-at` tag), which may differ from the one asked for; absent if it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn matches(r: &Rule, cidr: &Cidr, ports: PortRange, proto: &str) -> bool {
    r.direction == "ingress"
        && r.source == cidr.to_string()
        && r.protocol == proto
        && r.from_port == Some(i32::from(ports.from))
        && r.to_port == Some(i32::from(ports.to))
}

/// Add one ingress rule to `group`, idempotently.
#[allow(clippy::too_many_arguments)]
pub async fn authorize(
    c: &Clients,
    group: &str,
    cidr: &Cidr,
    ports: PortRange,
    proto: &str,
    description: &str,
    tags: &[(String, String)],
    dry_run: bool,
) -> Result<Added, ToolError> {
    let mut perm = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(i32::from(ports.from))
        .to_port(i32::from(ports.to));
    perm = if cidr.is_ipv4() {
        perm.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr.to_string())
                .description(description)
                .build(),
        )
    } else {
        perm.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(cidr.to_string())
                .description(description)
                .build(),
        )
    };
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroupRule)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build();
    let res = c
        .ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(perm.build())
        .tag_specifications(spec)
        .dry_run(dry_run)
        .send()
        .await;
    let asked_expiry = tags
        .iter()
        .find(|(k, _)| k == TAG_EXPIRES)
        .map(|(_, v)| v.clone());
    match res {
        Ok(out) => Ok(Added {
            group_id: group.into(),
            status: "added".into(),
            expires_at: asked_expiry,
            rule_ids: out
                .security_group_rules()
                .iter()
                .filter_map(|r| r.security_group_rule_id().map(str::to_string))
                .collect(),
        }),
        Err(e) => match code(&e).as_deref() {
            Some("DryRunOperation") => Ok(Added {
                group_id: group.into(),
                status: "dry_run".into(),
                rule_ids: Vec::new(),
                expires_at: asked_expiry,
            }),
            Some("InvalidPermission.Duplicate") => {
                let existing: Vec<Rule> = group_rules(c, group)
                    .await?
                    .into_iter()
                    .filter(|r| matches(r, cidr, ports, proto))
                    .collect();
                // The rule that is there keeps its own expiry (or none): report that one.
                let expires_at = existing.iter().find_map(|r| r.expires_at.clone());
                Ok(Added {
                    group_id: group.into(),
                    status: "exists".into(),
                    rule_ids: existing.into_iter().map(|r| r.rule_id).collect(),
                    expires_at,
                })
            }
            _ => Err(map("ec2:AuthorizeSecurityGroupIngress", e)),
        },
    }
}

/// Remove ingress rules (by id) from one group.
pub async fn revoke(
    c: &Clients,
    group: &str,
    rule_ids: &[String],
    dry_run: bool,
) -> Result<bool, ToolError> {
    let res = c
        .ec2
        .revoke_security_group_ingress()
        .group_id(group)
        .set_security_group_rule_ids(Some(rule_ids.to_vec()))
        .dry_run(dry_run)
        .send()
        .await;
    match res {
        Ok(_) => Ok(true),
        Err(e) if code(&e).as_deref() == Some("DryRunOperation") => Ok(false),
        Err(e) => Err(map("ec2:RevokeSecurityGroupIngress", e)),
    }
}

/// Find rules by id (any group).
pub async fn rules_by_id(c: &Clients, ids: &[String]) -> Result<Vec<Rule>, ToolError> {
    let resp = c
        .ec2
        .describe_security_group_rules()
        .set_security_group_rule_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| map("ec2:DescribeSecurityGroupRules", e))?;
    Ok(resp.security_group_rules().iter().map(to_rule).collect())
}

/// Rules this server manages that carry an expiry (all groups of the region).
pub async fn expiring_rules(c: &Clients) -> Result<Vec<Rule>, ToolError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..50 {
        let resp = c
            .ec2
            .describe_security_group_rules()
            .filters(
                Filter::builder()
                    .name("tag-key")
                    .values(TAG_EXPIRES)
                    .build(),
            )
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .map_err(|e| map("ec2:DescribeSecurityGroupRules", e))?;
        out.extend(resp.security_group_rules().iter().map(to_rule));
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Filters on tags are not honoured by every endpoint: check the tag ourselves.
    Ok(out
        .into_iter()
        .filter(|r| r.expires_at.is_some() && r.managed)
        .collect())
}
