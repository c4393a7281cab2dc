"""End to end through a real Traefik (3.7, TLS) in front of two replicas of every server.

One Traefik routes every server of servers.toml (two stateless replicas each, against their
simulators or moto) and mcp-example (two stateful replicas with legacy SSE behind the chart's sticky cookie).
The client is the official MCP Python SDK over https:// with the test CA, exactly as an agent
reaches a deployment. See tests/e2e/traefik.py for how the chart's routes are mirrored.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from secops_stack import SERVERS, Replica, Simulator, Stack, spec_of
from traefik import SSE_COOKIE, Edge, Route, read_call, start_traefik

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "e2e-raw", "version": "0"}}}

@pytest.fixture(scope="module")
def edge():
    with Stack() as stack:
        routes: dict[str, Route] = {server: Route(replicas=2, stateless=True) for server in SERVERS}
        # Legacy SSE is stateful: two stateful replicas behind the sticky-cookie route.
        routes["mcp-example"] = Route(replicas=2, stateless=False, sse=True)
        yield start_traefik(stack, routes)


def tool_calls(replica: Replica) -> float:
    return replica.metric("mcp_tool_calls_total")


def result_text(result) -> str:
    parts = [getattr(c, "text", "") for c in result.content]
    if result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, separators=(",", ":")))
    return "\n".join(parts)


async def call_through(edge: Edge, server: str, token: str, tool: str, args: dict, times: int = 1):
    """initialize, tools/list, then `times` calls of `tool` over one SDK session through Traefik."""
    async with edge.http_client(token) as http, streamable_http_client(edge.https_url(server), http_client=http) as (
        read, write, *_):
        async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
            init = await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(tool, args) for _ in range(times)]
            return init, tools, results


@pytest.mark.parametrize("server", SERVERS)
async def test_sdk_reaches_every_server_over_https(edge: Edge, server: str):
    dep = edge.deployments[server]
    scopes, tool, args, expected = read_call(server, dep.upstream)
    before = dep.upstream.stats() if isinstance(dep.upstream, Simulator) else None
    init, tools, results = await call_through(edge, server, dep.token(scopes), tool, args)

    assert init.server_info.name == server
    assert tool in {t.name for t in tools}
    (result,) = results
    text = result_text(result)
    assert not result.is_error, text
    for needle in expected:
        assert needle in text.replace(" ", ""), f"{server} {tool}: {needle!r} not in {text[:500]}"
    if before is not None:
        # The upstream saw the tool's request: some request type other than the /readyz probe's grew.
        after = dep.upstream.stats()
        grown = {k for k, v in after["by_type"].items() if v > before["by_type"].get(k, 0)}
        probe = spec_of(server).peer.get("readyz")
        assert grown - {probe}, f"{server}: the simulator saw no tool request: {before} -> {after}"


@pytest.mark.parametrize("server", SERVERS)
async def test_load_is_spread_over_both_replicas(edge: Edge, server: str):
    dep = edge.deployments[server]
    assert len(dep.replicas) == 2
    scopes, tool, args, _ = read_call(server, dep.upstream)
    calls = 12
    before = [tool_calls(r) for r in dep.replicas]
    _, _, results = await call_through(edge, server, dep.token(scopes), tool, args, times=calls)
    assert not any(r.is_error for r in results)
    delta = [tool_calls(r) - b for r, b in zip(dep.replicas, before)]
    print(f"{server}: tool calls per replica {delta}")
    assert sum(delta) == calls, delta
    # Round robin without affinity: stateless /mcp spreads one session's calls over both replicas.
    assert all(d >= calls // 4 for d in delta), f"{server}: calls not spread over both replicas: {delta}"
    # Traefik's access log agrees: the session's POSTs went to both backends.
    backends = {r["ServiceURL"].rstrip("/") for r in edge.access_log()
                if r.get("entryPointName") == edge.entrypoint(server) and r.get("RequestPath") == "/mcp"}
    assert backends == {r.base for r in dep.replicas}, backends


async def test_public_host_through_traefik_and_unknown_host_refused(edge: Edge):
    server = "paloalto-ngfw"
    dep = edge.deployments[server]
    token = dep.token(["ngfw:read"])
    public_host = f"{edge.hostname}:{edge.port(server)}"

    # Through Traefik: the URL's host is the public host; the replicas accept it.
    async with edge.http_client(token) as http:
        resp = await http.post(edge.https_url(server), json=INIT, headers=ACCEPT)
        assert resp.status_code == 200, resp.text
        assert resp.json()["result"]["serverInfo"]["name"] == server
        # Only the MCP paths are published: health and metrics stay behind Traefik (404 from Traefik).
        for path in ("/metrics", "/readyz", "/healthz"):
            resp = await http.get(edge.public_url(server) + path)
            assert resp.status_code == 404, (path, resp.status_code)
            assert "mcp_" not in resp.text

    # One connection per request: a replica that refuses a request before reading its body may
    # close the connection after the 403 without `Connection: close` (see the README).
    async with httpx2.AsyncClient(trust_env=False, timeout=10,
                                  limits=httpx2.Limits(max_keepalive_connections=0)) as http:
        auth = {"Authorization": f"Bearer {token}", **ACCEPT}
        for replica in dep.replicas:
            url = f"{replica.base}/mcp"
            # Direct to a replica with an unknown Host: refused (DNS-rebinding protection).
            resp = await http.post(url, json=INIT, headers={**auth, "Host": "evil.example"})
            assert resp.status_code == 403, resp.text
            assert resp.json() == {"error": "forbidden", "error_description": "Host not allowed"}
            # The same request with the public host (what Traefik passes through) is accepted.
            resp = await http.post(url, json=INIT, headers={**auth, "Host": public_host})
            assert resp.status_code == 200, resp.text

    # MCP_PUBLIC_URL is what allows that host: a replica started without it refuses the public
    # host, unless the host name is one of the loopback names every server allows.
    plain = edge.stack.deploy("mcp-example", replicas=1, stateless=True)
    async with httpx2.AsyncClient(trust_env=False, timeout=10) as http:
        resp = await http.post(f"{plain.replicas[0].base}/mcp", json=INIT,
                               headers={"Authorization": f"Bearer {plain.token()}", **ACCEPT, "Host": public_host})
    if edge.hostname in ("localhost", "127.0.0.1"):
        assert resp.status_code == 200, resp.text
    else:
        assert resp.status_code == 403, resp.text
    plain.replicas[0].proc.stop()


async def test_bad_token_through_traefik_is_401(edge: Edge):
    server = "proxmox"
    async with edge.http_client("not-a-jwt") as http:
        resp = await http.post(edge.https_url(server), json=INIT, headers=ACCEPT)
        assert resp.status_code == 401, resp.text
        challenge = resp.headers.get("www-authenticate", "")
        assert challenge.startswith("Bearer"), challenge
        # The challenge points at the public URL (MCP_PUBLIC_URL), not at a replica's address.
        m = re.search(r'resource_metadata="([^"]+)"', challenge)
        assert m and m.group(1).startswith(edge.public_url(server) + "/.well-known/oauth-protected-resource"), challenge
        # ...and that metadata is published through Traefik.
        meta = await http.get(m.group(1))
        assert meta.status_code == 200, meta.text
        assert meta.json()["resource"].startswith(edge.public_url(server))

    # A token signed with another server's secret: also 401 (every replica verifies alone).
    other = edge.deployments["paloalto-ngfw"].token(["ngfw:read"])
    async with edge.http_client(other) as http:
        resp = await http.post(edge.https_url(server), json=INIT, headers=ACCEPT)
        assert resp.status_code == 401, resp.text

    # The SDK client fails to initialize, and what it got from Traefik was the replica's 401.
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    with pytest.raises(BaseException):
        with anyio.fail_after(CALL_TIMEOUT_S):
            async with edge.http_client("not-a-jwt", event_hooks={"response": [record]}) as http, \
                    streamable_http_client(edge.https_url(server), http_client=http) as (read, write, *_):
                async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                    await session.initialize()
    assert statuses and set(statuses) == {401}, statuses


async def test_legacy_sse_sticks_to_one_replica(edge: Edge):
    server = "mcp-example"
    dep = edge.deployments[server]
    token = dep.token(["example:read", "example:write"])
    per_replica_before = [r.metric("mcp_http_requests_total", route="/messages/") for r in dep.replicas]

    sessions = 4
    for i in range(sessions):
        # A fresh client (fresh cookie jar) per session: Traefik picks a replica for GET /sse and
        # the cookie brings every POST /messages/ of that session back to it.
        async with sse_client(edge.sse_url(server), httpx_client_factory=edge.client_factory(token),
                              timeout=CALL_TIMEOUT_S) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
                key = f"sticky-{i}"
                res = await session.call_tool("set_item", {"key": key, "value": f"v{i}"})
                assert not res.is_error, result_text(res)
                for _ in range(3):
                    # The item lives in one replica's memory: reading it back proves the same replica.
                    res = await session.call_tool("get_item", {"key": key})
                    assert not res.is_error and f"v{i}" in result_text(res), result_text(res)

    after = [r.metric("mcp_http_requests_total", route="/messages/") for r in dep.replicas]
    delta = [a - b for a, b in zip(after, per_replica_before)]
    print(f"POST /messages/ per replica: {delta}")
    # At least initialize, initialized and the 4 calls of every session came through, and the
    # sessions landed on both replicas (a fresh cookie jar gets the next replica in the round robin).
    assert sum(delta) >= sessions * 6, delta
    assert all(d > 0 for d in delta), delta


async def _open_sse(http: httpx2.AsyncClient, url: str, stack: list) -> tuple[str, str]:
    """Opens GET /sse (kept open in `stack`); returns (the sticky cookie value, the session's POST path)."""
    cm = http.stream("GET", url, headers={"Accept": "text/event-stream"})
    resp = await cm.__aenter__()
    stack.append(cm)
    assert resp.status_code == 200, resp.status_code
    cookie = resp.cookies.get(SSE_COOKIE)
    set_cookie = resp.headers.get("set-cookie", "")
    assert cookie and "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie, set_cookie
    event = None
    # Read with an iterator kept alive in `stack`: closing the line generator would close the stream.
    lines = resp.aiter_lines()
    stack.append(lines)
    while True:
        line = await lines.__anext__()
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "endpoint":
            return cookie, line.split(":", 1)[1].strip()


async def test_sse_without_the_sticky_cookie_reaches_the_wrong_replica(edge: Edge):
    """The counterfactual: the same POST /messages/ with the other replica's cookie fails."""
    server = "mcp-example"
    dep = edge.deployments[server]
    token = dep.token(["example:read"])
    streams: list = []
    by_cookie: dict[str, str] = {}
    async with edge.http_client(token, timeout=httpx2.Timeout(10.0, read=30.0)) as http:
        http.cookies.clear()
        try:
            with anyio.fail_after(60):
                # Bounded: round robin gives the second replica on the next fresh GET /sse.
                for _ in range(10):
                    http.cookies.clear()
                    cookie, endpoint = await _open_sse(http, edge.sse_url(server), streams)
                    by_cookie.setdefault(cookie, endpoint)
                    if len(by_cookie) == 2:
                        break
            assert len(by_cookie) == 2, f"GET /sse never reached the second replica: {by_cookie}"
            (cookie_a, endpoint_a), (cookie_b, _) = by_cookie.items()
            post_url = urllib.parse.urljoin(edge.public_url(server), endpoint_a)
            http.cookies.clear()
            wrong = await http.post(post_url, json=INIT, headers={"Cookie": f"{SSE_COOKIE}={cookie_b}"})
            right = await http.post(post_url, json=INIT, headers={"Cookie": f"{SSE_COOKIE}={cookie_a}"})
        finally:
            for item in reversed(streams):
                if hasattr(item, "__aexit__"):
                    await item.__aexit__(None, None, None)
    assert right.status_code == 202, (right.status_code, right.text)
    assert wrong.status_code == 404, (wrong.status_code, wrong.text)


async def test_rate_limit_middleware_refuses_over_the_burst():
    """The chart's per-client-IP rateLimit middleware is in the chain: past the burst, Traefik
    answers 429 itself and the replica never sees the request. (1 request a minute with a burst
    of 3, so the bucket does not refill within the test.)"""
    with Stack() as stack:
        edge = Edge(stack)
        dep = stack.deploy("mcp-example", replicas=1, stateless=True, env=edge.server_env("mcp-example"))
        edge.add("mcp-example", dep, rate_limit={"average": 1, "period": "1m", "burst": 3})
        edge.start()
        replica = dep.replicas[0]
        before = replica.metric("mcp_http_requests_total", route="/mcp")
        async with edge.http_client(dep.token(["example:read"])) as http:
            statuses = [(await http.post(edge.https_url("mcp-example"), json=INIT, headers=ACCEPT)).status_code
                        for _ in range(8)]
        served = replica.metric("mcp_http_requests_total", route="/mcp") - before
    print(f"statuses with a burst of 3: {statuses}")
    assert statuses[:3] == [200, 200, 200], statuses
    assert statuses[3:] == [429] * 5, statuses
    assert served == 3, served
