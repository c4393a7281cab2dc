//! The tools, one file per toolset: rule changes in `rules.rs`, security groups and their
//! rules in `groups.rs`, diagnostics in `diagnostics.rs`; plus what they share.

pub mod access;
pub mod diagnostics;
pub mod groups;
pub mod rules;

use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::{ToolDef, ToolError};

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

/// Clients for the call's profile and region, after checking both.
pub async fn clients(
    s: &Whitelist,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<Clients>, ToolError> {
    clients_with(&s.settings, &s.clients, profile, region).await
}

/// [`clients`] from the settings and the cache (for the background sweep).
pub async fn clients_with(
    settings: &Settings,
    cache: &ClientCache,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<Clients>, ToolError> {
    let profile = policy::call_profile(settings, profile)?;
    let region = policy::call_region(settings, region)?;
    Ok(cache.get(profile.as_deref(), &region).await)
}

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
