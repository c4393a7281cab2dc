"""Replicas that act as one (MCP_STATE_URL): a real redis-server, three replicas behind a real
Traefik with TLS, and no sticky cookie on /sse.

The official MCP Python SDK opens legacy SSE sessions through Traefik; Traefik round-robins each
POST /messages/ over the three replicas, and the replica that does not hold the stream relays
the message through Redis to the one that does. Every answer must arrive, from the session's
own replica (the example's items live in one replica's memory, so reading one back proves it).
"""

from __future__ import annotations

import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.client.sse import sse_client

from secops_stack import SERVERS, Stack
from traefik import Edge, Route, read_call, start_traefik

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
SERVER = "mcp-example"


@pytest.fixture(scope="module")
def edge():
    """Three stateful replicas of mcp-example and of every server of servers.toml, all sharing
    one redis-server (each server under its own key prefix), SSE routed with no sticky cookie."""
    with Stack() as stack:
        url = stack.redis()
        routes = {server: Route(replicas=3, stateless=False, sse=True, sticky=False, env={"MCP_STATE_URL": url})
                  for server in [SERVER, *SERVERS]}
        yield start_traefik(stack, routes)


def text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def test_200_sse_calls_over_three_replicas_without_a_sticky_cookie(edge: Edge):
    dep = edge.deployments[SERVER]
    assert len(dep.replicas) == 3
    services = edge.dynamic_config()["http"]["services"]
    assert not [s for s in services.values() if "sticky" in s["loadBalancer"]], "no sticky cookie here"
    token = dep.token(["example:read", "example:write"])
    posts_before = [r.metric("mcp_http_requests_total", route="/messages/") for r in dep.replicas]
    relayed_before = sum(r.metric("mcp_sse_relayed_total") for r in dep.replicas)
    calls = errors = 0
    for i in range(4):
        async with sse_client(edge.sse_url(SERVER), httpx_client_factory=edge.client_factory(token),
                              timeout=CALL_TIMEOUT_S) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
                key = f"shared-{i}"
                res = await session.call_tool("set_item", {"key": key, "value": f"v{i}"})
                calls += 1
                errors += res.is_error
                for _ in range(49):
                    res = await session.call_tool("get_item", {"key": key})
                    calls += 1
                    # The item is in the memory of the replica holding the stream only.
                    if res.is_error or f"v{i}" not in text(res):
                        errors += 1
    assert calls == 200
    assert errors == 0
    posts = [r.metric("mcp_http_requests_total", route="/messages/") - b for r, b in zip(dep.replicas, posts_before)]
    relayed = sum(r.metric("mcp_sse_relayed_total") for r in dep.replicas) - relayed_before
    print(f"POST /messages/ per replica: {posts}; relayed through Redis: {relayed}")
    assert sum(posts) >= 200, posts
    assert all(p > 0 for p in posts), f"the posts were not spread over all replicas: {posts}"
    assert relayed >= 100, f"most posts reach a replica without the stream: {relayed}"


class Yes:
    """An elicitation callback standing in for the user: says yes, and records each question."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, _ctx, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})


async def test_a_stateful_session_works_through_every_replica_without_a_sticky_cookie(edge: Edge):
    """Streamable HTTP before 2026-07-28: the session lives on the replica that answered its
    initialize; Traefik round-robins /mcp, and the other replicas relay each request to it.
    A confirmation asked mid-call (the server's elicitation request on the call's stream) is
    answered by a POST that lands on another replica, and still reaches the waiting call."""
    dep = edge.deployments[SERVER]
    token = dep.token(["example:read", "example:write"])
    posts_before = [r.metric("mcp_http_requests_total", route="/mcp") for r in dep.replicas]
    relayed_before = sum(r.metric("mcp_session_relayed_total") for r in dep.replicas)
    human = Yes()
    errors = 0
    async with edge.http_client(token) as http:
        async with streamable_http_client(edge.https_url(SERVER), http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S,
                                     elicitation_callback=human) as session:
                init = await session.initialize()
                assert init.protocol_version < "2026-07-28", init.protocol_version
                res = await session.call_tool("set_item", {"key": "stateful", "value": "v"})
                errors += res.is_error
                for _ in range(60):
                    res = await session.call_tool("get_item", {"key": "stateful"})
                    # The item is in the memory of the replica holding the session only.
                    if res.is_error or (res.structured_content or {}).get("value") != "v":
                        errors += 1
                for i in range(3):
                    await session.call_tool("set_item", {"key": f"gone-{i}", "value": "x"})
                    res = await session.call_tool("delete_item", {"key": f"gone-{i}"})
                    errors += res.is_error
                    res = await session.call_tool("get_item", {"key": f"gone-{i}"})
                    errors += res.is_error or (res.structured_content or {}).get("found") is not False
    assert errors == 0
    assert len(human.asked) == 3, human.asked
    posts = [r.metric("mcp_http_requests_total", route="/mcp") - b for r, b in zip(dep.replicas, posts_before)]
    relayed = sum(r.metric("mcp_session_relayed_total") for r in dep.replicas) - relayed_before
    print(f"POST /mcp per replica: {posts}; relayed through Redis: {relayed}")
    assert all(p > 0 for p in posts), f"the requests were not spread over all replicas: {posts}"
    assert relayed >= 40, f"most requests reach a replica without the session: {relayed}"


@pytest.mark.parametrize("server", SERVERS)
async def test_every_server_answers_sse_calls_through_any_replica(edge: Edge, server: str):
    """Each server's read smoke call (servers.toml), 100 times over SSE sessions through Traefik
    to its 3 replicas: every answer carries the upstream's data, and posts that reach a replica
    without the stream are relayed."""
    dep = edge.deployments[server]
    scopes, tool, args, expected = read_call(server, dep.upstream)
    token = dep.token(scopes)
    posts_before = [r.metric("mcp_http_requests_total", route="/messages/") for r in dep.replicas]
    relayed_before = sum(r.metric("mcp_sse_relayed_total") for r in dep.replicas)
    calls = errors = 0
    for _ in range(2):
        async with sse_client(edge.sse_url(server), httpx_client_factory=edge.client_factory(token),
                              timeout=CALL_TIMEOUT_S) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
                for _ in range(50):
                    res = await session.call_tool(tool, args)
                    calls += 1
                    body = text(res) + str(res.structured_content)
                    if res.is_error or not all(e in body for e in expected):
                        errors += 1
    assert calls == 100
    assert errors == 0
    posts = [r.metric("mcp_http_requests_total", route="/messages/") - b for r, b in zip(dep.replicas, posts_before)]
    relayed = sum(r.metric("mcp_sse_relayed_total") for r in dep.replicas) - relayed_before
    print(f"{server}: POST /messages/ per replica: {posts}; relayed: {relayed}")
    assert all(p > 0 for p in posts), f"the posts were not spread over all replicas: {posts}"
    assert relayed >= 50, f"most posts reach a replica without the stream: {relayed}"
