//! SSH execution with verified host keys and a pooled connection per node.
//!
//! The host key must match `PROXMOX_SSH_KNOWN_HOSTS` or a pinned SHA-256 fingerprint. An
//! unknown host is refused; trust-on-first-use happens only when explicitly enabled. One
//! authenticated connection per target is kept and reused; a broken one is replaced once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::SshError;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use tokio::sync::Mutex;

/// How host keys are verified.
#[derive(Debug, Clone)]
pub enum HostKeyPolicy {
    KnownHosts(PathBuf),
    /// `SHA256:base64` as printed by `ssh-keygen -lf`.
    Fingerprint(String),
    /// Accept any key the first time and pin it for the life of the process. Explicit opt-in.
    TrustOnFirstUse,
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
}

/// Output of one command.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
    pub truncated: bool,
    pub duration: Duration,
}

struct Verifier {
    policy: HostKeyPolicy,
    host: String,
    port: u16,
    tofu: Arc<std::sync::Mutex<HashMap<String, String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            tracing::warn!(host = %self.host, "SSH host certificates are not supported; add the host key to known_hosts");
            return Ok(false);
        };
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        let ok = match &self.policy {
            HostKeyPolicy::KnownHosts(path) => {
                match russh::keys::check_known_hosts_path(&self.host, self.port, key, path) {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::warn!(host = %self.host, port = self.port, fingerprint = %fp, "SSH host key is not in PROXMOX_SSH_KNOWN_HOSTS: refused");
                        false
                    }
                    Err(e) => {
                        tracing::error!(host = %self.host, port = self.port, fingerprint = %fp, error = %e, "SSH HOST KEY MISMATCH: refused (possible man-in-the-middle)");
                        false
                    }
                }
            }
            HostKeyPolicy::Fingerprint(pin) => {
                let ok = pin.trim() == fp;
                if !ok {
                    tracing::error!(host = %self.host, got = %fp, expected = %pin, "SSH host key fingerprint does not match the pin: refused");
                }
                ok
            }
            HostKeyPolicy::TrustOnFirstUse => {
                let id = format!("{}:{}", self.host, self.port);
                let mut seen = self.tofu.lock().map_err(|_| russh::Error::Disconnect)?;
                match seen.get(&id) {
                    Some(known) => known == &fp,
                    None => {
                        tracing::warn!(host = %self.host, fingerprint = %fp, "trusting this SSH host key on first use (PROXMOX_SSH_TOFU=true)");
                        seen.insert(id, fp);
                        true
                    }
                }
            }
        };
        Ok(ok)
    }
}

/// A pool of one connection per target.
pub struct SshPool {
    key: Arc<PrivateKey>,
    policy: HostKeyPolicy,
    connect_timeout: Duration,
    output_cap: usize,
    conns: Mutex<HashMap<String, Arc<Handle<Verifier>>>>,
    tofu: Arc<std::sync::Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for SshPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshPool")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn ssh_err(target: &SshTarget, step: &'static str, e: impl std::fmt::Display) -> SshError {
    SshError::Session {
        host: target.host.clone(),
        port: target.port,
        step,
        message: e.to_string(),
    }
}

impl SshPool {
    pub fn new(
        key_path: &std::path::Path,
        policy: HostKeyPolicy,
        connect_timeout: Duration,
        output_cap: usize,
    ) -> Result<Self, SshError> {
        let key = russh::keys::load_secret_key(key_path, None).map_err(|e| SshError::Key {
            path: key_path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Self {
            key: Arc::new(key),
            policy,
            connect_timeout,
            output_cap,
            conns: Mutex::new(HashMap::new()),
            tofu: Arc::new(std::sync::Mutex::new(HashMap::new())),
        })
    }

    async fn connect(&self, t: &SshTarget) -> Result<Handle<Verifier>, SshError> {
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(600)),
            keepalive_interval: Some(Duration::from_secs(30)),
            ..Default::default()
        });
        let verifier = Verifier {
            policy: self.policy.clone(),
            host: t.host.clone(),
            port: t.port,
            tofu: self.tofu.clone(),
        };
        let connect = client::connect(config, (t.host.as_str(), t.port), verifier);
        let mut handle = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => {
                return Err(ssh_err(
                    t,
                    "connect",
                    format!("no answer within {} s", self.connect_timeout.as_secs()),
                ));
            }
            Ok(Err(russh::Error::UnknownKey)) => {
                return Err(SshError::UntrustedHostKey {
                    host: t.host.clone(),
                    port: t.port,
                });
            }
            Ok(Err(e)) => return Err(ssh_err(t, "connect", e)),
            Ok(Ok(h)) => h,
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| ssh_err(t, "negotiate", e))?
            .flatten();
        let auth = handle
            .authenticate_publickey(
                t.user.clone(),
                PrivateKeyWithHashAlg::new(self.key.clone(), hash),
            )
            .await
            .map_err(|e| ssh_err(t, "authenticate", e))?;
        if !auth.success() {
            return Err(SshError::LoginRefused {
                user: t.user.clone(),
                host: t.host.clone(),
                port: t.port,
            });
        }
        metrics::counter!("proxmox_ssh_connections_total", "host" => t.host.clone()).increment(1);
        tracing::info!(host = %t.host, port = t.port, user = %t.user, "SSH connection established");
        Ok(handle)
    }

    async fn handle(&self, t: &SshTarget, fresh: bool) -> Result<Arc<Handle<Verifier>>, SshError> {
        let id = format!("{}@{}:{}", t.user, t.host, t.port);
        let mut conns = self.conns.lock().await;
        if !fresh && let Some(h) = conns.get(&id) {
            if !h.is_closed() {
                return Ok(h.clone());
            }
            tracing::info!(host = %t.host, port = t.port, "pooled SSH connection is gone; connecting again");
        }
        let h = Arc::new(self.connect(t).await?);
        conns.insert(id, h.clone());
        Ok(h)
    }

    /// Reach `t` over SSH: an open pooled session, or a new one whose host key is verified
    /// and whose login succeeds. Runs no command (for `/health`).
    pub async fn check(&self, t: &SshTarget) -> Result<(), SshError> {
        self.handle(t, false).await.map(|_| ())
    }

    /// Run an already-quoted command line, capping output and enforcing `timeout`.
    pub async fn exec(
        &self,
        t: &SshTarget,
        command_line: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        let started = Instant::now();
        let mut channel = match self.handle(t, false).await?.channel_open_session().await {
            Ok(c) => c,
            // The pooled connection died (server restart, idle drop): reconnect once.
            Err(e) => {
                tracing::info!(host = %t.host, error = %e, "opening a channel on the pooled SSH connection failed; reconnecting once");
                self.handle(t, true)
                    .await?
                    .channel_open_session()
                    .await
                    .map_err(|e| ssh_err(t, "open channel", e))?
            }
        };
        channel
            .exec(true, command_line)
            .await
            .map_err(|e| ssh_err(t, "exec", e))?;
        let mut out = ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_status: None,
            truncated: false,
            duration: Duration::ZERO,
        };
        let cap = self.output_cap;
        let read = async {
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        append(&mut out.stdout, &data, cap, &mut out.truncated)
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        append(&mut out.stderr, &data, cap, &mut out.truncated)
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
        };
        let timed_out = tokio::time::timeout(timeout, read).await.is_err();
        if timed_out {
            let _ = channel.close().await;
            return Err(SshError::TimedOut {
                host: t.host.clone(),
                after: timeout,
            });
        }
        out.duration = started.elapsed();
        Ok(out)
    }
}

fn append(buf: &mut Vec<u8>, data: &[u8], cap: usize, truncated: &mut bool) {
    let room = cap.saturating_sub(buf.len());
    if data.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&data[..data.len().min(room)]);
}
