//! Inventory-wide rules and one schema snapshot per tool.

use aws_whitelist::Whitelist;
use mcp_core::App;
use mcp_core::tool::check_inventory;

#[test]
fn inventory_follows_the_rules() {
    let tools = Whitelist::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<(&str, &str)> = tools
        .iter()
        .map(|t| (t.spec().name, t.spec().scope))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("capabilities", "aws:read"),
            ("find_security_group", "aws:read"),
            ("get_my_ip", "aws:read"),
            ("health", "aws:read"),
            ("list_profiles", "aws:read"),
            ("list_rules", "aws:read"),
            ("list_security_groups", "aws:read"),
            ("remove_whitelist", "aws:write"),
            ("sweep_expired", "aws:write"),
            ("test_credentials", "aws:read"),
            ("whitelist", "aws:write"),
            ("whitelist_bulk", "aws:write"),
        ]
    );
}

#[test]
fn tool_schema_snapshots() {
    for t in Whitelist::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}
