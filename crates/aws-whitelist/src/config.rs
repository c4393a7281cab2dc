//! Guardrails and defaults: `AWSWL_CONFIG` (JSON or TOML) with `AWSWL_*` overrides.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mcp_core::validate::{PortRange, parse_port_range};
use mcp_core::{ConfigError, Env};
use serde::Deserialize;

/// The file format (`AWSWL_CONFIG`). Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Ports a rule may open: numbers, ranges (`8000-8100`) or aliases (`ssh`).
    pub allowed_ports: Option<Vec<PortSpec>>,
    /// The broadest IPv4 prefix allowed (24 allows /24 to /32).
    pub max_prefix_v4: Option<u8>,
    pub max_prefix_v6: Option<u8>,
    /// Allow private, loopback and link-local ranges (default false).
    pub allow_private: Option<bool>,
    /// `{subject}`, `{reason}`, `{date}`, `{expires}` are filled in.
    pub description_template: Option<String>,
    /// Profiles a call may name (`profile` argument).
    pub profiles: Option<Vec<String>>,
    /// Extra or replacement port names, e.g. `{ "grafana" = "3000" }`.
    pub port_aliases: Option<BTreeMap<String, PortSpec>>,
    pub checkip_url: Option<String>,
    /// How often the server sweeps expired rules itself, e.g. `15m` (default `5m`; `off`
    /// turns the sweep off, and then `ttl` is refused).
    pub sweep_interval: Option<String>,
    /// Regions the sweep covers besides the default region; a `ttl` elsewhere is refused.
    pub sweep_regions: Option<Vec<String>>,
    /// Refuse a rule without `ttl` (default false).
    pub require_ttl: Option<bool>,
    /// `remove_whitelist` removes only rules whose owner is the caller (default false).
    pub remove_own_only: Option<bool>,
    /// This deployment's name, written to every rule's `secops-mcp:instance` tag (default `default`).
    pub instance: Option<String>,
    /// The longest TTL a rule may ask for (default 30d).
    pub max_ttl: Option<String>,
}

/// A port given as a number or as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    Number(u16),
    Text(String),
}

impl PortSpec {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

/// The effective guardrails.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub allowed_ports: Vec<PortRange>,
    pub max_prefix_v4: u8,
    pub max_prefix_v6: u8,
    pub allow_private: bool,
    pub description_template: String,
    pub profiles: Vec<String>,
    pub aliases: BTreeMap<String, PortRange>,
    pub checkip_url: String,
    /// `None`: the sweep is off (`AWSWL_SWEEP_INTERVAL=off`).
    pub sweep_interval: Option<Duration>,
    /// Extra regions the sweep covers (`AWSWL_SWEEP_REGIONS`); see [`Settings::swept_regions`].
    pub sweep_regions: Vec<String>,
    pub max_ttl: Duration,
    pub require_ttl: bool,
    pub remove_own_only: bool,
    /// The `secops-mcp:instance` tag value of this deployment.
    pub instance: String,
    /// Writes only through an assumed role carrying the caller (`AWSWL_REQUIRE_SOURCE_IDENTITY`).
    pub require_source_identity: bool,
    /// Retries of reads and the circuit breaker (`AWSWL_MAX_ATTEMPTS`,
    /// `AWSWL_BREAKER_FAILURES`, `AWSWL_BREAKER_COOLDOWN`).
    pub resilience: crate::client::Resilience,
}

pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_INSTANCE: &str = "default";

/// Why one setting's value is refused; [`Settings::with_file`] says which setting.
#[derive(Debug, thiserror::Error)]
enum ValueError {
    /// Not a duration (mcp-core's words).
    #[error("{0}")]
    Duration(String),
    #[error("must be at least 1s (or `off` to turn the sweep off)")]
    SweepTooShort,
    #[error("must be 1-64 letters, digits or . _ : / = + @ -")]
    Instance,
}

/// `off`, `never`, `none`, `false` or `0` turn the sweep off.
fn parse_sweep_interval(v: &str) -> Result<Option<Duration>, ValueError> {
    if ["off", "never", "none", "false", "0"].contains(&v.trim().to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    let d = mcp_core::config::parse_duration(v).map_err(ValueError::Duration)?;
    if d < Duration::from_secs(1) {
        return Err(ValueError::SweepTooShort);
    }
    Ok(Some(d))
}

/// 1-64 characters AWS accepts in tag values, without spaces.
fn check_instance(v: &str) -> Result<String, ValueError> {
    if v.is_empty()
        || v.len() > 64
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/=+@-".contains(c))
    {
        return Err(ValueError::Instance);
    }
    Ok(v.to_string())
}

impl Settings {
    /// The regions the sweep covers: the default region and `AWSWL_SWEEP_REGIONS`, sorted.
    /// A `ttl` is accepted only for these.
    pub fn swept_regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self
            .region
            .iter()
            .chain(self.sweep_regions.iter())
            .cloned()
            .collect();
        r.sort();
        r.dedup();
        r
    }

    /// The profiles the sweep uses: the default (`None`), then every profile a call may name.
    /// While `AWS_ACCESS_KEY_ID` is in the environment per-call profiles are refused, so
    /// only the default is swept (and only the default can be written with).
    pub fn swept_profiles(&self, env_keys: bool) -> Vec<Option<String>> {
        let mut out = vec![None];
        if !env_keys {
            out.extend(
                self.profiles
                    .iter()
                    .filter(|p| self.profile.as_ref() != Some(*p))
                    .cloned()
                    .map(Some),
            );
        }
        out
    }
}

pub const DEFAULT_TEMPLATE: &str = "secops-mcp {subject} {date} {reason}";

fn default_aliases() -> BTreeMap<String, PortRange> {
    [
        ("ssh", 22),
        ("http", 80),
        ("https", 443),
        ("rdp", 3389),
        ("postgres", 5432),
        ("mysql", 3306),
        ("redis", 6379),
        ("mssql", 1433),
        ("mongodb", 27017),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), PortRange { from: p, to: p }))
    .collect()
}

impl Settings {
    /// The settings from the environment and the file `AWSWL_CONFIG` names (read with async
    /// I/O: this runs on the server's runtime).
    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let file = match env.get("AWSWL_CONFIG")? {
            None => FileConfig::default(),
            Some(p) => load_file(Path::new(&p)).await?,
        };
        Self::with_file(env, file)
    }

    /// The settings from the environment over an already loaded file.
    pub fn with_file(env: &Env, file: FileConfig) -> Result<Self, ConfigError> {
        let mut aliases = default_aliases();
        for (name, spec) in file.port_aliases.unwrap_or_default() {
            let r = parse_port_range("port_aliases", &spec.text()).map_err(|e| {
                ConfigError::invalid("AWSWL_CONFIG", format!("port_aliases.{name}: {e}"))
            })?;
            aliases.insert(name.to_ascii_lowercase(), r);
        }
        let port_list: Vec<String> = match env.list("AWSWL_ALLOWED_PORTS")? {
            Some(l) => l,
            None => file
                .allowed_ports
                .unwrap_or_default()
                .iter()
                .map(PortSpec::text)
                .collect(),
        };
        let port_list = if port_list.is_empty() {
            vec![
                "22".into(),
                "443".into(),
                "3389".into(),
                "5432".into(),
                "3306".into(),
                "6379".into(),
            ]
        } else {
            port_list
        };
        let mut allowed_ports = Vec::new();
        for p in &port_list {
            let r = match aliases.get(&p.to_ascii_lowercase()) {
                Some(r) => *r,
                None => parse_port_range("AWSWL_ALLOWED_PORTS", p)
                    .map_err(|e| ConfigError::invalid("AWSWL_ALLOWED_PORTS", e.to_string()))?,
            };
            allowed_ports.push(r);
        }
        let prefix =
            |var: &str, file: Option<u8>, default: u8, max: u8| -> Result<u8, ConfigError> {
                let v = env.parse::<u8>(var)?.or(file).unwrap_or(default);
                if v > max {
                    return Err(ConfigError::invalid(var, format!("must be at most {max}")));
                }
                Ok(v)
            };
        let duration = |var: &str, file: Option<String>| -> Result<Option<Duration>, ConfigError> {
            match env.duration(var)? {
                Some(d) => Ok(Some(d)),
                None => file
                    .map(|f| {
                        mcp_core::config::parse_duration(&f)
                            .map_err(|e| ConfigError::invalid("AWSWL_CONFIG", e))
                    })
                    .transpose(),
            }
        };
        let template = env
            .get("AWSWL_DESCRIPTION_TEMPLATE")?
            .or(file.description_template)
            .unwrap_or_else(|| DEFAULT_TEMPLATE.into());
        if template.len() > 200 {
            return Err(ConfigError::invalid(
                "AWSWL_DESCRIPTION_TEMPLATE",
                "is longer than 200 characters",
            ));
        }
        let sweep_interval = match env.get("AWSWL_SWEEP_INTERVAL")? {
            Some(v) => parse_sweep_interval(&v)
                .map_err(|e| ConfigError::invalid("AWSWL_SWEEP_INTERVAL", e.to_string()))?,
            None => match file.sweep_interval {
                Some(v) => parse_sweep_interval(&v).map_err(|e| {
                    ConfigError::invalid("AWSWL_CONFIG", format!("sweep_interval: {e}"))
                })?,
                None => Some(DEFAULT_SWEEP_INTERVAL),
            },
        };
        let mut sweep_regions = Vec::new();
        for r in env
            .list("AWSWL_SWEEP_REGIONS")?
            .or(file.sweep_regions)
            .unwrap_or_default()
        {
            let r = crate::policy::region("sweep_regions", r.trim())
                .map_err(|e| ConfigError::invalid("AWSWL_SWEEP_REGIONS", e.to_string()))?;
            sweep_regions.push(r);
        }
        let require_ttl = env
            .flag("AWSWL_REQUIRE_TTL")?
            .or(file.require_ttl)
            .unwrap_or(false);
        if require_ttl && sweep_interval.is_none() {
            return Err(ConfigError::invalid(
                "AWSWL_REQUIRE_TTL",
                "requires the sweep (AWSWL_SWEEP_INTERVAL is off, so every ttl would be refused)",
            ));
        }
        let instance = match env.get("AWSWL_INSTANCE")? {
            Some(v) => check_instance(&v)
                .map_err(|e| ConfigError::invalid("AWSWL_INSTANCE", e.to_string()))?,
            None => match file.instance {
                Some(v) => check_instance(&v)
                    .map_err(|e| ConfigError::invalid("AWSWL_CONFIG", format!("instance: {e}")))?,
                None => DEFAULT_INSTANCE.to_string(),
            },
        };
        Ok(Self {
            region: env
                .get("AWS_REGION")?
                .or(env.get("AWS_DEFAULT_REGION")?)
                .or(file.region),
            profile: env.get("AWS_PROFILE")?.or(file.profile),
            allowed_ports,
            max_prefix_v4: prefix("AWSWL_MAX_PREFIX_V4", file.max_prefix_v4, 24, 32)?,
            max_prefix_v6: prefix("AWSWL_MAX_PREFIX_V6", file.max_prefix_v6, 64, 128)?,
            allow_private: env
                .flag("AWSWL_ALLOW_PRIVATE")?
                .or(file.allow_private)
                .unwrap_or(false),
            description_template: template,
            profiles: env
                .list("AWSWL_PROFILES")?
                .or(file.profiles)
                .unwrap_or_default(),
            aliases,
            checkip_url: env
                .get("AWSWL_CHECKIP_URL")?
                .or(file.checkip_url)
                .unwrap_or_else(|| "https://checkip.amazonaws.com".into()),
            sweep_interval,
            sweep_regions,
            max_ttl: duration("AWSWL_MAX_TTL", file.max_ttl)?
                .unwrap_or(Duration::from_secs(30 * 86400)),
            require_ttl,
            remove_own_only: env
                .flag("AWSWL_REMOVE_OWN_ONLY")?
                .or(file.remove_own_only)
                .unwrap_or(false),
            instance,
            resilience: resilience(env)?,
            require_source_identity: env.flag("AWSWL_REQUIRE_SOURCE_IDENTITY")?.unwrap_or(false),
        })
    }
}

/// `AWSWL_MAX_ATTEMPTS` (1-10), `AWSWL_BREAKER_FAILURES` (at least 1) and
/// `AWSWL_BREAKER_COOLDOWN` (more than 0).
fn resilience(env: &Env) -> Result<crate::client::Resilience, ConfigError> {
    let d = crate::client::Resilience::default();
    let read_attempts = env
        .parse::<u32>("AWSWL_MAX_ATTEMPTS")?
        .unwrap_or(d.read_attempts);
    if !(1..=10).contains(&read_attempts) {
        return Err(ConfigError::invalid(
            "AWSWL_MAX_ATTEMPTS",
            "must be 1 to 10",
        ));
    }
    let breaker_failures = env
        .parse::<u32>("AWSWL_BREAKER_FAILURES")?
        .unwrap_or(d.breaker_failures);
    if breaker_failures == 0 {
        return Err(ConfigError::invalid(
            "AWSWL_BREAKER_FAILURES",
            "must be at least 1",
        ));
    }
    let breaker_cooldown = env
        .duration("AWSWL_BREAKER_COOLDOWN")?
        .unwrap_or(d.breaker_cooldown);
    if breaker_cooldown.is_zero() {
        return Err(ConfigError::invalid(
            "AWSWL_BREAKER_COOLDOWN",
            "must be more than 0",
        ));
    }
    Ok(crate::client::Resilience {
        read_attempts,
        breaker_failures,
        breaker_cooldown,
    })
}

async fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = tokio::fs::read_to_string(path).await.map_err(|e| {
        ConfigError::invalid(
            "AWSWL_CONFIG",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    if is_json {
        serde_json::from_str(&text)
            .map_err(|e| ConfigError::invalid("AWSWL_CONFIG", format!("{}: {e}", path.display())))
    } else {
        toml::from_str(&text)
            .map_err(|e| ConfigError::invalid("AWSWL_CONFIG", format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_and_overrides() {
        let dir = tempfile_dir();
        let toml_path = dir.join("a.toml");
        std::fs::write(&toml_path, "allowed_ports = [22, \"https\", \"8000-8100\"]\nmax_prefix_v4 = 28\nprofiles = [\"staging\"]\n[port_aliases]\ngrafana = 3000\n").expect("write");
        let env = Env::from_pairs([
            ("AWSWL_CONFIG", toml_path.display().to_string()),
            ("AWSWL_MAX_PREFIX_V6", "56".into()),
        ]);
        let s = Settings::from_env(&env).await.expect("settings");
        assert_eq!(s.allowed_ports.len(), 3);
        assert_eq!((s.max_prefix_v4, s.max_prefix_v6), (28, 56));
        assert_eq!(s.profiles, vec!["staging"]);
        assert_eq!(
            s.aliases.get("grafana"),
            Some(&PortRange {
                from: 3000,
                to: 3000
            })
        );
        let json_path = dir.join("b.json");
        std::fs::write(&json_path, r#"{"allowed_ports": ["ssh"], "bogus": 1}"#).expect("write");
        let env = Env::from_pairs([("AWSWL_CONFIG", json_path.display().to_string())]);
        assert!(
            Settings::from_env(&env)
                .await
                .expect_err("unknown key")
                .to_string()
                .contains("bogus")
        );
    }

    /// Settings from the environment only.
    fn from_pairs<const N: usize>(pairs: [(&str, &str); N]) -> Result<Settings, ConfigError> {
        Settings::with_file(&Env::from_pairs(pairs), FileConfig::default())
    }

    #[test]
    fn sweep_ttl_and_instance_settings() {
        let s = from_pairs([("AWS_REGION", "us-east-1")]).expect("defaults");
        assert_eq!(s.sweep_interval, Some(DEFAULT_SWEEP_INTERVAL));
        assert_eq!(s.instance, "default");
        assert!(!s.require_ttl && !s.remove_own_only);
        assert_eq!(s.swept_regions(), vec!["us-east-1"]);
        let s = from_pairs([
            ("AWS_REGION", "us-east-1"),
            ("AWS_PROFILE", "base"),
            ("AWSWL_PROFILES", "base,ops"),
            ("AWSWL_SWEEP_INTERVAL", "off"),
            ("AWSWL_SWEEP_REGIONS", "us-west-2, us-east-1"),
            ("AWSWL_INSTANCE", "blue-1"),
        ])
        .expect("settings");
        assert_eq!(s.sweep_interval, None);
        assert_eq!(s.swept_regions(), vec!["us-east-1", "us-west-2"]);
        assert_eq!(s.swept_profiles(false), vec![None, Some("ops".to_string())]);
        assert_eq!(s.swept_profiles(true), vec![None]);
        let long = "x".repeat(65);
        for (k, v, why) in [
            ("AWSWL_SWEEP_INTERVAL", "500ms", "at least 1s"),
            ("AWSWL_SWEEP_REGIONS", "mars-1", "mars-1"),
            ("AWSWL_INSTANCE", "a b", "AWSWL_INSTANCE"),
            ("AWSWL_INSTANCE", long.as_str(), "AWSWL_INSTANCE"),
        ] {
            let e = from_pairs([(k, v)]).expect_err(k).to_string();
            assert!(e.contains(why), "{k}={v}: {e}");
        }
        let e = from_pairs([
            ("AWSWL_SWEEP_INTERVAL", "off"),
            ("AWSWL_REQUIRE_TTL", "true"),
        ])
        .expect_err("contradiction")
        .to_string();
        assert!(e.contains("AWSWL_REQUIRE_TTL"), "{e}");
    }

    #[tokio::test]
    async fn the_shipped_example_config_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/awswl.toml");
        let env = Env::from_pairs([("AWSWL_CONFIG", path.display().to_string())]);
        let s = Settings::from_env(&env)
            .await
            .expect("deploy/config/awswl.toml parses");
        assert_eq!(s.max_prefix_v4, 24);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("awswl-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        d
    }
}
