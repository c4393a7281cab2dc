//! AWS Secrets Manager as the source of the server's own secrets (`NAME_SECRET_ARN`, see
//! `mcp_core::secrets`): the JWT secret and the confirmation state key.

use aws_config::BehaviorVersion;
use mcp_core::secrets::{FetchFuture, SecretSource};

/// Reads secret strings with the provider chain's credentials, in the region each ARN names.
#[derive(Debug)]
pub struct SecretsManager {
    profile: Option<String>,
}

impl SecretsManager {
    /// A source acting as `profile` (the provider chain's default when `None`).
    pub fn new(profile: Option<String>) -> Self {
        Self { profile }
    }
}

/// The region of a Secrets Manager ARN: `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`.
pub fn arn_region(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "secretsmanager", region, account, "secret", name]
            if !partition.is_empty()
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !name.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
        {
            Ok(region)
        }
        _ => Err("is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)".into()),
    }
}

impl SecretSource for SecretsManager {
    fn name(&self) -> &'static str {
        "AWS Secrets Manager"
    }

    fn fetch<'a>(&'a self, reference: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            let region = arn_region(reference)?;
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(aws_types::region::Region::new(region.to_string()));
            if let Some(p) = &self.profile {
                loader = loader.profile_name(p);
            }
            let conf = loader.load().await;
            let client = aws_sdk_secretsmanager::Client::new(&conf);
            let out = client
                .get_secret_value()
                .secret_id(reference)
                .send()
                .await
                .map_err(|e| {
                    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
                    match e.as_service_error() {
                        Some(s) => format!(
                            "{} ({})",
                            s.message().unwrap_or("refused"),
                            s.code().unwrap_or("error")
                        ),
                        None => mcp_core::error::error_chain(&e),
                    }
                })?;
            match out.secret_string() {
                Some(v) if !v.is_empty() => Ok(v.trim_end_matches(['\n', '\r']).to_string()),
                _ => Err("the secret has no string value (a binary secret, or empty); store the value as a string".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_region() {
        assert_eq!(
            arn_region("arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcp/jwt-AbCdEf"),
            Ok("eu-west-1")
        );
        for bad in [
            "",
            "mcp/jwt",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
            "arn:aws:secretsmanager::123456789012:secret:x",
            "arn:aws:secretsmanager:EU/../x:123456789012:secret:x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        ] {
            assert!(arn_region(bad).is_err(), "{bad}");
        }
    }
}
