//! Token minting for tests, including deliberately bad tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The HS256 secret the test servers are started with.
pub const TEST_SECRET: &str = "secops-mcp-test-secret-0123456789abcdef";
pub const TEST_ISSUER: &str = "https://idp.test.invalid";
pub const TEST_AUDIENCE: &str = "secops-mcp-tests";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Valid claims for `sub` with `scopes`, issuer and audience set.
pub fn claims(sub: &str, scopes: &[&str]) -> Value {
    json!({
        "sub": sub,
        "scope": scopes.join(" "),
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "iat": now(),
        "nbf": now() - 5,
        "exp": now() + 600,
    })
}

/// Sign `claims` with HS256 and `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("cannot sign test token: {e}"))
}

/// A valid token for the test servers.
pub fn token(sub: &str, scopes: &[&str]) -> String {
    sign(&claims(sub, scopes), TEST_SECRET)
}

/// Named bad tokens, each of which must be refused with 401.
pub fn bad_tokens(scopes: &[&str]) -> Vec<(&'static str, String)> {
    let base = claims("mallory", scopes);
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(base.to_string())
    );
    vec![
        (
            "expired",
            sign(&with("exp", json!(now() - 3600)), TEST_SECRET),
        ),
        (
            "not_yet_valid",
            sign(&with("nbf", json!(now() + 3600)), TEST_SECRET),
        ),
        (
            "wrong_key",
            sign(&base, "a-completely-different-secret-0123456789"),
        ),
        ("alg_none", none),
        (
            "wrong_iss",
            sign(&with("iss", json!("https://evil.invalid")), TEST_SECRET),
        ),
        (
            "wrong_aud",
            sign(&with("aud", json!("someone-else")), TEST_SECRET),
        ),
        ("malformed", "not.a.jwt".to_string()),
    ]
}

/// An ES256 signing key and its public JWK, for servers that verify tokens against a JWKS.
pub struct EcKey {
    kid: String,
    enc: EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcKey {
    /// A fresh P-256 key with key id `kid`.
    pub fn generate(kid: &str) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("cannot generate a P-256 key: {e}"));
        let enc = EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes())
            .unwrap_or_else(|e| panic!("cannot load the P-256 key: {e}"));
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, Algorithm::ES256)
            .unwrap_or_else(|e| panic!("cannot build the JWK: {e}"));
        jwk.common.key_id = Some(kid.to_string());
        Self {
            kid: kid.to_string(),
            enc,
            jwk,
        }
    }

    /// Sign `claims` with ES256, naming this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.enc)
            .unwrap_or_else(|e| panic!("cannot sign test token: {e}"))
    }

    /// A JWKS document holding `keys`.
    pub fn jwks(keys: &[&EcKey]) -> String {
        json!({ "keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>() }).to_string()
    }
}
