//! PAN-OS XML API responses: the envelope parser, the HTTP mapping around it, every
//! normaliser of a `<result>`, and the dynamic address-group filter language.
//!
//! Input: an XML body (optionally after a `NNN reason\nheaders\n\n` block, see the crate
//! docs). Nothing here may panic; the normalisers must accept any well-formed result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paloalto_ngfw::client::{self, Envelope, model, parse_envelope, tagfilter};

fn normalise(inner: &str) {
    let _ = model::with_result(inner, normalise_result);
}

fn normalise_result(r: roxmltree::Node<'_, '_>) {
    let entries = model::entries(r);
    for (i, e) in entries.iter().enumerate() {
        let a = model::address_object(*e, "vsys:vsys1");
        let g = model::address_group(*e, "shared");
        let s = model::service(*e, "shared");
        let sg = model::service_group(*e, "device-group:dg1");
        let z = model::zone(*e, "template:t1");
        let rule = model::security_rule(*e, i + 1, "pre", "device-group:dg1");
        if let Some(f) = &g.filter
            && let Ok(expr) = tagfilter::parse(f)
        {
            let _ = expr.matches(&a.tags);
            let _ = expr.matches(&rule.tags);
        }
        // Everything a tool returns is serialised for the model.
        for json in [
            serde_json::to_string(&a),
            serde_json::to_string(&g),
            serde_json::to_string(&s),
            serde_json::to_string(&sg),
            serde_json::to_string(&z),
            serde_json::to_string(&rule),
        ] {
            json.expect("a normalised object serialises");
        }
    }
    let _ = model::system_info(r);
    let _ = model::policy_match(r);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The envelope, straight.
    if let Ok(Envelope::Success {
        result: Some(inner),
        ..
    }) = parse_envelope(&text)
    {
        normalise(&inner);
    }

    // The same body through the HTTP mapping, for each status.
    secops_fuzz::each_interpreted(
        data,
        |resp| {
            client::interpret(resp).map_err(|e| {
                let _ = e.to_string();
                mcp_core::ToolError::from(e)
            })
        },
        |inner| {
            if let Some(inner) = inner {
                normalise(&inner);
            }
        },
    );

    // The same, parsed once and kept parsed (what the read cache holds): the same answer as
    // the text, and the normalisers accept the kept parse.
    secops_fuzz::each_interpreted(
        data,
        |resp| {
            let parsed = client::interpret_parsed(resp);
            match (&parsed, client::interpret(resp)) {
                (Ok(p), Ok(t)) => assert_eq!(p.as_ref().map(|p| p.inner_xml()), t),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (p, t) => panic!("parsed {p:?} and text {t:?} disagree"),
            }
            parsed.map_err(mcp_core::ToolError::from)
        },
        |parsed| {
            if let Some(p) = parsed {
                normalise_result(p.result());
            }
        },
    );

    // The body as the inner XML of a result, and as a tag filter.
    normalise(&text);
    if let Ok(expr) = tagfilter::parse(&text) {
        let _ = expr.matches(&[]);
        let _ = expr.matches(&["web".to_string(), "prod".to_string()]);
    }
});
