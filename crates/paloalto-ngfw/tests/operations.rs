//! Operations end to end (issue 21): the server binary, an MCP client holding `ngfw:read`
//! (or `ngfw:write` where a change is routed), and `vendor-sim panos` as a Panorama managing
//! two firewalls built from the shared real-world configurations, or as one firewall.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::{ServerSpec, SimProcess, shared_fixtures};
use test_support::{call_err as err, call_ok as ok};

const BIN: &str = env!("CARGO_BIN_EXE_paloalto-ngfw");
const KEY: &str = "sim-api-key-0123456789";
/// The real PAN-OS 8.0 firewall (hostname PA-200), registered in panorama-8.1.xml.
const FW1: &str = "007200006721";
/// iron-skillet 10.1 (hostname panos-01), registered in panorama-8.1.xml.
const FW2: &str = "007100000290";
/// Registered in panorama-8.1.xml, no file: not connected.
const OFFLINE: &str = "000007777";

type Rig = test_support::Rig<SimProcess>;

fn config(name: &str) -> String {
    shared_fixtures()
        .join("panos/configs")
        .join(name)
        .display()
        .to_string()
}

async fn sim(extra: &[&str], panorama: bool) -> SimProcess {
    let mut args: Vec<String> = vec!["panos".into(), "--api-key".into(), KEY.into()];
    if !extra.contains(&"--job-polls") {
        args.extend(["--job-polls".into(), "2".into()]);
    }
    if panorama {
        args.extend([
            "--config".into(),
            config("panorama-8.1.xml"),
            "--device".into(),
            format!("{FW1}={}", config("firewall-8.0-vsys1.xml")),
            "--device".into(),
            format!("{FW2}={}", config("iron-skillet-10.1-firewall.xml")),
        ]);
    } else {
        args.extend(["--config".into(), config("firewall-8.0-vsys1.xml")]);
    }
    args.extend(extra.iter().map(|s| (*s).to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    SimProcess::start(&refs).await
}

async fn rig_on(sim: SimProcess, scopes: &[&str]) -> Rig {
    let spec = ServerSpec::http(BIN)
        .env("MCP_STATELESS", "true")
        .env("PANOS_HOST", sim.base.clone())
        .env("PANOS_API_KEY", KEY)
        .env("PANOS_CACHE_TTL", "0s")
        .env("MCP_CONFIRM", "off");
    Rig::start(sim, &spec, "analyst", scopes, true).await
}

async fn panorama() -> Rig {
    rig_on(sim(&[], true).await, &["ngfw:read"]).await
}

async fn firewall() -> Rig {
    rig_on(sim(&[], false).await, &["ngfw:read"]).await
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn list_managed_devices_lists_both_firewalls() {
    let mut r = panorama().await;
    let all = ok(&mut r.client, "list_managed_devices", json!({})).await;
    assert_eq!(all["total"], 3, "{all}");
    let rows = items(&all);
    let by = |serial: &str| {
        rows.iter()
            .find(|d| d["serial"] == serial)
            .cloned()
            .unwrap_or_else(|| panic!("{serial} missing: {all}"))
    };
    assert_eq!(by(FW1)["hostname"], "PA-200");
    assert_eq!(by(FW1)["connected"], true);
    assert_eq!(by(FW1)["model"], "PA-VM");
    assert_eq!(by(FW2)["hostname"], "panos-01");
    assert_eq!(by(OFFLINE)["connected"], false);
    assert_eq!(by(OFFLINE)["device_group"], "FR Datacenter");
    let connected = ok(
        &mut r.client,
        "list_managed_devices",
        json!({"connected_only": true}),
    )
    .await;
    assert_eq!(connected["total"], 2);

    let mut fw = firewall().await;
    let e = err(&mut fw.client, "list_managed_devices", json!({})).await;
    assert!(e.contains("Panorama"), "{e}");
}

#[tokio::test]
async fn device_routes_reads_to_one_managed_firewall() {
    let mut r = panorama().await;
    let fw1 = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"device": FW1, "limit": 200}),
    )
    .await;
    let fw2 = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"device": "panos-01", "limit": 200}),
    )
    .await;
    assert!(!names(&fw1).is_empty(), "{fw1}");
    // iron-skillet's firewall has no security rules of its own.
    assert!(names(&fw2).is_empty(), "{fw2}");
    // Every read of those calls went to the firewall with target=.
    let stats = r.peer.stats().await;
    let keys = stats["by_key"].as_object().cloned().unwrap_or_default();
    assert!(
        keys.keys()
            .any(|k| k.starts_with("config:show:") && k.ends_with(&format!("@{FW1}"))),
        "{stats}"
    );
    assert!(
        keys.keys().any(|k| k.ends_with(&format!("@{FW2}"))),
        "{stats}"
    );
    let info = ok(&mut r.client, "get_system_info", json!({"device": FW2})).await;
    assert_eq!(info["hostname"], "panos-01");
    assert_eq!(info["serial"], FW2);

    // The firewall's own policy match needs a device on Panorama; with one it answers.
    let before = r.peer.total().await;
    let flow = json!({"from_zone": "trust", "to_zone": "untrust", "source": "10.0.0.5",
                      "destination": "8.8.8.8", "destination_port": 443});
    let e = err(&mut r.client, "test_security_policy_match", flow.clone()).await;
    assert!(
        e.contains("device") && e.contains("list_managed_devices"),
        "{e}"
    );
    assert_eq!(r.peer.total().await, before, "refused before any request");
    let mut with = flow.clone();
    with["device"] = json!(FW1);
    let m = ok(&mut r.client, "test_security_policy_match", with).await;
    assert!(m["rule"].as_str().is_some_and(|s| !s.is_empty()), "{m}");

    // Unknown, ambiguous-free hostname miss, offline and malformed devices.
    let e = err(
        &mut r.client,
        "retrieve_security_zones",
        json!({"device": "nope-fw"}),
    )
    .await;
    assert!(
        e.contains("nope-fw") && e.contains("list_managed_devices"),
        "{e}"
    );
    let e = err(
        &mut r.client,
        "retrieve_security_zones",
        json!({"device": OFFLINE}),
    )
    .await;
    assert!(e.contains("not connected"), "{e}");
    let before = r.peer.total().await;
    for bad in ["fw1;rm", "", "../x", "a b", "x".repeat(64).as_str(), "<x/>"] {
        let e = err(
            &mut r.client,
            "retrieve_security_zones",
            json!({"device": bad}),
        )
        .await;
        assert!(e.contains("device"), "{bad}: {e}");
    }
    assert_eq!(
        r.peer.total().await,
        before,
        "malformed devices reach nothing"
    );
}

#[tokio::test]
async fn device_on_a_firewall_is_refused_without_a_request() {
    let mut r = firewall().await;
    // The readiness probe has told the server this is a firewall.
    let before = r.peer.total().await;
    let e = err(
        &mut r.client,
        "retrieve_address_objects",
        json!({"device": FW1}),
    )
    .await;
    assert!(
        e.contains("firewall") && e.contains("leave `device` out"),
        "{e}"
    );
    let e = err(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "device": FW1}),
    )
    .await;
    assert!(e.contains("device"), "{e}");
    assert_eq!(r.peer.total().await, before);
}

#[tokio::test]
async fn a_change_with_device_goes_to_that_firewall_only() {
    let mut r = rig_on(sim(&[], true).await, &["ngfw:write"]).await;
    let set = ok(
        &mut r.client,
        "set_address_object",
        json!({"name": "routed-obj", "kind": "ip-netmask", "value": "10.77.0.1", "device": FW2}),
    )
    .await;
    assert!(
        set.to_string().contains(FW2),
        "the plan names the firewall: {set}"
    );
    let on2 = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"device": FW2, "config": "candidate", "name_filter": "routed-obj"}),
    )
    .await;
    assert_eq!(names(&on2), vec!["routed-obj"]);
    let on1 = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"device": FW1, "config": "candidate", "name_filter": "routed-obj"}),
    )
    .await;
    assert!(names(&on1).is_empty(), "{on1}");
}

#[tokio::test]
async fn query_logs_pages_past_a_thousand_traffic_entries() {
    let mut r = firewall().await;
    let all = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "limit": 5000}),
    )
    .await;
    assert_eq!(all["count"], 1500, "{}", all["count"]);
    assert!(all.get("next_offset").is_none(), "a short page is the last");
    let rows = items(&all);
    let first = &rows[0];
    for field in [
        "time",
        "rule",
        "source",
        "destination",
        "destination_port",
        "application",
        "action",
        "session_end_reason",
        "bytes",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    // Page by page: 1000, then 500 more, the same rows.
    let p1 = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "limit": 1000}),
    )
    .await;
    assert_eq!(p1["count"], 1000);
    assert_eq!(p1["next_offset"], 1000);
    let p2 = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "limit": 1000, "offset": 1000}),
    )
    .await;
    assert_eq!(p2["count"], 500);
    assert_eq!(items(&p2)[0], rows[1000]);
    assert_eq!(items(&p1)[999], rows[999]);

    // A filter: denied flows only, in a time range.
    let deny = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "limit": 5000, "query": "( action eq deny ) and not ( rule eq interzone-default )",
               "since": "2026-11-20T00:00:00Z", "until": "2026/11/21 00:00:00"}),
    )
    .await;
    let deny_rows = items(&deny);
    assert!(!deny_rows.is_empty(), "the 8.0 config has deny rules");
    assert!(
        deny_rows
            .iter()
            .all(|e| e["action"] == "deny" && e["rule"] != "interzone-default")
    );
    assert!(
        deny["query"]
            .as_str()
            .is_some_and(|q| q.contains("receive_time geq '2026/11/20 00:00:00'")),
        "{deny}"
    );

    // Threats carry name and severity.
    let threats = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "threat", "limit": 10, "query": "(severity eq critical)"}),
    )
    .await;
    assert!(
        items(&threats)
            .iter()
            .all(|t| t["severity"] == "critical" && t["threat"].as_str().is_some())
    );
    assert!(threats["count"].as_u64().is_some_and(|n| n > 0));
}

#[tokio::test]
async fn query_logs_refuses_bad_filters_before_any_request() {
    let mut r = firewall().await;
    let before = r.peer.total().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"log_type": "traffic", "query": "(app eq x) ; rm -rf /"}),
            "';'",
        ),
        (
            json!({"log_type": "traffic", "query": "(app eq x) or 1=1"}),
            "'='",
        ),
        (
            json!({"log_type": "traffic", "query": "(bogus eq 1)"}),
            "bogus",
        ),
        (
            json!({"log_type": "traffic", "query": "(app like x)"}),
            "like",
        ),
        (
            json!({"log_type": "traffic", "query": "(app eq 'x)"}),
            "not closed",
        ),
        (
            json!({"log_type": "traffic", "query": "(app eq x]]><x/>)"}),
            "']'",
        ),
        (
            json!({"log_type": "traffic", "query": "(app eq x) and"}),
            "ends",
        ),
        (json!({"log_type": "traffic", "limit": 5001}), "limit"),
        (json!({"log_type": "traffic", "limit": 0}), "limit"),
        (json!({"log_type": "traffic", "offset": 100001}), "offset"),
        (
            json!({"log_type": "traffic", "since": "yesterday"}),
            "since",
        ),
        (
            json!({"log_type": "traffic", "since": "2026/11/21 00:00:00", "until": "2026/11/20 00:00:00"}),
            "until",
        ),
        (
            json!({"log_type": "traffic", "wait_seconds": 0}),
            "wait_seconds",
        ),
        (json!({"log_type": "data"}), "log_type"),
        (json!({"log_type": "traffic", "extra": 1}), "extra"),
    ];
    for (args, needle) in cases {
        let e = err(&mut r.client, "query_logs", args.clone()).await;
        assert!(e.contains(needle), "{args}: {e}");
    }
    assert_eq!(r.peer.total().await, before, "0 upstream requests");
}

#[tokio::test]
async fn query_logs_reports_progress_and_reads_through_panorama() {
    let mut r = panorama().await;
    let resp = r
        .client
        .request(
            "tools/call",
            json!({"name": "query_logs", "arguments": {"log_type": "traffic", "limit": 20, "device": "PA-200"},
                   "_meta": {"progressToken": "logs-1"}}),
        )
        .await;
    let progress: Vec<&str> = resp
        .raw
        .lines()
        .filter(|l| l.contains("notifications/progress") && l.contains("logs-1"))
        .collect();
    assert!(
        progress.iter().any(|l| l.contains("\"progress\":100")),
        "{}",
        resp.raw
    );
    let body = resp.body.expect("a result");
    let out = &body["result"]["structuredContent"];
    assert_eq!(out["count"], 20, "{body}");
    assert!(items(out).iter().all(|e| e["device_name"] == "PA-200"));
    let stats = r.peer.stats().await;
    assert!(
        stats["by_key"].get(format!("log:traffic@{FW1}")).is_some(),
        "{stats}"
    );
    assert!(
        stats["by_key"].get(format!("log:get@{FW1}")).is_some(),
        "{stats}"
    );
}

#[tokio::test]
async fn an_abandoned_log_job_is_finished_on_the_device() {
    // Jobs never finish by themselves here: the call times out and stops its job.
    let mut r = rig_on(
        sim(&["--job-polls", "100000", "--job-ms", "0"], false).await,
        &["ngfw:read"],
    )
    .await;
    let e = err(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "wait_seconds": 1}),
    )
    .await;
    assert!(
        e.contains("did not finish") && e.contains("wait_seconds"),
        "{e}"
    );
    let mut finished = 0;
    for _ in 0..50 {
        let stats = r.peer.stats().await;
        finished = stats["by_key"]["log:finish"].as_u64().unwrap_or(0);
        if finished > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(finished, 1, "the job was finished");
}

#[tokio::test]
async fn sessions_routes_interfaces_and_ha_state() {
    let mut r = firewall().await;
    // Interfaces: state, IP, zone, virtual router; one with counters.
    let all = ok(&mut r.client, "show_interfaces", json!({"limit": 200})).await;
    let e1 = items(&all)
        .into_iter()
        .find(|i| i["name"] == "ethernet1/1")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(e1["ip"], "192.168.10.2/24");
    assert_eq!(e1["virtual_router"], "default");
    assert_eq!(e1["state"], "up");
    assert!(e1["zone"].as_str().is_some_and(|z| !z.is_empty()), "{e1}");
    assert!(e1.get("counters").is_none());
    let one = ok(
        &mut r.client,
        "show_interfaces",
        json!({"name": "ethernet1/1"}),
    )
    .await;
    assert!(
        items(&one)[0]["counters"]["ibytes"]
            .as_u64()
            .is_some_and(|b| b > 0),
        "{one}"
    );

    // Routes: the table, and which route an address takes.
    let routes = ok(
        &mut r.client,
        "show_routes",
        json!({"virtual_router": "default", "destination": "8.8.8.8", "limit": 200}),
    )
    .await;
    assert!(
        items(&routes)
            .iter()
            .all(|x| x["virtual_router"] == "default")
    );
    assert_eq!(
        routes["lookup"]["route"]["destination"], "0.0.0.0/0",
        "{routes}"
    );
    assert_eq!(routes["lookup"]["egress_interface"], "ethernet1/1");
    let local = ok(
        &mut r.client,
        "show_routes",
        json!({"virtual_router": "default", "destination": "192.168.10.50"}),
    )
    .await;
    assert_eq!(
        local["lookup"]["route"]["destination"], "192.168.10.0/24",
        "{local}"
    );

    // Sessions: all, then filtered by state and rule.
    let all = ok(&mut r.client, "show_sessions", json!({"limit": 200})).await;
    let total = all["total"].as_u64().unwrap_or(0);
    assert!(total >= 2, "{all}");
    let active = ok(
        &mut r.client,
        "show_sessions",
        json!({"state": "active", "limit": 200}),
    )
    .await;
    assert!(active["total"].as_u64().unwrap_or(0) < total);
    assert!(items(&active).iter().all(|s| s["state"] == "ACTIVE"));
    let rule = items(&all)[0]["rule"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let by_rule = ok(
        &mut r.client,
        "show_sessions",
        json!({"rule": rule, "limit": 200}),
    )
    .await;
    assert!(
        items(&by_rule).iter().all(|s| s["rule"] == rule.as_str())
            && by_rule["total"].as_u64() > Some(0)
    );

    // HA: not configured.
    let ha = ok(&mut r.client, "show_ha_state", json!({})).await;
    assert_eq!(ha["enabled"], false, "{ha}");

    // Bad arguments reach nothing.
    let before = r.peer.total().await;
    for (tool, args, needle) in [
        ("show_sessions", json!({"source": "10.0.0.0/8"}), "source"),
        ("show_sessions", json!({"port": 0}), "port"),
        ("show_sessions", json!({"state": "bogus"}), "state"),
        ("show_sessions", json!({"rule": "a<b"}), "rule"),
        (
            "show_routes",
            json!({"destination": "not-an-ip"}),
            "destination",
        ),
        (
            "show_routes",
            json!({"virtual_router": "vr'1"}),
            "virtual_router",
        ),
        ("show_interfaces", json!({"name": "eth0; ls"}), "name"),
        ("show_ha_state", json!({"verbose": true}), "verbose"),
    ] {
        let e = err(&mut r.client, tool, args.clone()).await;
        assert!(e.contains(needle), "{tool} {args}: {e}");
    }
    assert_eq!(r.peer.total().await, before);
}

#[tokio::test]
async fn operational_tools_need_a_device_on_panorama() {
    let mut r = panorama().await;
    let before = r.peer.total().await;
    for tool in ["show_sessions", "show_routes", "show_interfaces"] {
        let e = err(&mut r.client, tool, json!({})).await;
        assert!(e.contains("`device`"), "{tool}: {e}");
    }
    assert_eq!(r.peer.total().await, before);
    let s = ok(
        &mut r.client,
        "show_interfaces",
        json!({"device": FW1, "limit": 200}),
    )
    .await;
    assert!(items(&s).iter().any(|i| i["name"] == "ethernet1/1"), "{s}");
    // Panorama answers its own HA state; a firewall's through device.
    let own = ok(&mut r.client, "show_ha_state", json!({})).await;
    assert_eq!(own["enabled"], false);
    let fw = ok(&mut r.client, "show_ha_state", json!({"device": FW2})).await;
    assert_eq!(fw["enabled"], false);
}

/// A traffic log row of FW1 with `action`, from a named rule (not a default one).
async fn flow_from_logs(r: &mut Rig, action: &str) -> Value {
    let q = format!(
        "( action eq {action} ) and not ( rule eq interzone-default ) and not ( rule eq intrazone-default )"
    );
    let logs = ok(
        &mut r.client,
        "query_logs",
        json!({"log_type": "traffic", "limit": 200, "query": q, "device": FW1}),
    )
    .await;
    items(&logs)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {action} flow: {logs}"))
}

#[tokio::test]
async fn explain_traffic_names_the_rule_and_shows_the_logs() {
    let mut r = panorama().await;
    // A flow the loaded rules deny.
    let deny = flow_from_logs(&mut r, "deny").await;
    let args = json!({
        "source": deny["source"], "destination": deny["destination"], "port": deny["destination_port"],
        "from_zone": deny["from_zone"], "to_zone": deny["to_zone"], "device": FW1, "log_entries": 5});
    let out = ok(&mut r.client, "explain_traffic", args).await;
    assert_eq!(out["security"]["rule"], deny["rule"], "{out}");
    assert_eq!(out["security"]["allowed"], false);
    assert!(
        out["verdict"].as_str().is_some_and(
            |v| v.starts_with("BLOCKED") && v.contains(deny["rule"].as_str().unwrap_or("?"))
        ),
        "{out}"
    );
    let logs = items(&json!({"items": out["logs"]}));
    assert!(
        !logs.is_empty()
            && logs
                .iter()
                .all(|l| l["action"] == "deny" && l["session_end_reason"] == "policy-deny"),
        "{out}"
    );
    assert_eq!(out["from_zone"]["how"], "given");
    assert_eq!(out["nat_checked"], true, "{out}");
    assert!(
        out["missing"].as_array().is_some_and(|m| m.is_empty()),
        "{out}"
    );

    // A flow into zone tv hits the real config's NAT rule `tv`.
    let out = ok(
        &mut r.client,
        "explain_traffic",
        json!({"source": "10.0.0.5", "destination": "192.0.2.10", "port": 443,
        "from_zone": "trust", "to_zone": "tv", "device": FW1, "log_entries": 0}),
    )
    .await;
    assert_eq!(out["nat_rule"], "tv", "{out}");
    assert!(
        out["verdict"]
            .as_str()
            .is_some_and(|v| v.contains("NAT rule `tv`")),
        "{out}"
    );

    // An allowed flow.
    let allow = flow_from_logs(&mut r, "allow").await;
    let args = json!({
        "source": allow["source"], "destination": allow["destination"], "port": allow["destination_port"],
        "application": allow["application"],
        "from_zone": allow["from_zone"], "to_zone": allow["to_zone"], "device": "PA-200"});
    let out = ok(&mut r.client, "explain_traffic", args).await;
    assert_eq!(out["security"]["rule"], allow["rule"], "{out}");
    assert_eq!(out["security"]["allowed"], true);
    assert!(
        out["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("ALLOWED")),
        "{out}"
    );

    // Zones from the routes and interfaces when not given.
    let out = ok(&mut r.client, "explain_traffic", json!({"source": "192.168.10.50", "destination": "8.8.8.8", "port": 443, "device": FW1, "log_entries": 0})).await;
    assert_eq!(out["to_zone"]["how"], "route", "{out}");
    assert_eq!(out["to_zone"]["interface"], "ethernet1/1");
    assert_eq!(out["to_zone"]["route"], "0.0.0.0/0");
    assert_eq!(out["from_zone"]["route"], "192.168.10.0/24");
    assert!(out["security"]["rule"].as_str().is_some(), "{out}");
    // An address no route covers is named missing.
    let out = ok(&mut r.client, "explain_traffic", json!({"source": "192.168.10.50", "destination": "8.8.8.8", "port": 443, "device": FW2, "log_entries": 0})).await;
    assert!(out["security"].is_null(), "{out}");
    assert!(
        out["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("UNKNOWN")),
        "{out}"
    );
    assert!(out["missing"].as_array().is_some_and(|m| !m.is_empty()));

    // Bad arguments reach nothing; a device is needed on Panorama.
    let before = r.peer.total().await;
    for (args, needle) in [
        (
            json!({"source": "10.0.0.1", "destination": "10.0.0.2", "port": 443}),
            "`device`",
        ),
        (
            json!({"source": "10.0.0.0/8", "destination": "10.0.0.2", "port": 443, "device": FW1}),
            "source",
        ),
        (
            json!({"source": "10.0.0.1", "destination": "x", "port": 443, "device": FW1}),
            "destination",
        ),
        (
            json!({"source": "10.0.0.1", "destination": "10.0.0.2", "device": FW1}),
            "port",
        ),
        (
            json!({"source": "10.0.0.1", "destination": "10.0.0.2", "port": 1, "from_zone": "a'b", "device": FW1}),
            "from_zone",
        ),
        (
            json!({"source": "10.0.0.1", "destination": "10.0.0.2", "port": 1, "log_entries": 101, "device": FW1}),
            "log_entries",
        ),
    ] {
        let e = err(&mut r.client, "explain_traffic", args.clone()).await;
        assert!(e.contains(needle), "{args}: {e}");
    }
    assert_eq!(r.peer.total().await, before);
}
