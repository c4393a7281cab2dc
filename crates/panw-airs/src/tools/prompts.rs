//! Two prompts for the analyst (`airs:read`): investigate one blocked prompt, and review an
//! AI app's recent verdicts. Each tells the model which tools to call and what to report.

use std::collections::BTreeMap;

use mcp_core::{PromptArg, PromptDef, ToolError};

fn investigate(args: &BTreeMap<String, String>) -> Result<String, ToolError> {
    let scan = args.get("scan_id").map_or("", String::as_str);
    Ok(format!(
        "Prisma AIRS blocked a prompt: scan {scan}.\n\
         1. Call pan_get_scan_results with scan_ids [\"{scan}\"] and read its category, action \
         and which detectors fired (prompt_detected, response_detected).\n\
         2. Call pan_get_scan_reports with the report_id the result names, and read each \
         detector's verdict and details.\n\
         3. Report: what was detected and by which detector; the category and action; whether \
         this looks like a true positive, with your reasons; and what the user or the app's \
         owner should do next.\n\
         Do not repeat the flagged content word for word: describe it."
    ))
}

fn review(args: &BTreeMap<String, String>) -> Result<String, ToolError> {
    let app = args.get("app_name").map_or("", String::as_str);
    let ids: Vec<&str> = args
        .get("scan_ids")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ToolError::invalid(
            "scan_ids",
            "must list 1 to 100 scan ids, separated by commas",
        ));
    }
    Ok(format!(
        "Review the recent Prisma AIRS verdicts of the AI app \"{app}\".\n\
         1. Call pan_get_scan_results with scan_ids {ids:?} (at most 100 per call).\n\
         2. For the blocked ones, call pan_get_scan_reports with their report_ids.\n\
         3. Report: how many scans were allowed and blocked, by category; which detectors \
         fired most; any scan still pending or missing; and any pattern that suggests the \
         app's security profile is too strict (blocks that look benign) or too loose \
         (allowed content that looks harmful), with the scan ids that show it.\n\
         Do not repeat flagged content word for word."
    ))
}

pub fn prompts() -> Vec<PromptDef> {
    vec![
        PromptDef {
            name: "investigate_blocked_prompt",
            title: "Investigate a blocked prompt",
            description: "Walk through why Prisma AIRS blocked one prompt: its scan result, its threat report, and whether the block looks right.",
            scope: "airs:read",
            arguments: &[PromptArg {
                name: "scan_id",
                description: "The scan_id of the blocked scan.",
                required: true,
            }],
            text: investigate,
        },
        PromptDef {
            name: "review_app_verdicts",
            title: "Review an AI app's recent verdicts",
            description: "Summarise the verdicts of an AI app's recent scans: allowed and blocked by category, the detectors that fired, and signs of a mis-tuned profile.",
            scope: "airs:read",
            arguments: &[
                PromptArg {
                    name: "app_name",
                    description: "The app's name, as scans report it in metadata.app_name.",
                    required: true,
                },
                PromptArg {
                    name: "scan_ids",
                    description: "The scans to review: 1 to 100 scan ids, separated by commas.",
                    required: true,
                },
            ],
            text: review,
        },
    ]
}
