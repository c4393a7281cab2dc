//! One schema snapshot per tool: any change to a tool's contract (name, description,
//! schemas, annotations, scope, toolset) shows up in review. The inventory rules run once for
//! every server in `crates/workspace-tests`.

use mcp_core::App;
use panw_airs::Airs;

#[test]
fn tool_schema_snapshots() {
    for t in Airs::tools() {
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }
}

#[test]
fn resource_snapshots() {
    let all: Vec<_> = Airs::resources().iter().map(|r| r.describe()).collect();
    insta::assert_json_snapshot!("resources", all);
}

#[test]
fn prompt_snapshots() {
    let all: Vec<_> = Airs::prompts().iter().map(|p| p.describe()).collect();
    insta::assert_json_snapshot!("prompts", all);
}
