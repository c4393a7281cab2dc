//! Errors a tool can return, and how each one reaches the model.
//!
//! A [`ToolError`] always becomes an `isError: true` tool result whose text tells the model
//! what to do next. Only [`ToolError::Internal`] is a real bug: the model gets an opaque
//! message with a reference id, and the full error chain goes to the log.

use std::time::Duration;

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The caller sent something the tool cannot accept. Nothing was sent upstream.
    #[error("invalid argument `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },

    /// A policy of this server refused the request (allowlist, guardrail, read-only mode).
    #[error("refused by policy: {0}")]
    Denied(String),

    /// The thing asked for does not exist upstream.
    #[error("not found: {0}")]
    NotFound(String),

    /// The upstream answered with an error. `message` is the upstream's own words, cleaned.
    #[error("{upstream} said: {message}")]
    Upstream { upstream: String, message: String },

    /// The upstream (or this server) is rate limiting; `retry_after` says when to try again.
    #[error("{upstream} is rate limiting requests{}", retry_hint(*retry_after))]
    RateLimited {
        upstream: String,
        retry_after: Option<Duration>,
    },

    /// The upstream did not answer in time, could not be reached, or its circuit is open.
    #[error("{upstream} is unavailable: {message}{}", retry_hint(*retry_after))]
    Unavailable {
        upstream: String,
        message: String,
        retry_after: Option<Duration>,
    },

    /// The request conflicts with the state it would change: a config lock held by someone
    /// else, an approved change that went stale.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The output guard withheld a result, or refused a call's arguments (the text says
    /// which, and why).
    #[error("{0}")]
    Guarded(String),

    /// A write that needs a human's confirmation did not get one. Nothing was changed.
    #[error("not applied: {0}")]
    NotConfirmed(String),

    /// Not an error: the client must ask its user and call again (a multi round-trip
    /// request, protocol 2026-07-28). The server answers with this `InputRequiredResult`.
    #[error("input required")]
    InputRequired(Box<rmcp::model::InputRequiredResult>),

    /// Not an error: `apply_change` hands an approved change to its tool. The server runs
    /// that tool with these arguments under the approval.
    #[error("dispatch of change {}", .0.id)]
    Dispatch(Box<crate::change::PendingChange>),

    /// A bug in this server. The message is logged, never shown to the model.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() > 0 => format!("; retry after {} s", d.as_secs()),
        Some(d) => format!("; retry after {} ms", d.as_millis().max(1)),
        None => String::new(),
    }
}

impl ToolError {
    /// Bad input in `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Refused by a policy of this server.
    pub fn denied(reason: impl Into<String>) -> Self {
        Self::Denied(reason.into())
    }

    /// The upstream answered with an error.
    pub fn upstream(upstream: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Upstream {
            upstream: upstream.into(),
            message: message.into(),
        }
    }

    /// A bug: logged in full, opaque to the model.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// A short stable label for metrics and audit events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::Denied(_) => "denied",
            Self::NotFound(_) => "not_found",
            Self::Upstream { .. } => "upstream_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Conflict(_) => "conflict",
            Self::Guarded(_) => "guard_blocked",
            Self::NotConfirmed(_) => "not_confirmed",
            Self::InputRequired(_) => "input_required",
            Self::Dispatch(_) => "dispatch",
            Self::Internal(_) => "internal",
        }
    }

    /// The field that was wrong, for bad input.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Prefix every field name with `prefix` (for errors raised on an item of a list).
    pub fn in_field(self, prefix: &str) -> Self {
        match self {
            Self::InvalidInput { field, reason } if field.is_empty() => Self::InvalidInput {
                field: prefix.to_string(),
                reason,
            },
            Self::InvalidInput { field, reason } => Self::InvalidInput {
                field: format!("{prefix}.{field}"),
                reason,
            },
            other => other,
        }
    }
}

/// Render the full `source()` chain of an error, for logs.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// Errors that stop a server from starting or a subcommand from running.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Refused(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("auth setup failed: {0}")]
    Auth(#[from] crate::auth::AuthError),
    #[error("server setup failed: {0}")]
    App(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_actionable() {
        let e = ToolError::invalid("cidr", "0.0.0.0/0 opens the port to the whole internet");
        assert_eq!(
            e.to_string(),
            "invalid argument `cidr`: 0.0.0.0/0 opens the port to the whole internet"
        );
        let e = ToolError::RateLimited {
            upstream: "PAN-OS".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            e.to_string(),
            "PAN-OS is rate limiting requests; retry after 7 s"
        );
        assert_eq!(
            ToolError::invalid("x", "y").in_field("items[3]").field(),
            Some("items[3].x")
        );
        assert_eq!(ToolError::internal("boom").to_string(), "internal error");
    }
}
