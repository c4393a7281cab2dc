//! The server's reading of real PVE 7 and 8 answers (the shared fixtures): each typed model
//! reads them, and writes them back unchanged (the tools report PVE's answers whole).

use proxmox::client::model::{
    GuestConfig, GuestKind, GuestStatus, NodeEntry, NodeStatus, guests_of,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use test_support::shared_fixtures;

fn load(name: &str) -> Value {
    let path = shared_fixtures().join("proxmox/api-responses").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["data"].clone()
}

/// `data` read as `T`, and `T` written back: the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(file: &str, data: &Value) -> T {
    let typed: T = serde_json::from_value(data.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(
        &serde_json::to_value(&typed).expect("serialises"),
        data,
        "{file}: the model changed the answer"
    );
    typed
}

#[test]
fn cluster_resources_of_both_versions() {
    for file in [
        "pve7x_GET_cluster_resources_200.json",
        "pve8x_GET_cluster_resources_200.json",
    ] {
        let data = load(file);
        let all = data.as_array().expect("resources");
        let guests = guests_of(&data);
        let listed = all
            .iter()
            .filter(|r| matches!(r["type"].as_str(), Some("qemu" | "lxc")))
            .count();
        assert_eq!(guests.len(), listed, "{file}: every guest is read");
        for g in &guests {
            assert!(matches!(g.kind, GuestKind::Qemu | GuestKind::Lxc));
            let original = all
                .iter()
                .find(|r| r["vmid"] == g.vmid && r["type"] == g.kind.as_str())
                .expect("listed");
            assert_eq!(
                &serde_json::to_value(g).expect("serialises"),
                original,
                "{file}"
            );
        }
    }
}

#[test]
fn status_and_nodes_shapes() {
    for file in [
        "pve7x_GET_nodes_node1_qemu_101_status_current_200.json",
        "pve8x_GET_nodes_node1_qemu_101_status_current_200.json",
        "pve7x_GET_nodes_node1_lxc_101_status_current_200.json",
        "pve8x_GET_nodes_node1_lxc_101_status_current_200.json",
    ] {
        let st: GuestStatus = round_trip(file, &load(file));
        assert!(
            st.status.is_some(),
            "{file}: status is what vm_status reports"
        );
    }
    for file in ["pve7x_GET_nodes_200.json", "pve8x_GET_nodes_200.json"] {
        let nodes: Vec<NodeEntry> = round_trip(file, &load(file));
        assert!(
            !nodes.is_empty() && nodes.iter().all(|n| n.status.is_some()),
            "{file}"
        );
    }
    for file in [
        "pve7x_GET_nodes_node1_status_200.json",
        "pve8x_GET_nodes_node1_status_200.json",
    ] {
        let st: NodeStatus = round_trip(file, &load(file));
        assert!(st.pveversion.is_some(), "{file}");
    }
    for file in [
        "pve7x_GET_nodes_node1_lxc_101_config_200.json",
        "pve8x_GET_nodes_node1_lxc_101_config_200.json",
        "pve8x_GET_nodes_node1_qemu_100_config_200.json",
    ] {
        serde_json::from_value::<GuestConfig>(load(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
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
