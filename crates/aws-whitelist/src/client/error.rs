//! What can go wrong talking to AWS (and to the IP checker), and the one place it becomes a
//! [`ToolError`] a model can act on.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mcp_core::ToolError;
use mcp_core::upstream::UpstreamError;

/// The upstream name in errors about AWS.
const UPSTREAM: &str = "AWS";
/// What a throttled call suggests waiting before the next try.
const THROTTLE_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);
/// The upstream name in errors about the IP checker (`AWSWL_CHECKIP_URL`).
const CHECKER: &str = "IP checker";

/// An error of the AWS clients or the IP checker. `op` is the IAM action, e.g.
/// `ec2:DescribeSecurityGroupRules`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// AWS throttled the call (a read: after the SDK's retries).
    #[error("AWS is rate limiting requests")]
    RateLimited,
    /// The (profile, region)'s circuit breaker is open: nothing was sent.
    #[error("{op}: {source}; requests are paused to protect the endpoint")]
    CircuitOpen {
        op: &'static str,
        source: super::CircuitOpen,
    },
    /// The credentials lack the permission.
    #[error(
        "{op} was denied ({code}): the credentials lack this permission; see the IAM policy in docs/servers/aws-whitelist.md"
    )]
    AccessDenied { op: &'static str, code: String },
    /// The credentials were not accepted at all.
    #[error("{op}: the credentials were rejected ({code}): {message}")]
    CredentialsRejected {
        op: &'static str,
        code: String,
        message: String,
    },
    /// AWS says the resource does not exist.
    #[error("{op}: {message} ({code})")]
    NotFound {
        op: &'static str,
        code: String,
        message: String,
    },
    /// A resource (the `Debug` form of its target) resolved to no security group.
    #[error("{0} has no security groups (or AWS did not report them)")]
    NoGroups(String),
    /// Any other error AWS answered with.
    #[error("{op} failed ({code}): {message}")]
    Failed {
        op: &'static str,
        code: String,
        message: String,
    },
    /// No answer in time.
    #[error("{op} timed out")]
    Timeout { op: &'static str },
    /// The endpoint could not be reached; `why` is `timeout`, `connection failed` or
    /// `dispatch failure`.
    #[error("{op}: cannot reach the endpoint ({why})")]
    Unreachable { op: &'static str, why: &'static str },
    /// Anything else the SDK reports (its error chain).
    #[error("{op}: {detail}")]
    Sdk { op: &'static str, detail: String },
    /// The IP checker answered with an HTTP error status.
    #[error("HTTP {0}")]
    CheckerStatus(reqwest::StatusCode),
    /// The IP checker's answer is not an address.
    #[error("the answer is not an IP address")]
    CheckerAnswer,
    /// mcp-core's HTTP client (the IP checker): retries, breaker, deadline, transport.
    #[error(transparent)]
    Http(#[from] UpstreamError),
    /// A client that cannot be built from its settings (at startup only).
    #[error(transparent)]
    Setup(mcp_core::ConfigError),
}

impl From<ClientError> for ToolError {
    fn from(e: ClientError) -> Self {
        match e {
            // AWS gives no Retry-After for throttling; its guidance is to back off for
            // seconds, and the SDK already retried a read with backoff.
            ClientError::RateLimited => ToolError::RateLimited {
                upstream: UPSTREAM.into(),
                retry_after: Some(THROTTLE_BACKOFF),
            },
            ClientError::CircuitOpen { op, source } => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: format!(
                    "{op}: the circuit breaker is open after repeated failures; requests are paused to protect the endpoint"
                ),
                retry_after: Some(source.0),
            },
            ClientError::NotFound { .. } | ClientError::NoGroups(_) => {
                ToolError::NotFound(e.to_string())
            }
            ClientError::Timeout { .. } | ClientError::Unreachable { .. } => {
                ToolError::Unavailable {
                    upstream: UPSTREAM.into(),
                    message: e.to_string(),
                    retry_after: None,
                }
            }
            ClientError::AccessDenied { .. }
            | ClientError::CredentialsRejected { .. }
            | ClientError::Failed { .. }
            | ClientError::Sdk { .. } => ToolError::upstream(UPSTREAM, e.to_string()),
            ClientError::CheckerStatus(_) | ClientError::CheckerAnswer => {
                ToolError::upstream(CHECKER, e.to_string())
            }
            ClientError::Http(e) => e.into(),
            ClientError::Setup(e) => ToolError::internal(e),
        }
    }
}

/// The error code of an SDK error, if AWS answered.
pub(crate) fn code<E: ProvideErrorMetadata, R>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
) -> Option<String> {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
}

/// Classify an SDK error of operation `op`.
pub(crate) fn map<E, R>(op: &'static str, e: aws_sdk_ec2::error::SdkError<E, R>) -> ClientError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_ec2::error::SdkError;
    // Refused by the breaker before it was sent: the interceptor's error is in the chain.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(open) = c.downcast_ref::<super::CircuitOpen>() {
            return ClientError::CircuitOpen {
                op,
                source: super::CircuitOpen(open.0),
            };
        }
        cause = c.source();
    }
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("").to_string();
            match code.as_str() {
                "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException" => ClientError::RateLimited,
                "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
                    ClientError::AccessDenied { op, code }
                }
                "AuthFailure"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "SignatureDoesNotMatch" => ClientError::CredentialsRejected { op, code, message },
                c if c.ends_with(".NotFound")
                    || c.ends_with("NotFound")
                    || c.ends_with("NotFoundFault") =>
                {
                    ClientError::NotFound { op, code, message }
                }
                _ => ClientError::Failed { op, code, message },
            }
        }
        SdkError::TimeoutError(_) => ClientError::Timeout { op },
        SdkError::DispatchFailure(d) => ClientError::Unreachable {
            op,
            why: if d.is_timeout() {
                "timeout"
            } else if d.is_io() {
                "connection failed"
            } else {
                "dispatch failure"
            },
        },
        _ => ClientError::Sdk {
            op,
            detail: mcp_core::error::error_chain(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_reach_the_model_unchanged() {
        let t = |e: ClientError| ToolError::from(e).to_string();
        assert_eq!(
            t(ClientError::AccessDenied {
                op: "ec2:DescribeSecurityGroups",
                code: "UnauthorizedOperation".into()
            }),
            "AWS said: ec2:DescribeSecurityGroups was denied (UnauthorizedOperation): the credentials lack this permission; see the IAM policy in docs/servers/aws-whitelist.md"
        );
        assert_eq!(
            t(ClientError::NoGroups("Rds(\"x\")".into())),
            "not found: Rds(\"x\") has no security groups (or AWS did not report them)"
        );
        assert_eq!(
            t(ClientError::Unreachable {
                op: "sts:GetCallerIdentity",
                why: "connection failed"
            }),
            "AWS is unavailable: sts:GetCallerIdentity: cannot reach the endpoint (connection failed)"
        );
        assert_eq!(
            t(ClientError::RateLimited),
            "AWS is rate limiting requests; retry after 5 s"
        );
        assert_eq!(
            t(ClientError::CheckerStatus(reqwest::StatusCode::BAD_GATEWAY)),
            "IP checker said: HTTP 502 Bad Gateway"
        );
        assert_eq!(
            t(ClientError::CheckerAnswer),
            "IP checker said: the answer is not an IP address"
        );
    }
}
