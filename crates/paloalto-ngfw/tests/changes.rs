//! Change management end to end: the server binary, an MCP client holding `ngfw:write`, and
//! `vendor-sim panos` with separate candidate and running configurations.
//!
//! The main flow runs on the shared real firewall configuration (PAN-OS 8.0, 68 objects, 58
//! rules); the rest on this repository's own fixtures, whose contents are documented in
//! `crates/simulators/fixtures/panos/README.md`. Servers run with `MCP_CONFIRM=off` unless a
//! test is about confirmation (the elicitation path is tested with the official Python SDK
//! in tests/e2e); the audit event says how each write was confirmed.

use serde_json::{Value, json};
use test_support::{RpcClient, ServerSpec, SimProcess, own_fixture, shared_fixtures};
use test_support::{call_err as err, call_ok as ok};

const BIN: &str = env!("CARGO_BIN_EXE_paloalto-ngfw");
const KEY: &str = "sim-api-key-0123456789";
const BOB_KEY: &str = "bob-api-key-0123456789";

type Rig = test_support::Rig<SimProcess>;

/// The simulator with `config` (a path), administrators `api-admin` (the server's key) and
/// `bob`, and jobs that finish on the second look.
async fn simulator(config: &str) -> SimProcess {
    SimProcess::start(&[
        "panos",
        "--config",
        config,
        "--api-key",
        KEY,
        "--username",
        "api-admin",
        "--password",
        "s3cret-pw",
        "--user",
        &format!("bob:bob-pw:{BOB_KEY}"),
        "--job-polls",
        "2",
    ])
    .await
}

fn spec(sim: &SimProcess, extra: &[(&str, &str)]) -> ServerSpec {
    ServerSpec::http(BIN)
        .env("MCP_STATELESS", "true")
        .env("PANOS_HOST", sim.base.clone())
        .env("PANOS_API_KEY", KEY)
        .env("PANOS_CACHE_TTL", "0s")
        .env("MCP_CONFIRM", "off")
        .env_overrides(extra)
}

async fn rig(config: &str, extra: &[(&str, &str)]) -> Rig {
    let sim = simulator(config).await;
    let spec = spec(&sim, extra);
    Rig::start(sim, &spec, "alice", &["ngfw:write"], true).await
}

fn real_firewall() -> String {
    shared_fixtures()
        .join("panos/configs/firewall-8.0-vsys1.xml")
        .display()
        .to_string()
}

fn own(name: &str) -> String {
    own_fixture(&format!("panos/{name}")).display().to_string()
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

/// Requests that change something on the device: config writes, locks, reverts, commits.
async fn writes(sim: &SimProcess) -> u64 {
    let stats = sim.stats().await;
    let keys = stats["by_key"].as_object().cloned().unwrap_or_default();
    let changing = [
        "config:edit",
        "config:set",
        "config:delete",
        "config:move",
        "config:rename",
        "op:request-config-lock",
        "op:revert",
    ];
    let n: u64 = keys
        .iter()
        .filter(|(k, _)| changing.iter().any(|p| k.starts_with(p)))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    n + stats["by_type"]["commit"].as_u64().unwrap_or(0)
}

/// `{"status": ..}` of a write's change report.
fn status(out: &Value) -> &str {
    out["change"]["status"].as_str().unwrap_or_default()
}

async fn tool_names(c: &mut RpcClient) -> Vec<String> {
    let mut t = c.tool_names().await;
    t.sort();
    t
}

const WRITE_TOOLS: [&str; 15] = [
    "commit_changes",
    "delete_address_group",
    "delete_address_object",
    "delete_security_rule",
    "delete_service_object",
    "delete_tag",
    "move_security_rule",
    "push_to_devices",
    "revert_changes",
    "set_address_group",
    "set_address_object",
    "set_security_rule",
    "set_service_object",
    "set_tag",
    "approve_change",
];

#[tokio::test]
async fn only_a_write_token_on_a_writable_server_sees_the_write_tools() {
    let r = rig(&own("firewall.xml"), &[]).await;
    let mut reader = r.client("analyst", &["ngfw:read"]).await;
    let read_tools = tool_names(&mut reader).await;
    assert!(
        read_tools
            .iter()
            .all(|t| !WRITE_TOOLS.contains(&t.as_str())),
        "{read_tools:?}"
    );
    for t in [
        "preview_changes",
        "commit_status",
        "retrieve_nat_policies",
        "test_nat_policy_match",
        "retrieve_rule_hit_counts",
    ] {
        assert!(read_tools.contains(&t.to_string()), "{t} in {read_tools:?}");
    }
    let refused = reader
        .call(
            "set_address_object",
            json!({"name": "x", "kind": "fqdn", "value": "x.example.com"}),
        )
        .await;
    assert_eq!(
        refused["error"]["message"], "tool `set_address_object` not found",
        "a read token cannot call a write tool, and is not told it exists: {refused}"
    );
    let mut writer = r.client("alice", &["ngfw:write"]).await;
    let all = tool_names(&mut writer).await;
    for t in &WRITE_TOOLS[..14] {
        assert!(all.contains(&t.to_string()), "{t} in {all:?}");
    }
    assert!(
        all.contains(&"retrieve_address_objects".to_string()),
        "ngfw:write implies ngfw:read"
    );

    let sim = simulator(&own("firewall.xml")).await;
    let ro = spec(&sim, &[("MCP_READ_ONLY", "true")]);
    let ro = Rig::start(sim, &ro, "alice", &["ngfw:write"], true).await;
    let mut c = ro.client("alice", &["ngfw:write", "ngfw:read"]).await;
    let visible = tool_names(&mut c).await;
    assert!(
        visible.iter().all(|t| !WRITE_TOOLS.contains(&t.as_str())),
        "--read-only hides every write tool: {visible:?}"
    );
    assert!(visible.contains(&"preview_changes".to_string()));
}

/// Issue 15's flow on the real firewall config: create an object, add it to a group, see
/// both only in the candidate, preview, commit, follow the job, see them running.
#[tokio::test]
async fn create_add_to_group_preview_commit_and_run() {
    let mut r = rig(&real_firewall(), &[]).await;
    let c = &mut r.client;
    let obj = json!({"name": "mcp-scanner-01", "kind": "ip-netmask", "value": "198.51.100.77",
        "description": "scanner seen in IDS <ticket 42> & more", "tags": ["Test"]});
    let set = ok(c, "set_address_object", obj.clone()).await;
    assert_eq!(status(&set), "applied", "{set}");
    assert_eq!(set["object"]["value"], "198.51.100.77");
    assert_eq!(set["change"]["plan"]["changes"][0]["action"], "create");
    assert_eq!(set["change"]["confirmation"]["by"], "not_required");

    // Identical again: unchanged, and no write reaches the firewall.
    let before = writes(&r.peer).await;
    assert_eq!(before, 3, "lock, edit, unlock: the counter sees writes");
    let again = ok(&mut r.client, "set_address_object", obj).await;
    assert_eq!(status(&again), "unchanged", "{again}");
    assert_eq!(
        writes(&r.peer).await,
        before,
        "an identical set writes nothing"
    );

    let c = &mut r.client;
    let grp = ok(
        c,
        "set_address_group",
        json!({"name": "g_PRIVATE", "add_members": ["mcp-scanner-01"]}),
    )
    .await;
    assert_eq!(status(&grp), "applied", "{grp}");
    assert_eq!(
        grp["object"]["members"],
        json!([
            "N-10.0.0.0s8",
            "N-172.16.0.0s12",
            "N-192.168.0.0s16",
            "mcp-scanner-01"
        ])
    );
    let again = ok(
        c,
        "set_address_group",
        json!({"name": "g_PRIVATE", "add_members": ["mcp-scanner-01"]}),
    )
    .await;
    assert_eq!(status(&again), "unchanged");

    // Only the candidate has them.
    let q = json!({"name_filter": "mcp-scanner"});
    let running = ok(c, "retrieve_address_objects", q.clone()).await;
    assert_eq!(running["total"], 0, "{running}");
    let candidate = ok(
        c,
        "retrieve_address_objects",
        json!({"name_filter": "mcp-scanner", "config": "candidate"}),
    )
    .await;
    assert_eq!(names(&candidate), vec!["mcp-scanner-01"]);
    let g = json!({"name_filter": "g_PRIVATE"});
    let running_g = ok(c, "retrieve_address_groups", g).await;
    assert_eq!(
        running_g["items"][0]["members"].as_array().map(Vec::len),
        Some(3)
    );

    // Preview shows exactly the two changes, before and after.
    let preview = ok(c, "preview_changes", json!({})).await;
    let items = preview["items"].as_array().cloned().unwrap_or_default();
    let summary: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["action"].as_str().unwrap_or("").into(),
                i["kind"].as_str().unwrap_or("").into(),
                i["name"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("create".into(), "address".into(), "mcp-scanner-01".into()),
            ("update".into(), "address-group".into(), "g_PRIVATE".into()),
        ],
        "{preview}"
    );
    assert_eq!(
        items[1]["before"]["members"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        items[1]["after"]["members"].as_array().map(Vec::len),
        Some(4)
    );
    let only_shared = ok(c, "preview_changes", json!({"location": "shared"})).await;
    assert_eq!(only_shared["total"], 0);

    // A dry run of the commit: the plan is the preview plus the commit; nothing happens.
    let before = writes(&r.peer).await;
    let c = &mut r.client;
    let plan = ok(
        c,
        "commit_changes",
        json!({"reason": "CHG-1234 block the scanner", "dry_run": true}),
    )
    .await;
    assert_eq!(plan["status"], "planned", "{plan}");
    let changes = plan["change"]["plan"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 3, "{plan}");
    assert_eq!(changes[0]["name"], "vsys:vsys1/mcp-scanner-01");
    assert_eq!(changes[2]["action"], "commit");
    assert!(
        changes[2]["after"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("alice") && d.contains("CHG-1234")),
        "{plan}"
    );
    assert_eq!(writes(&r.peer).await, before, "a dry run changes nothing");

    let c = &mut r.client;
    let done = ok(
        c,
        "commit_changes",
        json!({"reason": "CHG-1234 block the scanner", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(done["status"], "committed", "{done}");
    assert_eq!(
        done["admin"], "api-admin",
        "a partial commit of the key's administrator"
    );
    assert_eq!(done["change"]["confirmation"]["by"], "confirm_off");
    assert_eq!(
        done["change"]["plan"]["digest"],
        plan["change"]["plan"]["digest"]
    );
    let job_id = done["job_id"].as_u64().expect("a job id");
    assert_eq!(done["job"]["result"], "OK");
    let description = done["job"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("alice") && description.contains("CHG-1234 block the scanner"),
        "the commit description names the subject and the reason: {description}"
    );

    let st = ok(c, "commit_status", json!({"job_id": job_id})).await;
    assert_eq!(
        (st["done"].as_bool(), st["succeeded"].as_bool()),
        (Some(true), Some(true)),
        "{st}"
    );
    assert_eq!(st["type"], "Commit");

    // Running now has both.
    let running = ok(c, "retrieve_address_objects", q).await;
    assert_eq!(names(&running), vec!["mcp-scanner-01"]);
    assert_eq!(running["items"][0]["tags"], json!(["Test"]));
    assert_eq!(
        running["items"][0]["description"], "scanner seen in IDS <ticket 42> & more",
        "text round-trips through XML escaping"
    );
    let running_g = ok(
        c,
        "retrieve_address_groups",
        json!({"name_filter": "g_PRIVATE"}),
    )
    .await;
    assert_eq!(
        running_g["items"][0]["members"].as_array().map(Vec::len),
        Some(4)
    );
    let preview = ok(c, "preview_changes", json!({})).await;
    assert_eq!(preview["total"], 0, "{preview}");
    let again = ok(c, "commit_changes", json!({"reason": "again"})).await;
    assert_eq!(again["status"], "nothing_to_commit");

    // The audit event of the commit says how it was confirmed.
    let logs = r.server.logs().join("\n");
    let audit = logs
        .lines()
        .find(|l| {
            l.contains("\"tool\":\"commit_changes\"")
                && l.contains("\"confirmation\":\"confirm_off\"")
        })
        .unwrap_or_else(|| panic!("no audit event of the commit:\n{logs}"));
    assert!(audit.contains("\"subject\":\"alice\""), "{audit}");
    assert!(audit.contains("sha256:"), "{audit}");
}

#[tokio::test]
async fn move_security_rule_changes_the_order_the_read_tool_returns() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let c = &mut r.client;
    let order = |p: &Value| names(p);
    let running = ok(c, "retrieve_security_policies", json!({})).await;
    assert_eq!(order(&running)[6], "allow-dns-out");
    let plan = ok(
        c,
        "move_security_rule",
        json!({"name": "allow-dns-out", "where": "top", "dry_run": true}),
    )
    .await;
    assert_eq!(
        (
            plan["position_before"].as_u64(),
            plan["position_after"].as_u64(),
            status(&plan)
        ),
        (Some(7), Some(1), "planned")
    );
    let moved = ok(
        c,
        "move_security_rule",
        json!({"name": "allow-dns-out", "where": "top"}),
    )
    .await;
    assert_eq!(status(&moved), "applied", "{moved}");
    let candidate = ok(
        c,
        "retrieve_security_policies",
        json!({"config": "candidate"}),
    )
    .await;
    assert_eq!(order(&candidate)[0], "allow-dns-out");
    assert_eq!(candidate["items"][0]["position"], 1);
    let running = ok(c, "retrieve_security_policies", json!({})).await;
    assert_eq!(
        order(&running)[0],
        "allow-web-inbound",
        "running until the commit"
    );

    let moved = ok(
        c,
        "move_security_rule",
        json!({"name": "deny-all", "where": "before", "other": "legacy-allow-any"}),
    )
    .await;
    assert_eq!(status(&moved), "applied");
    let moved = ok(
        c,
        "move_security_rule",
        json!({"name": "allow-web-inbound", "where": "after", "other": "allow-dns-out"}),
    )
    .await;
    assert_eq!(
        status(&moved),
        "unchanged",
        "already right after it: {moved}"
    );
    let same = ok(
        c,
        "move_security_rule",
        json!({"name": "allow-dns-out", "where": "top"}),
    )
    .await;
    assert_eq!(status(&same), "unchanged");

    let preview = ok(c, "preview_changes", json!({})).await;
    assert!(
        preview["items"].as_array().is_some_and(|i| i
            .iter()
            .all(|i| i["action"] == "move" && i["kind"] == "security-rule")),
        "{preview}"
    );
    let done = ok(c, "commit_changes", json!({"reason": "reorder"})).await;
    assert_eq!(done["status"], "committed", "{done}");
    let running = ok(c, "retrieve_security_policies", json!({})).await;
    assert_eq!(
        order(&running),
        vec![
            "allow-dns-out",
            "allow-web-inbound",
            "drop-ssh-not-bastion",
            "allow-ssh-bastion",
            "deny-all",
            "legacy-allow-any",
            "allow-users-web-out",
            "allow-app-tier",
        ]
    );
    let e = err(
        c,
        "move_security_rule",
        json!({"name": "no-such-rule", "where": "top"}),
    )
    .await;
    assert!(e.contains("no security rule `no-such-rule`"), "{e}");
    let e = err(
        c,
        "move_security_rule",
        json!({"name": "deny-all", "where": "after", "other": "no-such-rule"}),
    )
    .await;
    assert!(e.contains("`other`") && e.contains("no-such-rule"), "{e}");
}

#[tokio::test]
async fn a_referenced_object_is_not_deleted_and_the_referrers_are_named() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let before = writes(&r.peer).await;
    let c = &mut r.client;
    let e = err(c, "delete_address_object", json!({"name": "web-srv-01"})).await;
    assert!(
        e.starts_with("conflict: address `web-srv-01` in vsys:vsys1 is still referenced by"),
        "{e}"
    );
    assert!(
        e.contains("1 item: address-group `grp-web-servers` (vsys:vsys1, static)"),
        "{e}"
    );
    let e = err(
        c,
        "delete_address_group",
        json!({"name": "grp-web-servers"}),
    )
    .await;
    assert!(
        e.contains("security-rule `allow-web-inbound` (vsys:vsys1, destination)"),
        "{e}"
    );
    let e = err(c, "delete_tag", json!({"name": "web"})).await;
    assert!(e.contains("address `web-srv-01` (vsys:vsys1, tag)"), "{e}");
    assert!(e.contains("dynamic filter"), "{e}");
    let e = err(c, "delete_service_object", json!({"name": "svc-ssh-mgmt"})).await;
    assert!(e.contains("security-rule"), "{e}");
    assert_eq!(writes(&r.peer).await, before, "refused before any write");

    // Unreferenced: deleted, then deleting again changes nothing.
    let c = &mut r.client;
    let made = ok(
        c,
        "set_address_object",
        json!({"name": "tmp-1", "kind": "fqdn", "value": "tmp.example.com"}),
    )
    .await;
    assert_eq!(status(&made), "applied");
    let gone = ok(c, "delete_address_object", json!({"name": "tmp-1"})).await;
    assert_eq!(status(&gone), "applied", "{gone}");
    assert_eq!(
        gone["change"]["plan"]["changes"][0]["before"]["value"],
        "tmp.example.com"
    );
    let again = ok(c, "delete_address_object", json!({"name": "tmp-1"})).await;
    assert_eq!(status(&again), "unchanged");
    let preview = ok(c, "preview_changes", json!({})).await;
    assert_eq!(
        preview["total"], 0,
        "created and deleted: nothing to commit"
    );
}

#[tokio::test]
async fn dry_runs_change_nothing() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let base = writes(&r.peer).await;
    let c = &mut r.client;
    let calls = [
        (
            "set_address_object",
            json!({"name": "dry-1", "kind": "ip-range", "value": "10.9.0.1-10.9.0.9", "dry_run": true}),
        ),
        (
            "set_address_group",
            json!({"name": "grp-web-servers", "remove_members": ["web-srv-02"], "dry_run": true}),
        ),
        (
            "set_service_object",
            json!({"name": "svc-dry", "protocol": "udp", "port": "5000-5010", "dry_run": true}),
        ),
        (
            "set_tag",
            json!({"name": "dry-tag", "color": "color12", "dry_run": true}),
        ),
        (
            "set_security_rule",
            json!({"name": "dry-rule", "from": ["trust"], "to": ["untrust"], "action": "deny", "dry_run": true}),
        ),
        (
            "delete_security_rule",
            json!({"name": "legacy-allow-any", "dry_run": true}),
        ),
        (
            "delete_address_object",
            json!({"name": "fqdn-updates", "dry_run": true}),
        ),
        (
            "move_security_rule",
            json!({"name": "deny-all", "where": "top", "dry_run": true}),
        ),
        ("revert_changes", json!({"dry_run": true})),
    ];
    for (tool, args) in calls {
        let out = ok(c, tool, args.clone()).await;
        let s = out["change"]["status"].as_str().unwrap_or_default();
        assert!(s == "planned" || s == "unchanged", "{tool}({args}): {out}");
    }
    assert_eq!(writes(&r.peer).await, base, "no dry run wrote anything");
    let preview = ok(&mut r.client, "preview_changes", json!({})).await;
    assert_eq!(preview["total"], 0);
    let moved = ok(
        &mut r.client,
        "move_security_rule",
        json!({"name": "deny-all", "where": "top"}),
    )
    .await;
    assert_eq!(status(&moved), "applied");
    assert_eq!(
        writes(&r.peer).await,
        base + 3,
        "the same call without dry_run writes"
    );
}

#[tokio::test]
async fn rules_objects_services_and_tags_are_created_updated_and_kept_whole() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let c = &mut r.client;
    let svc = ok(c, "set_service_object", json!({"name": "svc-app-8443", "protocol": "tcp", "port": "8443,9443-9445", "tags": ["web"]})).await;
    assert_eq!(status(&svc), "applied", "{svc}");
    let upd = ok(
        c,
        "set_service_object",
        json!({"name": "svc-app-8443", "port": "8443"}),
    )
    .await;
    assert_eq!(upd["object"]["protocol"], "tcp", "the protocol is kept");
    assert_eq!(upd["object"]["tags"], json!(["web"]), "the tags are kept");
    let tag = ok(
        c,
        "set_tag",
        json!({"name": "mcp-managed", "color": "color2", "comments": "made by the assistant"}),
    )
    .await;
    assert_eq!(status(&tag), "applied", "{tag}");

    let rule = json!({"name": "mcp-allow-app", "from": ["untrust"], "to": ["trust"],
        "destination": ["web-srv-01", "10.10.9.0/24"], "application": ["ssl"], "service": ["svc-app-8443"],
        "action": "allow", "profile_group": "strict", "log_setting": "default-fwd", "log_end": true,
        "tags": ["mcp-managed"], "description": "opened for CHG-77"});
    let made = ok(c, "set_security_rule", rule.clone()).await;
    assert_eq!(status(&made), "applied", "{made}");
    assert_eq!(made["object"]["source"], json!(["any"]), "defaults to any");
    assert_eq!(made["object"]["profile_group"], "strict");
    assert_eq!(
        made["object"]["position"], 9,
        "a new rule goes to the bottom"
    );
    let again = ok(c, "set_security_rule", rule).await;
    assert_eq!(status(&again), "unchanged", "{again}");
    let candidate = ok(
        c,
        "retrieve_security_policies",
        json!({"config": "candidate"}),
    )
    .await;
    assert_eq!(
        names(&candidate).last().map(String::as_str),
        Some("mcp-allow-app"),
        "new rules go to the bottom"
    );

    // An update changes what it names and keeps the rest, including fields this server does
    // not manage.
    let upd = ok(
        c,
        "set_security_rule",
        json!({"name": "allow-web-inbound", "disabled": true, "description": ""}),
    )
    .await;
    assert_eq!(status(&upd), "applied", "{upd}");
    let after = &upd["object"];
    let before = &upd["change"]["plan"]["changes"][0]["before"];
    assert_eq!(after["disabled"], true);
    assert_eq!(after["position"], 1, "an edit keeps the rule in place");
    assert!(after.get("description").is_none());
    for f in [
        "from",
        "to",
        "source",
        "destination",
        "application",
        "service",
        "action",
        "profiles",
        "profile_group",
        "log_setting",
        "tags",
    ] {
        assert_eq!(after[f], before[f], "{f} kept");
    }
    let e = err(
        c,
        "set_security_rule",
        json!({"name": "half-rule", "from": ["trust"]}),
    )
    .await;
    assert!(
        e.starts_with("invalid argument `to`: is required to create rule `half-rule`"),
        "{e}"
    );
    let done = ok(c, "commit_changes", json!({"reason": "CHG-77"})).await;
    assert_eq!(done["status"], "committed", "{done}");
    let running = ok(
        c,
        "retrieve_security_policies",
        json!({"name_filter": "mcp-allow"}),
    )
    .await;
    assert_eq!(
        running["items"][0]["destination"],
        json!(["web-srv-01", "10.10.9.0/24"])
    );
}

#[tokio::test]
async fn a_lock_held_by_another_administrator_is_named_and_nothing_changes() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let http = reqwest::Client::new();
    let op = |cmd: &'static str| {
        http.post(format!("{}/api/", r.peer.base))
            .header("X-PAN-KEY", BOB_KEY)
            .form(&[("type", "op"), ("cmd", cmd)])
            .send()
    };
    let taken = op("<request><config-lock><add><comment>bob is editing</comment></add></config-lock></request>")
        .await
        .expect("lock");
    assert!(taken.text().await.unwrap_or_default().contains("success"));
    let c = &mut r.client;
    let e = err(
        c,
        "set_address_object",
        json!({"name": "x-1", "kind": "fqdn", "value": "x.example.com"}),
    )
    .await;
    assert!(e.contains("locked by administrator `bob`"), "{e}");
    let preview = ok(c, "preview_changes", json!({})).await;
    assert_eq!(preview["total"], 0);
    op("<request><config-lock><remove></remove></config-lock></request>")
        .await
        .expect("unlock");
    let made = ok(
        &mut r.client,
        "set_address_object",
        json!({"name": "x-1", "kind": "fqdn", "value": "x.example.com"}),
    )
    .await;
    assert_eq!(status(&made), "applied");
    // This server released its own lock: bob can lock again.
    let again =
        op("<request><config-lock><add><comment>bob again</comment></add></config-lock></request>")
            .await
            .expect("lock");
    assert!(
        again.text().await.unwrap_or_default().contains("success"),
        "the server's lock was released"
    );
}

#[tokio::test]
async fn a_commit_needs_a_confirmation_the_client_cannot_give() {
    let mut r = rig(&own("firewall.xml"), &[("MCP_CONFIRM", "")]).await;
    let c = &mut r.client;
    let made = ok(
        c,
        "set_tag",
        json!({"name": "needs-commit", "color": "color3"}),
    )
    .await;
    assert_eq!(
        status(&made),
        "applied",
        "candidate edits need no confirmation"
    );
    let before = writes(&r.peer).await;
    let e = err(c, "commit_changes", json!({"reason": "go"})).await;
    assert!(
        e.starts_with("not applied: `commit_changes` needs a human's confirmation"),
        "{e}"
    );
    let e = err(c, "revert_changes", json!({})).await;
    assert!(e.starts_with("not applied:"), "{e}");
    assert_eq!(
        writes(&r.peer).await,
        before,
        "nothing committed or reverted"
    );
    let plan = ok(
        c,
        "commit_changes",
        json!({"reason": "go", "dry_run": true}),
    )
    .await;
    assert_eq!(plan["status"], "planned");
}

#[tokio::test]
async fn revert_discards_the_candidate() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let c = &mut r.client;
    ok(
        c,
        "set_address_object",
        json!({"name": "to-revert", "kind": "ip-netmask", "value": "10.66.0.0/16"}),
    )
    .await;
    let preview = ok(c, "preview_changes", json!({})).await;
    assert_eq!(preview["total"], 1);
    let out = ok(c, "revert_changes", json!({})).await;
    assert_eq!(out["status"], "reverted", "{out}");
    assert_eq!(
        out["change"]["plan"]["changes"][0]["action"],
        "revert create"
    );
    let preview = ok(c, "preview_changes", json!({})).await;
    assert_eq!(preview["total"], 0);
    let out = ok(c, "revert_changes", json!({})).await;
    assert_eq!(out["change"]["status"], "unchanged");
}

#[tokio::test]
async fn panorama_rules_go_to_pre_or_post_and_push_reports_its_job() {
    let mut r = rig(&own("panorama.xml"), &[]).await;
    let c = &mut r.client;
    let dg = json!({"location": "device-group", "device_group": "DG-Branch", "rulebase": "post"});
    let mut rule =
        json!({"name": "mcp-post-deny", "from": ["any"], "to": ["any"], "action": "deny"});
    for (k, v) in dg.as_object().cloned().unwrap_or_default() {
        rule[k] = v;
    }
    let made = ok(c, "set_security_rule", rule).await;
    assert_eq!(status(&made), "applied", "{made}");
    assert_eq!(made["object"]["rulebase"], "post");
    let post = ok(c, "retrieve_security_policies", json!({"location": "device-group", "device_group": "DG-Branch", "rulebase": "post", "config": "candidate"})).await;
    assert!(
        names(&post).contains(&"mcp-post-deny".to_string()),
        "{post}"
    );
    let pre = ok(
        c,
        "retrieve_security_policies",
        json!({"location": "device-group", "device_group": "DG-Branch", "config": "candidate"}),
    )
    .await;
    assert!(!names(&pre).contains(&"mcp-post-deny".to_string()));
    let preview = ok(
        c,
        "preview_changes",
        json!({"location": "device-group", "device_group": "DG-Branch"}),
    )
    .await;
    assert_eq!(preview["items"][0]["rulebase"], "post", "{preview}");
    let done = ok(c, "commit_changes", json!({"reason": "branch cleanup"})).await;
    assert_eq!(done["status"], "committed", "{done}");

    let plan = ok(
        c,
        "push_to_devices",
        json!({"device_group": "DG-Branch", "reason": "branch cleanup", "dry_run": true}),
    )
    .await;
    assert_eq!(plan["status"], "planned");
    assert_eq!(
        plan["change"]["plan"]["changes"][0]["after"]["devices"],
        json!(["SIMBRANCH0001", "SIMBRANCH0002"])
    );
    let pushed = ok(
        c,
        "push_to_devices",
        json!({"device_group": "DG-Branch", "reason": "branch cleanup", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
    assert_eq!(pushed["job"]["type"], "CommitAll");
    assert_eq!(pushed["job"]["devices"].as_array().map(Vec::len), Some(2));
    let e = err(
        c,
        "push_to_devices",
        json!({"device_group": "DG-Nowhere", "reason": "x"}),
    )
    .await;
    assert!(e.starts_with("not found:"), "{e}");
}

#[tokio::test]
async fn nat_rules_and_hit_counts() {
    let mut r = rig(&real_firewall(), &[]).await;
    let c = &mut r.client;
    let nat = ok(c, "retrieve_nat_policies", json!({"limit": 200})).await;
    assert_eq!(nat["total"], 14, "{nat}");
    let items = nat["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items[0]["name"], "tv");
    assert_eq!(items[0]["source_translation"], "dynamic-ip-and-port");
    assert_eq!(items[0]["translated_source"], json!(["ethernet1/3.30"]));
    let sip = items
        .iter()
        .find(|i| i["name"] == "sip.udp.5060")
        .cloned()
        .unwrap_or_default();
    assert_eq!(sip["translated_destination"], "H-192.168.10.1_fritzbox");
    assert_eq!(sip["service"], "udp-5060");

    let hits = ok(c, "retrieve_rule_hit_counts", json!({"limit": 200})).await;
    let all = hits["total"].as_u64().unwrap_or(0);
    assert!(all > 0, "{hits}");
    let unused = ok(
        c,
        "retrieve_rule_hit_counts",
        json!({"limit": 200, "unused_only": true}),
    )
    .await;
    let n = unused["total"].as_u64().unwrap_or(0);
    assert!(n > 0 && n < all, "some rules are unused: {n} of {all}");
    assert!(unused["items"].as_array().is_some_and(|i| {
        i.iter()
            .all(|h| h["hit_count"] == 0 && h.get("last_hit").is_none())
    }));
    let used = hits["items"]
        .as_array()
        .and_then(|i| {
            i.iter()
                .find(|h| h["hit_count"].as_u64() > Some(0))
                .cloned()
        })
        .unwrap_or_default();
    assert!(
        used["last_hit"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{used}"
    );
}

#[tokio::test]
async fn hostile_write_arguments_never_reach_the_firewall() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let before = r.peer.total().await;
    let cases = [
        (
            "set_address_object",
            json!({"name": "x']/../../shared", "kind": "fqdn", "value": "a.example.com"}),
            "name",
        ),
        (
            "set_address_object",
            json!({"name": "ok", "kind": "ip-netmask", "value": "10.0.0.1</ip-netmask><fqdn>x"}),
            "value",
        ),
        (
            "set_address_object",
            json!({"name": "ok", "kind": "fqdn", "value": "a.example.com", "description": "a\nb"}),
            "description",
        ),
        (
            "set_address_object",
            json!({"name": "ok", "kind": "fqdn", "value": "a.example.com", "tags": ["t</member>"]}),
            "tags[0]",
        ),
        (
            "set_address_object",
            json!({"name": "ok", "kind": "fqdn", "value": "a.example.com", "location": "pushed"}),
            "location",
        ),
        (
            "set_address_group",
            json!({"name": "g", "static_members": ["a", "b'c"]}),
            "static_members[1]",
        ),
        (
            "set_address_group",
            json!({"name": "g", "dynamic_filter": "'a' and ("}),
            "dynamic_filter",
        ),
        (
            "set_address_group",
            json!({"name": "g", "static_members": ["a"], "dynamic_filter": "'a'"}),
            "dynamic_filter",
        ),
        (
            "set_service_object",
            json!({"name": "s", "protocol": "tcp", "port": "80;rm -rf"}),
            "port",
        ),
        ("set_tag", json!({"name": "t", "color": "red<x>"}), "color"),
        (
            "set_security_rule",
            json!({"name": "r", "from": ["trust"], "to": ["untrust"], "action": "allow", "source": ["10.0.0.5/8"]}),
            "source[0]",
        ),
        (
            "set_security_rule",
            json!({"name": "r", "source_user": ["a<b>"]}),
            "source_user[0]",
        ),
        (
            "set_security_rule",
            json!({"name": "r", "profile_group": "g", "profiles": {"virus": "v"}}),
            "profiles",
        ),
        (
            "set_security_rule",
            json!({"name": "r", "rulebase": "pre"}),
            "rulebase",
        ),
        (
            "move_security_rule",
            json!({"name": "r", "where": "after"}),
            "other",
        ),
        (
            "move_security_rule",
            json!({"name": "r", "where": "sideways"}),
            "where",
        ),
        ("delete_tag", json!({"name": "t'"}), "name"),
        ("commit_changes", json!({"reason": ""}), "reason"),
        (
            "commit_changes",
            json!({"reason": "x", "wait_seconds": 1000}),
            "wait_seconds",
        ),
        ("commit_status", json!({"job_id": 0}), "job_id"),
        ("push_to_devices", json!({"reason": "x"}), "device_group"),
        (
            "test_nat_policy_match",
            json!({"from_zone": "a", "to_zone": "b", "source": "10.0.0.1", "destination": "10.0.0.2", "destination_port": 80, "to_interface": "eth<1>"}),
            "to_interface",
        ),
        (
            "retrieve_rule_hit_counts",
            json!({"location": "pushed"}),
            "location",
        ),
        ("preview_changes", json!({"vsys": "vsys1"}), "vsys"),
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
}

/// The two-person rule on a commit: the plan stored for approval is the commit's plan; it
/// runs again at apply time with the same digest, unless the candidate changed meanwhile.
#[tokio::test]
async fn a_commit_under_the_two_person_rule() {
    let mut r = rig(
        &own("firewall.xml"),
        &[("MCP_CONFIRM", ""), ("MCP_APPROVALS", "required")],
    )
    .await;
    let mut bob = r.client("bob", &["ngfw:approve", "ngfw:read"]).await;
    let c = &mut r.client;
    let made = ok(
        c,
        "set_tag",
        json!({"name": "two-person", "color": "color4"}),
    )
    .await;
    assert_eq!(
        status(&made),
        "applied",
        "candidate edits do not wait: {made}"
    );
    let before = writes(&r.peer).await;
    let pending = ok(c, "commit_changes", json!({"reason": "CHG-9 two people"})).await;
    assert_eq!(pending["status"], "pending_approval", "{pending}");
    let id = pending["change"]["pending"]["change_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let digest = pending["change"]["pending"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        writes(&r.peer).await,
        before,
        "nothing committed while pending"
    );

    let mut alice_approver = r.client("alice", &["ngfw:write", "ngfw:approve"]).await;
    let e = err(
        &mut alice_approver,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;
    assert!(e.contains("own"), "no self-approval: {e}");
    let altered = format!("sha256:{}", "0".repeat(64));
    let e = err(
        &mut bob,
        "approve_change",
        json!({"change_id": id, "digest": altered}),
    )
    .await;
    assert!(e.contains("digest"), "{e}");
    ok(
        &mut bob,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;

    let c = &mut r.client;
    let applied = ok(c, "apply_change", json!({"change_id": id})).await;
    assert_eq!(applied["status"], "committed", "{applied}");
    assert_eq!(applied["change"]["confirmation"]["by"], "approval");
    assert_eq!(applied["change"]["confirmation"]["approver"], "bob");
    assert_eq!(applied["change"]["plan"]["digest"], digest.as_str());
    let e = err(c, "apply_change", json!({"change_id": id})).await;
    assert!(!e.is_empty(), "an approval is used once");

    // A change approved, then the candidate changes: the approval is stale.
    ok(
        c,
        "set_tag",
        json!({"name": "two-person", "color": "color5"}),
    )
    .await;
    let pending = ok(c, "commit_changes", json!({"reason": "CHG-10"})).await;
    let id = pending["change"]["pending"]["change_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let digest = pending["change"]["pending"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok(
        &mut bob,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;
    let c = &mut r.client;
    ok(
        c,
        "set_tag",
        json!({"name": "two-person", "color": "color6"}),
    )
    .await;
    let before = writes(&r.peer).await;
    let e = err(c, "apply_change", json!({"change_id": id})).await;
    assert!(e.starts_with("conflict:") && e.contains("stale"), "{e}");
    assert_eq!(
        writes(&r.peer).await,
        before,
        "a stale approval commits nothing"
    );
}

#[tokio::test]
async fn a_commit_reports_progress_to_a_client_that_asked() {
    let mut r = rig(&own("firewall.xml"), &[]).await;
    let c = &mut r.client;
    ok(c, "set_tag", json!({"name": "progress", "color": "color9"})).await;
    let resp = c
        .request(
            "tools/call",
            json!({"name": "commit_changes", "arguments": {"reason": "watch it"},
                   "_meta": {"progressToken": "commit-1"}}),
        )
        .await;
    let progress: Vec<&str> = resp
        .raw
        .lines()
        .filter(|l| l.contains("notifications/progress") && l.contains("commit-1"))
        .collect();
    assert!(!progress.is_empty(), "progress notifications: {}", resp.raw);
    assert!(
        progress.iter().any(|l| l.contains("\"progress\":100")),
        "{progress:?}"
    );
    let body = resp.body.expect("a result");
    assert_eq!(
        body["result"]["structuredContent"]["status"], "committed",
        "{body}"
    );
}

/// Replicas that share a cache (`MCP_STATE_URL`, a real redis-server) never serve a read
/// from before another replica's write: the write starts a new cache generation, which every
/// replica's own cache is keyed by.
#[tokio::test]
async fn a_write_on_one_replica_is_seen_by_a_cached_read_on_another() {
    let sim = simulator(&real_firewall()).await;
    let redis = test_support::RedisServer::start().await;
    let spec = spec(
        &sim,
        &[("PANOS_CACHE_TTL", "60s"), ("MCP_STATE_URL", &redis.url())],
    );
    let a = test_support::ServerProcess::start(&spec).await;
    let b = test_support::ServerProcess::start(&spec).await;
    let client = |s: &test_support::ServerProcess| {
        RpcClient::new(
            format!("{}/mcp", s.base()),
            Some(test_support::tokens::token("alice", &["ngfw:write"])),
        )
    };
    let (mut ca, mut cb) = (client(&a), client(&b));
    let q = json!({"name_filter": "mcp-replica", "config": "candidate"});
    let before = ok(&mut ca, "retrieve_address_objects", q.clone()).await;
    assert_eq!(before["total"], 0, "{before}");
    // Cached on A (and in the store): a second read asks the firewall nothing.
    sim.reset().await;
    ok(&mut ca, "retrieve_address_objects", q.clone()).await;
    assert_eq!(sim.stats().await["by_type"]["config"], Value::Null);
    let set = ok(
        &mut cb,
        "set_address_object",
        json!({"name": "mcp-replica-01", "kind": "ip-netmask", "value": "198.51.100.90"}),
    )
    .await;
    assert_eq!(status(&set), "applied", "{set}");
    let after = ok(&mut ca, "retrieve_address_objects", q).await;
    assert_eq!(after["total"], 1, "A sees B's write at once: {after}");
}
