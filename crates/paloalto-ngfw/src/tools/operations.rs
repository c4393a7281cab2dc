//! Operations (toolset `operations`, `ngfw:read`): the firewalls Panorama manages, and logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use rmcp::model::ProgressNotificationParam;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use std::net::IpAddr;

use super::device::on_device;
use super::policies::{FlowProtocol, host};
use super::values;
use crate::Ngfw;
use crate::client::Name;
use crate::client::logfilter;
use crate::client::opstate::{HaState, Interface, Route, Session, SessionFilter};
use crate::client::target::ManagedDevice;

const LIST_MANAGED_DEVICES: ToolSpec = ToolSpec {
    name: "list_managed_devices",
    title: "Managed firewalls",
    description: "On Panorama: every firewall it manages, with serial, hostname, model, software version, HA state, whether it is connected, and its device group and template stack. Use a serial or hostname from here as `device` on the other tools.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

const QUERY_LOGS: ToolSpec = ToolSpec {
    name: "query_logs",
    title: "Query logs",
    description: "Read traffic, threat, url, system or config logs, newest first, with a PAN-OS log filter (`( addr.src in 10.0.0.0/8 ) and ( port.dst eq 443 )`; fields, operators eq neq in notin geq leq contains, and/or/not, parentheses, quoted values), a time range and a page (limit up to 5000, offset). Rows hold time, rule, source, destination, ports, application, action, session end reason, bytes, threat and severity. Runs the firewall's log job and reports progress.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

const SHOW_SESSIONS: ToolSpec = ToolSpec {
    name: "show_sessions",
    title: "Sessions",
    description: "The firewall's current sessions (`show session all`), filtered by source, destination, destination port, protocol, application, rule and state: zones, ports, application, rule, state, bytes, ingress/egress and NAT. Paged.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

const SHOW_ROUTES: ToolSpec = ToolSpec {
    name: "show_routes",
    title: "Routes",
    description: "The firewall's routing table (`show routing route`), optionally for one virtual router. With `destination` (an IP address) it also answers which route (longest prefix) and egress interface that address takes. Paged.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

const SHOW_INTERFACES: ToolSpec = ToolSpec {
    name: "show_interfaces",
    title: "Interfaces",
    description: "The firewall's interfaces (`show interface all`): state, IP, zone, virtual router, vsys, MAC and speed. Name one interface to get its counters (bytes, packets, errors, drops) too. Paged.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

const SHOW_HA_STATE: ToolSpec = ToolSpec {
    name: "show_ha_state",
    title: "HA state",
    description: "High availability (`show high-availability state`): whether HA is enabled, the mode, this device's and the peer's state, the peer connection and config sync.",
    scope: "ngfw:read",
    toolset: "operations",
    effect: Effect::ReadOnly,
    open_world: true,
};

pub fn tools() -> Vec<ToolDef<Ngfw>> {
    vec![
        ToolDef::new(LIST_MANAGED_DEVICES, list_managed_devices),
        ToolDef::new(QUERY_LOGS, on_device(query_logs)),
        ToolDef::new(SHOW_SESSIONS, on_device(show_sessions)),
        ToolDef::new(SHOW_ROUTES, on_device(show_routes)),
        ToolDef::new(SHOW_INTERFACES, on_device(show_interfaces)),
        ToolDef::new(SHOW_HA_STATE, on_device(show_ha_state)),
    ]
}

// --- managed devices ------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedDevicesInput {
    /// Only connected firewalls (default false: every registered one).
    #[serde(default)]
    pub connected_only: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ManagedDevices {
    pub items: Vec<ManagedDevice>,
    pub total: usize,
}

async fn list_managed_devices(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: ManagedDevicesInput,
) -> Result<ManagedDevices, ToolError> {
    if !s.is_panorama().await? {
        return Err(ToolError::Denied(
            "list_managed_devices answers on Panorama; this server points at a firewall, which manages no other firewalls".into(),
        ));
    }
    let mut items = s.client.managed_devices().await?;
    if input.connected_only {
        items.retain(|d| d.connected);
    }
    Ok(ManagedDevices {
        total: items.len(),
        items,
    })
}

// --- logs ------------------------------------------------------------------------------------

/// Log types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogType {
    Traffic,
    Threat,
    Url,
    System,
    Config,
}

impl LogType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Traffic => "traffic",
            Self::Threat => "threat",
            Self::Url => "url",
            Self::System => "system",
            Self::Config => "config",
        }
    }
}

/// Most rows one call returns (PAN-OS's own `nlogs` limit).
pub const MAX_LOGS: u32 = 5000;
/// Furthest a page may start.
pub const MAX_OFFSET: u32 = 100_000;
const DEFAULT_WAIT: u32 = 60;
const MAX_WAIT: u32 = 300;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsInput {
    /// `traffic`, `threat`, `url`, `system` or `config`.
    pub log_type: LogType,
    /// PAN-OS log filter, e.g. `( addr.src in 10.1.0.0/16 ) and ( action eq deny )`. See the server docs for the accepted fields and operators.
    pub query: Option<String>,
    /// Only logs received at or after this time (`2026/11/20 10:00:00` or `2026-11-20T10:00:00Z`, device time).
    pub since: Option<String>,
    /// Only logs received at or before this time (same forms as `since`).
    pub until: Option<String>,
    /// Rows to return, 1-5000; default 100.
    pub limit: Option<u32>,
    /// Matching rows to skip (newest first), 0-100000; default 0.
    pub offset: Option<u32>,
    /// How long to wait for the log job, 1-300 seconds; default 60.
    pub wait_seconds: Option<u32>,
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

crate::on_device_inputs!(LogsInput);

/// One log row: the fields users read (absent when the log type has none).
#[derive(Debug, Clone, Default, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LogRow {
    /// Receive time (device time, `YYYY/MM/DD HH:MM:SS`).
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_end_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Threat name and id (threat logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// URL (url logs) or other detail PAN-OS puts in `misc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// System log text, or the config path changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Administrator (config logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// Command (config logs) or event id (system logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

impl LogRow {
    pub fn from_fields(f: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
        let num = |k: &str| f.get(k).and_then(|v| v.trim().parse::<u64>().ok());
        Self {
            time: get("receive_time")
                .or_else(|| get("time_generated"))
                .unwrap_or_default(),
            subtype: get("subtype"),
            rule: get("rule"),
            source: get("src"),
            destination: get("dst"),
            source_port: num("sport").and_then(|p| u32::try_from(p).ok()),
            destination_port: num("dport").and_then(|p| u32::try_from(p).ok()),
            from_zone: get("from"),
            to_zone: get("to"),
            protocol: get("proto"),
            application: get("app"),
            action: get("action"),
            session_end_reason: get("session_end_reason"),
            bytes: num("bytes"),
            threat: get("threatid"),
            severity: get("severity"),
            url: get("misc"),
            category: get("category"),
            description: get("opaque").or_else(|| get("path")),
            admin: get("admin"),
            event: get("cmd").or_else(|| get("eventid")),
            device_name: get("device_name"),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogsOutput {
    pub log_type: String,
    /// The filter as sent to PAN-OS (re-written from the checked terms, time range included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub items: Vec<LogRow>,
    /// Rows in this page.
    pub count: usize,
    pub offset: u32,
    /// Offset of the next page when this one was full (more rows may match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
    /// The PAN-OS log job that answered.
    pub job_id: u64,
}

/// The checked filter, with the time range joined in; `None` when nothing filters.
pub fn build_query(
    query: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<Option<String>, ToolError> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(q) = query
        && let Some(checked) = logfilter::check(q).map_err(|e| ToolError::invalid("query", e.0))?
    {
        parts.push(checked);
    }
    for (field, value, op) in [("since", since, "geq"), ("until", until, "leq")] {
        if let Some(v) = value {
            let t = logfilter::log_time(v).ok_or_else(|| {
                ToolError::invalid(
                    field,
                    format!(
                        "`{}` is not a time like `2026/11/20 10:00:00` or `2026-11-20T10:00:00Z`",
                        mcp_core::validate::excerpt(v, 40)
                    ),
                )
            })?;
            parts.push(format!("( receive_time {op} '{t}' )"));
        }
    }
    if let (Some(a), Some(b)) = (
        since.and_then(logfilter::log_time),
        until.and_then(logfilter::log_time),
    ) && a > b
    {
        return Err(ToolError::invalid("until", "is before `since`"));
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(parts.join(" and ")),
    })
}

/// Drops the log job when the call ends before the job was fetched (error, timeout,
/// cancellation).
struct JobGuard {
    s: Arc<Ngfw>,
    id: u64,
    target: Option<String>,
    armed: bool,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (s, id, target) = (self.s.clone(), self.id, self.target.take());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = s.client.finish_log(id, target.as_deref()).await {
                    tracing::debug!(error = %e, job = id, "log job not finished");
                }
            });
        }
    }
}

/// Runs a log job to the end: submit, poll (with progress notifications), fetch; the job
/// is finished (dropped) on the device if the call ends early. `(job id, entries)`.
pub async fn run_log_job(
    s: &Arc<Ngfw>,
    ctx: &CallCtx,
    log_type: LogType,
    query: Option<&str>,
    limit: u32,
    offset: u32,
    wait: Duration,
) -> Result<(u64, Vec<BTreeMap<String, String>>), ToolError> {
    let target = s.client.current_target().await?;
    let id = s
        .client
        .submit_log(log_type.as_str(), limit, offset, query)
        .await?;
    let mut guard = JobGuard {
        s: s.clone(),
        id,
        target,
        armed: true,
    };
    let token = ctx.rmcp.meta.get_progress_token();
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(100);
    loop {
        let poll = s.client.poll_log(id).await?;
        if let Some(t) = &token {
            let n = ProgressNotificationParam::new(t.clone(), f64::from(poll.progress))
                .with_total(100.0)
                .with_message(format!("log job {id}: {} {}%", poll.status, poll.progress));
            if let Err(e) = ctx.rmcp.peer.notify_progress(n).await {
                tracing::debug!(error = %e, "progress notification not delivered");
            }
        }
        if poll.finished() {
            guard.armed = false;
            return Ok((id, poll.entries));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ToolError::Unavailable {
                upstream: "PAN-OS".into(),
                message: format!(
                    "log job {id} did not finish within {} seconds (last status {} {}%); it was stopped. Narrow the filter or time range, or raise wait_seconds",
                    wait.as_secs(),
                    poll.status,
                    poll.progress
                ),
                retry_after: None,
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Checks `wait_seconds`.
pub fn wait(wait_seconds: Option<u32>) -> Result<Duration, ToolError> {
    let w = wait_seconds.unwrap_or(DEFAULT_WAIT);
    if !(1..=MAX_WAIT).contains(&w) {
        return Err(ToolError::invalid(
            "wait_seconds",
            format!("must be 1-{MAX_WAIT}"),
        ));
    }
    Ok(Duration::from_secs(u64::from(w)))
}

async fn query_logs(s: Arc<Ngfw>, ctx: CallCtx, input: LogsInput) -> Result<LogsOutput, ToolError> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=MAX_LOGS).contains(&limit) {
        return Err(ToolError::invalid(
            "limit",
            format!("must be 1-{MAX_LOGS}; page further with offset"),
        ));
    }
    let offset = input.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ToolError::invalid(
            "offset",
            format!("must be 0-{MAX_OFFSET}; narrow the filter or time range instead"),
        ));
    }
    let wait = wait(input.wait_seconds)?;
    let query = build_query(
        input.query.as_deref(),
        input.since.as_deref(),
        input.until.as_deref(),
    )?;
    let (job_id, entries) = run_log_job(
        &s,
        &ctx,
        input.log_type,
        query.as_deref(),
        limit,
        offset,
        wait,
    )
    .await?;
    let items: Vec<LogRow> = entries.iter().map(LogRow::from_fields).collect();
    let count = items.len();
    let next_offset =
        (u32::try_from(count).unwrap_or(u32::MAX) >= limit).then(|| offset.saturating_add(limit));
    Ok(LogsOutput {
        log_type: input.log_type.as_str().into(),
        query,
        items,
        count,
        offset,
        next_offset,
        job_id,
    })
}

// --- operational state ---------------------------------------------------------------------

/// Session states PAN-OS filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Active,
    Discard,
    Init,
    Opening,
    Closing,
    Closed,
}

impl SessionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Discard => "discard",
            Self::Init => "init",
            Self::Opening => "opening",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionsInput {
    /// Source IP address (a single host).
    pub source: Option<String>,
    /// Destination IP address (a single host).
    pub destination: Option<String>,
    /// Destination port, 1-65535.
    pub port: Option<u16>,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: Option<FlowProtocol>,
    /// App-ID name, e.g. `ssl`.
    pub application: Option<String>,
    /// Security rule name.
    pub rule: Option<String>,
    /// `active`, `discard`, `init`, `opening`, `closing` or `closed`.
    pub state: Option<SessionState>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutesInput {
    /// Only this virtual router.
    pub virtual_router: Option<String>,
    /// An IP address: also answer which route and egress interface it takes.
    pub destination: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfacesInput {
    /// One interface (e.g. `ethernet1/1`), with its counters.
    pub name: Option<String>,
    /// Page size, 1-200; default 50.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HaInput {
    /// A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.
    pub device: Option<String>,
}

crate::on_device_inputs!(SessionsInput, RoutesInput, InterfacesInput, HaInput);

#[derive(Debug, Serialize, JsonSchema)]
pub struct RoutesOutput {
    #[serde(flatten)]
    pub page: mcp_core::Page<Route>,
    /// With `destination`: the route it takes (longest prefix, then lowest metric), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup: Option<RouteLookup>,
}

/// Which route an address takes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RouteLookup {
    pub destination: String,
    /// The route, or none when no route covers the address.
    pub route: Option<Route>,
    /// Egress interface of that route.
    pub egress_interface: Option<String>,
}

fn optional_name(field: &str, v: Option<&str>) -> Result<Option<String>, ToolError> {
    v.map(|v| Name::parse(field, v).map(|n| n.as_str().to_string()))
        .transpose()
}

async fn show_sessions(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: SessionsInput,
) -> Result<mcp_core::Page<Session>, ToolError> {
    let paging = super::paging(input.limit, input.offset)?;
    let source = input
        .source
        .as_deref()
        .map(|v| host("source", v).map(|a| a.to_string()))
        .transpose()?;
    let destination = input
        .destination
        .as_deref()
        .map(|v| host("destination", v).map(|a| a.to_string()))
        .transpose()?;
    if input.port == Some(0) {
        return Err(ToolError::invalid("port", "must be 1-65535"));
    }
    let filter = SessionFilter {
        source,
        destination,
        destination_port: input.port,
        application: optional_name("application", input.application.as_deref())?,
        rule: optional_name("rule", input.rule.as_deref())?,
        state: input.state.map(|s| s.as_str().to_string()),
        protocol: input.protocol.map(|p| match p {
            FlowProtocol::Tcp => 6,
            FlowProtocol::Udp => 17,
            FlowProtocol::Icmp => 1,
        }),
    };
    s.require_device("the session table").await?;
    let all = s.client.sessions(&filter).await?;
    Ok(mcp_core::Page::of(all, paging))
}

/// The longest-prefix route for `ip` among `routes` (lowest metric on a tie).
pub fn route_for(routes: &[Route], ip: IpAddr) -> Option<&Route> {
    routes
        .iter()
        .filter_map(|r| {
            let c = mcp_core::validate::parse_cidr("destination", &r.destination).ok()?;
            c.net.contains(&ip).then_some((c.prefix_len(), r))
        })
        .max_by(|(la, ra), (lb, rb)| {
            la.cmp(lb).then(
                rb.metric
                    .unwrap_or(u32::MAX)
                    .cmp(&ra.metric.unwrap_or(u32::MAX)),
            )
        })
        .map(|(_, r)| r)
}

async fn show_routes(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: RoutesInput,
) -> Result<RoutesOutput, ToolError> {
    let paging = super::paging(input.limit, input.offset)?;
    let vr = optional_name("virtual_router", input.virtual_router.as_deref())?;
    let dest = input
        .destination
        .as_deref()
        .map(|d| host("destination", d))
        .transpose()?;
    s.require_device("the routing table").await?;
    let routes = s.client.routes(vr.as_deref()).await?;
    let lookup = dest.map(|ip| {
        let route = route_for(&routes, ip).cloned();
        RouteLookup {
            destination: ip.to_string(),
            egress_interface: route.as_ref().and_then(|r| r.interface.clone()),
            route,
        }
    });
    Ok(RoutesOutput {
        page: mcp_core::Page::of(routes, paging),
        lookup,
    })
}

async fn show_interfaces(
    s: Arc<Ngfw>,
    _ctx: CallCtx,
    input: InterfacesInput,
) -> Result<mcp_core::Page<Interface>, ToolError> {
    let paging = super::paging(input.limit, input.offset)?;
    let name = input
        .name
        .as_deref()
        .map(|n| values::interface("name", n))
        .transpose()?;
    s.require_device("the interface list").await?;
    let all = s.client.interfaces(name.as_deref()).await?;
    Ok(mcp_core::Page::of(all, paging))
}

async fn show_ha_state(s: Arc<Ngfw>, _ctx: CallCtx, _input: HaInput) -> Result<HaState, ToolError> {
    s.client.ha_state().await.map_err(Into::into)
}
