//! The PAN-OS XML API client. Tools never build requests; they call this.
//!
//! Every request is a POST to `/api/` with a form body; the API key travels in the
//! `X-PAN-KEY` header, never in a URL. Reads are cached for a short TTL and identical
//! concurrent reads are coalesced into one upstream request: the management plane is slow
//! and easily overloaded.

pub mod xml;
pub mod xpath;

use std::sync::Arc;
use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::{Idempotency, Upstream, UpstreamError, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};

pub use xml::{Envelope, parse_envelope};
pub use xpath::{Name, XPath};

use crate::config::{Credentials, PanosSettings};

const UPSTREAM: &str = "PAN-OS";

/// Which configuration a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSource {
    /// The running configuration (`action=show`): what the firewall enforces now.
    Running,
    /// The candidate configuration (`action=get`): running plus uncommitted changes.
    Candidate,
}

impl ConfigSource {
    fn action(self) -> &'static str {
        match self {
            Self::Running => "show",
            Self::Candidate => "get",
        }
    }
}

/// A failed exchange with PAN-OS.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PanosError {
    #[error("PAN-OS rejected the credentials (code 403): {0}")]
    Auth(String),
    #[error("PAN-OS said: {message} ({label}, code {code})")]
    Api {
        code: u16,
        label: &'static str,
        message: String,
    },
    #[error("PAN-OS said: {0}")]
    ApiNoCode(String),
    #[error("PAN-OS returned something that is not an XML API response: {0}")]
    NotXml(String),
    #[error("PAN-OS answered HTTP {status}: {snippet}")]
    Http {
        status: u16,
        snippet: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Transport(Arc<UpstreamError>),
}

impl From<&PanosError> for ToolError {
    fn from(e: &PanosError) -> Self {
        match e {
            PanosError::Auth(msg) => ToolError::upstream(
                UPSTREAM,
                format!(
                    "{msg} (code 403): the API key or credentials were rejected; check PANOS_API_KEY and the admin role's XML API permissions"
                ),
            ),
            PanosError::Api {
                code,
                label,
                message,
            } if message.is_empty() => {
                ToolError::upstream(UPSTREAM, format!("{label} (code {code})"))
            }
            PanosError::Api {
                code,
                label,
                message,
            } => ToolError::upstream(UPSTREAM, format!("{message} ({label}, code {code})")),
            PanosError::ApiNoCode(m) => ToolError::upstream(UPSTREAM, m.clone()),
            PanosError::NotXml(m) => ToolError::upstream(
                UPSTREAM,
                format!("the response is not a PAN-OS XML API document: {m}"),
            ),
            PanosError::Http {
                status: 429,
                retry_after,
                ..
            } => ToolError::RateLimited {
                upstream: UPSTREAM.into(),
                retry_after: *retry_after,
            },
            PanosError::Http {
                status,
                snippet,
                retry_after,
            } if *status >= 500 => ToolError::Unavailable {
                upstream: UPSTREAM.into(),
                message: format!("HTTP {status} after retries: {snippet}"),
                retry_after: *retry_after,
            },
            PanosError::Http {
                status, snippet, ..
            } => ToolError::upstream(UPSTREAM, format!("HTTP {status}: {snippet}")),
            PanosError::Transport(u) => u.to_tool_error(),
        }
    }
}

impl From<PanosError> for ToolError {
    fn from(e: PanosError) -> Self {
        (&e).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Config(&'static str, String),
    Op(String, Option<String>),
}

/// A connected client.
pub struct PanosClient {
    upstream: Upstream,
    key: SecretString,
    cache: Option<moka::future::Cache<CacheKey, Arc<Option<String>>>>,
}

impl std::fmt::Debug for PanosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanosClient")
            .field("upstream", &self.upstream.name())
            .finish_non_exhaustive()
    }
}

impl PanosClient {
    /// Build the client; with username and password, exchange them for a key (keygen) now.
    pub async fn connect(settings: &PanosSettings) -> Result<Self, PanosError> {
        let upstream = Upstream::new(settings.upstream.clone())
            .map_err(|e| PanosError::Transport(Arc::new(e)))?;
        let cache = (!settings.cache_ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .time_to_live(settings.cache_ttl)
                .max_capacity(10_000)
                .build()
        });
        let mut client = Self {
            upstream,
            key: SecretString::from(String::new()),
            cache,
        };
        client.key = match &settings.credentials {
            Credentials::ApiKey(k) => k.clone(),
            Credentials::Password { username, password } => {
                client.keygen(username, password).await?
            }
        };
        Ok(client)
    }

    async fn keygen(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<SecretString, PanosError> {
        let form = [
            ("type", "keygen"),
            ("user", username),
            ("password", password.expose_secret()),
        ];
        let rb = self
            .upstream
            .request(reqwest::Method::POST, "/api/")
            .form(&form);
        let resp = self
            .upstream
            .send(rb, Idempotency::Idempotent)
            .await
            .map_err(|e| PanosError::Transport(Arc::new(e)))?;
        let result = interpret(&resp)?
            .ok_or_else(|| PanosError::ApiNoCode("keygen returned no key".into()))?;
        let wrapped = format!("<r>{result}</r>");
        let doc =
            roxmltree::Document::parse(&wrapped).map_err(|e| PanosError::NotXml(e.to_string()))?;
        let key = doc
            .descendants()
            .find(|n| n.has_tag_name("key"))
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| PanosError::ApiNoCode("keygen returned no key".into()))?;
        tracing::info!("exchanged PANOS_USERNAME/PANOS_PASSWORD for an API key");
        Ok(SecretString::from(key.to_string()))
    }

    async fn post(&self, form: &[(&str, &str)]) -> Result<Option<String>, PanosError> {
        let rb = self
            .upstream
            .request(reqwest::Method::POST, "/api/")
            .header("X-PAN-KEY", self.key.expose_secret())
            .form(form);
        let resp = self
            .upstream
            .send(rb, Idempotency::Idempotent)
            .await
            .map_err(|e| PanosError::Transport(Arc::new(e)))?;
        interpret(&resp)
    }

    async fn cached(
        &self,
        key: CacheKey,
        form: Vec<(&'static str, String)>,
    ) -> Result<Option<String>, PanosError> {
        let fetch = async {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.post(&pairs).await.map(Arc::new)
        };
        match &self.cache {
            None => fetch.await.map(|v| (*v).clone()),
            Some(cache) => cache
                .try_get_with(key, fetch)
                .await
                .map(|v| (*v).clone())
                .map_err(|e| (*e).clone()),
        }
    }

    /// Read the configuration at `xpath`. `None` when nothing is there.
    pub async fn config(
        &self,
        source: ConfigSource,
        xpath: &XPath,
    ) -> Result<Option<String>, PanosError> {
        let action = source.action();
        let form = vec![
            ("type", "config".to_string()),
            ("action", action.to_string()),
            ("xpath", xpath.as_str().to_string()),
        ];
        match self
            .cached(CacheKey::Config(action, xpath.as_str().to_string()), form)
            .await
        {
            // `action=show` answers a missing node with an error instead of code 7.
            Err(PanosError::ApiNoCode(m)) if m.eq_ignore_ascii_case("No such node") => Ok(None),
            other => other,
        }
    }

    /// Run an operational command (already-built XML from validated parts).
    pub async fn op(&self, cmd: &str, vsys: Option<&Name>) -> Result<Option<String>, PanosError> {
        let mut form = vec![("type", "op".to_string()), ("cmd", cmd.to_string())];
        if let Some(v) = vsys {
            form.push(("vsys", v.as_str().to_string()));
        }
        self.cached(
            CacheKey::Op(cmd.to_string(), vsys.map(|v| v.as_str().to_string())),
            form,
        )
        .await
    }

    /// `type=version`, uncached: the readiness probe.
    pub async fn version(&self) -> Result<Option<String>, PanosError> {
        self.post(&[("type", "version")]).await
    }
}

/// Map an HTTP response to the `<result>` inner XML, or an error. Public for the fuzz
/// targets (`fuzz/`) and property tests: it must hold for any status and body.
pub fn interpret(resp: &UpstreamResponse) -> Result<Option<String>, PanosError> {
    let body = String::from_utf8_lossy(&resp.body);
    let ok = resp.status.is_success();
    let status = resp.status.as_u16();
    if status == 429 || status >= 500 {
        // Overload and server errors say "retry later", whatever the body looks like.
        let snippet = match parse_envelope(&body) {
            Ok(Envelope::Error { message, .. }) if !message.is_empty() => message,
            _ => resp.text_snippet(200),
        };
        return Err(PanosError::Http {
            status,
            snippet,
            retry_after: resp.retry_after(),
        });
    }
    match (parse_envelope(&body), ok) {
        (Ok(Envelope::Success { result, .. }), true) => Ok(result),
        (
            Ok(Envelope::Error {
                code: Some(403),
                message,
            }),
            _,
        ) => Err(PanosError::Auth(if message.is_empty() {
            "Invalid Credential".into()
        } else {
            message
        })),
        (
            Ok(Envelope::Error {
                code: Some(code),
                message,
            }),
            _,
        ) => Err(PanosError::Api {
            code,
            label: xml::code_label(code),
            message,
        }),
        (
            Ok(Envelope::Error {
                code: None,
                message,
            }),
            _,
        ) if resp.status.as_u16() == 403 => Err(PanosError::Auth(if message.is_empty() {
            "Invalid Credential".into()
        } else {
            message
        })),
        (
            Ok(Envelope::Error {
                code: None,
                message,
            }),
            _,
        ) => Err(PanosError::ApiNoCode(if message.is_empty() {
            "an error without a message".into()
        } else {
            message
        })),
        (Ok(Envelope::Success { .. }) | Err(_), false) => {
            let status = resp.status.as_u16();
            if status == 401 || status == 403 {
                return Err(PanosError::Auth(format!("HTTP {status}")));
            }
            Err(PanosError::Http {
                status,
                snippet: resp.text_snippet(200),
                retry_after: resp.retry_after(),
            })
        }
        (Err(e), true) => Err(PanosError::NotXml(e.0)),
    }
}
