"""Helpers for the hardening suites: start a server behind counted upstreams, talk to it.

`start_target(stack, server)` starts a server with tests/harness/secops_stack.py, against the
peers servers.toml names for it (`[server.peer]`, `.ssh`), each with a counter:

- a `vendor-sim` peer (counter "vendor-sim"): its `/_sim/stats` counts requests;
- an sshd peer (counter "sshd"), started whenever the server has one (so that, for
  proxmox, `execute_command` is enabled and its policy, not "not configured", answers); SSH
  traffic is counted from sshd's VERBOSE log (`Connection from`, `Starting session`);
- a moto peer (counter "moto"): moto behind a counting reverse proxy (`counting_proxy.py`),
  whose URL is the peer URL in every variable (for aws-whitelist its AWS_ENDPOINT_URL and its
  AWSWL_CHECKIP_URL), so every AWS call (and a `get_my_ip` check) is counted.

The server also gets `[server.test] hardening_env` (variables the hostile table relies on).

Everything binds 127.0.0.1. Waits are bounded polls; no sleeps.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
for _p in (str(HERE.parent / "harness"), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import httpx2  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from counting_proxy import CountingProxy  # noqa: E402
from secops_stack import BIN, Deployment, Stack, http_get, spec_of  # noqa: E402

CALL_TIMEOUT_S = 20.0
# Every connection here is plain HTTP on 127.0.0.1; one TLS context for all clients saves the
# ~100 ms that httpx spends loading the CA bundle for each new client (one client per case).
LOOPBACK_TLS = ssl.create_default_context()
# Cleanups for what is not a process of the Stack (the counting proxy); the `stack` fixture runs them.
closers: list[Callable[[], None]] = []


def tool_inventory(server: str) -> list[dict]:
    """`<server> tools --json`: every tool with its scope and schemas."""
    out = subprocess.run([str(BIN / server), "tools", "--json"], capture_output=True, text=True, check=True,
                         timeout=30, env={"PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def every_scope(server: str) -> list[str]:
    """Every scope a tool of `server` declares, plus its `scopes` in servers.toml (which name the
    ones checked inside tools, `proxmox:admin` for `proxmox_api` writes): a token that sees and
    may call everything."""
    return sorted({t["scope"] for t in tool_inventory(server)} | set(spec_of(server).scopes))


@dataclass
class Target:
    """One running server with its upstream counters."""

    server: str
    dep: Deployment
    token: str
    counters: dict[str, Callable[[], int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.dep.replicas[0].base

    @property
    def proc(self):
        return self.dep.replicas[0].proc

    def upstream_counts(self) -> dict[str, int]:
        return {name: fn() for name, fn in self.counters.items()}

    def healthz(self) -> int:
        return http_get(f"{self.base}/healthz", timeout=5)[0]


def _sshd_counter(log: Path) -> Callable[[], int]:
    """SSH traffic seen by the sshd peer: new connections plus sessions (one per command)."""

    def count() -> int:
        text = log.read_text(errors="replace")
        return text.count("Connection from ") + text.count("Starting session:")

    return count


def start_target(stack: Stack, server: str) -> Target:
    """Starts `server` against its peers (servers.toml), each with its counter (see the module doc)."""
    spec = spec_of(server)
    counters: dict[str, Callable[[], int]] = {}
    extra: dict[str, Any] = {}
    upstream = stack.peer(server)
    url = upstream.url if upstream is not None else ""
    if spec.peer_kind == "moto":
        proxy = CountingProxy(upstream.url).start()
        closers.append(proxy.stop)
        url = proxy.url
        counters["moto"] = proxy.requests
        extra.update(moto=upstream, proxy=proxy)
    elif spec.peer_kind == "vendor-sim":
        counters["vendor-sim"] = upstream.requests
    env = dict(spec.hardening_env)
    # The background /health checks probe the upstream every MCP_HEALTH_INTERVAL (15 s by
    # default); one landing between a case's before and after counts would read as a request
    # the case made. They run once at start, then not again during the suite.
    env["MCP_HEALTH_INTERVAL"] = "1h"
    if any(t["name"] == "approve_change" for t in tool_inventory(server)):
        # A server with write tools has the two-person-rule tools (list_changes, approve_change,
        # apply_change) in its inventory; mcp-core serves them only under MCP_APPROVALS=required,
        # so the hostile table can reach them. Writes that pass validation would wait for an
        # approval instead of asking; none of the hostile cases does, and no smoke call writes.
        env["MCP_APPROVALS"] = "required"
    if spec.ssh is not None:
        sshd = stack.sshd()
        env = {**spec.ssh_env(sshd), **env}
        counters["sshd"] = _sshd_counter(Path(sshd["SSH_KEY"]).parent / "sshd.log")
    dep = stack.deploy(server, upstream=upstream, upstream_vars=spec.peer_env(url), env=env)
    return Target(server, dep, dep.token(every_scope(server)), counters, extra)


def http_client(token: str | None, errors: list[tuple[int, str]] | None = None) -> httpx2.AsyncClient:
    """An httpx2 client for the SDK (never through a proxy). With `errors`, every HTTP answer of
    400 or more is recorded there as (status, body): the SDK turns them into a generic
    `MCPError(-32603, "Server returned an error response")`, which says nothing."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    hooks = {}
    if errors is not None:
        async def record(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                await response.aread()
                errors.append((response.status_code, response.text[:500]))

        hooks["response"] = [record]
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0), trust_env=False,
                              verify=LOOPBACK_TLS, event_hooks=hooks)


@asynccontextmanager
async def mcp_session(base: str, token: str,
                      errors: list[tuple[int, str]] | None = None) -> AsyncIterator[ClientSession]:
    """The official Python SDK, Streamable HTTP, initialised."""
    async with http_client(token, errors) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
                yield session


def result_text(result) -> str:
    return "\n".join(getattr(c, "text", "") or "" for c in result.content)


def log_tail(target: Target, lines: int = 25) -> str:
    return "\n".join(list(target.proc.lines)[-lines:])


def log_mark(target: Target) -> int:
    """A position in the server's log, for `log_since`."""
    return len(target.proc.lines)


def log_since(target: Target, mark: int, limit: int = 15) -> str:
    """The server's log lines after `mark` (the last `limit` lines when the buffer rolled over)."""
    lines = list(target.proc.lines)
    new = lines[mark:] if len(lines) < (target.proc.lines.maxlen or 0) else lines[-limit:]
    return "\n".join(new[-limit:])
