//! Secret redaction for logs and audit events.
//!
//! A value is replaced by `[REDACTED]` when its key looks like a credential (password, token,
//! api key, secret, authorization, private key, ...) or when the tool's input schema marks the
//! property secret with `"writeOnly": true` or `"x-secret": true`.

use serde_json::{Map, Value};

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Words that make a key a credential wherever they appear in its name, as a substring of
/// the name with separators and case removed: `cipassword`, `encryption-key`, `keyring`,
/// `X-PAN-KEY`, `access_token` and `AWS_SECRET_ACCESS_KEY` all match. A false positive only
/// hides a value from the audit log; a false negative leaks a credential, so the list errs
/// towards matching (`max_tokens` is redacted too).
const SECRET_SUBSTRINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "apikey",
    "authorization",
    "authkey",
    "bearer",
    "credential",
    "cookie",
    "privatekey",
    "privkey",
    "sessionkey",
    "accesskey",
    "pankey",
    "encryptionkey",
    "signingkey",
    "sharedkey",
    "masterkey",
    "keyring",
    "keystore",
    "keytab",
    "psk",
];

/// A key with separators and case removed: `Encryption-Key` becomes `encryptionkey`.
fn normalised(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a key name looks like it holds a credential: it contains one of the credential
/// words anywhere, once separators and case are removed. A plain `key`, `key_id`, `tag_key`
/// or `ssh_key_path` is not a credential.
pub fn is_secret_key(key: &str) -> bool {
    let n = normalised(key);
    SECRET_SUBSTRINGS.iter().any(|w| n.contains(w))
}

/// Property names the input schema marks secret (`writeOnly` or `x-secret`), at the top level.
pub fn secret_properties(schema: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            let marked = |k: &str| prop.get(k).and_then(Value::as_bool).unwrap_or(false);
            if marked("writeOnly") || marked("x-secret") {
                out.push(name.clone());
            }
        }
    }
    out
}

/// A copy of `value` with secrets replaced. `extra` names more keys to redact at any depth.
pub fn redact_value(value: &Value, extra: &[String]) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                if is_secret_key(k) || extra.iter().any(|e| e == k) {
                    out.insert(k.clone(), Value::String(REDACTED.into()));
                } else {
                    out.insert(k.clone(), redact_value(v, extra));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| redact_value(v, extra)).collect()),
        Value::String(s) => Value::String(redact_text(s)),
        other => other.clone(),
    }
}

/// Redact credentials embedded in free text: bearer tokens, JWTs, `key=...` pairs.
pub fn redact_text(s: &str) -> String {
    if !s.contains("Bearer ")
        && !s.contains("PVEAPIToken")
        && !s.contains("eyJ")
        && !s.contains("key=")
        && !s.contains("password=")
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let next = ["Bearer ", "PVEAPIToken=", "eyJ", "key=", "password="]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min_by_key(|(i, _)| *i);
        let Some((i, marker)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        let keep = if marker == "eyJ" { "" } else { marker };
        out.push_str(keep);
        out.push_str(REDACTED);
        let after = &rest[i + marker.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | ',' | ';'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_by_key_schema_and_text() {
        let v = json!({
            "cidr": "203.0.113.7/32",
            "api_key": "k1",
            "nested": {"Password": "p", "items": [{"token": "t"}]},
            "note": "use Bearer abc.def.ghi please",
            "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
            "passphrase": "custom",
        });
        let r = redact_value(&v, &["passphrase".to_string()]);
        let s = r.to_string();
        for secret in ["k1", "\"p\"", "\"t\"", "abc.def.ghi", "eyJhbGci", "custom"] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert_eq!(r["cidr"], "203.0.113.7/32");
        assert_eq!(r["note"], "use Bearer [REDACTED] please");
    }

    #[test]
    fn schema_marks_secret_properties() {
        let schema = json!({"type":"object","properties":{
            "a":{"type":"string","writeOnly":true},
            "b":{"type":"string","x-secret":true},
            "c":{"type":"string"}}});
        let names = secret_properties(schema.as_object().expect("object"));
        assert_eq!(names, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn ordinary_keys_are_kept() {
        for k in [
            "name",
            "vmid",
            "description",
            "ssh_key_path",
            "key_id",
            "key",
            "tag_key",
            "sshkeys",
            "monkey",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
        for k in [
            "x-pan-key",
            "client_secret",
            "AWS_SECRET_ACCESS_KEY",
            "access_token",
            "apiKey",
            "api_key",
            "PROXMOX_TOKEN_SECRET",
            "Authorization",
            "store_credential",
            "privateKey",
            // Substrings, not only whole segments (PVE parameter names among them).
            "cipassword",
            "encryption-key",
            "keyring",
            "sshpassword",
            "master-pubkey-password",
            "X-Auth-Token",
            "clientSecretValue",
            "wpapsk",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
    }
}
