#!/usr/bin/env python3
"""A Python FastMCP equivalent of the `proxmox` server's `list_vms` tool, for `make bench`.

Same upstream request as ours (`GET /api2/json/cluster/resources?type=vm` with
`Authorization: PVEAPIToken=ID=SECRET`, through one shared async HTTP client), the same
filters, sort and page envelope, the same bearer-JWT check (HS256, `MCP_JWT_SECRET`, scope
`proxmox:read`) and one JSON audit line per call (to stderr, which the benchmark sends to a
file). `/readyz` probes the upstream (`GET /api2/json/version`) like ours.

Runs in its own venv (scripts/bench/requirements-fastmcp.txt), served by uvicorn (one
process, uvloop not installed, access log off) over Streamable HTTP at /mcp:

    PROXMOX_HOST=http://127.0.0.1:PORT PROXMOX_TOKEN_ID=... PROXMOX_TOKEN_SECRET=... \\
    MCP_JWT_SECRET=... BENCH_PORT=8080 BENCH_STATELESS=true python fastmcp_proxmox.py
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Literal

import httpx2 as httpx  # the mcp SDK's HTTP client (the httpx API)
import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

HOST = os.environ["PROXMOX_HOST"].rstrip("/")
AUTH = f"PVEAPIToken={os.environ['PROXMOX_TOKEN_ID']}={os.environ['PROXMOX_TOKEN_SECRET']}"
PORT = int(os.environ.get("BENCH_PORT", "8080"))
STATELESS = os.environ.get("BENCH_STATELESS", "false") == "true"
SECRET = os.environ.get("MCP_JWT_SECRET")

audit = logging.getLogger("audit")
audit.setLevel(logging.INFO)
_h = logging.StreamHandler(sys.stderr)
_h.setFormatter(logging.Formatter("%(message)s"))
audit.addHandler(_h)
audit.propagate = False

auth = JWTVerifier(public_key=SECRET, algorithm="HS256", required_scopes=["proxmox:read"]) if SECRET else None
mcp = FastMCP("proxmox-fastmcp", auth=auth)
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=HOST, headers={"Authorization": AUTH}, timeout=30,
                                    limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000))
    return _client


@mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": True})
async def list_vms(node: str | None = None, kind: Literal["qemu", "lxc", "all"] = "all",
                   status: Literal["running", "stopped", "paused"] | None = None,
                   name_filter: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    """List virtual machines (qemu) and containers (lxc) across the cluster with node, status,
    CPU and memory; filter by node, kind, status and name. Paged."""
    started = time.monotonic()
    if not 1 <= limit <= 500:
        raise ValueError("limit: must be between 1 and 500")
    resp = await client().get("/api2/json/cluster/resources", params={"type": "vm"})
    resp.raise_for_status()
    guests = [g for g in resp.json().get("data") or [] if g.get("type") in ("qemu", "lxc")]
    nf = name_filter.lower() if name_filter else None
    guests = [g for g in guests
              if (node is None or g.get("node") == node)
              and (kind == "all" or g.get("type") == kind)
              and (status is None or g.get("status") == status)
              and (nf is None or nf in str(g.get("name", "")).lower())]
    guests.sort(key=lambda g: g.get("vmid", 0))
    page = guests[offset:offset + limit]
    audit.info(json.dumps({"target": "audit", "tool": "list_vms", "outcome": "ok",
                           "duration_ms": round((time.monotonic() - started) * 1000), "upstream_calls": 1}))
    return {"items": page, "total": len(guests), "offset": offset, "limit": limit,
            "has_more": offset + len(page) < len(guests)}


@mcp.custom_route("/readyz", methods=["GET"])
async def readyz(_request: Request):
    try:
        r = await client().get("/api2/json/version")
        if r.status_code == 200:
            return JSONResponse({"status": "ready"})
    except httpx.HTTPError:
        pass
    return PlainTextResponse("not ready", status_code=503)


def main() -> None:
    app = mcp.http_app(path="/mcp", stateless_http=STATELESS)
    print(f"listening on http://127.0.0.1:{PORT}", file=sys.stderr, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False,
                backlog=4096, timeout_keep_alive=120)


if __name__ == "__main__":
    main()
