//! Normalised PAN-OS objects, parsed from the inner XML of a `<result>`. The XML ends here:
//! the client hands the tools these types, never markup.

use std::collections::BTreeMap;
use std::net::IpAddr;

use roxmltree::{Document, Node};
use schemars::JsonSchema;
use serde::Serialize;

use super::Name;

/// Parse the inner XML of a `<result>` (zero or more sibling elements).
pub fn with_result<T>(inner: &str, f: impl FnOnce(Node<'_, '_>) -> T) -> Result<T, String> {
    let wrapped = format!("<result>{inner}</result>");
    let doc = Document::parse(&wrapped).map_err(|e| format!("unparseable result: {e}"))?;
    Ok(f(doc.root_element()))
}

/// The `<entry>` elements at the top of a result, or inside a single container element.
pub fn entries<'a, 'i>(result: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    let top: Vec<_> = result
        .children()
        .filter(|c| c.has_tag_name("entry"))
        .collect();
    if !top.is_empty() {
        return top;
    }
    result
        .children()
        .filter(Node::is_element)
        .flat_map(|c| c.children().filter(|e| e.has_tag_name("entry")))
        .collect()
}

pub fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(name))
}

pub fn text(n: Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `<name><member>a</member><member>b</member></name>` → `["a", "b"]`.
pub fn members(n: Node<'_, '_>, name: &str) -> Vec<String> {
    child(n, name).map(member_list).unwrap_or_default()
}

fn member_list(n: Node<'_, '_>) -> Vec<String> {
    n.children()
        .filter(|c| c.has_tag_name("member"))
        .filter_map(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn yes(n: Node<'_, '_>, name: &str) -> bool {
    text(n, name).is_some_and(|t| t == "yes")
}

fn name_of(n: Node<'_, '_>) -> String {
    n.attribute("name").unwrap_or_default().to_string()
}

/// An address object.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct AddressObject {
    pub name: String,
    /// `ip-netmask`, `ip-range`, `ip-wildcard` or `fqdn`.
    pub kind: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Where the object lives (`vsys:vsys1`, `shared`, `device-group:DG`, `pushed:vsys1`).
    pub location: String,
}

pub fn address_object(n: Node<'_, '_>, location: &str) -> AddressObject {
    let (kind, value) = ["ip-netmask", "ip-range", "ip-wildcard", "fqdn"]
        .iter()
        .find_map(|k| text(n, k).map(|v| (k.to_string(), v)))
        .unwrap_or_else(|| ("unknown".into(), String::new()));
    AddressObject {
        name: name_of(n),
        kind,
        value,
        description: text(n, "description"),
        tags: members(n, "tag"),
        location: location.to_string(),
    }
}

/// An address group.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct AddressGroup {
    pub name: String,
    /// `static` or `dynamic`.
    pub kind: String,
    /// Static members (object or group names).
    pub members: Vec<String>,
    /// Dynamic match filter, e.g. `'web' and 'prod'`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub location: String,
    /// With `expand`: the address objects the group resolves to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expanded: Option<Vec<AddressObject>>,
}

pub fn address_group(n: Node<'_, '_>, location: &str) -> AddressGroup {
    let filter = child(n, "dynamic").and_then(|d| text(d, "filter"));
    AddressGroup {
        name: name_of(n),
        kind: if filter.is_some() {
            "dynamic".into()
        } else {
            "static".into()
        },
        members: members(n, "static"),
        filter,
        description: text(n, "description"),
        tags: members(n, "tag"),
        location: location.to_string(),
        expanded: None,
    }
}

/// A service object or service group.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ServiceObject {
    pub name: String,
    /// `service` or `service-group`.
    pub kind: String,
    /// `tcp`, `udp` or `sctp` (services only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Destination ports, e.g. `80,443,8000-8100`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<String>,
    /// Group members (service groups only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub location: String,
}

pub fn service(n: Node<'_, '_>, location: &str) -> ServiceObject {
    let proto = child(n, "protocol").and_then(|p| p.children().find(Node::is_element));
    ServiceObject {
        name: name_of(n),
        kind: "service".into(),
        protocol: proto.map(|p| p.tag_name().name().to_string()),
        port: proto.and_then(|p| text(p, "port")),
        source_port: proto.and_then(|p| text(p, "source-port")),
        members: Vec::new(),
        description: text(n, "description"),
        tags: members(n, "tag"),
        location: location.to_string(),
    }
}

pub fn service_group(n: Node<'_, '_>, location: &str) -> ServiceObject {
    ServiceObject {
        name: name_of(n),
        kind: "service-group".into(),
        protocol: None,
        port: None,
        source_port: None,
        members: members(n, "members"),
        description: text(n, "description"),
        tags: members(n, "tag"),
        location: location.to_string(),
    }
}

/// A security zone.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    /// `layer3`, `layer2`, `virtual-wire`, `tap`, `tunnel`, `external`, or `none`.
    pub mode: String,
    pub interfaces: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_protection_profile: Option<String>,
    pub user_id_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_setting: Option<String>,
    pub location: String,
}

pub fn zone(n: Node<'_, '_>, location: &str) -> Zone {
    let network = child(n, "network");
    let mode_node = network.and_then(|net| {
        net.children().find(|c| {
            c.is_element()
                && [
                    "layer3",
                    "layer2",
                    "virtual-wire",
                    "tap",
                    "tunnel",
                    "external",
                ]
                .contains(&c.tag_name().name())
        })
    });
    Zone {
        name: name_of(n),
        mode: mode_node
            .map(|m| m.tag_name().name().to_string())
            .unwrap_or_else(|| "none".into()),
        interfaces: mode_node.map(member_list).unwrap_or_default(),
        zone_protection_profile: network.and_then(|net| text(net, "zone-protection-profile")),
        user_id_enabled: yes(n, "enable-user-identification"),
        log_setting: network.and_then(|net| text(net, "log-setting")),
        location: location.to_string(),
    }
}

/// A security rule, in rulebase order.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct SecurityRule {
    /// 1-based position within its rulebase.
    pub position: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub source: Vec<String>,
    pub destination: Vec<String>,
    pub negate_source: bool,
    pub negate_destination: bool,
    pub source_user: Vec<String>,
    pub application: Vec<String>,
    pub service: Vec<String>,
    pub category: Vec<String>,
    /// `allow`, `deny`, `drop`, `reset-client`, `reset-server` or `reset-both`.
    pub action: String,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_setting: Option<String>,
    pub log_start: bool,
    pub log_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_group: Option<String>,
    /// Individual security profiles by type (`virus`, `spyware`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, Vec<String>>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `pre`, `post` (Panorama) or `local` (firewall).
    pub rulebase: String,
    pub location: String,
}

pub fn security_rule(
    n: Node<'_, '_>,
    position: usize,
    rulebase: &str,
    location: &str,
) -> SecurityRule {
    let ps = child(n, "profile-setting");
    let mut profiles = BTreeMap::new();
    if let Some(p) = ps.and_then(|p| child(p, "profiles")) {
        for kind in p.children().filter(Node::is_element) {
            profiles.insert(kind.tag_name().name().to_string(), member_list(kind));
        }
    }
    SecurityRule {
        position,
        name: name_of(n),
        uuid: n.attribute("uuid").map(str::to_string),
        from: members(n, "from"),
        to: members(n, "to"),
        source: members(n, "source"),
        destination: members(n, "destination"),
        negate_source: yes(n, "negate-source"),
        negate_destination: yes(n, "negate-destination"),
        source_user: members(n, "source-user"),
        application: members(n, "application"),
        service: members(n, "service"),
        category: members(n, "category"),
        action: text(n, "action").unwrap_or_else(|| "allow".into()),
        disabled: yes(n, "disabled"),
        log_setting: text(n, "log-setting"),
        log_start: yes(n, "log-start"),
        // PAN-OS logs at session end unless told otherwise.
        log_end: text(n, "log-end").is_none_or(|v| v == "yes"),
        profile_group: ps
            .and_then(|p| child(p, "group"))
            .and_then(|g| member_list(g).into_iter().next()),
        profiles,
        tags: members(n, "tag"),
        description: text(n, "description"),
        rulebase: rulebase.to_string(),
        location: location.to_string(),
    }
}

/// `show system info`, flattened to key/value pairs.
pub fn system_info(result: Node<'_, '_>) -> BTreeMap<String, String> {
    let system = child(result, "system").unwrap_or(result);
    system
        .children()
        .filter(|c| c.is_element() && !c.children().any(|g| g.is_element()))
        .map(|c| {
            (
                c.tag_name().name().to_string(),
                c.text().map(str::trim).unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The first rule of a `test security-policy-match` answer: (name, action, index). PAN-OS
/// answers `<entry name="R">…` on current releases and `<entry>R; index: 3</entry>` on old ones.
pub fn policy_match<'a, 'i>(
    result: Node<'a, 'i>,
) -> Option<(String, Option<String>, Option<u32>, Node<'a, 'i>)> {
    let rules = child(result, "rules")?;
    let entry = rules.children().find(|c| c.has_tag_name("entry"))?;
    if let Some(name) = entry.attribute("name") {
        let index = text(entry, "index").and_then(|i| i.parse().ok());
        return Some((name.to_string(), text(entry, "action"), index, entry));
    }
    let raw = entry.text()?.trim().to_string();
    let (name, rest) = raw
        .split_once(';')
        .map_or((raw.as_str(), ""), |(n, r)| (n, r));
    let index = rest
        .trim()
        .strip_prefix("index:")
        .and_then(|i| i.trim().parse().ok());
    Some((name.trim().to_string(), text(entry, "action"), index, entry))
}

// A Panorama device group. No doc comment: it would become the schema's description.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeviceGroup {
    pub name: String,
    /// The parent device group, or `shared` at the top.
    pub parent: String,
    /// From `shared` down to this group.
    pub path: Vec<String>,
    /// Serial numbers of the firewalls in the group.
    pub devices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A device group entry: parent `shared` and an empty path until the hierarchy is known.
pub fn device_group(n: Node<'_, '_>) -> DeviceGroup {
    DeviceGroup {
        name: n.attribute("name").unwrap_or_default().to_string(),
        parent: "shared".into(),
        path: Vec::new(),
        devices: child(n, "devices")
            .map(|d| {
                d.children()
                    .filter(|c| c.has_tag_name("entry"))
                    .filter_map(|c| c.attribute("name"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        description: text(n, "description"),
    }
}

/// A `/config/readonly` device group entry: (name, parent), when it names a parent.
pub fn device_group_parent(n: Node<'_, '_>) -> Option<(String, String)> {
    Some((n.attribute("name")?.to_string(), text(n, "parent-dg")?))
}

/// A tag.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    /// `color1`..`color42`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    pub location: String,
}

pub fn tag(n: Node<'_, '_>, location: &str) -> Tag {
    Tag {
        name: name_of(n),
        color: text(n, "color"),
        comments: text(n, "comments"),
        location: location.to_string(),
    }
}

/// A NAT rule, in rulebase order.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct NatRule {
    /// 1-based position within its rulebase.
    pub position: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// The egress interface the rule is limited to (`any` when absent).
    pub to_interface: String,
    pub source: Vec<String>,
    pub destination: Vec<String>,
    /// The service (one name, `any` when absent).
    pub service: String,
    /// `ipv4`, `nat64` or `nptv6`.
    pub nat_type: String,
    /// Source translation: `dynamic-ip-and-port`, `dynamic-ip`, `static-ip`, or `none`.
    pub source_translation: String,
    /// Translated source addresses, or the interface (and address) used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub translated_source: Vec<String>,
    /// Destination translation: the translated address, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translated_destination: Option<String>,
    /// Destination translation: the translated port, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translated_port: Option<String>,
    pub disabled: bool,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `pre`, `post` (Panorama) or `local` (firewall).
    pub rulebase: String,
    pub location: String,
}

pub fn nat_rule(n: Node<'_, '_>, position: usize, rulebase: &str, location: &str) -> NatRule {
    let st = child(n, "source-translation").and_then(|s| s.children().find(Node::is_element));
    let mut translated_source = Vec::new();
    if let Some(st) = st {
        // dynamic-ip(-and-port): translated-address members, or interface-address/interface
        // (and ip); static-ip: translated-address text.
        translated_source.extend(members(st, "translated-address"));
        if translated_source.is_empty()
            && let Some(t) = text(st, "translated-address")
        {
            translated_source.push(t);
        }
        if let Some(ia) = child(st, "interface-address") {
            translated_source.extend(text(ia, "interface"));
            translated_source.extend(text(ia, "ip"));
        }
    }
    let dt =
        child(n, "destination-translation").or_else(|| child(n, "dynamic-destination-translation"));
    NatRule {
        position,
        name: name_of(n),
        uuid: n.attribute("uuid").map(str::to_string),
        from: members(n, "from"),
        to: members(n, "to"),
        to_interface: text(n, "to-interface").unwrap_or_else(|| "any".into()),
        source: members(n, "source"),
        destination: members(n, "destination"),
        service: text(n, "service").unwrap_or_else(|| "any".into()),
        nat_type: text(n, "nat-type").unwrap_or_else(|| "ipv4".into()),
        source_translation: st
            .map(|s| s.tag_name().name().to_string())
            .unwrap_or_else(|| "none".into()),
        translated_source,
        translated_destination: dt.and_then(|d| text(d, "translated-address")),
        translated_port: dt.and_then(|d| text(d, "translated-port")),
        disabled: yes(n, "disabled"),
        tags: members(n, "tag"),
        description: text(n, "description"),
        rulebase: rulebase.to_string(),
        location: location.to_string(),
    }
}

/// One rule's hit count (`show rule-hit-count`).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct HitCount {
    pub name: String,
    pub hit_count: u64,
    /// Last hit (RFC 3339), absent when never hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_hit: Option<String>,
    /// First hit (RFC 3339), absent when never hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_hit: Option<String>,
    /// When the counter was last reset (RFC 3339), absent when never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reset: Option<String>,
    /// When the rule was created (RFC 3339), when PAN-OS reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the rule was last modified (RFC 3339), when PAN-OS reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
}

/// An epoch-seconds field; 0 and absent are "never".
fn epoch(n: Node<'_, '_>, name: &str) -> Option<String> {
    let secs: u64 = text(n, name)?.parse().ok()?;
    (secs > 0).then(|| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        )
        .to_string()
    })
}

/// Every rule entry of a `show rule-hit-count` answer.
pub fn hit_counts(result: Node<'_, '_>) -> Vec<HitCount> {
    result
        .descendants()
        .filter(|r| r.has_tag_name("rules"))
        .flat_map(|r| r.children().filter(|e| e.has_tag_name("entry")))
        .filter_map(|e| {
            Some(HitCount {
                name: e.attribute("name")?.to_string(),
                hit_count: text(e, "hit-count")
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(0),
                last_hit: epoch(e, "last-hit-timestamp"),
                first_hit: epoch(e, "first-hit-timestamp"),
                last_reset: epoch(e, "last-reset-timestamp"),
                created: epoch(e, "rule-creation-timestamp"),
                modified: epoch(e, "rule-modification-timestamp"),
            })
        })
        .collect()
}

/// An asynchronous job (`show jobs id N`).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    /// `Commit`, `CommitAll`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `ACT` (running), `PEND` (queued) or `FIN` (finished).
    pub status: String,
    /// `PEND` until finished, then `OK` or `FAIL`.
    pub result: String,
    /// 0-100.
    pub progress: u8,
    /// The administrator who started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was enqueued, as PAN-OS prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enqueued: Option<String>,
    /// When it finished, as PAN-OS prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// What PAN-OS reported, line by line.
    pub details: Vec<String>,
    pub warnings: Vec<String>,
    /// A push's firewalls and how each fared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<JobDevice>,
}

/// One firewall of a Panorama push job.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct JobDevice {
    pub serial: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: String,
    pub result: String,
    pub details: Vec<String>,
}

impl Job {
    pub fn finished(&self) -> bool {
        self.status == "FIN"
    }

    pub fn succeeded(&self) -> bool {
        self.finished() && self.result == "OK" && self.devices.iter().all(|d| d.result == "OK")
    }
}

/// The lines of a `<details>`/`<warnings>` element: `<line>`s (possibly nested in `<msg>`),
/// or its text.
fn lines(n: Option<Node<'_, '_>>) -> Vec<String> {
    let Some(n) = n else { return Vec::new() };
    let ls: Vec<String> = n
        .descendants()
        .filter(|d| d.has_tag_name("line"))
        .map(super::xml::all_text)
        .filter(|t| !t.is_empty())
        .collect();
    if !ls.is_empty() {
        return ls;
    }
    let t = super::xml::all_text(n);
    if t.is_empty() { Vec::new() } else { vec![t] }
}

/// The `<job>` of a `show jobs id N` answer.
pub fn job(result: Node<'_, '_>) -> Option<Job> {
    let j = if result.has_tag_name("job") {
        result
    } else {
        child(result, "job")?
    };
    let id = text(j, "id")?.parse().ok()?;
    let fin = text(j, "tfin").filter(|t| t != "Still Active");
    Some(Job {
        id,
        kind: text(j, "type").unwrap_or_default(),
        status: text(j, "status").unwrap_or_else(|| "PEND".into()),
        result: text(j, "result").unwrap_or_else(|| "PEND".into()),
        progress: text(j, "progress")
            .and_then(|p| p.parse::<u32>().ok())
            .map_or(0, |p| p.min(100) as u8),
        user: text(j, "user"),
        description: text(j, "description"),
        enqueued: text(j, "tenq"),
        finished: fin,
        details: lines(child(j, "details")),
        warnings: lines(child(j, "warnings")),
        devices: child(j, "devices")
            .map(|d| {
                d.children()
                    .filter(|e| e.has_tag_name("entry"))
                    .map(|e| JobDevice {
                        serial: text(e, "serial-no").unwrap_or_default(),
                        name: text(e, "devicename"),
                        status: text(e, "status").unwrap_or_default(),
                        result: text(e, "result").unwrap_or_default(),
                        details: lines(child(e, "details")),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A config or commit lock (`show config-locks`).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ConfigLock {
    /// The administrator holding it.
    pub admin: String,
    /// `shared` or a vsys (or device group).
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The entries of a `show config-locks` / `show commit-locks` answer.
pub fn locks(result: Node<'_, '_>) -> Vec<ConfigLock> {
    result
        .descendants()
        .filter(|e| e.has_tag_name("entry"))
        .filter_map(|e| {
            Some(ConfigLock {
                admin: e.attribute("name")?.to_string(),
                scope: text(e, "name").unwrap_or_else(|| "shared".into()),
                comment: text(e, "comment").filter(|c| c != "(null)"),
            })
        })
        .collect()
}

/// A commit, revert or push answer: the job it enqueued, if any (`<job>N</job>`; none when
/// there was nothing to do).
pub fn enqueued_job(result: Node<'_, '_>) -> Option<u64> {
    result
        .descendants()
        .find(|n| n.has_tag_name("job"))
        .and_then(|j| j.text())
        .and_then(|t| t.trim().parse().ok())
}

/// A flow for `test security-policy-match`, every part validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMatchQuery {
    pub from: Name,
    pub to: Name,
    pub source: IpAddr,
    pub destination: IpAddr,
    /// IP protocol number (1 icmp, 6 tcp, 17 udp).
    pub protocol: u8,
    pub destination_port: Option<u16>,
    pub application: Option<Name>,
    pub vsys: Name,
}

impl PolicyMatchQuery {
    /// The op command. Every value is validated: zone and app names hold no markup
    /// characters, and the addresses and numbers were parsed and are printed back.
    pub fn command(&self) -> String {
        let Self {
            from,
            to,
            source,
            destination,
            protocol,
            ..
        } = self;
        let mut cmd = format!(
            "<test><security-policy-match><from>{from}</from><to>{to}</to><source>{source}</source><destination>{destination}</destination><protocol>{protocol}</protocol>"
        );
        if let Some(p) = self.destination_port {
            cmd.push_str(&format!("<destination-port>{p}</destination-port>"));
        }
        if let Some(a) = &self.application {
            cmd.push_str(&format!("<application>{a}</application>"));
        }
        cmd.push_str("</security-policy-match></test>");
        cmd
    }
}

/// The rule a `test security-policy-match` reported first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub name: String,
    /// Absent on old PAN-OS releases (`<entry>NAME; index: N</entry>`).
    pub action: Option<String>,
    pub index: Option<u32>,
}

/// A `test security-policy-match` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMatch {
    /// The command that was sent.
    pub command: String,
    /// The first rule reported; `None` when PAN-OS reported none.
    pub rule: Option<MatchedRule>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_match_answers_old_and_new() {
        let new = "<rules><entry name=\"allow-web\"><index>3</index><action>allow</action></entry></rules>";
        let got =
            with_result(new, |r| policy_match(r).map(|(n, a, i, _)| (n, a, i))).expect("parse");
        assert_eq!(
            got,
            Some(("allow-web".into(), Some("allow".into()), Some(3)))
        );
        let old = "<rules><entry>deny-all; index: 8</entry></rules>";
        let got =
            with_result(old, |r| policy_match(r).map(|(n, a, i, _)| (n, a, i))).expect("parse");
        assert_eq!(
            got,
            Some(("deny-all".into(), None, Some(8))),
            "no action: the tool reads it from the rulebase"
        );
        let none = with_result("<rules/>", |r| policy_match(r).is_none()).expect("parse");
        assert!(none);
    }

    #[test]
    fn policy_match_command_is_built_from_validated_parts() {
        let name = |f: &str, v: &str| Name::parse(f, v).expect("valid name");
        let mut q = PolicyMatchQuery {
            from: name("from_zone", "trust"),
            to: name("to_zone", "untrust"),
            source: "10.0.0.1".parse().expect("ip"),
            destination: "2001:db8::1".parse().expect("ip"),
            protocol: 6,
            destination_port: Some(443),
            application: Some(name("application", "ssl")),
            vsys: name("vsys", "vsys1"),
        };
        assert_eq!(
            q.command(),
            "<test><security-policy-match><from>trust</from><to>untrust</to><source>10.0.0.1</source><destination>2001:db8::1</destination><protocol>6</protocol><destination-port>443</destination-port><application>ssl</application></security-policy-match></test>"
        );
        q.protocol = 1;
        q.destination_port = None;
        q.application = None;
        assert!(
            q.command()
                .ends_with("<protocol>1</protocol></security-policy-match></test>")
        );
    }

    #[test]
    fn zones_find_their_mode_after_other_children() {
        let xml = "<entry name=\"untrust\"><network><zone-protection-profile>zp</zone-protection-profile><layer3><member>ethernet1/1</member></layer3></network></entry>";
        let z = with_result(xml, |r| zone(entries(r)[0], "vsys:vsys1")).expect("parse");
        assert_eq!(
            (
                z.mode.as_str(),
                z.interfaces.clone(),
                z.zone_protection_profile.as_deref()
            ),
            ("layer3", vec!["ethernet1/1".to_string()], Some("zp"))
        );
    }
}
