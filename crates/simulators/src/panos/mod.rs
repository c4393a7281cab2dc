//! PAN-OS XML API simulator: `/api/` with keygen, version, config get/show
//! and op commands, backed by a running-config XML file.

pub mod dom;
pub mod ops;
pub mod policy_match;
pub mod xpath;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::common::{Fault, SimControl, control_router, dropped_response};
use dom::{Element, escape_text};
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

/// The simulated device: its configuration and credentials.
#[derive(Debug)]
pub struct PanosSim {
    config: RwLock<Element>,
    auth: PanosAuth,
    started: Instant,
}

impl PanosSim {
    /// A device running `config`.
    pub fn new(config: Element, auth: PanosAuth) -> Self {
        Self {
            config: RwLock::new(config),
            auth,
            started: Instant::now(),
        }
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

    /// Read access to the running configuration.
    pub fn config(&self) -> RwLockReadGuard<'_, Element> {
        self.config.read().unwrap_or_else(|p| p.into_inner())
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

/// The full router: `/api/`, `/api` and the `/_sim/*` control endpoints.
pub fn router(sim: Arc<PanosSim>, ctl: SimControl) -> Router {
    let api = Router::new()
        .route("/api/", get(api_handler).post(api_handler))
        .route("/api", get(api_handler).post(api_handler))
        .with_state(AppState {
            sim,
            ctl: ctl.clone(),
        });
    api.merge(control_router(ctl))
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
        other => (other.to_owned(), other.to_owned()),
    };
    app.ctl.stats.record(&kind, &key);
    tracing::debug!(%method, %key, "api request");

    if let Some(r) = fault_response(app.ctl.faults.apply().await) {
        return r;
    }

    let auth = &app.sim.auth;
    if ty == "keygen" {
        let good = auth.username.is_some()
            && get("user") == auth.username.as_deref()
            && get("password").unwrap_or_default() == auth.password.as_deref().unwrap_or_default();
        return if good {
            ok(format!(
                "<response status=\"success\"><result><key>{}</key></result></response>",
                escape_text(&auth.api_key)
            ))
        } else {
            xml(StatusCode::FORBIDDEN, INVALID_CREDENTIAL)
        };
    }

    let header_key = headers.get("x-pan-key").and_then(|v| v.to_str().ok());
    if header_key != Some(auth.api_key.as_str()) && get("key") != Some(auth.api_key.as_str()) {
        return xml(StatusCode::FORBIDDEN, INVALID_CREDENTIAL);
    }

    match ty {
        "version" => {
            let config = app.sim.config();
            ok(format!(
                "<response status=\"success\"><result><sw-version>{}</sw-version><multi-vsys>off</multi-vsys><model>{}</model><serial>{SERIAL}</serial></result></response>",
                escape_text(&sw_version(&config)),
                model(&config)
            ))
        }
        "config" => ok(config_request(
            &app.sim,
            get("action").unwrap_or_default(),
            get("xpath").unwrap_or_default(),
        )),
        "op" => match cmd {
            Some(Ok(c)) => ok(ops::run(&app.sim, &c, get("vsys").unwrap_or("vsys1"))),
            _ => ok(error_line("malformed command")),
        },
        _ => ok(
            "<response status=\"error\" code=\"400\"><result><msg>Parameter \"type\" is invalid</msg></result></response>",
        ),
    }
}

fn config_request(sim: &PanosSim, action: &str, xpath: &str) -> String {
    if action != "get" && action != "show" {
        return "<response status=\"error\" code=\"12\"><msg><line>action not supported by the simulator</line></msg></response>".to_owned();
    }
    let path = match XPath::parse(xpath) {
        Ok(p) => p,
        Err(e) => {
            return format!(
                "<response status=\"error\" code=\"6\"><msg><line>bad xpath: {}</line></msg></response>",
                escape_text(&e.0)
            );
        }
    };
    let config = sim.config();
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
