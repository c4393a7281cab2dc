//! The server's reading of real PVE 7 and 8 answers (the shared fixtures).

use proxmox_mcp::tools::vms::guests_of;
use serde_json::Value;
use test_support::shared_fixtures;

fn load(name: &str) -> Value {
    let path = shared_fixtures().join("proxmox/api-responses").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["data"].clone()
}

#[test]
fn cluster_resources_of_both_versions() {
    for file in [
        "pve7x_GET_cluster_resources_200.json",
        "pve8x_GET_cluster_resources_200.json",
    ] {
        let data = load(file);
        let all = data.as_array().map(Vec::len).unwrap_or(0);
        let guests = guests_of(&data);
        let kinds: Vec<&str> = guests.iter().filter_map(|g| g["type"].as_str()).collect();
        assert!(
            kinds.iter().all(|k| *k == "qemu" || *k == "lxc"),
            "{file}: {kinds:?}"
        );
        assert!(guests.len() <= all, "{file}");
        for g in &guests {
            assert!(
                g["vmid"].as_u64().is_some() && g["node"].as_str().is_some(),
                "{file}: a guest without vmid or node: {g}"
            );
        }
    }
}

#[test]
fn status_and_nodes_shapes() {
    for file in [
        "pve7x_GET_nodes_node1_qemu_101_status_current_200.json",
        "pve8x_GET_nodes_node1_qemu_101_status_current_200.json",
    ] {
        let d = load(file);
        assert!(
            d["status"].as_str().is_some(),
            "{file}: status is what vm_status reports"
        );
    }
    for file in ["pve7x_GET_nodes_200.json", "pve8x_GET_nodes_200.json"] {
        let d = load(file);
        let nodes = d.as_array().expect("nodes");
        assert!(
            nodes
                .iter()
                .all(|n| n["node"].as_str().is_some() && n["status"].as_str().is_some()),
            "{file}"
        );
    }
    for file in [
        "pve7x_GET_nodes_doesntexist_status_500.json",
        "pve8x_GET_nodes_doesntexist_status_500.json",
    ] {
        assert!(
            load(file).is_null(),
            "{file}: PVE errors carry data: null; the message is in the reason phrase"
        );
    }
}
