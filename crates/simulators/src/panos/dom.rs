//! An owned XML element tree (built from roxmltree) and its serializer.
//!
//! Comments and processing instructions are dropped; whitespace-only text is
//! dropped from elements that have element children (indentation), and kept
//! verbatim everywhere else.

use std::fmt::Write as _;

/// One child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (CDATA sections are merged into text).
    Text(String),
}

/// An XML element with its attributes in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Attributes `(name, value)` in document order.
    pub attrs: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
}

/// Parse failure of an XML document.
#[derive(Debug, thiserror::Error)]
#[error("invalid XML: {0}")]
pub struct ParseError(#[from] roxmltree::Error);

impl Element {
    /// Creates an empty element.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Parses a whole document (DTDs are refused) and returns its root element.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let doc = roxmltree::Document::parse(text)?;
        Ok(Self::from_node(doc.root_element()))
    }

    /// Copies a roxmltree element (and its subtree).
    pub fn from_node(node: roxmltree::Node<'_, '_>) -> Self {
        let mut el = Element::new(node.tag_name().name());
        el.attrs = node
            .attributes()
            .map(|a| (a.name().to_owned(), a.value().to_owned()))
            .collect();
        let has_element_children = node.children().any(|c| c.is_element());
        for child in node.children() {
            if child.is_element() {
                el.children.push(Node::Element(Self::from_node(child)));
            } else if child.is_text() {
                let text = child.text().unwrap_or_default();
                if has_element_children && text.trim().is_empty() {
                    continue;
                }
                // Adjacent text and CDATA nodes are merged.
                if let Some(Node::Text(prev)) = el.children.last_mut() {
                    prev.push_str(text);
                } else {
                    el.children.push(Node::Text(text.to_owned()));
                }
            }
        }
        el
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `name` attribute (the key of `<entry>` elements).
    pub fn name_attr(&self) -> Option<&str> {
        self.attr("name")
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// Follows a chain of child names, taking the first match at each step.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, n| el.child(n))
    }

    /// The first child `<entry name="NAME">` of this element.
    pub fn entry(&self, name: &str) -> Option<&Element> {
        self.elements()
            .find(|e| e.name == "entry" && e.name_attr() == Some(name))
    }

    /// Concatenated direct text content.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            if let Node::Text(t) = c {
                out.push_str(t);
            }
        }
        out
    }

    /// Direct text of child `name`, trimmed.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text().trim().to_owned())
    }

    /// The trimmed text of each `<member>` child of child `name`
    /// (`<source><member>a</member></source>` gives `["a"]`).
    pub fn members(&self, name: &str) -> Vec<String> {
        self.child(name)
            .map(Element::member_texts)
            .unwrap_or_default()
    }

    /// The trimmed text of each `<member>` child of this element.
    pub fn member_texts(&self) -> Vec<String> {
        self.elements()
            .filter(|e| e.name == "member")
            .map(|e| e.text().trim().to_owned())
            .collect()
    }

    /// Serializes this element.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out, &[]);
        out
    }

    /// Appends this element to `out`, with `extra` attributes after its own.
    pub fn write_xml(&self, out: &mut String, extra: &[(&str, &str)]) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in self
            .attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied())
        {
            let _ = write!(out, " {k}=\"{}\"", escape_attr(v));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::Element(e) => e.write_xml(out, &[]),
                Node::Text(t) => out.push_str(&escape_text(t)),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// Escapes character data: `&`, `<` and `>`.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes character data as PAN-OS writes its messages: `&` and `<` only,
/// so `a -> b` stays readable (and `]]>`, which text may not hold).
pub fn escape_message(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace("]]>", "]]&gt;")
}

/// Escapes a double-quoted attribute value, preserving tabs and newlines.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_escaping() {
        let src = "<a x='1 &amp; &quot;2&quot;'>\n  <b>t &lt;&gt; &amp;</b>\n  <c/><!-- c --><d><![CDATA[<raw>]]></d><e> </e>\n</a>";
        let el = Element::parse(src).expect("parses");
        let out = el.to_xml();
        assert_eq!(
            out,
            "<a x=\"1 &amp; &quot;2&quot;\"><b>t &lt;&gt; &amp;</b><c/><d>&lt;raw&gt;</d><e> </e></a>"
        );
        assert_eq!(Element::parse(&out).expect("reparses"), el);
    }

    #[test]
    fn extra_attributes_and_members() {
        let el =
            Element::parse("<r><s><member>a</member><member> b </member></s></r>").expect("parses");
        assert_eq!(el.members("s"), vec!["a", "b"]);
        let mut out = String::new();
        el.write_xml(&mut out, &[("admin", "admin")]);
        assert!(out.starts_with("<r admin=\"admin\">"));
    }
}
