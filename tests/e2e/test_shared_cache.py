"""The shared read cache through the real Traefik: 100 identical concurrent
`retrieve_address_objects` calls over 3 paloalto-ngfw replicas that share a real redis-server
(MCP_STATE_URL) make 1 request to PAN-OS (the simulator's counters).

Each call is its own SDK session through Traefik (TLS, round-robin, no affinity), opened
first; then all 100 call at once. The replicas' single-flight lock in Redis lets one ask PAN-OS
while the others wait for its answer.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from secops_stack import Simulator, Stack
from traefik import Edge, Route, start_traefik

pytestmark = pytest.mark.anyio

SERVER = "paloalto-ngfw"
TOOL = "retrieve_address_objects"
CALLS = 100
CALL_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def edge():
    with Stack() as stack:
        url = stack.redis()
        yield start_traefik(stack, {SERVER: Route(replicas=3, stateless=True, env={"MCP_STATE_URL": url})})


def address_reads(sim: Simulator) -> int:
    """Requests that read the address objects (`config:show:…/address…`); the readiness
    probes Traefik's health checks cause (`type=version`) are not counted."""
    return sum(n for key, n in sim.stats()["by_key"].items() if key.startswith("config:") and "/address" in key)


async def test_identical_concurrent_reads_over_three_replicas_make_one_upstream_request(edge: Edge):
    dep = edge.deployments[SERVER]
    sim = dep.upstream
    assert isinstance(sim, Simulator)
    assert len(dep.replicas) == 3
    token = dep.token(["ngfw:read"])
    calls_before = [r.metric("mcp_tool_calls_total", tool=TOOL) for r in dep.replicas]
    sim.reset()
    go, all_open = anyio.Event(), anyio.Event()
    ready = 0
    results: list[bool] = []

    async def one(http) -> None:
        nonlocal ready
        async with streamable_http_client(edge.https_url(SERVER), http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
                ready += 1
                if ready == CALLS:
                    all_open.set()
                await go.wait()
                res = await session.call_tool(TOOL, {})
                results.append(not res.is_error and "web-srv-01" in str(res.structured_content))

    async with edge.http_client(token, timeout=CALL_TIMEOUT_S) as http:
        async with anyio.create_task_group() as tg:
            for _ in range(CALLS):
                tg.start_soon(one, http)
            with anyio.fail_after(CALL_TIMEOUT_S):
                await all_open.wait()
            go.set()
    assert len(results) == CALLS and all(results), f"{results.count(False)} of {len(results)} calls failed"
    calls = [r.metric("mcp_tool_calls_total", tool=TOOL) - b for r, b in zip(dep.replicas, calls_before)]
    print(f"{TOOL} calls per replica: {calls}; address reads at PAN-OS: {address_reads(sim)}")
    assert sum(calls) == CALLS and all(c > 0 for c in calls), f"the calls were not spread over all replicas: {calls}"
    assert address_reads(sim) == 1, sim.stats()["by_key"]
