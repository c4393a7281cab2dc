"""Raw MCP over HTTP for the upstream-fault and load suites: JSON-RPC on Streamable HTTP
(stateless or with `Mcp-Session-Id`) and the legacy SSE transport, with httpx2.

The servers answer a POST either with `application/json` or with a `text/event-stream` whose
events carry JSON-RPC messages (stateful Streamable HTTP starts with a priming event whose
data is empty). `jsonrpc_reply` handles both. Nothing here sleeps as synchronisation; `poll`
is a bounded poll.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import httpx2

PROTOCOL_VERSION = "2025-06-18"
ACCEPT = "application/json, text/event-stream"


def poll(what: str, check: Callable[[], Any], seconds: float, interval: float = 0.05) -> Any:
    """Calls `check()` until it returns something truthy or `seconds` pass (then raises)."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except AssertionError:
            raise
        except Exception as err:  # noqa: BLE001 - reported in the message
            last = err
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not true within {seconds} s (last: {last!r})")
        time.sleep(interval)


def sse_events(text: str) -> list[dict[str, str]]:
    """Splits an SSE body into events: {"event": ..., "data": ..., "id": ...}."""
    events: list[dict[str, str]] = []
    cur: dict[str, list[str] | str] = {}
    data: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if data or cur:
                events.append({"data": "\n".join(data), **{k: v for k, v in cur.items() if isinstance(v, str)}})
            cur, data = {}, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field in ("event", "id", "retry"):
            cur[field] = value
    if data or cur:
        events.append({"data": "\n".join(data), **{k: v for k, v in cur.items() if isinstance(v, str)}})
    return events


def jsonrpc_reply(resp: httpx2.Response, request_id: int | str) -> dict:
    """The JSON-RPC response to `request_id` in a JSON or SSE-framed HTTP response."""
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text[:500]}"
    ctype = resp.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        messages = [resp.json()]
    elif ctype.startswith("text/event-stream"):
        messages = [json.loads(ev["data"]) for ev in sse_events(resp.text) if ev["data"].strip()]
    else:
        raise AssertionError(f"unexpected content-type {ctype!r}: {resp.text[:300]}")
    for msg in messages:
        if isinstance(msg, dict) and msg.get("id") == request_id and ("result" in msg or "error" in msg):
            return msg
    raise AssertionError(f"no JSON-RPC response with id {request_id!r} in {messages!r}")


def call_body(request_id: int, name: str, arguments: dict) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}


def initialize_body(request_id: int = 1, client: str = "secops-hardening") -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                       "clientInfo": {"name": client, "version": "1.0"}}}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def headers(token: str, session_id: str | None = None, request_id: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "Content-Type": "application/json"}
    if session_id:
        h["Mcp-Session-Id"] = session_id
        h["MCP-Protocol-Version"] = PROTOCOL_VERSION
    if request_id:
        h["X-Request-Id"] = request_id
    return h


def tool_text(result: dict) -> str:
    """The text blocks of a CallToolResult, joined."""
    return "\n".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")
