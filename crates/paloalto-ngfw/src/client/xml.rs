//! PAN-OS XML API response envelopes.
//!
//! Every envelope in the wild is handled: `status="error"` with HTTP 200 or 403; the message
//! in `<msg><line>` (several lines, CDATA) or in `<result><msg>`, or absent; single or double
//! quotes with spaces around `=`; a self-closing `<response/>`; and `code="7"` on a read,
//! which is an empty result rather than an error.

use roxmltree::{Document, Node};

/// What PAN-OS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// `status="success"`, with the inner XML of `<result>` (None for an empty read, code 7).
    Success {
        code: Option<u16>,
        result: Option<String>,
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
            let inner = if empty {
                None
            } else {
                result.map(|r| inner_xml(body, r))
            };
            Ok(Envelope::Success {
                code,
                result: inner,
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
