"""The harness starts its processes even when the port it would have picked is taken.

A port number chosen by binding port 0 and closing the socket can be taken by another process
before the child binds it (a CI run on a busy machine: Traefik died with "address already in
use" and a dozen e2e tests errored). Here the taking is made certain: the test holds a listening
socket on a port and makes every pick of the old `free_port` helper return that port (the
patch is a no-op once no harness code picks numbers that way), points the sshd launcher's first
attempt at it (`SSHD_FIRST_PORT`), and checks that moto, Traefik and sshd each still start and
serve on a port of their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import secops_stack
import traefik
from secops_stack import Stack, http_get
from traefik import Edge


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process holds (listening on 127.0.0.1, never answering)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def colliding_picks(monkeypatch: pytest.MonkeyPatch, taken_port: int) -> int:
    """Every port the harness picks by number is the taken one."""
    for module in (secops_stack, traefik):
        monkeypatch.setattr(module, "free_port", lambda: taken_port, raising=False)
    return taken_port


def test_moto_starts_when_its_port_would_collide(colliding_picks: int) -> None:
    with Stack() as stack:
        moto = stack.moto()
        port = int(moto.url.rsplit(":", 1)[1])
        assert port != colliding_picks
        assert http_get(f"{moto.url}/moto-api/", timeout=5)[0] == 200
        assert moto.proc.alive()


def test_traefik_starts_when_its_ports_would_collide(colliding_picks: int) -> None:
    with Stack() as stack:
        edge = Edge(stack)
        dep = stack.deploy("mcp-example", replicas=1, stateless=True, env=edge.server_env("mcp-example"))
        edge.add("mcp-example", dep)
        edge.start(seconds=30)
        assert colliding_picks not in (edge.api_port, edge.port("mcp-example"))
        assert edge.proc is not None and edge.proc.alive()
        status = edge.server_status("mcp-example")
        assert status == {dep.replicas[0].base: "UP"}, status
        # The entryPoint serves TLS on the port MCP_PUBLIC_URL names (the SNI check needs the host name).
        ctx = edge.ssl_context()
        with socket.create_connection(("127.0.0.1", edge.port("mcp-example")), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=edge.hostname) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.skipif(not Path(os.environ.get("SSHD", "/usr/sbin/sshd")).exists(),
                    reason="no sshd: `make sshd` installs openssh-server")
def test_sshd_retries_on_a_fresh_port_when_its_port_is_taken(taken_port: int, tmp_path: Path) -> None:
    d = tmp_path / "sshd"
    script = secops_stack.ROOT / "tests" / "peers" / "sshd.sh"
    env = {**os.environ, "SSHD_FIRST_PORT": str(taken_port)}
    env.pop("SSHD_PORT", None)
    out = subprocess.run(["bash", str(script), "start", str(d)], env=env, capture_output=True, text=True,
                         timeout=120)
    try:
        assert out.returncode == 0, out.stderr
        values = dict(line.split("=", 1) for line in (d / "env").read_text().splitlines() if "=" in line)
        port = int(values["SSH_PORT"])
        assert port != taken_port
        assert f"port {taken_port}" in out.stderr, out.stderr  # the first attempt did hit the taken port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.settimeout(5)
            assert conn.recv(64).startswith(b"SSH-2.0-")
    finally:
        subprocess.run(["bash", str(script), "stop", str(d)], capture_output=True, timeout=60)
