//! paloalto-ngfw end to end: the real binary, an MCP client, and the PAN-OS simulator.

use serde_json::{Value, json};
use test_support::cli::{check_fails, check_ok};
use test_support::tokens::token;
use test_support::{RpcClient, ServerSpec, SimProcess, own_fixture};
use test_support::{call_err as err, call_ok as ok};

const BIN: &str = env!("CARGO_BIN_EXE_paloalto-ngfw");
const KEY: &str = "sim-api-key-0123456789";

type Rig = test_support::Rig<SimProcess>;

/// The PAN-OS simulator serving `fixture`, with an API key and a user that keygen accepts.
async fn simulator(fixture: &str) -> SimProcess {
    let config = own_fixture(&format!("panos/{fixture}"));
    let config = config.display().to_string();
    SimProcess::start(&[
        "panos",
        "--config",
        &config,
        "--api-key",
        KEY,
        "--username",
        "api-admin",
        "--password",
        "s3cret-pw",
    ])
    .await
}

/// The server pointed at `sim`, uncached unless `extra` says otherwise.
fn spec(sim: &SimProcess, extra: &[(&str, &str)]) -> ServerSpec {
    ServerSpec::http(BIN)
        .env("MCP_STATELESS", "true")
        .env("PANOS_HOST", sim.base.clone())
        .env("PANOS_API_KEY", KEY)
        .env("PANOS_CACHE_TTL", "0s")
        .env_overrides(extra)
}

async fn rig_with(fixture: &str, extra: &[(&str, &str)]) -> Rig {
    rig_full(fixture, extra, true).await
}

async fn rig_full(fixture: &str, extra: &[(&str, &str)], wait_ready: bool) -> Rig {
    let sim = simulator(fixture).await;
    let spec = spec(&sim, extra);
    Rig::start(sim, &spec, "analyst", &["ngfw:read"], wait_ready).await
}

async fn firewall() -> Rig {
    rig_with("firewall.xml", &[]).await
}

async fn panorama() -> Rig {
    rig_with("panorama.xml", &[]).await
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

#[tokio::test]
async fn lists_every_tool_with_read_scope_only() {
    let mut r = firewall().await;
    let mut tools = r.client.tool_names().await;
    tools.sort();
    assert_eq!(
        tools,
        vec![
            "commit_status",
            "explain_traffic",
            "get_system_info",
            "list_device_groups",
            "list_managed_devices",
            "preview_changes",
            "query_logs",
            "retrieve_address_groups",
            "retrieve_address_objects",
            "retrieve_nat_policies",
            "retrieve_rule_hit_counts",
            "retrieve_security_policies",
            "retrieve_security_zones",
            "retrieve_service_objects",
            "show_ha_state",
            "show_interfaces",
            "show_routes",
            "show_sessions",
            "test_nat_policy_match",
            "test_security_policy_match"
        ]
    );
    let mut other = r.client("x", &["aws:read"]).await;
    assert!(other.tool_names().await.is_empty());
}

#[tokio::test]
async fn address_objects_in_every_firewall_location() {
    let mut r = firewall().await;
    let page = ok(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert_eq!(page["total"], 12);
    assert_eq!(page["location"], "vsys:vsys1");
    let items = page["items"].as_array().expect("items");
    let by = |n: &str| {
        items
            .iter()
            .find(|i| i["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("web-srv-01")["kind"], "ip-netmask");
    assert_eq!(by("web-srv-01")["tags"], json!(["web", "prod"]));
    assert_eq!(by("range-dhcp-pool")["kind"], "ip-range");
    assert_eq!(by("range-dhcp-pool")["value"], "10.10.200.10-10.10.200.250");
    assert_eq!(by("wild-branch-gw")["kind"], "ip-wildcard");
    assert_eq!(by("fqdn-updates")["kind"], "fqdn");

    let shared = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"location": "shared"}),
    )
    .await;
    assert_eq!(
        names(&shared),
        vec!["shared-dns-primary", "shared-dns-secondary"]
    );
    let pushed = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"location": "pushed"}),
    )
    .await;
    assert_eq!(names(&pushed), vec!["pano-log-collector", "pano-mgmt-net"]);
    assert_eq!(pushed["location"], "pushed:vsys1");

    let filtered = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"name_filter": "WEB-srv"}),
    )
    .await;
    assert_eq!(names(&filtered), vec!["web-srv-01", "web-srv-02"]);
    let page = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"limit": 5, "offset": 10}),
    )
    .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().map(Vec::len),
            page["has_more"].as_bool()
        ),
        (Some(12), Some(2), Some(false))
    );
    let page = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"limit": 5, "offset": 0}),
    )
    .await;
    assert_eq!(page["has_more"], true);
    let none = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"vsys": "vsys2"}),
    )
    .await;
    assert_eq!(
        none["total"], 0,
        "a vsys with nothing is an empty list, not an error"
    );
}

#[tokio::test]
async fn address_groups_expand_static_nested_and_dynamic() {
    let mut r = firewall().await;
    let page = ok(
        &mut r.client,
        "retrieve_address_groups",
        json!({"expand": true}),
    )
    .await;
    let items = page["items"].as_array().expect("items").clone();
    let expanded = |n: &str| -> Vec<String> {
        let g = items
            .iter()
            .find(|i| i["name"] == n)
            .cloned()
            .unwrap_or_default();
        let mut v: Vec<String> = g["expanded"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(
        expanded("grp-web-servers"),
        vec!["web-srv-01", "web-srv-02"]
    );
    assert_eq!(
        expanded("grp-app-tier"),
        vec!["db-srv-01", "web-srv-01", "web-srv-02"],
        "nested group resolved"
    );
    assert_eq!(
        expanded("grp-dyn-web-prod"),
        vec!["web-srv-01", "web-srv-02"],
        "dynamic filter on tags"
    );
    assert_eq!(
        expanded("grp-dns-servers"),
        vec!["shared-dns-primary", "shared-dns-secondary"],
        "shared members"
    );
    let dynamic = items
        .iter()
        .find(|i| i["name"] == "grp-dyn-web-prod")
        .expect("dynamic");
    assert_eq!(dynamic["kind"], "dynamic");
    assert_eq!(dynamic["filter"], "'web' and 'prod'");
    let plain = ok(&mut r.client, "retrieve_address_groups", json!({})).await;
    assert!(plain["items"][0].get("expanded").is_none());
}

#[tokio::test]
async fn services_zones_and_system_info() {
    let mut r = firewall().await;
    let services = ok(&mut r.client, "retrieve_service_objects", json!({})).await;
    assert_eq!(services["total"], 10, "8 services and 2 groups");
    let items = services["items"].as_array().expect("items");
    let ssh = items
        .iter()
        .find(|i| i["name"] == "svc-ssh-mgmt")
        .expect("ssh");
    assert_eq!(
        (ssh["protocol"].as_str(), ssh["port"].as_str()),
        (Some("tcp"), Some("22,2222"))
    );
    assert!(
        items
            .iter()
            .any(|i| i["name"] == "sg-web" && i["kind"] == "service-group")
    );

    let zones = ok(&mut r.client, "retrieve_security_zones", json!({})).await;
    let z = zones["items"].as_array().expect("zones");
    let mode = |n: &str| {
        z.iter()
            .find(|i| i["name"] == n)
            .map(|i| i["mode"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        [
            "untrust",
            "trust",
            "lab-l2",
            "inline-vwire",
            "span-tap",
            "vpn"
        ]
        .map(mode),
        [
            "layer3",
            "layer3",
            "layer2",
            "virtual-wire",
            "tap",
            "tunnel"
        ]
        .map(|m| json!(m))
    );
    let untrust = z.iter().find(|i| i["name"] == "untrust").expect("untrust");
    assert_eq!(untrust["zone_protection_profile"], "zp-internet");
    let trust = z.iter().find(|i| i["name"] == "trust").expect("trust");
    assert_eq!(trust["user_id_enabled"], true);
    assert_eq!(trust["interfaces"], json!(["ethernet1/2", "ethernet1/3"]));

    let info = ok(&mut r.client, "get_system_info", json!({})).await;
    assert_eq!(info["hostname"], "fw-sim-01");
    assert_eq!(info["sw_version"], "10.1.0");
    assert_eq!(info["model"], "PA-VM");
}

#[tokio::test]
async fn security_rules_in_order() {
    let mut r = firewall().await;
    let page = ok(&mut r.client, "retrieve_security_policies", json!({})).await;
    assert_eq!(
        names(&page),
        vec![
            "allow-web-inbound",
            "drop-ssh-not-bastion",
            "allow-ssh-bastion",
            "legacy-allow-any",
            "allow-users-web-out",
            "allow-app-tier",
            "allow-dns-out",
            "deny-all"
        ]
    );
    let items = page["items"].as_array().expect("items");
    assert_eq!(items[3]["disabled"], true);
    assert_eq!(items[1]["negate_source"], true);
    assert_eq!(items[1]["action"], "drop");
    assert_eq!(items[7]["position"], 8);
    assert_eq!(page["location"], "vsys:vsys1:local");
    let e = err(
        &mut r.client,
        "retrieve_security_policies",
        json!({"rulebase": "pre"}),
    )
    .await;
    assert!(e.contains("invalid argument `rulebase`"), "{e}");
    let pushed = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"location": "pushed"}),
    )
    .await;
    assert_eq!(names(&pushed), vec!["pano-allow-mgmt"]);
}

#[tokio::test]
async fn policy_match_asks_the_firewall() {
    let mut r = firewall().await;
    let web = ok(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "untrust", "to_zone": "trust", "source": "198.51.100.7", "destination": "10.10.1.10",
        "destination_port": 443, "protocol": "tcp", "application": "ssl"})).await;
    assert_eq!(
        (
            web["rule"].as_str(),
            web["allowed"].as_bool(),
            web["index"].as_u64()
        ),
        (Some("allow-web-inbound"), Some(true), Some(1))
    );
    // From anywhere but the bastion, SSH into trust hits the negated drop rule.
    let ssh = ok(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "untrust", "to_zone": "trust", "source": "198.51.100.7", "destination": "10.10.5.5",
        "destination_port": 22, "application": "ssh"})).await;
    assert_eq!(
        (
            ssh["rule"].as_str(),
            ssh["action"].as_str(),
            ssh["allowed"].as_bool()
        ),
        (Some("drop-ssh-not-bastion"), Some("drop"), Some(false))
    );
    let bastion = ok(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "untrust", "to_zone": "trust", "source": "203.0.113.50", "destination": "10.10.5.5",
        "destination_port": 2222, "application": "ssh"})).await;
    assert_eq!(bastion["rule"], "allow-ssh-bastion");
    let dns = ok(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "trust", "to_zone": "untrust", "source": "10.10.3.3", "destination": "192.0.2.53",
        "destination_port": 53, "protocol": "udp", "application": "dns"})).await;
    assert_eq!(
        dns["rule"], "deny-all",
        "192.0.2.53 is not one of the DNS servers"
    );
    let e = err(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "trust", "to_zone": "untrust", "source": "10.10.0.0/16", "destination": "192.0.2.53", "destination_port": 53})).await;
    assert!(
        e.contains("invalid argument `source`: must be a single IP address"),
        "{e}"
    );
}

#[tokio::test]
async fn panorama_locations_rulebases_templates_and_device_groups() {
    let mut r = panorama().await;
    let shared = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"location": "shared"}),
    )
    .await;
    assert_eq!(shared["total"], 4);
    let dc = ok(
        &mut r.client,
        "retrieve_address_objects",
        json!({"location": "device-group", "device_group": "DG-Datacenter"}),
    )
    .await;
    assert_eq!(names(&dc), vec!["dc-web-vip", "dc-db-net", "dc-app-range"]);
    assert_eq!(dc["location"], "device-group:DG-Datacenter");
    let e = err(
        &mut r.client,
        "retrieve_address_objects",
        json!({"location": "device-group"}),
    )
    .await;
    assert!(
        e.contains("invalid argument `device_group`: is required"),
        "{e}"
    );

    let pre = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"location": "device-group", "device_group": "DG-Branch"}),
    )
    .await;
    assert_eq!(
        names(&pre),
        vec!["branch-pre-allow-web", "branch-pre-drop-guest-lan"]
    );
    assert_eq!(pre["items"][0]["rulebase"], "pre");
    let post = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"location": "device-group", "device_group": "DG-Branch", "rulebase": "post"}),
    )
    .await;
    assert_eq!(names(&post), vec!["branch-post-deny-all"]);
    let shared_pre = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"location": "shared"}),
    )
    .await;
    assert_eq!(
        names(&shared_pre),
        vec!["shared-pre-block-p2p", "shared-pre-allow-dns"]
    );
    let shared_post = ok(
        &mut r.client,
        "retrieve_security_policies",
        json!({"location": "shared", "rulebase": "post"}),
    )
    .await;
    assert_eq!(names(&shared_post), vec!["shared-post-deny-all"]);

    let zones = ok(
        &mut r.client,
        "retrieve_security_zones",
        json!({"location": "template", "template": "TPL-Datacenter"}),
    )
    .await;
    assert_eq!(names(&zones), vec!["dc-untrust", "dc-servers", "dc-inline"]);
    assert_eq!(zones["items"][2]["mode"], "virtual-wire");
    let e = err(
        &mut r.client,
        "retrieve_security_zones",
        json!({"location": "template"}),
    )
    .await;
    assert!(e.contains("`template`: is required"), "{e}");

    let dgs = ok(&mut r.client, "list_device_groups", json!({})).await;
    let items = dgs["items"].as_array().expect("items");
    let branch = items
        .iter()
        .find(|g| g["name"] == "DG-Branch")
        .expect("branch");
    assert_eq!(branch["parent"], "DG-Root");
    assert_eq!(branch["path"], json!(["shared", "DG-Root", "DG-Branch"]));
    assert_eq!(branch["devices"], json!(["SIMBRANCH0001", "SIMBRANCH0002"]));
    let root = items.iter().find(|g| g["name"] == "DG-Root").expect("root");
    assert_eq!(root["parent"], "shared");

    let e = err(&mut r.client, "test_security_policy_match", json!({
        "from_zone": "a", "to_zone": "b", "source": "10.0.0.1", "destination": "10.0.0.2", "destination_port": 80})).await;
    assert!(
        e.contains("`device`") && e.contains("list_managed_devices"),
        "on Panorama the match needs a managed firewall: {e}"
    );
}

#[tokio::test]
async fn hostile_names_never_reach_the_firewall() {
    let mut r = firewall().await;
    let before = r.peer.total().await;
    let cases = [
        (
            "retrieve_address_objects",
            json!({"location": "device-group", "device_group": "x']/../../shared/address/entry[@name='"}),
            "device_group",
        ),
        (
            "retrieve_address_objects",
            json!({"vsys": "vsys1' or '1'='1"}),
            "vsys",
        ),
        (
            "retrieve_address_objects",
            json!({"name_filter": "a\u{0}b"}),
            "name_filter",
        ),
        (
            "retrieve_address_objects",
            json!({"vsys": "vsys1/../../"}),
            "vsys",
        ),
        (
            "retrieve_address_groups",
            json!({"location": "device-group", "device_group": "dg[1]"}),
            "device_group",
        ),
        ("retrieve_service_objects", json!({"vsys": "v\"1"}), "vsys"),
        (
            "retrieve_security_zones",
            json!({"location": "template", "template": "t]x"}),
            "template",
        ),
        (
            "retrieve_security_zones",
            json!({"vsys": "vsys1\nvsys2"}),
            "vsys",
        ),
        (
            "retrieve_security_policies",
            json!({"location": "device-group", "device_group": "а-cyrillic"}),
            "device_group",
        ),
        ("retrieve_security_policies", json!({"limit": 0}), "limit"),
        (
            "retrieve_security_policies",
            json!({"limit": 100000}),
            "limit",
        ),
        (
            "retrieve_security_policies",
            json!({"location": "galaxy"}),
            "location",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "trust</from><cmd>", "to_zone": "u", "source": "10.0.0.1", "destination": "10.0.0.2", "destination_port": 80}),
            "from_zone",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "t", "to_zone": "u", "source": "010.0.0.1", "destination": "10.0.0.2", "destination_port": 80}),
            "source",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "t", "to_zone": "u", "source": "10.0.0.1", "destination": "::ffff:10.0.0.2", "destination_port": 80}),
            "destination",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "t", "to_zone": "u", "source": "10.0.0.1", "destination": "10.0.0.2", "destination_port": 70000}),
            "destination_port",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "t", "to_zone": "u", "source": "10.0.0.1", "destination": "10.0.0.2"}),
            "destination_port",
        ),
        (
            "test_security_policy_match",
            json!({"from_zone": "t", "to_zone": "u", "source": "10.0.0.1", "destination": "10.0.0.2", "destination_port": 80, "application": "ssl;rm"}),
            "application",
        ),
        ("get_system_info", json!({"cmd": "<show/>"}), "cmd"),
    ];
    for (tool, args, field) in cases {
        let e = err(&mut r.client, tool, args.clone()).await;
        assert!(e.contains(&format!("`{field}`")), "{tool}({args}): {e}");
    }
    assert_eq!(
        r.peer.total().await,
        before,
        "no hostile input produced an upstream request"
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", r.server.base()))
            .await
            .expect("healthz")
            .status(),
        200
    );
}

#[tokio::test]
async fn error_envelopes_and_faults_become_clear_messages() {
    let mut r = rig_full("firewall.xml", &[("PANOS_API_KEY", "wrong-key")], false).await;
    let e = err(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert!(
        e.starts_with("PAN-OS said: Invalid Credential (code 403)"),
        "{e}"
    );
    let ready = reqwest::get(format!("{}/readyz", r.server.base()))
        .await
        .expect("readyz");
    assert_eq!(
        ready.status(),
        503,
        "a rejected key makes the server unready"
    );

    let mut r = firewall().await;
    let e = err(&mut r.client, "get_system_info", json!({"bogus": 1})).await;
    assert!(e.contains("`bogus`"), "{e}");
    r.peer.faults(json!({"fail_next": 1})).await;
    ok(&mut r.client, "retrieve_address_objects", json!({})).await; // one 500 is retried away
    r.peer.faults(json!({"fail_next": 10})).await;
    let e = err(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert!(
        e.starts_with("PAN-OS is unavailable: HTTP 500 after retries"),
        "{e}"
    );
    r.peer.faults(json!({"malformed_next": 1})).await;
    let e = err(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert!(e.contains("not a PAN-OS XML API document"), "{e}");
    r.peer
        .faults(json!({"rate_limit_next": 5, "retry_after_secs": 30}))
        .await;
    let e = err(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert_eq!(e, "PAN-OS is rate limiting requests; retry after 30 s");
    r.peer.faults(json!({"drop_next": 10})).await;
    let e = err(&mut r.client, "retrieve_address_objects", json!({})).await;
    assert!(e.starts_with("PAN-OS is unavailable"), "{e}");
    r.peer.faults(json!({})).await;
    ok(&mut r.client, "retrieve_address_objects", json!({})).await;
}

#[tokio::test]
async fn a_burst_of_identical_reads_makes_one_upstream_request() {
    let r = rig_with("firewall.xml", &[("PANOS_CACHE_TTL", "30s")]).await;
    r.peer.reset().await;
    let url = format!("{}/mcp", r.server.base());
    let tok = token("analyst", &["ngfw:read"]);
    let calls = (0..100).map(|_| {
        let mut c = RpcClient::new(&url, Some(tok.clone()));
        async move { c.call("retrieve_security_policies", json!({})).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(|r| r["result"]["isError"] == false),
        "every call answered"
    );
    assert!(
        results
            .iter()
            .all(|r| r["result"]["structuredContent"]["total"] == 8)
    );
    let stats = r.peer.stats().await;
    assert_eq!(
        stats["total"], 1,
        "100 identical reads, one upstream request: {stats}"
    );
}

#[tokio::test]
async fn username_and_password_are_exchanged_for_a_key() {
    let mut r = rig_with(
        "firewall.xml",
        &[
            ("PANOS_API_KEY", ""),
            ("PANOS_USERNAME", "api-admin"),
            ("PANOS_PASSWORD", "s3cret-pw"),
        ],
    )
    .await;
    ok(&mut r.client, "get_system_info", json!({})).await;
    let stats = r.peer.stats().await;
    assert_eq!(stats["by_type"]["keygen"], 1, "{stats}");
    let logs = r.server.logs().join("\n");
    assert!(
        !logs.contains("s3cret-pw") && !logs.contains(KEY),
        "credentials never logged"
    );
}

#[tokio::test]
async fn check_reaches_the_firewall() {
    let config = own_fixture("panos/firewall.xml").display().to_string();
    let sim = SimProcess::start(&["panos", "--config", &config, "--api-key", KEY]).await;
    let out = check_ok(BIN, &[("PANOS_HOST", &sim.base), ("PANOS_API_KEY", KEY)]).await;
    assert_eq!(out, "paloalto-ngfw: ok: PAN-OS 10.1.0 on PA-VM");
    check_fails(
        BIN,
        &[
            ("PANOS_HOST", "http://fw.example.com"),
            ("PANOS_API_KEY", KEY),
        ],
        "PANOS_HOST: plain http is allowed only for loopback",
    )
    .await;
}

/// Rules and address objects as MCP resources: templates listed, each read as the tool
/// answers it; a bad location or an unknown object is an error, not an empty answer.
#[tokio::test]
async fn rules_and_objects_are_resources() {
    let mut r = firewall().await;
    let templates = r
        .client
        .request("resources/templates/list", json!({}))
        .await;
    let uris: Vec<String> = templates.body.as_ref().expect("body")["result"]["resourceTemplates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["uriTemplate"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        uris,
        [
            "panos://{location}/rules",
            "panos://{location}/objects/{name}"
        ]
    );
    let as_resource = r
        .client
        .clone()
        .read_resource_json("panos://vsys:vsys1/rules")
        .await;
    let as_tool = ok(&mut r.client, "retrieve_security_policies", json!({})).await;
    assert_eq!(names(&as_resource), names(&as_tool));
    assert!(!names(&as_tool).is_empty());
    let first = ok(&mut r.client, "retrieve_address_objects", json!({})).await;
    let name = first["items"][0]["name"]
        .as_str()
        .expect("an object")
        .to_string();
    let uri = format!("panos://vsys:vsys1/objects/{name}");
    let object = r.client.clone().read_resource_json(&uri).await;
    assert_eq!(object, first["items"][0]);
    for bad in [
        "panos://nowhere/rules",
        "panos://vsys:vsys1/objects/no-such-object",
        "panos://vsys:vsys1']/../rules",
    ] {
        let mut c = r.client.clone();
        let e = c.request("resources/read", json!({"uri": bad})).await;
        assert!(
            e.body.as_ref().is_some_and(|b| b.get("error").is_some()),
            "{bad}: {}",
            e.raw
        );
    }
}

/// With `MCP_STATE_URL` (a real redis-server) the read cache is shared: 100 identical
/// concurrent reads spread over three replicas ask the firewall once, as one call does on a
/// cold cache. A write on one replica drops the entry for all of them.
#[tokio::test]
async fn identical_reads_across_replicas_make_one_upstream_request() {
    let sim = simulator("firewall.xml").await;
    let redis = test_support::RedisServer::start().await;
    let spec = spec(
        &sim,
        &[
            ("PANOS_CACHE_TTL", "30s"),
            ("MCP_HEALTH_INTERVAL", "1h"),
            ("MCP_STATE_URL", &redis.url()),
        ],
    );
    let replicas = [
        test_support::ServerProcess::start(&spec).await,
        test_support::ServerProcess::start(&spec).await,
        test_support::ServerProcess::start(&spec).await,
    ];
    let tok = token("analyst", &["ngfw:read"]);
    // What one call asks on a cold cache, measured on another location (its own cache keys).
    sim.reset().await;
    let mut one = RpcClient::new(format!("{}/mcp", replicas[0].base()), Some(tok.clone()));
    ok(
        &mut one,
        "retrieve_address_objects",
        json!({"location": "shared"}),
    )
    .await;
    let cold = sim.stats().await["total"].as_u64().expect("total");
    assert_eq!(cold, 1, "a cold read asks the firewall once");

    sim.reset().await;
    let calls = (0..100).map(|i| {
        let url = format!("{}/mcp", replicas[i % 3].base());
        let mut c = RpcClient::new(&url, Some(tok.clone()));
        async move { c.call("retrieve_address_objects", json!({})).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(|r| r["result"]["isError"] == false),
        "every call answered"
    );
    let first = &results[0]["result"]["structuredContent"];
    assert!(
        results
            .iter()
            .all(|r| &r["result"]["structuredContent"] == first),
        "every replica gave the same answer"
    );
    let stats = sim.stats().await;
    assert_eq!(
        stats["total"].as_u64(),
        Some(cold),
        "100 identical reads over 3 replicas ask what one cold read asks: {stats}"
    );
}
