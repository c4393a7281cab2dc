//! The output guard on a firewall: a rule description carrying an indirect prompt
//! injection (`fixtures/panos/firewall-injected.xml`) is withheld by `MCP_GUARD=airs`
//! against `vendor-sim airs`; the same call with the guard off serves the rule, and a benign
//! config passes unchanged.

use serde_json::json;
use test_support::{RpcClient, call_err as err, call_ok as ok};
use test_support::{ServerProcess, ServerSpec, SimProcess, own_fixture};

const BIN: &str = env!("CARGO_BIN_EXE_paloalto-ngfw");
const KEY: &str = "sim-api-key-0123456789";
const AIRS_KEY: &str = "airs-guard-key";

async fn panos(fixture: &str) -> SimProcess {
    let config = own_fixture(&format!("panos/{fixture}"))
        .display()
        .to_string();
    SimProcess::start(&["panos", "--config", &config, "--api-key", KEY]).await
}

async fn airs() -> SimProcess {
    SimProcess::start(&["airs", "--api-key", AIRS_KEY, "--profile", "secops-guard"]).await
}

async fn server(panos: &SimProcess, airs: Option<&SimProcess>) -> (ServerProcess, RpcClient) {
    server_with(panos, airs, &[]).await
}

async fn server_with(
    panos: &SimProcess,
    airs: Option<&SimProcess>,
    extra: &[(&str, &str)],
) -> (ServerProcess, RpcClient) {
    let mut spec = ServerSpec::http(BIN)
        .env("MCP_STATELESS", "true")
        .env("PANOS_HOST", panos.base.clone())
        .env("PANOS_API_KEY", KEY);
    if let Some(a) = airs {
        spec = spec
            .env("MCP_GUARD", "airs")
            .env("PANW_AI_SEC_API_ENDPOINT", a.base.clone())
            .env("PANW_AI_SEC_API_KEY", AIRS_KEY)
            .env("PANW_AI_PROFILE_NAME", "secops-guard");
    }
    let spec = spec.env_overrides(extra);
    let server = ServerProcess::start(&spec).await;
    let mut c = RpcClient::new(
        format!("{}/mcp", server.base()),
        Some(test_support::tokens::token("alice", &["ngfw:read"])),
    );
    assert_eq!(c.initialize().await.status, 200);
    (server, c)
}

#[tokio::test]
async fn an_injected_rule_description_is_withheld() {
    let sim = panos("firewall-injected.xml").await;
    let guard = airs().await;
    let (_s, mut c) = server(&sim, Some(&guard)).await;
    let e = err(&mut c, "retrieve_security_policies", json!({})).await;
    assert!(
        e.starts_with("output withheld: Prisma AIRS flagged injection in this result"),
        "{e}"
    );
    assert!(
        !e.contains("legacy-allow-any") && !e.to_lowercase().contains("ignore previous"),
        "no text of the flagged rule: {e}"
    );
    // The other rules' reads are not affected: a benign result passes.
    let objects = ok(&mut c, "retrieve_address_objects", json!({"limit": 3})).await;
    assert_eq!(
        objects["items"].as_array().map(Vec::len),
        Some(3),
        "{objects}"
    );

    // The guard off: the same config serves the rule as it is.
    let (_s2, mut plain) = server(&sim, None).await;
    let rules = ok(&mut plain, "retrieve_security_policies", json!({})).await;
    let text = rules.to_string();
    assert!(
        text.contains("legacy-allow-any") && text.contains("Ignore previous instructions"),
        "{text}"
    );
}

#[tokio::test]
async fn a_benign_config_passes_unchanged() {
    let sim = panos("firewall.xml").await;
    let guard = airs().await;
    let (_s, mut c) = server(&sim, Some(&guard)).await;
    let guarded = ok(&mut c, "retrieve_security_policies", json!({})).await;
    let (_s2, mut plain) = server(&sim, None).await;
    let unguarded = ok(&mut plain, "retrieve_security_policies", json!({})).await;
    assert_eq!(
        guarded, unguarded,
        "the guard changes nothing it lets through"
    );
    let scans = guard.stats().await["by_type"]["sync"].as_u64().unwrap_or(0);
    assert!(scans >= 1, "the result was scanned");
}

/// `MCP_GUARD_MODE=redact`: only the flagged rule is held back; the model still gets the
/// others.
#[tokio::test]
async fn redact_mode_withholds_only_the_flagged_rule() {
    let sim = panos("firewall-injected.xml").await;
    let guard = airs().await;
    let (_s, mut c) = server_with(&sim, Some(&guard), &[("MCP_GUARD_MODE", "redact")]).await;
    let page = ok(&mut c, "retrieve_security_policies", json!({})).await;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let withheld: Vec<_> = items
        .iter()
        .filter(|i| i.get("withheld").is_some())
        .collect();
    assert_eq!(withheld.len(), 1, "{page}");
    assert!(
        withheld[0]["withheld"]
            .as_str()
            .is_some_and(|w| w.starts_with("Prisma AIRS flagged injection in this item")),
        "{page}"
    );
    let text = page.to_string();
    assert!(
        !text.contains("legacy-allow-any") && !text.to_lowercase().contains("ignore previous"),
        "{text}"
    );
    assert!(
        text.contains("allow-web-inbound"),
        "the other rules are served: {text}"
    );
}
