//! Bearer JWT authentication: HS256 with a shared secret, or RS256/ES256 with keys from a
//! JWKS file or URL.
//!
//! `exp` is required; `nbf`, `iss` and `aud` are checked (the last two when configured, and
//! `aud` must be configured whenever keys come from a JWKS), with a small leeway. `alg: none` and any algorithm other than the configured families are
//! refused. Scopes come from `scope` (space-delimited, RFC 9068), `scp` or `scopes` (a string
//! or an array of strings).

mod jwks;
mod middleware;
mod mint;

pub use jwks::{JwksSource, jwks_client, parse_jwks, redirect_allowed};
pub(crate) use middleware::base_url_for;
pub use middleware::{AuthLayerState, auth_middleware, bearer};
pub use mint::{MintRequest, mint_hs256};

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::config::{ConfigError, Env};
use crate::policy::Principal;

/// Allowed clock skew for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Why auth could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("JWKS: {0}")]
    Jwks(String),
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Why a presented token was refused. The text is safe to return to the client: it never
/// contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token signature is invalid")]
    Signature,
    #[error("token key id is unknown")]
    UnknownKey,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    Issuer,
    #[error("token audience is not accepted")]
    Audience,
    #[error("token claim `{0}` is missing or has the wrong type")]
    Claim(&'static str),
    /// Not the token's fault: the JWKS URL has not answered yet (the server answers 503).
    #[error("the signing keys (JWKS) are not loaded yet")]
    KeysUnavailable,
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `MCP_AUTH=none` turns authentication off explicitly.
    pub disabled: bool,
    /// `MCP_AUTH=jwt` was set explicitly: a verifier is then mandatory.
    pub required: bool,
    /// HS256 shared secret (`MCP_JWT_SECRET`, or the older `MCP_JWT_SECRET_KEY`).
    pub hs256_secret: Option<SecretString>,
    /// RS256/ES256 keys.
    pub jwks: Option<JwksSource>,
    /// Expected `iss` (`MCP_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Accepted `aud` values (`MCP_JWT_AUDIENCE`, comma-separated).
    pub audience: Option<Vec<String>>,
    /// Clock skew allowance.
    pub leeway: Duration,
    /// Shortest time between two JWKS refreshes caused by an unknown `kid`.
    pub jwks_min_refresh: Duration,
}

impl AuthConfig {
    /// Read the `MCP_AUTH` and `MCP_JWT_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let required = env
            .get("MCP_AUTH")?
            .is_some_and(|m| m.eq_ignore_ascii_case("jwt"));
        let disabled = match env.get("MCP_AUTH")?.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(m) if m == "jwt" => false,
            Some(m) if m == "none" => true,
            Some(m) => {
                return Err(ConfigError::invalid(
                    "MCP_AUTH",
                    format!("`{m}` is not jwt or none"),
                ));
            }
        };
        let (secret_var, hs256_secret) = match (
            env.secret("MCP_JWT_SECRET")?,
            env.secret("MCP_JWT_SECRET_KEY")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "MCP_JWT_SECRET",
                    "MCP_JWT_SECRET and its older name MCP_JWT_SECRET_KEY are both set; keep one",
                ));
            }
            (Some(s), None) => ("MCP_JWT_SECRET", Some(s)),
            (None, Some(s)) => ("MCP_JWT_SECRET_KEY", Some(s)),
            (None, None) => ("MCP_JWT_SECRET", None),
        };
        if let Some(s) = &hs256_secret
            && s.expose_secret().len() < 32
        {
            return Err(ConfigError::invalid(
                secret_var,
                "must be at least 32 bytes for HS256 (generate one with `openssl rand -hex 32`)",
            ));
        }
        let jwks = match (env.get("MCP_JWT_JWKS_URL")?, env.get("MCP_JWT_JWKS_FILE")?) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "MCP_JWT_JWKS_URL",
                    "set either MCP_JWT_JWKS_URL or MCP_JWT_JWKS_FILE, not both",
                ));
            }
            // Signing keys: https unless the URL is loopback, exactly like upstream hosts.
            (Some(u), None) => Some(JwksSource::Url(crate::upstream::parse_base_url(
                "MCP_JWT_JWKS_URL",
                &u,
            )?)),
            (None, Some(f)) => Some(JwksSource::File(f.into())),
            (None, None) => None,
        };
        let audience = env.list("MCP_JWT_AUDIENCE")?.filter(|l| !l.is_empty());
        if jwks.is_some() && audience.is_none() {
            // Keys from an identity provider sign tokens for every server it serves: without
            // an audience, a token minted for a sibling server would work here too. The MCP
            // authorization spec requires the audience check.
            return Err(ConfigError::missing(
                "MCP_JWT_AUDIENCE",
                "with MCP_JWT_JWKS_URL or MCP_JWT_JWKS_FILE, name this server's audience, the `aud` its tokens carry, so that a token minted for another server is refused",
            ));
        }
        Ok(Self {
            disabled,
            required,
            hs256_secret,
            jwks,
            issuer: env.get("MCP_JWT_ISSUER")?,
            audience,
            leeway: env.duration("MCP_JWT_LEEWAY")?.unwrap_or(DEFAULT_LEEWAY),
            jwks_min_refresh: env
                .duration("MCP_JWT_JWKS_MIN_REFRESH")?
                .unwrap_or(Duration::from_secs(10)),
        })
    }

    /// Whether some verifier is configured.
    pub fn has_verifier(&self) -> bool {
        self.hs256_secret.is_some() || self.jwks.is_some()
    }
}

/// Verifies bearer tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("hs256", &self.has_hs256())
            .field("jwks", &self.inner.jwks.is_some())
            .finish()
    }
}

struct VerifierInner {
    /// The HS256 keys: the current one first, then the one it replaced (kept valid after a
    /// rotation so that tokens signed just before it still verify). Empty: no HS256.
    hs256: std::sync::RwLock<Vec<DecodingKey>>,
    jwks: Option<jwks::JwksCache>,
    issuer: Option<String>,
    audience: Option<Vec<String>>,
    leeway: Duration,
}

impl Verifier {
    /// Build a verifier; a JWKS URL is fetched once now, so a bad URL fails here.
    pub async fn new(cfg: &AuthConfig, http: reqwest::Client) -> Result<Self, AuthError> {
        match Self::start(cfg, http).await? {
            (v, None) => Ok(v),
            (_, Some(e)) => Err(e),
        }
    }

    /// Build a verifier that may start before its JWKS URL answers. A JWKS file must read
    /// and parse now. When the URL cannot be fetched, the verifier is returned together with
    /// that error: HS256 tokens work, RS256/ES256 tokens get
    /// [`TokenError::KeysUnavailable`] until [`Verifier::load_keys`] succeeds. The server
    /// holds readiness back and retries meanwhile (`run.rs`).
    pub async fn start(
        cfg: &AuthConfig,
        http: reqwest::Client,
    ) -> Result<(Self, Option<AuthError>), AuthError> {
        let hs256: Vec<DecodingKey> = cfg
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()))
            .into_iter()
            .collect();
        let (jwks, pending) = match &cfg.jwks {
            Some(src) => {
                let (cache, pending) =
                    jwks::JwksCache::load(src.clone(), http, cfg.jwks_min_refresh).await?;
                (Some(cache), pending)
            }
            None => (None, None),
        };
        let v = Self {
            inner: Arc::new(VerifierInner {
                hs256: std::sync::RwLock::new(hs256),
                jwks,
                issuer: cfg.issuer.clone(),
                audience: cfg.audience.clone(),
                leeway: cfg.leeway,
            }),
        };
        Ok((v, pending))
    }

    /// Whether HS256 tokens are accepted.
    pub fn has_hs256(&self) -> bool {
        self.inner
            .hs256
            .read()
            .map(|k| !k.is_empty())
            .unwrap_or(false)
    }

    /// Verify HS256 tokens with `secret` from now on; tokens signed with the secret it
    /// replaces keep verifying until the next rotation. A secret shorter than 32 bytes is
    /// refused and the current one kept.
    pub fn rotate_hs256(&self, secret: &SecretString) -> Result<(), AuthError> {
        if secret.expose_secret().len() < 32 {
            return Err(AuthError::Config(crate::config::ConfigError::invalid(
                "MCP_JWT_SECRET",
                "the new secret is shorter than 32 bytes; the current one stays in use",
            )));
        }
        let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
        let mut keys = self.inner.hs256.write().map_err(|_| {
            AuthError::Config(crate::config::ConfigError::invalid(
                "MCP_JWT_SECRET",
                "the key store is poisoned",
            ))
        })?;
        let previous = keys.first().cloned();
        keys.clear();
        keys.push(key);
        keys.extend(previous);
        Ok(())
    }

    /// Whether RS256/ES256 keys come from a JWKS (file or URL).
    pub fn has_jwks(&self) -> bool {
        self.inner.jwks.is_some()
    }

    /// Whether RS256/ES256 keys are configured but not loaded yet.
    pub fn keys_pending(&self) -> bool {
        self.inner.jwks.as_ref().is_some_and(|j| !j.is_loaded())
    }

    /// Fetch the JWKS again; the number of usable keys. Without a JWKS, `Ok(0)`.
    pub async fn load_keys(&self) -> Result<usize, AuthError> {
        match &self.inner.jwks {
            Some(j) => j.reload().await,
            None => Ok(0),
        }
    }

    /// Verify `token` and return the principal it stands for.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
            _ => TokenError::Malformed,
        })?;
        let keys: Vec<DecodingKey> = match header.alg {
            Algorithm::HS256 => {
                let keys = self
                    .inner
                    .hs256
                    .read()
                    .map(|k| k.clone())
                    .unwrap_or_default();
                if keys.is_empty() {
                    return Err(TokenError::Algorithm);
                }
                keys
            }
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self.inner.jwks.as_ref().ok_or(TokenError::Algorithm)?;
                let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
                vec![jwks.key_for(kid, header.alg).await?]
            }
            _ => return Err(TokenError::Algorithm),
        };
        let mut v = Validation::new(header.alg);
        v.leeway = self.inner.leeway.as_secs();
        v.validate_nbf = true;
        v.validate_exp = true;
        let mut required = vec!["exp", "sub"];
        if self.inner.issuer.is_some() {
            required.push("iss");
        }
        if self.inner.audience.is_some() {
            required.push("aud");
        }
        v.set_required_spec_claims(&required);
        if let Some(iss) = &self.inner.issuer {
            v.set_issuer(&[iss]);
        }
        match &self.inner.audience {
            Some(aud) => v.set_audience(aud),
            None => v.validate_aud = false,
        }
        // The current key, then (HS256 after a rotation) the one it replaced.
        let mut last = None;
        for key in &keys {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &v) {
                Ok(data) => return principal_from_claims(&data.claims),
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                    last = Some(e);
                }
                Err(e) => return Err(map_jwt_error(e)),
            }
        }
        Err(last.map(map_jwt_error).unwrap_or(TokenError::Malformed))
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidIssuer => TokenError::Issuer,
        K::InvalidAudience => TokenError::Audience,
        K::InvalidSignature => TokenError::Signature,
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => {
            TokenError::Algorithm
        }
        K::MissingRequiredClaim(c) if c == "exp" => TokenError::Claim("exp"),
        K::MissingRequiredClaim(c) if c == "sub" => TokenError::Claim("sub"),
        K::MissingRequiredClaim(c) if c == "iss" => TokenError::Issuer,
        K::MissingRequiredClaim(c) if c == "aud" => TokenError::Audience,
        _ => TokenError::Malformed,
    }
}

/// Build a principal from verified claims.
pub fn principal_from_claims(claims: &Map<String, Value>) -> Result<Principal, TokenError> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control))
        .ok_or(TokenError::Claim("sub"))?;
    let mut scopes = Vec::new();
    for (name, label) in [("scope", "scope"), ("scp", "scp"), ("scopes", "scopes")] {
        match claims.get(name) {
            None => {}
            Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => {
                for item in items {
                    let s = item.as_str().ok_or(TokenError::Claim(label))?;
                    scopes.extend(s.split_whitespace().map(str::to_string));
                }
            }
            Some(_) => return Err(TokenError::Claim(label)),
        }
    }
    Ok(Principal::token(sub, scopes))
}

#[cfg(test)]
mod tests;
