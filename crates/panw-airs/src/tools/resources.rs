//! Scan results and threat reports as MCP resources (`airs:read`), read as
//! `pan_get_scan_results` and `pan_get_scan_reports` answer for one id.

use std::sync::Arc;

use mcp_core::{ResourceDef, ResourceSpec, ToolError};

use super::results::{
    ReportsInput, ResultsInput, pan_get_scan_reports_for, pan_get_scan_results_for,
};
use crate::Airs;

const SCAN: ResourceSpec = ResourceSpec {
    uri: "airs://scans/{id}",
    name: "scan",
    title: "Scan result",
    description: "The result of one scan by scan_id (as pan_get_scan_results answers for it): status, verdict and what was detected.",
    scope: "airs:read",
    toolset: "results",
};

const REPORT: ResourceSpec = ResourceSpec {
    uri: "airs://reports/{id}",
    name: "report",
    title: "Threat report",
    description: "One threat report by report_id (as pan_get_scan_reports answers for it): each detector's verdict and details.",
    scope: "airs:read",
    toolset: "results",
};

fn id(vars: &std::collections::BTreeMap<String, String>) -> Result<String, ToolError> {
    vars.get("id")
        .cloned()
        .ok_or_else(|| ToolError::invalid("id", "is required"))
}

pub fn resources() -> Vec<ResourceDef<Airs>> {
    vec![
        ResourceDef::new(SCAN, |s: Arc<Airs>, vars| async move {
            let id = id(&vars)?;
            let out = pan_get_scan_results_for(
                s,
                ResultsInput {
                    scan_ids: vec![id.clone()],
                },
            )
            .await?;
            if out.missing.contains(&id) {
                return Err(ToolError::NotFound(format!("AIRS knows no scan {id}")));
            }
            Ok(out)
        }),
        ResourceDef::new(REPORT, |s: Arc<Airs>, vars| async move {
            let id = id(&vars)?;
            let out = pan_get_scan_reports_for(
                s,
                ReportsInput {
                    report_ids: vec![id.clone()],
                },
            )
            .await?;
            if out.missing.contains(&id) {
                return Err(ToolError::NotFound(format!("AIRS knows no report {id}")));
            }
            Ok(out)
        }),
    ]
}
