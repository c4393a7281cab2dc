//! JWKS from a file (read once) or a URL (fetched at startup, refetched when a token names a
//! `kid` the cache does not hold, at most once per `min_refresh`). A URL that cannot be
//! fetched at startup leaves the cache empty and not loaded: `reload` fills it later, and
//! until then RS256/ES256 tokens get [`TokenError::KeysUnavailable`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::{AuthError, TokenError};

/// Where RS256/ES256 keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    File(PathBuf),
    Url(url::Url),
}

struct Keys {
    by_kid: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Instant,
}

pub(super) struct JwksCache {
    source: JwksSource,
    http: reqwest::Client,
    min_refresh: Duration,
    keys: Mutex<Keys>,
    loaded: AtomicBool,
}

impl JwksCache {
    /// Read the keys. A file must read and parse now; when a URL cannot be fetched, the cache
    /// starts empty and the error is returned beside it.
    pub(super) async fn load(
        source: JwksSource,
        http: reqwest::Client,
        min_refresh: Duration,
    ) -> Result<(Self, Option<AuthError>), AuthError> {
        let (by_kid, pending) = match fetch(&source, &http).await {
            Ok(keys) => (keys, None),
            Err(e) if matches!(source, JwksSource::Url(_)) => (HashMap::new(), Some(e)),
            Err(e) => return Err(e),
        };
        let cache = Self {
            source,
            http,
            min_refresh,
            loaded: AtomicBool::new(pending.is_none()),
            keys: Mutex::new(Keys {
                by_kid,
                fetched: Instant::now(),
            }),
        };
        Ok((cache, pending))
    }

    /// Whether a key set has been loaded.
    pub(super) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Fetch the key set again and replace the cached one; the number of usable keys.
    pub(super) async fn reload(&self) -> Result<usize, AuthError> {
        let fresh = fetch(&self.source, &self.http).await?;
        let n = fresh.len();
        let mut keys = self.keys.lock().await;
        keys.by_kid = fresh;
        keys.fetched = Instant::now();
        self.loaded.store(true, Ordering::Release);
        Ok(n)
    }

    pub(super) async fn key_for(
        &self,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, TokenError> {
        if !self.is_loaded() {
            // The startup fetch failed and the server's loader is retrying: a token must not
            // trigger fetches of its own (each can take 10 s, under the lock).
            return Err(TokenError::KeysUnavailable);
        }
        let mut keys = self.keys.lock().await;
        if !keys.by_kid.contains_key(kid)
            && matches!(self.source, JwksSource::Url(_))
            && keys.fetched.elapsed() >= self.min_refresh
        {
            match fetch(&self.source, &self.http).await {
                Ok(fresh) => {
                    tracing::info!(keys = fresh.len(), "JWKS refreshed after an unknown kid");
                    keys.by_kid = fresh;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys")
                }
            }
            keys.fetched = Instant::now();
        }
        match keys.by_kid.get(kid) {
            Some((key_alg, key)) if *key_alg == alg => Ok(key.clone()),
            Some(_) => Err(TokenError::Algorithm),
            None => Err(TokenError::UnknownKey),
        }
    }
}

async fn fetch(
    source: &JwksSource,
    http: &reqwest::Client,
) -> Result<HashMap<String, (Algorithm, DecodingKey)>, AuthError> {
    let text = match source {
        JwksSource::File(p) => std::fs::read_to_string(p)
            .map_err(|e| AuthError::Jwks(format!("cannot read {}: {e}", p.display())))?,
        JwksSource::Url(u) => {
            let resp = http
                .get(u.clone())
                .send()
                .await
                .map_err(|e| AuthError::Jwks(format!("GET {u}: {e}")))?;
            if !resp.status().is_success() {
                return Err(AuthError::Jwks(format!("GET {u}: HTTP {}", resp.status())));
            }
            resp.text()
                .await
                .map_err(|e| AuthError::Jwks(format!("GET {u}: {e}")))?
        }
    };
    parse_jwks(&text)
}

/// Parse a JWKS document into usable RS256/ES256 keys by `kid`. Keys of other types are
/// skipped with a warning; a set with no usable key is an error. Public for the fuzz targets
/// (`fuzz/`): a JWKS URL's answer is untrusted input.
pub fn parse_jwks(text: &str) -> Result<HashMap<String, (Algorithm, DecodingKey)>, AuthError> {
    let set: JwkSet = serde_json::from_str(text)
        .map_err(|e| AuthError::Jwks(format!("not a JWKS document: {e}")))?;
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::warn!("JWKS key without kid skipped");
            continue;
        };
        let alg = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(p)
                if p.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => {
                tracing::warn!(kid, "JWKS key is neither RSA nor P-256; skipped");
                continue;
            }
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(k) => {
                out.insert(kid, (alg, k));
            }
            Err(e) => tracing::warn!(kid, error = %e, "JWKS key unusable; skipped"),
        }
    }
    if out.is_empty() {
        return Err(AuthError::Jwks(
            "no usable RS256 or ES256 key with a kid".into(),
        ));
    }
    Ok(out)
}
