//! Diagnostics: the caller's IP, profiles, identity, capabilities, health.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::{CallCtx, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{clients, read};
use crate::Whitelist;
use crate::client::model::{Identity, Profile};
use crate::client::read_profiles;

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
        ToolDef::new(GET_MY_IP, get_my_ip),
        ToolDef::new(LIST_PROFILES, list_profiles),
        ToolDef::new(TEST_CREDENTIALS, test_credentials),
        ToolDef::new(CAPABILITIES, capabilities),
        ToolDef::new(HEALTH, health),
    ]
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
    let checker = s
        .checkip
        .as_ref()
        .ok_or_else(|| ToolError::denied("no IP checker is configured (AWSWL_CHECKIP_URL)"))?;
    let c = checker.my_ip().await?;
    Ok(MyIp {
        ip: c.net.addr().to_string(),
        cidr: c.to_string(),
        source: checker.url(),
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfilesOutput {
    /// The profiles of the shared config and credentials files, by name.
    pub profiles: Vec<Profile>,
    /// Profiles a call may name (`AWSWL_PROFILES`).
    pub allowed_for_calls: Vec<String>,
    /// The profile calls use when they name none (`AWS_PROFILE`).
    pub default_profile: Option<String>,
    /// The region calls use when they name none (`AWS_REGION`).
    pub default_region: Option<String>,
}

async fn list_profiles(
    s: Arc<Whitelist>,
    _c: CallCtx,
    _i: NoInput,
) -> Result<ProfilesOutput, ToolError> {
    Ok(ProfilesOutput {
        profiles: read_profiles().await,
        allowed_for_calls: s.settings.profiles.clone(),
        default_profile: s.settings.profile.clone(),
        default_region: s.settings.region.clone(),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Where {
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
}

async fn identity(s: &Whitelist, ctx: &CallCtx, w: &Where) -> Result<Identity, ToolError> {
    let aws = clients(s, ctx, w.profile.as_deref(), w.region.as_deref()).await?;
    Ok(aws.caller_identity().await?)
}

async fn test_credentials(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: Where,
) -> Result<Identity, ToolError> {
    identity(&s, &ctx, &i).await
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Capabilities {
    /// The forms a `target` may take.
    pub targets: Vec<&'static str>,
    /// Ports and ranges a rule may open (`AWSWL_ALLOWED_PORTS`).
    pub allowed_ports: Vec<String>,
    /// Port names a `port` may be given as, and their ports.
    pub port_aliases: BTreeMap<String, String>,
    /// The broadest IPv4 prefix a rule may open (`AWSWL_MAX_PREFIX_V4`).
    pub broadest_ipv4_prefix: u8,
    /// The broadest IPv6 prefix a rule may open (`AWSWL_MAX_PREFIX_V6`).
    pub broadest_ipv6_prefix: u8,
    /// Whether private and link-local ranges are allowed (`AWSWL_ALLOW_PRIVATE`).
    pub private_ranges_allowed: bool,
    pub protocols: Vec<&'static str>,
    pub default_region: Option<String>,
    pub default_profile: Option<String>,
    /// Profiles a call may name (`AWSWL_PROFILES`).
    pub profiles_allowed_per_call: Vec<String>,
    /// The rule description: `{subject}`, `{reason}`, `{date}`, `{expires}` are filled in.
    pub description_template: String,
    /// The longest `ttl`.
    pub max_ttl: String,
    /// How often the server sweeps expired rules; null when the sweep is off (then `ttl` is
    /// refused).
    pub sweep_interval: Option<String>,
    /// The regions a `ttl` is accepted for (the sweep covers them).
    pub ttl_regions: Vec<String>,
    /// Whether every rule needs a `ttl` (`AWSWL_REQUIRE_TTL`).
    pub require_ttl: bool,
    /// Whether `remove_whitelist` removes only the caller's own rules (`AWSWL_REMOVE_OWN_ONLY`).
    pub remove_own_only: bool,
    /// This deployment's `secops-mcp:instance` tag (`AWSWL_INSTANCE`).
    pub instance: String,
}

async fn capabilities(
    s: Arc<Whitelist>,
    _c: CallCtx,
    _i: NoInput,
) -> Result<Capabilities, ToolError> {
    let st = &s.settings;
    Ok(Capabilities {
        targets: vec![
            "sg-…",
            "rds:DB-INSTANCE-ID",
            "elasticache:CLUSTER-ID",
            "elb:NAME-OR-ARN",
            "ec2:INSTANCE-ID",
        ],
        allowed_ports: st.allowed_ports.iter().map(ToString::to_string).collect(),
        port_aliases: st
            .aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        broadest_ipv4_prefix: st.max_prefix_v4,
        broadest_ipv6_prefix: st.max_prefix_v6,
        private_ranges_allowed: st.allow_private,
        protocols: vec!["tcp", "udp"],
        default_region: st.region.clone(),
        default_profile: st.profile.clone(),
        profiles_allowed_per_call: st.profiles.clone(),
        description_template: st.description_template.clone(),
        max_ttl: humantime::format_duration(st.max_ttl).to_string(),
        sweep_interval: st
            .sweep_interval
            .map(|d| humantime::format_duration(d).to_string()),
        ttl_regions: if st.sweep_interval.is_some() {
            st.swept_regions()
        } else {
            Vec::new()
        },
        require_ttl: st.require_ttl,
        remove_own_only: st.remove_own_only,
        instance: st.instance.clone(),
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// Whether `sts:GetCallerIdentity` answered with the default profile and region.
    pub reachable: bool,
    /// Who the server acts as, when reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Why not, when not reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn health(s: Arc<Whitelist>, ctx: CallCtx, _i: NoInput) -> Result<Health, ToolError> {
    match identity(
        &s,
        &ctx,
        &Where {
            profile: None,
            region: None,
        },
    )
    .await
    {
        Ok(id) => Ok(Health {
            reachable: true,
            identity: Some(id),
            error: None,
        }),
        Err(e) => Ok(Health {
            reachable: false,
            identity: None,
            error: Some(e.to_string()),
        }),
    }
}
