//! `proxmox_api`: a guarded passthrough to the REST API.
//!
//! GET needs `proxmox:read`; other methods need `proxmox:admin` and are refused in
//! read-only mode. The path must be a normalised API path (no `..`, no query, no encoded
//! characters) and must not fall under the denied paths (`/access`, consoles, guest-agent
//! exec, ...), which `PROXMOX_API_DENY` can replace.

use std::sync::Arc;

use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Proxmox;
use crate::guests::{self, Reach};

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
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiOutput {
    pub method: String,
    pub path: String,
    /// The `data` of the answer.
    pub data: Value,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![ToolDef::new(PROXMOX_API, proxmox_api).with_audit_view(audit_arguments)]
}

/// Check an API path: normalised, no traversal, no query or fragment, no encoding.
pub fn check_path(path: &str) -> Result<Vec<&str>, ToolError> {
    let f = "path";
    if !path.starts_with('/') || path.len() > 512 {
        return Err(ToolError::invalid(
            f,
            "must start with `/` and be at most 512 characters, e.g. /nodes/pve1/storage",
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/-_.:@!=".contains(*c)))
    {
        let what = match c {
            '?' | '#' | '&' => "a query or fragment (pass parameters in `params`)".to_string(),
            '%' => "percent-encoding".to_string(),
            c if c.is_control() => format!("the control character U+{:04X}", c as u32),
            c => format!("`{c}`"),
        };
        return Err(ToolError::invalid(f, format!("contains {what}")));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(ToolError::invalid(
            f,
            "has an empty segment (`//` or a trailing `/`)",
        ));
    }
    if segments.iter().any(|s| *s == ".." || *s == ".") {
        return Err(ToolError::invalid(f, "contains `.` or `..` segments"));
    }
    Ok(segments)
}

/// Whether `segments` fall under a deny pattern (`*` matches one segment; a pattern matches
/// the path itself and everything below it).
pub fn denied<'a>(segments: &[&str], deny: &'a [String]) -> Option<&'a str> {
    deny.iter()
        .find(|pattern| {
            let p: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
            p.len() <= segments.len()
                && p.iter()
                    .zip(segments)
                    .all(|(pp, s)| *pp == "*" || pp.eq_ignore_ascii_case(s))
        })
        .map(String::as_str)
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
    let need_cluster = reach.every.is_some() || reach.named.iter().any(|g| g.at.is_none());
    let cluster = if need_cluster {
        super::vms::guests(s).await?
    } else {
        Vec::new()
    };
    let located = |vmid: u32| {
        cluster
            .iter()
            .find(|g| g["vmid"].as_u64() == Some(u64::from(vmid)))
            .map(|g| {
                (
                    g["node"].as_str().unwrap_or_default().to_string(),
                    g["type"].as_str().unwrap_or("qemu").to_string(),
                )
            })
    };
    let mut targets: Vec<(u32, (String, String), String)> = Vec::new();
    for g in &reach.named {
        if let Some(at) = g.at.clone().or_else(|| located(g.vmid)) {
            targets.push((g.vmid, at, g.source.to_string()));
        }
    }
    if let Some(every) = &reach.every {
        for g in &cluster {
            let node = g["node"].as_str().unwrap_or_default();
            if every.node.as_deref().is_none_or(|n| n == node)
                && let Some(vmid) = g["vmid"].as_u64().and_then(|v| u32::try_from(v).ok())
            {
                let kind = g["type"].as_str().unwrap_or("qemu").to_string();
                targets.push((vmid, (node.to_string(), kind), every.source.to_string()));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (vmid, (node, kind), source) in targets {
        if !seen.insert(vmid) {
            continue;
        }
        if super::vms::protected(s, &node, &kind, vmid).await? {
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
    let data = match i.method {
        Method::Get => s.api.get(&i.path, &p).await?,
        m => {
            if ctx.read_only {
                return Err(ToolError::denied(
                    "the server runs in read-only mode: only GET is allowed",
                ));
            }
            if !ctx.principal.allows("proxmox:admin") {
                return Err(ToolError::denied(format!(
                    "{} requires the proxmox:admin scope",
                    format!("{m:?}").to_uppercase()
                )));
            }
            // Writes that reach guests obey the same VMID policy and protection flag as
            // vm_action, wherever the guest is named.
            let reach = guests::reach(&i.path, &segments, &p)?;
            let verb = format!("{m:?}").to_uppercase();
            check_lists(&s, &reach, &verb, &i.path)?;
            check_protection(&s, &reach, &segments, &verb, &i.path).await?;
            let method = match m {
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                _ => reqwest::Method::DELETE,
            };
            tracing::info!(method = %method, path = %i.path, subject = %ctx.principal.subject, "proxmox_api write");
            s.api.write(method, &i.path, &p).await?
        }
    };
    Ok(ApiOutput {
        method: format!("{:?}", i.method).to_uppercase(),
        path: i.path,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(check_path("/nodes/pve1/qemu/100/status/current").is_ok());
        assert!(
            check_path("/nodes/pve1/tasks/UPID:pve1:0001:0002:0003:qmstart:100:root@pam:/status")
                .is_ok()
        );
        for bad in [
            "nodes",
            "/nodes/../access",
            "/nodes/./x",
            "/nodes//x",
            "/nodes/",
            "/nodes?x=1",
            "/nodes#a",
            "/nodes/%2e%2e",
            "/nodes/\n",
            "/nodes/pve 1",
            "/nodes/pvé",
        ] {
            let e = check_path(bad).expect_err(bad);
            assert_eq!(e.field(), Some("path"), "{bad}");
        }
    }

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

    #[test]
    fn deny_patterns() {
        let deny: Vec<String> = crate::config::DEFAULT_API_DENY
            .iter()
            .map(|s| s.to_string())
            .collect();
        let d = |p: &str| denied(&check_path(p).expect("valid"), &deny).is_some();
        assert!(d("/access/users"));
        assert!(d("/ACCESS/ticket"));
        assert!(d("/nodes/pve1/termproxy"));
        assert!(d("/nodes/pve1/qemu/100/agent/exec"));
        assert!(d("/nodes/pve1/lxc/200/vncproxy"));
        // GETs with side effects: scans that connect out, URL fetches, backup file restore
        // (starts a restore VM), the result of a guest-agent exec.
        for p in [
            "/nodes/pve1/scan/nfs",
            "/nodes/pve1/scan/cifs",
            "/nodes/pve1/scan/pbs",
            "/nodes/pve1/scan/iscsi",
            "/nodes/pve1/query-url-metadata",
            "/nodes/pve1/query-oci-repo-tags",
            "/nodes/pve1/storage/local/file-restore/list",
            "/nodes/pve1/storage/pbs/file-restore/download",
            "/nodes/pve1/qemu/100/agent/exec-status",
            "/nodes/pve1/report",
            "/nodes/pve1/apt/changelog",
            "/nodes/pve1/storage/esxi/import-metadata",
        ] {
            assert!(d(p), "{p} is not denied");
        }
        assert!(!d("/nodes/pve1/qemu/100/agent/get-fsinfo"));
        assert!(!d("/nodes/pve1/storage/local/content"));
        assert!(!d("/nodes/pve1/qemu/100/status/current"));
        assert!(!d("/nodes/pve1/storage"));
        assert!(!d("/cluster/resources"));
    }

    proptest::proptest! {
        /// An accepted path is exactly its segments, none of them empty, `.` or `..`, and a
        /// deny pattern always covers the path it names.
        #[test]
        fn accepted_paths_are_plain_segments(s in "/[a-z0-9./:@!=_-]{0,12}(/[a-z0-9./_-]{0,6}){0,4}|\\PC{0,40}") {
            if let Ok(segments) = check_path(&s) {
                proptest::prop_assert_eq!(segments.join("/"), &s[1..]);
                proptest::prop_assert!(segments.iter().all(|g| !g.is_empty() && *g != "." && *g != ".."));
                proptest::prop_assert!(denied(&segments, std::slice::from_ref(&s)).is_some());
                proptest::prop_assert!(denied(&segments, &["/*".to_string()]).is_some());
            }
        }
    }
}
