//! Names, identifiers and free text.

use crate::error::ToolError;

/// Rules for a name or identifier that will be placed into an upstream query.
#[derive(Debug, Clone, Copy)]
pub struct NameRules {
    pub min_len: usize,
    pub max_len: usize,
    /// Extra characters allowed besides ASCII letters and digits.
    pub extra: &'static str,
    /// Whether a space is allowed (never at the start or end).
    pub spaces: bool,
}

impl NameRules {
    /// PAN-OS object names: letters, digits, `_ - .` and spaces, 63 characters.
    pub const PANOS_OBJECT: Self = Self {
        min_len: 1,
        max_len: 63,
        extra: "_-.",
        spaces: true,
    };
    /// A plain identifier: letters, digits, `_ - .`, 128 characters.
    pub const IDENTIFIER: Self = Self {
        min_len: 1,
        max_len: 128,
        extra: "_-.",
        spaces: false,
    };
}

/// Check that `value` is a safe name under `rules`.
pub fn name<'a>(field: &str, value: &'a str, rules: NameRules) -> Result<&'a str, ToolError> {
    check_no_control(field, value)?;
    let n = value.chars().count();
    if n < rules.min_len {
        return Err(ToolError::invalid(field, "must not be empty"));
    }
    if n > rules.max_len {
        return Err(ToolError::invalid(
            field,
            format!("is {n} characters long; the limit is {}", rules.max_len),
        ));
    }
    if let Some(bad) = value.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || rules.extra.contains(*c) || (rules.spaces && *c == ' '))
    }) {
        let allowed = if rules.spaces {
            "letters, digits, spaces and"
        } else {
            "letters, digits and"
        };
        return Err(ToolError::invalid(
            field,
            format!(
                "contains {}; only ASCII {allowed} `{}` are allowed",
                describe_char(bad),
                rules.extra
            ),
        ));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(ToolError::invalid(
            field,
            "must not start or end with a space",
        ));
    }
    Ok(value)
}

/// Reject NUL and other control characters (newlines included).
pub fn check_no_control(field: &str, value: &str) -> Result<(), ToolError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(ToolError::invalid(
            field,
            format!("contains the control character {}", describe_char(c)),
        ));
    }
    Ok(())
}

/// Check a length in characters.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), ToolError> {
    let n = value.chars().count();
    if n > max {
        return Err(ToolError::invalid(
            field,
            format!("is {n} characters long; the limit is {max}"),
        ));
    }
    Ok(())
}

/// Check a list's size.
pub fn bounded_list<T>(field: &str, items: &[T], min: usize, max: usize) -> Result<(), ToolError> {
    if items.len() < min {
        return Err(ToolError::invalid(
            field,
            format!("needs at least {min} item(s)"),
        ));
    }
    if items.len() > max {
        return Err(ToolError::invalid(
            field,
            format!("has {} items; the limit is {max}", items.len()),
        ));
    }
    Ok(())
}

/// Characters an error message never shows raw: control characters, line and paragraph
/// separators, zero-width characters, bidirectional overrides and isolates, the BOM. Shown
/// raw they could forge lines or reorder the text a person reads.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A short, printable copy of untrusted input for an error message: at most `max` characters,
/// hidden characters escaped (`\n`, `\0`, `\u{1b}`, `\u{202e}`), `…` when cut. Echoing raw
/// input would let a value smuggle newlines, terminal escapes or bidi overrides into the tool
/// result and the logs.
pub fn excerpt(value: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in value.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else if is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// How a refused character is named in an error: control characters by code point.
pub fn describe_char(c: char) -> String {
    match c {
        '\0' => "a NUL byte".into(),
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        c if c.is_control() => format!("U+{:04X}", c as u32),
        c if is_hidden(c) => format!("U+{:04X} (an invisible character)", c as u32),
        c if c.is_ascii() => format!("`{c}`"),
        c => format!("`{c}` (U+{:04X}, not ASCII)", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_injection_and_confusables() {
        let r = NameRules::PANOS_OBJECT;
        assert!(name("name", "web-srv_01.prod", r).is_ok());
        assert!(name("name", "DMZ web", r).is_ok());
        for bad in [
            "a'b",
            "a\"b",
            "a]b",
            "a[b",
            "a/b",
            "a\nb",
            "a\0b",
            "",
            " a",
            "а",
            "x".repeat(64).as_str(),
        ] {
            let e = name("name", bad, r).expect_err(bad);
            assert_eq!(e.field(), Some("name"), "{bad}");
        }
        let e = name("name", "аdmin", r).expect_err("cyrillic");
        assert!(e.to_string().contains("U+0430"), "{e}");
        let e = name("vmid", "a b", NameRules::IDENTIFIER).expect_err("space");
        assert!(e.to_string().contains("`vmid`"));
    }

    #[test]
    fn lists_and_lengths() {
        assert!(bounded_list("ids", &[1, 2], 1, 5).is_ok());
        assert!(bounded_list::<u8>("ids", &[], 1, 5).is_err());
        assert!(
            bounded_list("ids", &[0; 6], 1, 5)
                .expect_err("big")
                .to_string()
                .contains("6 items")
        );
        assert!(check_len("p", "abcd", 3).is_err());
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("us-east-1", 40), "us-east-1");
        assert_eq!(excerpt("a\nb\0c\u{1b}[31m", 40), "a\\nb\\0c\\u{1b}[31m");
        assert_eq!(excerpt(&"x".repeat(50), 4), "xxxx…");
        assert_eq!(excerpt("日本語", 2), "日本…");
        assert_eq!(describe_char('\u{7}'), "U+0007");
        assert_eq!(excerpt("a\u{202e}b\u{2028}", 40), "a\\u{202e}b\\u{2028}");
        assert_eq!(describe_char('\u{202e}'), "U+202E (an invisible character)");
    }

    proptest::proptest! {
        /// An excerpt never carries a control character and never grows past max + 1 + escapes.
        #[test]
        fn excerpts_hold_no_control_characters(s in "\\PC{0,60}|[\\x00-\\x1f a-z\u{2028}\u{202e}\u{200b}]{0,60}") {
            let e = excerpt(&s, 40);
            proptest::prop_assert!(!e.chars().any(is_hidden));
        }

        /// An accepted name holds only the allowed characters, within the length limits.
        #[test]
        fn accepted_names_keep_the_rules(s in "[a-zA-Z0-9 _.:'/\\[\\]-]{0,70}|\\PC{0,70}", spaces: bool) {
            let rules = NameRules { spaces, ..NameRules::PANOS_OBJECT };
            if let Ok(v) = name("name", &s, rules) {
                let n = v.chars().count();
                proptest::prop_assert!((rules.min_len..=rules.max_len).contains(&n));
                proptest::prop_assert!(v.chars().all(|c| c.is_ascii_alphanumeric()
                    || rules.extra.contains(c)
                    || (spaces && c == ' ')));
                proptest::prop_assert!(!v.starts_with(' ') && !v.ends_with(' '));
            }
            if check_no_control("f", &s).is_ok() {
                proptest::prop_assert!(!s.chars().any(char::is_control));
            }
        }
    }
}
