//! End-to-end tests of the PAN-OS simulator over real HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use simulators::common::{FaultConfig, SimControl, serve};
use simulators::panos::{INVALID_CREDENTIAL, JobTiming, PanosAuth, PanosSim, User, router};

const KEY: &str = "test-api-key==";
const VSYS1: &str =
    "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/panos")
        .join(name)
}

fn auth(with_user: bool) -> PanosAuth {
    PanosAuth {
        api_key: KEY.to_owned(),
        username: with_user.then(|| "admin".to_owned()),
        password: with_user.then(|| "s3cret&pass".to_owned()),
    }
}

struct Sim {
    base: String,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.body)
            .unwrap_or_else(|e| panic!("invalid XML ({e}): {}", self.body))
    }

    /// Text of the first descendant element named `name`.
    fn text(&self, name: &str) -> String {
        self.doc()
            .descendants()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    }

    /// Text of the child `name` of the first `<job>`.
    fn job_text(&self, name: &str) -> String {
        self.doc()
            .descendants()
            .find(|n| n.has_tag_name("job"))
            .and_then(|j| j.children().find(|c| c.has_tag_name(name)))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn start_sim(sim: PanosSim) -> Sim {
    let ctl = SimControl::new(FaultConfig::default());
    let app = router(Arc::new(sim), ctl);
    let addr: SocketAddr = serve::spawn("127.0.0.1:0".parse().expect("addr"), app)
        .await
        .expect("bind");
    Sim {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
    }
}

async fn start(file: &str) -> Sim {
    start_sim(PanosSim::from_file(&fixture(file), auth(true)).expect("fixture loads")).await
}

impl Sim {
    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }

    /// POST /api/ with a form body and the API key header.
    async fn api(&self, params: &[(&str, &str)]) -> Reply {
        self.send(
            self.http
                .post(format!("{}/api/", self.base))
                .header("X-PAN-KEY", KEY)
                .form(params),
        )
        .await
    }

    async fn show(&self, xpath: &str) -> Reply {
        self.api(&[("type", "config"), ("action", "show"), ("xpath", xpath)])
            .await
    }

    async fn get(&self, xpath: &str) -> Reply {
        self.api(&[("type", "config"), ("action", "get"), ("xpath", xpath)])
            .await
    }

    async fn op(&self, cmd: &str) -> Reply {
        self.api(&[("type", "op"), ("cmd", cmd)]).await
    }

    async fn faults(&self, v: Value) {
        let r = self
            .http
            .post(format!("{}/_sim/faults", self.base))
            .json(&v)
            .send()
            .await
            .expect("faults");
        assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
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

    async fn reset(&self) {
        let r = self
            .http
            .post(format!("{}/_sim/reset", self.base))
            .send()
            .await
            .expect("reset");
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// Names of the top-level elements inside `<result>`.
fn result_entry_names(r: &Reply) -> Vec<String> {
    let doc = r.doc();
    let result = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("result"))
        .expect("result");
    result
        .children()
        .filter(|n| n.is_element())
        .filter_map(|n| n.attribute("name").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn keygen_ok_and_bad() {
    let sim = start("firewall.xml").await;
    let url = format!("{}/api/", sim.base);
    let ok = sim
        .send(sim.http.post(&url).form(&[
            ("type", "keygen"),
            ("user", "admin"),
            ("password", "s3cret&pass"),
        ]))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body,
        "<response status=\"success\"><result><key>test-api-key==</key></result></response>"
    );
    assert_eq!(ok.content_type(), "application/xml; charset=utf-8");

    // GET with a query string, on /api without the slash.
    let ok = sim
        .send(sim.http.get(format!("{}/api", sim.base)).query(&[
            ("type", "keygen"),
            ("user", "admin"),
            ("password", "s3cret&pass"),
        ]))
        .await;
    assert_eq!(ok.text("key"), KEY);

    for params in [
        vec![("type", "keygen"), ("user", "admin"), ("password", "wrong")],
        vec![
            ("type", "keygen"),
            ("user", "root"),
            ("password", "s3cret&pass"),
        ],
        vec![("type", "keygen")],
    ] {
        let bad = sim.send(sim.http.post(&url).form(&params)).await;
        assert_eq!(bad.status, StatusCode::FORBIDDEN);
        assert_eq!(bad.body, INVALID_CREDENTIAL);
    }

    // Without --username keygen always fails.
    let nouser =
        start_sim(PanosSim::from_file(&fixture("firewall.xml"), auth(false)).expect("loads")).await;
    let bad = nouser
        .send(nouser.http.post(format!("{}/api/", nouser.base)).form(&[
            ("type", "keygen"),
            ("user", "admin"),
            ("password", "s3cret&pass"),
        ]))
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert_eq!(bad.body, INVALID_CREDENTIAL);
}

#[tokio::test]
async fn bad_or_missing_key_is_403() {
    let sim = start("firewall.xml").await;
    let url = format!("{}/api/", sim.base);
    let expected = "<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>";
    let missing = sim
        .send(sim.http.post(&url).form(&[("type", "version")]))
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.body, expected);
    assert_eq!(missing.content_type(), "application/xml; charset=utf-8");

    let wrong = sim
        .send(
            sim.http
                .post(&url)
                .header("X-PAN-KEY", "nope")
                .form(&[("type", "version")]),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.body, expected);

    let wrong_param = sim
        .send(
            sim.http
                .get(&url)
                .query(&[("type", "version"), ("key", "nope")]),
        )
        .await;
    assert_eq!(wrong_param.status, StatusCode::FORBIDDEN);

    // The key as a parameter works too, by GET and by POST.
    let ok = sim
        .send(
            sim.http
                .get(&url)
                .query(&[("type", "version"), ("key", KEY)]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let ok = sim
        .send(
            sim.http
                .post(&url)
                .form(&[("type", "version"), ("key", KEY)]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn version_firewall_and_panorama() {
    let fw = start("firewall.xml").await;
    let r = fw.api(&[("type", "version")]).await;
    assert_eq!(
        r.body,
        "<response status=\"success\"><result><sw-version>10.1.0</sw-version><multi-vsys>off</multi-vsys><model>PA-VM</model><serial>SIM0001</serial></result></response>"
    );
    let pano = start("panorama.xml").await;
    let r = pano.api(&[("type", "version")]).await;
    assert_eq!(r.text("model"), "Panorama");
    assert_eq!(r.text("sw-version"), "10.1.0");
}

#[tokio::test]
async fn invalid_type_and_unsupported_action() {
    let sim = start("firewall.xml").await;
    let r = sim.api(&[("type", "bogus")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"400\"><result><msg>Parameter \"type\" is invalid</msg></result></response>"
    );
    let r = sim.api(&[]).await;
    assert!(r.body.contains("code=\"400\""), "{}", r.body);
    let put = sim
        .send(
            sim.http
                .put(format!("{}/api/", sim.base))
                .header("X-PAN-KEY", KEY),
        )
        .await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    // `clone` and `override` are real actions the simulator does not implement.
    let r = sim
        .api(&[
            ("type", "config"),
            ("action", "clone"),
            ("xpath", "/config/shared/address"),
            ("from", "/config/shared/address/entry[@name='x']"),
            ("newname", "y"),
        ])
        .await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"12\"><msg><line>action not supported by the simulator</line></msg></response>"
    );
}

#[tokio::test]
async fn config_show_and_get_found_and_missing() {
    let sim = start("firewall.xml").await;
    let xp = format!("{VSYS1}/address/entry[@name='web-srv-01']");

    let show = sim.show(&xp).await;
    assert_eq!(show.status, StatusCode::OK);
    assert_eq!(show.content_type(), "application/xml; charset=utf-8");
    assert!(
        show.body.starts_with(
            "<response status=\"success\"><result><entry name=\"web-srv-01\"><ip-netmask>10.10.1.10</ip-netmask>"
        ),
        "{}",
        show.body
    );
    assert!(!show.body.contains("total-count"));
    assert!(!show.body.contains("code="));
    assert_eq!(show.text("description"), "Primary web server");

    let get = sim.get(&xp).await;
    assert!(
        get.body.starts_with(
            "<response status=\"success\" code=\"19\"><result total-count=\"1\" count=\"1\"><entry name=\"web-srv-01\" admin=\"admin\" dirtyId=\"1\" time=\"2026/11/21 00:00:00\"><ip-netmask>"
        ),
        "{}",
        get.body
    );
    assert!(get.body.ends_with("</entry></result></response>"));

    let missing = format!("{VSYS1}/address/entry[@name='no-such-object']");
    let show = sim.show(&missing).await;
    assert_eq!(show.status, StatusCode::OK);
    assert_eq!(
        show.body,
        "<response status=\"error\"><msg><line>No such node</line></msg></response>"
    );
    let get = sim.get(&missing).await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(
        get.body,
        "<response status=\"success\" code=\"7\"><result/></response>"
    );

    // Values with '/' inside a predicate, and double quotes.
    let eth = sim
        .show("/config/devices/entry[@name=\"localhost.localdomain\"]/network/interface/ethernet/entry[@name='ethernet1/7']/comment")
        .await;
    assert_eq!(
        eth.body,
        "<response status=\"success\"><result><comment>SPAN port</comment></result></response>"
    );
}

#[tokio::test]
async fn bad_xpath_is_code_6() {
    let sim = start("firewall.xml").await;
    for bad in [
        "",
        "config/devices",
        "//entry",
        "/config//address",
        "/config/devices/entry[1]",
        "/config/devices/entry[@name='x'",
        "/config/devices/entry[@uuid='x']",
        "/config/devices/",
    ] {
        for action in ["get", "show"] {
            let r = sim
                .api(&[("type", "config"), ("action", action), ("xpath", bad)])
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(
                r.body
                    .starts_with("<response status=\"error\" code=\"6\"><msg><line>bad xpath: "),
                "{bad}: {}",
                r.body
            );
            assert!(r.body.ends_with("</line></msg></response>"));
        }
    }
}

#[tokio::test]
async fn predicate_less_step_returns_all_entries() {
    let sim = start("firewall.xml").await;
    let r = sim.show(&format!("{VSYS1}/address/entry")).await;
    assert!(
        r.body
            .starts_with("<response status=\"success\"><result total-count=\"12\" count=\"12\">"),
        "{}",
        r.body
    );
    assert_eq!(
        result_entry_names(&r),
        [
            "web-srv-01",
            "web-srv-02",
            "db-srv-01",
            "net-trust",
            "net-dmz",
            "bastion-ext",
            "host-v6-mgmt",
            "range-dhcp-pool",
            "range-partner",
            "wild-branch-gw",
            "fqdn-updates",
            "fqdn-partner-api",
        ]
    );
    let r = sim.get(&format!("{VSYS1}/address/entry")).await;
    assert!(r.body.contains("<result total-count=\"12\" count=\"12\">"));
    assert_eq!(r.body.matches("dirtyId=\"1\"").count(), 12);

    // Steps without predicates match every parent too (all devices, all vsys).
    let rules = sim
        .show("/config/devices/entry/vsys/entry/rulebase/security/rules/entry")
        .await;
    assert_eq!(
        result_entry_names(&rules),
        [
            "allow-web-inbound",
            "drop-ssh-not-bastion",
            "allow-ssh-bastion",
            "legacy-allow-any",
            "allow-users-web-out",
            "allow-app-tier",
            "allow-dns-out",
            "deny-all",
        ]
    );
    let zones = sim.show(&format!("{VSYS1}/zone/entry")).await;
    assert_eq!(
        result_entry_names(&zones),
        [
            "untrust",
            "trust",
            "lab-l2",
            "inline-vwire",
            "span-tap",
            "vpn"
        ]
    );
    // A single match via a predicate-less step has no counts.
    let host = sim
        .show("/config/devices/entry/deviceconfig/system/hostname")
        .await;
    assert_eq!(
        host.body,
        "<response status=\"success\"><result><hostname>fw-sim-01</hostname></result></response>"
    );
}

#[tokio::test]
async fn show_system_info_values() {
    let sim = start("firewall.xml").await;
    let r = sim.op("<show><system><info></info></system></show>").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .starts_with("<response status=\"success\"><result><system><hostname>"),
        "{}",
        r.body
    );
    let expect = [
        ("hostname", "fw-sim-01"),
        ("ip-address", "192.0.2.10"),
        ("netmask", "255.255.255.0"),
        ("default-gateway", "192.0.2.1"),
        ("mac-address", "00:00:5e:00:53:01"),
        ("devicename", "fw-sim-01"),
        ("family", "vm"),
        ("model", "PA-VM"),
        ("serial", "SIM0001"),
        ("sw-version", "10.1.0"),
        ("app-version", "8700-1234"),
        ("threat-version", "8700-1234"),
        ("multi-vsys", "off"),
        ("operational-mode", "normal"),
    ];
    for (k, v) in expect {
        assert_eq!(r.text(k), v, "{k}");
    }
    let uptime = r.text("uptime");
    assert!(uptime.starts_with("0 days, 0:00:"), "{uptime}");
    assert!(!r.text("time").is_empty());
    let names: Vec<String> = r
        .doc()
        .descendants()
        .find(|n| n.has_tag_name("system"))
        .expect("system")
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "hostname",
            "ip-address",
            "netmask",
            "default-gateway",
            "mac-address",
            "time",
            "uptime",
            "devicename",
            "family",
            "model",
            "serial",
            "sw-version",
            "app-version",
            "threat-version",
            "multi-vsys",
            "operational-mode"
        ]
    );

    let pano = start("panorama.xml").await;
    let r = pano.op("<show><system><info/></system></show>").await;
    assert_eq!(r.text("hostname"), "panorama-sim");
    assert_eq!(r.text("family"), "m");
    assert_eq!(r.text("model"), "Panorama");

    // Defaults when the config has no deviceconfig.
    let bare = start_sim(
        PanosSim::from_xml("<config version=\"9.1.0\"><shared/></config>", auth(true))
            .expect("xml"),
    )
    .await;
    let r = bare.op("<show><system><info/></system></show>").await;
    assert_eq!(r.text("hostname"), "sim-fw");
    assert_eq!(r.text("ip-address"), "127.0.0.1");
    assert_eq!(r.text("sw-version"), "9.1.0");
}

#[tokio::test]
async fn unknown_and_malformed_op_commands() {
    let sim = start("firewall.xml").await;
    let r = sim.op("<show><bogus><all/></bogus></show>").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        "<response status=\"error\"><msg><line><![CDATA[ show -> is unexpected]]></line></msg></response>"
    );
    let r = sim
        .op("<request><restart><system/></restart></request>")
        .await;
    assert!(r.body.contains("<![CDATA[ request -> is unexpected]]>"));
    for bad in ["<show><system>", "not xml", ""] {
        let r = sim.op(bad).await;
        assert_eq!(
            r.body,
            "<response status=\"error\"><msg><line>malformed command</line></msg></response>",
            "{bad}"
        );
    }
    let r = sim.api(&[("type", "op")]).await;
    assert!(r.body.contains("malformed command"));
}

#[derive(Debug, Default)]
struct Flow<'a> {
    from: &'a str,
    to: &'a str,
    src: &'a str,
    dst: &'a str,
    port: &'a str,
    proto: &'a str,
    app: Option<&'a str>,
    user: Option<&'a str>,
}

impl Flow<'_> {
    fn cmd(&self) -> String {
        let mut c = format!(
            "<test><security-policy-match><from>{}</from><to>{}</to><source>{}</source><destination>{}</destination><destination-port>{}</destination-port><protocol>{}</protocol>",
            self.from, self.to, self.src, self.dst, self.port, self.proto
        );
        if let Some(a) = self.app {
            c.push_str(&format!("<application>{a}</application>"));
        }
        if let Some(u) = self.user {
            c.push_str(&format!("<source-user>{u}</source-user>"));
        }
        c.push_str("</security-policy-match></test>");
        c
    }
}

/// (rule name, index, action) of a policy-match answer.
async fn policy_match(sim: &Sim, flow: &Flow<'_>, vsys: Option<&str>) -> (String, String, String) {
    let cmd = flow.cmd();
    let mut params = vec![("type", "op"), ("cmd", cmd.as_str())];
    if let Some(v) = vsys {
        params.push(("vsys", v));
    }
    let r = sim.api(&params).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .starts_with("<response status=\"success\"><result><rules><entry name=\""),
        "{}",
        r.body
    );
    let doc = r.doc();
    let entries: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .collect();
    assert_eq!(entries.len(), 1, "{}", r.body);
    let e = entries[0];
    let child = |name: &str| {
        e.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    for tag in [
        "from",
        "to",
        "source",
        "destination",
        "application",
        "service",
    ] {
        assert!(
            e.children().any(|n| n.has_tag_name(tag)),
            "{tag} missing: {}",
            r.body
        );
    }
    (
        e.attribute("name").unwrap_or_default().to_owned(),
        child("index"),
        child("action"),
    )
}

fn verdict(name: &str, index: u32, action: &str) -> (String, String, String) {
    (name.to_owned(), index.to_string(), action.to_owned())
}

#[tokio::test]
async fn security_policy_match_cases() {
    let sim = start("firewall.xml").await;
    let inbound = Flow {
        from: "untrust",
        to: "trust",
        src: "198.51.100.99",
        dst: "10.10.1.10",
        port: "443",
        proto: "6",
        app: Some("ssl"),
        ..Flow::default()
    };
    // Address group member via service-https.
    assert_eq!(
        policy_match(&sim, &inbound, None).await,
        verdict("allow-web-inbound", 1, "allow")
    );
    // Matched rule's members are copied.
    let r = sim.op(&inbound.cmd()).await;
    assert!(
        r.body
            .contains("<destination><member>grp-web-servers</member></destination>")
    );
    assert!(r.body.contains(
        "<service><member>service-http</member><member>service-https</member></service>"
    ));

    // service-http covers 8080 but not 8443; the catch-all takes the rest.
    let alt = Flow {
        port: "8080",
        dst: "10.10.1.11",
        ..inbound
    };
    assert_eq!(policy_match(&sim, &alt, None).await.0, "allow-web-inbound");
    let alt = Flow {
        port: "8443",
        dst: "10.10.1.11",
        ..inbound
    };
    assert_eq!(
        policy_match(&sim, &alt, None).await,
        verdict("deny-all", 8, "deny")
    );

    // negate-source: SSH from anything but the bastion is dropped by rule 2,
    // the bastion itself falls through to rule 3.
    let ssh = Flow {
        from: "untrust",
        to: "trust",
        src: "198.51.100.99",
        dst: "10.10.3.3",
        port: "2222",
        proto: "6",
        app: Some("ssh"),
        ..Flow::default()
    };
    assert_eq!(
        policy_match(&sim, &ssh, None).await,
        verdict("drop-ssh-not-bastion", 2, "drop")
    );
    let bastion = Flow {
        src: "203.0.113.50",
        ..ssh
    };
    assert_eq!(
        policy_match(&sim, &bastion, None).await,
        verdict("allow-ssh-bastion", 3, "allow")
    );

    // The disabled any/any allow (rule 4) is skipped.
    let rdp = Flow {
        from: "untrust",
        to: "trust",
        src: "198.51.100.200",
        dst: "10.10.9.9",
        port: "3389",
        proto: "6",
        ..Flow::default()
    };
    assert_eq!(
        policy_match(&sim, &rdp, None).await,
        verdict("deny-all", 8, "deny")
    );

    // Nested address group (grp-app-tier > grp-web-servers / db-srv-01) and a
    // service group whose object is a port range (svc-web-range 8000-8100).
    let app_tier = Flow {
        from: "trust",
        to: "trust",
        src: "10.10.4.4",
        dst: "10.10.2.20",
        port: "8050",
        proto: "6",
        ..Flow::default()
    };
    assert_eq!(
        policy_match(&sim, &app_tier, None).await,
        verdict("allow-app-tier", 6, "allow")
    );
    let nested = Flow {
        dst: "10.10.1.11",
        port: "8100",
        ..app_tier
    };
    assert_eq!(policy_match(&sim, &nested, None).await.0, "allow-app-tier");
    let out_of_range = Flow {
        port: "8101",
        ..app_tier
    };
    assert_eq!(policy_match(&sim, &out_of_range, None).await.0, "deny-all");
    let udp = Flow {
        proto: "17",
        ..app_tier
    };
    assert_eq!(policy_match(&sim, &udp, None).await.0, "deny-all");
    // Source from an ip-range object outside net-trust? range-dhcp-pool is inside
    // net-trust; 10.11.0.1 is in neither.
    let outsider = Flow {
        src: "10.11.0.1",
        ..app_tier
    };
    assert_eq!(policy_match(&sim, &outsider, None).await.0, "deny-all");

    // First match wins: rule 5 before the catch-all; the group of shared
    // objects (grp-dns-servers) resolves for rule 7.
    let web_out = Flow {
        from: "trust",
        to: "untrust",
        src: "10.10.5.5",
        dst: "203.0.113.80",
        port: "443",
        proto: "6",
        app: Some("ssl"),
        ..Flow::default()
    };
    assert_eq!(
        policy_match(&sim, &web_out, None).await,
        verdict("allow-users-web-out", 5, "allow")
    );
    let dns = Flow {
        dst: "198.51.100.54",
        port: "53",
        proto: "17",
        app: Some("dns"),
        ..web_out
    };
    assert_eq!(
        policy_match(&sim, &dns, None).await,
        verdict("allow-dns-out", 7, "allow")
    );
    let dns_elsewhere = Flow {
        dst: "198.51.100.99",
        ..dns
    };
    assert_eq!(policy_match(&sim, &dns_elsewhere, None).await.0, "deny-all");

    // source-user: only checked when the request names a user.
    let alice = Flow {
        user: Some("corp\\alice"),
        ..web_out
    };
    assert_eq!(
        policy_match(&sim, &alice, None).await.0,
        "allow-users-web-out"
    );
    let bob = Flow {
        user: Some("corp\\bob"),
        ..web_out
    };
    assert_eq!(policy_match(&sim, &bob, None).await.0, "deny-all");

    // Unknown vsys: no rules, so the default rules apply.
    assert_eq!(
        policy_match(&sim, &web_out, Some("vsys9")).await,
        verdict("interzone-default", 0, "deny")
    );
}

#[tokio::test]
async fn security_policy_match_defaults_and_errors() {
    let xml = r#"<config version="10.1.0"><devices><entry name="localhost.localdomain"><vsys>
        <entry name="vsys1"><rulebase><security><rules>
          <entry name="only-web"><from><member>trust</member></from><to><member>untrust</member></to>
            <source><member>10.0.0.0/8</member></source><destination><member>192.0.2.10-192.0.2.20</member></destination>
            <application><member>any</member></application><service><member>service-https</member></service>
            <action>allow</action></entry>
        </rules></security></rulebase></entry>
        <entry name="vsys2"><rulebase><security><rules>
          <entry name="v2-any"><from><member>any</member></from><to><member>any</member></to>
            <source><member>any</member></source><destination><member>any</member></destination>
            <application><member>any</member></application><service><member>any</member></service>
            <action>deny</action></entry>
        </rules></security></rulebase></entry>
    </vsys></entry></devices></config>"#;
    let sim = start_sim(PanosSim::from_xml(xml, auth(true)).expect("xml")).await;
    let hit = Flow {
        from: "trust",
        to: "untrust",
        src: "10.1.2.3",
        dst: "192.0.2.15",
        port: "443",
        proto: "6",
        ..Flow::default()
    };
    assert_eq!(
        policy_match(&sim, &hit, None).await,
        verdict("only-web", 1, "allow")
    );
    let inter = Flow {
        dst: "192.0.2.21",
        ..hit
    };
    assert_eq!(
        policy_match(&sim, &inter, None).await,
        verdict("interzone-default", 0, "deny")
    );
    let intra = Flow { to: "trust", ..hit };
    assert_eq!(
        policy_match(&sim, &intra, None).await,
        verdict("intrazone-default", 0, "allow")
    );
    // The vsys parameter selects the rulebase.
    assert_eq!(
        policy_match(&sim, &intra, Some("vsys2")).await,
        verdict("v2-any", 1, "deny")
    );

    let bad = sim
        .op("<test><security-policy-match><from>a</from><to>b</to><source>not-an-ip</source></security-policy-match></test>")
        .await;
    assert!(
        bad.body.starts_with("<response status=\"error\">"),
        "{}",
        bad.body
    );

    let pano = start("panorama.xml").await;
    let r = pano.op(&hit.cmd()).await;
    assert_eq!(
        r.body,
        "<response status=\"error\"><msg><line>test security-policy-match is not supported on Panorama</line></msg></response>"
    );
}

#[tokio::test]
async fn faults_one_shot_and_rate() {
    let sim = start("firewall.xml").await;
    let version = [("type", "version")];

    sim.faults(json!({"latency_ms": 50})).await;
    let r = sim.api(&version).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text("model"), "PA-VM");

    sim.faults(json!({"fail_next": 2, "fail_status": 503}))
        .await;
    for _ in 0..2 {
        let r = sim.api(&version).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.body, "<html><body>Internal Server Error</body></html>");
    }
    assert_eq!(sim.api(&version).await.status, StatusCode::OK);

    sim.faults(json!({"fail_next": 1})).await;
    assert_eq!(
        sim.api(&version).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    sim.faults(json!({"malformed_next": 1})).await;
    let r = sim.api(&version).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "<response status=\"success\"><result><unclosed>");
    assert!(roxmltree::Document::parse(&r.body).is_err());

    sim.faults(json!({"rate_limit_next": 1, "retry_after_secs": 3}))
        .await;
    let r = sim.api(&version).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_eq!(
        r.body,
        "<response status=\"error\"><msg><line>Too many requests</line></msg></response>"
    );
    sim.faults(json!({"rate_limit_next": 1})).await;
    let r = sim.api(&version).await;
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );

    sim.faults(json!({"drop_next": 1})).await;
    let err = sim
        .http
        .post(format!("{}/api/", sim.base))
        .header("X-PAN-KEY", KEY)
        .form(&version)
        .send()
        .await
        .expect_err("a dropped connection is a client error, not a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(sim.api(&version).await.status, StatusCode::OK);

    // Faults apply before authentication.
    sim.faults(json!({"fail_next": 1})).await;
    let r = sim
        .send(sim.http.post(format!("{}/api/", sim.base)).form(&version))
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);

    sim.faults(json!({"fail_rate": 1.0, "fail_status": 502}))
        .await;
    for _ in 0..3 {
        assert_eq!(sim.api(&version).await.status, StatusCode::BAD_GATEWAY);
    }
    // Reset returns to the initial (no-fault) settings.
    sim.reset().await;
    assert_eq!(sim.api(&version).await.status, StatusCode::OK);

    // Invalid settings are refused.
    let r = sim
        .http
        .post(format!("{}/_sim/faults", sim.base))
        .json(&json!({"fail_rate": 2.0}))
        .send()
        .await
        .expect("faults");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stats_count_and_reset() {
    let sim = start("firewall.xml").await;
    assert_eq!(
        sim.stats().await,
        json!({"total": 0, "by_type": {}, "by_key": {}})
    );
    let xp = format!("{VSYS1}/address");
    sim.get(&xp).await;
    sim.get(&xp).await;
    sim.show(&xp).await;
    sim.op("<show><system><info></info></system></show>").await;
    sim.api(&[("type", "version")]).await;
    // Counted even when refused or faulted.
    sim.send(
        sim.http
            .post(format!("{}/api/", sim.base))
            .form(&[("type", "version")]),
    )
    .await;
    sim.send(sim.http.post(format!("{}/api/", sim.base)).form(&[
        ("type", "keygen"),
        ("user", "admin"),
        ("password", "x"),
    ]))
    .await;
    sim.faults(json!({"fail_next": 1})).await;
    sim.op("<test><security-policy-match><from>a</from><to>b</to></security-policy-match></test>")
        .await;

    let s = sim.stats().await;
    assert_eq!(s["total"], 8, "{s}");
    assert_eq!(s["by_type"]["config"], 3);
    assert_eq!(s["by_type"]["op"], 2);
    assert_eq!(s["by_type"]["version"], 2);
    assert_eq!(s["by_type"]["keygen"], 1);
    assert_eq!(s["by_key"][format!("config:get:{xp}")], 2);
    assert_eq!(s["by_key"][format!("config:show:{xp}")], 1);
    assert_eq!(s["by_key"]["op:show-system-info"], 1);
    assert_eq!(s["by_key"]["op:test-security-policy-match"], 1);
    assert_eq!(s["by_key"]["version"], 2);
    assert_eq!(s["by_key"]["keygen"], 1);

    // /_sim endpoints are not counted.
    assert_eq!(sim.stats().await["total"], 8);
    sim.reset().await;
    assert_eq!(
        sim.stats().await,
        json!({"total": 0, "by_type": {}, "by_key": {}})
    );
}

/// Runs the real binary: first stdout line, then one request.
#[tokio::test]
async fn binary_announces_its_address() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args([
            "panos",
            "--bind",
            "127.0.0.1:0",
            "--api-key",
            KEY,
            "--config",
        ])
        .arg(fixture("firewall.xml"))
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
    let addr = first
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    assert!(addr.parse::<u16>().is_ok_and(|p| p != 0), "{first}");
    let base = first.trim_start_matches("listening on ").to_owned();
    let sim = Sim {
        base,
        http: reqwest::Client::new(),
    };
    let r = sim.api(&[("type", "version")]).await;
    assert_eq!(r.text("model"), "PA-VM");
    child.kill().await.expect("kill");
}

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("SECOPS_FIXTURES_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    }
}

/// Loads the real-world configs from the shared fixtures folder.
#[tokio::test]
async fn shared_real_world_configs() {
    let configs = fixtures_dir().join("panos/configs");
    if !configs.is_dir() {
        // Without the fixtures this test cannot check anything, so it must not pass.
        panic!(
            "SECOPS_FIXTURES_DIR not found ({} is not a directory): this test needs the shared fixtures",
            configs.display()
        );
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&configs)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "expected configs in {}",
        configs.display()
    );

    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let sim = PanosSim::from_file(file, auth(true))
            .unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        let sim = start_sim(sim).await;
        let v = sim.api(&[("type", "version")]).await;
        assert_eq!(v.status, StatusCode::OK, "{name}");
        let info = sim.op("<show><system><info/></system></show>").await;
        assert!(
            info.body.starts_with("<response status=\"success\">"),
            "{name}"
        );

        if name == "firewall-8.0-vsys1.xml" {
            assert_eq!(v.text("model"), "PA-VM");
            assert_eq!(v.text("sw-version"), "8.0.0");
            let vsys =
                "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']";
            for (rel, n) in [
                ("address/entry", 68),
                ("address-group/entry", 4),
                ("zone/entry", 10),
                ("rulebase/security/rules/entry", 58),
            ] {
                let r = sim.get(&format!("{vsys}/{rel}")).await;
                let want = format!("<result total-count=\"{n}\" count=\"{n}\">");
                assert!(
                    r.body.contains(&want),
                    "{rel}: want {n}: {}",
                    &r.body[..r.body.len().min(200)]
                );
                assert_eq!(result_entry_names(&r).len(), n, "{rel}");
            }
            // Rules come back in document order.
            let text = std::fs::read_to_string(file).expect("read");
            let doc = roxmltree::Document::parse(&text).expect("parse");
            let expected: Vec<String> = doc
                .descendants()
                .filter(|n| {
                    n.has_tag_name("rules")
                        && n.parent().is_some_and(|p| p.has_tag_name("security"))
                })
                .filter(|n| n.ancestors().any(|a| a.has_tag_name("vsys")))
                .flat_map(|rules| {
                    rules
                        .children()
                        .filter(|c| c.has_tag_name("entry"))
                        .filter_map(|c| c.attribute("name").map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(expected.len(), 58);
            let r = sim
                .show(&format!("{vsys}/rulebase/security/rules/entry"))
                .await;
            assert_eq!(result_entry_names(&r), expected);
            // And policy matching runs over the real rulebase.
            let first = &expected[0];
            let r = sim.op("<test><security-policy-match><from>trust</from><to>untrust</to><source>192.168.10.20</source><destination>198.51.100.1</destination><destination-port>443</destination-port><protocol>6</protocol></security-policy-match></test>").await;
            assert!(r.body.contains("<rules><entry name="), "{}", r.body);
            assert!(!first.is_empty());
        }
        if name == "panorama-8.1.xml" {
            assert_eq!(v.text("model"), "Panorama");
            let dg = "/config/devices/entry[@name='localhost.localdomain']/device-group/entry";
            let groups = sim.get(dg).await;
            assert!(result_entry_names(&groups).len() >= 2, "{name}");
            let pre = sim
                .show(&format!("{dg}/pre-rulebase/security/rules/entry"))
                .await;
            let post = sim
                .show(&format!("{dg}/post-rulebase/security/rules/entry"))
                .await;
            assert!(!result_entry_names(&pre).is_empty(), "pre-rulebase");
            assert!(!result_entry_names(&post).is_empty(), "post-rulebase");
            let parents = sim
                .show("/config/readonly/devices/entry[@name='localhost.localdomain']/device-group/entry/parent-dg")
                .await;
            assert!(parents.body.contains("<parent-dg>"), "{}", parents.body);
            let r = sim.op("<test><security-policy-match><from>a</from><to>b</to></security-policy-match></test>").await;
            assert!(r.body.contains("not supported on Panorama"));
        }
    }
}

/// The fixture README's promises, checked against the fixtures.
#[tokio::test]
async fn own_panorama_fixture_shape() {
    let sim = start("panorama.xml").await;
    let dg = "/config/devices/entry[@name='localhost.localdomain']/device-group/entry";
    assert_eq!(
        result_entry_names(&sim.show(dg).await),
        ["DG-Root", "DG-Branch", "DG-Datacenter"]
    );
    let parents = sim
        .show("/config/readonly/devices/entry[@name='localhost.localdomain']/device-group/entry[@name='DG-Branch']/parent-dg")
        .await;
    assert_eq!(
        parents.body,
        "<response status=\"success\"><result><parent-dg>DG-Root</parent-dg></result></response>"
    );
    let zones = sim
        .show("/config/devices/entry[@name='localhost.localdomain']/template/entry[@name='TPL-Datacenter']/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']/zone/entry")
        .await;
    assert_eq!(
        result_entry_names(&zones),
        ["dc-untrust", "dc-servers", "dc-inline"]
    );
    let shared = sim.show("/config/shared/address/entry").await;
    assert_eq!(result_entry_names(&shared).len(), 4);
    let pre = sim
        .show("/config/shared/pre-rulebase/security/rules/entry")
        .await;
    assert_eq!(
        result_entry_names(&pre),
        ["shared-pre-block-p2p", "shared-pre-allow-dns"]
    );
}

// ---------------------------------------------------------------------------
// Change management: the candidate configuration, commit jobs, locks, push,
// hit counts. Two administrators: `admin` (KEY) and `bob` (BOB_KEY).
// ---------------------------------------------------------------------------

const BOB_KEY: &str = "bob-api-key";
const OK20: &str =
    "<response status=\"success\" code=\"20\"><msg>command succeeded</msg></response>";
const NO_SUCH_NODE: &str =
    "<response status=\"error\"><msg><line>No such node</line></msg></response>";
const GET_MISSING: &str = "<response status=\"success\" code=\"7\"><result/></response>";
const NO_CHANGES: &str = "<response status=\"success\" code=\"19\"><msg>There are no changes to commit.</msg></response>";

fn vsys1(rel: &str) -> String {
    format!("{VSYS1}/{rel}")
}

fn bob() -> User {
    User {
        name: "bob".to_owned(),
        password: Some("bob-pass".to_owned()),
        api_key: BOB_KEY.to_owned(),
    }
}

/// A simulator with the admins `admin` and `bob` whose jobs finish on the
/// third `show jobs` poll (never by time, so every poll is deterministic).
async fn start_admins(file: &str) -> Sim {
    let sim = PanosSim::from_file(&fixture(file), auth(true))
        .expect("fixture loads")
        .with_user(bob())
        .with_job_timing(JobTiming {
            polls: 3,
            max_age: None,
        });
    start_sim(sim).await
}

impl Sim {
    async fn api_as(&self, key: &str, params: &[(&str, &str)]) -> Reply {
        self.send(
            self.http
                .post(format!("{}/api/", self.base))
                .header("X-PAN-KEY", key)
                .form(params),
        )
        .await
    }

    async fn set_as(&self, key: &str, xpath: &str, element: &str) -> Reply {
        self.api_as(
            key,
            &[
                ("type", "config"),
                ("action", "set"),
                ("xpath", xpath),
                ("element", element),
            ],
        )
        .await
    }

    async fn set(&self, xpath: &str, element: &str) -> Reply {
        self.set_as(KEY, xpath, element).await
    }

    async fn edit(&self, xpath: &str, element: &str) -> Reply {
        self.api(&[
            ("type", "config"),
            ("action", "edit"),
            ("xpath", xpath),
            ("element", element),
        ])
        .await
    }

    async fn delete_as(&self, key: &str, xpath: &str) -> Reply {
        self.api_as(
            key,
            &[("type", "config"), ("action", "delete"), ("xpath", xpath)],
        )
        .await
    }

    async fn delete(&self, xpath: &str) -> Reply {
        self.delete_as(KEY, xpath).await
    }

    async fn op_as(&self, key: &str, cmd: &str) -> Reply {
        self.api_as(key, &[("type", "op"), ("cmd", cmd)]).await
    }

    async fn commit_as(&self, key: &str, cmd: &str) -> Reply {
        self.api_as(key, &[("type", "commit"), ("cmd", cmd)]).await
    }

    async fn job(&self, id: &str) -> Reply {
        self.op(&format!("<show><jobs><id>{id}</id></jobs></show>"))
            .await
    }

    /// Polls `show jobs id` until the job is FIN, at most `max` times, and
    /// returns every answer (the last one is FIN).
    async fn poll_job(&self, id: &str, max: usize) -> Vec<Reply> {
        let mut seen = Vec::new();
        for _ in 0..max {
            let r = self.job(id).await;
            let fin = r.job_text("status") == "FIN";
            seen.push(r);
            if fin {
                return seen;
            }
        }
        panic!(
            "job {id} not FIN after {max} polls: {}",
            seen.last().map(|r| r.body.as_str()).unwrap_or_default()
        );
    }

    /// Commits with `cmd` as `key` and polls the job to FIN; returns the last answer.
    async fn commit_and_wait(&self, key: &str, cmd: &str) -> Reply {
        let r = self.commit_as(key, cmd).await;
        let id = r.text("job");
        assert!(!id.is_empty(), "no job: {}", r.body);
        let mut polls = self.poll_job(&id, 10).await;
        polls.pop().expect("a FIN answer")
    }

    async fn pending(&self) -> String {
        self.op("<check><pending-changes></pending-changes></check>")
            .await
            .text("result")
    }
}

/// Texts of every `member` element in a reply, in document order.
fn members(r: &Reply) -> Vec<String> {
    r.doc()
        .descendants()
        .filter(|n| n.has_tag_name("member"))
        .map(|n| n.text().unwrap_or_default().trim().to_owned())
        .collect()
}

/// Texts of every `line` element in a reply, in document order.
fn lines(r: &Reply) -> Vec<String> {
    r.doc()
        .descendants()
        .filter(|n| n.has_tag_name("line"))
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect()
}

fn rule_names(r: &Reply) -> Vec<String> {
    result_entry_names(r)
}

const NEW_HOST: &str = "<entry name='new-host'><ip-netmask>192.0.2.77/32</ip-netmask><description>added</description></entry>";

#[tokio::test]
async fn set_merges_into_the_candidate_only() {
    let sim = start_admins("firewall.xml").await;
    let obj = vsys1("address/entry[@name='new-host']");
    assert_eq!(sim.set(&vsys1("address"), NEW_HOST).await.body, OK20);
    let got = sim.get(&obj).await;
    assert!(
        got.body
            .starts_with("<response status=\"success\" code=\"19\"><result total-count=\"1\" count=\"1\"><entry name=\"new-host\""),
        "{}",
        got.body
    );
    assert_eq!(got.text("ip-netmask"), "192.0.2.77/32");
    // The running configuration does not change before a commit.
    assert_eq!(sim.show(&obj).await.body, NO_SUCH_NODE);

    // A set merges: the tag is added and the description stays.
    assert_eq!(
        sim.set(&obj, "<tag><member>web</member></tag>").await.body,
        OK20
    );
    let got = sim.get(&obj).await;
    assert_eq!(got.text("description"), "added");
    assert_eq!(members(&got), ["web"]);
    // Several elements in one set.
    assert_eq!(
        sim.set(
            &obj,
            "<description>two</description><tag><member>prod</member></tag>"
        )
        .await
        .body,
        OK20
    );
    let got = sim.get(&obj).await;
    assert_eq!(got.text("description"), "two");
    assert_eq!(members(&got), ["web", "prod"]);

    // On a member list a set appends, and only once.
    let grp = vsys1("address-group/entry[@name='grp-web-servers']");
    assert_eq!(
        sim.set(&grp, "<static><member>new-host</member></static>")
            .await
            .body,
        OK20
    );
    assert_eq!(
        sim.set(&format!("{grp}/static"), "<member>new-host</member>")
            .await
            .body,
        OK20
    );
    assert_eq!(
        members(&sim.get(&format!("{grp}/static")).await),
        ["web-srv-01", "web-srv-02", "new-host"]
    );
    assert_eq!(
        members(&sim.show(&format!("{grp}/static")).await),
        ["web-srv-01", "web-srv-02"]
    );

    // Missing parents are created.
    let edl = vsys1("external-list/entry[@name='edl-block']");
    assert_eq!(sim.show(&vsys1("external-list")).await.body, NO_SUCH_NODE);
    assert_eq!(
        sim.set(
            &edl,
            "<type><ip><url>https://lists.example.com/block.txt</url></ip></type>"
        )
        .await
        .body,
        OK20
    );
    assert_eq!(
        sim.get(&edl).await.text("url"),
        "https://lists.example.com/block.txt"
    );
}

#[tokio::test]
async fn edit_replaces_the_node() {
    let sim = start_admins("firewall.xml").await;
    let obj = vsys1("address/entry[@name='web-srv-01']");
    assert_eq!(
        sim.edit(
            &obj,
            "<entry name='web-srv-01'><ip-netmask>10.10.1.99/32</ip-netmask></entry>"
        )
        .await
        .body,
        OK20
    );
    let got = sim.get(&obj).await;
    assert_eq!(got.text("ip-netmask"), "10.10.1.99/32");
    assert_eq!(
        got.text("description"),
        "",
        "edit replaces, so the description is gone"
    );
    assert!(members(&got).is_empty(), "and so are the tags");
    let shown = sim.show(&obj).await;
    assert_eq!(shown.text("ip-netmask"), "10.10.1.10");
    assert_eq!(shown.text("description"), "Primary web server");

    // Editing a leaf that is not there creates it.
    assert_eq!(
        sim.edit(
            &format!("{obj}/description"),
            "<description>edited</description>"
        )
        .await
        .body,
        OK20
    );
    assert_eq!(sim.get(&obj).await.text("description"), "edited");

    // The element must be the node the xpath names.
    let breaks = "<response status=\"error\" code=\"12\"><msg><line>Edit breaks config validity</line></msg></response>";
    for bad in [
        "<entry name='other'><ip-netmask>10.0.0.1</ip-netmask></entry>",
        "<address><entry name='web-srv-01'/></address>",
        "<entry name='web-srv-01'/><entry name='web-srv-02'/>",
    ] {
        assert_eq!(sim.edit(&obj, bad).await.body, breaks, "{bad}");
    }
    assert_eq!(sim.get(&obj).await.text("ip-netmask"), "10.10.1.99/32");
}

#[tokio::test]
async fn delete_from_the_candidate() {
    let sim = start_admins("firewall.xml").await;
    let obj = vsys1("address/entry[@name='fqdn-updates']");
    assert_eq!(sim.delete(&obj).await.body, OK20);
    assert_eq!(sim.get(&obj).await.body, GET_MISSING);
    assert_eq!(sim.show(&obj).await.text("fqdn"), "updates.example.com");

    // An absent node: success with code 7, as PAN-OS answers it.
    assert_eq!(
        sim.delete(&vsys1("address/entry[@name='never-existed']"))
            .await
            .body,
        "<response status=\"success\" code=\"7\"><msg>Object doesn't exist</msg></response>"
    );

    // One member, selected by its text.
    let grp = vsys1("address-group/entry[@name='grp-web-servers']/static");
    assert_eq!(
        sim.delete(&format!("{grp}/member[text()='web-srv-02']"))
            .await
            .body,
        OK20
    );
    assert_eq!(members(&sim.get(&grp).await), ["web-srv-01"]);
}

#[tokio::test]
async fn deleting_a_referenced_object_is_refused() {
    let sim = start_admins("firewall.xml").await;
    let obj = vsys1("address/entry[@name='web-srv-01']");
    let r = sim.delete(&obj).await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"10\"><msg><line> <![CDATA[ web-srv-01]]> cannot be deleted because of references from:</line><line> vsys -> vsys1 -> address-group -> grp-web-servers -> static</line></msg></response>"
    );
    assert_eq!(sim.get(&obj).await.text("ip-netmask"), "10.10.1.10");

    // Every referrer is named, groups and rules, in document order.
    let r = sim.delete(&vsys1("address/entry[@name='net-trust']")).await;
    assert_eq!(
        lines(&r),
        [
            "  net-trust cannot be deleted because of references from:",
            " vsys -> vsys1 -> rulebase -> security -> rules -> drop-ssh-not-bastion -> destination",
            " vsys -> vsys1 -> rulebase -> security -> rules -> allow-ssh-bastion -> destination",
            " vsys -> vsys1 -> rulebase -> security -> rules -> allow-users-web-out -> source",
            " vsys -> vsys1 -> rulebase -> security -> rules -> allow-app-tier -> source",
            " vsys -> vsys1 -> rulebase -> security -> rules -> allow-dns-out -> source",
        ]
    );
    // A shared object used by a vsys group.
    let r = sim
        .delete("/config/shared/address/entry[@name='shared-dns-primary']")
        .await;
    assert!(
        r.body
            .starts_with("<response status=\"error\" code=\"10\">"),
        "{}",
        r.body
    );
    assert!(
        lines(&r)
            .contains(&" vsys -> vsys1 -> address-group -> grp-dns-servers -> static".to_owned())
    );

    // Integrity is checked against the candidate: once the reference is gone
    // (in the same uncommitted change set), the delete works.
    let member =
        vsys1("address-group/entry[@name='grp-web-servers']/static/member[text()='web-srv-01']");
    assert_eq!(sim.delete(&member).await.body, OK20);
    assert_eq!(sim.delete(&obj).await.body, OK20);
    assert_eq!(sim.get(&obj).await.body, GET_MISSING);
}

const RULE_BAD_SOURCE: &str = "<entry name='r-new'><from><member>trust</member></from><to><member>untrust</member></to><source><member>no-such-host</member></source><destination><member>any</member></destination><source-user><member>any</member></source-user><category><member>any</member></category><application><member>any</member></application><service><member>application-default</member></service><action>allow</action></entry>";

fn rule_with_source(name: &str, sources: &[&str]) -> String {
    let src: String = sources
        .iter()
        .map(|s| format!("<member>{s}</member>"))
        .collect();
    format!(
        "<entry name='{name}'><from><member>trust</member></from><to><member>untrust</member></to><source>{src}</source><destination><member>any</member></destination><source-user><member>any</member></source-user><category><member>any</member></category><application><member>any</member></application><service><member>application-default</member></service><action>allow</action></entry>"
    )
}

#[tokio::test]
async fn invalid_references_are_refused_when_written() {
    let sim = start_admins("firewall.xml").await;
    let rules = vsys1("rulebase/security/rules");
    let r = sim.set(&rules, RULE_BAD_SOURCE).await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"12\"><msg><line><![CDATA[ r-new -> source 'no-such-host' is not an allowed keyword]]></line><line><![CDATA[ r-new -> source no-such-host is an invalid ipv4/v6 address]]></line><line><![CDATA[ r-new -> source no-such-host invalid range start IP]]></line><line><![CDATA[ r-new -> source 'no-such-host' is not a valid reference]]></line><line><![CDATA[ r-new -> source is invalid]]></line></msg></response>"
    );
    assert_eq!(
        sim.get(&format!("{rules}/entry[@name='r-new']")).await.body,
        GET_MISSING
    );

    // A group member is checked the same way.
    let r = sim
        .set(
            &vsys1("address-group/entry[@name='grp-web-servers']"),
            "<static><member>ghost</member></static>",
        )
        .await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"12\"><msg><line><![CDATA[ grp-web-servers -> static 'ghost' is not a valid reference]]></line><line><![CDATA[ grp-web-servers -> static is invalid]]></line></msg></response>"
    );

    // Literals, objects, groups, shared objects and regions are accepted.
    let ok = rule_with_source(
        "r-ok",
        &[
            "192.0.2.0/24",
            "10.1.1.1-10.1.1.9",
            "2001:db8::/64",
            "net-trust",
            "grp-app-tier",
            "shared-dns-primary",
            "US",
        ],
    );
    assert_eq!(sim.set(&rules, &ok).await.body, OK20);
}

#[tokio::test]
async fn move_reorders_rules_in_the_candidate() {
    let sim = start_admins("firewall.xml").await;
    let rules = vsys1("rulebase/security/rules");
    let entries = format!("{rules}/entry");
    let original = rule_names(&sim.show(&entries).await);
    assert_eq!(original.len(), 8);
    let mv = |name: &str, wh: &'static str, dst: Option<&'static str>| {
        let xpath = format!("{rules}/entry[@name='{name}']");
        let sim = &sim;
        async move {
            let mut p = vec![
                ("type", "config"),
                ("action", "move"),
                ("xpath", xpath.as_str()),
                ("where", wh),
            ];
            if let Some(d) = dst {
                p.push(("dst", d));
            }
            sim.api(&p).await
        }
    };
    assert_eq!(mv("deny-all", "top", None).await.body, OK20);
    assert_eq!(rule_names(&sim.get(&entries).await)[0], "deny-all");
    assert_eq!(mv("deny-all", "bottom", None).await.body, OK20);
    assert_eq!(rule_names(&sim.get(&entries).await), original);
    assert_eq!(
        mv("allow-dns-out", "before", Some("allow-web-inbound"))
            .await
            .body,
        OK20
    );
    assert_eq!(
        mv("allow-web-inbound", "after", Some("deny-all"))
            .await
            .body,
        OK20
    );
    let now = rule_names(&sim.get(&entries).await);
    assert_eq!(now[0], "allow-dns-out");
    assert_eq!(now.last().map(String::as_str), Some("allow-web-inbound"));
    // Running keeps its order until a commit.
    assert_eq!(rule_names(&sim.show(&entries).await), original);

    // Errors: a missing rule, a missing dst, a bad where, before/after without dst.
    assert_eq!(
        mv("no-such-rule", "top", None).await.body,
        "<response status=\"error\" code=\"7\"><msg>Object doesn't exist</msg></response>"
    );
    let r = mv("deny-all", "before", Some("no-such-rule")).await;
    assert!(
        r.body
            .starts_with("<response status=\"error\" code=\"12\">"),
        "{}",
        r.body
    );
    assert!(r.body.contains("no-such-rule"), "{}", r.body);
    let r = mv("deny-all", "sideways", None).await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"400\"><result><msg>Parameter \"where\" is invalid</msg></result></response>"
    );
    let r = mv("deny-all", "after", None).await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"400\"><result><msg>Parameter \"dst\" is required</msg></result></response>"
    );
    assert_eq!(rule_names(&sim.get(&entries).await), now);
}

#[tokio::test]
async fn rename_keeps_position_and_references() {
    let sim = start_admins("firewall.xml").await;
    let rules = vsys1("rulebase/security/rules");
    let ren = |xpath: String, newname: &'static str| {
        let sim = &sim;
        async move {
            sim.api(&[
                ("type", "config"),
                ("action", "rename"),
                ("xpath", xpath.as_str()),
                ("newname", newname),
            ])
            .await
        }
    };
    assert_eq!(
        ren(
            format!("{rules}/entry[@name='allow-dns-out']"),
            "allow-dns-egress"
        )
        .await
        .body,
        OK20
    );
    let names = rule_names(&sim.get(&format!("{rules}/entry")).await);
    assert_eq!(names[6], "allow-dns-egress");
    assert_eq!(
        rule_names(&sim.show(&format!("{rules}/entry")).await)[6],
        "allow-dns-out"
    );

    // Renaming an object renames its references.
    assert_eq!(
        ren(vsys1("address/entry[@name='db-srv-01']"), "db-primary")
            .await
            .body,
        OK20
    );
    assert_eq!(
        members(
            &sim.get(&vsys1("address-group/entry[@name='grp-app-tier']/static"))
                .await
        ),
        ["grp-web-servers", "db-primary"]
    );
    assert_eq!(
        sim.get(&vsys1("address/entry[@name='db-primary']"))
            .await
            .text("ip-netmask"),
        "10.10.2.20/32"
    );

    // A name that is taken, a missing object, no newname.
    let r = ren(
        format!("{rules}/entry[@name='deny-all']"),
        "allow-web-inbound",
    )
    .await;
    assert!(
        r.body
            .starts_with("<response status=\"error\" code=\"12\">"),
        "{}",
        r.body
    );
    assert!(r.body.contains("allow-web-inbound"), "{}", r.body);
    assert_eq!(
        ren(format!("{rules}/entry[@name='nope']"), "x").await.body,
        "<response status=\"error\" code=\"7\"><msg>Object doesn't exist</msg></response>"
    );
    let r = sim
        .api(&[
            ("type", "config"),
            ("action", "rename"),
            ("xpath", &format!("{rules}/entry[@name='deny-all']")),
        ])
        .await;
    assert_eq!(
        r.body,
        "<response status=\"error\" code=\"400\"><result><msg>Parameter \"newname\" is required</msg></result></response>"
    );
}

#[tokio::test]
async fn malformed_config_requests() {
    let sim = start_admins("firewall.xml").await;
    let addr = vsys1("address");
    // No element.
    for action in ["set", "edit"] {
        let r = sim
            .api(&[("type", "config"), ("action", action), ("xpath", &addr)])
            .await;
        assert_eq!(
            r.body,
            "<response status=\"error\" code=\"400\"><result><msg>Parameter \"element\" is required</msg></result></response>",
            "{action}"
        );
    }
    // An element that is not XML.
    for bad in ["<entry name='x'>", "not xml", "<a></b>"] {
        let r = sim.set(&addr, bad).await;
        assert_eq!(
            r.body,
            "<response status=\"error\" code=\"18\"><msg><line>Malformed Request</line></msg></response>",
            "{bad}"
        );
    }
    // A bad xpath on every write action.
    for action in ["set", "edit", "delete", "move", "rename"] {
        let r = sim
            .api(&[
                ("type", "config"),
                ("action", action),
                ("xpath", "//entry"),
                ("element", "<x/>"),
                ("where", "top"),
                ("newname", "n"),
            ])
            .await;
        assert!(
            r.body
                .starts_with("<response status=\"error\" code=\"6\"><msg><line>bad xpath: "),
            "{action}: {}",
            r.body
        );
    }
    // The candidate is untouched by all of this.
    assert_eq!(sim.pending().await, "no");
}

#[tokio::test]
async fn commit_is_a_job_that_finishes_after_polls() {
    let sim = start_admins("firewall.xml").await;
    assert_eq!(
        sim.commit_as(KEY, "<commit></commit>").await.body,
        NO_CHANGES
    );

    let obj = vsys1("address/entry[@name='new-host']");
    assert_eq!(sim.set(&vsys1("address"), NEW_HOST).await.body, OK20);
    let r = sim
        .commit_as(
            KEY,
            "<commit><description>CHG-42 requested by Alice Example</description></commit>",
        )
        .await;
    let id = r.text("job");
    assert!(id.parse::<u32>().is_ok_and(|n| n > 0), "{}", r.body);
    assert_eq!(
        r.body,
        format!(
            "<response status=\"success\" code=\"19\"><result><msg><line>Commit job enqueued with jobid {id}</line></msg><job>{id}</job></result></response>"
        )
    );

    let first = sim.job(&id).await;
    assert!(
        first
            .body
            .starts_with("<response status=\"success\"><result><job>"),
        "{}",
        first.body
    );
    assert_eq!(first.job_text("id"), id);
    assert_eq!(first.job_text("type"), "Commit");
    assert_eq!(first.job_text("status"), "ACT");
    assert_eq!(first.job_text("result"), "PEND");
    assert_eq!(first.job_text("tfin"), "Still Active");
    assert_eq!(first.job_text("user"), "admin");
    let progress: u32 = first.job_text("progress").parse().expect("progress");
    assert!((1..100).contains(&progress), "{progress}");
    // Running changes only when the job finishes.
    assert_eq!(sim.show(&obj).await.body, NO_SUCH_NODE);

    let polls = sim.poll_job(&id, 10).await;
    assert_eq!(polls.len(), 2, "FIN on the third poll");
    let mut last_progress = progress;
    for p in &polls[..polls.len() - 1] {
        let now: u32 = p.job_text("progress").parse().expect("progress");
        assert!(now > last_progress && now < 100);
        last_progress = now;
    }
    let fin = polls.last().expect("fin");
    assert_eq!(fin.job_text("result"), "OK");
    assert_eq!(fin.job_text("progress"), "100");
    assert_eq!(
        fin.job_text("description"),
        "CHG-42 requested by Alice Example"
    );
    assert!(
        lines(fin).contains(&"Configuration committed successfully".to_owned()),
        "{}",
        fin.body
    );
    assert_eq!(sim.show(&obj).await.text("ip-netmask"), "192.0.2.77/32");
    // FIN stays FIN.
    assert_eq!(sim.job(&id).await.job_text("status"), "FIN");

    // show jobs all lists it, with its description.
    let all = sim.op("<show><jobs><all></all></jobs></show>").await;
    assert!(all.body.contains(&format!("<id>{id}</id>")), "{}", all.body);
    assert!(all.body.contains("CHG-42 requested by Alice Example"));

    assert_eq!(
        sim.commit_as(KEY, "<commit></commit>").await.body,
        NO_CHANGES
    );
    // A force commit runs even with nothing to commit.
    let forced = sim
        .commit_and_wait(KEY, "<commit><force></force></commit>")
        .await;
    assert_eq!(forced.job_text("result"), "OK", "{}", forced.body);
    assert_eq!(
        sim.job("999").await.body,
        "<response status=\"error\" code=\"7\"><msg><line>job 999 not found</line></msg></response>"
    );
}

#[tokio::test]
async fn a_job_also_finishes_by_time() {
    let sim = PanosSim::from_file(&fixture("firewall.xml"), auth(true))
        .expect("loads")
        .with_job_timing(JobTiming {
            polls: 1000,
            max_age: Some(Duration::from_millis(50)),
        });
    let sim = start_sim(sim).await;
    sim.set(&vsys1("address"), NEW_HOST).await;
    let id = sim.commit_as(KEY, "<commit></commit>").await.text("job");
    // A bounded poll: the job is FIN once 50 ms have passed, whoever asks.
    let mut fin = false;
    for _ in 0..500 {
        let r = sim.show(&vsys1("address/entry[@name='new-host']")).await;
        if r.status == StatusCode::OK && r.text("ip-netmask") == "192.0.2.77/32" {
            fin = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(fin, "running never changed");
    assert_eq!(sim.job(&id).await.job_text("status"), "FIN");
}

#[tokio::test]
async fn partial_commit_takes_one_admins_changes() {
    let sim = start_admins("firewall.xml").await;
    let a = vsys1("address/entry[@name='a-host']");
    let b = vsys1("address/entry[@name='b-host']");
    sim.set(
        &vsys1("address"),
        "<entry name='a-host'><ip-netmask>192.0.2.1</ip-netmask></entry>",
    )
    .await;
    let r = sim
        .set_as(
            BOB_KEY,
            &vsys1("address"),
            "<entry name='b-host'><ip-netmask>192.0.2.2</ip-netmask></entry>",
        )
        .await;
    assert_eq!(r.body, OK20);
    assert_eq!(sim.pending().await, "yes");

    let fin = sim
        .commit_and_wait(
            KEY,
            "<commit><partial><admin><member>admin</member></admin></partial><description>only mine</description></commit>",
        )
        .await;
    assert_eq!(fin.job_text("result"), "OK", "{}", fin.body);
    assert_eq!(fin.job_text("user"), "admin");
    assert!(
        lines(&fin)
            .iter()
            .any(|l| l.contains("Partial changes to commit") && l.contains("admin")),
        "{}",
        fin.body
    );
    assert_eq!(sim.show(&a).await.text("ip-netmask"), "192.0.2.1");
    assert_eq!(sim.show(&b).await.body, NO_SUCH_NODE);
    assert_eq!(sim.get(&b).await.text("ip-netmask"), "192.0.2.2");
    assert_eq!(sim.pending().await, "yes", "bob's change is still pending");
    // Nothing of admin's is left to commit.
    assert_eq!(
        sim.commit_as(
            KEY,
            "<commit><partial><admin><member>admin</member></admin></partial></commit>"
        )
        .await
        .body,
        NO_CHANGES
    );

    // The documented form with action=partial works too.
    let r = sim
        .api_as(
            BOB_KEY,
            &[
                ("type", "commit"),
                ("action", "partial"),
                (
                    "cmd",
                    "<commit><partial><admin><member>bob</member></admin></partial></commit>",
                ),
            ],
        )
        .await;
    let id = r.text("job");
    let fin = sim.poll_job(&id, 10).await.pop().expect("fin");
    assert_eq!(fin.job_text("result"), "OK");
    assert_eq!(fin.job_text("user"), "bob");
    assert_eq!(sim.show(&b).await.text("ip-netmask"), "192.0.2.2");
    assert_eq!(sim.show(&a).await.text("ip-netmask"), "192.0.2.1");
    assert_eq!(sim.pending().await, "no");
}

#[tokio::test]
async fn a_commit_that_fails_validation_keeps_running() {
    let sim = start_admins("firewall.xml").await;
    let rules = vsys1("rulebase/security/rules");
    // bob creates an object, admin writes a rule that uses it (valid in the candidate).
    assert_eq!(
        sim.set_as(
            BOB_KEY,
            &vsys1("address"),
            "<entry name='x-host'><ip-netmask>192.0.2.9</ip-netmask></entry>"
        )
        .await
        .body,
        OK20
    );
    assert_eq!(
        sim.set(&rules, &rule_with_source("r-x", &["x-host"]))
            .await
            .body,
        OK20
    );

    // Committing only admin's changes would leave the rule pointing at nothing.
    let fin = sim
        .commit_and_wait(
            KEY,
            "<commit><partial><admin><member>admin</member></admin></partial></commit>",
        )
        .await;
    assert_eq!(fin.job_text("status"), "FIN");
    assert_eq!(fin.job_text("result"), "FAIL", "{}", fin.body);
    let details = lines(&fin);
    assert!(
        details.contains(&"Validation Error:".to_owned()),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|l| l.contains("r-x -> source 'x-host' is not a valid reference")),
        "{details:?}"
    );
    assert_eq!(details.last().map(String::as_str), Some("Commit failed"));
    assert_eq!(
        sim.show(&format!("{rules}/entry[@name='r-x']")).await.body,
        NO_SUCH_NODE
    );
    assert_eq!(
        sim.get(&format!("{rules}/entry[@name='r-x']"))
            .await
            .text("action"),
        "allow"
    );
    assert_eq!(sim.pending().await, "yes");

    // A full commit takes both admins' changes and passes.
    let fin = sim.commit_and_wait(BOB_KEY, "<commit></commit>").await;
    assert_eq!(fin.job_text("result"), "OK", "{}", fin.body);
    assert_eq!(
        sim.show(&format!("{rules}/entry[@name='r-x']"))
            .await
            .text("action"),
        "allow"
    );
    assert_eq!(sim.pending().await, "no");
}

#[tokio::test]
async fn revert_discards_candidate_changes() {
    let sim = start_admins("firewall.xml").await;
    let a = vsys1("address/entry[@name='a-host']");
    let b = vsys1("address/entry[@name='b-host']");
    sim.set(
        &vsys1("address"),
        "<entry name='a-host'><ip-netmask>192.0.2.1</ip-netmask></entry>",
    )
    .await;
    sim.set_as(
        BOB_KEY,
        &vsys1("address"),
        "<entry name='b-host'><ip-netmask>192.0.2.2</ip-netmask></entry>",
    )
    .await;
    let reverted = "<response status=\"success\"><result><msg><line>All changes were reverted from configuration</line></msg></result></response>";
    let r = sim
        .op("<revert><config><partial><admin><member>admin</member></admin></partial></config></revert>")
        .await;
    assert_eq!(r.body, reverted);
    assert_eq!(sim.get(&a).await.body, GET_MISSING);
    assert_eq!(sim.get(&b).await.text("ip-netmask"), "192.0.2.2");
    assert_eq!(
        sim.op("<revert><config></config></revert>").await.body,
        reverted
    );
    assert_eq!(sim.get(&b).await.body, GET_MISSING);
    assert_eq!(sim.pending().await, "no");

    // pan-os-python's revert_to_running_configuration loads running-config.xml.
    sim.set(
        &vsys1("address"),
        "<entry name='a-host'><ip-netmask>192.0.2.1</ip-netmask></entry>",
    )
    .await;
    let r = sim
        .op("<load><config><from>running-config.xml</from></config></load>")
        .await;
    assert_eq!(
        r.body,
        "<response status=\"success\"><result><msg><line>Config loaded from running-config.xml</line></msg></result></response>"
    );
    assert_eq!(sim.get(&a).await.body, GET_MISSING);
    assert_eq!(sim.pending().await, "no");
}

#[tokio::test]
async fn config_lock_blocks_other_admins() {
    let sim = start_admins("firewall.xml").await;
    let no_locks =
        "<response status=\"success\"><result><config-locks></config-locks></result></response>";
    assert_eq!(
        sim.op("<show><config-locks></config-locks></show>")
            .await
            .body,
        no_locks
    );
    let r = sim
        .op("<request><config-lock><add><comment>change window CHG-7</comment></add></config-lock></request>")
        .await;
    assert_eq!(
        r.body,
        "<response status=\"success\"><result>Successfully acquired lock. Other administrators will not be able to modify configuration until lock is released by admin.</result></response>"
    );
    let locks = sim.op("<show><config-locks></config-locks></show>").await;
    let doc = locks.doc();
    let entry = doc
        .descendants()
        .find(|n| n.has_tag_name("entry"))
        .expect("a lock entry");
    assert_eq!(entry.attribute("name"), Some("admin"));
    assert_eq!(locks.text("type"), "shared");
    assert_eq!(locks.text("name"), "shared");
    assert_eq!(locks.text("comment"), "change window CHG-7");
    assert_eq!(locks.text("loggedin"), "yes");

    // Every change by bob is refused, naming the holder.
    let locked = "<response status=\"error\"><msg><line>Configuration is locked by admin</line></msg></response>";
    let addr = vsys1("address");
    assert_eq!(sim.set_as(BOB_KEY, &addr, NEW_HOST).await.body, locked);
    assert_eq!(
        sim.delete_as(BOB_KEY, &vsys1("address/entry[@name='fqdn-updates']"))
            .await
            .body,
        locked
    );
    assert_eq!(
        sim.op_as(BOB_KEY, "<revert><config></config></revert>")
            .await
            .body,
        locked
    );
    assert_eq!(
        sim.op_as(
            BOB_KEY,
            "<request><config-lock><add></add></config-lock></request>"
        )
        .await
        .body,
        "<response status=\"error\"><msg><line>Config lock is already held by admin</line></msg></response>"
    );
    assert_eq!(sim.pending().await, "no");
    // The holder can change the candidate; a second add is refused politely.
    assert_eq!(sim.set(&addr, NEW_HOST).await.body, OK20);
    assert_eq!(
        sim.op("<request><config-lock><add></add></config-lock></request>")
            .await
            .body,
        "<response status=\"error\"><msg><line>You already own a config lock for scope shared</line></msg></response>"
    );
    let released =
        "<response status=\"success\"><result>Config lock released for admin</result></response>";
    assert_eq!(
        sim.op("<request><config-lock><remove></remove></config-lock></request>")
            .await
            .body,
        released
    );
    assert_eq!(
        sim.op("<request><config-lock><remove></remove></config-lock></request>")
            .await
            .body,
        "<response status=\"error\"><msg><line>Config is not currently locked for scope shared</line></msg></response>"
    );
    assert_eq!(
        sim.set_as(
            BOB_KEY,
            &addr,
            "<entry name='b-host'><ip-netmask>192.0.2.2</ip-netmask></entry>"
        )
        .await
        .body,
        OK20
    );

    // The firewall removes the holder's lock after its commit.
    sim.op("<request><config-lock><add></add></config-lock></request>")
        .await;
    let fin = sim.commit_and_wait(KEY, "<commit></commit>").await;
    assert_eq!(fin.job_text("result"), "OK");
    assert_eq!(
        sim.op("<show><config-locks></config-locks></show>")
            .await
            .body,
        no_locks
    );
}

#[tokio::test]
async fn commit_lock_blocks_other_admins_commits() {
    let sim = start_admins("firewall.xml").await;
    let r = sim
        .op_as(
            BOB_KEY,
            "<request><commit-lock><add><comment>freeze</comment></add></commit-lock></request>",
        )
        .await;
    assert_eq!(
        r.body,
        "<response status=\"success\"><result>Successfully acquired lock. Other administrators will not be able to commit configuration until lock is released by bob.</result></response>"
    );
    let locks = sim.op("<show><commit-locks></commit-locks></show>").await;
    assert!(
        locks.body.contains("<commit-locks><entry name=\"bob\">"),
        "{}",
        locks.body
    );
    assert_eq!(locks.text("comment"), "freeze");

    // A commit lock does not stop changes, only commits.
    assert_eq!(sim.set(&vsys1("address"), NEW_HOST).await.body, OK20);
    assert_eq!(
        sim.commit_as(KEY, "<commit></commit>").await.body,
        "<response status=\"error\" code=\"14\"><msg><line>Other administrators are holding device wide commit locks.</line></msg></response>"
    );
    assert_eq!(
        sim.op("<request><commit-lock><add></add></commit-lock></request>")
            .await
            .body,
        "<response status=\"error\"><msg><line>Commit lock is already held by bob</line></msg></response>"
    );
    // A superuser may remove another admin's lock by name.
    assert_eq!(
        sim.op("<request><commit-lock><remove><admin>bob</admin></remove></commit-lock></request>")
            .await
            .body,
        "<response status=\"success\"><result>Commit lock released for bob</result></response>"
    );
    assert_eq!(
        sim.op("<request><commit-lock><remove></remove></commit-lock></request>")
            .await
            .body,
        "<response status=\"error\"><msg><line>Commit is not currently locked for scope shared</line></msg></response>"
    );
    let fin = sim.commit_and_wait(KEY, "<commit></commit>").await;
    assert_eq!(fin.job_text("result"), "OK");
    assert_eq!(
        sim.op("<show><commit-locks></commit-locks></show>")
            .await
            .body,
        "<response status=\"success\"><result><commit-locks></commit-locks></result></response>"
    );
}

#[tokio::test]
async fn every_admin_has_a_key_and_owns_its_changes() {
    let sim = start_admins("firewall.xml").await;
    let url = format!("{}/api/", sim.base);
    let r = sim
        .send(sim.http.post(&url).form(&[
            ("type", "keygen"),
            ("user", "bob"),
            ("password", "bob-pass"),
        ]))
        .await;
    assert_eq!(r.text("key"), BOB_KEY);
    let r = sim
        .send(sim.http.post(&url).form(&[
            ("type", "keygen"),
            ("user", "bob"),
            ("password", "s3cret&pass"),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sim.api_as(BOB_KEY, &[("type", "version")]).await.status,
        StatusCode::OK
    );
    assert_eq!(sim.api(&[("type", "version")]).await.status, StatusCode::OK);

    // The change list names who changed what.
    let empty = "<response status=\"success\"><result></result></response>";
    let list = "<show><config><list><changes></changes></list></config></show>";
    assert_eq!(sim.op(list).await.body, empty);
    sim.set(&vsys1("address"), NEW_HOST).await;
    sim.delete_as(BOB_KEY, &vsys1("address/entry[@name='fqdn-updates']"))
        .await;
    let r = sim.op(list).await;
    let doc = r.doc();
    let entries: Vec<(String, String, String)> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("journal"))
        })
        .map(|e| {
            let t = |name: &str| {
                e.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned()
            };
            (t("xpath"), t("owner"), t("action"))
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                vsys1("address/entry[@name='new-host']"),
                "admin".to_owned(),
                " CREATE".to_owned()
            ),
            (
                vsys1("address/entry[@name='fqdn-updates']"),
                "bob".to_owned(),
                " DELETE".to_owned()
            ),
        ]
    );
    let mine = sim
        .op("<show><config><list><changes><partial><admin><member>bob</member></admin></partial></changes></list></config></show>")
        .await;
    assert!(
        mine.body.contains("fqdn-updates") && !mine.body.contains("new-host"),
        "{}",
        mine.body
    );
}

#[tokio::test]
async fn binary_takes_extra_users() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args([
            "panos",
            "--bind",
            "127.0.0.1:0",
            "--api-key",
            KEY,
            "--username",
            "alice",
            "--password",
            "alice-pw",
            "--user",
            "bob:pw:with:colons:bob-key",
            "--job-polls",
            "2",
            "--config",
        ])
        .arg(fixture("firewall.xml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn vendor-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut out = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), out.next_line())
        .await
        .expect("announced in time")
        .expect("read")
        .expect("a line");
    let sim = Sim {
        base: first.trim_start_matches("listening on ").to_owned(),
        http: reqwest::Client::new(),
    };
    let url = format!("{}/api/", sim.base);
    let r = sim
        .send(sim.http.post(&url).form(&[
            ("type", "keygen"),
            ("user", "bob"),
            ("password", "pw:with:colons"),
        ]))
        .await;
    assert_eq!(r.text("key"), "bob-key");
    sim.set_as("bob-key", &vsys1("address"), NEW_HOST).await;
    let r = sim.commit_as(KEY, "<commit></commit>").await;
    let id = r.text("job");
    assert_eq!(sim.job(&id).await.job_text("status"), "ACT");
    let fin = sim.job(&id).await;
    assert_eq!(fin.job_text("status"), "FIN", "--job-polls 2");
    assert_eq!(fin.job_text("user"), "alice");
    child.kill().await.expect("kill");

    // A malformed --user is refused at startup.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args(["panos", "--api-key", KEY, "--user", "nokey", "--config"])
        .arg(fixture("firewall.xml"))
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME:PASSWORD:KEY"));
}

#[tokio::test]
async fn panorama_commit_all_pushes_to_devices() {
    let sim = PanosSim::from_file(&fixture("panorama.xml"), auth(true))
        .expect("loads")
        .with_job_timing(JobTiming {
            polls: 3,
            max_age: None,
        });
    let sim = start_sim(sim).await;
    let push = |cmd: &'static str| {
        let sim = &sim;
        async move {
            sim.api(&[("type", "commit"), ("action", "all"), ("cmd", cmd)])
                .await
        }
    };
    let r = push("<commit-all><shared-policy><device-group><entry name=\"DG-Branch\"/></device-group><description>push CHG-9</description></shared-policy></commit-all>").await;
    assert!(
        r.body
            .starts_with("<response status=\"success\" code=\"19\"><result><msg><line>"),
        "{}",
        r.body
    );
    let id = r.text("job");
    let first = sim.job(&id).await;
    assert_eq!(first.job_text("type"), "CommitAll");
    assert_eq!(first.job_text("status"), "ACT");
    let fin = sim.poll_job(&id, 10).await.pop().expect("fin");
    assert_eq!(fin.job_text("result"), "OK", "{}", fin.body);
    assert_eq!(fin.job_text("description"), "push CHG-9");
    let doc = fin.doc();
    let devices: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("devices"))
        })
        .map(|e| {
            let t = |name: &str| {
                e.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned()
            };
            (t("serial-no"), t("result"))
        })
        .collect();
    assert_eq!(
        devices,
        [
            ("SIMBRANCH0001".to_owned(), "OK".to_owned()),
            ("SIMBRANCH0002".to_owned(), "OK".to_owned())
        ]
    );

    // An unknown device group is refused at once.
    let r = push("<commit-all><shared-policy><device-group><entry name=\"DG-Nope\"/></device-group></shared-policy></commit-all>").await;
    assert!(
        r.body.starts_with("<response status=\"error\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("DG-Nope"), "{}", r.body);

    // A template stack: created in the candidate, committed on Panorama, pushed.
    let dev = "/config/devices/entry[@name='localhost.localdomain']";
    assert_eq!(
        sim.set(
            &format!("{dev}/template-stack"),
            "<entry name='TS-Branch'><templates><member>TPL-Branch</member></templates><devices><entry name='SIMBRANCH0001'/></devices></entry>"
        )
        .await
        .body,
        OK20
    );
    let r =
        push("<commit-all><template-stack><name>TS-Branch</name></template-stack></commit-all>")
            .await;
    assert!(
        r.body.contains("TS-Branch"),
        "not committed yet: {}",
        r.body
    );
    let fin = sim.commit_and_wait(KEY, "<commit></commit>").await;
    assert_eq!(fin.job_text("type"), "Commit");
    assert_eq!(fin.job_text("result"), "OK");
    let r =
        push("<commit-all><template-stack><name>TS-Branch</name></template-stack></commit-all>")
            .await;
    let fin = sim.poll_job(&r.text("job"), 10).await.pop().expect("fin");
    assert_eq!(fin.job_text("type"), "CommitAll");
    assert_eq!(fin.job_text("result"), "OK");
    assert_eq!(fin.text("serial-no"), "SIMBRANCH0001");

    // commit-all is a Panorama request.
    let fw = start("firewall.xml").await;
    let r = fw
        .api(&[
            ("type", "commit"),
            ("action", "all"),
            ("cmd", "<commit-all><shared-policy><device-group><entry name=\"DG-Branch\"/></device-group></shared-policy></commit-all>"),
        ])
        .await;
    assert!(
        r.body.starts_with("<response status=\"error\""),
        "{}",
        r.body
    );
}

const HIT_ALL: &str = "<show><rule-hit-count><vsys><vsys-name><entry name='vsys1'><rule-base><entry name='security'><rules><all/></rules></entry></rule-base></entry></vsys-name></vsys></rule-hit-count></show>";

/// (name, hit-count, last-hit, first-hit, created, modified) per rule.
fn hit_counts(r: &Reply) -> Vec<(String, u64, u64, u64, u64, u64)> {
    let doc = r.doc();
    doc.descendants()
        .filter(|n| n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("rules")))
        .map(|e| {
            let n = |name: &str| -> u64 {
                e.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or_else(|| panic!("{name} missing"))
                    .parse()
                    .expect("a number")
            };
            assert_eq!(
                e.children()
                    .find(|c| c.has_tag_name("latest"))
                    .and_then(|c| c.text()),
                Some("yes")
            );
            (
                e.attribute("name").unwrap_or_default().to_owned(),
                n("hit-count"),
                n("last-hit-timestamp"),
                n("first-hit-timestamp"),
                n("rule-creation-timestamp"),
                n("rule-modification-timestamp"),
            )
        })
        .collect()
}

#[tokio::test]
async fn rule_hit_counts() {
    let sim = start_admins("firewall.xml").await;
    let r = sim.op(HIT_ALL).await;
    assert!(
        r.body.starts_with("<response status=\"success\"><result><rule-hit-count><vsys><entry name=\"vsys1\"><rule-base><entry name=\"security\"><rules><entry name=\""),
        "{}",
        r.body
    );
    let counts = hit_counts(&r);
    let names: Vec<&str> = counts.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        rule_names(&sim.show(&vsys1("rulebase/security/rules/entry")).await)
    );
    assert!(counts.iter().any(|c| c.1 == 0), "some rule is unused");
    assert!(counts.iter().any(|c| c.1 > 0), "some rule is used");
    for (name, hits, last, first, created, modified) in &counts {
        if *hits == 0 {
            assert_eq!((*last, *first), (0, 0), "{name}");
        } else {
            assert!(created <= first && first <= last, "{name}");
        }
        assert!(created <= modified, "{name}");
    }
    let disabled = counts
        .iter()
        .find(|c| c.0 == "legacy-allow-any")
        .expect("rule");
    assert_eq!(disabled.1, 0, "a disabled rule has no hits");
    // Deterministic: another simulator on the same config answers the same.
    let again = start_admins("firewall.xml").await.op(HIT_ALL).await;
    assert_eq!(again.body, r.body);

    // The list form answers the named rules only.
    let r = sim
        .op("<show><rule-hit-count><vsys><vsys-name><entry name='vsys1'><rule-base><entry name='security'><rules><list><member>deny-all</member><member>allow-web-inbound</member></list></rules></entry></rule-base></entry></vsys-name></vsys></rule-hit-count></show>")
        .await;
    let listed: Vec<String> = hit_counts(&r).into_iter().map(|c| c.0).collect();
    assert_eq!(listed, ["allow-web-inbound", "deny-all"]);

    // A rule committed now has no hits and fresh timestamps.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    sim.set(
        &vsys1("rulebase/security/rules"),
        &rule_with_source("r-fresh", &["any"]),
    )
    .await;
    assert_eq!(
        sim.commit_and_wait(KEY, "<commit></commit>")
            .await
            .job_text("result"),
        "OK"
    );
    let counts = hit_counts(&sim.op(HIT_ALL).await);
    let fresh = counts
        .iter()
        .find(|c| c.0 == "r-fresh")
        .expect("new rule listed");
    assert_eq!(fresh.1, 0);
    assert!(fresh.4 >= before && fresh.4 == fresh.5, "{fresh:?}");
}

#[tokio::test]
async fn rules_keep_or_get_a_uuid() {
    let sim = start_admins("firewall.xml").await;
    let rules = vsys1("rulebase/security/rules");
    let attr = |r: &Reply, name: &str| -> Option<String> {
        r.doc()
            .descendants()
            .find(|n| n.has_tag_name("entry"))
            .and_then(|e| e.attribute(name).map(str::to_owned))
    };
    // A new rule gets one (PAN-OS 9.0 and later).
    assert_eq!(
        sim.set(&rules, &rule_with_source("r-new", &["any"]))
            .await
            .body,
        OK20
    );
    let uuid = attr(
        &sim.get(&format!("{rules}/entry[@name='r-new']")).await,
        "uuid",
    )
    .expect("a uuid");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid}");
    // So does a rule written field by field.
    let by_fields = format!("{rules}/entry[@name='r-fields']");
    assert_eq!(
        sim.set(&by_fields, "<from><member>trust</member></from><to><member>untrust</member></to><source><member>any</member></source><destination><member>any</member></destination><application><member>any</member></application><service><member>any</member></service><action>deny</action>")
            .await
            .body,
        OK20
    );
    assert!(attr(&sim.get(&by_fields).await, "uuid").is_some());
    // An edit without one keeps the rule's.
    let first = format!("{rules}/entry[@name='allow-web-inbound']");
    let edited = rule_with_source("allow-web-inbound", &["any"]);
    assert_eq!(sim.edit(&first, &edited).await.body, OK20);
    assert_eq!(
        attr(&sim.get(&first).await, "uuid").as_deref(),
        Some("5b0c1d2e-3f40-4a51-8b62-7c8d9e0f1a01")
    );
    // A PAN-OS 8.0 configuration has no rule uuids, and gets none.
    let old = start_sim(
        PanosSim::from_xml(
            "<config version=\"8.0.0\"><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'><rulebase><security><rules/></security></rulebase></entry></vsys></entry></devices></config>",
            auth(true),
        )
        .expect("xml"),
    )
    .await;
    assert_eq!(
        old.set(&rules, &rule_with_source("r-old", &["any"]))
            .await
            .body,
        OK20
    );
    assert_eq!(
        attr(
            &old.get(&format!("{rules}/entry[@name='r-old']")).await,
            "uuid"
        ),
        None
    );
}

#[tokio::test]
async fn state_reset_returns_to_the_loaded_config() {
    let sim = start_admins("firewall.xml").await;
    let obj = vsys1("address/entry[@name='new-host']");
    sim.set(&vsys1("address"), NEW_HOST).await;
    let fin = sim.commit_and_wait(KEY, "<commit></commit>").await;
    assert_eq!(fin.job_text("result"), "OK");
    sim.delete(&vsys1("address/entry[@name='fqdn-updates']"))
        .await;
    sim.op_as(
        BOB_KEY,
        "<request><config-lock><add></add></config-lock></request>",
    )
    .await;
    let r = sim
        .http
        .post(format!("{}/_sim/state/reset", sim.base))
        .send()
        .await
        .expect("reset");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), "{\"reset\":true}");
    assert_eq!(sim.show(&obj).await.body, NO_SUCH_NODE);
    assert_eq!(sim.get(&obj).await.body, GET_MISSING);
    assert_eq!(
        sim.get(&vsys1("address/entry[@name='fqdn-updates']"))
            .await
            .text("fqdn"),
        "updates.example.com"
    );
    assert_eq!(sim.pending().await, "no");
    assert_eq!(
        sim.op("<show><config-locks></config-locks></show>")
            .await
            .body,
        "<response status=\"success\"><result><config-locks></config-locks></result></response>"
    );
    assert!(sim.job("1").await.body.contains("job 1 not found"));
    // Not counted as an API request.
    let stats = sim.stats().await;
    assert_eq!(stats["by_type"].get("none"), None);
}

// ---- issue 21: managed devices, operational state, log jobs ----

const FW1: &str = "007200006721";
const FW2: &str = "007100000290";

fn shared_config(name: &str) -> PathBuf {
    fixtures_dir().join("panos/configs").join(name)
}

fn shared_sim(name: &str) -> PanosSim {
    PanosSim::from_file(&shared_config(name), auth(true)).expect("shared fixture loads")
}

/// Panorama 8.1 (registers FW1, FW2 and 000007777) managing FW1 (the real
/// 8.0 firewall) and FW2 (iron-skillet 10.1); 000007777 has no file.
async fn start_panorama_with_devices() -> Sim {
    let timing = JobTiming {
        polls: 2,
        max_age: None,
    };
    let sim = shared_sim("panorama-8.1.xml")
        .with_job_timing(timing)
        .with_device(FW1, shared_sim("firewall-8.0-vsys1.xml"))
        .with_device(FW2, shared_sim("iron-skillet-10.1-firewall.xml"));
    start_sim(sim).await
}

async fn start_shared_firewall() -> Sim {
    start_sim(
        shared_sim("firewall-8.0-vsys1.xml").with_job_timing(JobTiming {
            polls: 2,
            max_age: None,
        }),
    )
    .await
}

/// `(serial, connected, hostname, device-group)` of each `show devices` entry.
fn device_rows(r: &Reply) -> Vec<(String, String, String, String)> {
    let doc = r.doc();
    let kid = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or_default()
            .to_owned()
    };
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("devices"))
        })
        .map(|n| {
            (
                kid(n, "serial"),
                kid(n, "connected"),
                kid(n, "hostname"),
                kid(n, "device-group"),
            )
        })
        .collect()
}

#[tokio::test]
async fn panorama_lists_managed_devices() {
    let sim = start_panorama_with_devices().await;
    let all = sim.op("<show><devices><all></all></devices></show>").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let rows = device_rows(&all);
    assert_eq!(rows.len(), 3, "{}", all.body);
    assert!(
        rows.contains(&(FW1.into(), "yes".into(), "PA-200".into(), String::new())),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.0 == FW2 && r.1 == "yes" && r.2 == "panos-01"),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(
            "000007777".into(),
            "no".into(),
            String::new(),
            "FR Datacenter".into()
        )),
        "{rows:?}"
    );
    assert!(all.body.contains("<model>PA-VM</model>"));
    assert!(
        all.body.contains("<sw-version>8.0.0</sw-version>") || all.body.contains("<sw-version>8.0"),
        "{}",
        all.body
    );

    let connected = sim
        .op("<show><devices><connected></connected></devices></show>")
        .await;
    let serials: Vec<String> = device_rows(&connected).into_iter().map(|r| r.0).collect();
    assert_eq!(serials, vec![FW1.to_owned(), FW2.to_owned()]);

    // A firewall has no managed devices.
    let fw = start_shared_firewall().await;
    let r = fw.op("<show><devices><all></all></devices></show>").await;
    assert!(r.body.contains("status=\"error\""), "{}", r.body);
}

#[tokio::test]
async fn target_routes_every_request_to_that_firewall() {
    let sim = start_panorama_with_devices().await;
    let v = sim.api(&[("type", "version"), ("target", FW1)]).await;
    assert_eq!(v.text("serial"), FW1);
    assert_eq!(v.text("model"), "PA-VM");
    let own = sim.api(&[("type", "version")]).await;
    assert_eq!(own.text("model"), "Panorama");
    let info = sim
        .api(&[
            ("type", "op"),
            ("cmd", "<show><system><info/></system></show>"),
            ("target", FW2),
        ])
        .await;
    assert_eq!(info.text("hostname"), "panos-01");
    assert_eq!(info.text("serial"), FW2);

    let rules = format!("{VSYS1}/rulebase/security/rules");
    let fw1 = sim
        .api(&[
            ("type", "config"),
            ("action", "get"),
            ("xpath", &rules),
            ("target", FW1),
        ])
        .await;
    let fw2 = sim
        .api(&[
            ("type", "config"),
            ("action", "get"),
            ("xpath", &rules),
            ("target", FW2),
        ])
        .await;
    let names = |r: &Reply| -> Vec<String> {
        r.doc()
            .descendants()
            .filter(|n| {
                n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("rules"))
            })
            .filter_map(|n| n.attribute("name").map(str::to_owned))
            .collect()
    };
    assert!(!names(&fw1).is_empty(), "{}", fw1.body);
    assert_ne!(names(&fw1), names(&fw2));
    // Panorama's own config has no firewall vsys.
    let pano = sim.get(&rules).await;
    assert!(names(&pano).is_empty(), "{}", pano.body);

    // A write through target changes that firewall's candidate only.
    let xpath = format!("{VSYS1}/address");
    let set = sim
        .api(&[
            ("type", "config"),
            ("action", "set"),
            ("xpath", &xpath),
            (
                "element",
                "<entry name=\"sim-target-obj\"><ip-netmask>10.9.9.9</ip-netmask></entry>",
            ),
            ("target", FW2),
        ])
        .await;
    assert!(set.body.contains("status=\"success\""), "{}", set.body);
    let obj = format!("{xpath}/entry[@name='sim-target-obj']");
    let on2 = sim
        .api(&[
            ("type", "config"),
            ("action", "get"),
            ("xpath", &obj),
            ("target", FW2),
        ])
        .await;
    assert!(on2.body.contains("10.9.9.9"), "{}", on2.body);
    let on1 = sim
        .api(&[
            ("type", "config"),
            ("action", "get"),
            ("xpath", &obj),
            ("target", FW1),
        ])
        .await;
    assert!(!on1.body.contains("10.9.9.9"), "{}", on1.body);

    // Unknown, disconnected, and target on a firewall.
    let r = sim.api(&[("type", "version"), ("target", "999")]).await;
    assert!(r.body.contains("not managed"), "{}", r.body);
    let r = sim
        .api(&[("type", "version"), ("target", "000007777")])
        .await;
    assert!(r.body.contains("not connected"), "{}", r.body);
    let fw = start_shared_firewall().await;
    let r = fw.api(&[("type", "version"), ("target", FW1)]).await;
    assert!(r.body.contains("Parameter \"target\""), "{}", r.body);

    // Stats name the target.
    let stats = sim.stats().await;
    assert!(
        stats["by_key"].get(format!("version@{FW1}")).is_some(),
        "{stats}"
    );
}

#[tokio::test]
async fn operational_state_from_the_config() {
    let sim = start_shared_firewall().await;
    // Interfaces: state, IP, zone, virtual router.
    let all = sim.op("<show><interface>all</interface></show>").await;
    let doc = all.doc();
    let e1 = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("entry")
                && n.parent().is_some_and(|p| p.has_tag_name("ifnet"))
                && n.children()
                    .any(|c| c.has_tag_name("name") && c.text() == Some("ethernet1/1"))
        })
        .expect("ethernet1/1 in ifnet");
    let kid = |name: &str| {
        e1.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(kid("ip"), "192.168.10.2/24");
    assert_eq!(kid("fwd"), "vr:default");
    assert!(!kid("zone").is_empty(), "{}", all.body);
    assert!(all.body.contains("<state>up</state>"));
    let one = sim
        .op("<show><interface>ethernet1/1</interface></show>")
        .await;
    assert!(
        one.text("ibytes").parse::<u64>().expect("ibytes") > 0,
        "{}",
        one.body
    );
    let again = sim
        .op("<show><interface>ethernet1/1</interface></show>")
        .await;
    assert_eq!(one.text("ibytes"), again.text("ibytes"));
    let bad = sim
        .op("<show><interface>ethernet9/9</interface></show>")
        .await;
    assert!(bad.body.contains("status=\"error\""), "{}", bad.body);

    // Routes: the static default route and a connected one; filters.
    let routes = sim
        .op("<show><routing><route></route></routing></show>")
        .await;
    assert!(
        routes
            .body
            .contains("<destination>0.0.0.0/0</destination><nexthop>192.168.10.1</nexthop>"),
        "{}",
        routes.body
    );
    assert!(routes.body.contains("<destination>192.168.10.0/24</destination><nexthop>0.0.0.0</nexthop><metric>0</metric><flags>A C</flags>"), "{}", routes.body);
    let only = sim
        .op("<show><routing><route><virtual-router>default</virtual-router><destination>172.16.0.0/12</destination></route></routing></show>")
        .await;
    assert_eq!(
        only.doc()
            .descendants()
            .filter(|n| n.has_tag_name("entry"))
            .count(),
        1,
        "{}",
        only.body
    );
    let fib = sim
        .op("<test><routing><fib-lookup><virtual-router>default</virtual-router><ip>8.8.8.8</ip></fib-lookup></routing></test>")
        .await;
    assert_eq!(fib.text("interface"), "ethernet1/1", "{}", fib.body);
    assert_eq!(fib.text("ip"), "192.168.10.1");
    let local = sim
        .op("<test><routing><fib-lookup><virtual-router>default</virtual-router><ip>192.168.10.77</ip></fib-lookup></routing></test>")
        .await;
    assert_eq!(local.text("nh"), "local", "{}", local.body);
    let novr = sim
        .op("<test><routing><fib-lookup><virtual-router>nope</virtual-router><ip>8.8.8.8</ip></fib-lookup></routing></test>")
        .await;
    assert!(novr.body.contains("status=\"error\""), "{}", novr.body);

    // HA: not configured in this file.
    let ha = sim
        .op("<show><high-availability><state></state></high-availability></show>")
        .await;
    assert_eq!(ha.text("enabled"), "no", "{}", ha.body);

    // Sessions: allowed flows ACTIVE, denied DISCARD; filters narrow.
    let s = sim.op("<show><session><all></all></session></show>").await;
    let count = |r: &Reply| {
        r.doc()
            .descendants()
            .filter(|n| n.has_tag_name("entry"))
            .count()
    };
    let total = count(&s);
    assert!(total >= 2, "{}", s.body);
    assert!(s.body.contains("<state>ACTIVE</state>") && s.body.contains("<state>DISCARD</state>"));
    let active = sim
        .op("<show><session><all><filter><state>active</state></filter></all></session></show>")
        .await;
    assert!(count(&active) > 0 && count(&active) < total);
    assert!(!active.body.contains("DISCARD"));
    let rule = s.text("security-rule");
    let by_rule = sim
        .op(&format!(
            "<show><session><all><filter><rule>{rule}</rule></filter></all></session></show>"
        ))
        .await;
    assert!(count(&by_rule) >= 1);
    assert!(
        by_rule
            .doc()
            .descendants()
            .filter(|n| n.has_tag_name("security-rule"))
            .all(|n| n.text() == Some(rule.as_str()))
    );
    let none = sim
        .op("<show><session><all><filter><destination-port>65000</destination-port></filter></all></session></show>")
        .await;
    assert_eq!(count(&none), 0, "{}", none.body);
}

impl Sim {
    /// Submits a log job and returns its id.
    async fn log_job(&self, params: &[(&str, &str)]) -> String {
        let mut p = vec![("type", "log")];
        p.extend_from_slice(params);
        let r = self.api(&p).await;
        let id = r.text("job");
        assert!(!id.is_empty(), "{}", r.body);
        id
    }

    /// Polls the job (bounded) until FIN and returns the final answer.
    async fn log_result(&self, id: &str) -> Reply {
        for _ in 0..10 {
            let r = self
                .api(&[("type", "log"), ("action", "get"), ("job-id", id)])
                .await;
            if r.job_text("status") == "FIN" {
                return r;
            }
            assert_eq!(r.job_text("status"), "ACT", "{}", r.body);
        }
        panic!("log job {id} never finished");
    }
}

fn log_entries(r: &Reply) -> Vec<std::collections::BTreeMap<String, String>> {
    r.doc()
        .descendants()
        .filter(|n| n.has_tag_name("entry") && n.parent().is_some_and(|p| p.has_tag_name("logs")))
        .map(|e| {
            e.children()
                .filter(|c| c.is_element())
                .map(|c| {
                    (
                        c.tag_name().name().to_owned(),
                        c.text().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn log_jobs_submit_poll_fetch_finish() {
    let sim = start_shared_firewall().await;
    let id = sim
        .log_job(&[("log-type", "traffic"), ("nlogs", "5000")])
        .await;
    let first = sim
        .api(&[("type", "log"), ("action", "get"), ("job-id", &id)])
        .await;
    assert_eq!(first.job_text("status"), "ACT", "{}", first.body);
    assert!(log_entries(&first).is_empty());
    let done = sim.log_result(&id).await;
    let all = log_entries(&done);
    assert_eq!(all.len(), 1500);
    assert!(
        all.iter()
            .all(|e| e["type"] == "TRAFFIC" && !e["rule"].is_empty())
    );
    // Newest first.
    assert!(
        all.windows(2)
            .all(|w| w[0]["receive_time"] >= w[1]["receive_time"])
    );
    // An allowed and a denied flow per rule.
    assert!(
        all.iter()
            .any(|e| e["action"] == "allow" && e["session_end_reason"] != "policy-deny")
    );
    assert!(
        all.iter()
            .any(|e| e["action"] == "deny" && e["session_end_reason"] == "policy-deny")
    );
    let finish = sim
        .api(&[("type", "log"), ("action", "finish"), ("job-id", &id)])
        .await;
    assert!(
        finish.body.contains("status=\"success\""),
        "{}",
        finish.body
    );
    let gone = sim
        .api(&[("type", "log"), ("action", "get"), ("job-id", &id)])
        .await;
    assert!(gone.body.contains("not found"), "{}", gone.body);

    // Paging: skip past 1,000 entries, deterministically.
    let page = sim
        .log_job(&[("log-type", "traffic"), ("nlogs", "1000"), ("skip", "1000")])
        .await;
    let page = log_entries(&sim.log_result(&page).await);
    assert_eq!(page.len(), 500);
    assert_eq!(page[0], all[1000]);
    let default = sim.log_job(&[("log-type", "traffic")]).await;
    assert_eq!(log_entries(&sim.log_result(&default).await).len(), 20);

    // Filters.
    let deny = sim
        .log_job(&[
            ("log-type", "traffic"),
            ("nlogs", "5000"),
            ("query", "( action eq deny )"),
        ])
        .await;
    let deny = log_entries(&sim.log_result(&deny).await);
    assert!(!deny.is_empty() && deny.len() < 1500);
    assert!(deny.iter().all(|e| e["action"] == "deny"));
    let rule = all[0]["rule"].clone();
    let q = format!("( rule eq '{rule}' ) and not ( port.dst eq 1 )");
    let by_rule = sim
        .log_job(&[("log-type", "traffic"), ("nlogs", "5000"), ("query", &q)])
        .await;
    let by_rule = log_entries(&sim.log_result(&by_rule).await);
    assert!(!by_rule.is_empty());
    assert!(
        by_rule
            .iter()
            .all(|e| e["rule"] == rule && e["dport"] != "1")
    );
    let src = all[0]["src"].clone();
    let q = format!("(addr.src in {src}/32) or (addr.dst in 203.0.113.0/24)");
    let by_src = sim
        .log_job(&[("log-type", "traffic"), ("nlogs", "5000"), ("query", &q)])
        .await;
    let by_src = log_entries(&sim.log_result(&by_src).await);
    assert!(by_src.iter().any(|e| e["src"] == src));

    // Refusals.
    for (k, v) in [
        ("nlogs", "5001"),
        ("nlogs", "0"),
        ("skip", "-1"),
        ("query", "(bogus eq 1)"),
        ("query", "(app eq x"),
        ("log-type", "nope"),
    ] {
        let mut p = vec![("type", "log"), ("log-type", "traffic")];
        p.retain(|(pk, _)| *pk != k);
        p.push((k, v));
        let r = sim.api(&p).await;
        assert!(r.body.contains("status=\"error\""), "{k}={v}: {}", r.body);
    }
    let r = sim.api(&[("type", "log"), ("action", "get")]).await;
    assert!(r.body.contains("job-id"), "{}", r.body);

    // The other log types.
    for (ty, want) in [
        ("threat", "THREAT"),
        ("url", "THREAT"),
        ("system", "SYSTEM"),
        ("config", "CONFIG"),
    ] {
        let id = sim.log_job(&[("log-type", ty), ("nlogs", "50")]).await;
        let rows = log_entries(&sim.log_result(&id).await);
        assert!(!rows.is_empty(), "{ty}");
        assert!(rows.iter().all(|e| e["type"] == want), "{ty}");
    }
    let id = sim
        .log_job(&[
            ("log-type", "threat"),
            ("query", "( severity eq critical )"),
            ("nlogs", "5000"),
        ])
        .await;
    let rows = log_entries(&sim.log_result(&id).await);
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|e| e["severity"] == "critical" && !e["threatid"].is_empty())
    );

    // Stats name submit, get and finish.
    let stats = sim.stats().await;
    for key in ["log:traffic", "log:get", "log:finish"] {
        assert!(stats["by_key"].get(key).is_some(), "{key}: {stats}");
    }
}

#[tokio::test]
async fn log_jobs_through_panorama_target() {
    let sim = start_panorama_with_devices().await;
    let r = sim
        .api(&[
            ("type", "log"),
            ("log-type", "traffic"),
            ("nlogs", "10"),
            ("target", FW1),
        ])
        .await;
    let id = r.text("job");
    assert!(!id.is_empty(), "{}", r.body);
    let mut last = None;
    for _ in 0..10 {
        let g = sim
            .api(&[
                ("type", "log"),
                ("action", "get"),
                ("job-id", &id),
                ("target", FW1),
            ])
            .await;
        if g.job_text("status") == "FIN" {
            last = Some(g);
            break;
        }
    }
    let done = last.expect("job finished");
    let rows = log_entries(&done);
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter()
            .all(|e| e["serial"] == FW1 && e["device_name"] == "PA-200")
    );
    // The job lives on the firewall, not on Panorama.
    let on_pano = sim
        .api(&[("type", "log"), ("action", "get"), ("job-id", &id)])
        .await;
    assert!(on_pano.body.contains("not found"), "{}", on_pano.body);
}

/// The binary's `--device SERIAL=FILE`: listed, reachable with target=.
#[tokio::test]
async fn binary_loads_managed_devices() {
    use tokio::io::AsyncBufReadExt;
    let dev1 = format!(
        "{FW1}={}",
        shared_config("firewall-8.0-vsys1.xml").display()
    );
    let dev2 = format!(
        "{FW2}={}",
        shared_config("iron-skillet-10.1-firewall.xml").display()
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args([
            "panos",
            "--bind",
            "127.0.0.1:0",
            "--api-key",
            KEY,
            "--config",
        ])
        .arg(shared_config("panorama-8.1.xml"))
        .args(["--device", &dev1, "--device", &dev2])
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
    let sim = Sim {
        base: first.trim_start_matches("listening on ").to_owned(),
        http: reqwest::Client::new(),
    };
    let r = sim.op("<show><devices><connected/></devices></show>").await;
    let serials: Vec<String> = device_rows(&r).into_iter().map(|r| r.0).collect();
    assert_eq!(serials, vec![FW1.to_owned(), FW2.to_owned()], "{}", r.body);
    let v = sim.api(&[("type", "version"), ("target", FW2)]).await;
    assert_eq!(v.text("serial"), FW2);
    child.kill().await.expect("kill");

    // A malformed --device is refused before serving.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vendor-sim"))
        .args(["panos", "--api-key", KEY, "--config"])
        .arg(shared_config("panorama-8.1.xml"))
        .args(["--device", "no-equals-sign"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SERIAL=FILE"));
}

#[tokio::test]
async fn nat_policy_match_on_the_real_config() {
    let sim = start_shared_firewall().await;
    let nat = |from: &str, to: &str, port: u16| {
        format!(
            "<test><nat-policy-match><from>{from}</from><to>{to}</to><source>10.0.0.5</source><destination>192.0.2.10</destination><protocol>6</protocol><destination-port>{port}</destination-port></nat-policy-match></test>"
        )
    };
    let r = sim.op(&nat("trust", "tv", 443)).await;
    let doc = r.doc();
    let entry = doc
        .descendants()
        .find(|n| n.has_tag_name("entry"))
        .unwrap_or_else(|| panic!("{}", r.body));
    assert_eq!(entry.attribute("name"), Some("tv"), "{}", r.body);
    assert_eq!(r.text("index"), "1");
    let none = sim.op(&nat("trust", "no-such-zone", 443)).await;
    assert!(none.body.contains("<rules/>"), "{}", none.body);
    let pano = start_panorama_with_devices().await;
    let r = pano.op(&nat("trust", "tv", 443)).await;
    assert!(r.body.contains("not supported on Panorama"), "{}", r.body);
}
