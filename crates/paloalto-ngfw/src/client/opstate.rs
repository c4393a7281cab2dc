//! Operational state: sessions, routes, interfaces and HA, read with op commands built
//! from validated parts (never cached: the state changes all the time).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::element::Xml;
use super::{PanosClient, PanosError, model};

/// Filters of `show session all filter` (each already validated).
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub source: Option<String>,
    pub destination: Option<String>,
    pub destination_port: Option<u16>,
    pub application: Option<String>,
    pub rule: Option<String>,
    pub state: Option<String>,
    pub protocol: Option<u8>,
}

impl SessionFilter {
    pub fn command(&self) -> Xml {
        let mut x = Xml::new();
        x.open("show").open("session").open("all");
        let any = self.source.is_some()
            || self.destination.is_some()
            || self.destination_port.is_some()
            || self.application.is_some()
            || self.rule.is_some()
            || self.state.is_some()
            || self.protocol.is_some();
        if any {
            x.open("filter");
            if let Some(v) = &self.source {
                x.text("source", v);
            }
            if let Some(v) = &self.destination {
                x.text("destination", v);
            }
            if let Some(v) = self.destination_port {
                x.text("destination-port", &v.to_string());
            }
            if let Some(v) = &self.application {
                x.text("application", v);
            }
            if let Some(v) = &self.rule {
                x.text("rule", v);
            }
            if let Some(v) = &self.state {
                x.text("state", v);
            }
            if let Some(v) = self.protocol {
                x.text("protocol", &v.to_string());
            }
            x.close("filter");
        }
        x.close("all").close("session").close("show");
        x
    }
}

/// One session.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Session {
    pub id: Option<u64>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub source_port: Option<u32>,
    pub destination_port: Option<u32>,
    /// IP protocol number.
    pub protocol: Option<u32>,
    pub from_zone: Option<String>,
    pub to_zone: Option<String>,
    pub application: Option<String>,
    pub rule: Option<String>,
    /// `ACTIVE`, `DISCARD`, `INIT`, ...
    pub state: Option<String>,
    pub bytes: Option<u64>,
    pub start_time: Option<String>,
    pub ingress: Option<String>,
    pub egress: Option<String>,
    /// Translated source and destination when NAT applies.
    pub nat_source: Option<String>,
    pub nat_destination: Option<String>,
}

/// One route.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Route {
    pub virtual_router: String,
    pub destination: String,
    pub nexthop: Option<String>,
    pub metric: Option<u32>,
    /// PAN-OS flags: `A` active, `C` connected, `S` static, `H` host, `O` OSPF, `B` BGP, ...
    pub flags: Option<String>,
    pub interface: Option<String>,
}

/// Counters of one interface.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct Counters {
    pub ibytes: Option<u64>,
    pub obytes: Option<u64>,
    pub ipackets: Option<u64>,
    pub opackets: Option<u64>,
    pub ierrors: Option<u64>,
    pub idrops: Option<u64>,
}

/// One interface.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// `up` or `down` (hardware state).
    pub state: Option<String>,
    pub ip: Option<String>,
    pub zone: Option<String>,
    pub virtual_router: Option<String>,
    pub vsys: Option<String>,
    pub mac: Option<String>,
    pub speed: Option<String>,
    /// Only when one interface was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
}

/// HA state.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct HaState {
    pub enabled: bool,
    pub mode: Option<String>,
    pub local_state: Option<String>,
    pub peer_state: Option<String>,
    pub peer_connection: Option<String>,
    pub peer_mgmt_ip: Option<String>,
    pub running_sync: Option<String>,
}

fn num<T: std::str::FromStr>(n: roxmltree::Node<'_, '_>, name: &str) -> Option<T> {
    model::text(n, name).and_then(|v| v.trim().parse().ok())
}

fn nonempty(n: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    model::text(n, name).filter(|v| !v.trim().is_empty() && v != "N/A")
}

fn entries<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.has_tag_name("entry"))
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(name))
}

fn parse_sessions(r: roxmltree::Node<'_, '_>) -> Vec<Session> {
    entries(r)
        .map(|e| {
            let src = nonempty(e, "source");
            let dst = nonempty(e, "dst");
            let xs = nonempty(e, "xsource").filter(|x| Some(x) != src.as_ref());
            let xd = nonempty(e, "xdst").filter(|x| Some(x) != dst.as_ref());
            Session {
                id: num(e, "idx"),
                source: src,
                destination: dst,
                source_port: num(e, "sport"),
                destination_port: num(e, "dport"),
                protocol: num(e, "proto"),
                from_zone: nonempty(e, "from"),
                to_zone: nonempty(e, "to"),
                application: nonempty(e, "application"),
                rule: nonempty(e, "security-rule"),
                state: nonempty(e, "state"),
                bytes: num(e, "total-byte-count"),
                start_time: nonempty(e, "start-time"),
                ingress: nonempty(e, "ingress"),
                egress: nonempty(e, "egress"),
                nat_source: xs,
                nat_destination: xd,
            }
        })
        .collect()
}

fn parse_routes(r: roxmltree::Node<'_, '_>) -> Vec<Route> {
    entries(r)
        .filter_map(|e| {
            Some(Route {
                virtual_router: nonempty(e, "virtual-router")?,
                destination: nonempty(e, "destination")?,
                nexthop: nonempty(e, "nexthop"),
                metric: num(e, "metric"),
                flags: nonempty(e, "flags"),
                interface: nonempty(e, "interface"),
            })
        })
        .collect()
}

fn parse_interfaces(r: roxmltree::Node<'_, '_>) -> Vec<Interface> {
    let hw: BTreeMap<String, roxmltree::Node<'_, '_>> = child(r, "hw")
        .map(|h| {
            entries(h)
                .filter_map(|e| Some((nonempty(e, "name")?, e)))
                .collect()
        })
        .unwrap_or_default();
    let counters: BTreeMap<String, Counters> = child(r, "counters")
        .and_then(|c| child(c, "ifnet"))
        .map(|c| {
            entries(c)
                .filter_map(|e| {
                    Some((
                        nonempty(e, "name")?,
                        Counters {
                            ibytes: num(e, "ibytes"),
                            obytes: num(e, "obytes"),
                            ipackets: num(e, "ipackets"),
                            opackets: num(e, "opackets"),
                            ierrors: num(e, "ierrors"),
                            idrops: num(e, "idrops"),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(ifnet) = child(r, "ifnet") else {
        return Vec::new();
    };
    let list: Vec<roxmltree::Node<'_, '_>> = if entries(ifnet).next().is_some() {
        entries(ifnet).collect()
    } else {
        vec![ifnet]
    };
    list.into_iter()
        .filter_map(|e| {
            let name = nonempty(e, "name")?;
            let h = hw.get(&name).copied();
            Some(Interface {
                state: h.and_then(|h| nonempty(h, "state")),
                mac: h.and_then(|h| nonempty(h, "mac")),
                speed: h.and_then(|h| nonempty(h, "speed")),
                ip: nonempty(e, "ip"),
                zone: nonempty(e, "zone"),
                virtual_router: nonempty(e, "fwd").map(|f| f.trim_start_matches("vr:").to_string()),
                vsys: nonempty(e, "vsys"),
                counters: counters.get(&name).cloned(),
                name,
            })
        })
        .collect()
}

fn parse_ha(r: roxmltree::Node<'_, '_>) -> HaState {
    let group = child(r, "group");
    let local = group.and_then(|g| child(g, "local-info"));
    let peer = group.and_then(|g| child(g, "peer-info"));
    HaState {
        enabled: model::text(r, "enabled").as_deref() == Some("yes"),
        mode: group.and_then(|g| nonempty(g, "mode")),
        local_state: local.and_then(|l| nonempty(l, "state")),
        peer_state: peer.and_then(|p| nonempty(p, "state")),
        peer_connection: peer.and_then(|p| nonempty(p, "conn-status")),
        peer_mgmt_ip: peer.and_then(|p| nonempty(p, "mgmt-ip")),
        running_sync: group.and_then(|g| nonempty(g, "running-sync")),
    }
}

impl PanosClient {
    async fn op_now(&self, cmd: &Xml) -> Result<Option<String>, PanosError> {
        self.post(&[("type", "op"), ("cmd", cmd.as_str())]).await
    }

    /// `show session all [filter ...]`.
    pub async fn sessions(&self, f: &SessionFilter) -> Result<Vec<Session>, PanosError> {
        let inner = self.op_now(&f.command()).await?;
        Ok(super::parse(inner.as_deref(), parse_sessions)?.unwrap_or_default())
    }

    /// `show routing route [virtual-router VR]`.
    pub async fn routes(&self, virtual_router: Option<&str>) -> Result<Vec<Route>, PanosError> {
        let mut x = Xml::new();
        x.open("show").open("routing").open("route");
        if let Some(vr) = virtual_router {
            x.text("virtual-router", vr);
        }
        x.close("route").close("routing").close("show");
        let inner = self.op_now(&x).await?;
        Ok(super::parse(inner.as_deref(), parse_routes)?.unwrap_or_default())
    }

    /// `show interface all`, or `show interface NAME` (with counters).
    pub async fn interfaces(&self, name: Option<&str>) -> Result<Vec<Interface>, PanosError> {
        let mut x = Xml::new();
        x.open("show")
            .text("interface", name.unwrap_or("all"))
            .close("show");
        let inner = self.op_now(&x).await?;
        Ok(super::parse(inner.as_deref(), parse_interfaces)?.unwrap_or_default())
    }

    /// `show high-availability state`.
    pub async fn ha_state(&self) -> Result<HaState, PanosError> {
        let mut x = Xml::new();
        x.open("show")
            .open("high-availability")
            .empty("state")
            .close("high-availability")
            .close("show");
        let inner = self.op_now(&x).await?;
        Ok(super::parse(inner.as_deref(), parse_ha)?.unwrap_or_default())
    }
}
