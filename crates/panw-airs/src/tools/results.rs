//! `pan_get_scan_results` and `pan_get_scan_reports`.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Airs;
use crate::client::AirsClient;
use crate::client::limits::{MAX_PER_REQUEST, MAX_REPORT_ID_LEN, MAX_SCAN_ID_LEN, check_ids};

const PAN_GET_SCAN_RESULTS: ToolSpec = ToolSpec {
    name: "pan_get_scan_results",
    title: "Scan results",
    description: "Get the status (pending or complete) and verdict of scans by scan id; any number of ids (up to 100), fetched five at a time.",
    scope: "airs:read",
    toolset: "results",
    effect: Effect::ReadOnly,
    open_world: true,
};

const PAN_GET_SCAN_REPORTS: ToolSpec = ToolSpec {
    name: "pan_get_scan_reports",
    title: "Threat reports",
    description: "Get the detailed threat report of scans by report id (each detector's verdict and findings); up to 100 ids, fetched five at a time.",
    scope: "airs:read",
    toolset: "results",
    effect: Effect::ReadOnly,
    open_world: true,
};

const FAN_OUT: usize = 4;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsInput {
    /// Scan ids (at most 36 characters each), 1-100.
    pub scan_ids: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportsInput {
    /// Report ids (at most 40 characters each), 1-100.
    pub report_ids: Vec<String>,
}

/// One item of one scan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ItemResult {
    pub scan_id: String,
    /// The item's req_id within the scan (0 for a sync scan).
    pub req_id: u32,
    /// `pending` or `complete`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    /// The full result AIRS returned, unknown fields included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl ItemResult {
    pub fn pending(scan_id: &str, req_id: u32) -> Self {
        Self {
            scan_id: scan_id.into(),
            req_id,
            status: "pending".into(),
            category: None,
            action: None,
            report_id: None,
            result: None,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultsOutput {
    /// In the order of the ids given, then by req_id.
    pub results: Vec<ItemResult>,
    /// Ids AIRS did not know.
    pub missing: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportsOutput {
    /// The threat reports, in the order of the ids given, as AIRS returned them.
    pub reports: Vec<Value>,
    /// Ids AIRS did not know.
    pub missing: Vec<String>,
}

pub fn tools() -> Vec<ToolDef<Airs>> {
    vec![
        ToolDef::new(PAN_GET_SCAN_RESULTS, pan_get_scan_results),
        ToolDef::new(PAN_GET_SCAN_REPORTS, pan_get_scan_reports),
    ]
}

/// Fetch results for validated ids, five per request, merged in the order given.
pub async fn collect_results(
    client: &AirsClient,
    ids: &[String],
) -> Result<(Vec<ItemResult>, Vec<String>), ToolError> {
    let chunks: Vec<Vec<String>> = ids
        .chunks(MAX_PER_REQUEST)
        .map(<[String]>::to_vec)
        .collect();
    let pages: Vec<Vec<Value>> = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| async move { client.results(&c).await }),
    )
    .buffered(FAN_OUT)
    .try_collect()
    .await?;
    let all: Vec<Value> = pages.into_iter().flatten().collect();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let mut mine: Vec<ItemResult> = all
            .iter()
            .filter(|r| r["scan_id"].as_str() == Some(id.as_str()))
            .map(|r| {
                let result = r.get("result").filter(|v| !v.is_null()).cloned();
                ItemResult {
                    scan_id: id.clone(),
                    req_id: r["req_id"].as_u64().unwrap_or(0) as u32,
                    status: r["status"].as_str().unwrap_or("pending").to_string(),
                    category: result
                        .as_ref()
                        .and_then(|x| x["category"].as_str().map(str::to_string)),
                    action: result
                        .as_ref()
                        .and_then(|x| x["action"].as_str().map(str::to_string)),
                    report_id: result
                        .as_ref()
                        .and_then(|x| x["report_id"].as_str().map(str::to_string)),
                    result,
                }
            })
            .collect();
        if mine.is_empty() {
            missing.push(id.clone());
        }
        mine.sort_by_key(|r| r.req_id);
        out.extend(mine);
    }
    Ok((out, missing))
}

async fn pan_get_scan_results(
    s: Arc<Airs>,
    _ctx: CallCtx,
    i: ResultsInput,
) -> Result<ResultsOutput, ToolError> {
    check_ids("scan_ids", &i.scan_ids, MAX_SCAN_ID_LEN)?;
    let (results, missing) = collect_results(&s.client, &i.scan_ids).await?;
    Ok(ResultsOutput { results, missing })
}

async fn pan_get_scan_reports(
    s: Arc<Airs>,
    _ctx: CallCtx,
    i: ReportsInput,
) -> Result<ReportsOutput, ToolError> {
    check_ids("report_ids", &i.report_ids, MAX_REPORT_ID_LEN)?;
    let client = &s.client;
    let chunks: Vec<Vec<String>> = i
        .report_ids
        .chunks(MAX_PER_REQUEST)
        .map(<[String]>::to_vec)
        .collect();
    let pages: Vec<Vec<Value>> = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| async move { client.reports(&c).await }),
    )
    .buffered(FAN_OUT)
    .try_collect()
    .await?;
    let all: Vec<Value> = pages.into_iter().flatten().collect();
    let mut reports = Vec::new();
    let mut missing = Vec::new();
    for id in &i.report_ids {
        let mine: Vec<Value> = all
            .iter()
            .filter(|r| r["report_id"].as_str() == Some(id.as_str()))
            .cloned()
            .collect();
        if mine.is_empty() {
            missing.push(id.clone());
        }
        reports.extend(mine);
    }
    Ok(ReportsOutput { reports, missing })
}
