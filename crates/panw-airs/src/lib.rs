//! `panw-airs`: an MCP server for Prisma AIRS (AI Runtime Security) API Intercept.
//!
//! Four tools: a synchronous scan, an asynchronous batch scan split into requests of five,
//! and result and report lookups split the same way. Every documented limit is enforced
//! before anything is sent.

pub mod client;
pub mod config;
pub mod tools;

use mcp_core::{App, BuildCtx, ServerMeta, StartupError, ToolDef, ToolError};

use crate::client::{AirsClient, ClientError};
use crate::config::{AirsSettings, DefaultProfile, ProfileAllowlist};

/// Server state.
#[derive(Debug)]
pub struct Airs {
    pub client: AirsClient,
    pub default_profile: DefaultProfile,
    /// The profiles a call may name.
    pub allowed_profiles: ProfileAllowlist,
}

impl App for Airs {
    fn meta() -> ServerMeta {
        ServerMeta {
            name: "panw-airs",
            version: env!("CARGO_PKG_VERSION"),
            about: "MCP server for Palo Alto Networks Prisma AIRS (AI Runtime Security) API Intercept.",
        }
    }

    fn instructions() -> Option<String> {
        Some(
            "Scan prompts, responses, code and tool events with Prisma AIRS before trusting them. \
             pan_inline_scan answers at once; pan_batch_scan takes many items (set wait_seconds to \
             get results in the same call). Act on `action`: block means do not use the content."
                .into(),
        )
    }

    fn prompts() -> Vec<mcp_core::PromptDef> {
        tools::prompts::prompts()
    }

    fn resources() -> Vec<mcp_core::ResourceDef<Self>> {
        tools::resources::resources()
    }

    fn tools() -> Vec<ToolDef<Self>> {
        tools::all()
    }

    async fn build(ctx: BuildCtx<'_>) -> Result<Self, StartupError> {
        let settings = AirsSettings::from_env(ctx.env)?;
        let client =
            AirsClient::new(&settings).map_err(|e| StartupError::App(format!("AIRS: {e}")))?;
        match (&settings.profile, &settings.allowed_profiles) {
            (DefaultProfile::None, ProfileAllowlist::Only(l)) if l.is_empty() => tracing::warn!(
                "no AI security profile: set PANW_AI_PROFILE_NAME or PANW_AI_PROFILE_ID (and PANW_AI_ALLOWED_PROFILES for profiles a call may name); every scan is refused until then"
            ),
            (DefaultProfile::None, _) => tracing::warn!(
                "no default AI security profile (PANW_AI_PROFILE_NAME or PANW_AI_PROFILE_ID): every scan must name one of PANW_AI_ALLOWED_PROFILES"
            ),
            _ => {}
        }
        if settings.allowed_profiles == ProfileAllowlist::Any {
            tracing::warn!(
                "PANW_AI_ALLOWED_PROFILES=*: a caller may scan with any AI security profile, including a permissive one that allows what the server's profile blocks"
            );
        }
        Ok(Self {
            client,
            default_profile: settings.profile,
            allowed_profiles: settings.allowed_profiles,
        })
    }

    async fn probe(&self) -> Result<String, String> {
        // A transport failure in its own words ("cannot connect to AIRS: ..."); an HTTP
        // error as a tool call would report it.
        self.client.probe().await.map_err(|e| match e {
            ClientError::Transport(u) => u.to_string(),
            other => ToolError::from(other).to_string(),
        })
    }
}
