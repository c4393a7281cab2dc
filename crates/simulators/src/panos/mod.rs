//! PAN-OS XML API simulator: `/api/` with keygen, version, `type=config`
//! (get and show, set, edit, delete, move, rename), `type=commit` (commit,
//! partial commit, Panorama commit-all), op commands, log jobs
//! (`type=log`) and, on Panorama, managed firewalls (`target=`), backed by a
//! configuration XML file that becomes both the running and the candidate
//! configuration. See `docs/servers/paloalto-ngfw.md` (reads, policy match,
//! faults) and `docs/simulators.md` (change management) for what is simulated.

pub mod dom;
mod hitcount;
pub mod jobs;
mod locks;
pub mod logs;
pub mod netstate;
pub mod ops;
pub mod policy_match;
pub mod refs;
mod state;
pub mod traffic;
pub mod tree;
pub mod users;
pub mod xpath;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::common::{Fault, SimControl, control_router, dropped_response};
use dom::{Element, Node, escape_text};
pub use jobs::JobTiming;
use state::{DeviceState, Write};
use tree::Where;
pub use users::User;
use users::Users;
use xpath::XPath;

/// The serial number every simulated device reports.
pub const SERIAL: &str = "SIM0001";

/// Body of every authentication failure (sent with HTTP 403).
pub const INVALID_CREDENTIAL: &str = "<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>";

const GET_ATTRS: [(&str, &str); 3] = [
    ("admin", "admin"),
    ("dirtyId", "1"),
    ("time", "2026/11/21 00:00:00"),
];

/// Credentials the simulator accepts.
#[derive(Debug, Clone)]
pub struct PanosAuth {
    /// The API key (`X-PAN-KEY` header or `key` parameter); keygen returns it.
    pub api_key: String,
    /// Username accepted by keygen; keygen always fails without one.
    pub username: Option<String>,
    /// Password accepted by keygen.
    pub password: Option<String>,
}

/// Errors loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not well-formed XML.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: dom::ParseError,
    },
}

/// The simulated device: its configurations, administrators and jobs.
#[derive(Debug)]
pub struct PanosSim {
    state: Mutex<DeviceState>,
    loaded: Arc<Element>,
    users: Users,
    timing: JobTiming,
    started: Instant,
    serial: String,
    devices: Vec<Managed>,
    log_jobs: Mutex<logs::LogJobs>,
}

/// A firewall managed by a simulated Panorama, reached with `target=SERIAL`.
#[derive(Debug)]
pub struct Managed {
    /// Its serial number.
    pub serial: String,
    /// The firewall itself (its own configuration, jobs and locks).
    pub sim: Arc<PanosSim>,
}

impl PanosSim {
    /// A device running `config`, with one administrator: `auth.username`
    /// (`admin` when absent, then without a password) and `auth.api_key`.
    pub fn new(config: Element, auth: PanosAuth) -> Self {
        let mut users = Users::default();
        let password = auth.username.as_ref().and(auth.password);
        users.add(User {
            name: auth.username.unwrap_or_else(|| "admin".to_owned()),
            password,
            api_key: auth.api_key,
        });
        let loaded = Arc::new(config);
        Self {
            state: Mutex::new(DeviceState::new(loaded.clone())),
            loaded,
            users,
            timing: JobTiming::default(),
            started: Instant::now(),
            serial: SERIAL.to_owned(),
            devices: Vec::new(),
            log_jobs: Mutex::new(logs::LogJobs::default()),
        }
    }

    /// Sets the serial number the device reports (default [`SERIAL`]).
    pub fn with_serial(mut self, serial: &str) -> Self {
        self.serial = serial.to_owned();
        self
    }

    /// Adds a managed firewall (Panorama only answers for it): requests with
    /// `target=SERIAL` go to `sim`, which reports `serial`. Its jobs take as
    /// long as this device's.
    pub fn with_device(mut self, serial: &str, sim: PanosSim) -> Self {
        let sim = sim.with_serial(serial).with_job_timing(self.timing);
        self.devices.retain(|d| d.serial != serial);
        self.devices.push(Managed {
            serial: serial.to_owned(),
            sim: Arc::new(sim),
        });
        self
    }

    /// The serial number this device reports.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The managed firewalls loaded with [`PanosSim::with_device`].
    pub fn devices(&self) -> &[Managed] {
        &self.devices
    }

    /// Log jobs not yet finished (`action=finish`) by a client.
    pub fn open_log_jobs(&self) -> usize {
        self.log_jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub(crate) fn log_jobs(&self) -> MutexGuard<'_, logs::LogJobs> {
        self.log_jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an administrator (one with the same name or key is replaced).
    pub fn with_user(mut self, user: User) -> Self {
        self.users.add(user);
        self
    }

    /// Sets how long jobs take (default: three looks or two seconds), here
    /// and on the managed firewalls added before.
    pub fn with_job_timing(mut self, timing: JobTiming) -> Self {
        self.timing = timing;
        for d in &mut self.devices {
            if let Some(sim) = Arc::get_mut(&mut d.sim) {
                sim.timing = timing;
            }
        }
        self
    }

    /// A device running the configuration XML `text`.
    pub fn from_xml(text: &str, auth: PanosAuth) -> Result<Self, dom::ParseError> {
        Ok(Self::new(Element::parse(text)?, auth))
    }

    /// A device running the configuration in file `path`.
    pub fn from_file(path: &Path, auth: PanosAuth) -> Result<Self, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_xml(&text, auth).map_err(|source| LoadError::Parse {
            path: shown,
            source,
        })
    }

    /// The state, with every job whose time is up finished.
    pub(crate) fn state(&self) -> MutexGuard<'_, DeviceState> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.tick(self.timing);
        st
    }

    /// How long jobs take.
    pub(crate) fn timing(&self) -> JobTiming {
        self.timing
    }

    /// Back to the configuration loaded at start, as running and candidate:
    /// no pending changes, jobs or locks (`POST /_sim/state/reset`).
    pub fn reset_state(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = DeviceState::new(self.loaded.clone());
        drop(st);
        self.log_jobs().clear();
        for d in &self.devices {
            d.sim.reset_state();
        }
    }

    /// The running configuration (what `action=show` reads).
    pub fn config(&self) -> Arc<Element> {
        self.state().running.clone()
    }

    /// The candidate configuration (what `action=get` reads).
    pub fn candidate(&self) -> Arc<Element> {
        self.state().candidate.clone()
    }

    /// Time since the simulator started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Is `config` a Panorama configuration (it has `devices/entry/device-group`)?
pub fn is_panorama(config: &Element) -> bool {
    config.child("devices").is_some_and(|d| {
        d.elements()
            .any(|e| e.name == "entry" && e.child("device-group").is_some())
    })
}

/// `Panorama` or `PA-VM`.
pub fn model(config: &Element) -> &'static str {
    if is_panorama(config) {
        "Panorama"
    } else {
        "PA-VM"
    }
}

/// The `version` attribute of the root element (`10.1.0` when absent).
pub fn sw_version(config: &Element) -> String {
    config.attr("version").unwrap_or("10.1.0").to_owned()
}

/// `<response status="error"><msg><line>TEXT</line></msg></response>`.
pub fn error_line(text: &str) -> String {
    format!(
        "<response status=\"error\"><msg><line>{}</line></msg></response>",
        escape_text(text)
    )
}

#[derive(Debug, Clone)]
struct AppState {
    sim: Arc<PanosSim>,
    ctl: SimControl,
}

/// The full router: `/api/`, `/api`, `POST /_sim/state/reset` and the
/// `/_sim/*` control endpoints.
pub fn router(sim: Arc<PanosSim>, ctl: SimControl) -> Router {
    let api = Router::new()
        .route("/api/", get(api_handler).post(api_handler))
        .route("/api", get(api_handler).post(api_handler))
        .route("/_sim/state/reset", post(reset_state_handler))
        .with_state(AppState {
            sim,
            ctl: ctl.clone(),
        });
    api.merge(control_router(ctl))
}

async fn reset_state_handler(State(app): State<AppState>) -> Response {
    app.sim.reset_state();
    axum::Json(serde_json::json!({"reset": true})).into_response()
}

fn xml(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        body.into(),
    )
        .into_response()
}

fn ok(body: impl Into<String>) -> Response {
    xml(StatusCode::OK, body)
}

fn fault_response(fault: Fault) -> Option<Response> {
    match fault {
        Fault::None => None,
        Fault::Drop => Some(dropped_response()),
        Fault::RateLimit { retry_after_secs } => {
            let mut r = xml(
                StatusCode::TOO_MANY_REQUESTS,
                error_line("Too many requests"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Some(r)
        }
        Fault::Fail { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(
                (
                    status,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    )],
                    "<html><body>Internal Server Error</body></html>",
                )
                    .into_response(),
            )
        }
        Fault::Malformed => Some(ok("<response status=\"success\"><result><unclosed>")),
    }
}

/// Request parameters: the query string, overridden by a form body on POST.
fn params(query: Option<&str>, body: Option<&[u8]>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(q) = query {
        out.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    if let Some(b) = body {
        out.extend(url::form_urlencoded::parse(b).into_owned());
    }
    out
}

async fn api_handler(
    State(app): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let body = (method == Method::POST).then_some(&body[..]);
    let p = params(query.as_deref(), body);
    let get = |k: &str| p.get(k).map(String::as_str);
    let ty = get("type").unwrap_or_default();

    let cmd = (ty == "op")
        .then(|| get("cmd").map(Element::parse))
        .flatten();
    let (kind, key) = match ty {
        "" => ("none".to_owned(), "none".to_owned()),
        "config" => (
            "config".to_owned(),
            format!(
                "config:{}:{}",
                get("action").unwrap_or_default(),
                get("xpath").unwrap_or_default()
            ),
        ),
        "op" => (
            "op".to_owned(),
            match &cmd {
                Some(Ok(c)) => format!("op:{}", ops::command_key(c)),
                _ => "op:malformed".to_owned(),
            },
        ),
        "log" => (
            "log".to_owned(),
            match get("action") {
                Some(a) => format!("log:{a}"),
                None => format!("log:{}", get("log-type").unwrap_or_default()),
            },
        ),
        other => (other.to_owned(), other.to_owned()),
    };
    let key = match get("target") {
        Some(t) => format!("{key}@{t}"),
        None => key,
    };
    app.ctl.stats.record(&kind, &key);
    tracing::debug!(%method, %key, "api request");

    if let Some(r) = fault_response(app.ctl.faults.apply().await) {
        return r;
    }

    let users = &app.sim.users;
    if ty == "keygen" {
        let user = users.keygen(
            get("user").unwrap_or_default(),
            get("password").unwrap_or_default(),
        );
        return match user {
            Some(u) => ok(format!(
                "<response status=\"success\"><result><key>{}</key></result></response>",
                escape_text(&u.api_key)
            )),
            None => xml(StatusCode::FORBIDDEN, INVALID_CREDENTIAL),
        };
    }

    let header_key = headers.get("x-pan-key").and_then(|v| v.to_str().ok());
    let user = header_key
        .and_then(|k| users.by_key(k))
        .or_else(|| get("key").and_then(|k| users.by_key(k)));
    let Some(user) = user else {
        return xml(StatusCode::FORBIDDEN, INVALID_CREDENTIAL);
    };
    let admin = user.name.as_str();

    let sim = match get("target") {
        None => &app.sim,
        Some(serial) => match managed(&app.sim, serial) {
            Ok(sim) => sim,
            Err(body) => return ok(body),
        },
    };
    ok(dispatch(sim, admin, ty, &p))
}

/// The firewall `target=SERIAL` names, or the error body to answer.
fn managed<'a>(sim: &'a Arc<PanosSim>, serial: &str) -> Result<&'a Arc<PanosSim>, String> {
    if !is_panorama(&sim.config()) {
        return Err(bad_param(
            "target",
            "invalid: only Panorama forwards to managed devices",
        ));
    }
    if let Some(d) = sim.devices.iter().find(|d| d.serial == serial) {
        return Ok(&d.sim);
    }
    if ops::registered_serials(&sim.config())
        .iter()
        .any(|s| s == serial)
    {
        return Err(error_line(&format!("Device {serial} is not connected")));
    }
    Err(error_line(&format!(
        "Device {serial} is not managed by this Panorama"
    )))
}

/// Answers one authenticated request on `sim`.
fn dispatch(sim: &PanosSim, admin: &str, ty: &str, p: &BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map(String::as_str);
    match ty {
        "version" => {
            let config = sim.config();
            format!(
                "<response status=\"success\"><result><sw-version>{}</sw-version><multi-vsys>off</multi-vsys><model>{}</model><serial>{}</serial></result></response>",
                escape_text(&sw_version(&config)),
                model(&config),
                escape_text(&sim.serial)
            )
        }
        "config" => config_request(sim, admin, p),
        "op" => match get("cmd").map(Element::parse) {
            Some(Ok(c)) => ops::run(sim, admin, &c, get("vsys")),
            _ => error_line("malformed command"),
        },
        "commit" => commit_request(sim, admin, p),
        "log" => log_request(sim, p),
        _ => BAD_TYPE.to_owned(),
    }
}

/// `type=log`: submit a log job, or `action=get|finish|delete` one.
fn log_request(sim: &PanosSim, p: &BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map(String::as_str);
    match get("action") {
        None => {
            let config = sim.config();
            let id = sim.state().next_job_id();
            let name = ops::hostname(&config);
            sim.log_jobs().submit(id, &config, p, &sim.serial, &name)
        }
        Some(a @ ("get" | "finish" | "delete")) => {
            let Some(id) = get("job-id").filter(|j| !j.is_empty()) else {
                return bad_param("job-id", "required");
            };
            if a == "get" {
                sim.log_jobs().get(id, sim.timing)
            } else {
                sim.log_jobs().finish(id)
            }
        }
        Some(_) => bad_param("action", "invalid"),
    }
}

const BAD_TYPE: &str = "<response status=\"error\" code=\"400\"><result><msg>Parameter \"type\" is invalid</msg></result></response>";

/// A code-400 answer: `Parameter "NAME" is WHAT`.
fn bad_param(name: &str, what: &str) -> String {
    format!(
        "<response status=\"error\" code=\"400\"><result><msg>Parameter \"{name}\" is {what}</msg></result></response>"
    )
}

/// The answer to an `element` that is not XML.
const MALFORMED: &str =
    "<response status=\"error\" code=\"18\"><msg><line>Malformed Request</line></msg></response>";

/// Parses an `element` parameter: one or more sibling elements, no text.
fn parse_elements(text: &str) -> Option<Vec<Element>> {
    let wrapped = Element::parse(&format!("<sim-element-list>{text}</sim-element-list>")).ok()?;
    let mut out = Vec::new();
    for c in wrapped.children {
        match c {
            Node::Element(e) => out.push(e),
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Text(_) => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

fn config_request(sim: &PanosSim, admin: &str, p: &BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map(String::as_str);
    let action = get("action").unwrap_or_default();
    if !matches!(
        action,
        "get" | "show" | "set" | "edit" | "delete" | "move" | "rename"
    ) {
        return "<response status=\"error\" code=\"12\"><msg><line>action not supported by the simulator</line></msg></response>".to_owned();
    }
    let path = match XPath::parse(get("xpath").unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => {
            return format!(
                "<response status=\"error\" code=\"6\"><msg><line>bad xpath: {}</line></msg></response>",
                escape_text(&e.0)
            );
        }
    };
    let write = match action {
        "get" | "show" => return read_config(sim, action, &path),
        "set" | "edit" => {
            let Some(text) = get("element") else {
                return bad_param("element", "required");
            };
            let Some(mut elements) = parse_elements(text) else {
                return MALFORMED.to_owned();
            };
            if action == "set" {
                Write::Set(path, elements)
            } else if elements.len() == 1 {
                let Some(el) = elements.pop() else {
                    return MALFORMED.to_owned();
                };
                Write::Edit(path, el)
            } else {
                return "<response status=\"error\" code=\"12\"><msg><line>Edit breaks config validity</line></msg></response>".to_owned();
            }
        }
        "delete" => Write::Delete(path),
        "move" => {
            let dst = get("dst").map(str::to_owned);
            let to = match get("where") {
                None => return bad_param("where", "required"),
                Some("top") => Where::Top,
                Some("bottom") => Where::Bottom,
                Some(w @ ("before" | "after")) => {
                    let Some(d) = dst.filter(|d| !d.is_empty()) else {
                        return bad_param("dst", "required");
                    };
                    if w == "before" {
                        Where::Before(d)
                    } else {
                        Where::After(d)
                    }
                }
                Some(_) => return bad_param("where", "invalid"),
            };
            Write::Move(path, to)
        }
        _ => match get("newname").filter(|n| !n.is_empty()) {
            None => return bad_param("newname", "required"),
            Some(n) => Write::Rename(path, n.to_owned()),
        },
    };
    sim.state().write(admin, write)
}

/// `type=commit`: a commit, partial commit or (Panorama) commit-all.
fn commit_request(sim: &PanosSim, admin: &str, p: &BTreeMap<String, String>) -> String {
    let text = p.get("cmd").map_or("<commit></commit>", String::as_str);
    let Ok(cmd) = Element::parse(text) else {
        return MALFORMED.to_owned();
    };
    match cmd.name.as_str() {
        "commit" => sim.state().commit(admin, &cmd),
        "commit-all" => {
            if !is_panorama(&sim.config()) {
                return "<response status=\"error\" code=\"17\"><msg><line>commit-all is only available on Panorama</line></msg></response>".to_owned();
            }
            if p.get("action").map(String::as_str) != Some("all") {
                return bad_param("action", "invalid");
            }
            sim.state().commit_all(admin, &cmd)
        }
        other => format!(
            "<response status=\"error\"><msg><line><![CDATA[ {} -> is unexpected]]></line></msg></response>",
            other.replace("]]>", "]]]]><![CDATA[>")
        ),
    }
}

/// `action=get` (candidate) and `action=show` (running).
fn read_config(sim: &PanosSim, action: &str, path: &XPath) -> String {
    let config = if action == "get" {
        sim.candidate()
    } else {
        sim.config()
    };
    let nodes = path.select(&config);
    let n = nodes.len();
    let mut out = String::new();
    if action == "get" {
        if n == 0 {
            return "<response status=\"success\" code=\"7\"><result/></response>".to_owned();
        }
        out.push_str(&format!(
            "<response status=\"success\" code=\"19\"><result total-count=\"{n}\" count=\"{n}\">"
        ));
        for node in nodes {
            node.write_xml(&mut out, &GET_ATTRS);
        }
    } else {
        if n == 0 {
            return error_line("No such node");
        }
        if n > 1 {
            out.push_str(&format!(
                "<response status=\"success\"><result total-count=\"{n}\" count=\"{n}\">"
            ));
        } else {
            out.push_str("<response status=\"success\"><result>");
        }
        for node in nodes {
            node.write_xml(&mut out, &[]);
        }
    }
    out.push_str("</result></response>");
    out
}
