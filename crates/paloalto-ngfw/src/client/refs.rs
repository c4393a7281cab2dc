//! Who still references an object: rules and groups that name an address, service or tag.
//! A delete is refused, naming them, before anything is sent.

use std::collections::BTreeSet;

use roxmltree::{Document, Node};

use super::diff::{Ctx, is_item, kind_of};
use super::tagfilter;

/// What kind of name is referenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// An address object or address group (rule sources and destinations, group members,
    /// NAT translations).
    Address,
    /// A service or service group (rule services, service-group members).
    Service,
    /// A tag (objects' and rules' tags, dynamic group filters).
    Tag,
}

/// One thing that references the object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Referrer {
    /// `security-rule`, `nat-rule`, `address-group`, `address`, ...
    pub kind: String,
    pub name: String,
    pub location: String,
    /// The field that names the object: `source`, `destination`, `static`, `tag`, ...
    pub field: String,
}

impl std::fmt::Display for Referrer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} `{}` ({}, {})",
            self.kind, self.name, self.location, self.field
        )
    }
}

/// The object whose referrers are sought.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub kind: RefKind,
    /// The container it lives in: `address`, `address-group`, `service`, `service-group`, `tag`.
    pub container: &'a str,
    pub name: &'a str,
    /// Its location label: `vsys:vsys1`, `shared`, `device-group:DG`.
    pub location: &'a str,
}

/// Everything in `config` (the inner XML of a `/config` read: the `<config>` element) that
/// references `target`: in its own location, and for a shared object anywhere; for a device
/// group, in the group and the groups below it.
pub fn referrers(config: &str, target: &Target<'_>) -> Result<Vec<Referrer>, String> {
    let doc = Document::parse(config.trim())
        .map_err(|e| format!("the configuration could not be parsed ({e})"))?;
    let root = doc.root_element();
    let scope = scope_of(root, target.location);
    let mut out = BTreeSet::new();
    walk(root, &Ctx::root(), None, target, &scope, &mut out);
    Ok(out.into_iter().collect())
}

/// The locations that can reference an object in `location`.
enum Scope {
    All,
    Only(BTreeSet<String>),
}

fn scope_of(root: Node<'_, '_>, location: &str) -> Scope {
    if location == "shared" {
        return Scope::All;
    }
    let mut set = BTreeSet::from([location.to_string()]);
    if let Some(dg) = location.strip_prefix("device-group:") {
        // Panorama's hierarchy: /config/readonly/devices/entry/device-group/entry/parent-dg.
        let parents: Vec<(String, String)> = root
            .descendants()
            .filter(|n| n.has_tag_name("parent-dg"))
            .filter_map(|p| {
                let entry = p.parent_element()?;
                let child = entry.attribute("name")?.to_string();
                Some((child, p.text()?.trim().to_string()))
            })
            .collect();
        let mut frontier = vec![dg.to_string()];
        let mut seen = BTreeSet::from([dg.to_string()]);
        while let Some(cur) = frontier.pop() {
            for (child, parent) in &parents {
                if *parent == cur && seen.insert(child.clone()) {
                    set.insert(format!("device-group:{child}"));
                    frontier.push(child.clone());
                }
            }
        }
    }
    Scope::Only(set)
}

fn in_scope(scope: &Scope, location: &str) -> bool {
    match scope {
        Scope::All => true,
        Scope::Only(set) => set.contains(location),
    }
}

fn walk(
    node: Node<'_, '_>,
    ctx: &Ctx,
    item: Option<(&'static str, String)>,
    target: &Target<'_>,
    scope: &Scope,
    out: &mut BTreeSet<Referrer>,
) {
    for child in node.children().filter(Node::is_element) {
        let cctx = ctx.enter(node, child);
        let citem = if is_item(node, child) {
            let kind = kind_of(node);
            Some((
                leak_kind(&kind),
                child.attribute("name").unwrap_or_default().to_string(),
            ))
        } else {
            item.clone()
        };
        if let Some((kind, name)) = &citem
            && in_scope(scope, &cctx.location)
            && let Some(field) = references(child, kind, target)
        {
            let own = *kind == target.container
                && name == target.name
                && cctx.location == target.location;
            if !own {
                out.insert(Referrer {
                    kind: (*kind).to_string(),
                    name: name.clone(),
                    location: cctx.location.clone(),
                    field,
                });
            }
        }
        walk(child, &cctx, citem, target, scope, out);
    }
}

/// Kinds are a handful of element names; keep them as `&'static str` without allocating per
/// node.
fn leak_kind(kind: &str) -> &'static str {
    const KNOWN: [&str; 12] = [
        "address",
        "address-group",
        "service",
        "service-group",
        "tag",
        "security-rule",
        "nat-rule",
        "pbf-rule",
        "decryption-rule",
        "qos-rule",
        "application-override-rule",
        "authentication-rule",
    ];
    KNOWN
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("entry")
}

/// The field name when `n` names the target (a `member` of a referencing list, or a leaf).
fn references(n: Node<'_, '_>, item_kind: &str, target: &Target<'_>) -> Option<String> {
    let text = || {
        n.children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect::<String>()
            .trim()
            .to_string()
    };
    let parent = n.parent_element()?;
    let ptag = parent.tag_name().name();
    let tag = n.tag_name().name();
    let leaf = !n.children().any(|c| c.is_element());
    match target.kind {
        RefKind::Address => {
            if tag == "member"
                && matches!(
                    ptag,
                    "static" | "source" | "destination" | "translated-address"
                )
                && text() == target.name
            {
                return Some(ptag.to_string());
            }
            if tag == "translated-address" && leaf && text() == target.name {
                return Some(tag.to_string());
            }
        }
        RefKind::Service => {
            let group_members = ptag == "members" && item_kind == "service-group";
            if tag == "member" && (ptag == "service" || group_members) && text() == target.name {
                return Some(ptag.to_string());
            }
            if tag == "service" && leaf && item_kind == "nat-rule" && text() == target.name {
                return Some(tag.to_string());
            }
        }
        RefKind::Tag => {
            if tag == "member" && ptag == "tag" && text() == target.name {
                return Some("tag".into());
            }
            if tag == "filter" && ptag == "dynamic" {
                let f = text();
                let named = match tagfilter::parse(&f) {
                    Ok(e) => e.tags().contains(&target.name),
                    Err(_) => f.contains(target.name),
                };
                if named {
                    return Some("dynamic filter".into());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"<config><shared><address><entry name="dns"><ip-netmask>198.51.100.53</ip-netmask></entry></address></shared><devices><entry name="localhost.localdomain"><vsys><entry name="vsys1"><address><entry name="web"><ip-netmask>10.0.0.1</ip-netmask><tag><member>prod</member></tag></entry></address><address-group><entry name="g"><static><member>web</member><member>dns</member></static></entry><entry name="dyn"><dynamic><filter>'prod' and 'web'</filter></dynamic></entry></address-group><service><entry name="svc"><protocol><tcp><port>8080</port></tcp></protocol></entry></service><service-group><entry name="sg"><members><member>svc</member></members></entry></service-group><rulebase><security><rules><entry name="allow-web"><source><member>any</member></source><destination><member>web</member></destination><service><member>svc</member></service><tag><member>prod</member></tag></entry></rules></security><nat><rules><entry name="dnat"><service>svc</service><destination-translation><translated-address>web</translated-address></destination-translation></entry></rules></nat></rulebase></entry><entry name="vsys2"><rulebase><security><rules><entry name="other"><destination><member>web</member></destination></entry></rules></security></rulebase></entry></vsys></entry></devices></config>"#;

    fn names(v: &[Referrer]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn address_referrers_in_its_location() {
        let t = Target {
            kind: RefKind::Address,
            container: "address",
            name: "web",
            location: "vsys:vsys1",
        };
        assert_eq!(
            names(&referrers(CONFIG, &t).expect("parse")),
            vec![
                "address-group `g` (vsys:vsys1, static)",
                "nat-rule `dnat` (vsys:vsys1, translated-address)",
                "security-rule `allow-web` (vsys:vsys1, destination)",
            ],
            "vsys2's rule names its own `web`, not this one"
        );
        let shared = Target {
            kind: RefKind::Address,
            container: "address",
            name: "dns",
            location: "shared",
        };
        assert_eq!(
            names(&referrers(CONFIG, &shared).expect("parse")),
            vec!["address-group `g` (vsys:vsys1, static)"]
        );
    }

    #[test]
    fn service_and_tag_referrers() {
        let t = Target {
            kind: RefKind::Service,
            container: "service",
            name: "svc",
            location: "vsys:vsys1",
        };
        assert_eq!(
            names(&referrers(CONFIG, &t).expect("parse")),
            vec![
                "nat-rule `dnat` (vsys:vsys1, service)",
                "security-rule `allow-web` (vsys:vsys1, service)",
                "service-group `sg` (vsys:vsys1, members)",
            ]
        );
        let t = Target {
            kind: RefKind::Tag,
            container: "tag",
            name: "prod",
            location: "vsys:vsys1",
        };
        assert_eq!(
            names(&referrers(CONFIG, &t).expect("parse")),
            vec![
                "address `web` (vsys:vsys1, tag)",
                "address-group `dyn` (vsys:vsys1, dynamic filter)",
                "security-rule `allow-web` (vsys:vsys1, tag)",
            ]
        );
        let unused = Target {
            kind: RefKind::Tag,
            container: "tag",
            name: "nobody",
            location: "vsys:vsys1",
        };
        assert!(referrers(CONFIG, &unused).expect("parse").is_empty());
    }
}
