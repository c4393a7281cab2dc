//! The PAN-OS XML API client. Tools never build requests; they call this.
//!
//! Every request is a POST to `/api/` with a form body; the API key travels in the
//! `X-PAN-KEY` header, never in a URL. Reads are cached for a short TTL and identical
//! concurrent reads are coalesced into one upstream request: the management plane is slow
//! and easily overloaded.

pub mod changes;
pub mod diff;
pub mod element;
pub mod entry;
pub mod error;
pub mod logfilter;
pub mod logs;
pub mod model;
pub mod opstate;
pub mod refs;
pub mod tagfilter;
pub mod target;
pub mod xml;
pub mod xpath;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mcp_core::upstream::{Idempotency, Upstream, UpstreamResponse};
use secrecy::{ExposeSecret, SecretString};

pub use error::PanosError;
pub use xml::{Envelope, ParsedResult, parse_envelope};
pub use xpath::{Name, XPath};

use crate::config::{Credentials, PanosSettings};
use model::{
    AddressGroup, AddressObject, DeviceGroup, MatchedRule, PolicyMatch, PolicyMatchQuery,
    SecurityRule, ServiceObject, Zone,
};

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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Config(&'static str, String),
    Op(String, Option<String>),
}

/// Cached reads, keyed by the managed firewall they went to (`None`: the host), the shared
/// cache's generation (with `MCP_STATE_URL`: a write on any replica starts a new one) and the
/// read.
/// Fresh for `PANOS_CACHE_TTL`, then served stale while one call refreshes it (at most twice
/// the TTL old), identical misses coalesced ([`mcp_core::cache`]).
/// The cache holds parsed results, so a hit parses nothing.
type ReadCache = mcp_core::cache::ReadCache<
    (Option<String>, Option<u64>, CacheKey),
    Option<Arc<ParsedResult>>,
    PanosError,
>;

/// A cached answer as bytes for the shared cache: `0` for nothing there, `1` and the text.
fn encode_cached(v: Option<&str>) -> Vec<u8> {
    match v {
        None => vec![0],
        Some(t) => {
            let mut out = Vec::with_capacity(t.len() + 1);
            out.push(1);
            out.extend_from_slice(t.as_bytes());
            out
        }
    }
}

fn decode_cached(b: &[u8]) -> Option<String> {
    match b.split_first() {
        Some((1, rest)) => Some(String::from_utf8_lossy(rest).into_owned()),
        _ => None,
    }
}

/// A connected client.
pub struct PanosClient {
    upstream: Upstream,
    key: SecretString,
    cache: Option<ReadCache>,
    /// The cache shared by the replicas (`MCP_STATE_URL`), behind the local one.
    shared: Option<mcp_core::state::SharedCache>,
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
        let cache = (!settings.cache_ttl.is_zero())
            .then(|| ReadCache::new("panos", settings.cache_ttl, 10_000));
        let mut client = Self {
            upstream,
            key: SecretString::from(String::new()),
            cache,
            shared: None,
        };
        client.key = match &settings.credentials {
            Credentials::ApiKey(k) => k.clone(),
            Credentials::Password { username, password } => {
                client.keygen(username, password).await?
            }
        };
        Ok(client)
    }

    /// Share cached reads with the other replicas through `state`, with the same TTL as the
    /// local cache (none when the cache is off): one replica asks PAN-OS, the others wait for
    /// its answer.
    #[must_use]
    pub fn with_shared_cache(
        mut self,
        state: Option<std::sync::Arc<dyn mcp_core::state::StateStore>>,
        settings: &PanosSettings,
    ) -> Self {
        if self.cache.is_some() {
            self.shared = state.map(|s| {
                mcp_core::state::SharedCache::new(
                    s,
                    "panos",
                    settings.cache_ttl,
                    settings.upstream.total_timeout,
                )
            });
        }
        self
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

    /// A request of the current tool call: sent to its `device` through Panorama when it
    /// names one ([`target::scope`]).
    async fn post(&self, form: &[(&str, &str)]) -> Result<Option<String>, PanosError> {
        let target = self.current_target().await?;
        self.post_to(form, target.as_deref()).await
    }

    /// `form`, plus `target=SERIAL` when `target` names a managed firewall.
    pub(crate) fn targeted<'a>(
        form: &[(&'a str, &'a str)],
        target: Option<&'a str>,
    ) -> Vec<(&'a str, &'a str)> {
        let mut out = form.to_vec();
        if let Some(t) = target {
            out.push(("target", t));
        }
        out
    }

    /// One idempotent request, to `target` when given.
    async fn post_to(
        &self,
        form: &[(&str, &str)],
        target: Option<&str>,
    ) -> Result<Option<String>, PanosError> {
        interpret(&self.send_form(form, target).await?)
    }

    /// [`Self::post_to`], the result parsed (once) and kept parsed.
    async fn post_parsed_to(
        &self,
        form: &[(&str, &str)],
        target: Option<&str>,
    ) -> Result<Option<Arc<ParsedResult>>, PanosError> {
        Ok(interpret_parsed(&self.send_form(form, target).await?)?.map(Arc::new))
    }

    async fn send_form(
        &self,
        form: &[(&str, &str)],
        target: Option<&str>,
    ) -> Result<UpstreamResponse, PanosError> {
        let form = Self::targeted(form, target);
        let rb = self
            .upstream
            .request(reqwest::Method::POST, "/api/")
            .header("X-PAN-KEY", self.key.expose_secret())
            .form(&form);
        self.upstream
            .send(rb, Idempotency::Idempotent)
            .await
            .map_err(|e| PanosError::Transport(Arc::new(e)))
    }

    async fn cached(
        &self,
        key: CacheKey,
        form: Vec<(&'static str, String)>,
    ) -> Result<Option<Arc<ParsedResult>>, PanosError> {
        let target = self.current_target().await?;
        // With a shared cache, the local entry is only good for the generation it was read in:
        // a write on another replica is seen here at once. Store down: local behaviour.
        let generation = match (&self.shared, &self.cache) {
            (Some(s), Some(_)) => s.generation().await.ok(),
            _ => None,
        };
        let shared_key = self
            .shared
            .as_ref()
            .map(|_| format!("{target:?}|{key:?}"))
            .unwrap_or_default();
        let fetch = async {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match &self.shared {
                None => self.post_parsed_to(&pairs, target.as_deref()).await,
                Some(shared) => {
                    // The replica that fetches keeps its parse; the others parse the text
                    // the store gives them.
                    let mut fetched = None;
                    let slot = &mut fetched;
                    let (pairs, target) = (&pairs, target.as_deref());
                    let (bytes, _) = shared
                        .get_or_fetch(&shared_key, move || async move {
                            let v = self.post_parsed_to(pairs, target).await?;
                            let bytes = encode_cached(v.as_ref().map(|p| p.inner_xml()).as_deref());
                            *slot = Some(v);
                            Ok::<_, PanosError>(bytes)
                        })
                        .await?;
                    match fetched {
                        Some(v) => Ok(v),
                        None => decode_cached(&bytes)
                            .map(|inner| ParsedResult::from_inner(&inner).map(Arc::new))
                            .transpose()
                            .map_err(PanosError::Parse),
                    }
                }
            }
        };
        match &self.cache {
            None => fetch.await,
            Some(cache) => {
                cache
                    .get_or_fetch((target.clone(), generation, key), || fetch)
                    .await
            }
        }
    }

    /// Drop every cached read, here and (with a shared cache) on every replica.
    pub(crate) async fn invalidate_cache(&self) {
        if let Some(c) = &self.cache {
            c.invalidate_all();
        }
        if let Some(s) = &self.shared {
            s.invalidate().await;
        }
    }

    /// Read the configuration at `xpath`. `None` when nothing is there.
    async fn config(
        &self,
        source: ConfigSource,
        xpath: &XPath,
    ) -> Result<Option<Arc<ParsedResult>>, PanosError> {
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
    async fn op(
        &self,
        cmd: &str,
        vsys: Option<&Name>,
    ) -> Result<Option<Arc<ParsedResult>>, PanosError> {
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

    /// Read the `<entry>` list at `xpath` and normalise each entry; nothing there is empty.
    async fn entries<T>(
        &self,
        source: ConfigSource,
        xpath: &XPath,
        f: impl Fn(usize, roxmltree::Node<'_, '_>) -> T,
    ) -> Result<Vec<T>, PanosError> {
        let result = self.config(source, xpath).await?;
        Ok(on_result(result.as_deref(), |r| {
            model::entries(r)
                .into_iter()
                .enumerate()
                .map(|(i, e)| f(i, e))
                .collect()
        })
        .unwrap_or_default())
    }

    /// The address objects of the location at `base`, labelled `location`.
    pub async fn address_objects(
        &self,
        source: ConfigSource,
        base: &XPath,
        location: &str,
    ) -> Result<Vec<AddressObject>, PanosError> {
        let xpath = base.clone().child("address").entries();
        self.entries(source, &xpath, |_, e| model::address_object(e, location))
            .await
    }

    /// The address groups of the location at `base`, labelled `location`.
    pub async fn address_groups(
        &self,
        source: ConfigSource,
        base: &XPath,
        location: &str,
    ) -> Result<Vec<AddressGroup>, PanosError> {
        let xpath = base.clone().child("address-group").entries();
        self.entries(source, &xpath, |_, e| model::address_group(e, location))
            .await
    }

    /// The service objects, then the service groups, of the location at `base`.
    pub async fn service_objects(
        &self,
        source: ConfigSource,
        base: &XPath,
        location: &str,
    ) -> Result<Vec<ServiceObject>, PanosError> {
        let services = base.clone().child("service").entries();
        let mut all = self
            .entries(source, &services, |_, e| model::service(e, location))
            .await?;
        let groups = base.clone().child("service-group").entries();
        all.extend(
            self.entries(source, &groups, |_, e| model::service_group(e, location))
                .await?,
        );
        Ok(all)
    }

    /// The security zones of `vsys` under `base` (the device, or a template's device).
    pub async fn zones(
        &self,
        source: ConfigSource,
        base: &XPath,
        vsys: &Name,
        location: &str,
    ) -> Result<Vec<Zone>, PanosError> {
        let xpath = base
            .clone()
            .child("vsys")
            .entry(vsys)
            .child("zone")
            .entries();
        self.entries(source, &xpath, |_, e| model::zone(e, location))
            .await
    }

    /// The security rules of the rulebase at `rulebase` (`.../rulebase`, `.../pre-rulebase`,
    /// `.../post-rulebase`), in order, labelled `rulebase_label` and `location`.
    pub async fn security_rules(
        &self,
        source: ConfigSource,
        rulebase: &XPath,
        rulebase_label: &str,
        location: &str,
    ) -> Result<Vec<SecurityRule>, PanosError> {
        let xpath = rulebase.clone().child("security").child("rules").entries();
        self.entries(source, &xpath, |i, e| {
            model::security_rule(e, i + 1, rulebase_label, location)
        })
        .await
    }

    /// The action of the rule named `rule` in `vsys`'s local rulebase (`allow` when it names
    /// none); `None` when there is no such rule.
    pub async fn security_rule_action(
        &self,
        source: ConfigSource,
        vsys: &Name,
        rule: &str,
    ) -> Result<Option<String>, PanosError> {
        let xpath = XPath::device()
            .child("vsys")
            .entry(vsys)
            .child("rulebase")
            .child("security")
            .child("rules")
            .entries();
        let result = self.config(source, &xpath).await?;
        Ok(on_result(result.as_deref(), |r| {
            model::entries(r)
                .into_iter()
                .find(|e| e.attribute("name") == Some(rule))
                .map(|e| model::text(e, "action").unwrap_or_else(|| "allow".into()))
        })
        .flatten())
    }

    /// Panorama's device groups with their firewalls' serials (parent `shared`, no path yet:
    /// see [`Self::device_group_parents`]).
    pub async fn device_groups(
        &self,
        source: ConfigSource,
    ) -> Result<Vec<DeviceGroup>, PanosError> {
        let xpath = XPath::device().child("device-group").entries();
        self.entries(source, &xpath, |_, e| model::device_group(e))
            .await
    }

    /// Panorama's device-group hierarchy: group name to parent group name.
    pub async fn device_group_parents(
        &self,
        source: ConfigSource,
    ) -> Result<HashMap<String, String>, PanosError> {
        // The hierarchy lives under /config/readonly on Panorama.
        let xpath = XPath::config()
            .child("readonly")
            .local_device()
            .child("device-group")
            .entries();
        Ok(self
            .entries(source, &xpath, |_, e| model::device_group_parent(e))
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// `show system info`, flattened to key/value pairs (empty when PAN-OS said nothing).
    pub async fn system_info(&self) -> Result<BTreeMap<String, String>, PanosError> {
        let result = self
            .op("<show><system><info></info></system></show>", None)
            .await?;
        Ok(on_result(result.as_deref(), model::system_info).unwrap_or_default())
    }

    /// The firewall's own `test security-policy-match` for `query`: the command sent and the
    /// first rule it reported, if any.
    pub async fn test_security_policy_match(
        &self,
        query: &PolicyMatchQuery,
    ) -> Result<PolicyMatch, PanosError> {
        let command = query.command();
        let result = self.op(&command, Some(&query.vsys)).await?;
        let rule = on_result(result.as_deref(), |r| {
            model::policy_match(r).map(|(name, action, index, _)| MatchedRule {
                name,
                action,
                index,
            })
        })
        .flatten();
        Ok(PolicyMatch { command, rule })
    }

    /// `type=version`, uncached: the readiness probe. The fields PAN-OS reported (empty
    /// when they cannot be read).
    pub async fn version(&self) -> Result<BTreeMap<String, String>, PanosError> {
        let inner = self.post(&[("type", "version")]).await?;
        Ok(inner
            .as_deref()
            .and_then(|x| model::with_result(x, model::system_info).ok())
            .unwrap_or_default())
    }
}

/// Parse a result's inner XML (`None`: nothing there), a parser failure being a
/// [`PanosError::Parse`].
fn parse<T>(
    inner: Option<&str>,
    f: impl FnOnce(roxmltree::Node<'_, '_>) -> T,
) -> Result<Option<T>, PanosError> {
    inner
        .map(|xml| model::with_result(xml, f).map_err(PanosError::Parse))
        .transpose()
}

/// `f` of a parsed `<result>` (`None`: nothing there).
fn on_result<T>(
    result: Option<&ParsedResult>,
    f: impl FnOnce(roxmltree::Node<'_, '_>) -> T,
) -> Option<T> {
    result.map(|r| f(r.result()))
}

/// Map an HTTP response to the `<result>` inner XML, or an error. Public for the fuzz
/// targets (`fuzz/`) and property tests: it must hold for any status and body.
pub fn interpret(resp: &UpstreamResponse) -> Result<Option<String>, PanosError> {
    let body = String::from_utf8_lossy(&resp.body);
    judge(resp, &body, || parse_envelope(&body))
}

/// [`interpret`], keeping the parsed `<result>` instead of its text: the response is parsed
/// once, and that parse is what the read cache holds.
pub fn interpret_parsed(resp: &UpstreamResponse) -> Result<Option<ParsedResult>, PanosError> {
    let body = String::from_utf8_lossy(&resp.body);
    judge(resp, &body, || ParsedResult::from_body(&body))
}

/// The error, or the result, of a response whose envelope `envelope` reads.
fn judge<R>(
    resp: &UpstreamResponse,
    body: &str,
    envelope: impl FnOnce() -> Result<Envelope<R>, xml::NotAnEnvelope>,
) -> Result<Option<R>, PanosError> {
    let ok = resp.status.is_success();
    let status = resp.status.as_u16();
    if status == 429 || status >= 500 {
        // Overload and server errors say "retry later", whatever the body looks like.
        let snippet = match parse_envelope(body) {
            Ok(Envelope::Error { message, .. }) if !message.is_empty() => message,
            _ => resp.text_snippet(200),
        };
        return Err(PanosError::Http {
            status,
            snippet,
            retry_after: resp.retry_after(),
        });
    }
    match (envelope(), ok) {
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
