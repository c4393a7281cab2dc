//! The profiles of the shared AWS config files (`AWS_CONFIG_FILE`, default `~/.aws/config`,
//! and `AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`), without their secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::model::Profile;

/// Every profile named in the config and credentials files, sorted by name. A file that
/// cannot be read counts as empty. Only the keys of [`Profile`] are read; secrets never are.
pub async fn read_profiles() -> Vec<Profile> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/config"));
    let creds = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    let mut profiles = BTreeMap::new();
    for (path, is_config) in [(config, true), (creds, false)] {
        if let Ok(text) = tokio::fs::read_to_string(&path).await {
            parse_into(&mut profiles, &text, is_config);
        }
    }
    profiles.into_values().collect()
}

/// Add the profiles of one file. In the config file a section is `[profile NAME]` (or
/// `[default]`); in the credentials file it is `[NAME]`. `sso-session` and `services`
/// sections are not profiles.
fn parse_into(profiles: &mut BTreeMap<String, Profile>, text: &str, is_config: bool) {
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let h = h.trim();
            let name = if is_config {
                h.strip_prefix("profile ").unwrap_or(h).trim()
            } else {
                h
            };
            current = (!h.starts_with("sso-session") && !h.starts_with("services"))
                .then(|| name.to_string());
            if let Some(n) = &current {
                profiles.entry(n.clone()).or_insert_with(|| Profile {
                    name: n.clone(),
                    ..Profile::default()
                });
            }
        } else if let (Some(n), Some((k, v))) = (&current, line.split_once('='))
            && let Some(slot) = profiles.get_mut(n).and_then(|p| p.key_mut(k.trim()))
        {
            *slot = Some(v.trim().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptive_keys_only() {
        let mut p = BTreeMap::new();
        parse_into(
            &mut p,
            "[profile ops]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n[sso-session s]\nsso_region = us-east-1\n[default]\nregion = eu-west-1\n",
            true,
        );
        parse_into(
            &mut p,
            "[base]\naws_access_key_id = AKIA\naws_secret_access_key = secret\nregion = us-east-1\n",
            false,
        );
        let all: Vec<Profile> = p.into_values().collect();
        let text = serde_json::to_string(&all).expect("json");
        assert_eq!(
            text,
            r#"[{"name":"base","region":"us-east-1"},{"name":"default","region":"eu-west-1"},{"name":"ops","role_arn":"arn:aws:iam::1:role/x","source_profile":"base"}]"#
        );
    }
}
