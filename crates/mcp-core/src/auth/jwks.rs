//! JWKS from a file (read once) or a URL (fetched at startup, refetched when a token names a
//! `kid` the cache does not hold, at most once per `min_refresh`). A URL that cannot be
//! fetched at startup leaves the cache empty and not loaded: `reload` fills it later, and
//! until then RS256/ES256 tokens get [`TokenError::KeysUnavailable`].
//!
//! A refetch never holds the key table: tokens whose `kid` is known verify while it runs. At
//! most one fetch runs at a time, and every token that was waiting for it uses its result
//! instead of fetching again. Redirects are followed only to https, or to plain http on a
//! loopback address when the URL itself was plain http on loopback: never from https down to
//! http, where anyone on the path could hand us signing keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::{AuthError, TokenError};

/// Where RS256/ES256 keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    File(PathBuf),
    Url(url::Url),
}

type KeyMap = HashMap<String, (Algorithm, DecodingKey)>;

struct Keys {
    by_kid: KeyMap,
    fetched: Instant,
}

pub(super) struct JwksCache {
    source: JwksSource,
    http: reqwest::Client,
    min_refresh: Duration,
    /// The current key set, swapped whole; held only to clone the `Arc`.
    keys: RwLock<Arc<Keys>>,
    /// Held for the duration of one fetch: later callers wait here and then reuse its result.
    refresh: tokio::sync::Mutex<()>,
    loaded: AtomicBool,
}

/// Whether a JWKS request may follow a redirect from `from` to `to`: https always; plain http
/// only to a loopback host, and only when the request was already plain http.
pub fn redirect_allowed(from: &url::Url, to: &url::Url) -> bool {
    match to.scheme() {
        "https" => true,
        "http" => from.scheme() == "http" && to.host().is_some_and(|h| is_loopback(&h)),
        _ => false,
    }
}

fn is_loopback(h: &url::Host<&str>) -> bool {
    match h {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => a.is_loopback(),
    }
}

/// The HTTP client for JWKS URLs: short timeouts, at most 5 redirects, none that
/// [`redirect_allowed`] refuses.
pub fn jwks_client() -> Result<reqwest::Client, AuthError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let from = attempt.previous().last().cloned();
        if attempt.previous().len() > 5 {
            return attempt.error("more than 5 redirects");
        }
        match from {
            Some(from) if !redirect_allowed(&from, attempt.url()) => {
                let to = format!(
                    "{}://{}",
                    attempt.url().scheme(),
                    attempt.url().host_str().unwrap_or("")
                );
                attempt.error(format!("redirect to {to} refused: JWKS must stay on https (plain http only on loopback)"))
            }
            _ => attempt.follow(),
        }
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(policy)
        .build()
        .map_err(|e| AuthError::Jwks(format!("HTTP client: {e}")))
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
            keys: RwLock::new(Arc::new(Keys {
                by_kid,
                fetched: Instant::now(),
            })),
            refresh: tokio::sync::Mutex::new(()),
        };
        Ok((cache, pending))
    }

    /// Whether a key set has been loaded.
    pub(super) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    fn current(&self) -> Arc<Keys> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, keys: Keys) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// Fetch the key set again and replace the cached one; the number of usable keys.
    pub(super) async fn reload(&self) -> Result<usize, AuthError> {
        let _one_fetch = self.refresh.lock().await;
        let fresh = fetch(&self.source, &self.http).await?;
        let n = fresh.len();
        self.replace(Keys {
            by_kid: fresh,
            fetched: Instant::now(),
        });
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
            // trigger fetches of its own.
            return Err(TokenError::KeysUnavailable);
        }
        let seen = self.current();
        if seen.by_kid.contains_key(kid)
            || !matches!(self.source, JwksSource::Url(_))
            || seen.fetched.elapsed() < self.min_refresh
        {
            return lookup(&seen, kid, alg);
        }
        // An unknown kid: the provider may have rotated its keys. One fetch at a time; a
        // caller that waited behind another's fetch uses that result.
        let _one_fetch = self.refresh.lock().await;
        let now = self.current();
        if now.fetched != seen.fetched {
            return lookup(&now, kid, alg);
        }
        match fetch(&self.source, &self.http).await {
            Ok(fresh) => {
                tracing::info!(keys = fresh.len(), "JWKS refreshed after an unknown kid");
                self.replace(Keys {
                    by_kid: fresh,
                    fetched: Instant::now(),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys");
                self.replace(Keys {
                    by_kid: now.by_kid.clone(),
                    fetched: Instant::now(),
                });
            }
        }
        lookup(&self.current(), kid, alg)
    }
}

fn lookup(keys: &Keys, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
    match keys.by_kid.get(kid) {
        Some((key_alg, key)) if *key_alg == alg => Ok(key.clone()),
        Some(_) => Err(TokenError::Algorithm),
        None => Err(TokenError::UnknownKey),
    }
}

async fn fetch(source: &JwksSource, http: &reqwest::Client) -> Result<KeyMap, AuthError> {
    let text = match source {
        JwksSource::File(p) => std::fs::read_to_string(p)
            .map_err(|e| AuthError::Jwks(format!("cannot read {}: {e}", p.display())))?,
        JwksSource::Url(u) => {
            let resp = http
                .get(u.clone())
                .send()
                .await
                .map_err(|e| AuthError::Jwks(format!("GET {u}: {e}")))?;
            // Whatever client the caller built: keys that arrived over a downgrade are not
            // used (the client from `jwks_client` does not even follow such a redirect).
            if resp.url() != u && !redirect_allowed(u, resp.url()) {
                return Err(AuthError::Jwks(format!(
                    "GET {u}: redirected to plain http ({}); refused",
                    resp.url().host_str().unwrap_or("")
                )));
            }
            if !resp.status().is_success() {
                return Err(AuthError::Jwks(format!("GET {u}: HTTP {}", resp.status())));
            }
            read_capped(resp, MAX_JWKS_BYTES)
                .await
                .map_err(|e| AuthError::Jwks(format!("GET {u}: {e}")))?
        }
    };
    parse_jwks(&text)
}

/// The largest JWKS document read: a key set is a few KiB; a bigger answer is refused
/// rather than buffered.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The body as text, refused past `max` bytes (read as it arrives, never buffered whole).
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is larger than {} KiB", max / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_string())
}

/// Parse a JWKS document into usable RS256/ES256 keys by `kid`. Keys of other types are
/// skipped with a warning; a set with no usable key is an error. Public for the fuzz targets
/// (`fuzz/`): a JWKS URL's answer is untrusted input.
pub fn parse_jwks(text: &str) -> Result<KeyMap, AuthError> {
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
