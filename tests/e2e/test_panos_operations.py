"""Issue 21's "Done when" through the official MCP Python SDK, as a user would run it.

`vendor-sim panos` runs as a Panorama (`$SECOPS_FIXTURES_DIR/panos/configs/panorama-8.1.xml`)
managing two firewalls built from the shared fixtures: the real PAN-OS 8.0 firewall
(`firewall-8.0-vsys1.xml`, hostname PA-200) and iron-skillet 10.1 (`panos-01`). A second
simulator is the 8.0 firewall on its own. paloalto-ngfw runs on each; the client is the SDK's
high-level `Client` on protocol 2026-07-28 with a token holding `ngfw:read`.

- `list_managed_devices` lists both firewalls;
- `retrieve_security_policies` with `device` reads one firewall's rules;
- `explain_traffic` for a flow the loaded rules deny names the rule and shows deny log
  entries; for an allowed flow it names the allowing rule and the NAT rule, if any (a flow
  into zone `tv` hits the real config's NAT rule `tv`);
- `query_logs` pages through more than 1,000 traffic entries, and a filter with an injected
  token is refused with 0 upstream requests.
"""

from __future__ import annotations

import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from secops_stack import ROOT, Stack

pytestmark = pytest.mark.anyio

TIMEOUT_S = 60.0
KEY = "sim-api-key-0123456789"
FIXTURES = Path(os.environ.get("SECOPS_FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))
CONFIGS = FIXTURES / "panos" / "configs"
PANORAMA = CONFIGS / "panorama-8.1.xml"
FIREWALL = CONFIGS / "firewall-8.0-vsys1.xml"
IRON_SKILLET = CONFIGS / "iron-skillet-10.1-firewall.xml"
FW1 = "007200006721"  # registered in panorama-8.1.xml
FW2 = "007100000290"  # registered in panorama-8.1.xml


@pytest.fixture
def stack():
    with Stack() as st:
        yield st


def deploy(stack: Stack, panorama: bool):
    for f in (PANORAMA, FIREWALL, IRON_SKILLET):
        if not f.is_file():
            pytest.fail(f"shared fixture missing: {f} (set SECOPS_FIXTURES_DIR)")
    if panorama:
        args = ["--config", str(PANORAMA), "--device", f"{FW1}={FIREWALL}", "--device", f"{FW2}={IRON_SKILLET}"]
    else:
        args = ["--config", str(FIREWALL)]
    sim = stack.simulator("panos", *args, "--api-key", KEY, "--job-polls", "2")
    dep = stack.deploy("paloalto-ngfw", stateless=True, upstream=sim,
                       upstream_vars={"PANOS_HOST": sim.url, "PANOS_API_KEY": KEY},
                       env={"PANOS_CACHE_TTL": "0s", "MCP_STATE_KEY": secrets.token_hex(32)})
    return sim, dep


@asynccontextmanager
async def client(dep):
    token = dep.token(["ngfw:read"], sub="analyst")
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=TIMEOUT_S)
    async with http:
        async with Client(streamable_http_client(f"{dep.replicas[0].base}/mcp", http_client=http),
                          mode=LATEST_MODERN_VERSION, read_timeout_seconds=TIMEOUT_S) as c:
            yield c


def text(r) -> str:
    return " ".join(getattr(b, "text", "") for b in r.content)


async def ok(c: Client, tool: str, args: dict) -> dict:
    r = await c.call_tool(tool, args)
    assert r.is_error is not True, f"{tool}({args}): {text(r)}"
    assert r.structured_content is not None, r
    return r.structured_content


async def refused(c: Client, tool: str, args: dict) -> str:
    r = await c.call_tool(tool, args)
    assert r.is_error is True, f"{tool}({args}) should be refused: {r}"
    return text(r)


async def first_flow(c: Client, action: str) -> dict:
    """A traffic log row of FW1 with `action`, decided by a named rule of the loaded config."""
    q = f"( action eq {action} ) and not ( rule eq interzone-default ) and not ( rule eq intrazone-default )"
    logs = await ok(c, "query_logs", {"log_type": "traffic", "limit": 200, "query": q, "device": FW1})
    assert logs["items"], f"no {action} flow in FW1's logs: {logs}"
    return logs["items"][0]


async def test_panorama_managed_firewalls_and_explain_traffic(stack: Stack) -> None:
    _sim, dep = deploy(stack, panorama=True)
    async with client(dep) as c:
        # list_managed_devices lists both.
        devices = await ok(c, "list_managed_devices", {"connected_only": True})
        by_serial = {d["serial"]: d for d in devices["items"]}
        assert set(by_serial) == {FW1, FW2}, devices
        assert by_serial[FW1]["hostname"] == "PA-200"
        assert by_serial[FW2]["hostname"] == "panos-01"
        assert all(d["connected"] for d in devices["items"])

        # retrieve_security_policies with device reads one firewall's rules.
        fw1 = await ok(c, "retrieve_security_policies", {"device": FW1, "limit": 200})
        assert fw1["total"] > 0, fw1
        by_name = await ok(c, "retrieve_security_policies", {"device": "PA-200", "limit": 200})
        assert [r["name"] for r in by_name["items"]] == [r["name"] for r in fw1["items"]]
        fw2 = await ok(c, "retrieve_security_policies", {"device": FW2, "limit": 200})
        assert fw2["total"] == 0, "iron-skillet's firewall has no rules of its own"
        panorama_own = await ok(c, "retrieve_security_policies", {"limit": 200})
        assert [r["name"] for r in panorama_own["items"]] != [r["name"] for r in fw1["items"]]

        # explain_traffic for a flow the loaded rules deny.
        deny = await first_flow(c, "deny")
        out = await ok(c, "explain_traffic", {
            "source": deny["source"], "destination": deny["destination"], "port": deny["destination_port"],
            "from_zone": deny["from_zone"], "to_zone": deny["to_zone"], "device": FW1, "log_entries": 5})
        assert out["security"]["rule"] == deny["rule"], out
        assert out["security"]["allowed"] is False
        assert out["verdict"].startswith("BLOCKED") and deny["rule"] in out["verdict"], out["verdict"]
        assert out["logs"] and all(l["action"] == "deny" for l in out["logs"]), out["logs"]
        assert all(l["session_end_reason"] == "policy-deny" for l in out["logs"])

        # For an allowed flow: the allowing rule, and the NAT rule if any (named as missing here).
        allow = await first_flow(c, "allow")
        out = await ok(c, "explain_traffic", {
            "source": allow["source"], "destination": allow["destination"], "port": allow["destination_port"],
            "application": allow["application"], "from_zone": allow["from_zone"], "to_zone": allow["to_zone"],
            "device": "PA-200"})
        assert out["security"]["rule"] == allow["rule"], out
        assert out["security"]["allowed"] is True
        assert out["verdict"].startswith("ALLOWED"), out["verdict"]
        assert out["nat_checked"] is True, out
        assert ("NAT rule" in out["verdict"]) == (out["nat_rule"] is not None), out["verdict"]
        assert "no NAT" in out["verdict"] or out["nat_rule"] is not None

        # A flow into zone tv: the real config's NAT rule `tv` is named.
        out = await ok(c, "explain_traffic", {"source": "10.0.0.5", "destination": "192.0.2.10", "port": 443,
                                              "from_zone": "trust", "to_zone": "tv", "device": FW1, "log_entries": 0})
        assert out["nat_rule"] == "tv", out
        assert "NAT rule `tv`" in out["verdict"], out["verdict"]

        # A device is needed on Panorama for the flow tools.
        msg = await refused(c, "explain_traffic", {"source": "10.0.0.1", "destination": "10.0.0.2", "port": 443})
        assert "`device`" in msg, msg


async def test_query_logs_pages_and_refuses_injected_filters(stack: Stack) -> None:
    sim, dep = deploy(stack, panorama=False)
    async with client(dep) as c:
        first = await ok(c, "query_logs", {"log_type": "traffic", "limit": 1000})
        assert first["count"] == 1000 and first["next_offset"] == 1000, {k: first[k] for k in ("count", "offset")}
        second = await ok(c, "query_logs", {"log_type": "traffic", "limit": 1000, "offset": first["next_offset"]})
        assert second["count"] == 500, second["count"]
        assert "next_offset" not in second
        assert len(first["items"]) + len(second["items"]) == 1500
        assert first["items"][-1]["time"] >= second["items"][0]["time"], "newest first, across pages"
        row = first["items"][0]
        for field in ("time", "rule", "source", "destination", "destination_port", "application", "action",
                      "session_end_reason", "bytes"):
            assert field in row, row

        before = sim.requests()
        for query, token in [("(app eq ssl) ; rm -rf /", "';'"), ("(app eq ssl) or 1=1", "'='"),
                             ("(rule eq x]]><x/>)", "']'"), ("(password eq x)", "password"),
                             ("(app like ssl)", "like")]:
            msg = await refused(c, "query_logs", {"log_type": "traffic", "query": query})
            assert "`query`" in msg and token in msg, msg
        assert sim.requests() == before, "refused filters reach nothing"
