//! API paths: the shape every path must have, and the paths this server refuses.
//!
//! `proxmox_api` and `pvesh` (run by `execute_command`) obey the same rules: a normalised
//! path (no `..`, no query, no encoded characters) outside the denied paths (`/access`,
//! consoles, guest-agent exec, ...), which `PROXMOX_API_DENY` can replace.

use mcp_core::ToolError;

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
