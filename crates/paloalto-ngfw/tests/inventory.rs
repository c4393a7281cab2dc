//! Inventory-wide rules and one schema snapshot per tool.

use mcp_core::App;
use mcp_core::tool::check_inventory;
use paloalto_ngfw::Ngfw;

#[test]
fn inventory_follows_the_rules() {
    let tools = Ngfw::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tools.len(), 8);
    for t in &tools {
        assert!(
            t.spec().effect.is_read_only(),
            "{} must be read-only in this release",
            t.spec().name
        );
        assert_eq!(t.spec().scope, "ngfw:read");
        assert!(
            t.tool().output_schema.is_some(),
            "{} has an output schema",
            t.spec().name
        );
    }
}

#[test]
fn tool_schema_snapshots() {
    for t in Ngfw::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}
