"""Helpers for the Claude Code CLI suites: the doc's command blocks, the pinned CLI, throwaway
HOMEs, server shims and server-side counters.

The commands under test are the blocks of docs/claude-code.md that carry a marker comment
`<!-- claude-code-test: NAME -->`. They are run unchanged with `bash -euo pipefail`; the
doc's placeholders are shell variables (`$NGFW_URL`, `$NGFW_TOKEN`, `$PANOS_HOST`, ...) that
the tests put in the environment. `set -u` makes a placeholder the tests do not supply an
error instead of an empty string.

Every subprocess has a timeout; nothing sleeps as synchronisation.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shlex
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from secops_stack import BIN, SERVERS, SPECS, Deployment  # noqa: E402

DOC = ROOT / "docs" / "claude-code.md"
CLAUDE_BIN_DIR = HERE / "node_modules" / ".bin"
CLAUDE = CLAUDE_BIN_DIR / "claude"
CLAUDE_VERSION = json.loads((HERE / "package.json").read_text())["dependencies"]["@anthropic-ai/claude-code"]

# The prefix of each server's variables in the doc ($NGFW_URL, $NGFW_TOKEN, $NGFW_JWT_SECRET):
# its `short` name in servers.toml, upper-cased.
PREFIX = {s: SPECS[s].short.upper() for s in SERVERS}

# What the CLI needs to stay offline and quiet: no auto-update check, no telemetry or error
# reports, no other "nonessential" traffic (the last one implies the other three; all four are
# set so that none depends on that). Without them, `claude mcp list` resolves and contacts
# Anthropic hosts and leaves ~/.claude/telemetry/1p_failed_events.* behind.
CLI_QUIET_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
CLI_TIMEOUT_S = 90  # one `claude mcp list` waits at most 30 s per server (its own connect timeout)
TOKEN_TIMEOUT_S = 60

# Blocks the doc must have, and their languages.
BLOCKS = {"tokens": "bash", "http": "bash", "sse": "bash", "stdio": "bash", "mcp-json": "json", "approve": "json"}

_BLOCK = re.compile(r"<!-- claude-code-test: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S)
_TABLE = re.compile(r"<!-- claude-code-test: scopes -->\n((?:\|[^\n]*\|\n)+)")
_LIST_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+): (?P<target>.*?) - (?P<status>[✔✘⏸!].*)$")


# --- the doc ------------------------------------------------------------------------------------


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def doc_blocks() -> dict[str, str]:
    """{marker name: block text} for every marked block; fails when one is missing or doubled."""
    found: dict[str, str] = {}
    for m in _BLOCK.finditer(doc_text()):
        name = m.group("name")
        assert name not in found, f"{DOC}: two blocks marked claude-code-test: {name}"
        assert name in BLOCKS, f"{DOC}: unknown marker claude-code-test: {name}"
        assert m.group("lang") == BLOCKS[name], f"{DOC}: block {name} is ```{m.group('lang')}, want ```{BLOCKS[name]}"
        found[name] = m.group("body") + "\n"
    missing = sorted(set(BLOCKS) - set(found))
    assert not missing, f"{DOC}: no block marked claude-code-test: {missing}"
    return found


def commands(block: str) -> list[list[str]]:
    """The block's commands as argv lists (continuation lines joined, no expansion)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class ScopeRow:
    server: str
    scopes: tuple[str, ...]
    tools: frozenset[str]


def scope_table() -> list[ScopeRow]:
    """The rows of the doc's scope table: server, token scopes, tool names (every `name` in the
    third column)."""
    m = _TABLE.search(doc_text())
    assert m, f"{DOC}: no table after <!-- claude-code-test: scopes -->"
    rows = []
    for line in m.group(1).splitlines()[2:]:  # header and |---| rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"{DOC}: scope table row without three cells: {line}"
        server = re.findall(r"`([^`]+)`", cells[0])
        assert len(server) == 1 and server[0] in SERVERS, f"{DOC}: scope table row names no server: {line}"
        rows.append(ScopeRow(server[0], tuple(re.findall(r"`([^`]+)`", cells[1])),
                             frozenset(re.findall(r"`([^`]+)`", cells[2]))))
    return rows


# --- throwaway HOMEs and the CLI ------------------------------------------------------------------


@dataclass
class Shims:
    """A directory of stand-ins named after the servers: each records its argv, the server
    variables it was given (no secrets) and the server's stderr in its own log file, then execs
    the real binary. `$(command -v paloalto-ngfw)` in the doc resolves to one of these, so the
    stdio tests see on the server side that Claude Code started the server and talked to it."""

    bin_dir: Path
    log_dir: Path

    @classmethod
    def create(cls, base: Path) -> "Shims":
        bin_dir, log_dir = base / "bin", base / "logs"
        bin_dir.mkdir(parents=True)
        log_dir.mkdir()
        for server in SERVERS:
            real = BIN / server
            script = f"""#!/bin/sh
# test shim for {server}: records how it was started, then becomes the real binary
log="{log_dir}/{server}.$$.log"
{{ printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'
  env | grep -E '^(PANOS|PANW_AI|PROXMOX|AWS|MCP)_' | grep -v -E '(SECRET|_KEY)=' | sort; }} > "$log"
exec {shlex.quote(str(real))} "$@" 2>>"$log"
"""
            path = bin_dir / server
            path.write_text(script)
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return cls(bin_dir, log_dir)

    def logs(self, server: str, argv: str) -> list[str]:
        """The logs of the runs of `server` whose arguments were exactly `argv`."""
        out = []
        for path in sorted(self.log_dir.glob(f"{server}.*.log")):
            text = path.read_text(errors="replace")
            if text.splitlines()[:1] == [f"argv: {argv}"]:
                out.append(text)
        return out


@dataclass
class Home:
    """A throwaway HOME and project directory, and the environment the CLI runs with there."""

    home: Path
    project: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, shims: Shims, extra: dict[str, str] | None = None) -> "Home":
        home, project = base / "home", base / "project"
        home.mkdir(parents=True)
        project.mkdir()
        env = {
            "PATH": f"{shims.bin_dir}:{CLAUDE_BIN_DIR}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "USER": "e2e-claude",
            "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            # inherited by the stdio servers Claude Code starts: log each request they receive
            "RUST_LOG": "info,rmcp::service=debug",
            **CLI_QUIET_ENV,
            **(extra or {}),
        }
        return cls(home, project, env)

    def bash(self, script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Runs `script` (doc blocks, unchanged) with bash -euo pipefail in the project directory."""
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env={**self.env, **(env or {})},
                              cwd=self.project, capture_output=True, text=True, timeout=CLI_TIMEOUT_S * 2,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, (f"bash exited {proc.returncode}\n--- script\n{script}\n--- stdout\n{proc.stdout}"
                                      f"\n--- stderr\n{proc.stderr}")
        return proc

    def claude(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(CLAUDE), *args], env={**self.env, **(env or {})}, cwd=self.project,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"claude {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def mcp_list(self, env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """`claude mcp list` as {name: (target, status)}; every configured server must have one line."""
        out = self.claude("mcp", "list", env=env).stdout
        print(f"$ claude mcp list   # HOME={self.home}\n{out}")  # shown by pytest on failure, or with -s
        lines: dict[str, tuple[str, str]] = {}
        for line in out.splitlines():
            m = _LIST_LINE.match(line.strip())
            if m:
                assert m.group("name") not in lines, f"two lines for {m.group('name')}:\n{out}"
                lines[m.group("name")] = (m.group("target"), m.group("status"))
        return lines

    def mcp_get(self, name: str) -> dict[str, str]:
        """`claude mcp get NAME` as {field: value} (Status, Issue, Type, URL, ...)."""
        out = self.claude("mcp", "get", name).stdout
        print(f"$ claude mcp get {name}\n{out}")
        fields: dict[str, str] = {}
        for line in out.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and line.startswith("  ") and key not in fields:
                fields[key] = value
        fields["_raw"] = out
        return fields

    def config(self) -> dict:
        """The CLI's ~/.claude.json."""
        return json.loads((self.home / ".claude.json").read_text())

    def local_servers(self) -> dict[str, dict]:
        """The servers stored by `claude mcp add` (local scope) for the project directory."""
        return self.config().get("projects", {}).get(str(self.project), {}).get("mcpServers", {})

    def telemetry_files(self) -> list[Path]:
        return sorted((self.home / ".claude").glob("telemetry/**/*"))


# --- tokens ----------------------------------------------------------------------------------------


def mint_doc_tokens(home: Home, jwt_secrets: dict[str, str]) -> dict[str, str]:
    """Runs the doc's tokens block with `<PREFIX>_JWT_SECRET` set per server; returns
    {"NGFW_TOKEN": ..., ...}."""
    names = [f"{PREFIX[s]}_TOKEN" for s in SERVERS]
    script = doc_blocks()["tokens"] + "".join(f'printf "{n}=%s\\n" "${n}"\n' for n in names)
    env = {f"{PREFIX[s]}_JWT_SECRET": secret for s, secret in jwt_secrets.items()}
    out = home.bash(script, env=env).stdout
    tokens = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for name in names:
        assert tokens.get(name, "").count(".") == 2, f"the tokens block did not set {name} to a JWT: {out!r}"
    return {n: tokens[n] for n in names}


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def wrong_secrets() -> dict[str, str]:
    """Secrets no server runs with: tokens signed with them must be refused (signature)."""
    return {s: secrets.token_hex(32) for s in SERVERS}


# --- the server side -----------------------------------------------------------------------------


COUNTERS = {
    "mcp_200": ("mcp_http_requests_total", {"route": "/mcp", "status": "200"}),
    "mcp_401": ("mcp_http_requests_total", {"route": "/mcp", "status": "401"}),
    "sse_200": ("mcp_http_requests_total", {"route": "/sse", "status": "200"}),
    "sse_401": ("mcp_http_requests_total", {"route": "/sse", "status": "401"}),
    "messages_202": ("mcp_http_requests_total", {"route": "/messages/", "status": "202"}),
    "auth_failures": ("mcp_auth_failures_total", {}),
    "auth_signature": ("mcp_auth_failures_total", {"reason": "signature"}),
}


def counters(dep: Deployment) -> dict[str, float]:
    """The request and auth-failure counters of a deployment, summed over its replicas."""
    return {key: sum(r.metric(name, **labels) for r in dep.replicas) for key, (name, labels) in COUNTERS.items()}


def counters_all(deps: dict[str, Deployment]) -> dict[str, dict[str, float]]:
    return {s: counters(d) for s, d in deps.items()}


def delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {s: {k: after[s][k] - before[s][k] for k in after[s]} for s in after}


def log_mark(dep: Deployment) -> list[int]:
    """How many log lines each replica has so far (for `new_log_lines`)."""
    return [len(r.proc.lines) for r in dep.replicas]


def new_log_lines(dep: Deployment, mark: list[int]) -> list[dict]:
    """The JSON log records the replicas wrote since `mark`."""
    records = []
    for replica, start in zip(dep.replicas, mark):
        for line in list(replica.proc.lines)[start:]:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


# --- upstream settings for stdio -------------------------------------------------------------------


def stdio_vars(dep: Deployment, base: Path, home: Path) -> dict[str, str]:
    """The variables the doc's stdio block reads for `dep.server`, pointing at its upstream.
    Secrets go into files (the doc uses the `_FILE` forms); aws-whitelist gets a profile in
    the throwaway HOME's ~/.aws files that points at moto."""
    env = dep.env
    base.mkdir(parents=True, exist_ok=True)

    def secret_file(name: str, value: str) -> str:
        path = base / name
        path.write_text(value)
        path.chmod(0o600)
        return str(path)

    if dep.server == "paloalto-ngfw":
        return {"PANOS_HOST": env["PANOS_HOST"], "PANOS_API_KEY_FILE": secret_file("panos-key", env["PANOS_API_KEY"])}
    if dep.server == "panw-airs":
        return {"PANW_AI_SEC_API_ENDPOINT": env["PANW_AI_SEC_API_ENDPOINT"],
                "PANW_AI_SEC_API_KEY_FILE": secret_file("airs-key", env["PANW_AI_SEC_API_KEY"]),
                "PANW_AI_PROFILE_NAME": env["PANW_AI_PROFILE_NAME"]}
    if dep.server == "proxmox":
        return {"PROXMOX_HOST": env["PROXMOX_HOST"], "PROXMOX_TOKEN_ID": env["PROXMOX_TOKEN_ID"],
                "PROXMOX_TOKEN_SECRET_FILE": secret_file("pve-token-secret", env["PROXMOX_TOKEN_SECRET"])}
    if dep.server == "aws-whitelist":
        aws = home / ".aws"
        aws.mkdir(exist_ok=True)
        (aws / "config").write_text(f"[profile secops-e2e]\nregion = {env['AWS_REGION']}\n"
                                    f"endpoint_url = {env['AWS_ENDPOINT_URL']}\n")
        (aws / "credentials").write_text(f"[secops-e2e]\naws_access_key_id = {env['AWS_ACCESS_KEY_ID']}\n"
                                         f"aws_secret_access_key = {env['AWS_SECRET_ACCESS_KEY']}\n")
        return {"AWS_PROFILE": "secops-e2e", "AWS_REGION": env["AWS_REGION"]}
    raise ValueError(dep.server)


def require_cli() -> None:
    """Fails (does not skip) when the pinned CLI is not installed: a suite that checks nothing
    must not pass."""
    if not CLAUDE.exists():
        raise AssertionError(f"{CLAUDE} missing: run `npm ci --prefix tests/claude` "
                             f"(installs @anthropic-ai/claude-code {CLAUDE_VERSION})")
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home:
        out = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "HOME": home, **CLI_QUIET_ENV}, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and out.stdout.startswith(f"{CLAUDE_VERSION} "), \
        f"claude --version: want {CLAUDE_VERSION}, got rc={out.returncode} {out.stdout!r} {out.stderr!r}"


# --- tools/list over Streamable HTTP (for the scope table) ----------------------------------------


def list_tools(base: str, token: str) -> set[str]:
    """initialize, notifications/initialized, tools/list (every page) on `base`/mcp with `token`."""
    import urllib.request

    def post(body: dict, session: str | None) -> tuple[dict | None, str | None]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-06-18"}
        if session:
            headers["Mcp-Session-Id"] = session
        req = urllib.request.Request(f"{base}/mcp", data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=15) as resp:
            text, sid = resp.read().decode(), resp.headers.get("Mcp-Session-Id")
        if text.lstrip().startswith("{"):
            return json.loads(text), sid
        for line in text.splitlines():  # an SSE body: the reply is the data of a non-empty event
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:]), sid
        return None, sid

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "claude-code-doc-test", "version": "1"}}}
    reply, session = post(init, None)
    assert reply and "result" in reply, f"initialize: {reply!r}"
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    names: set[str] = set()
    cursor = None
    for page in range(20):
        params = {"cursor": cursor} if cursor else {}
        reply, _ = post({"jsonrpc": "2.0", "id": 2 + page, "method": "tools/list", "params": params}, session)
        assert reply and "result" in reply, f"tools/list: {reply!r}"
        names |= {tool["name"] for tool in reply["result"]["tools"]}
        cursor = reply["result"].get("nextCursor")
        if not cursor:
            return names
    raise AssertionError("tools/list: more than 20 pages")
