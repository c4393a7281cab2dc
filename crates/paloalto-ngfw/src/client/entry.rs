//! Configuration entries written from validated parts.
//!
//! A write names each child element it manages and what to do with it ([`Field`]); children it
//! does not manage (a rule's `hip-profiles`, `schedule`, `target`, an object's
//! `disable-override`, ...) and the entry's own attributes (`uuid`) are copied from the
//! candidate as PAN-OS returned them. The whole entry then goes out in one `edit`, so an update
//! changes exactly the fields asked for and keeps the rest.
//!
//! The specs below turn checked tool arguments into fields; the tools parse the entry they
//! built with the same normalisers the read tools use, so a plan's "after" is what PAN-OS
//! will hold.

use roxmltree::Node;

use super::Name;
use super::element::Xml;

/// What a write does with one child element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Keep the child the entry has (nothing, when creating).
    Keep,
    /// Leave the child out.
    Remove,
    /// This child, complete.
    Set(Xml),
    /// This child, built from its own fields over the child the entry has (unmanaged
    /// grandchildren kept). Left out when it would be empty.
    Nested(Vec<(&'static str, Field)>),
}

impl Field {
    /// `<tag>text</tag>`
    pub fn text(tag: &'static str, text: &str) -> Self {
        let mut x = Xml::new();
        x.text(tag, text);
        Self::Set(x)
    }

    /// `<tag><member>..</member></tag>`; an empty list leaves the child out.
    pub fn members<S: AsRef<str>>(tag: &'static str, members: &[S]) -> Self {
        if members.is_empty() {
            return Self::Remove;
        }
        let mut x = Xml::new();
        x.members(tag, members);
        Self::Set(x)
    }

    /// `<tag>yes</tag>` or `<tag>no</tag>`.
    pub fn yes_no(tag: &'static str, v: bool) -> Self {
        Self::text(tag, if v { "yes" } else { "no" })
    }
}

/// A text field of a write: keep it, clear it, or set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextChange {
    Keep,
    Clear,
    Set(String),
}

impl TextChange {
    /// `None` keeps, `""` clears, anything else sets.
    pub fn from_arg(v: Option<String>) -> Self {
        match v {
            None => Self::Keep,
            Some(s) if s.is_empty() => Self::Clear,
            Some(s) => Self::Set(s),
        }
    }

    pub fn field(&self, tag: &'static str) -> Field {
        match self {
            Self::Keep => Field::Keep,
            Self::Clear => Field::Remove,
            Self::Set(s) => Field::text(tag, s),
        }
    }
}

/// A member-list field: keep it, or replace it (an empty list removes it).
pub fn list_field(tag: &'static str, v: &Option<Vec<String>>) -> Field {
    match v {
        None => Field::Keep,
        Some(m) => Field::members(tag, m),
    }
}

/// A yes/no field: keep it or set it.
pub fn flag_field(tag: &'static str, v: Option<bool>) -> Field {
    v.map_or(Field::Keep, |b| Field::yes_no(tag, b))
}

/// The entry `name` with `fields` over `current` (the entry as the candidate holds it, if it
/// exists).
pub fn build_entry(
    name: &Name,
    current: Option<Node<'_, '_>>,
    fields: &[(&'static str, Field)],
) -> Xml {
    let mut out = Xml::new();
    // The entry's own attributes (uuid, ...) stay; the name is the one asked for.
    out.open_entry(name.as_str(), current);
    build_children(&mut out, current, fields);
    out.close("entry");
    out
}

/// Write `fields` over `current`'s children, then `current`'s unmanaged children.
fn build_children(out: &mut Xml, current: Option<Node<'_, '_>>, fields: &[(&'static str, Field)]) {
    let child = |tag: &str| current.and_then(|c| c.children().find(|n| n.has_tag_name(tag)));
    for (tag, f) in fields {
        match f {
            Field::Keep => {
                if let Some(c) = child(tag) {
                    let mut x = Xml::new();
                    super::element::copy_node(&mut x, c);
                    out.append(&x);
                }
            }
            Field::Remove => {}
            Field::Set(x) => {
                out.append(x);
            }
            Field::Nested(inner) => {
                let mut body = Xml::new();
                build_children(&mut body, child(tag), inner);
                if !body.is_empty() {
                    out.open(tag).append(&body).close(tag);
                }
            }
        }
    }
    if let Some(cur) = current {
        for c in cur.children().filter(|c| c.is_element()) {
            let name = c.tag_name().name();
            if fields.iter().any(|(t, _)| *t == name) {
                continue;
            }
            let mut x = Xml::new();
            super::element::copy_node(&mut x, c);
            out.append(&x);
        }
    }
}

// --- what each write manages -------------------------------------------------------------

/// The four kinds of address object.
pub const ADDRESS_KINDS: [&str; 4] = ["ip-netmask", "ip-range", "ip-wildcard", "fqdn"];

/// An address object: `kind` is one of [`ADDRESS_KINDS`], `value` checked for it.
#[derive(Debug, Clone)]
pub struct AddressSpec {
    pub kind: &'static str,
    pub value: String,
    pub description: TextChange,
    pub tags: Option<Vec<String>>,
}

impl AddressSpec {
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        let mut f: Vec<(&'static str, Field)> = ADDRESS_KINDS
            .iter()
            .map(|k| {
                let v = if *k == self.kind {
                    Field::text(k, &self.value)
                } else {
                    Field::Remove
                };
                (*k, v)
            })
            .collect();
        f.push(("description", self.description.field("description")));
        f.push(("tag", list_field("tag", &self.tags)));
        f
    }
}

/// How an address group's membership changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMembers {
    /// Keep the members or filter it has.
    Keep,
    /// Exactly these static members.
    Static(Vec<String>),
    /// A dynamic group matching this tag filter.
    Dynamic(String),
}

/// An address group.
#[derive(Debug, Clone)]
pub struct AddressGroupSpec {
    pub members: GroupMembers,
    pub description: TextChange,
    pub tags: Option<Vec<String>>,
}

impl AddressGroupSpec {
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        let (stat, dynamic) = match &self.members {
            GroupMembers::Keep => (Field::Keep, Field::Keep),
            GroupMembers::Static(m) => (Field::members("static", m), Field::Remove),
            GroupMembers::Dynamic(filter) => (
                Field::Remove,
                Field::Nested(vec![("filter", Field::text("filter", filter))]),
            ),
        };
        vec![
            ("static", stat),
            ("dynamic", dynamic),
            ("description", self.description.field("description")),
            ("tag", list_field("tag", &self.tags)),
        ]
    }
}

/// A service object: protocol `tcp`, `udp` or `sctp` and checked port lists.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub protocol: &'static str,
    pub port: String,
    pub source_port: TextChange,
    pub description: TextChange,
    pub tags: Option<Vec<String>>,
}

impl ServiceSpec {
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        let protocols = ["tcp", "udp", "sctp"].map(|p| {
            let f = if p == self.protocol {
                Field::Nested(vec![
                    ("port", Field::text("port", &self.port)),
                    ("source-port", self.source_port.field("source-port")),
                ])
            } else {
                Field::Remove
            };
            (p, f)
        });
        vec![
            ("protocol", Field::Nested(protocols.to_vec())),
            ("description", self.description.field("description")),
            ("tag", list_field("tag", &self.tags)),
        ]
    }
}

/// A tag: `color` is `color1`..`color42`.
#[derive(Debug, Clone)]
pub struct TagSpec {
    pub color: TextChange,
    pub comments: TextChange,
}

impl TagSpec {
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        vec![
            ("color", self.color.field("color")),
            ("comments", self.comments.field("comments")),
        ]
    }
}

/// The security profiles of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileChange {
    Keep,
    /// No profiles at all.
    Clear,
    /// A security profile group.
    Group(String),
    /// Individual profiles by type (`virus`, `spyware`, ...), each a profile name.
    Profiles(Vec<(&'static str, String)>),
}

/// A security rule: every list is checked and non-empty when given.
#[derive(Debug, Clone, Default)]
pub struct SecurityRuleSpec {
    pub from: Option<Vec<String>>,
    pub to: Option<Vec<String>>,
    pub source: Option<Vec<String>>,
    pub destination: Option<Vec<String>>,
    pub source_user: Option<Vec<String>>,
    pub application: Option<Vec<String>>,
    pub service: Option<Vec<String>>,
    pub category: Option<Vec<String>>,
    pub action: Option<&'static str>,
    pub negate_source: Option<bool>,
    pub negate_destination: Option<bool>,
    pub disabled: Option<bool>,
    pub log_setting: Option<TextChange>,
    pub log_start: Option<bool>,
    pub log_end: Option<bool>,
    pub profiles: Option<ProfileChange>,
    pub tags: Option<Vec<String>>,
    pub description: Option<TextChange>,
}

/// The security profile types a rule can name, in PAN-OS order.
pub const PROFILE_TYPES: [&str; 7] = [
    "virus",
    "spyware",
    "vulnerability",
    "url-filtering",
    "file-blocking",
    "wildfire-analysis",
    "data-filtering",
];

impl SecurityRuleSpec {
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        let text = |t: &Option<TextChange>, tag: &'static str| {
            t.as_ref().map_or(Field::Keep, |t| t.field(tag))
        };
        let profiles = match &self.profiles {
            None | Some(ProfileChange::Keep) => Field::Keep,
            Some(ProfileChange::Clear) => Field::Remove,
            Some(ProfileChange::Group(g)) => Field::Nested(vec![
                ("group", Field::members("group", &[g])),
                ("profiles", Field::Remove),
            ]),
            Some(ProfileChange::Profiles(p)) => {
                let mut x = Xml::new();
                x.open("profiles");
                for kind in PROFILE_TYPES {
                    if let Some((_, name)) = p.iter().find(|(k, _)| *k == kind) {
                        x.members(kind, &[name]);
                    }
                }
                x.close("profiles");
                Field::Nested(vec![("group", Field::Remove), ("profiles", Field::Set(x))])
            }
        };
        vec![
            ("from", list_field("from", &self.from)),
            ("to", list_field("to", &self.to)),
            ("source", list_field("source", &self.source)),
            ("destination", list_field("destination", &self.destination)),
            ("source-user", list_field("source-user", &self.source_user)),
            ("category", list_field("category", &self.category)),
            ("application", list_field("application", &self.application)),
            ("service", list_field("service", &self.service)),
            (
                "action",
                self.action
                    .map_or(Field::Keep, |a| Field::text("action", a)),
            ),
            (
                "negate-source",
                flag_field("negate-source", self.negate_source),
            ),
            (
                "negate-destination",
                flag_field("negate-destination", self.negate_destination),
            ),
            ("disabled", flag_field("disabled", self.disabled)),
            ("log-setting", text(&self.log_setting, "log-setting")),
            ("log-start", flag_field("log-start", self.log_start)),
            ("log-end", flag_field("log-end", self.log_end)),
            ("profile-setting", profiles),
            ("tag", list_field("tag", &self.tags)),
            ("description", text(&self.description, "description")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Name {
        Name::parse("name", n).expect("valid")
    }

    #[test]
    fn create_writes_only_what_is_set() {
        let spec = AddressSpec {
            kind: "ip-netmask",
            value: "10.1.2.3/32".into(),
            description: TextChange::Set("a <b> & c".into()),
            tags: Some(vec!["web".into()]),
        };
        let x = build_entry(&name("web-srv-09"), None, &spec.fields());
        assert_eq!(
            x.as_str(),
            "<entry name=\"web-srv-09\"><ip-netmask>10.1.2.3/32</ip-netmask><description>a &lt;b&gt; &amp; c</description><tag><member>web</member></tag></entry>"
        );
    }

    #[test]
    fn update_keeps_what_it_does_not_manage() {
        let cur = "<entry name=\"r1\" uuid=\"0b6f-1\" admin=\"x\" dirtyId=\"2\" time=\"t\"><from><member>trust</member></from><to><member>untrust</member></to><hip-profiles><member>any</member></hip-profiles><action>allow</action><description>old</description><profile-setting><group><member>default</member></group></profile-setting><schedule>nights</schedule></entry>";
        let doc = roxmltree::Document::parse(cur).expect("xml");
        let spec = SecurityRuleSpec {
            to: Some(vec!["dmz".into()]),
            action: Some("deny"),
            description: Some(TextChange::Clear),
            ..Default::default()
        };
        let x = build_entry(&name("r1"), Some(doc.root_element()), &spec.fields());
        assert_eq!(
            x.as_str(),
            "<entry name=\"r1\" uuid=\"0b6f-1\"><from><member>trust</member></from><to><member>dmz</member></to><action>deny</action><profile-setting><group><member>default</member></group></profile-setting><hip-profiles><member>any</member></hip-profiles><schedule>nights</schedule></entry>"
        );
    }

    #[test]
    fn switching_kinds_and_nesting() {
        let cur = "<entry name=\"svc\"><protocol><tcp><port>80</port><override><no/></override></tcp></protocol><tag><member>a</member></tag></entry>";
        let doc = roxmltree::Document::parse(cur).expect("xml");
        let spec = ServiceSpec {
            protocol: "tcp",
            port: "8080".into(),
            source_port: TextChange::Keep,
            description: TextChange::Keep,
            tags: Some(vec![]),
        };
        let x = build_entry(&name("svc"), Some(doc.root_element()), &spec.fields());
        assert_eq!(
            x.as_str(),
            "<entry name=\"svc\"><protocol><tcp><port>8080</port><override><no/></override></tcp></protocol></entry>"
        );
        let spec = ServiceSpec {
            protocol: "udp",
            port: "53".into(),
            ..spec
        };
        let x = build_entry(&name("svc"), Some(doc.root_element()), &spec.fields());
        assert_eq!(
            x.as_str(),
            "<entry name=\"svc\"><protocol><udp><port>53</port></udp></protocol></entry>"
        );
        let g = AddressGroupSpec {
            members: GroupMembers::Dynamic("'web' and 'prod'".into()),
            description: TextChange::Keep,
            tags: None,
        };
        let cur = "<entry name=\"g\"><static><member>a</member></static></entry>";
        let doc = roxmltree::Document::parse(cur).expect("xml");
        let x = build_entry(&name("g"), Some(doc.root_element()), &g.fields());
        assert_eq!(
            x.as_str(),
            "<entry name=\"g\"><dynamic><filter>'web' and 'prod'</filter></dynamic></entry>"
        );
    }
}
