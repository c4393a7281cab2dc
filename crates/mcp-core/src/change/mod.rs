//! One confirmation and approval model for every write tool.
//!
//! A tool declares when it needs a human's yes with [`Confirm`] (next to its handler, via
//! [`ToolDef::confirm`](crate::ToolDef::confirm)). Its handler works out a [`Plan`] of exactly
//! what it will do and passes it through [`CallCtx::gate`](crate::CallCtx::gate) before it
//! acts. The gate decides, in this order:
//!
//! 1. `dry_run`: return the plan, ask nobody, change nothing ([`Gate::DryRun`]).
//! 2. The call is the writer's `apply_change` of an approved change: proceed only when the
//!    plan's digest is still the approved one, and consume the approval.
//! 3. The tool needs no confirmation for these arguments: proceed.
//! 4. `MCP_APPROVALS=required`: store a pending change and return its id and digest
//!    ([`Gate::Pending`]); another subject with `<ns>:approve` approves that digest with
//!    `approve_change`, and the writer applies it with `apply_change`.
//! 5. The client negotiated 2026-07-28 and declared elicitation: answer with an
//!    `InputRequiredResult` (multi round-trip request) whose `requestState` is sealed with
//!    `MCP_STATE_KEY`, so any replica holding the key can resume the call.
//! 6. An older stateful client that declared elicitation: ask with `elicitation/create` in
//!    its session.
//! 7. Otherwise refuse, unless the operator set `MCP_CONFIRM=off`.
//!
//! A "decline" or "cancel" changes nothing and is audited. The audit event of every write
//! carries the plan's digest, how it was confirmed and by whom.

pub mod store;
pub(crate) mod tools;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rmcp::model::{InputRequest, InputRequiredResult, JsonObject, RequestStateCodec, SealOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::config::{ConfigError, Env};
use crate::error::ToolError;
use crate::tool::CallCtx;

pub use store::{
    ChangeError, ChangeState, ChangeStore, MemoryChangeStore, PendingChange, StoreFuture,
    approve_in_place, check_approve, check_consume, consume_in_place,
};

/// When a write tool asks a human before it acts.
#[derive(Clone, Copy)]
pub enum Confirm {
    /// Never: the write is harmless on its own (a candidate-config edit that needs a commit).
    Never,
    /// Every call that would change something.
    Always,
    /// Only when `when(arguments)` is true; `doc` says when, for docs and `tools --json`.
    When {
        /// The test on the call's arguments.
        when: fn(&JsonObject) -> bool,
        /// When, in words ("when `action` is stop, reset or shutdown").
        doc: &'static str,
    },
}

impl std::fmt::Debug for Confirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.doc())
    }
}

impl Confirm {
    /// Whether a call with `args` needs a confirmation.
    pub fn needed(&self, args: &JsonObject) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::When { when, .. } => when(args),
        }
    }

    /// The policy in words: `never`, `always` or the `When` text.
    pub fn doc(&self) -> String {
        match self {
            Self::Never => "never".into(),
            Self::Always => "always".into(),
            Self::When { doc, .. } => (*doc).to_string(),
        }
    }
}

/// One change a write will make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedChange {
    /// `create`, `update`, `delete`, `move`, `commit`, `revert`, `run`, `stop`, ...
    pub action: String,
    /// What kind of thing: `address`, `security rule`, `ingress rule`, `vm`, ...
    pub kind: String,
    /// Which one.
    pub name: String,
    /// The thing as it is now, where it exists and matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The thing as it will be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

impl PlannedChange {
    /// A change with no before or after.
    pub fn new(
        action: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            action: action.into(),
            kind: kind.into(),
            name: name.into(),
            before: None,
            after: None,
        }
    }

    /// With the state before.
    #[must_use]
    pub fn before(mut self, v: Value) -> Self {
        self.before = Some(v);
        self
    }

    /// With the state after.
    #[must_use]
    pub fn after(mut self, v: Value) -> Self {
        self.after = Some(v);
        self
    }
}

/// Exactly what a write will do: what a human confirms and what an approval binds to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The tool that will act.
    pub tool: String,
    /// What is changed: a device, a security group, a node.
    pub target: String,
    /// One line a human reads before saying yes.
    pub summary: String,
    /// Each change, in the order it is made.
    pub changes: Vec<PlannedChange>,
    /// `sha256:` over the tool, target and changes. A confirmation or approval holds only
    /// while the tool would still do exactly this.
    pub digest: String,
}

impl Plan {
    /// A plan for `tool` on `target`; the digest is computed here.
    pub fn new(
        tool: &str,
        target: impl Into<String>,
        summary: impl Into<String>,
        changes: Vec<PlannedChange>,
    ) -> Self {
        let target = target.into();
        let digest = digest_of(tool, &target, &changes);
        Self {
            tool: tool.to_string(),
            target,
            summary: summary.into(),
            changes,
            digest,
        }
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The question a human is asked.
    pub fn question(&self) -> String {
        let n = self.changes.len();
        let mut q = format!(
            "Apply {n} change{} to {}? {}",
            if n == 1 { "" } else { "s" },
            self.target,
            self.summary
        );
        for c in self.changes.iter().take(20) {
            q.push_str(&format!("\n- {} {} {}", c.action, c.kind, c.name));
        }
        if n > 20 {
            q.push_str(&format!("\n- ... and {} more", n - 20));
        }
        q.push_str(&format!("\n(digest {})", self.digest));
        q
    }
}

fn digest_of(tool: &str, target: &str, changes: &[PlannedChange]) -> String {
    fingerprint(&json!({"tool": tool, "target": target, "changes": changes}))
}

/// `sha256:` over `v` with its object keys sorted: for a plan that must bind values it may
/// not show (secret API parameters), so that a changed value changes the digest.
pub fn fingerprint(v: &Value) -> String {
    let canonical = crate::tool::sorted(v.clone());
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let hash = sha2::Sha256::digest(&bytes);
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for b in hash {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// How a write went ahead, for the tool's answer and the audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// `not_required`, `elicitation` (asked in the session), `input_required` (asked through
    /// a multi round-trip request), `approval` (two-person rule) or `confirm_off`
    /// (`MCP_CONFIRM=off`).
    pub by: String,
    /// The subject who approved, under the two-person rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The pending change that was applied, under the two-person rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
}

/// A write stored for approval (`MCP_APPROVALS=required`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PendingApproval {
    /// The id to approve and apply.
    pub change_id: String,
    /// The digest the approver must name.
    pub digest: String,
    /// When the pending change lapses (RFC 3339).
    pub expires_at: String,
    /// What to do next.
    pub next: String,
}

/// What the gate decided.
#[derive(Debug, Clone)]
pub enum Gate {
    /// `dry_run`: return the plan; nothing was asked or changed.
    DryRun,
    /// Stored for approval; nothing changed yet.
    Pending(PendingApproval),
    /// Go ahead.
    Proceed(Confirmation),
}

/// The common part of every write tool's answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChangeReport {
    /// `applied`, `planned` (dry run), `pending_approval` or `unchanged`.
    pub status: String,
    /// What the call did, or would do.
    pub plan: Plan,
    /// How it was confirmed (when applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    /// The pending change to approve (when `pending_approval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingApproval>,
}

impl ChangeReport {
    /// The report for a gate decision (before the write, for `DryRun` and `Pending`; after
    /// it for `Proceed`).
    pub fn from_gate(plan: Plan, gate: &Gate) -> Self {
        match gate {
            Gate::DryRun => Self {
                status: "planned".into(),
                plan,
                confirmation: None,
                pending: None,
            },
            Gate::Pending(p) => Self {
                status: "pending_approval".into(),
                plan,
                confirmation: None,
                pending: Some(p.clone()),
            },
            Gate::Proceed(c) => Self {
                status: "applied".into(),
                plan,
                confirmation: Some(c.clone()),
                pending: None,
            },
        }
    }

    /// The report for a plan with nothing to do.
    pub fn unchanged(plan: Plan) -> Self {
        Self {
            status: "unchanged".into(),
            plan,
            confirmation: None,
            pending: None,
        }
    }
}

/// `MCP_APPROVALS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approvals {
    /// A human's confirmation of the caller's own change is enough.
    Off,
    /// The two-person rule: a confirmed write waits for another subject's approval.
    Required,
}

/// The server-wide confirmation settings and the pending-change store.
pub struct ChangeControl {
    /// `MCP_CONFIRM=off` lets writes that need a confirmation through for clients that
    /// cannot give one.
    pub confirm_off: bool,
    /// `MCP_APPROVALS`.
    pub approvals: Approvals,
    /// How long a pending change and an approval stay valid (`MCP_APPROVAL_TTL`).
    pub approval_ttl: Duration,
    /// How long an unanswered multi round-trip confirmation stays valid.
    pub input_ttl: Duration,
    /// Seals `requestState` (`MCP_STATE_KEY`, or a random per-process key); replaced when
    /// the key is rotated ([`ChangeControl::rotate_state_key`]).
    codec: std::sync::RwLock<Arc<RequestStateCodec>>,
    /// The key now in use, kept to stay in the ring after a rotation.
    current_key: Mutex<Vec<u8>>,
    /// Whether the key came from `MCP_STATE_KEY` (shared by replicas) or is random.
    pub shared_key: bool,
    /// Pending changes.
    pub store: Arc<dyn ChangeStore>,
    /// The scope namespace (`ngfw`, `aws`, `proxmox`): `<ns>:approve` approves.
    pub namespace: String,
}

impl std::fmt::Debug for ChangeControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeControl")
            .field("confirm_off", &self.confirm_off)
            .field("approvals", &self.approvals)
            .field("approval_ttl", &self.approval_ttl)
            .field("shared_key", &self.shared_key)
            .finish_non_exhaustive()
    }
}

impl ChangeControl {
    /// Read `MCP_CONFIRM`, `MCP_APPROVALS`, `MCP_APPROVAL_TTL` and `MCP_STATE_KEY`.
    pub fn from_env(env: &Env, namespace: &str) -> Result<Self, ConfigError> {
        let confirm_off = match env.get("MCP_CONFIRM")?.as_deref().map(str::trim) {
            None | Some("on") => false,
            Some("off") => true,
            Some(v) => {
                return Err(ConfigError::invalid(
                    "MCP_CONFIRM",
                    format!("`{}` is not on or off", crate::validate::excerpt(v, 32)),
                ));
            }
        };
        let approvals = match env.get("MCP_APPROVALS")?.as_deref().map(str::trim) {
            None | Some("off") => Approvals::Off,
            Some("required") => Approvals::Required,
            Some(v) => {
                return Err(ConfigError::invalid(
                    "MCP_APPROVALS",
                    format!(
                        "`{}` is not off or required",
                        crate::validate::excerpt(v, 32)
                    ),
                ));
            }
        };
        let approval_ttl = env
            .duration("MCP_APPROVAL_TTL")?
            .unwrap_or(Duration::from_secs(15 * 60));
        if approval_ttl.is_zero() || approval_ttl > Duration::from_secs(7 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "MCP_APPROVAL_TTL",
                "must be more than 0 and at most 7 days",
            ));
        }
        let (key, shared_key) = match env.get("MCP_STATE_KEY")? {
            Some(k) => {
                if k.len() < RequestStateCodec::MIN_KEY_LENGTH {
                    return Err(ConfigError::invalid(
                        "MCP_STATE_KEY",
                        format!(
                            "must be at least {} bytes (e.g. `openssl rand -hex 32`)",
                            RequestStateCodec::MIN_KEY_LENGTH
                        ),
                    ));
                }
                (k.into_bytes(), true)
            }
            None => (random_key(), false),
        };
        let codec = keyring(&key, None)
            .map_err(|e| ConfigError::invalid("MCP_STATE_KEY", e.to_string()))?;
        Ok(Self {
            confirm_off,
            approvals,
            approval_ttl,
            input_ttl: Duration::from_secs(10 * 60),
            codec: std::sync::RwLock::new(Arc::new(codec)),
            current_key: Mutex::new(key),
            shared_key,
            store: Arc::new(MemoryChangeStore::default()),
            namespace: namespace.to_string(),
        })
    }

    /// Defaults: confirmations on, no approvals, a random key (tests, embedding).
    pub fn in_process(namespace: &str) -> Self {
        // An empty environment has nothing to reject, and a random key has the minimum length.
        Self::from_env(&Env::default(), namespace)
            .expect("the default confirmation settings are valid")
    }

    /// The codec in use.
    pub(crate) fn codec(&self) -> Arc<RequestStateCodec> {
        match self.codec.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Use `key` from now on, and keep the previous key able to open what it sealed (a
    /// confirmation asked just before the rotation). Replicas that read the same new key
    /// agree on its id, which is derived from the key.
    pub fn rotate_state_key(&self, key: Vec<u8>) -> Result<(), ConfigError> {
        let mut current = self
            .current_key
            .lock()
            .map_err(|_| ConfigError::invalid("MCP_STATE_KEY", "the key store is poisoned"))?;
        if *current == key {
            return Ok(());
        }
        let codec = keyring(&key, Some(&current))
            .map_err(|e| ConfigError::invalid("MCP_STATE_KEY", e.to_string()))?;
        if let Ok(mut c) = self.codec.write() {
            *c = Arc::new(codec);
        }
        *current = key;
        Ok(())
    }

    /// The scope that approves changes on this server.
    pub fn approve_scope(&self) -> String {
        format!("{}:approve", self.namespace)
    }
}

/// A codec sealing with `key` (its id derived from the key) that also opens what
/// `previous` sealed.
fn keyring(
    key: &[u8],
    previous: Option<&[u8]>,
) -> Result<RequestStateCodec, rmcp::model::RequestStateError> {
    let kid = |k: &[u8]| {
        let h = sha2::Sha256::digest(k);
        format!("k{:02x}{:02x}{:02x}{:02x}", h[0], h[1], h[2], h[3])
    };
    let mut ring = vec![(kid(key), key.to_vec())];
    if let Some(p) = previous
        && kid(p) != ring[0].0
    {
        ring.push((kid(p), p.to_vec()));
    }
    RequestStateCodec::new_with_keyring(kid(key), ring)
}

fn random_key() -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    k.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    k
}

/// The per-call part of the gate: which tool, its arguments, what the client sent back.
#[derive(Debug)]
pub struct GateCtx {
    pub(crate) control: Arc<ChangeControl>,
    pub(crate) tool: &'static str,
    pub(crate) args: JsonObject,
    pub(crate) needs_confirm: bool,
    pub(crate) input_responses: Option<rmcp::model::InputResponses>,
    pub(crate) request_state: Option<String>,
    /// Set when `apply_change` dispatches an approved change.
    pub(crate) approved: Option<PendingChange>,
    /// What the gate decided, for the audit event.
    pub(crate) outcome: Mutex<Option<GateAudit>>,
}

/// What the audit event of a write records about its confirmation.
#[derive(Debug, Clone, Default)]
pub struct GateAudit {
    pub digest: String,
    pub confirmation: String,
    pub approver: Option<String>,
    pub change_id: Option<String>,
}

impl GateCtx {
    /// A gate for `tool` (outside the server's call path: tests, the REST facade).
    pub fn new(
        control: Arc<ChangeControl>,
        tool: &'static str,
        args: JsonObject,
        needs_confirm: bool,
    ) -> Self {
        Self {
            control,
            tool,
            args,
            needs_confirm,
            input_responses: None,
            request_state: None,
            approved: None,
            outcome: Mutex::new(None),
        }
    }

    fn record(&self, digest: &str, confirmation: &str, c: Option<&Confirmation>) {
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some(GateAudit {
                digest: digest.to_string(),
                confirmation: confirmation.to_string(),
                approver: c.and_then(|c| c.approver.clone()),
                change_id: c.and_then(|c| c.change_id.clone()),
            });
        }
    }

    /// What the gate decided, if it ran.
    pub fn audit(&self) -> Option<GateAudit> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }
}

/// The key under which the confirmation is asked in an `InputRequiredResult`.
const CONFIRM_KEY: &str = "confirm";

/// What a sealed `requestState` carries: the digest the human was shown, and a nonce that
/// makes one "yes" good for one change.
#[derive(Serialize, Deserialize)]
struct SealedConfirm {
    tool: String,
    digest: String,
    #[serde(default)]
    nonce: String,
}

fn associated_data(subject: &str, tool: &str) -> Vec<u8> {
    format!("secops-mcp/confirm/v1|{subject}|{tool}").into_bytes()
}

fn elicitation_params(plan: &Plan) -> Value {
    json!({
        "mode": "form",
        "message": plan.question(),
        "requestedSchema": {
            "type": "object",
            "properties": {
                "confirm": {
                    "type": "boolean",
                    "title": "Apply",
                    "description": format!("Apply exactly these changes ({})", plan.digest),
                    "default": false
                }
            },
            "required": ["confirm"]
        }
    })
}

/// An elicitation answer: `Ok(true)` for accept with `confirm: true`.
fn accepted(answer: &Value) -> Result<bool, String> {
    match answer.get("action").and_then(Value::as_str) {
        // The form asks for `confirm: true`; an accept without it is not a yes.
        Some("accept") => Ok(answer
            .get("content")
            .and_then(|c| c.get("confirm"))
            .and_then(Value::as_bool)
            == Some(true)),
        Some("decline") => Err("declined".into()),
        Some("cancel") => Err("cancelled".into()),
        _ => Err("gave no answer".into()),
    }
}

impl CallCtx {
    /// Pass `plan` through the confirmation and approval gate before acting on it. See the
    /// module docs of [`crate::change`] for the order of the checks.
    ///
    /// `Ok(Gate::Proceed)` means act now. `Ok(Gate::DryRun)` and `Ok(Gate::Pending)` mean
    /// return the plan without acting. An error means nothing may be done: the user declined,
    /// the client cannot confirm, the approved change went stale, or (a multi round-trip
    /// request) the client must ask the user and call again.
    pub async fn gate(&self, plan: &Plan, dry_run: bool) -> Result<Gate, ToolError> {
        let g = &self.gate;
        if dry_run {
            g.record(&plan.digest, "dry_run", None);
            return Ok(Gate::DryRun);
        }
        if let Some(change) = &g.approved {
            if change.digest != plan.digest {
                g.record(&plan.digest, "stale", None);
                return Err(ToolError::Conflict(format!(
                    "change {} is stale: what `{}` would do now (digest {}) is not what was approved ({}). Nothing was changed; submit the change again.",
                    change.id, g.tool, plan.digest, change.digest
                )));
            }
            let applied = g
                .control
                .store
                .consume(&change.id, &plan.digest, SystemTime::now())
                .await
                .map_err(|e| ToolError::Conflict(e.to_string()))?;
            let c = Confirmation {
                by: "approval".into(),
                approver: applied.approver().map(str::to_string),
                change_id: Some(applied.id),
            };
            g.record(&plan.digest, "approval", Some(&c));
            return Ok(Gate::Proceed(c));
        }
        if !g.needs_confirm {
            let c = Confirmation {
                by: "not_required".into(),
                approver: None,
                change_id: None,
            };
            g.record(&plan.digest, "not_required", None);
            return Ok(Gate::Proceed(c));
        }
        if g.control.approvals == Approvals::Required {
            let now = SystemTime::now();
            let change = PendingChange::new(
                g.tool,
                g.args.clone(),
                &self.principal.subject,
                plan,
                now,
                g.control.approval_ttl,
            );
            let pending = PendingApproval {
                change_id: change.id.clone(),
                digest: plan.digest.clone(),
                expires_at: humantime::format_rfc3339_seconds(change.expires_at).to_string(),
                next: format!(
                    "Another person holding `{}` approves it with approve_change {{change_id, digest}}; then you apply it with apply_change {{change_id}}.",
                    g.control.approve_scope()
                ),
            };
            g.control
                .store
                .insert(change.clone())
                .await
                .map_err(|e| ToolError::Unavailable {
                    upstream: "the change store".into(),
                    message: e.to_string(),
                    retry_after: None,
                })?;
            g.record(
                &plan.digest,
                "pending_approval",
                Some(&Confirmation {
                    by: "pending_approval".into(),
                    approver: None,
                    change_id: Some(change.id.clone()),
                }),
            );
            return Ok(Gate::Pending(pending));
        }
        // The answer to an earlier InputRequiredResult.
        if let (Some(state), Some(responses)) = (&g.request_state, &g.input_responses) {
            let ad = associated_data(&self.principal.subject, g.tool);
            let sealed: SealedConfirm = g
                .control
                .codec()
                .open_json_with(state, &ad)
                .map_err(|_| {
                    ToolError::invalid(
                        "requestState",
                        "is not a confirmation this server issued to this caller for this tool, or it has expired; call the tool again without it",
                    )
                })?;
            if sealed.tool == g.tool && sealed.digest == plan.digest {
                let answer = responses.get(CONFIRM_KEY).cloned().unwrap_or(Value::Null);
                return match accepted(&answer) {
                    Ok(true) => {
                        // One yes, one change: the same sealed answer cannot be sent twice.
                        let until = SystemTime::now() + g.control.input_ttl;
                        let first = g
                            .control
                            .store
                            .use_once(&format!("confirm:{}", sealed.nonce), until)
                            .await
                            .map_err(|e| ToolError::Unavailable {
                                upstream: "the change store".into(),
                                message: e.to_string(),
                                retry_after: None,
                            })?;
                        if sealed.nonce.is_empty() || !first {
                            g.record(&plan.digest, "replayed", None);
                            return Err(ToolError::invalid(
                                "requestState",
                                "this confirmation was already used for a change; call the tool again without it to be asked again",
                            ));
                        }
                        let c = Confirmation {
                            by: "input_required".into(),
                            approver: None,
                            change_id: None,
                        };
                        g.record(&plan.digest, "input_required", Some(&c));
                        Ok(Gate::Proceed(c))
                    }
                    Ok(false) | Err(_) => {
                        let why = accepted(&answer)
                            .err()
                            .unwrap_or_else(|| "did not confirm".into());
                        g.record(
                            &plan.digest,
                            &format!("user_{}", why.replace(' ', "_")),
                            None,
                        );
                        Err(ToolError::NotConfirmed(format!(
                            "the user {why}; nothing was changed"
                        )))
                    }
                };
            }
            // What the tool would do changed between the question and the answer: ask again
            // about the new plan below.
        }
        let caps = self.rmcp.client_capabilities();
        let elicits = caps.as_ref().is_some_and(|c| c.elicitation.is_some());
        let mrtr = self
            .rmcp
            .protocol_version()
            .is_some_and(|v| v.as_str() >= "2026-07-28");
        if elicits && mrtr {
            let ad = associated_data(&self.principal.subject, g.tool);
            let state = g
                .control
                .codec()
                .seal_json_with(
                    &SealedConfirm {
                        tool: g.tool.to_string(),
                        digest: plan.digest.clone(),
                        nonce: uuid::Uuid::new_v4().to_string(),
                    },
                    &SealOptions::new()
                        .associated_data(&ad)
                        .ttl(g.control.input_ttl),
                )
                .map_err(ToolError::internal)?;
            let request: InputRequest = serde_json::from_value(json!({
                "method": "elicitation/create",
                "params": elicitation_params(plan),
            }))
            .map_err(ToolError::internal)?;
            let mut requests = rmcp::model::InputRequests::new();
            requests.insert(CONFIRM_KEY.to_string(), request);
            g.record(&plan.digest, "asked", None);
            return Err(ToolError::InputRequired(Box::new(
                InputRequiredResult::new(Some(requests), Some(state)),
            )));
        }
        if elicits && !mrtr {
            let params: rmcp::model::ElicitRequestParams =
                serde_json::from_value(elicitation_params(plan)).map_err(ToolError::internal)?;
            match self.rmcp.peer.create_elicitation(params).await {
                Ok(answer) => {
                    let answer = serde_json::to_value(&answer).map_err(ToolError::internal)?;
                    return match accepted(&answer) {
                        Ok(true) => {
                            let c = Confirmation {
                                by: "elicitation".into(),
                                approver: None,
                                change_id: None,
                            };
                            g.record(&plan.digest, "elicitation", Some(&c));
                            Ok(Gate::Proceed(c))
                        }
                        Ok(false) | Err(_) => {
                            let why = accepted(&answer)
                                .err()
                                .unwrap_or_else(|| "did not confirm".into());
                            g.record(
                                &plan.digest,
                                &format!("user_{}", why.replace(' ', "_")),
                                None,
                            );
                            Err(ToolError::NotConfirmed(format!(
                                "the user {why}; nothing was changed"
                            )))
                        }
                    };
                }
                Err(e) => {
                    tracing::info!(error = %e, tool = g.tool, "elicitation/create failed: treating the client as unable to confirm");
                }
            }
        }
        if g.control.confirm_off {
            let c = Confirmation {
                by: "confirm_off".into(),
                approver: None,
                change_id: None,
            };
            g.record(&plan.digest, "confirm_off", Some(&c));
            return Ok(Gate::Proceed(c));
        }
        g.record(&plan.digest, "unavailable", None);
        Err(ToolError::NotConfirmed(format!(
            "`{}` needs a human's confirmation, and this client cannot ask for one (it did not declare the elicitation capability in a session or on protocol 2026-07-28). Nothing was changed. Use a client that supports elicitation, run with `dry_run: true` to see the plan, or ask the operator about MCP_APPROVALS=required (two-person rule) or MCP_CONFIRM=off.",
            g.tool
        )))
    }
}

#[cfg(test)]
mod tests;
