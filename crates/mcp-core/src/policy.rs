//! Who may see and call which tool.
//!
//! Every tool declares one required scope, such as `aws:write`. A caller holds a set of scopes
//! from its token. Any scope of a namespace other than `read` implies that namespace's `read`
//! scope: `aws:write` implies `aws:read`, `proxmox:exec` implies `proxmox:read`.
//! Operator filters (`--read-only`, `--toolsets`) are applied before scopes and always win.

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

    /// Whether this caller may use a tool that requires `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.allows(scope)
    }
}

/// A set of granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSet {
    /// Everything (stdio, or auth explicitly off).
    All,
    /// Exactly these scopes, plus what they imply.
    Granted(BTreeSet<String>),
}

impl ScopeSet {
    /// Scopes from a token, expanded with the read scopes they imply.
    pub fn granted(scopes: impl IntoIterator<Item = String>) -> Self {
        let mut set = BTreeSet::new();
        for s in scopes {
            if let Some((ns, action)) = s.split_once(':')
                && action != "read"
                && !ns.is_empty()
            {
                set.insert(format!("{ns}:read"));
            }
            set.insert(s);
        }
        Self::Granted(set)
    }

    /// Whether `scope` is granted.
    pub fn allows(&self, scope: &str) -> bool {
        match self {
            Self::All => true,
            Self::Granted(set) => set.contains(scope),
        }
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

    #[test]
    fn write_implies_read_in_same_namespace_only() {
        let p = Principal::token("alice", ["aws:write".to_string()]);
        assert!(p.allows("aws:write"));
        assert!(p.allows("aws:read"));
        assert!(!p.allows("ngfw:read"));
        let p = Principal::token("bob", ["aws:read".to_string()]);
        assert!(p.allows("aws:read"));
        assert!(!p.allows("aws:write"));
        let p = Principal::token("carol", ["proxmox:exec".to_string()]);
        assert!(p.allows("proxmox:read"));
        assert!(!p.allows("proxmox:power"));
        let p = Principal::token("dave", [":write".to_string(), "nocolon".to_string()]);
        assert!(!p.allows(":read"));
        assert!(p.allows("nocolon"));
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
