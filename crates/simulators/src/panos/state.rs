//! The device's configuration state: running, candidate, the change journal
//! (who changed what, for partial commits), jobs and locks.
//!
//! - `running` is what `action=show` reads and what policy match evaluates.
//! - `candidate` is what `action=get` reads and every write changes.
//! - `committed` is running plus every commit still queued: the base of the
//!   next commit and what a revert goes back to.
//!
//! Every method answers with the full response body.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use super::dom::{Element, escape_message, escape_text};
use super::hitcount::RuleTimes;
use super::jobs::{Job, JobKind, JobTiming, PushDevice};
use super::locks::{LockKind, LockReply, Locks};
use super::refs;
use super::tree::{self, TreeError, Where};
use super::xpath::XPath;

/// `command succeeded`, the answer to every successful write.
pub(crate) const OK20: &str =
    "<response status=\"success\" code=\"20\"><msg>command succeeded</msg></response>";
/// The answer to a commit with nothing to commit.
pub(crate) const NO_CHANGES: &str = "<response status=\"success\" code=\"19\"><msg>There are no changes to commit.</msg></response>";

/// A write to the candidate (`type=config`).
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Set(XPath, Vec<Element>),
    Edit(XPath, Element),
    Delete(XPath),
    Move(XPath, Where),
    Rename(XPath, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Edit,
    Delete,
    Move,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Create => " CREATE",
            Action::Edit => " EDIT",
            Action::Delete => " DELETE",
            Action::Move => " MOVE",
        }
    }
}

/// One node an administrator changed.
#[derive(Debug, Clone)]
struct Change {
    admin: String,
    path: XPath,
    key: String,
    action: Action,
}

/// Everything that changes while the simulator runs.
#[derive(Debug)]
pub(crate) struct DeviceState {
    pub(crate) running: Arc<Element>,
    committed: Arc<Element>,
    pub(crate) candidate: Arc<Element>,
    journal: Vec<Change>,
    jobs: Vec<Job>,
    next_job: u64,
    locks: Locks,
    pub(crate) rule_times: RuleTimes,
}

/// `<response status="error"><msg><line>TEXT</line></msg></response>`.
fn error_line(text: &str) -> String {
    super::error_line(text)
}

/// Wraps text in CDATA, splitting any `]]>` it holds.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn tree_error(e: &TreeError) -> String {
    match e {
        TreeError::NotFound => {
            "<response status=\"error\" code=\"7\"><msg>Object doesn't exist</msg></response>"
                .to_owned()
        }
        TreeError::BreaksValidity => {
            "<response status=\"error\" code=\"12\"><msg><line>Edit breaks config validity</line></msg></response>"
                .to_owned()
        }
        other => format!(
            "<response status=\"error\" code=\"12\"><msg><line>{}</line></msg></response>",
            cdata(&format!(" {other}"))
        ),
    }
}

fn lock_reply(r: LockReply) -> String {
    match r {
        Ok(text) => format!(
            "<response status=\"success\"><result>{}</result></response>",
            escape_text(&text)
        ),
        Err(text) => error_line(&text),
    }
}

impl DeviceState {
    pub(crate) fn new(running: Arc<Element>) -> Self {
        Self {
            committed: running.clone(),
            candidate: running.clone(),
            running,
            journal: Vec::new(),
            jobs: Vec::new(),
            next_job: 1,
            locks: Locks::default(),
            rule_times: RuleTimes::default(),
        }
    }

    /// Finishes every job whose time is up (in order).
    pub(crate) fn tick(&mut self, timing: JobTiming) {
        let now = SystemTime::now();
        let last = self
            .jobs
            .iter()
            .rposition(|j| j.finished.is_none() && j.expired(timing, now));
        if let Some(i) = last {
            self.finish_through(i, now);
        }
    }

    /// Finishes jobs `0..=i` that are still active, in order.
    fn finish_through(&mut self, i: usize, now: SystemTime) {
        for k in 0..=i.min(self.jobs.len().saturating_sub(1)) {
            if self.jobs.get(k).is_some_and(|j| j.finished.is_none()) {
                let install = self.jobs.get_mut(k).and_then(|j| {
                    j.finished = Some(now);
                    j.install.take()
                });
                if let Some(new) = install {
                    self.rule_times.on_install(&self.running, &new, now);
                    self.running = new;
                }
            }
        }
    }

    /// A new job id (log jobs share the numbering with commit jobs).
    pub(crate) fn next_job_id(&mut self) -> u64 {
        let id = self.next_job;
        self.next_job += 1;
        id
    }

    /// `show jobs id N`: one more look at job `id`.
    pub(crate) fn show_job(&mut self, id: &str, timing: JobTiming) -> String {
        let found = id
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| self.jobs.iter().position(|j| j.id == n));
        let Some(i) = found else {
            return format!(
                "<response status=\"error\" code=\"7\"><msg><line>job {} not found</line></msg></response>",
                escape_text(id.trim())
            );
        };
        self.look(i, timing);
        let mut out = String::from("<response status=\"success\"><result>");
        if let Some(j) = self.jobs.get(i) {
            j.render(timing, &mut out);
        }
        out.push_str("</result></response>");
        out
    }

    fn look(&mut self, i: usize, timing: JobTiming) {
        let Some(job) = self.jobs.get_mut(i) else {
            return;
        };
        if job.finished.is_some() {
            return;
        }
        job.looks = job.looks.saturating_add(1);
        if job.looks >= timing.polls {
            self.finish_through(i, SystemTime::now());
        }
    }

    /// `show jobs all`: a look at every job, newest first.
    pub(crate) fn show_jobs(&mut self, timing: JobTiming) -> String {
        for i in 0..self.jobs.len() {
            self.look(i, timing);
        }
        let mut out = String::from("<response status=\"success\"><result>");
        for j in self.jobs.iter().rev() {
            j.render(timing, &mut out);
        }
        out.push_str("</result></response>");
        out
    }

    /// `check pending-changes`.
    pub(crate) fn pending(&self) -> &'static str {
        if self.journal.is_empty() { "no" } else { "yes" }
    }

    fn record(&mut self, admin: &str, path: XPath, action: Action) {
        let key = path.to_string();
        match self
            .journal
            .iter_mut()
            .find(|c| c.admin == admin && c.key == key)
        {
            Some(c) => {
                if !(c.action == Action::Create && action == Action::Edit) {
                    c.action = action;
                }
            }
            None => self.journal.push(Change {
                admin: admin.to_owned(),
                path,
                key,
                action,
            }),
        }
    }

    fn config_locked(&self, admin: &str) -> Option<String> {
        self.locks
            .held_by_other(LockKind::Config, admin)
            .map(|holder| error_line(&format!("Configuration is locked by {holder}")))
    }

    /// Applies a write by `admin` to the candidate.
    pub(crate) fn write(&mut self, admin: &str, w: Write) -> String {
        if let Some(refused) = self.config_locked(admin) {
            return refused;
        }
        let before = self.candidate.clone();
        let mut after: Element = (*before).clone();
        let mut changed: Vec<(XPath, Action)> = Vec::new();
        let existed = |p: &XPath| tree::locate(&before, p).is_some();
        let applied = match w {
            Write::Set(xpath, elements) => {
                for el in &elements {
                    let unit = tree::set_unit(&xpath, el);
                    let action = if existed(&unit) {
                        Action::Edit
                    } else {
                        Action::Create
                    };
                    changed.push((unit, action));
                }
                if changed.is_empty() {
                    changed.push((xpath.clone(), Action::Edit));
                }
                tree::set(&mut after, &xpath, elements)
            }
            Write::Edit(xpath, el) => {
                let unit = tree::edit_target(&xpath, &el);
                let action = if existed(&unit) {
                    Action::Edit
                } else {
                    Action::Create
                };
                changed.push((unit, action));
                tree::edit(&mut after, &xpath, el)
            }
            Write::Delete(xpath) => match tree::delete(&mut after, &xpath) {
                Ok(false) => {
                    // Still dirties the candidate, as on a real device.
                    self.record(admin, xpath, Action::Delete);
                    return "<response status=\"success\" code=\"7\"><msg>Object doesn't exist</msg></response>".to_owned();
                }
                Ok(true) => {
                    let blocked = refs::new_dangling(&before, &after);
                    if let Some(first) = blocked.first() {
                        let mut out = format!(
                            "<response status=\"error\" code=\"10\"><msg><line> {} cannot be deleted because of references from:</line>",
                            cdata(&format!(" {}", first.name))
                        );
                        for d in blocked.iter().filter(|d| d.name == first.name) {
                            let _ = write!(out, "<line> {}</line>", escape_message(&d.location));
                        }
                        out.push_str("</msg></response>");
                        return out;
                    }
                    changed.push((xpath, Action::Delete));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Write::Move(xpath, to) => match tree::locate(&before, &xpath) {
                None => Err(TreeError::NotFound),
                Some(idx) => {
                    changed.push((tree::path_of(&before, &idx), Action::Move));
                    tree::move_node(&mut after, &xpath, &to)
                }
            },
            Write::Rename(xpath, new) => match tree::locate(&before, &xpath) {
                None => Err(TreeError::NotFound),
                Some(idx) => {
                    let old_path = tree::path_of(&before, &idx);
                    let old = old_path
                        .last()
                        .and_then(|s| s.name_attr.clone())
                        .unwrap_or_default();
                    match tree::rename(&mut after, &xpath, &new) {
                        Err(e) => Err(e),
                        Ok(()) => {
                            let mut new_path = old_path.clone();
                            if let Some(last) = new_path.steps.last_mut() {
                                last.name_attr = Some(new.clone());
                            }
                            for list in refs::follow_rename(&before, &mut after, &old, &new) {
                                changed.push((tree::path_of(&after, &list), Action::Edit));
                            }
                            changed.push((old_path, Action::Delete));
                            changed.push((new_path, Action::Create));
                            Ok(())
                        }
                    }
                }
            },
        };
        if let Err(e) = applied {
            return tree_error(&e);
        }
        if let Some(d) = refs::new_dangling(&before, &after).first() {
            let mut out = String::from("<response status=\"error\" code=\"12\"><msg>");
            for line in refs::invalid_reference_lines(d) {
                let _ = write!(out, "<line>{}</line>", cdata(&line));
            }
            out.push_str("</msg></response>");
            return out;
        }
        give_rules_uuids(&before, &mut after, &changed);
        self.candidate = Arc::new(after);
        for (path, action) in changed {
            self.record(admin, path, action);
        }
        OK20.to_owned()
    }

    /// `type=commit` with a `<commit>` command.
    pub(crate) fn commit(&mut self, admin: &str, cmd: &Element) -> String {
        if self.locks.held_by_other(LockKind::Commit, admin).is_some() {
            return "<response status=\"error\" code=\"14\"><msg><line>Other administrators are holding device wide commit locks.</line></msg></response>".to_owned();
        }
        let admins: Option<Vec<String>> =
            cmd.path(&["partial", "admin"]).map(Element::member_texts);
        let description = cmd.child_text("description").unwrap_or_default();
        let taken: Vec<usize> = self
            .journal
            .iter()
            .enumerate()
            .filter(|(_, c)| admins.as_ref().is_none_or(|a| a.contains(&c.admin)))
            .map(|(i, _)| i)
            .collect();
        // A force commit runs even with nothing to commit.
        if taken.is_empty() && cmd.child("force").is_none() {
            return NO_CHANGES.to_owned();
        }
        let base = self.committed.clone();
        let target = match &admins {
            None => (*self.candidate).clone(),
            Some(_) => {
                let mut t = (*base).clone();
                for &i in &taken {
                    if let Some(c) = self.journal.get(i) {
                        tree::copy_node(&self.candidate, &mut t, &c.path);
                    }
                }
                t
            }
        };
        let id = self.next_job;
        self.next_job += 1;
        let mut job = Job::new(id, JobKind::Commit, admin, description);
        match refs::new_dangling(&base, &target).first() {
            Some(d) => {
                job.ok = false;
                job.details = refs::commit_failure_lines(d);
            }
            None => {
                if let Some(a) = &admins {
                    job.details.push(format!(
                        "Partial changes to commit: changes to configuration by administrators: {}",
                        a.join(", ")
                    ));
                }
                job.details
                    .push("Configuration committed successfully".to_owned());
                let t = Arc::new(target);
                self.committed = t.clone();
                job.install = Some(t);
                let mut i = 0;
                self.journal.retain(|_| {
                    let keep = !taken.contains(&i);
                    i += 1;
                    keep
                });
                self.locks.release_all(admin);
            }
        }
        self.jobs.push(job);
        format!(
            "<response status=\"success\" code=\"19\"><result><msg><line>Commit job enqueued with jobid {id}</line></msg><job>{id}</job></result></response>"
        )
    }

    /// `type=commit&action=all` with a `<commit-all>` command (Panorama).
    pub(crate) fn commit_all(&mut self, admin: &str, cmd: &Element) -> String {
        if self.locks.held_by_other(LockKind::Commit, admin).is_some() {
            return "<response status=\"error\" code=\"14\"><msg><line>Other administrators are holding device wide commit locks.</line></msg></response>".to_owned();
        }
        let cfg = self.committed.clone();
        let dev = cfg
            .child("devices")
            .and_then(|d| d.elements().find(|e| e.name == "entry"));
        let invalid = |what: String| {
            format!(
                "<response status=\"error\" code=\"12\"><msg><line>{}</line></msg></response>",
                cdata(&format!(" {what} is not a valid reference"))
            )
        };
        let serials = |el: &Element| -> Vec<String> {
            el.child("devices")
                .into_iter()
                .flat_map(|d| d.elements())
                .filter_map(|e| e.name_attr().map(str::to_owned))
                .collect()
        };
        let Some(body) = cmd.elements().next() else {
            return invalid("commit-all".to_owned());
        };
        let mut devices: Vec<String> = Vec::new();
        let description;
        match body.name.as_str() {
            "shared-policy" => {
                description = body.child_text("description").unwrap_or_default();
                let groups: Vec<&Element> = body
                    .child("device-group")
                    .into_iter()
                    .flat_map(|g| g.elements())
                    .filter(|e| e.name == "entry")
                    .collect();
                if groups.is_empty() {
                    return invalid("commit-all -> shared-policy -> device-group".to_owned());
                }
                for g in groups {
                    let name = g.name_attr().unwrap_or_default();
                    let Some(dg) = dev
                        .and_then(|d| d.child("device-group"))
                        .and_then(|l| l.entry(name))
                    else {
                        return invalid(format!(
                            "commit-all -> shared-policy -> device-group '{name}'"
                        ));
                    };
                    let only = serials(g);
                    devices.extend(
                        serials(dg)
                            .into_iter()
                            .filter(|s| only.is_empty() || only.contains(s)),
                    );
                }
            }
            kind @ ("template" | "template-stack") => {
                description = body.child_text("description").unwrap_or_default();
                let name = body.child_text("name").unwrap_or_default();
                let Some(t) = dev.and_then(|d| d.child(kind)).and_then(|l| l.entry(&name)) else {
                    return invalid(format!("commit-all -> {kind} '{name}'"));
                };
                let only = body.members("device");
                devices.extend(
                    serials(t)
                        .into_iter()
                        .filter(|s| only.is_empty() || only.contains(s)),
                );
            }
            other => {
                return format!(
                    "<response status=\"error\"><msg><line>{}</line></msg></response>",
                    cdata(&format!(" commit-all -> {other} is unexpected"))
                );
            }
        }
        let id = self.next_job;
        self.next_job += 1;
        let mut job = Job::new(id, JobKind::CommitAll, admin, description);
        let hostname = |serial: &str| -> String {
            cfg.path(&["mgt-config", "devices"])
                .and_then(|d| d.entry(serial))
                .and_then(|e| e.child_text("hostname"))
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| serial.to_owned())
        };
        job.devices = devices
            .iter()
            .map(|s| PushDevice {
                serial: s.clone(),
                name: hostname(s),
            })
            .collect();
        self.jobs.push(job);
        format!(
            "<response status=\"success\" code=\"19\"><result><msg><line>Job enqueued with jobid {id}</line></msg><job>{id}</job></result></response>"
        )
    }

    /// `revert config` (all changes, or those of `admins`); `load config from
    /// running-config.xml` is a full revert with another answer.
    pub(crate) fn revert(
        &mut self,
        admin: &str,
        admins: Option<Vec<String>>,
        answer: &str,
    ) -> String {
        if let Some(refused) = self.config_locked(admin) {
            return refused;
        }
        match admins {
            None => {
                self.candidate = self.committed.clone();
                self.journal.clear();
            }
            Some(list) => {
                let mut c = (*self.candidate).clone();
                for ch in self.journal.iter().filter(|c| list.contains(&c.admin)) {
                    tree::copy_node(&self.committed, &mut c, &ch.path);
                }
                self.candidate = Arc::new(c);
                self.journal.retain(|c| !list.contains(&c.admin));
            }
        }
        format!(
            "<response status=\"success\"><result><msg><line>{}</line></msg></result></response>",
            escape_text(answer)
        )
    }

    /// `show config list changes` (of `admins`, or everyone's).
    pub(crate) fn changes(&self, admins: Option<Vec<String>>) -> String {
        let list: Vec<&Change> = self
            .journal
            .iter()
            .filter(|c| admins.as_ref().is_none_or(|a| a.contains(&c.admin)))
            .collect();
        if list.is_empty() {
            return "<response status=\"success\"><result></result></response>".to_owned();
        }
        let mut out = String::from("<response status=\"success\"><result><journal>");
        for c in list {
            let _ = write!(
                out,
                "<entry><xpath>{}</xpath><owner>{}</owner><action>{}</action><admin-history>{}</admin-history><component-type>{}</component-type></entry>",
                escape_text(&c.key),
                escape_text(&c.admin),
                c.action.word(),
                escape_text(&c.admin),
                component(&c.path)
            );
        }
        out.push_str("</journal></result></response>");
        out
    }

    /// `request config-lock|commit-lock add`.
    pub(crate) fn add_lock(
        &mut self,
        kind: LockKind,
        admin: &str,
        scope: &str,
        comment: Option<String>,
    ) -> String {
        lock_reply(self.locks.add(kind, admin, scope, comment))
    }

    /// `request config-lock|commit-lock remove [admin NAME]`.
    pub(crate) fn remove_lock(
        &mut self,
        kind: LockKind,
        admin: &str,
        whose: Option<&str>,
        scope: &str,
    ) -> String {
        lock_reply(self.locks.remove(kind, admin, whose, scope))
    }

    /// `show config-locks|commit-locks`.
    pub(crate) fn show_locks(&self, kind: LockKind) -> String {
        format!(
            "<response status=\"success\"><result>{}</result></response>",
            self.locks.render(kind)
        )
    }
}

/// Every rule a write created or replaced keeps its `uuid`, or (PAN-OS 9.0
/// and later) gets a new one.
fn give_rules_uuids(before: &Element, after: &mut Element, changed: &[(XPath, Action)]) {
    let major: u32 = after
        .attr("version")
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    for (changed_path, action) in changed {
        if !matches!(action, Action::Create | Action::Edit) {
            continue;
        }
        // The rule this node is, or is in.
        let Some(start) = changed_path.steps.windows(4).position(|w| {
            matches!(
                w[0].name.as_str(),
                "rulebase" | "pre-rulebase" | "post-rulebase"
            ) && w[2].name == "rules"
                && w[3].name == "entry"
        }) else {
            continue;
        };
        let path = &XPath {
            steps: changed_path.steps[..start + 4].to_vec(),
        };
        let old = tree::locate(before, path)
            .and_then(|i| tree::at(before, &i))
            .and_then(|e| e.attr("uuid"))
            .map(str::to_owned);
        let Some(rule) = tree::locate(after, path).and_then(|i| tree::at_mut(after, &i)) else {
            continue;
        };
        if rule.attr("uuid").is_some() {
            continue;
        }
        let uuid = match old {
            Some(u) => u,
            None if major >= 9 => uuid::Uuid::new_v4().to_string(),
            None => continue,
        };
        rule.attrs.push(("uuid".to_owned(), uuid));
    }
}

/// The area of the configuration a path is in, for `component-type`: the
/// first step under the device entry, or the top-level section.
fn component(path: &XPath) -> String {
    let steps = &path.steps;
    let name = if steps.get(1).is_some_and(|s| s.name == "devices") {
        steps.get(3).or(steps.get(1))
    } else {
        steps.get(1)
    };
    name.map_or_else(|| "config".to_owned(), |s| escape_text(&s.name))
}
