//! The two-person-rule tools every server gets with `MCP_APPROVALS=required`:
//! `list_changes`, `approve_change` and `apply_change`.

use std::sync::Arc;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Confirm, PendingChange, Plan};
use crate::error::ToolError;
use crate::tool::{CallCtx, Effect, ToolDef, ToolSpec};

/// The toolset of the change tools.
pub(crate) const TOOLSET: &str = "approvals";

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListIn {}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ChangeView {
    /// The change id.
    change_id: String,
    /// The tool that will act.
    tool: String,
    /// Who asked for the change.
    writer: String,
    /// `pending`, `approved`, `applied` or `expired`.
    status: String,
    /// Who approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    /// When it was asked for (RFC 3339).
    created_at: String,
    /// When the pending change or its approval lapses (RFC 3339).
    expires_at: String,
    /// Exactly what will be done, with its digest.
    plan: Plan,
}

impl ChangeView {
    fn of(c: &PendingChange, now: SystemTime) -> Self {
        let expires = match &c.state {
            super::ChangeState::Approved { until, .. } => *until,
            _ => c.expires_at,
        };
        Self {
            change_id: c.id.clone(),
            tool: c.tool.clone(),
            writer: c.subject.clone(),
            status: c.status(now).to_string(),
            approver: c.approver().map(str::to_string),
            created_at: rfc3339(c.created_at),
            expires_at: rfc3339(expires),
            plan: c.plan.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ListOut {
    /// Pending and approved changes, newest first.
    changes: Vec<ChangeView>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveIn {
    /// The change id that the write returned.
    change_id: String,
    /// The digest of the change as you reviewed it (`sha256:...`); an approval of any other
    /// digest is refused.
    digest: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyIn {
    /// The id of your own change, approved by someone else.
    change_id: String,
}

fn change_id(id: &str) -> Result<&str, ToolError> {
    // A UUID as the write returned it: 8-4-4-4-12 hex digits.
    let groups: Vec<&str> = id.split('-').collect();
    let ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(id)
    } else {
        Err(ToolError::invalid(
            "change_id",
            "is not a change id (a UUID as the write returned it)",
        ))
    }
}

fn store_error(e: super::ChangeError) -> ToolError {
    match e {
        super::ChangeError::NotFound(_) => ToolError::NotFound(e.to_string()),
        super::ChangeError::Store(_) => ToolError::Unavailable {
            upstream: "the change store".into(),
            message: e.to_string(),
            retry_after: None,
        },
        super::ChangeError::SelfApproval(_) | super::ChangeError::NotWriter(_) => {
            ToolError::Denied(e.to_string())
        }
        _ => ToolError::Conflict(e.to_string()),
    }
}

/// The change tools for a server whose scopes live in namespace `ns`.
pub(crate) fn tools<A: Send + Sync + 'static>(ns: &str) -> Vec<ToolDef<A>> {
    let read = leak(format!("{ns}:read"));
    let approve = leak(format!("{ns}:approve"));
    vec![
        ToolDef::new(
            ToolSpec {
                name: "list_changes",
                title: "List pending changes",
                description: "List the changes waiting for approval or for their writer to apply them (two-person rule, MCP_APPROVALS=required): id, tool, writer, status, expiry and the exact plan with its digest.",
                scope: read,
                toolset: TOOLSET,
                effect: Effect::ReadOnly,
                open_world: false,
            },
            |_: Arc<A>, ctx: CallCtx, _: ListIn| async move {
                let now = SystemTime::now();
                let list = ctx.gate.control.store.list(now).await.map_err(store_error)?;
                Ok(ListOut {
                    changes: list.iter().map(|c| ChangeView::of(c, now)).collect(),
                })
            },
        ),
        ToolDef::new(
            ToolSpec {
                name: "approve_change",
                title: "Approve a change",
                description: "Approve another person's pending change (two-person rule). Name the change id and the digest you reviewed (list_changes shows both); an approval of a different digest, of your own change, or of an expired change is refused. The approval is good for one apply by the writer, within MCP_APPROVAL_TTL (default 15 minutes).",
                scope: approve,
                toolset: TOOLSET,
                effect: Effect::IdempotentWrite,
                open_world: false,
            },
            |_: Arc<A>, ctx: CallCtx, i: ApproveIn| async move {
                let id = change_id(&i.change_id)?;
                let hex = i.digest.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ToolError::invalid(
                        "digest",
                        "is not a change digest (`sha256:` and 64 hex digits)",
                    ));
                }
                let now = SystemTime::now();
                let c = ctx
                    .gate
                    .control
                    .store
                    .approve(id, &ctx.principal.subject, &i.digest, now)
                    .await
                    .map_err(store_error)?;
                tracing::info!(target: "audit", change_id = %c.id, tool = %c.tool, writer = %c.subject, approver = %ctx.principal.subject, digest = %c.digest, "change approved");
                Ok(ChangeView::of(&c, now))
            },
        )
        .confirm(Confirm::Never),
        ToolDef::new(
            ToolSpec {
                name: "apply_change",
                title: "Apply an approved change",
                description: "Apply your own change after someone else approved it (two-person rule). The tool runs again with the arguments you gave; it acts only if what it would do still has the approved digest, and the approval is then used up. The answer is that tool's own answer.",
                scope: read,
                toolset: TOOLSET,
                effect: Effect::Mixed,
                open_world: true,
            },
            |_: Arc<A>, ctx: CallCtx, i: ApplyIn| async move {
                let id = change_id(&i.change_id)?;
                let c = ctx.gate.control.store.get(id).await.map_err(store_error)?;
                if c.subject != ctx.principal.subject {
                    return Err(store_error(super::ChangeError::NotWriter(c.id)));
                }
                super::store::check_consume(&c, &c.digest, SystemTime::now())
                    .map_err(store_error)?;
                // The answer is the applied tool's own (any object): the server runs it.
                Err::<serde_json::Map<String, serde_json::Value>, _>(ToolError::Dispatch(
                    Box::new(c),
                ))
            },
        )
        .confirm(Confirm::Never),
    ]
}
