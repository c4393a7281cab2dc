use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

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
    json!({"sub": "alice", "scope": "ngfw:read aws:write", "exp": now() + 600, "nbf": now() - 5})
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
    assert!(p.allows("aws:read") && p.allows("ngfw:read") && !p.allows("proxmox:read"));

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
    assert!(p.allows("proxmox:read"));
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
    let plain = AuthConfig::from_env(&Env::from_pairs([(
        "MCP_JWT_JWKS_URL",
        "http://idp.example.com/jwks",
    )]));
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
    let c = AuthConfig::from_env(&Env::from_pairs([(
        "MCP_JWT_JWKS_FILE",
        path.display().to_string(),
    )]))
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
