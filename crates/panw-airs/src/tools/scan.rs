//! `pan_inline_scan` and `pan_batch_scan`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use mcp_core::{CallCtx, Effect, ToolDef, ToolError, ToolSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Content, MetadataInput, ToolEventInput, ai_profile, metadata};
use crate::Airs;
use crate::client::limits::{
    self, MAX_ASYNC_PAYLOAD, MAX_BATCH_ITEMS, MAX_PER_REQUEST, MAX_SYNC_PAYLOAD,
};
use crate::client::model::{
    AiProfile, AsyncScanObject, AsyncScanResponse, DetectionFlags, Metadata, Passthrough,
    ScanContent, ScanRequest, ScanResponse,
};
use crate::tools::results::{ItemResult, collect_results};

const PAN_INLINE_SCAN: ToolSpec = ToolSpec {
    name: "pan_inline_scan",
    title: "Scan content now",
    description: "Scan a prompt, response, code or tool event with Prisma AIRS and wait for the verdict: category (benign/malicious), action (allow/block) and which detectors fired (prompt injection, DLP, URL categories, toxic content, malicious code, agent, topic, grounding).",
    scope: "airs:scan",
    toolset: "scan",
    effect: Effect::ReadOnly,
    open_world: true,
};

const PAN_BATCH_SCAN: ToolSpec = ToolSpec {
    name: "pan_batch_scan",
    title: "Scan many items",
    description: "Submit many items for asynchronous scanning. Returns scan ids (one per group of five items) with each item's req_id; with wait_seconds, also polls until the results are complete or the time is up.",
    scope: "airs:scan",
    toolset: "scan",
    effect: Effect::ReadOnly,
    open_world: true,
};

/// How many async requests may be in flight at once for one batch call.
const FAN_OUT: usize = 4;
const MAX_WAIT_SECONDS: u32 = 120;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineScanInput {
    /// User prompt to scan.
    #[schemars(extend("x-secret" = true))]
    pub prompt: Option<String>,
    /// Model response to scan.
    #[schemars(extend("x-secret" = true))]
    pub response: Option<String>,
    /// Code in the prompt.
    #[schemars(extend("x-secret" = true))]
    pub code_prompt: Option<String>,
    /// Code in the response.
    #[schemars(extend("x-secret" = true))]
    pub code_response: Option<String>,
    /// Grounding context for the response (checked for ungrounded answers, not scanned itself).
    #[schemars(extend("x-secret" = true))]
    pub context: Option<String>,
    /// A tool invocation to scan.
    #[schemars(extend("x-secret" = true))]
    pub tool_event: Option<ToolEventInput>,
    /// Security profile by name (default: PANW_AI_PROFILE_NAME / PANW_AI_PROFILE_ID).
    pub profile_name: Option<String>,
    /// Security profile by id.
    pub profile_id: Option<String>,
    /// Your transaction id, echoed back.
    pub tr_id: Option<String>,
    /// Your session id, to group scans.
    pub session_id: Option<String>,
    /// Application, user and model the scan is for; shown in the AIRS logs.
    pub metadata: Option<MetadataInput>,
}

/// The verdict of one scan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Verdict {
    /// `benign` or `malicious`.
    pub category: String,
    /// `allow` or `block`.
    pub action: String,
    /// The scan's id, for pan_get_scan_results.
    pub scan_id: String,
    /// The threat report's id, for pan_get_scan_reports.
    pub report_id: String,
    /// Your transaction id, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tr_id: Option<String>,
    /// Your session id, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The security profile that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    /// Detector flags for the prompt side.
    pub prompt_detected: DetectionFlags,
    /// Detector flags for the response side.
    pub response_detected: DetectionFlags,
    /// Every other field AIRS returned, kept as is.
    pub other: Passthrough,
}

/// The verdict of a sync scan answer (the client has checked its category and action).
pub fn verdict(r: ScanResponse) -> Verdict {
    Verdict {
        category: r.category.unwrap_or_default(),
        action: r.action.unwrap_or_default(),
        scan_id: r.scan_id.unwrap_or_default(),
        report_id: r.report_id.unwrap_or_default(),
        tr_id: r.tr_id,
        session_id: r.session_id,
        profile_name: r.profile_name,
        prompt_detected: r.prompt_detected.unwrap_or_default(),
        response_detected: r.response_detected.unwrap_or_default(),
        other: r.other,
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// User prompt to scan.
    pub prompt: Option<String>,
    /// Model response to scan.
    pub response: Option<String>,
    /// Code in the prompt.
    pub code_prompt: Option<String>,
    /// Code in the response.
    pub code_response: Option<String>,
    /// Grounding context for the response (checked for ungrounded answers, not scanned itself).
    pub context: Option<String>,
    /// A tool invocation to scan.
    pub tool_event: Option<ToolEventInput>,
    /// Your transaction id for this item.
    pub tr_id: Option<String>,
    /// Your session id for this item.
    pub session_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchScanInput {
    /// Items to scan, 1-500; each needs at least one content field. Sent five per request.
    #[schemars(extend("x-secret" = true))]
    pub items: Vec<BatchItem>,
    /// Security profile by name for the whole batch (default from the server's settings).
    pub profile_name: Option<String>,
    /// Security profile by id for the whole batch.
    pub profile_id: Option<String>,
    /// Application, user and model the batch is for; shown in the AIRS logs.
    pub metadata: Option<MetadataInput>,
    /// Poll results until complete or this many seconds pass (0-120; default 0: do not wait).
    pub wait_seconds: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Batch {
    /// The scan id of this request, shared by its items.
    pub scan_id: String,
    /// The report id of this request, when AIRS gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    /// The req_ids sent in this request.
    pub req_ids: Vec<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchOutput {
    /// One entry per request of up to five items, in item order.
    pub batches: Vec<Batch>,
    /// Per item, in the order given: its req_id (item index + 1) and scan_id.
    pub items: Vec<ItemRef>,
    /// With wait_seconds: the result of each item, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<ItemResult>>,
    /// With wait_seconds: whether every item completed in time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ItemRef {
    /// The item's req_id: its index in `items` + 1.
    pub req_id: u32,
    /// The scan id of the request that carried it.
    pub scan_id: String,
}

/// The batch entry of an async scan answer for the items `req_ids`.
pub fn batch(resp: AsyncScanResponse, req_ids: Vec<u32>) -> Batch {
    Batch {
        scan_id: resp.scan_id,
        report_id: resp.report_id,
        req_ids,
    }
}

pub fn tools() -> Vec<ToolDef<Airs>> {
    vec![
        ToolDef::new(PAN_INLINE_SCAN, pan_inline_scan),
        ToolDef::new(PAN_BATCH_SCAN, pan_batch_scan),
    ]
}

fn scan_request(
    profile: &AiProfile,
    meta: &Option<Metadata>,
    content: ScanContent,
    tr_id: Option<&str>,
    session_id: Option<&str>,
    prefix: &str,
) -> Result<ScanRequest, ToolError> {
    let name = |f: &str| {
        if prefix.is_empty() {
            f.to_string()
        } else {
            format!("{prefix}.{f}")
        }
    };
    if let Some(t) = tr_id {
        limits::check_id_field(&name("tr_id"), t)?;
    }
    if let Some(s) = session_id {
        limits::check_id_field(&name("session_id"), s)?;
    }
    Ok(ScanRequest {
        tr_id: tr_id.map(str::to_string),
        session_id: session_id.map(str::to_string),
        ai_profile: profile.clone(),
        metadata: meta.clone(),
        contents: vec![content],
    })
}

async fn pan_inline_scan(
    s: Arc<Airs>,
    _ctx: CallCtx,
    i: InlineScanInput,
) -> Result<Verdict, ToolError> {
    let content = Content {
        prompt: i.prompt.as_deref(),
        response: i.response.as_deref(),
        code_prompt: i.code_prompt.as_deref(),
        code_response: i.code_response.as_deref(),
        context: i.context.as_deref(),
        tool_event: i.tool_event.as_ref(),
    }
    .to_content("")?;
    let profile = ai_profile(
        &s.default_profile,
        &s.allowed_profiles,
        i.profile_name.as_deref(),
        i.profile_id.as_deref(),
    )?;
    let meta = metadata(i.metadata.as_ref())?;
    let req = scan_request(
        &profile,
        &meta,
        content,
        i.tr_id.as_deref(),
        i.session_id.as_deref(),
        "",
    )?;
    let size = serde_json::to_vec(&req).map_err(ToolError::internal)?.len();
    if size > MAX_SYNC_PAYLOAD {
        return Err(ToolError::invalid(
            "prompt",
            format!(
                "the scan request is {size} bytes; a sync scan takes at most {MAX_SYNC_PAYLOAD} (use pan_batch_scan for up to 5 MB per group)"
            ),
        ));
    }
    Ok(verdict(s.client.sync_scan(&req).await?))
}

async fn pan_batch_scan(
    s: Arc<Airs>,
    _ctx: CallCtx,
    i: BatchScanInput,
) -> Result<BatchOutput, ToolError> {
    mcp_core::validate::bounded_list("items", &i.items, 1, MAX_BATCH_ITEMS)?;
    let wait = i.wait_seconds.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ToolError::invalid(
            "wait_seconds",
            format!("must be at most {MAX_WAIT_SECONDS}"),
        ));
    }
    let profile = ai_profile(
        &s.default_profile,
        &s.allowed_profiles,
        i.profile_name.as_deref(),
        i.profile_id.as_deref(),
    )?;
    let meta = metadata(i.metadata.as_ref())?;
    // Validate every item before anything is sent.
    let mut wrapped = Vec::with_capacity(i.items.len());
    for (n, item) in i.items.iter().enumerate() {
        let prefix = format!("items[{n}]");
        let content = Content {
            prompt: item.prompt.as_deref(),
            response: item.response.as_deref(),
            code_prompt: item.code_prompt.as_deref(),
            code_response: item.code_response.as_deref(),
            context: item.context.as_deref(),
            tool_event: item.tool_event.as_ref(),
        }
        .to_content(&prefix)?;
        let req = scan_request(
            &profile,
            &meta,
            content,
            item.tr_id.as_deref(),
            item.session_id.as_deref(),
            &prefix,
        )?;
        let req_id = u32::try_from(n + 1).map_err(ToolError::internal)?;
        wrapped.push(AsyncScanObject {
            req_id,
            scan_req: req,
        });
    }
    let chunks: Vec<Vec<AsyncScanObject>> = wrapped
        .chunks(MAX_PER_REQUEST)
        .map(<[AsyncScanObject]>::to_vec)
        .collect();
    for (c, chunk) in chunks.iter().enumerate() {
        let size = serde_json::to_vec(chunk)
            .map_err(ToolError::internal)?
            .len();
        if size > MAX_ASYNC_PAYLOAD {
            let first = c * MAX_PER_REQUEST;
            return Err(ToolError::invalid(
                format!("items[{first}..{}]", first + chunk.len() - 1),
                format!(
                    "these items make a {size}-byte request; an async request takes at most {MAX_ASYNC_PAYLOAD}"
                ),
            ));
        }
    }
    let client = &s.client;
    let batches: Vec<Batch> = futures::stream::iter(chunks.into_iter().map(|chunk| async move {
        let req_ids: Vec<u32> = chunk.iter().map(|w| w.req_id).collect();
        let resp = client.async_scan(&chunk).await?;
        Ok::<_, ToolError>(batch(resp, req_ids))
    }))
    .buffered(FAN_OUT)
    .try_collect()
    .await?;
    let items: Vec<ItemRef> = batches
        .iter()
        .flat_map(|b| {
            b.req_ids.iter().map(|r| ItemRef {
                req_id: *r,
                scan_id: b.scan_id.clone(),
            })
        })
        .collect();
    if wait == 0 {
        return Ok(BatchOutput {
            batches,
            items,
            results: None,
            complete: None,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(u64::from(wait));
    let scan_ids: Vec<String> = batches.iter().map(|b| b.scan_id.clone()).collect();
    let mut pause = Duration::from_millis(100);
    loop {
        let (found, _missing) = collect_results(client, &scan_ids).await?;
        let by_key: BTreeMap<(String, u32), ItemResult> = found
            .into_iter()
            .map(|r| ((r.scan_id.clone(), r.req_id), r))
            .collect();
        let results: Vec<ItemResult> = items
            .iter()
            .map(|it| {
                by_key
                    .get(&(it.scan_id.clone(), it.req_id))
                    .cloned()
                    .unwrap_or_else(|| ItemResult::pending(&it.scan_id, it.req_id))
            })
            .collect();
        let complete = results.iter().all(|r| r.status == "complete");
        if complete || Instant::now() + pause > deadline {
            return Ok(BatchOutput {
                batches,
                items,
                results: Some(results),
                complete: Some(complete),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
