//! Upstream settings: base URL rules, TLS, timeouts, retry and breaker tuning.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::UpstreamError;
use crate::config::ConfigError;

/// How the upstream's certificate is checked.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust only the CA certificates in this PEM file (self-signed firewalls and clusters).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Off by default; logs a loud warning when on.
    pub insecure: bool,
    /// Trust exactly the certificate with this SHA-256 fingerprint (self-signed servers).
    pub pinned_sha256: Option<[u8; 32]>,
}

impl TlsOptions {
    /// `{PREFIX}_CA_FILE`, `{PREFIX}_TLS_FINGERPRINT` and `{PREFIX}_TLS_INSECURE`. A CA file
    /// and a pin are exclusive; insecure mode excludes both.
    pub fn from_env(env: &crate::config::Env, prefix: &str) -> Result<Self, ConfigError> {
        let ca = format!("{prefix}_CA_FILE");
        let fp = format!("{prefix}_TLS_FINGERPRINT");
        let insecure_var = format!("{prefix}_TLS_INSECURE");
        let ca_file: Option<PathBuf> = env.get(&ca)?.map(Into::into);
        let pinned_sha256 = env
            .get(&fp)?
            .map(|v| super::pin::parse_fingerprint(&v).map_err(|e| ConfigError::invalid(&fp, e)))
            .transpose()?;
        let insecure = env.flag(&insecure_var)?.unwrap_or(false);
        if ca_file.is_some() && pinned_sha256.is_some() {
            return Err(ConfigError::invalid(
                &fp,
                format!("set {ca} or {fp}, not both"),
            ));
        }
        if insecure && (ca_file.is_some() || pinned_sha256.is_some()) {
            return Err(ConfigError::invalid(
                &insecure_var,
                format!("contradicts {ca}/{fp}; remove {insecure_var}"),
            ));
        }
        Ok(Self {
            ca_file,
            insecure,
            pinned_sha256,
        })
    }
}

/// Everything that shapes one upstream client.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Display name used in errors, logs and metrics (`PAN-OS`).
    pub name: String,
    /// Base URL; request paths are joined onto it.
    pub base_url: Url,
    pub tls: TlsOptions,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Deadline for a whole call, retries included.
    pub total_timeout: Duration,
    /// Retries after the first attempt (idempotent calls only).
    pub max_retries: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before it lets a call through.
    pub breaker_cooldown: Duration,
    pub max_response_bytes: usize,
    /// Headers sent with every request (credentials go here, never in URLs).
    pub default_headers: http::HeaderMap,
    /// Marks 5xx answers that are the upstream's considered reply about one object (Proxmox:
    /// "Configuration file does not exist", "node unreachable") rather than a sign that the
    /// upstream itself is failing: those are neither retried nor counted by the breaker.
    pub application_error: Option<fn(&super::UpstreamResponse) -> bool>,
}

impl UpstreamConfig {
    /// Defaults suited to a slow management plane.
    pub fn new(name: impl Into<String>, base_url: Url) -> Self {
        Self {
            name: name.into(),
            base_url,
            tls: TlsOptions::default(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(60),
            max_retries: 2,
            retry_base: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            default_headers: http::HeaderMap::new(),
            application_error: None,
        }
    }

    /// Apply the optional tuning variables `{PREFIX}_TIMEOUT` (read timeout; the whole-call
    /// deadline becomes twice it), `{PREFIX}_MAX_RETRIES`, `{PREFIX}_BREAKER_FAILURES` and
    /// `{PREFIX}_BREAKER_COOLDOWN`.
    pub fn tune_from_env(
        &mut self,
        env: &crate::config::Env,
        prefix: &str,
    ) -> Result<(), ConfigError> {
        let var = |s: &str| format!("{prefix}_{s}");
        if let Some(t) = env.duration(&var("TIMEOUT"))? {
            if t.is_zero() {
                return Err(ConfigError::invalid(&var("TIMEOUT"), "must be more than 0"));
            }
            self.read_timeout = t;
            self.total_timeout = t * 2;
        }
        if let Some(n) = env.parse::<u32>(&var("MAX_RETRIES"))? {
            if n > 10 {
                return Err(ConfigError::invalid(
                    &var("MAX_RETRIES"),
                    "must be at most 10",
                ));
            }
            self.max_retries = n;
        }
        if let Some(n) = env.parse::<u32>(&var("BREAKER_FAILURES"))? {
            if n == 0 {
                return Err(ConfigError::invalid(
                    &var("BREAKER_FAILURES"),
                    "must be at least 1",
                ));
            }
            self.breaker_failures = n;
        }
        if let Some(d) = env.duration(&var("BREAKER_COOLDOWN"))? {
            self.breaker_cooldown = d;
        }
        Ok(())
    }

    pub(super) fn url_for(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        let path = path.trim_start_matches('/');
        url.set_path(&format!("{base}/{path}"));
        url
    }

    pub(super) fn build_client(&self) -> Result<reqwest::Client, UpstreamError> {
        let setup = |detail: String| UpstreamError::Setup {
            upstream: self.name.clone(),
            detail,
        };
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.total_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("secops-mcp/", env!("CARGO_PKG_VERSION")))
            .default_headers(self.default_headers.clone());
        if let Some(ca) = &self.tls.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| setup(format!("cannot read CA file {}: {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| setup(format!("CA file {} is not PEM: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(setup(format!(
                    "CA file {} holds no certificate",
                    ca.display()
                )));
            }
            b = b.tls_certs_only(certs);
        }
        if let Some(pin) = self.tls.pinned_sha256 {
            let config = super::pin::pinned_config(pin)
                .map_err(|e| setup(format!("certificate pin: {e}")))?;
            b = b.tls_backend_preconfigured(config);
        }
        if self.tls.insecure {
            tracing::warn!(
                upstream = %self.name,
                "TLS VERIFICATION IS DISABLED for {}: any certificate is accepted and the connection can be intercepted. Use a CA file instead.",
                self.name
            );
            b = b.tls_danger_accept_invalid_certs(true);
        }
        b.build().map_err(|e| setup(crate::error::error_chain(&e)))
    }
}

/// Parse an upstream host setting: `host`, `host:port` or a full URL. A bare host gets
/// `https://`. Plain `http://` is accepted only for loopback addresses.
pub fn parse_base_url(var: &str, value: &str) -> Result<Url, ConfigError> {
    let value = value.trim();
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| ConfigError::invalid(var, format!("`{value}` is not a host or URL: {e}")))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ConfigError::invalid(var, format!("`{value}` has no host")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            var,
            "credentials do not belong in the URL; use the key variables",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            var,
            "the URL must not have a query or fragment",
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(host) => Ok(url),
        "http" => Err(ConfigError::invalid(
            var,
            format!("plain http is allowed only for loopback addresses; use https://{host}"),
        )),
        other => Err(ConfigError::invalid(
            var,
            format!("scheme `{other}` is not http or https"),
        )),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
