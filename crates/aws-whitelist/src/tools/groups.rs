//! Security groups and their rules: list, find, read.

use std::sync::Arc;

use mcp_core::{CallCtx, Page, PageSpec, Paging, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{clients, read};
use crate::Whitelist;
use crate::client::model::{Group, GroupFilter, Rule};
use crate::policy;

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

pub fn tools() -> Vec<ToolDef<Whitelist>> {
    vec![
        ToolDef::new(LIST_SECURITY_GROUPS, list_security_groups),
        ToolDef::new(FIND_SECURITY_GROUP, find_security_group),
        ToolDef::new(LIST_RULES, list_rules),
    ]
}

/// Paging of `list_security_groups`: 50 groups by default, at most 200.
pub const PAGE: PageSpec = PageSpec::new(50, 200);

/// The most ids one call may name: AWS's own filter limit, and a bound on the request size.
const MAX_IDS: usize = 200;

/// A `KEY=VALUE` tag filter.
fn tag_filter(field: &str, tag: &str) -> Result<GroupFilter, ToolError> {
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
    Ok(GroupFilter::Tag {
        key: k.to_string(),
        value: v.to_string(),
    })
}

/// A security group name as AWS allows it (1-255 characters of a fixed set), checked before
/// it goes into a filter.
fn name_filter(field: &str, n: &str) -> Result<GroupFilter, ToolError> {
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
    Ok(GroupFilter::Name(n.to_string()))
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
    /// Groups to skip; default 0 (use `next_offset` of the previous page).
    pub offset: Option<u32>,
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
}

async fn list_security_groups(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: ListGroupsInput,
) -> Result<Page<Group>, ToolError> {
    let paging = Paging::new(i.limit, i.offset, PAGE)?;
    let mut filters = Vec::new();
    if let Some(v) = &i.vpc_id {
        if !v.starts_with("vpc-") || v.len() > 32 || !v[4..].chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(ToolError::invalid(
                "vpc_id",
                "must look like vpc-0123456789abcdef0",
            ));
        }
        filters.push(GroupFilter::Vpc(v.clone()));
    }
    if let Some(n) = &i.name {
        filters.push(name_filter("name", n)?);
    }
    if let Some(t) = &i.tag {
        filters.push(tag_filter("tag", t)?);
    }
    mcp_core::validate::bounded_list("group_ids", &i.group_ids, 0, MAX_IDS)?;
    let ids = i
        .group_ids
        .iter()
        .enumerate()
        .map(|(n, g)| policy::group_id(&format!("group_ids[{n}]"), g))
        .collect::<Result<Vec<_>, _>>()?;
    let aws = clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let mut all = aws.security_groups(&filters, &ids).await?;
    all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    Ok(Page::of(all, paging))
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
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FindOutput {
    /// The groups found.
    pub groups: Vec<Group>,
}

async fn find_security_group(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: FindInput,
) -> Result<FindOutput, ToolError> {
    enum By {
        Resource(crate::client::model::Target),
        Filter(GroupFilter),
    }
    let by = match (&i.resource, &i.name, &i.tag) {
        (Some(r), None, None) => {
            // policy::target names its own field `target`; this tool calls it `resource`.
            By::Resource(policy::target(r).map_err(|e| match e {
                ToolError::InvalidInput { reason, .. } => ToolError::invalid("resource", reason),
                other => other,
            })?)
        }
        (None, Some(n), None) => By::Filter(name_filter("name", n)?),
        (None, None, Some(t)) => By::Filter(tag_filter("tag", t)?),
        _ => {
            return Err(ToolError::invalid(
                "resource",
                "give exactly one of resource, name or tag",
            ));
        }
    };
    let aws = clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = match by {
        By::Resource(t) => {
            let ids = aws.resolve(&t).await?;
            aws.security_groups(&[], &ids).await?
        }
        By::Filter(f) => aws.security_groups(&[f], &[]).await?,
    };
    Ok(FindOutput { groups })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    /// A group id (sg-…) or a resource whose groups to list.
    pub target: String,
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
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
    ctx: CallCtx,
    i: RulesInput,
) -> Result<RulesOutput, ToolError> {
    let t = policy::target(&i.target)?;
    let aws = clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = aws.resolve(&t).await?;
    let mut all = Vec::new();
    for g in &groups {
        all.extend(aws.group_rules(g).await?);
    }
    let (egress, ingress) = all.into_iter().partition(|r| r.direction == "egress");
    Ok(RulesOutput {
        groups,
        ingress,
        egress,
    })
}
