//! Managed firewalls behind Panorama: `show devices all`, and the `target=SERIAL` that
//! sends a request to one of them.
//!
//! A tool call that names a `device` runs inside [`scope`]: every request the client makes
//! during the call carries `target=` with the device's serial. A hostname is turned into a
//! serial with one `show devices all` on the first request of the call (never before the
//! tool has validated its arguments).

use std::sync::Arc;

use super::{PanosClient, PanosError, model};

/// The device a tool call is about: what the caller named, resolved once.
#[derive(Debug)]
pub struct Selection {
    named: String,
    serial: tokio::sync::OnceCell<String>,
}

tokio::task_local! {
    static DEVICE: Arc<Selection>;
}

/// Runs `fut` with every request sent to `device` (a serial or a hostname) through Panorama.
pub async fn scope<F: std::future::Future>(device: Option<String>, fut: F) -> F::Output {
    match device {
        None => fut.await,
        Some(named) => {
            let sel = Arc::new(Selection {
                named,
                serial: tokio::sync::OnceCell::new(),
            });
            DEVICE.scope(sel, fut).await
        }
    }
}

/// The device the current call names, if any (as named, not resolved).
pub fn named() -> Option<String> {
    DEVICE.try_with(|s| s.named.clone()).ok()
}

/// A firewall Panorama manages, as `show devices all` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ManagedDevice {
    pub serial: String,
    pub hostname: Option<String>,
    pub model: Option<String>,
    pub sw_version: Option<String>,
    pub ip_address: Option<String>,
    /// `active`, `passive`, ... when the firewall is in an HA pair.
    pub ha_state: Option<String>,
    pub connected: bool,
    pub device_group: Option<String>,
    pub template_stack: Option<String>,
}

/// Reads `<devices><entry>` of `show devices all`.
pub fn parse_devices(result: roxmltree::Node<'_, '_>) -> Vec<ManagedDevice> {
    let devices = result
        .children()
        .find(|c| c.has_tag_name("devices"))
        .unwrap_or(result);
    devices
        .children()
        .filter(|c| c.has_tag_name("entry"))
        .filter_map(|e| {
            let serial =
                model::text(e, "serial").or_else(|| e.attribute("name").map(str::to_owned))?;
            let ha_state = e
                .children()
                .find(|c| c.has_tag_name("ha"))
                .and_then(|h| model::text(h, "state"));
            Some(ManagedDevice {
                serial,
                hostname: model::text(e, "hostname"),
                model: model::text(e, "model"),
                sw_version: model::text(e, "sw-version"),
                ip_address: model::text(e, "ip-address"),
                ha_state,
                connected: model::text(e, "connected").as_deref() == Some("yes"),
                device_group: model::text(e, "device-group"),
                template_stack: model::text(e, "template-stack"),
            })
        })
        .collect()
}

impl PanosClient {
    /// `show devices all` on Panorama (never routed to a device, never cached).
    pub async fn managed_devices(&self) -> Result<Vec<ManagedDevice>, PanosError> {
        let inner = self
            .post_to(
                &[
                    ("type", "op"),
                    ("cmd", "<show><devices><all></all></devices></show>"),
                ],
                None,
            )
            .await?;
        Ok(super::parse(inner.as_deref(), parse_devices)?.unwrap_or_default())
    }

    /// The serial the current call's requests go to (`None`: the host itself).
    pub async fn current_target(&self) -> Result<Option<String>, PanosError> {
        let Ok(sel) = DEVICE.try_with(Arc::clone) else {
            return Ok(None);
        };
        let serial = sel
            .serial
            .get_or_try_init(|| self.resolve_device(&sel.named))
            .await?;
        Ok(Some(serial.clone()))
    }

    async fn resolve_device(&self, named: &str) -> Result<String, PanosError> {
        let all = self.managed_devices().await?;
        let found = all.iter().find(|d| d.serial == named).or_else(|| {
            let by_name: Vec<&ManagedDevice> = all
                .iter()
                .filter(|d| {
                    d.hostname
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(named))
                })
                .collect();
            (by_name.len() == 1)
                .then(|| by_name.first().copied())
                .flatten()
        });
        let Some(d) = found else {
            let same = all
                .iter()
                .filter(|d| {
                    d.hostname
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(named))
                })
                .count();
            return Err(PanosError::Device(if same > 1 {
                format!(
                    "{same} managed firewalls are named `{named}`; name one by its serial (list_managed_devices lists them)"
                )
            } else {
                format!(
                    "Panorama manages no firewall with serial or hostname `{named}`; list_managed_devices lists the ones it does"
                )
            }));
        };
        if !d.connected {
            return Err(PanosError::Device(format!(
                "managed firewall {} ({}) is not connected to Panorama now, so nothing can be read from or sent to it; try again when it is connected",
                d.serial,
                d.hostname.as_deref().unwrap_or("no hostname")
            )));
        }
        Ok(d.serial.clone())
    }
}
