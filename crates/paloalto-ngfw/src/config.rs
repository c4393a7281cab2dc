//! Settings: `PANOS_*` variables.

use std::time::Duration;

use mcp_core::upstream::{TlsOptions, UpstreamConfig, parse_base_url};
use mcp_core::{ConfigError, Env};
use secrecy::SecretString;

use crate::client::ConfigSource;

/// How the server authenticates to PAN-OS.
#[derive(Debug, Clone)]
pub enum Credentials {
    ApiKey(SecretString),
    /// Exchanged for a key with `type=keygen` at startup.
    Password {
        username: String,
        password: SecretString,
    },
}

/// Everything the PAN-OS client needs.
#[derive(Debug, Clone)]
pub struct PanosSettings {
    pub upstream: UpstreamConfig,
    pub credentials: Credentials,
    pub cache_ttl: Duration,
    pub default_source: ConfigSource,
}

impl PanosSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let host = env.require(
            "PANOS_HOST",
            "the firewall or Panorama address, e.g. fw.example.com or https://10.0.0.1",
        )?;
        let base = parse_base_url("PANOS_HOST", &host)?;
        let credentials = match (
            env.secret("PANOS_API_KEY")?,
            env.get("PANOS_USERNAME")?,
            env.secret("PANOS_PASSWORD")?,
        ) {
            (Some(k), None, None) => Credentials::ApiKey(k),
            (Some(_), _, _) => {
                return Err(ConfigError::invalid(
                    "PANOS_API_KEY",
                    "set either PANOS_API_KEY or PANOS_USERNAME and PANOS_PASSWORD, not both",
                ));
            }
            (None, Some(username), Some(password)) => Credentials::Password { username, password },
            (None, Some(_), None) => {
                return Err(ConfigError::missing(
                    "PANOS_PASSWORD",
                    "PANOS_USERNAME is set",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::missing(
                    "PANOS_USERNAME",
                    "PANOS_PASSWORD is set",
                ));
            }
            (None, None, None) => {
                return Err(ConfigError::missing(
                    "PANOS_API_KEY",
                    "or PANOS_USERNAME and PANOS_PASSWORD, exchanged for a key at startup",
                ));
            }
        };
        let mut upstream = UpstreamConfig::new("PAN-OS", base);
        upstream.tls = TlsOptions::from_env(env, "PANOS")?;
        upstream.tune_from_env(env, "PANOS")?;
        let default_source = match env.get("PANOS_CONFIG_SOURCE")?.as_deref() {
            None | Some("running") => ConfigSource::Running,
            Some("candidate") => ConfigSource::Candidate,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "PANOS_CONFIG_SOURCE",
                    format!("`{other}` is not running or candidate"),
                ));
            }
        };
        Ok(Self {
            upstream,
            credentials,
            cache_ttl: env
                .duration("PANOS_CACHE_TTL")?
                .unwrap_or(Duration::from_secs(5)),
            default_source,
        })
    }
}
