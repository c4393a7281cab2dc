//! Settings from the environment, a `--config` env-file, and `*_FILE` secret files.
//!
//! Precedence, highest first: command-line flag, process environment, the `--config` file,
//! the built-in default. Any variable `NAME` may instead be given as `NAME_FILE`, a path whose
//! contents (without the trailing newline) are the value: that is how Kubernetes and Docker
//! secrets are mounted. Giving both `NAME` and `NAME_FILE` is an error, not a silent choice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// A configuration problem, reported in one line that names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: String, reason: String },
    #[error("{var} is required{hint}")]
    Missing { var: String, hint: String },
    #[error("{var} and {var}_FILE are both set; set only one")]
    Ambiguous { var: String },
    #[error("{var}_FILE: cannot read {path}: {source}")]
    File {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },
}

impl ConfigError {
    /// An invalid value for `var`.
    pub fn invalid(var: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            var: var.to_string(),
            reason: reason.into(),
        }
    }

    /// `var` is required; `hint` says what to set instead, if anything.
    pub fn missing(var: &str, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        let hint = if hint.is_empty() {
            hint
        } else {
            format!(" ({hint})")
        };
        Self::Missing {
            var: var.to_string(),
            hint,
        }
    }
}

/// A snapshot of configuration variables: the process environment layered over an optional
/// env-file. Servers read their own settings through this, never through `std::env`, so tests
/// can build one from a map.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    file_vars: HashMap<String, String>,
}

impl Env {
    /// The process environment, plus `config_file` underneath it when given.
    pub fn from_process(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let file_vars = match config_file {
            Some(p) => parse_env_file(p)?,
            None => HashMap::new(),
        };
        Ok(Self {
            vars: std::env::vars().collect(),
            file_vars,
        })
    }

    /// An environment built from explicit pairs (tests, embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            file_vars: HashMap::new(),
        }
    }

    /// This environment with `key` set to `value` (over the process and the file), for a
    /// value read from elsewhere (a secret store).
    #[must_use]
    pub fn with_value(&self, key: &str, value: impl Into<String>) -> Self {
        let mut out = self.clone();
        out.vars.insert(key.to_string(), value.into());
        out
    }

    /// Values that came from the `--config` file (for clap defaults).
    pub fn file_vars(&self) -> &HashMap<String, String> {
        &self.file_vars
    }

    fn raw(&self, key: &str) -> Option<&String> {
        self.vars.get(key).or_else(|| self.file_vars.get(key))
    }

    /// The value of `key`, or of the file named by `key_FILE`. Empty values count as unset.
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let direct = self.raw(key).filter(|v| !v.is_empty());
        let file_key = format!("{key}_FILE");
        let file = self.raw(&file_key).filter(|v| !v.is_empty());
        match (direct, file) {
            (Some(_), Some(_)) => Err(ConfigError::Ambiguous {
                var: key.to_string(),
            }),
            (Some(v), None) => Ok(Some(v.clone())),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::File {
                    var: key.to_string(),
                    path: path.clone(),
                    source,
                })?;
                Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
            }
            (None, None) => Ok(None),
        }
    }

    /// The first of `keys` that is set (for renamed variables).
    pub fn get_any(&self, keys: &[&str]) -> Result<Option<String>, ConfigError> {
        for k in keys {
            if let Some(v) = self.get(k)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// A secret value: never printed by `Debug`.
    pub fn secret(&self, key: &str) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.get(key)?.map(SecretString::from))
    }

    /// A required value.
    pub fn require(&self, key: &str, hint: &str) -> Result<String, ConfigError> {
        self.get(key)?
            .ok_or_else(|| ConfigError::missing(key, hint))
    }

    /// A value parsed with `FromStr`.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::invalid(key, format!("`{v}`: {e}"))),
        }
    }

    /// A boolean: true/false, 1/0, yes/no, on/off.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                ConfigError::invalid(key, format!("`{v}` is not a boolean (use true or false)"))
            }),
        }
    }

    /// A duration such as `30s`, `5m` or `1h30m`; a bare number means seconds.
    pub fn duration(&self, key: &str) -> Result<Option<std::time::Duration>, ConfigError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => parse_duration(&v)
                .map(Some)
                .map_err(|r| ConfigError::invalid(key, r)),
        }
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        Ok(self.get(key)?.map(|v| split_list(&v)))
    }
}

/// Split `a, b,,c` into `["a", "b", "c"]`.
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse true/false, 1/0, yes/no, on/off (case-insensitive).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parse `30s`, `5m`, `1h30m`, `250ms`; a bare number is seconds.
pub fn parse_duration(v: &str) -> Result<std::time::Duration, String> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    humantime::parse_duration(v)
        .map_err(|e| format!("`{v}` is not a duration (e.g. 30s, 5m, 1h): {e}"))
}

/// Parse a `KEY=VALUE` env-file: `#` comments, blank lines, optional `export ` prefix and
/// optional matching single or double quotes around the value.
fn parse_env_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::ConfigFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(ConfigError::ConfigFile {
                path: path.to_path_buf(),
                reason: format!("line {}: expected KEY=VALUE", i + 1),
            });
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::ConfigFile {
                path: path.to_path_buf(),
                reason: format!("line {}: `{k}` is not a variable name", i + 1),
            });
        }
        let v = v.trim();
        let v = unquote(v);
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn file_suffix_reads_secret_and_conflict_is_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key");
        std::fs::write(&p, "s3cr3t\n").expect("write");
        let env = Env::from_pairs([("PANOS_API_KEY_FILE", p.display().to_string())]);
        let got = env.secret("PANOS_API_KEY").expect("ok").expect("set");
        assert_eq!(got.expose_secret(), "s3cr3t");
        assert!(!format!("{got:?}").contains("s3cr3t"));

        let env = Env::from_pairs([
            ("PANOS_API_KEY", "a".to_string()),
            ("PANOS_API_KEY_FILE", p.display().to_string()),
        ]);
        assert!(matches!(
            env.get("PANOS_API_KEY"),
            Err(ConfigError::Ambiguous { .. })
        ));

        let env = Env::from_pairs([("X_FILE", "/nonexistent/secops")]);
        let err = env.get("X").expect_err("missing file");
        assert!(
            err.to_string()
                .starts_with("X_FILE: cannot read /nonexistent/secops")
        );
    }

    #[test]
    fn env_file_is_lower_precedence_than_process_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("server.env");
        std::fs::write(&p, "# comment\nexport A=\"from file\"\nB='b'\n\nC=c\n").expect("write");
        let mut env = Env::from_pairs([("A", "from env")]);
        env.file_vars = parse_env_file(&p).expect("parse");
        assert_eq!(env.get("A").expect("ok").as_deref(), Some("from env"));
        assert_eq!(env.get("B").expect("ok").as_deref(), Some("b"));
        assert_eq!(env.get("C").expect("ok").as_deref(), Some("c"));
        std::fs::write(&p, "not a pair\n").expect("write");
        assert!(
            parse_env_file(&p)
                .expect_err("bad")
                .to_string()
                .contains("line 1")
        );
    }

    #[test]
    fn typed_getters_name_the_variable() {
        let env = Env::from_pairs([("T", "5m"), ("B", "maybe"), ("N", "x"), ("L", "a, b,,c")]);
        assert_eq!(
            env.duration("T").expect("ok"),
            Some(std::time::Duration::from_secs(300))
        );
        assert!(
            env.flag("B")
                .expect_err("bad")
                .to_string()
                .starts_with("B: ")
        );
        assert!(
            env.parse::<u32>("N")
                .expect_err("bad")
                .to_string()
                .starts_with("N: ")
        );
        assert_eq!(
            env.list("L").expect("ok").expect("set"),
            vec!["a", "b", "c"]
        );
        assert_eq!(
            env.require("MISSING", "set MISSING_FILE")
                .expect_err("missing")
                .to_string(),
            "MISSING is required (set MISSING_FILE)"
        );
    }
}
