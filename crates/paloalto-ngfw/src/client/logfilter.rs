//! The PAN-OS log filter subset `query_logs` accepts, checked before anything is sent and
//! re-written from the parsed terms, so that nothing else reaches the device.
//!
//! Grammar: `expr := term ("or" term)*`, `term := factor ("and" factor)*`,
//! `factor := "not" factor | "!" factor | "(" expr ")" | FIELD OP VALUE`; `OP` is one of
//! `eq neq in notin geq leq contains`; a value is a bare word of letters, digits and
//! `. _ : / @ -`, or quoted with `'` (printable characters, `\'` for a quote).

use std::fmt::Write as _;

/// Fields a filter may name (PAN-OS's log filter attributes for the supported log types).
pub const FIELDS: &[&str] = &[
    "addr",
    "addr.src",
    "addr.dst",
    "port.src",
    "port.dst",
    "zone.src",
    "zone.dst",
    "user.src",
    "user.dst",
    "app",
    "rule",
    "action",
    "proto",
    "session_end_reason",
    "severity",
    "threatid",
    "subtype",
    "receive_time",
    "time_generated",
    "bytes",
    "bytes_sent",
    "bytes_received",
    "packets",
    "category",
    "eventid",
    "cmd",
    "admin",
    "result",
    "device_name",
    "serial",
    "vsys",
    "url",
    "description",
    "direction",
    "sessionid",
];

/// The operators.
pub const OPERATORS: &[&str] = &["eq", "neq", "in", "notin", "geq", "leq", "contains"];

const MAX_LEN: usize = 2048;
const MAX_TERMS: usize = 64;
const MAX_DEPTH: usize = 16;
const MAX_VALUE: usize = 256;

/// Why a filter was refused; always names the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

impl Tok {
    fn shown(&self) -> String {
        match self {
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => format!("'{q}'"),
        }
    }
}

fn bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@' | '-' | '!')
}

fn excerpt(s: &str) -> String {
    mcp_core::validate::excerpt(s, 40)
}

fn tokenize(q: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                let start = i;
                i += 1;
                let mut s = String::new();
                let mut closed = false;
                while let Some(&ch) = chars.get(i) {
                    i += 1;
                    match ch {
                        '\\' => match chars.get(i) {
                            Some(&n @ ('\'' | '\\')) => {
                                s.push(n);
                                i += 1;
                            }
                            _ => {
                                return Err(FilterError(format!(
                                    "a `\\` in a quoted value must escape `'` or `\\` (at character {})",
                                    i
                                )));
                            }
                        },
                        '\'' => {
                            closed = true;
                            break;
                        }
                        ch if ch.is_control() || !(ch == ' ' || ch.is_ascii_graphic()) => {
                            return Err(FilterError(format!(
                                "the quoted value starting at character {} holds {:?}, which is not a printable ASCII character",
                                start + 1,
                                ch
                            )));
                        }
                        ch => s.push(ch),
                    }
                }
                if !closed {
                    return Err(FilterError(format!(
                        "the quoted value starting at character {} is not closed with `'`",
                        start + 1
                    )));
                }
                out.push(Tok::Quoted(s));
            }
            c if bare_char(c) => {
                let mut s = String::new();
                while let Some(&ch) = chars.get(i) {
                    if !bare_char(ch) {
                        break;
                    }
                    s.push(ch);
                    i += 1;
                }
                out.push(Tok::Word(s));
            }
            other => {
                return Err(FilterError(format!(
                    "unexpected character {other:?} at character {} (a filter is terms `( FIELD OP VALUE )` joined by and/or/not; quote values with `'`)",
                    i + 1
                )));
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
    Term {
        field: &'static str,
        op: &'static str,
        value: String,
    },
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let mut left = self.term(depth)?;
        while self.is_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.term(depth)?));
        }
        Ok(left)
    }
    fn term(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut left = self.factor(depth)?;
        while self.is_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.factor(depth)?));
        }
        Ok(left)
    }
    fn factor(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if self.is_word("not") || self.is_word("!") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.factor(depth + 1)?)));
        }
        let tok = self.peek().cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Open) => {
                let e = self.expr(depth + 1)?;
                match self.peek().cloned() {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    Some(t) => Err(FilterError(format!(
                        "expected `)` but found `{}`",
                        excerpt(&t.shown())
                    ))),
                    None => Err(FilterError("a `(` is not closed".into())),
                }
            }
            Some(Tok::Word(f)) => {
                let field = FIELDS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(&f))
                    .copied()
                    .ok_or_else(|| {
                        FilterError(format!(
                            "unknown field `{}`; the fields are {}",
                            excerpt(&f),
                            FIELDS.join(", ")
                        ))
                    })?;
                let op = match self.peek().cloned() {
                    Some(Tok::Word(op)) => OPERATORS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(&op))
                        .copied()
                        .ok_or_else(|| {
                            FilterError(format!(
                                "unknown operator `{}` after `{field}`; the operators are {}",
                                excerpt(&op),
                                OPERATORS.join(" ")
                            ))
                        })?,
                    Some(t) => {
                        return Err(FilterError(format!(
                            "expected an operator after `{field}` but found `{}`",
                            excerpt(&t.shown())
                        )));
                    }
                    None => {
                        return Err(FilterError(format!(
                            "the filter ends after `{field}`; expected an operator"
                        )));
                    }
                };
                self.pos += 1;
                let value = match self.peek().cloned() {
                    Some(Tok::Word(v))
                        if !["and", "or", "not"].contains(&v.to_ascii_lowercase().as_str()) =>
                    {
                        v
                    }
                    Some(Tok::Quoted(v)) => v,
                    Some(t) => {
                        return Err(FilterError(format!(
                            "expected a value after `{field} {op}` but found `{}`",
                            excerpt(&t.shown())
                        )));
                    }
                    None => {
                        return Err(FilterError(format!(
                            "the filter ends after `{field} {op}`; expected a value"
                        )));
                    }
                };
                self.pos += 1;
                if value.is_empty() || value.len() > MAX_VALUE {
                    return Err(FilterError(format!(
                        "the value of `{field} {op}` must be 1-{MAX_VALUE} characters"
                    )));
                }
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return Err(FilterError(format!(
                        "the filter has more than {MAX_TERMS} terms"
                    )));
                }
                Ok(Expr::Term { field, op, value })
            }
            Some(t) => Err(FilterError(format!(
                "unexpected `{}`; expected a field, `(` or `not`",
                excerpt(&t.shown())
            ))),
            None => Err(FilterError(
                "the filter ends where a term was expected".into(),
            )),
        }
    }
}

fn write_expr(e: &Expr, out: &mut String) {
    match e {
        Expr::Or(a, b) => {
            out.push('(');
            write_expr(a, out);
            out.push_str(" or ");
            write_expr(b, out);
            out.push(')');
        }
        Expr::And(a, b) => {
            out.push('(');
            write_expr(a, out);
            out.push_str(" and ");
            write_expr(b, out);
            out.push(')');
        }
        Expr::Not(a) => {
            out.push_str("not ");
            write_expr(a, out);
        }
        Expr::Term { field, op, value } => {
            let bare = value.chars().all(bare_char) && !value.starts_with('!');
            if bare {
                let _ = write!(out, "( {field} {op} {value} )");
            } else {
                let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
                let _ = write!(out, "( {field} {op} '{quoted}' )");
            }
        }
    }
}

/// Checks `query` and answers it re-written from its parsed terms (`None` when it is
/// empty).
pub fn check(query: &str) -> Result<Option<String>, FilterError> {
    if query.len() > MAX_LEN {
        return Err(FilterError(format!(
            "the filter is longer than {MAX_LEN} characters"
        )));
    }
    let toks = tokenize(query)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        terms: 0,
    };
    let e = p.expr(0)?;
    if let Some(t) = p.peek() {
        return Err(FilterError(format!(
            "unexpected `{}` after a complete filter; join terms with and/or",
            excerpt(&t.shown())
        )));
    }
    let mut out = String::new();
    write_expr(&e, &mut out);
    Ok(Some(out))
}

/// `YYYY/MM/DD HH:MM:SS` from that form or from RFC 3339 (`2026-11-20T10:00:00Z`; an
/// offset other than Z/+00:00 is refused, PAN-OS compares in the device's time).
pub fn log_time(value: &str) -> Option<String> {
    let v = value.trim();
    let (date, time) = v.split_once([' ', 'T'])?;
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))
        .unwrap_or(time);
    let d: Vec<&str> = date.split(['/', '-']).collect();
    let t: Vec<&str> = time.split(':').collect();
    let [y, mo, da] = d.as_slice() else {
        return None;
    };
    let [h, mi, se] = t.as_slice() else {
        return None;
    };
    let num = |s: &str, len: usize, max: u32| -> Option<u32> {
        (s.len() == len && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let (y, mo, da) = (num(y, 4, 9999)?, num(mo, 2, 12)?, num(da, 2, 31)?);
    let (h, mi, se) = (num(h, 2, 23)?, num(mi, 2, 59)?, num(se, 2, 59)?);
    if mo == 0 || da == 0 {
        return None;
    }
    Some(format!("{y:04}/{mo:02}/{da:02} {h:02}:{mi:02}:{se:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_filters_are_rewritten() {
        assert_eq!(check("").expect("ok"), None);
        assert_eq!(
            check("(addr.src in 10.0.0.0/8) and (port.dst eq 443)")
                .expect("ok")
                .as_deref(),
            Some("(( addr.src in 10.0.0.0/8 ) and ( port.dst eq 443 ))")
        );
        assert_eq!(
            check("( rule eq 'allow web' ) or not (action eq deny)")
                .expect("ok")
                .as_deref(),
            Some("(( rule eq 'allow web' ) or not ( action eq deny ))")
        );
        assert_eq!(
            check("(rule eq 'it\\'s')").expect("ok").as_deref(),
            Some("( rule eq 'it\\'s' )")
        );
        assert!(check("( receive_time geq '2026/11/20 00:00:00' )").is_ok());
        assert!(check("(app contains ssl) AND (severity neq low)").is_ok());
    }

    #[test]
    fn refusals_name_the_token() {
        let e = |q: &str| check(q).expect_err(q).0;
        assert!(e("(bogus eq 1)").contains("`bogus`"));
        assert!(e("(app like x)").contains("`like`"));
        assert!(e("(app eq x) ; rm -rf").contains("';'"));
        assert!(e("(app eq x) (app eq y)").contains("`(`"));
        assert!(e("(app eq 'x)").contains("not closed"));
        assert!(e("(app eq x").contains("not closed"));
        assert!(e("(app eq x))").contains("`)`"));
        assert!(e("(app eq)").contains("`)`"));
        assert!(e("(app eq 'a\u{202e}b')").contains("printable"));
        assert!(e("(app eq x]]><x/>)").contains("']'"));
        assert!(e("(app eq x) and").contains("ends"));
        assert!(e(&"(".repeat(40)).contains("deeper"));
        assert!(e("(app eq x) or ".repeat(70).trim_end_matches(" or ")).contains("terms"));
    }

    #[test]
    fn times() {
        assert_eq!(
            log_time("2026/11/20 10:00:00").as_deref(),
            Some("2026/11/20 10:00:00")
        );
        assert_eq!(
            log_time("2026-11-20T10:00:00Z").as_deref(),
            Some("2026/11/20 10:00:00")
        );
        assert_eq!(log_time("2026-11-20T10:00:00+02:00"), None);
        assert_eq!(log_time("2026-13-20T10:00:00Z"), None);
        assert_eq!(log_time("yesterday"), None);
        assert_eq!(log_time("2026/11/20 10:00:00' or 1"), None);
    }
}
