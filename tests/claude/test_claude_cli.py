"""The real Claude Code CLI against the four servers, with the exact commands of docs/claude-code.md.

The four servers run on 127.0.0.1 through the shared harness (tests/harness/secops_stack.py),
each against its upstream (vendor-sim panos, airs, proxmox; moto for aws-whitelist), one
replica each, JWT (HS256) auth. For each case the doc's marked blocks run unchanged with bash
in a throwaway HOME, with the doc's placeholders ($NGFW_URL, $NGFW_TOKEN, $PANOS_HOST, ...)
in the environment; then `claude mcp list` (and `claude mcp get`) health-checks every server.

A check mark alone proves little, so each case also checks the server side: the replicas'
/metrics (requests by route and status, auth failures by reason) and their logs for HTTP and
SSE, and for stdio the log of the shim that Claude Code started (argv, the `-e` variables,
the server's own stderr, which records the requests it received).

Run: .venv/bin/pytest tests/claude -q   (needs `npm ci --prefix tests/claude` and target/debug).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from claude_support import (
    CLAUDE,
    CLAUDE_VERSION,
    CLI_TIMEOUT_S,
    PREFIX,
    SERVERS,
    Home,
    Shims,
    commands,
    counters_all,
    delta,
    doc_blocks,
    doc_text,
    jwt_claims,
    list_tools,
    log_mark,
    mint_doc_tokens,
    new_log_lines,
    require_cli,
    scope_table,
    stdio_vars,
    wrong_secrets,
)
from secops_stack import Stack

CONNECTED = "✔ Connected"
FAILED = "✘ Failed to connect"


@pytest.fixture(scope="module")
def deps():
    require_cli()
    with Stack() as st:
        # rmcp's own info lines (kept at warn by default) carry the client's clientInfo, which
        # the SSE test reads; `RUST_LOG` naming rmcp brings them back.
        yield {s: st.deploy(s, env={"RUST_LOG": "info,rmcp::service=info"}) for s in SERVERS}


@pytest.fixture(scope="module")
def shims(tmp_path_factory) -> Shims:
    return Shims.create(tmp_path_factory.mktemp("shims"))


def mcp_list_counted(home: Home, deps, env: dict[str, str] | None = None):
    """`claude mcp list`, and what it did on each server: (lines, counter deltas by server)."""
    before = counters_all(deps)
    lines = home.mcp_list(env=env)
    return lines, delta(before, counters_all(deps))


def url_vars(deps) -> dict[str, str]:
    return {f"{PREFIX[s]}_URL": d.replicas[0].base for s, d in deps.items()}


@pytest.fixture(scope="module")
def good_tokens(deps, shims, tmp_path_factory) -> dict[str, str]:
    """The doc's tokens block, run with each server's real secret."""
    home = Home.create(tmp_path_factory.mktemp("mint-good"), shims)
    return mint_doc_tokens(home, {s: d.secret for s, d in deps.items()})


@pytest.fixture(scope="module")
def bad_tokens(shims, tmp_path_factory) -> dict[str, str]:
    """The doc's tokens block, run with secrets no server has (well-formed, wrong signature)."""
    home = Home.create(tmp_path_factory.mktemp("mint-bad"), shims)
    return mint_doc_tokens(home, wrong_secrets())


# --- the doc itself --------------------------------------------------------------------------------


def test_doc_blocks_cover_every_server_once():
    blocks = doc_blocks()
    for name, transport, path in (("http", "http", "/mcp"), ("sse", "sse", "/sse")):
        seen = {}
        for argv in commands(blocks[name]):
            assert argv[:5] == ["claude", "mcp", "add", "--transport", transport], f"{name} block: {argv}"
            server, url, flag, header = argv[5:9]
            assert len(argv) == 9 and flag == "--header", f"{name} block: {argv}"
            assert url == f"${PREFIX[server]}_URL{path}", f"{name} block: {server} URL {url}"
            assert header == f"Authorization: Bearer ${PREFIX[server]}_TOKEN", f"{name} block: {header}"
            seen[server] = argv
        assert sorted(seen) == sorted(SERVERS), f"{name} block adds {sorted(seen)}"
    stdio = {argv[3]: argv for argv in commands(blocks["stdio"])}
    assert sorted(stdio) == sorted(SERVERS)
    for server, argv in stdio.items():
        assert argv[:3] == ["claude", "mcp", "add"], argv
        tail = argv[argv.index("--") + 1:]
        assert tail == [f"$(command -v {server})", "serve", "--transport", "stdio"], f"stdio {server}: {tail}"
    tokens = {argv[0].split("=")[0]: argv for argv in commands(blocks["tokens"]) if "token" in " ".join(argv)}
    assert sorted(tokens) == sorted(f"{PREFIX[s]}_TOKEN" for s in SERVERS), sorted(tokens)
    project = json.loads(blocks["mcp-json"])["mcpServers"]
    assert sorted(project) == sorted(SERVERS)
    assert sorted(json.loads(blocks["approve"])["enabledMcpjsonServers"]) == sorted(SERVERS)


def test_scope_table_matches_tools_list(deps):
    """Every row of the doc's scope table: a token with those scopes lists exactly those tools."""
    rows = scope_table()
    assert {r.server for r in rows} == set(SERVERS)
    for row in rows:
        token = deps[row.server].token(list(row.scopes), sub="scope-table")
        got = list_tools(deps[row.server].replicas[0].base, token)
        assert got == set(row.tools), (f"{row.server} {row.scopes}: doc says {sorted(row.tools)}, "
                                       f"server lists {sorted(got)}")


def test_doc_tokens_have_table_scopes(good_tokens):
    """The tokens block mints, for each server, one of the scope sets the table describes,
    with `sub` from $USER."""
    rows = scope_table()
    for server in SERVERS:
        claims = jwt_claims(good_tokens[f"{PREFIX[server]}_TOKEN"])
        assert claims["sub"] == "e2e-claude"
        scopes = tuple(sorted(claims["scope"].split()))
        assert any(r.server == server and tuple(sorted(r.scopes)) == scopes for r in rows), \
            f"{server}: token scopes {scopes} are not a row of the scope table"


# --- Streamable HTTP -----------------------------------------------------------------------------


def test_http_with_valid_tokens_connects(deps, shims, good_tokens, tmp_path):
    home = Home.create(tmp_path, shims, {**url_vars(deps), **good_tokens})
    added = home.bash(doc_blocks()["http"]).stdout
    # what the doc says about where the token ends up
    assert added.count('"Authorization": "[REDACTED]"') == len(SERVERS), added
    assert not any(token in added for token in good_tokens.values()), "claude mcp add printed a token"
    stored = home.local_servers()
    for server in SERVERS:
        assert stored[server]["type"] == "http"
        assert stored[server]["url"] == f"{deps[server].replicas[0].base}/mcp"
        assert stored[server]["headers"] == {"Authorization": f"Bearer {good_tokens[PREFIX[server] + '_TOKEN']}"}

    lines, d = mcp_list_counted(home, deps)
    assert sorted(lines) == sorted(SERVERS), lines
    for server in SERVERS:
        target, status = lines[server]
        assert target == f"{deps[server].replicas[0].base}/mcp (HTTP)"
        assert status == CONNECTED, f"{server}: {status}"
        assert d[server]["mcp_200"] >= 1, f"{server}: no POST /mcp answered 200 during `claude mcp list`: {d[server]}"
        assert d[server]["mcp_401"] == 0 and d[server]["auth_failures"] == 0, f"{server}: {d[server]}"
        assert d[server]["sse_200"] == 0, f"{server}: the HTTP entry used /sse: {d[server]}"
    got = home.mcp_get("panw-airs")
    assert got["Status"] == CONNECTED and got["Type"] == "http", got["_raw"]
    assert good_tokens["AIRS_TOKEN"] in got["_raw"], "the doc says `claude mcp get` prints the token"
    assert home.telemetry_files() == [], "the CLI tried to send telemetry"


def test_http_with_wrong_signature_is_refused(deps, shims, bad_tokens, tmp_path):
    home = Home.create(tmp_path, shims, {**url_vars(deps), **bad_tokens})
    home.bash(doc_blocks()["http"])
    marks = {s: log_mark(d) for s, d in deps.items()}
    lines, d = mcp_list_counted(home, deps)
    assert sorted(lines) == sorted(SERVERS), lines
    for server in SERVERS:
        _, status = lines[server]
        assert status.startswith(FAILED), f"{server}: {status}"
        assert "HTTP 401" in status and "token signature is invalid" in status, f"{server}: {status}"
        assert d[server]["mcp_401"] >= 1 and d[server]["auth_signature"] >= 1, f"{server}: {d[server]}"
        assert d[server]["mcp_200"] == 0, f"{server}: a request with a bad token got 200: {d[server]}"
        refused = [r for r in new_log_lines(deps[server], marks[server])
                   if r.get("message") == "request refused: 401" and r.get("path") == "/mcp"]
        assert refused and all(r.get("reason") == "token signature is invalid" for r in refused), refused
    got = home.mcp_get("paloalto-ngfw")
    assert got["Status"] == FAILED, got["_raw"]
    assert "HTTP 401" in got["Issue"] and "token signature is invalid" in got["Issue"], got["_raw"]


# --- legacy SSE -----------------------------------------------------------------------------------


def test_sse_with_valid_tokens_connects(deps, shims, good_tokens, tmp_path):
    home = Home.create(tmp_path, shims, {**url_vars(deps), **good_tokens})
    home.bash(doc_blocks()["sse"])
    assert {s: c["type"] for s, c in home.local_servers().items()} == {s: "sse" for s in SERVERS}
    marks = {s: log_mark(d) for s, d in deps.items()}
    lines, d = mcp_list_counted(home, deps)
    assert sorted(lines) == sorted(SERVERS), lines
    for server in SERVERS:
        target, status = lines[server]
        assert target == f"{deps[server].replicas[0].base}/sse (SSE)"
        assert status == CONNECTED, f"{server}: {status}"
        assert d[server]["sse_200"] >= 1 and d[server]["messages_202"] >= 1, f"{server}: {d[server]}"
        assert d[server]["auth_failures"] == 0 and d[server]["mcp_200"] == 0, f"{server}: {d[server]}"
        # the legacy handshake carries clientInfo; the server logs it
        inits = [r for r in new_log_lines(deps[server], marks[server])
                 if r.get("message") == "Service initialized as server"
                 and 'name: "claude-code"' in r.get("peer_info", "") and CLAUDE_VERSION in r.get("peer_info", "")]
        assert inits, f"{server}: no initialize from claude-code {CLAUDE_VERSION} in the server log"


def test_sse_with_wrong_signature_is_refused(deps, shims, bad_tokens, tmp_path):
    home = Home.create(tmp_path, shims, {**url_vars(deps), **bad_tokens})
    home.bash(doc_blocks()["sse"])
    lines, d = mcp_list_counted(home, deps)
    for server in SERVERS:
        _, status = lines[server]
        assert status.startswith(FAILED) and "HTTP 401" in status, f"{server}: {status}"
        assert d[server]["sse_401"] >= 1 and d[server]["auth_signature"] >= 1, f"{server}: {d[server]}"
        assert d[server]["sse_200"] == 0 and d[server]["messages_202"] == 0, f"{server}: {d[server]}"
    got = home.mcp_get("aws-whitelist")
    assert got["Status"] == FAILED and "HTTP 401" in got["Issue"], got["_raw"]


# --- stdio ----------------------------------------------------------------------------------------


def test_stdio_connects(deps, shims, tmp_path):
    home = Home.create(tmp_path, shims)
    per_server = {server: stdio_vars(dep, tmp_path / "secrets", home.home) for server, dep in deps.items()}
    upstream = {key: value for values in per_server.values() for key, value in values.items()}
    home.bash(doc_blocks()["stdio"], env=upstream)
    stored = home.local_servers()
    for server in SERVERS:
        assert stored[server]["command"] == str(shims.bin_dir / server), stored[server]
        assert stored[server]["args"] == ["serve", "--transport", "stdio"]
        # each server stores exactly its own settings, as given (secrets as file paths)
        assert stored[server]["env"] == per_server[server], stored[server]

    # Claude Code passes its own environment to the servers it starts; the values stored with
    # -e must win over the same names in that environment.
    decoys = {key: f"decoy-from-the-shell-{key.lower()}" for key in upstream}
    lines, d = mcp_list_counted(home, deps, env=decoys)
    assert sorted(lines) == sorted(SERVERS), lines
    for server in SERVERS:
        target, status = lines[server]
        assert target == f"{shims.bin_dir / server} serve --transport stdio"
        assert status == CONNECTED, f"{server}: {status}"
        assert d[server]["mcp_200"] == 0 and d[server]["sse_200"] == 0, f"{server}: stdio went over HTTP: {d[server]}"
        logs = shims.logs(server, "serve --transport stdio")
        assert logs, f"{server}: Claude Code never started the stdio server"
        log = logs[-1]
        for key, value in per_server[server].items():
            assert f"{key}={value}" in log.splitlines(), f"{server}: {key} did not reach the server:\n{log}"
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(r.get("message") == "starting" and r.get("server") == server and r.get("transport") == "Stdio"
                   for r in records), f"{server}: no stdio start in its log:\n{log}"
        assert any(r.get("message") == "received request" for r in records), \
            f"{server}: the stdio server received no request from Claude Code:\n{log}"


# --- a project .mcp.json ---------------------------------------------------------------------------


def test_project_mcp_json_connects_once_approved(deps, shims, good_tokens, tmp_path):
    blocks = doc_blocks()
    home = Home.create(tmp_path, shims, {**url_vars(deps), **good_tokens})
    (home.project / ".mcp.json").write_text(blocks["mcp-json"])

    lines, d = mcp_list_counted(home, deps)
    for server in SERVERS:
        assert lines[server][1].startswith("⏸ Pending approval"), f"{server}: {lines[server]}"
        assert d[server]["mcp_200"] == 0 and d[server]["mcp_401"] == 0, f"{server} contacted before approval"

    (home.home / ".claude").mkdir(exist_ok=True)
    (home.home / ".claude" / "settings.json").write_text(blocks["approve"])
    lines, d = mcp_list_counted(home, deps)
    for server in SERVERS:
        assert lines[server] == (f"${{{PREFIX[server]}_URL}}/mcp (HTTP)", CONNECTED), f"{server}: {lines[server]}"
        assert d[server]["mcp_200"] >= 1 and d[server]["auth_failures"] == 0, f"{server}: {d[server]}"


def test_project_settings_do_not_approve(deps, shims, good_tokens, tmp_path):
    """The doc says a project's own settings cannot approve its .mcp.json servers."""
    blocks = doc_blocks()
    home = Home.create(tmp_path, shims, {**url_vars(deps), **good_tokens})
    (home.project / ".mcp.json").write_text(blocks["mcp-json"])
    (home.project / ".claude").mkdir()
    for name in ("settings.json", "settings.local.json"):
        (home.project / ".claude" / name).write_text(blocks["approve"])
    lines = home.mcp_list()
    for server in SERVERS:
        assert lines[server][1].startswith("⏸ Pending approval"), f"{server}: {lines[server]}"


# --- pitfalls the doc names ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["mcp", "add", "-e", "A=1", "x", "--", "/bin/true"], "missing required argument 'commandOrUrl'"),
    (["mcp", "add", "--transport", "http", "--header", "Authorization: Bearer x", "x", "http://127.0.0.1:9/mcp"],
     "missing required argument 'name'"),
])
def test_option_order_pitfalls(shims, tmp_path, argv, message):
    home = Home.create(tmp_path, shims)
    proc = subprocess.run([str(CLAUDE), *argv], env=home.env, cwd=home.project, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0 and message in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)
    assert f"error: {message}" in doc_text(), "the doc no longer quotes this message"
