//! The store tools: one read, one write, one slow.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::validate::{self, NameRules};
use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
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

const DELETE_ITEM: ToolSpec = ToolSpec {
    name: "delete_item",
    title: "Delete item",
    description: "Delete the value stored under a key. Asks the user to confirm first (or, under the two-person rule, waits for another person's approval); `dry_run` shows what would be deleted.",
    scope: "example:write",
    toolset: "items",
    effect: Effect::Destructive { idempotent: true },
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
    /// Return the plan without storing anything.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SetItemOutput {
    /// The key that was written.
    key: String,
    /// The value it replaced.
    previous: Option<String>,
    /// What was done (or, with `dry_run`, would be done) and how it was confirmed.
    change: ChangeReport,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteItemInput {
    /// Key to delete: letters, digits, `_ - .`, at most 128 characters.
    key: String,
    /// Return the plan without asking or deleting.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteItemOutput {
    /// The key.
    key: String,
    /// The value that was deleted (when `change.status` is `applied`).
    deleted: Option<String>,
    /// What was done (or would be done) and how it was confirmed.
    change: ChangeReport,
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
        ToolDef::new(SET_ITEM, set_item).confirm(Confirm::Never),
        ToolDef::new(DELETE_ITEM, delete_item).confirm(Confirm::Always),
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
    ctx: CallCtx,
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
    let current = s.client.get(&input.key)?;
    let plan = Plan::new(
        SET_ITEM.name,
        "the example store",
        format!("store a value under `{}`", input.key),
        vec![
            PlannedChange::new(
                if current.value.is_some() {
                    "update"
                } else {
                    "create"
                },
                "item",
                &input.key,
            )
            .after(serde_json::Value::String(input.value.clone())),
        ],
    );
    if current.value.as_deref() == Some(input.value.as_str()) {
        return Ok(SetItemOutput {
            key: current.key,
            previous: current.value,
            change: ChangeReport::unchanged(Plan::new(
                SET_ITEM.name,
                "the example store",
                "nothing to do: the value is already stored",
                Vec::new(),
            )),
        });
    }
    let gate = ctx.gate(&plan, input.dry_run).await?;
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(SetItemOutput {
            key: current.key,
            previous: current.value,
            change: ChangeReport::from_gate(plan, &gate),
        });
    }
    let before = s.client.set(&input.key, input.value)?;
    Ok(SetItemOutput {
        key: before.key,
        previous: before.value,
        change: ChangeReport::from_gate(plan, &gate),
    })
}

async fn delete_item(
    s: Arc<Example>,
    ctx: CallCtx,
    input: DeleteItemInput,
) -> Result<DeleteItemOutput, ToolError> {
    validate::name("key", &input.key, NameRules::IDENTIFIER)?;
    let current = s.client.get(&input.key)?;
    let Some(value) = current.value else {
        return Ok(DeleteItemOutput {
            key: current.key,
            deleted: None,
            change: ChangeReport::unchanged(Plan::new(
                DELETE_ITEM.name,
                "the example store",
                "nothing to do: no value is stored under this key",
                Vec::new(),
            )),
        });
    };
    let plan = Plan::new(
        DELETE_ITEM.name,
        "the example store",
        format!("delete the value stored under `{}`", input.key),
        vec![
            PlannedChange::new("delete", "item", &input.key)
                .before(serde_json::Value::String(value)),
        ],
    );
    let gate = ctx.gate(&plan, input.dry_run).await?;
    let deleted = match gate {
        Gate::Proceed(_) => s.client.delete(&input.key)?.value,
        _ => None,
    };
    Ok(DeleteItemOutput {
        key: input.key,
        deleted,
        change: ChangeReport::from_gate(plan, &gate),
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
