//! Adding, removing and sweeping rules.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_core::validate::PortArg;
use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{aws_safe, rfc3339};
use crate::Whitelist;
use crate::client::ClientCache;
use crate::client::model::{
    Added, Ingress, Rule, TAG_EXPIRES, TAG_INSTANCE, TAG_OWNER, TAG_REASON, Target,
};
use crate::config::Settings;
use crate::policy;

const WHITELIST: ToolSpec = ToolSpec {
    name: "whitelist",
    title: "Allow an IP",
    description: "Allow an IP or CIDR to reach a port of a security group, or of the groups behind a resource (rds:ID, elasticache:ID, elb:NAME, ec2:i-…). Refuses 0.0.0.0/0, ranges broader than the configured maximum, private ranges and ports outside the allowlist. Adding an existing rule succeeds and says so, with that rule's own expiry. Every rule records who added it and why; ttl makes the server's sweep remove it.",
    scope: "aws:write",
    toolset: "rules",
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const WHITELIST_BULK: ToolSpec = ToolSpec {
    name: "whitelist_bulk",
    title: "Allow many IPs",
    description: "Apply many whitelist items. Every item is validated first; if any is invalid nothing is written. Items are then applied in order and each one's outcome is reported; a failed item does not undo earlier ones.",
    scope: "aws:write",
    toolset: "rules",
    effect: Effect::IdempotentWrite,
    open_world: true,
};

const REMOVE_WHITELIST: ToolSpec = ToolSpec {
    name: "remove_whitelist",
    title: "Remove an allowed IP",
    description: "Remove rules this server added: by rule_ids, or by cidr, port and target. Rules without the secops-mcp:owner tag, or written by another deployment (secops-mcp:instance), are never removed; the operator may allow removing only your own rules.",
    scope: "aws:write",
    toolset: "rules",
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

const SWEEP_EXPIRED: ToolSpec = ToolSpec {
    name: "sweep_expired",
    title: "Remove expired rules",
    description: "Remove the rules this deployment added (its secops-mcp:instance) whose secops-mcp:expires-at time has passed, in one region. The server also runs this sweep by itself on a schedule.",
    scope: "aws:write",
    toolset: "rules",
    effect: Effect::Destructive { idempotent: true },
    open_world: true,
};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhitelistInput {
    /// IP or CIDR, v4 or v6 (a bare IP means /32 or /128). Host bits are cleared as AWS does.
    pub cidr: String,
    /// `sg-…`, or `rds:DB-ID`, `elasticache:CLUSTER-ID`, `elb:NAME-OR-ARN`, `ec2:i-…`.
    pub target: String,
    #[serde(default)]
    #[schemars(schema_with = "mcp_core::validate::optional_port_schema")]
    pub port: Option<PortArg>,
    /// Or a port range `8000-8100`.
    pub port_range: Option<String>,
    /// `tcp` (default) or `udp`.
    pub protocol: Option<String>,
    /// Why access is needed; recorded on the rule.
    pub description: String,
    /// Remove after this long, e.g. `8h`: the server's sweep removes the rule once it expires. Refused where the sweep would not reach (see capabilities); required if the operator says so.
    pub ttl: Option<String>,
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
    /// Show the plan and check permissions (AWS DryRun) without changing anything or asking anyone.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WhitelistOutput {
    pub cidr: String,
    pub ports: String,
    pub protocol: String,
    pub region: String,
    pub groups: Vec<Added>,
    pub description: String,
    /// When the rules expire, if every group's rule carries the same expiry; an `exists` rule keeps its own (see each group's `expires_at`). Absent: no expiry, or the groups differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub dry_run: bool,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeReport>,
}

/// Refuse a `ttl` the sweep would not enforce: the sweep is off, or does not cover the region.
fn swept_here(settings: &Settings, region: Option<&str>) -> Result<(), ToolError> {
    if settings.sweep_interval.is_none() {
        return Err(ToolError::invalid(
            "ttl",
            "cannot be enforced: this server's sweep is off (AWSWL_SWEEP_INTERVAL=off), so nothing would remove the rule; leave ttl out, or ask the operator to turn the sweep on",
        ));
    }
    let Some(region) = region.or(settings.region.as_deref()) else {
        // No region at all: the call is refused for `region` when it resolves clients.
        return Ok(());
    };
    let swept = settings.swept_regions();
    if !swept.iter().any(|r| r == region) {
        return Err(ToolError::invalid(
            "ttl",
            format!(
                "cannot be enforced in {region}: the server's sweep covers only {} (AWS_REGION and AWSWL_SWEEP_REGIONS); leave ttl out, or ask the operator to add the region",
                swept.join(", ")
            ),
        ));
    }
    Ok(())
}

/// An item checked and ready to apply.
struct Checked {
    ingress: Ingress,
    target: Target,
    reason: String,
    expires: Option<SystemTime>,
}

fn check(s: &Whitelist, i: &WhitelistInput) -> Result<Checked, ToolError> {
    let cidr = policy::cidr(&s.settings, "cidr", &i.cidr)?;
    let ports = policy::ports(&s.settings, i.port.as_ref(), i.port_range.as_deref())?;
    let protocol = policy::protocol(i.protocol.as_deref())?;
    let target = policy::target(&i.target)?;
    let reason = policy::reason("description", &i.description)?;
    if let Some(r) = &i.region {
        policy::region("region", r)?;
    }
    let expires = match i.ttl.as_deref() {
        None if s.settings.require_ttl => {
            return Err(ToolError::invalid(
                "ttl",
                "is required on this server (AWSWL_REQUIRE_TTL=true): say how long access is needed, e.g. 8h",
            ));
        }
        None => None,
        Some(t) => {
            let d = policy::ttl(&s.settings, t)?;
            swept_here(&s.settings, i.region.as_deref())?;
            Some(SystemTime::now() + d)
        }
    };
    Ok(Checked {
        ingress: Ingress {
            cidr,
            ports,
            protocol,
        },
        target,
        reason,
        expires,
    })
}

/// What one item will add: an ingress rule in each group behind its target.
fn planned(c: &Checked, ttl: Option<&str>, groups: &[String]) -> Vec<PlannedChange> {
    groups
        .iter()
        .map(|g| {
            PlannedChange::new(
                "allow",
                "ingress rule",
                format!(
                    "{g} {}/{} from {}",
                    c.ingress.protocol, c.ingress.ports, c.ingress.cidr
                ),
            )
            .after(serde_json::json!({
                "group": g,
                "cidr": c.ingress.cidr.to_string(),
                "ports": c.ingress.ports.to_string(),
                "protocol": c.ingress.protocol,
                "reason": c.reason,
                "ttl": ttl,
            }))
        })
        .collect()
}

/// The target of a plan: the region and profile the calls go to.
fn plan_target(aws: &crate::client::Clients) -> String {
    format!(
        "AWS {} (profile {})",
        aws.region,
        aws.profile.as_deref().unwrap_or("default")
    )
}

async fn apply(
    s: &Whitelist,
    ctx: &CallCtx,
    i: &WhitelistInput,
    c: Checked,
    groups: Option<Vec<String>>,
    dry_run: bool,
) -> Result<WhitelistOutput, ToolError> {
    let aws = super::write_clients(s, ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = match groups {
        Some(g) => g,
        None => aws.resolve(&c.target).await?,
    };
    let subject = aws_safe(&ctx.principal.subject, 64);
    let now = rfc3339(SystemTime::now());
    let expires_at = c.expires.map(rfc3339);
    let description = aws_safe(
        &s.settings
            .description_template
            .replace("{subject}", &subject)
            .replace("{reason}", &c.reason)
            .replace("{date}", &now[..10])
            .replace("{expires}", expires_at.as_deref().unwrap_or("never")),
        255,
    );
    let mut tags = vec![
        (TAG_OWNER.to_string(), subject.clone()),
        (TAG_REASON.to_string(), c.reason.clone()),
        (TAG_INSTANCE.to_string(), s.settings.instance.clone()),
    ];
    if let Some(e) = &expires_at {
        tags.push((TAG_EXPIRES.to_string(), e.clone()));
    }
    let mut added = Vec::new();
    for g in &groups {
        added.push(
            aws.authorize(g, &c.ingress, &description, &tags, dry_run)
                .await?,
        );
    }
    tracing::info!(target: "audit", subject = %subject, cidr = %c.ingress.cidr, ports = %c.ingress.ports, groups = ?groups, dry_run, "whitelist applied");
    // The expiry the rules really carry: an `exists` rule keeps its own. One value only when
    // every group agrees; otherwise each group's `expires_at` says.
    let expires_at = match added.split_first() {
        Some((first, rest)) if rest.iter().all(|a| a.expires_at == first.expires_at) => {
            first.expires_at.clone()
        }
        _ => None,
    };
    Ok(WhitelistOutput {
        cidr: c.ingress.cidr.to_string(),
        ports: c.ingress.ports.to_string(),
        protocol: c.ingress.protocol.into(),
        region: aws.region.clone(),
        groups: added,
        description,
        expires_at,
        dry_run,
        change: None,
    })
}

async fn whitelist(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: WhitelistInput,
) -> Result<WhitelistOutput, ToolError> {
    let checked = check(&s, &i)?;
    let aws = super::write_clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let groups = aws.resolve(&checked.target).await?;
    let plan = Plan::new(
        WHITELIST.name,
        plan_target(&aws),
        format!(
            "allow {} to reach {}/{} ({})",
            checked.ingress.cidr, checked.ingress.protocol, checked.ingress.ports, i.target
        ),
        planned(&checked, i.ttl.as_deref(), &groups),
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = match &gate {
        Gate::Pending(_) => WhitelistOutput {
            cidr: checked.ingress.cidr.to_string(),
            ports: checked.ingress.ports.to_string(),
            protocol: checked.ingress.protocol.into(),
            region: aws.region.clone(),
            groups: Vec::new(),
            description: checked.reason.clone(),
            expires_at: None,
            dry_run: false,
            change: None,
        },
        Gate::DryRun => apply(&s, &ctx, &i, checked, Some(groups), true).await?,
        Gate::Proceed(_) => apply(&s, &ctx, &i, checked, Some(groups), false).await?,
    };
    out.change = Some(ChangeReport::from_gate(plan, &gate));
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// 1-50 items, each like a `whitelist` call.
    pub items: Vec<WhitelistInput>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BulkItem {
    pub index: usize,
    /// `ok` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<WhitelistOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BulkOutput {
    pub items: Vec<BulkItem>,
    pub succeeded: usize,
    pub failed: usize,
    /// The one plan for every item, confirmed once.
    pub change: ChangeReport,
}

async fn whitelist_bulk(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: BulkInput,
) -> Result<BulkOutput, ToolError> {
    mcp_core::validate::bounded_list("items", &i.items, 1, 50)?;
    let mut checked = Vec::new();
    for (n, item) in i.items.iter().enumerate() {
        // All-or-nothing validation: the first invalid item stops the call before any write.
        checked.push(check(&s, item).map_err(|e| match e {
            ToolError::Denied(m) => {
                ToolError::denied(format!("items[{n}]: {m}; nothing was written"))
            }
            other => other.in_field(&format!("items[{n}]")),
        })?);
    }
    // Profiles and regions are checked for every item too, still before any write, and the
    // targets resolved, so the one plan names every group.
    let mut changes = Vec::new();
    let mut resolved = Vec::new();
    let mut targets = std::collections::BTreeSet::new();
    for (n, (item, c)) in i.items.iter().zip(&checked).enumerate() {
        let in_item = |e: ToolError| match e {
            ToolError::Denied(m) => {
                ToolError::denied(format!("items[{n}]: {m}; nothing was written"))
            }
            other => other.in_field(&format!("items[{n}]")),
        };
        let aws = super::write_clients(&s, &ctx, item.profile.as_deref(), item.region.as_deref())
            .await
            .map_err(in_item)?;
        let groups = aws
            .resolve(&c.target)
            .await
            .map_err(|e| in_item(e.into()))?;
        changes.extend(planned(c, item.ttl.as_deref(), &groups));
        targets.insert(plan_target(&aws));
        resolved.push(groups);
    }
    let plan = Plan::new(
        WHITELIST_BULK.name,
        targets.into_iter().collect::<Vec<_>>().join(", "),
        format!("{} whitelist items", i.items.len()),
        changes,
    );
    // A bulk call whose every item is a dry run is a dry run: nobody is asked.
    let all_dry = i.items.iter().all(|item| item.dry_run);
    let gate = ctx.gate(&plan, all_dry).await?;
    if let Gate::Pending(_) = gate {
        return Ok(BulkOutput {
            items: Vec::new(),
            succeeded: 0,
            failed: 0,
            change: ChangeReport::from_gate(plan, &gate),
        });
    }
    let mut items = Vec::new();
    for (n, ((item, c), groups)) in i.items.iter().zip(checked).zip(resolved).enumerate() {
        match apply(&s, &ctx, item, c, Some(groups), item.dry_run).await {
            Ok(r) => items.push(BulkItem {
                index: n,
                status: "ok".into(),
                result: Some(r),
                error: None,
            }),
            Err(e) => items.push(BulkItem {
                index: n,
                status: "failed".into(),
                result: None,
                error: Some(e.to_string()),
            }),
        }
    }
    let failed = items.iter().filter(|i| i.status == "failed").count();
    Ok(BulkOutput {
        succeeded: items.len() - failed,
        failed,
        items,
        change: ChangeReport::from_gate(plan, &gate),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveInput {
    /// Rule ids (sgr-…) to remove, at most 100.
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// Or: the CIDR of the rule…
    pub cidr: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "mcp_core::validate::optional_port_schema")]
    pub port: Option<PortArg>,
    /// …or port range…
    pub port_range: Option<String>,
    /// …`tcp` (default) or `udp`…
    pub protocol: Option<String>,
    /// …and its target (sg-… or a resource).
    pub target: Option<String>,
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
    /// Check permissions and list what would be removed without removing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RemoveOutput {
    /// The rules removed (or, with dry_run or pending approval, that would be).
    pub removed: Vec<Rule>,
    /// Matching rules left alone: not created by secops-mcp, or by another deployment (`secops-mcp:instance`).
    pub not_managed: Vec<String>,
    pub dry_run: bool,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

/// The most rule ids one `remove_whitelist` may name.
const MAX_RULE_IDS: usize = 100;

async fn remove_whitelist(
    s: Arc<Whitelist>,
    ctx: CallCtx,
    i: RemoveInput,
) -> Result<RemoveOutput, ToolError> {
    let by_id = !i.rule_ids.is_empty();
    if by_id && (i.cidr.is_some() || i.target.is_some()) {
        return Err(ToolError::invalid(
            "rule_ids",
            "give rule_ids, or cidr with port and target, not both",
        ));
    }
    mcp_core::validate::bounded_list("rule_ids", &i.rule_ids, 0, MAX_RULE_IDS)?;
    let ids: Vec<String> = i
        .rule_ids
        .iter()
        .enumerate()
        .map(|(n, r)| policy::rule_id(&format!("rule_ids[{n}]"), r))
        .collect::<Result<_, _>>()?;
    let spec = if by_id {
        None
    } else {
        let cidr = mcp_core::validate::parse_cidr(
            "cidr",
            i.cidr
                .as_deref()
                .ok_or_else(|| ToolError::invalid("cidr", "is required without rule_ids"))?,
        )?;
        let ports = policy::ports(&s.settings, i.port.as_ref(), i.port_range.as_deref())?;
        let protocol = policy::protocol(i.protocol.as_deref())?;
        let target = policy::target(
            i.target
                .as_deref()
                .ok_or_else(|| ToolError::invalid("target", "is required without rule_ids"))?,
        )?;
        Some((
            Ingress {
                cidr,
                ports,
                protocol,
            },
            target,
        ))
    };
    let aws = super::write_clients(&s, &ctx, i.profile.as_deref(), i.region.as_deref()).await?;
    let candidates: Vec<Rule> = match &spec {
        None => aws.rules_by_id(&ids).await?,
        Some((ingress, target)) => {
            let mut all = Vec::new();
            for g in aws.resolve(target).await? {
                all.extend(
                    aws.group_rules(&g)
                        .await?
                        .into_iter()
                        .filter(|r| r.opens(ingress)),
                );
            }
            all
        }
    };
    if candidates.is_empty() {
        return Err(ToolError::NotFound("no matching rule".into()));
    }
    let instance = s.settings.instance.as_str();
    let (managed, unmanaged): (Vec<Rule>, Vec<Rule>) = candidates
        .into_iter()
        .partition(|r| r.managed_by(instance) && r.direction == "ingress");
    if s.settings.remove_own_only {
        let me = aws_safe(&ctx.principal.subject, 64);
        let others: Vec<String> = managed
            .iter()
            .filter(|r| r.owner() != Some(me.as_str()))
            .map(|r| {
                format!(
                    "{} belongs to `{}`",
                    r.rule_id,
                    mcp_core::validate::excerpt(r.owner().unwrap_or_default(), 64)
                )
            })
            .collect();
        if !others.is_empty() {
            return Err(ToolError::denied(format!(
                "{}, not to you (`{me}`); this server lets you remove only your own rules (AWSWL_REMOVE_OWN_ONLY=true); nothing was removed",
                others.join(", ")
            )));
        }
    }
    let foreign: Vec<String> = unmanaged
        .iter()
        .filter(|r| r.managed && r.direction == "ingress")
        .map(|r| {
            format!(
                "{} of instance `{}`",
                r.rule_id,
                mcp_core::validate::excerpt(r.instance(), 64)
            )
        })
        .collect();
    let mut by_group: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in &managed {
        by_group
            .entry(r.group_id.clone())
            .or_default()
            .push(r.rule_id.clone());
    }
    let not_managed = unmanaged.into_iter().map(|r| r.rule_id).collect::<Vec<_>>();
    if managed.is_empty() {
        if !foreign.is_empty() {
            return Err(ToolError::denied(format!(
                "the matching rules ({}) belong to another aws-whitelist deployment (this one is instance `{instance}`, AWSWL_INSTANCE) and are left alone",
                foreign.join(", ")
            )));
        }
        return Err(ToolError::denied(format!(
            "the matching rules ({}) were not created by secops-mcp and are left alone",
            not_managed.join(", ")
        )));
    }
    let plan = Plan::new(
        REMOVE_WHITELIST.name,
        plan_target(&aws),
        format!("remove {} rule(s) this server added", managed.len()),
        managed
            .iter()
            .map(|r| {
                PlannedChange::new(
                    "remove",
                    "ingress rule",
                    format!("{} {}", r.group_id, r.rule_id),
                )
                .before(serde_json::to_value(r).unwrap_or_default())
            })
            .collect(),
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    match gate {
        // AWS's own DryRun checks the permissions too.
        Gate::DryRun | Gate::Proceed(_) => {
            for (g, ids) in &by_group {
                aws.revoke(g, ids, i.dry_run).await?;
            }
        }
        Gate::Pending(_) => {}
    }
    Ok(RemoveOutput {
        removed: managed,
        not_managed,
        dry_run: i.dry_run,
        change: ChangeReport::from_gate(plan, &gate),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepInput {
    /// AWS profile, if the server allows choosing one.
    pub profile: Option<String>,
    /// AWS region (default: the server's).
    pub region: Option<String>,
    /// List what would be removed without removing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SweepOutput {
    pub removed: Vec<Rule>,
    /// Rules with an expiry still in the future.
    pub pending: usize,
    pub dry_run: bool,
}

/// Remove expired rules of one region; also used by the background sweep.
pub async fn sweep(
    settings: &Settings,
    cache: &ClientCache,
    profile: Option<&str>,
    region: Option<&str>,
    dry_run: bool,
) -> Result<SweepOutput, ToolError> {
    let aws = super::clients_with(settings, cache, profile, region, super::SWEEP_SUBJECT).await?;
    let now = SystemTime::now();
    let (expired, pending): (Vec<Rule>, Vec<Rule>) = aws
        .expiring_rules()
        .await?
        .into_iter()
        .filter(|r| r.managed_by(&settings.instance))
        .partition(|r| {
            r.expires_at
                .as_deref()
                .and_then(|e| humantime::parse_rfc3339(e).ok())
                .is_some_and(|t| t <= now)
        });
    let mut by_group: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in expired.iter().filter(|r| r.direction == "ingress") {
        by_group
            .entry(r.group_id.clone())
            .or_default()
            .push(r.rule_id.clone());
    }
    for (g, ids) in &by_group {
        aws.revoke(g, ids, dry_run).await?;
    }
    if !expired.is_empty() {
        tracing::info!(target: "audit", removed = expired.len(), dry_run, region = %aws.region, profile = aws.profile.as_deref().unwrap_or("(default)"), instance = %settings.instance, "expired rules swept");
    }
    Ok(SweepOutput {
        removed: expired,
        pending: pending.len(),
        dry_run,
    })
}

async fn sweep_expired(
    s: Arc<Whitelist>,
    _ctx: CallCtx,
    i: SweepInput,
) -> Result<SweepOutput, ToolError> {
    sweep(
        &s.settings,
        &s.clients,
        i.profile.as_deref(),
        i.region.as_deref(),
        i.dry_run,
    )
    .await
}

/// One scheduled sweep: every profile a rule may be written with (the default and
/// `AWSWL_PROFILES`) in every region a `ttl` is accepted for (the default and
/// `AWSWL_SWEEP_REGIONS`). A failure in one pair is logged and the others still run.
pub async fn sweep_everywhere(settings: &Settings, cache: &ClientCache) {
    let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    for region in settings.swept_regions() {
        for profile in settings.swept_profiles(env_keys) {
            if let Err(e) = sweep(settings, cache, profile.as_deref(), Some(&region), false).await {
                tracing::warn!(error = %e, region = %region, profile = profile.as_deref().unwrap_or("(default)"), "scheduled sweep failed");
            }
        }
    }
}

/// The sweep the server runs by itself every `AWSWL_SWEEP_INTERVAL`: with a shared state
/// store (`MCP_STATE_URL`) on the one replica that holds the `sweeper` lease, else on each.
pub fn spawn_sweeper(
    settings: Arc<Settings>,
    cache: Arc<ClientCache>,
    every: Duration,
    state: Option<Arc<dyn mcp_core::state::StateStore>>,
) {
    mcp_core::state::every_on_one_replica(state, "sweeper", every, move || {
        let settings = settings.clone();
        let cache = cache.clone();
        async move {
            tracing::info!("scheduled sweep started");
            sweep_everywhere(&settings, &cache).await;
        }
    });
}

pub fn tools() -> Vec<ToolDef<Whitelist>> {
    vec![
        ToolDef::new(WHITELIST, whitelist).confirm(Confirm::Always),
        ToolDef::new(WHITELIST_BULK, whitelist_bulk).confirm(Confirm::Always),
        ToolDef::new(REMOVE_WHITELIST, remove_whitelist).confirm(Confirm::Always),
        // The sweep removes what was agreed to expire; it asks nobody (it also runs unattended).
        ToolDef::new(SWEEP_EXPIRED, sweep_expired).confirm(Confirm::Never),
    ]
}
