//! Changes to the candidate configuration and its lifecycle: edit, delete and move entries;
//! config locks; commit, revert and Panorama push; jobs. Also the reads a write needs fresh
//! (never from the read cache): one entry, the whole configuration.
//!
//! Request forms follow the PAN-OS XML API documentation and the vendor's SDKs
//! (pan-os-python, pango): `type=config&action=edit|delete|move`, `type=commit` with
//! `<commit><partial><admin>…` and `<description>`, `type=commit&action=all` with
//! `<commit-all>`, `type=op` for `request config-lock`, `show config-locks`, `show jobs id`,
//! `revert config`, `show rule-hit-count` and `test nat-policy-match`.

use mcp_core::upstream::Idempotency;
use secrecy::ExposeSecret;

use super::element::Xml;
use super::model::{self, ConfigLock, HitCount, Job, NatRule};
use super::{ConfigSource, Name, PanosClient, PanosError, XPath, interpret, parse};

/// Where `move` puts a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTo {
    Top,
    Bottom,
    Before(Name),
    After(Name),
}

impl MoveTo {
    /// The `where` parameter.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Top => "top",
            Self::Bottom => "bottom",
            Self::Before(_) => "before",
            Self::After(_) => "after",
        }
    }

    fn dst(&self) -> Option<&Name> {
        match self {
            Self::Before(n) | Self::After(n) => Some(n),
            _ => None,
        }
    }
}

/// A commit: a partial commit of one administrator's changes when `admin` is known, with a
/// description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCommand {
    pub description: String,
    pub admin: Option<String>,
}

impl CommitCommand {
    /// `<commit><partial><admin><member>A</member></admin></partial><description>D</description></commit>`
    pub fn xml(&self) -> Xml {
        let mut x = Xml::new();
        x.open("commit");
        if let Some(a) = &self.admin {
            x.open("partial").members("admin", &[a]).close("partial");
        }
        if !self.description.is_empty() {
            x.text("description", &self.description);
        }
        x.close("commit");
        x
    }
}

/// What a Panorama push sends to its firewalls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTarget {
    DeviceGroup(Name),
    TemplateStack(Name),
}

/// A Panorama push (`commit-all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCommand {
    pub target: PushTarget,
    pub description: String,
}

impl PushCommand {
    /// `<commit-all><shared-policy><device-group><entry name="DG"/></device-group><description>…`
    /// or `<commit-all><template-stack><name>TS</name><description>…`.
    pub fn xml(&self) -> Xml {
        let mut x = Xml::new();
        x.open("commit-all");
        match &self.target {
            PushTarget::DeviceGroup(dg) => {
                x.open("shared-policy")
                    .open("device-group")
                    .empty_named("entry", dg.as_str())
                    .close("device-group");
                if !self.description.is_empty() {
                    x.text("description", &self.description);
                }
                x.close("shared-policy");
            }
            PushTarget::TemplateStack(ts) => {
                x.open("template-stack").text("name", ts.as_str());
                if !self.description.is_empty() {
                    x.text("description", &self.description);
                }
                x.close("template-stack");
            }
        }
        x.close("commit-all");
        x
    }
}

/// Which rules' hit counts to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitCountScope {
    /// A firewall vsys.
    Vsys(Name),
    /// Panorama shared, `pre` or `post`.
    Shared { post: bool },
    /// A Panorama device group, `pre` or `post`.
    DeviceGroup { name: Name, post: bool },
}

/// `show rule-hit-count` for every rule of type `rule_type` (`security`, `nat`) in `scope`.
pub fn hit_count_command(scope: &HitCountScope, rule_type: &'static str) -> Xml {
    let mut rules = Xml::new();
    rules
        .open_named("entry", rule_type)
        .open("rules")
        .empty("all")
        .close("rules")
        .close("entry");
    let rb = |post: bool| {
        if post {
            "post-rulebase"
        } else {
            "pre-rulebase"
        }
    };
    let mut x = Xml::new();
    x.open("show").open("rule-hit-count");
    match scope {
        HitCountScope::Vsys(v) => {
            x.open("vsys")
                .open("vsys-name")
                .open_named("entry", v.as_str())
                .open("rule-base")
                .append(&rules)
                .close("rule-base")
                .close("entry")
                .close("vsys-name")
                .close("vsys");
        }
        HitCountScope::Shared { post } => {
            x.open("shared")
                .open(rb(*post))
                .append(&rules)
                .close(rb(*post))
                .close("shared");
        }
        HitCountScope::DeviceGroup { name, post } => {
            x.open("device-group")
                .open_named("entry", name.as_str())
                .open(rb(*post))
                .append(&rules)
                .close(rb(*post))
                .close("entry")
                .close("device-group");
        }
    }
    x.close("rule-hit-count").close("show");
    x
}

/// A flow for `test nat-policy-match`, every part validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatMatchQuery {
    pub from: Name,
    pub to: Name,
    pub source: std::net::IpAddr,
    pub destination: std::net::IpAddr,
    pub protocol: u8,
    pub destination_port: Option<u16>,
    /// An interface name (`ethernet1/1`, `ae1.10`, `tunnel.1`), checked.
    pub to_interface: Option<String>,
    pub vsys: Name,
}

impl NatMatchQuery {
    pub fn command(&self) -> Xml {
        let mut x = Xml::new();
        x.open("test")
            .open("nat-policy-match")
            .text("from", self.from.as_str())
            .text("to", self.to.as_str())
            .text("source", &self.source.to_string())
            .text("destination", &self.destination.to_string())
            .text("protocol", &self.protocol.to_string());
        if let Some(p) = self.destination_port {
            x.text("destination-port", &p.to_string());
        }
        if let Some(i) = &self.to_interface {
            x.text("to-interface", i);
        }
        x.close("nat-policy-match").close("test");
        x
    }
}

/// `request config-lock add` with a comment, or `remove`.
fn lock_command(add: bool, comment: &str) -> Xml {
    let mut x = Xml::new();
    x.open("request").open("config-lock");
    if add {
        x.open("add").text("comment", comment).close("add");
    } else {
        x.empty("remove");
    }
    x.close("config-lock").close("request");
    x
}

/// The administrator named after "locked by" / "held by" in a lock refusal.
pub fn lock_holder(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    for marker in ["locked by ", "held by "] {
        if let Some(i) = lower.find(marker) {
            let rest = &message[i + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ';' | '(' | ')'))
                .collect();
            let name = name.trim_end_matches('.').to_string();
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    None
}

/// Give a write's failure its meaning: a lock, a missing object, a reference.
fn classify(e: PanosError) -> PanosError {
    let (code, message) = match &e {
        PanosError::Api { code, message, .. } => (Some(*code), message.clone()),
        PanosError::ApiNoCode(m) => (None, m.clone()),
        _ => return e,
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("you already own a config lock") {
        return PanosError::LockHeld {
            holder: None,
            message,
        };
    }
    if lower.contains("lock")
        && let Some(holder) = lock_holder(&message)
    {
        return PanosError::LockHeld {
            holder: Some(holder),
            message,
        };
    }
    if code == Some(10) || (lower.contains("reference") && !lower.contains("not a valid reference"))
    {
        return PanosError::ReferenceBlocksDelete(message);
    }
    if code == Some(7) || lower.contains("object doesn't exist") || lower == "no such node" {
        return PanosError::NotFound(message);
    }
    e
}

impl PanosClient {
    /// A form POST that changes something: never retried after it may have arrived, and
    /// every cached read is dropped afterwards.
    async fn post_write(&self, form: &[(&str, &str)]) -> Result<Option<String>, PanosError> {
        let target = self.current_target().await?;
        let form = Self::targeted(form, target.as_deref());
        let rb = self
            .upstream
            .request(reqwest::Method::POST, "/api/")
            .header("X-PAN-KEY", self.key.expose_secret())
            .form(&form);
        let sent = self.upstream.send(rb, Idempotency::NonIdempotent).await;
        self.invalidate_cache().await;
        let resp = sent.map_err(|e| PanosError::Transport(std::sync::Arc::new(e)))?;
        interpret(&resp).map_err(classify)
    }

    /// An op command, never cached (job status, locks, hit counts).
    async fn op_fresh(&self, cmd: &Xml, vsys: Option<&Name>) -> Result<Option<String>, PanosError> {
        let mut form = vec![("type", "op"), ("cmd", cmd.as_str())];
        if let Some(v) = vsys {
            form.push(("vsys", v.as_str()));
        }
        self.post(&form).await
    }

    /// The configuration at `xpath`, read now (not from the cache). `None` when absent.
    async fn config_fresh(
        &self,
        source: ConfigSource,
        xpath: &XPath,
    ) -> Result<Option<String>, PanosError> {
        let form = [
            ("type", "config"),
            ("action", source.action()),
            ("xpath", xpath.as_str()),
        ];
        match self.post(&form).await {
            Err(PanosError::ApiNoCode(m)) if m.eq_ignore_ascii_case("No such node") => Ok(None),
            other => other,
        }
    }

    /// The `<entry>` at `xpath` as the configuration holds it (XML), or `None`.
    pub async fn entry_xml(
        &self,
        source: ConfigSource,
        xpath: &XPath,
    ) -> Result<Option<String>, PanosError> {
        let inner = self.config_fresh(source, xpath).await?;
        let Some(inner) = inner else { return Ok(None) };
        // `get` answers `<entry …>`; keep exactly that element.
        Ok(parse(Some(&inner), |r| {
            let e = r.children().find(|c| c.has_tag_name("entry"))?;
            let mut x = Xml::new();
            super::element::copy_node(&mut x, e);
            Some(x.into_string())
        })?
        .flatten())
    }

    /// The `<entry>` list at `xpath` (…`/entry`), read now, each entry's XML in order.
    pub async fn entries_xml(
        &self,
        source: ConfigSource,
        xpath: &XPath,
    ) -> Result<Vec<String>, PanosError> {
        let inner = self.config_fresh(source, xpath).await?;
        Ok(parse(inner.as_deref(), |r| {
            model::entries(r)
                .into_iter()
                .map(|e| {
                    let mut x = Xml::new();
                    super::element::copy_node(&mut x, e);
                    x.into_string()
                })
                .collect()
        })?
        .unwrap_or_default())
    }

    /// The whole configuration (`/config`), read now: the inner XML of the answer, which
    /// holds the `<config>` element.
    pub async fn whole_config(&self, source: ConfigSource) -> Result<String, PanosError> {
        self.config_fresh(source, &XPath::config())
            .await?
            .ok_or_else(|| PanosError::Parse("the configuration is empty".into()))
    }

    /// Replace (or create) the entry at `xpath` with `element` (`action=edit`).
    pub async fn edit(&self, xpath: &XPath, element: &Xml) -> Result<(), PanosError> {
        self.post_write(&[
            ("type", "config"),
            ("action", "edit"),
            ("xpath", xpath.as_str()),
            ("element", element.as_str()),
        ])
        .await
        .map(|_| ())
    }

    /// Delete the node at `xpath` (`action=delete`).
    pub async fn delete(&self, xpath: &XPath) -> Result<(), PanosError> {
        self.post_write(&[
            ("type", "config"),
            ("action", "delete"),
            ("xpath", xpath.as_str()),
        ])
        .await
        .map(|_| ())
    }

    /// Move the entry at `xpath` (`action=move&where=…&dst=…`).
    pub async fn move_entry(&self, xpath: &XPath, to: &MoveTo) -> Result<(), PanosError> {
        let mut form = vec![
            ("type", "config"),
            ("action", "move"),
            ("xpath", xpath.as_str()),
            ("where", to.word()),
        ];
        if let Some(d) = to.dst() {
            form.push(("dst", d.as_str()));
        }
        self.post_write(&form).await.map(|_| ())
    }

    /// Take the config lock of `scope` (a vsys; `None` is `shared`), with `comment`. Refused
    /// with [`PanosError::LockHeld`] when someone holds it, naming them.
    pub async fn lock_config(&self, scope: Option<&Name>, comment: &str) -> Result<(), PanosError> {
        let cmd = lock_command(true, comment);
        let mut form = vec![("type", "op"), ("cmd", cmd.as_str())];
        if let Some(v) = scope {
            form.push(("vsys", v.as_str()));
        }
        match self.post_write(&form).await {
            Ok(_) => Ok(()),
            Err(PanosError::LockHeld {
                holder: None,
                message,
            }) if !message.to_ascii_lowercase().contains("you already own") => {
                // Name the holder from the lock list when the refusal did not.
                let holder = self
                    .config_locks()
                    .await
                    .ok()
                    .and_then(|l| l.into_iter().next().map(|l| l.admin));
                Err(PanosError::LockHeld { holder, message })
            }
            Err(e) => Err(e),
        }
    }

    /// Release this administrator's config lock of `scope`. A lock that is already gone (a
    /// commit releases its author's locks) is not an error.
    pub async fn unlock_config(&self, scope: Option<&Name>) -> Result<(), PanosError> {
        let cmd = lock_command(false, "");
        let mut form = vec![("type", "op"), ("cmd", cmd.as_str())];
        if let Some(v) = scope {
            form.push(("vsys", v.as_str()));
        }
        match self.post_write(&form).await {
            Ok(_) => Ok(()),
            Err(PanosError::Api { message, .. } | PanosError::ApiNoCode(message))
                if message
                    .to_ascii_lowercase()
                    .contains("not currently locked") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `show config-locks`.
    pub async fn config_locks(&self) -> Result<Vec<ConfigLock>, PanosError> {
        let mut cmd = Xml::new();
        cmd.open("show").empty("config-locks").close("show");
        let inner = self.op_fresh(&cmd, None).await?;
        Ok(parse(inner.as_deref(), model::locks)?.unwrap_or_default())
    }

    /// Commit; the job id, or `None` when PAN-OS had nothing to commit.
    pub async fn commit(&self, c: &CommitCommand) -> Result<Option<u64>, PanosError> {
        let cmd = c.xml();
        let mut form = vec![("type", "commit"), ("cmd", cmd.as_str())];
        if c.admin.is_some() {
            form.push(("action", "partial"));
        }
        let inner = self.post_write(&form).await?;
        Ok(parse(inner.as_deref(), model::enqueued_job)?.flatten())
    }

    /// Push to firewalls from Panorama (`commit-all`); the job id, or `None`.
    pub async fn push(&self, p: &PushCommand) -> Result<Option<u64>, PanosError> {
        let cmd = p.xml();
        let inner = self
            .post_write(&[("type", "commit"), ("action", "all"), ("cmd", cmd.as_str())])
            .await?;
        Ok(parse(inner.as_deref(), model::enqueued_job)?.flatten())
    }

    /// `show jobs id N`.
    pub async fn job(&self, id: u64) -> Result<Job, PanosError> {
        let mut cmd = Xml::new();
        cmd.open("show")
            .open("jobs")
            .text("id", &id.to_string())
            .close("jobs")
            .close("show");
        let inner = self.op_fresh(&cmd, None).await.map_err(classify)?;
        parse(inner.as_deref(), model::job)?
            .flatten()
            .ok_or_else(|| PanosError::NotFound(format!("job {id}")))
    }

    /// Revert the candidate to the running configuration: only `admin`'s changes when given
    /// (`revert config partial admin`). A job id when PAN-OS made the revert a job.
    pub async fn revert(&self, admin: Option<&str>) -> Result<Option<u64>, PanosError> {
        let mut cmd = Xml::new();
        cmd.open("revert").open("config");
        if let Some(a) = admin {
            cmd.open("partial").members("admin", &[a]).close("partial");
        }
        cmd.close("config").close("revert");
        let inner = self
            .post_write(&[("type", "op"), ("cmd", cmd.as_str())])
            .await?;
        Ok(parse(inner.as_deref(), model::enqueued_job)?.flatten())
    }

    /// Hit counts of every rule of `rule_type` in `scope`.
    pub async fn rule_hit_counts(
        &self,
        scope: &HitCountScope,
        rule_type: &'static str,
    ) -> Result<Vec<HitCount>, PanosError> {
        let cmd = hit_count_command(scope, rule_type);
        let inner = self.op_fresh(&cmd, None).await?;
        Ok(parse(inner.as_deref(), model::hit_counts)?.unwrap_or_default())
    }

    /// The NAT rules of the rulebase at `rulebase`, in order.
    pub async fn nat_rules(
        &self,
        source: ConfigSource,
        rulebase: &XPath,
        rulebase_label: &str,
        location: &str,
    ) -> Result<Vec<NatRule>, PanosError> {
        let xpath = rulebase.clone().child("nat").child("rules").entries();
        self.entries(source, &xpath, |i, e| {
            model::nat_rule(e, i + 1, rulebase_label, location)
        })
        .await
    }

    /// The firewall's own `test nat-policy-match`: the command and the first rule reported.
    pub async fn test_nat_policy_match(
        &self,
        query: &NatMatchQuery,
    ) -> Result<(String, Option<String>), PanosError> {
        let cmd = query.command();
        let inner = self.op_fresh(&cmd, Some(&query.vsys)).await?;
        let rule = parse(inner.as_deref(), |r| {
            model::policy_match(r).map(|(name, ..)| name)
        })?
        .flatten();
        Ok((cmd.into_string(), rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Name {
        Name::parse("x", n).expect("valid")
    }

    #[test]
    fn commit_and_push_commands() {
        let c = CommitCommand {
            description: "block <evil> & co (by alice)".into(),
            admin: Some("api-admin".into()),
        };
        assert_eq!(
            c.xml().as_str(),
            "<commit><partial><admin><member>api-admin</member></admin></partial><description>block &lt;evil&gt; &amp; co (by alice)</description></commit>"
        );
        let full = CommitCommand {
            description: String::new(),
            admin: None,
        };
        assert_eq!(full.xml().as_str(), "<commit></commit>");
        let p = PushCommand {
            target: PushTarget::DeviceGroup(name("DG-Branch")),
            description: "d".into(),
        };
        assert_eq!(
            p.xml().as_str(),
            "<commit-all><shared-policy><device-group><entry name=\"DG-Branch\"/></device-group><description>d</description></shared-policy></commit-all>"
        );
        let p = PushCommand {
            target: PushTarget::TemplateStack(name("TS-DC")),
            description: String::new(),
        };
        assert_eq!(
            p.xml().as_str(),
            "<commit-all><template-stack><name>TS-DC</name></template-stack></commit-all>"
        );
    }

    #[test]
    fn lock_and_hit_count_commands() {
        assert_eq!(
            lock_command(true, "secops-mcp: <x>").as_str(),
            "<request><config-lock><add><comment>secops-mcp: &lt;x&gt;</comment></add></config-lock></request>"
        );
        assert_eq!(
            lock_command(false, "").as_str(),
            "<request><config-lock><remove/></config-lock></request>"
        );
        assert_eq!(
            hit_count_command(&HitCountScope::Vsys(name("vsys1")), "security").as_str(),
            "<show><rule-hit-count><vsys><vsys-name><entry name=\"vsys1\"><rule-base><entry name=\"security\"><rules><all/></rules></entry></rule-base></entry></vsys-name></vsys></rule-hit-count></show>"
        );
        assert_eq!(
            hit_count_command(
                &HitCountScope::DeviceGroup {
                    name: name("DG"),
                    post: true
                },
                "nat"
            )
            .as_str(),
            "<show><rule-hit-count><device-group><entry name=\"DG\"><post-rulebase><entry name=\"nat\"><rules><all/></rules></entry></post-rulebase></entry></device-group></rule-hit-count></show>"
        );
    }

    #[test]
    fn lock_refusals_name_the_holder() {
        assert_eq!(
            lock_holder("Config for scope shared is currently locked by admin2"),
            Some("admin2".into())
        );
        assert_eq!(
            lock_holder("Config lock is already held by bob."),
            Some("bob".into())
        );
        assert_eq!(lock_holder("Commit job enqueued"), None);
        let e = classify(PanosError::ApiNoCode(
            "Config for scope vsys1 is currently locked by ops-team".into(),
        ));
        assert!(
            matches!(&e, PanosError::LockHeld { holder: Some(h), .. } if h == "ops-team"),
            "{e:?}"
        );
        let e = classify(PanosError::Api {
            code: 7,
            label: "object not present",
            message: "Object doesn't exist".into(),
        });
        assert!(matches!(e, PanosError::NotFound(_)), "{e:?}");
        let e = classify(PanosError::ApiNoCode(
            "web-srv-01 cannot be deleted because of references from: rulebase -> security -> rules -> allow-web".into(),
        ));
        assert!(matches!(e, PanosError::ReferenceBlocksDelete(_)), "{e:?}");
    }

    #[test]
    fn nat_match_command() {
        let q = NatMatchQuery {
            from: name("trust"),
            to: name("untrust"),
            source: "10.0.0.1".parse().expect("ip"),
            destination: "198.51.100.9".parse().expect("ip"),
            protocol: 6,
            destination_port: Some(443),
            to_interface: Some("ethernet1/1".into()),
            vsys: name("vsys1"),
        };
        assert_eq!(
            q.command().as_str(),
            "<test><nat-policy-match><from>trust</from><to>untrust</to><source>10.0.0.1</source><destination>198.51.100.9</destination><protocol>6</protocol><destination-port>443</destination-port><to-interface>ethernet1/1</to-interface></nat-policy-match></test>"
        );
    }
}
