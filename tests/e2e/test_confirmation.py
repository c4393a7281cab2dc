"""Confirmations end to end: real write tools, behind Traefik, against their upstreams.

aws-whitelist (`whitelist`, against moto) and proxmox (`vm_action` stop, against
`vendor-sim proxmox`) run as two stateless replicas each behind one Traefik with TLS, each
deployment with its own shared MCP_STATE_KEY. The client is the official MCP Python SDK's
`Client` on protocol 2026-07-28 with an elicitation callback standing in for the user: the
server answers the write with an `InputRequiredResult`, the SDK asks the callback and retries
with the answer and the sealed `requestState` (which either replica may receive).

- The user says yes: the rule is in moto's security group; the VM is stopped.
- The user says no (decline, or cancel): the tool reports that nothing was changed, and the
  upstream shows it: no rule in moto, the VM still running and no power request at the
  simulator.
- A client on the initialize handshake cannot be asked by a stateless replica (no session to
  send `elicitation/create` in): refused, nothing written.
"""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

import mcp_types as types
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from secops_stack import Moto, Simulator, Stack
from traefik import Edge, Route, start_traefik

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
DECLINED = "not applied: the user declined; nothing was changed"
CANCELLED = "not applied: the user cancelled; nothing was changed"
RUNNING_VM = 100  # web-01 on pve1: running, qemu, unprotected, auditable in the simulator's seed state


@pytest.fixture(scope="module")
def edge():
    with Stack() as stack:
        routes = {
            server: Route(replicas=2, stateless=True, env={"MCP_STATE_KEY": secrets.token_hex(32)})
            for server in ("aws-whitelist", "proxmox")
        }
        yield start_traefik(stack, routes)


class Human:
    """An elicitation callback standing in for the user: records each question, answers `action`."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.asked: list[str] = []

    async def __call__(self, _ctx, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams), params
        assert params.requested_schema["properties"]["confirm"]["type"] == "boolean", params.requested_schema
        self.asked.append(params.message)
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=self.action)


@asynccontextmanager
async def client(edge: Edge, server: str, scopes: list[str], human: Human):
    """The SDK's high-level Client on 2026-07-28, through Traefik, answering with `human`."""
    token = edge.deployments[server].token(scopes)
    async with edge.http_client(token) as http:
        async with Client(streamable_http_client(edge.https_url(server), http_client=http),
                          mode=LATEST_MODERN_VERSION, read_timeout_seconds=CALL_TIMEOUT_S,
                          elicitation_callback=human) as c:
            assert c.protocol_version == LATEST_MODERN_VERSION
            yield c


def text_of(result: types.CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def whitelist_args(cidr: str, group_id: str) -> dict:
    return {"cidr": cidr, "target": group_id, "port": "postgres", "description": "e2e confirmation"}


def allowed(moto: Moto, cidr: str) -> bool:
    """Whether moto's seeded group lets `cidr` reach 5432/tcp."""
    return any(
        r.get("CidrIp") == cidr
        for perm in moto.ingress()
        if perm.get("IpProtocol") == "tcp" and perm.get("FromPort") == 5432 and perm.get("ToPort") == 5432
        for r in perm.get("IpRanges", [])
    )


# --------------------------------------------------------------------------- aws-whitelist


async def test_whitelist_applies_after_the_user_says_yes(edge: Edge) -> None:
    moto = edge.deployments["aws-whitelist"].upstream
    assert isinstance(moto, Moto)
    cidr = "203.0.113.61/32"
    assert not allowed(moto, cidr)
    human = Human("accept")
    async with client(edge, "aws-whitelist", ["aws:write"], human) as c:
        result = await c.call_tool("whitelist", whitelist_args(cidr, moto.group_id))
    assert result.is_error is not True, text_of(result)
    content = result.structured_content
    assert [g["status"] for g in content["groups"]] == ["added"], content
    change = content["change"]
    assert change["status"] == "applied" and change["confirmation"] == {"by": "input_required"}, change
    assert [c["action"] for c in change["plan"]["changes"]] == ["allow"], change
    assert len(human.asked) == 1 and cidr in human.asked[0] and moto.group_id in human.asked[0], human.asked
    assert change["plan"]["digest"] in human.asked[0]
    assert allowed(moto, cidr), moto.ingress()


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_whitelist_changes_nothing_when_the_user_says_no(edge: Edge, action: str) -> None:
    moto = edge.deployments["aws-whitelist"].upstream
    assert isinstance(moto, Moto)
    cidr = {"decline": "203.0.113.62/32", "cancel": "203.0.113.63/32"}[action]
    human = Human(action)
    async with client(edge, "aws-whitelist", ["aws:write"], human) as c:
        result = await c.call_tool("whitelist", whitelist_args(cidr, moto.group_id))
    assert result.is_error is True, result
    assert text_of(result) == (DECLINED if action == "decline" else CANCELLED), text_of(result)
    assert len(human.asked) == 1 and cidr in human.asked[0], human.asked
    assert not allowed(moto, cidr), moto.ingress()


async def test_handshake_client_cannot_be_asked_by_stateless_replicas(edge: Edge) -> None:
    """The initialize handshake has no 2026-07-28 round trip, and a stateless replica keeps no
    session to send elicitation/create in: the write is refused, even to a client that could
    answer."""
    moto = edge.deployments["aws-whitelist"].upstream
    assert isinstance(moto, Moto)
    cidr = "203.0.113.64/32"
    human = Human("accept")
    token = edge.deployments["aws-whitelist"].token(["aws:write"])
    async with edge.http_client(token) as http:
        async with streamable_http_client(edge.https_url("aws-whitelist"), http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S,
                                     elicitation_callback=human) as session:
                await session.initialize()
                result = await session.call_tool("whitelist", whitelist_args(cidr, moto.group_id))
    assert result.is_error is True, result
    assert "needs a human's confirmation" in text_of(result) and "Nothing was changed" in text_of(result)
    assert human.asked == []
    assert not allowed(moto, cidr), moto.ingress()


# --------------------------------------------------------------------------- proxmox


async def vm_status(c: Client, vmid: int) -> str:
    result = await c.call_tool("vm_status", {"vmid": vmid})
    assert result.is_error is not True, text_of(result)
    return result.structured_content["status"]["status"]


def power_requests(sim: Simulator, vmid: int) -> int:
    """POSTs to the simulator's power endpoints of guest `vmid` (.../qemu/VMID/status/ACTION)."""
    return sum(n for key, n in sim.stats()["by_key"].items()
               if key.startswith("POST ") and f"/qemu/{vmid}/status/" in key)


async def test_vm_stop_changes_nothing_until_the_user_says_yes(edge: Edge) -> None:
    sim = edge.deployments["proxmox"].upstream
    assert isinstance(sim, Simulator)
    stop = {"vmid": RUNNING_VM, "action": "stop", "wait": True, "timeout_seconds": 30}

    for action in ("decline", "cancel"):
        human = Human(action)
        assert power_requests(sim, RUNNING_VM) == 0, sim.stats()
        async with client(edge, "proxmox", ["proxmox:power"], human) as c:
            assert await vm_status(c, RUNNING_VM) == "running"
            refused = await c.call_tool("vm_action", stop)
            assert refused.is_error is True, refused
            assert text_of(refused) == (DECLINED if action == "decline" else CANCELLED), text_of(refused)
            assert await vm_status(c, RUNNING_VM) == "running"
        assert len(human.asked) == 1 and f"stop qemu {RUNNING_VM}" in human.asked[0], human.asked
        assert power_requests(sim, RUNNING_VM) == 0, sim.stats()

    human = Human("accept")
    async with client(edge, "proxmox", ["proxmox:power"], human) as c:
        result = await c.call_tool("vm_action", stop)
        assert result.is_error is not True, text_of(result)
        content = result.structured_content
        assert content["ok"] is True and content["upid"].startswith("UPID:pve1:"), content
        assert content["change"]["status"] == "applied", content
        assert content["change"]["confirmation"] == {"by": "input_required"}, content
        assert await vm_status(c, RUNNING_VM) == "stopped"
    assert len(human.asked) == 1 and content["change"]["plan"]["digest"] in human.asked[0], human.asked
    assert power_requests(sim, RUNNING_VM) == 1, sim.stats()
