//! The in-process rig every server's end-to-end tests start from: the server binary, wired to
//! its upstream peer (a simulator, moto, sshd), and an MCP client already initialised.

use crate::{RpcClient, ServerProcess, ServerSpec};

/// A server under test, its peer, and a client holding a token with `scopes`.
#[derive(Debug)]
pub struct Rig<P> {
    /// What the server talks to (a `SimProcess`, a `MotoProcess`, ...). Dropped last.
    pub peer: P,
    pub server: ServerProcess,
    pub client: RpcClient,
}

impl<P> Rig<P> {
    /// Start `spec` (waiting for `/readyz` when `wait_ready`), then open a Streamable HTTP
    /// client on `/mcp` with a test token for `subject` and `scopes`, and initialise it.
    pub async fn start(
        peer: P,
        spec: &ServerSpec,
        subject: &str,
        scopes: &[&str],
        wait_ready: bool,
    ) -> Self {
        let server = if wait_ready {
            ServerProcess::start(spec).await
        } else {
            ServerProcess::start_unready(spec).await
        };
        let mut client = RpcClient::new(
            format!("{}/mcp", server.base()),
            Some(crate::tokens::token(subject, scopes)),
        );
        let init = client.initialize().await;
        assert_eq!(init.status, 200, "initialize: {}", init.raw);
        Self {
            peer,
            server,
            client,
        }
    }

    /// Another client of the same server, for another subject and scopes.
    pub async fn client(&self, subject: &str, scopes: &[&str]) -> RpcClient {
        let mut c = RpcClient::new(
            format!("{}/mcp", self.server.base()),
            Some(crate::tokens::token(subject, scopes)),
        );
        let init = c.initialize().await;
        assert_eq!(init.status, 200, "initialize: {}", init.raw);
        c
    }
}
