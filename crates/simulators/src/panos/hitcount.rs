//! `show rule-hit-count vsys vsys-name <V> rule-base <B> rules all|list`.
//!
//! Hit counts are runtime state the simulator has no traffic for, so they
//! are made up, deterministically: a hash of `vsys/rulebase/name` seeds each
//! rule's numbers, and about a third of the rules (every disabled rule, and
//! every rule committed since the simulator started) have no hits at all, so
//! "unused rules" can be found. A rule that a commit created or changed gets
//! that commit's time as its creation or modification timestamp.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::dom::{Element, escape_attr};

/// Creation and modification timestamps set by commits, by rule key.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleTimes(HashMap<String, Stamp>);

#[derive(Debug, Clone, Copy)]
struct Stamp {
    created: u64,
    modified: u64,
    /// Created by a commit of this simulator: never hit.
    fresh: bool,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `(key, rulebase, rule)` of every firewall rule, by vsys.
fn rules(config: &Element) -> Vec<(String, &Element)> {
    let mut out = Vec::new();
    for dev in config
        .child("devices")
        .into_iter()
        .flat_map(|d| d.elements())
    {
        for vsys in dev.child("vsys").into_iter().flat_map(|v| v.elements()) {
            let vname = vsys.name_attr().unwrap_or_default();
            for base in vsys
                .child("rulebase")
                .into_iter()
                .flat_map(|b| b.elements())
            {
                for rule in base.child("rules").into_iter().flat_map(|r| r.elements()) {
                    if let Some(name) = rule.name_attr() {
                        out.push((format!("{vname}/{}/{name}", base.name), rule));
                    }
                }
            }
        }
    }
    out
}

impl RuleTimes {
    /// Records what a commit changed between the `old` and `new` running
    /// configurations, at `now`.
    pub(crate) fn on_install(&mut self, old: &Element, new: &Element, now: SystemTime) {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let before: HashMap<String, &Element> = rules(old).into_iter().collect();
        for (key, rule) in rules(new) {
            match before.get(&key) {
                None => {
                    let stamp = Stamp {
                        created: now,
                        modified: now,
                        fresh: true,
                    };
                    self.0.insert(key, stamp);
                }
                Some(was) if *was != rule => {
                    let mut stamp = self.stamp(&key);
                    stamp.modified = now.max(stamp.created);
                    self.0.insert(key, stamp);
                }
                Some(_) => {}
            }
        }
    }

    fn stamp(&self, key: &str) -> Stamp {
        self.0.get(key).copied().unwrap_or_else(|| {
            let h = fnv(key);
            let created = 1_600_000_000 + h % 50_000_000;
            Stamp {
                created,
                modified: created + (h >> 8) % 10_000_000,
                fresh: false,
            }
        })
    }

    fn counts(&self, key: &str, rule: &Element) -> Counts {
        let Stamp {
            created,
            modified,
            fresh,
        } = self.stamp(key);
        let h = fnv(key);
        let disabled = rule.child_text("disabled").as_deref() == Some("yes");
        if disabled || fresh || h.is_multiple_of(3) {
            return Counts {
                hits: 0,
                last: 0,
                first: 0,
                created,
                modified,
            };
        }
        let first = created + (h >> 24) % 86_400;
        Counts {
            hits: 1 + (h >> 16) % 250_000,
            last: first.max(modified) + (h >> 32) % 5_000_000,
            first,
            created,
            modified,
        }
    }
}

struct Counts {
    hits: u64,
    last: u64,
    first: u64,
    created: u64,
    modified: u64,
}

/// The answer to a `show rule-hit-count` command, or `None` when it is not the
/// vsys form.
pub(crate) fn show(config: &Element, times: &RuleTimes, cmd: &Element) -> Option<String> {
    let vsys_names = cmd.path(&["rule-hit-count", "vsys", "vsys-name"])?;
    let all = rules(config);
    let mut out = String::from("<response status=\"success\"><result><rule-hit-count><vsys>");
    for v in vsys_names.elements().filter(|e| e.name == "entry") {
        let vname = v.name_attr().unwrap_or_default();
        let _ = write!(out, "<entry name=\"{}\"><rule-base>", escape_attr(vname));
        for b in v
            .child("rule-base")
            .into_iter()
            .flat_map(|b| b.elements())
            .filter(|e| e.name == "entry")
        {
            let bname = b.name_attr().unwrap_or_default();
            let wanted: Option<Vec<String>> = b.path(&["rules", "list"]).map(Element::member_texts);
            let _ = write!(out, "<entry name=\"{}\"><rules>", escape_attr(bname));
            let prefix = format!("{vname}/{bname}/");
            for (key, rule) in &all {
                let Some(name) = key.strip_prefix(&prefix) else {
                    continue;
                };
                if wanted
                    .as_ref()
                    .is_some_and(|w| !w.iter().any(|n| n == name))
                {
                    continue;
                }
                let c = times.counts(key, rule);
                let _ = write!(
                    out,
                    "<entry name=\"{}\"><latest>yes</latest><hit-count>{}</hit-count><last-hit-timestamp>{}</last-hit-timestamp><last-reset-timestamp>0</last-reset-timestamp><first-hit-timestamp>{}</first-hit-timestamp><rule-creation-timestamp>{}</rule-creation-timestamp><rule-modification-timestamp>{}</rule-modification-timestamp></entry>",
                    escape_attr(name),
                    c.hits,
                    c.last,
                    c.first,
                    c.created,
                    c.modified
                );
            }
            out.push_str("</rules></entry>");
        }
        out.push_str("</rule-base></entry>");
    }
    out.push_str("</vsys></rule-hit-count></result></response>");
    Some(out)
}
