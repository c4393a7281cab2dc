//! Settings: `PANW_AI_*` variables.

use crate::upstream::{TlsOptions, UpstreamConfig, parse_base_url};
use crate::{ConfigError, Env};
use secrecy::SecretString;

/// The API Intercept regions and their base URLs.
pub const REGIONS: &[(&str, &str)] = &[
    ("us", "https://service.api.aisecurity.paloaltonetworks.com"),
    (
        "eu",
        "https://service-de.api.aisecurity.paloaltonetworks.com",
    ),
    (
        "de",
        "https://service-de.api.aisecurity.paloaltonetworks.com",
    ),
    (
        "in",
        "https://service-in.api.aisecurity.paloaltonetworks.com",
    ),
    (
        "sg",
        "https://service-sg.api.aisecurity.paloaltonetworks.com",
    ),
];

/// The profile scans use unless a call names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultProfile {
    Name(String),
    Id(String),
    None,
}

/// Which security profiles a call may name (`PANW_AI_ALLOWED_PROFILES`). The profile decides
/// what AIRS blocks: a caller free to pick a permissive one could turn a block into an allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileAllowlist {
    /// `*`: any profile (logged loudly at startup).
    Any,
    /// Exactly these names or ids (the default: the server's own profile, or none).
    Only(Vec<String>),
}

impl ProfileAllowlist {
    /// Whether a call may name the profile `v` (a name or an id).
    pub fn allows(&self, v: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(list) => list.iter().any(|p| p == v),
        }
    }

    /// The list, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Any => "any".into(),
            Self::Only(l) if l.is_empty() => "none".into(),
            Self::Only(l) => l.join(", "),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AirsSettings {
    pub upstream: UpstreamConfig,
    pub api_key: SecretString,
    pub profile: DefaultProfile,
    pub allowed_profiles: ProfileAllowlist,
}

impl AirsSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let api_key = env.secret("PANW_AI_SEC_API_KEY")?.ok_or_else(|| {
            ConfigError::missing(
                "PANW_AI_SEC_API_KEY",
                "the API Intercept key from Strata Cloud Manager",
            )
        })?;
        let endpoint = env.get("PANW_AI_SEC_API_ENDPOINT")?;
        let base = match endpoint.as_deref().map(str::trim) {
            None | Some("") => parse_base_url("PANW_AI_SEC_API_ENDPOINT", REGIONS[0].1)?,
            Some(e) => match REGIONS.iter().find(|(r, _)| r.eq_ignore_ascii_case(e)) {
                Some((_, url)) => parse_base_url("PANW_AI_SEC_API_ENDPOINT", url)?,
                None if !e.contains("://") && !e.contains('.') && !e.contains(':') => {
                    return Err(ConfigError::invalid(
                        "PANW_AI_SEC_API_ENDPOINT",
                        format!("`{e}` is not a region (us, eu, de, in, sg) or a URL"),
                    ));
                }
                None => parse_base_url("PANW_AI_SEC_API_ENDPOINT", e)?,
            },
        };
        let profile = match (
            env.get("PANW_AI_PROFILE_NAME")?,
            env.get("PANW_AI_PROFILE_ID")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "PANW_AI_PROFILE_NAME",
                    "set PANW_AI_PROFILE_NAME or PANW_AI_PROFILE_ID, not both",
                ));
            }
            (Some(n), None) => DefaultProfile::Name(n),
            (None, Some(i)) => DefaultProfile::Id(i),
            (None, None) => DefaultProfile::None,
        };
        let allowed_profiles = match env.list("PANW_AI_ALLOWED_PROFILES")? {
            Some(l) if l.iter().any(|p| p == "*") => {
                if l.len() > 1 {
                    return Err(ConfigError::invalid(
                        "PANW_AI_ALLOWED_PROFILES",
                        "`*` allows every profile; do not list others beside it",
                    ));
                }
                ProfileAllowlist::Any
            }
            Some(l) if !l.is_empty() => ProfileAllowlist::Only(l),
            _ => ProfileAllowlist::Only(match &profile {
                DefaultProfile::Name(n) => vec![n.clone()],
                DefaultProfile::Id(i) => vec![i.clone()],
                DefaultProfile::None => Vec::new(),
            }),
        };
        let mut upstream = UpstreamConfig::new("AIRS", base);
        upstream.tune_from_env(env, "PANW_AI")?;
        upstream.tls = TlsOptions::from_env(env, "PANW_AI")?;
        Ok(Self {
            upstream,
            api_key,
            profile,
            allowed_profiles,
        })
    }
}
