//! `pan_get_scan_results` and `pan_get_scan_reports`.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Airs;
use crate::client::AirsClient;
use crate::client::limits::{MAX_PER_REQUEST, MAX_REPORT_ID_LEN, MAX_SCAN_ID_LEN, check_ids};
use crate::client::model::{ScanIdResult, ScanResponse, ThreatReport};

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
    /// The scan id asked for.
    pub scan_id: String,
    /// The item's req_id within the scan (0 for a sync scan).
    pub req_id: u32,
    /// `pending` or `complete`.
    pub status: String,
    /// Once complete: `benign` or `malicious`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Once complete: `allow` or `block`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Once complete: the threat report's id, for pan_get_scan_reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    /// The full result AIRS returned, unknown fields included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ScanResponse>,
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
    pub reports: Vec<ThreatReport>,
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
    let pages: Vec<Vec<ScanIdResult>> = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| async move { client.results(&c).await }),
    )
    .buffered(FAN_OUT)
    .try_collect()
    .await?;
    let all: Vec<ScanIdResult> = pages.into_iter().flatten().collect();
    Ok(merge_results(ids, &all))
}

/// The items of `all` (every results page, as the client read them) for each of `ids`, in
/// the order of `ids` and then by req_id, and the ids AIRS did not answer for. A req_id that is
/// not a u32 (negative, fractional, too large) reads as 0 rather than being truncated onto
/// another item's; an item without a status is pending.
pub fn merge_results(ids: &[String], all: &[ScanIdResult]) -> (Vec<ItemResult>, Vec<String>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let mut mine: Vec<ItemResult> = all
            .iter()
            .filter(|r| r.scan_id.as_deref() == Some(id.as_str()))
            .map(|r| {
                let result = r.result.clone();
                ItemResult {
                    scan_id: id.clone(),
                    req_id: r.req_id.unwrap_or(0),
                    status: r.status.clone().unwrap_or_else(|| "pending".into()),
                    category: result.as_ref().and_then(|x| x.category.clone()),
                    action: result.as_ref().and_then(|x| x.action.clone()),
                    report_id: result.as_ref().and_then(|x| x.report_id.clone()),
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
    (out, missing)
}

/// The reports in `all` for each of `ids`, in the order of `ids`, and the ids AIRS did not
/// answer for.
pub fn merge_reports(ids: &[String], all: &[ThreatReport]) -> (Vec<ThreatReport>, Vec<String>) {
    let mut reports = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let mine: Vec<ThreatReport> = all
            .iter()
            .filter(|r| r.report_id.as_deref() == Some(id.as_str()))
            .cloned()
            .collect();
        if mine.is_empty() {
            missing.push(id.clone());
        }
        reports.extend(mine);
    }
    (reports, missing)
}

async fn pan_get_scan_results(
    s: Arc<Airs>,
    _ctx: CallCtx,
    i: ResultsInput,
) -> Result<ResultsOutput, ToolError> {
    pan_get_scan_results_for(s, i).await
}

/// The tool's answer, for the tool and for the resource that reads as it.
pub(crate) async fn pan_get_scan_results_for(
    s: Arc<Airs>,
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
    pan_get_scan_reports_for(s, i).await
}

/// The tool's answer, for the tool and for the resource that reads as it.
pub(crate) async fn pan_get_scan_reports_for(
    s: Arc<Airs>,
    i: ReportsInput,
) -> Result<ReportsOutput, ToolError> {
    check_ids("report_ids", &i.report_ids, MAX_REPORT_ID_LEN)?;
    let client = &s.client;
    let chunks: Vec<Vec<String>> = i
        .report_ids
        .chunks(MAX_PER_REQUEST)
        .map(<[String]>::to_vec)
        .collect();
    let pages: Vec<Vec<ThreatReport>> = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| async move { client.reports(&c).await }),
    )
    .buffered(FAN_OUT)
    .try_collect()
    .await?;
    let all: Vec<ThreatReport> = pages.into_iter().flatten().collect();
    let (reports, missing) = merge_reports(&i.report_ids, &all);
    Ok(ReportsOutput { reports, missing })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use serde_json::Value;

    use super::*;
    use crate::client::{decode_async, decode_reports, decode_results, decode_scan, interpret};
    use crate::tools::scan::{batch, verdict};

    #[test]
    fn results_merge_in_id_order_then_req_id() {
        let all = vec![
            json!({"scan_id": "b", "req_id": 2, "status": "complete", "result": {"category": "benign", "action": "allow", "report_id": "Rb"}}),
            json!({"scan_id": "a", "req_id": 0, "status": "complete"}),
            json!({"scan_id": "b", "req_id": 1}),
            json!({"scan_id": "b", "req_id": 4_294_967_297_u64, "status": "complete"}),
            json!("not an object"),
        ];
        let ids = ["b", "a", "c"].map(String::from);
        let all = decode_results(Value::Array(all)).expect("an array");
        let (found, missing) = merge_results(&ids, &all);
        let got: Vec<(&str, u32, &str)> = found
            .iter()
            .map(|r| (r.scan_id.as_str(), r.req_id, r.status.as_str()))
            .collect();
        // A req_id too large for u32 reads as 0, not as 4294967297 mod 2^32 = 1 (item 1's).
        assert_eq!(
            got,
            vec![
                ("b", 0, "complete"),
                ("b", 1, "pending"),
                ("b", 2, "complete"),
                ("a", 0, "complete")
            ]
        );
        assert_eq!(found[2].report_id.as_deref(), Some("Rb"));
        assert_eq!(missing, vec!["c".to_string()]);

        let all = decode_reports(json!([{"report_id": "a", "x_new": 1}, {}, 5])).expect("an array");
        let (reports, missing) = merge_reports(&ids, &all);
        assert_eq!(
            serde_json::to_value(&reports).expect("json"),
            json!([{"report_id": "a", "x_new": 1}])
        );
        assert_eq!(missing, vec!["b".to_string(), "c".to_string()]);
    }

    /// Any JSON, with the keys AIRS answers with more likely than chance.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec!["a", "b", "benign", "block", "complete", "pending", ""])
                .prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                prop::sample::select(vec![
                    "scan_id",
                    "report_id",
                    "req_id",
                    "status",
                    "result",
                    "category",
                    "action",
                    "prompt_detected",
                    "response_detected",
                ])
                .prop_map(str::to_string),
                "[a-z_]{0,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn response(status: u16, body: Vec<u8>) -> mcp_core::upstream::UpstreamResponse {
        mcp_core::upstream::UpstreamResponse {
            status: http::StatusCode::from_u16(status).expect("status"),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from(body),
            reason: None,
        }
    }

    proptest! {
        #[test]
        fn merges_keep_their_promises(items in prop::collection::vec(json_value(), 0..8), extra in "[a-z]{1,3}") {
            let mut ids: Vec<String> = items
                .iter()
                .filter_map(|v| v["scan_id"].as_str().map(str::to_string))
                .collect();
            ids.push(extra);
            ids.sort();
            ids.dedup();
            let results = decode_results(Value::Array(items.clone())).expect("an array");
            let (found, missing) = merge_results(&ids, &results);
            for id in &ids {
                let n = found.iter().filter(|r| &r.scan_id == id).count();
                prop_assert!((n > 0) != missing.contains(id), "{id:?} found {n} times, missing: {missing:?}");
            }
            // In the order of the ids, then by req_id.
            let pos = |s: &str| ids.iter().position(|i| i == s).unwrap_or(usize::MAX);
            prop_assert!(found
                .windows(2)
                .all(|w| (pos(&w[0].scan_id), w[0].req_id) <= (pos(&w[1].scan_id), w[1].req_id)));
            let reports = decode_reports(Value::Array(items)).expect("an array");
            let (reports, missing) = merge_reports(&ids, &reports);
            for r in &reports {
                let id = r.report_id.as_deref().expect("a report id");
                prop_assert!(ids.iter().any(|i| i == id) && !missing.iter().any(|i| i == id));
            }
        }

        #[test]
        fn verdicts_need_category_and_action(v in json_value()) {
            let has = v["category"].is_string() && v["action"].is_string();
            match decode_scan(v.clone()) {
                Ok(r) => {
                    prop_assert!(has);
                    let x = verdict(r);
                    prop_assert_eq!(Some(x.category.as_str()), v["category"].as_str());
                    prop_assert_eq!(Some(x.action.as_str()), v["action"].as_str());
                    prop_assert!(!x.other.contains_key("category"));
                    prop_assert!(serde_json::to_string(&x).is_ok());
                }
                Err(_) => prop_assert!(!has),
            }
            match decode_async(v.clone()) {
                Ok(a) => {
                    prop_assert_eq!(Some(a.scan_id.as_str()), v["scan_id"].as_str());
                    prop_assert_eq!(batch(a, vec![1]).req_ids, vec![1]);
                }
                Err(_) => prop_assert!(!v["scan_id"].is_string()),
            }
            prop_assert_eq!(decode_results(v.clone()).is_ok(), v.is_array());
            prop_assert_eq!(decode_reports(v.clone()).is_ok(), v.is_array());
        }

        #[test]
        fn any_answer_maps_without_panicking(status in 100u16..=999, body in prop::collection::vec(any::<u8>(), 0..200), json in json_value()) {
            let r = interpret(&response(status, body.clone()));
            if (200..=299).contains(&status) {
                prop_assert_eq!(r.is_ok(), serde_json::from_slice::<Value>(&body).is_ok());
            } else {
                prop_assert!(r.is_err());
            }
            let text = serde_json::to_vec(&json).expect("serialises");
            let r = interpret(&response(status, text));
            prop_assert_eq!(r.is_ok(), (200..=299).contains(&status));
        }
    }
}
