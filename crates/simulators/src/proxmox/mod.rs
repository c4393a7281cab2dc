//! Proxmox VE REST API simulator (`/api2/json`): API-token auth, nodes,
//! guests, power tasks with UPIDs, and PVE's way of reporting errors in the
//! HTTP reason phrase. See `fixtures/proxmox/README.md`.

pub mod errors;
pub mod ops;
pub mod state;
pub mod tasks;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, post},
};
use serde_json::{Value, json};

use crate::common::{Fault, SimControl, control_router, dropped_response};
use errors::{NODE_UNREACHABLE, PveError, json_response, set_reason};
use state::{
    Cluster, GuestKind, GuestStatus, LoadError, PRIV_AUDIT, PRIV_POWER, StateFile, VMID_RANGE,
};
use tasks::{NewTask, PowerAction};

/// Base path of the API.
pub const API_BASE: &str = "/api2/json";
/// Largest request body read (and ignored) for POST requests.
const BODY_LIMIT: usize = 64 * 1024;
/// Default `limit` of `GET /nodes/N/tasks`.
const DEFAULT_TASK_LIMIT: u64 = 50;

/// Settings of the simulated cluster's API.
#[derive(Debug, Clone)]
pub struct ProxmoxConfig {
    /// Accepted API token id, `USER@REALM!TOKENID`.
    pub token_id: String,
    /// Accepted token secret.
    pub token_secret: String,
    /// How long a power task runs before its effect applies.
    pub task_duration: Duration,
}

/// Errors building a [`ProxmoxSim`].
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The state file could not be loaded.
    #[error(transparent)]
    State(#[from] LoadError),
    /// The token id is not `USER@REALM!TOKENID`.
    #[error("invalid --token-id: {0}")]
    Token(String),
}

/// Checks that `id` is `USER@REALM!TOKENID` (no whitespace, `=` or `:`).
pub fn validate_token_id(id: &str) -> Result<(), String> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '=' || c == ':';
    let (user_realm, token) = id
        .split_once('!')
        .ok_or_else(|| format!("{id:?} is not USER@REALM!TOKENID (no '!')"))?;
    let (user, realm) = user_realm
        .split_once('@')
        .ok_or_else(|| format!("{id:?} is not USER@REALM!TOKENID (no '@')"))?;
    if user.is_empty() || realm.is_empty() || token.is_empty() || token.contains('!') {
        return Err(format!("{id:?} is not USER@REALM!TOKENID"));
    }
    if id.chars().any(bad) {
        return Err(format!("{id:?} must not contain whitespace, '=' or ':'"));
    }
    Ok(())
}

/// The simulated cluster.
#[derive(Debug)]
pub struct ProxmoxSim {
    config: ProxmoxConfig,
    seed: StateFile,
    cluster: Mutex<Cluster>,
}

impl ProxmoxSim {
    /// A cluster in the state `seed` describes.
    pub fn new(config: ProxmoxConfig, seed: StateFile) -> Result<Self, SetupError> {
        validate_token_id(&config.token_id).map_err(SetupError::Token)?;
        if config.token_secret.is_empty() {
            return Err(SetupError::Token("--token-secret must not be empty".into()));
        }
        seed.validate().map_err(|message| LoadError::Invalid {
            path: "<given>".into(),
            message,
        })?;
        Ok(Self {
            cluster: Mutex::new(Cluster::new(seed.clone(), Instant::now())),
            config,
            seed,
        })
    }

    /// A cluster seeded from `path`, or from the built-in default when `None`.
    pub fn from_state_file(config: ProxmoxConfig, path: Option<&Path>) -> Result<Self, SetupError> {
        let seed = match path {
            Some(p) => StateFile::from_file(p)?,
            None => StateFile::builtin()?,
        };
        Self::new(config, seed)
    }

    /// The cluster state, locked.
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns the guests to the seed state and forgets every task.
    pub fn reset_state(&self) {
        *self.lock() = Cluster::new(self.seed.clone(), Instant::now());
    }

    /// Does `headers` carry `Authorization: PVEAPIToken=ID=SECRET` with the
    /// configured token?
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(rest) = value.trim().strip_prefix("PVEAPIToken") else {
            return false;
        };
        let Some(rest) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(' ')) else {
            return false;
        };
        let Some((id, secret)) = rest.trim_start().split_once('=') else {
            return false;
        };
        // Both compared in full, whatever the first result.
        let id_ok = ct_eq(id.as_bytes(), self.config.token_id.as_bytes());
        let secret_ok = ct_eq(secret.as_bytes(), self.config.token_secret.as_bytes());
        id_ok & secret_ok
    }
}

/// Comparison whose time depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone)]
struct AppState {
    sim: Arc<ProxmoxSim>,
    ctl: SimControl,
}

/// The full router: `/api2/json/*`, `POST /_sim/state/reset` and the
/// `/_sim/*` control endpoints.
pub fn router(sim: Arc<ProxmoxSim>, ctl: SimControl) -> Router {
    Router::new()
        .route(API_BASE, any(api_handler))
        .route("/api2/json/", any(api_handler))
        .route("/api2/json/{*rest}", any(api_handler))
        .route("/_sim/state/reset", post(reset_state_handler))
        .with_state(AppState {
            sim,
            ctl: ctl.clone(),
        })
        .merge(control_router(ctl))
}

async fn reset_state_handler(State(app): State<AppState>) -> Response {
    app.sim.reset_state();
    Json(json!({"reset": true})).into_response()
}

/// Decodes `%XX` escapes; invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes.get(i),
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(b), _, _) => {
                out.push(*b);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The PVE name of a fault's status, for its reason phrase.
fn fault_reason(status: u16) -> String {
    if status == NODE_UNREACHABLE {
        return "No route to host".to_owned();
    }
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Simulated failure")
        .to_owned()
}

fn fault_response(fault: Fault) -> Option<Response> {
    match fault {
        Fault::None => None,
        Fault::Drop => Some(dropped_response()),
        Fault::RateLimit { retry_after_secs } => Some(
            PveError::new(429, "Too Many Requests")
                .with_retry_after(retry_after_secs)
                .into_response(),
        ),
        Fault::Fail { status } => Some(PveError::new(status, fault_reason(status)).into_response()),
        Fault::Malformed => {
            let mut r = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(errors::CONTENT_TYPE),
                )],
                "{\"data\":[{\"node\":\"",
            )
                .into_response();
            set_reason(&mut r, "OK");
            Some(r)
        }
    }
}

async fn api_handler(State(app): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rel = parts.uri.path().strip_prefix(API_BASE).unwrap_or_default();
    let segs: Vec<String> = rel
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let path = format!("/{}", segs.join("/"));
    let kind = segs.first().map(String::as_str).unwrap_or("index");
    app.ctl
        .stats
        .record(kind, &format!("{} {path}", parts.method));
    tracing::debug!(method = %parts.method, %path, "proxmox request");

    if let Some(r) = fault_response(app.ctl.faults.apply().await) {
        return r;
    }
    if !app.sim.authorized(&parts.headers) {
        return PveError::auth().into_response();
    }
    let Some(route) = Route::parse(&parts.method, &segs) else {
        return PveError::not_implemented(parts.method.as_str(), &path).into_response();
    };
    // Parameters: the query of a GET or DELETE, the form (or JSON object) body of a POST or
    // PUT. Power actions accept and ignore options such as `timeout` or `forceStop`.
    let params = if parts.method == Method::POST || parts.method == Method::PUT {
        let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
            return PveError::new(413, "Request Entity Too Large").into_response();
        };
        body_params(&bytes)
    } else {
        parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    };
    match app.sim.dispatch(route, parts.uri.query(), &params) {
        Ok(reply) => reply.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Form (`a=1&b=2`) or JSON-object parameters of a request body.
fn body_params(bytes: &[u8]) -> Vec<(String, String)> {
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(bytes) {
        return m
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    Value::Bool(b) => u8::from(b).to_string(),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
    }
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// A successful answer: `{"data": ...}` plus `total` for paged lists.
#[derive(Debug)]
struct Reply {
    data: Value,
    total: Option<usize>,
}

impl Reply {
    fn data(data: Value) -> Self {
        Self { data, total: None }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match self.total {
            Some(total) => json!({"data": self.data, "total": total}),
            None => json!({"data": self.data}),
        };
        json_response(StatusCode::OK, &body)
    }
}

/// The implemented API methods.
#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    Index,
    Version,
    Nodes,
    ClusterStatus,
    ClusterResources,
    AccessUsers,
    NodeIndex(&'a str),
    NodeStatus(&'a str),
    NodeStorage(&'a str),
    NodeTasks(&'a str),
    TaskStatus(&'a str, &'a str),
    TaskLog(&'a str, &'a str),
    GuestList(&'a str, GuestKind),
    GuestStatus(&'a str, GuestKind, &'a str),
    GuestConfig(&'a str, GuestKind, &'a str),
    GuestAction(&'a str, GuestKind, &'a str, PowerAction),
    SnapshotList(&'a str, GuestKind, &'a str),
    SnapshotCreate(&'a str, GuestKind, &'a str),
    SnapshotRollback(&'a str, GuestKind, &'a str, &'a str),
    SnapshotDelete(&'a str, GuestKind, &'a str, &'a str),
    ConfigPut(&'a str, GuestKind, &'a str),
    Restore(&'a str, GuestKind),
    Vzdump(&'a str),
    StorageContent(&'a str, &'a str),
    Network(&'a str),
    ClusterFirewall,
    NextId,
    NodeFirewall(&'a str),
    GuestFirewall(&'a str, GuestKind, &'a str),
}

impl<'a> Route<'a> {
    fn parse(method: &Method, segs: &'a [String]) -> Option<Self> {
        let s: Vec<&'a str> = segs.iter().map(String::as_str).collect();
        if *method == Method::POST {
            return match s.as_slice() {
                ["nodes", n, k, v, "status", a] => {
                    let kind = GuestKind::parse(k)?;
                    Some(Self::GuestAction(n, kind, v, PowerAction::parse(a, kind)?))
                }
                ["nodes", n, k, v, "snapshot"] => {
                    Some(Self::SnapshotCreate(n, GuestKind::parse(k)?, v))
                }
                ["nodes", n, k, v, "snapshot", name, "rollback"] => {
                    Some(Self::SnapshotRollback(n, GuestKind::parse(k)?, v, name))
                }
                ["nodes", n, "vzdump"] => Some(Self::Vzdump(n)),
                ["nodes", n, k] => Some(Self::Restore(n, GuestKind::parse(k)?)),
                _ => None,
            };
        }
        if *method == Method::DELETE {
            return match s.as_slice() {
                ["nodes", n, k, v, "snapshot", name] => {
                    Some(Self::SnapshotDelete(n, GuestKind::parse(k)?, v, name))
                }
                _ => None,
            };
        }
        if *method == Method::PUT {
            return match s.as_slice() {
                ["nodes", n, k, v, "config"] => Some(Self::ConfigPut(n, GuestKind::parse(k)?, v)),
                _ => None,
            };
        }
        if *method != Method::GET {
            return None;
        }
        Some(match s.as_slice() {
            [] => Self::Index,
            ["version"] => Self::Version,
            ["nodes"] => Self::Nodes,
            ["cluster", "status"] => Self::ClusterStatus,
            ["cluster", "resources"] => Self::ClusterResources,
            ["access", "users"] => Self::AccessUsers,
            ["nodes", n] => Self::NodeIndex(n),
            ["nodes", n, "status"] => Self::NodeStatus(n),
            ["nodes", n, "storage"] => Self::NodeStorage(n),
            ["nodes", n, "tasks"] => Self::NodeTasks(n),
            ["nodes", n, "tasks", u, "status"] => Self::TaskStatus(n, u),
            ["nodes", n, "tasks", u, "log"] => Self::TaskLog(n, u),
            ["nodes", n, "network"] => Self::Network(n),
            ["nodes", n, k] => Self::GuestList(n, GuestKind::parse(k)?),
            ["nodes", n, k, v, "status", "current"] => {
                Self::GuestStatus(n, GuestKind::parse(k)?, v)
            }
            ["nodes", n, k, v, "config"] => Self::GuestConfig(n, GuestKind::parse(k)?, v),
            ["nodes", n, k, v, "snapshot"] => Self::SnapshotList(n, GuestKind::parse(k)?, v),
            ["nodes", n, "storage", st, "content"] => Self::StorageContent(n, st),
            ["cluster", "firewall", "rules"] => Self::ClusterFirewall,
            ["cluster", "nextid"] => Self::NextId,
            ["nodes", n, "firewall", "rules"] => Self::NodeFirewall(n),
            ["nodes", n, k, v, "firewall", "rules"] => {
                Self::GuestFirewall(n, GuestKind::parse(k)?, v)
            }
            _ => return None,
        })
    }

    /// The node the request is proxied to, if any.
    fn node(self) -> Option<&'a str> {
        match self {
            Self::Index
            | Self::Version
            | Self::Nodes
            | Self::ClusterStatus
            | Self::ClusterResources
            | Self::AccessUsers
            | Self::ClusterFirewall
            | Self::NextId => None,
            Self::NodeIndex(n)
            | Self::NodeStatus(n)
            | Self::NodeStorage(n)
            | Self::NodeTasks(n)
            | Self::TaskStatus(n, _)
            | Self::TaskLog(n, _)
            | Self::GuestList(n, _)
            | Self::GuestStatus(n, _, _)
            | Self::GuestConfig(n, _, _)
            | Self::GuestAction(n, _, _, _)
            | Self::SnapshotList(n, _, _)
            | Self::SnapshotCreate(n, _, _)
            | Self::SnapshotRollback(n, _, _, _)
            | Self::SnapshotDelete(n, _, _, _)
            | Self::ConfigPut(n, _, _)
            | Self::Restore(n, _)
            | Self::Vzdump(n)
            | Self::StorageContent(n, _)
            | Self::Network(n)
            | Self::NodeFirewall(n)
            | Self::GuestFirewall(n, _, _) => Some(n),
        }
    }
}

/// Parses an integer parameter the way PVE words its errors.
fn int_param(field: &str, raw: &str, min: i64, max: Option<i64>) -> Result<i64, PveError> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let value = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse::<i64>().ok()
    } else {
        None
    };
    let Some(value) = value else {
        return Err(PveError::param(
            field,
            format!("type check ('integer') failed - got '{raw}'"),
        ));
    };
    if value < min {
        return Err(PveError::param(
            field,
            format!("value must have a minimum value of {min}"),
        ));
    }
    if let Some(max) = max.filter(|m| value > *m) {
        return Err(PveError::param(
            field,
            format!("value must have a maximum value of {max}"),
        ));
    }
    Ok(value)
}

fn vmid_param(raw: &str) -> Result<u32, PveError> {
    let v = int_param(
        "vmid",
        raw,
        i64::from(*VMID_RANGE.start()),
        Some(i64::from(*VMID_RANGE.end())),
    )?;
    u32::try_from(v).map_err(|_| PveError::param("vmid", "value out of range"))
}

fn bool_param(field: &str, raw: &str) -> Result<bool, PveError> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(PveError::param(
            field,
            format!("type check ('boolean') failed - got '{raw}'"),
        )),
    }
}

fn enum_param<'v>(field: &str, raw: &str, values: &[&'v str]) -> Result<&'v str, PveError> {
    values.iter().copied().find(|v| *v == raw).ok_or_else(|| {
        PveError::param(
            field,
            format!(
                "value '{raw}' does not have a value in the enumeration '{}'",
                values.join(", ")
            ),
        )
    })
}

impl ProxmoxSim {
    /// Answers one authenticated, routed request.
    fn dispatch(
        &self,
        route: Route<'_>,
        query: Option<&str>,
        params: &[(String, String)],
    ) -> Result<Reply, PveError> {
        let now = Instant::now();
        let mut cluster = self.lock();
        tasks::advance(&mut cluster, now);
        if let Some(node) = route.node() {
            match cluster.node(node) {
                None => return Err(PveError::unknown_node(node)),
                Some(n) if !n.online => return Err(PveError::node_unreachable()),
                Some(_) => {}
            }
        }
        let data = match route {
            Route::Index => json!([
                {"subdir": "version"},
                {"subdir": "cluster"},
                {"subdir": "nodes"},
                {"subdir": "access"},
            ]),
            Route::Version => json!({"version": "8.2.4", "release": "8.2", "repoid": "faa83925"}),
            Route::Nodes => cluster.nodes(now),
            Route::ClusterStatus => cluster.cluster_status(),
            Route::ClusterResources => {
                let filter = match query_param(query, "type") {
                    Some(t) => Some(enum_param("type", &t, &["vm", "storage", "node", "sdn"])?),
                    None => None,
                };
                cluster.resources(filter, now)
            }
            Route::AccessUsers => cluster.users(),
            Route::NodeIndex(_) => json!([
                {"name": "lxc"},
                {"name": "qemu"},
                {"name": "status"},
                {"name": "storage"},
                {"name": "tasks"},
            ]),
            Route::NodeStatus(node) => match cluster.node(node) {
                Some(n) => cluster.node_status(n, now),
                None => return Err(PveError::unknown_node(node)),
            },
            Route::NodeStorage(node) => cluster.node_storage(node),
            Route::NodeTasks(node) => return task_list(&cluster, node, query),
            Route::TaskStatus(node, upid) => find_task(&cluster, node, upid)?.status_json(),
            Route::TaskLog(node, upid) => {
                let lines = find_task(&cluster, node, upid)?.log_json();
                let total = lines.len();
                return Ok(Reply {
                    data: Value::Array(lines),
                    total: Some(total),
                });
            }
            Route::GuestList(node, kind) => cluster.guests_on(node, kind, now),
            Route::GuestStatus(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                check_priv(&cluster, vmid, PRIV_AUDIT)?;
                cluster
                    .guest_on(node, kind, vmid)
                    .ok_or_else(|| PveError::no_config(kind, node, vmid))?
                    .status_current(now)
            }
            Route::GuestConfig(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                check_priv(&cluster, vmid, PRIV_AUDIT)?;
                cluster
                    .guest_on(node, kind, vmid)
                    .ok_or_else(|| PveError::no_config(kind, node, vmid))?
                    .config()
            }
            Route::GuestAction(node, kind, vmid, action) => {
                let vmid = vmid_param(vmid)?;
                check_priv(&cluster, vmid, PRIV_POWER)?;
                json!(self.power(&mut cluster, node, kind, vmid, action, now)?)
            }
            other => self.day2(&mut cluster, other, params, now)?,
        };
        Ok(Reply::data(data))
    }

    /// Validates a power action against the guest's state and starts its task.
    fn power(
        &self,
        cluster: &mut Cluster,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        action: PowerAction,
        now: Instant,
    ) -> Result<String, PveError> {
        let guest = cluster
            .guest_on(node, kind, vmid)
            .ok_or_else(|| PveError::no_config(kind, node, vmid))?;
        let noun = kind.noun();
        if let Some(lock) = &guest.spec.lock {
            return Err(PveError::internal(format!("{noun} is locked ({lock})")));
        }
        if cluster.tasks.active_for(vmid) {
            let lock = match kind {
                GuestKind::Qemu => format!("/var/lock/qemu-server/lock-{vmid}.conf"),
                GuestKind::Lxc => format!("/run/lock/lxc/pve-config-{vmid}.lock"),
            };
            return Err(PveError::internal(format!(
                "can't lock file '{lock}' - got timeout"
            )));
        }
        let status = guest.spec.status;
        let not_running = || PveError::internal(format!("{noun} {vmid} not running"));
        let noop = match action {
            PowerAction::Start => {
                if status.is_active() {
                    return Err(PveError::internal(format!("{noun} {vmid} already running")));
                }
                if guest.spec.template == 1 {
                    let what = match kind {
                        GuestKind::Qemu => "a vm",
                        GuestKind::Lxc => "a CT",
                    };
                    return Err(PveError::internal(format!(
                        "you can't start {what} if it's a template"
                    )));
                }
                false
            }
            PowerAction::Stop => status == GuestStatus::Stopped,
            PowerAction::Shutdown => {
                if kind == GuestKind::Qemu && status == GuestStatus::Paused {
                    return Err(PveError::internal("VM is paused - cannot shutdown"));
                }
                status == GuestStatus::Stopped
            }
            PowerAction::Reboot | PowerAction::Reset => {
                if !status.is_active() {
                    return Err(not_running());
                }
                false
            }
            PowerAction::Suspend => {
                if !status.is_active() {
                    return Err(not_running());
                }
                status == GuestStatus::Paused
            }
            PowerAction::Resume => {
                if !status.is_active() {
                    return Err(not_running());
                }
                status == GuestStatus::Running
            }
        };
        let age = cluster.age(now);
        Ok(cluster.tasks.create(
            NewTask {
                node,
                kind,
                vmid,
                work: tasks::Work::Power(action),
                user: &self.config.token_id,
                noop,
                duration: self.config.task_duration,
            },
            now,
            age,
        ))
    }
}

/// The parameters of a request, looked up by name.
struct Params<'p>(&'p [(String, String)]);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// PVE refuses parameters its schema does not define.
    fn only(&self, allowed: &[&str]) -> Result<(), PveError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(PveError::param(
                k,
                "property is not defined in schema and the schema does not allow additional properties",
            )),
            None => Ok(()),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, PveError> {
        self.get(name)
            .map(|v| bool_param(name, v))
            .transpose()
            .map(|b| b.unwrap_or(false))
    }

    fn required(&self, name: &str) -> Result<&str, PveError> {
        self.get(name)
            .ok_or_else(|| PveError::param(name, "property is missing and it is not optional"))
    }
}

/// Privileges of the day-2 calls, as PVE's schema names them.
const PRIV_SNAPSHOT: &str = "VM.Snapshot";
const PRIV_ROLLBACK: &str = "VM.Snapshot.Rollback";
const PRIV_BACKUP: &str = "VM.Backup";
const PRIV_CONFIG: &str = "VM.Config.Options";

impl ProxmoxSim {
    /// Starts a task that holds the guest's lock until it ends.
    fn start_work(
        &self,
        cluster: &mut Cluster,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        work: ops::Work,
        now: Instant,
    ) -> String {
        if let (Some(lock), Some(g)) = (work.lock(), cluster.guests.get_mut(&vmid)) {
            g.spec.lock = Some(lock.to_owned());
        }
        let age = cluster.age(now);
        cluster.tasks.create(
            NewTask {
                node,
                kind,
                vmid,
                work,
                user: &self.config.token_id,
                noop: false,
                duration: self.config.task_duration,
            },
            now,
            age,
        )
    }

    /// A guest that exists and is not locked by a config lock or a running task.
    fn unlocked(cluster: &Cluster, node: &str, kind: GuestKind, vmid: u32) -> Result<(), PveError> {
        let guest = cluster
            .guest_on(node, kind, vmid)
            .ok_or_else(|| PveError::no_config(kind, node, vmid))?;
        if let Some(lock) = &guest.spec.lock {
            return Err(PveError::internal(format!(
                "{} is locked ({lock})",
                kind.noun()
            )));
        }
        if cluster.tasks.active_for(vmid) {
            let lock = match kind {
                GuestKind::Qemu => format!("/var/lock/qemu-server/lock-{vmid}.conf"),
                GuestKind::Lxc => format!("/run/lock/lxc/pve-config-{vmid}.lock"),
            };
            return Err(PveError::internal(format!(
                "can't lock file '{lock}' - got timeout"
            )));
        }
        Ok(())
    }

    /// Snapshots, backups, restore, config, network and firewall.
    fn day2(
        &self,
        cluster: &mut Cluster,
        route: Route<'_>,
        raw: &[(String, String)],
        now: Instant,
    ) -> Result<Value, PveError> {
        let p = Params(raw);
        Ok(match route {
            Route::SnapshotList(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                check_priv(cluster, vmid, PRIV_AUDIT)?;
                let g = cluster
                    .guest_on(node, kind, vmid)
                    .ok_or_else(|| PveError::no_config(kind, node, vmid))?;
                let running = g.spec.status.is_active();
                cluster.snapshot_list(vmid, kind, running)
            }
            Route::SnapshotCreate(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                match kind {
                    GuestKind::Qemu => p.only(&["snapname", "description", "vmstate"])?,
                    GuestKind::Lxc => p.only(&["snapname", "description"])?,
                }
                let name = p.required("snapname")?;
                ops::check_snapname("snapname", name)?;
                let vmstate = p.flag("vmstate")?;
                check_priv(cluster, vmid, PRIV_SNAPSHOT)?;
                Self::unlocked(cluster, node, kind, vmid)?;
                if name == "current" || cluster.snapshot(vmid, name).is_ok() {
                    return Err(PveError::internal(format!(
                        "snapshot name '{name}' already used"
                    )));
                }
                let work = ops::Work::Snapshot {
                    name: name.to_owned(),
                    description: p.get("description").unwrap_or_default().to_owned(),
                    vmstate,
                };
                json!(self.start_work(cluster, node, kind, vmid, work, now))
            }
            Route::SnapshotRollback(node, kind, vmid, name) => {
                let vmid = vmid_param(vmid)?;
                p.only(&["start"])?;
                ops::check_snapname("snapname", name)?;
                let start = p.flag("start")?;
                if !(cluster.token_has(vmid, PRIV_SNAPSHOT)
                    || cluster.token_has(vmid, PRIV_ROLLBACK))
                {
                    return Err(PveError::permission(&format!("/vms/{vmid}"), PRIV_ROLLBACK));
                }
                Self::unlocked(cluster, node, kind, vmid)?;
                cluster.snapshot(vmid, name)?;
                let work = ops::Work::Rollback {
                    name: name.to_owned(),
                    start,
                };
                json!(self.start_work(cluster, node, kind, vmid, work, now))
            }
            Route::SnapshotDelete(node, kind, vmid, name) => {
                let vmid = vmid_param(vmid)?;
                p.only(&["force"])?;
                ops::check_snapname("snapname", name)?;
                check_priv(cluster, vmid, PRIV_SNAPSHOT)?;
                Self::unlocked(cluster, node, kind, vmid)?;
                cluster.snapshot(vmid, name)?;
                let work = ops::Work::DelSnapshot {
                    name: name.to_owned(),
                };
                json!(self.start_work(cluster, node, kind, vmid, work, now))
            }
            Route::ConfigPut(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                check_priv(cluster, vmid, PRIV_CONFIG)?;
                Self::unlocked(cluster, node, kind, vmid)?;
                let g = cluster
                    .guests
                    .get_mut(&vmid)
                    .ok_or_else(|| PveError::no_config(kind, node, vmid))?;
                for (k, v) in raw {
                    match k.as_str() {
                        "digest" => {}
                        "cores" => g.spec.cores = int_param("cores", v, 1, Some(8192))? as u32,
                        "memory" => {
                            g.spec.memory = int_param("memory", v, 16, None)? as u64;
                        }
                        "tags" => g.spec.tags = Some(v.clone()),
                        "protection" => {
                            g.spec.protection = u8::from(bool_param("protection", v)?);
                        }
                        "delete" => {
                            for key in v.split([',', ';', ' ']).filter(|k| !k.is_empty()) {
                                g.spec.config.remove(key);
                                if key == "tags" {
                                    g.spec.tags = None;
                                }
                            }
                        }
                        _ => {
                            g.spec.config.insert(k.clone(), json!(v));
                        }
                    }
                }
                Value::Null
            }
            Route::Restore(node, kind) => {
                let archive_key = match kind {
                    GuestKind::Qemu => {
                        p.only(&["vmid", "archive", "storage", "force", "unique", "start"])?;
                        "archive"
                    }
                    GuestKind::Lxc => {
                        p.only(&[
                            "vmid",
                            "ostemplate",
                            "restore",
                            "storage",
                            "force",
                            "unique",
                            "start",
                        ])?;
                        if !p.flag("restore")? {
                            // Creating a container from a template is not simulated.
                            return Err(PveError::not_implemented(
                                "POST",
                                &format!("/nodes/{node}/lxc (without restore=1)"),
                            ));
                        }
                        "ostemplate"
                    }
                };
                let vmid = vmid_param(p.required("vmid")?)?;
                let archive = p.required(archive_key)?.to_owned();
                let force = p.flag("force")?;
                check_priv(cluster, vmid, PRIV_BACKUP)?;
                let vol = cluster.volume(node, &archive).cloned().ok_or_else(|| {
                    PveError::internal(format!("volume '{archive}' does not exist"))
                })?;
                if vol.kind != kind {
                    return Err(PveError::internal(format!(
                        "archive '{archive}' is not a {} backup",
                        kind.as_str()
                    )));
                }
                if let Some(existing) = cluster.guests.get(&vmid) {
                    let noun = existing.spec.kind.noun();
                    if !force {
                        return Err(PveError::internal(format!(
                            "unable to restore {noun} {vmid} - {noun} {vmid} already exists on node '{}'",
                            existing.spec.node
                        )));
                    }
                    if existing.spec.node != node || existing.spec.kind != kind {
                        return Err(PveError::internal(format!(
                            "unable to restore {noun} {vmid} - {noun} {vmid} already exists on node '{}'",
                            existing.spec.node
                        )));
                    }
                    if existing.spec.protection == 1 {
                        return Err(PveError::internal(format!(
                            "can't remove {noun} {vmid} - protection mode enabled"
                        )));
                    }
                    Self::unlocked(cluster, node, kind, vmid)?;
                    if existing.spec.status.is_active() {
                        return Err(PveError::internal(format!(
                            "unable to restore {noun} {vmid} - {noun} is running"
                        )));
                    }
                }
                let mut spec = vol.saved;
                spec.vmid = vmid;
                spec.node = node.to_owned();
                spec.status = GuestStatus::Stopped;
                spec.lock = None;
                spec.protection = 0;
                spec.uptime = None;
                cluster.snapshots.remove(&vmid);
                cluster
                    .guests
                    .insert(vmid, state::Guest { spec, since: now });
                let work = ops::Work::Restore { archive };
                json!(self.start_work(cluster, node, kind, vmid, work, now))
            }
            Route::Vzdump(node) => {
                p.only(&[
                    "vmid",
                    "storage",
                    "mode",
                    "compress",
                    "protected",
                    "notes-template",
                    "remove",
                ])?;
                let ids = p.required("vmid")?;
                let mut vmids = Vec::new();
                for id in ids.split([',', ';', ' ']).filter(|s| !s.is_empty()) {
                    vmids.push(vmid_param(id).map_err(|_| {
                        PveError::param(
                            "vmid",
                            format!(
                                "invalid format - value '{id}' does not look like a valid VM ID"
                            ),
                        )
                    })?);
                }
                if vmids.len() != 1 {
                    // Several guests in one job: not simulated.
                    return Err(PveError::not_implemented(
                        "POST",
                        &format!("/nodes/{node}/vzdump (more than one vmid)"),
                    ));
                }
                let vmid = vmids[0];
                let storage = p.get("storage").unwrap_or("local").to_owned();
                let Some(st) = cluster.storages_on(node).find(|s| s.storage == storage) else {
                    return Err(PveError::internal(format!(
                        "storage '{storage}' does not exist"
                    )));
                };
                if !st.content.split(',').any(|c| c == "backup") {
                    return Err(PveError::internal(format!(
                        "can't use storage '{storage}' for backups - wrong content type"
                    )));
                }
                let mode = enum_param(
                    "mode",
                    p.get("mode").unwrap_or("snapshot"),
                    &["snapshot", "suspend", "stop"],
                )?
                .to_owned();
                let compress = enum_param(
                    "compress",
                    p.get("compress").unwrap_or("0"),
                    &["0", "1", "gzip", "lzo", "zstd"],
                )?;
                let compress = if compress == "1" { "lzo" } else { compress }.to_owned();
                let protected = p.flag("protected")?;
                check_priv(cluster, vmid, PRIV_BACKUP)?;
                let Some(g) = cluster.guests.get(&vmid) else {
                    return Err(PveError::internal(format!(
                        "unable to find configuration file for VM {vmid} on node '{node}'"
                    )));
                };
                if g.spec.node != node {
                    return Err(PveError::internal(format!(
                        "guest {vmid} is not on node '{node}' (it is on '{}')",
                        g.spec.node
                    )));
                }
                let kind = g.spec.kind;
                Self::unlocked(cluster, node, kind, vmid)?;
                let notes = p.get("notes-template").map(|t| {
                    t.replace("{{vmid}}", &vmid.to_string())
                        .replace("{{guestname}}", &g.spec.name)
                        .replace("{{node}}", node)
                        .replace("{{cluster}}", &cluster.seed.cluster_name)
                });
                let work = ops::Work::Vzdump {
                    storage,
                    mode,
                    compress,
                    protected,
                    notes,
                };
                json!(self.start_work(cluster, node, kind, vmid, work, now))
            }
            Route::StorageContent(node, storage) => {
                if cluster.storages_on(node).all(|s| s.storage != storage) {
                    return Err(PveError::internal(format!(
                        "storage '{storage}' does not exist"
                    )));
                }
                let content = p.get("content");
                let vmid = p.get("vmid").map(vmid_param).transpose()?;
                if content.is_some_and(|c| c != "backup") {
                    // Only backup volumes are simulated.
                    Value::Array(Vec::new())
                } else {
                    cluster
                        .volumes_on(node, storage)
                        .filter(|v| vmid.is_none_or(|id| v.vmid == id))
                        .map(ops::Volume::json)
                        .collect()
                }
            }
            Route::Network(node) => {
                let ip = cluster.node(node).and_then(|n| n.ip.clone());
                ops::network(ip.as_deref())
            }
            Route::ClusterFirewall => ops::firewall_rules("cluster"),
            Route::NextId => {
                // PVE returns the id as a string; with `vmid`, it checks that one is free.
                if let Some(want) = p.get("vmid") {
                    let id = vmid_param(want)?;
                    if cluster.guests.contains_key(&id) {
                        return Err(PveError::param("vmid", format!("VM {id} already exists")));
                    }
                    json!(id.to_string())
                } else {
                    let free = (100u32..)
                        .find(|id| !cluster.guests.contains_key(id))
                        .unwrap_or(100);
                    json!(free.to_string())
                }
            }
            Route::NodeFirewall(_) => ops::firewall_rules("node"),
            Route::GuestFirewall(node, kind, vmid) => {
                let vmid = vmid_param(vmid)?;
                check_priv(cluster, vmid, PRIV_AUDIT)?;
                cluster
                    .guest_on(node, kind, vmid)
                    .ok_or_else(|| PveError::no_config(kind, node, vmid))?;
                ops::firewall_rules("guest")
            }
            _ => return Err(PveError::internal("route not handled")),
        })
    }
}

fn check_priv(cluster: &Cluster, vmid: u32, privilege: &str) -> Result<(), PveError> {
    if cluster.token_has(vmid, privilege) {
        Ok(())
    } else {
        Err(PveError::permission(&format!("/vms/{vmid}"), privilege))
    }
}

fn find_task<'c>(
    cluster: &'c Cluster,
    node: &str,
    upid: &str,
) -> Result<&'c tasks::Task, PveError> {
    let parsed = tasks::Upid::parse(upid)
        .ok_or_else(|| PveError::param("upid", "unable to parse worker upid"))?;
    if parsed.node != node {
        return Err(PveError::no_such_task());
    }
    cluster.tasks.find(upid).ok_or_else(PveError::no_such_task)
}

/// `GET /nodes/N/tasks`: newest first; `source` (archive = finished, the
/// default; active; all), `vmid`, `typefilter`, `errors`, `start`, `limit`.
fn task_list(cluster: &Cluster, node: &str, query: Option<&str>) -> Result<Reply, PveError> {
    let param = |name: &str| query_param(query, name);
    let limit = match param("limit") {
        Some(v) => int_param("limit", &v, 0, None)? as u64,
        None => DEFAULT_TASK_LIMIT,
    };
    let start = match param("start") {
        Some(v) => int_param("start", &v, 0, None)? as u64,
        None => 0,
    };
    let vmid = param("vmid").map(|v| vmid_param(&v)).transpose()?;
    let source = match param("source") {
        Some(v) => enum_param("source", &v, &["archive", "active", "all"])?,
        None => "archive",
    };
    let errors_only = param("errors")
        .map(|v| bool_param("errors", &v))
        .transpose()?
        .unwrap_or(false);
    let typefilter = param("typefilter");
    let matching: Vec<&tasks::Task> = cluster
        .tasks
        .iter()
        .rev()
        .filter(|t| t.upid.node == node)
        .filter(|t| match source {
            "archive" => !t.is_running(),
            "active" => t.is_running(),
            _ => true,
        })
        .filter(|t| vmid.is_none_or(|v| t.vmid == v))
        .filter(|t| typefilter.as_deref().is_none_or(|f| t.upid.kind == f))
        .filter(|t| !errors_only || t.exitstatus.as_deref().is_some_and(|s| s != "OK"))
        .collect();
    let total = matching.len();
    let data = matching
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(tasks::Task::list_json)
        .collect();
    Ok(Reply {
        data,
        total: Some(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids() {
        assert!(validate_token_id("root@pam!ci").is_ok());
        assert!(validate_token_id("svc@pve!mcp-01").is_ok());
        for bad in [
            "root@pam",
            "root!x",
            "@pam!x",
            "root@!x",
            "root@pam!",
            "a b@pam!x",
            "a@b!c!d",
            "a@b!c=d",
            "a@b!c:d",
        ] {
            assert!(validate_token_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("UPID%3Apve1%3A"), "UPID:pve1:");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz"), "a%zz");
        assert_eq!(percent_decode("root%40pam%21t"), "root@pam!t");
    }

    #[test]
    fn int_params() {
        assert_eq!(int_param("limit", "5", 0, None), Ok(5));
        assert_eq!(
            int_param("limit", "x", 0, None)
                .expect_err("not an integer")
                .errors
                .and_then(|e| e.get("limit").cloned()),
            Some("type check ('integer') failed - got 'x'".to_owned())
        );
        assert!(vmid_param("99").is_err());
        assert!(vmid_param("1000000000").is_err());
        assert_eq!(vmid_param("100"), Ok(100));
    }
}
