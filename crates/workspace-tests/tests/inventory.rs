//! The inventory rules (`mcp_core::tool::check_inventory`), once, over every server's tools,
//! and each server's tool names with their scopes. The per-tool schema snapshots stay in each
//! crate's own `tests/inventory.rs`.

use mcp_core::tool::{ToolDef, check_inventory};
use mcp_core::{App, Effect};

/// Name and scope of every tool, sorted.
fn scopes<S>(tools: &[ToolDef<S>]) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = tools
        .iter()
        .map(|t| (t.spec().name, t.spec().scope))
        .collect();
    v.sort();
    v
}

fn rules<A: App>() -> Vec<ToolDef<A>> {
    let tools = A::tools();
    check_inventory(&tools).unwrap_or_else(|e| panic!("{}: {e}", A::meta().name));
    tools
}

#[test]
fn paloalto_ngfw() {
    mcp_core::resource::check_resources(&<paloalto_ngfw::Ngfw as App>::resources())
        .unwrap_or_else(|e| panic!("paloalto-ngfw: {e}"));
    let tools = rules::<paloalto_ngfw::Ngfw>();
    assert_eq!(
        scopes(&tools),
        vec![
            ("commit_changes", "ngfw:write"),
            ("commit_status", "ngfw:read"),
            ("delete_address_group", "ngfw:write"),
            ("delete_address_object", "ngfw:write"),
            ("delete_security_rule", "ngfw:write"),
            ("delete_service_object", "ngfw:write"),
            ("delete_tag", "ngfw:write"),
            ("explain_traffic", "ngfw:read"),
            ("get_system_info", "ngfw:read"),
            ("list_device_groups", "ngfw:read"),
            ("list_managed_devices", "ngfw:read"),
            ("move_security_rule", "ngfw:write"),
            ("preview_changes", "ngfw:read"),
            ("push_to_devices", "ngfw:write"),
            ("query_logs", "ngfw:read"),
            ("retrieve_address_groups", "ngfw:read"),
            ("retrieve_address_objects", "ngfw:read"),
            ("retrieve_nat_policies", "ngfw:read"),
            ("retrieve_rule_hit_counts", "ngfw:read"),
            ("retrieve_security_policies", "ngfw:read"),
            ("retrieve_security_zones", "ngfw:read"),
            ("retrieve_service_objects", "ngfw:read"),
            ("revert_changes", "ngfw:write"),
            ("set_address_group", "ngfw:write"),
            ("set_address_object", "ngfw:write"),
            ("set_security_rule", "ngfw:write"),
            ("set_service_object", "ngfw:write"),
            ("set_tag", "ngfw:write"),
            ("show_ha_state", "ngfw:read"),
            ("show_interfaces", "ngfw:read"),
            ("show_routes", "ngfw:read"),
            ("show_sessions", "ngfw:read"),
            ("test_nat_policy_match", "ngfw:read"),
            ("test_security_policy_match", "ngfw:read"),
        ]
    );
    // Reads are read-only; every write needs ngfw:write and declares when it asks a human.
    for t in &tools {
        let read = t.spec().scope == "ngfw:read";
        assert_eq!(
            t.spec().effect == Effect::ReadOnly,
            read,
            "{}",
            t.spec().name
        );
        assert_eq!(t.confirm_policy().is_some(), !read, "{}", t.spec().name);
    }
}

#[test]
fn panw_airs() {
    mcp_core::resource::check_resources(&<panw_airs::Airs as App>::resources())
        .unwrap_or_else(|e| panic!("panw-airs: {e}"));
    let tools = rules::<panw_airs::Airs>();
    assert_eq!(
        scopes(&tools),
        vec![
            ("pan_batch_scan", "airs:scan"),
            ("pan_get_scan_reports", "airs:read"),
            ("pan_get_scan_results", "airs:read"),
            ("pan_inline_scan", "airs:scan"),
        ]
    );
}

#[test]
fn aws_whitelist() {
    let tools = rules::<aws_whitelist::Whitelist>();
    assert_eq!(
        scopes(&tools),
        vec![
            ("capabilities", "aws:read"),
            ("check_access", "aws:read"),
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
fn proxmox() {
    mcp_core::resource::check_resources(&<proxmox::Proxmox as App>::resources())
        .unwrap_or_else(|e| panic!("proxmox: {e}"));
    let tools = rules::<proxmox::Proxmox>();
    assert_eq!(
        scopes(&tools),
        vec![
            ("backup_guest", "proxmox:backup"),
            ("create_snapshot", "proxmox:snapshot"),
            ("delete_snapshot", "proxmox:snapshot"),
            ("execute_command", "proxmox:exec"),
            ("guest_config", "proxmox:read"),
            ("list_backups", "proxmox:read"),
            ("list_firewall_rules", "proxmox:read"),
            ("list_networks", "proxmox:read"),
            ("list_nodes", "proxmox:read"),
            ("list_snapshots", "proxmox:read"),
            ("list_storage", "proxmox:read"),
            ("list_tasks", "proxmox:read"),
            ("list_vms", "proxmox:read"),
            ("node_status", "proxmox:read"),
            ("proxmox_api", "proxmox:read"),
            ("restore_backup", "proxmox:backup"),
            ("rollback_snapshot", "proxmox:snapshot"),
            ("set_guest_config", "proxmox:config"),
            ("task_log", "proxmox:read"),
            ("task_status", "proxmox:read"),
            ("vm_action", "proxmox:power"),
            ("vm_status", "proxmox:read"),
        ]
    );
}

/// The template's own tools follow the rules; the conformance fixtures (toolset
/// `conformance`) return exactly what the conformance suite expects, content blocks without
/// structured output, so they are outside them.
#[test]
fn mcp_example() {
    let tools: Vec<_> = mcp_example::Example::tools()
        .into_iter()
        .filter(|t| t.spec().toolset != "conformance")
        .collect();
    check_inventory(&tools).unwrap_or_else(|e| panic!("mcp-example: {e}"));
    assert_eq!(
        scopes(&tools),
        vec![
            ("delete_item", "example:write"),
            ("get_item", "example:read"),
            ("set_item", "example:write"),
            ("slow_echo", "example:read"),
        ]
    );
}
