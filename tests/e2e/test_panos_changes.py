"""PAN-OS change management through the official MCP Python SDK, as a user would run it.

paloalto-ngfw runs against `vendor-sim panos` loaded with the shared real firewall config
(PAN-OS 8.0, `$SECOPS_FIXTURES_DIR/panos/configs/firewall-8.0-vsys1.xml`). The client is the
SDK's high-level `Client` on protocol 2026-07-28 with a token holding `ngfw:write`; an
elicitation callback stands in for the user.

1. create an address object and add it to a group (candidate edits: nobody is asked);
2. both show only with `config: candidate`;
3. `preview_changes` shows them;
4. `commit_changes` asks the user (an `InputRequiredResult` the SDK answers) and commits;
5. the job completes (`commit_status`);
6. `running` shows them.

A declined commit changes nothing. Under the two-person rule, another person's approval is
needed, a self-approval and an altered digest are refused, and the approved commit runs.
"""

from __future__ import annotations

import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from secops_stack import ROOT, Stack

pytestmark = pytest.mark.anyio

TIMEOUT_S = 30.0
KEY = "sim-api-key-0123456789"
FIXTURES = Path(os.environ.get("SECOPS_FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))
FIREWALL = FIXTURES / "panos" / "configs" / "firewall-8.0-vsys1.xml"
GROUP = "g_PRIVATE"  # a static group of the real config (three members)


class Human:
    """An elicitation callback standing in for the user: records each question, answers `action`."""

    def __init__(self, action: str = "accept") -> None:
        self.action = action
        self.asked: list[str] = []

    async def __call__(self, _ctx, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params.message)
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=self.action)


@pytest.fixture
def stack():
    with Stack() as st:
        yield st


def deploy(stack: Stack, **env: str):
    """The simulator on the real config, and one replica of paloalto-ngfw on it."""
    if not FIREWALL.is_file():
        pytest.fail(f"shared fixture missing: {FIREWALL} (set SECOPS_FIXTURES_DIR)")
    sim = stack.simulator("panos", "--config", str(FIREWALL), "--api-key", KEY, "--username", "api-admin", "--password", "s3cret-pw",
                          "--job-polls", "2")
    dep = stack.deploy("paloalto-ngfw", stateless=True, upstream=sim,
                       upstream_vars={"PANOS_HOST": sim.url, "PANOS_API_KEY": KEY},
                       env={"PANOS_CACHE_TTL": "0s", "MCP_STATE_KEY": secrets.token_hex(32), **env})
    return sim, dep


@asynccontextmanager
async def client(dep, human: Human, sub: str = "alice", scopes: list[str] | None = None):
    token = dep.token(scopes or ["ngfw:write"], sub=sub)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=TIMEOUT_S)
    async with http:
        async with Client(streamable_http_client(f"{dep.replicas[0].base}/mcp", http_client=http),
                          mode=LATEST_MODERN_VERSION, read_timeout_seconds=TIMEOUT_S,
                          elicitation_callback=human) as c:
            yield c


async def ok(c: Client, tool: str, args: dict) -> dict:
    r = await c.call_tool(tool, args)
    assert r.is_error is not True, f"{tool}({args}): {' '.join(getattr(b, 'text', '') for b in r.content)}"
    assert r.structured_content is not None, r
    return r.structured_content


def names(page: dict) -> list[str]:
    return [i["name"] for i in page["items"]]


async def members(c: Client, config: str) -> list[str]:
    page = await ok(c, "retrieve_address_groups", {"name_filter": GROUP, "config": config})
    return page["items"][0]["members"]


async def test_create_preview_and_commit_with_an_accepted_confirmation(stack: Stack) -> None:
    sim, dep = deploy(stack)
    human = Human("accept")
    async with client(dep, human) as c:
        # 1. Candidate edits ask nobody.
        obj = await ok(c, "set_address_object", {"name": "e2e-scanner-01", "kind": "ip-netmask",
                                                 "value": "203.0.113.45/32", "description": "issue 15 flow"})
        assert obj["change"]["status"] == "applied", obj
        grp = await ok(c, "set_address_group", {"name": GROUP, "add_members": ["e2e-scanner-01"]})
        assert grp["change"]["status"] == "applied", grp
        assert human.asked == [], "candidate edits need no confirmation"
        # 2. Only the candidate has them.
        assert names(await ok(c, "retrieve_address_objects", {"name_filter": "e2e-scanner"})) == []
        assert names(await ok(c, "retrieve_address_objects",
                              {"name_filter": "e2e-scanner", "config": "candidate"})) == ["e2e-scanner-01"]
        assert "e2e-scanner-01" not in await members(c, "running")
        assert "e2e-scanner-01" in await members(c, "candidate")
        # 3. The preview shows both, before and after.
        preview = await ok(c, "preview_changes", {})
        shown = {(i["action"], i["name"]) for i in preview["items"]}
        assert ("create", "e2e-scanner-01") in shown and ("update", GROUP) in shown, preview
        # 4. The commit asks the user, once, naming the changes; the SDK answers and retries.
        done = await ok(c, "commit_changes", {"reason": "CHG-15 add the scanner", "wait_seconds": 30})
        assert len(human.asked) == 1, human.asked
        assert "e2e-scanner-01" in human.asked[0] and done["change"]["plan"]["digest"] in human.asked[0]
        assert done["change"]["confirmation"]["by"] == "input_required", done
        assert done["status"] == "committed", done
        assert "alice" in done["job"]["description"] and "CHG-15" in done["job"]["description"], done
        # 5. The job completed.
        job = await ok(c, "commit_status", {"job_id": done["job_id"]})
        assert (job["done"], job["result"]) == (True, "OK"), job
        # 6. Running has both.
        assert names(await ok(c, "retrieve_address_objects", {"name_filter": "e2e-scanner"})) == ["e2e-scanner-01"]
        assert "e2e-scanner-01" in await members(c, "running")
    assert sim.stats()["by_type"].get("commit", 0) == 1, sim.stats()


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_declined_commit_changes_nothing(stack: Stack, action: str) -> None:
    sim, dep = deploy(stack)
    human = Human(action)
    async with client(dep, human) as c:
        await ok(c, "set_address_object", {"name": "e2e-declined", "kind": "fqdn", "value": "declined.example.com"})
        r = await c.call_tool("commit_changes", {"reason": "should not happen", "wait_seconds": 30})
        assert r.is_error is True, r
        text = " ".join(getattr(b, "text", "") for b in r.content)
        assert f"the user {action}" in text and "nothing was changed" in text, text
        assert len(human.asked) == 1
        assert names(await ok(c, "retrieve_address_objects", {"name_filter": "e2e-declined"})) == []
        assert names(await ok(c, "retrieve_address_objects",
                              {"name_filter": "e2e-declined", "config": "candidate"})) == ["e2e-declined"]
    assert sim.stats()["by_type"].get("commit", 0) == 0, "no commit reached the firewall"


async def test_two_person_rule_for_a_commit(stack: Stack) -> None:
    sim, dep = deploy(stack, MCP_APPROVALS="required")
    writer, reviewer = Human(), Human()
    async with client(dep, writer, sub="alice") as alice, \
            client(dep, reviewer, sub="bob", scopes=["ngfw:read", "ngfw:approve"]) as bob:
        await ok(alice, "set_address_object", {"name": "e2e-two-person", "kind": "ip-netmask", "value": "198.51.100.9"})
        pending = await ok(alice, "commit_changes", {"reason": "CHG-16 two people", "wait_seconds": 30})
        assert pending["change"]["status"] == "pending_approval", pending
        change_id = pending["change"]["pending"]["change_id"]
        digest = pending["change"]["pending"]["digest"]
        assert sim.stats()["by_type"].get("commit", 0) == 0
        # Self-approval: alice lacks the approve scope, and even holding it could not.
        async with client(dep, Human(), sub="alice", scopes=["ngfw:write", "ngfw:approve"]) as alice2:
            r = await alice2.call_tool("approve_change", {"change_id": change_id, "digest": digest})
            assert r.is_error is True and "own change" in r.content[0].text, r
        r = await bob.call_tool("approve_change", {"change_id": change_id, "digest": "sha256:" + "0" * 64})
        assert r.is_error is True and "not the digest" in r.content[0].text, r
        listed = await ok(bob, "list_changes", {})
        assert listed["changes"][0]["plan"]["digest"] == digest
        approved = await ok(bob, "approve_change", {"change_id": change_id, "digest": digest})
        assert approved["status"] == "approved", approved
        applied = await ok(alice, "apply_change", {"change_id": change_id})
        assert applied["status"] == "committed", applied
        assert applied["change"]["confirmation"]["approver"] == "bob", applied
        assert names(await ok(alice, "retrieve_address_objects", {"name_filter": "e2e-two-person"})) == ["e2e-two-person"]
        r = await alice.call_tool("apply_change", {"change_id": change_id})
        assert r.is_error is True and "already applied" in r.content[0].text, r
    assert writer.asked == [] and reviewer.asked == [], "approvals replace the elicitation"
    assert sim.stats()["by_type"].get("commit", 0) == 1
