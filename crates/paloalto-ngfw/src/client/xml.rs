//! PAN-OS XML API response envelopes.
//!
//! Every envelope in the wild is handled: `status="error"` with HTTP 200 or 403; the message
//! in `<msg><line>` (several lines, CDATA) or in `<result><msg>`, or absent; single or double
//! quotes with spaces around `=`; a self-closing `<response/>`; and `code="7"` on a read,
//! which is an empty result rather than an error.

use std::sync::Arc;

use roxmltree::{Document, Node};
use yoke::{Yoke, Yokeable};

/// What PAN-OS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope<R = String> {
    /// `status="success"`, with the inner XML of `<result>` (None for an empty read, code 7).
    Success {
        code: Option<u16>,
        result: Option<R>,
    },
    /// `status="error"`.
    Error { code: Option<u16>, message: String },
}

/// The body is not a PAN-OS response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAnEnvelope(pub String);

/// Parse a response body.
pub fn parse_envelope(body: &str) -> Result<Envelope, NotAnEnvelope> {
    let doc = Document::parse(body.trim())
        .map_err(|e| NotAnEnvelope(format!("the response is not valid XML ({e})")))?;
    Ok(envelope_of(&doc)?.map_result(|r| inner_xml(body, r)))
}

/// A `<result>` parsed once and kept with its text: what the read cache holds, so that a
/// cache hit parses nothing and a miss parses the response once.
pub struct ParsedResult(Yoke<Doc<'static>, Arc<str>>);

/// A parsed document borrowing its text (the yoke of [`ParsedResult`]).
#[derive(Yokeable)]
struct Doc<'a>(Document<'a>);

impl std::fmt::Debug for ParsedResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ParsedResult").finish_non_exhaustive()
    }
}

impl ParsedResult {
    /// A response body: its envelope, and the `<result>` when PAN-OS said success with one
    /// (`Ok(None)`: success with nothing there, as [`parse_envelope`] says).
    pub fn from_body(body: &str) -> Result<Envelope<Self>, NotAnEnvelope> {
        let parsed = Self::parse(body.trim().into())
            .map_err(|e| NotAnEnvelope(format!("the response is not valid XML ({e})")))?;
        // The envelope's `<result>` node borrows the document; `result()` finds it again.
        let envelope = envelope_of(&parsed.0.get().0)?.map_result(|_| ());
        Ok(envelope.map_result(|()| parsed))
    }

    /// The inner XML of a `<result>` (as [`parse_envelope`] gives it), parsed.
    pub fn from_inner(inner: &str) -> Result<Self, String> {
        Self::parse(format!("<result>{inner}</result>").into())
            .map_err(|e| format!("unparseable result: {e}"))
    }

    /// `text` parsed, kept with the document that borrows it.
    fn parse(text: Arc<str>) -> Result<Self, roxmltree::Error> {
        Yoke::try_attach_to_cart(text, |t: &str| Document::parse(t).map(Doc)).map(Self)
    }

    /// The `<result>` element.
    pub fn result(&self) -> Node<'_, '_> {
        let root = self.0.get().0.root_element();
        if root.has_tag_name("result") {
            root
        } else {
            child(root, "result").unwrap_or(root)
        }
    }

    /// The inner XML of the `<result>` element.
    pub fn inner_xml(&self) -> String {
        inner_xml(self.0.backing_cart(), self.result())
    }
}

impl<R> Envelope<R> {
    fn map_result<S>(self, f: impl FnOnce(R) -> S) -> Envelope<S> {
        match self {
            Envelope::Success { code, result } => Envelope::Success {
                code,
                result: result.map(f),
            },
            Envelope::Error { code, message } => Envelope::Error { code, message },
        }
    }
}

/// The envelope of a parsed response, the `<result>` element as a node.
fn envelope_of<'a, 'i>(doc: &'a Document<'i>) -> Result<Envelope<Node<'a, 'i>>, NotAnEnvelope> {
    let root = doc.root_element();
    if root.tag_name().name() != "response" {
        return Err(NotAnEnvelope(format!(
            "expected a <response> element, got <{}>",
            root.tag_name().name()
        )));
    }
    let code = root
        .attribute("code")
        .and_then(|c| c.trim().parse::<u16>().ok());
    match root.attribute("status").map(str::trim) {
        Some("success") => {
            let result = child(root, "result");
            let empty = code == Some(7) || result.is_none_or(|r| !r.has_children());
            Ok(Envelope::Success {
                code,
                result: if empty { None } else { result },
            })
        }
        Some("error") => Ok(Envelope::Error {
            code,
            message: error_message(root),
        }),
        other => Err(NotAnEnvelope(format!("unknown response status {other:?}"))),
    }
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The text of `<msg><line>…</line></msg>` (lines joined), `<result><msg>`, or `<msg>`.
fn error_message(root: Node<'_, '_>) -> String {
    let msg = child(root, "msg").or_else(|| child(root, "result").and_then(|r| child(r, "msg")));
    let Some(msg) = msg else { return String::new() };
    let lines: Vec<String> = msg
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "line")
        .map(all_text)
        .filter(|t| !t.is_empty())
        .collect();
    if lines.is_empty() {
        all_text(msg)
    } else {
        lines.join("; ")
    }
}

/// All text below a node (CDATA included), whitespace collapsed.
pub fn all_text(n: Node<'_, '_>) -> String {
    let raw: String = n
        .descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect();
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn inner_xml(body: &str, node: Node<'_, '_>) -> String {
    let trimmed = body.trim();
    let mut out = String::new();
    for c in node.children() {
        out.push_str(&trimmed[c.range()]);
    }
    out
}

/// The meaning of a PAN-OS API error code, for messages.
pub fn code_label(code: u16) -> &'static str {
    match code {
        1 => "unknown command",
        2..=5 | 11 | 21 => "internal error",
        6 => "bad XPath",
        7 => "object not present",
        8 => "object not unique",
        10 => "reference count not zero",
        12 => "invalid object",
        14 => "operation not possible",
        15 => "operation denied",
        16 => "unauthorized",
        17 => "invalid command",
        18 => "malformed command",
        22 => "session timed out",
        400 => "bad request",
        403 => "forbidden",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_result_reads_as_the_inner_xml_does() {
        let bodies = [
            "<response status=\"success\"><result><key>abc</key></result></response>",
            "  <response status='success' code='19'>\n<result total-count=\"2\" count=\"2\">\n  <entry name=\"a\"><ip-netmask>10.0.0.1/32</ip-netmask></entry>\n  <entry name=\"b\"><fqdn>x.example</fqdn></entry>\n</result></response>\n",
            "<response status=\"success\" code=\"7\"><result/></response>",
            "<response status=\"success\"><result></result></response>",
            "<response status=\"success\"/>",
            "<response status=\"error\" code=\"12\"><msg><line>bad</line></msg></response>",
            "<other/>",
            "not xml",
        ];
        let names = |r: Node<'_, '_>| -> Vec<String> {
            r.descendants()
                .filter_map(|d| d.attribute("name").map(str::to_string))
                .collect()
        };
        for body in bodies {
            let text = parse_envelope(body);
            let parsed = ParsedResult::from_body(body);
            match (&text, parsed) {
                (Ok(t), Ok(p)) => {
                    let p = p.map_result(|p| {
                        // The same result: as text, and read through the kept parse and
                        // through a parse of that text (what the shared cache does).
                        let again = ParsedResult::from_inner(&p.inner_xml()).expect("reparses");
                        assert_eq!(names(p.result()), names(again.result()), "{body}");
                        assert_eq!(p.result().tag_name().name(), "result");
                        p.inner_xml()
                    });
                    assert_eq!(&p, t, "{body}");
                }
                (Err(a), Err(b)) => assert_eq!(a, &b, "{body}"),
                (t, p) => panic!("{body}: text {t:?}, parsed {p:?}"),
            }
        }
        let p = ParsedResult::from_body(bodies[1]).expect("ok");
        let Envelope::Success {
            result: Some(p), ..
        } = p
        else {
            panic!("a result")
        };
        assert_eq!(names(p.result()), ["a", "b"]);
    }

    #[test]
    fn every_envelope_shape() {
        let ok = parse_envelope(
            "<response status=\"success\"><result><key>abc</key></result></response>",
        )
        .expect("ok");
        assert_eq!(
            ok,
            Envelope::Success {
                code: None,
                result: Some("<key>abc</key>".into())
            }
        );

        let seven = parse_envelope("<response status=\"success\" code=\"7\"><result/></response>")
            .expect("ok");
        assert_eq!(
            seven,
            Envelope::Success {
                code: Some(7),
                result: None
            }
        );

        let e = parse_envelope("<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>").expect("ok");
        assert_eq!(
            e,
            Envelope::Error {
                code: Some(403),
                message: "Invalid Credential".into()
            }
        );

        let e = parse_envelope("<response status=\"error\" code=\"12\"><msg><line><![CDATA[ a -> b  is invalid]]></line><line><![CDATA[ b is invalid]]></line></msg></response>").expect("ok");
        assert_eq!(
            e,
            Envelope::Error {
                code: Some(12),
                message: "a -> b is invalid; b is invalid".into()
            }
        );

        let e = parse_envelope("<response status='error' code='1'/>").expect("ok");
        assert_eq!(
            e,
            Envelope::Error {
                code: Some(1),
                message: String::new()
            }
        );

        let e = parse_envelope(
            "<response status=\"error\"><msg><line>No such node</line></msg></response>",
        )
        .expect("ok");
        assert_eq!(
            e,
            Envelope::Error {
                code: None,
                message: "No such node".into()
            }
        );

        assert!(parse_envelope("<response status=\"success\"><result><unclosed>").is_err());
        assert!(parse_envelope("<html><body>Internal Server Error</body></html>").is_err());
        assert!(parse_envelope("").is_err());
    }
}

/// Arbitrary input: the envelope parser, the HTTP mapping and the normalisers never panic,
/// and a success envelope's result round-trips into the normalisers. `fuzz/` has the
/// coverage-guided version of the same (target `panos_xml`).
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::client::interpret;
    use crate::client::{model, tagfilter};

    /// Pieces of PAN-OS answers and of broken XML, to glue into tag soup.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "<response status=\"success\">",
                "<response status='error' code='12'>",
                "<response status = \"success\" code = \"7\">",
                "</response>",
                "<response/>",
                "<result>",
                "</result>",
                "<result/>",
                "<entry name=\"a b\">",
                "<entry>",
                "</entry>",
                "<member>",
                "</member>",
                "<msg>",
                "</msg>",
                "<line>",
                "</line>",
                "<rules>",
                "</rules>",
                "<system>",
                "</system>",
                "<dynamic><filter>'a' and ('b' or 'c')</filter></dynamic>",
                "<ip-netmask>10.0.0.1/8</ip-netmask>",
                "<![CDATA[ x ]]>",
                "<!-- c -->",
                "<?pi x?>",
                "&amp;",
                "&bogus;",
                "&#0;",
                "&#x110000;",
                "<!DOCTYPE response [<!ENTITY e \"x\">]>",
                "<x:a xmlns:x=\"u\">",
                "</x:a>",
            ])
            .prop_map(str::to_string),
            "[a-z<>/ =\"'!?&;]{0,8}",
            "\\PC{0,6}",
        ]
    }

    fn soup() -> impl Strategy<Value = String> {
        prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
    }

    /// A well-formed element tree of PAN-OS-like names.
    fn element() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec![
            "entry",
            "member",
            "ip-netmask",
            "fqdn",
            "static",
            "dynamic",
            "filter",
            "protocol",
            "tcp",
            "port",
            "network",
            "layer3",
            "action",
            "from",
            "tag",
            "system",
            "rules",
            "index",
        ]);
        let text = "[a-zA-Z0-9 ./'-]{0,12}";
        let leaf = (name.clone(), text).prop_map(|(n, t)| {
            let t = t.replace('\'', "&apos;");
            format!("<{n}>{t}</{n}>")
        });
        leaf.prop_recursive(5, 48, 6, move |inner| {
            (
                name.clone(),
                proptest::option::of("[a-z0-9 -]{1,8}"),
                prop::collection::vec(inner, 0..6),
            )
                .prop_map(|(n, attr, kids)| {
                    let attr = attr.map_or(String::new(), |a| format!(" name=\"{a}\""));
                    format!("<{n}{attr}>{}</{n}>", kids.concat())
                })
        })
    }

    fn normalise_all(r: roxmltree::Node<'_, '_>) {
        for (i, e) in model::entries(r).into_iter().enumerate() {
            let _ = model::address_object(e, "vsys:vsys1");
            let g = model::address_group(e, "shared");
            let _ = model::service(e, "shared");
            let _ = model::service_group(e, "shared");
            let _ = model::zone(e, "vsys:vsys1");
            let _ = model::security_rule(e, i + 1, "pre", "shared");
            if let Some(f) = g.filter {
                let _ = tagfilter::parse(&f);
            }
        }
        let _ = model::system_info(r);
        let _ = model::policy_match(r);
    }

    fn response(status: u16, body: &str) -> mcp_core::upstream::UpstreamResponse {
        mcp_core::upstream::UpstreamResponse {
            status: http::StatusCode::from_u16(status).expect("status"),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
            reason: None,
        }
    }

    proptest! {
        #[test]
        fn tag_soup_never_panics(s in soup(), status in 100u16..=999) {
            if let Ok(Envelope::Success { result: Some(inner), .. }) = parse_envelope(&s) {
                let _ = model::with_result(&inner, normalise_all);
            }
            let _ = model::with_result(&s, normalise_all);
            let r = interpret(&response(status, &s));
            if status == 429 || status >= 500 {
                prop_assert!(r.is_err());
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = parse_envelope(&s);
            let _ = model::with_result(&s, normalise_all);
            let _ = tagfilter::parse(&s);
        }

        #[test]
        fn success_results_round_trip(kids in prop::collection::vec(element(), 1..5), code in proptest::option::of(0u16..30)) {
            let inner = kids.concat();
            let code_attr = code.map_or(String::new(), |c| format!(" code=\"{c}\""));
            let body = format!("<response status=\"success\"{code_attr}><result>{inner}</result></response>");
            let env = parse_envelope(&body).expect("a well-formed envelope parses");
            match env {
                Envelope::Success { code: got, result } => {
                    prop_assert_eq!(got, code);
                    if code == Some(7) {
                        prop_assert_eq!(result, None);
                    } else {
                        let result = result.expect("a non-empty result");
                        prop_assert_eq!(&result, &inner);
                        let n = model::with_result(&result, |r| r.children().filter(|c| c.is_element()).count())
                            .expect("the inner XML re-parses");
                        prop_assert_eq!(n, kids.len());
                        model::with_result(&result, normalise_all).expect("normalises");
                    }
                }
                other => prop_assert!(false, "not a success: {other:?}"),
            }
            let r = interpret(&response(200, &body)).expect("a 200 success is Ok");
            prop_assert_eq!(r.is_none(), code == Some(7));
        }

        #[test]
        fn error_messages_are_collapsed_text(lines in prop::collection::vec("[a-zA-Z0-9 .,-]{0,20}", 0..4), code in 0u16..30) {
            let msg: String = lines.iter().map(|l| format!("<line><![CDATA[{l}]]></line>")).collect();
            let body = format!("<response status=\"error\" code=\"{code}\"><msg>{msg}</msg></response>");
            match parse_envelope(&body).expect("parses") {
                Envelope::Error { code: got, message } => {
                    prop_assert_eq!(got, Some(code));
                    prop_assert!(!message.contains("  ") && message.trim() == message);
                }
                other => prop_assert!(false, "not an error: {other:?}"),
            }
        }
    }
}
