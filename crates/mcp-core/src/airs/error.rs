//! What can go wrong talking to AIRS, and the one conversion into the error a tool returns.

use std::time::Duration;

use crate::ToolError;
use crate::upstream::UpstreamError;

use super::UPSTREAM;

/// A failed exchange with the AIRS API Intercept.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request never got an HTTP answer (connect, timeout, open circuit, size cap).
    #[error(transparent)]
    Transport(#[from] UpstreamError),

    /// HTTP 401 or 403: the key is wrong or revoked.
    #[error(
        "{message} (HTTP {status}): the API key was rejected or revoked; check PANW_AI_SEC_API_KEY"
    )]
    Unauthorized { status: u16, message: String },

    /// HTTP 413.
    #[error("{message} (HTTP 413): the request is too large; send less content per scan")]
    TooLarge { message: String },

    /// HTTP 429.
    #[error("HTTP 429: rate limited; retry after {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },

    /// A 5xx answer, after the retries.
    #[error("HTTP {status} after retries: {message}")]
    ServerError {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },

    /// Any other HTTP error, with the API's own words.
    #[error("{message} (HTTP {status})")]
    Rejected { status: u16, message: String },

    /// A success answer whose body is not JSON.
    #[error("the response is not valid JSON ({0})")]
    NotJson(String),

    /// A results or reports lookup that did not answer with an array.
    #[error("expected a JSON array, got {0}")]
    NotArray(&'static str),

    /// JSON of the wrong shape (no object, a required field missing).
    #[error("{0}")]
    Malformed(&'static str),
}

impl From<ClientError> for ToolError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Transport(u) => u.into(),
            ClientError::RateLimited { retry_after } => ToolError::RateLimited {
                upstream: UPSTREAM.into(),
                retry_after: Some(retry_after),
            },
            ClientError::ServerError { retry_after, .. } => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: e.to_string(),
                retry_after,
            },
            ClientError::Unauthorized { .. }
            | ClientError::TooLarge { .. }
            | ClientError::Rejected { .. }
            | ClientError::NotJson(_)
            | ClientError::NotArray(_)
            | ClientError::Malformed(_) => ToolError::upstream(UPSTREAM, e.to_string()),
        }
    }
}
