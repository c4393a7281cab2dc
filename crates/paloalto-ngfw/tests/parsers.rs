//! The normalisers on real-world configurations (the shared fixtures) and on error envelopes.

use paloalto_ngfw::client::model;
use paloalto_ngfw::client::{Envelope, parse_envelope};
use roxmltree::{Document, Node};
use test_support::shared_fixtures;

/// Walk `/config/…` by (element, optional entry name) steps.
fn walk<'a, 'i>(root: Node<'a, 'i>, steps: &[(&str, Option<&str>)]) -> Option<Node<'a, 'i>> {
    let mut cur = root;
    for (name, entry) in steps {
        cur = cur.children().find(|c| c.has_tag_name(*name))?;
        if let Some(e) = entry {
            cur = cur
                .children()
                .find(|c| c.has_tag_name("entry") && c.attribute("name") == Some(*e))?;
        }
    }
    Some(cur)
}

fn entries<'a, 'i>(n: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    n.children().filter(|c| c.has_tag_name("entry")).collect()
}

#[test]
fn firewall_8_0_config_normalises() {
    let path = shared_fixtures().join("panos/configs/firewall-8.0-vsys1.xml");
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let doc = Document::parse(&text).expect("parse");
    let vsys = walk(
        doc.root_element(),
        &[
            ("devices", Some("localhost.localdomain")),
            ("vsys", Some("vsys1")),
        ],
    )
    .expect("vsys1");

    let objects: Vec<_> = entries(walk(vsys, &[("address", None)]).expect("address"))
        .into_iter()
        .map(|e| model::address_object(e, "vsys:vsys1"))
        .collect();
    assert_eq!(objects.len(), 68);
    assert!(
        objects
            .iter()
            .all(|o| ["ip-netmask", "ip-range", "ip-wildcard", "fqdn"].contains(&o.kind.as_str())),
        "every object has a known kind"
    );
    assert!(objects.iter().any(|o| o.kind == "fqdn"));
    let groups: Vec<_> = entries(walk(vsys, &[("address-group", None)]).expect("groups"))
        .into_iter()
        .map(|e| model::address_group(e, "vsys:vsys1"))
        .collect();
    assert_eq!(groups.len(), 4);
    let statics: Vec<_> = groups.iter().filter(|g| g.kind == "static").collect();
    assert_eq!(statics.len(), 2);
    assert!(statics.iter().all(|g| g.members.len() >= 3));
    let filters: Vec<_> = groups.iter().filter_map(|g| g.filter.as_deref()).collect();
    assert_eq!(filters, vec!["'Test'", "'test-tag'"]);
    let zones: Vec<_> = entries(walk(vsys, &[("zone", None)]).expect("zones"))
        .into_iter()
        .map(|e| model::zone(e, "vsys:vsys1"))
        .collect();
    assert_eq!(zones.len(), 10);
    assert!(zones.iter().all(|z| z.mode != "none"), "{zones:?}");
    let rules_node = walk(
        vsys,
        &[("rulebase", None), ("security", None), ("rules", None)],
    )
    .expect("rules");
    let rules: Vec<_> = entries(rules_node)
        .into_iter()
        .enumerate()
        .map(|(i, e)| model::security_rule(e, i + 1, "local", "vsys:vsys1"))
        .collect();
    assert_eq!(rules.len(), 58);
    let document_order: Vec<&str> = entries(rules_node)
        .iter()
        .filter_map(|e| e.attribute("name"))
        .collect();
    let parsed_order: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(parsed_order, document_order, "rules keep their order");
    assert_eq!(rules.last().map(|r| r.position), Some(58));
    assert!(
        rules
            .iter()
            .all(|r| !r.from.is_empty() && !r.to.is_empty() && !r.action.is_empty())
    );
    let services: Vec<_> = entries(walk(vsys, &[("service", None)]).expect("services"))
        .into_iter()
        .map(|e| model::service(e, "vsys:vsys1"))
        .collect();
    assert_eq!(services.len(), 20);
    assert!(
        services
            .iter()
            .all(|s| s.protocol.is_some() && s.port.is_some()),
        "{services:?}"
    );
}

#[test]
fn panorama_8_1_config_normalises() {
    let path = shared_fixtures().join("panos/configs/panorama-8.1.xml");
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let doc = Document::parse(&text).expect("parse");
    let root = doc.root_element();
    let dgs = walk(
        root,
        &[
            ("devices", Some("localhost.localdomain")),
            ("device-group", None),
        ],
    )
    .expect("device groups");
    let names: Vec<&str> = entries(dgs)
        .iter()
        .filter_map(|e| e.attribute("name"))
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    let mut pre = 0;
    let mut post = 0;
    for dg in entries(dgs) {
        for (base, counter) in [("pre-rulebase", &mut pre), ("post-rulebase", &mut post)] {
            if let Some(rules) = walk(dg, &[(base, None), ("security", None), ("rules", None)]) {
                *counter += entries(rules).len();
            }
        }
    }
    assert!(
        pre > 0 && post > 0,
        "device groups carry pre ({pre}) and post ({post}) rules"
    );
    let shared_pre = walk(
        root,
        &[
            ("shared", None),
            ("pre-rulebase", None),
            ("security", None),
            ("rules", None),
        ],
    )
    .expect("shared pre");
    let rules: Vec<_> = entries(shared_pre)
        .into_iter()
        .enumerate()
        .map(|(i, e)| model::security_rule(e, i + 1, "pre", "shared"))
        .collect();
    assert_eq!(
        rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["shared pre rule 1", "shared-pre-rule2"]
    );
    let ro = walk(
        root,
        &[
            ("readonly", None),
            ("devices", Some("localhost.localdomain")),
            ("device-group", None),
        ],
    )
    .expect("readonly");
    let parents: Vec<(String, String)> = entries(ro)
        .iter()
        .filter_map(|e| {
            Some((
                e.attribute("name")?.to_string(),
                model::text(*e, "parent-dg")?,
            ))
        })
        .collect();
    assert!(
        !parents.is_empty(),
        "the parent hierarchy is under /config/readonly"
    );
    assert!(
        parents.iter().all(|(_, p)| names.contains(&p.as_str())),
        "{parents:?}"
    );
    let shared_groups =
        walk(root, &[("shared", None), ("address-group", None)]).expect("shared groups");
    let groups: Vec<_> = entries(shared_groups)
        .into_iter()
        .map(|e| model::address_group(e, "shared"))
        .collect();
    assert!(
        groups
            .iter()
            .any(|g| g.kind == "dynamic" && g.filter.is_some()),
        "{groups:?}"
    );
}

#[test]
fn every_shared_error_envelope_parses() {
    let dir = shared_fixtures().join("panos/api-responses");
    let mut seen = 0;
    for sub in ["errors", "success-misc"] {
        for f in std::fs::read_dir(dir.join(sub)).expect("dir") {
            let path = f.expect("entry").path();
            let body = std::fs::read_to_string(&path).expect("read");
            let env = parse_envelope(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            match (sub, env) {
                ("errors", Envelope::Error { code, message }) => {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    if name.starts_with("e04") {
                        assert_eq!(
                            (code, message.as_str()),
                            (Some(1), ""),
                            "self-closing error"
                        );
                    } else {
                        assert!(!message.is_empty(), "{name}: message found");
                    }
                    if name.starts_with("e06") {
                        assert_eq!(code, Some(403));
                        assert_eq!(message, "Invalid Credential");
                    }
                }
                ("success-misc", Envelope::Success { code, result }) => {
                    if code == Some(7) {
                        assert!(result.is_none(), "code 7 is an empty result");
                    }
                }
                (s, e) => panic!("{}: unexpected {e:?} in {s}", path.display()),
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 8);
}
