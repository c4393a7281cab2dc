//! Typed requests and responses of the AIRS API Intercept (`/v1/scan/...`), named as in the
//! official `pan-aisecurity` SDK.
//!
//! Requests serialise only the fields that are set. Responses are read leniently: a field of
//! the wrong type reads as absent instead of failing the whole answer, and the fields this
//! server does not interpret are kept in a [`Passthrough`] and handed back as AIRS sent them,
//! so what the API adds later still reaches the caller.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

// ----- requests ---------------------------------------------------------------------------

/// `ai_profile` of a scan request: one of name or id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AiProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

/// `metadata` of a scan request: shown in the AIRS logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<String>,
}

/// `contents[].tool_event.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolEventMetadata {
    pub ecosystem: String,
    pub method: String,
    pub server_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_invoked: Option<String>,
}

/// `contents[].tool_event`: an agent's tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolEvent {
    pub metadata: ToolEventMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// One item of `contents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_event: Option<ToolEvent>,
}

/// Body of `POST /v1/scan/sync/request`, and `scan_req` of an async item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tr_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub ai_profile: AiProfile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Exactly one item.
    pub contents: Vec<ScanContent>,
}

/// One item of the `POST /v1/scan/async/request` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsyncScanObject {
    /// Unique within the request; this server uses the item's index in the call + 1.
    pub req_id: u32,
    pub scan_req: ScanRequest,
}

// ----- responses --------------------------------------------------------------------------

/// The fields of an AIRS object this server does not interpret, exactly as AIRS sent them.
/// Opaque: it can be passed on and serialised, not read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(inline)]
pub struct Passthrough(Map<String, Value>);

impl Passthrough {
    /// Whether AIRS sent the field `key` here.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Detector flags (`prompt_detected`, `response_detected`): detector name to whether it
/// fired. Entries that are not booleans are dropped.
pub type DetectionFlags = BTreeMap<String, bool>;

/// A scan's verdict (the SDK's `ScanResponse`): the answer of a sync scan and the `result`
/// of a completed async item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanResponse {
    /// `benign` or `malicious`.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub category: Option<String>,
    /// `allow` or `block`.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<String>,
    /// The scan's id.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub scan_id: Option<String>,
    /// The threat report's id.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub report_id: Option<String>,
    /// The caller's transaction id, echoed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub tr_id: Option<String>,
    /// The caller's session id, echoed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    /// The security profile that decided.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_name: Option<String>,
    /// Detector flags for the prompt side.
    #[serde(
        default,
        deserialize_with = "flags",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_detected: Option<DetectionFlags>,
    /// Detector flags for the response side.
    #[serde(
        default,
        deserialize_with = "flags",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_detected: Option<DetectionFlags>,
    /// Every other field (profile_id, tool_detected, masked data, detection details,
    /// timestamps, errors, and whatever AIRS adds later), as sent.
    #[serde(flatten)]
    pub other: Passthrough,
}

/// The answer to `POST /v1/scan/async/request`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AsyncScanResponse {
    /// One id for the whole request.
    pub scan_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub report_id: Option<String>,
    /// When AIRS received the request.
    #[serde(default, deserialize_with = "lenient")]
    pub received: Option<String>,
}

/// One item of `GET /v1/scan/results` (the SDK's `ScanIdResult`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ScanIdResult {
    #[serde(default, deserialize_with = "lenient")]
    pub scan_id: Option<String>,
    /// The batch item (0 for a sync scan); absent when it is not a u32.
    #[serde(default, deserialize_with = "lenient")]
    pub req_id: Option<u32>,
    /// `pending` or `complete`.
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    /// Present once complete.
    #[serde(default, deserialize_with = "lenient")]
    pub result: Option<ScanResponse>,
}

/// One detection service's outcome in a threat report (`DetectionServiceResultObject`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DetectionResult {
    /// `prompt` or `response`.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub data_type: Option<String>,
    /// The service: `pi`, `dlp`, `uf`, `tc`, `mc`, `dbs`, `agent`, `tg`, `cg`, ...
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub detection_service: Option<String>,
    /// `benign` or `malicious`.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub verdict: Option<String>,
    /// `allow` or `block`.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<String>,
    /// The service's findings (`DSDetailResultObject`), as sent.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_detail: Option<Passthrough>,
    /// Any other field, as sent.
    #[serde(flatten)]
    pub other: Passthrough,
}

/// One item of `GET /v1/scan/reports` (`ThreatScanReportObject`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThreatReport {
    /// The report's id.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub report_id: Option<String>,
    /// The scan it reports on.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub scan_id: Option<String>,
    /// The batch item (0 for a sync scan).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub req_id: Option<i64>,
    /// The caller's transaction id, echoed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// The caller's session id, echoed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    /// One entry per detection service and data type scanned.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub detection_results: Option<Vec<DetectionResult>>,
    /// Any other field, as sent.
    #[serde(flatten)]
    pub other: Passthrough,
}

/// `T` when the value has its shape, otherwise absent. (Every struct read this way has a
/// flattened field, so an array never reads as one positionally.)
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(T::deserialize(Value::deserialize(d)?).ok())
}

/// The boolean entries of an object; absent for anything else.
fn flags<'de, D>(d: D) -> Result<Option<DetectionFlags>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Object(m) => Some(
            m.into_iter()
                .filter_map(|(k, b)| b.as_bool().map(|b| (k, b)))
                .collect(),
        ),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_send_only_what_is_set() {
        let req = ScanRequest {
            tr_id: Some("t".into()),
            session_id: None,
            ai_profile: AiProfile {
                profile_name: Some("p".into()),
                profile_id: None,
            },
            metadata: None,
            contents: vec![ScanContent {
                prompt: Some("hi".into()),
                ..ScanContent::default()
            }],
        };
        assert_eq!(
            serde_json::to_value(AsyncScanObject {
                req_id: 1,
                scan_req: req
            })
            .expect("json"),
            json!({"req_id": 1, "scan_req": {"tr_id": "t", "ai_profile": {"profile_name": "p"}, "contents": [{"prompt": "hi"}]}})
        );
    }

    #[test]
    fn responses_read_leniently_and_keep_what_they_do_not_know() {
        let v = json!({
            "category": "malicious", "action": "block", "scan_id": 7, "tr_id": null,
            "prompt_detected": {"dlp": true, "odd": "yes"}, "response_detected": [],
            "profile_id": "pid-x", "x_new": {"a": 1}
        });
        let r: ScanResponse = serde_json::from_value(v).expect("parses");
        assert_eq!(r.category.as_deref(), Some("malicious"));
        assert_eq!(r.scan_id, None);
        assert_eq!(r.tr_id, None);
        assert_eq!(
            r.prompt_detected,
            Some(BTreeMap::from([("dlp".into(), true)]))
        );
        assert_eq!(r.response_detected, None);
        assert!(r.other.contains_key("profile_id") && r.other.contains_key("x_new"));
        assert!(!r.other.contains_key("category"));
        let back = serde_json::to_value(&r).expect("json");
        assert_eq!(back["x_new"], json!({"a": 1}));

        let item: ScanIdResult = serde_json::from_value(
            json!({"scan_id": "s", "req_id": -1, "status": "complete", "result": "odd"}),
        )
        .expect("parses");
        assert_eq!(
            (item.req_id, item.result, item.status.as_deref()),
            (None, None, Some("complete"))
        );

        let report: ThreatReport = serde_json::from_value(json!({
            "report_id": "R1", "req_id": 0,
            "detection_results": [{"data_type": "prompt", "detection_service": "dlp", "verdict": "malicious", "action": "block", "result_detail": {"dlp_report": {}}}],
            "source": "AI-Runtime-API"
        }))
        .expect("parses");
        let back = serde_json::to_value(&report).expect("json");
        assert_eq!(
            back["detection_results"][0]["result_detail"],
            json!({"dlp_report": {}})
        );
        assert_eq!(back["source"], "AI-Runtime-API");
        assert_eq!(back["req_id"], 0);
    }
}
