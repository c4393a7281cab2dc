//! The store tools: one read, one write, one slow.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::validate::{self, NameRules};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Example;

const GET_ITEM: ToolSpec = ToolSpec {
    name: "get_item",
    title: "Get item",
    description: "Read one value from the example store by key.",
    scope: "example:read",
    toolset: "items",
    effect: Effect::ReadOnly,
    open_world: false,
};

const SET_ITEM: ToolSpec = ToolSpec {
    name: "set_item",
    title: "Set item",
    description: "Store a value under a key, replacing any previous value.",
    scope: "example:write",
    toolset: "items",
    effect: Effect::IdempotentWrite,
    open_world: false,
};

const SLOW_ECHO: ToolSpec = ToolSpec {
    name: "slow_echo",
    title: "Slow echo",
    description: "Wait `millis` milliseconds, then return `message`. Used to test timeouts and graceful shutdown.",
    scope: "example:read",
    toolset: "items",
    effect: Effect::ReadOnly,
    open_world: false,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GetItemInput {
    /// Key to read: letters, digits, `_ - .`, at most 128 characters.
    key: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct GetItemOutput {
    /// The key that was read.
    key: String,
    /// Whether a value is stored under it.
    found: bool,
    /// The stored value.
    value: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetItemInput {
    /// Key to write: letters, digits, `_ - .`, at most 128 characters.
    key: String,
    /// Value to store, at most 4096 characters.
    value: String,
    /// Optional credential for the store; never logged.
    #[schemars(extend("writeOnly" = true))]
    #[serde(default)]
    store_credential: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SetItemOutput {
    /// The key that was written.
    key: String,
    /// The value it replaced.
    previous: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlowEchoInput {
    /// Text to return, unchanged.
    message: String,
    /// How long to wait, 0 to 60000 ms.
    millis: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SlowEchoOutput {
    /// The message, unchanged.
    message: String,
    /// How long the call waited.
    waited_ms: u64,
}

pub(crate) fn tools() -> Vec<ToolDef<Example>> {
    vec![
        ToolDef::new(GET_ITEM, get_item),
        ToolDef::new(SET_ITEM, set_item),
        ToolDef::new(SLOW_ECHO, slow_echo),
    ]
}

async fn get_item(
    s: Arc<Example>,
    _ctx: CallCtx,
    input: GetItemInput,
) -> Result<GetItemOutput, ToolError> {
    validate::name("key", &input.key, NameRules::IDENTIFIER)?;
    let stored = s.client.get(&input.key)?;
    Ok(GetItemOutput {
        found: stored.value.is_some(),
        key: stored.key,
        value: stored.value,
    })
}

async fn set_item(
    s: Arc<Example>,
    _ctx: CallCtx,
    input: SetItemInput,
) -> Result<SetItemOutput, ToolError> {
    validate::name("key", &input.key, NameRules::IDENTIFIER)?;
    validate::check_len("value", &input.value, 4096)?;
    validate::check_no_control("value", &input.value)?;
    if input.store_credential.as_deref() == Some("") {
        return Err(ToolError::invalid(
            "store_credential",
            "must not be empty when given",
        ));
    }
    let before = s.client.set(&input.key, input.value)?;
    Ok(SetItemOutput {
        key: before.key,
        previous: before.value,
    })
}

async fn slow_echo(
    _s: Arc<Example>,
    _ctx: CallCtx,
    input: SlowEchoInput,
) -> Result<SlowEchoOutput, ToolError> {
    if input.millis > 60_000 {
        return Err(ToolError::invalid("millis", "must be at most 60000"));
    }
    tokio::time::sleep(Duration::from_millis(input.millis)).await;
    Ok(SlowEchoOutput {
        message: input.message,
        waited_ms: input.millis,
    })
}
