"""docs/new-server.md, run: a fifth server made from the template joins the project.

`scripts/new_server.py acme-waf` copies `crates/mcp-example` without its conformance
fixtures and renames it, in a scratch workspace beside this one (the repository's own
crates are linked in, not copied; nothing in the repository changes). Then, as the
walkthrough says:

- the `servers.toml` entry it appends is all the list-reading tools need: `servers.py list`
  names it and `gen_tool_docs.py` writes `docs/tools/acme-waf.md` beside the others;
- `cargo build` builds it (sharing this repository's target directory, so only the new crate
  and mcp-core compile);
- `acme-waf tools --json` lists its tools with the new scopes, and `acme-waf tools --check`
  passes the inventory rules every server follows;
- `acme-waf check` passes, and `acme-waf serve` answers the official MCP Python SDK over
  Streamable HTTP with a token minted by `acme-waf token`: a write, then the read of it;
  its delete_item is refused to a client that cannot confirm, and asks one that can
  (elicitation) before it deletes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAME = "acme-waf"
SECRET = "template-test-secret-0123456789abcdef"
LISTENING = re.compile(r"listening on http://(127\.0\.0\.1:\d+)")


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)


@pytest.fixture(scope="module")
def server_bin(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("ws")
    (ws / "crates").mkdir()
    for f in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "rustfmt.toml"]:
        shutil.copy(ROOT / f, ws / f)
    # The template's path dependencies, and the template itself (a workspace dependency).
    for c in ["mcp-core", "mcp-example", "test-support"]:
        (ws / "crates" / c).symlink_to(ROOT / "crates" / c, target_is_directory=True)
    # What reads the list of servers, to show the one entry is all it takes.
    shutil.copy(ROOT / "servers.toml", ws / "servers.toml")
    shutil.copytree(ROOT / "scripts", ws / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "docs" / "tools", ws / "docs" / "tools")
    (ws / "target").symlink_to(ROOT / "target", target_is_directory=True)
    made = run([sys.executable, str(ws / "scripts" / "new_server.py"), NAME, "--root", str(ws), "--append"])
    assert made.returncode == 0, made.stderr
    crate = ws / "crates" / NAME
    sources = "\n".join(p.read_text() for p in crate.rglob("*.rs"))
    assert "conformance" not in sources and "Example" not in sources and "example:" not in sources
    # No other server is wired into the scratch workspace, and nothing of it leaks back.
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target")}
    built = run(["cargo", "build", "--offline", "--quiet", "-p", NAME, "--bins"],
                cwd=ws, env=env, timeout=1500)
    assert built.returncode == 0, built.stderr[-4000:]
    fmt = run(["cargo", "fmt", "--check", "-p", NAME], cwd=ws, env=env)
    assert fmt.returncode == 0, "the generated crate is rustfmt-clean:\n" + fmt.stdout[-2000:]
    binary = ROOT / "target" / "debug" / NAME
    assert binary.exists()
    # The entry the script appended is read like every other: the docs generator writes the
    # new server's tool reference beside the others'.
    listed = run([sys.executable, str(ws / "scripts" / "servers.py"), "list"])
    assert listed.returncode == 0 and NAME in listed.stdout.split(), listed.stdout + listed.stderr
    docs = run([sys.executable, str(ws / "scripts" / "gen_tool_docs.py")], cwd=ws)
    assert docs.returncode == 0, docs.stderr
    page = (ws / "docs" / "tools" / f"{NAME}.md").read_text()
    assert "get_item" in page and "waf:read" in page and "waf:write" in page, page[:2000]
    yield binary
    binary.unlink(missing_ok=True)


def test_it_lists_its_tools_and_follows_the_inventory_rules(server_bin: Path) -> None:
    listed = run([str(server_bin), "tools", "--json"], env={})
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    tools = {t["name"]: t["scope"] for t in listing}
    # Its own four tools, and the two-person-rule tools every server gets (served only with
    # MCP_APPROVALS=required), in the new namespace.
    assert tools == {"get_item": "waf:read", "set_item": "waf:write", "delete_item": "waf:write",
                     "slow_echo": "waf:read", "list_changes": "waf:read",
                     "approve_change": "waf:approve", "apply_change": "waf:read"}
    confirm = {t["name"]: t.get("confirm") for t in listing}
    assert confirm["delete_item"] == "always" and confirm["set_item"] == "never", confirm
    checked = run([str(server_bin), "tools", "--check"], env={})
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{NAME}: 7 tools follow the inventory rules"
    ok = run([str(server_bin), "check"], env={})
    assert ok.returncode == 0 and ok.stdout.strip() == f"{NAME}: ok: no upstream configured", ok.stderr
    bad = run([str(server_bin), "check"], env={"ACME_WAF_UPSTREAM_URL": "http://upstream.example.com"})
    assert bad.returncode == 1 and "ACME_WAF_UPSTREAM_URL: plain http is allowed only for loopback" in bad.stderr


def test_it_serves_the_official_sdk(server_bin: Path) -> None:
    import httpx2
    import mcp_types as types
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    env = {"MCP_JWT_SECRET": SECRET, "MCP_TRANSPORT": "http", "MCP_BIND": "127.0.0.1:0",
           "MCP_LOG_FORMAT": "json"}
    minted = run([str(server_bin), "token", "--sub", "template-test", "--scope", "waf:write"], env=env)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    proc = subprocess.Popen([str(server_bin), "serve"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        addr = None
        for _ in range(400):  # bounded: the first lines of the log
            line = proc.stderr.readline()
            if not line:
                break
            m = LISTENING.search(line)
            if m:
                addr = m.group(1)
                break
        assert addr, f"{NAME} did not report its address"

        asked: list[str] = []

        async def confirm(_ctx, params: types.ElicitRequestParams) -> types.ElicitResult:
            asked.append(params.message)
            return types.ElicitResult(action="accept", content={"confirm": True})

        async def session() -> tuple[list[str], dict, dict, dict]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=headers, trust_env=False, timeout=30) as http:
                async with streamable_http_client(f"http://{addr}/mcp", http_client=http) as (r, w, *_):
                    # A plain session (no elicitation): the write needs no confirmation, the
                    # delete is refused without one.
                    async with ClientSession(r, w) as s:
                        await s.initialize()
                        assert s.server_info is not None and s.server_info.name == NAME
                        names = [t.name for t in (await s.list_tools()).tools]
                        wrote = await s.call_tool("set_item", {"key": "rule-1", "value": "block"})
                        assert wrote.is_error is not True, wrote
                        assert wrote.structured_content["change"]["status"] == "applied", wrote
                        read = await s.call_tool("get_item", {"key": "rule-1"})
                        assert read.is_error is not True, read
                        refused = await s.call_tool("delete_item", {"key": "rule-1"})
                        assert refused.is_error is True, refused
                        assert "needs a human's confirmation" in refused.content[0].text, refused
                        kept = await s.call_tool("get_item", {"key": "rule-1"})
                        assert kept.structured_content["found"] is True, kept
                async with streamable_http_client(f"http://{addr}/mcp", http_client=http) as (r, w, *_):
                    # With an elicitation callback the template's delete asks, and deletes.
                    async with ClientSession(r, w, elicitation_callback=confirm) as s:
                        await s.initialize()
                        deleted = await s.call_tool("delete_item", {"key": "rule-1"})
                        assert deleted.is_error is not True, deleted
                        gone = await s.call_tool("get_item", {"key": "rule-1"})
                        return names, read.structured_content, deleted.structured_content, gone.structured_content

        names, read, deleted, gone = asyncio.run(asyncio.wait_for(session(), 60))
        assert sorted(names) == ["delete_item", "get_item", "set_item", "slow_echo"]
        assert read == {"key": "rule-1", "found": True, "value": "block"}
        assert len(asked) == 1 and "rule-1" in asked[0], asked
        assert deleted["deleted"] == "block", deleted
        assert deleted["change"]["status"] == "applied", deleted
        assert deleted["change"]["confirmation"] == {"by": "elicitation"}, deleted
        assert gone == {"key": "rule-1", "found": False, "value": None}
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
