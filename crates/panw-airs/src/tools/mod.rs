//! The four tools and the inputs they share.

pub mod prompts;
pub mod resources;
pub mod results;
pub mod scan;

use mcp_core::{ToolDef, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::Airs;
use crate::client::limits::{self, MAX_CONTENT_LEN, MAX_CONTEXT_LEN, MAX_PROFILE_NAME_LEN};
use crate::client::model::{AiProfile, Metadata, ScanContent, ToolEvent, ToolEventMetadata};
use crate::config::{DefaultProfile, ProfileAllowlist};

pub fn all() -> Vec<ToolDef<Airs>> {
    let mut t = scan::tools();
    t.extend(results::tools());
    t
}

/// An MCP tool invocation to scan (AIRS `tool_event`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolEventInput {
    /// Who was called: ecosystem, method, server and tool.
    pub metadata: ToolEventMeta,
    /// Raw JSON text of the tool's input.
    pub input: Option<String>,
    /// Raw JSON text of the tool's output.
    pub output: Option<String>,
}

/// Who was called (AIRS `tool_event.metadata`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolEventMeta {
    /// Ecosystem or protocol, e.g. `mcp`.
    pub ecosystem: String,
    /// Method, e.g. `tools/call`.
    pub method: String,
    /// The MCP server the tool belongs to.
    pub server_name: String,
    /// The tool that was invoked.
    pub tool_invoked: Option<String>,
}

/// Who and what the scan is for; shown in AIRS logs.
#[derive(Debug, Clone, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MetadataInput {
    /// The AI application the content belongs to.
    pub app_name: Option<String>,
    /// The end user of the application.
    pub app_user: Option<String>,
    /// The AI model that produced or will receive the content.
    pub ai_model: Option<String>,
}

/// The content of one scan: at least one field.
#[derive(Debug, Clone, Default)]
pub struct Content<'a> {
    pub prompt: Option<&'a str>,
    pub response: Option<&'a str>,
    pub code_prompt: Option<&'a str>,
    pub code_response: Option<&'a str>,
    pub context: Option<&'a str>,
    pub tool_event: Option<&'a ToolEventInput>,
}

impl Content<'_> {
    /// Check the content; field names get `prefix` (for batch items).
    pub fn to_content(&self, prefix: &str) -> Result<ScanContent, ToolError> {
        let name = |f: &str| {
            if prefix.is_empty() {
                f.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        for (field, value) in [
            ("prompt", self.prompt),
            ("response", self.response),
            ("code_prompt", self.code_prompt),
            ("code_response", self.code_response),
        ] {
            if let Some(v) = value
                && v.len() > MAX_CONTENT_LEN
            {
                return Err(ToolError::invalid(
                    name(field),
                    format!("is {} bytes; the limit is {MAX_CONTENT_LEN}", v.len()),
                ));
            }
        }
        if let Some(c) = self.context
            && c.len() > MAX_CONTEXT_LEN
        {
            return Err(ToolError::invalid(
                name("context"),
                format!("is {} bytes; the limit is {MAX_CONTEXT_LEN}", c.len()),
            ));
        }
        let tool_event = match self.tool_event {
            None => None,
            Some(t) => {
                for (f, v) in [("input", &t.input), ("output", &t.output)] {
                    if v.as_ref().is_some_and(|v| v.len() > MAX_CONTENT_LEN) {
                        return Err(ToolError::invalid(
                            name(&format!("tool_event.{f}")),
                            format!("is larger than {MAX_CONTENT_LEN} bytes"),
                        ));
                    }
                }
                for (f, v) in [
                    ("ecosystem", &t.metadata.ecosystem),
                    ("method", &t.metadata.method),
                    ("server_name", &t.metadata.server_name),
                ] {
                    limits::check_id_field(&name(&format!("tool_event.metadata.{f}")), v)?;
                }
                if let Some(ti) = &t.metadata.tool_invoked {
                    limits::check_id_field(&name("tool_event.metadata.tool_invoked"), ti)?;
                }
                Some(ToolEvent {
                    metadata: ToolEventMetadata {
                        ecosystem: t.metadata.ecosystem.clone(),
                        method: t.metadata.method.clone(),
                        server_name: t.metadata.server_name.clone(),
                        tool_invoked: t.metadata.tool_invoked.clone(),
                    },
                    input: t.input.clone(),
                    output: t.output.clone(),
                })
            }
        };
        let scanned = self.prompt.is_some()
            || self.response.is_some()
            || self.code_prompt.is_some()
            || self.code_response.is_some()
            || tool_event.is_some();
        if !scanned {
            let field = if prefix.is_empty() {
                "prompt".to_string()
            } else {
                prefix.to_string()
            };
            return Err(ToolError::invalid(
                field,
                "give at least one of prompt, response, code_prompt, code_response or tool_event (context alone is not scanned)",
            ));
        }
        Ok(ScanContent {
            prompt: self.prompt.map(str::to_string),
            response: self.response.map(str::to_string),
            code_prompt: self.code_prompt.map(str::to_string),
            code_response: self.code_response.map(str::to_string),
            context: self.context.map(str::to_string),
            tool_event,
        })
    }
}

/// The `ai_profile` object: the call's profile, or the configured default.
pub fn ai_profile(
    default: &DefaultProfile,
    allowed: &ProfileAllowlist,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<AiProfile, ToolError> {
    let check = |field: &str, v: &str| -> Result<(), ToolError> {
        mcp_core::validate::check_no_control(field, v)?;
        if v.is_empty() || v.len() > MAX_PROFILE_NAME_LEN {
            return Err(ToolError::invalid(
                field,
                format!("must be 1-{MAX_PROFILE_NAME_LEN} characters"),
            ));
        }
        if !allowed.allows(v) {
            return Err(ToolError::invalid(
                field,
                format!(
                    "profile `{}` is not allowed on this server (PANW_AI_ALLOWED_PROFILES: {}); omit it to scan with the server's profile",
                    mcp_core::validate::excerpt(v, 64),
                    allowed.describe()
                ),
            ));
        }
        Ok(())
    };
    match (name, id) {
        (Some(_), Some(_)) => Err(ToolError::invalid(
            "profile_id",
            "give profile_name or profile_id, not both",
        )),
        (Some(n), None) => check("profile_name", n).map(|()| by_name(n)),
        (None, Some(i)) => check("profile_id", i).map(|()| by_id(i)),
        (None, None) => match default {
            DefaultProfile::Name(n) => Ok(by_name(n)),
            DefaultProfile::Id(i) => Ok(by_id(i)),
            DefaultProfile::None => Err(ToolError::invalid(
                "profile_name",
                "no AI security profile: pass profile_name or profile_id, or set PANW_AI_PROFILE_NAME or PANW_AI_PROFILE_ID on the server",
            )),
        },
    }
}

fn by_name(n: &str) -> AiProfile {
    AiProfile {
        profile_name: Some(n.into()),
        profile_id: None,
    }
}

fn by_id(i: &str) -> AiProfile {
    AiProfile {
        profile_name: None,
        profile_id: Some(i.into()),
    }
}

/// The `metadata` object, checked; none when no field is set.
pub fn metadata(m: Option<&MetadataInput>) -> Result<Option<Metadata>, ToolError> {
    let Some(m) = m else { return Ok(None) };
    for (f, v) in [
        ("app_name", &m.app_name),
        ("app_user", &m.app_user),
        ("ai_model", &m.ai_model),
    ] {
        if let Some(v) = v {
            limits::check_id_field(&format!("metadata.{f}"), v)?;
        }
    }
    let out = Metadata {
        app_name: m.app_name.clone(),
        app_user: m.app_user.clone(),
        ai_model: m.ai_model.clone(),
    };
    Ok((out != Metadata::default()).then_some(out))
}
