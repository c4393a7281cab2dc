//! The server's own secrets from an external store: `NAME_SECRET_ARN`.
//!
//! Besides `NAME` and `NAME_FILE`, a secret of the server itself (the JWT secret, the
//! confirmation state key) may be given as `NAME_SECRET_ARN`: the ARN of an AWS Secrets
//! Manager secret whose string value is the secret. A server whose [`crate::App`] provides
//! a [`SecretSource`] (aws-whitelist, which already holds AWS credentials) reads it at
//! start, before anything else reads its configuration, and again every
//! `MCP_SECRET_REFRESH` (default 5 minutes); a changed value is put in use without a
//! restart, and the previous one stays valid until the next change. Other servers refuse
//! `NAME_SECRET_ARN` at start, naming the variable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Env};

/// The secrets of the server itself that may come from a secret store.
pub const SERVER_SECRETS: &[&str] = &["MCP_JWT_SECRET", "MCP_JWT_SECRET_KEY", "MCP_STATE_KEY"];

/// The suffix of a variable naming a secret in the store.
pub const ARN_SUFFIX: &str = "_SECRET_ARN";

/// A boxed fetch.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Reads a secret's current value from a secret store.
pub trait SecretSource: Send + Sync + std::fmt::Debug + 'static {
    /// The store, for messages (`AWS Secrets Manager`).
    fn name(&self) -> &'static str;
    /// The value of the secret `reference` names (an ARN). The error is shown to the
    /// operator: it must not contain the value.
    fn fetch<'a>(&'a self, reference: &'a str) -> FetchFuture<'a>;
}

/// A secret read from the store: its variable and where it came from.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    /// `MCP_JWT_SECRET`, ...
    pub name: &'static str,
    /// The ARN.
    pub reference: String,
    /// The value last read.
    pub value: SecretString,
}

/// Read every `NAME_SECRET_ARN` of [`SERVER_SECRETS`] and return `env` with `NAME` set to
/// each value, and the secrets read (to refresh them later).
pub async fn resolve(
    env: &Env,
    source: Option<&Arc<dyn SecretSource>>,
) -> Result<(Env, Vec<StoredSecret>), ConfigError> {
    let mut out = env.clone();
    let mut read = Vec::new();
    for &name in SERVER_SECRETS {
        let arn_var = format!("{name}{ARN_SUFFIX}");
        let Some(reference) = env.get(&arn_var)? else {
            continue;
        };
        if env.get(name)?.is_some() {
            return Err(ConfigError::invalid(
                &arn_var,
                format!("{name} (or {name}_FILE) is set too; set only one"),
            ));
        }
        let Some(source) = source else {
            return Err(ConfigError::invalid(
                &arn_var,
                "this server cannot read a secret store (aws-whitelist reads AWS Secrets Manager); give the secret as {NAME} or {NAME}_FILE"
                    .replace("{NAME}", name),
            ));
        };
        let value = source.fetch(&reference).await.map_err(|e| {
            ConfigError::invalid(
                &arn_var,
                format!("cannot read it from {}: {e}", source.name()),
            )
        })?;
        tracing::info!(
            secret = name,
            store = source.name(),
            "secret read from the store"
        );
        out = out.with_value(name, value.clone());
        read.push(StoredSecret {
            name,
            reference,
            value: SecretString::from(value),
        });
    }
    Ok((out, read))
}

/// Where a refreshed secret is put in use.
#[derive(Debug, Clone, Default)]
pub struct RefreshTargets {
    /// The token verifier (`MCP_JWT_SECRET`, `MCP_JWT_SECRET_KEY`).
    pub verifier: Option<crate::auth::Verifier>,
    /// The confirmation settings (`MCP_STATE_KEY`).
    pub changes: Option<Arc<crate::change::ChangeControl>>,
}

/// Read the secrets again every `every` until `shutdown`; put a changed value in use. A
/// failed read is logged and the value in use kept.
pub fn spawn_refresh(
    source: Arc<dyn SecretSource>,
    mut secrets: Vec<StoredSecret>,
    every: Duration,
    targets: RefreshTargets,
    shutdown: CancellationToken,
) {
    if secrets.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            for s in &mut secrets {
                match source.fetch(&s.reference).await {
                    Err(e) => {
                        tracing::warn!(secret = s.name, store = source.name(), error = %crate::redact::redact_text(&e), "secret refresh failed; the value in use is kept")
                    }
                    Ok(v) if v == s.value.expose_secret() => {}
                    Ok(v) => {
                        let value = SecretString::from(v);
                        let applied = apply(&targets, s.name, &value);
                        match applied {
                            Ok(()) => {
                                tracing::info!(
                                    secret = s.name,
                                    store = source.name(),
                                    "secret changed in the store: now in use (the previous value stays valid until the next change)"
                                );
                                s.value = value;
                            }
                            Err(e) => {
                                tracing::warn!(secret = s.name, error = %e, "secret changed in the store but cannot be used; the value in use is kept")
                            }
                        }
                    }
                }
            }
        }
    });
}

fn apply(targets: &RefreshTargets, name: &str, value: &SecretString) -> Result<(), String> {
    match name {
        "MCP_JWT_SECRET" | "MCP_JWT_SECRET_KEY" => match &targets.verifier {
            Some(v) => v.rotate_hs256(value).map_err(|e| e.to_string()),
            None => Ok(()),
        },
        "MCP_STATE_KEY" => match &targets.changes {
            Some(c) => c
                .rotate_state_key(value.expose_secret().as_bytes().to_vec())
                .map_err(|e| e.to_string()),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed;

    impl SecretSource for Fixed {
        fn name(&self) -> &'static str {
            "the test store"
        }
        fn fetch<'a>(&'a self, reference: &'a str) -> FetchFuture<'a> {
            Box::pin(async move {
                match reference {
                    "arn:ok" => Ok("s".repeat(40)),
                    _ => Err("no such secret".into()),
                }
            })
        }
    }

    #[tokio::test]
    async fn names_resolve_from_the_store_or_are_refused() {
        let env = Env::from_pairs([("MCP_JWT_SECRET_SECRET_ARN", "arn:ok")]);
        let e = resolve(&env, None).await.expect_err("no store");
        assert!(
            e.to_string()
                .starts_with("MCP_JWT_SECRET_SECRET_ARN: this server cannot read a secret store"),
            "{e}"
        );
        let source: Arc<dyn SecretSource> = Arc::new(Fixed);
        let (out, read) = resolve(&env, Some(&source)).await.expect("resolved");
        assert_eq!(out.get("MCP_JWT_SECRET").expect("ok"), Some("s".repeat(40)));
        assert_eq!((read.len(), read[0].name), (1, "MCP_JWT_SECRET"));
        let both = Env::from_pairs([
            ("MCP_STATE_KEY_SECRET_ARN", "arn:ok"),
            ("MCP_STATE_KEY", "x"),
        ]);
        let e = resolve(&both, Some(&source)).await.expect_err("ambiguous");
        assert!(e.to_string().contains("set only one"), "{e}");
        let missing = Env::from_pairs([("MCP_STATE_KEY_SECRET_ARN", "arn:gone")]);
        let e = resolve(&missing, Some(&source)).await.expect_err("missing");
        assert_eq!(
            e.to_string(),
            "MCP_STATE_KEY_SECRET_ARN: cannot read it from the test store: no such secret"
        );
        let (untouched, none) = resolve(&Env::default(), None)
            .await
            .expect("nothing to read");
        assert!(none.is_empty() && untouched.get("MCP_JWT_SECRET").expect("ok").is_none());
    }
}
