//! End-to-end tests of the PAN-OS simulator over real HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use simulators::common::{FaultConfig, SimControl, serve};
use simulators::panos::{INVALID_CREDENTIAL, PanosAuth, PanosSim, router};

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
    let r = sim
        .api(&[
            ("type", "config"),
            ("action", "set"),
            ("xpath", "/config/shared"),
            ("element", "<x/>"),
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
    let r = sim.op("<show><jobs><all/></jobs></show>").await;
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
