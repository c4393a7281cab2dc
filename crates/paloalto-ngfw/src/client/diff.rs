//! What differs between the candidate and the running configuration, entry by entry.
//!
//! Both trees are walked together. Every named `<entry>` that is not a location (a device,
//! vsys, device group or template) is one item: created, updated or deleted, with its before
//! and after. Objects and rules read as the read tools show them (address objects, groups,
//! services, tags, security and NAT rules); anything else as a small JSON rendering of its
//! XML. A rule that changed place is a `move` item. Settings outside any entry (a hostname)
//! are items of kind `setting`, named by their path. Secrets (password hashes, keys) are never
//! shown.
//!
//! The walk is deterministic: the same two configurations give the same items in the same
//! order, which is what a commit's plan (and its digest) is made of.

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::element::VOLATILE_ATTRS;
use super::model;

/// One difference.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct DiffItem {
    /// `create`, `update`, `delete` or `move`.
    pub action: String,
    /// `address`, `address-group`, `service`, `service-group`, `tag`, `security-rule`,
    /// `nat-rule`, another container's name (`zone`, `profile-group`, ...), or `setting`.
    pub kind: String,
    /// The entry's name, or a setting's path.
    pub name: String,
    /// `vsys:vsys1`, `shared`, `device-group:DG`, `template:T`, `device`, ...
    pub location: String,
    /// For rules: `local`, `pre` or `post`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rulebase: Option<String>,
    /// The administrator PAN-OS says made the change, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// As it is running now (absent for a create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// As the candidate has it (absent for a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Every difference, up to a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub items: Vec<DiffItem>,
    /// How many differences there are in all (more than `items` when cut at the limit).
    pub total: usize,
}

/// Diff two answers of `type=config&xpath=/config` (the inner XML of each `<result>`, which
/// holds the `<config>` element).
pub fn diff(candidate: &str, running: &str, limit: usize) -> Result<Diff, String> {
    let c = parse_config(candidate)?;
    let r = parse_config(running)?;
    let mut w = Walker {
        items: Vec::new(),
        total: 0,
        limit,
    };
    let cc = config_root(&c)?;
    let rc = config_root(&r)?;
    w.walk(Some(cc), Some(rc), &Ctx::root());
    Ok(Diff {
        items: w.items,
        total: w.total,
    })
}

fn parse_config(inner: &str) -> Result<Document<'_>, String> {
    Document::parse(inner.trim())
        .map_err(|e| format!("the configuration answer is not one <config> element ({e})"))
}

fn config_root<'a, 'i>(d: &'a Document<'i>) -> Result<Node<'a, 'i>, String> {
    let root = d.root_element();
    if root.has_tag_name("config") {
        Ok(root)
    } else {
        Err(format!(
            "expected a <config> element, got <{}>",
            root.tag_name().name()
        ))
    }
}

/// Where in the configuration a node is.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// `vsys:vsys1`, `shared`, ...
    pub location: String,
    /// Element names (and `name` values) since the location.
    pub path: Vec<String>,
    /// `local`, `pre` or `post` inside a rulebase.
    pub rulebase: Option<String>,
}

impl Ctx {
    pub(crate) fn root() -> Self {
        Self {
            location: "config".into(),
            path: Vec::new(),
            rulebase: None,
        }
    }

    /// The context of `child` (an element under the node of this context).
    pub(crate) fn enter(&self, parent: Node<'_, '_>, child: Node<'_, '_>) -> Self {
        let tag = child.tag_name().name();
        let mut next = self.clone();
        if let Some(loc) = location_of(parent, child) {
            // Inside a template, its own device and vsys are part of the template.
            next.location = if self.location.starts_with("template") && loc != self.location {
                if loc == "device" {
                    self.location.clone()
                } else {
                    format!("{}/{loc}", self.location)
                }
            } else {
                loc
            };
            next.path.clear();
            next.rulebase = None;
            return next;
        }
        match tag {
            "rulebase" => next.rulebase = Some("local".into()),
            "pre-rulebase" => next.rulebase = Some("pre".into()),
            "post-rulebase" => next.rulebase = Some("post".into()),
            _ => {}
        }
        if is_root(parent) {
            next.location = if tag == "devices" {
                "device".into()
            } else {
                tag.to_string()
            };
            next.path.clear();
        } else if tag == "entry" {
            next.path
                .push(child.attribute("name").unwrap_or("entry").to_string());
        } else {
            next.path.push(tag.to_string());
        }
        next
    }
}

/// The `<config>` element at the top (not a template's inner `<config>`).
fn is_root(n: Node<'_, '_>) -> bool {
    n.has_tag_name("config") && n.parent_element().is_none()
}

/// A location label when `child` starts one.
fn location_of(parent: Node<'_, '_>, child: Node<'_, '_>) -> Option<String> {
    let tag = child.tag_name().name();
    let grand = parent.parent_element();
    let under_device = grand.is_some_and(|g| {
        g.has_tag_name("entry")
            && g.parent_element()
                .is_some_and(|d| d.has_tag_name("devices"))
    });
    match (parent.tag_name().name(), tag) {
        ("config", "shared") if is_root(parent) => Some("shared".into()),
        ("devices", "entry") => Some("device".into()),
        ("vsys", "entry") if under_device => Some(format!("vsys:{}", name(child))),
        ("vsys", "entry") if grand.is_some_and(|g| g.has_tag_name("panorama")) => {
            Some(format!("pushed:{}", name(child)))
        }
        ("device-group", "entry") if under_device => Some(format!("device-group:{}", name(child))),
        ("template", "entry") if under_device => Some(format!("template:{}", name(child))),
        ("template-stack", "entry") if under_device => {
            Some(format!("template-stack:{}", name(child)))
        }
        _ => None,
    }
}

fn name(n: Node<'_, '_>) -> String {
    n.attribute("name").unwrap_or_default().to_string()
}

/// Whether a named entry here is an item (not a location, not `localhost.localdomain`).
pub(crate) fn is_item(parent: Node<'_, '_>, child: Node<'_, '_>) -> bool {
    child.has_tag_name("entry")
        && child.attribute("name").is_some()
        && location_of(parent, child).is_none()
        && !parent.has_tag_name("devices")
}

/// The item kind of entries in `container` (the element holding them).
pub(crate) fn kind_of(container: Node<'_, '_>) -> String {
    let tag = container.tag_name().name();
    if tag == "rules" {
        let rule_type = container
            .parent_element()
            .map(|p| p.tag_name().name().to_string())
            .unwrap_or_default();
        return format!("{rule_type}-rule");
    }
    tag.to_string()
}

struct Walker {
    items: Vec<DiffItem>,
    total: usize,
    limit: usize,
}

impl Walker {
    fn push(&mut self, item: DiffItem) {
        self.total += 1;
        if self.items.len() < self.limit {
            self.items.push(item);
        }
    }

    fn walk(&mut self, c: Option<Node<'_, '_>>, r: Option<Node<'_, '_>>, ctx: &Ctx) {
        match (c, r) {
            (Some(c), Some(r)) => {
                if same(c, r) {
                    return;
                }
                let has_kids = has_elements(c) || has_elements(r);
                if !has_kids || (only_members(c) && only_members(r)) {
                    self.setting("update", ctx, Some(r), Some(c));
                    return;
                }
                self.children(c, r, ctx);
            }
            (Some(c), None) => self.setting("create", ctx, None, Some(c)),
            (None, Some(r)) => self.setting("delete", ctx, Some(r), None),
            (None, None) => {}
        }
    }

    /// Walk the element children of `c` and `r` (both present), matched by tag and name.
    fn children(&mut self, c: Node<'_, '_>, r: Node<'_, '_>, ctx: &Ctx) {
        let is_rules = c.has_tag_name("rules");
        let ck = keyed(c);
        let rk = keyed(r);
        let rmap: HashMap<&(String, String), Node<'_, '_>> =
            rk.iter().map(|(k, n)| (k, *n)).collect();
        let cmap: HashMap<&(String, String), Node<'_, '_>> =
            ck.iter().map(|(k, n)| (k, *n)).collect();
        let kind = kind_of(c);
        let rule_pos = |list: &[((String, String), Node<'_, '_>)], n: &str| {
            list.iter()
                .filter(|((t, _), _)| t == "entry")
                .position(|((_, k), _)| k == n)
                .map(|p| p + 1)
        };
        for (key, cn) in &ck {
            let rn = rmap.get(key).copied();
            if is_item(c, *cn) {
                let rpos = rule_pos(&rk, &key.1);
                let cpos = rule_pos(&ck, &key.1);
                self.entry(&kind, ctx, Some((*cn, cpos)), rn.map(|n| (n, rpos)));
            } else {
                self.walk(Some(*cn), rn, &ctx.enter(c, *cn));
            }
        }
        for (key, rn) in &rk {
            if cmap.contains_key(key) {
                continue;
            }
            if is_item(r, *rn) {
                let rpos = rule_pos(&rk, &key.1);
                self.entry(&kind, ctx, None, Some((*rn, rpos)));
            } else {
                self.walk(None, Some(*rn), &ctx.enter(r, *rn));
            }
        }
        if is_rules {
            self.moves(&kind, ctx, &ck, &rk);
        }
    }

    /// One named entry: create, update or delete.
    fn entry(
        &mut self,
        kind: &str,
        ctx: &Ctx,
        c: Option<(Node<'_, '_>, Option<usize>)>,
        r: Option<(Node<'_, '_>, Option<usize>)>,
    ) {
        let action = match (c, r) {
            (Some((cn, _)), Some((rn, _))) => {
                if same(cn, rn) {
                    return;
                }
                "update"
            }
            (Some(_), None) => "create",
            (None, Some(_)) => "delete",
            (None, None) => return,
        };
        let node = c.or(r).map(|(n, _)| n);
        let Some(node) = node else { return };
        let mut before = r.map(|(n, p)| typed(kind, n, p, ctx));
        let mut after = c.map(|(n, p)| typed(kind, n, p, ctx));
        if action == "update" && before == after {
            // The difference is in a field the typed view does not show: show the XML.
            before = r.map(|(n, _)| to_json(n, 0));
            after = c.map(|(n, _)| to_json(n, 0));
        }
        self.push(DiffItem {
            action: action.into(),
            kind: kind.to_string(),
            name: name(node),
            location: ctx.location.clone(),
            rulebase: kind
                .ends_with("-rule")
                .then(|| ctx.rulebase.clone())
                .flatten(),
            admin: c.and_then(|(n, _)| n.attribute("admin").map(str::to_string)),
            before,
            after,
        });
    }

    /// Rules present on both sides whose order changed: the ones outside the longest run kept
    /// in order moved.
    fn moves(
        &mut self,
        kind: &str,
        ctx: &Ctx,
        ck: &[((String, String), Node<'_, '_>)],
        rk: &[((String, String), Node<'_, '_>)],
    ) {
        let c_names: Vec<&str> = ck
            .iter()
            .filter(|((t, _), _)| t == "entry")
            .map(|((_, n), _)| n.as_str())
            .collect();
        let r_names: Vec<&str> = rk
            .iter()
            .filter(|((t, _), _)| t == "entry")
            .map(|((_, n), _)| n.as_str())
            .collect();
        let r_pos: HashMap<&str, usize> =
            r_names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        // The common rules in candidate order, as running positions.
        let common: Vec<(&str, usize)> = c_names
            .iter()
            .filter_map(|n| r_pos.get(n).map(|p| (*n, *p)))
            .collect();
        let keep = lis(&common.iter().map(|(_, p)| *p).collect::<Vec<_>>());
        for (i, (n, rp)) in common.iter().enumerate() {
            if keep.contains(&i) {
                continue;
            }
            let cp = c_names.iter().position(|x| x == n).unwrap_or(0);
            let prev = cp.checked_sub(1).and_then(|p| c_names.get(p)).copied();
            self.push(DiffItem {
                action: "move".into(),
                kind: kind.to_string(),
                name: (*n).to_string(),
                location: ctx.location.clone(),
                rulebase: ctx.rulebase.clone(),
                admin: None,
                before: Some(json!({"position": rp + 1})),
                after: Some(json!({"position": cp + 1, "after": prev})),
            });
        }
    }

    fn setting(
        &mut self,
        action: &str,
        ctx: &Ctx,
        r: Option<Node<'_, '_>>,
        c: Option<Node<'_, '_>>,
    ) {
        let Some(node) = c.or(r) else { return };
        let name = if ctx.path.is_empty() {
            node.attribute("name")
                .unwrap_or(node.tag_name().name())
                .to_string()
        } else {
            ctx.path.join("/")
        };
        self.push(DiffItem {
            action: action.into(),
            kind: "setting".into(),
            name,
            location: ctx.location.clone(),
            rulebase: None,
            admin: c.and_then(|n| n.attribute("admin").map(str::to_string)),
            before: r.map(|n| to_json(n, 0)),
            after: c.map(|n| to_json(n, 0)),
        });
    }
}

/// Indices (into `seq`) of one longest strictly increasing subsequence.
fn lis(seq: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new(); // indices into seq
    let mut prev: Vec<Option<usize>> = vec![None; seq.len()];
    for (i, v) in seq.iter().enumerate() {
        let pos = tails.partition_point(|&t| seq[t] < *v);
        if pos > 0 {
            prev[i] = Some(tails[pos - 1]);
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = Vec::new();
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        out.push(i);
        cur = prev[i];
    }
    out.reverse();
    out
}

/// Element children keyed by (tag, name attribute), in document order. Repeated unnamed
/// siblings (`member`) get their text as the name, then an index.
fn keyed<'a, 'i>(n: Node<'a, 'i>) -> Vec<((String, String), Node<'a, 'i>)> {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    n.children()
        .filter(Node::is_element)
        .map(|c| {
            let tag = c.tag_name().name().to_string();
            let base = c
                .attribute("name")
                .map(str::to_string)
                .or_else(|| {
                    c.has_tag_name("member")
                        .then(|| c.text().unwrap_or_default().trim().to_string())
                })
                .unwrap_or_default();
            let k = (tag.clone(), base.clone());
            let count = seen.entry(k).or_insert(0);
            *count += 1;
            let key = if *count > 1 {
                (tag, format!("{base}#{count}"))
            } else {
                (tag, base)
            };
            (key, c)
        })
        .collect()
}

fn has_elements(n: Node<'_, '_>) -> bool {
    n.children().any(|c| c.is_element())
}

/// Whether every element child is a `<member>` (a list, compared whole).
fn only_members(n: Node<'_, '_>) -> bool {
    n.children()
        .filter(Node::is_element)
        .all(|c| c.has_tag_name("member"))
}

fn attrs<'a>(n: Node<'a, '_>) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = n
        .attributes()
        .filter(|a| !VOLATILE_ATTRS.contains(&a.name()))
        .map(|a| (a.name(), a.value()))
        .collect();
    v.sort();
    v
}

fn own_text(n: Node<'_, '_>) -> String {
    n.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Same configuration: names, attributes (bookkeeping aside) and text; the children of
/// entry and member lists in order, other children in any order.
pub(crate) fn same(a: Node<'_, '_>, b: Node<'_, '_>) -> bool {
    if a.tag_name().name() != b.tag_name().name() || attrs(a) != attrs(b) {
        return false;
    }
    let ka = keyed(a);
    let kb = keyed(b);
    if ka.is_empty() && kb.is_empty() {
        return own_text(a) == own_text(b);
    }
    if ka.len() != kb.len() {
        return false;
    }
    let ordered = ka.iter().any(|((t, _), _)| t == "entry" || t == "member");
    if ordered {
        return ka
            .iter()
            .zip(kb.iter())
            .all(|((k1, n1), (k2, n2))| k1 == k2 && same(*n1, *n2));
    }
    let mb: HashMap<&(String, String), Node<'_, '_>> = kb.iter().map(|(k, n)| (k, *n)).collect();
    ka.iter()
        .all(|(k, n)| mb.get(k).is_some_and(|m| same(*n, *m)))
}

/// An entry as the read tools show it, for the kinds they read; JSON of its XML otherwise.
fn typed(kind: &str, n: Node<'_, '_>, pos: Option<usize>, ctx: &Ctx) -> Value {
    let loc = ctx.location.as_str();
    let rb = ctx.rulebase.as_deref().unwrap_or("local");
    let v = match kind {
        "address" => serde_json::to_value(model::address_object(n, loc)),
        "address-group" => serde_json::to_value(model::address_group(n, loc)),
        "service" => serde_json::to_value(model::service(n, loc)),
        "service-group" => serde_json::to_value(model::service_group(n, loc)),
        "tag" => serde_json::to_value(model::tag(n, loc)),
        "security-rule" => serde_json::to_value(model::security_rule(n, pos.unwrap_or(0), rb, loc)),
        "nat-rule" => serde_json::to_value(model::nat_rule(n, pos.unwrap_or(0), rb, loc)),
        _ => return to_json(n, 0),
    };
    let mut v = v.unwrap_or(Value::Null);
    // Positions move when other rules come and go; a rule's move is its own item.
    if let Value::Object(m) = &mut v {
        m.remove("position");
    }
    v
}

/// Element names whose values are secrets: never shown.
fn secret(tag: &str) -> bool {
    let t = tag.to_ascii_lowercase();
    t == "phash"
        || t.contains("password")
        || t.contains("secret")
        || t.ends_with("key")
        || t.contains("passphrase")
        || t.contains("private")
}

/// A small JSON rendering of an element: text for a leaf, a list for members, an object of
/// children otherwise (entries by name). Secrets are replaced.
pub(crate) fn to_json(n: Node<'_, '_>, depth: usize) -> Value {
    if secret(n.tag_name().name()) {
        return Value::String("(redacted)".into());
    }
    let kids: Vec<Node<'_, '_>> = n.children().filter(Node::is_element).collect();
    if kids.is_empty() {
        return Value::String(own_text(n));
    }
    if depth > 12 {
        return Value::String("…".into());
    }
    if kids.iter().all(|k| k.has_tag_name("member")) {
        return Value::Array(kids.iter().map(|k| Value::String(own_text(*k))).collect());
    }
    let mut m = Map::new();
    for a in n.attributes() {
        if !VOLATILE_ATTRS.contains(&a.name()) {
            m.insert(
                format!("@{}", a.name()),
                Value::String(a.value().to_string()),
            );
        }
    }
    for k in kids {
        let tag = k.tag_name().name();
        let v = to_json(k, depth + 1);
        if k.has_tag_name("entry") {
            let key = k.attribute("name").unwrap_or("entry").to_string();
            m.insert(key, v);
        } else if let Some(existing) = m.get_mut(tag) {
            match existing {
                Value::Array(a) => a.push(v),
                other => {
                    let first = other.take();
                    *other = Value::Array(vec![first, v]);
                }
            }
        } else {
            m.insert(tag.to_string(), v);
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = r#"<config version="10.1.0"><mgt-config><users><entry name="admin"><phash>$1$abc</phash></entry></users></mgt-config><shared><address><entry name="dns"><ip-netmask>198.51.100.53</ip-netmask></entry></address></shared><devices><entry name="localhost.localdomain"><deviceconfig><system><hostname>fw1</hostname></system></deviceconfig><vsys><entry name="vsys1"><address><entry name="a1"><ip-netmask>10.0.0.1</ip-netmask></entry><entry name="a2"><fqdn>x.example.com</fqdn></entry></address><address-group><entry name="g1"><static><member>a1</member></static></entry></address-group><rulebase><security><rules><entry name="r1"><action>allow</action></entry><entry name="r2"><action>allow</action></entry><entry name="r3"><action>deny</action></entry></rules></security></rulebase></entry></vsys></entry></devices></config>"#;

    #[test]
    fn identical_configs_have_no_items() {
        let d = diff(RUNNING, RUNNING, 100).expect("diff");
        assert_eq!(d.total, 0);
        let reordered_attrs = RUNNING.replace(
            "<entry name=\"a1\">",
            "<entry name=\"a1\" admin=\"bob\" dirtyId=\"4\" time=\"2026/01/01\">",
        );
        assert_eq!(diff(&reordered_attrs, RUNNING, 100).expect("diff").total, 0);
    }

    #[test]
    fn creates_updates_deletes_and_moves() {
        let candidate = RUNNING
            .replace(
                "<entry name=\"a2\"><fqdn>x.example.com</fqdn></entry>",
                "<entry name=\"a3\" admin=\"api-admin\"><ip-netmask>10.0.0.3</ip-netmask><tag><member>web</member></tag></entry>",
            )
            .replace("<member>a1</member>", "<member>a1</member><member>a3</member>")
            .replace("<hostname>fw1</hostname>", "<hostname>fw2</hostname>")
            .replace("$1$abc", "$1$new")
            .replace(
                "<entry name=\"r1\"><action>allow</action></entry><entry name=\"r2\"><action>allow</action></entry><entry name=\"r3\"><action>deny</action></entry>",
                "<entry name=\"r3\"><action>deny</action></entry><entry name=\"r1\"><action>allow</action></entry><entry name=\"r2\"><action>allow</action></entry>",
            );
        let d = diff(&candidate, RUNNING, 100).expect("diff");
        let summary: Vec<(String, String, String, String)> = d
            .items
            .iter()
            .map(|i| {
                (
                    i.action.clone(),
                    i.kind.clone(),
                    i.name.clone(),
                    i.location.clone(),
                )
            })
            .collect();
        let s = |a: &str, k: &str, n: &str, l: &str| (a.into(), k.into(), n.into(), l.into());
        assert_eq!(
            summary,
            vec![
                s("update", "users", "admin", "mgt-config"),
                s(
                    "update",
                    "setting",
                    "deviceconfig/system/hostname",
                    "device"
                ),
                s("create", "address", "a3", "vsys:vsys1"),
                s("delete", "address", "a2", "vsys:vsys1"),
                s("update", "address-group", "g1", "vsys:vsys1"),
                s("move", "security-rule", "r3", "vsys:vsys1"),
            ]
        );
        let users = &d.items[0];
        assert_eq!(
            users.before,
            Some(json!({"@name": "admin", "phash": "(redacted)"}))
        );
        let created = &d.items[2];
        assert_eq!(created.admin.as_deref(), Some("api-admin"));
        assert_eq!(
            created.after.as_ref().map(|a| a["tags"].clone()),
            Some(json!(["web"]))
        );
        assert_eq!(created.before, None);
        let group = &d.items[4];
        assert_eq!(
            group.after.as_ref().map(|a| a["members"].clone()),
            Some(json!(["a1", "a3"]))
        );
        let moved = &d.items[5];
        assert_eq!(moved.rulebase.as_deref(), Some("local"));
        assert_eq!(moved.before, Some(json!({"position": 3})));
        assert_eq!(moved.after, Some(json!({"position": 1, "after": null})));
        let capped = diff(&candidate, RUNNING, 2).expect("diff");
        assert_eq!((capped.items.len(), capped.total), (2, 6));
    }

    #[test]
    fn longest_increasing_subsequence() {
        assert_eq!(lis(&[2, 0, 1]), vec![1, 2]);
        assert_eq!(lis(&[0, 1, 2]), vec![0, 1, 2]);
        assert_eq!(lis(&[]), Vec::<usize>::new());
        assert_eq!(lis(&[1, 2, 0]).len(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(diff("<a/><b/>", RUNNING, 10).is_err());
        assert!(diff("<result/>", RUNNING, 10).is_err());
        assert!(diff("", RUNNING, 10).is_err());
    }
}
