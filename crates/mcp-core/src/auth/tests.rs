use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use std::time::Duration;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn hs(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn cfg(extra: &[(&str, &str)]) -> AuthConfig {
    let mut pairs = vec![("MCP_JWT_SECRET".to_string(), SECRET.to_string())];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    AuthConfig::from_env(&Env::from_pairs(pairs)).expect("config")
}

async fn verifier(c: &AuthConfig) -> Verifier {
    Verifier::new(c, reqwest::Client::new())
        .await
        .expect("verifier")
}

fn good_claims() -> Value {
    json!({"sub": "alice", "scope": "ngfw:read aws:write", "exp": now() + 600, "nbf": now() - 5, "aud": "secops-mcp"})
}

#[tokio::test]
async fn hs256_matrix() {
    let v = verifier(&cfg(&[
        ("MCP_JWT_ISSUER", "https://idp.example"),
        ("MCP_JWT_AUDIENCE", "secops-mcp"),
    ]))
    .await;
    let mut ok = good_claims();
    ok["iss"] = json!("https://idp.example");
    ok["aud"] = json!("secops-mcp");
    let p = v.verify(&hs(&ok, SECRET)).await.expect("valid");
    assert_eq!(p.subject, "alice");
    let declared = ["aws:read", "aws:write", "ngfw:read"]
        .map(String::from)
        .into();
    assert!(
        p.allows_on("aws:read", &declared) && p.allows("ngfw:read") && !p.allows("proxmox:read")
    );

    let mut expired = ok.clone();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        v.verify(&hs(&expired, SECRET)).await,
        Err(TokenError::Expired)
    );

    let mut early = ok.clone();
    early["nbf"] = json!(now() + 3600);
    assert_eq!(
        v.verify(&hs(&early, SECRET)).await,
        Err(TokenError::NotYetValid)
    );

    assert_eq!(
        v.verify(&hs(&ok, "another-secret-that-is-long-enough!!"))
            .await,
        Err(TokenError::Signature)
    );

    let mut iss = ok.clone();
    iss["iss"] = json!("https://evil.example");
    assert_eq!(v.verify(&hs(&iss, SECRET)).await, Err(TokenError::Issuer));

    let mut aud = ok.clone();
    aud["aud"] = json!("someone-else");
    assert_eq!(v.verify(&hs(&aud, SECRET)).await, Err(TokenError::Audience));

    for claim in ["iss", "aud"] {
        let mut missing = ok.clone();
        missing.as_object_mut().expect("obj").remove(claim);
        let want = if claim == "iss" {
            TokenError::Issuer
        } else {
            TokenError::Audience
        };
        assert_eq!(
            v.verify(&hs(&missing, SECRET)).await,
            Err(want),
            "token without {claim}"
        );
    }

    let mut no_exp = ok.clone();
    no_exp.as_object_mut().expect("obj").remove("exp");
    assert_eq!(
        v.verify(&hs(&no_exp, SECRET)).await,
        Err(TokenError::Claim("exp"))
    );

    // alg: none, with the signature stripped.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(ok.to_string())
    );
    assert!(matches!(
        v.verify(&none).await,
        Err(TokenError::Algorithm | TokenError::Malformed)
    ));

    for junk in ["", "abc", "a.b.c", "eyJ.eyJ.sig", "\u{0}"] {
        assert!(v.verify(junk).await.is_err(), "{junk:?}");
    }
}

#[test]
fn scope_claims_of_every_shape() {
    let m = |v: Value| v.as_object().cloned().expect("object");
    let p =
        principal_from_claims(&m(json!({"sub":"a","scp":["aws:read","ngfw:read"]}))).expect("ok");
    assert!(p.allows("aws:read") && p.allows("ngfw:read"));
    let p = principal_from_claims(&m(json!({"sub":"a","scopes":"proxmox:exec"}))).expect("ok");
    assert!(p.allows("proxmox:exec"));
    let declared = ["proxmox:read", "proxmox:exec"].map(String::from).into();
    assert!(p.allows_on("proxmox:read", &declared));
    assert_eq!(
        principal_from_claims(&m(json!({"sub":"a","scope":42}))),
        Err(TokenError::Claim("scope"))
    );
    assert_eq!(
        principal_from_claims(&m(json!({"sub":"a","scp":[1]}))),
        Err(TokenError::Claim("scp"))
    );
    assert_eq!(
        principal_from_claims(&m(json!({"scope":"x:read"}))),
        Err(TokenError::Claim("sub"))
    );
    let p = principal_from_claims(&m(json!({"sub":"a"}))).expect("no scopes is valid");
    assert!(!p.allows("aws:read"));
}

#[test]
fn config_rules() {
    let short = AuthConfig::from_env(&Env::from_pairs([("MCP_JWT_SECRET", "short")]));
    assert!(
        short
            .expect_err("short")
            .to_string()
            .contains("at least 32 bytes")
    );
    let legacy =
        AuthConfig::from_env(&Env::from_pairs([("MCP_JWT_SECRET_KEY", SECRET)])).expect("ok");
    assert!(legacy.has_verifier());
    let both = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_URL", "http://x"),
        ("MCP_JWT_JWKS_FILE", "/x"),
    ]));
    assert!(both.is_err());
    assert!(AuthConfig::from_env(&Env::from_pairs([("MCP_AUTH", "maybe")])).is_err());
    let both = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_SECRET", SECRET),
        ("MCP_JWT_SECRET_KEY", SECRET),
    ]));
    assert!(
        both.expect_err("both names")
            .to_string()
            .contains("both set")
    );
    let short = AuthConfig::from_env(&Env::from_pairs([("MCP_JWT_SECRET_KEY", "short")]));
    assert!(
        short
            .expect_err("short")
            .to_string()
            .starts_with("MCP_JWT_SECRET_KEY:")
    );
    // Keys from an identity provider need an audience: a sibling server's token must fail.
    for (var, val) in [
        ("MCP_JWT_JWKS_URL", "http://127.0.0.1:9/jwks"),
        ("MCP_JWT_JWKS_FILE", "/x/jwks.json"),
    ] {
        let no_aud = AuthConfig::from_env(&Env::from_pairs([(var, val)]));
        assert!(
            no_aud
                .expect_err("JWKS without audience")
                .to_string()
                .starts_with("MCP_JWT_AUDIENCE is required"),
            "{var}"
        );
        assert!(
            AuthConfig::from_env(&Env::from_pairs([(var, val), ("MCP_JWT_AUDIENCE", "fw")]))
                .is_ok()
        );
    }
    let plain = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_URL", "http://idp.example.com/jwks"),
        ("MCP_JWT_AUDIENCE", "secops-mcp"),
    ]));
    assert!(
        plain
            .expect_err("plain http")
            .to_string()
            .contains("plain http is allowed only for loopback")
    );
    assert!(
        AuthConfig::from_env(&Env::from_pairs([("MCP_AUTH", "none")]))
            .expect("ok")
            .disabled
    );
}

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    enc: EncodingKey,
    jwk: Jwk,
}

fn rsa_key(kid: &str) -> TestKey {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa");
    key_from_pem(kid, Algorithm::RS256, &kp.serialize_pem())
}

fn ec_key(kid: &str) -> TestKey {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
    key_from_pem(kid, Algorithm::ES256, &kp.serialize_pem())
}

fn key_from_pem(kid: &str, alg: Algorithm, pem: &str) -> TestKey {
    let enc = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        _ => EncodingKey::from_ec_pem(pem.as_bytes()),
    }
    .expect("encoding key");
    let mut jwk = Jwk::from_encoding_key(&enc, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    TestKey {
        kid: kid.to_string(),
        alg,
        enc,
        jwk,
    }
}

impl TestKey {
    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.enc).expect("sign")
    }
}

fn jwks(keys: &[&TestKey]) -> String {
    serde_json::to_string(&JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    })
    .expect("jwks")
}

#[tokio::test]
async fn jwks_file_rs256_and_es256() {
    let rsa = rsa_key("r1");
    let ec = ec_key("e1");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[&rsa, &ec])).expect("write");
    let c = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_FILE", path.display().to_string()),
        ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
    ]))
    .expect("cfg");
    let v = verifier(&c).await;
    assert_eq!(
        v.verify(&rsa.sign(&good_claims()))
            .await
            .expect("rsa")
            .subject,
        "alice"
    );
    assert_eq!(
        v.verify(&ec.sign(&good_claims()))
            .await
            .expect("ec")
            .subject,
        "alice"
    );

    let stranger = rsa_key("r1"); // same kid, different key
    assert_eq!(
        v.verify(&stranger.sign(&good_claims())).await,
        Err(TokenError::Signature)
    );
    let unknown = ec_key("nope");
    assert_eq!(
        v.verify(&unknown.sign(&good_claims())).await,
        Err(TokenError::UnknownKey)
    );
    // HS256 is not accepted when only JWKS is configured.
    assert_eq!(
        v.verify(&hs(&good_claims(), SECRET)).await,
        Err(TokenError::Algorithm)
    );
}

#[tokio::test]
async fn jwks_url_refreshes_on_unknown_kid() {
    let first = ec_key("k1");
    let second = ec_key("k2");
    let doc = Arc::new(Mutex::new(jwks(&[&first])));
    let fetches = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let app = {
        let doc = doc.clone();
        let fetches = fetches.clone();
        axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let doc = doc.clone();
                let fetches = fetches.clone();
                async move {
                    fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    doc.lock().expect("lock").clone()
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let c = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_URL", format!("http://{addr}/jwks")),
        ("MCP_JWT_JWKS_MIN_REFRESH", "0s".to_string()),
        ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
    ]))
    .expect("cfg");
    let v = verifier(&c).await;
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    v.verify(&first.sign(&good_claims())).await.expect("k1");
    assert_eq!(
        fetches.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "known kid needs no fetch"
    );

    *doc.lock().expect("lock") = jwks(&[&first, &second]);
    v.verify(&second.sign(&good_claims()))
        .await
        .expect("k2 after refresh");
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A refetch for an unknown `kid` runs outside the key table: while it is stuck, a token
/// whose `kid` is known verifies at once, and the twenty tokens waiting for the new key share
/// one fetch.
#[tokio::test]
async fn jwks_refresh_is_shared_and_does_not_block_known_keys() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let first = ec_key("k1");
    let second = ec_key("k2");
    let fetches = Arc::new(AtomicU32::new(0));
    let (entered_tx, mut entered_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let gate = Arc::new(tokio::sync::Notify::new());
    let app = {
        let (fetches, gate) = (fetches.clone(), gate.clone());
        let (d1, d2) = (jwks(&[&first]), jwks(&[&first, &second]));
        axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (fetches, gate, entered) = (fetches.clone(), gate.clone(), entered_tx.clone());
                let (d1, d2) = (d1.clone(), d2.clone());
                async move {
                    if fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                        return d1;
                    }
                    let released = gate.notified();
                    let _ = entered.send(());
                    released.await;
                    d2
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let c = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_URL", format!("http://{addr}/jwks")),
        ("MCP_JWT_JWKS_MIN_REFRESH", "0s".to_string()),
        ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
    ]))
    .expect("cfg");
    let v = Verifier::new(&c, jwks_client().expect("client"))
        .await
        .expect("verifier");

    let waiting: Vec<_> = (0..20)
        .map(|_| {
            let (v, t) = (v.clone(), second.sign(&good_claims()));
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    // The refresh is now in flight and held at the gate.
    tokio::time::timeout(Duration::from_secs(10), entered_rx.recv())
        .await
        .expect("a refresh started")
        .expect("open");
    let known = tokio::time::timeout(
        Duration::from_secs(5),
        v.verify(&first.sign(&good_claims())),
    )
    .await
    .expect("a known kid must not wait for the refresh");
    assert_eq!(known.expect("k1").subject, "alice");
    gate.notify_waiters();
    for w in waiting {
        let p = tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("waiters finish")
            .expect("join")
            .expect("k2 after the shared refresh");
        assert_eq!(p.subject, "alice");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "one startup fetch and one shared refresh"
    );
}

#[test]
fn jwks_redirects_never_downgrade_to_plain_http() {
    let u = |s: &str| url::Url::parse(s).expect("url");
    assert!(redirect_allowed(
        &u("https://idp/a"),
        &u("https://cdn.idp/b")
    ));
    assert!(redirect_allowed(
        &u("http://127.0.0.1:1/a"),
        &u("https://idp/b")
    ));
    assert!(redirect_allowed(
        &u("http://127.0.0.1:1/a"),
        &u("http://localhost:2/b")
    ));
    assert!(redirect_allowed(
        &u("http://[::1]:1/a"),
        &u("http://[::1]:2/b")
    ));
    // https to http, even to loopback; http anywhere else; other schemes.
    assert!(!redirect_allowed(&u("https://idp/a"), &u("http://idp/a")));
    assert!(!redirect_allowed(
        &u("https://idp/a"),
        &u("http://127.0.0.1/a")
    ));
    assert!(!redirect_allowed(
        &u("http://127.0.0.1/a"),
        &u("http://idp.example.com/a")
    ));
    assert!(!redirect_allowed(
        &u("http://127.0.0.1/a"),
        &u("http://10.0.0.5/a")
    ));
    assert!(!redirect_allowed(
        &u("https://idp/a"),
        &u("file:///etc/passwd")
    ));
}

/// The JWKS client follows a redirect the rule allows (loopback http to loopback http); the
/// refusals are checked on the rule itself above, since a live https origin needs TLS.
#[tokio::test]
async fn jwks_client_applies_the_redirect_rule() {
    let key = ec_key("k1");
    let doc = jwks(&[&key]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new()
        .route(
            "/moved",
            axum::routing::get(move || async move {
                axum::response::Redirect::temporary(&format!(
                    "http://localhost:{}/jwks",
                    addr.port()
                ))
            }),
        )
        .route("/jwks", axum::routing::get(move || async move { doc }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cfg = |path: &str| {
        AuthConfig::from_env(&Env::from_pairs([
            ("MCP_JWT_JWKS_URL", format!("http://{addr}{path}")),
            ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
        ]))
        .expect("cfg")
    };
    let v = Verifier::new(&cfg("/moved"), jwks_client().expect("client"))
        .await
        .expect("loopback http to loopback http is followed");
    v.verify(&key.sign(&good_claims())).await.expect("k1");
}

#[tokio::test]
async fn jwks_url_down_at_startup_is_loaded_later() {
    let key = ec_key("k1");
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = {
        let up = up.clone();
        let doc = jwks(&[&key]);
        axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (up, doc) = (up.clone(), doc.clone());
                async move {
                    if up.load(std::sync::atomic::Ordering::SeqCst) {
                        (axum::http::StatusCode::OK, doc)
                    } else {
                        (axum::http::StatusCode::BAD_GATEWAY, String::new())
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let c = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_URL", format!("http://{addr}/jwks")),
        ("MCP_JWT_SECRET", SECRET.to_string()),
        ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
    ]))
    .expect("cfg");

    // `new` keeps failing fast; `start` serves without the keys and says why.
    let err = Verifier::new(&c, reqwest::Client::new())
        .await
        .expect_err("down");
    assert!(err.to_string().contains("HTTP 502"), "{err}");
    let (v, pending) = Verifier::start(&c, reqwest::Client::new())
        .await
        .expect("start");
    assert!(pending.expect("pending").to_string().contains("HTTP 502"));
    assert!(v.keys_pending());
    assert_eq!(
        v.verify(&key.sign(&good_claims())).await,
        Err(TokenError::KeysUnavailable)
    );
    assert_eq!(
        v.verify(&hs(&good_claims(), SECRET))
            .await
            .expect("hs256")
            .subject,
        "alice"
    );
    assert!(v.load_keys().await.is_err());
    assert!(v.keys_pending());

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(v.load_keys().await.expect("loaded"), 1);
    assert!(!v.keys_pending());
    assert_eq!(
        v.verify(&key.sign(&good_claims()))
            .await
            .expect("es256")
            .subject,
        "alice"
    );
    // Once loaded, an unknown kid is the token's fault again.
    assert_eq!(
        v.verify(&ec_key("other").sign(&good_claims())).await,
        Err(TokenError::UnknownKey)
    );

    // A JWKS file is configuration: it must read now.
    let missing = AuthConfig::from_env(&Env::from_pairs([
        ("MCP_JWT_JWKS_FILE", "/nonexistent/jwks.json".to_string()),
        ("MCP_JWT_AUDIENCE", "secops-mcp".to_string()),
    ]))
    .expect("cfg");
    assert!(
        Verifier::start(&missing, reqwest::Client::new())
            .await
            .is_err()
    );
}

/// Arbitrary tokens, headers and claims: verification returns a typed error or a principal
/// that matches the signed claims, never panics. The coverage-guided versions are the `jwt`
/// and `jwks` targets in `fuzz/`.
mod props {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    /// A claim value of any JSON type, weighted towards what the checks read.
    fn claim() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (now() - 100_000..now() + 100_000).prop_map(Value::from),
            prop::sample::select(vec![
                "alice",
                "",
                "https://idp.example",
                "secops-mcp",
                "a:read b"
            ])
            .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(Value::Array)
        })
    }

    fn claims() -> impl Strategy<Value = Map<String, Value>> {
        let key = prop::sample::select(vec![
            "sub", "exp", "nbf", "iat", "iss", "aud", "scope", "scp", "scopes", "x",
        ]);
        prop::collection::btree_map(key, claim(), 0..9)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Three dot-separated parts: base64url of some JSON header, then junk.
    fn token_like() -> impl Strategy<Value = String> {
        let alg = prop::sample::select(vec![
            "HS256", "RS256", "ES256", "none", "HS512", "EdDSA", "",
        ]);
        let kid = proptest::option::of(prop::sample::select(vec!["k1", "rsa", "ec", ""]));
        (alg, kid, "[A-Za-z0-9_-]{0,60}", "[A-Za-z0-9_.=+/-]{0,60}").prop_map(
            |(alg, kid, claims, sig)| {
                let mut h = json!({"alg": alg, "typ": "JWT"});
                if let Some(k) = kid {
                    h["kid"] = json!(k);
                }
                let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.to_string());
                format!("{h}.{claims}.{sig}")
            },
        )
    }

    fn check_accepted(p: &Principal, c: &Map<String, Value>, issuer: Option<&str>) {
        let sub = c
            .get("sub")
            .and_then(Value::as_str)
            .expect("an accepted sub");
        assert_eq!(p.subject, sub);
        assert!(!sub.is_empty() && sub.len() <= 256 && !sub.chars().any(char::is_control));
        let exp = c
            .get("exp")
            .and_then(Value::as_u64)
            .expect("an accepted exp");
        assert!(
            exp.saturating_add(30) >= now(),
            "expired token accepted: exp {exp}"
        );
        if let Some(nbf) = c.get("nbf").and_then(Value::as_u64) {
            assert!(nbf <= now() + 30, "immature token accepted: nbf {nbf}");
        }
        if let Some(iss) = issuer {
            assert_eq!(c.get("iss").and_then(Value::as_str), Some(iss));
        }
    }

    #[test]
    fn arbitrary_tokens_and_claims() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ec = ec_key("ec");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("jwks.json");
        std::fs::write(&file, jwks(&[&ec])).expect("write");
        let plain = rt.block_on(verifier(&cfg(&[
            ("MCP_JWT_JWKS_FILE", file.to_str().expect("utf-8 path")),
            ("MCP_JWT_AUDIENCE", "secops-mcp"),
        ])));
        let strict = rt.block_on(verifier(&cfg(&[
            ("MCP_JWT_ISSUER", "https://idp.example"),
            ("MCP_JWT_AUDIENCE", "secops-mcp"),
        ])));
        let mut runner = TestRunner::new(Config::with_cases(256));
        let strategy = (
            "\\PC{0,120}",
            token_like(),
            claims(),
            prop::sample::select(vec!["Bearer ", "bearer  ", "Basic ", "", "Bearer"]),
        );
        runner
            .run(&strategy, |(junk, token, c, scheme)| {
                // Random text and token-shaped junk never verify.
                for t in [&junk, &token] {
                    prop_assert!(rt.block_on(plain.verify(t)).is_err());
                    prop_assert!(rt.block_on(strict.verify(t)).is_err());
                }
                let mut h = http::HeaderMap::new();
                if let Ok(v) = http::HeaderValue::from_str(&format!("{scheme}{junk}")) {
                    h.insert(http::header::AUTHORIZATION, v);
                    if let Some(t) = bearer(&h) {
                        prop_assert!(!t.is_empty() && t.trim() == t);
                        prop_assert!(rt.block_on(plain.verify(t)).is_err());
                    }
                }
                // Signed claims: accepted only when every check holds.
                let claims = Value::Object(c.clone());
                if let Ok(p) = rt.block_on(plain.verify(&hs(&claims, SECRET))) {
                    check_accepted(&p, &c, None);
                }
                if let Ok(p) = rt.block_on(plain.verify(&ec.sign(&claims))) {
                    check_accepted(&p, &c, None);
                }
                if let Ok(p) = rt.block_on(strict.verify(&hs(&claims, SECRET))) {
                    check_accepted(&p, &c, Some("https://idp.example"));
                }
                prop_assert!(
                    rt.block_on(plain.verify(&hs(&claims, "another-secret-0123456789abcdef")))
                        .is_err()
                );
                // The claims alone.
                if let Ok(p) = principal_from_claims(&c) {
                    prop_assert_eq!(
                        Some(p.subject.as_str()),
                        c.get("sub").and_then(Value::as_str)
                    );
                }
                Ok(())
            })
            .expect("the property holds");
    }

    proptest! {
        #[test]
        fn arbitrary_jwks_never_panic(s in "\\PC{0,200}", keys in prop::collection::vec(
            (prop::sample::select(vec!["RSA", "EC", "oct", "OKP", ""]),
             proptest::option::of("[a-z0-9]{0,4}"),
             "[A-Za-z0-9_-]{0,40}"), 0..4)) {
            let _ = parse_jwks(&s);
            let doc = json!({"keys": keys.iter().map(|(kty, kid, n)| json!({
                "kty": kty, "kid": kid, "n": n, "e": "AQAB", "crv": "P-256", "x": n, "y": n, "k": n,
            })).collect::<Vec<_>>()});
            if let Ok(k) = parse_jwks(&doc.to_string()) {
                prop_assert!(!k.is_empty());
            }
        }
    }
}
