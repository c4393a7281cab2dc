//! `aws-whitelist`: safe IP allowlisting on AWS security groups.
//!
//! One job, done carefully: resolve the right security group from a resource, refuse
//! dangerous ranges and ports, write idempotently, tag every rule with who added it and
//! why, and let temporary access expire. Credentials come only from the AWS provider chain.

pub mod client;
pub mod config;
pub mod policy;
pub mod tools;

use std::sync::Arc;

use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef, ToolError};

use crate::client::{CheckIp, ClientCache};
use crate::config::Settings;

/// Server state.
#[derive(Debug)]
pub struct Whitelist {
    pub settings: Arc<Settings>,
    pub clients: Arc<ClientCache>,
    pub checkip: Option<CheckIp>,
}

impl App for Whitelist {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "aws-whitelist",
            version: env!("CARGO_PKG_VERSION"),
            about: "MCP server for safe IP allowlisting on AWS security groups.",
        }
    }

    fn instructions() -> Option<String> {
        Some(
            "Allow an IP to reach a resource with `whitelist` (target sg-…, rds:ID, elasticache:ID, elb:NAME or \
             ec2:i-…), always with a description and preferably a ttl. Use get_my_ip for the caller's address, \
             capabilities for what is allowed, list_rules to check, remove_whitelist to undo."
                .into(),
        )
    }

    fn tools() -> Vec<ToolDef<Self>> {
        tools::all()
    }

    /// The JWT secret and the state key may live in AWS Secrets Manager
    /// (`MCP_JWT_SECRET_SECRET_ARN`, `MCP_STATE_KEY_SECRET_ARN`), read with the same
    /// credentials as every other AWS call.
    async fn secret_source(
        env: &mcp_core::Env,
    ) -> Result<Option<Arc<dyn mcp_core::secrets::SecretSource>>, StartupError> {
        let profile = env.get("AWS_PROFILE")?;
        Ok(Some(Arc::new(client::secrets::SecretsManager::new(
            profile,
        ))))
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let settings = Arc::new(Settings::from_env(ctx.env).await?);
        let checkip =
            CheckIp::new(&settings.checkip_url).map_err(|e| StartupError::App(e.to_string()))?;
        let clients = Arc::new(ClientCache::new(settings.resilience));
        match (settings.sweep_interval, ctx.check_only) {
            (_, true) => {}
            (Some(every), false) => {
                tracing::info!(
                    every = %humantime::format_duration(every),
                    regions = %settings.swept_regions().join(","),
                    instance = %settings.instance,
                    "expired rules are swept on a schedule"
                );
                tools::rules::spawn_sweeper(
                    settings.clone(),
                    clients.clone(),
                    every,
                    ctx.state.clone(),
                );
            }
            (None, false) => {
                tracing::warn!(
                    "the sweep is off (AWSWL_SWEEP_INTERVAL=off): calls with a ttl are refused"
                );
            }
        }
        Ok(Self {
            settings,
            clients,
            checkip: Some(checkip),
        })
    }

    async fn probe(&self) -> Result<String, String> {
        let region = self
            .settings
            .region
            .clone()
            .ok_or("no default region (AWS_REGION)")?;
        // The probe acts as the server itself (a role profile is assumed as the sweep is).
        let c = self
            .clients
            .get(
                self.settings.profile.as_deref(),
                self.settings.profile.as_deref(),
                &region,
                crate::tools::SWEEP_SUBJECT,
            )
            .await
            .map_err(|e| ToolError::from(e).to_string())?;
        let id = c
            .caller_identity()
            .await
            .map_err(|e| ToolError::from(e).to_string())?;
        Ok(format!(
            "AWS {} as {}",
            region,
            id.arn.as_deref().unwrap_or("?")
        ))
    }
}
