//! AWS errors as messages a model can act on.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mcp_core::ToolError;

const UPSTREAM: &str = "AWS";

/// The error code of an SDK error, if AWS answered.
pub fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_ec2::error::SdkError<E, R>) -> Option<String> {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
}

/// Map an SDK error.
pub fn map<E, R>(op: &str, e: aws_sdk_ec2::error::SdkError<E, R>) -> ToolError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_ec2::error::SdkError;
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let msg = err.message().unwrap_or("").to_string();
            match code.as_str() {
                "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException" => ToolError::RateLimited {
                    upstream: UPSTREAM.into(),
                    retry_after: None,
                },
                "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
                    ToolError::upstream(
                        UPSTREAM,
                        format!(
                            "{op} was denied ({code}): the credentials lack this permission; see the IAM policy in docs/servers/aws-whitelist.md"
                        ),
                    )
                }
                "AuthFailure"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "SignatureDoesNotMatch" => ToolError::upstream(
                    UPSTREAM,
                    format!("{op}: the credentials were rejected ({code}): {msg}"),
                ),
                c if c.ends_with(".NotFound")
                    || c.ends_with("NotFound")
                    || c.ends_with("NotFoundFault") =>
                {
                    ToolError::NotFound(format!("{op}: {msg} ({code})"))
                }
                _ => ToolError::upstream(UPSTREAM, format!("{op} failed ({code}): {msg}")),
            }
        }
        SdkError::TimeoutError(_) => ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("{op} timed out"),
            retry_after: None,
        },
        SdkError::DispatchFailure(d) => ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!(
                "{op}: cannot reach the endpoint ({})",
                if d.is_timeout() {
                    "timeout"
                } else if d.is_io() {
                    "connection failed"
                } else {
                    "dispatch failure"
                }
            ),
            retry_after: None,
        },
        _ => ToolError::upstream(
            UPSTREAM,
            format!("{op}: {}", mcp_core::error::error_chain(&e)),
        ),
    }
}
