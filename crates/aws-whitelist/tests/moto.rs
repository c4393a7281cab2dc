//! aws-whitelist end to end: the real binary and an MCP client against a real moto server
//! (`test_support::Rig<MotoProcess>`), plus what is specific to AWS: the SDK clients the
//! tests arrange resources with, profiles files, and an IP checker.

use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use serde_json::{Value, json};
use test_support::cli::{check_fails, check_ok};
use test_support::{MotoProcess, Rig, ServerProcess, ServerSpec};
use test_support::{call_err as err, call_ok as ok};

const BIN: &str = env!("CARGO_BIN_EXE_aws-whitelist");

/// The server's environment against the AWS endpoint `endpoint` (moto, or a closed port).
fn aws_env(spec: ServerSpec, endpoint: &str) -> ServerSpec {
    spec.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWSWL_ALLOWED_PORTS", "22,443,5432,8000-8100")
        .env("MCP_STATELESS", "true")
        // These tests are about the rules; `writes_are_confirmed_or_approved` turns the
        // confirmation back on (the test client cannot answer an elicitation).
        .env("MCP_CONFIRM", "off")
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_types::region::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

/// moto, the server on it with `extra` settings, and alice's client (`aws:write`).
async fn rig_with(extra: &[(&str, &str)]) -> Rig<MotoProcess> {
    let moto = MotoProcess::start().await;
    let mut spec = aws_env(ServerSpec::http(BIN), &moto.endpoint);
    for (k, v) in extra {
        spec = spec.env(k, *v);
    }
    Rig::start(moto, &spec, "alice", &["aws:write"], true).await
}

/// The server with nothing listening at its AWS endpoint: a call that reached AWS would
/// say "cannot reach".
async fn rig_unreachable(extra: &[(&str, &str)]) -> Rig<()> {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let mut spec = aws_env(ServerSpec::http(BIN), &endpoint);
    for (k, v) in extra {
        spec = spec.env(k, *v);
    }
    Rig::start((), &spec, "alice", &["aws:write"], false).await
}

/// The test's own EC2 client on moto (the default account, us-east-1).
async fn ec2(moto: &MotoProcess) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk(&moto.endpoint).await)
}

/// The shared config and credentials files of a `base` profile (keys) and an `ops` profile
/// (a role in account 111111111111 assumed from base); `secret` is base's secret key.
fn profile_files(dir: &std::path::Path, secret: &str) -> (String, String) {
    let config = dir.join("config");
    std::fs::write(&config, "[profile ops]\nrole_arn = arn:aws:iam::111111111111:role/secops-ops\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n").expect("config");
    let creds = dir.join("credentials");
    std::fs::write(
        &creds,
        format!("[base]\naws_access_key_id = testing\naws_secret_access_key = {secret}\n"),
    )
    .expect("creds");
    (config.display().to_string(), creds.display().to_string())
}

/// [`aws_env`] acting as profile `base` from `profile_files`, with `ops` allowed per call.
fn profiles_env(endpoint: &str, (config, creds): &(String, String)) -> ServerSpec {
    aws_env(ServerSpec::http(BIN), endpoint)
        .without_env("AWS_ACCESS_KEY_ID")
        .without_env("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "base")
        .env("AWS_CONFIG_FILE", config.clone())
        .env("AWS_SHARED_CREDENTIALS_FILE", creds.clone())
        .env("AWSWL_PROFILES", "ops")
}

async fn group(ec2: &aws_sdk_ec2::Client, name: &str) -> String {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    ec2.create_security_group()
        .group_name(name)
        .description("test")
        .vpc_id(vpc_id)
        .send()
        .await
        .expect("sg")
        .group_id()
        .expect("id")
        .to_string()
}

/// `upstream_calls` of each audit event for `tool`, in order.
fn audited_upstream_calls(server: &ServerProcess, tool: &str) -> Vec<u64> {
    server
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["message"] == "tool call" && r["tool"] == tool)
        .filter_map(|r| r["upstream_calls"].as_u64())
        .collect()
}

fn ingress(rules: &Value) -> Vec<Value> {
    rules["ingress"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn whitelist_a_group_read_it_back_and_repeat() {
    let mut r = rig_with(&[]).await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "web").await;
    let out = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.7", "target": sg, "port": "https", "description": "vendor support", "ttl": "8h"})).await;
    assert_eq!(out["cidr"], "203.0.113.7/32");
    assert_eq!(out["groups"][0]["status"], "added");
    let rule_id = out["groups"][0]["rule_ids"][0]
        .as_str()
        .expect("rule id")
        .to_string();
    assert!(
        out["description"]
            .as_str()
            .is_some_and(|d| d.contains("alice") && d.contains("vendor support")),
        "{out}"
    );
    assert!(out["expires_at"].as_str().is_some());

    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    let rule = ingress(&rules)
        .into_iter()
        .find(|x| x["rule_id"] == rule_id)
        .expect("rule listed");
    assert_eq!(
        (
            rule["source"].as_str(),
            rule["from_port"].as_i64(),
            rule["managed"].as_bool()
        ),
        (Some("203.0.113.7/32"), Some(443), Some(true))
    );
    assert_eq!(rule["tags"]["secops-mcp:owner"], "alice");
    assert_eq!(rule["tags"]["secops-mcp:reason"], "vendor support");
    assert!(rule["expires_at"].as_str().is_some());

    let again = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.7/32", "target": sg, "port": "443", "description": "vendor support"})).await;
    assert_eq!(again["groups"][0]["status"], "exists");
    assert_eq!(again["groups"][0]["rule_ids"][0], rule_id.as_str());
    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert_eq!(ingress(&rules).len(), 1, "no duplicate rule");

    let v6 = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "2001:db8:10::1", "target": sg, "port": "ssh", "description": "admin v6"}),
    )
    .await;
    assert_eq!(
        (v6["cidr"].as_str(), v6["groups"][0]["status"].as_str()),
        (Some("2001:db8:10::1/128"), Some("added"))
    );

    let host_bits = ok(&mut r.client, "whitelist", json!({"cidr": "198.51.100.77/28", "target": sg, "port_range": "8000-8010", "description": "partner range"})).await;
    assert_eq!(
        host_bits["cidr"], "198.51.100.64/28",
        "host bits cleared as AWS does"
    );

    let dry = ok(&mut r.client, "whitelist", json!({"cidr": "192.0.2.9", "target": sg, "port": "ssh", "description": "just checking", "dry_run": true})).await;
    assert_eq!(dry["groups"][0]["status"], "dry_run");
    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        !ingress(&rules)
            .iter()
            .any(|x| x["source"] == "192.0.2.9/32"),
        "dry run wrote nothing"
    );
    // The audit counts the AWS requests each call made (the SDK clients count their attempts).
    let listed = audited_upstream_calls(&r.server, "list_rules");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|n| *n >= 1), "{listed:?}");
    // added: one AuthorizeSecurityGroupIngress (tags on create); exists: the duplicate
    // answer, then DescribeSecurityGroupRules for the existing id; dry run: one DryRun call.
    let written = audited_upstream_calls(&r.server, "whitelist");
    assert_eq!(written, vec![1, 2, 1, 1, 1]);
}

/// Ingress sources of `sg`, straight from moto.
async fn sources(ec2: &aws_sdk_ec2::Client, sg: &str) -> Vec<String> {
    let out = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(sg)
                .build(),
        )
        .send()
        .await
        .expect("rules");
    out.security_group_rules()
        .iter()
        .filter(|r| r.is_egress() != Some(true))
        .filter_map(|r| r.cidr_ipv4().or(r.cidr_ipv6()).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn writes_are_confirmed_or_approved() {
    // Confirmation on (the default), for a client that cannot answer an elicitation.
    let moto = MotoProcess::start().await;
    let spec = aws_env(ServerSpec::http(BIN), &moto.endpoint).without_env("MCP_CONFIRM");
    let mut r = Rig::start(moto, &spec, "alice", &["aws:write"], true).await;
    let sdk = ec2(&r.peer).await;
    let sg = group(&sdk, "confirm").await;
    let args = json!({"cidr": "203.0.113.8", "target": sg, "port": 443, "description": "vendor"});
    let e = err(&mut r.client, "whitelist", args.clone()).await;
    assert!(
        e.contains("needs a human's confirmation") && e.contains("Nothing was changed"),
        "{e}"
    );
    assert!(
        sources(&sdk, &sg).await.is_empty(),
        "refused before any write"
    );
    let mut dry_args = args.clone();
    dry_args["dry_run"] = json!(true);
    let dry = ok(&mut r.client, "whitelist", dry_args).await;
    assert_eq!(dry["change"]["status"], "planned", "{dry}");
    assert_eq!(
        dry["change"]["plan"]["changes"][0]["after"]["group"],
        sg.as_str()
    );
    assert!(
        sources(&sdk, &sg).await.is_empty(),
        "a dry run asks nobody and writes nothing"
    );
    let audit: Vec<Value> = r
        .server
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "tool call" && l["tool"] == "whitelist")
        .collect();
    assert_eq!(audit[0]["confirmation"], "unavailable", "{audit:?}");
    assert_eq!(audit[1]["confirmation"], "dry_run", "{audit:?}");
    assert_eq!(
        audit[0]["digest"], dry["change"]["plan"]["digest"],
        "the same plan, the same digest"
    );
    drop(r);

    // The two-person rule: alice writes, bob approves, alice applies once.
    let moto = MotoProcess::start().await;
    let spec = aws_env(ServerSpec::http(BIN), &moto.endpoint)
        .without_env("MCP_CONFIRM")
        .env("MCP_APPROVALS", "required");
    let mut r = Rig::start(moto, &spec, "alice", &["aws:write"], true).await;
    let sdk = ec2(&r.peer).await;
    let sg = group(&sdk, "approve").await;
    let args = json!({"cidr": "203.0.113.9", "target": sg, "port": 443, "description": "vendor"});
    let pending = ok(&mut r.client, "whitelist", args).await;
    assert_eq!(pending["change"]["status"], "pending_approval", "{pending}");
    let id = pending["change"]["pending"]["change_id"]
        .as_str()
        .expect("id")
        .to_string();
    let digest = pending["change"]["pending"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert!(
        sources(&sdk, &sg).await.is_empty(),
        "nothing written before approval"
    );
    let names = r.client.tool_names().await;
    assert!(
        names.contains(&"apply_change".to_string())
            && !names.contains(&"approve_change".to_string()),
        "{names:?}"
    );
    let e = err(&mut r.client, "apply_change", json!({"change_id": id})).await;
    assert!(e.contains("not approved"), "{e}");
    // alice holding the approve scope still cannot approve her own change.
    let mut alice2 = r.client("alice", &["aws:write", "aws:approve"]).await;
    let e = err(
        &mut alice2,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;
    assert!(e.contains("own change"), "{e}");
    let mut bob = r.client("bob", &["aws:approve"]).await;
    let altered = format!("sha256:{}", "0".repeat(64));
    let e = err(
        &mut bob,
        "approve_change",
        json!({"change_id": id, "digest": altered}),
    )
    .await;
    assert!(e.contains("not the digest"), "{e}");
    let listed = ok(&mut bob, "list_changes", json!({})).await;
    assert_eq!(listed["changes"][0]["change_id"], id.as_str(), "{listed}");
    assert_eq!(listed["changes"][0]["writer"], "alice");
    let approved = ok(
        &mut bob,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    let e = err(&mut bob, "apply_change", json!({"change_id": id})).await;
    assert!(e.contains("only its writer"), "{e}");
    let applied = ok(&mut r.client, "apply_change", json!({"change_id": id})).await;
    assert_eq!(applied["groups"][0]["status"], "added", "{applied}");
    assert_eq!(
        applied["change"]["confirmation"]["approver"], "bob",
        "{applied}"
    );
    assert_eq!(sources(&sdk, &sg).await, vec!["203.0.113.9/32".to_string()]);
    let e = err(&mut r.client, "apply_change", json!({"change_id": id})).await;
    assert!(e.contains("already applied"), "single use: {e}");
    let audit = r
        .server
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["message"] == "tool call" && l["tool"] == "apply_change" && l["outcome"] == "ok"
        })
        .expect("audited");
    assert_eq!(
        (
            audit["subject"].as_str(),
            audit["approver"].as_str(),
            audit["applied_tool"].as_str(),
            audit["digest"].as_str()
        ),
        (
            Some("alice"),
            Some("bob"),
            Some("whitelist"),
            Some(digest.as_str())
        ),
        "{audit}"
    );
}

/// AWS through a fault-injecting proxy in front of moto: reads are retried (throttling
/// included), writes are sent once, throttling says when to retry, and repeated failures
/// open a breaker that stops sending.
#[tokio::test]
async fn aws_faults_retry_reads_only_and_open_the_breaker() {
    use test_support::fault_proxy::{EC2_INTERNAL, EC2_THROTTLED, FaultProxy};
    let moto = MotoProcess::start().await;
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let spec = aws_env(ServerSpec::http(BIN), &proxy.url)
        .env("AWSWL_BREAKER_FAILURES", "4")
        .env("AWSWL_BREAKER_COOLDOWN", "1h")
        // No background probes through the proxy while the test counts requests.
        .env("MCP_HEALTH_INTERVAL", "1h");
    let mut r = Rig::start(moto, &spec, "alice", &["aws:write"], true).await;
    let sdk = ec2(&r.peer).await;
    let sg = group(&sdk, "faults").await;
    const READ: &str = "DescribeSecurityGroupRules";
    const WRITE: &str = "AuthorizeSecurityGroupIngress";

    // A read throttled twice, then answered: the SDK's retries carry it (3 attempts).
    let before = proxy.count(READ);
    proxy.fail(READ, 2, 503, EC2_THROTTLED);
    ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert_eq!(
        proxy.count(READ) - before,
        3,
        "two throttled attempts, then the answer"
    );

    // A read throttled past its attempts: the error says when to try again.
    let before = proxy.count(READ);
    proxy.fail(READ, 3, 503, EC2_THROTTLED);
    let e = err(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        e.contains("AWS is rate limiting requests; retry after 5 s"),
        "{e}"
    );
    assert_eq!(proxy.count(READ) - before, 3);
    // Four failed attempts in a row would open the breaker; an answered read starts the
    // count again.
    ok(&mut r.client, "list_rules", json!({"target": sg})).await;

    // A throttled write is not sent again: one attempt, no rule, and when to retry.
    let before = proxy.count(WRITE);
    proxy.fail(WRITE, 1, 503, EC2_THROTTLED);
    let args = json!({"cidr": "203.0.113.20", "target": sg, "port": 443, "description": "faults"});
    let e = err(&mut r.client, "whitelist", args.clone()).await;
    assert!(e.contains("retry after"), "{e}");
    assert_eq!(
        proxy.count(WRITE) - before,
        1,
        "a write gets one attempt: {e}"
    );
    assert!(sources(&sdk, &sg).await.is_empty());
    // Once the fault is gone the same call works.
    let out = ok(&mut r.client, "whitelist", args).await;
    assert_eq!(out["groups"][0]["status"], "added", "{out}");

    // AWS failing every request: after 4 failed attempts in a row the breaker opens, and
    // then the server stops sending and says how long the pause lasts.
    proxy.fail("*", 1000, 500, EC2_INTERNAL);
    proxy.fail(READ, 1000, 500, EC2_INTERNAL);
    let e = err(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        !e.contains("circuit breaker"),
        "3 failed attempts: still closed: {e}"
    );
    let e = err(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        e.contains("circuit breaker is open") && e.contains("retry after"),
        "the 4th failure opened it: {e}"
    );
    let sent = proxy.count(READ);
    let e = err(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(e.contains("circuit breaker is open"), "{e}");
    assert_eq!(proxy.count(READ), sent, "an open breaker sends nothing");
    let metric = r
        .server
        .metric(r#"mcp_upstream_circuit_state{upstream="AWS us-east-1"}"#)
        .await;
    assert_eq!(metric, Some(2.0), "the breaker's state is exported as open");
}

/// `MCP_JWT_SECRET_SECRET_ARN`: the JWT secret read from Secrets Manager (moto) at start,
/// and a rotated value put in use without a restart.
#[tokio::test]
async fn the_jwt_secret_comes_from_secrets_manager_and_rotates() {
    use test_support::tokens::{claims, sign};
    let moto = MotoProcess::start().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk(&moto.endpoint).await);
    let first = "from-secrets-manager-0123456789abcdef-first";
    let second = "from-secrets-manager-0123456789abcdef-second";
    let arn = sm
        .create_secret()
        .name("secops/mcp-jwt")
        .secret_string(first)
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("arn")
        .to_string();
    let spec = aws_env(ServerSpec::http(BIN), &moto.endpoint)
        .without_env("MCP_JWT_SECRET")
        .env("MCP_JWT_SECRET_SECRET_ARN", arn.clone())
        .env("MCP_SECRET_REFRESH", "1s");
    let server = ServerProcess::start(&spec).await;
    let status = |secret: &'static str| {
        let url = format!("{}/mcp", server.base());
        async move {
            let mut c = test_support::RpcClient::new(
                url,
                Some(sign(&claims("alice", &["aws:read"]), secret)),
            );
            c.initialize().await.status
        }
    };
    assert_eq!(
        status(first).await,
        200,
        "a token signed with the stored secret works"
    );
    assert_eq!(
        status(test_support::tokens::TEST_SECRET).await,
        401,
        "the environment's usual secret is not in use"
    );
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(second)
        .send()
        .await
        .expect("rotate");
    // The refresh runs every second: wait (bounded) until the new secret is in use.
    let mut rotated = false;
    for _ in 0..100 {
        if status(second).await == 200 {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the rotated secret was not put in use within 10 s");
    assert_eq!(
        status(first).await,
        200,
        "the previous secret stays valid until the next change"
    );
    let logs = server.logs().join("\n");
    assert!(logs.contains("secret changed in the store"), "{logs}");
    assert!(
        !logs.contains(first) && !logs.contains(second),
        "secret values never reach the log"
    );

    // NAME and NAME_SECRET_ARN together, or an ARN that is not one, stop the server.
    let env = |extra: &[(&'static str, String)]| {
        let mut v: Vec<(&'static str, String)> = vec![
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("MCP_TRANSPORT", "http".into()),
            ("MCP_BIND", "127.0.0.1:0".into()),
        ];
        v.extend(extra.iter().cloned());
        v
    };
    let both = env(&[
        ("MCP_JWT_SECRET", first.into()),
        ("MCP_JWT_SECRET_SECRET_ARN", arn.clone()),
    ]);
    let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check_fails(
        BIN,
        &both,
        "MCP_JWT_SECRET_SECRET_ARN: MCP_JWT_SECRET (or MCP_JWT_SECRET_FILE) is set too",
    )
    .await;
    let bad = env(&[("MCP_JWT_SECRET_SECRET_ARN", "secops/mcp-jwt".into())]);
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check_fails(BIN, &bad, "is not a Secrets Manager secret ARN").await;
    let missing = env(&[(
        "MCP_JWT_SECRET_SECRET_ARN",
        arn.replace("secops/mcp-jwt", "secops/none"),
    )]);
    let missing: Vec<(&str, &str)> = missing.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check_fails(BIN, &missing, "cannot read it from AWS Secrets Manager").await;
}

/// `check_access` against rules written straight into moto, through a proxy that counts
/// what the server sends: every answer is computed, and nothing is written.
#[tokio::test]
async fn check_access_computes_the_answer() {
    use aws_sdk_ec2::types::{
        AddPrefixListEntry, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair,
    };
    let moto = MotoProcess::start().await;
    let proxy = test_support::FaultProxy::start(&moto.endpoint).await;
    let spec = aws_env(ServerSpec::http(BIN), &proxy.url).env("MCP_HEALTH_INTERVAL", "1h");
    let mut r = Rig::start(moto, &spec, "alice", &["aws:read"], true).await;
    let e2 = ec2(&r.peer).await;
    let web = group(&e2, "web").await;
    let peers = group(&e2, "peers").await;
    let pl = e2
        .create_managed_prefix_list()
        .prefix_list_name("partners")
        .max_entries(5)
        .address_family("IPv4")
        .entries(
            AddPrefixListEntry::builder()
                .cidr("198.51.100.0/24")
                .build(),
        )
        .send()
        .await
        .expect("prefix list")
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .expect("id")
        .to_string();
    let perm = |proto: &str, from: i32, to: i32| {
        IpPermission::builder()
            .ip_protocol(proto)
            .from_port(from)
            .to_port(to)
    };
    e2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            perm("tcp", 443, 443)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.0/24").build())
                .build(),
        )
        .ip_permissions(
            perm("tcp", 22, 22)
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("2001:db8:1::/64").build())
                .build(),
        )
        .ip_permissions(
            perm("tcp", 8000, 8100)
                .ip_ranges(IpRange::builder().cidr_ip("192.0.2.0/24").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("10.9.0.0/16").build())
                .build(),
        )
        .ip_permissions(
            perm("tcp", 5432, 5432)
                .ip_ranges(IpRange::builder().cidr_ip("100.64.5.0/24").build())
                .build(),
        )
        .ip_permissions(
            perm("tcp", 443, 443)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&peers).build())
                .build(),
        )
        .ip_permissions(
            perm("tcp", 6379, 6379)
                .prefix_list_ids(PrefixListId::builder().prefix_list_id(&pl).build())
                .build(),
        )
        .send()
        .await
        .expect("rules");
    let c = &mut r.client;
    let ask = |args: Value| {
        let mut a = args;
        if a.get("target").is_none() {
            a["target"] = json!(web);
        }
        a
    };
    let sources = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["source"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // A /32 inside a /24 rule.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "203.0.113.7", "port": 443})),
    )
    .await;
    assert_eq!(
        (v["verdict"].as_str(), v["allowed"].as_bool()),
        (Some("allowed"), Some(true)),
        "{v}"
    );
    assert_eq!(sources(&v, "allowing"), vec!["203.0.113.0/24"]);
    // ... and the security-group reference on the same port is a condition, not a guess.
    assert_eq!(sources(&v, "conditional"), vec![peers.clone()], "{v}");
    // An IPv6 address inside a /64.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "2001:db8:1::42", "port": "ssh"})),
    )
    .await;
    assert_eq!(sources(&v, "allowing"), vec!["2001:db8:1::/64"], "{v}");
    // A port inside a range.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "192.0.2.9", "port": "8050"})),
    )
    .await;
    assert_eq!(sources(&v, "allowing"), vec!["192.0.2.0/24"], "{v}");
    // Protocol -1 allows any port and protocol.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "10.9.3.4", "port": 9999, "protocol": "udp"})),
    )
    .await;
    assert_eq!(sources(&v, "allowing"), vec!["10.9.0.0/16"], "{v}");
    // The right CIDR on another port: a near miss, and not allowed.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "100.64.5.20", "port": 3306})),
    )
    .await;
    assert_eq!(v["verdict"], "not_allowed", "{v}");
    assert_eq!(sources(&v, "near_misses"), vec!["100.64.5.0/24"], "{v}");
    assert!(
        v["near_misses"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("5432")),
        "{v}"
    );
    // Only the group reference opens this port for that address: conditional.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "8.8.8.8", "port": 443})),
    )
    .await;
    assert_eq!(
        (v["verdict"].as_str(), sources(&v, "conditional")),
        (Some("conditional"), vec![peers.clone()]),
        "{v}"
    );
    // A prefix-list reference, resolved to its entries.
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "198.51.100.5", "port": 6379})),
    )
    .await;
    assert_eq!(sources(&v, "allowing"), vec![pl.clone()], "{v}");
    assert!(
        v["allowing"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("198.51.100.0/24")),
        "{v}"
    );
    let v = ok(
        c,
        "check_access",
        ask(json!({"address": "198.51.101.5", "port": 6379})),
    )
    .await;
    assert_eq!(v["verdict"], "not_allowed", "{v}");
    assert!(
        v["not_evaluated"][0]
            .as_str()
            .is_some_and(|n| n.contains("network ACLs"))
    );
    // An RDS target with two groups: the answer covers both.
    let other = group(&e2, "db-extra").await;
    e2.authorize_security_group_ingress()
        .group_id(&other)
        .ip_permissions(
            perm("tcp", 5432, 5432)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.0/24").build())
                .build(),
        )
        .send()
        .await
        .expect("rule");
    let rds = aws_sdk_rds::Client::new(&sdk(&r.peer.endpoint).await);
    rds.create_db_instance()
        .db_instance_identifier("two-groups")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("admin")
        .master_user_password("password-123")
        .allocated_storage(20)
        .vpc_security_group_ids(&web)
        .vpc_security_group_ids(&other)
        .send()
        .await
        .expect("rds");
    let v = ok(
        c,
        "check_access",
        json!({"address": "203.0.113.7", "port": 5432, "target": "rds:two-groups"}),
    )
    .await;
    let mut groups: Vec<String> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    groups.sort();
    let mut want = vec![web.clone(), other.clone()];
    want.sort();
    assert_eq!(groups, want, "{v}");
    assert_eq!(v["allowing"][0]["group_id"], other.as_str(), "{v}");
    assert_eq!(
        sources(&v, "near_misses"),
        vec!["203.0.113.0/24"],
        "web's 443 rule, another port: {v}"
    );
    // Nothing but reads reached AWS.
    for write in [
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
        "CreateTags",
        "DeleteTags",
        "ModifySecurityGroupRules",
    ] {
        assert_eq!(proxy.count(write), 0, "{write}");
    }
    assert!(proxy.count("DescribeSecurityGroupRules") >= 9);
}

/// A write through a role-assuming profile: the server calls AssumeRole itself with the
/// subject as SourceIdentity and the two session tags (seen on the wire, through the proxy),
/// once per subject; with AWSWL_REQUIRE_SOURCE_IDENTITY a write without a role is refused.
#[tokio::test]
async fn writes_through_a_role_carry_the_subject_into_cloudtrail() {
    use aws_whitelist::client::source_identity;
    use test_support::fault_proxy::{FaultProxy, form};
    let moto = MotoProcess::start().await;
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().expect("tmp");
    let files = profile_files(dir.path(), "testing");
    let spec = profiles_env(&proxy.url, &files)
        .env("AWSWL_REQUIRE_SOURCE_IDENTITY", "true")
        .env("MCP_HEALTH_INTERVAL", "1h");
    let subject = "alice@example.com";
    let mut r = Rig::start(moto, &spec, subject, &["aws:write"], true).await;
    let before = proxy.count("AssumeRole");
    // Without a role: refused before anything is written.
    let sdk_base = ec2(&r.peer).await;
    let sg = group(&sdk_base, "provenance").await;
    let args =
        json!({"cidr": "203.0.113.30", "target": sg, "port": 443, "description": "provenance"});
    let e = err(&mut r.client, "whitelist", args.clone()).await;
    assert!(
        e.contains("AWSWL_REQUIRE_SOURCE_IDENTITY") && e.contains("`base`"),
        "{e}"
    );
    assert_eq!(proxy.count("AuthorizeSecurityGroupIngress"), 0);
    // Through the role: AssumeRole carries the subject.
    let mut with_role = args.clone();
    with_role["profile"] = json!("ops");
    let _ = r.client.call("whitelist", with_role.clone()).await;
    let bodies = proxy.bodies("AssumeRole");
    assert_eq!(bodies.len() as u64 - before, 1, "one AssumeRole for alice");
    let f = form(bodies.last().expect("body"));
    assert_eq!(
        f.get("SourceIdentity").map(String::as_str),
        Some(subject),
        "{f:?}"
    );
    assert_eq!(
        f.get("RoleSessionName").map(String::as_str),
        Some(subject),
        "{f:?}"
    );
    assert_eq!(
        f.get("RoleArn").map(String::as_str),
        Some("arn:aws:iam::111111111111:role/secops-ops")
    );
    let tags: std::collections::BTreeMap<String, String> = (1..=2)
        .filter_map(|n| {
            Some((
                f.get(&format!("Tags.member.{n}.Key"))?.clone(),
                f.get(&format!("Tags.member.{n}.Value"))?.clone(),
            ))
        })
        .collect();
    assert_eq!(
        tags,
        [
            ("secops-mcp:server".to_string(), "aws-whitelist".to_string()),
            ("secops-mcp:subject".to_string(), subject.to_string())
        ]
        .into_iter()
        .collect(),
        "{f:?}"
    );
    // A second call of the same subject reuses the credentials.
    let _ = r.client.call("whitelist", with_role.clone()).await;
    assert_eq!(
        proxy.bodies("AssumeRole").len() as u64 - before,
        1,
        "cached per subject"
    );
    // Another subject gets its own session; a subject outside AWS's character set is mapped.
    let odd = "CN=Bob Smith/OU=secops";
    let mut bob = r.client(odd, &["aws:write"]).await;
    let _ = bob.call("whitelist", with_role).await;
    let bodies = proxy.bodies("AssumeRole");
    assert_eq!(bodies.len() as u64 - before, 2, "one more for bob");
    let f = form(bodies.last().expect("body"));
    let mapped = source_identity(odd);
    assert!(
        mapped.starts_with("CN=Bob_Smith_OU=secops-") && mapped.len() <= 64,
        "{mapped}"
    );
    assert_eq!(f.get("SourceIdentity"), Some(&mapped));
    assert_eq!(
        f.get("Tags.member.1.Value").map(String::as_str),
        Some("CN=Bob Smith/OU=secops"),
        "tag values keep spaces and slashes: {f:?}"
    );
}

#[tokio::test]
async fn resources_resolve_to_their_groups() {
    let mut r = rig_with(&[]).await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "db").await;
    let rds = aws_sdk_rds::Client::new(&sdk(&r.peer.endpoint).await);
    rds.create_db_instance()
        .db_instance_identifier("staging-db")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("admin")
        .master_user_password("password-123")
        .allocated_storage(20)
        .vpc_security_group_ids(&sg)
        .send()
        .await
        .expect("rds");
    let out = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.50", "target": "rds:staging-db", "port": "postgres", "description": "home ip"})).await;
    assert_eq!(out["groups"][0]["group_id"], sg.as_str());
    let found = ok(
        &mut r.client,
        "find_security_group",
        json!({"resource": "rds:staging-db"}),
    )
    .await;
    assert_eq!(found["groups"][0]["group_id"], sg.as_str());

    let lb_sg = group(&ec2, "alb").await;
    let subnets = {
        let vpc = ec2
            .describe_security_groups()
            .group_ids(&lb_sg)
            .send()
            .await
            .expect("sg");
        let vpc_id = vpc.security_groups()[0].vpc_id().expect("vpc").to_string();
        let a = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.20.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .expect("subnet");
        let b = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.20.2.0/24")
            .availability_zone("us-east-1b")
            .send()
            .await
            .expect("subnet");
        vec![
            a.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
            b.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
        ]
    };
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk(&r.peer.endpoint).await);
    elb.create_load_balancer()
        .name("partner-alb")
        .set_subnets(Some(subnets))
        .security_groups(&lb_sg)
        .send()
        .await
        .expect("alb");
    let out = ok(&mut r.client, "whitelist", json!({"cidr": "198.51.100.0/24", "target": "elb:partner-alb", "port": "443", "description": "partner egress"})).await;
    assert_eq!(out["groups"][0]["group_id"], lb_sg.as_str());
    let rules = ok(
        &mut r.client,
        "list_rules",
        json!({"target": "elb:partner-alb"}),
    )
    .await;
    assert!(
        ingress(&rules)
            .iter()
            .any(|x| x["source"] == "198.51.100.0/24")
    );
    let e = err(&mut r.client, "whitelist", json!({"cidr": "203.0.113.1", "target": "rds:no-such-db", "port": "postgres", "description": "x"})).await;
    assert!(e.starts_with("not found:"), "{e}");
}

#[tokio::test]
async fn removal_bulk_and_sweep() {
    let mut r = rig_with(&[]).await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "app").await;
    let a = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.10", "target": sg, "port": "ssh", "description": "a"}),
    )
    .await;
    let a_id = a["groups"][0]["rule_ids"][0]
        .as_str()
        .expect("id")
        .to_string();
    ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.11", "target": sg, "port": "ssh", "description": "b"}),
    )
    .await;
    // A rule nobody asked this server for.
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.99/32").build())
                .build(),
        )
        .send()
        .await
        .expect("manual rule");
    let removed = ok(
        &mut r.client,
        "remove_whitelist",
        json!({"rule_ids": [a_id]}),
    )
    .await;
    assert_eq!(removed["removed"][0]["source"], "203.0.113.10/32");
    let removed = ok(
        &mut r.client,
        "remove_whitelist",
        json!({"cidr": "203.0.113.11", "port": "ssh", "target": sg}),
    )
    .await;
    assert_eq!(removed["removed"].as_array().map(Vec::len), Some(1));
    let e = err(
        &mut r.client,
        "remove_whitelist",
        json!({"cidr": "203.0.113.99", "port": "ssh", "target": sg}),
    )
    .await;
    assert!(e.contains("were not created by secops-mcp"), "{e}");

    // Bulk: one invalid item and nothing is written.
    let before = ingress(&ok(&mut r.client, "list_rules", json!({"target": sg})).await).len();
    let e = err(
        &mut r.client,
        "whitelist_bulk",
        json!({"items": [
            {"cidr": "203.0.113.20", "target": sg, "port": "ssh", "description": "ok"},
            {"cidr": "0.0.0.0/0", "target": sg, "port": "ssh", "description": "everyone"},
        ]}),
    )
    .await;
    assert!(
        e.contains("items[1]") && e.contains("nothing was written"),
        "{e}"
    );
    assert_eq!(
        ingress(&ok(&mut r.client, "list_rules", json!({"target": sg})).await).len(),
        before
    );
    let bulk = ok(
        &mut r.client,
        "whitelist_bulk",
        json!({"items": [
            {"cidr": "203.0.113.20", "target": sg, "port": "ssh", "description": "one"},
            {"cidr": "203.0.113.21", "target": sg, "port": "ssh", "description": "two"},
        ]}),
    )
    .await;
    assert_eq!(
        (bulk["succeeded"].as_u64(), bulk["failed"].as_u64()),
        (Some(2), Some(0))
    );

    // An expired rule (tagged as this server tags them) and a future one.
    let past = humantime::format_rfc3339_seconds(SystemTime::now() - Duration::from_secs(3600))
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.30/32").build())
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroupRule)
                .tags(
                    Tag::builder()
                        .key("secops-mcp:owner")
                        .value("alice")
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key("secops-mcp:expires-at")
                        .value(past)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("expired rule");
    ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.31", "target": sg, "port": "443", "description": "later", "ttl": "2h"})).await;
    let dry = ok(&mut r.client, "sweep_expired", json!({"dry_run": true})).await;
    assert_eq!(dry["removed"].as_array().map(Vec::len), Some(1));
    let swept = ok(&mut r.client, "sweep_expired", json!({})).await;
    assert_eq!(swept["removed"][0]["source"], "203.0.113.30/32");
    assert_eq!(swept["pending"], 1);
    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        !ingress(&rules)
            .iter()
            .any(|x| x["source"] == "203.0.113.30/32")
    );
    assert!(
        ingress(&rules)
            .iter()
            .any(|x| x["source"] == "203.0.113.31/32")
    );
}

/// Models send ports as numbers: every `port` takes 443, "443", "https" and "8000-8100".
#[tokio::test]
async fn ports_as_numbers_names_strings_and_ranges() {
    let mut r = rig_with(&[]).await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "ports").await;
    let number = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.40", "target": sg, "port": 443, "description": "number"}),
    )
    .await;
    assert_eq!(
        (
            number["ports"].as_str(),
            number["groups"][0]["status"].as_str()
        ),
        (Some("443"), Some("added"))
    );
    let text = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.40", "target": sg, "port": "443", "description": "text"}),
    )
    .await;
    assert_eq!(text["groups"][0]["status"], "exists");
    let name = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.40", "target": sg, "port": "https", "description": "name"}),
    )
    .await;
    assert_eq!(name["groups"][0]["status"], "exists");
    let range = ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.41", "target": sg, "port": "8000-8100", "description": "range"}),
    )
    .await;
    assert_eq!(
        (
            range["ports"].as_str(),
            range["groups"][0]["status"].as_str()
        ),
        (Some("8000-8100"), Some("added"))
    );
    let bulk = ok(
        &mut r.client,
        "whitelist_bulk",
        json!({"items": [
            {"cidr": "203.0.113.42", "target": sg, "port": 22, "description": "bulk number"},
            {"cidr": "203.0.113.43", "target": sg, "port": "ssh", "description": "bulk name"},
        ]}),
    )
    .await;
    assert_eq!(bulk["succeeded"], 2, "{bulk}");
    let removed = ok(
        &mut r.client,
        "remove_whitelist",
        json!({"cidr": "203.0.113.42", "port": 22, "target": sg}),
    )
    .await;
    assert_eq!(removed["removed"][0]["source"], "203.0.113.42/32");
    let removed = ok(
        &mut r.client,
        "remove_whitelist",
        json!({"cidr": "203.0.113.41", "port": "8000-8100", "target": sg}),
    )
    .await;
    assert_eq!(removed["removed"][0]["from_port"], 8000);
    // Out of range, fractional, negative: refused naming `port`, before any AWS request.
    for bad in [json!(0), json!(65536), json!(-1), json!(1.5), json!(true)] {
        let e = err(
            &mut r.client,
            "whitelist",
            json!({"cidr": "203.0.113.44", "target": sg, "port": bad, "description": "bad"}),
        )
        .await;
        assert!(e.contains("`port`"), "{bad}: {e}");
        let e = err(
            &mut r.client,
            "whitelist_bulk",
            json!({"items": [{"cidr": "203.0.113.44", "target": sg, "port": bad, "description": "bad"}]}),
        )
        .await;
        assert!(e.contains("`items[0].port`"), "{bad}: {e}");
        let e = err(
            &mut r.client,
            "remove_whitelist",
            json!({"cidr": "203.0.113.44", "target": sg, "port": bad}),
        )
        .await;
        assert!(e.contains("`port`"), "{bad}: {e}");
    }
    let refused = audited_upstream_calls(&r.server, "whitelist");
    assert!(refused.ends_with(&[0; 5]), "{refused:?}");
}

#[tokio::test]
async fn every_guardrail_refuses_before_any_aws_call() {
    // The AWS endpoint is closed: a tool that called AWS first would say "cannot reach".
    let Rig {
        server,
        client: mut c,
        ..
    } = rig_unreachable(&[("AWSWL_PROFILES", "staging")]).await;
    let sg = "sg-0123456789abcdef0";
    let base = json!({"cidr": "203.0.113.7", "target": sg, "port": "ssh", "description": "x"});
    let with = |k: &str, v: Value| {
        let mut a = base.clone();
        a[k] = v;
        a
    };
    for (args, want) in [
        (with("cidr", json!("0.0.0.0/0")), "whole internet"),
        (with("cidr", json!("::/0")), "whole internet"),
        (
            with("cidr", json!("203.0.112.0/16")),
            "broader than the allowed /24",
        ),
        (
            with("cidr", json!("2001:db8::/32")),
            "broader than the allowed /64",
        ),
        (with("cidr", json!("10.1.2.3")), "private range"),
        (with("cidr", json!("192.168.0.0/24")), "private range"),
        (with("cidr", json!("127.0.0.1")), "loopback"),
        (with("cidr", json!("169.254.169.254")), "link-local"),
        (with("cidr", json!("::ffff:203.0.113.7")), "`cidr`"),
        (with("cidr", json!("203.0.113.07")), "leading zero"),
        (with("port", json!("3389")), "not an allowed port"),
        (with("port", json!("99999")), "`port`"),
        (with("port", json!(3389)), "not an allowed port"),
        (with("port", json!(0)), "`port`"),
        (with("port", json!(65536)), "`port`"),
        (with("port", json!(-1)), "`port`"),
        (with("port", json!(1.5)), "`port`"),
        (with("target", json!("sg-xyz")), "`target`"),
        (with("target", json!("s3:bucket")), "`target`"),
        (with("region", json!("mars-east-1")), "`region`"),
        (with("profile", json!("prod")), "not on the allowlist"),
        (with("protocol", json!("all")), "`protocol`"),
        (with("description", json!("")), "`description`"),
        (with("description", json!("a\nb")), "`description`"),
        (with("ttl", json!("400d")), "`ttl`"),
    ] {
        let e = err(&mut c, "whitelist", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
        assert!(
            !e.contains("cannot reach"),
            "validation must come first: {e}"
        );
    }
    let e = err(
        &mut c,
        "remove_whitelist",
        json!({"rule_ids": ["sgr-nothex!"]}),
    )
    .await;
    assert!(e.contains("`rule_ids[0]`"), "{e}");
    let e = err(&mut c, "list_security_groups", json!({"tag": "no-equals"})).await;
    assert!(e.contains("`tag`"), "{e}");
    // Not one attempt, not even a failed connection, for a refused call.
    let audited = audited_upstream_calls(&server, "whitelist");
    assert_eq!(audited.len(), 25, "{audited:?}");
    assert!(audited.iter().all(|n| *n == 0), "{audited:?}");
}

#[tokio::test]
async fn identities_profiles_and_diagnostics() {
    let moto = MotoProcess::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let files = profile_files(dir.path(), "never-shown-secret");
    let checker = wiremock_ip().await;
    let spec = profiles_env(&moto.endpoint, &files).env("AWSWL_CHECKIP_URL", checker.clone());
    let Rig {
        peer: _moto,
        server: _server,
        client: mut c,
    } = Rig::start(moto, &spec, "alice", &["aws:read"], true).await;
    let names = c.tool_names().await;
    assert!(
        !names.contains(&"whitelist".to_string()) && names.contains(&"list_rules".to_string()),
        "{names:?}"
    );
    let id = ok(&mut c, "test_credentials", json!({"profile": "ops"})).await;
    assert_eq!(
        id["account"], "111111111111",
        "the assumed role's account: {id}"
    );
    assert!(
        id["arn"]
            .as_str()
            .is_some_and(|a| a.contains("assumed-role/secops-ops")),
        "{id}"
    );
    let profiles = ok(&mut c, "list_profiles", json!({})).await;
    let text = profiles.to_string();
    assert!(
        text.contains("\"ops\"")
            && text.contains("secops-ops")
            && !text.contains("never-shown-secret")
            && !text.contains("testing"),
        "{text}"
    );
    let caps = ok(&mut c, "capabilities", json!({})).await;
    assert_eq!(caps["broadest_ipv4_prefix"], 24);
    assert_eq!(
        caps["allowed_ports"],
        json!(["22", "443", "5432", "8000-8100"])
    );
    assert_eq!(
        caps["sweep_interval"], "5m",
        "the sweep is on by default: {caps}"
    );
    assert_eq!(caps["instance"], "default", "{caps}");
    let health = ok(&mut c, "health", json!({})).await;
    assert_eq!(health["reachable"], true, "{health}");
    let ip = ok(&mut c, "get_my_ip", json!({})).await;
    assert_eq!(
        (ip["ip"].as_str(), ip["cidr"].as_str()),
        (Some("198.51.100.200"), Some("198.51.100.200/32"))
    );
}

/// A tiny checkip endpoint on 127.0.0.1 answering a fixed documentation address.
async fn wiremock_ip() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = "198.51.100.200\n";
                let _ = s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A tag on a rule, set from outside (moves an expiry into the past).
async fn retag(ec2: &aws_sdk_ec2::Client, rule_id: &str, key: &str, value: &str) {
    ec2.create_tags()
        .resources(rule_id)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .expect("create_tags on the rule");
}

fn an_hour_ago() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() - Duration::from_secs(3600)).to_string()
}

/// An expired rule as another deployment (`instance`) of this server would have written it.
async fn foreign_rule(ec2: &aws_sdk_ec2::Client, sg: &str, cidr: &str, instance: &str) -> String {
    let out = ec2
        .authorize_security_group_ingress()
        .group_id(sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroupRule)
                .tags(
                    Tag::builder()
                        .key("secops-mcp:owner")
                        .value("alice")
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key("secops-mcp:expires-at")
                        .value(an_hour_ago())
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key("secops-mcp:instance")
                        .value(instance)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("foreign rule");
    out.security_group_rules()[0]
        .security_group_rule_id()
        .expect("id")
        .to_string()
}

/// A TTL is enforced in every (profile, region) a rule may be written in: a rule written with
/// a per-call profile (another account) in a non-default region is removed by the server's own
/// sweep once it expires.
#[tokio::test]
async fn the_sweep_covers_other_profiles_and_regions() {
    let moto = MotoProcess::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let files = profile_files(dir.path(), "testing");
    let spec = profiles_env(&moto.endpoint, &files)
        .env("AWSWL_SWEEP_REGIONS", "us-west-2")
        .env("AWSWL_SWEEP_INTERVAL", "1s");
    let Rig {
        peer: moto,
        server,
        client: mut c,
    } = Rig::start(moto, &spec, "alice", &["aws:write"], true).await;
    // The test acts in the ops account (111111111111) in us-west-2, as the profile does.
    let base = sdk(&moto.endpoint).await;
    let assumed = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/secops-ops")
        .role_session_name("test")
        .send()
        .await
        .expect("assume role");
    let k = assumed.credentials().expect("credentials");
    let ops = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_types::region::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            k.access_key_id(),
            k.secret_access_key(),
            Some(k.session_token().to_string()),
            None,
            "assumed",
        ))
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&ops);
    let sg = group(&ec2, "west").await;
    let at = json!({"profile": "ops", "region": "us-west-2"});
    let out = ok(
        &mut c,
        "whitelist",
        json!({"cidr": "203.0.113.60", "target": sg, "port": 22, "description": "west", "ttl": "1h", "profile": "ops", "region": "us-west-2"}),
    )
    .await;
    let rule_id = out["groups"][0]["rule_ids"][0]
        .as_str()
        .expect("rule id")
        .to_string();
    assert!(out["expires_at"].as_str().is_some(), "{out}");
    // A region the sweep does not cover: the ttl would be a promise nobody keeps.
    let e = err(
        &mut c,
        "whitelist",
        json!({"cidr": "203.0.113.61", "target": sg, "port": 22, "description": "far", "ttl": "1h", "region": "eu-west-1"}),
    )
    .await;
    assert!(e.contains("`ttl`") && e.contains("eu-west-1"), "{e}");

    retag(&ec2, &rule_id, "secops-mcp:expires-at", &an_hour_ago()).await;
    let swept = server.wait_for_log("expired rules swept").await;
    assert!(
        swept.contains("us-west-2") && swept.contains("\"profile\":\"ops\""),
        "{swept}"
    );
    let mut args = at.clone();
    args["target"] = json!(sg);
    let rules = ok(&mut c, "list_rules", args).await;
    assert!(
        !ingress(&rules)
            .iter()
            .any(|x| x["rule_id"] == rule_id.as_str()),
        "the expired rule was swept: {rules}"
    );
}

/// `exists` reports the expiry the existing rule carries, not the one asked for.
#[tokio::test]
async fn exists_reports_the_real_expiry() {
    let mut r = rig_with(&[]).await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "exp").await;
    let first = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.70", "target": sg, "port": 22, "description": "first", "ttl": "2h"})).await;
    let expiry = first["expires_at"].as_str().expect("expiry").to_string();
    assert_eq!(first["groups"][0]["expires_at"], expiry.as_str());
    let again = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.70", "target": sg, "port": 22, "description": "again", "ttl": "8h"})).await;
    assert_eq!(again["groups"][0]["status"], "exists");
    assert_eq!(again["groups"][0]["expires_at"], expiry.as_str(), "{again}");
    assert_eq!(again["expires_at"], expiry.as_str(), "{again}");
    // A permanent rule stays permanent: no expiry is claimed.
    ok(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.71", "target": sg, "port": 22, "description": "forever"}),
    )
    .await;
    let again = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.71", "target": sg, "port": 22, "description": "again", "ttl": "8h"})).await;
    assert_eq!(again["groups"][0]["status"], "exists");
    assert!(again["expires_at"].is_null(), "{again}");
    assert!(again["groups"][0]["expires_at"].is_null(), "{again}");
}

/// Operator settings: every rule needs a ttl; only the owner may remove a rule; each
/// deployment touches only the rules tagged with its own instance.
#[tokio::test]
async fn require_ttl_own_only_and_instances() {
    let mut r = rig_with(&[
        ("AWSWL_REQUIRE_TTL", "true"),
        ("AWSWL_REMOVE_OWN_ONLY", "true"),
        ("AWSWL_INSTANCE", "blue"),
    ])
    .await;
    let ec2 = ec2(&r.peer).await;
    let sg = group(&ec2, "ops").await;
    let e = err(
        &mut r.client,
        "whitelist",
        json!({"cidr": "203.0.113.80", "target": sg, "port": 22, "description": "no ttl"}),
    )
    .await;
    assert!(
        e.contains("`ttl`") && e.contains("AWSWL_REQUIRE_TTL"),
        "{e}"
    );
    let e = err(
        &mut r.client,
        "whitelist_bulk",
        json!({"items": [{"cidr": "203.0.113.80", "target": sg, "port": 22, "description": "no ttl"}]}),
    )
    .await;
    assert!(e.contains("`items[0].ttl`"), "{e}");
    let mine = ok(&mut r.client, "whitelist", json!({"cidr": "203.0.113.80", "target": sg, "port": 22, "description": "with ttl", "ttl": "1h"})).await;
    let mine_id = mine["groups"][0]["rule_ids"][0]
        .as_str()
        .expect("id")
        .to_string();
    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    let rule = ingress(&rules)
        .into_iter()
        .find(|x| x["rule_id"] == mine_id.as_str())
        .expect("listed");
    assert_eq!(rule["tags"]["secops-mcp:instance"], "blue", "{rule}");
    assert_eq!(rule["tags"]["secops-mcp:owner"], "alice", "{rule}");

    // bob may not remove alice's rule.
    let mut bob = r.client("bob", &["aws:write"]).await;
    let e = err(&mut bob, "remove_whitelist", json!({"rule_ids": [mine_id]})).await;
    assert!(
        e.contains("alice") && e.contains("AWSWL_REMOVE_OWN_ONLY"),
        "{e}"
    );
    let e = err(
        &mut bob,
        "remove_whitelist",
        json!({"cidr": "203.0.113.80", "port": 22, "target": sg}),
    )
    .await;
    assert!(e.contains("alice"), "{e}");

    // A rule of the green deployment, already expired: neither swept nor removed here.
    let green = foreign_rule(&ec2, &sg, "203.0.113.81/32", "green").await;
    let swept = ok(&mut r.client, "sweep_expired", json!({})).await;
    assert_eq!(
        swept["removed"].as_array().map(Vec::len),
        Some(0),
        "{swept}"
    );
    let e = err(
        &mut r.client,
        "remove_whitelist",
        json!({"rule_ids": [green]}),
    )
    .await;
    assert!(e.contains("green"), "{e}");
    let rules = ok(&mut r.client, "list_rules", json!({"target": sg})).await;
    assert!(
        ingress(&rules)
            .iter()
            .any(|x| x["rule_id"] == green.as_str())
    );

    // alice removes her own.
    let removed = ok(
        &mut r.client,
        "remove_whitelist",
        json!({"rule_ids": [mine_id]}),
    )
    .await;
    assert_eq!(removed["removed"][0]["rule_id"], mine_id.as_str());
}

/// With the sweep off, nothing would remove an expired rule: a ttl is refused, not promised.
#[tokio::test]
async fn no_sweep_means_no_ttl() {
    let Rig {
        server,
        client: mut c,
        ..
    } = rig_unreachable(&[("AWSWL_SWEEP_INTERVAL", "off")]).await;
    let e = err(
        &mut c,
        "whitelist",
        json!({"cidr": "203.0.113.7", "target": "sg-0123456789abcdef0", "port": 22, "description": "x", "ttl": "1h"}),
    )
    .await;
    assert!(
        e.contains("`ttl`") && e.contains("AWSWL_SWEEP_INTERVAL"),
        "{e}"
    );
    let audited = audited_upstream_calls(&server, "whitelist");
    assert_eq!(audited, vec![0], "refused before any AWS call");
}

/// `check` builds the server and asks STS who it is; bad settings and an unreachable AWS
/// fail it with the reason.
#[tokio::test]
async fn check_subcommand() {
    let moto = MotoProcess::start().await;
    let env = |endpoint: &str| -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    let good = env(&moto.endpoint);
    let out = check_ok(BIN, &pairs(&good)).await;
    assert!(
        out.starts_with("aws-whitelist: ok: AWS us-east-1 as arn:aws:"),
        "{out}"
    );
    let mut bad = pairs(&good);
    bad.push(("AWSWL_SWEEP_INTERVAL", "500ms"));
    check_fails(BIN, &bad, "at least 1s").await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = env(&format!("http://{}", dead.local_addr().expect("addr")));
    drop(dead);
    check_fails(BIN, &pairs(&closed), "upstream check failed").await;
}

/// Three replicas share one moto and one real redis-server (`MCP_STATE_URL`) and nothing
/// else: alice's change submitted on A is approved by bob on B and applied by alice on C, once.
/// With Redis killed, a write that needs an approval is refused with a clear error and nothing
/// is written; when Redis returns, the rule works again.
#[tokio::test]
async fn an_approval_given_on_one_replica_is_applied_on_another() {
    let moto = MotoProcess::start().await;
    let mut redis = test_support::RedisServer::start().await;
    let spec = aws_env(ServerSpec::http(BIN), &moto.endpoint)
        .without_env("MCP_CONFIRM")
        .env("MCP_APPROVALS", "required")
        .env("MCP_STATE_URL", redis.url())
        .env("MCP_STATE_KEY", "replicas-share-this-key-0123456789abcdef")
        .env("MCP_HEALTH_INTERVAL", "1s");
    let a = ServerProcess::start(&spec).await;
    let b = ServerProcess::start(&spec).await;
    let c = ServerProcess::start(&spec).await;
    let client = |s: &ServerProcess, sub: &str, scopes: &[&str]| {
        let mut cl = test_support::RpcClient::new(
            format!("{}/mcp", s.base()),
            Some(test_support::tokens::token(sub, scopes)),
        );
        async move {
            let init = cl.initialize().await;
            assert_eq!(init.status, 200, "initialize: {}", init.raw);
            cl
        }
    };
    let sdk = ec2(&moto).await;
    let sg = group(&sdk, "replicas").await;
    let args = json!({"cidr": "203.0.113.10", "target": sg, "port": 443, "description": "vendor"});
    let mut alice_a = client(&a, "alice", &["aws:write"]).await;
    let pending = ok(&mut alice_a, "whitelist", args.clone()).await;
    assert_eq!(pending["change"]["status"], "pending_approval", "{pending}");
    let id = pending["change"]["pending"]["change_id"]
        .as_str()
        .expect("id")
        .to_string();
    let digest = pending["change"]["pending"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let mut bob_b = client(&b, "bob", &["aws:approve"]).await;
    let listed = ok(&mut bob_b, "list_changes", json!({})).await;
    assert_eq!(
        listed["changes"][0]["change_id"],
        id.as_str(),
        "B sees the change A stored: {listed}"
    );
    let approved = ok(
        &mut bob_b,
        "approve_change",
        json!({"change_id": id, "digest": digest}),
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    assert!(
        sources(&sdk, &sg).await.is_empty(),
        "approval writes nothing"
    );
    let mut alice_c = client(&c, "alice", &["aws:write"]).await;
    let applied = ok(&mut alice_c, "apply_change", json!({"change_id": id})).await;
    assert_eq!(applied["groups"][0]["status"], "added", "{applied}");
    assert_eq!(
        applied["change"]["confirmation"]["approver"], "bob",
        "{applied}"
    );
    assert_eq!(
        sources(&sdk, &sg).await,
        vec!["203.0.113.10/32".to_string()]
    );
    // Used up everywhere: not on A, not on C again.
    for cl in [&mut alice_a, &mut alice_c] {
        let e = err(cl, "apply_change", json!({"change_id": id})).await;
        assert!(e.contains("already applied"), "{e}");
    }
    // Each replica's /health reports the store.
    let (_, h) = b
        .health_until(|h| h["checks"]["state"]["status"] == "ok")
        .await;
    assert_eq!(h["checks"]["state"]["status"], "ok", "{h}");

    // Redis dies: a write that needs an approval is refused, clearly, and nothing is written.
    redis.kill().await;
    let other = json!({"cidr": "203.0.113.11", "target": sg, "port": 443, "description": "vendor"});
    let e = err(&mut alice_a, "whitelist", other.clone()).await;
    assert!(e.contains("shared state store is unreachable"), "{e}");
    assert!(
        !e.contains(test_support::redis::REDIS_PASSWORD),
        "the store's password never reaches a caller: {e}"
    );
    assert_eq!(
        sources(&sdk, &sg).await,
        vec!["203.0.113.10/32".to_string()]
    );
    let (_, h) = a
        .health_until(|h| h["checks"]["state"]["status"] == "down")
        .await;
    assert_eq!(h["checks"]["state"]["status"], "down", "{h}");

    // Redis returns (empty): the two-person rule works again, through any replica.
    redis.restart().await;
    let mut pending = Value::Null;
    for _ in 0..50 {
        let r = alice_a.call("whitelist", other.clone()).await;
        if r["result"]["isError"] == false {
            pending = r["result"]["structuredContent"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending["change"]["status"], "pending_approval", "{pending}");
    let id2 = pending["change"]["pending"]["change_id"]
        .as_str()
        .expect("id")
        .to_string();
    let listed = ok(&mut bob_b, "list_changes", json!({})).await;
    assert_eq!(listed["changes"][0]["change_id"], id2.as_str(), "{listed}");
}

/// With a shared store the scheduled sweep runs on one replica at a time (a lease in a real
/// redis-server), and when that replica is SIGKILLed another takes the lease and sweeps.
#[tokio::test]
async fn the_sweep_runs_on_one_replica_and_moves_when_its_holder_is_killed() {
    let moto = MotoProcess::start().await;
    let redis = test_support::RedisServer::start().await;
    let spec = aws_env(ServerSpec::http(BIN), &moto.endpoint)
        .env("AWSWL_SWEEP_INTERVAL", "1s")
        .env("MCP_STATE_URL", redis.url());
    let mut replicas = vec![
        Some(ServerProcess::start(&spec).await),
        Some(ServerProcess::start(&spec).await),
        Some(ServerProcess::start(&spec).await),
    ];
    let sweeps = |s: &Option<ServerProcess>| {
        s.as_ref().map_or(0, |s| {
            s.logs()
                .iter()
                .filter(|l| l.contains("scheduled sweep started"))
                .count()
        })
    };
    // Bounded polling for the replicas' own log lines (the sweep runs every second).
    let wait_total = |replicas: &Vec<Option<ServerProcess>>, at_least: usize| {
        let total: usize = replicas.iter().map(sweeps).sum();
        total >= at_least
    };
    let mut ok = false;
    for _ in 0..300 {
        if wait_total(&replicas, 4) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "four sweeps never ran");
    let counts: Vec<usize> = replicas.iter().map(sweeps).collect();
    let holders: Vec<usize> = (0..3).filter(|i| counts[*i] > 0).collect();
    assert_eq!(holders.len(), 1, "one replica sweeps: {counts:?}");
    let holder = holders[0];
    // SIGKILL the holder (the process is killed on drop): it cannot give the lease up.
    drop(replicas[holder].take());
    let before: Vec<usize> = replicas.iter().map(sweeps).collect();
    let mut ok = false;
    for _ in 0..300 {
        let after: usize = replicas.iter().map(sweeps).sum();
        if after >= before.iter().sum::<usize>() + 3 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "no replica took the sweep over");
    let after: Vec<usize> = replicas.iter().map(sweeps).collect();
    let new_holders: Vec<usize> = (0..3).filter(|i| after[*i] > before[*i]).collect();
    assert_eq!(
        new_holders.len(),
        1,
        "one survivor sweeps: before {before:?} after {after:?}"
    );
    assert_ne!(new_holders[0], holder);
    // The lease names its holder in the log when it is taken.
    let s = replicas[new_holders[0]].as_ref().expect("alive");
    assert!(
        s.logs()
            .iter()
            .any(|l| l.contains("this replica now holds the lease")),
        "the takeover is logged"
    );
}
