//! The four tools and the inputs they share.

pub mod results;
pub mod scan;

use mcp_core::{ToolDef, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Airs;
use crate::client::limits::{self, MAX_CONTENT_LEN, MAX_CONTEXT_LEN, MAX_PROFILE_NAME_LEN};
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
    pub metadata: ToolEventMeta,
    /// Raw JSON text of the tool's input.
    pub input: Option<String>,
    /// Raw JSON text of the tool's output.
    pub output: Option<String>,
}

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
    pub app_name: Option<String>,
    pub app_user: Option<String>,
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
    pub fn to_json(&self, prefix: &str) -> Result<Value, ToolError> {
        let name = |f: &str| {
            if prefix.is_empty() {
                f.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        let mut m = Map::new();
        for (field, value) in [
            ("prompt", self.prompt),
            ("response", self.response),
            ("code_prompt", self.code_prompt),
            ("code_response", self.code_response),
        ] {
            if let Some(v) = value {
                if v.len() > MAX_CONTENT_LEN {
                    return Err(ToolError::invalid(
                        name(field),
                        format!("is {} bytes; the limit is {MAX_CONTENT_LEN}", v.len()),
                    ));
                }
                m.insert(field.into(), json!(v));
            }
        }
        if let Some(c) = self.context {
            if c.len() > MAX_CONTEXT_LEN {
                return Err(ToolError::invalid(
                    name("context"),
                    format!("is {} bytes; the limit is {MAX_CONTEXT_LEN}", c.len()),
                ));
            }
            m.insert("context".into(), json!(c));
        }
        if let Some(t) = self.tool_event {
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
            let mut meta = json!({"ecosystem": t.metadata.ecosystem, "method": t.metadata.method, "server_name": t.metadata.server_name});
            if let Some(ti) = &t.metadata.tool_invoked {
                limits::check_id_field(&name("tool_event.metadata.tool_invoked"), ti)?;
                meta["tool_invoked"] = json!(ti);
            }
            let mut ev = json!({"metadata": meta});
            if let Some(i) = &t.input {
                ev["input"] = json!(i);
            }
            if let Some(o) = &t.output {
                ev["output"] = json!(o);
            }
            m.insert("tool_event".into(), ev);
        }
        if m.is_empty() || (m.len() == 1 && m.contains_key("context")) {
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
        Ok(Value::Object(m))
    }
}

/// The `ai_profile` object: the call's profile, or the configured default.
pub fn ai_profile(
    default: &DefaultProfile,
    allowed: &ProfileAllowlist,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<Value, ToolError> {
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
        (Some(n), None) => check("profile_name", n).map(|()| json!({"profile_name": n})),
        (None, Some(i)) => check("profile_id", i).map(|()| json!({"profile_id": i})),
        (None, None) => match default {
            DefaultProfile::Name(n) => Ok(json!({"profile_name": n})),
            DefaultProfile::Id(i) => Ok(json!({"profile_id": i})),
            DefaultProfile::None => Err(ToolError::invalid(
                "profile_name",
                "no AI security profile: pass profile_name or profile_id, or set PANW_AI_PROFILE_NAME or PANW_AI_PROFILE_ID on the server",
            )),
        },
    }
}

/// The `metadata` object, checked.
pub fn metadata(m: Option<&MetadataInput>) -> Result<Option<Value>, ToolError> {
    let Some(m) = m else { return Ok(None) };
    let mut out = Map::new();
    for (f, v) in [
        ("app_name", &m.app_name),
        ("app_user", &m.app_user),
        ("ai_model", &m.ai_model),
    ] {
        if let Some(v) = v {
            limits::check_id_field(&format!("metadata.{f}"), v)?;
            out.insert(f.into(), json!(v));
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}
