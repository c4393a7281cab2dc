//! `<server> token`: HS256 tokens for development and tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::AuthError;

/// What to put in a minted token.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub subject: String,
    pub scopes: Vec<String>,
    pub ttl: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Sign an HS256 token with `secret`.
pub fn mint_hs256(secret: &SecretString, req: &MintRequest) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| AuthError::Sign(e.to_string()))?
        .as_secs();
    let mut claims = json!({
        "sub": req.subject,
        "scope": req.scopes.join(" "),
        "iat": now,
        "nbf": now,
        "exp": now + req.ttl.as_secs(),
    });
    if let Some(iss) = &req.issuer {
        claims["iss"] = json!(iss);
    }
    if let Some(aud) = &req.audience {
        claims["aud"] = json!(aud);
    }
    jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| AuthError::Sign(e.to_string()))
}
