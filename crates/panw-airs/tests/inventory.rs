//! Inventory-wide rules and one schema snapshot per tool.

use mcp_core::App;
use mcp_core::tool::check_inventory;
use panw_airs::Airs;

#[test]
fn inventory_follows_the_rules() {
    let tools = Airs::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<(&str, &str)> = tools
        .iter()
        .map(|t| (t.spec().name, t.spec().scope))
        .collect();
    assert_eq!(
        names,
        vec![
            ("pan_inline_scan", "airs:scan"),
            ("pan_batch_scan", "airs:scan"),
            ("pan_get_scan_results", "airs:read"),
            ("pan_get_scan_reports", "airs:read"),
        ]
    );
}

#[test]
fn tool_schema_snapshots() {
    for t in Airs::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}
