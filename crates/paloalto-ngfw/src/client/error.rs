//! Every way an exchange with PAN-OS fails, and what the model is told about it: the one
//! place a [`PanosError`] becomes a [`ToolError`].

use std::sync::Arc;
use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::UpstreamError;

/// The upstream's name in every message.
pub(crate) const UPSTREAM: &str = "PAN-OS";

/// A failed exchange with PAN-OS.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PanosError {
    #[error("PAN-OS rejected the credentials (code 403): {0}")]
    Auth(String),
    #[error("PAN-OS said: {message} ({label}, code {code})")]
    Api {
        code: u16,
        label: &'static str,
        message: String,
    },
    #[error("PAN-OS said: {0}")]
    ApiNoCode(String),
    #[error("PAN-OS returned something that is not an XML API response: {0}")]
    NotXml(String),
    #[error("PAN-OS answered HTTP {status}: {snippet}")]
    Http {
        status: u16,
        snippet: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Transport(Arc<UpstreamError>),
    /// The object a write names does not exist (code 7, "Object doesn't exist").
    #[error("PAN-OS said: {0} (object not present)")]
    NotFound(String),
    /// A delete that references still block (code 10).
    #[error("PAN-OS said: {0} (reference count not zero)")]
    ReferenceBlocksDelete(String),
    /// Someone holds a config or commit lock (`holder` when PAN-OS or the lock list named
    /// them; `None` with "you already own" when this server's own administrator does).
    #[error("PAN-OS said: {message}")]
    LockHeld {
        holder: Option<String>,
        message: String,
    },
    /// A commit or push job finished with result FAIL.
    #[error("job {job} failed: {}", details.join("; "))]
    JobFailed { job: u64, details: Vec<String> },
    /// The `device` a call names cannot be reached through Panorama (unknown, ambiguous,
    /// not connected).
    #[error("{0}")]
    Device(String),
    /// A `<result>` the normalisers could not read.
    #[error("the configuration could not be parsed: {0}")]
    Parse(String),
}

impl From<&PanosError> for ToolError {
    fn from(e: &PanosError) -> Self {
        match e {
            PanosError::Auth(msg) => ToolError::upstream(
                UPSTREAM,
                format!(
                    "{msg} (code 403): the API key or credentials were rejected; check PANOS_API_KEY and the admin role's XML API permissions"
                ),
            ),
            PanosError::Api {
                code,
                label,
                message,
            } if message.is_empty() => {
                ToolError::upstream(UPSTREAM, format!("{label} (code {code})"))
            }
            PanosError::Api {
                code,
                label,
                message,
            } => ToolError::upstream(UPSTREAM, format!("{message} ({label}, code {code})")),
            PanosError::ApiNoCode(m) => ToolError::upstream(UPSTREAM, m.clone()),
            PanosError::NotXml(m) => ToolError::upstream(
                UPSTREAM,
                format!("the response is not a PAN-OS XML API document: {m}"),
            ),
            PanosError::Http {
                status: 429,
                retry_after,
                ..
            } => ToolError::RateLimited {
                upstream: UPSTREAM.into(),
                retry_after: *retry_after,
            },
            PanosError::Http {
                status,
                snippet,
                retry_after,
            } if *status >= 500 => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: format!("HTTP {status} after retries: {snippet}"),
                retry_after: *retry_after,
            },
            PanosError::Http {
                status, snippet, ..
            } => ToolError::upstream(UPSTREAM, format!("HTTP {status}: {snippet}")),
            PanosError::Transport(u) => u.to_tool_error(),
            PanosError::NotFound(m) => ToolError::NotFound(format!("PAN-OS said: {m}")),
            PanosError::ReferenceBlocksDelete(m) => ToolError::Conflict(format!(
                "PAN-OS refused the delete because the object is still referenced: {m}"
            )),
            PanosError::LockHeld {
                holder: Some(h),
                message,
            } => ToolError::Conflict(format!(
                "the configuration is locked by administrator `{}` (PAN-OS said: {message}); nothing was changed. Ask them to release the lock, or retry when they are done",
                mcp_core::validate::excerpt(h, 64)
            )),
            PanosError::LockHeld {
                holder: None,
                message,
            } => ToolError::Conflict(format!(
                "this server's PAN-OS administrator already holds a config lock (PAN-OS said: {message}): another change is in progress, or a lock was left behind. Nothing was changed; retry shortly, or remove the lock (`request config-lock remove`)"
            )),
            PanosError::JobFailed { job, details } => ToolError::upstream(
                UPSTREAM,
                format!(
                    "job {job} failed: {}",
                    if details.is_empty() {
                        "no details".to_string()
                    } else {
                        details.join("; ")
                    }
                ),
            ),
            PanosError::Device(m) => ToolError::invalid("device", m.clone()),
            PanosError::Parse(m) => ToolError::upstream(
                UPSTREAM,
                format!("the configuration could not be parsed: {m}"),
            ),
        }
    }
}

impl From<PanosError> for ToolError {
    fn from(e: PanosError) -> Self {
        (&e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_that_cannot_be_parsed_says_so() {
        let e = PanosError::Parse("unparseable result: x".into());
        assert_eq!(
            ToolError::from(e).to_string(),
            ToolError::upstream(
                UPSTREAM,
                "the configuration could not be parsed: unparseable result: x"
            )
            .to_string()
        );
    }
}
