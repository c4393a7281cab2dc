"""proxmox snapshots through the official MCP Python SDK against `vendor-sim proxmox`: create a
snapshot of a running VM (no question asked, progress reported while it waits), list it, roll
back with an accepted confirmation (a declined one first: nothing reaches Proxmox), and delete
it (confirmed too). The SDK's high-level `Client` on protocol 2026-07-28 answers the
confirmation through its elicitation callback, standing in for the user; one stateless
replica, straight to its port (the Traefik suite covers the path through the edge).
"""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from secops_stack import Simulator, Stack

pytestmark = pytest.mark.anyio
CALL_TIMEOUT_S = 60
RUNNING_VM = 100  # web-01 on pve1: a running qemu VM, unprotected, in the simulator's seed state
SNAP = "e2e-before-change"
DECLINED = "not applied: the user declined; nothing was changed"


@pytest.fixture(scope="module")
def deployment():
    with Stack() as stack:
        yield stack.deploy("proxmox", stateless=True, env={"MCP_STATE_KEY": secrets.token_hex(32)})


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
async def client(dep, scopes: list[str], human: Human):
    token = dep.token(scopes)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, trust_env=False,
                                  timeout=CALL_TIMEOUT_S) as http:
        async with Client(streamable_http_client(f"{dep.replicas[0].base}/mcp", http_client=http),
                          mode=LATEST_MODERN_VERSION, read_timeout_seconds=CALL_TIMEOUT_S,
                          elicitation_callback=human) as c:
            assert c.protocol_version == LATEST_MODERN_VERSION
            yield c


def text_of(result: types.CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def writes(sim: Simulator, fragment: str) -> int:
    """POSTs and DELETEs the simulator received on paths containing `fragment`."""
    return sum(n for key, n in sim.stats()["by_key"].items()
               if key.split(" ")[0] in ("POST", "DELETE") and fragment in key)


async def ok(c: Client, tool: str, args: dict, **kw) -> dict:
    result = await c.call_tool(tool, args, **kw)
    assert result.is_error is not True, f"{tool}: {text_of(result)}"
    return result.structured_content


async def test_snapshot_create_list_rollback_delete(deployment) -> None:
    sim = deployment.upstream
    assert isinstance(sim, Simulator)
    scopes = ["proxmox:read", "proxmox:snapshot"]

    # 1. Create: no question, the task followed with progress notifications.
    human = Human("decline")  # would refuse, were it asked
    progress: list[float] = []

    async def on_progress(value: float, _total: float | None, _message: str | None) -> None:
        progress.append(value)

    async with client(deployment, scopes, human) as c:
        status = await ok(c, "vm_status", {"vmid": RUNNING_VM})
        assert status["status"]["status"] == "running", status
        created = await ok(c, "create_snapshot",
                           {"vmid": RUNNING_VM, "name": SNAP, "description": "e2e", "wait_seconds": 30},
                           progress_callback=on_progress)
    assert human.asked == [], "creating a snapshot does not ask"
    assert created["ok"] is True and created["exit_status"] == "OK", created
    assert created["upid"].startswith("UPID:pve1:") and ":qmsnapshot:100:" in created["upid"], created
    assert created["change"]["status"] == "applied", created
    assert progress, "wait_seconds reports progress to a client that gave a progress token"
    assert writes(sim, f"/qemu/{RUNNING_VM}/snapshot") == 1, sim.stats()

    # 2. List it.
    async with client(deployment, ["proxmox:read"], Human("decline")) as c:
        listed = await ok(c, "list_snapshots", {"vmid": RUNNING_VM})
    names = [s["name"] for s in listed["snapshots"]]
    assert names == [SNAP, "current"], listed
    assert listed["snapshots"][0]["description"] == "e2e"
    assert listed["snapshots"][1]["parent"] == SNAP

    # 3. Roll back: declined first (nothing sent), then accepted.
    rollback = {"vmid": RUNNING_VM, "name": SNAP, "wait_seconds": 30}
    human = Human("decline")
    async with client(deployment, scopes, human) as c:
        refused = await c.call_tool("rollback_snapshot", rollback)
    assert refused.is_error is True and text_of(refused) == DECLINED, text_of(refused)
    assert len(human.asked) == 1 and SNAP in human.asked[0], human.asked
    assert writes(sim, "/rollback") == 0, sim.stats()

    human = Human("accept")
    async with client(deployment, scopes, human) as c:
        rolled = await ok(c, "rollback_snapshot", rollback)
        status = await ok(c, "vm_status", {"vmid": RUNNING_VM})
    assert len(human.asked) == 1 and rolled["change"]["plan"]["digest"] in human.asked[0], human.asked
    assert rolled["change"]["status"] == "applied", rolled
    assert rolled["change"]["confirmation"] == {"by": "input_required"}, rolled
    assert rolled["ok"] is True and ":qmrollback:100:" in rolled["upid"], rolled
    # The snapshot holds no RAM: the rollback leaves the VM stopped, as PVE does.
    assert status["status"]["status"] == "stopped", status
    assert writes(sim, "/rollback") == 1, sim.stats()

    # 4. Delete it (confirmed).
    human = Human("accept")
    async with client(deployment, scopes, human) as c:
        deleted = await ok(c, "delete_snapshot", {"vmid": RUNNING_VM, "name": SNAP, "wait_seconds": 30})
        listed = await ok(c, "list_snapshots", {"vmid": RUNNING_VM})
    assert len(human.asked) == 1, human.asked
    assert deleted["ok"] is True and ":qmdelsnapshot:100:" in deleted["upid"], deleted
    assert [s["name"] for s in listed["snapshots"]] == ["current"], listed
