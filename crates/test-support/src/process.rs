//! Start a server binary on 127.0.0.1, capture its logs, wait for readiness, stop it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub env: HashMap<String, String>,
}

impl ServerSpec {
    /// An HTTP server on a free loopback port with JWT auth using the test secret.
    pub fn http(binary: impl Into<PathBuf>) -> Self {
        let mut env = HashMap::new();
        env.insert("MCP_TRANSPORT".into(), "http".into());
        env.insert("MCP_BIND".into(), "127.0.0.1:0".into());
        env.insert("MCP_JWT_SECRET".into(), crate::tokens::TEST_SECRET.into());
        env.insert("MCP_JWT_ISSUER".into(), crate::tokens::TEST_ISSUER.into());
        env.insert(
            "MCP_JWT_AUDIENCE".into(),
            crate::tokens::TEST_AUDIENCE.into(),
        );
        env.insert("MCP_LOG_FORMAT".into(), "json".into());
        env.insert("RUST_LOG".into(), "info".into());
        Self {
            binary: binary.into(),
            args: vec!["serve".into()],
            env,
        }
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    pub fn without_env(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// Apply per-test overrides: a non-empty value sets the variable, an empty one removes it.
    pub fn env_overrides(self, overrides: &[(&str, &str)]) -> Self {
        overrides.iter().fold(self, |spec, (k, v)| {
            if v.is_empty() {
                spec.without_env(k)
            } else {
                spec.env(k, *v)
            }
        })
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }
}

/// A running server process. Killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub addr: std::net::SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Start the server and wait until it logs its listening address and `/readyz` answers 200.
    pub async fn start(spec: &ServerSpec) -> Self {
        let p = Self::start_unready(spec).await;
        p.wait_ready().await;
        p
    }

    /// Start the server and wait only until it logs its listening address.
    pub async fn start_unready(spec: &ServerSpec) -> Self {
        let mut cmd = Command::new(&spec.binary);
        cmd.args(&spec.args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", spec.binary.display()));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let stderr = child.stderr.take().expect("stderr piped");
        let l2 = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut addr_tx = Some(addr_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = find_listen_addr(&line)
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(addr);
                }
                if let Ok(mut l) = l2.lock() {
                    l.push(line);
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout piped");
        let l3 = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut l) = l3.lock() {
                    l.push(format!("[stdout] {line}"));
                }
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(30), addr_rx).await {
            Ok(Ok(a)) => a,
            _ => {
                let _ = child.start_kill();
                let logs = logs.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!(
                    "{} did not report a listening address; logs:\n{logs}",
                    spec.binary.display()
                );
            }
        };
        Self { child, addr, logs }
    }

    /// `http://ADDR`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Poll `/readyz` until 200 (bounded: 300 tries, 20 ms apart).
    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "server at {} never became ready; logs:\n{}",
            self.base(),
            self.logs().join("\n")
        );
    }

    /// Everything the process wrote so far (stderr lines, and stdout prefixed).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Poll the logs until one contains `needle` (bounded: 500 tries, 10 ms apart).
    pub async fn wait_for_log(&self, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(l) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "no log line containing {needle:?}; logs:\n{}",
            self.logs().join("\n")
        );
    }

    /// The value of one Prometheus sample (exact series text before the value), if present.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.base()))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
    }

    /// Poll a metric until `pred` holds (bounded: 500 tries, 10 ms apart).
    pub async fn wait_metric(&self, series: &str, pred: impl Fn(f64) -> bool) -> f64 {
        let mut last = None;
        for _ in 0..500 {
            last = self.metric(series).await;
            if let Some(v) = last
                && pred(v)
            {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("metric {series} never satisfied the condition; last value {last:?}");
    }

    /// `GET /health`: its status code and JSON. The client gives up after 2 s: `/health`
    /// answers from cached results and must never wait for an upstream.
    pub async fn health(&self) -> (u16, serde_json::Value) {
        let r = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client")
            .get(format!("{}/health", self.base()))
            .send()
            .await
            .expect("/health answers from cached results, without waiting for a probe");
        let status = r.status().as_u16();
        (status, r.json().await.expect("/health is JSON"))
    }

    /// Poll `/health` (bounded: 400 tries, 25 ms apart) until `pred` holds.
    pub async fn health_until(
        &self,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> (u16, serde_json::Value) {
        let mut last = None;
        for _ in 0..400 {
            let (code, v) = self.health().await;
            if pred(&v) {
                return (code, v);
            }
            last = Some(v);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("/health never matched; last: {last:?}");
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// Wait for exit (bounded) and return the exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => None,
        }
    }
}

/// Find `listening on http://ADDR` in a JSON or text log line.
fn find_listen_addr(line: &str) -> Option<std::net::SocketAddr> {
    let i = line.find("listening on http://")?;
    let rest = &line[i + "listening on http://".len()..];
    let end = rest
        .find(|c: char| c == '"' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
