//! Who may see and call which tool.
//!
//! Every tool declares one required scope, such as `aws:write`. A caller holds a set of scopes
//! from its token. A scope of a namespace other than `read` implies that namespace's `read`
//! scope, but only when the server declares it (some tool requires it): on aws-whitelist
//! `aws:write` implies `aws:read` and `proxmox:exec` means nothing, while an invented
//! `aws:anything` grants nothing at all. Operator filters (`--read-only`, `--toolsets`) are
//! applied before scopes and always win.

use std::collections::BTreeSet;
use std::fmt;

/// The identity a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, or `local` / `anonymous`.
    pub subject: String,
    /// What the caller may do.
    pub scopes: ScopeSet,
}

impl Principal {
    /// The operator of a stdio server: the process already runs with the user's rights.
    pub fn local() -> Self {
        Self {
            subject: "local".into(),
            scopes: ScopeSet::All,
        }
    }

    /// A caller on an HTTP server started with `MCP_AUTH=none`.
    pub fn anonymous() -> Self {
        Self {
            subject: "anonymous".into(),
            scopes: ScopeSet::All,
        }
    }

    /// A caller that presented a verified token.
    pub fn token(subject: impl Into<String>, scopes: impl IntoIterator<Item = String>) -> Self {
        Self {
            subject: subject.into(),
            scopes: ScopeSet::granted(scopes),
        }
    }

    /// Whether this caller may use a tool that requires `scope`, on a server whose tools
    /// require the scopes in `declared` (only those imply their namespace's `read`).
    pub fn allows_on(&self, scope: &str, declared: &BTreeSet<String>) -> bool {
        self.scopes.allows(scope, declared)
    }

    /// Whether this caller holds `scope` itself (no implication): for checks inside a tool,
    /// such as `proxmox:admin` for a non-GET passthrough.
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.allows(scope, &BTreeSet::new())
    }
}

/// A set of granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSet {
    /// Everything (stdio, or auth explicitly off).
    All,
    /// Exactly the scopes the token carries (implications are judged in [`ScopeSet::allows`]).
    Granted(BTreeSet<String>),
}

impl ScopeSet {
    /// Scopes from a token.
    pub fn granted(scopes: impl IntoIterator<Item = String>) -> Self {
        Self::Granted(scopes.into_iter().collect())
    }

    /// Whether `scope` is granted: held exactly, or it is `ns:read` and the caller holds
    /// another `ns:` scope that the server declares in `declared`.
    pub fn allows(&self, scope: &str, declared: &BTreeSet<String>) -> bool {
        let set = match self {
            Self::All => return true,
            Self::Granted(set) => set,
        };
        if set.contains(scope) {
            return true;
        }
        let Some(ns) = scope.strip_suffix(":read").filter(|ns| !ns.is_empty()) else {
            return false;
        };
        set.iter().any(|held| {
            held.split_once(':')
                .is_some_and(|(n, action)| n == ns && action != "read")
                && declared.contains(held)
        })
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Granted(s) => {
                f.write_str(&s.iter().map(String::as_str).collect::<Vec<_>>().join(" "))
            }
        }
    }
}

/// How the read-only filter sees a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposeAs {
    Read,
    Write,
    /// Reads or writes by argument: listed in read-only mode, restricted by its handler.
    Mixed,
}

/// The operator's filter over the tool inventory, fixed at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    /// Hide every tool that is not read-only.
    pub read_only: bool,
    /// Only these toolsets (None: all).
    pub toolsets: Option<BTreeSet<String>>,
}

impl ToolFilter {
    /// Whether a tool with these properties is exposed at all.
    pub fn exposes(&self, read_only: bool, toolset: &str) -> bool {
        self.exposes_effect(
            if read_only {
                ExposeAs::Read
            } else {
                ExposeAs::Write
            },
            toolset,
        )
    }

    /// Whether a tool is exposed; `Mixed` tools stay listed in read-only mode.
    pub fn exposes_effect(&self, kind: ExposeAs, toolset: &str) -> bool {
        if self.read_only && kind == ExposeAs::Write {
            return false;
        }
        match &self.toolsets {
            None => true,
            Some(sets) => sets.contains(toolset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn write_implies_read_in_same_namespace_only() {
        let aws = declared(&["aws:read", "aws:write"]);
        let pve = declared(&["proxmox:read", "proxmox:power", "proxmox:exec"]);
        let p = Principal::token("alice", ["aws:write".to_string()]);
        assert!(p.allows_on("aws:write", &aws));
        assert!(p.allows_on("aws:read", &aws));
        assert!(!p.allows_on("ngfw:read", &aws));
        let p = Principal::token("bob", ["aws:read".to_string()]);
        assert!(p.allows_on("aws:read", &aws));
        assert!(!p.allows_on("aws:write", &aws));
        let p = Principal::token("carol", ["proxmox:exec".to_string()]);
        assert!(p.allows_on("proxmox:read", &pve));
        assert!(!p.allows_on("proxmox:power", &pve));
        let p = Principal::token("dave", [":write".to_string(), "nocolon".to_string()]);
        assert!(!p.allows_on(":read", &aws));
        assert!(p.allows_on("nocolon", &aws));
    }

    #[test]
    fn only_declared_scopes_imply_read() {
        let aws = declared(&["aws:read", "aws:write"]);
        // An invented scope of the namespace grants nothing, not even read.
        let p = Principal::token("eve", ["aws:anything".to_string()]);
        assert!(!p.allows_on("aws:read", &aws));
        assert!(!p.allows_on("aws:write", &aws));
        // A scope another server declares does not imply read here.
        let p = Principal::token("frank", ["aws:approve".to_string()]);
        assert!(!p.allows_on("aws:read", &aws));
        assert!(p.allows_on("aws:read", &declared(&["aws:read", "aws:approve"])));
        assert!(Principal::local().allows_on("aws:read", &BTreeSet::new()));
    }

    #[test]
    fn filter_read_only_wins() {
        let f = ToolFilter {
            read_only: true,
            toolsets: None,
        };
        assert!(f.exposes(true, "x"));
        assert!(!f.exposes(false, "x"));
        let f = ToolFilter {
            read_only: false,
            toolsets: Some(["objects".to_string()].into_iter().collect()),
        };
        assert!(f.exposes(false, "objects"));
        assert!(!f.exposes(true, "policies"));
    }
}
