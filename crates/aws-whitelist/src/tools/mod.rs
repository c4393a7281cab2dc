//! The tools, one file per toolset: rule changes in `rules.rs`, security groups and their
//! rules in `groups.rs`, diagnostics in `diagnostics.rs`; plus what they share.

pub mod access;
pub mod diagnostics;
pub mod groups;
pub mod rules;

use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::{CallCtx, ToolDef, ToolError};

use crate::Whitelist;
use crate::client::{ClientCache, Clients};
use crate::config::Settings;
use crate::policy;

/// Every tool of this server.
pub fn all() -> Vec<ToolDef<Whitelist>> {
    let mut t = rules::tools();
    t.extend(groups::tools());
    t.extend(access::tools());
    t.extend(diagnostics::tools());
    t
}

/// Clients for the call's profile and region, after checking both, acting for the caller
/// (a role-assuming profile carries the caller as `SourceIdentity`).
pub async fn clients(
    s: &Whitelist,
    ctx: &CallCtx,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<Clients>, ToolError> {
    clients_with(
        &s.settings,
        &s.clients,
        profile,
        region,
        &ctx.principal.subject,
    )
    .await
}

/// [`clients`] for a write: with `AWSWL_REQUIRE_SOURCE_IDENTITY=true`, refused unless the
/// profile assumes a role that carries the caller's identity.
pub async fn write_clients(
    s: &Whitelist,
    ctx: &CallCtx,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<Clients>, ToolError> {
    let c = clients(s, ctx, profile, region).await?;
    if s.settings.require_source_identity && c.assumed.is_none() {
        return Err(ToolError::denied(format!(
            "this server writes only through an assumed role that carries your identity into CloudTrail (AWSWL_REQUIRE_SOURCE_IDENTITY=true), and the profile `{}` assumes none; use a profile with role_arn (see list_profiles)",
            profile
                .or(s.settings.profile.as_deref())
                .unwrap_or("default")
        )));
    }
    Ok(c)
}

/// [`clients`] from the settings and the cache (for the background sweep), for `subject`.
pub async fn clients_with(
    settings: &Settings,
    cache: &ClientCache,
    profile: Option<&str>,
    region: Option<&str>,
    subject: &str,
) -> Result<Arc<Clients>, ToolError> {
    let profile = policy::call_profile(settings, profile)?;
    let region = policy::call_region(settings, region)?;
    Ok(cache
        .get(
            profile.as_deref(),
            settings.profile.as_deref(),
            &region,
            subject,
        )
        .await?)
}

/// The subject the server's own sweep acts as.
pub const SWEEP_SUBJECT: &str = "aws-whitelist-sweep";

/// `2026-11-21T10:00:00Z`
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Keep only characters AWS accepts in rule descriptions.
pub fn aws_safe(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-:/()#,@[]+=&;{}!$* ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// A read-only tool of scope `aws:read` that reaches AWS (or the IP checker).
pub(crate) const fn read(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    toolset: &'static str,
) -> mcp_core::ToolSpec {
    mcp_core::ToolSpec {
        name,
        title,
        description,
        scope: "aws:read",
        toolset,
        effect: mcp_core::Effect::ReadOnly,
        open_world: true,
    }
}
