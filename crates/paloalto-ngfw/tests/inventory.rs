//! One schema snapshot per tool: any change to a tool's contract (name, description,
//! schemas, annotations, scope, toolset) shows up in review. The inventory rules run once for
//! every server in `crates/workspace-tests`.

use mcp_core::App;
use paloalto_ngfw::Ngfw;

#[test]
fn tool_schema_snapshots() {
    for t in Ngfw::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}

#[test]
fn resource_snapshots() {
    let all: Vec<_> = Ngfw::resources().iter().map(|r| r.describe()).collect();
    insta::assert_json_snapshot!("resources", all);
}
