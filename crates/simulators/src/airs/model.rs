//! Serde types of the AIRS scan API, modelled on the shapes of the official
//! `pan-aisecurity` SDK (0.11): requests are lenient about unknown fields,
//! responses carry the extra [`SIM_FIELD`] so clients prove they keep
//! unknown fields.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// `source` of every scan object.
pub const SOURCE: &str = "AI-Runtime-API";

/// Value of the extra `x_sim_detector_version` field of every response object.
pub const SIM_DETECTOR_VERSION: &str = "1";

/// Name of the extra field (documentation only; the structs spell it out).
pub const SIM_FIELD: &str = "x_sim_detector_version";

/// `ai_profile` of a scan request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AiProfile {
    /// `"pid-" + name` for a configured profile name.
    pub profile_id: Option<String>,
    /// A name given with `--profile`.
    pub profile_name: Option<String>,
}

/// `metadata` of a scan request (accepted and otherwise ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// AI application name.
    pub app_name: Option<String>,
    /// End user.
    pub app_user: Option<String>,
    /// AI model.
    pub ai_model: Option<String>,
    /// End user IP.
    pub user_ip: Option<String>,
}

/// `tool_event.metadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolEventMetadata {
    /// Ecosystem or protocol, such as `mcp`.
    pub ecosystem: String,
    /// Method, such as `tools/call`.
    pub method: String,
    /// MCP server name.
    pub server_name: String,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_invoked: Option<String>,
}

/// `contents[].tool_event`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToolEvent {
    /// Who and what was called.
    pub metadata: Option<ToolEventMetadata>,
    /// Raw input to the tool (scanned with the prompt detectors).
    pub input: Option<String>,
    /// Raw output of the tool (scanned with the response detectors).
    pub output: Option<String>,
}

/// One item of `contents`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanContent {
    /// Prompt text.
    pub prompt: Option<String>,
    /// Response text.
    pub response: Option<String>,
    /// Code extracted from the prompt.
    pub code_prompt: Option<String>,
    /// Code extracted from the response.
    pub code_response: Option<String>,
    /// Grounding context (not scanned).
    pub context: Option<String>,
    /// An agent tool call.
    pub tool_event: Option<ToolEvent>,
}

impl ScanContent {
    /// Is at least one content field present?
    pub fn has_content(&self) -> bool {
        self.prompt.is_some()
            || self.response.is_some()
            || self.code_prompt.is_some()
            || self.code_response.is_some()
            || self.context.is_some()
            || self.tool_event.is_some()
    }
}

/// Body of `POST /v1/scan/sync/request`, and `scan_req` of an async item.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanRequest {
    /// Caller's transaction id, echoed.
    pub tr_id: Option<String>,
    /// Caller's session id, echoed.
    pub session_id: Option<String>,
    /// Caller's transaction id (newer spelling), echoed.
    pub transaction_id: Option<String>,
    /// Required.
    pub ai_profile: Option<AiProfile>,
    /// Optional caller metadata.
    pub metadata: Option<Metadata>,
    /// Required; exactly one item.
    pub contents: Option<Vec<ScanContent>>,
}

/// One item of the `POST /v1/scan/async/request` array.
#[derive(Debug, Clone, Deserialize)]
pub struct AsyncScanObject {
    /// Unique within the batch.
    pub req_id: i64,
    /// The scan.
    pub scan_req: ScanRequest,
}

/// `category` of a scan and `verdict` of a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing detected.
    Benign,
    /// Something detected.
    Malicious,
}

/// `action` of a scan or detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through.
    Allow,
    /// Block it.
    Block,
}

impl Verdict {
    /// `Malicious` when `hit`.
    pub fn of(hit: bool) -> Self {
        if hit { Self::Malicious } else { Self::Benign }
    }

    /// The action the simulated profiles take: block anything malicious.
    pub fn action(self) -> Action {
        match self {
            Self::Benign => Action::Allow,
            Self::Malicious => Action::Block,
        }
    }
}

/// `prompt_detected` (also the flags of `tool_detected`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PromptDetected {
    /// A blocklisted URL.
    pub url_cats: bool,
    /// A card number or SSN.
    pub dlp: bool,
    /// A prompt injection phrase.
    pub injection: bool,
    /// A toxic phrase.
    pub toxic_content: bool,
    /// A malicious code pattern (code fields only).
    pub malicious_code: bool,
    /// An agent threat (tool input).
    pub agent: bool,
    /// A blocked topic.
    pub topic_violation: bool,
}

impl PromptDetected {
    /// Is any flag set?
    pub fn any(&self) -> bool {
        self.url_cats
            || self.dlp
            || self.injection
            || self.toxic_content
            || self.malicious_code
            || self.agent
            || self.topic_violation
    }
}

/// `response_detected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResponseDetected {
    /// An injection phrase in the response: indirect prompt injection.
    pub injection: bool,
    /// A blocklisted URL.
    pub url_cats: bool,
    /// A card number or SSN.
    pub dlp: bool,
    /// A destructive SQL statement.
    pub db_security: bool,
    /// A toxic phrase.
    pub toxic_content: bool,
    /// A malicious code pattern (code fields only).
    pub malicious_code: bool,
    /// An agent threat (never set on the response side).
    pub agent: bool,
    /// The response says it is ungrounded.
    pub ungrounded: bool,
    /// A blocked topic.
    pub topic_violation: bool,
}

impl ResponseDetected {
    /// Is any flag set?
    pub fn any(&self) -> bool {
        self.injection
            || self.url_cats
            || self.dlp
            || self.db_security
            || self.toxic_content
            || self.malicious_code
            || self.agent
            || self.ungrounded
            || self.topic_violation
    }
}

/// `tool_detected.summary`, as in the SDK's `ScanSummary`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSummary {
    /// Every flag over the tool input and output (`ToolDetectionFlags`).
    pub detections: serde_json::Value,
    /// Names of the flags that are set.
    pub threats: Vec<String>,
}

/// `tool_detected`: the [`PromptDetected`] flags over the tool input and
/// output, plus the SDK's `verdict`, `metadata` and `summary`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolDetected {
    /// The flags (see [`PromptDetected`]).
    #[serde(flatten)]
    pub flags: PromptDetected,
    /// `malicious` when any flag is set.
    pub verdict: Verdict,
    /// `tool_event.metadata`, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ToolEventMetadata>,
    /// Every flag and the names of those set.
    pub summary: ToolSummary,
}

/// A scan result (`ScanResponse`).
#[derive(Debug, Clone, Serialize)]
pub struct ScanResponse {
    /// `R` + the scan id.
    pub report_id: String,
    /// A UUID.
    pub scan_id: String,
    /// Echoed from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tr_id: Option<String>,
    /// Echoed from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Echoed from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `pid-` + profile name.
    pub profile_id: String,
    /// The profile name.
    pub profile_name: String,
    /// `malicious` when any flag is set.
    pub category: Verdict,
    /// `block` when malicious.
    pub action: Action,
    /// Prompt-side flags.
    pub prompt_detected: PromptDetected,
    /// Response-side flags.
    pub response_detected: ResponseDetected,
    /// Present when the content had a `tool_event`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_detected: Option<ToolDetected>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub completed_at: String,
    /// Always false.
    pub timeout: bool,
    /// Always false.
    pub error: bool,
    /// Always empty.
    pub errors: Vec<serde_json::Value>,
    /// [`SOURCE`].
    pub source: &'static str,
    /// [`SIM_DETECTOR_VERSION`].
    pub x_sim_detector_version: &'static str,
}

/// Answer to `POST /v1/scan/async/request`.
#[derive(Debug, Clone, Serialize)]
pub struct AsyncScanResponse {
    /// RFC 3339.
    pub received: String,
    /// One id for the whole batch.
    pub scan_id: String,
    /// `R` + the scan id.
    pub report_id: String,
    /// [`SOURCE`].
    pub source: &'static str,
    /// [`SIM_DETECTOR_VERSION`].
    pub x_sim_detector_version: &'static str,
}

/// `pending` or `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    /// The async delay has not passed yet.
    Pending,
    /// Results and reports are available.
    Complete,
}

/// One item of `GET /v1/scan/results`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanIdResult {
    /// The batch item (0 for a sync scan).
    pub req_id: i64,
    /// Pending or complete.
    pub status: ScanStatus,
    /// The scan id.
    pub scan_id: String,
    /// Present once complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ScanResponse>,
    /// [`SIM_DETECTOR_VERSION`].
    pub x_sim_detector_version: &'static str,
}

/// One detection service's outcome in a report.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionResult {
    /// `prompt` or `response`.
    pub data_type: &'static str,
    /// `pi`, `dlp`, `uf`, `tc`, `mc`, `dbs`, `agent`, `tg` or `cg`.
    pub detection_service: &'static str,
    /// Benign or malicious.
    pub verdict: Verdict,
    /// Allow or block.
    pub action: Action,
    /// Service-specific detail (`DSDetailResultObject`).
    pub result_detail: serde_json::Value,
}

/// One item of `GET /v1/scan/reports` (`ThreatScanReportObject`).
#[derive(Debug, Clone, Serialize)]
pub struct ThreatScanReport {
    /// `R` + the scan id.
    pub report_id: String,
    /// The scan id.
    pub scan_id: String,
    /// The batch item (0 for a sync scan).
    pub req_id: i64,
    /// Echoed from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Echoed from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// One entry per detection service and data type scanned.
    pub detection_results: Vec<DetectionResult>,
    /// [`SOURCE`].
    pub source: &'static str,
    /// [`SIM_DETECTOR_VERSION`].
    pub x_sim_detector_version: &'static str,
}

/// `{"error": {"message": ...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorMessage,
}

/// The inner object of [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub struct ErrorMessage {
    /// Human-readable message.
    pub message: String,
}

/// `t` as RFC 3339 in UTC with millisecond precision, e.g. `2026-01-02T03:04:05.678Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day); H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn tool_detected_flattens_flags() {
        let t = ToolDetected {
            flags: PromptDetected {
                agent: true,
                ..PromptDetected::default()
            },
            verdict: Verdict::Malicious,
            metadata: None,
            summary: ToolSummary {
                detections: serde_json::json!({}),
                threats: vec!["agent".to_owned()],
            },
        };
        let v = serde_json::to_value(&t).unwrap_or_default();
        assert_eq!(v["agent"], true);
        assert_eq!(v["injection"], false);
        assert_eq!(v["verdict"], "malicious");
    }
}
