//! Log retrieval (`type=log`) as PAN-OS runs it: an asynchronous job.
//!
//! - `type=log&log-type=traffic|threat|url|system|config&nlogs=&skip=&query=`
//!   enqueues a job and answers its id;
//! - `type=log&action=get&job-id=N` answers the job's status (`ACT` until it
//!   has been looked at [`JobTiming::polls`] times or is older than
//!   `max_age`, like commit jobs) and, once `FIN`, the log entries;
//! - `type=log&action=finish&job-id=N` (also `action=delete`) drops it.
//!
//! Logs are generated deterministically from the running configuration
//! ([`super::traffic::flows`]), newest first, one entry every 37 seconds
//! before 2026/11/21 00:00:00: 1,500 traffic entries (the flows in turn),
//! one threat and one URL entry per allowed flow cycle up to 300, 40 system
//! and one config entry per rule. `nlogs` is 20 by default, at most 5,000.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use super::dom::{Element, escape_attr, escape_text};
use super::jobs::JobTiming;
use super::netstate::{contains, parse_cidr};
use super::ops::format_panos_time;
use super::traffic::flows;

/// Number of traffic entries a device holds.
pub const TRAFFIC_LOGS: usize = 1_500;
const THREAT_LOGS: usize = 300;
const SYSTEM_LOGS: usize = 40;
/// 2026/11/21 00:00:00 UTC.
const NEWEST: u64 = 1_795_219_200;
const STEP: u64 = 37;

/// One log entry: ordered `(field, value)` pairs.
pub type LogEntry = Vec<(&'static str, String)>;

/// A log job.
#[derive(Debug, Clone)]
pub(crate) struct LogJob {
    id: u64,
    enqueued: SystemTime,
    looks: u32,
    entries: Vec<LogEntry>,
}

/// The log jobs of one device.
#[derive(Debug, Default)]
pub(crate) struct LogJobs {
    jobs: Vec<LogJob>,
}

fn time_at(i: usize) -> String {
    format_panos_time(
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(NEWEST - STEP * i as u64),
    )
}

const THREATS: [(&str, &str, &str); 4] = [
    (
        "Apache Log4j Remote Code Execution Vulnerability(91991)",
        "critical",
        "vulnerability",
    ),
    ("HTTP SQL Injection Attempt(30514)", "high", "vulnerability"),
    (
        "Suspicious DNS Query (generic:evil.example)(109001001)",
        "medium",
        "spyware",
    ),
    ("Eicar Test File(100000)", "low", "virus"),
];

const SYSTEM_EVENTS: [(&str, &str, &str); 4] = [
    ("auth-success", "informational", "User admin authenticated"),
    ("commit", "informational", "Commit job succeeded"),
    (
        "link-change",
        "medium",
        "Port ethernet1/1: Up 10Gb/s-full duplex",
    ),
    ("general", "low", "Content update completed"),
];

/// Every entry of `log_type`, newest first; `None` for an unknown type.
pub fn generate(
    config: &Element,
    log_type: &str,
    serial: &str,
    device_name: &str,
) -> Option<Vec<LogEntry>> {
    let all = flows(config);
    let allowed: Vec<_> = all.iter().filter(|f| f.allowed()).collect();
    let common = |i: usize, ty: &str, subtype: &str| -> LogEntry {
        let t = time_at(i);
        vec![
            ("receive_time", t.clone()),
            ("serial", serial.to_owned()),
            ("seqno", (1_000_000 - i).to_string()),
            ("type", ty.to_owned()),
            ("subtype", subtype.to_owned()),
            ("time_generated", t),
            ("device_name", device_name.to_owned()),
            ("vsys", "vsys1".to_owned()),
        ]
    };
    let flow_fields = |e: &mut LogEntry, i: usize, f: &super::traffic::Flow| {
        let sport = 40_000 + (i % 20_000);
        e.extend([
            ("src", f.src.to_string()),
            ("dst", f.dst.to_string()),
            ("natsrc", "0.0.0.0".to_owned()),
            ("natdst", "0.0.0.0".to_owned()),
            ("rule", f.rule.clone()),
            ("srcuser", String::new()),
            ("app", f.app.clone()),
            ("from", f.from.clone()),
            ("to", f.to.clone()),
            ("inbound_if", f.inbound.clone()),
            ("outbound_if", f.outbound.clone()),
            ("sessionid", (10_000 + i).to_string()),
            ("sport", sport.to_string()),
            ("dport", f.dport.to_string()),
            ("proto", f.proto.to_owned()),
        ]);
    };
    let out = match log_type {
        "traffic" => {
            if all.is_empty() {
                return Some(Vec::new());
            }
            (0..TRAFFIC_LOGS)
                .map(|i| {
                    let f = &all[i % all.len()];
                    let subtype = if f.allowed() { "end" } else { "deny" };
                    let mut e = common(i, "TRAFFIC", subtype);
                    flow_fields(&mut e, i, f);
                    let (sent, recv) = if f.allowed() {
                        (600 + 13 * (i % 97), 4_000 + 71 * (i % 89))
                    } else {
                        (74, 0)
                    };
                    let reason = if f.allowed() {
                        if i % 3 == 0 {
                            "tcp-rst-from-server"
                        } else {
                            "tcp-fin"
                        }
                    } else {
                        "policy-deny"
                    };
                    e.extend([
                        ("action", f.action.clone()),
                        ("bytes", (sent + recv).to_string()),
                        ("bytes_sent", sent.to_string()),
                        ("bytes_received", recv.to_string()),
                        (
                            "packets",
                            if f.allowed() {
                                (8 + i % 30).to_string()
                            } else {
                                "1".to_owned()
                            },
                        ),
                        (
                            "elapsed",
                            if f.allowed() {
                                (i % 60).to_string()
                            } else {
                                "0".to_owned()
                            },
                        ),
                        ("category", "any".to_owned()),
                        ("session_end_reason", reason.to_owned()),
                    ]);
                    e
                })
                .collect()
        }
        "threat" | "url" => {
            if allowed.is_empty() {
                return Some(Vec::new());
            }
            (0..THREAT_LOGS)
                .map(|i| {
                    let f = allowed[i % allowed.len()];
                    let (name, sev, sub) = THREATS[i % THREATS.len()];
                    let subtype = if log_type == "url" { "url" } else { sub };
                    let mut e = common(i, "THREAT", subtype);
                    flow_fields(&mut e, i, f);
                    if log_type == "url" {
                        let cat = [
                            "business-and-economy",
                            "computer-and-internet-info",
                            "malware",
                        ][i % 3];
                        let action = if cat == "malware" {
                            "block-url"
                        } else {
                            "alert"
                        };
                        e.extend([
                            ("action", action.to_owned()),
                            ("misc", format!("www{}.example.com/path/{i}", i % 7)),
                            ("category", cat.to_owned()),
                            ("severity", "informational".to_owned()),
                            ("threatid", "(9999)".to_owned()),
                        ]);
                    } else {
                        let action = if sev == "critical" || sev == "high" {
                            "reset-both"
                        } else {
                            "alert"
                        };
                        e.extend([
                            ("action", action.to_owned()),
                            ("threatid", name.to_owned()),
                            ("severity", sev.to_owned()),
                            ("direction", "client-to-server".to_owned()),
                            ("category", sub.to_owned()),
                        ]);
                    }
                    e
                })
                .collect()
        }
        "system" => (0..SYSTEM_LOGS)
            .map(|i| {
                let (event, sev, text) = SYSTEM_EVENTS[i % SYSTEM_EVENTS.len()];
                let mut e = common(i, "SYSTEM", "general");
                e.extend([
                    ("eventid", event.to_owned()),
                    ("severity", sev.to_owned()),
                    ("opaque", text.to_owned()),
                ]);
                e
            })
            .collect(),
        "config" => {
            let rules: Vec<String> = {
                let mut seen = Vec::new();
                for f in &all {
                    if !seen.contains(&f.rule) && !f.rule.ends_with("-default") {
                        seen.push(f.rule.clone());
                    }
                }
                seen
            };
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut e = common(i, "CONFIG", "0");
                    e.extend([
                        ("cmd", "edit".to_owned()),
                        ("admin", "admin".to_owned()),
                        ("client", "Web".to_owned()),
                        ("result", "Succeeded".to_owned()),
                        ("path", format!(" vsys  vsys1 rulebase security rules  {r}")),
                    ]);
                    e
                })
                .collect()
        }
        _ => return None,
    };
    Some(out)
}

// ---- the query filter subset ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(ch) = chars.next() {
                    if ch == '\\' {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    } else if ch == c {
                        closed = true;
                        break;
                    } else {
                        s.push(ch);
                    }
                }
                if !closed {
                    return Err("unterminated quoted value".to_owned());
                }
                out.push(Tok::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: &'static str,
        op: String,
        value: String,
    },
}

/// Filter fields and the log field each one reads.
const FIELDS: [(&str, &str); 28] = [
    ("addr.src", "src"),
    ("addr.dst", "dst"),
    ("addr", "addr"),
    ("port.src", "sport"),
    ("port.dst", "dport"),
    ("zone.src", "from"),
    ("zone.dst", "to"),
    ("user.src", "srcuser"),
    ("app", "app"),
    ("rule", "rule"),
    ("action", "action"),
    ("proto", "proto"),
    ("session_end_reason", "session_end_reason"),
    ("severity", "severity"),
    ("threatid", "threatid"),
    ("subtype", "subtype"),
    ("receive_time", "receive_time"),
    ("time_generated", "time_generated"),
    ("bytes", "bytes"),
    ("packets", "packets"),
    ("category", "category"),
    ("eventid", "eventid"),
    ("cmd", "cmd"),
    ("admin", "admin"),
    ("result", "result"),
    ("device_name", "device_name"),
    ("url", "misc"),
    ("description", "opaque"),
];

const OPS: [&str; 7] = ["eq", "neq", "in", "notin", "geq", "leq", "contains"];

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.is_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }
    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.factor()?;
        while self.is_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }
    fn factor(&mut self) -> Result<Expr, String> {
        if self.is_word("not") || self.is_word("!") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.factor()?)));
        }
        match self.next() {
            Some(Tok::Open) => {
                let e = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err("missing )".to_owned()),
                }
            }
            Some(Tok::Word(f)) => {
                let field = FIELDS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&f))
                    .map(|(_, v)| *v)
                    .ok_or_else(|| format!("Invalid term: {f}"))?;
                let op = match self.next() {
                    Some(Tok::Word(op)) if OPS.contains(&op.to_ascii_lowercase().as_str()) => {
                        op.to_ascii_lowercase()
                    }
                    Some(Tok::Word(op)) => return Err(format!("Invalid operator: {op}")),
                    _ => return Err(format!("missing operator after {f}")),
                };
                let value = match self.next() {
                    Some(Tok::Word(v) | Tok::Quoted(v)) => v,
                    _ => return Err(format!("missing value after {f} {op}")),
                };
                Ok(Expr::Cmp { field, op, value })
            }
            Some(Tok::Quoted(v)) => Err(format!("Invalid term: '{v}'")),
            Some(Tok::Close) => Err("unexpected )".to_owned()),
            None => Err("unexpected end of query".to_owned()),
        }
    }
}

/// A parsed log filter.
#[derive(Debug, Clone)]
pub struct Filter(Option<Expr>);

impl Filter {
    /// Parses the `query` parameter (empty: everything).
    pub fn parse(q: &str) -> Result<Self, String> {
        let toks = tokenize(q)?;
        if toks.is_empty() {
            return Ok(Self(None));
        }
        let mut p = Parser { toks, pos: 0 };
        let e = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(format!("unexpected {t:?} at token {}", p.pos + 1));
        }
        Ok(Self(Some(e)))
    }

    /// Does `entry` pass?
    pub fn accepts(&self, entry: &LogEntry) -> bool {
        self.0.as_ref().is_none_or(|e| eval(e, entry))
    }
}

fn field<'a>(entry: &'a LogEntry, name: &str) -> Option<&'a str> {
    entry
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

fn addr_in(value: &str, spec: &str) -> bool {
    let Ok(ip) = value.parse::<Ipv4Addr>() else {
        return false;
    };
    if let Some((a, b)) = spec.split_once('-') {
        return match (a.trim().parse::<Ipv4Addr>(), b.trim().parse::<Ipv4Addr>()) {
            (Ok(a), Ok(b)) => (u32::from(a)..=u32::from(b)).contains(&u32::from(ip)),
            _ => false,
        };
    }
    parse_cidr(spec).is_some_and(|(net, len)| contains(net, len, ip))
}

fn cmp_one(value: &str, is_addr: bool, op: &str, want: &str) -> bool {
    let num = |s: &str| s.trim().parse::<f64>().ok();
    match op {
        "eq" => {
            if is_addr {
                addr_in(value, want) && !want.contains('/') || value == want
            } else {
                value == want
            }
        }
        "neq" => !cmp_one(value, is_addr, "eq", want),
        "in" => {
            if is_addr {
                addr_in(value, want)
            } else {
                value == want
            }
        }
        "notin" => !cmp_one(value, is_addr, "in", want),
        "contains" => value.contains(want),
        "geq" | "leq" => {
            let ord = match (num(value), num(want)) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ => Some(value.cmp(want)),
            };
            match ord {
                Some(o) if op == "geq" => o.is_ge(),
                Some(o) => o.is_le(),
                None => false,
            }
        }
        _ => false,
    }
}

fn eval(e: &Expr, entry: &LogEntry) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, entry) || eval(b, entry),
        Expr::And(a, b) => eval(a, entry) && eval(b, entry),
        Expr::Not(a) => !eval(a, entry),
        Expr::Cmp {
            field: name,
            op,
            value,
        } => {
            let negative = op == "neq" || op == "notin";
            let names: &[&str] = if *name == "addr" {
                &["src", "dst"]
            } else {
                std::slice::from_ref(name)
            };
            let is_addr = matches!(*name, "src" | "dst" | "addr");
            let mut hits = names
                .iter()
                .filter_map(|n| field(entry, n))
                .map(|v| cmp_one(v, is_addr, op, value));
            if negative {
                hits.all(|h| h)
            } else {
                hits.any(|h| h)
            }
        }
    }
}

// ---- jobs ----

/// A code-400 style error body.
fn error(msg: &str) -> String {
    format!(
        "<response status=\"error\" code=\"400\"><result><msg>{}</msg></result></response>",
        escape_text(msg)
    )
}

impl LogJobs {
    /// Drops every job.
    pub(crate) fn clear(&mut self) {
        self.jobs.clear();
    }

    /// `type=log&log-type=...`: filters and pages now, answers the job id.
    pub(crate) fn submit(
        &mut self,
        id: u64,
        config: &Element,
        p: &BTreeMap<String, String>,
        serial: &str,
        device_name: &str,
    ) -> String {
        let get = |k: &str| p.get(k).map(String::as_str);
        let log_type = get("log-type").unwrap_or_default();
        let nlogs = match get("nlogs").map(str::trim) {
            None | Some("") => 20,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if (1..=5000).contains(&n) => n,
                _ => return error(&format!("Parameter \"nlogs\" is invalid: {n} (1-5000)")),
            },
        };
        let skip = match get("skip").map(str::trim) {
            None | Some("") => 0,
            Some(n) => match n.parse::<usize>() {
                Ok(n) => n,
                _ => return error(&format!("Parameter \"skip\" is invalid: {n}")),
            },
        };
        let filter = match Filter::parse(get("query").unwrap_or_default()) {
            Ok(f) => f,
            Err(e) => {
                return format!(
                    "<response status=\"error\"><msg><line>Invalid query: {}</line></msg></response>",
                    escape_text(&e)
                );
            }
        };
        let Some(all) = generate(config, log_type, serial, device_name) else {
            return error("Parameter \"log-type\" is invalid");
        };
        let entries: Vec<LogEntry> = all
            .into_iter()
            .filter(|e| filter.accepts(e))
            .skip(skip)
            .take(nlogs)
            .collect();
        self.jobs.push(LogJob {
            id,
            enqueued: SystemTime::now(),
            looks: 0,
            entries,
        });
        format!(
            "<response status=\"success\" code=\"19\"><result><msg><line>query job enqueued with jobid {id}</line></msg><job>{id}</job></result></response>"
        )
    }

    fn find(&self, id: &str) -> Option<usize> {
        let n = id.trim().parse::<u64>().ok()?;
        self.jobs.iter().position(|j| j.id == n)
    }

    /// `action=get&job-id=N`.
    pub(crate) fn get(&mut self, id: &str, timing: JobTiming) -> String {
        let Some(i) = self.find(id) else {
            return not_found(id);
        };
        let Some(job) = self.jobs.get_mut(i) else {
            return not_found(id);
        };
        job.looks = job.looks.saturating_add(1);
        let now = SystemTime::now();
        let expired = timing
            .max_age
            .is_some_and(|age| now.duration_since(job.enqueued).is_ok_and(|d| d >= age));
        let fin = job.looks >= timing.polls || expired;
        let enq = format_panos_time(job.enqueued);
        let mut out = format!(
            "<response status=\"success\"><result><job><tenq>{enq}</tenq><tdeq>{}</tdeq><tlast>{}</tlast><status>{}</status><id>{}</id><cached-logs>{}</cached-logs></job><log>",
            enq.split(' ').nth(1).unwrap_or_default(),
            format_panos_time(now),
            if fin { "FIN" } else { "ACT" },
            job.id,
            if fin { job.entries.len() } else { 0 },
        );
        if fin {
            let _ = write!(
                out,
                "<logs count=\"{}\" progress=\"100\">",
                job.entries.len()
            );
            for (k, e) in job.entries.iter().enumerate() {
                let seq = field(e, "seqno").unwrap_or_default();
                let _ = write!(
                    out,
                    "<entry logid=\"{}\">",
                    escape_attr(&format!("{seq}{k:03}"))
                );
                for (name, v) in e {
                    let _ = write!(out, "<{name}>{}</{name}>", escape_text(v));
                }
                out.push_str("</entry>");
            }
            out.push_str("</logs>");
        } else {
            let progress = (job.looks.saturating_mul(100) / timing.polls.max(1)).min(99);
            let _ = write!(out, "<logs count=\"0\" progress=\"{progress}\"/>");
        }
        out.push_str("</log></result></response>");
        out
    }

    /// `action=finish&job-id=N` (or `delete`): drops the job.
    pub(crate) fn finish(&mut self, id: &str) -> String {
        let Some(i) = self.find(id) else {
            return not_found(id);
        };
        let job = self.jobs.remove(i);
        format!(
            "<response status=\"success\"><result>Job {} deleted</result></response>",
            job.id
        )
    }

    /// Number of jobs held (not yet finished by the client).
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }
}

fn not_found(id: &str) -> String {
    format!(
        "<response status=\"error\" code=\"7\"><msg><line>Job {} not found</line></msg></response>",
        escape_text(id.trim())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pairs: &[(&'static str, &str)]) -> LogEntry {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn filter_grammar() {
        let e = entry(&[
            ("src", "10.1.2.3"),
            ("dst", "10.20.0.5"),
            ("dport", "443"),
            ("rule", "allow web"),
            ("action", "deny"),
            ("receive_time", "2026/11/20 12:00:00"),
        ]);
        let ok = |q: &str| Filter::parse(q).expect(q).accepts(&e);
        assert!(ok(""));
        assert!(ok("( addr.src in 10.1.0.0/16 ) and ( port.dst eq 443 )"));
        assert!(!ok("( addr.src notin 10.1.0.0/16 )"));
        assert!(ok("(rule eq 'allow web')"));
        assert!(ok("(action eq allow) or (action eq deny)"));
        assert!(ok("not (action eq allow)"));
        assert!(ok("( receive_time geq '2026/11/20 00:00:00' )"));
        assert!(!ok("( receive_time leq '2026/11/19 00:00:00' )"));
        assert!(ok("(addr eq 10.20.0.5)"));
        assert!(ok("(rule contains web) and not (port.dst neq 443)"));
        assert!(Filter::parse("(bogus eq 1)").is_err());
        assert!(Filter::parse("(app eq x) ; rm").is_err());
        assert!(Filter::parse("(app like x)").is_err());
        assert!(Filter::parse("(app eq 'x)").is_err());
        assert!(Filter::parse("(app eq x").is_err());
    }
}
