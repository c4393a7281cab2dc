//! The MCP handler shared by every transport: scope-filtered listing, policy-checked calls,
//! timeouts, audit events and metrics around each tool call.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577 but older clients still send it

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ContentBlock, CustomRequest, CustomResult, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::app::App;
use crate::error::{ToolError, error_chain};
use crate::policy::{Principal, ToolFilter};
use crate::readiness::Readiness;
use crate::tool::{CallCtx, ToolDef};
use crate::transport::RequestId;

/// Everything the handler instances of one server share.
pub struct Shared<A: App> {
    pub(crate) app: Arc<A>,
    tools: Vec<ToolDef<A>>,
    by_name: HashMap<&'static str, usize>,
    info: ServerConfig,
    pub(crate) readiness: Readiness,
    call_timeout: Duration,
    read_only: bool,
    pub(crate) sessions: SessionCounter,
    /// Every scope some tool of this server requires (before the operator filter): only these
    /// imply their namespace's read scope.
    declared_scopes: std::collections::BTreeSet<String>,
    /// Per-subject, per-tool rate limits (none unless configured).
    rate_limits: crate::limits::RateLimits,
    /// The declared resources (`App::resources`).
    resources: Vec<crate::resource::ResourceDef<A>>,
    /// The declared prompts (`App::prompts`).
    prompts: Vec<crate::prompt::PromptDef>,
    /// Confirmation and approval settings and the pending-change store.
    changes: Arc<crate::change::ChangeControl>,
    /// The output guard (`MCP_GUARD=airs`).
    /// The store shared by replicas (`MCP_STATE_URL`), when set.
    state: Option<Arc<dyn crate::state::StateStore>>,
    #[cfg(feature = "airs")]
    guard: Option<Arc<crate::guard::Guard>>,
}

impl<A: App> std::fmt::Debug for Shared<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl<A: App> Shared<A> {
    /// Assemble the handler state: the operator filter is applied once, here.
    pub fn new(app: A, filter: &ToolFilter, readiness: Readiness, call_timeout: Duration) -> Self {
        let tools: Vec<ToolDef<A>> = A::tools()
            .into_iter()
            .filter(|t| {
                let kind = match t.spec().effect {
                    crate::tool::Effect::ReadOnly => crate::policy::ExposeAs::Read,
                    crate::tool::Effect::Mixed => crate::policy::ExposeAs::Mixed,
                    _ => crate::policy::ExposeAs::Write,
                };
                filter.exposes_effect(kind, t.spec().toolset)
            })
            .collect();
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.spec().name, i))
            .collect();
        let declared_scopes = A::tools()
            .iter()
            .map(|t| t.spec().scope)
            .chain(A::extra_scopes().iter().copied())
            .map(str::to_string)
            .collect();
        // A resource answers what a tool answers: the operator's toolset filter hides it with
        // its tools (resources only read, so read-only mode keeps them).
        let resources: Vec<_> = A::resources()
            .into_iter()
            .filter(|r| filter.exposes(true, r.spec().toolset))
            .collect();
        let mut caps = A::capabilities();
        if !resources.is_empty() && caps.resources.is_none() {
            caps.resources = Some(Default::default());
        }
        let prompts = A::prompts();
        if !prompts.is_empty() && caps.prompts.is_none() {
            caps.prompts = Some(Default::default());
        }
        let meta = A::meta();
        let mut info =
            ServerConfig::new(caps).with_server_info(Implementation::new(meta.name, meta.version));
        if let Some(i) = A::instructions() {
            info = info.with_instructions(i);
        }
        Self {
            app: Arc::new(app),
            tools,
            by_name,
            info,
            readiness,
            call_timeout,
            read_only: filter.read_only,
            sessions: SessionCounter::default(),
            declared_scopes,
            rate_limits: crate::limits::RateLimits::default(),
            resources,
            prompts,
            changes: Arc::new(crate::change::ChangeControl::in_process(
                &namespace_of::<A>(),
            )),
            state: None,
            #[cfg(feature = "airs")]
            guard: None,
        }
    }

    /// The store shared with the other replicas (`MCP_STATE_URL`), checked by `/health`. The
    /// features that keep state there are given it when they are built.
    #[must_use]
    pub fn with_state(mut self, state: Option<Arc<dyn crate::state::StateStore>>) -> Self {
        self.state = state;
        self
    }

    /// The shared state store, when `MCP_STATE_URL` is set.
    pub fn state(&self) -> Option<&Arc<dyn crate::state::StateStore>> {
        self.state.as_ref()
    }

    /// Scan results (and, with `MCP_GUARD_INPUT`, write tools' arguments) with `guard`.
    #[cfg(feature = "airs")]
    #[must_use]
    pub fn with_guard(mut self, guard: Option<crate::guard::Guard>) -> Self {
        self.guard = guard.map(Arc::new);
        self
    }

    /// The output guard, when on.
    #[cfg(feature = "airs")]
    pub fn guard(&self) -> Option<&Arc<crate::guard::Guard>> {
        self.guard.as_ref()
    }

    /// Confirm writes and hold pending changes as `control` says (`MCP_CONFIRM`,
    /// `MCP_APPROVALS`, `MCP_STATE_KEY`). Under the two-person rule the change tools
    /// (`list_changes`, `approve_change`, `apply_change`) join the inventory, unless the
    /// server is read-only.
    #[must_use]
    pub fn with_changes(mut self, control: crate::change::ChangeControl) -> Self {
        let writes = A::tools().iter().any(|t| !t.spec().effect.is_read_only());
        if control.approvals == crate::change::Approvals::Required && !self.read_only && writes {
            let extra = crate::change::tools::tools::<A>(&control.namespace);
            self.declared_scopes
                .extend(extra.iter().map(|t| t.spec().scope.to_string()));
            self.tools.extend(extra);
            self.by_name = self
                .tools
                .iter()
                .enumerate()
                .map(|(i, t)| (t.spec().name, i))
                .collect();
        }
        self.changes = Arc::new(control);
        self
    }

    /// The confirmation settings.
    pub fn changes(&self) -> &Arc<crate::change::ChangeControl> {
        &self.changes
    }

    /// Check calls against `limits` (`MCP_RATE_LIMIT*`).
    #[must_use]
    pub fn with_rate_limits(mut self, limits: crate::limits::RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// The tools left after the operator filter.
    pub fn tools(&self) -> &[ToolDef<A>] {
        &self.tools
    }

    /// The application state.
    pub fn app(&self) -> &Arc<A> {
        &self.app
    }

    /// The longest one tool call may take (`MCP_REQUEST_TIMEOUT`).
    pub(crate) fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Whether `principal` may use a tool requiring `scope` on this server.
    pub fn allows(&self, principal: &Principal, scope: &str) -> bool {
        principal.allows_on(scope, &self.declared_scopes)
    }
}

/// The scope namespace of a server: the part before `:` of its tools' scopes (`ngfw`,
/// `aws`, `proxmox`), taken from the first tool.
pub fn namespace_of<A: App>() -> String {
    A::tools()
        .first()
        .and_then(|t| t.spec().scope.split_once(':').map(|(ns, _)| ns.to_string()))
        .unwrap_or_else(|| A::meta().name.to_string())
}

/// The change tools of `A` (for `<server> tools` and docs): what `MCP_APPROVALS=required`
/// adds.
pub fn change_tools<A: App>() -> Vec<ToolDef<A>> {
    crate::change::tools::tools::<A>(&namespace_of::<A>())
}

/// Counts open sessions per transport and per subject, for the gauge and the session caps.
#[derive(Debug, Clone, Default)]
pub struct SessionCounter {
    open: Arc<AtomicUsize>,
    by_subject: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

/// Decrements the session counts when dropped.
#[derive(Debug)]
pub struct SessionGuard {
    open: Arc<AtomicUsize>,
    by_subject: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    subject: Option<String>,
    transport: &'static str,
}

tokio::task_local! {
    /// The subject opening a stateful Streamable HTTP session: rmcp builds the session's
    /// handler inside the request, without the request at hand, so the transport sets this
    /// around it.
    pub(crate) static OPENING_SUBJECT: String;
}

impl SessionCounter {
    /// Count a session of `transport`, opened by `subject` (none over stdio).
    pub fn open(&self, transport: &'static str, subject: Option<String>) -> SessionGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        if let Some(s) = &subject {
            // A poisoned table only loses the per-subject count, never the session.
            if let Ok(mut m) = self.by_subject.lock() {
                *m.entry(s.clone()).or_insert(0) += 1;
            }
        }
        metrics::gauge!("mcp_active_sessions", "transport" => transport).increment(1.0);
        SessionGuard {
            open: self.open.clone(),
            by_subject: self.by_subject.clone(),
            subject,
            transport,
        }
    }

    pub fn count(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Open sessions of `subject` on every transport. A poisoned table counts as full, so
    /// the per-subject cap fails closed.
    pub fn count_for(&self, subject: &str) -> usize {
        match self.by_subject.lock() {
            Ok(m) => m.get(subject).copied().unwrap_or(0),
            Err(_) => usize::MAX,
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(s) = &self.subject
            && let Ok(mut m) = self.by_subject.lock()
            && let Some(n) = m.get_mut(s)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(s);
            }
        }
        metrics::gauge!("mcp_active_sessions", "transport" => self.transport).decrement(1.0);
    }
}

/// One handler instance: per session (stateful HTTP, SSE, stdio) or per request (stateless).
pub struct McpServer<A: App> {
    shared: Arc<Shared<A>>,
    _session: Option<SessionGuard>,
}

impl<A: App> std::fmt::Debug for McpServer<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer").finish_non_exhaustive()
    }
}

impl<A: App> McpServer<A> {
    /// A handler that counts as an open session of `transport` while it lives, for
    /// `subject` (given, or set by the Streamable HTTP transport around the request that
    /// opens the session; none over stdio).
    pub fn session(
        shared: Arc<Shared<A>>,
        transport: &'static str,
        subject: Option<String>,
    ) -> Self {
        let subject = subject.or_else(|| OPENING_SUBJECT.try_with(Clone::clone).ok());
        let guard = shared.sessions.open(transport, subject);
        Self {
            shared,
            _session: Some(guard),
        }
    }

    /// A handler for one stateless request.
    pub fn stateless(shared: Arc<Shared<A>>) -> Self {
        Self {
            shared,
            _session: None,
        }
    }
}

/// Who is calling, from the HTTP request parts the transport attached. No parts means stdio.
/// Parts without a principal means a wiring bug: refuse everything.
fn principal_of(ctx: &RequestContext<RoleServer>) -> Arc<Principal> {
    match ctx.extensions.get::<http::request::Parts>() {
        None => Arc::new(Principal::local()),
        Some(parts) => parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .unwrap_or_else(|| {
                Arc::new(Principal {
                    subject: "unauthenticated".into(),
                    scopes: crate::policy::ScopeSet::granted([]),
                })
            }),
    }
}

fn request_id_of(ctx: &RequestContext<RoleServer>) -> Arc<str> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<RequestId>())
        .map(|r| r.0.clone())
        .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()))
}

/// What the output guard did to a call.
#[cfg(feature = "airs")]
type GuardAudit = crate::guard::GuardOutcome;
/// Without the guard there is nothing to record.
#[cfg(not(feature = "airs"))]
#[derive(Debug, Default)]
struct GuardAudit {
    verdict: String,
    report_id: String,
}

impl<A: App> McpServer<A> {
    /// `MCP_GUARD_INPUT`: scan a write tool's (redacted) arguments before it runs.
    async fn guard_input(
        &self,
        spec: &crate::tool::ToolSpec,
        args: &serde_json::Value,
        subject: &str,
    ) -> Option<(ToolError, GuardAudit)> {
        #[cfg(feature = "airs")]
        if let Some(g) = &self.shared.guard
            && g.input
            && !spec.effect.is_read_only()
        {
            return g.check_input(args, subject, spec.name).await.err();
        }
        let _ = (spec, args, subject);
        None
    }

    /// `MCP_GUARD`: scan a successful result before it is returned.
    async fn guard_output(
        &self,
        r: Result<CallToolResult, ToolError>,
        spec: &crate::tool::ToolSpec,
        args: &serde_json::Value,
        subject: &str,
        outcome: &mut GuardAudit,
    ) -> Result<CallToolResult, ToolError> {
        #[cfg(feature = "airs")]
        if let Some(g) = &self.shared.guard
            && let Ok(mut res) = r
        {
            if res.is_error == Some(true) {
                return Ok(res);
            }
            return match g
                .check_output(
                    &mut res,
                    args,
                    subject,
                    spec.name,
                    !spec.effect.is_read_only(),
                )
                .await
            {
                Ok(o) => {
                    *outcome = o;
                    Ok(res)
                }
                Err((e, o)) => {
                    *outcome = o;
                    Err(e)
                }
            };
        }
        let _ = (spec, args, subject, &outcome);
        r
    }
}

/// The tool an `apply_change` dispatched and its gate, for the audit event.
type RanGate = std::sync::Mutex<Option<(&'static str, Arc<crate::change::GateCtx>)>>;

/// Run the tool an approved change names, as its writer, under the approval (the gate then
/// checks the digest and uses the approval up).
async fn dispatch_approved<A: App>(
    shared: &Arc<Shared<A>>,
    ctx: CallCtx,
    change: crate::change::PendingChange,
    ran: &RanGate,
) -> Result<rmcp::model::CallToolResult, ToolError> {
    let Some(tool) = shared
        .by_name
        .get(change.tool.as_str())
        .map(|i| &shared.tools[*i])
        .filter(|t| t.spec().name != "apply_change")
    else {
        return Err(ToolError::Conflict(format!(
            "change {} is for tool `{}`, which this server no longer offers",
            change.id,
            truncate(&change.tool, 64)
        )));
    };
    if !shared.allows(&ctx.principal, tool.spec().scope) {
        return Err(ToolError::denied(format!(
            "applying change {} needs scope `{}`",
            change.id,
            tool.spec().scope
        )));
    }
    let mut gate = crate::change::GateCtx::new(
        shared.changes.clone(),
        tool.spec().name,
        change.arguments.clone(),
        true,
    );
    let args = change.arguments.clone();
    gate.approved = Some(change);
    let gate = Arc::new(gate);
    if let Ok(mut r) = ran.lock() {
        *r = Some((tool.spec().name, gate.clone()));
    }
    let ctx = CallCtx { gate, ..ctx };
    tool.call(shared.app.clone(), ctx, args).await
}

/// A resource handler's error as the JSON-RPC error the client gets (the same cleaned text a
/// tool error carries).
fn resource_error(e: ToolError) -> ErrorData {
    match e {
        ToolError::InvalidInput { .. } => ErrorData::invalid_params(e.to_string(), None),
        ToolError::NotFound(_) => ErrorData::resource_not_found(e.to_string(), None),
        ToolError::Internal(_) => {
            tracing::error!(error = %error_chain(&e), "resource read failed");
            ErrorData::internal_error("internal error", None)
        }
        other => ErrorData::internal_error(other.to_string(), None),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The error for a request rmcp could not match to a method it knows. rmcp hands a known
/// method whose `params` have the wrong shape (a `tools/call` without `name`, with a numeric
/// `name` or with `arguments` that are not an object) to the custom-request hook, whose
/// default answer is "method not found"; that hides what is wrong. Known methods get
/// -32602 naming the parameter; anything else stays -32601.
pub(crate) fn custom_request_error(method: &str, params: Option<&serde_json::Value>) -> ErrorData {
    use serde_json::Value;
    const KNOWN: &[&str] = &["initialize", "ping", "tools/list", "tools/call"];
    if !KNOWN.contains(&method) {
        return ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {}", truncate(method, 64)),
            None,
        );
    }
    let problem = match (method, params) {
        (_, Some(p)) if !p.is_object() => "`params` must be an object".to_string(),
        ("tools/call", None) => "`params` is required, with `name` and `arguments`".to_string(),
        ("tools/call", Some(p)) => match (p.get("name"), p.get("arguments")) {
            (None | Some(Value::Null), _) => "`params.name` is required".to_string(),
            (Some(n), _) if !n.is_string() => "`params.name` must be a string".to_string(),
            (_, Some(a)) if !a.is_object() && !a.is_null() => {
                "`params.arguments` must be an object".to_string()
            }
            _ => "`params` do not match the tools/call request".to_string(),
        },
        _ => format!("`params` do not match the {method} request"),
    };
    ErrorData::invalid_params(format!("invalid params for {method}: {problem}"), None)
}

impl<A: App> ServerHandler for McpServer<A> {
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        Err(custom_request_error(
            &request.method,
            request.params.as_ref(),
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = principal_of(&ctx);
        let tools = self
            .shared
            .tools
            .iter()
            .filter(|t| self.shared.allows(&principal, t.spec().scope))
            .map(|t| t.tool().clone())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let principal = principal_of(&ctx);
        let request_id = request_id_of(&ctx);
        let name = request.name.to_string();
        let input_responses = request.input_responses;
        let request_state = request.request_state;
        let args = request.arguments.unwrap_or_default();

        let tool = self
            .shared
            .by_name
            .get(name.as_str())
            .map(|i| &self.shared.tools[*i]);
        let Some(tool) = tool.filter(|t| self.shared.allows(&principal, t.spec().scope)) else {
            // Same answer whether the tool is missing, filtered out, or outside the caller's
            // scopes: the refusal must not reveal what exists.
            tracing::warn!(
                target: "audit",
                request_id = %request_id,
                subject = %principal.subject,
                tool = %truncate(&name, 64),
                outcome = if tool.is_some() { "denied_scope" } else { "unknown_tool" },
                scopes = %principal.scopes,
                "tool call refused"
            );
            metrics::counter!("mcp_tool_calls_total", "tool" => "_refused", "outcome" => "refused")
                .increment(1);
            return Err(ErrorData::invalid_params(
                format!("tool `{}` not found", truncate(&name, 64)),
                None,
            ));
        };
        let spec = *tool.spec();
        let redacted_args = tool.audit_arguments(&args);
        // The gate of the call that ran: this tool's, or under `apply_change` the gate of the
        // tool the approved change names.
        let dispatched: Arc<RanGate> = Arc::default();
        let mut own_gate: Option<Arc<crate::change::GateCtx>> = None;
        // What the output guard did (`MCP_GUARD`), for the audit event.
        let mut guard_outcome = GuardAudit::default();

        let limited = self
            .shared
            .rate_limits
            .admit(&principal.subject, spec.name, !spec.effect.is_read_only())
            .await;
        let (result, upstream_calls) = if self.shared.readiness.is_draining() {
            (
                Err(ToolError::Unavailable {
                    upstream: "this server".into(),
                    message: "it is shutting down".into(),
                    retry_after: Some(Duration::from_secs(1)),
                }),
                0,
            )
        } else if let Err(crate::limits::Refusal::Wait(wait)) = limited {
            metrics::counter!("mcp_rate_limited_total", "tool" => spec.name).increment(1);
            (
                Err(ToolError::RateLimited {
                    upstream: "this server".into(),
                    retry_after: Some(Duration::from_secs(wait.as_secs_f64().ceil() as u64)),
                }),
                0,
            )
        } else if let Err(crate::limits::Refusal::StoreDown(e)) = limited {
            (
                Err(ToolError::Unavailable {
                    upstream: "the shared state store".into(),
                    message: format!(
                        "{e}; the write's rate budget cannot be checked, so nothing was changed"
                    ),
                    retry_after: Some(Duration::from_secs(5)),
                }),
                0,
            )
        } else if let Some((e, o)) = self
            .guard_input(&spec, &redacted_args, &principal.subject)
            .await
        {
            guard_outcome = o;
            (Err(e), 0)
        } else {
            let _inflight = self.shared.readiness.inflight();
            metrics::gauge!("mcp_inflight_tool_calls").increment(1.0);
            let cancel = ctx.ct.clone();
            let needs_confirm = tool.confirm_policy().is_some_and(|c| c.needed(&args));
            let mut gate = crate::change::GateCtx::new(
                self.shared.changes.clone(),
                spec.name,
                args.clone(),
                needs_confirm,
            );
            gate.input_responses = input_responses;
            gate.request_state = request_state;
            let gate = Arc::new(gate);
            let call_ctx = CallCtx {
                principal: principal.clone(),
                request_id: request_id.clone(),
                rmcp: ctx,
                read_only: self.shared.read_only,
                gate: gate.clone(),
            };
            own_gate = Some(gate);
            let shared = self.shared.clone();
            let first = tool.call(self.shared.app.clone(), call_ctx.clone(), args);
            let dispatched_gate = dispatched.clone();
            let fut = async move {
                match first.await {
                    Err(ToolError::Dispatch(change)) => {
                        dispatch_approved(&shared, call_ctx, *change, &dispatched_gate).await
                    }
                    other => other,
                }
            };
            let timeout = self.shared.call_timeout;
            let (r, n) = crate::upstream::count_upstream_calls(async move {
                tokio::select! {
                    r = tokio::time::timeout(timeout, fut) => r.unwrap_or_else(|_| Err(ToolError::Unavailable {
                        upstream: "this server".into(),
                        message: format!("the call did not finish within the {} limit (MCP_REQUEST_TIMEOUT)", humantime::format_duration(timeout)),
                        retry_after: None,
                    })),
                    _ = cancel.cancelled() => Err(ToolError::Unavailable {
                        upstream: "this server".into(),
                        message: "the client cancelled the call".into(),
                        retry_after: None,
                    }),
                }
            })
            .await;
            metrics::gauge!("mcp_inflight_tool_calls").decrement(1.0);
            let r = self
                .guard_output(
                    r,
                    &spec,
                    &redacted_args,
                    &principal.subject,
                    &mut guard_outcome,
                )
                .await;
            (r, n)
        };

        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(r) if r.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        let (applied_tool, gate_ran) = match dispatched.lock().ok().and_then(|d| d.clone()) {
            Some((t, g)) => (t, Some(g)),
            None => ("", own_gate),
        };
        let gate_audit = gate_ran.and_then(|g| g.audit()).unwrap_or_default();
        metrics::counter!("mcp_tool_calls_total", "tool" => spec.name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("mcp_tool_call_duration_seconds", "tool" => spec.name)
            .record(elapsed.as_secs_f64());
        let error_text = result
            .as_ref()
            .err()
            .map(|e| crate::redact::redact_text(&e.to_string()));
        tracing::info!(
            target: "audit",
            request_id = %request_id,
            subject = %principal.subject,
            tool = spec.name,
            scope = spec.scope,
            arguments = %redacted_args,
            outcome,
            error = error_text.as_deref().unwrap_or(""),
            duration_ms = elapsed.as_millis() as u64,
            upstream_calls,
            digest = %gate_audit.digest,
            confirmation = %gate_audit.confirmation,
            approver = gate_audit.approver.as_deref().unwrap_or(""),
            change_id = gate_audit.change_id.as_deref().unwrap_or(""),
            applied_tool,
            guard = %guard_outcome.verdict,
            guard_report = %guard_outcome.report_id,
            "tool call"
        );

        match result {
            Ok(r) => Ok(CallToolResponse::Complete(r)),
            Err(ToolError::InputRequired(r)) => Ok(CallToolResponse::InputRequired(*r)),
            Err(ToolError::Internal(e)) => {
                let reference = uuid::Uuid::new_v4();
                tracing::error!(request_id = %request_id, tool = spec.name, reference = %reference, error = %error_chain(&*e), "tool failed with an internal error");
                Err(ErrorData::internal_error(
                    format!("internal error (reference {reference})"),
                    None,
                ))
            }
            Err(e) => {
                let text = crate::redact::redact_text(&e.to_string());
                Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                    ContentBlock::text(text),
                ])))
            }
        }
    }

    async fn list_resources(
        &self,
        r: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        if self.shared.resources.is_empty() {
            return self.shared.app.list_resources(ctx).await;
        }
        let principal = principal_of(&ctx);
        let mut all = Vec::new();
        for d in self
            .shared
            .resources
            .iter()
            .filter(|d| self.shared.allows(&principal, d.spec().scope))
        {
            let s = d.spec();
            if !d.is_template() {
                all.push(
                    serde_json::json!({"uri": s.uri, "name": s.name, "title": s.title,
                    "description": s.description, "mimeType": "application/json"}),
                );
            } else if let Some(list) = d.list_fn() {
                let items = list(self.shared.app.clone())
                    .await
                    .map_err(resource_error)?;
                for i in items {
                    all.push(
                        serde_json::json!({"uri": i.uri, "name": i.name, "title": s.title,
                        "description": i.description.as_deref().unwrap_or(s.description),
                        "mimeType": "application/json"}),
                    );
                }
            }
        }
        // `cursor` is the offset of the next page, as the previous answer gave it.
        let offset = match r.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .map_err(|_| ErrorData::invalid_params("unknown cursor", None))?,
        };
        const PAGE: usize = 100;
        if offset > all.len() {
            return Err(ErrorData::invalid_params("unknown cursor", None));
        }
        let end = offset.saturating_add(PAGE).min(all.len());
        let page: Vec<_> = all.get(offset..end).map(<[_]>::to_vec).unwrap_or_default();
        let mut out = serde_json::json!({"resources": page});
        if end < all.len() {
            out["nextCursor"] = serde_json::Value::String(end.to_string());
        }
        serde_json::from_value(out).map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn list_resource_templates(
        &self,
        _r: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        if self.shared.resources.is_empty() {
            return self.shared.app.list_resource_templates(ctx).await;
        }
        let principal = principal_of(&ctx);
        let templates: Vec<_> = self
            .shared
            .resources
            .iter()
            .filter(|d| d.is_template() && self.shared.allows(&principal, d.spec().scope))
            .map(|d| {
                let s = d.spec();
                serde_json::json!({"uriTemplate": s.uri, "name": s.name, "title": s.title,
                    "description": s.description, "mimeType": "application/json"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({"resourceTemplates": templates}))
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if self.shared.resources.is_empty() {
            return self
                .shared
                .app
                .read_resource(req, ctx)
                .await
                .map(Into::into);
        }
        let principal = principal_of(&ctx);
        let uri = req.uri.to_string();
        // Outside the caller's scopes reads exactly like a URI that does not exist.
        let found = self
            .shared
            .resources
            .iter()
            .filter(|d| self.shared.allows(&principal, d.spec().scope))
            .find_map(|d| d.matches(&uri).map(|vars| (d, vars)));
        let Some((def, vars)) = found else {
            tracing::info!(target: "audit", subject = %principal.subject, uri = %truncate(&uri, 128), outcome = "not_found", "resource read");
            return Err(ErrorData::resource_not_found(
                format!("no resource {}", truncate(&uri, 128)),
                None,
            ));
        };
        let started = Instant::now();
        let r = (def.read_fn())(self.shared.app.clone(), vars).await;
        tracing::info!(
            target: "audit",
            subject = %principal.subject,
            resource = def.spec().name,
            uri = %truncate(&uri, 128),
            outcome = if r.is_ok() { "ok" } else { "error" },
            duration_ms = started.elapsed().as_millis() as u64,
            "resource read"
        );
        let value = r.map_err(resource_error)?;
        let text = serde_json::to_string(&value)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let result: rmcp::model::ReadResourceResult = serde_json::from_value(serde_json::json!({
            "contents": [{"uri": uri, "mimeType": "application/json", "text": text}]
        }))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(result.into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        req: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared.app.subscribe(req, ctx).await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        _req: rmcp::model::UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _r: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        if self.shared.prompts.is_empty() {
            return self.shared.app.list_prompts(ctx).await;
        }
        let principal = principal_of(&ctx);
        let prompts: Vec<_> = self
            .shared
            .prompts
            .iter()
            .filter(|p| self.shared.allows(&principal, p.scope))
            .map(crate::prompt::PromptDef::describe)
            .collect();
        serde_json::from_value(serde_json::json!({"prompts": prompts}))
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn get_prompt(
        &self,
        req: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if self.shared.prompts.is_empty() {
            return self.shared.app.get_prompt(req, ctx).await.map(Into::into);
        }
        let principal = principal_of(&ctx);
        let Some(prompt) = self
            .shared
            .prompts
            .iter()
            .find(|p| p.name == req.name && self.shared.allows(&principal, p.scope))
        else {
            return Err(ErrorData::invalid_params(
                format!("no prompt {}", truncate(&req.name, 64)),
                None,
            ));
        };
        let mut args = std::collections::BTreeMap::new();
        for (k, v) in req.arguments.unwrap_or_default() {
            match v {
                serde_json::Value::String(s) => {
                    args.insert(k, s);
                }
                _ => {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "invalid argument `{}`: must be a string",
                            crate::validate::excerpt(&k, 64)
                        ),
                        None,
                    ));
                }
            }
        }
        let text = prompt
            .render(&args)
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let result: rmcp::model::GetPromptResult = serde_json::from_value(serde_json::json!({
            "description": prompt.description,
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        }))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(result.into())
    }

    async fn set_level(
        &self,
        req: SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared.app.set_level(req, ctx).await
    }

    async fn complete(
        &self,
        req: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.shared.app.complete(req, ctx).await
    }
}
