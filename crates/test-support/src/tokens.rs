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
