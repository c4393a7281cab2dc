//! Config locks and commit locks (`request config-lock|commit-lock add|remove`,
//! `show config-locks|commit-locks`).
//!
//! A config lock stops other administrators from changing the candidate; a
//! commit lock stops them from committing. The holder's locks go when its
//! commit succeeds. The messages are PAN-OS's (PAN-OS 10/11).

use std::fmt::Write as _;
use std::time::SystemTime;

use super::dom::escape_text;
use super::ops::format_panos_time;

/// The two kinds of lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockKind {
    /// `config-lock`: blocks changes to the candidate.
    Config,
    /// `commit-lock`: blocks commits.
    Commit,
}

impl LockKind {
    fn tag(self) -> &'static str {
        match self {
            LockKind::Config => "config-locks",
            LockKind::Commit => "commit-locks",
        }
    }
}

#[derive(Debug, Clone)]
struct Lock {
    admin: String,
    scope: String,
    comment: Option<String>,
    created: SystemTime,
}

/// The locks held now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Locks {
    config: Vec<Lock>,
    commit: Vec<Lock>,
}

/// Outcome of a lock request: `Ok(text)` for a success `<result>`, `Err(text)`
/// for an error `<line>`.
pub(crate) type LockReply = Result<String, String>;

impl Locks {
    fn list(&mut self, kind: LockKind) -> &mut Vec<Lock> {
        match kind {
            LockKind::Config => &mut self.config,
            LockKind::Commit => &mut self.commit,
        }
    }

    /// The admin other than `me` holding a lock of `kind`, if any.
    pub(crate) fn held_by_other(&self, kind: LockKind, me: &str) -> Option<&str> {
        let list = match kind {
            LockKind::Config => &self.config,
            LockKind::Commit => &self.commit,
        };
        list.iter()
            .find(|l| l.admin != me)
            .map(|l| l.admin.as_str())
    }

    pub(crate) fn add(
        &mut self,
        kind: LockKind,
        admin: &str,
        scope: &str,
        comment: Option<String>,
    ) -> LockReply {
        let list = self.list(kind);
        if let Some(other) = list.iter().find(|l| l.admin != admin) {
            return Err(match kind {
                LockKind::Config => format!("Config lock is already held by {}", other.admin),
                LockKind::Commit => format!("Commit lock is already held by {}", other.admin),
            });
        }
        if list.iter().any(|l| l.scope == scope) {
            return Err(match kind {
                LockKind::Config => format!("You already own a config lock for scope {scope}"),
                LockKind::Commit => format!("You already own a commit lock for scope {scope}"),
            });
        }
        list.push(Lock {
            admin: admin.to_owned(),
            scope: scope.to_owned(),
            comment,
            created: SystemTime::now(),
        });
        Ok(match kind {
            LockKind::Config => format!(
                "Successfully acquired lock. Other administrators will not be able to modify configuration until lock is released by {admin}."
            ),
            LockKind::Commit => format!(
                "Successfully acquired lock. Other administrators will not be able to commit configuration until lock is released by {admin}."
            ),
        })
    }

    /// Removes `whose` lock (the caller's own when `None`).
    pub(crate) fn remove(
        &mut self,
        kind: LockKind,
        caller: &str,
        whose: Option<&str>,
        scope: &str,
    ) -> LockReply {
        let target = whose.unwrap_or(caller);
        let list = self.list(kind);
        let before = list.len();
        list.retain(|l| l.admin != target);
        if list.len() < before {
            return Ok(match kind {
                LockKind::Config => format!("Config lock released for {target}"),
                LockKind::Commit => format!("Commit lock released for {target}"),
            });
        }
        if whose.is_none()
            && let Some(other) = list.first()
        {
            return Err(match kind {
                LockKind::Config => format!("Config lock is already held by {}", other.admin),
                LockKind::Commit => format!("Commit lock is already held by {}", other.admin),
            });
        }
        Err(match kind {
            LockKind::Config => format!("Config is not currently locked for scope {scope}"),
            LockKind::Commit => format!("Commit is not currently locked for scope {scope}"),
        })
    }

    /// Drops every lock `admin` holds (after its commit).
    pub(crate) fn release_all(&mut self, admin: &str) {
        self.config.retain(|l| l.admin != admin);
        self.commit.retain(|l| l.admin != admin);
    }

    /// The `<result>` of `show config-locks` or `show commit-locks`.
    pub(crate) fn render(&self, kind: LockKind) -> String {
        let list = match kind {
            LockKind::Config => &self.config,
            LockKind::Commit => &self.commit,
        };
        let tag = kind.tag();
        let mut out = format!("<{tag}>");
        for l in list {
            let when = format_panos_time(l.created);
            let ty = if l.scope == "shared" {
                "shared"
            } else {
                "vsys"
            };
            let _ = write!(
                out,
                "<entry name=\"{}\"><type>{ty}</type><name>{}</name><created>{when}</created><last-activity>{when}</last-activity><loggedin>yes</loggedin><comment>{}</comment></entry>",
                super::dom::escape_attr(&l.admin),
                escape_text(&l.scope),
                escape_text(l.comment.as_deref().unwrap_or("(null)"))
            );
        }
        let _ = write!(out, "</{tag}>");
        out
    }
}
