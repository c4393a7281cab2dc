//! Prisma AIRS API responses: the HTTP mapping, the scan verdict, async batch answers, and
//! the merging of results and reports pages.
//!
//! Input: a JSON body (optionally after a `NNN reason\nheaders\n\n` block, see the crate
//! docs). Nothing may panic, and the merges keep their promises for any JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panw_airs::client::{decode_async, decode_reports, decode_results, decode_scan, interpret};
use panw_airs::tools::results::{merge_reports, merge_results};
use panw_airs::tools::scan::{batch, verdict};
use serde_json::Value;

/// The ids a lookup could have asked for: every `scan_id` / `report_id` string in the
/// answer, plus one that is never there.
fn ids_in(items: &[Value], key: &str) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|v| v[key].as_str().map(str::to_string))
        .collect();
    ids.push("00000000-0000-0000-0000-000000000000".into());
    ids.dedup();
    ids
}

fn check_value(v: Value) {
    // A sync scan answer.
    if let Ok(r) = decode_scan(v.clone()) {
        let verdict = verdict(r);
        assert_eq!(Some(verdict.category.as_str()), v["category"].as_str());
        assert_eq!(Some(verdict.action.as_str()), v["action"].as_str());
        assert!(!verdict.other.contains_key("category"));
        serde_json::to_string(&verdict).expect("a verdict serialises");
    } else {
        assert!(
            v["category"].as_str().is_none() || v["action"].as_str().is_none(),
            "a scan answer with a category and an action was refused"
        );
    }
    // An async scan answer.
    if let Ok(a) = decode_async(v.clone()) {
        let b = batch(a, vec![1, 2, 3]);
        assert_eq!(Some(b.scan_id.as_str()), v["scan_id"].as_str());
    }
    // A results or reports page.
    let Value::Array(items) = &v else {
        assert!(decode_results(v.clone()).is_err() && decode_reports(v).is_err());
        return;
    };
    let scan_ids = ids_in(items, "scan_id");
    let results = decode_results(v.clone()).expect("an array is a results page");
    let (found, missing) = merge_results(&scan_ids, &results);
    for r in &found {
        assert!(
            scan_ids.contains(&r.scan_id),
            "a result for an id not asked for"
        );
        assert!(
            !missing.contains(&r.scan_id),
            "an id both found and missing"
        );
    }
    for id in &scan_ids {
        assert!(
            found.iter().any(|r| &r.scan_id == id) || missing.contains(id),
            "id {id:?} neither found nor missing"
        );
    }
    serde_json::to_string(&found).expect("results serialise");
    let report_ids = ids_in(items, "report_id");
    let all = decode_reports(v.clone()).expect("an array is a reports page");
    let (reports, missing) = merge_reports(&report_ids, &all);
    for r in &reports {
        let id = r.report_id.as_deref().expect("a report has its id");
        assert!(report_ids.iter().any(|x| x == id) && !missing.iter().any(|x| x == id));
    }
    serde_json::to_string(&reports).expect("reports serialise");
}

fuzz_target!(|data: &[u8]| {
    secops_fuzz::each_interpreted(data, interpret, check_value);
    // Any JSON value, whatever the status line said.
    if let Ok(v) = serde_json::from_slice::<Value>(secops_fuzz::split_http(data).body) {
        check_value(v);
    }
});
