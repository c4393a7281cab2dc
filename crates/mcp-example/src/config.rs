//! Settings: `EXAMPLE_*` variables (a new server reads its own `PREFIX_*` ones here).

use mcp_core::upstream::{UpstreamConfig, parse_base_url};
use mcp_core::{ConfigError, Env};

/// What the server is configured with.
#[derive(Debug, Clone, Default)]
pub struct ExampleSettings {
    /// The upstream `/readyz` and `check` probe (`EXAMPLE_UPSTREAM_URL`); none: no probe.
    pub upstream: Option<UpstreamConfig>,
}

impl ExampleSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let upstream = match env.get("EXAMPLE_UPSTREAM_URL")? {
            Some(u) => {
                let url = parse_base_url("EXAMPLE_UPSTREAM_URL", &u)?;
                let mut cfg = UpstreamConfig::new("example-upstream", url);
                cfg.max_retries = 0;
                cfg.total_timeout = std::time::Duration::from_secs(2);
                // EXAMPLE_TIMEOUT, EXAMPLE_RETRIES, ... (see docs/configuration.md).
                cfg.tune_from_env(env, "EXAMPLE")?;
                Some(cfg)
            }
            None => None,
        };
        Ok(Self { upstream })
    }
}
