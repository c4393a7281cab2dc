//! The errors of the two clients, and where each becomes a [`ToolError`] (one `From` impl
//! per client, nowhere else).
//!
//! PVE reports errors in the HTTP reason phrase ("Permission check failed (/vms/100,
//! VM.PowerMgmt)") and parameter errors in `errors`; both reach the model as written.

use std::path::PathBuf;
use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::UpstreamError;

/// How the REST API is named in errors.
pub const UPSTREAM: &str = "Proxmox VE";

/// A REST API call that did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum PveError {
    /// No answer: connect, TLS, timeout, open breaker.
    #[error(transparent)]
    Transport(#[from] UpstreamError),
    #[error(
        "{reason} (HTTP 401): the API token was rejected; check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET"
    )]
    TokenRejected { reason: String },
    #[error("{reason} (HTTP 403): the API token lacks this privilege")]
    Forbidden { reason: String },
    /// A parameter error; `fields` is PVE's `errors`, as `name: message; ...`.
    #[error("{reason} (HTTP 400){}", fields.as_deref().map(|f| format!(": {f}")).unwrap_or_default())]
    BadRequest {
        reason: String,
        fields: Option<String>,
    },
    #[error("rate limited (HTTP 429)")]
    RateLimited { retry_after: Option<Duration> },
    /// 595: the API server answered, the node it should ask did not.
    #[error("the node is unreachable from the cluster: {reason} (HTTP 595)")]
    NodeUnreachable { reason: String },
    /// A 500 with PVE's own reason phrase: its answer about one object ("VM 102 already
    /// running"), not a failing server.
    #[error("{reason} (HTTP 500)")]
    Refused { reason: String },
    #[error("{reason} (HTTP 501): no such API path or method")]
    NotImplemented { reason: String },
    /// Any other 5xx: the API server is failing.
    #[error("{reason} (HTTP {status})")]
    ServerError {
        status: u16,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other status.
    #[error("{reason} (HTTP {status})")]
    Status { status: u16, reason: String },
    #[error("the response is not valid JSON")]
    NotJson,
    /// Valid JSON whose `data` is not what the path returns.
    #[error("the answer of {path} could not be read: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the action returned no task id")]
    NoTaskId,
}

impl From<PveError> for ToolError {
    fn from(e: PveError) -> Self {
        match e {
            PveError::Transport(e) => e.into(),
            PveError::RateLimited { retry_after } => ToolError::RateLimited {
                upstream: UPSTREAM.into(),
                retry_after,
            },
            PveError::NodeUnreachable { .. } => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: e.to_string(),
                retry_after: None,
            },
            PveError::ServerError { retry_after, .. } => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: e.to_string(),
                retry_after,
            },
            e => ToolError::upstream(UPSTREAM, e.to_string()),
        }
    }
}

/// An SSH session that could not run a command.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// At startup: the private key cannot be used.
    #[error(
        "cannot load the SSH key {}: {message} (an unencrypted OpenSSH private key is required)",
        path.display()
    )]
    Key { path: PathBuf, message: String },
    /// A step of the session failed (`connect`, `negotiate`, `authenticate`, `open channel`,
    /// `exec`).
    #[error("{step}: {message}")]
    Session {
        host: String,
        port: u16,
        step: &'static str,
        message: String,
    },
    #[error(
        "the SSH host key of {host}:{port} is not trusted: add it to PROXMOX_SSH_KNOWN_HOSTS or pin it with PROXMOX_SSH_HOST_FINGERPRINT"
    )]
    UntrustedHostKey { host: String, port: u16 },
    #[error(
        "SSH login as {user} on {host}:{port} was refused: check PROXMOX_SSH_USER and that the key is in authorized_keys"
    )]
    LoginRefused {
        user: String,
        host: String,
        port: u16,
    },
    #[error(
        "the command did not finish within {} s and was abandoned (its channel was closed)",
        after.as_secs()
    )]
    TimedOut { host: String, after: Duration },
}

impl From<SshError> for ToolError {
    fn from(e: SshError) -> Self {
        match e {
            SshError::UntrustedHostKey { .. } | SshError::LoginRefused { .. } => {
                ToolError::denied(e.to_string())
            }
            SshError::Session { ref host, port, .. } => ToolError::Unavailable {
                upstream: format!("SSH {host}:{port}"),
                message: e.to_string(),
                retry_after: None,
            },
            SshError::TimedOut { ref host, .. } => ToolError::Unavailable {
                upstream: format!("SSH {host}"),
                message: e.to_string(),
                retry_after: None,
            },
            // A startup error; the server does not start without its key.
            SshError::Key { .. } => ToolError::internal(e),
        }
    }
}
