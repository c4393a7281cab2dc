//! Vendor simulators (`vendor-sim`) as child processes, and the shared real-world fixtures.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A binary of this workspace, next to the running test's `deps/` directory. `make test`
/// builds every binary first (`cargo build --workspace --bins`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let dir = exe.parent().and_then(|d| {
        if d.ends_with("deps") {
            d.parent()
        } else {
            Some(d)
        }
    });
    let path = dir
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    assert!(
        path.exists(),
        "{} not found: build the workspace binaries first (`cargo build --workspace --bins`; `make test` does)",
        path.display()
    );
    path
}

/// The shared real-world fixtures (`SECOPS_FIXTURES_DIR`, default `../shared/fixtures` beside
/// the repository). Panics when absent: a test that needs them must not report success
/// without them.
pub fn shared_fixtures() -> PathBuf {
    let dir = std::env::var_os("SECOPS_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    assert!(
        dir.is_dir(),
        "the shared fixtures are not at {} (set SECOPS_FIXTURES_DIR); this test needs them and is not skipped",
        dir.display()
    );
    dir
}

/// This repository's own fixtures (`crates/simulators/fixtures`).
pub fn own_fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../simulators/fixtures")
        .join(rel)
}

/// A running simulator. Killed on drop.
#[derive(Debug)]
pub struct SimProcess {
    _child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    http: reqwest::Client,
}

impl SimProcess {
    /// `vendor-sim <args…> --bind 127.0.0.1:0`; waits for `listening on http://ADDR`.
    pub async fn start(args: &[&str]) -> Self {
        let bin = workspace_bin("vendor-sim");
        let mut child = Command::new(&bin)
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten()
            .unwrap_or_default();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("vendor-sim printed {first:?} instead of `listening on http://ADDR`")
            })
            .trim()
            .to_string();
        Self {
            _child: child,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// `GET /_sim/stats`
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("stats: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("stats JSON: {e}"))
    }

    /// Total upstream requests the simulator has received.
    pub async fn total(&self) -> u64 {
        self.stats().await["total"].as_u64().unwrap_or(0)
    }

    /// `POST /_sim/faults`
    pub async fn faults(&self, faults: Value) {
        let r = self
            .http
            .post(format!("{}/_sim/faults", self.base))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert!(r.status().is_success(), "faults: {}", r.status());
    }

    /// `POST /_sim/reset`
    pub async fn reset(&self) {
        let r = self
            .http
            .post(format!("{}/_sim/reset", self.base))
            .send()
            .await
            .expect("reset");
        assert!(r.status().is_success(), "reset: {}", r.status());
    }
}
