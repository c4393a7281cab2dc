"""Replicas that act as one (MCP_STATE_URL): a real redis-server, three replicas behind a real
Traefik with TLS, and no sticky cookie on /sse.

The official MCP Python SDK opens legacy SSE sessions through Traefik; Traefik round-robins each
POST /messages/ over the three replicas, and the replica that does not hold the stream relays
the message through Redis to the one that does. Every answer must arrive, from the session's
own replica (the example's items live in one replica's memory, so reading one back proves it).
"""

from __future__ import annotations

import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client

from secops_stack import Stack
from traefik import Edge, Route, start_traefik

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
SERVER = "mcp-example"


@pytest.fixture(scope="module")
def edge():
    with Stack() as stack:
        url = stack.redis()
        routes = {SERVER: Route(replicas=3, stateless=False, sse=True, sticky=False,
                                env={"MCP_STATE_URL": url})}
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
