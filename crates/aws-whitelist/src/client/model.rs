//! What the tools read from AWS, as typed values: targets, groups, rules, identities and
//! profiles. Nothing from the SDK crosses into the tools.

use std::collections::BTreeMap;

use mcp_core::validate::{Cidr, PortRange};
use schemars::JsonSchema;
use serde::Serialize;

pub const TAG_OWNER: &str = "secops-mcp:owner";
pub const TAG_REASON: &str = "secops-mcp:reason";
pub const TAG_EXPIRES: &str = "secops-mcp:expires-at";
/// Which deployment wrote the rule (`AWSWL_INSTANCE`). Sweeps and removals touch only their own.
pub const TAG_INSTANCE: &str = "secops-mcp:instance";
/// The instance a managed rule without [`TAG_INSTANCE`] (written before the tag existed) counts as.
pub const LEGACY_INSTANCE: &str = crate::config::DEFAULT_INSTANCE;

/// A resource or group: `sg-…`, `rds:ID`, `elasticache:ID`, `elb:NAME-OR-ARN`, `ec2:i-…`
/// (parsed by [`crate::policy::target`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Group(String),
    Rds(String),
    ElastiCache(String),
    Elb(String),
    Ec2(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Group(g) => write!(f, "{g}"),
            Self::Rds(id) => write!(f, "rds:{id}"),
            Self::ElastiCache(id) => write!(f, "elasticache:{id}"),
            Self::Elb(id) => write!(f, "elb:{id}"),
            Self::Ec2(id) => write!(f, "ec2:{id}"),
        }
    }
}

/// A checked filter of `ec2:DescribeSecurityGroups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    /// `vpc-id`
    Vpc(String),
    /// `group-name` (exact)
    Name(String),
    /// `tag:KEY` = VALUE
    Tag { key: String, value: String },
}

/// One security group.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Group {
    /// `sg-…`
    pub group_id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// How many ingress permissions the group has.
    pub ingress_rules: usize,
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
    pub tags: BTreeMap<String, String>,
    /// From the `secops-mcp:expires-at` tag.
    pub expires_at: Option<String>,
    /// Whether this server created it (has a `secops-mcp:owner` tag).
    pub managed: bool,
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

    /// An ingress rule opening exactly `ingress`.
    pub fn opens(&self, ingress: &Ingress) -> bool {
        self.direction == "ingress"
            && self.source == ingress.cidr.to_string()
            && self.protocol == ingress.protocol
            && self.from_port == Some(i32::from(ingress.ports.from))
            && self.to_port == Some(i32::from(ingress.ports.to))
    }
}

/// What an ingress rule opens: checked addresses, ports and protocol.
#[derive(Debug, Clone)]
pub struct Ingress {
    pub cidr: Cidr,
    pub ports: PortRange,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
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

/// Who the credentials are (`sts:GetCallerIdentity`), and where.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Identity {
    pub account: Option<String>,
    pub arn: Option<String>,
    pub user_id: Option<String>,
    pub region: String,
    pub profile: Option<String>,
}

/// A profile of the shared AWS config files: its name and only its non-secret, descriptive
/// keys (each present only when set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Profile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_role_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_source: Option<String>,
}

impl Profile {
    /// The slot of a reported key; `None` for every other key (secrets included).
    pub(crate) fn key_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        Some(match key {
            "region" => &mut self.region,
            "role_arn" => &mut self.role_arn,
            "source_profile" => &mut self.source_profile,
            "sso_account_id" => &mut self.sso_account_id,
            "sso_role_name" => &mut self.sso_role_name,
            "credential_source" => &mut self.credential_source,
            _ => return None,
        })
    }
}
