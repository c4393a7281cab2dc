//! Validating one scan request and computing its result and report.

use std::time::SystemTime;

use serde_json::json;

use super::ApiError;
use super::detect::{self, Findings, Side, SideInput};
use super::model::{
    PromptDetected, SIM_DETECTOR_VERSION, SOURCE, ScanContent, ScanRequest, ScanResponse,
    ThreatScanReport, ToolDetected, ToolEvent, ToolSummary, Verdict, rfc3339,
};
use super::store::ScanItem;

/// Message of an unknown profile.
pub const PROFILE_NOT_FOUND: &str = "AI profile not found";

/// A request that passed validation.
#[derive(Debug, Clone, Copy)]
pub struct Validated<'a> {
    /// The configured profile name the request selected.
    pub profile: &'a str,
    /// The single content item.
    pub content: &'a ScanContent,
}

/// Checks `req` against the schema rules and the configured `profiles`.
///
/// `ai_profile` and `contents` are required, `contents` holds exactly one
/// item with at least one field set, and the profile must be configured:
/// `profile_id` (which wins when present) must be `pid-NAME`, otherwise
/// `profile_name` must be `NAME`.
pub fn validate<'a>(
    req: &'a ScanRequest,
    profiles: &'a [String],
) -> Result<Validated<'a>, ApiError> {
    let profile = req
        .ai_profile
        .as_ref()
        .ok_or_else(|| ApiError::bad("ai_profile is required"))?;
    let contents = req
        .contents
        .as_ref()
        .ok_or_else(|| ApiError::bad("contents is required"))?;
    let [content] = contents.as_slice() else {
        return Err(ApiError::bad("contents must hold exactly one item"));
    };
    if !content.has_content() {
        return Err(ApiError::bad(
            "contents[0] must set prompt, response, code_prompt, code_response, context or tool_event",
        ));
    }
    let found = match (&profile.profile_id, &profile.profile_name) {
        (None, None) => {
            return Err(ApiError::bad(
                "ai_profile requires profile_id or profile_name",
            ));
        }
        (Some(id), _) => profiles
            .iter()
            .find(|n| id.strip_prefix("pid-") == Some(n.as_str())),
        (None, Some(name)) => profiles.iter().find(|n| *n == name),
    };
    let profile = found.ok_or_else(|| ApiError::bad(PROFILE_NOT_FOUND))?;
    Ok(Validated { profile, content })
}

/// Identity and timing of one scan item.
#[derive(Debug, Clone, Copy)]
pub struct ItemIds<'a> {
    /// The scan id (shared by a batch).
    pub scan_id: &'a str,
    /// The report id (shared by a batch).
    pub report_id: &'a str,
    /// 0 for a sync scan.
    pub req_id: i64,
    /// Receipt time.
    pub created: SystemTime,
    /// When the result becomes available.
    pub completed: SystemTime,
}

/// Runs the detectors over a validated request.
pub fn evaluate(req: &ScanRequest, v: Validated<'_>, ids: ItemIds<'_>) -> ScanItem {
    let c = v.content;
    let tool = c.tool_event.as_ref();
    let prompt = detect::scan(
        Side::Prompt,
        SideInput {
            text: c.prompt.as_deref(),
            code: c.code_prompt.as_deref(),
            tool: tool.and_then(|t| t.input.as_deref()),
        },
    );
    let response = detect::scan(
        Side::Response,
        SideInput {
            text: c.response.as_deref(),
            code: c.code_response.as_deref(),
            tool: tool.and_then(|t| t.output.as_deref()),
        },
    );
    let prompt_detected = prompt.prompt_flags();
    let response_detected = response.response_flags();
    let tool_detected = tool.map(tool_detected);
    let malicious = prompt_detected.any()
        || response_detected.any()
        || tool_detected.as_ref().is_some_and(|t| t.flags.any());
    let category = Verdict::of(malicious);
    let result = ScanResponse {
        report_id: ids.report_id.to_owned(),
        scan_id: ids.scan_id.to_owned(),
        tr_id: req.tr_id.clone(),
        session_id: req.session_id.clone(),
        transaction_id: req.transaction_id.clone(),
        profile_id: format!("pid-{}", v.profile),
        profile_name: v.profile.to_owned(),
        category,
        action: category.action(),
        prompt_detected,
        response_detected,
        tool_detected,
        created_at: rfc3339(ids.created),
        completed_at: rfc3339(ids.completed),
        timeout: false,
        error: false,
        errors: Vec::new(),
        source: SOURCE,
        x_sim_detector_version: SIM_DETECTOR_VERSION,
    };
    let report = ThreatScanReport {
        report_id: ids.report_id.to_owned(),
        scan_id: ids.scan_id.to_owned(),
        req_id: ids.req_id,
        transaction_id: req.transaction_id.clone().or_else(|| req.tr_id.clone()),
        session_id: req.session_id.clone(),
        detection_results: [(&prompt, Side::Prompt), (&response, Side::Response)]
            .into_iter()
            .flat_map(|(f, side)| {
                let dlp_id = format!("{}-{}-{}", ids.scan_id, ids.req_id, side.data_type());
                f.detection_results(side, &dlp_id)
            })
            .collect(),
        source: SOURCE,
        x_sim_detector_version: SIM_DETECTOR_VERSION,
    };
    ScanItem {
        req_id: ids.req_id,
        result,
        report,
    }
}

/// `tool_detected`: the prompt detectors over `input` and the response
/// detectors over `output`, folded into the [`PromptDetected`] flags.
fn tool_detected(t: &ToolEvent) -> ToolDetected {
    let only = |text: Option<&str>, side| {
        detect::scan(
            side,
            SideInput {
                tool: text,
                ..SideInput::default()
            },
        )
    };
    let input: Findings = only(t.input.as_deref(), Side::Prompt);
    let output: Findings = only(t.output.as_deref(), Side::Response);
    let (i, o) = (input.prompt_flags(), output.response_flags());
    let flags = PromptDetected {
        url_cats: i.url_cats || o.url_cats,
        dlp: i.dlp || o.dlp,
        injection: i.injection,
        toxic_content: i.toxic_content || o.toxic_content,
        malicious_code: false,
        agent: i.agent,
        topic_violation: i.topic_violation || o.topic_violation,
    };
    let named = [
        ("injection", flags.injection),
        ("url_cats", flags.url_cats),
        ("dlp", flags.dlp),
        ("db_security", o.db_security),
        ("toxic_content", flags.toxic_content),
        ("malicious_code", flags.malicious_code),
        ("agent", flags.agent),
        ("topic_violation", flags.topic_violation),
    ];
    let detections: serde_json::Map<String, serde_json::Value> = named
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let threats = named
        .iter()
        .filter(|(_, v)| *v)
        .map(|(k, _)| (*k).to_owned())
        .collect::<Vec<_>>();
    ToolDetected {
        verdict: Verdict::of(!threats.is_empty()),
        flags,
        metadata: t.metadata.clone(),
        summary: ToolSummary {
            detections: serde_json::Value::Object(detections),
            threats,
        },
    }
}
