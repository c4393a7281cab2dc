//! Asynchronous jobs: `Commit` and Panorama's `CommitAll`, as
//! `show jobs id N` and `show jobs all` report them.
//!
//! A job is `ACT` until it has been looked at [`JobTiming::polls`] times
//! (its progress grows with each look), or until [`JobTiming::max_age`] has
//! passed, then `FIN` with result `OK` or `FAIL`. Jobs finish in the order
//! they were enqueued. A commit's new running configuration is installed
//! when its job finishes.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::dom::{Element, escape_message, escape_text};
use super::ops::format_panos_time;

/// How long jobs take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTiming {
    /// A job is FIN on this `show jobs` look at it (1 = at once).
    pub polls: u32,
    /// A job is FIN once this much time has passed since it was enqueued,
    /// looked at or not (`None`: only looks count).
    pub max_age: Option<Duration>,
}

impl Default for JobTiming {
    /// Three looks, or two seconds.
    fn default() -> Self {
        Self {
            polls: 3,
            max_age: Some(Duration::from_secs(2)),
        }
    }
}

/// The kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Commit,
    CommitAll,
}

/// One device of a `CommitAll` job.
#[derive(Debug, Clone)]
pub(crate) struct PushDevice {
    pub serial: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: u64,
    pub kind: JobKind,
    pub user: String,
    pub description: String,
    pub enqueued: SystemTime,
    pub looks: u32,
    pub finished: Option<SystemTime>,
    pub ok: bool,
    pub details: Vec<String>,
    pub devices: Vec<PushDevice>,
    /// The running configuration to install when the job finishes.
    pub install: Option<Arc<Element>>,
}

impl Job {
    pub(crate) fn new(id: u64, kind: JobKind, user: &str, description: String) -> Self {
        Self {
            id,
            kind,
            user: user.to_owned(),
            description,
            enqueued: SystemTime::now(),
            looks: 0,
            finished: None,
            ok: true,
            details: Vec::new(),
            devices: Vec::new(),
            install: None,
        }
    }

    /// Has this job run out of time?
    pub(crate) fn expired(&self, timing: JobTiming, now: SystemTime) -> bool {
        timing
            .max_age
            .is_some_and(|age| now.duration_since(self.enqueued).is_ok_and(|d| d >= age))
    }

    fn progress(&self, timing: JobTiming) -> u32 {
        if self.finished.is_some() {
            return 100;
        }
        let polls = timing.polls.max(1);
        (self.looks.saturating_mul(100) / polls).clamp(0, 99)
    }

    /// Appends `<job>...</job>`.
    pub(crate) fn render(&self, timing: JobTiming, out: &mut String) {
        let enq = format_panos_time(self.enqueued);
        let tdeq = enq.split(' ').nth(1).unwrap_or_default().to_owned();
        let fin = self.finished.is_some();
        let (status, result, tfin) = match self.finished {
            None => ("ACT", "PEND", "Still Active".to_owned()),
            Some(t) => (
                "FIN",
                if self.ok { "OK" } else { "FAIL" },
                format_panos_time(t),
            ),
        };
        let ty = match self.kind {
            JobKind::Commit => "Commit",
            JobKind::CommitAll => "CommitAll",
        };
        let _ = write!(
            out,
            "<job><tenq>{enq}</tenq><tdeq>{tdeq}</tdeq><id>{}</id><user>{}</user><type>{ty}</type><status>{status}</status><queued>NO</queued><stoppable>{}</stoppable><result>{result}</result><tfin>{tfin}</tfin><description>{}</description><positionInQ>0</positionInQ><progress>{}</progress>",
            self.id,
            escape_text(&self.user),
            if fin { "no" } else { "yes" },
            escape_text(&self.description),
            self.progress(timing),
        );
        if fin && !self.details.is_empty() {
            out.push_str("<details>");
            for line in &self.details {
                let _ = write!(out, "<line>{}</line>", escape_message(line));
            }
            out.push_str("</details>");
        } else {
            out.push_str("<details></details>");
        }
        out.push_str("<warnings></warnings>");
        if self.kind == JobKind::CommitAll && !self.devices.is_empty() {
            out.push_str("<devices>");
            for d in &self.devices {
                let (dstatus, dresult, dfin, dprogress) = if fin {
                    ("FIN", "OK", tfin.as_str(), 100)
                } else {
                    ("ACT", "PEND", "", self.progress(timing))
                };
                let _ = write!(
                    out,
                    "<entry><serial-no>{}</serial-no><devicename>{}</devicename><vsys>vsys1</vsys><status>{dstatus}</status><result>{dresult}</result><tstart>{enq}</tstart><tfin>{dfin}</tfin><progress>{dprogress}</progress><details><msg><errors></errors><warnings></warnings></msg></details></entry>",
                    escape_text(&d.serial),
                    escape_text(&d.name),
                );
            }
            out.push_str("</devices>");
        }
        out.push_str("</job>");
    }
}
