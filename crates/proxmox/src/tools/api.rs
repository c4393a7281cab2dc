//! `proxmox_api`: a guarded passthrough to the REST API.
//!
//! GET needs `proxmox:read`; other methods need `proxmox:admin` and are refused in
//! read-only mode. The path obeys [`crate::policy::paths`]; writes that reach guests obey
//! the VMID lists and the protection flag ([`crate::policy::guests`]).

use std::sync::Arc;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Plan, PlannedChange, ToolDef, ToolError, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Proxmox;
use crate::client::model::GuestKind;
use crate::policy::guests::{self, Reach};
use crate::policy::{check_path, denied};

const PROXMOX_API: ToolSpec = ToolSpec {
    name: "proxmox_api",
    title: "Proxmox API",
    description: "Call the Proxmox VE REST API directly: GET any allowed path (e.g. /nodes/pve1/storage); POST, PUT and DELETE need the proxmox:admin scope and are refused in read-only mode. Paths under /access and console or guest-exec endpoints are denied.",
    scope: "proxmox:read",
    toolset: "api",
    effect: Effect::Mixed,
    open_world: true,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        crate::client::Method::from(self).as_str()
    }
}

impl From<Method> for crate::client::Method {
    fn from(m: Method) -> Self {
        match m {
            Method::Get => Self::Get,
            Method::Post => Self::Post,
            Method::Put => Self::Put,
            Method::Delete => Self::Delete,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiInput {
    /// `GET` (needs proxmox:read), or `POST`, `PUT`, `DELETE` (need proxmox:admin).
    pub method: Method,
    /// API path below /api2/json, e.g. `/nodes/pve1/storage`.
    pub path: String,
    /// Parameters: strings, numbers or booleans (query for GET and DELETE, form otherwise). Their values are kept out of the audit log.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub params: Map<String, Value>,
    /// For POST, PUT and DELETE: show the plan without asking or calling.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiOutput {
    /// The method called.
    pub method: String,
    /// The path called.
    pub path: String,
    /// The `data` of the answer (null when nothing was called: dry run or pending approval).
    // Free-form: whatever the path returns (the client's `RawResponse`), the one JSON value
    // a tool takes from the client as is.
    pub data: Value,
    /// For POST, PUT and DELETE: what was done (or would be, or waits for approval) and how
    /// it was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeReport>,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(PROXMOX_API, proxmox_api)
            .with_audit_view(audit_arguments)
            .confirm(Confirm::When {
                when: |args| {
                    args.get("method")
                        .and_then(Value::as_str)
                        .is_some_and(|m| !m.eq_ignore_ascii_case("GET"))
                },
                doc: "when `method` is POST, PUT or DELETE",
            }),
    ]
}

/// The VMID lists against every guest a write reaches; nothing is asked of Proxmox.
fn check_lists(s: &Proxmox, reach: &Reach, verb: &str, path: &str) -> Result<(), ToolError> {
    for g in &reach.named {
        if s.vmid_allow.as_ref().is_some_and(|a| !a.contains(g.vmid)) {
            return Err(ToolError::denied(format!(
                "VMID {} is not in PROXMOX_VMID_ALLOWLIST (named by {})",
                g.vmid, g.source
            )));
        }
        if s.vmid_deny.as_ref().is_some_and(|d| d.contains(g.vmid)) {
            return Err(ToolError::denied(format!(
                "VMID {} is in PROXMOX_VMID_DENYLIST (named by {})",
                g.vmid, g.source
            )));
        }
    }
    if let Some(every) = &reach.every {
        let lists: Vec<&str> = [
            s.vmid_allow.as_ref().map(|_| "PROXMOX_VMID_ALLOWLIST"),
            s.vmid_deny.as_ref().map(|_| "PROXMOX_VMID_DENYLIST"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !lists.is_empty() {
            return Err(ToolError::denied(format!(
                "{verb} {path} acts on every guest{} ({}) and names none, so it would reach guests that {} governs; name the guests instead (`vms` or `vmid`)",
                every
                    .node
                    .as_deref()
                    .map(|n| format!(" of node {n}"))
                    .unwrap_or_default(),
                every.source,
                lists.join(" and ")
            )));
        }
    }
    Ok(())
}

/// The protection flag of every guest a write reaches (a start or resume of the guest in
/// the path excepted, as in vm_action). Reads the guests' configs; a guest that does not
/// exist yet (a VMID being created) has no flag.
async fn check_protection(
    s: &Proxmox,
    reach: &Reach,
    segments: &[&str],
    verb: &str,
    path: &str,
) -> Result<(), ToolError> {
    if guests::starts_only(segments) && reach.named.len() == 1 && reach.every.is_none() {
        return Ok(());
    }
    // PROXMOX_PROTECTED_VMIDS binds a VMID wherever it is named, even one not in the cluster
    // (a restore or create over it); the tags need the cluster's view of the guests.
    for g in &reach.named {
        if s.protected
            .vmids
            .as_ref()
            .is_some_and(|v| v.contains(g.vmid))
        {
            return Err(ToolError::denied(format!(
                "VMID {} is in PROXMOX_PROTECTED_VMIDS; {verb} {path} would reach it ({}). Nothing was changed",
                g.vmid, g.source
            )));
        }
    }
    let need_cluster = reach.every.is_some()
        || reach.named.iter().any(|g| g.at.is_none())
        || (!s.protected.tags.is_empty() && !reach.named.is_empty());
    let cluster = if need_cluster {
        s.api.guests().await?
    } else {
        Vec::new()
    };
    let tags_of = |vmid: u32| {
        cluster
            .iter()
            .find(|g| g.vmid == vmid)
            .and_then(|g| g.other.get("tags").and_then(Value::as_str))
    };
    for g in &reach.named {
        if let Some(why) = s.protected.reason(g.vmid, tags_of(g.vmid)) {
            return Err(ToolError::denied(format!(
                "{why}; {verb} {path} would reach it ({}). Nothing was changed",
                g.source
            )));
        }
    }
    if let Some(every) = &reach.every {
        for g in &cluster {
            if every.node.as_deref().is_none_or(|n| n == g.node)
                && let Some(why) = s.protected.reason(g.vmid, tags_of(g.vmid))
            {
                return Err(ToolError::denied(format!(
                    "{why}; {verb} {path} acts on every guest{} ({}) and would reach it. Name the guests instead",
                    every
                        .node
                        .as_deref()
                        .map(|n| format!(" of node {n}"))
                        .unwrap_or_default(),
                    every.source
                )));
            }
        }
    }
    let located = |vmid: u32| {
        cluster
            .iter()
            .find(|g| g.vmid == vmid)
            .map(|g| (g.node.clone(), g.kind))
    };
    let mut targets: Vec<(u32, (String, GuestKind), String)> = Vec::new();
    for g in &reach.named {
        if let Some(at) = g.at.clone().or_else(|| located(g.vmid)) {
            targets.push((g.vmid, at, g.source.to_string()));
        }
    }
    if let Some(every) = &reach.every {
        for g in &cluster {
            if every.node.as_deref().is_none_or(|n| n == g.node) {
                targets.push((g.vmid, (g.node.clone(), g.kind), every.source.to_string()));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (vmid, (node, kind), source) in targets {
        if !seen.insert(vmid) {
            continue;
        }
        if super::vms::protected(s, &node, kind, vmid).await? {
            return Err(ToolError::denied(format!(
                "VM {vmid} has the protection flag set; {verb} {path} would reach it ({source}). Clear protection in Proxmox first if this is intended"
            )));
        }
    }
    Ok(())
}

/// The audit view of `proxmox_api`'s arguments: everything as given except the passthrough
/// `params`, which appear by name only (`param_names`), never with their values
/// (`cipassword`, `encryption-key`, `keyring`, ... are ordinary parameter names to PVE).
/// The tool's audit view (`ToolDef::with_audit_view`). The input schema also marks `params`
/// secret (`x-secret`), so any other path that logs the raw arguments redacts it whole.
pub fn audit_arguments(args: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in args {
        if k == "params" {
            match v {
                Value::Object(m) => {
                    let mut names: Vec<String> = m.keys().cloned().collect();
                    names.sort();
                    out.insert(
                        "param_names".into(),
                        Value::Array(names.into_iter().map(Value::String).collect()),
                    );
                }
                _ => {
                    out.insert(k.clone(), Value::String(mcp_core::redact::REDACTED.into()));
                }
            }
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn params(m: &Map<String, Value>) -> Result<Vec<(String, String)>, ToolError> {
    let mut out = Vec::new();
    for (k, v) in m {
        let field = format!("params.{k}");
        if k.is_empty()
            || k.len() > 64
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_[]".contains(c))
        {
            return Err(ToolError::invalid(field, "is not a parameter name"));
        }
        let s = match v {
            Value::String(s) => {
                mcp_core::validate::check_no_control(&field, s)?;
                s.clone()
            }
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => {
                if *b {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            _ => {
                return Err(ToolError::invalid(
                    field,
                    "must be a string, number or boolean",
                ));
            }
        };
        out.push((k.clone(), s));
    }
    Ok(out)
}

async fn proxmox_api(s: Arc<Proxmox>, ctx: CallCtx, i: ApiInput) -> Result<ApiOutput, ToolError> {
    let segments = check_path(&i.path)?;
    if let Some(pattern) = denied(&segments, &s.api_deny) {
        return Err(ToolError::denied(format!(
            "the path {} is denied by this server's policy ({pattern}; PROXMOX_API_DENY)",
            i.path
        )));
    }
    let p = params(&i.params)?;
    let verb = i.method.as_str();
    if i.method != Method::Get {
        if ctx.read_only {
            return Err(ToolError::denied(
                "the server runs in read-only mode: only GET is allowed",
            ));
        }
        if !ctx.principal.allows("proxmox:admin") {
            return Err(ToolError::denied(format!(
                "{verb} requires the proxmox:admin scope"
            )));
        }
        // Writes that reach guests obey the same VMID policy and protection flag as
        // vm_action, wherever the guest is named.
        let reach = guests::reach(&i.path, &segments, &p)?;
        check_lists(&s, &reach, verb, &i.path)?;
        check_protection(&s, &reach, &segments, verb, &i.path).await?;
        // The plan names the parameters and binds their values by a fingerprint: values may
        // be secrets, and must not be shown in the question or the answer.
        let names: Vec<&str> = i.params.keys().map(String::as_str).collect();
        let plan = Plan::new(
            PROXMOX_API.name,
            "the Proxmox VE API",
            format!("{verb} {}", i.path),
            vec![
                PlannedChange::new(verb, "api call", &i.path).after(serde_json::json!({
                    "param_names": names,
                    "params": mcp_core::change::fingerprint(&Value::Object(i.params.clone())),
                })),
            ],
        );
        let gate = ctx.gate(&plan, i.dry_run).await?;
        if !matches!(gate, Gate::Proceed(_)) {
            return Ok(ApiOutput {
                method: verb.to_string(),
                path: i.path,
                data: Value::Null,
                change: Some(ChangeReport::from_gate(plan, &gate)),
            });
        }
        tracing::info!(method = verb, path = %i.path, subject = %ctx.principal.subject, "proxmox_api write");
        let answer = s.api.raw(i.method.into(), &i.path, &p).await?;
        return Ok(ApiOutput {
            method: verb.to_string(),
            path: i.path,
            data: answer.data,
            change: Some(ChangeReport::from_gate(plan, &gate)),
        });
    }
    let answer = s.api.raw(i.method.into(), &i.path, &p).await?;
    Ok(ApiOutput {
        method: verb.to_string(),
        path: i.path,
        data: answer.data,
        change: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_view_names_params_without_values() {
        let args = serde_json::json!({"method": "POST", "path": "/nodes/pve1/qemu/100/config",
            "params": {"cipassword": "hunter2", "encryption-key": "k-value", "keyring": "ring-value", "ciuser": "u-value"}});
        let Value::Object(args) = args else {
            panic!("object")
        };
        let view = audit_arguments(&args);
        let text = view.to_string();
        for secret in ["hunter2", "k-value", "ring-value", "u-value"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(view["path"], "/nodes/pve1/qemu/100/config");
        assert_eq!(
            view["param_names"],
            serde_json::json!(["cipassword", "ciuser", "encryption-key", "keyring"])
        );
        let Value::Object(odd) = serde_json::json!({"params": "cipassword=x"}) else {
            panic!()
        };
        assert_eq!(audit_arguments(&odd)["params"], mcp_core::redact::REDACTED);
    }

    #[test]
    fn the_schema_keeps_params_out_of_the_audit_log() {
        let tool = &tools()[0];
        assert_eq!(tool.secret_args(), ["params".to_string()]);
    }
}
