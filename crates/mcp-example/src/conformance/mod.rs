//! Fixtures the MCP conformance suite calls: tools, resources, prompts, logging and
//! completion, with the exact shapes its checks expect. Results are written as JSON and
//! deserialised into rmcp's types, which keeps them readable next to the suite's spec.

#![allow(deprecated)] // sampling and logging are deprecated by SEP-2577; the suite still tests them

use std::sync::Arc;
use std::time::Duration;

use mcp_core::reexport::rmcp::ErrorData;
use mcp_core::reexport::rmcp::model::{
    CallToolResult, CreateMessageRequestParams, ElicitRequestParams, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ServerCapabilities,
};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Example;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/// Deserialise a JSON literal into an rmcp type.
pub(crate) fn from_json<T: DeserializeOwned>(v: Value) -> Result<T, ErrorData> {
    serde_json::from_value(v).map_err(|e| {
        ErrorData::internal_error(format!("fixture does not fit the model: {e}"), None)
    })
}

fn tool_result(v: Value) -> Result<CallToolResult, ToolError> {
    serde_json::from_value(v).map_err(ToolError::internal)
}

fn text_result(text: impl Into<String>) -> Result<CallToolResult, ToolError> {
    tool_result(json!({"content": [{"type": "text", "text": text.into()}], "isError": false}))
}

const fn spec(name: &'static str, title: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec {
        name,
        title,
        description,
        scope: "example:read",
        toolset: "conformance",
        effect: Effect::ReadOnly,
        open_world: false,
    }
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PromptArg {
    /// The prompt to send to the client's model.
    prompt: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct MessageArg {
    /// The message to show the user.
    message: String,
}

fn upstream_err(what: &str, e: impl std::fmt::Display) -> ToolError {
    ToolError::upstream("MCP client", format!("{what} failed: {e}"))
}

async fn log(ctx: &CallCtx, text: &str) {
    let _ = ctx
        .rmcp
        .peer
        .notify_logging_message(LoggingMessageNotificationParam::new(
            LoggingLevel::Info,
            json!(text),
        ))
        .await;
}

pub(crate) fn tools() -> Vec<ToolDef<Example>> {
    vec![
        ToolDef::raw(
            spec(
                "test_simple_text",
                "Simple text",
                "Returns a simple text response.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                text_result("This is a simple text response for testing.")
            },
        ),
        ToolDef::raw(
            spec(
                "test_image_content",
                "Image content",
                "Returns a 1x1 PNG image.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                tool_result(
                    json!({"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]}),
                )
            },
        ),
        ToolDef::raw(
            spec(
                "test_audio_content",
                "Audio content",
                "Returns a short WAV clip.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                tool_result(
                    json!({"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]}),
                )
            },
        ),
        ToolDef::raw(
            spec(
                "test_embedded_resource",
                "Embedded resource",
                "Returns an embedded text resource.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                tool_result(json!({"content": [{"type": "resource", "resource": {
                "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content."}}]}))
            },
        ),
        ToolDef::raw(
            spec(
                "test_multiple_content_types",
                "Mixed content",
                "Returns text, an image and a resource.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                tool_result(json!({"content": [
                    {"type": "text", "text": "Multiple content types test:"},
                    {"type": "image", "data": PNG, "mimeType": "image/png"},
                    {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}"}}
                ]}))
            },
        ),
        ToolDef::raw(
            spec(
                "test_tool_with_logging",
                "Logging tool",
                "Sends three log notifications while it runs.",
            ),
            |_s: Arc<Example>, c: CallCtx, _a: NoArgs| async move {
                log(&c, "Tool execution started").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                log(&c, "Tool processing data").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                log(&c, "Tool execution completed").await;
                text_result("Tool with logging executed successfully")
            },
        ),
        ToolDef::raw(
            spec(
                "test_error_handling",
                "Error handling",
                "Always returns a tool error.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                Err(ToolError::denied(
                    "This tool intentionally returns an error for testing",
                ))
            },
        ),
        ToolDef::raw(
            spec(
                "test_tool_with_progress",
                "Progress tool",
                "Reports progress three times, then returns the progress token.",
            ),
            |_s: Arc<Example>, c: CallCtx, _a: NoArgs| async move {
                let token = c.rmcp.meta.get_progress_token();
                for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if let Some(t) = &token {
                        let n = ProgressNotificationParam::new(t.clone(), p)
                            .with_total(100.0)
                            .with_message(format!("Completed step {} of 100", p as u32));
                        let _ = c.rmcp.peer.notify_progress(n).await;
                    }
                    if i < 2 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                let text = token
                    .map(|t| {
                        serde_json::to_value(&t)
                            .map(|v| v.to_string().trim_matches('"').to_string())
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                text_result(text)
            },
        ),
        ToolDef::raw(
            spec(
                "test_sampling",
                "Sampling",
                "Asks the client's model to answer `prompt` and returns its answer.",
            ),
            |_s: Arc<Example>, c: CallCtx, a: PromptArg| async move {
                let params: CreateMessageRequestParams = from_json(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": a.prompt}}],
                    "maxTokens": 100
                }))
                .map_err(|e| ToolError::internal(e.message.to_string()))?;
                let r = c
                    .rmcp
                    .peer
                    .create_message(params)
                    .await
                    .map_err(|e| upstream_err("sampling", e))?;
                let v = serde_json::to_value(&r).map_err(ToolError::internal)?;
                let answer = v["content"]["text"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v["content"].to_string());
                text_result(format!("LLM response: {answer}"))
            },
        ),
        ToolDef::raw(
            spec(
                "test_elicitation",
                "Elicitation",
                "Asks the user for a username and an email address.",
            ),
            |_s: Arc<Example>, c: CallCtx, a: MessageArg| async move {
                elicit(&c, json!({"mode": "form", "message": a.message, "requestedSchema": {"type": "object", "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}
            }, "required": ["username", "email"]}}), "User response").await
            },
        ),
        ToolDef::raw(
            spec(
                "test_elicitation_sep1034_defaults",
                "Elicitation defaults",
                "Elicits fields that carry default values (SEP-1034).",
            ),
            |_s: Arc<Example>, c: CallCtx, _a: NoArgs| async move {
                elicit(&c, json!({"mode": "form", "message": "Please review and update the form fields with defaults", "requestedSchema": {"type": "object", "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                "verified": {"type": "boolean", "description": "Verification status", "default": true}
            }, "required": []}}), "Elicitation completed").await
            },
        ),
        ToolDef::raw(
            spec(
                "test_elicitation_sep1330_enums",
                "Elicitation enums",
                "Elicits every enum form of SEP-1330.",
            ),
            |_s: Arc<Example>, c: CallCtx, _a: NoArgs| async move {
                elicit(&c, json!({"mode": "form", "message": "Please select options from the enum fields", "requestedSchema": {"type": "object", "properties": {
                "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                    {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"}, {"const": "value3", "title": "Third Option"}]},
                "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3, "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3, "items": {"anyOf": [
                    {"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"}, {"const": "value3", "title": "Third Choice"}]}}
            }, "required": []}}), "Elicitation completed").await
            },
        ),
        ToolDef::with_schema(
            spec(
                "json_schema_2020_12_tool",
                "JSON Schema 2020-12",
                "Tool with JSON Schema 2020-12 features",
            ),
            schema_2020_12(),
            |_s: Arc<Example>, _c, args: JsonObject| async move {
                text_result(format!(
                    "JSON Schema 2020-12 tool called with: {}",
                    Value::Object(args)
                ))
            },
        ),
        ToolDef::raw(
            spec(
                "test_reconnection",
                "Reconnection",
                "Returns after a short pause, for SSE reconnection tests.",
            ),
            |_s: Arc<Example>, _c, _a: NoArgs| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                text_result(
                    "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.",
                )
            },
        ),
    ]
}

fn schema_2020_12() -> JsonObject {
    let v = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": false});
    v.as_object().cloned().unwrap_or_default()
}

async fn elicit(c: &CallCtx, request: Value, label: &str) -> Result<CallToolResult, ToolError> {
    let params: ElicitRequestParams =
        from_json(request).map_err(|e| ToolError::internal(e.message.to_string()))?;
    let r = c
        .rmcp
        .peer
        .create_elicitation(params)
        .await
        .map_err(|e| upstream_err("elicitation", e))?;
    let v = serde_json::to_value(&r).map_err(ToolError::internal)?;
    text_result(format!(
        "{label}: action={}, content={}",
        v["action"].as_str().unwrap_or("?"),
        v.get("content").cloned().unwrap_or(Value::Null)
    ))
}

pub(crate) fn capabilities() -> ServerCapabilities {
    ServerCapabilities::builder()
        .enable_logging()
        .enable_completions()
        .enable_prompts()
        .enable_resources()
        .enable_resources_subscribe()
        .enable_tools()
        .build()
}

pub(crate) fn resources() -> Value {
    json!({"resources": [
        {"uri": "test://static-text", "name": "static-text", "title": "Static Text Resource", "description": "A static text resource for testing", "mimeType": "text/plain"},
        {"uri": "test://static-binary", "name": "static-binary", "title": "Static Binary Resource", "description": "A static binary resource (image) for testing", "mimeType": "image/png"},
        {"uri": "test://watched-resource", "name": "watched-resource", "title": "Watched Resource", "description": "A resource that can be subscribed to", "mimeType": "text/plain"}
    ]})
}

pub(crate) fn resource_templates() -> Value {
    json!({"resourceTemplates": [{"uriTemplate": "test://template/{id}/data", "name": "template", "title": "Resource Template",
        "description": "A resource template with parameter substitution", "mimeType": "application/json"}]})
}

pub(crate) fn read_resource(uri: &str) -> Result<Value, ErrorData> {
    let contents = match uri {
        "test://static-text" => {
            json!({"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."})
        }
        "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
        "test://watched-resource" => {
            json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content"})
        }
        other => {
            let id = other
                .strip_prefix("test://template/")
                .and_then(|r| r.strip_suffix("/data"))
                .filter(|id| {
                    !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            let Some(id) = id else {
                return Err(ErrorData::resource_not_found(
                    format!(
                        "no resource {}",
                        other.chars().take(100).collect::<String>()
                    ),
                    None,
                ));
            };
            let text =
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                    .to_string();
            json!({"uri": other, "mimeType": "application/json", "text": text})
        }
    };
    Ok(json!({"contents": [contents]}))
}

pub(crate) fn prompts() -> Value {
    json!({"prompts": [
        {"name": "test_simple_prompt", "title": "Simple Test Prompt", "description": "A simple prompt without arguments"},
        {"name": "test_prompt_with_arguments", "title": "Prompt With Arguments", "description": "A prompt with required arguments", "arguments": [
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true}]},
        {"name": "test_prompt_with_embedded_resource", "title": "Prompt With Embedded Resource", "description": "A prompt that includes an embedded resource", "arguments": [
            {"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
        {"name": "test_prompt_with_image", "title": "Prompt With Image", "description": "A prompt that includes image content"}
    ]})
}

pub(crate) fn get_prompt(name: &str, args: &JsonObject) -> Result<Value, ErrorData> {
    let arg = |k: &str| -> Result<String, ErrorData> {
        args.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("missing required argument `{k}`"), None)
            })
    };
    let messages = match name {
        "test_simple_prompt" => {
            json!([{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}])
        }
        "test_prompt_with_arguments" => {
            let (a1, a2) = (arg("arg1")?, arg("arg2")?);
            json!([{"role": "user", "content": {"type": "text", "text": format!("Prompt with arguments: arg1='{a1}', arg2='{a2}'")}}])
        }
        "test_prompt_with_embedded_resource" => {
            let uri = arg("resourceUri")?;
            json!([
                {"role": "user", "content": {"type": "resource", "resource": {"uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}}},
                {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}}
            ])
        }
        "test_prompt_with_image" => json!([
            {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
            {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}}
        ]),
        other => {
            return Err(ErrorData::invalid_params(
                format!("no prompt `{}`", other.chars().take(64).collect::<String>()),
                None,
            ));
        }
    };
    Ok(json!({"messages": messages}))
}

pub(crate) fn log_level_set(level: &Value) -> LoggingMessageNotificationParam {
    LoggingMessageNotificationParam::new(
        LoggingLevel::Info,
        json!(format!(
            "Log level set to: {}",
            level.as_str().unwrap_or("?")
        )),
    )
}
