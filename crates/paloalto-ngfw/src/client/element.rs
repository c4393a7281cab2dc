//! XML built from validated parts: element names are static (chosen here, never by the caller),
//! every text and attribute value is escaped. Configuration elements, op commands and commit
//! commands are all written with [`Xml`]; nothing is pasted from input.
//!
//! [`copy_node`] writes back a node that PAN-OS itself returned (the children of an entry this
//! server does not manage), re-escaping every text and dropping the candidate's bookkeeping
//! attributes, so an update keeps what it does not change.

use roxmltree::Node;

/// Escape text for an element body.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escape text for a double-quoted attribute value.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Attributes the candidate configuration adds to changed nodes (who changed them, when):
/// bookkeeping, not configuration. Never sent back, never compared.
pub const VOLATILE_ATTRS: [&str; 3] = ["admin", "dirtyId", "time"];

/// An XML writer whose element names are `&'static str`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Self {
        Self(String::new())
    }

    /// `<tag>`
    pub fn open(&mut self, tag: &'static str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// `<tag name="NAME">`
    pub fn open_named(&mut self, tag: &'static str, name: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push_str(" name=\"");
        self.0.push_str(&escape_attr(name));
        self.0.push_str("\">");
        self
    }

    /// `<entry name="NAME" ...>` with the attributes of `like` (an entry PAN-OS returned) other
    /// than its name and the [`VOLATILE_ATTRS`].
    pub fn open_entry(&mut self, name: &str, like: Option<Node<'_, '_>>) -> &mut Self {
        self.0.push_str("<entry name=\"");
        self.0.push_str(&escape_attr(name));
        self.0.push('"');
        if let Some(n) = like {
            for a in n.attributes() {
                if a.name() == "name" || VOLATILE_ATTRS.contains(&a.name()) {
                    continue;
                }
                push_attr(&mut self.0, a.name(), a.value());
            }
        }
        self.0.push('>');
        self
    }

    /// `</tag>`
    pub fn close(&mut self, tag: &'static str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// `<tag/>`
    pub fn empty(&mut self, tag: &'static str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push_str("/>");
        self
    }

    /// `<tag name="NAME"/>`
    pub fn empty_named(&mut self, tag: &'static str, name: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push_str(" name=\"");
        self.0.push_str(&escape_attr(name));
        self.0.push_str("\"/>");
        self
    }

    /// `<tag>TEXT</tag>`
    pub fn text(&mut self, tag: &'static str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape_text(text));
        self.close(tag)
    }

    /// `<tag><member>A</member>...</tag>`
    pub fn members<S: AsRef<str>>(&mut self, tag: &'static str, members: &[S]) -> &mut Self {
        self.open(tag);
        for m in members {
            self.text("member", m.as_ref());
        }
        self.close(tag)
    }

    /// Append XML that another [`Xml`] wrote.
    pub fn append(&mut self, other: &Xml) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Xml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(&escape_attr(value));
    out.push('"');
}

/// Write `node` (an element PAN-OS returned) back as XML: its name as parsed, every attribute
/// but the [`VOLATILE_ATTRS`] and `skip_attr`, every text re-escaped, comments and processing
/// instructions dropped.
pub fn copy_node(out: &mut Xml, node: Node<'_, '_>) {
    copy_with(out, node, &[]);
}

/// [`copy_node`], leaving out the attributes named in `skip`.
pub fn copy_with(out: &mut Xml, node: Node<'_, '_>, skip: &[&str]) {
    if node.is_text() {
        if let Some(t) = node.text() {
            out.0.push_str(&escape_text(t));
        }
        return;
    }
    if !node.is_element() {
        return;
    }
    let name = node.tag_name().name();
    out.0.push('<');
    out.0.push_str(name);
    for a in node.attributes() {
        if VOLATILE_ATTRS.contains(&a.name()) || skip.contains(&a.name()) {
            continue;
        }
        push_attr(&mut out.0, a.name(), a.value());
    }
    if !node.has_children() {
        out.0.push_str("/>");
        return;
    }
    out.0.push('>');
    // Whitespace-only text between child elements is layout, not content.
    let has_elements = node.children().any(|c| c.is_element());
    for c in node.children() {
        if has_elements && c.is_text() && c.text().is_some_and(|t| t.trim().is_empty()) {
            continue;
        }
        copy_with(out, c, &[]);
    }
    out.0.push_str("</");
    out.0.push_str(name);
    out.0.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut x = Xml::new();
        x.open_named("entry", "a\"b'<c>&")
            .text("description", "</description><x>&amp;")
            .members("tag", &["t<1>"])
            .close("entry");
        assert_eq!(
            x.as_str(),
            "<entry name=\"a&quot;b&apos;&lt;c&gt;&amp;\"><description>&lt;/description&gt;&lt;x&gt;&amp;amp;</description><tag><member>t&lt;1&gt;</member></tag></entry>"
        );
        let parsed = roxmltree::Document::parse(x.as_str()).expect("well-formed");
        let root = parsed.root_element();
        assert_eq!(root.attribute("name"), Some("a\"b'<c>&"));
        assert_eq!(
            root.first_element_child().and_then(|d| d.text()),
            Some("</description><x>&amp;")
        );
    }

    #[test]
    fn copies_drop_bookkeeping_and_re_escape() {
        let src = "<entry name=\"r\" uuid=\"u-1\" admin=\"bob\" dirtyId=\"3\" time=\"t\">\n  <hip-profiles>\n    <member>any</member>\n  </hip-profiles>\n  <description>a &amp; &lt;b&gt;</description><!-- c --><option/></entry>";
        let doc = roxmltree::Document::parse(src).expect("xml");
        let mut out = Xml::new();
        copy_node(&mut out, doc.root_element());
        assert_eq!(
            out.as_str(),
            "<entry name=\"r\" uuid=\"u-1\"><hip-profiles><member>any</member></hip-profiles><description>a &amp; &lt;b&gt;</description><option/></entry>"
        );
    }
}
