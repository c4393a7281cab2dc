"""MCP resources through the official Python SDK: proxmox's nodes and guests and
paloalto-ngfw's rules, listed and read, each read answering as the matching tool does, and
nothing for a token outside the scope. Direct to one replica (the resource methods are the
same behind Traefik; the Traefik suite covers the path)."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

from secops_stack import Stack

pytestmark = pytest.mark.anyio
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def stack():
    with Stack() as st:
        yield st


async def session_for(base: str, token: str):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=TIMEOUT_S)
    return http, streamable_http_client(f"{base}/mcp", http_client=http)


async def _with_session(base: str, token: str, body):
    http, transport = await session_for(base, token)
    async with http, transport as (read, write, *_):
        async with ClientSession(read, write, read_timeout_seconds=TIMEOUT_S) as s:
            await s.initialize()
            return await body(s)


async def test_proxmox_nodes_and_guests_through_the_sdk(stack: Stack) -> None:
    dep = stack.deploy("proxmox", stateless=True)
    base = dep.replicas[0].base

    async def body(s: ClientSession):
        listed = await s.list_resources()
        uris = [str(r.uri) for r in listed.resources]
        templates = [t.uri_template for t in (await s.list_resource_templates()).resource_templates]
        guest = await s.read_resource("proxmox://guests/100")
        tool = await s.call_tool("vm_status", {"vmid": 100})
        return uris, templates, guest, tool

    uris, templates, guest, tool = await _with_session(base, dep.token(["proxmox:read"]), body)
    assert "proxmox://nodes" in uris and "proxmox://guests/100" in uris, uris
    assert "proxmox://guests/{vmid}" in templates, templates
    content = guest.contents[0]
    assert content.mime_type == "application/json"
    read = json.loads(content.text)
    assert read["vmid"] == tool.structured_content["vmid"] == 100
    assert read["node"] == tool.structured_content["node"]

    async def stranger(s: ClientSession):
        listed = await s.list_resources()
        try:
            await s.read_resource("proxmox://nodes")
        except MCPError as err:
            return listed, err.error.message
        return listed, None

    listed, refused = await _with_session(base, dep.token(["ngfw:read"]), stranger)
    assert listed.resources == [], listed
    assert refused and "no resource" in refused, refused


async def test_ngfw_rules_through_the_sdk(stack: Stack) -> None:
    dep = stack.deploy("paloalto-ngfw", stateless=True)
    base = dep.replicas[0].base

    async def body(s: ClientSession):
        rules = await s.read_resource("panos://vsys:vsys1/rules")
        tool = await s.call_tool("retrieve_security_policies", {})
        return rules, tool

    rules, tool = await _with_session(base, dep.token(["ngfw:read"]), body)
    read = json.loads(rules.contents[0].text)
    assert [r["name"] for r in read["items"]] == [r["name"] for r in tool.structured_content["items"]]
    assert read["items"], "the fixture has rules"
