//! Security-group operations: resolve resources, add, find, list and remove rules.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroupRule, Tag,
    TagSpecification,
};

use super::Clients;
use super::error::{ClientError, code, map};
use super::model::{
    Added, Group, GroupFilter, Identity, Ingress, Rule, TAG_EXPIRES, TAG_OWNER, Target,
};

impl Clients {
    /// The security groups behind a target.
    pub async fn resolve(&self, t: &Target) -> Result<Vec<String>, ClientError> {
        let c = self;
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
            return Err(ClientError::NoGroups(format!("{t:?}")));
        }
        Ok(groups)
    }

    /// Every rule of a group (both directions).
    pub async fn group_rules(&self, group: &str) -> Result<Vec<Rule>, ClientError> {
        let c = self;
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

    /// Add one ingress rule to `group`, idempotently.
    pub async fn authorize(
        &self,
        group: &str,
        ingress: &Ingress,
        description: &str,
        tags: &[(String, String)],
        dry_run: bool,
    ) -> Result<Added, ClientError> {
        let c = self;
        let (cidr, ports, proto) = (&ingress.cidr, ingress.ports, ingress.protocol);
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
            .customize()
            .config_override(write_once())
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
                    let existing: Vec<Rule> = c
                        .group_rules(group)
                        .await?
                        .into_iter()
                        .filter(|r| r.opens(ingress))
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
        &self,
        group: &str,
        rule_ids: &[String],
        dry_run: bool,
    ) -> Result<bool, ClientError> {
        let c = self;
        let res = c
            .ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .set_security_group_rule_ids(Some(rule_ids.to_vec()))
            .dry_run(dry_run)
            .customize()
            .config_override(write_once())
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if code(&e).as_deref() == Some("DryRunOperation") => Ok(false),
            Err(e) => Err(map("ec2:RevokeSecurityGroupIngress", e)),
        }
    }

    /// The CIDRs of a managed prefix list (`ec2:GetManagedPrefixListEntries`), all pages.
    pub async fn prefix_list_entries(&self, list: &str) -> Result<Vec<String>, ClientError> {
        let mut out = Vec::new();
        let mut token = None;
        for _ in 0..50 {
            let resp = self
                .ec2
                .get_managed_prefix_list_entries()
                .prefix_list_id(list)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| map("ec2:GetManagedPrefixListEntries", e))?;
            out.extend(
                resp.entries()
                    .iter()
                    .filter_map(|e| e.cidr().map(str::to_string)),
            );
            token = resp.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Find rules by id (any group).
    pub async fn rules_by_id(&self, ids: &[String]) -> Result<Vec<Rule>, ClientError> {
        let c = self;
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
    pub async fn expiring_rules(&self) -> Result<Vec<Rule>, ClientError> {
        let c = self;
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

    /// The security groups matching `filters` (all of them), or exactly `ids`.
    pub async fn security_groups(
        &self,
        filters: &[GroupFilter],
        ids: &[String],
    ) -> Result<Vec<Group>, ClientError> {
        let filters: Vec<Filter> = filters.iter().map(filter).collect();
        let mut out = Vec::new();
        let mut token = None;
        for _ in 0..20 {
            let mut req = self
                .ec2
                .describe_security_groups()
                .set_filters(Some(filters.clone()))
                .set_next_token(token);
            if ids.is_empty() {
                req = req.max_results(1000);
            } else {
                req = req.set_group_ids(Some(ids.to_vec()));
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

    /// `sts:GetCallerIdentity`: who these clients act as.
    pub async fn caller_identity(&self) -> Result<Identity, ClientError> {
        let id = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| map("sts:GetCallerIdentity", e))?;
        Ok(Identity {
            account: id.account().map(str::to_string),
            arn: id.arn().map(str::to_string),
            user_id: id.user_id().map(str::to_string),
            region: self.region.clone(),
            profile: self.profile.clone(),
        })
    }
}

fn to_rule(r: &SecurityGroupRule) -> Rule {
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

fn filter(f: &GroupFilter) -> Filter {
    match f {
        GroupFilter::Vpc(v) => Filter::builder().name("vpc-id").values(v).build(),
        GroupFilter::Name(n) => Filter::builder().name("group-name").values(n).build(),
        GroupFilter::Tag { key, value } => Filter::builder()
            .name(format!("tag:{key}"))
            .values(value)
            .build(),
    }
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

/// A write is sent once: a retry after an answer that got lost could apply it twice, so
/// only reads get the SDK's retries (ClientCache).
fn write_once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}
