//! The API's documented limits, enforced before anything is sent.

use crate::ToolError;
use crate::validate;

/// Scans or reports per results/reports query, and items per async request.
pub const MAX_PER_REQUEST: usize = 5;
pub const MAX_SCAN_ID_LEN: usize = 36;
pub const MAX_REPORT_ID_LEN: usize = 40;
/// Largest sync request body.
pub const MAX_SYNC_PAYLOAD: usize = 2 * 1024 * 1024;
/// Largest async request body.
pub const MAX_ASYNC_PAYLOAD: usize = 5 * 1024 * 1024;
/// Largest prompt, response, code or tool-event field.
pub const MAX_CONTENT_LEN: usize = 2 * 1024 * 1024;
/// Largest contextual-grounding context.
pub const MAX_CONTEXT_LEN: usize = 100 * 1024 * 1024;
pub const MAX_ID_FIELD_LEN: usize = 100;
pub const MAX_PROFILE_NAME_LEN: usize = 100;
/// Ids one tool call may ask for (split into requests of five).
pub const MAX_IDS_PER_CALL: usize = 100;
/// Items one batch call may carry.
pub const MAX_BATCH_ITEMS: usize = 500;

/// Check scan or report ids: count, length and characters.
pub fn check_ids(field: &str, ids: &[String], max_len: usize) -> Result<(), ToolError> {
    validate::bounded_list(field, ids, 1, MAX_IDS_PER_CALL)?;
    for (i, id) in ids.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if id.is_empty() || id.len() > max_len {
            return Err(ToolError::invalid(
                f,
                format!("must be 1-{max_len} characters"),
            ));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ToolError::invalid(
                f,
                "may hold only letters, digits, `-` and `_`",
            ));
        }
    }
    Ok(())
}

/// Check a free-text identifier such as `tr_id` or `session_id`.
pub fn check_id_field(field: &str, value: &str) -> Result<(), ToolError> {
    validate::check_no_control(field, value)?;
    if value.is_empty() || value.len() > MAX_ID_FIELD_LEN {
        return Err(ToolError::invalid(
            field,
            format!("must be 1-{MAX_ID_FIELD_LEN} characters"),
        ));
    }
    Ok(())
}
