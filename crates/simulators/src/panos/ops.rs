//! Operational commands (`type=op`).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dom::{Element, escape_text};
use super::locks::LockKind;
use super::policy_match::{MatchQuery, evaluate, render};
use super::{PanosSim, error_line};

/// The keyword path of a command, used for stats keys and dispatch:
/// `<show><system><info/></system></show>` gives `show-system-info`.
///
/// The path descends into the only child element while that child has no
/// text of its own (arguments such as `<from>trust</from>` stop it).
pub fn command_key(cmd: &Element) -> String {
    let mut parts = vec![cmd.name.as_str()];
    let mut cur = cmd;
    loop {
        let mut kids = cur.elements();
        match (kids.next(), kids.next()) {
            (Some(only), None) if only.text().trim().is_empty() => {
                parts.push(only.name.as_str());
                cur = only;
            }
            _ => break,
        }
    }
    parts.join("-")
}

/// The members of `<partial><admin><member>` under `el`, if it has them.
fn partial_admins(el: &Element) -> Option<Vec<String>> {
    el.path(&["partial", "admin"]).map(Element::member_texts)
}

/// Runs an operational command for `admin` and returns the response body.
/// `vsys` is the request's `vsys` parameter (policy match defaults it to
/// vsys1, locks to `shared`).
pub fn run(sim: &PanosSim, admin: &str, cmd: &Element, vsys: Option<&str>) -> String {
    let key = command_key(cmd);
    if key == "show-system-info" {
        return show_system_info(sim);
    }
    if let Some(answer) = change_management(sim, admin, cmd, vsys) {
        return answer;
    }
    if let Some(answer) = operational_state(sim, cmd) {
        return answer;
    }
    if cmd.name == "test"
        && let Some(spm) = cmd.child("security-policy-match")
    {
        return security_policy_match(sim, spm, vsys.unwrap_or("vsys1"));
    }
    if cmd.name == "test"
        && let Some(npm) = cmd.child("nat-policy-match")
    {
        return nat_policy_match(sim, npm, vsys.unwrap_or("vsys1"));
    }
    unexpected(&cmd.name)
}

/// Devices, sessions, routes, interfaces and HA state.
fn operational_state(sim: &PanosSim, cmd: &Element) -> Option<String> {
    let config = sim.config();
    let panorama = super::is_panorama(&config);
    if cmd.name == "test" {
        let q = cmd.path(&["routing", "fib-lookup"])?;
        if panorama {
            return Some(error_line(
                "test routing fib-lookup is not supported on Panorama",
            ));
        }
        return Some(super::netstate::fib_lookup(&config, q));
    }
    if cmd.name != "show" {
        return None;
    }
    if let Some(which) = cmd.child("devices") {
        if !panorama {
            return Some(unexpected("devices"));
        }
        let connected_only = match which.text().trim() {
            "" if which.child("connected").is_some() => true,
            "" if which.child("all").is_some() => false,
            "connected" => true,
            "all" => false,
            _ => return None,
        };
        return Some(show_devices(sim, &config, connected_only));
    }
    if cmd
        .child("high-availability")
        .and_then(|h| h.child("state"))
        .is_some()
    {
        return Some(super::netstate::show_ha(&config));
    }
    if panorama {
        return None;
    }
    if let Some(session) = cmd.child("session") {
        let all = session.child("all")?;
        return Some(super::traffic::show_sessions(&config, all.child("filter")));
    }
    if let Some(route) = cmd.path(&["routing", "route"]) {
        return Some(super::netstate::show_routes(&config, Some(route)));
    }
    if let Some(iface) = cmd.child("interface") {
        let which = iface.text().trim().to_owned();
        if which.is_empty() {
            return None;
        }
        return Some(super::netstate::show_interface(&config, &which));
    }
    None
}

/// The serials Panorama's configuration registers (`mgt-config/devices`).
pub fn registered_serials(config: &Element) -> Vec<String> {
    config
        .path(&["mgt-config", "devices"])
        .into_iter()
        .flat_map(|d| d.elements().filter(|e| e.name == "entry"))
        .filter_map(|e| e.name_attr().map(str::to_owned))
        .collect()
}

/// The device's hostname (`deviceconfig/system/hostname`, else `sim-fw`).
pub fn hostname(config: &Element) -> String {
    system_value(config, "hostname", "sim-fw")
}

/// The entry names of `kind` (`device-group`, `template-stack`) on Panorama
/// that list `serial` under `devices`.
fn containing(config: &Element, kind: &str, serial: &str) -> Option<String> {
    config
        .child("devices")?
        .elements()
        .filter(|e| e.name == "entry")
        .filter_map(|d| d.child(kind))
        .flat_map(|k| k.elements().filter(|e| e.name == "entry"))
        .find(|g| {
            g.child("devices")
                .is_some_and(|d| d.entry(serial).is_some())
        })
        .and_then(|g| g.name_attr().map(str::to_owned))
}

/// `show devices all` / `show devices connected` on Panorama: every managed
/// firewall loaded with `--device` (connected), then every other serial the
/// configuration registers (not connected).
fn show_devices(sim: &PanosSim, config: &Element, connected_only: bool) -> String {
    let mut out = String::from("<response status=\"success\"><result><devices>");
    let mut listed: Vec<String> = Vec::new();
    for d in sim.devices() {
        listed.push(d.serial.clone());
        let fw = d.sim.config();
        let ha = if super::netstate::show_ha(&fw).contains("<enabled>yes</enabled>") {
            "<ha><state>active</state></ha>"
        } else {
            ""
        };
        let ip = system_value(&fw, "ip-address", "127.0.0.1");
        let _ = write!(
            out,
            "<entry name=\"{s}\"><serial>{s}</serial><connected>yes</connected><unsupported-version>no</unsupported-version><hostname>{h}</hostname><ip-address>{ip}</ip-address><model>{m}</model><sw-version>{v}</sw-version><app-version>8700-1234</app-version><threat-version>8700-1234</threat-version><multi-vsys>no</multi-vsys>{ha}",
            s = escape_text(&d.serial),
            h = escape_text(&hostname(&fw)),
            ip = escape_text(&ip),
            m = super::model(&fw),
            v = escape_text(&super::sw_version(&fw)),
        );
        write_groups(&mut out, config, &d.serial);
        out.push_str(
            "<vsys><entry name=\"vsys1\"><display-name>vsys1</display-name></entry></vsys></entry>",
        );
    }
    if !connected_only {
        for serial in registered_serials(config) {
            if listed.contains(&serial) {
                continue;
            }
            let _ = write!(
                out,
                "<entry name=\"{s}\"><serial>{s}</serial><connected>no</connected><unsupported-version>no</unsupported-version>",
                s = escape_text(&serial)
            );
            write_groups(&mut out, config, &serial);
            out.push_str("</entry>");
            listed.push(serial);
        }
    }
    out.push_str("</devices></result></response>");
    out
}

fn write_groups(out: &mut String, config: &Element, serial: &str) {
    if let Some(g) = containing(config, "device-group", serial) {
        let _ = write!(out, "<device-group>{}</device-group>", escape_text(&g));
    }
    if let Some(t) = containing(config, "template-stack", serial) {
        let _ = write!(out, "<template-stack>{}</template-stack>", escape_text(&t));
    }
}

fn unexpected(name: &str) -> String {
    format!(
        "<response status=\"error\"><msg><line><![CDATA[ {} -> is unexpected]]></line></msg></response>",
        name.replace("]]>", "]]]]><![CDATA[>")
    )
}

/// Jobs, pending changes, the change list, locks, revert and hit counts.
fn change_management(
    sim: &PanosSim,
    admin: &str,
    cmd: &Element,
    vsys: Option<&str>,
) -> Option<String> {
    let scope = vsys.unwrap_or("shared");
    let timing = sim.timing();
    let answer = match cmd.name.as_str() {
        "show" => {
            if let Some(jobs) = cmd.child("jobs") {
                if let Some(id) = jobs.child_text("id") {
                    sim.state().show_job(&id, timing)
                } else if jobs.child("all").is_some() {
                    sim.state().show_jobs(timing)
                } else {
                    return None;
                }
            } else if cmd.child("config-locks").is_some() {
                sim.state().show_locks(LockKind::Config)
            } else if cmd.child("commit-locks").is_some() {
                sim.state().show_locks(LockKind::Commit)
            } else if let Some(changes) = cmd.path(&["config", "list", "changes"]) {
                sim.state().changes(partial_admins(changes))
            } else if cmd.child("rule-hit-count").is_some() {
                if super::is_panorama(&sim.config()) {
                    return None;
                }
                let (config, times) = {
                    let st = sim.state();
                    (st.running.clone(), st.rule_times.clone())
                };
                super::hitcount::show(&config, &times, cmd)?
            } else {
                return None;
            }
        }
        "check" if cmd.child("pending-changes").is_some() => format!(
            "<response status=\"success\"><result>{}</result></response>",
            sim.state().pending()
        ),
        "request" => {
            let (kind, lock) = if let Some(l) = cmd.child("config-lock") {
                (LockKind::Config, l)
            } else if let Some(l) = cmd.child("commit-lock") {
                (LockKind::Commit, l)
            } else {
                return None;
            };
            if let Some(add) = lock.child("add") {
                let comment = add.child_text("comment");
                sim.state().add_lock(kind, admin, scope, comment)
            } else if let Some(remove) = lock.child("remove") {
                let whose = remove.child_text("admin").filter(|a| !a.is_empty());
                sim.state()
                    .remove_lock(kind, admin, whose.as_deref(), scope)
            } else {
                return None;
            }
        }
        "revert" => {
            let config = cmd.child("config")?;
            sim.state().revert(
                admin,
                partial_admins(config),
                "All changes were reverted from configuration",
            )
        }
        "load" => {
            let from = cmd.path(&["config", "from"])?.text().trim().to_owned();
            if from != "running-config.xml" {
                return Some(error_line(&format!("{from} does not exist")));
            }
            sim.state()
                .revert(admin, None, "Config loaded from running-config.xml")
        }
        _ => return None,
    };
    Some(answer)
}

fn security_policy_match(sim: &PanosSim, spm: &Element, vsys: &str) -> String {
    let config = sim.config();
    if super::is_panorama(&config) {
        return error_line("test security-policy-match is not supported on Panorama");
    }
    let q = match MatchQuery::from_element(spm) {
        Ok(q) => q,
        Err(e) => return error_line(&e),
    };
    let verdict = evaluate(&config, vsys, &q);
    render(&verdict, &q)
}

fn nat_policy_match(sim: &PanosSim, npm: &Element, vsys: &str) -> String {
    let config = sim.config();
    if super::is_panorama(&config) {
        return error_line("test nat-policy-match is not supported on Panorama");
    }
    let q = match MatchQuery::from_element(npm) {
        Ok(q) => q,
        Err(e) => return error_line(&e),
    };
    let to_interface = npm.child_text("to-interface").filter(|i| !i.is_empty());
    super::policy_match::render_nat(super::policy_match::evaluate_nat(
        &config,
        vsys,
        &q,
        to_interface.as_deref(),
    ))
}

fn system_value(config: &Element, name: &str, default: &str) -> String {
    config
        .child("devices")
        .into_iter()
        .flat_map(|d| d.elements().filter(|e| e.name == "entry"))
        .find_map(|dev| {
            dev.path(&["deviceconfig", "system", name])
                .map(|e| e.text().trim().to_owned())
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn show_system_info(sim: &PanosSim) -> String {
    let config = sim.config();
    let panorama = super::is_panorama(&config);
    let hostname = system_value(&config, "hostname", "sim-fw");
    let fields: Vec<(&str, String)> = vec![
        ("hostname", hostname.clone()),
        (
            "ip-address",
            system_value(&config, "ip-address", "127.0.0.1"),
        ),
        ("netmask", system_value(&config, "netmask", "255.255.255.0")),
        (
            "default-gateway",
            system_value(&config, "default-gateway", "127.0.0.1"),
        ),
        ("mac-address", "00:00:5e:00:53:01".to_owned()),
        ("time", format_ctime(SystemTime::now())),
        ("uptime", format_uptime(sim.uptime())),
        ("devicename", hostname),
        ("family", if panorama { "m" } else { "vm" }.to_owned()),
        ("model", super::model(&config).to_owned()),
        ("serial", sim.serial().to_owned()),
        ("sw-version", super::sw_version(&config)),
        ("app-version", "8700-1234".to_owned()),
        ("threat-version", "8700-1234".to_owned()),
        ("multi-vsys", "off".to_owned()),
        ("operational-mode", "normal".to_owned()),
    ];
    let mut out = String::from("<response status=\"success\"><result><system>");
    for (k, v) in fields {
        let _ = write!(out, "<{k}>{}</{k}>", escape_text(&v));
    }
    out.push_str("</system></result></response>");
    out
}

/// `0 days, H:MM:SS`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{} days, {}:{:02}:{:02}",
        s / 86_400,
        (s % 86_400) / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// `Tue Jan 8 16:22:56 2019` (UTC), the format of `show system info`.
pub fn format_ctime(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {} {:02}:{:02}:{:02} {}",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        y
    )
}

/// `2026/11/21 10:45:11` (UTC), the format of job and lock times.
pub fn format_panos_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31); H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = |s: &str| command_key(&Element::parse(s).expect("xml"));
        assert_eq!(
            k("<show><system><info></info></system></show>"),
            "show-system-info"
        );
        assert_eq!(
            k("<show><system><info/></system></show>"),
            "show-system-info"
        );
        assert_eq!(
            k(
                "<test><security-policy-match><from>a</from><to>b</to></security-policy-match></test>"
            ),
            "test-security-policy-match"
        );
        assert_eq!(
            k("<test><security-policy-match><from>a</from></security-policy-match></test>"),
            "test-security-policy-match"
        );
        assert_eq!(k("<show><interface>all</interface></show>"), "show");
    }

    #[test]
    fn times() {
        assert_eq!(
            format_ctime(UNIX_EPOCH + Duration::from_secs(1_546_964_576)),
            "Tue Jan 8 16:22:56 2019"
        );
        assert_eq!(format_ctime(UNIX_EPOCH), "Thu Jan 1 00:00:00 1970");
        assert_eq!(
            format_panos_time(UNIX_EPOCH + Duration::from_secs(1_574_160_311)),
            "2019/11/19 10:45:11"
        );
        assert_eq!(
            format_uptime(Duration::from_secs(90_061)),
            "1 days, 1:01:01"
        );
        assert_eq!(format_uptime(Duration::from_secs(5)), "0 days, 0:00:05");
    }
}
