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
    /// Parameters: strings, numbers or booleans (query for GET and DELETE, form otherwise).
    #[serde(default)]
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
    vec![ToolDef::new(PROXMOX_API, proxmox_api)]
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

/// The VMID of `/nodes/NODE/(qemu|lxc)/VMID/...`.
fn guest_vmid(segments: &[&str]) -> Option<u32> {
    match segments {
        ["nodes", _, "qemu" | "lxc", id, ..] => id.parse().ok(),
        _ => None,
    }
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
            // Writes to a guest obey the same VMID policy as vm_action.
            if let Some(vmid) = guest_vmid(&segments) {
                if s.vmid_allow.as_ref().is_some_and(|a| !a.contains(vmid)) {
                    return Err(ToolError::denied(format!(
                        "VMID {vmid} is not in PROXMOX_VMID_ALLOWLIST"
                    )));
                }
                if s.vmid_deny.as_ref().is_some_and(|d| d.contains(vmid)) {
                    return Err(ToolError::denied(format!(
                        "VMID {vmid} is in PROXMOX_VMID_DENYLIST"
                    )));
                }
            }
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
