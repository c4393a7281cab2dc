"""Fixtures for the Python-SDK interop tests: one example-server process per test.

The server binary is `target/debug/mcp-example` under the repository root (found from
this file's location), or whatever SECOPS_EXAMPLE_BIN names. HTTP servers bind
127.0.0.1:0; the port is read from the JSON log line `listening on http://127.0.0.1:PORT`
on stderr, and /readyz is polled (bounded) before a test connects. Nothing here sleeps
as synchronisation except those bounded polls.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "mcp-example"

STDIO = "stdio"
HTTP_STATEFUL = "http-stateful"
HTTP_STATELESS = "http-stateless"
SSE = "sse"
ALL_MODES = [STDIO, HTTP_STATEFUL, HTTP_STATELESS, SSE]
HTTP_MODES = [HTTP_STATEFUL, HTTP_STATELESS, SSE]

READ_SCOPE = "example:read"
WRITE_SCOPE = "example:write"

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
_PORT_TRIES = 400  # x 25 ms = 10 s for the listening line
_READY_TRIES = 200  # x 25 ms = 5 s for /readyz
_POLL_S = 0.025
_STOP_TIMEOUT_S = 10


def example_bin() -> Path:
    path = Path(os.environ.get("SECOPS_EXAMPLE_BIN", str(DEFAULT_BIN)))
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"example server binary not found or not executable: {path} (set SECOPS_EXAMPLE_BIN)")
    return path


def _base_env() -> dict[str, str]:
    """A minimal environment: the server must not pick up MCP_* settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    env.update({"MCP_LOG_FORMAT": "json", "RUST_LOG": "info", "NO_PROXY": "127.0.0.1,localhost"})
    return env


@dataclass
class ServerHandle:
    """What a test needs to talk to one server process."""

    mode: str
    stderr_path: Path
    jwt_secret: str | None = None
    base_url: str | None = None  # http modes only
    proc: subprocess.Popen[bytes] | None = None  # http modes only; stdio_client owns its process
    stdio_env: dict[str, str] = field(default_factory=dict)

    @property
    def is_http(self) -> bool:
        return self.mode != STDIO

    @property
    def mcp_url(self) -> str:
        assert self.base_url is not None
        return f"{self.base_url}/mcp"

    @property
    def sse_url(self) -> str:
        assert self.base_url is not None
        return f"{self.base_url}/sse"

    def token(self, *scopes: str, sub: str = "interop") -> str:
        """Mint an HS256 token with the server's own `token` subcommand."""
        assert self.jwt_secret is not None, "no JWT secret in this mode"
        args = [str(example_bin()), "token", "--sub", sub, "--ttl", "1h"]
        for scope in scopes:
            args += ["--scope", scope]
        env = _base_env() | {"MCP_JWT_SECRET": self.jwt_secret}
        out = subprocess.run(args, env=env, capture_output=True, timeout=30, check=True)
        token = out.stdout.decode().strip()
        assert token.count(".") == 2, f"not a JWT: {token!r}"
        return token

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _wait_for_port(proc: subprocess.Popen[bytes], stderr_path: Path) -> int:
    for _ in range(_PORT_TRIES):
        for line in stderr_path.read_text(errors="replace").splitlines():
            try:
                message = json.loads(line).get("message", "")
            except (json.JSONDecodeError, AttributeError):
                continue
            if m := _LISTENING.search(str(message)):
                return int(m.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening:\n{stderr_path.read_text()}")
        time.sleep(_POLL_S)
    raise RuntimeError(f"no 'listening on' line within {_PORT_TRIES * _POLL_S:.0f}s:\n{stderr_path.read_text()}")


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes]) -> None:
    last: object = None
    with httpx2.Client(timeout=2.0, trust_env=False) as client:
        for _ in range(_READY_TRIES):
            try:
                response = client.get(f"{base_url}/readyz")
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx2.TransportError as exc:
                last = exc
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before ready")
            time.sleep(_POLL_S)
    raise RuntimeError(f"/readyz not 200 after {_READY_TRIES} tries (last: {last!r})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_STOP_TIMEOUT_S)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "server_env(**vars): extra environment for the `server` fixture's process (MCP_CONFIRM=off, ...)",
    )


def _marker_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The variables of the test's `server_env` marker, if any."""
    marker = request.node.get_closest_marker("server_env")
    return {str(k): str(v) for k, v in marker.kwargs.items()} if marker else {}


@contextmanager
def _http_server(mode: str, stderr_path: Path, extra_env: dict[str, str]) -> Iterator[ServerHandle]:
    """One HTTP server process (Streamable HTTP stateful or stateless, or SSE) on 127.0.0.1:0,
    ready to serve; stopped with SIGTERM afterwards, which must be a clean exit."""
    secret = secrets.token_hex(32)  # 64 bytes, above the 32-byte minimum
    env = _base_env() | {
        "MCP_TRANSPORT": "http",
        "MCP_BIND": "127.0.0.1:0",
        "MCP_JWT_SECRET": secret,
    }
    if mode == HTTP_STATELESS:
        env["MCP_STATELESS"] = "true"
    env |= extra_env
    with stderr_path.open("wb") as errfile:
        proc = subprocess.Popen(
            [str(example_bin()), "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errfile,
        )
    try:
        port = _wait_for_port(proc, stderr_path)
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, proc)
        yield ServerHandle(mode=mode, stderr_path=stderr_path, jwt_secret=secret, base_url=base_url, proc=proc)
    finally:
        was_running = proc.poll() is None
        _stop(proc)
    # SIGTERM is a graceful shutdown: the server drains and exits 0.
    assert was_running, f"server died during the test with exit code {proc.returncode}"
    assert proc.returncode == 0, f"server exited {proc.returncode} after SIGTERM:\n{stderr_path.read_text()[-4000:]}"
    _assert_no_error_records(_log_records(stderr_path))


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path):
    """Start the example server in the mode given by indirect parametrization; stop it afterwards.

    A `@pytest.mark.server_env(NAME="value", ...)` marker adds variables to its environment."""
    mode: str = request.param
    stderr_path = tmp_path / "server-stderr.log"
    extra_env = _marker_env(request)

    if mode == STDIO:
        # The SDK's stdio_client spawns (and on exit terminates) the process itself;
        # the handle carries the command and environment for it. No auth over stdio.
        env = {"MCP_TRANSPORT": "stdio", "MCP_LOG_FORMAT": "json", "RUST_LOG": "info"} | extra_env
        handle = ServerHandle(mode=mode, stderr_path=stderr_path, stdio_env=env)
        yield handle
        # The SDK closes the server's stdin and allows it 2 s before SIGTERM: a well-behaved
        # stdio server exits on EOF by itself, cleanly.
        log = _log_records(stderr_path)
        assert log, "the stdio server wrote no log"
        messages = [record.get("message") for record in log]
        assert "SIGTERM received" not in messages, "stdio server did not exit on stdin EOF"
        assert messages[-1] == "stopped", f"stdio server did not stop cleanly: {log[-3:]}"
        _assert_no_error_records(log)
        return

    with _http_server(mode, stderr_path, extra_env) as handle:
        yield handle


@pytest.fixture
def start_server(tmp_path: Path):
    """A factory for more HTTP servers in one test: `with start_server(mode, env) as handle:`.

    Each has its own process, JWT secret and log (`server-<n>-stderr.log`); it is stopped,
    and checked for a clean exit, when its `with` block ends."""
    count = 0

    def start(mode: str, extra_env: dict[str, str] | None = None):
        nonlocal count
        assert mode in HTTP_MODES, f"start_server starts HTTP servers, not {mode}"
        count += 1
        return _http_server(mode, tmp_path / f"server-{count}-stderr.log", dict(extra_env or {}))

    return start


def audit_records(stderr_path: Path, tool: str | None = None) -> list[dict]:
    """The server's audit events of tool calls (message "tool call"), oldest first; only
    those of `tool` when given."""
    return [
        r
        for r in _log_records(stderr_path)
        if r.get("message") == "tool call" and (tool is None or r.get("tool") == tool)
    ]


def _log_records(stderr_path: Path) -> list[dict]:
    """The server's JSON log lines (anything else on stderr is skipped)."""
    records = []
    for line in stderr_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _assert_no_error_records(records: list[dict]) -> None:
    errors = [r for r in records if r.get("level") == "ERROR"]
    assert not errors, f"server logged errors: {errors}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Attach the server's stderr to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        handle = getattr(item, "funcargs", {}).get("server")
        if isinstance(handle, ServerHandle):
            report.sections.append(("server stderr", handle.stderr_text()[-20000:]))
