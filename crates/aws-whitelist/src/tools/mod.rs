//! The tools: rule changes in `rules.rs`, lookups and diagnostics in `info.rs`.

pub mod info;
pub mod rules;

use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::{ToolDef, ToolError};

use crate::Whitelist;
use crate::aws::Clients;
use crate::guard;

pub fn all() -> Vec<ToolDef<Whitelist>> {
    let mut t = rules::tools();
    t.extend(info::tools());
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

pub async fn clients_with(
    settings: &crate::settings::Settings,
    cache: &crate::aws::ClientCache,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Arc<Clients>, ToolError> {
    let profile = match profile {
        Some(p) => {
            if !settings.profiles.iter().any(|a| a == p) {
                return Err(ToolError::denied(format!(
                    "profile `{}` is not on the allowlist (AWSWL_PROFILES: {})",
                    mcp_core::validate::excerpt(p, 64),
                    if settings.profiles.is_empty() {
                        "empty".into()
                    } else {
                        settings.profiles.join(", ")
                    }
                )));
            }
            // The SDK's chain prefers environment keys over a named profile: a per-call
            // profile would be silently ignored, so refuse it instead.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
                return Err(ToolError::denied(
                    "the server has AWS_ACCESS_KEY_ID in its environment, which the AWS SDK prefers over any named profile; remove it to use per-call profiles",
                ));
            }
            Some(p.to_string())
        }
        None => settings.profile.clone(),
    };
    let region = match region {
        Some(r) => guard::region("region", r)?,
        None => settings.region.clone().ok_or_else(|| {
            ToolError::invalid(
                "region",
                "is required: pass region or set AWS_REGION on the server",
            )
        })?,
    };
    cache.get(profile.as_deref(), &region).await
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
