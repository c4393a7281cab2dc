//! Log retrieval: PAN-OS's asynchronous log job (`type=log`), as pan-python's `log()` runs
//! it: submit (`log-type`, `nlogs`, `skip`, `query`) for a job id, poll `action=get` until
//! the job is `FIN` (the entries come with that answer), and `action=finish` to drop a job
//! that is abandoned early.

use std::collections::BTreeMap;

use super::{PanosClient, PanosError, model};

/// The state of a log job, and its entries once finished.
#[derive(Debug, Clone, Default)]
pub struct LogPoll {
    /// `ACT`, `FIN`, ...
    pub status: String,
    /// 0-100.
    pub progress: u32,
    /// Each entry's fields (only when `FIN`).
    pub entries: Vec<BTreeMap<String, String>>,
}

impl LogPoll {
    pub fn finished(&self) -> bool {
        self.status == "FIN"
    }
}

fn parse_poll(result: roxmltree::Node<'_, '_>) -> LogPoll {
    let job = result.children().find(|c| c.has_tag_name("job"));
    let status = job
        .and_then(|j| model::text(j, "status"))
        .unwrap_or_default();
    let logs = result.descendants().find(|n| n.has_tag_name("logs"));
    let progress = logs
        .and_then(|l| l.attribute("progress"))
        .and_then(|p| p.trim().parse::<u32>().ok())
        .unwrap_or(if status == "FIN" { 100 } else { 0 })
        .min(100);
    let entries = logs
        .map(|l| {
            l.children()
                .filter(|e| e.has_tag_name("entry"))
                .map(|e| {
                    e.children()
                        .filter(|c| c.is_element())
                        .map(|c| {
                            (
                                c.tag_name().name().to_string(),
                                c.text().unwrap_or_default().trim().to_string(),
                            )
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    LogPoll {
        status,
        progress,
        entries,
    }
}

impl PanosClient {
    /// Enqueues a log query; the job id. `query` was checked by [`super::logfilter::check`].
    pub async fn submit_log(
        &self,
        log_type: &str,
        nlogs: u32,
        skip: u32,
        query: Option<&str>,
    ) -> Result<u64, PanosError> {
        let (n, k) = (nlogs.to_string(), skip.to_string());
        let mut form = vec![
            ("type", "log"),
            ("log-type", log_type),
            ("nlogs", n.as_str()),
            ("skip", k.as_str()),
        ];
        if let Some(q) = query {
            form.push(("query", q));
        }
        let inner = self.post(&form).await?;
        super::parse(inner.as_deref(), |r| {
            r.descendants()
                .find(|n| n.has_tag_name("job"))
                .and_then(|j| j.text())
                .and_then(|t| t.trim().parse::<u64>().ok())
        })?
        .flatten()
        .ok_or_else(|| PanosError::ApiNoCode("the log query was not given a job id".into()))
    }

    /// One look at log job `id`.
    pub async fn poll_log(&self, id: u64) -> Result<LogPoll, PanosError> {
        let id = id.to_string();
        let inner = self
            .post(&[("type", "log"), ("action", "get"), ("job-id", id.as_str())])
            .await?;
        Ok(super::parse(inner.as_deref(), parse_poll)?.unwrap_or_default())
    }

    /// Drops log job `id` on the device `target` (the host when `None`).
    pub async fn finish_log(&self, id: u64, target: Option<&str>) -> Result<(), PanosError> {
        let id = id.to_string();
        self.post_to(
            &[
                ("type", "log"),
                ("action", "finish"),
                ("job-id", id.as_str()),
            ],
            target,
        )
        .await
        .map(|_| ())
    }
}
