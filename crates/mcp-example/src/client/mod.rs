//! The example's "upstream": an in-memory store, and an optional HTTP upstream that only
//! `check` and `/readyz` probe. A real server's client wraps its vendor API here and hands
//! the tools typed models ([`model`]) and typed errors ([`error`]), never raw JSON or XML.

pub mod error;
pub mod model;

use std::collections::BTreeMap;
use std::sync::Mutex;

use mcp_core::upstream::{Idempotency, Upstream};

pub use error::ClientError;
pub use model::{Probe, Stored};

use crate::config::ExampleSettings;

/// The store and the optional upstream.
#[derive(Debug, Default)]
pub struct ExampleClient {
    store: Mutex<BTreeMap<String, String>>,
    upstream: Option<Upstream>,
}

impl ExampleClient {
    pub fn new(settings: &ExampleSettings) -> Result<Self, ClientError> {
        let upstream = match &settings.upstream {
            Some(cfg) => {
                Some(Upstream::new(cfg.clone()).map_err(|e| ClientError::Setup(e.to_string()))?)
            }
            None => None,
        };
        Ok(Self {
            store: Mutex::new(BTreeMap::new()),
            upstream,
        })
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Result<Stored, ClientError> {
        let value = self
            .store
            .lock()
            .map_err(|_| ClientError::StorePoisoned)?
            .get(key)
            .cloned();
        Ok(Stored {
            key: key.to_string(),
            value,
        })
    }

    /// Store `value` under `key`; what was there before.
    pub fn set(&self, key: &str, value: String) -> Result<Stored, ClientError> {
        let previous = self
            .store
            .lock()
            .map_err(|_| ClientError::StorePoisoned)?
            .insert(key.to_string(), value);
        Ok(Stored {
            key: key.to_string(),
            value: previous,
        })
    }

    /// Remove `key`; what was there.
    pub fn delete(&self, key: &str) -> Result<Stored, ClientError> {
        let previous = self
            .store
            .lock()
            .map_err(|_| ClientError::StorePoisoned)?
            .remove(key);
        Ok(Stored {
            key: key.to_string(),
            value: previous,
        })
    }

    /// Reach the upstream once.
    pub async fn probe(&self) -> Result<Probe, ClientError> {
        let Some(up) = &self.upstream else {
            return Ok(Probe::NotConfigured);
        };
        let resp = up
            .send(
                up.request(reqwest::Method::GET, "/"),
                Idempotency::Idempotent,
            )
            .await?;
        if resp.status.is_success() {
            Ok(Probe::Answered(resp.status.as_u16()))
        } else {
            Err(ClientError::Status(resp.status.as_u16()))
        }
    }
}
