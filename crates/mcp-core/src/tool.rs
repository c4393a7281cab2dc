//! One declaration per tool: name, description, schemas, annotations, scope, toolset, handler.
//!
//! Listing, scope filtering, read-only mode, `<server> tools`, generated docs and schema
//! snapshots all derive from the [`ToolDef`]s a server returns from [`crate::App::tools`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ToolError;
use crate::policy::Principal;

/// Static facts about a tool. Written once, next to its handler.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    /// Contract name, snake_case `verb_noun`, at most 64 characters.
    pub name: &'static str,
    /// Short human title.
    pub title: &'static str,
    /// What the tool does, written for a model.
    pub description: &'static str,
    /// The one scope a caller needs, e.g. `aws:write`.
    pub scope: &'static str,
    /// The toolset this tool belongs to (for `--toolsets`).
    pub toolset: &'static str,
    /// Effect on the world; drives the annotations and `--read-only`.
    pub effect: Effect,
    /// Whether the tool talks to systems outside this server (almost always true).
    pub open_world: bool,
}

/// What a tool does to the world it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    ReadOnly,
    /// Adds or changes state; repeating the same call changes nothing more.
    IdempotentWrite,
    /// Adds state; repeating the call adds more.
    AdditiveWrite,
    /// Removes or overwrites state, or acts with consequences (power off, run a command).
    Destructive { idempotent: bool },
    /// Reads or writes depending on its arguments (a generic API passthrough). Listed in
    /// read-only mode, where the handler must refuse the writing forms (`CallCtx::read_only`)
    /// and must check a write scope itself.
    Mixed,
}

impl Effect {
    /// Whether the tool is read-only.
    pub fn is_read_only(self) -> bool {
        matches!(self, Self::ReadOnly)
    }

    fn annotations(self, title: &str, open_world: bool) -> ToolAnnotations {
        let a = ToolAnnotations::with_title(title).read_only(self.is_read_only());
        let a = match self {
            Self::ReadOnly => a,
            Self::IdempotentWrite => a.destructive(false).idempotent(true),
            Self::AdditiveWrite => a.destructive(false).idempotent(false),
            Self::Destructive { idempotent } => a.destructive(true).idempotent(idempotent),
            Self::Mixed => a.destructive(true).idempotent(false),
        };
        a.open_world(open_world)
    }
}

/// Everything a handler can know about the call it serves.
#[derive(Debug, Clone)]
pub struct CallCtx {
    /// Who is calling (token subject and scopes; `local` on stdio).
    pub principal: Arc<Principal>,
    /// The HTTP request id (`X-Request-Id`), or a generated one.
    pub request_id: Arc<str>,
    /// The rmcp request context: peer (sampling, elicitation, logging), progress token,
    /// cancellation.
    pub rmcp: RequestContext<RoleServer>,
    /// The server runs with `--read-only`: `Effect::Mixed` tools must refuse writes.
    pub read_only: bool,
    /// The confirmation and approval gate of this call ([`CallCtx::gate`]).
    pub gate: Arc<crate::change::GateCtx>,
}

/// A boxed tool-call future.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<CallToolResult, ToolError>> + Send>>;
type Handler<S> = Arc<dyn Fn(Arc<S>, CallCtx, JsonObject) -> ToolFuture + Send + Sync>;

/// A tool: its declaration plus its handler over server state `S`.
pub struct ToolDef<S> {
    spec: ToolSpec,
    tool: Tool,
    secret_args: Vec<String>,
    audit_view: Option<AuditView>,
    confirm: Option<crate::change::Confirm>,
    handler: Handler<S>,
}

/// What a tool's audit event records of its arguments, when not the arguments themselves
/// (secret-looking keys are still redacted afterwards).
pub type AuditView = fn(&JsonObject) -> Value;

impl<S> std::fmt::Debug for ToolDef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync + 'static> ToolDef<S> {
    /// A tool with typed input `I` and structured output `O`.
    ///
    /// The input schema comes from `I`, the output schema from `O`. Arguments that do not
    /// deserialise become a tool error that names the offending field.
    pub fn new<I, O, F, Fut>(spec: ToolSpec, f: F) -> Self
    where
        I: DeserializeOwned + JsonSchema + 'static,
        O: Serialize + JsonSchema + 'static,
        F: Fn(Arc<S>, CallCtx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    {
        let input_schema = schema_of::<I>(SchemaUse::Input);
        let output_schema = schema_of::<O>(SchemaUse::Output);
        let f = Arc::new(f);
        let handler: Handler<S> = Arc::new(move |state, ctx, args| {
            let f = f.clone();
            Box::pin(async move {
                let input: I = parse_args(args)?;
                let out = f(state, ctx, input).await?;
                structured_result(&out)
            })
        });
        Self::assemble(spec, input_schema, Some(output_schema), handler)
    }

    /// A tool whose handler builds the whole [`CallToolResult`] itself (images, resources,
    /// several content blocks). Input is still typed.
    pub fn raw<I, F, Fut>(spec: ToolSpec, f: F) -> Self
    where
        I: DeserializeOwned + JsonSchema + 'static,
        F: Fn(Arc<S>, CallCtx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, ToolError>> + Send + 'static,
    {
        let input_schema = schema_of::<I>(SchemaUse::Input);
        let f = Arc::new(f);
        let handler: Handler<S> = Arc::new(move |state, ctx, args| {
            let f = f.clone();
            Box::pin(async move {
                let input: I = parse_args(args)?;
                f(state, ctx, input).await
            })
        });
        Self::assemble(spec, input_schema, None, handler)
    }

    /// A tool with a hand-written input schema (for schemas no Rust type expresses).
    pub fn with_schema<F, Fut>(spec: ToolSpec, input_schema: JsonObject, f: F) -> Self
    where
        F: Fn(Arc<S>, CallCtx, JsonObject) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, ToolError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let handler: Handler<S> = Arc::new(move |state, ctx, args| {
            let f = f.clone();
            Box::pin(async move { f(state, ctx, args).await })
        });
        Self::assemble(spec, Arc::new(portable_schema(input_schema)), None, handler)
    }

    fn assemble(
        spec: ToolSpec,
        input_schema: Arc<JsonObject>,
        output_schema: Option<Arc<JsonObject>>,
        handler: Handler<S>,
    ) -> Self {
        // MCP requires an object output schema; a free-form output (serde_json::Value)
        // gets none rather than one that clients reject.
        let output_schema =
            output_schema.filter(|o| o.get("type").and_then(Value::as_str) == Some("object"));
        let secret_args = crate::redact::secret_properties(&input_schema);
        let mut tool = Tool::new(spec.name, spec.description, input_schema)
            .with_title(spec.title)
            .with_annotations(spec.effect.annotations(spec.title, spec.open_world));
        if let Some(o) = output_schema {
            tool = tool.with_raw_output_schema(o);
        }
        Self {
            spec,
            tool,
            secret_args,
            audit_view: None,
            confirm: None,
            handler,
        }
    }

    /// Record `view(arguments)` in the audit event instead of the arguments: for a
    /// passthrough whose free-form parameters may hold anything, keep only their names.
    #[must_use]
    pub fn with_audit_view(mut self, view: AuditView) -> Self {
        self.audit_view = Some(view);
        self
    }

    /// When this tool asks a human before it acts (see [`crate::change`]). Every tool that
    /// can write declares one; the inventory rules check that.
    #[must_use]
    pub fn confirm(mut self, policy: crate::change::Confirm) -> Self {
        self.confirm = Some(policy);
        self
    }

    /// Run the handler.
    pub(crate) fn call(&self, state: Arc<S>, ctx: CallCtx, args: JsonObject) -> ToolFuture {
        (self.handler)(state, ctx, args)
    }
}

impl<S> ToolDef<S> {
    /// The static declaration.
    pub fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// The MCP tool as listed to clients.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }

    /// The declared confirmation policy (`None` only for read-only tools).
    pub fn confirm_policy(&self) -> Option<crate::change::Confirm> {
        self.confirm
    }

    /// Argument names the schema marks secret.
    pub fn secret_args(&self) -> &[String] {
        &self.secret_args
    }

    /// The arguments as the audit event records them: the tool's audit view when it has
    /// one, then with secrets redacted.
    pub fn audit_arguments(&self, args: &JsonObject) -> Value {
        let view = match self.audit_view {
            Some(f) => f(args),
            None => Value::Object(args.clone()),
        };
        crate::redact::redact_value(&view, &self.secret_args)
    }

    /// A JSON description for `<server> tools --json`, docs and snapshots, with object keys
    /// sorted so it does not depend on whether serde_json preserves insertion order (a
    /// feature another crate in the build may switch on).
    pub fn describe(&self) -> Value {
        sorted(serde_json::json!({
            "name": self.spec.name,
            "title": self.spec.title,
            "description": self.spec.description,
            "scope": self.spec.scope,
            "toolset": self.spec.toolset,
            "confirm": self.confirm.map(|c| c.doc()),
            "annotations": self.tool.annotations,
            "inputSchema": self.tool.input_schema,
            "outputSchema": self.tool.output_schema,
        }))
    }
}

/// What a generated schema describes: what a type accepts, or what it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SchemaUse {
    Input,
    Output,
}

/// The portable JSON Schema (2020-12) of `T`, generated once per type and shared by every
/// tool that uses it.
///
/// Same settings as rmcp's `schema_for_type` / `schema_for_output` (inputs: the deserialise
/// contract; outputs: the serialise contract, without the top-level `title` and
/// `description`), but one copy: rmcp's helpers keep their own per-thread caches and
/// `schema_for_output` clones its schema, so a server held each schema two or three times
/// for its whole life (about 2 MiB of paloalto-ngfw's idle heap).
fn schema_of<T: JsonSchema + 'static>(kind: SchemaUse) -> Arc<JsonObject> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, PoisonError};
    type Schemas = HashMap<(TypeId, SchemaUse), Arc<JsonObject>>;
    static SCHEMAS: LazyLock<Mutex<Schemas>> = LazyLock::new(Default::default);
    let key = (TypeId::of::<T>(), kind);
    if let Some(s) = SCHEMAS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return s.clone();
    }
    let settings = match kind {
        SchemaUse::Input => schemars::generate::SchemaSettings::draft2020_12(),
        SchemaUse::Output => schemars::generate::SchemaSettings::draft2020_12().for_serialize(),
    };
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(m) => m,
        // A root schema is `true` or `false` only for no Rust type we use; as objects those
        // are `{}` and `{"not": {}}`.
        Value::Bool(false) => {
            JsonObject::from_iter([("not".into(), Value::Object(JsonObject::new()))])
        }
        _ => JsonObject::new(),
    };
    if kind == SchemaUse::Output {
        object.remove("title");
        object.remove("description");
    }
    let schema = Arc::new(portable_schema(object));
    SCHEMAS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert(schema)
        .clone()
}

/// Remove schemars' Rust-specific `format` values (`uint16`, `int64`, `double`, ...), which
/// JSON Schema validators in clients do not know and warn about. Range limits stay, as
/// `minimum`/`maximum`.
fn portable_schema(schema: JsonObject) -> JsonObject {
    fn clean(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let rust_format = map.get("format").and_then(Value::as_str).is_some_and(|f| {
                    matches!(
                        f,
                        "uint"
                            | "uint8"
                            | "uint16"
                            | "uint32"
                            | "uint64"
                            | "uint128"
                            | "int"
                            | "int8"
                            | "int16"
                            | "int32"
                            | "int64"
                            | "int128"
                            | "float"
                            | "double"
                    )
                });
                if rust_format {
                    map.remove("format");
                }
                // `true` as a subschema (schemars' "any value") trips some clients' schema
                // models; `{}` means the same and is accepted everywhere.
                for key in ["properties", "$defs", "definitions", "patternProperties"] {
                    if let Some(Value::Object(m)) = map.get_mut(key) {
                        for v in m.values_mut() {
                            if *v == Value::Bool(true) {
                                *v = Value::Object(JsonObject::new());
                            }
                        }
                    }
                }
                if map.get("items") == Some(&Value::Bool(true)) {
                    map.insert("items".into(), Value::Object(JsonObject::new()));
                }
                map.values_mut().for_each(clean);
            }
            Value::Array(items) => items.iter_mut().for_each(clean),
            _ => {}
        }
    }
    let mut v = Value::Object(schema);
    clean(&mut v);
    match v {
        Value::Object(m) => m,
        // `clean` keeps an object an object.
        _ => JsonObject::new(),
    }
}

/// A copy of `v` with every object's keys in sorted order.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Deserialise tool arguments, naming the field that is wrong. Field names and serde's reason
/// quote the caller's input (`unknown variant `GET\r\nX``), so both are passed through
/// [`excerpt`](crate::validate::excerpt): escaped and bounded.
pub fn parse_args<I: DeserializeOwned>(args: JsonObject) -> Result<I, ToolError> {
    let value = Value::Object(args);
    serde_path_to_error::deserialize::<_, I>(value).map_err(|e| {
        let path = crate::validate::excerpt(&e.path().to_string(), 128);
        let field = if path == "." { String::new() } else { path };
        let reason = crate::validate::excerpt(&e.into_inner().to_string(), 1000);
        // serde reports a missing field at the parent path; name the field itself.
        if let Some(missing) = reason
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            let field = if field.is_empty() {
                missing.to_string()
            } else {
                format!("{field}.{missing}")
            };
            return ToolError::invalid(field, "is required");
        }
        if let Some(unknown) = reason
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            // The path already ends at the unknown field.
            let field = if field.is_empty() {
                unknown.to_string()
            } else {
                field
            };
            let expected = reason
                .split_once(", expected ")
                .map(|(_, e)| e)
                .unwrap_or("");
            let hint = if expected.is_empty() {
                String::new()
            } else {
                format!("; expected {expected}")
            };
            return ToolError::invalid(field, format!("is not a parameter of this tool{hint}"));
        }
        ToolError::invalid(
            if field.is_empty() {
                "arguments".to_string()
            } else {
                field
            },
            reason,
        )
    })
}

/// A successful result carrying `out` as `structuredContent` and as JSON text.
pub fn structured_result<O: Serialize>(out: &O) -> Result<CallToolResult, ToolError> {
    let value = serde_json::to_value(out).map_err(ToolError::internal)?;
    let text = serde_json::to_string(&value).map_err(ToolError::internal)?;
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(value);
    Ok(r)
}

/// Check an inventory against the rules every tool follows. One workspace test runs this over
/// every server's tools (`crates/workspace-tests`); a violation names the tool and the rule.
///
/// - the MCP tool-name rules: 1 to 128 characters of `[A-Za-z0-9_.-]`, unique;
/// - a title and a description;
/// - a `namespace:action` scope, and a `read` scope only for a tool that cannot write;
/// - an object input schema without a top-level `oneOf`/`anyOf`/`allOf` (some clients
///   reject those), and a description on every parameter;
/// - an object output schema: every tool returns `structuredContent`;
/// - annotations that say exactly what the declared effect and open-world flag say.
pub fn check_inventory<S>(tools: &[ToolDef<S>]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for t in tools {
        let s = t.spec();
        if !seen.insert(s.name) {
            return Err(format!("duplicate tool name {}", s.name));
        }
        if s.name.is_empty()
            || s.name.len() > 128
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(format!(
                "tool name {:?} breaks the MCP rules: 1-128 characters of A-Z a-z 0-9 _ . -",
                s.name
            ));
        }
        if s.description.trim().is_empty() || s.title.trim().is_empty() {
            return Err(format!("tool {} has no title or description", s.name));
        }
        match s.scope.split_once(':') {
            Some((ns, action)) if !ns.is_empty() && !action.is_empty() => {
                if action == "read" && !s.effect.is_read_only() && s.effect != Effect::Mixed {
                    return Err(format!(
                        "tool {} is {:?} but requires only scope {}: a read scope must never grant a write",
                        s.name, s.effect, s.scope
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "tool {} scope {:?} is not `namespace:action`",
                    s.name, s.scope
                ));
            }
        }
        let schema = &t.tool().input_schema;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!("tool {} input schema is not an object", s.name));
        }
        for bad in ["oneOf", "anyOf", "allOf"] {
            if schema.contains_key(bad) {
                return Err(format!(
                    "tool {} input schema has a top-level {bad}; some clients reject it",
                    s.name
                ));
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (name, prop) in props {
                let described = prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.trim().is_empty());
                if !described {
                    return Err(format!(
                        "tool {} parameter `{name}` has no description (a doc comment on the field)",
                        s.name
                    ));
                }
            }
        }
        match &t.tool().output_schema {
            Some(out) if out.get("type").and_then(Value::as_str) == Some("object") => {}
            _ => {
                return Err(format!(
                    "tool {} has no object output schema: return a typed struct, not a JSON value",
                    s.name
                ));
            }
        }
        if !s.effect.is_read_only() && t.confirm_policy().is_none() {
            return Err(format!(
                "tool {} can write but declares no confirmation policy: add .confirm(Confirm::Never | Always | When {{..}})",
                s.name
            ));
        }
        let want = s.effect.annotations(s.title, s.open_world);
        if t.tool().annotations.as_ref() != Some(&want) {
            return Err(format!(
                "tool {} annotations {:?} do not match its effect {:?} (want {want:?})",
                s.name,
                t.tool().annotations,
                s.effect
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct In {
        cidr: String,
        port: u16,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        name: String,
    }

    fn err(v: Value) -> ToolError {
        parse_args::<In>(v.as_object().cloned().unwrap_or_default()).expect_err("invalid")
    }

    #[test]
    fn argument_errors_name_the_field_once() {
        let e = err(json!({"port": 1}));
        assert_eq!(e.to_string(), "invalid argument `cidr`: is required");
        let e = err(json!({"cidr": "x", "port": 70000}));
        assert_eq!(e.field(), Some("port"));
        let e = err(json!({"cidr": "x", "port": 1, "extra": 1}));
        assert_eq!(e.field(), Some("extra"), "{e}");
        assert!(
            e.to_string().contains(
                "is not a parameter of this tool; expected one of `cidr`, `port`, `nested`"
            ),
            "{e}"
        );
        let e = err(json!({"cidr": "x", "port": 1, "nested": {"nme": "a"}}));
        assert_eq!(e.field(), Some("nested.nme"), "{e}");
        let e = err(json!({"cidr": "x", "port": 1, "nested": {}}));
        assert_eq!(e.field(), Some("nested.name"), "{e}");
        let e = err(json!({"cidr": 5, "port": 1}));
        assert_eq!(e.field(), Some("cidr"));
    }

    #[test]
    fn argument_errors_never_echo_raw_control_characters() {
        let e = err(json!({"cidr": "x", "port": 1, "a\r\nb": 1}));
        assert_eq!(e.field(), Some("a\\r\\nb"), "{e}");
        let e = err(json!({"cidr": "x", "port": "1\u{1b}[2J\u{202e}"}));
        let text = e.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("\\u{1b}[2J\\u{202e}"), "{text:?}");
        let mut long = json!({"cidr": "x", "port": 1});
        long["k".repeat(5000)] = json!(1);
        let e = err(long);
        assert!(e.to_string().chars().count() < 1300, "bounded: {e}");
    }

    #[derive(Debug, serde::Serialize, JsonSchema)]
    struct Out {
        /// Done.
        ok: bool,
    }

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Described {
        /// The address.
        cidr: String,
    }

    fn spec(name: &'static str, scope: &'static str, effect: Effect) -> ToolSpec {
        ToolSpec {
            name,
            title: "T",
            description: "D",
            scope,
            toolset: "t",
            effect,
            open_world: true,
        }
    }

    fn typed(s: ToolSpec) -> ToolDef<()> {
        ToolDef::new(s, |_: Arc<()>, _: CallCtx, _: Described| async {
            Ok(Out { ok: true })
        })
    }

    #[test]
    fn inventory_rules_catch_each_mistake() {
        let good = typed(spec("get_thing.v2-x", "ns:read", Effect::ReadOnly));
        check_inventory(&[good]).expect("follows the rules");
        let long: &'static str = Box::leak("a".repeat(129).into_boxed_str());
        for (tools, needle) in [
            (
                vec![typed(spec("", "ns:read", Effect::ReadOnly))],
                "MCP rules",
            ),
            (
                vec![typed(spec(long, "ns:read", Effect::ReadOnly))],
                "MCP rules",
            ),
            (
                vec![typed(spec("a b", "ns:read", Effect::ReadOnly))],
                "MCP rules",
            ),
            (
                vec![
                    typed(spec("a", "ns:read", Effect::ReadOnly)),
                    typed(spec("a", "ns:read", Effect::ReadOnly)),
                ],
                "duplicate",
            ),
            (
                vec![typed(spec("w", "ns:read", Effect::AdditiveWrite))],
                "read scope",
            ),
            (
                vec![typed(spec("w", "ns:write", Effect::AdditiveWrite))],
                "no confirmation policy",
            ),
            (
                vec![typed(spec("w", "nscope", Effect::ReadOnly))],
                "namespace:action",
            ),
            (
                vec![ToolDef::new(
                    spec("undescribed", "ns:read", Effect::ReadOnly),
                    |_: Arc<()>, _: CallCtx, _: In| async { Ok(Out { ok: true }) },
                )],
                "parameter `cidr` has no description",
            ),
            (
                vec![ToolDef::new(
                    spec("free_form", "ns:read", Effect::ReadOnly),
                    |_: Arc<()>, _: CallCtx, _: Described| async { Ok(json!({"any": 1})) },
                )],
                "no object output schema",
            ),
        ] {
            let e = check_inventory(&tools).expect_err(needle);
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn schemas_are_generated_once_and_shared_by_the_tools_that_use_them() {
        let a = typed(spec("a_tool", "s:read", Effect::ReadOnly));
        let b = typed(spec("b_tool", "s:read", Effect::ReadOnly));
        // One copy of each schema, shared (not one per tool, nor a cache beside it).
        assert!(Arc::ptr_eq(&a.tool.input_schema, &b.tool.input_schema));
        let (ao, bo) = (
            a.tool.output_schema.as_ref().expect("output schema"),
            b.tool.output_schema.as_ref().expect("output schema"),
        );
        assert!(Arc::ptr_eq(ao, bo));
        // rmcp's settings: 2020-12; the output schema without its top-level title and
        // description, the input schema with them.
        assert_eq!(
            a.tool.input_schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(a.tool.input_schema["title"], "Described");
        assert!(ao.get("title").is_none() && ao.get("description").is_none());
        assert_eq!(ao["properties"]["ok"]["description"], "Done.");
        assert_eq!(
            a.tool.input_schema["properties"]["cidr"]["description"],
            "The address."
        );
    }

    #[test]
    fn portable_schema_drops_rust_formats_only() {
        let s = json!({"type": "object", "properties": {
            "a": {"type": "integer", "format": "uint16", "minimum": 0},
            "b": {"type": "string", "format": "date-time"},
            "c": {"type": "array", "items": {"type": "number", "format": "double"}}}});
        let out = Value::Object(portable_schema(s.as_object().expect("object").clone()));
        assert_eq!(
            out["properties"]["a"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(out["properties"]["b"]["format"], "date-time");
        assert!(out["properties"]["c"]["items"].get("format").is_none());
    }
}
