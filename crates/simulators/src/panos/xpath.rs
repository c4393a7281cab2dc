//! The XPath subset the PAN-OS XML API simulator understands.
//!
//! An absolute path of steps separated by `/`; a step is `NAME`,
//! `NAME[@name='VALUE']`, `NAME[@name="VALUE"]` or `NAME[text()='VALUE']`
//! (the last selects one `<member>` of a list), where NAME is
//! `[A-Za-z0-9_.-]+` and VALUE is any text without the quote that encloses it
//! (so it may contain `/`, as in `ethernet1/1`). A step without a predicate
//! matches every child with that name.

use std::fmt;

use super::dom::Element;

/// One location step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Element name to match.
    pub name: String,
    /// Required value of the `name` attribute, if any.
    pub name_attr: Option<String>,
    /// Required (trimmed) text content, from `[text()='VALUE']`.
    pub text: Option<String>,
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
            let mut text = None;
            if chars.get(i) == Some(&'[') {
                i += 1;
                let by_name: Vec<char> = "@name=".chars().collect();
                let by_text: Vec<char> = "text()=".chars().collect();
                let is_text = if chars.get(i..i + by_name.len()) == Some(&by_name[..]) {
                    i += by_name.len();
                    false
                } else if chars.get(i..i + by_text.len()) == Some(&by_text[..]) {
                    i += by_text.len();
                    true
                } else {
                    return err(format!(
                        "unsupported predicate in step '{name}': only [@name='VALUE'] and [text()='VALUE'] are supported"
                    ));
                };
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
                let value: String = chars[vstart..i].iter().collect();
                if is_text {
                    text = Some(value);
                } else {
                    name_attr = Some(value);
                }
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
            steps.push(Step {
                name,
                name_attr,
                text,
            });
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

impl XPath {
    /// The path of the parent node (`None` for the root or an empty path).
    pub fn parent(&self) -> Option<XPath> {
        (self.steps.len() > 1).then(|| XPath {
            steps: self.steps[..self.steps.len() - 1].to_vec(),
        })
    }

    /// This path with one more step.
    pub fn child(&self, step: Step) -> XPath {
        let mut steps = self.steps.clone();
        steps.push(step);
        XPath { steps }
    }

    /// The last step.
    pub fn last(&self) -> Option<&Step> {
        self.steps.last()
    }
}

impl Step {
    /// Does `el` match this step?
    pub fn matches(&self, el: &Element) -> bool {
        el.name == self.name
            && self
                .name_attr
                .as_deref()
                .is_none_or(|want| el.name_attr() == Some(want))
            && self
                .text
                .as_deref()
                .is_none_or(|want| el.text().trim() == want)
    }

    /// The step that selects exactly `el` among its siblings: its name, its
    /// `name` attribute when it has one, and its text when it is a `<member>`.
    pub fn of(el: &Element) -> Step {
        let name_attr = el.name_attr().map(str::to_owned);
        let text =
            (name_attr.is_none() && el.name == "member").then(|| el.text().trim().to_owned());
        Step {
            name: el.name.clone(),
            name_attr,
            text,
        }
    }
}

fn quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if value.contains('\'') {
        write!(f, "\"{value}\"")
    } else {
        write!(f, "'{value}'")
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.name_attr {
            f.write_str("[@name=")?;
            quoted(f, v)?;
            f.write_str("]")?;
        }
        if let Some(v) = &self.text {
            f.write_str("[text()=")?;
            quoted(f, v)?;
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl fmt::Display for XPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            write!(f, "/{step}")?;
        }
        Ok(())
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
    fn text_predicates_and_display() {
        let src = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name=\"it's\"]/address-group/entry[@name='g']/static/member[text()='web-srv-01']";
        let p = XPath::parse(src).expect("valid");
        assert_eq!(p.steps[8].text.as_deref(), Some("web-srv-01"));
        assert_eq!(p.steps[8].name_attr, None);
        assert_eq!(p.to_string(), src);
        let root = Element::parse("<config><g><member>a</member><member> b </member></g></config>")
            .expect("parses");
        let sel = XPath::parse("/config/g/member[text()='b']").expect("valid");
        assert_eq!(sel.select(&root).len(), 1);
        assert_eq!(
            p.parent().map(|x| x.to_string()).as_deref(),
            src.strip_suffix("/member[text()='web-srv-01']")
        );
        assert!(XPath::parse("/config").expect("valid").parent().is_none());
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
