//! Who may connect at all: `MCP_ALLOWED_CLIENTS` (client CIDRs) and `MCP_TRUSTED_PROXIES`
//! (the proxies whose `X-Forwarded-For` is believed), checked before auth.
//!
//! The client is the TCP peer, unless the peer is a trusted proxy: then `X-Forwarded-For` is
//! read from the right, past every trusted proxy, and the first address that is not one is
//! the client (a client can put anything at the left of the header; only what the proxies
//! appended is believed). From anyone else the header is ignored. A client outside
//! `MCP_ALLOWED_CLIENTS` gets 403 before its token is looked at. The probes (`/healthz`,
//! `/readyz`, `/ready`) answer everyone: kubelets and load balancers come from node addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::config::{ConfigError, Env};

/// The client-address rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Empty: every client may connect.
    pub allowed: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
}

/// The address a request came from, as [`ClientPolicy`] judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientPolicy {
    /// `MCP_ALLOWED_CLIENTS` and `MCP_TRUSTED_PROXIES`: comma lists of CIDRs or addresses.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            allowed: cidrs(env, "MCP_ALLOWED_CLIENTS")?,
            trusted_proxies: cidrs(env, "MCP_TRUSTED_PROXIES")?,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|n| n.contains(&canonical(ip)))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For` values in order.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusted(peer) {
            return canonical(peer);
        }
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = canonical(peer);
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                // A hop that is not an address ends what can be believed: the proxy that
                // appended it is the last trusted one, so the client is what it saw.
                None => break,
                Some(ip) if self.trusted(ip) => client = ip,
                Some(ip) => return ip,
            }
        }
        client
    }

    /// Whether `client` may connect.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|n| n.contains(&client))
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

fn cidrs(env: &Env, var: &str) -> Result<Vec<IpNet>, ConfigError> {
    let Some(list) = env.list(var)? else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| {
                    ConfigError::invalid(
                        var,
                        format!(
                            "`{}` is not a CIDR or an address (e.g. 10.0.0.0/8, 2001:db8::/32, 192.0.2.10)",
                            crate::validate::excerpt(item, 64)
                        ),
                    )
                })
        })
        .collect()
}

/// Paths every client may reach: the probes.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/ready")
}

/// Work out the client, record it, and refuse one outside `MCP_ALLOWED_CLIENTS` with 403.
pub(crate) async fn client_guard(
    State(policy): State<Arc<ClientPolicy>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(peer) = peer else {
        // A router served without the peer address (embedded in another server): nothing to
        // judge, so with an allowlist nothing passes.
        if policy.allowed.is_empty() || is_probe(req.uri().path()) {
            return next.run(req).await;
        }
        tracing::warn!(
            "request refused: MCP_ALLOWED_CLIENTS is set but the peer address is unknown"
        );
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": "the client address is unknown and MCP_ALLOWED_CLIENTS is set"})),
        )
            .into_response();
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = policy.client(peer, &forwarded);
    req.extensions_mut().insert(ClientAddr(client));
    if policy.allows(client) || is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    metrics::counter!("mcp_clients_refused_total").increment(1);
    tracing::warn!(client = %client, peer = %peer, path = %req.uri().path(), "request refused: client address not in MCP_ALLOWED_CLIENTS");
    let mut resp = (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({"error": "this client address is not allowed (MCP_ALLOWED_CLIENTS)"})),
    )
        .into_response();
    super::guard::close_connection(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], trusted: &[&str]) -> ClientPolicy {
        let nets = |l: &[&str]| l.iter().map(|s| s.parse().expect("net")).collect();
        ClientPolicy {
            allowed: nets(allowed),
            trusted_proxies: nets(trusted),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let p = policy(&[], &["10.0.0.0/8"]);
        // From a stranger, the header is ignored.
        assert_eq!(
            p.client(ip("203.0.113.5"), &["198.51.100.1"]),
            ip("203.0.113.5")
        );
        // From a proxy: the right-most address that is not a proxy.
        assert_eq!(
            p.client(ip("10.0.0.2"), &["198.51.100.1"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            p.client(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.1, 10.0.0.9"]),
            ip("198.51.100.1"),
            "a client's own left-hand entries are not believed"
        );
        assert_eq!(
            p.client(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.1"]),
            ip("198.51.100.1"),
            "several header lines read as one list"
        );
        // All hops trusted: the left-most.
        assert_eq!(
            p.client(ip("10.0.0.2"), &["10.1.1.1, 10.0.0.9"]),
            ip("10.1.1.1")
        );
        // No header, or junk: the proxy itself, or the last believed hop.
        assert_eq!(p.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        assert_eq!(
            p.client(ip("10.0.0.2"), &["unknown, 10.0.0.9"]),
            ip("10.0.0.9")
        );
        assert_eq!(
            p.client(ip("10.0.0.2"), &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.client(ip("::ffff:10.0.0.2"), &["198.51.100.1"]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn allowlist() {
        let p = policy(&["10.1.0.0/16", "2001:db8::/32"], &[]);
        assert!(p.allows(ip("10.1.2.3")) && p.allows(ip("2001:db8::5")));
        assert!(!p.allows(ip("10.2.0.1")) && !p.allows(ip("127.0.0.1")));
        assert!(policy(&[], &[]).allows(ip("203.0.113.1")));
    }

    #[test]
    fn settings_name_the_variable() {
        let env = Env::from_pairs([
            ("MCP_ALLOWED_CLIENTS", "10.0.0.0/8, 192.0.2.7"),
            ("MCP_TRUSTED_PROXIES", "::1"),
        ]);
        let p = ClientPolicy::from_env(&env).expect("ok");
        assert_eq!(p.allowed.len(), 2);
        assert!(p.allowed[1].contains(&ip("192.0.2.7")));
        assert!(p.trusted_proxies[0].contains(&ip("::1")));
        let bad = Env::from_pairs([("MCP_TRUSTED_PROXIES", "10.0.0.0/33")]);
        assert!(
            ClientPolicy::from_env(&bad)
                .expect_err("bad")
                .to_string()
                .starts_with("MCP_TRUSTED_PROXIES: ")
        );
    }
}
