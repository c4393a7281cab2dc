//! The XPath subset the PAN-OS XML API simulator understands.
//!
//! An absolute path of steps separated by `/`; a step is `NAME`,
//! `NAME[@name='VALUE']` or `NAME[@name="VALUE"]`, where NAME is
//! `[A-Za-z0-9_.-]+` and VALUE is any text without the quote that encloses it
//! (so it may contain `/`, as in `ethernet1/1`). A step without a predicate
//! matches every child with that name.

use super::dom::Element;

/// One location step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Element name to match.
    pub name: String,
    /// Required value of the `name` attribute, if any.
    pub name_attr: Option<String>,
}

/// A parsed absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPath {
    /// Steps from the document root.
    pub steps: Vec<Step>,
}

/// Why a path is outside the supported subset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XPathError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, XPathError> {
    Err(XPathError(msg.into()))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl XPath {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, XPathError> {
        if text.is_empty() {
            return err("empty xpath");
        }
        if !text.starts_with('/') {
            return err(format!("'{text}' is not an absolute path"));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let mut steps = Vec::new();
        while i < chars.len() {
            // chars[i] is '/'.
            i += 1;
            let start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            if i == start {
                return match chars.get(i) {
                    None => err("empty step at the end of the path"),
                    Some('/') => err("'//' (descendant axis) is not supported"),
                    Some(c) => err(format!("unexpected '{c}' at offset {i}")),
                };
            }
            let name: String = chars[start..i].iter().collect();
            let mut name_attr = None;
            if chars.get(i) == Some(&'[') {
                i += 1;
                let prefix: Vec<char> = "@name=".chars().collect();
                if chars.get(i..i + prefix.len()) != Some(&prefix[..]) {
                    return err(format!(
                        "unsupported predicate in step '{name}': only [@name='VALUE'] is supported"
                    ));
                }
                i += prefix.len();
                let quote = match chars.get(i) {
                    Some(q @ ('\'' | '"')) => *q,
                    _ => return err(format!("predicate value of step '{name}' must be quoted")),
                };
                i += 1;
                let vstart = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                if i >= chars.len() {
                    return err(format!("unterminated string in step '{name}'"));
                }
                name_attr = Some(chars[vstart..i].iter().collect());
                i += 1;
                if chars.get(i) != Some(&']') {
                    return err(format!("unbalanced brackets in step '{name}'"));
                }
                i += 1;
            }
            match chars.get(i) {
                None | Some('/') => {}
                Some(c) => return err(format!("unexpected '{c}' after step '{name}'")),
            }
            steps.push(Step { name, name_attr });
        }
        Ok(Self { steps })
    }

    /// The elements of the tree rooted at `root` this path selects, in document order.
    pub fn select<'a>(&self, root: &'a Element) -> Vec<&'a Element> {
        let Some((first, rest)) = self.steps.split_first() else {
            return Vec::new();
        };
        let mut current: Vec<&Element> = if first.matches(root) {
            vec![root]
        } else {
            Vec::new()
        };
        for step in rest {
            current = current
                .into_iter()
                .flat_map(|el| el.elements().filter(|c| step.matches(c)))
                .collect();
            if current.is_empty() {
                break;
            }
        }
        current
    }
}

impl Step {
    fn matches(&self, el: &Element) -> bool {
        el.name == self.name
            && self
                .name_attr
                .as_deref()
                .is_none_or(|want| el.name_attr() == Some(want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_forms() {
        let p = XPath::parse("/config/devices/entry[@name='localhost.localdomain']/network/interface/ethernet/entry[@name=\"ethernet1/1\"]")
            .expect("valid");
        assert_eq!(p.steps.len(), 7);
        assert_eq!(
            p.steps[2].name_attr.as_deref(),
            Some("localhost.localdomain")
        );
        assert_eq!(p.steps[6].name_attr.as_deref(), Some("ethernet1/1"));
        let p = XPath::parse("/config/shared/address/entry[@name='it''s']");
        assert!(p.is_err());
        let p = XPath::parse("/a/b[@name='x \"y\" z']").expect("valid");
        assert_eq!(p.steps[1].name_attr.as_deref(), Some("x \"y\" z"));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "config/devices",
            "//entry",
            "/config//entry",
            "/config/",
            "/config/entry[1]",
            "/config/entry[@name='x'",
            "/config/entry[@name='x]",
            "/config/entry[@id='x']",
            "/config/entry[@name=x]",
            "/config/entry]",
            "/config/*",
            "/config/entry[@name='a'][@name='b']",
            "/config/text()",
        ] {
            assert!(XPath::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn selects_in_document_order() {
        let root = Element::parse(
            "<config><a><e name='1'/><e name='2'/></a><a><e name='3'/></a><b><e name='4'/></b></config>",
        )
        .expect("parses");
        let names = |xp: &str| -> Vec<String> {
            XPath::parse(xp)
                .expect("valid")
                .select(&root)
                .iter()
                .filter_map(|e| e.name_attr().map(str::to_owned))
                .collect()
        };
        assert_eq!(names("/config/a/e"), ["1", "2", "3"]);
        assert_eq!(names("/config/a/e[@name='3']"), ["3"]);
        assert!(names("/other/a/e").is_empty());
        assert!(names("/config/c").is_empty());
    }
}
