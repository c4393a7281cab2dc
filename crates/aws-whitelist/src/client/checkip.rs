//! The public-IP checker (`AWSWL_CHECKIP_URL`): one GET that answers an address as text.

use mcp_core::upstream::{Idempotency, Upstream, UpstreamConfig, parse_base_url};
use mcp_core::validate::Cidr;

use super::error::ClientError;

/// The checker's HTTP client (plain http only for loopback, as for every upstream).
#[derive(Debug)]
pub struct CheckIp {
    http: Upstream,
}

impl CheckIp {
    /// A client for `url`.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let base = parse_base_url("AWSWL_CHECKIP_URL", url).map_err(ClientError::Setup)?;
        let mut cfg = UpstreamConfig::new("IP checker", base);
        cfg.total_timeout = std::time::Duration::from_secs(10);
        cfg.max_response_bytes = 1024;
        Ok(Self {
            http: Upstream::new(cfg)?,
        })
    }

    /// The checker's URL.
    pub fn url(&self) -> String {
        self.http.config().base_url.to_string()
    }

    /// The address the checker sees this server as, as a /32 or /128.
    pub async fn my_ip(&self) -> Result<Cidr, ClientError> {
        let resp = self
            .http
            .send(
                self.http.request(reqwest::Method::GET, ""),
                Idempotency::Idempotent,
            )
            .await?;
        if !resp.status.is_success() {
            return Err(ClientError::CheckerStatus(resp.status));
        }
        let text = String::from_utf8_lossy(&resp.body).trim().to_string();
        mcp_core::validate::parse_cidr("ip", &text).map_err(|_| ClientError::CheckerAnswer)
    }
}
