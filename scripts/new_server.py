#!/usr/bin/env python3
"""Create a new server crate from the template, `crates/mcp-example` (docs/new-server.md).

    python3 scripts/new_server.py NAME [--env-prefix PREFIX] [--scope NS] [--root DIR]

NAME is the crate, binary and server name (`acme-waf`). The script:

1. copies `crates/mcp-example/{Cargo.toml,src}` to `<root>/crates/NAME`, without the MCP
   conformance fixtures (`src/conformance/` and every block marked `conformance:begin` ...
   `conformance:end`);
2. renames: `mcp-example` -> NAME, `mcp_example` -> NAME_WITH_UNDERSCORES, the `Example*` Rust
   types -> the CamelCase name, the `example:` scopes -> `NS:`, the `EXAMPLE_` variables ->
   `PREFIX_`;
3. writes `tests/inventory.rs` (one schema snapshot per tool, like every server), and runs
   `cargo fmt` on the crate;
4. prints the `servers.toml` entry that makes the new server join the inventory test, the
   docs generation, the deploy checks and the hostile table (`--append` writes it).

It refuses a name that is not lowercase letters, digits and `-`, or a crate that exists.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "crates" / "mcp-example"
MARKED = re.compile(r"[ \t]*// conformance:begin.*?// conformance:end[^\n]*\n", re.S)

INVENTORY_TEST = '''//! One schema snapshot per tool: any change to a tool's contract (name, description,
//! schemas, annotations, scope, toolset) shows up in review. The inventory rules run for every
//! server in `crates/workspace-tests` and in `{name} tools --check`.

use mcp_core::App;
use {snake}::{camel};

#[test]
fn tool_schema_snapshots() {{
    for t in {camel}::tools() {{
        insta::assert_json_snapshot!(t.spec().name, t.describe());
    }}
}}
'''


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def rename(text: str, name: str, prefix: str, scope: str) -> str:
    snake = name.replace("-", "_")
    text = text.replace("mcp-example", name).replace("mcp_example", snake)
    text = re.sub(r"\bExample", camel(name), text)
    text = text.replace("example-upstream", f"{name}-upstream")
    text = text.replace("EXAMPLE_", f"{prefix}_")
    text = re.sub(r"\bexample:", f"{scope}:", text)
    return text


def servers_entry(name: str, scope: str) -> str:
    return (f'\n[[server]]\nname = "{name}"\ncrate = "crates/{name}"\nbinary = "{name}"\n'
            f'scopes = ["{scope}:read", "{scope}:write"]\n')


def create(name: str, prefix: str, scope: str, root: Path) -> Path:
    dest = root / "crates" / name
    if dest.exists():
        raise SystemExit(f"new_server: {dest} exists; choose another name")
    (dest / "tests").mkdir(parents=True)
    shutil.copytree(TEMPLATE / "src", dest / "src", ignore=shutil.ignore_patterns("conformance"))
    shutil.copy(TEMPLATE / "Cargo.toml", dest / "Cargo.toml")
    for path in [dest / "Cargo.toml", *sorted((dest / "src").rglob("*.rs"))]:
        text = MARKED.sub("", path.read_text())
        if path == dest / "src" / "lib.rs":
            # The template's own introduction does not describe the new server.
            text = re.sub(r"\A(//!.*\n)+", f"//! The {name} MCP server: its `App`, built from `config`, `client` and `tools`.\n", text)
        if "conformance" in text and path.name != "Cargo.toml":
            raise SystemExit(f"new_server: {path} still mentions the conformance fixtures "
                             "outside a conformance:begin/end block")
        path.write_text(rename(text, name, prefix, scope))
    (dest / "tests" / "inventory.rs").write_text(
        INVENTORY_TEST.format(name=name, snake=name.replace("-", "_"), camel=camel(name)))
    # Renaming changes the order imports sort in: leave the crate as rustfmt would.
    fmt = subprocess.run(["cargo", "fmt", "-p", name], cwd=root, capture_output=True, text=True)
    if fmt.returncode != 0:
        print(f"new_server: cargo fmt failed (run it yourself): {fmt.stderr.strip()}", file=sys.stderr)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="crate, binary and server name, e.g. acme-waf")
    ap.add_argument("--env-prefix", help="prefix of the server's own variables (default: from the name, ACME_WAF)")
    ap.add_argument("--scope", help="scope namespace (default: the name's last word, e.g. waf)")
    ap.add_argument("--root", type=Path, default=ROOT, help="workspace root to create the crate in (default: this repository)")
    ap.add_argument("--append", action="store_true", help="append the entry to <root>/servers.toml")
    a = ap.parse_args()
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", a.name) or len(a.name) > 40:
        print(f"new_server: `{a.name}` must be lowercase words joined by '-', e.g. acme-waf", file=sys.stderr)
        return 2
    prefix = a.env_prefix or a.name.upper().replace("-", "_")
    scope = a.scope or a.name.split("-")[-1]
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", prefix) or not re.fullmatch(r"[a-z][a-z0-9-]*", scope):
        print("new_server: --env-prefix is UPPER_SNAKE, --scope is lowercase", file=sys.stderr)
        return 2
    dest = create(a.name, prefix, scope, a.root)
    entry = servers_entry(a.name, scope)
    if a.append:
        with open(a.root / "servers.toml", "a") as f:
            f.write(entry)
    print(f"created {dest}")
    print(f"servers.toml entry{' (appended)' if a.append else ''}:{entry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
