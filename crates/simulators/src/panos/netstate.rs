//! Operational network state built deterministically from the running
//! configuration: interfaces (`show interface all`, `show interface NAME`),
//! routes (`show routing route`, `test routing fib-lookup`) and HA
//! (`show high-availability state`).
//!
//! Every configured layer-3 interface is up; its zone and virtual router are
//! the ones that list it. Routes are the connected subnets of those
//! interfaces plus the configured static routes.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::dom::{Element, escape_text};
use super::error_line;

/// One configured interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// `ethernet1/1`, `ethernet1/3.10`, `loopback.50`, ...
    pub name: String,
    /// `ip/prefix` strings in config order.
    pub ips: Vec<String>,
    /// The zone that lists it.
    pub zone: Option<String>,
    /// The virtual router that lists it.
    pub vr: Option<String>,
    /// `layer3`, `layer2`, `virtual-wire`, `tap`, `ha` or `loopback`/`tunnel`.
    pub mode: String,
    /// Position, used as the interface id.
    pub id: usize,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Virtual router.
    pub vr: String,
    /// `a.b.c.d/n`.
    pub destination: String,
    /// Next hop address, `0.0.0.0` for connected, or `vr NAME`/`discard`.
    pub nexthop: String,
    /// Metric.
    pub metric: u32,
    /// `A C` connected, `A S` static.
    pub flags: &'static str,
    /// Egress interface (may be empty for a next-vr route).
    pub interface: String,
}

fn device(config: &Element) -> Option<&Element> {
    config
        .child("devices")?
        .elements()
        .find(|e| e.name == "entry")
}

/// Parses `a.b.c.d/n` (or a bare address as /32).
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, len.parse::<u8>().ok()?),
        None => (s, 32),
    };
    if len > 32 {
        return None;
    }
    Some((ip.trim().parse().ok()?, len))
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

/// The network of `ip/len` as `a.b.c.d/len`.
pub fn network(ip: Ipv4Addr, len: u8) -> String {
    format!("{}/{len}", Ipv4Addr::from(u32::from(ip) & mask(len)))
}

/// Does `net/len` contain `ip`?
pub fn contains(net: Ipv4Addr, len: u8, ip: Ipv4Addr) -> bool {
    (u32::from(net) & mask(len)) == (u32::from(ip) & mask(len))
}

fn ip_entries(el: &Element) -> Vec<String> {
    el.child("ip")
        .map(|ip| {
            ip.elements()
                .filter(|e| e.name == "entry")
                .filter_map(|e| e.name_attr().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every configured interface, with zone and virtual router.
pub fn interfaces(config: &Element) -> Vec<Iface> {
    let Some(dev) = device(config) else {
        return Vec::new();
    };
    let mut out: Vec<Iface> = Vec::new();
    let mut push = |name: &str, ips: Vec<String>, mode: &str| {
        let id = out.len() + 16;
        out.push(Iface {
            name: name.to_owned(),
            ips,
            zone: None,
            vr: None,
            mode: mode.to_owned(),
            id,
        });
    };
    let iface = dev.path(&["network", "interface"]);
    for kind in ["ethernet", "aggregate-ethernet"] {
        for e in iface
            .and_then(|i| i.child(kind))
            .into_iter()
            .flat_map(|k| k.elements().filter(|e| e.name == "entry"))
        {
            let Some(name) = e.name_attr() else { continue };
            let mode = ["layer3", "layer2", "virtual-wire", "tap", "ha"]
                .into_iter()
                .find(|m| e.child(m).is_some())
                .unwrap_or("layer3");
            let l3 = e.child("layer3");
            push(name, l3.map(ip_entries).unwrap_or_default(), mode);
            if let Some(units) = e.child(mode).and_then(|m| m.child("units")) {
                for u in units.elements().filter(|u| u.name == "entry") {
                    if let Some(uname) = u.name_attr() {
                        push(uname, ip_entries(u), mode);
                    }
                }
            }
        }
    }
    for kind in ["loopback", "tunnel", "vlan"] {
        if let Some(k) = iface.and_then(|i| i.child(kind)) {
            if !ip_entries(k).is_empty() {
                push(kind, ip_entries(k), kind);
            }
            for u in k
                .child("units")
                .into_iter()
                .flat_map(|u| u.elements().filter(|e| e.name == "entry"))
            {
                if let Some(uname) = u.name_attr() {
                    push(uname, ip_entries(u), kind);
                }
            }
        }
    }
    // Zones (every vsys) and virtual routers that list each interface.
    let zones: Vec<(String, Vec<String>)> = dev
        .child("vsys")
        .into_iter()
        .flat_map(|v| v.elements().filter(|e| e.name == "entry"))
        .filter_map(|v| v.child("zone"))
        .flat_map(|z| z.elements().filter(|e| e.name == "entry"))
        .filter_map(|z| {
            let net = z.child("network")?;
            let members = net.elements().flat_map(Element::member_texts).collect();
            Some((z.name_attr()?.to_owned(), members))
        })
        .collect();
    let vrs: Vec<(String, Vec<String>)> = dev
        .path(&["network", "virtual-router"])
        .into_iter()
        .flat_map(|v| v.elements().filter(|e| e.name == "entry"))
        .filter_map(|v| Some((v.name_attr()?.to_owned(), v.members("interface"))))
        .collect();
    for i in &mut out {
        i.zone = zones
            .iter()
            .find(|(_, m)| m.contains(&i.name))
            .map(|(z, _)| z.clone());
        i.vr = vrs
            .iter()
            .find(|(_, m)| m.contains(&i.name))
            .map(|(v, _)| v.clone());
    }
    out
}

/// Every route: connected subnets of interfaces in a virtual router, then
/// static routes, per virtual router in config order.
pub fn routes(config: &Element) -> Vec<Route> {
    let ifaces = interfaces(config);
    let Some(dev) = device(config) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for vr in dev
        .path(&["network", "virtual-router"])
        .into_iter()
        .flat_map(|v| v.elements().filter(|e| e.name == "entry"))
    {
        let Some(vr_name) = vr.name_attr() else {
            continue;
        };
        for i in ifaces.iter().filter(|i| i.vr.as_deref() == Some(vr_name)) {
            for ip in &i.ips {
                if let Some((addr, len)) = parse_cidr(ip) {
                    out.push(Route {
                        vr: vr_name.to_owned(),
                        destination: network(addr, len),
                        nexthop: "0.0.0.0".to_owned(),
                        metric: 0,
                        flags: "A C",
                        interface: i.name.clone(),
                    });
                }
            }
        }
        for r in vr
            .path(&["routing-table", "ip", "static-route"])
            .into_iter()
            .flat_map(|s| s.elements().filter(|e| e.name == "entry"))
        {
            let Some(dest) = r.child_text("destination") else {
                continue;
            };
            let nh = r.child("nexthop");
            let nexthop = nh
                .and_then(|n| n.child_text("ip-address"))
                .or_else(|| {
                    nh.and_then(|n| n.child_text("next-vr"))
                        .map(|v| format!("vr {v}"))
                })
                .or_else(|| {
                    nh.and_then(|n| n.child("discard"))
                        .map(|_| "discard".to_owned())
                })
                .unwrap_or_else(|| "0.0.0.0".to_owned());
            out.push(Route {
                vr: vr_name.to_owned(),
                destination: dest,
                nexthop,
                metric: r
                    .child_text("metric")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(10),
                flags: "A S",
                interface: r.child_text("interface").unwrap_or_default(),
            });
        }
    }
    out
}

/// The longest-prefix route for `ip` in virtual router `vr` (lowest metric
/// on a tie).
pub fn lookup<'a>(routes: &'a [Route], vr: &str, ip: Ipv4Addr) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| r.vr == vr)
        .filter_map(|r| {
            let (net, len) = parse_cidr(&r.destination)?;
            contains(net, len, ip).then_some((len, r))
        })
        .max_by(|(la, ra), (lb, rb)| la.cmp(lb).then(rb.metric.cmp(&ra.metric)))
        .map(|(_, r)| r)
}

fn counters(name: &str) -> [u64; 4] {
    let h = name.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    });
    let pk = 10_000 + h % 90_000;
    [pk * 800, pk * 700, pk, pk * 7 / 8]
}

fn write_ifnet(out: &mut String, i: &Iface) {
    let _ = write!(
        out,
        "<entry><name>{}</name><zone>{}</zone><fwd>{}</fwd><vsys>1</vsys><dyn-addr/><addr6/><tag>0</tag><ip>{}</ip><id>{}</id><addr/></entry>",
        escape_text(&i.name),
        escape_text(i.zone.as_deref().unwrap_or_default()),
        escape_text(
            &i.vr
                .as_ref()
                .map(|v| format!("vr:{v}"))
                .unwrap_or_else(|| "N/A".to_owned())
        ),
        escape_text(i.ips.first().map_or("N/A", String::as_str)),
        i.id
    );
}

fn write_hw(out: &mut String, i: &Iface) {
    let _ = write!(
        out,
        "<entry><name>{}</name><duplex>full</duplex><type>0</type><state>up</state><st>10000/full/up</st><mac>00:1b:17:00:{:02x}:{:02x}</mac><mode>(autoneg)</mode><speed>10000</speed><id>{}</id></entry>",
        escape_text(&i.name),
        i.id / 256,
        i.id % 256,
        i.id
    );
}

/// `show interface all`, or `show interface NAME` (with counters).
pub fn show_interface(config: &Element, which: &str) -> String {
    let all = interfaces(config);
    let mut out = String::from("<response status=\"success\"><result>");
    if which == "all" {
        out.push_str("<ifnet>");
        for i in &all {
            write_ifnet(&mut out, i);
        }
        out.push_str("</ifnet><hw>");
        for i in &all {
            write_hw(&mut out, i);
        }
        out.push_str("</hw>");
    } else {
        let Some(i) = all.iter().find(|i| i.name == which) else {
            return error_line(&format!("{which} is not a valid interface"));
        };
        out.push_str("<ifnet>");
        write_ifnet(&mut out, i);
        out.push_str("</ifnet><hw>");
        write_hw(&mut out, i);
        let [ib, ob, ip, op] = counters(&i.name);
        let _ = write!(
            out,
            "</hw><counters><ifnet><entry><name>{}</name><ibytes>{ib}</ibytes><obytes>{ob}</obytes><ipackets>{ip}</ipackets><opackets>{op}</opackets><ierrors>0</ierrors><idrops>0</idrops></entry></ifnet></counters>",
            escape_text(&i.name)
        );
    }
    out.push_str("</result></response>");
    out
}

/// `show routing route` with the optional `virtual-router` and
/// `destination` filters of `<route>`.
pub fn show_routes(config: &Element, filter: Option<&Element>) -> String {
    let vr = filter.and_then(|f| f.child_text("virtual-router"));
    let dest = filter.and_then(|f| f.child_text("destination"));
    let mut out = String::from(
        "<response status=\"success\"><result><flags>flags: A:active, ?:loose, C:connect, H:host, S:static, ~:internal, R:rip, O:ospf, B:bgp, Oi:ospf intra-area, Oo:ospf inter-area, O1:ospf ext-type-1, O2:ospf ext-type-2, E:ecmp, M:multicast</flags>",
    );
    for r in routes(config) {
        if vr.as_deref().is_some_and(|v| v != r.vr)
            || dest.as_deref().is_some_and(|d| d != r.destination)
        {
            continue;
        }
        let _ = write!(
            out,
            "<entry><virtual-router>{}</virtual-router><destination>{}</destination><nexthop>{}</nexthop><metric>{}</metric><flags>{}</flags><age/><interface>{}</interface><route-table>unicast</route-table></entry>",
            escape_text(&r.vr),
            escape_text(&r.destination),
            escape_text(&r.nexthop),
            r.metric,
            r.flags,
            escape_text(&r.interface)
        );
    }
    out.push_str("</result></response>");
    out
}

/// `test routing fib-lookup virtual-router VR ip IP`.
pub fn fib_lookup(config: &Element, q: &Element) -> String {
    let Some(vr) = q.child_text("virtual-router").filter(|v| !v.is_empty()) else {
        return error_line("virtual-router is missing");
    };
    let Some(ip) = q.child_text("ip").and_then(|i| i.parse::<Ipv4Addr>().ok()) else {
        return error_line("ip is missing or invalid");
    };
    let all = routes(config);
    if !all.iter().any(|r| r.vr == vr)
        && !interfaces(config)
            .iter()
            .any(|i| i.vr.as_deref() == Some(&vr))
    {
        return error_line(&format!("virtual-router {vr} does not exist"));
    }
    let Some(r) = lookup(&all, &vr, ip) else {
        return "<response status=\"success\"><result><nh>none</nh></result></response>".to_owned();
    };
    let ifaces = interfaces(config);
    let src = ifaces
        .iter()
        .find(|i| i.name == r.interface)
        .and_then(|i| i.ips.first())
        .and_then(|c| parse_cidr(c))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default();
    let (nh, nhip) = if r.flags == "A C" {
        ("local", ip.to_string())
    } else {
        ("ip-addr", r.nexthop.clone())
    };
    format!(
        "<response status=\"success\"><result><nh>{nh}</nh><src>{}</src><ip>{}</ip><metric>{}</metric><interface>{}</interface><dp>dp0</dp></result></response>",
        escape_text(&src),
        escape_text(&nhip),
        r.metric,
        escape_text(&r.interface)
    )
}

/// `show high-availability state`: from `deviceconfig/high-availability`.
pub fn show_ha(config: &Element) -> String {
    let ha = device(config).and_then(|d| d.path(&["deviceconfig", "high-availability"]));
    let enabled = ha.and_then(|h| h.child_text("enabled")).as_deref() == Some("yes");
    if !enabled {
        return "<response status=\"success\"><result><enabled>no</enabled></result></response>"
            .to_owned();
    }
    let group = ha.and_then(|h| h.path(&["group"]));
    let peer = group
        .and_then(|g| g.child_text("peer-ip"))
        .unwrap_or_default();
    let mode = if group
        .and_then(|g| g.path(&["mode", "active-active"]))
        .is_some()
    {
        "Active-Active"
    } else {
        "Active-Passive"
    };
    let priority = group
        .and_then(|g| g.path(&["election-option", "device-priority"]))
        .map(|p| p.text().trim().to_owned())
        .unwrap_or_else(|| "100".to_owned());
    format!(
        "<response status=\"success\"><result><enabled>yes</enabled><group><mode>{mode}</mode><local-info><state>active</state><state-sync>Complete</state-sync><priority>{}</priority><preemptive>no</preemptive></local-info><peer-info><state>passive</state><conn-status>up</conn-status><mgmt-ip>{}</mgmt-ip><priority>100</priority></peer-info><running-sync>synchronized</running-sync><running-sync-enabled>yes</running-sync-enabled></group></result></response>",
        escape_text(&priority),
        escape_text(&peer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let (n, l) = parse_cidr("10.1.2.3/24").expect("cidr");
        assert_eq!(network(n, l), "10.1.2.0/24");
        assert!(contains(n, l, "10.1.2.200".parse().expect("ip")));
        assert!(!contains(n, l, "10.1.3.1".parse().expect("ip")));
        assert!(contains(
            "0.0.0.0".parse().expect("ip"),
            0,
            "8.8.8.8".parse().expect("ip")
        ));
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
    }
}
