//! proxmox day-2 operations end to end: the real binary and an MCP client against
//! `vendor-sim proxmox` — snapshots, backups and restore, guest config, storage, network,
//! firewall and task reads, and protected guests refused with no write reaching Proxmox,
//! the `proxmox_api` passthrough included.

use serde_json::{Value, json};
use test_support::{Rig, ServerSpec, SimProcess};
use test_support::{call_err as err, call_ok as ok};

const BIN: &str = env!("CARGO_BIN_EXE_proxmox");
const TOKEN_ID: &str = "mcp@pve!ci";
const SECRET: &str = "5f1c9a2e-0000-4000-8000-00000000c1c1";
const EVERY: &[&str] = &[
    "proxmox:read",
    "proxmox:power",
    "proxmox:snapshot",
    "proxmox:backup",
    "proxmox:config",
    "proxmox:admin",
];

async fn sim_with(extra: &[&str]) -> SimProcess {
    let mut args = vec![
        "proxmox",
        "--token-id",
        TOKEN_ID,
        "--token-secret",
        SECRET,
        "--task-ms",
        "100",
    ];
    args.extend_from_slice(extra);
    SimProcess::start(&args).await
}

fn spec(upstream: &str) -> ServerSpec {
    ServerSpec::http(BIN)
        .env("MCP_STATELESS", "true")
        .env("PROXMOX_HOST", upstream)
        .env("PROXMOX_TOKEN_ID", TOKEN_ID)
        .env("PROXMOX_TOKEN_SECRET", SECRET)
        // The confirmation is tested in tests/e2e with the official SDK answering it.
        .env("MCP_CONFIRM", "off")
}

async fn start(spec: &ServerSpec, scopes: &[&str]) -> Rig<()> {
    Rig::start((), spec, "operator", scopes, true).await
}

/// Requests other than the readiness probe's `GET /version`.
async fn requests(sim: &SimProcess) -> u64 {
    let st = sim.stats().await;
    st["total"].as_u64().unwrap_or(0) - st["by_key"]["GET /version"].as_u64().unwrap_or(0)
}

/// Every POST, PUT and DELETE the simulator received.
async fn writes(sim: &SimProcess) -> Vec<String> {
    let st = sim.stats().await;
    st["by_key"]
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| {
                    k.starts_with("POST") || k.starts_with("PUT") || k.starts_with("DELETE")
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect()
}

#[tokio::test]
async fn snapshots_create_list_rollback_delete() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), &["proxmox:read", "proxmox:snapshot"]).await;
    let created = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 100, "name": "pre-upgrade", "description": "before the upgrade", "include_ram": true, "wait_seconds": 30}),
    )
    .await;
    assert!(
        created["upid"]
            .as_str()
            .is_some_and(|u| u.contains(":qmsnapshot:100:")),
        "{created}"
    );
    assert_eq!(created["ok"], true, "{created}");
    assert_eq!(created["node"], "pve1");
    assert_eq!(created["change"]["status"], "applied");
    let list = ok(&mut c, "list_snapshots", json!({"vmid": 100})).await;
    assert_eq!(
        names(&list["snapshots"]),
        ["pre-upgrade", "current"],
        "{list}"
    );
    assert_eq!(list["snapshots"][0]["description"], "before the upgrade");
    assert_eq!(list["snapshots"][0]["vmstate"], 1);
    assert_eq!(list["snapshots"][1]["parent"], "pre-upgrade");
    // Without wait_seconds: the UPID at once, no status.
    let second = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 100, "name": "second"}),
    )
    .await;
    assert!(
        second["upid"].is_string() && second.get("ok").is_none(),
        "{second}"
    );
    // While it runs the guest is locked, in Proxmox's words.
    let busy = err(
        &mut c,
        "delete_snapshot",
        json!({"vmid": 100, "name": "pre-upgrade"}),
    )
    .await;
    assert!(busy.contains("VM is locked (snapshot)"), "{busy}");
    let st = ok(
        &mut c,
        "list_tasks",
        json!({"vmid": 100, "type": "qmsnapshot", "node": "pve1"}),
    )
    .await;
    assert!(
        st["nodes"][0]["items"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["upid"] == second["upid"])),
        "{st}"
    );
    // A missing snapshot names the ones there are; nothing is written.
    let before = writes(&sim).await.len();
    let e = err(
        &mut c,
        "rollback_snapshot",
        json!({"vmid": 100, "name": "nope", "wait_seconds": 5}),
    )
    .await;
    assert!(
        e.contains("no snapshot `nope`") && e.contains("pre-upgrade"),
        "{e}"
    );
    assert_eq!(writes(&sim).await.len(), before);
    // Containers have no RAM snapshots; refused before anything is written.
    let e = err(
        &mut c,
        "create_snapshot",
        json!({"vmid": 200, "name": "xy", "include_ram": true}),
    )
    .await;
    assert!(e.contains("include_ram"), "{e}");
    // Roll back (the second snapshot has finished by now: bounded wait on its task).
    let upid = second["upid"].as_str().expect("upid");
    for _ in 0..100 {
        let t = ok(&mut c, "task_status", json!({"node": "pve1", "upid": upid})).await;
        if t["data"]["status"] == "stopped" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rb = ok(
        &mut c,
        "rollback_snapshot",
        json!({"vmid": 100, "name": "pre-upgrade", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(rb["ok"], true, "{rb}");
    assert!(
        rb["upid"]
            .as_str()
            .is_some_and(|u| u.contains(":qmrollback:100:"))
    );
    let list = ok(&mut c, "list_snapshots", json!({"vmid": 100})).await;
    let current = list["snapshots"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(current["parent"], "pre-upgrade", "{list}");
    let del = ok(
        &mut c,
        "delete_snapshot",
        json!({"vmid": 100, "name": "pre-upgrade", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(del["ok"], true, "{del}");
    let list = ok(&mut c, "list_snapshots", json!({"vmid": 100})).await;
    assert_eq!(names(&list["snapshots"]), ["second", "current"], "{list}");
    // A node that disagrees with the cluster is refused.
    let e = err(
        &mut c,
        "list_snapshots",
        json!({"vmid": 100, "node": "pve2"}),
    )
    .await;
    assert!(e.contains("VM 100 is on node pve1, not pve2"), "{e}");
}

#[tokio::test]
async fn a_container_backup_completes_and_restores_to_a_new_vmid() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), &["proxmox:read", "proxmox:backup"]).await;
    let b = ok(
        &mut c,
        "backup_guest",
        json!({"vmid": 200, "storage": "local", "compress": "zstd", "protected": true, "notes": "{{guestname}} before upgrade", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(b["ok"], true, "{b}");
    assert_eq!(b["kind"], "lxc");
    let upid = b["upid"].as_str().expect("upid").to_string();
    assert!(upid.contains(":vzdump:200:"), "{upid}");
    // The UPID's status and log are readable.
    let st = ok(&mut c, "task_status", json!({"node": "pve1", "upid": upid})).await;
    assert_eq!(st["data"]["status"], "stopped");
    assert_eq!(st["data"]["exitstatus"], "OK");
    let log = ok(&mut c, "task_log", json!({"upid": upid})).await;
    let lines: Vec<&str> = log["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Starting Backup of VM 200 (lxc)")),
        "{lines:?}"
    );
    assert_eq!(lines.last().copied(), Some("TASK OK"));
    let tasks = ok(&mut c, "list_tasks", json!({"vmid": 200, "type": "vzdump"})).await;
    let listed: Vec<&Value> = tasks["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["items"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(listed.len(), 1, "{tasks}");
    assert_eq!(listed[0]["status"], "OK");
    // The backup is listed with guest, time, size, notes and protection.
    let backups = ok(
        &mut c,
        "list_backups",
        json!({"storage": "local", "vmid": 200}),
    )
    .await;
    let items = backups["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{backups}");
    let v = &items[0];
    assert_eq!(v["node"], "pve1");
    assert_eq!(v["vmid"], 200);
    assert_eq!(v["notes"], "dns-01 before upgrade");
    assert_eq!(v["protected"], true);
    assert!(v["size"].as_u64().is_some_and(|s| s > 0) && v["ctime"].as_u64().is_some());
    let volid = v["volid"].as_str().expect("volid").to_string();
    // Restore to a new VMID (the next free one: 103).
    let r = ok(
        &mut c,
        "restore_backup",
        json!({"volid": volid, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(
        (r["vmid"].as_u64(), r["overwrite"].as_bool()),
        (Some(103), Some(false)),
        "{r}"
    );
    assert_eq!(r["ok"], true, "{r}");
    let cfg = ok(&mut c, "guest_config", json!({"vmid": 103})).await;
    assert_eq!(cfg["config"]["hostname"], "dns-01", "{cfg}");
    assert_eq!(cfg["kind"], "lxc");
    // A chosen free VMID works too; an existing one needs overwrite.
    let r = ok(
        &mut c,
        "restore_backup",
        json!({"volid": volid, "vmid": 250, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(r["vmid"], 250);
    let before = writes(&sim).await;
    let e = err(
        &mut c,
        "restore_backup",
        json!({"volid": volid, "vmid": 200}),
    )
    .await;
    assert!(
        e.contains("VMID 200 exists") && e.contains("overwrite"),
        "{e}"
    );
    assert_eq!(writes(&sim).await, before);
    // The storage shows the backup's space.
    let storage = ok(&mut c, "list_storage", json!({"node": "pve1"})).await;
    let local = storage["nodes"][0]["items"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["storage"] == "local").cloned())
        .expect("local");
    assert_eq!(
        local["used"].as_u64(),
        Some(21_474_836_480 + v["size"].as_u64().unwrap_or(0)),
        "{local}"
    );
}

/// A backup that fails (the storage is full) reports its exit status and log tail.
#[tokio::test]
async fn a_failed_task_returns_its_log_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../simulators/fixtures/proxmox/cluster.json"),
        )
        .expect("cluster.json"),
    )
    .expect("json");
    state["storage"][0]["used"] = json!(107_374_182_400u64 - 1_073_741_824);
    let path = dir.path().join("full.json");
    std::fs::write(&path, state.to_string()).expect("write");
    let sim = sim_with(&["--state", path.to_str().expect("path")]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), &["proxmox:read", "proxmox:backup"]).await;
    let b = ok(
        &mut c,
        "backup_guest",
        json!({"vmid": 100, "storage": "local", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(b["ok"], false, "{b}");
    assert_eq!(b["exit_status"], "job errors");
    let tail: Vec<&str> = b["log_tail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tail.iter().any(|l| l.contains("No space left on device")),
        "{tail:?}"
    );
    assert_eq!(tail.last().copied(), Some("TASK ERROR: job errors"));
}

#[tokio::test]
async fn protected_guests_are_refused_by_every_tool_with_no_write() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(
        &spec(&sim.base)
            .env("PROXMOX_PROTECTED_VMIDS", "100")
            .env("PROXMOX_PROTECTED_TAGS", "dns"),
        EVERY,
    )
    .await;
    let archive = "local:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst";
    // 100: PROXMOX_PROTECTED_VMIDS; 200: tag `dns`; 101: PVE's protection flag.
    let cases = [
        (
            "rollback_snapshot",
            json!({"vmid": 100, "name": "snap-a"}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "delete_snapshot",
            json!({"vmid": 100, "name": "snap-a"}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "rollback_snapshot",
            json!({"vmid": 200, "name": "snap-a"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "delete_snapshot",
            json!({"vmid": 200, "name": "snap-a"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "rollback_snapshot",
            json!({"vmid": 101, "name": "snap-a"}),
            "protection flag",
        ),
        (
            "delete_snapshot",
            json!({"vmid": 101, "name": "snap-a"}),
            "protection flag",
        ),
        (
            "vm_action",
            json!({"vmid": 100, "action": "stop"}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "vm_action",
            json!({"vmid": 200, "action": "shutdown"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "set_guest_config",
            json!({"vmid": 200, "tags": ["web"]}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "set_guest_config",
            json!({"vmid": 101, "cores": 2}),
            "protection flag",
        ),
        (
            "backup_guest",
            json!({"vmid": 200, "mode": "stop"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "restore_backup",
            json!({"volid": archive, "vmid": 100, "overwrite": true}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "restore_backup",
            json!({"volid": archive, "vmid": 101, "overwrite": true}),
            "protection flag",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/qemu/100/snapshot/snap-a/rollback"}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "proxmox_api",
            json!({"method": "DELETE", "path": "/nodes/pve1/lxc/200/snapshot/snap-a"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/lxc/200/status/stop"}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "proxmox_api",
            json!({"method": "PUT", "path": "/nodes/pve1/lxc/200/config", "params": {"tags": "web"}}),
            "PROXMOX_PROTECTED_TAGS",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/qemu", "params": {"vmid": 100, "archive": archive, "force": 1}}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/qemu", "params": {"vmid": 101, "archive": archive, "force": 1}}),
            "protection flag",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/stopall"}),
            "PROXMOX_PROTECTED",
        ),
        (
            "proxmox_api",
            json!({"method": "POST", "path": "/nodes/pve1/vzdump", "params": {"all": 1, "mode": "stop"}}),
            "PROXMOX_PROTECTED",
        ),
        (
            "proxmox_api",
            json!({"method": "DELETE", "path": "/nodes/pve1/storage/local/content/local:backup/vzdump-qemu-100-x.vma"}),
            "PROXMOX_PROTECTED_VMIDS",
        ),
    ];
    for (tool, args, why) in cases {
        let e = err(&mut c, tool, args.clone()).await;
        assert!(e.contains(why), "{tool}({args}): {e}");
    }
    assert_eq!(
        writes(&sim).await,
        Vec::<String>::new(),
        "no write reached Proxmox"
    );
    // What is not destructive still works on protected guests: a snapshot, a backup in
    // snapshot mode, a start.
    let s = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 100, "name": "safe", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(s["ok"], true, "{s}");
    let b = ok(
        &mut c,
        "backup_guest",
        json!({"vmid": 200, "storage": "local", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(b["ok"], true, "{b}");
    // An unprotected guest is reached as before.
    let r = ok(
        &mut c,
        "vm_action",
        json!({"vmid": 102, "action": "start", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn guest_config_is_redacted_and_only_allowlisted_keys_are_set() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), EVERY).await;
    let cfg = ok(&mut c, "guest_config", json!({"vmid": 102})).await;
    assert_eq!(cfg["node"], "pve2");
    assert_eq!(cfg["config"]["cores"], 4);
    ok(
        &mut c,
        "proxmox_api",
        json!({"method": "PUT", "path": "/nodes/pve2/qemu/102/config", "params": {"cipassword": "hunter2-secret", "ciuser": "ops"}}),
    )
    .await;
    let cfg = ok(&mut c, "guest_config", json!({"vmid": 102})).await;
    assert_eq!(cfg["config"]["cipassword"], "[REDACTED]", "{cfg}");
    assert_eq!(cfg["config"]["ciuser"], "ops");
    assert_eq!(cfg["redacted"], json!(["cipassword"]));
    assert!(!cfg.to_string().contains("hunter2"));

    let set = ok(
        &mut c,
        "set_guest_config",
        json!({"vmid": 102, "cores": 4, "memory": 4096, "tags": ["build", "ci"], "onboot": true, "description": "runner"}),
    )
    .await;
    assert_eq!(
        set["changed"],
        json!(["memory", "description", "tags", "onboot"]),
        "{set}"
    );
    let cfg = ok(&mut c, "guest_config", json!({"vmid": 102})).await;
    assert_eq!(cfg["config"]["memory"], 4096);
    assert_eq!(cfg["config"]["tags"], "build;ci");
    assert_eq!(cfg["config"]["description"], "runner");
    // Unchanged: nothing is written.
    let before = sim.stats().await["by_key"]["PUT /nodes/pve2/qemu/102/config"].clone();
    let same = ok(
        &mut c,
        "set_guest_config",
        json!({"vmid": 102, "memory": 4096}),
    )
    .await;
    assert_eq!(same["changed"], json!([]));
    assert_eq!(
        sim.stats().await["by_key"]["PUT /nodes/pve2/qemu/102/config"],
        before
    );
    // Keys off the list are refused before anything is asked.
    let n = requests(&sim).await;
    for (key, value) in [
        ("hookscript", json!("local:snippets/x.sh")),
        ("args", json!("-no-reboot")),
        ("hostpci0", json!("0000:01:00.0")),
        ("usb0", json!("host=1234:5678")),
        ("cipassword", json!("x")),
    ] {
        let mut args = json!({"vmid": 102});
        args[key] = value;
        let e = err(&mut c, "set_guest_config", args).await;
        assert!(e.contains(key), "{key}: {e}");
    }
    let e = err(&mut c, "set_guest_config", json!({"vmid": 102})).await;
    assert!(e.contains("nothing to set"), "{e}");
    let e = err(
        &mut c,
        "set_guest_config",
        json!({"vmid": 102, "tags": ["a b"]}),
    )
    .await;
    assert!(e.contains("not a tag"), "{e}");
    assert_eq!(requests(&sim).await, n, "no request for refused input");
}

#[tokio::test]
async fn storage_networks_and_firewall_reads() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), &["proxmox:read"]).await;
    let st = ok(&mut c, "list_storage", json!({})).await;
    let nodes: Vec<&str> = st["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["node"].as_str())
        .collect();
    assert_eq!(
        nodes,
        ["pve1", "pve2"],
        "the offline pve3 is not asked: {st}"
    );
    let local = &st["nodes"][0]["items"][0];
    assert_eq!(local["storage"], "local");
    assert!(
        local["avail"].as_u64().is_some()
            && local["content"]
                .as_str()
                .is_some_and(|c| c.contains("backup"))
    );
    let net = ok(&mut c, "list_networks", json!({"node": "pve1"})).await;
    let ifaces: Vec<&str> = net["nodes"][0]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["iface"].as_str())
        .collect();
    assert!(ifaces.contains(&"vmbr0"), "{net}");
    let cluster = ok(&mut c, "list_firewall_rules", json!({})).await;
    assert_eq!(cluster["level"], "cluster");
    assert!(cluster["rules"].as_array().is_some_and(|r| r.len() >= 2));
    let node = ok(&mut c, "list_firewall_rules", json!({"node": "pve2"})).await;
    assert_eq!(
        (node["level"].as_str(), node["node"].as_str()),
        (Some("node"), Some("pve2"))
    );
    let guest = ok(&mut c, "list_firewall_rules", json!({"vmid": 200})).await;
    assert_eq!(
        (guest["level"].as_str(), guest["node"].as_str()),
        (Some("guest"), Some("pve1"))
    );
    assert_eq!(guest["rules"][0]["action"], "ACCEPT");
    assert!(
        sim.stats().await["by_key"]["GET /nodes/pve1/lxc/200/firewall/rules"].as_u64() == Some(1)
    );
    // Bad input: no request.
    let n = requests(&sim).await;
    for (tool, args) in [
        ("list_storage", json!({"node": "pve1;rm"})),
        ("list_networks", json!({"node": ""})),
        ("list_firewall_rules", json!({"vmid": 5})),
        ("list_backups", json!({"storage": "../etc"})),
        ("list_backups", json!({"storage": "local", "vmid": 0})),
        ("list_tasks", json!({"limit": 0})),
        ("list_tasks", json!({"type": "vz dump"})),
        ("task_log", json!({"upid": "UPID:x"})),
        (
            "task_log",
            json!({"upid": "UPID:pve1:00020001:000F4240:66500000:vzdump:200:root@pam:", "lines": 0}),
        ),
        ("list_snapshots", json!({"vmid": 99})),
        ("guest_config", json!({"vmid": 1_000_000_000i64})),
    ] {
        err(&mut c, tool, args).await;
    }
    assert_eq!(requests(&sim).await, n, "no request for refused input");
}

/// Write tools refuse bad input before any request: names, storages, volids, waits.
#[tokio::test]
async fn write_tools_refuse_bad_input_before_any_request() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), EVERY).await;
    let n = requests(&sim).await;
    for (tool, args, field) in [
        (
            "create_snapshot",
            json!({"vmid": 100, "name": "1bad"}),
            "name",
        ),
        (
            "create_snapshot",
            json!({"vmid": 100, "name": "current"}),
            "name",
        ),
        (
            "create_snapshot",
            json!({"vmid": 100, "name": "snap-a", "description": "x\u{0}"}),
            "description",
        ),
        (
            "create_snapshot",
            json!({"vmid": 100, "name": "snap-a", "wait_seconds": 601}),
            "wait_seconds",
        ),
        (
            "rollback_snapshot",
            json!({"vmid": 100, "name": "../x"}),
            "name",
        ),
        ("delete_snapshot", json!({"vmid": 100, "name": ""}), "name"),
        (
            "backup_guest",
            json!({"vmid": 100, "storage": "local/../x"}),
            "storage",
        ),
        ("backup_guest", json!({"vmid": 100, "mode": "live"}), "mode"),
        (
            "backup_guest",
            json!({"vmid": 100, "compress": "xz"}),
            "compress",
        ),
        (
            "backup_guest",
            json!({"vmid": 100, "notes": "a\u{1b}[31m"}),
            "notes",
        ),
        (
            "restore_backup",
            json!({"volid": "local:iso/x.iso"}),
            "volid",
        ),
        (
            "restore_backup",
            json!({"volid": "local:backup/vzdump-qemu-100-x.vma", "overwrite": true}),
            "overwrite",
        ),
        (
            "restore_backup",
            json!({"volid": "local:backup/vzdump-qemu-100-x.vma", "storage": "a b"}),
            "storage",
        ),
        (
            "vm_action",
            json!({"vmid": 100, "action": "start", "wait_seconds": 1000}),
            "wait_seconds",
        ),
        (
            "set_guest_config",
            json!({"vmid": 100, "cores": 0}),
            "cores",
        ),
        (
            "set_guest_config",
            json!({"vmid": 100, "memory": 8}),
            "memory",
        ),
    ] {
        let e = err(&mut c, tool, args.clone()).await;
        assert!(e.contains(field), "{tool}({args}): {e}");
    }
    assert_eq!(requests(&sim).await, n, "no request for refused input");
}

/// fakepve, started by tests/peers/fakepve_launcher.py: (child, url, fingerprint).
async fn fakepve(dir: &std::path::Path, privs: &str) -> (tokio::process::Child, String, String) {
    use tokio::io::AsyncBufReadExt;
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = repo.join(".venv/bin/python");
    let mut child = tokio::process::Command::new(&py)
        .arg(repo.join("tests/peers/fakepve_launcher.py"))
        .args([
            "--token-id",
            TOKEN_ID,
            "--token-secret",
            SECRET,
            "--privs",
            privs,
            "--seed",
            "--cert-out",
        ])
        .arg(dir.join("pve.pem"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start fakepve via {} ({e}); `make deps` installs it",
                py.display()
            )
        });
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .ok()
        .and_then(|l| l.ok())
        .flatten()
        .unwrap_or_default();
    let rest = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("fakepve said {first:?}"));
    let (url, fp) = rest
        .split_once(" sha256=")
        .unwrap_or_else(|| panic!("no fingerprint in {first:?}"));
    (child, url.to_string(), fp.to_string())
}

/// The snapshot, firewall and task calls against fakepve, an independent PVE fake written
/// by others: our requests are what a PVE-shaped server accepts, not only our simulator.
#[tokio::test]
async fn snapshots_and_reads_against_fakepve() {
    let dir = tempfile::tempdir().expect("tmp");
    // The documented roles of proxmox:read and proxmox:snapshot, and nothing more.
    let (_pve, url, fp) = fakepve(
        dir.path(),
        "VM.Audit,Sys.Audit,Datastore.Audit,VM.Snapshot,VM.Snapshot.Rollback",
    )
    .await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(
        &spec(&url).env("PROXMOX_TLS_FINGERPRINT", fp),
        &["proxmox:read", "proxmox:snapshot"],
    )
    .await;
    let created = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 100, "name": "fake-pre", "description": "via fakepve", "wait_seconds": 60}),
    )
    .await;
    assert_eq!(created["ok"], true, "{created}");
    let list = ok(&mut c, "list_snapshots", json!({"vmid": 100})).await;
    assert!(names(&list["snapshots"]).contains(&"fake-pre"), "{list}");
    assert!(names(&list["snapshots"]).contains(&"current"), "{list}");
    let rb = ok(
        &mut c,
        "rollback_snapshot",
        json!({"vmid": 100, "name": "fake-pre", "wait_seconds": 60}),
    )
    .await;
    assert_eq!(rb["ok"], true, "{rb}");
    let del = ok(
        &mut c,
        "delete_snapshot",
        json!({"vmid": 100, "name": "fake-pre", "wait_seconds": 60}),
    )
    .await;
    assert_eq!(del["ok"], true, "{del}");
    let list = ok(&mut c, "list_snapshots", json!({"vmid": 100})).await;
    assert!(!names(&list["snapshots"]).contains(&"fake-pre"), "{list}");
    let tasks = ok(&mut c, "list_tasks", json!({"vmid": 100})).await;
    assert!(
        tasks["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|n| n["items"].as_array().into_iter().flatten())
            .any(|t| t["upid"] == del["upid"]),
        "{tasks}"
    );
    let log = ok(&mut c, "task_log", json!({"upid": del["upid"]})).await;
    assert!(
        log["lines"].as_array().is_some_and(|l| !l.is_empty()),
        "{log}"
    );
    let cfg = ok(&mut c, "guest_config", json!({"vmid": 100})).await;
    assert!(
        cfg["config"].as_object().is_some_and(|o| !o.is_empty()),
        "{cfg}"
    );
    let fw = ok(&mut c, "list_firewall_rules", json!({})).await;
    assert!(fw["rules"].is_array(), "{fw}");
    let st = ok(&mut c, "list_storage", json!({})).await;
    assert!(
        st["nodes"].as_array().is_some_and(|n| !n.is_empty()),
        "{st}"
    );
}

/// wait_seconds is a bound: a task that outlasts it comes back `running`, `ok: false`, with
/// its UPID to follow; the call does not wait longer.
#[tokio::test]
async fn wait_seconds_is_a_bound() {
    let sim = SimProcess::start(&[
        "proxmox",
        "--token-id",
        TOKEN_ID,
        "--token-secret",
        SECRET,
        "--task-ms",
        "20000",
    ])
    .await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base), &["proxmox:read", "proxmox:snapshot"]).await;
    let started = std::time::Instant::now();
    let r = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 100, "name": "slow", "wait_seconds": 1}),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(
        (r["task_status"].as_str(), r["ok"].as_bool()),
        (Some("running"), Some(false)),
        "{r}"
    );
    assert!(
        r["upid"].is_string() && r.get("exit_status").is_none(),
        "{r}"
    );
    assert!(
        took < std::time::Duration::from_secs(10),
        "returned after {took:?}"
    );
    let st = ok(
        &mut c,
        "task_status",
        json!({"node": "pve1", "upid": r["upid"]}),
    )
    .await;
    assert_eq!(st["data"]["status"], "running");
}

/// With the confirmation gate on and a client that cannot answer it: what the docs say asks
/// is refused with nothing written, what does not ask runs, and dry_run plans.
#[tokio::test]
async fn what_asks_for_confirmation() {
    let sim = sim_with(&[]).await;
    let Rig {
        server: _server,
        client: mut c,
        ..
    } = start(&spec(&sim.base).without_env("MCP_CONFIRM"), EVERY).await;
    let volid = "local:backup/vzdump-qemu-102-2026_01_01-00_00_00.vma.zst";
    let asks = [
        ("rollback_snapshot", json!({"vmid": 102, "name": "ab"})),
        ("delete_snapshot", json!({"vmid": 102, "name": "ab"})),
        ("backup_guest", json!({"vmid": 102, "mode": "stop"})),
        ("backup_guest", json!({"vmid": 102, "mode": "suspend"})),
        (
            "restore_backup",
            json!({"volid": volid, "vmid": 102, "overwrite": true}),
        ),
        ("set_guest_config", json!({"vmid": 102, "cores": 8})),
        ("set_guest_config", json!({"vmid": 102, "memory": 1024})),
    ];
    // The snapshot the rollback and delete name exists (created without asking).
    let made = ok(
        &mut c,
        "create_snapshot",
        json!({"vmid": 102, "name": "ab", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(made["ok"], true, "{made}");
    let before = writes(&sim).await;
    for (tool, args) in asks {
        let e = err(&mut c, tool, args.clone()).await;
        assert!(
            e.contains("needs a human's confirmation"),
            "{tool}({args}): {e}"
        );
        let mut dry = args.clone();
        dry["dry_run"] = json!(true);
        let plan = ok(&mut c, tool, dry).await;
        assert_eq!(plan["change"]["status"], "planned", "{tool}: {plan}");
        assert!(plan.get("upid").is_none(), "{plan}");
    }
    assert_eq!(writes(&sim).await, before, "nothing asked for was written");
    // What does not ask runs.
    let b = ok(
        &mut c,
        "backup_guest",
        json!({"vmid": 102, "storage": "local", "wait_seconds": 30}),
    )
    .await;
    assert_eq!(b["ok"], true, "{b}");
    let s = ok(
        &mut c,
        "set_guest_config",
        json!({"vmid": 102, "description": "no question", "cores": null}),
    )
    .await;
    assert_eq!(s["changed"], json!(["description"]), "{s}");
    let vols = ok(
        &mut c,
        "list_backups",
        json!({"storage": "local", "vmid": 102}),
    )
    .await;
    let vol = vols["items"][0]["volid"]
        .as_str()
        .expect("volid")
        .to_string();
    let r = ok(
        &mut c,
        "restore_backup",
        json!({"volid": vol, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(
        (r["ok"].as_bool(), r["overwrite"].as_bool()),
        (Some(true), Some(false)),
        "{r}"
    );
}
