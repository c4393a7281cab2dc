//! Dynamic address-group filters: `'web' and ('prod' or 'dmz')`.

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Tag(String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Whether an object with `tags` matches.
    pub fn matches(&self, tags: &[String]) -> bool {
        match self {
            Self::Tag(t) => tags.iter().any(|x| x == t),
            Self::And(a, b) => a.matches(tags) && b.matches(tags),
            Self::Or(a, b) => a.matches(tags) || b.matches(tags),
        }
    }

    /// Every tag the filter names.
    pub fn tags(&self) -> Vec<&str> {
        match self {
            Self::Tag(t) => vec![t.as_str()],
            Self::And(a, b) | Self::Or(a, b) => {
                let mut v = a.tags();
                v.extend(b.tags());
                v
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Tag(String),
    And,
    Or,
    Open,
    Close,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
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
                let tag: String = chars.by_ref().take_while(|&x| x != c).collect();
                out.push(Tok::Tag(tag));
            }
            _ => {
                let word: String = std::iter::from_fn(|| {
                    chars.next_if(|x| {
                        x.is_ascii_alphanumeric() || *x == '-' || *x == '_' || *x == '.'
                    })
                })
                .collect();
                match word.to_ascii_lowercase().as_str() {
                    "and" => out.push(Tok::And),
                    "or" => out.push(Tok::Or),
                    "" => return Err(format!("unexpected character {c:?}")),
                    _ => out.push(Tok::Tag(word)),
                }
            }
        }
    }
    Ok(out)
}

/// The longest filter parsed. `a and b and c …` builds a tree as deep as it is long, and
/// evaluating or dropping the tree recurses that deep: a filter of a few hundred kilobytes
/// from the firewall overflowed the stack and aborted the whole server (found by running
/// the `panos_xml` fuzz target on inputs longer than libFuzzer's default 4 KiB). 4 KiB is
/// far beyond any real filter and keeps the depth under a thousand.
pub const MAX_FILTER_LEN: usize = 4096;

/// Parse a filter; `and` binds tighter than `or`.
pub fn parse(s: &str) -> Result<Expr, String> {
    if s.len() > MAX_FILTER_LEN {
        return Err(format!(
            "the filter is {} bytes long; at most {MAX_FILTER_LEN} are evaluated",
            s.len()
        ));
    }
    let toks = lex(s)?;
    let mut pos = 0;
    let e = or_expr(&toks, &mut pos, 0)?;
    if pos != toks.len() {
        return Err("trailing tokens".into());
    }
    Ok(e)
}

fn or_expr(t: &[Tok], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    let mut left = and_expr(t, pos, depth)?;
    while t.get(*pos) == Some(&Tok::Or) {
        *pos += 1;
        left = Expr::Or(Box::new(left), Box::new(and_expr(t, pos, depth)?));
    }
    Ok(left)
}

fn and_expr(t: &[Tok], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    let mut left = atom(t, pos, depth)?;
    while t.get(*pos) == Some(&Tok::And) {
        *pos += 1;
        left = Expr::And(Box::new(left), Box::new(atom(t, pos, depth)?));
    }
    Ok(left)
}

fn atom(t: &[Tok], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    if depth > 32 {
        return Err("nested too deeply".into());
    }
    match t.get(*pos) {
        Some(Tok::Tag(s)) => {
            *pos += 1;
            Ok(Expr::Tag(s.clone()))
        }
        Some(Tok::Open) => {
            *pos += 1;
            let e = or_expr(t, pos, depth + 1)?;
            if t.get(*pos) != Some(&Tok::Close) {
                return Err("missing `)`".into());
            }
            *pos += 1;
            Ok(e)
        }
        _ => Err("expected a tag".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = parse("'web' and ('prod' or 'dmz')").expect("parse");
        assert!(e.matches(&tags(&["web", "dmz"])));
        assert!(!e.matches(&tags(&["web"])));
        assert!(
            parse("'a' or 'b' and 'c'")
                .expect("parse")
                .matches(&tags(&["a"]))
        );
        assert!(parse("'a' and").is_err());
        assert!(parse("('a'").is_err());
        assert!(parse("'a' 'b'").is_err());
        assert!(parse(&"(".repeat(100)).is_err());
    }

    /// Regression (fuzzing): a long `and` chain overflowed the stack when evaluated or
    /// dropped. Too long is refused; the longest accepted chain is safe on a small stack.
    #[test]
    fn long_chains_are_refused_not_a_stack_overflow() {
        let chain = |n: usize| vec!["a"; n].join(" and ");
        let e = parse(&chain(300_000)).expect_err("too long");
        assert!(e.contains("at most 4096"), "{e}");
        let longest = chain(MAX_FILTER_LEN / 6 + 1);
        assert!(longest.len() <= MAX_FILTER_LEN);
        std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let e = parse(&longest).expect("parses");
                assert!(e.matches(&["a".to_string()]));
                assert!(!e.matches(&[]));
                drop(e);
            })
            .expect("thread")
            .join()
            .expect("no overflow on a 512 KiB stack");
    }

    /// Fully parenthesised, so the tree it parses back to is the one it came from.
    fn render(e: &Expr) -> String {
        match e {
            Expr::Tag(t) => format!("'{t}'"),
            Expr::And(a, b) => format!("({} and {})", render(a), render(b)),
            Expr::Or(a, b) => format!("({} OR {})", render(a), render(b)),
        }
    }

    fn expr() -> impl proptest::strategy::Strategy<Value = Expr> {
        use proptest::prelude::*;
        "[a-zA-Z0-9 _.-]{1,8}"
            .prop_map(Expr::Tag)
            .prop_recursive(6, 32, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(a.into(), b.into())),
                    (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(a.into(), b.into())),
                ]
            })
    }

    proptest::proptest! {
        #[test]
        fn filters_round_trip(e in expr()) {
            proptest::prop_assert_eq!(parse(&render(&e)), Ok(e));
        }

        #[test]
        fn arbitrary_filters_never_panic(s in "[()'\" a-z]{0,60}|\\PC{0,60}") {
            if let Ok(e) = parse(&s) {
                let _ = e.matches(&["a".to_string()]);
            }
        }
    }
}
