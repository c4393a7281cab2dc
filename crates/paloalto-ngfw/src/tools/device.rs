//! `device`: which managed firewall a call is about when the server points at Panorama.
//!
//! Every tool input that takes `device` implements [`OnDevice`]; its handler is wrapped with
//! [`on_device`], which checks the value's form (and that the host is Panorama) before the
//! tool runs, then runs the tool with every request sent to that firewall (`target=`).

use std::future::Future;
use std::sync::Arc;

use mcp_core::{CallCtx, ToolError};

use crate::Ngfw;
use crate::client::target;

/// The text of the `device` argument in every schema.
pub const DEVICE_DOC: &str = "A firewall managed by Panorama (serial, or hostname from list_managed_devices) when the server points at Panorama; the request goes to that firewall. Refused when the server points at a firewall.";

/// A tool input with an optional `device`.
pub trait OnDevice {
    fn device(&self) -> Option<&str>;
}

/// Implements [`OnDevice`] for inputs with a `device: Option<String>` field.
#[macro_export]
macro_rules! on_device_inputs {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::tools::device::OnDevice for $t {
            fn device(&self) -> Option<&str> {
                self.device.as_deref()
            }
        })*
    };
}

/// Checks a `device` value's form: a serial or hostname, 1-63 characters of letters,
/// digits, `.`, `_` and `-`, starting with a letter or digit.
pub fn check_form(device: &str) -> Result<(), ToolError> {
    let ok = !device.is_empty()
        && device.len() <= 63
        && device
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && device
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid(
            "device",
            format!(
                "`{}` is not a serial or hostname (1-63 letters, digits, `.`, `_`, `-`); list_managed_devices lists the managed firewalls",
                mcp_core::validate::excerpt(device, 64)
            ),
        ))
    }
}

impl Ngfw {
    /// Whether the host is Panorama: learnt from the readiness probe, else asked now.
    pub async fn is_panorama(&self) -> Result<bool, ToolError> {
        let known = self
            .panorama
            .get_or_try_init(|| async {
                let v = self.client.version().await?;
                Ok::<bool, ToolError>(
                    v.get("model")
                        .is_some_and(|m| m.eq_ignore_ascii_case("Panorama")),
                )
            })
            .await?;
        Ok(*known)
    }

    /// Refuses a call that needs one firewall's own state when the host is Panorama and the
    /// call names no `device`.
    pub async fn require_device(&self, what: &str) -> Result<(), ToolError> {
        if target::named().is_none() && self.is_panorama().await? {
            return Err(ToolError::invalid(
                "device",
                format!(
                    "is required here: the server points at Panorama, and {what} is answered by one firewall. Name it by serial or hostname (list_managed_devices lists them)"
                ),
            ));
        }
        Ok(())
    }

    /// The device as plans name it: the host, and the managed firewall when a call names one.
    pub fn device_label(&self) -> String {
        match target::named() {
            Some(d) => format!("{} managed firewall {d}", self.device),
            None => self.device.clone(),
        }
    }
}

/// A boxed tool future.
pub type ToolFuture<O> = std::pin::Pin<Box<dyn Future<Output = Result<O, ToolError>> + Send>>;

/// Wraps a tool handler: checks `device`, then runs the handler with its requests sent to it.
pub fn on_device<I, O, F, Fut>(
    f: F,
) -> impl Fn(Arc<Ngfw>, CallCtx, I) -> ToolFuture<O> + Send + Sync + 'static
where
    I: OnDevice + Send + 'static,
    O: Send + 'static,
    F: Fn(Arc<Ngfw>, CallCtx, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
{
    move |s, ctx, input| {
        let device = input.device().map(str::to_owned);
        let checked = device.as_deref().map(check_form).transpose();
        let fut = f(s.clone(), ctx, input);
        Box::pin(async move {
            checked?;
            if device.is_some() && !s.is_panorama().await? {
                return Err(ToolError::invalid(
                    "device",
                    "only applies when the server points at Panorama; this server points at a firewall, so leave `device` out",
                ));
            }
            target::scope(device, fut).await
        })
    }
}
