//! A real moto server (`moto_server` from the repo venv) on 127.0.0.1.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running moto server. Killed on drop.
#[derive(Debug)]
pub struct MotoProcess {
    _child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl MotoProcess {
    /// Start `moto_server` on a free loopback port and wait until it answers.
    pub async fn start() -> Self {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} not found: `make deps` installs moto[server] into .venv",
            bin.display()
        );
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("free port");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
            let endpoint = format!("http://127.0.0.1:{port}");
            let http = reqwest::Client::new();
            for _ in 0..300 {
                if let Ok(r) = http.get(format!("{endpoint}/moto-api/")).send().await
                    && r.status().is_success()
                {
                    return Self {
                        _child: child,
                        endpoint,
                    };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("moto_server did not start");
    }

    /// `POST /moto-api/reset`: forget every resource.
    pub async fn reset(&self) {
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .expect("reset");
        assert!(r.status().is_success());
    }
}
