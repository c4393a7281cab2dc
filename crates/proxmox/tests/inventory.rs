//! Inventory-wide rules and one schema snapshot per tool.

use mcp_core::App;
use mcp_core::tool::check_inventory;
use proxmox_mcp::Proxmox;

#[test]
fn inventory_follows_the_rules() {
    let tools = Proxmox::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<(&str, &str)> = tools
        .iter()
        .map(|t| (t.spec().name, t.spec().scope))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("execute_command", "proxmox:exec"),
            ("list_nodes", "proxmox:read"),
            ("list_vms", "proxmox:read"),
            ("node_status", "proxmox:read"),
            ("proxmox_api", "proxmox:read"),
            ("task_status", "proxmox:read"),
            ("vm_action", "proxmox:power"),
            ("vm_status", "proxmox:read"),
        ]
    );
}

#[test]
fn tool_schema_snapshots() {
    for t in Proxmox::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}
