//! The Proxmox VE REST API client (`/api2/json`), authenticated with an API token.
//!
//! One method per call the tools make, each returning its typed model
//! ([`super::model`]); [`PveClient::raw`] is the `proxmox_api` passthrough. Statuses map to
//! [`PveError`] in [`interpret`].

use mcp_core::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::calls::{Call, FirewallLevel, Vzdump};
use super::error::PveError;
use super::model::{
    BackupVolume, Fields, FirewallRule, Guest, GuestConfig, GuestKind, GuestStatus, LogLine,
    NetworkIface, NodeEntry, NodeStatus, RawResponse, Snapshot, StorageEntry, TaskEntry,
    TaskStatus, Version, guests_of,
};

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

/// An HTTP method of the passthrough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
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
    async fn get_value(&self, path: &str, query: &[(String, String)]) -> Result<Value, PveError> {
        let rb = self.request(reqwest::Method::GET, path).query(query);
        let resp = self.upstream.send(rb, Idempotency::Idempotent).await?;
        interpret(&resp)
    }

    /// A write (POST, PUT, DELETE) with form parameters; returns `data`. Not retried after
    /// it may have been sent.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, PveError> {
        let rb = if method == reqwest::Method::DELETE {
            self.request(method, path).query(params)
        } else {
            self.request(method, path).form(params)
        };
        let resp = self.upstream.send(rb, Idempotency::NonIdempotent).await?;
        interpret(&resp)
    }

    /// A GET of [`Call`] read as `T`.
    async fn read<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, PveError> {
        let path = call.path();
        let data = self.get_value(&path, &call.params()).await?;
        serde_json::from_value(data).map_err(|source| PveError::Decode { path, source })
    }

    /// `/version`.
    pub async fn version(&self) -> Result<Version, PveError> {
        self.read(Call::Version).await
    }

    /// Every guest of the cluster (`/cluster/resources?type=vm`).
    pub async fn guests(&self) -> Result<Vec<Guest>, PveError> {
        let call = Call::Guests;
        let data = self.get_value(&call.path(), &call.params()).await?;
        Ok(guests_of(&data))
    }

    /// The cluster's nodes (`/nodes`).
    pub async fn nodes(&self) -> Result<Vec<NodeEntry>, PveError> {
        self.read(Call::Nodes).await
    }

    /// One node's status; `node` is a checked node name.
    pub async fn node_status(&self, node: &str) -> Result<NodeStatus, PveError> {
        self.read(Call::NodeStatus { node }).await
    }

    /// A guest's current status.
    pub async fn guest_status(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<GuestStatus, PveError> {
        self.read(Call::GuestStatus { node, kind, vmid }).await
    }

    /// What the tools read of a guest's configuration.
    pub async fn guest_config(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<GuestConfig, PveError> {
        self.read(Call::GuestConfig { node, kind, vmid }).await
    }

    /// A task's status; `upid` is a checked task id.
    pub async fn task_status(&self, node: &str, upid: &str) -> Result<TaskStatus, PveError> {
        self.read(Call::TaskStatus { node, upid }).await
    }

    /// Start a power action (`start`, `stop`, ...) on a guest; returns the task's UPID.
    /// `action` must be one of [`super::calls::QEMU_ACTIONS`] or `LXC_ACTIONS` for `kind`.
    pub async fn guest_action(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        action: &'static str,
    ) -> Result<String, PveError> {
        let call = Call::GuestAction {
            node,
            kind,
            vmid,
            action,
        };
        let data = self
            .write(reqwest::Method::POST, &call.path(), &call.params())
            .await?;
        match data {
            Value::String(upid) => Ok(upid),
            _ => Err(PveError::NoTaskId),
        }
    }

    /// A write of [`Call`] that starts a task; returns its UPID.
    async fn start(&self, call: Call<'_>) -> Result<String, PveError> {
        let method = match call.method() {
            "PUT" => reqwest::Method::PUT,
            "DELETE" => reqwest::Method::DELETE,
            _ => reqwest::Method::POST,
        };
        match self.write(method, &call.path(), &call.params()).await? {
            Value::String(upid) => Ok(upid),
            _ => Err(PveError::NoTaskId),
        }
    }

    /// A guest's whole configuration, as PVE reports it.
    pub async fn guest_config_all(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<Fields, PveError> {
        self.read(Call::GuestConfig { node, kind, vmid }).await
    }

    /// Set checked configuration keys (`PUT .../config`, synchronous for both kinds).
    pub async fn set_config(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        values: &[(&'static str, String)],
    ) -> Result<(), PveError> {
        let call = Call::SetConfig {
            node,
            kind,
            vmid,
            values,
        };
        self.write(reqwest::Method::PUT, &call.path(), &call.params())
            .await
            .map(|_| ())
    }

    /// The next free VMID (`/cluster/nextid`), which PVE returns as a string.
    pub async fn next_id(&self) -> Result<u32, PveError> {
        let call = Call::NextId;
        let data = self.get_value(&call.path(), &call.params()).await?;
        let id = match &data {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        };
        id.ok_or(PveError::Decode {
            path: call.path(),
            source: serde::de::Error::custom("not a VMID"),
        })
    }

    /// Recent tasks of a node, newest first.
    pub async fn tasks(
        &self,
        node: &str,
        vmid: Option<u32>,
        typefilter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, PveError> {
        self.read(Call::Tasks {
            node,
            vmid,
            typefilter,
            limit,
        })
        .await
    }

    /// A task's log.
    pub async fn task_log(&self, node: &str, upid: &str) -> Result<Vec<LogLine>, PveError> {
        self.read(Call::TaskLog { node, upid }).await
    }

    /// A guest's snapshots, then `current`.
    pub async fn snapshots(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<Vec<Snapshot>, PveError> {
        self.read(Call::Snapshots { node, kind, vmid }).await
    }

    /// Take a snapshot; returns the UPID.
    pub async fn create_snapshot(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
        description: Option<&str>,
        vmstate: bool,
    ) -> Result<String, PveError> {
        self.start(Call::CreateSnapshot {
            node,
            kind,
            vmid,
            name,
            description,
            vmstate,
        })
        .await
    }

    /// Roll back to a snapshot; returns the UPID.
    pub async fn rollback(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
        start: bool,
    ) -> Result<String, PveError> {
        self.start(Call::Rollback {
            node,
            kind,
            vmid,
            name,
            start,
        })
        .await
    }

    /// Delete a snapshot; returns the UPID.
    pub async fn delete_snapshot(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
    ) -> Result<String, PveError> {
        self.start(Call::DeleteSnapshot {
            node,
            kind,
            vmid,
            name,
        })
        .await
    }

    /// Back up one guest now; returns the UPID.
    pub async fn vzdump(&self, node: &str, job: Vzdump<'_>) -> Result<String, PveError> {
        self.start(Call::Vzdump { node, job }).await
    }

    /// Restore a backup volume as guest `vmid`; returns the UPID.
    pub async fn restore(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        archive: &str,
        storage: Option<&str>,
        force: bool,
    ) -> Result<String, PveError> {
        self.start(Call::Restore {
            node,
            kind,
            vmid,
            archive,
            storage,
            force,
        })
        .await
    }

    /// A node's storages, with usage.
    pub async fn storages(&self, node: &str) -> Result<Vec<StorageEntry>, PveError> {
        self.read(Call::Storages { node }).await
    }

    /// The backup volumes on a storage, as `node` sees it.
    pub async fn backups(
        &self,
        node: &str,
        storage: &str,
        vmid: Option<u32>,
    ) -> Result<Vec<BackupVolume>, PveError> {
        self.read(Call::StorageBackups {
            node,
            storage,
            vmid,
        })
        .await
    }

    /// A node's network interfaces.
    pub async fn networks(&self, node: &str) -> Result<Vec<NetworkIface>, PveError> {
        self.read(Call::Networks { node }).await
    }

    /// Firewall rules of the cluster, a node or a guest.
    pub async fn firewall_rules(
        &self,
        level: FirewallLevel<'_>,
    ) -> Result<Vec<FirewallRule>, PveError> {
        self.read(Call::FirewallRules { level }).await
    }

    /// The `proxmox_api` passthrough: any checked path, parameters as query (GET, DELETE) or
    /// form (POST, PUT). A GET is retried like every read; a write is not.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<RawResponse, PveError> {
        let data = match method {
            Method::Get => self.get_value(path, params).await?,
            Method::Post => self.write(reqwest::Method::POST, path, params).await?,
            Method::Put => self.write(reqwest::Method::PUT, path, params).await?,
            Method::Delete => self.write(reqwest::Method::DELETE, path, params).await?,
        };
        Ok(RawResponse { data })
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

/// `data` of a successful answer, or the error its status means.
pub fn interpret(resp: &UpstreamResponse) -> Result<Value, PveError> {
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
            None => Err(PveError::NotJson),
        },
        401 => Err(PveError::TokenRejected { reason }),
        403 => Err(PveError::Forbidden { reason }),
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
            Err(PveError::BadRequest { reason, fields })
        }
        429 => Err(PveError::RateLimited {
            retry_after: resp.retry_after(),
        }),
        595 => Err(PveError::NodeUnreachable { reason }),
        500 if resp.reason.is_some() => Err(PveError::Refused { reason }),
        501 => Err(PveError::NotImplemented { reason }),
        500..=599 => Err(PveError::ServerError {
            status,
            reason,
            retry_after: resp.retry_after(),
        }),
        _ => Err(PveError::Status { status, reason }),
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
                mcp_core::ToolError::from(
                    interpret(&resp(status, reason, body)).expect_err("error")
                )
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
                for g in crate::client::model::guests_of(&data) {
                    let listed = data.as_array().is_some_and(|a| {
                        a.iter().any(|r| r["vmid"] == g.vmid && r["type"] == g.kind.as_str())
                    });
                    proptest::prop_assert!(listed);
                }
            }
        }
    }
}
