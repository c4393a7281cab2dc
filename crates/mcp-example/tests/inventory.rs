//! Inventory-wide rules and one schema snapshot per tool: any change to a tool's contract
//! (name, description, schemas, annotations, scope, toolset) shows up in review.

use mcp_core::App;
use mcp_core::tool::check_inventory;
use mcp_example::Example;

#[test]
fn inventory_follows_the_rules() {
    let tools = Example::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{e}"));
    for t in &tools {
        let ann = t
            .tool()
            .annotations
            .as_ref()
            .expect("annotations are always set");
        assert_eq!(
            ann.read_only_hint,
            Some(t.spec().effect.is_read_only()),
            "{}",
            t.spec().name
        );
    }
}

#[test]
fn tool_schema_snapshots() {
    for t in Example::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}
