//! The Proxmox VE REST API client (`/api2/json`), authenticated with an API token.
//!
//! PVE reports errors in the HTTP reason phrase ("Permission check failed (/vms/100,
//! VM.PowerMgmt)") and parameter errors in `errors`; both reach the model as written.

use mcp_core::ToolError;
use mcp_core::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const UPSTREAM: &str = "Proxmox VE";

/// A connected API client.
pub struct PveClient {
    upstream: Upstream,
    auth: SecretString,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient").finish_non_exhaustive()
    }
}

impl PveClient {
    pub fn new(upstream: Upstream, token_id: &str, secret: &SecretString) -> Self {
        let auth = SecretString::from(format!("PVEAPIToken={token_id}={}", secret.expose_secret()));
        Self { upstream, auth }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.upstream
            .request(method, &format!("/api2/json{path}"))
            .header("Authorization", self.auth.expose_secret())
    }

    /// GET with query parameters; returns `data`.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value, ToolError> {
        let rb = self.request(reqwest::Method::GET, path).query(query);
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        interpret(&resp)
    }

    /// A write (POST, PUT, DELETE) with form parameters; returns `data`. Not retried after
    /// it may have been sent.
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, ToolError> {
        let rb = if method == reqwest::Method::DELETE {
            self.request(method, path).query(params)
        } else {
            self.request(method, path).form(params)
        };
        let resp = self.upstream.send(rb, Idempotency::NonIdempotent).await?;
        interpret(&resp)
    }
}

/// PVE's own answer about one object or node (a 500 with a reason phrase, or 595 "node
/// unreachable"), as opposed to the API server failing: not retried, not a breaker failure.
pub fn is_application_error(resp: &UpstreamResponse) -> bool {
    let s = resp.status.as_u16();
    s == 595
        || s == 501
        || (s == 500
            && resp
                .reason
                .as_deref()
                .is_some_and(|r| !r.eq_ignore_ascii_case("Internal Server Error")))
}

/// `data` of a successful answer, or a clear error.
pub fn interpret(resp: &UpstreamResponse) -> Result<Value, ToolError> {
    let status = resp.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let reason = resp.reason.clone().unwrap_or_else(|| {
        resp.status
            .canonical_reason()
            .unwrap_or("error")
            .to_string()
    });
    match status {
        200..=299 => match body {
            Some(mut v) => Ok(v.get_mut("data").map(Value::take).unwrap_or(Value::Null)),
            None => Err(ToolError::upstream(
                UPSTREAM,
                "the response is not valid JSON",
            )),
        },
        401 => Err(ToolError::upstream(
            UPSTREAM,
            format!(
                "{reason} (HTTP 401): the API token was rejected; check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET"
            ),
        )),
        403 => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP 403): the API token lacks this privilege"),
        )),
        400 => {
            let fields = body
                .as_ref()
                .and_then(|b| b.get("errors"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default().trim()))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|s| !s.is_empty());
            Err(ToolError::upstream(
                UPSTREAM,
                match fields {
                    Some(f) => format!("{reason} (HTTP 400): {f}"),
                    None => format!("{reason} (HTTP 400)"),
                },
            ))
        }
        429 => Err(ToolError::RateLimited {
            upstream: UPSTREAM.into(),
            retry_after: resp.retry_after(),
        }),
        595 => Err(ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("the node is unreachable from the cluster: {reason} (HTTP 595)"),
            retry_after: None,
        }),
        500 if resp.reason.is_some() => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP 500)"),
        )),
        501 => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP 501): no such API path or method"),
        )),
        500..=599 => Err(ToolError::Unavailable {
            upstream: UPSTREAM.into(),
            message: format!("{reason} (HTTP {status})"),
            retry_after: resp.retry_after(),
        }),
        _ => Err(ToolError::upstream(
            UPSTREAM,
            format!("{reason} (HTTP {status})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, reason: Option<&str>, body: &str) -> UpstreamResponse {
        UpstreamResponse {
            status: http::StatusCode::from_u16(status).expect("status"),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn every_pve_error_reaches_the_model_in_its_own_words() {
        let cases = [
            (
                401,
                Some("authentication failure"),
                "{\"data\":null}",
                "Proxmox VE said: authentication failure (HTTP 401): the API token was rejected; check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET",
            ),
            (
                403,
                Some("Permission check failed (/vms/100, VM.PowerMgmt)"),
                "{\"data\":null}",
                "Proxmox VE said: Permission check failed (/vms/100, VM.PowerMgmt) (HTTP 403): the API token lacks this privilege",
            ),
            (
                400,
                Some("Parameter verification failed."),
                "{\"data\":null,\"errors\":{\"vmid\":\"invalid format - value does not look like a valid VM ID\\n\"}}",
                "Proxmox VE said: Parameter verification failed. (HTTP 400): vmid: invalid format - value does not look like a valid VM ID",
            ),
            (
                500,
                Some("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"),
                "{\"data\":null}",
                "Proxmox VE said: Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist (HTTP 500)",
            ),
            (
                595,
                Some("No route to host"),
                "{\"data\":null}",
                "Proxmox VE is unavailable: the node is unreachable from the cluster: No route to host (HTTP 595)",
            ),
            (
                503,
                None,
                "",
                "Proxmox VE is unavailable: Service Unavailable (HTTP 503)",
            ),
        ];
        for (status, reason, body, want) in cases {
            assert_eq!(
                interpret(&resp(status, reason, body))
                    .expect_err("error")
                    .to_string(),
                want
            );
        }
        assert_eq!(
            interpret(&resp(200, None, "{\"data\":[1,2]}")).expect("ok"),
            serde_json::json!([1, 2])
        );
        assert!(is_application_error(&resp(
            500,
            Some("VM 100 already running"),
            ""
        )));
        assert!(is_application_error(&resp(595, None, "")));
        assert!(!is_application_error(&resp(
            500,
            Some("Internal Server Error"),
            ""
        )));
        assert!(!is_application_error(&resp(502, None, "")));
        assert!(is_application_error(&resp(
            501,
            Some("Method 'GET /nodes/x/y' not implemented"),
            ""
        )));
    }

    /// Any JSON, with the keys PVE answers with more likely than chance.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Decimals that serde_json parses back exactly (without its `float_roundtrip`
            // feature, a float of 17 significant digits may come back one ulp off).
            (-1_000_000_000_000i64..1_000_000_000_000).prop_map(|n| Value::from(n as f64 / 1000.0)),
            prop::sample::select(vec!["qemu", "lxc", "node", "storage", "running", "pve1"])
                .prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                prop::sample::select(vec!["data", "errors", "type", "vmid", "node", "status"])
                    .prop_map(str::to_string),
                "[a-z]{0,5}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any status, reason and body maps to `data` or a typed error, never a panic. The
        /// coverage-guided version is the `proxmox_response` target in `fuzz/`.
        #[test]
        fn any_answer_maps_without_panicking(
            status in 100u16..=999,
            reason in proptest::option::of("\\PC{0,40}"),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            json in json_value(),
        ) {
            let mut r = resp(status, reason.as_deref(), "");
            r.body = bytes::Bytes::from(body.clone());
            let got = interpret(&r);
            let json_ok = serde_json::from_slice::<Value>(&body).is_ok();
            proptest::prop_assert_eq!(got.is_ok(), (200..=299).contains(&status) && json_ok);
            if is_application_error(&r) {
                proptest::prop_assert!(r.status.is_server_error());
            }
            r.body = bytes::Bytes::from(serde_json::to_vec(&json).expect("serialises"));
            if let Ok(data) = interpret(&r) {
                proptest::prop_assert_eq!(&data, json.get("data").unwrap_or(&Value::Null));
                for g in crate::tools::vms::guests_of(&data) {
                    proptest::prop_assert!(matches!(g["type"].as_str(), Some("qemu" | "lxc")));
                }
            }
        }
    }
}
