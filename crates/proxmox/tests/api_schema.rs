//! Every call the server makes exists in the real Proxmox VE API: each row of the client's
//! table (`proxmox::client::calls::table`) is looked up in PVE's own API schema, the shared
//! fixture `proxmox/schema/apidata.js` (read through `SECOPS_FIXTURES_DIR`; AGPL, never copied
//! here), independently of the simulator: the path template, the method, and every parameter
//! the call sends, with a compatible type.

use std::collections::BTreeMap;

use proxmox::client::calls::table;
use serde_json::Value;
use test_support::shared_fixtures;

/// `path -> info` for every node of the schema tree.
fn schema() -> BTreeMap<String, Value> {
    let file = shared_fixtures().join("proxmox/schema/apidata.js");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (see its ORIGIN.md)", file.display()));
    let json = text
        .trim()
        .strip_prefix("const apiSchema = ")
        .and_then(|t| t.strip_suffix(';'))
        .expect("apidata.js is `const apiSchema = [...];`");
    let tree: Value = serde_json::from_str(json).expect("the schema is JSON");
    let mut out = BTreeMap::new();
    fn walk(nodes: &Value, out: &mut BTreeMap<String, Value>) {
        for n in nodes.as_array().into_iter().flatten() {
            if let Some(p) = n["path"].as_str() {
                out.insert(p.to_string(), n["info"].clone());
            }
            walk(&n["children"], out);
        }
    }
    walk(&tree, &mut out);
    out
}

/// Whether a parameter we send as JSON type `ours` fits the schema's `theirs` (PVE reads
/// query and form values as text, and takes 0/1 for booleans).
fn compatible(ours: &str, theirs: &str) -> bool {
    ours == theirs
        || (theirs == "string" && ours != "object")
        || (theirs == "boolean" && ours == "integer")
        || (theirs == "number" && ours == "integer")
}

#[test]
fn every_call_exists_in_the_pve_api_schema() {
    let schema = schema();
    assert!(
        schema.len() > 400,
        "a whole PVE schema: {} paths",
        schema.len()
    );
    let rows = table();
    assert!(!rows.is_empty());
    let mut problems = Vec::new();
    for row in &rows {
        let Some(info) = schema.get(&row.template) else {
            problems.push(format!("{} {}: no such path", row.method, row.template));
            continue;
        };
        let Some(m) = info.get(row.method) else {
            problems.push(format!(
                "{} {}: the path has no {} (it has {:?})",
                row.method,
                row.template,
                row.method,
                info.as_object().map(|o| o.keys().collect::<Vec<_>>())
            ));
            continue;
        };
        let props = &m["parameters"]["properties"];
        for (name, ours) in row.params {
            match props.get(*name) {
                None => problems.push(format!(
                    "{} {}: no parameter `{name}`",
                    row.method, row.template
                )),
                Some(p) => {
                    let theirs = p["type"].as_str().unwrap_or("string");
                    if !compatible(ours, theirs) {
                        problems.push(format!(
                            "{} {}: `{name}` is {theirs} in PVE, we send {ours}",
                            row.method, row.template
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "calls that do not match PVE's API:\n{}",
        problems.join("\n")
    );
}

/// The check itself can fail: a made-up path, method or parameter is reported.
#[test]
fn the_check_finds_calls_that_do_not_exist() {
    let schema = schema();
    assert!(schema.contains_key("/nodes/{node}/qemu/{vmid}/status/reset"));
    assert!(
        !schema.contains_key("/nodes/{node}/lxc/{vmid}/status/reset"),
        "containers have no reset"
    );
    let resources = &schema["/cluster/resources"]["GET"]["parameters"]["properties"];
    assert!(resources.get("type").is_some() && resources.get("kind").is_none());
    assert!(
        schema["/nodes/{node}/tasks/{upid}/status"]
            .get("POST")
            .is_none()
    );
    // RAM snapshots exist for VMs only; a restore of a container goes through `ostemplate`.
    let snap = |k: &str| {
        &schema[&format!("/nodes/{{node}}/{k}/{{vmid}}/snapshot")]["POST"]["parameters"]["properties"]
    };
    assert!(snap("qemu").get("vmstate").is_some() && snap("lxc").get("vmstate").is_none());
    let create =
        |k: &str| &schema[&format!("/nodes/{{node}}/{k}")]["POST"]["parameters"]["properties"];
    assert!(create("qemu").get("archive").is_some() && create("lxc").get("archive").is_none());
    assert!(create("lxc").get("ostemplate").is_some());
    // The table has a row for each of them, with those parameters.
    let rows = table();
    let row = |m: &str, t: &str| {
        rows.iter()
            .find(|r| r.method == m && r.template == t)
            .cloned()
    };
    let lxc = row("POST", "/nodes/{node}/lxc/{vmid}/snapshot").expect("lxc snapshot row");
    assert!(lxc.params.iter().all(|(n, _)| *n != "vmstate"));
    assert!(row("DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}").is_some());
    assert!(compatible("integer", "boolean") && !compatible("object", "string"));
}
