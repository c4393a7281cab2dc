//! Address references: which names a rule or an address group uses, and
//! which of them resolve to nothing.
//!
//! PAN-OS keeps references whole: it refuses to delete an object something
//! still uses (code 10, naming every referrer), refuses to write a rule or a
//! group that names an object that does not exist (code 12, `... is not a
//! valid reference`), fails a commit whose result would hold such a
//! reference, and renames references along with the object. All four are
//! answered here by one question, [`dangling`]: which references resolve to
//! nothing? A change is refused when it creates a dangling reference that was
//! not there before (so a loaded configuration with references the simulator
//! cannot resolve still loads and commits).
//!
//! What is checked: the `source` and `destination` members of every rule in
//! every rulebase (`rulebase`, `pre-rulebase`, `post-rulebase`) and the
//! `static` members of address groups, in each vsys and `shared` of a
//! firewall, and in each device group and `shared` of Panorama. A name
//! resolves to an `address`, `address-group`, `external-list` or `region`
//! entry of its own location or of one it inherits from (`shared`; a vsys
//! also sees what Panorama pushed to it under `/config/panorama`; a device
//! group also sees its ancestors). Rule members may also be `any`, an IP
//! address, a CIDR, a range `a-b`, a two-letter region code or a predefined
//! `panw-` list. Zones, services, applications, tags and profiles are not
//! checked.

use std::collections::{BTreeSet, HashSet};

use super::dom::{Element, Node};
use super::policy_match::is_ip_literal;

/// Object kinds an address reference may name.
const KINDS: [&str; 4] = ["address", "address-group", "external-list", "region"];
/// Rule fields that hold addresses.
const RULE_FIELDS: [&str; 2] = ["source", "destination"];

/// One reference that resolves to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dangling {
    /// The referrer as PAN-OS names it in messages:
    /// `vsys -> vsys1 -> rulebase -> security -> rules -> R -> source`.
    pub location: String,
    /// The entry and field: `R -> source`.
    pub short: String,
    /// The name that resolves to nothing.
    pub name: String,
    /// Is the referrer a rule (`true`) or an address group (`false`)?
    pub in_rule: bool,
    /// Index path of the `<member>` element.
    pub member: Vec<usize>,
}

impl Dangling {
    fn key(&self) -> (String, String) {
        (self.location.clone(), self.name.clone())
    }
}

/// Every dangling reference in `config`, in document order.
pub fn dangling(config: &Element) -> Vec<Dangling> {
    let mut out = Vec::new();
    let panorama = super::is_panorama(config);
    let shared = config.child("shared");
    let shared_idx = child_index(config, "shared");
    let mut shared_names = HashSet::new();
    add_names(&mut shared_names, shared);
    if !panorama {
        add_names(&mut shared_names, config.path(&["panorama", "shared"]));
    }
    if let (Some(s), Some(si)) = (shared, shared_idx) {
        scan_location(s, &[si], "shared", &shared_names, &mut out);
    }
    for (di, dev) in indexed(config, "devices").flat_map(|(i, d)| {
        d.children
            .iter()
            .enumerate()
            .filter_map(move |(j, c)| match c {
                Node::Element(e) if e.name == "entry" => Some((vec![i, j], e)),
                _ => None,
            })
    }) {
        if panorama {
            let groups = indexed_entries(dev, "device-group");
            for (gi, gidx, group) in &groups {
                let mut names = shared_names.clone();
                for ancestor in lineage(config, group.name_attr().unwrap_or_default(), &groups) {
                    add_names(&mut names, Some(ancestor));
                }
                let mut idx = di.clone();
                idx.extend([*gi, *gidx]);
                let prefix = format!("device-group -> {}", group.name_attr().unwrap_or_default());
                scan_location(group, &idx, &prefix, &names, &mut out);
            }
        } else {
            for (vi, vidx, vsys) in indexed_entries(dev, "vsys") {
                let vname = vsys.name_attr().unwrap_or_default();
                let mut names = shared_names.clone();
                add_names(&mut names, Some(vsys));
                let pushed = config
                    .path(&["panorama", "vsys"])
                    .and_then(|v| v.entry(vname));
                add_names(&mut names, pushed);
                let mut idx = di.clone();
                idx.extend([vi, vidx]);
                scan_location(vsys, &idx, &format!("vsys -> {vname}"), &names, &mut out);
            }
        }
    }
    out
}

/// References dangling in `after` that were not dangling in `before`.
pub fn new_dangling(before: &Element, after: &Element) -> Vec<Dangling> {
    let old: BTreeSet<(String, String)> = dangling(before).iter().map(Dangling::key).collect();
    dangling(after)
        .into_iter()
        .filter(|d| !old.contains(&d.key()))
        .collect()
}

/// The `<line>`s of a write refused for `d` (code 12), as PAN-OS words them.
pub fn invalid_reference_lines(d: &Dangling) -> Vec<String> {
    let (s, n) = (&d.short, &d.name);
    if d.in_rule {
        vec![
            format!(" {s} '{n}' is not an allowed keyword"),
            format!(" {s} {n} is an invalid ipv4/v6 address"),
            format!(" {s} {n} invalid range start IP"),
            format!(" {s} '{n}' is not a valid reference"),
            format!(" {s} is invalid"),
        ]
    } else {
        vec![
            format!(" {s} '{n}' is not a valid reference"),
            format!(" {s} is invalid"),
        ]
    }
}

/// The details of a commit that fails on `d`.
pub fn commit_failure_lines(d: &Dangling) -> Vec<String> {
    vec![
        "Validation Error:".to_owned(),
        format!(" {} '{}' is not a valid reference", d.location, d.name),
        format!(" {} is invalid", d.location),
        "Commit failed".to_owned(),
    ]
}

/// Renames, in `after`, every reference to `old` that the rename of an
/// object left dangling (compared with `before`) to `new`. Returns the index
/// paths of the lists (`source`, `static`, ...) it changed.
pub fn follow_rename(
    before: &Element,
    after: &mut Element,
    old: &str,
    new: &str,
) -> Vec<Vec<usize>> {
    let mut changed = Vec::new();
    for d in new_dangling(before, after) {
        if d.name != old {
            continue;
        }
        if let Some(member) = super::tree::at_mut(after, &d.member) {
            member.children = vec![Node::Text(new.to_owned())];
            if let Some((_, list)) = d.member.split_last() {
                changed.push(list.to_vec());
            }
        }
    }
    changed.dedup();
    changed
}

fn indexed<'a>(el: &'a Element, name: &'a str) -> impl Iterator<Item = (usize, &'a Element)> + 'a {
    el.children
        .iter()
        .enumerate()
        .filter_map(move |(i, c)| match c {
            Node::Element(e) if e.name == name => Some((i, e)),
            _ => None,
        })
}

fn child_index(el: &Element, name: &str) -> Option<usize> {
    indexed(el, name).next().map(|(i, _)| i)
}

/// `(index of the container, index of the entry, entry)` of each
/// `<name><entry>` under `el`.
fn indexed_entries<'a>(el: &'a Element, name: &'a str) -> Vec<(usize, usize, &'a Element)> {
    indexed(el, name)
        .flat_map(|(ci, c)| {
            c.children
                .iter()
                .enumerate()
                .filter_map(move |(ei, n)| match n {
                    Node::Element(e) if e.name == "entry" => Some((ci, ei, e)),
                    _ => None,
                })
        })
        .collect()
}

/// The device group `name` and its ancestors (from
/// `/config/readonly/.../device-group/entry/parent-dg`). Without that record,
/// every device group (lenient: the simulator does not know the hierarchy).
fn lineage<'a>(
    config: &Element,
    name: &str,
    groups: &[(usize, usize, &'a Element)],
) -> Vec<&'a Element> {
    let find = |n: &str| {
        groups
            .iter()
            .find(|g| g.2.name_attr() == Some(n))
            .map(|g| g.2)
    };
    let readonly: Option<&Element> = config
        .path(&["readonly", "devices"])
        .and_then(|d| d.elements().find(|e| e.name == "entry"))
        .and_then(|d| d.child("device-group"));
    let Some(readonly) = readonly else {
        return groups.iter().map(|g| g.2).collect();
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cur = Some(name.to_owned());
    while let Some(n) = cur.take() {
        if !seen.insert(n.clone()) {
            break;
        }
        if let Some(g) = find(&n) {
            out.push(g);
        }
        cur = readonly
            .entry(&n)
            .and_then(|e| e.child_text("parent-dg"))
            .filter(|p| !p.is_empty());
    }
    out
}

fn add_names(names: &mut HashSet<String>, location: Option<&Element>) {
    let Some(loc) = location else { return };
    for kind in KINDS {
        if let Some(list) = loc.child(kind) {
            names.extend(
                list.elements()
                    .filter(|e| e.name == "entry")
                    .filter_map(|e| e.name_attr().map(str::to_owned)),
            );
        }
    }
}

fn rule_literal(member: &str) -> bool {
    member == "any"
        || is_ip_literal(member)
        || (member.len() == 2
            && member
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        || member.starts_with("panw-")
}

/// Scans the groups and rulebases of one location (`loc` at index path `idx`).
fn scan_location(
    loc: &Element,
    idx: &[usize],
    prefix: &str,
    names: &HashSet<String>,
    out: &mut Vec<Dangling>,
) {
    for (ci, child) in loc.children.iter().enumerate() {
        let Node::Element(child) = child else {
            continue;
        };
        let mut cidx = idx.to_vec();
        cidx.push(ci);
        match child.name.as_str() {
            "address-group" => {
                for (ei, group) in entries(child) {
                    let gname = group.name_attr().unwrap_or_default();
                    let mut gidx = cidx.clone();
                    gidx.push(ei);
                    for (si, list) in indexed(group, "static") {
                        let mut lidx = gidx.clone();
                        lidx.push(si);
                        scan_members(
                            list,
                            &lidx,
                            &format!("{prefix} -> address-group -> {gname} -> static"),
                            &format!("{gname} -> static"),
                            false,
                            |m| names.contains(m),
                            out,
                        );
                    }
                }
            }
            "rulebase" | "pre-rulebase" | "post-rulebase" => {
                for (bi, base) in child.children.iter().enumerate() {
                    let Node::Element(base) = base else { continue };
                    for (ri, rules) in indexed(base, "rules") {
                        for (ei, rule) in entries(rules) {
                            let rname = rule.name_attr().unwrap_or_default();
                            let mut ridx = cidx.clone();
                            ridx.extend([bi, ri, ei]);
                            for (fi, field) in rule.children.iter().enumerate() {
                                let Node::Element(field) = field else {
                                    continue;
                                };
                                if !RULE_FIELDS.contains(&field.name.as_str()) {
                                    continue;
                                }
                                let mut fidx = ridx.clone();
                                fidx.push(fi);
                                scan_members(
                                    field,
                                    &fidx,
                                    &format!(
                                        "{prefix} -> {} -> {} -> rules -> {rname} -> {}",
                                        child.name, base.name, field.name
                                    ),
                                    &format!("{rname} -> {}", field.name),
                                    true,
                                    |m| rule_literal(m) || names.contains(m),
                                    out,
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn entries(list: &Element) -> impl Iterator<Item = (usize, &Element)> {
    indexed(list, "entry")
}

fn scan_members(
    list: &Element,
    idx: &[usize],
    location: &str,
    short: &str,
    in_rule: bool,
    resolves: impl Fn(&str) -> bool,
    out: &mut Vec<Dangling>,
) {
    for (mi, m) in indexed(list, "member") {
        let name = m.text().trim().to_owned();
        if name.is_empty() || resolves(&name) {
            continue;
        }
        let mut member = idx.to_vec();
        member.push(mi);
        out.push(Dangling {
            location: location.to_owned(),
            short: short.to_owned(),
            name,
            in_rule,
            member,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FW: &str = "<config><shared><address><entry name='s1'/></address></shared><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'><address><entry name='a'/></address><address-group><entry name='g'><static><member>a</member><member>ghost</member><member>s1</member></static></entry></address-group><rulebase><security><rules><entry name='r'><source><member>any</member><member>10.0.0.0/8</member><member>g</member><member>US</member><member>nope</member></source><destination><member>p1</member></destination></entry></rules></security></rulebase></entry></vsys></entry></devices><panorama><vsys><entry name='vsys1'><address><entry name='p1'/></address></entry></vsys></panorama></config>";

    #[test]
    fn finds_what_resolves_to_nothing() {
        let config = Element::parse(FW).expect("xml");
        let found: Vec<(String, String)> = dangling(&config)
            .into_iter()
            .map(|d| (d.location, d.name))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "vsys -> vsys1 -> address-group -> g -> static".to_owned(),
                    "ghost".to_owned()
                ),
                (
                    "vsys -> vsys1 -> rulebase -> security -> rules -> r -> source".to_owned(),
                    "nope".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn rename_follows_references() {
        let before = Element::parse(FW).expect("xml");
        let mut after = before.clone();
        let path = super::super::xpath::XPath::parse(
            "/config/devices/entry/vsys/entry/address/entry[@name='a']",
        )
        .expect("xpath");
        super::super::tree::rename(&mut after, &path, "b").expect("rename");
        let changed = follow_rename(&before, &mut after, "a", "b");
        assert_eq!(changed.len(), 1);
        assert!(
            after
                .to_xml()
                .contains("<member>b</member><member>ghost</member>")
        );
        assert!(new_dangling(&before, &after).is_empty());
    }

    #[test]
    fn panorama_device_groups_see_their_ancestors() {
        let xml = "<config><shared><address><entry name='s'/></address></shared><devices><entry name='localhost.localdomain'><device-group><entry name='root'><address><entry name='ra'/></address></entry><entry name='kid'><pre-rulebase><security><rules><entry name='k'><source><member>ra</member><member>s</member><member>sib</member></source></entry></rules></security></pre-rulebase></entry><entry name='sibling'><address><entry name='sib'/></address></entry></device-group></entry></devices><readonly><devices><entry name='localhost.localdomain'><device-group><entry name='kid'><parent-dg>root</parent-dg></entry></device-group></entry></devices></readonly></config>";
        let config = Element::parse(xml).expect("xml");
        let found: Vec<String> = dangling(&config)
            .into_iter()
            .map(|d| d.location + " " + &d.name)
            .collect();
        assert_eq!(
            found,
            ["device-group -> kid -> pre-rulebase -> security -> rules -> k -> source sib"]
        );
    }
}
