//! End-to-end tests of the Proxmox VE simulator over real HTTP on 127.0.0.1.
//!
//! PVE puts its error messages in the HTTP reason phrase, which reqwest does
//! not expose, so most requests here go over a raw HTTP/1.1 connection and
//! check the status line itself.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use simulators::common::{FaultConfig, SimControl, serve};
use simulators::proxmox::state::{DEFAULT_STATE_JSON, StateFile};
use simulators::proxmox::{ProxmoxConfig, ProxmoxSim, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN_ID: &str = "root@pam!ci";
const SECRET: &str = "5f0c1c2e-sim-secret";
const API: &str = "/api2/json";

fn auth_value() -> String {
    format!("PVEAPIToken={TOKEN_ID}={SECRET}")
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The built-in state with `edit` applied.
fn state_with(edit: impl FnOnce(&mut Value)) -> StateFile {
    let mut v: Value = serde_json::from_str(DEFAULT_STATE_JSON).expect("default state JSON");
    edit(&mut v);
    StateFile::parse(&v.to_string(), "test").expect("valid test state")
}

struct Sim {
    addr: SocketAddr,
    base: String,
    http: reqwest::Client,
}

/// A raw HTTP/1.1 answer.
#[derive(Debug)]
struct Raw {
    status: u16,
    reason: String,
    head: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {} {}", self.status, self.body))
    }

    fn data(&self) -> Value {
        assert_eq!(
            self.status, 200,
            "{} {} {}",
            self.status, self.reason, self.body
        );
        self.json()["data"].clone()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// Asserts a PVE error: status, reason phrase and `{"data":null}`.
    #[track_caller]
    fn assert_error(&self, status: u16, reason: &str) {
        assert_eq!(
            (self.status, self.reason.as_str()),
            (status, reason),
            "{}",
            self.body
        );
        assert_eq!(self.json(), json!({"data": null}), "{}", self.body);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json;charset=UTF-8")
        );
    }

    /// Asserts a 400 with one parameter error.
    #[track_caller]
    fn assert_param_error(&self, field: &str, message: &str) {
        assert_eq!(
            (self.status, self.reason.as_str()),
            (400, "Parameter verification failed."),
            "{}",
            self.body
        );
        assert_eq!(
            self.json(),
            json!({"data": null, "errors": {field: message}}),
            "{}",
            self.body
        );
    }
}

async fn start_sim(seed: StateFile, task_ms: u64) -> Sim {
    let sim = ProxmoxSim::new(
        ProxmoxConfig {
            token_id: TOKEN_ID.to_owned(),
            token_secret: SECRET.to_owned(),
            task_duration: Duration::from_millis(task_ms),
        },
        seed,
    )
    .expect("simulator");
    let ctl = SimControl::new(FaultConfig::default());
    let addr = serve::spawn(
        "127.0.0.1:0".parse().expect("addr"),
        router(Arc::new(sim), ctl),
    )
    .await
    .expect("bind");
    Sim {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
    }
}

/// The built-in state, tasks of 100 ms.
async fn start() -> Sim {
    start_sim(StateFile::builtin().expect("built-in"), 100).await
}

impl Sim {
    /// Sends `method path` (relative to /api2/json) on a fresh connection.
    async fn raw_with(&self, method: &str, path: &str, auth: Option<&str>) -> Raw {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {API}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n",
            self.addr
        );
        let (head, body) = self.send_raw(request.as_bytes()).await;
        let status_line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        assert_eq!(version, "HTTP/1.1", "status line: {status_line:?}");
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let reason = parts.next().unwrap_or_default().to_owned();
        Raw {
            status,
            reason,
            head,
            body,
        }
    }

    /// Writes `request` and reads until the server closes: (head, body).
    async fn send_raw(&self, request: &[u8]) -> (String, String) {
        let mut tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        tcp.write_all(request).await.expect("write");
        let mut out = Vec::new();
        // A dropped connection may end in a reset: keep what was read.
        let _ = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut out))
            .await
            .expect("answered in time");
        let text = String::from_utf8_lossy(&out).into_owned();
        match text.split_once("\r\n\r\n") {
            Some((h, b)) => (h.to_owned(), b.to_owned()),
            None => (text, String::new()),
        }
    }

    /// Sends `method path` with a form body (`a=1&b=2`).
    async fn form(&self, method: &str, path: &str, form: &str) -> Raw {
        let (path, body) = if method == "DELETE" || method == "GET" {
            let sep = if form.is_empty() { "" } else { "?" };
            (format!("{path}{sep}{form}"), String::new())
        } else {
            (path.to_owned(), form.to_owned())
        };
        let request = format!(
            "{method} {API}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            auth_value(),
            body.len()
        );
        let (head, body) = self.send_raw(request.as_bytes()).await;
        let status_line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        let _ = parts.next();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let reason = parts.next().unwrap_or_default().to_owned();
        Raw {
            status,
            reason,
            head,
            body,
        }
    }

    /// Starts a task with a form request that must be accepted; returns the UPID.
    async fn task(&self, method: &str, path: &str, form: &str) -> String {
        let r = self.form(method, path, form).await;
        r.data()
            .as_str()
            .unwrap_or_else(|| panic!("no UPID: {} {}", r.reason, r.body))
            .to_owned()
    }

    async fn get(&self, path: &str) -> Raw {
        self.raw_with("GET", path, Some(&auth_value())).await
    }

    async fn post(&self, path: &str) -> Raw {
        self.raw_with("POST", path, Some(&auth_value())).await
    }

    /// Starts a power action that must be accepted; returns the UPID.
    async fn action(&self, node: &str, kind: &str, vmid: u32, action: &str) -> String {
        let r = self
            .post(&format!("/nodes/{node}/{kind}/{vmid}/status/{action}"))
            .await;
        r.data()
            .as_str()
            .unwrap_or_else(|| panic!("no UPID: {}", r.body))
            .to_owned()
    }

    /// Polls the task until it has stopped (bounded); returns its status.
    async fn wait_task(&self, node: &str, upid: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self
                .get(&format!("/nodes/{node}/tasks/{upid}/status"))
                .await
                .data();
            if status["status"] == "stopped" {
                return status;
            }
            assert_eq!(status["status"], "running", "{status}");
            assert!(Instant::now() < deadline, "task {upid} did not finish");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn guest_status(&self, node: &str, kind: &str, vmid: u32) -> Value {
        self.get(&format!("/nodes/{node}/{kind}/{vmid}/status/current"))
            .await
            .data()
    }

    async fn sim_post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("sim endpoint");
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json().await.expect("sim json")
    }

    async fn faults(&self, v: Value) {
        self.sim_post("/_sim/faults", &v).await;
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn vmids(list: &Value) -> Vec<u64> {
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|g| g["vmid"].as_u64())
        .collect()
}

#[tokio::test]
async fn authentication_failures_are_401() {
    let sim = start().await;
    let bad = [
        None,
        Some("PVEAPIToken=root@pam!ci=wrong".to_owned()),
        Some(format!("PVEAPIToken=root@pam!other={SECRET}")),
        Some(format!("PVEAPIToken=root@pve!ci={SECRET}")),
        Some(format!("Bearer {SECRET}")),
        Some("PVEAPIToken=root@pam!ci".to_owned()),
        Some(format!("PVEAPIToken=root@pam!ci={SECRET}x")),
        Some(String::new()),
    ];
    for auth in &bad {
        for (method, path) in [
            ("GET", "/version"),
            ("GET", "/nodes"),
            ("POST", "/nodes/pve1/qemu/100/status/stop"),
            ("GET", "/xyz"),
        ] {
            let r = sim.raw_with(method, path, auth.as_deref()).await;
            r.assert_error(401, "authentication failure");
        }
    }
    // Nothing changed: 100 is still running.
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "running"
    );
    // A space instead of the first '=' is accepted too.
    let r = sim
        .raw_with(
            "GET",
            "/version",
            Some(&format!("PVEAPIToken {TOKEN_ID}={SECRET}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // reqwest sees the status too.
    let r = sim
        .http
        .get(format!("{}{API}/nodes", sim.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn version_and_index() {
    let sim = start().await;
    let r = sim.get("/version").await;
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(
        r.json(),
        json!({"data": {"version": "8.2.4", "release": "8.2", "repoid": "faa83925"}})
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json;charset=UTF-8")
    );
    let index = sim.get("").await.data();
    assert_eq!(
        index,
        json!([{"subdir": "version"}, {"subdir": "cluster"}, {"subdir": "nodes"}, {"subdir": "access"}])
    );
    // Through reqwest, with the header set the usual way.
    let v: Value = sim
        .http
        .get(format!("{}{API}/version", sim.base))
        .header("Authorization", auth_value())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"]["release"], "8.2");
}

#[tokio::test]
async fn nodes_list() {
    let sim = start().await;
    let nodes = sim.get("/nodes").await.data();
    let nodes = nodes.as_array().expect("array");
    let names: Vec<&str> = nodes.iter().filter_map(|n| n["node"].as_str()).collect();
    assert_eq!(names, ["pve1", "pve2", "pve3"]);
    let pve1 = &nodes[0];
    for k in [
        "node",
        "status",
        "cpu",
        "maxcpu",
        "mem",
        "maxmem",
        "disk",
        "maxdisk",
        "uptime",
        "level",
        "id",
        "type",
        "ssl_fingerprint",
    ] {
        assert!(pve1.get(k).is_some(), "pve1 lacks {k}: {pve1}");
    }
    assert_eq!(pve1["status"], "online");
    assert_eq!(pve1["id"], "node/pve1");
    assert_eq!(pve1["type"], "node");
    assert_eq!(pve1["level"], "");
    assert_eq!(pve1["maxcpu"], 16);
    assert_eq!(pve1["maxmem"], 68_719_476_736_u64);
    assert!(pve1["uptime"].as_u64().is_some_and(|u| u >= 1_209_600));
    let fp = pve1["ssl_fingerprint"].as_str().expect("fingerprint");
    assert_eq!(fp.split(':').count(), 32, "{fp}");
    assert!(
        fp.split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
    );
    assert_ne!(nodes[1]["ssl_fingerprint"], pve1["ssl_fingerprint"]);
    // The offline node is listed without statistics, as PVE does.
    let pve3 = &nodes[2];
    assert_eq!(pve3["status"], "offline");
    assert_eq!(
        keys(pve3),
        ["id", "level", "node", "ssl_fingerprint", "status", "type"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[tokio::test]
async fn node_status() {
    let sim = start().await;
    let s = sim.get("/nodes/pve1/status").await.data();
    assert_eq!(
        s["memory"],
        json!({"used": 21_474_836_480_u64, "total": 68_719_476_736_u64, "free": 47_244_640_256_u64})
    );
    assert_eq!(s["loadavg"], json!(["0.15", "0.25", "0.30"]));
    assert_eq!(s["cpuinfo"]["cpus"], 16);
    assert_eq!(s["cpuinfo"]["sockets"], 2);
    assert_eq!(s["cpuinfo"]["cores"], 8);
    assert_eq!(
        s["cpuinfo"]["model"],
        "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz"
    );
    assert_eq!(s["rootfs"]["total"], 107_374_182_400_u64);
    assert_eq!(s["rootfs"]["used"], 21_474_836_480_u64);
    assert_eq!(s["rootfs"]["avail"], 85_899_345_920_u64);
    assert_eq!(s["rootfs"]["free"], 85_899_345_920_u64);
    assert!(
        s["kversion"]
            .as_str()
            .is_some_and(|k| k.starts_with("Linux "))
    );
    assert!(
        s["pveversion"]
            .as_str()
            .is_some_and(|k| k.starts_with("pve-manager/8."))
    );
    assert!(s["uptime"].as_u64().is_some_and(|u| u >= 1_209_600));
    assert!(s["cpu"].as_f64().is_some());
    let s2 = sim.get("/nodes/pve2/status").await.data();
    assert_eq!(s2["cpuinfo"]["cpus"], 8);
    assert_eq!(s2["memory"]["total"], 34_359_738_368_u64);
}

#[tokio::test]
async fn cluster_resources_and_filters() {
    let sim = start().await;
    let all = sim.get("/cluster/resources").await.data();
    let all = all.as_array().expect("array");
    let count = |t: &str| all.iter().filter(|r| r["type"] == t).count();
    assert_eq!(count("node"), 3);
    assert_eq!(count("qemu"), 5);
    assert_eq!(count("lxc"), 2);
    assert_eq!(count("storage"), 6);
    assert_eq!(all.len(), 16);

    let vms = sim.get("/cluster/resources?type=vm").await.data();
    let ids: Vec<&str> = vms
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "qemu/100",
            "qemu/101",
            "qemu/102",
            "qemu/104",
            "lxc/200",
            "lxc/201",
            "qemu/9000"
        ]
    );
    let by_id = |id: &str| {
        vms.as_array()
            .and_then(|a| a.iter().find(|v| v["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let ci = by_id("qemu/104");
    for (k, v) in [
        ("type", json!("qemu")),
        ("vmid", json!(104)),
        ("name", json!("ci-sandbox")),
        ("node", json!("pve2")),
        ("status", json!("running")),
        ("maxmem", json!(2_147_483_648_u64)),
        ("maxcpu", json!(2)),
        ("maxdisk", json!(34_359_738_368_u64)),
        ("template", json!(0)),
        ("tags", json!("ci;sandbox")),
    ] {
        assert_eq!(ci[k], v, "{k}: {ci}");
    }
    for k in ["mem", "cpu", "disk", "uptime"] {
        assert!(ci[k].is_number(), "{k}: {ci}");
    }
    assert_eq!(by_id("qemu/9000")["template"], 1);
    assert_eq!(by_id("qemu/102")["status"], "stopped");
    assert_eq!(by_id("qemu/102")["uptime"], 0);
    assert!(by_id("qemu/102").get("tags").is_none());
    assert_eq!(by_id("lxc/200")["type"], "lxc");
    assert_eq!(by_id("lxc/200")["name"], "dns-01");

    let nodes = sim.get("/cluster/resources?type=node").await.data();
    assert_eq!(nodes.as_array().map(Vec::len), Some(3));
    assert_eq!(nodes[0]["id"], "node/pve1");
    assert_eq!(nodes[2]["status"], "offline");
    let storage = sim.get("/cluster/resources?type=storage").await.data();
    assert_eq!(storage.as_array().map(Vec::len), Some(6));
    assert_eq!(storage[0]["id"], "storage/pve1/local");
    assert_eq!(storage[0]["plugintype"], "dir");
    assert_eq!(storage[5]["status"], "unknown");
    assert_eq!(
        sim.get("/cluster/resources?type=sdn").await.data(),
        json!([])
    );
    sim.get("/cluster/resources?type=bogus")
        .await
        .assert_param_error(
            "type",
            "value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'",
        );
}

#[tokio::test]
async fn guest_lists_per_node() {
    let sim = start().await;
    assert_eq!(vmids(&sim.get("/nodes/pve1/qemu").await.data()), [100, 101]);
    assert_eq!(
        vmids(&sim.get("/nodes/pve2/qemu").await.data()),
        [102, 104, 9000]
    );
    assert_eq!(vmids(&sim.get("/nodes/pve1/lxc").await.data()), [200]);
    let lxc = sim.get("/nodes/pve2/lxc").await.data();
    assert_eq!(vmids(&lxc), [201]);
    assert_eq!(lxc[0]["type"], "lxc");
    assert_eq!(lxc[0]["name"], "monitor");
    assert_eq!(lxc[0]["status"], "stopped");
    let q = sim.get("/nodes/pve2/qemu").await.data();
    assert_eq!(q[2]["template"], 1);
    assert!(q[0].get("template").is_none());
    assert_eq!(q[1]["status"], "running");
    assert!(q[1]["pid"].is_u64());
    assert!(q[0].get("pid").is_none());
    assert_eq!(
        sim.get("/nodes/pve1").await.data(),
        json!([{"name": "lxc"}, {"name": "qemu"}, {"name": "status"}, {"name": "storage"}, {"name": "tasks"}])
    );
}

#[tokio::test]
async fn status_current_and_config() {
    let sim = start().await;
    let web = sim.guest_status("pve1", "qemu", 100).await;
    for (k, v) in [
        ("vmid", json!(100)),
        ("name", json!("web-01")),
        ("status", json!("running")),
        ("qmpstatus", json!("running")),
        ("cpus", json!(2)),
        ("maxmem", json!(4_294_967_296_u64)),
        ("ha", json!({"managed": 0})),
        ("tags", json!("prod;web")),
    ] {
        assert_eq!(web[k], v, "{k}: {web}");
    }
    assert!(web["uptime"].as_u64().is_some_and(|u| u > 0));
    assert!(web["mem"].as_u64().is_some_and(|m| m > 0));
    assert!(web.get("lock").is_none());
    let ct = sim.guest_status("pve1", "lxc", 200).await;
    assert_eq!(ct["name"], "dns-01");
    assert_eq!(ct["type"], "lxc");
    assert_eq!(ct["status"], "running");
    assert!(ct.get("qmpstatus").is_none());
    let stopped = sim.guest_status("pve2", "qemu", 102).await;
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["qmpstatus"], "stopped");
    assert_eq!(stopped["uptime"], 0);
    assert!(stopped.get("tags").is_none());

    let cfg = sim.get("/nodes/pve1/qemu/101/config").await.data();
    assert_eq!(cfg["name"], "db-01");
    assert_eq!(cfg["memory"], 8192);
    assert_eq!(cfg["cores"], 4);
    assert_eq!(cfg["protection"], 1);
    assert_eq!(cfg["tags"], "db;prod");
    let digest = cfg["digest"].as_str().expect("digest").to_owned();
    assert_eq!(digest.len(), 40);
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
    let again = sim.get("/nodes/pve1/qemu/101/config").await.data();
    assert_eq!(again["digest"], digest.as_str());
    let web_cfg = sim.get("/nodes/pve1/qemu/100/config").await.data();
    assert_eq!(web_cfg["protection"], 0);
    assert_ne!(web_cfg["digest"], digest.as_str());
    assert!(
        web_cfg["scsi0"]
            .as_str()
            .is_some_and(|s| s.ends_with("size=32G"))
    );
    let tmpl = sim.get("/nodes/pve2/qemu/9000/config").await.data();
    assert_eq!(tmpl["template"], 1);
    let ct_cfg = sim.get("/nodes/pve1/lxc/200/config").await.data();
    assert_eq!(ct_cfg["hostname"], "dns-01");
    assert_eq!(ct_cfg["memory"], 512);
    assert_eq!(ct_cfg["protection"], 0);
    assert!(ct_cfg.get("name").is_none());
}

#[tokio::test]
async fn start_stop_lifecycle_via_task_polling() {
    let sim = start().await;
    let upid = sim.action("pve1", "qemu", 100, "stop").await;
    let parts: Vec<&str> = upid.split(':').collect();
    assert_eq!(parts.len(), 9, "{upid}");
    assert_eq!(parts[0], "UPID");
    assert_eq!(parts[1], "pve1");
    for hex in &parts[2..5] {
        assert_eq!(hex.len(), 8, "{upid}");
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
            "{upid}"
        );
    }
    assert_eq!(&parts[5..], ["qmstop", "100", "root@pam!ci", ""]);
    let starttime = u64::from_str_radix(parts[4], 16).expect("hex");
    let done = sim.wait_task("pve1", &upid).await;
    assert_eq!(done["exitstatus"], "OK");
    assert_eq!(done["upid"], upid.as_str());
    assert_eq!(done["node"], "pve1");
    assert_eq!(done["type"], "qmstop");
    assert_eq!(done["id"], "100");
    assert_eq!(done["user"], TOKEN_ID);
    assert_eq!(done["starttime"], starttime);
    assert_eq!(done["pid"], u64::from_str_radix(parts[2], 16).expect("hex"));
    let s = sim.guest_status("pve1", "qemu", 100).await;
    assert_eq!(
        (s["status"].clone(), s["qmpstatus"].clone()),
        (json!("stopped"), json!("stopped"))
    );
    assert_eq!(s["uptime"], 0);

    let upid = sim.action("pve1", "qemu", 100, "start").await;
    assert!(upid.contains(":qmstart:100:"), "{upid}");
    assert_eq!(sim.wait_task("pve1", &upid).await["exitstatus"], "OK");
    let s = sim.guest_status("pve1", "qemu", 100).await;
    assert_eq!(s["status"], "running");
    assert!(s["uptime"].as_u64().is_some_and(|u| u < 60), "{s}");

    // Containers: vz* task types.
    let upid = sim.action("pve2", "lxc", 201, "start").await;
    assert!(
        upid.starts_with("UPID:pve2:") && upid.contains(":vzstart:201:"),
        "{upid}"
    );
    sim.wait_task("pve2", &upid).await;
    assert_eq!(
        sim.guest_status("pve2", "lxc", 201).await["status"],
        "running"
    );
    for (action, want) in [
        ("suspend", "paused"),
        ("resume", "running"),
        ("reboot", "running"),
        ("shutdown", "stopped"),
    ] {
        let upid = sim.action("pve2", "lxc", 201, action).await;
        assert!(upid.contains(&format!(":vz{action}:201:")), "{upid}");
        assert_eq!(sim.wait_task("pve2", &upid).await["exitstatus"], "OK");
        assert_eq!(
            sim.guest_status("pve2", "lxc", 201).await["status"],
            want,
            "{action}"
        );
    }
    // QEMU suspend / resume / reset.
    for (action, want) in [
        ("suspend", "paused"),
        ("resume", "running"),
        ("reset", "running"),
    ] {
        let upid = sim.action("pve1", "qemu", 100, action).await;
        assert!(upid.contains(&format!(":qm{action}:100:")), "{upid}");
        sim.wait_task("pve1", &upid).await;
        let s = sim.guest_status("pve1", "qemu", 100).await;
        assert_eq!(
            (s["status"].as_str(), s["qmpstatus"].as_str()),
            (Some(want), Some(want)),
            "{action}"
        );
    }
    // The cluster view follows.
    let vms = sim.get("/cluster/resources?type=vm").await.data();
    let ct = vms
        .as_array()
        .and_then(|a| a.iter().find(|v| v["id"] == "lxc/201"))
        .cloned();
    assert_eq!(ct.map(|c| c["status"].clone()), Some(json!("stopped")));
}

#[tokio::test]
async fn a_running_task_keeps_the_old_state_and_locks_the_guest() {
    // Tasks that run for a minute: the state cannot change during the test.
    let sim = start_sim(StateFile::builtin().expect("built-in"), 60_000).await;
    let upid = sim.action("pve1", "qemu", 100, "stop").await;
    let status = sim
        .get(&format!("/nodes/pve1/tasks/{upid}/status"))
        .await
        .data();
    assert_eq!(status["status"], "running");
    assert!(status.get("exitstatus").is_none(), "{status}");
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "running"
    );
    sim.post("/nodes/pve1/qemu/100/status/start")
        .await
        .assert_error(
            500,
            "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout",
        );
    sim.action("pve1", "lxc", 200, "stop").await;
    sim.post("/nodes/pve1/lxc/200/status/stop")
        .await
        .assert_error(
            500,
            "can't lock file '/run/lock/lxc/pve-config-200.lock' - got timeout",
        );
    // Running tasks are not in the archive (the default source).
    let r = sim.get("/nodes/pve1/tasks").await;
    assert_eq!(r.json(), json!({"data": [], "total": 0}));
    let active = sim.get("/nodes/pve1/tasks?source=active").await.json();
    assert_eq!(active["total"], 2);
    assert_eq!(active["data"][0]["type"], "vzstop");
    assert_eq!(active["data"][1]["upid"], upid.as_str());
    assert!(active["data"][1].get("endtime").is_none());
    let log = sim
        .get(&format!("/nodes/pve1/tasks/{upid}/log"))
        .await
        .json();
    assert_eq!(log["total"], 1);
}

#[tokio::test]
async fn power_rules() {
    let sim = start().await;
    sim.post("/nodes/pve1/qemu/100/status/start")
        .await
        .assert_error(500, "VM 100 already running");
    sim.post("/nodes/pve1/lxc/200/status/start")
        .await
        .assert_error(500, "CT 200 already running");
    sim.post("/nodes/pve2/qemu/9000/status/start")
        .await
        .assert_error(500, "you can't start a vm if it's a template");
    sim.post("/nodes/pve2/qemu/102/status/reboot")
        .await
        .assert_error(500, "VM 102 not running");
    sim.post("/nodes/pve2/qemu/102/status/suspend")
        .await
        .assert_error(500, "VM 102 not running");
    sim.post("/nodes/pve2/lxc/201/status/resume")
        .await
        .assert_error(500, "CT 201 not running");
    sim.post("/nodes/pve2/qemu/102/status/reset")
        .await
        .assert_error(500, "VM 102 not running");
    // Containers have no reset.
    sim.post("/nodes/pve1/lxc/200/status/reset")
        .await
        .assert_error(
            501,
            "Method 'POST /nodes/pve1/lxc/200/status/reset' not implemented",
        );
    // Stopping (or shutting down) a stopped guest is a no-op task.
    for action in ["stop", "shutdown"] {
        let upid = sim.action("pve2", "qemu", 102, action).await;
        assert_eq!(sim.wait_task("pve2", &upid).await["exitstatus"], "OK");
        assert_eq!(
            sim.guest_status("pve2", "qemu", 102).await["status"],
            "stopped"
        );
    }
    // Protection does not block power actions (PVE's behaviour).
    let upid = sim.action("pve1", "qemu", 101, "shutdown").await;
    assert_eq!(sim.wait_task("pve1", &upid).await["exitstatus"], "OK");
    assert_eq!(
        sim.guest_status("pve1", "qemu", 101).await["status"],
        "stopped"
    );
    // A paused VM cannot be shut down.
    let upid = sim.action("pve1", "qemu", 100, "suspend").await;
    sim.wait_task("pve1", &upid).await;
    sim.post("/nodes/pve1/qemu/100/status/shutdown")
        .await
        .assert_error(500, "VM is paused - cannot shutdown");
    sim.post("/nodes/pve1/qemu/100/status/start")
        .await
        .assert_error(500, "VM 100 already running");
    // A request body (PVE options) is accepted and ignored.
    let r = sim
        .http
        .post(format!("{}{API}/nodes/pve1/qemu/100/status/stop", sim.base))
        .header("Authorization", auth_value())
        .form(&[("timeout", "30"), ("skiplock", "1")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert!(
        v["data"]
            .as_str()
            .is_some_and(|u| u.contains(":qmstop:100:"))
    );
}

#[tokio::test]
async fn unknown_vmids_and_bad_parameters() {
    let sim = start().await;
    sim.get("/nodes/pve1/qemu/999/status/current")
        .await
        .assert_error(
            500,
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
        );
    sim.get("/nodes/pve1/lxc/999/status/current")
        .await
        .assert_error(
            500,
            "Configuration file 'nodes/pve1/lxc/999.conf' does not exist",
        );
    // 102 lives on pve2.
    sim.get("/nodes/pve1/qemu/102/config").await.assert_error(
        500,
        "Configuration file 'nodes/pve1/qemu-server/102.conf' does not exist",
    );
    // 100 is a VM, not a container.
    sim.get("/nodes/pve1/lxc/100/config").await.assert_error(
        500,
        "Configuration file 'nodes/pve1/lxc/100.conf' does not exist",
    );
    sim.post("/nodes/pve1/qemu/999/status/start")
        .await
        .assert_error(
            500,
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
        );
    sim.get("/nodes/pve1/qemu/abc/status/current")
        .await
        .assert_param_error("vmid", "type check ('integer') failed - got 'abc'");
    sim.get("/nodes/pve1/qemu/99/config")
        .await
        .assert_param_error("vmid", "value must have a minimum value of 100");
    sim.post("/nodes/pve1/qemu/1000000000/status/start")
        .await
        .assert_param_error("vmid", "value must have a maximum value of 999999999");
    sim.get("/nodes/pve1/tasks?limit=many")
        .await
        .assert_param_error("limit", "type check ('integer') failed - got 'many'");
    sim.get("/nodes/pve1/tasks?source=old")
        .await
        .assert_param_error(
            "source",
            "value 'old' does not have a value in the enumeration 'archive, active, all'",
        );
}

#[tokio::test]
async fn unknown_and_offline_nodes() {
    let sim = start().await;
    let lookup = "hostname lookup 'nope' failed - failed to get address info for: nope: Name or service not known";
    for path in [
        "/nodes/nope",
        "/nodes/nope/status",
        "/nodes/nope/qemu",
        "/nodes/nope/lxc",
        "/nodes/nope/qemu/100/status/current",
        "/nodes/nope/tasks",
    ] {
        sim.get(path).await.assert_error(500, lookup);
    }
    sim.post("/nodes/nope/qemu/100/status/start")
        .await
        .assert_error(500, lookup);
    for path in [
        "/nodes/pve3",
        "/nodes/pve3/status",
        "/nodes/pve3/qemu",
        "/nodes/pve3/lxc",
        "/nodes/pve3/storage",
        "/nodes/pve3/qemu/100/status/current",
        "/nodes/pve3/tasks",
    ] {
        sim.get(path).await.assert_error(595, "No route to host");
    }
    sim.post("/nodes/pve3/qemu/100/status/start")
        .await
        .assert_error(595, "No route to host");
    // reqwest accepts the non-standard status.
    let r = sim
        .http
        .get(format!("{}{API}/nodes/pve3/status", sim.base))
        .header("Authorization", auth_value())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 595);
    // The cluster still lists the offline node.
    let status = sim.get("/cluster/status").await.data();
    assert_eq!(status[3]["name"], "pve3");
    assert_eq!(status[3]["online"], 0);
}

#[tokio::test]
async fn permissions() {
    let sim = start().await;
    for action in [
        "start", "stop", "shutdown", "reboot", "suspend", "resume", "reset",
    ] {
        sim.post(&format!("/nodes/pve2/qemu/104/status/{action}"))
            .await
            .assert_error(403, "Permission check failed (/vms/104, VM.PowerMgmt)");
    }
    sim.get("/nodes/pve2/qemu/104/status/current")
        .await
        .assert_error(403, "Permission check failed (/vms/104, VM.Audit)");
    sim.get("/nodes/pve2/qemu/104/config")
        .await
        .assert_error(403, "Permission check failed (/vms/104, VM.Audit)");
    // Still listed, still running.
    assert!(vmids(&sim.get("/nodes/pve2/qemu").await.data()).contains(&104));
    let vms = sim.get("/cluster/resources?type=vm").await.data();
    let ci = vms
        .as_array()
        .and_then(|a| a.iter().find(|v| v["vmid"] == 104))
        .cloned();
    assert_eq!(ci.map(|c| c["status"].clone()), Some(json!("running")));

    // Audit only: reads work, power actions do not.
    let sim = start_sim(
        state_with(|v| {
            v["token_privs"] =
                json!({"/vms/104": ["VM.Audit"], "/vms": ["VM.Audit", "VM.PowerMgmt"], "/": []});
        }),
        0,
    )
    .await;
    assert_eq!(
        sim.guest_status("pve2", "qemu", 104).await["name"],
        "ci-sandbox"
    );
    assert_eq!(
        sim.get("/nodes/pve2/qemu/104/config").await.data()["name"],
        "ci-sandbox"
    );
    sim.post("/nodes/pve2/qemu/104/status/stop")
        .await
        .assert_error(403, "Permission check failed (/vms/104, VM.PowerMgmt)");
    // `/vms` (more specific than `/`) allows the others.
    sim.action("pve1", "qemu", 100, "stop").await;

    // No privileges at `/vms`: every guest is refused, even an unknown vmid.
    let sim = start_sim(state_with(|v| v["token_privs"] = json!({"/vms": []})), 0).await;
    sim.get("/nodes/pve1/qemu/100/status/current")
        .await
        .assert_error(403, "Permission check failed (/vms/100, VM.Audit)");
    sim.post("/nodes/pve1/qemu/999/status/start")
        .await
        .assert_error(403, "Permission check failed (/vms/999, VM.PowerMgmt)");
}

#[tokio::test]
async fn unimplemented_methods_are_501() {
    let sim = start().await;
    for (method, path) in [
        ("GET", "/xyz"),
        ("GET", "/nodes/pve1/firewall/options"),
        ("POST", "/version"),
        ("DELETE", "/nodes/pve1/qemu/100"),
        ("PUT", "/nodes/pve1/qemu/100/status/start"),
        ("GET", "/nodes/pve1/qemu/100/status/start"),
        ("POST", "/nodes/pve1/qemu/100/status/current"),
        ("POST", "/nodes/pve1/qemu/100/status/explode"),
        ("GET", "/nodes/pve1/vz"),
        ("GET", "/nodes/pve3/firewall"),
    ] {
        let r = sim.raw_with(method, path, Some(&auth_value())).await;
        r.assert_error(501, &format!("Method '{method} {path}' not implemented"));
    }
    // Percent-decoded in the message; control characters never reach the status line.
    let r = sim.get("/x%20y").await;
    r.assert_error(501, "Method 'GET /x y' not implemented");
    let r = sim.get("/x%0D%0AInjected:%201").await;
    assert_eq!(r.status, 501);
    assert_eq!(r.reason, "Method 'GET /x??Injected: 1' not implemented");
    assert!(r.header("injected").is_none());
    // Authentication comes first.
    sim.raw_with("GET", "/xyz", None)
        .await
        .assert_error(401, "authentication failure");
}

#[tokio::test]
async fn tasks_status_list_and_log() {
    let sim = start().await;
    sim.get(
        "/nodes/pve1/tasks/UPID:pve1:00020000:000F4240:6650A1B2:qmstart:100:root@pam!ci:/status",
    )
    .await
    .assert_error(500, "no such task");
    sim.get("/nodes/pve1/tasks/not-a-upid/status")
        .await
        .assert_param_error("upid", "unable to parse worker upid");

    let stop = sim.action("pve1", "qemu", 100, "stop").await;
    sim.wait_task("pve1", &stop).await;
    let start = sim.action("pve1", "qemu", 100, "start").await;
    sim.wait_task("pve1", &start).await;
    let ct = sim.action("pve1", "lxc", 200, "reboot").await;
    sim.wait_task("pve1", &ct).await;
    // A task of another node is not found there.
    sim.get(&format!("/nodes/pve2/tasks/{stop}/status"))
        .await
        .assert_error(500, "no such task");
    // Percent-encoded UPIDs work.
    let encoded = stop
        .replace(':', "%3A")
        .replace('!', "%21")
        .replace('@', "%40");
    assert_eq!(
        sim.get(&format!("/nodes/pve1/tasks/{encoded}/status"))
            .await
            .data()["upid"],
        stop.as_str()
    );

    let list = sim.get("/nodes/pve1/tasks").await.json();
    assert_eq!(list["total"], 3);
    let upids: Vec<&str> = list["data"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["upid"].as_str())
        .collect();
    assert_eq!(upids, [ct.as_str(), start.as_str(), stop.as_str()]);
    let first = &list["data"][0];
    assert_eq!(first["status"], "OK");
    assert_eq!(first["type"], "vzreboot");
    assert!(first["endtime"].as_u64() >= first["starttime"].as_u64());
    let limited = sim.get("/nodes/pve1/tasks?limit=1&start=1").await.json();
    assert_eq!(limited["total"], 3);
    assert_eq!(limited["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(limited["data"][0]["upid"], start.as_str());
    let by_vm = sim.get("/nodes/pve1/tasks?vmid=200").await.json();
    assert_eq!(by_vm["total"], 1);
    let by_type = sim.get("/nodes/pve1/tasks?typefilter=qmstop").await.json();
    assert_eq!(by_type["data"][0]["upid"], stop.as_str());
    assert_eq!(
        sim.get("/nodes/pve1/tasks?errors=1").await.json()["total"],
        0
    );
    assert_eq!(
        sim.get("/nodes/pve2/tasks").await.json(),
        json!({"data": [], "total": 0})
    );

    let log = sim
        .get(&format!("/nodes/pve1/tasks/{stop}/log"))
        .await
        .json();
    assert_eq!(log["total"], 2);
    assert_eq!(log["data"][1], json!({"n": 2, "t": "TASK OK"}));
}

#[tokio::test]
async fn task_errors_and_locks_from_the_state() {
    let sim = start_sim(
        state_with(|v| {
            v["guests"][0]["task_error"] = json!("start failed: QEMU exited with code 1");
            v["guests"][1]["lock"] = json!("backup");
            v["guests"][5]["lock"] = json!("mounted");
        }),
        0,
    )
    .await;
    sim.post("/nodes/pve1/qemu/101/status/stop")
        .await
        .assert_error(500, "VM is locked (backup)");
    sim.post("/nodes/pve1/lxc/200/status/stop")
        .await
        .assert_error(500, "CT is locked (mounted)");
    assert_eq!(
        sim.guest_status("pve1", "qemu", 101).await["lock"],
        "backup"
    );
    assert_eq!(
        sim.get("/nodes/pve1/qemu/101/config").await.data()["lock"],
        "backup"
    );

    let upid = sim.action("pve1", "qemu", 100, "stop").await;
    let done = sim.wait_task("pve1", &upid).await;
    assert_eq!(done["exitstatus"], "start failed: QEMU exited with code 1");
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "running"
    );
    let errors = sim.get("/nodes/pve1/tasks?errors=1").await.json();
    assert_eq!(errors["total"], 1);
    assert_eq!(
        errors["data"][0]["status"],
        "start failed: QEMU exited with code 1"
    );
    let log = sim
        .get(&format!("/nodes/pve1/tasks/{upid}/log"))
        .await
        .data();
    assert_eq!(
        log[1]["t"],
        "TASK ERROR: start failed: QEMU exited with code 1"
    );
}

#[tokio::test]
async fn state_reset_returns_to_the_seed() {
    let sim = start_sim(StateFile::builtin().expect("built-in"), 0).await;
    let upid = sim.action("pve1", "qemu", 100, "stop").await;
    sim.wait_task("pve1", &upid).await;
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "stopped"
    );
    assert_eq!(
        sim.sim_post("/_sim/state/reset", &json!({})).await,
        json!({"reset": true})
    );
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "running"
    );
    sim.get(&format!("/nodes/pve1/tasks/{upid}/status"))
        .await
        .assert_error(500, "no such task");
}

#[tokio::test]
async fn cluster_status_storage_and_users() {
    let sim = start().await;
    let status = sim.get("/cluster/status").await.data();
    assert_eq!(
        status[0],
        json!({"type": "cluster", "id": "cluster", "name": "simlab", "nodes": 3, "quorate": 1, "version": 4})
    );
    assert_eq!(status[1]["id"], "node/pve1");
    assert_eq!(status[1]["ip"], "192.0.2.11");
    assert_eq!(status[1]["online"], 1);
    assert_eq!(status[1]["local"], 1);
    assert_eq!(status[2]["local"], 0);
    let storage = sim.get("/nodes/pve2/storage").await.data();
    let ids: Vec<&str> = storage
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["storage"].as_str())
        .collect();
    assert_eq!(ids, ["local", "local-lvm"]);
    assert_eq!(storage[1]["type"], "lvmthin");
    assert_eq!(
        storage[1]["avail"],
        536_870_912_000_u64 - 128_849_018_880_u64
    );
    let users = sim.get("/access/users").await.data();
    assert_eq!(users[0]["userid"], "root@pam");
    assert_eq!(users[0]["realm-type"], "pam");
    assert_eq!(users[1]["userid"], "automation@pve");
    assert_eq!(users[1]["email"], "automation@example.invalid");
}

#[tokio::test]
async fn faults() {
    let sim = start().await;
    // An injected 595 carries PVE's reason, then the API is back.
    sim.faults(json!({"fail_next": 1, "fail_status": 595}))
        .await;
    sim.get("/version")
        .await
        .assert_error(595, "No route to host");
    assert_eq!(sim.get("/version").await.status, 200);
    sim.faults(json!({"fail_next": 2})).await;
    // Faults come before authentication.
    sim.raw_with("GET", "/version", None)
        .await
        .assert_error(500, "Internal Server Error");
    sim.post("/nodes/pve1/qemu/100/status/stop")
        .await
        .assert_error(500, "Internal Server Error");
    // The refused action did not run.
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "running"
    );

    sim.faults(json!({"drop_next": 1})).await;
    let err = sim
        .http
        .get(format!("{}{API}/version", sim.base))
        .header("Authorization", auth_value())
        .send()
        .await
        .expect_err("a dropped connection is a client error, not a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(sim.get("/version").await.status, 200);

    sim.faults(json!({"malformed_next": 1})).await;
    let r = sim.get("/nodes").await;
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<Value>(&r.body).is_err(),
        "{}",
        r.body
    );

    sim.faults(json!({"rate_limit_next": 1, "retry_after_secs": 3}))
        .await;
    let r = sim.get("/nodes").await;
    r.assert_error(429, "Too Many Requests");
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));

    sim.faults(json!({"fail_rate": 1.0, "fail_status": 503}))
        .await;
    sim.get("/nodes")
        .await
        .assert_error(503, "Service Unavailable");
    let current: Value = sim
        .http
        .get(format!("{}/_sim/faults", sim.base))
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("json");
    assert_eq!(current["fail_rate"], 1.0);
    assert_eq!(current["fail_status"], 503);
    sim.sim_post("/_sim/reset", &json!({})).await;
    assert_eq!(sim.get("/nodes").await.status, 200);
    // Latency is applied.
    sim.faults(json!({"latency_ms": 150})).await;
    let t = Instant::now();
    assert_eq!(sim.get("/version").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stats_count_and_reset() {
    let sim = start().await;
    assert_eq!(
        sim.stats().await,
        json!({"total": 0, "by_type": {}, "by_key": {}})
    );
    sim.get("/version").await;
    sim.get("/nodes").await;
    sim.get("/nodes/pve1/qemu/100/status/current").await;
    sim.get("/cluster/resources?type=vm").await;
    sim.get("/access/users").await;
    let upid = sim.action("pve1", "qemu", 100, "stop").await;
    sim.get(&format!("/nodes/pve1/tasks/{upid}/status")).await;
    // Counted even when refused, unknown or faulted.
    sim.raw_with("GET", "/nodes", None).await;
    sim.get("/xyz").await;
    sim.get("/nodes/pve3/status").await;
    sim.faults(json!({"fail_next": 1})).await;
    sim.get("/version").await;
    sim.get("").await;

    let s = sim.stats().await;
    assert_eq!(s["total"], 12, "{s}");
    assert_eq!(
        s["by_type"],
        json!({"access": 1, "cluster": 1, "index": 1, "nodes": 6, "version": 2, "xyz": 1})
    );
    let mut want = json!({
        "GET /": 1,
        "GET /version": 2,
        "GET /nodes": 2,
        "GET /nodes/pve1/qemu/100/status/current": 1,
        "GET /cluster/resources": 1,
        "GET /access/users": 1,
        "POST /nodes/pve1/qemu/100/status/stop": 1,
        "GET /xyz": 1,
        "GET /nodes/pve3/status": 1,
    });
    want[format!("GET /nodes/pve1/tasks/{upid}/status")] = json!(1);
    assert_eq!(s["by_key"], want);
    // /_sim endpoints are not counted; reset zeroes.
    assert_eq!(sim.stats().await["total"], 12);
    sim.sim_post("/_sim/reset", &json!({})).await;
    assert_eq!(
        sim.stats().await,
        json!({"total": 0, "by_type": {}, "by_key": {}})
    );
}

/// Parses the markdown table whose header row starts with `| first |` in
/// `text`: one map per row.
fn md_table(text: &str, first: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with(&format!("| {first} |")));
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let header = cells(
        lines
            .next()
            .unwrap_or_else(|| panic!("no table | {first} |")),
    );
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| header.iter().cloned().zip(cells(l)).collect())
        .collect()
}

#[test]
fn builtin_state_matches_fixture_file_and_readme() {
    let dir = manifest_dir().join("fixtures/proxmox");
    let builtin = StateFile::builtin().expect("built-in");
    let file = StateFile::from_file(&dir.join("cluster.json")).expect("cluster.json");
    assert_eq!(builtin, file);

    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let nodes = md_table(&readme, "node");
    assert_eq!(nodes.len(), builtin.nodes.len());
    for (row, n) in nodes.iter().zip(&builtin.nodes) {
        let want = [
            ("node", n.node.clone()),
            ("online", n.online.to_string()),
            ("ip", n.ip.clone().unwrap_or_default()),
            ("maxcpu", n.maxcpu.to_string()),
            ("sockets", n.sockets.to_string()),
            ("maxmem", n.maxmem.to_string()),
            ("mem", n.mem.to_string()),
            ("maxdisk", n.maxdisk.to_string()),
            ("disk", n.disk.to_string()),
            ("uptime", n.uptime.to_string()),
        ];
        for (k, v) in want {
            assert_eq!(row.get(k), Some(&v), "node {} {k}", n.node);
        }
    }
    let guests = md_table(&readme, "vmid");
    assert_eq!(guests.len(), builtin.guests.len());
    for (row, g) in guests.iter().zip(&builtin.guests) {
        let want = [
            ("vmid", g.vmid.to_string()),
            ("type", g.kind.as_str().to_owned()),
            ("name", g.name.clone()),
            ("node", g.node.clone()),
            ("status", g.status.as_str().to_owned()),
            ("template", g.template.to_string()),
            ("protection", g.protection.to_string()),
            ("tags", g.tags.clone().unwrap_or_default()),
            ("cores", g.cores.to_string()),
            ("memory", g.memory.to_string()),
            ("disk_gb", g.disk_gb.to_string()),
        ];
        for (k, v) in want {
            assert_eq!(row.get(k), Some(&v), "guest {} {k}", g.vmid);
        }
        assert!(g.lock.is_none() && g.task_error.is_none());
    }
    let privs = md_table(&readme, "path");
    assert_eq!(privs.len(), builtin.token_privs.len());
    for row in &privs {
        let path = row.get("path").expect("path");
        let listed = builtin.token_privs.get(path).expect("listed path");
        let shown = if listed.is_empty() {
            "(none)".to_owned()
        } else {
            listed.join(", ")
        };
        assert_eq!(row.get("privileges"), Some(&shown), "{path}");
    }
    let storage = md_table(&readme, "storage");
    assert_eq!(storage.len(), builtin.storage.len());
    for (row, s) in storage.iter().zip(&builtin.storage) {
        assert_eq!(row.get("storage"), Some(&s.storage));
        assert_eq!(row.get("type"), Some(&s.kind));
        assert_eq!(row.get("content"), Some(&s.content));
        assert_eq!(row.get("total"), Some(&s.total.to_string()));
        assert_eq!(row.get("used"), Some(&s.used.to_string()));
    }
    // The error strings the README promises are the simulator's.
    for phrase in [
        "authentication failure",
        "No route to host",
        "Parameter verification failed.",
        "Permission check failed (/vms/VMID, VM.PowerMgmt)",
        "Configuration file 'nodes/NODE/qemu-server/VMID.conf' does not exist",
        "hostname lookup 'NODE' failed - failed to get address info for: NODE: Name or service not known",
        "Method 'GET /xyz' not implemented",
        "no such task",
        "VM VMID already running",
    ] {
        assert!(readme.contains(phrase), "README lacks {phrase:?}");
    }
}

#[test]
fn invalid_setup_is_refused() {
    let config = |id: &str| ProxmoxConfig {
        token_id: id.to_owned(),
        token_secret: SECRET.to_owned(),
        task_duration: Duration::ZERO,
    };
    let state = StateFile::builtin().expect("built-in");
    assert!(ProxmoxSim::new(config("root@pam"), state.clone()).is_err());
    assert!(ProxmoxSim::new(config(TOKEN_ID), state).is_ok());
    let err = StateFile::parse("{\"nodes\": []}", "x.json").expect_err("no nodes");
    assert!(err.to_string().contains("at least one node"), "{err}");
    let err = StateFile::parse("{", "x.json").expect_err("not JSON");
    assert!(err.to_string().starts_with("cannot parse x.json"), "{err}");
}

/// Runs the real binary: first stdout line, then authenticated requests.
#[tokio::test]
async fn binary_announces_its_address() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args([
            "proxmox",
            "--bind",
            "127.0.0.1:0",
            "--token-id",
            TOKEN_ID,
            "--token-secret",
            SECRET,
            "--task-ms",
            "50",
            "--state",
        ])
        .arg(manifest_dir().join("fixtures/proxmox/cluster.json"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn vendor-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("announced in time")
        .expect("read")
        .expect("a line");
    let port = first
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    let port: u16 = port.parse().expect("port");
    assert_ne!(port, 0);
    let sim = Sim {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    let nodes = sim.get("/nodes").await.data();
    assert_eq!(nodes.as_array().map(Vec::len), Some(3));
    sim.raw_with("GET", "/nodes", None)
        .await
        .assert_error(401, "authentication failure");
    let upid = sim.action("pve2", "qemu", 102, "start").await;
    assert_eq!(sim.wait_task("pve2", &upid).await["exitstatus"], "OK");
    assert_eq!(
        sim.guest_status("pve2", "qemu", 102).await["status"],
        "running"
    );
    child.kill().await.expect("kill");

    // A bad token id stops it before it listens.
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
            .args([
                "proxmox",
                "--bind",
                "127.0.0.1:0",
                "--token-id",
                "root@pam",
                "--token-secret",
                "x",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exited in time")
    .expect("run");
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---------------------------------------------------------------------------
// Shapes of the shared real-world fixtures.

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("SECOPS_FIXTURES_DIR") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir().join("../../../shared/fixtures"),
    }
}

/// Keys a real answer may have that the simulator leaves out on purpose,
/// by comparison kind: (kind, key, why).
const MACHINE_SPECIFIC: &[(&str, &str, &str)] = &[
    ("qemu-status", "blockstat", "per-disk QEMU block counters"),
    ("qemu-status", "ballooninfo", "balloon driver statistics"),
    ("qemu-status", "balloon_min", "balloon driver setting"),
    ("qemu-status", "nics", "per-tap-device counters"),
    ("qemu-status", "proxmox-support", "QEMU build feature flags"),
    ("qemu-status", "shares", "CPU scheduler weight"),
    ("qemu-status", "spice", "SPICE display in use"),
    ("qemu-config", "ide2", "an attached installer ISO"),
    (
        "qemu-config",
        "vmid",
        "not part of a real config answer (mock artefact)",
    ),
    (
        "lxc-config",
        "features",
        "container feature flags of that host",
    ),
    ("lxc-config", "lxc", "raw lxc.* lines of that host"),
    ("lxc-config", "mp0", "a host mount point"),
    ("lxc-config", "onboot", "start-at-boot flag not modelled"),
];

fn excluded(kind: &str, key: &str) -> bool {
    MACHINE_SPECIFIC
        .iter()
        .any(|(k, name, _)| *k == kind && *name == key)
}

/// Ours must have every key of `fixture` (save the exclusions); objects and
/// arrays must stay objects and arrays, and objects are compared one level
/// deeper. Returns the problems found.
fn shape_problems(kind: &str, fixture: &Value, ours: &Value, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (Some(f), Some(o)) = (fixture.as_object(), ours.as_object()) else {
        return vec![format!("{at}: fixture or ours is not an object: {ours}")];
    };
    for (k, fv) in f {
        if excluded(kind, k) {
            continue;
        }
        let Some(ov) = o.get(k) else {
            problems.push(format!("{at}: missing key {k:?}"));
            continue;
        };
        if fv.is_object() {
            if !ov.is_object() {
                problems.push(format!("{at}.{k}: want an object, got {ov}"));
            } else {
                problems.extend(shape_problems(kind, fv, ov, &format!("{at}.{k}")));
            }
        } else if fv.is_array() && !ov.is_array() {
            problems.push(format!("{at}.{k}: want an array, got {ov}"));
        }
    }
    problems
}

/// Our guest to compare a fixture guest with: same kind and status, and
/// tags / template when the fixture has them.
fn matching_guest(state: &StateFile, kind: &str, fixture: &Value) -> (String, u32) {
    let status = fixture["status"].as_str().unwrap_or("running");
    let wants_tags = fixture.get("tags").is_some();
    let wants_template = fixture["template"] == 1;
    state
        .guests
        .iter()
        .find(|g| {
            g.kind.as_str() == kind
                && g.status.as_str() == status
                && (!wants_tags || g.tags.is_some())
                && (!wants_template || g.template == 1)
        })
        .map(|g| (g.node.clone(), g.vmid))
        .unwrap_or_else(|| panic!("no {kind} guest like {fixture}"))
}

/// Compares the simulator's answers with the shared real-world PVE fixtures.
#[tokio::test]
async fn shared_fixture_shapes() {
    let dir = fixtures_dir().join("proxmox/api-responses");
    if !dir.is_dir() {
        // Without the fixtures this test cannot check anything, so it must not pass.
        panic!(
            "shared fixtures not found: {} is not a directory. Set SECOPS_FIXTURES_DIR to the \
             shared fixtures folder (default ../../../shared/fixtures from crates/simulators); \
             this test needs it and does not skip.",
            dir.display()
        );
    }
    // The built-in state plus a stopped container template with tags, so every
    // kind of guest in the fixtures has a counterpart.
    let state = state_with(|v| {
        if let Some(g) = v["guests"].as_array_mut() {
            g.push(json!({
                "vmid": 210, "type": "lxc", "name": "ct-template", "node": "pve1",
                "status": "stopped", "template": 1, "tags": "base;template"
            }));
        }
    });
    let sim = start_sim(state.clone(), 0).await;

    let index: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).expect("index.json"))
            .expect("index.json is JSON");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "index.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "too few fixtures in {}", dir.display());

    let mut compared: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(file).expect("read fixture");
        let fixture: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        assert!(fixture.get("data").is_some(), "{name}: no top-level data");
        let entry = index
            .iter()
            .find(|e| e["file"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is not in index.json"));
        let method = entry["method"].as_str().unwrap_or_default();
        let path = entry["path"].as_str().unwrap_or_default();
        let status = entry["http_status"].as_u64().unwrap_or_default();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let data = &fixture["data"];
        let first = data.as_array().and_then(|a| a.first()).unwrap_or(data);

        let kind: String = match (method, segs.as_slice(), status) {
            ("GET", ["nodes"], 200) => {
                let ours = sim.get("/nodes").await.data();
                let want = first["status"].as_str().unwrap_or("online");
                let mine = ours
                    .as_array()
                    .and_then(|a| a.iter().find(|n| n["status"] == want))
                    .cloned()
                    .unwrap_or_default();
                problems.extend(shape_problems("nodes", first, &mine, &name));
                "GET /nodes".into()
            }
            ("GET", ["nodes", _, "status"], 200) => {
                let ours = sim.get("/nodes/pve1/status").await.data();
                problems.extend(shape_problems("node-status", first, &ours, &name));
                "GET /nodes/{node}/status".into()
            }
            ("GET", ["nodes", node, "status"], 500) => {
                // An unknown node: 500 and the same body.
                let r = sim.get(&format!("/nodes/{node}/status")).await;
                if r.status != 500 || r.json() != fixture {
                    problems.push(format!("{name}: got {} {}", r.status, r.body));
                }
                "GET /nodes/{unknown}/status".into()
            }
            ("GET", ["cluster", "resources"], 200) => {
                let ours = sim.get("/cluster/resources").await.data();
                let want = first["type"].clone();
                let mine = ours
                    .as_array()
                    .and_then(|a| a.iter().find(|r| r["type"] == want))
                    .cloned()
                    .unwrap_or_default();
                problems.extend(shape_problems("cluster-resources", first, &mine, &name));
                "GET /cluster/resources".into()
            }
            ("GET", ["nodes", _, k @ ("qemu" | "lxc")], 200) => {
                let (node, vmid) = matching_guest(&state, k, first);
                let ours = sim.get(&format!("/nodes/{node}/{k}")).await.data();
                let mine = ours
                    .as_array()
                    .and_then(|a| a.iter().find(|g| g["vmid"] == vmid))
                    .cloned()
                    .unwrap_or_default();
                problems.extend(shape_problems(&format!("{k}-list"), first, &mine, &name));
                format!("GET /nodes/{{node}}/{k}")
            }
            ("GET", ["nodes", _, k @ ("qemu" | "lxc"), _, "status", "current"], 200) => {
                let (node, vmid) = matching_guest(&state, k, first);
                let ours = sim.guest_status(&node, k, vmid).await;
                problems.extend(shape_problems(&format!("{k}-status"), first, &ours, &name));
                format!("GET /nodes/{{node}}/{k}/{{vmid}}/status/current")
            }
            ("GET", ["nodes", _, k @ ("qemu" | "lxc"), _, "config"], 200) => {
                // Any running guest of that kind, with tags if the fixture has them.
                let mut probe = json!({"status": "running"});
                if let Some(tags) = first.get("tags") {
                    probe["tags"] = tags.clone();
                }
                let (node, vmid) = matching_guest(&state, k, &probe);
                let ours = sim
                    .get(&format!("/nodes/{node}/{k}/{vmid}/config"))
                    .await
                    .data();
                problems.extend(shape_problems(&format!("{k}-config"), first, &ours, &name));
                format!("GET /nodes/{{node}}/{k}/{{vmid}}/config")
            }
            ("GET", ["cluster", "firewall", "rules"], 200) => {
                let ours = sim.get("/cluster/firewall/rules").await.data();
                problems.extend(shape_problems("firewall", first, &ours[0], &name));
                "GET /cluster/firewall/rules".into()
            }
            ("GET", ["nodes", _, "firewall", "rules"], 200) => {
                let ours = sim.get("/nodes/pve1/firewall/rules").await.data();
                problems.extend(shape_problems("firewall", first, &ours[0], &name));
                "GET /nodes/{node}/firewall/rules".into()
            }
            _ => {
                // Rule and config writes (go-proxmox's mocks answer PUT lxc config with a
                // UPID where PVE's schema returns null): parsed only.
                continue;
            }
        };
        compared.push((kind, name));
    }
    eprintln!(
        "compared {} of {} fixture files: {compared:?}",
        compared.len(),
        files.len()
    );
    assert!(
        problems.is_empty(),
        "shape differences:\n{}",
        problems.join("\n")
    );
    for required in [
        "GET /nodes",
        "GET /nodes/{node}/status",
        "GET /cluster/resources",
        "GET /nodes/{node}/qemu/{vmid}/status/current",
        "GET /cluster/firewall/rules",
        "GET /nodes/{node}/firewall/rules",
    ] {
        assert!(
            compared.iter().any(|(k, _)| k == required),
            "no fixture compared for {required}: {compared:?}"
        );
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

/// Snapshots form a tree: each records its parent, `current` names the one it descends
/// from; a rollback restores the config and (without RAM) stops a running VM; a delete
/// re-parents the children. While the task runs the guest is locked, in PVE's words.
#[tokio::test]
async fn snapshots_tree_rollback_delete_and_locks() {
    let sim = start().await;
    let base = "/nodes/pve1/qemu/100";
    let list = sim.get(&format!("{base}/snapshot")).await.data();
    assert_eq!(
        list,
        json!([{"name": "current", "description": "You are here!", "running": 1}])
    );
    let upid = sim
        .task(
            "POST",
            &format!("{base}/snapshot"),
            "snapname=before&description=pre+upgrade",
        )
        .await;
    assert!(upid.contains(":qmsnapshot:100:"), "{upid}");
    // Locked while the task runs: power actions and another snapshot are refused.
    sim.post(&format!("{base}/status/stop"))
        .await
        .assert_error(500, "VM is locked (snapshot)");
    sim.form("POST", &format!("{base}/snapshot"), "snapname=other")
        .await
        .assert_error(500, "VM is locked (snapshot)");
    let st = sim.wait_task("pve1", &upid).await;
    assert_eq!(st["exitstatus"], "OK");
    // Change the config, snapshot again (child of `before`).
    sim.form("PUT", &format!("{base}/config"), "cores=8")
        .await
        .data();
    let up2 = sim
        .task(
            "POST",
            &format!("{base}/snapshot"),
            "snapname=after&vmstate=1",
        )
        .await;
    sim.wait_task("pve1", &up2).await;
    let list = sim.get(&format!("{base}/snapshot")).await.data();
    assert_eq!(names(&list), ["before", "after", "current"]);
    assert_eq!(list[0]["description"], "pre upgrade");
    assert_eq!(list[0]["vmstate"], 0);
    assert!(list[0].get("parent").is_none());
    assert_eq!(list[1]["parent"], "before");
    assert_eq!(list[1]["vmstate"], 1);
    assert_eq!(list[2]["parent"], "after");
    assert!(
        list[0]["snaptime"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000)
    );
    // Duplicates and bad names.
    sim.form("POST", &format!("{base}/snapshot"), "snapname=before")
        .await
        .assert_error(500, "snapshot name 'before' already used");
    sim.form("POST", &format!("{base}/snapshot"), "snapname=1bad")
        .await
        .assert_param_error(
            "snapname",
            "invalid format - invalid configuration ID '1bad'",
        );
    sim.form("POST", &format!("{base}/snapshot"), "snapname=x")
        .await
        .assert_param_error("snapname", "invalid format - invalid configuration ID 'x'");
    sim.form("POST", &format!("{base}/snapshot"), "")
        .await
        .assert_param_error("snapname", "property is missing and it is not optional");
    // Containers have no RAM snapshots.
    sim.form(
        "POST",
        "/nodes/pve1/lxc/200/snapshot",
        "snapname=xy&vmstate=1",
    )
    .await
    .assert_param_error(
        "vmstate",
        "property is not defined in schema and the schema does not allow additional properties",
    );
    // Missing snapshots.
    sim.form("POST", &format!("{base}/snapshot/nope/rollback"), "")
        .await
        .assert_error(500, "snapshot 'nope' does not exist");
    sim.form("DELETE", &format!("{base}/snapshot/nope"), "")
        .await
        .assert_error(500, "snapshot 'nope' does not exist");
    // Rollback to `before`: cores back to 2, the VM stopped (no RAM in that snapshot).
    let rb = sim
        .task("POST", &format!("{base}/snapshot/before/rollback"), "")
        .await;
    assert!(rb.contains(":qmrollback:100:"), "{rb}");
    assert_eq!(sim.wait_task("pve1", &rb).await["exitstatus"], "OK");
    let cfg = sim.get(&format!("{base}/config")).await.data();
    assert_eq!(cfg["cores"], 2);
    assert!(cfg.get("lock").is_none(), "{cfg}");
    assert_eq!(
        sim.guest_status("pve1", "qemu", 100).await["status"],
        "stopped"
    );
    let list = sim.get(&format!("{base}/snapshot")).await.data();
    assert_eq!(list[2]["parent"], "before");
    // Delete `before`: `after` loses its parent, `current` too.
    let del = sim
        .task("DELETE", &format!("{base}/snapshot/before"), "")
        .await;
    assert!(del.contains(":qmdelsnapshot:100:"), "{del}");
    sim.wait_task("pve1", &del).await;
    let list = sim.get(&format!("{base}/snapshot")).await.data();
    assert_eq!(names(&list), ["after", "current"]);
    assert!(
        list[0].get("parent").is_none() && list[1].get("parent").is_none(),
        "{list}"
    );
    // The task log says what happened.
    let log = sim
        .get(&format!("/nodes/pve1/tasks/{up2}/log"))
        .await
        .data();
    let text: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["t"].as_str())
        .collect();
    assert_eq!(text.first().copied(), Some("snapshot 'after' of VM 100"));
    assert_eq!(text.last().copied(), Some("TASK OK"));
    // Privileges: VM 104 grants nothing.
    sim.form("POST", "/nodes/pve2/qemu/104/snapshot", "snapname=ab")
        .await
        .assert_error(403, "Permission check failed (/vms/104, VM.Snapshot)");
}

/// vzdump writes a backup volume to the storage's content (per node for local storage),
/// with notes and protection; the storage's usage grows; a restore creates a new guest from
/// it, and refuses an existing VMID unless forced, and a protected one even then.
#[tokio::test]
async fn vzdump_storage_content_and_restore() {
    let sim = start().await;
    let before = sim.get("/nodes/pve1/storage").await.data();
    let used_before = before[0]["used"].as_u64().expect("used");
    let upid = sim
        .task(
            "POST",
            "/nodes/pve1/vzdump",
            "vmid=200&storage=local&mode=snapshot&compress=zstd&protected=1&notes-template=%7B%7Bguestname%7D%7D+nightly",
        )
        .await;
    assert!(upid.contains(":vzdump:200:"), "{upid}");
    // The container is locked while it is backed up.
    sim.post("/nodes/pve1/lxc/200/status/stop")
        .await
        .assert_error(500, "CT is locked (backup)");
    let st = sim.wait_task("pve1", &upid).await;
    assert_eq!(st["exitstatus"], "OK", "{st}");
    let log = sim
        .get(&format!("/nodes/pve1/tasks/{upid}/log"))
        .await
        .data();
    let text: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["t"].as_str())
        .collect();
    assert!(
        text.iter()
            .any(|l| l.contains("Starting Backup of VM 200 (lxc)")),
        "{text:?}"
    );
    assert_eq!(text.last().copied(), Some("TASK OK"));
    let content = sim
        .get("/nodes/pve1/storage/local/content?content=backup")
        .await
        .data();
    let vols = content.as_array().expect("content");
    assert_eq!(vols.len(), 1, "{content}");
    let v = &vols[0];
    let volid = v["volid"].as_str().expect("volid").to_owned();
    assert!(
        volid.starts_with("local:backup/vzdump-lxc-200-") && volid.ends_with(".tar.zst"),
        "{volid}"
    );
    assert_eq!(v["vmid"], 200);
    assert_eq!(v["notes"], "dns-01 nightly");
    assert_eq!(v["protected"], 1);
    assert_eq!(v["subtype"], "lxc");
    assert_eq!(v["format"], "tar.zst");
    let size = v["size"].as_u64().expect("size");
    assert!(size > 0);
    // Local storage: pve2 does not see pve1's backup.
    let other = sim.get("/nodes/pve2/storage/local/content").await.data();
    assert_eq!(other, json!([]));
    let after = sim.get("/nodes/pve1/storage").await.data();
    assert_eq!(after[0]["used"].as_u64(), Some(used_before + size));
    // Filter by vmid.
    let none = sim
        .get("/nodes/pve1/storage/local/content?vmid=100")
        .await
        .data();
    assert_eq!(none, json!([]));
    // Storage that does not hold backups, or does not exist.
    sim.form("POST", "/nodes/pve1/vzdump", "vmid=100&storage=local-lvm")
        .await
        .assert_error(
            500,
            "can't use storage 'local-lvm' for backups - wrong content type",
        );
    sim.form("POST", "/nodes/pve1/vzdump", "vmid=100&storage=nas")
        .await
        .assert_error(500, "storage 'nas' does not exist");
    sim.form("POST", "/nodes/pve1/vzdump", "vmid=100&mode=live")
        .await
        .assert_param_error(
            "mode",
            "value 'live' does not have a value in the enumeration 'snapshot, suspend, stop'",
        );

    // Restore to a new VMID.
    let enc = volid.replace(':', "%3A").replace('/', "%2F");
    let r = sim
        .task(
            "POST",
            "/nodes/pve1/lxc",
            &format!("vmid=300&ostemplate={enc}&restore=1"),
        )
        .await;
    assert!(r.contains(":vzrestore:300:"), "{r}");
    sim.wait_task("pve1", &r).await;
    let cfg = sim.get("/nodes/pve1/lxc/300/config").await.data();
    assert_eq!(cfg["hostname"], "dns-01");
    assert!(cfg.get("lock").is_none(), "{cfg}");
    assert_eq!(
        sim.guest_status("pve1", "lxc", 300).await["status"],
        "stopped"
    );
    // Over an existing guest: refused without force.
    sim.form(
        "POST",
        "/nodes/pve1/lxc",
        &format!("vmid=200&ostemplate={enc}&restore=1"),
    )
    .await
    .assert_error(
        500,
        "unable to restore CT 200 - CT 200 already exists on node 'pve1'",
    );
    // A missing archive.
    sim.form(
        "POST",
        "/nodes/pve1/lxc",
        "vmid=301&ostemplate=local%3Abackup%2Fnope.tar&restore=1",
    )
    .await
    .assert_error(500, "volume 'local:backup/nope.tar' does not exist");
}

/// A backup that does not fit the storage fails its task with PVE's "job errors" and a log
/// line naming the full disk; a restore over a protected guest is refused even with force.
#[tokio::test]
async fn full_storage_and_protected_restore() {
    let seed = state_with(|v| {
        // 101 (protected, 100 GiB disk) needs 12.5 GiB; leave 10 GiB.
        v["storage"][0]["used"] = json!(107_374_182_400u64 - 10 * 1_073_741_824);
    });
    let sim = start_sim(seed, 50).await;
    let upid = sim
        .task("POST", "/nodes/pve1/vzdump", "vmid=101&storage=local")
        .await;
    let st = sim.wait_task("pve1", &upid).await;
    assert_eq!(st["exitstatus"], "job errors", "{st}");
    let log = sim
        .get(&format!("/nodes/pve1/tasks/{upid}/log"))
        .await
        .data();
    let text: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["t"].as_str())
        .collect();
    assert!(
        text.iter().any(|l| l.contains("No space left on device")),
        "{text:?}"
    );
    assert_eq!(text.last().copied(), Some("TASK ERROR: job errors"));
    assert_eq!(
        sim.get("/nodes/pve1/storage/local/content").await.data(),
        json!([])
    );
    // The guest is unlocked again.
    assert!(
        sim.get("/nodes/pve1/qemu/101/config")
            .await
            .data()
            .get("lock")
            .is_none()
    );
    // A small guest fits; restoring it over the protected 101 is refused even with force.
    let up = sim
        .task("POST", "/nodes/pve1/vzdump", "vmid=100&storage=local")
        .await;
    assert_eq!(sim.wait_task("pve1", &up).await["exitstatus"], "OK");
    let vols = sim.get("/nodes/pve1/storage/local/content").await.data();
    let volid = vols[0]["volid"].as_str().expect("volid").to_owned();
    assert!(volid.ends_with(".vma"), "{volid}");
    let enc = volid.replace(':', "%3A").replace('/', "%2F");
    sim.form(
        "POST",
        "/nodes/pve1/qemu",
        &format!("vmid=101&archive={enc}&force=1"),
    )
    .await
    .assert_error(500, "can't remove VM 101 - protection mode enabled");
    // Restore over a stopped unprotected VM with force works and replaces its config.
    let stop = sim.action("pve1", "qemu", 100, "stop").await;
    sim.wait_task("pve1", &stop).await;
    sim.form("PUT", "/nodes/pve1/qemu/100/config", "cores=6")
        .await
        .data();
    let r = sim
        .task(
            "POST",
            "/nodes/pve1/qemu",
            &format!("vmid=100&archive={enc}&force=1"),
        )
        .await;
    sim.wait_task("pve1", &r).await;
    assert_eq!(
        sim.get("/nodes/pve1/qemu/100/config").await.data()["cores"],
        2
    );
}

/// Config updates, network interfaces and firewall rules at every level.
#[tokio::test]
async fn config_network_and_firewall() {
    let sim = start().await;
    assert_eq!(
        sim.form(
            "PUT",
            "/nodes/pve1/lxc/200/config",
            "memory=1024&description=dns&onboot=1&cipassword=s3cret"
        )
        .await
        .data(),
        Value::Null
    );
    let cfg = sim.get("/nodes/pve1/lxc/200/config").await.data();
    assert_eq!(cfg["memory"], 1024);
    assert_eq!(cfg["description"], "dns");
    assert_eq!(cfg["onboot"], "1");
    assert_eq!(cfg["cipassword"], "s3cret");
    // A VM's cloud-init password is masked, as PVE's config GET does.
    sim.form("PUT", "/nodes/pve1/qemu/100/config", "cipassword=s3cret")
        .await
        .data();
    let vm = sim.get("/nodes/pve1/qemu/100/config").await.data();
    assert_eq!(vm["cipassword"], "**********");
    sim.form("PUT", "/nodes/pve1/lxc/200/config", "memory=lots")
        .await
        .assert_param_error("memory", "type check ('integer') failed - got 'lots'");
    let net = sim.get("/nodes/pve1/network").await.data();
    let ifaces: Vec<&str> = net
        .as_array()
        .expect("net")
        .iter()
        .filter_map(|i| i["iface"].as_str())
        .collect();
    assert_eq!(ifaces, ["eno1", "vmbr0", "vmbr1"]);
    assert_eq!(net[1]["type"], "bridge");
    assert_eq!(net[1]["bridge_ports"], "eno1");
    for path in [
        "/cluster/firewall/rules",
        "/nodes/pve1/firewall/rules",
        "/nodes/pve1/qemu/100/firewall/rules",
    ] {
        let rules = sim.get(path).await.data();
        let rules = rules.as_array().expect(path);
        assert!(!rules.is_empty(), "{path}");
        for (i, r) in rules.iter().enumerate() {
            assert_eq!(r["pos"], i, "{path}");
            assert!(
                r["action"].is_string() && r["type"].is_string(),
                "{path}: {r}"
            );
        }
    }
    // The next free VMID, as a string (100, 101, 102 are taken; 103 is free).
    assert_eq!(sim.get("/cluster/nextid").await.data(), json!("103"));
    sim.get("/cluster/nextid?vmid=100")
        .await
        .assert_param_error("vmid", "VM 100 already exists");
    sim.get("/nodes/pve1/qemu/999/firewall/rules")
        .await
        .assert_error(
            500,
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
        );
}
