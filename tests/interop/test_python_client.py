"""Interop: the official MCP Python SDK (PyPI `mcp`) as a client of the example server.

Every test runs against a fresh server process in each transport mode: stdio,
Streamable HTTP (stateful and stateless) and legacy HTTP+SSE. Over HTTP the server
requires HS256 bearer tokens, minted with the server's own `token` subcommand.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client, ClientSession, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth_utils import check_resource_allowed
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

from conftest import (
    ALL_MODES,
    HTTP_MODES,
    HTTP_STATEFUL,
    HTTP_STATELESS,
    READ_SCOPE,
    SSE,
    STDIO,
    WRITE_SCOPE,
    ServerHandle,
    example_bin,
)

pytestmark = pytest.mark.anyio

CONFORMANCE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_error_handling",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "json_schema_2020_12_tool",
    "test_reconnection",
}
READ_TOOLS = {"get_item", "slow_echo"} | CONFORMANCE_TOOLS
ALL_TOOLS = READ_TOOLS | {"set_item", "delete_item"}

# Per-request bound so a misbehaving server fails a test instead of hanging it.
CALL_TIMEOUT_S = 20.0


def all_modes(fn):
    return pytest.mark.parametrize("server", ALL_MODES, indirect=True)(fn)


def http_modes(fn):
    return pytest.mark.parametrize("server", HTTP_MODES, indirect=True)(fn)


def _no_proxy_client_factory(responses: list[httpx2.Response] | None = None):
    """An `McpHttpClientFactory` that never routes 127.0.0.1 through an env-configured proxy,
    optionally recording every HTTP response (status and headers) into `responses`."""

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        hooks = {}
        if responses is not None:

            async def record(response: httpx2.Response) -> None:
                responses.append(response)

            hooks["response"] = [record]
        return httpx2.AsyncClient(
            headers=headers,
            timeout=timeout or httpx2.Timeout(30.0, read=60.0),
            auth=auth,
            trust_env=False,
            event_hooks=hooks,
        )

    return factory


@asynccontextmanager
async def transport(
    server: ServerHandle, token: str | None, responses: list[httpx2.Response] | None = None
) -> AsyncIterator[Any]:
    """The SDK transport for the server's mode, yielding its (read, write) stream pair.

    `responses`, when given, collects every HTTP response the transport receives."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    if server.mode == STDIO:
        assert token is None, "stdio has no auth"
        params = StdioServerParameters(command=str(example_bin()), args=["serve"], env=server.stdio_env)
        with server.stderr_path.open("a") as errlog:
            async with stdio_client(params, errlog=errlog) as streams:
                yield streams
    elif server.mode in (HTTP_STATEFUL, HTTP_STATELESS):
        async with _no_proxy_client_factory(responses)(headers=headers) as http:
            async with streamable_http_client(server.mcp_url, http_client=http) as streams:
                yield streams
    elif server.mode == SSE:
        async with sse_client(
            server.sse_url, headers=headers, httpx_client_factory=_no_proxy_client_factory(responses)
        ) as streams:
            yield streams
    else:  # pragma: no cover
        raise AssertionError(server.mode)


HANDSHAKE = "handshake"  # initialize + notifications/initialized (protocol revisions up to 2025-11-25)
MODERN = "modern"  # server/discover, then per-request _meta envelope (2026-07-28)


@pytest.fixture(params=[HANDSHAKE, MODERN])
def era(request: pytest.FixtureRequest) -> str:
    """How the client negotiates: the initialize handshake, or the 2026-07-28 discover probe."""
    return request.param


@asynccontextmanager
async def connect(
    server: ServerHandle, token: str | None = None, era: str = HANDSHAKE, elicitation_callback: Any = None
) -> AsyncIterator[ClientSession]:
    """A connected low-level `ClientSession`, negotiated in the given era. With an
    `elicitation_callback` the session declares the elicitation capability and answers
    the server's questions with it."""
    async with transport(server, token) as (read, write):
        async with ClientSession(
            read, write, read_timeout_seconds=CALL_TIMEOUT_S, elicitation_callback=elicitation_callback
        ) as session:
            if era == HANDSHAKE:
                init = await session.initialize()
                assert session.initialize_result is init
            else:
                discovered = await session.discover()
                assert LATEST_MODERN_VERSION in discovered.supported_versions
                assert session.protocol_version == LATEST_MODERN_VERSION
            yield session


def write_token(server: ServerHandle) -> str | None:
    """A token that may call every tool; None over stdio, which has no auth."""
    return server.token(READ_SCOPE, WRITE_SCOPE, sub="writer") if server.is_http else None


async def list_all_tools(session: ClientSession) -> dict[str, types.Tool]:
    tools: dict[str, types.Tool] = {}
    cursor: str | None = None
    for _ in range(50):  # bounded pagination
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        for tool in page.tools:
            assert tool.name not in tools, f"tool {tool.name} listed twice"
            tools[tool.name] = tool
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise AssertionError("tools/list pagination did not end")


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def unique_key() -> str:
    return f"interop-{uuid.uuid4().hex[:12]}"


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def assert_stored(result: types.CallToolResult, key: str, *, previous: str | None, value: str) -> None:
    """set_item's answer: the key, the value it replaced, and its `change` report (applied, a
    one-item create or update plan that names the new value, confirmation not required)."""
    assert result.is_error is not True, text_of(result)
    content = result.structured_content
    assert content is not None, result
    assert set(content) == {"key", "previous", "change"}, content
    assert content["key"] == key and content["previous"] == previous, content
    change = content["change"]
    assert change["status"] == "applied", change
    assert change["confirmation"] == {"by": "not_required"}, change
    plan = change["plan"]
    assert plan["tool"] == "set_item", plan
    assert DIGEST.fullmatch(plan["digest"]), plan
    assert plan["changes"] == [
        {"action": "create" if previous is None else "update", "kind": "item", "name": key, "after": value}
    ], plan


# --------------------------------------------------------------------------- all modes


@all_modes
async def test_initialize(server: ServerHandle, era: str) -> None:
    async with connect(server, write_token(server), era) as session:
        assert session.server_info is not None, "server did not identify itself"
        assert session.server_info.name == "mcp-example"
        assert session.server_info.version, "serverInfo.version is empty"
        capabilities = session.server_capabilities
        assert capabilities is not None and capabilities.tools is not None, "no tools capability"
        if era == HANDSHAKE:
            assert session.initialize_result is not None
            assert session.protocol_version == session.initialize_result.protocol_version
            assert session.protocol_version == LATEST_HANDSHAKE_VERSION
            # The session is usable after the handshake (ping exists only before 2026-07-28).
            assert isinstance(await session.send_ping(), types.EmptyResult)
        else:
            assert session.discover_result is not None
            assert session.protocol_version == LATEST_MODERN_VERSION
            # The session is usable after discovery (2026-07-28 has no ping).
            assert "get_item" in {tool.name for tool in (await session.list_tools()).tools}


@all_modes
async def test_list_tools_with_write_access(server: ServerHandle, era: str) -> None:
    async with connect(server, write_token(server), era) as session:
        tools = await list_all_tools(session)
    assert set(tools) == ALL_TOOLS

    set_item = tools["set_item"]
    assert set_item.input_schema.get("type") == "object"
    assert {"key", "value"} <= set(set_item.input_schema.get("properties", {}))
    assert {"key", "value"} <= set(set_item.input_schema.get("required", []))
    assert set_item.output_schema is not None
    assert {"key", "previous", "change"} <= set(set_item.output_schema.get("properties", {}))
    assert "dry_run" in set_item.input_schema.get("properties", {})
    assert set_item.annotations is not None and set_item.annotations.read_only_hint is False

    delete_item = tools["delete_item"]
    assert delete_item.input_schema.get("required") == ["key"]
    assert {"key", "dry_run"} <= set(delete_item.input_schema.get("properties", {}))
    assert delete_item.output_schema is not None
    assert {"key", "deleted", "change"} <= set(delete_item.output_schema.get("properties", {}))
    assert delete_item.annotations is not None
    assert delete_item.annotations.read_only_hint is False and delete_item.annotations.destructive_hint is True

    get_item = tools["get_item"]
    assert get_item.input_schema.get("required") == ["key"]
    assert get_item.output_schema is not None
    assert {"key", "found", "value"} <= set(get_item.output_schema.get("properties", {}))
    assert get_item.annotations is not None and get_item.annotations.read_only_hint is True


@all_modes
async def test_set_item_then_get_item(server: ServerHandle, era: str) -> None:
    key = unique_key()
    async with connect(server, write_token(server), era) as session:
        missing = await session.call_tool("get_item", {"key": key})
        assert missing.is_error is not True, text_of(missing)
        assert missing.structured_content == {"key": key, "found": False, "value": None}

        first = await session.call_tool("set_item", {"key": key, "value": "first value"})
        assert first.is_error is not True, text_of(first)
        assert_stored(first, key, previous=None, value="first value")

        second = await session.call_tool("set_item", {"key": key, "value": "second value"})
        assert second.is_error is not True, text_of(second)
        assert_stored(second, key, previous="first value", value="second value")

        got = await session.call_tool("get_item", {"key": key})
        assert got.is_error is not True, text_of(got)
        assert got.structured_content == {"key": key, "found": True, "value": "second value"}


@all_modes
async def test_bad_input_is_a_tool_error_naming_the_field(server: ServerHandle, era: str) -> None:
    async with connect(server, write_token(server), era) as session:
        for name, arguments in [
            ("get_item", {"key": "a/b"}),
            ("set_item", {"key": "a/b", "value": "v"}),
        ]:
            result = await session.call_tool(name, arguments)
            assert result.is_error is True, f"{name}{arguments}: expected isError, got {result}"
            assert "invalid argument `key`" in text_of(result), text_of(result)
        # The refused set_item stored nothing (checked under a valid key; "a/b" cannot be read).
        after = await session.call_tool("get_item", {"key": "a.b"})
        assert after.is_error is not True, text_of(after)
        assert after.structured_content == {"key": "a.b", "found": False, "value": None}


@all_modes
async def test_high_level_client_default_mode(server: ServerHandle) -> None:
    """`mcp.Client` in its default mode ("auto") finds the 2026-07-28 protocol via server/discover."""
    key = unique_key()
    token = write_token(server)
    async with transport(server, token) as (read, write):

        class Streams:  # a `Transport`: an async context manager yielding the stream pair
            async def __aenter__(self):
                return read, write

            async def __aexit__(self, *exc: object) -> None:
                return None

        async with Client(Streams(), read_timeout_seconds=CALL_TIMEOUT_S) as client:
            assert client.server_info is not None and client.server_info.name == "mcp-example"
            assert client.protocol_version == LATEST_MODERN_VERSION
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == ALL_TOOLS
            stored = await client.call_tool("set_item", {"key": key, "value": "via Client"})
            assert_stored(stored, key, previous=None, value="via Client")
            got = await client.call_tool("get_item", {"key": key})
            assert got.structured_content == {"key": key, "found": True, "value": "via Client"}


# --------------------------------------------------------------------------- stdio only


@pytest.mark.parametrize("server", [STDIO], indirect=True)
async def test_stdio_has_no_auth_and_lists_every_tool(server: ServerHandle, era: str) -> None:
    async with connect(server, None, era) as session:
        assert set(await list_all_tools(session)) == ALL_TOOLS
        key = unique_key()
        result = await session.call_tool("set_item", {"key": key, "value": "x"})
        assert_stored(result, key, previous=None, value="x")


async def test_stdio_discover_only_session_exits_cleanly(tmp_path: Path) -> None:
    """A 2026-07-28 client may discover and then disconnect; the server must still stop cleanly."""
    errlog_path = tmp_path / "server-stderr.log"
    params = StdioServerParameters(
        command=str(example_bin()),
        args=["serve"],
        env={"MCP_TRANSPORT": "stdio", "MCP_LOG_FORMAT": "json", "RUST_LOG": "info"},
    )
    with errlog_path.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                discovered = await session.discover()
                assert LATEST_MODERN_VERSION in discovered.supported_versions
    log = [json.loads(line) for line in errlog_path.read_text().splitlines() if line.startswith("{")]
    errors = [record for record in log if record.get("level") == "ERROR"]
    assert not errors, errors
    assert log and log[-1].get("message") == "stopped", log[-3:]


# --------------------------------------------------------------------------- HTTP modes


@http_modes
async def test_read_token_does_not_list_set_item(server: ServerHandle, era: str) -> None:
    async with connect(server, server.token(READ_SCOPE, sub="reader"), era) as session:
        assert session.server_info is not None and session.server_info.name == "mcp-example"
        tools = await list_all_tools(session)
    assert "set_item" not in tools
    assert set(tools) == READ_TOOLS


@http_modes
async def test_write_scope_alone_sees_read_and_write_tools(server: ServerHandle, era: str) -> None:
    """`example:write` implies `example:read`: a write-only token lists and calls both kinds."""
    key = unique_key()
    async with connect(server, server.token(WRITE_SCOPE, sub="write-only"), era) as session:
        assert set(await list_all_tools(session)) == ALL_TOOLS
        stored = await session.call_tool("set_item", {"key": key, "value": "w"})
        assert_stored(stored, key, previous=None, value="w")
        got = await session.call_tool("get_item", {"key": key})
        assert got.structured_content == {"key": key, "found": True, "value": "w"}, text_of(got)


@http_modes
async def test_read_token_calling_set_item_is_refused(server: ServerHandle, era: str) -> None:
    key = unique_key()
    async with connect(server, server.token(READ_SCOPE, sub="reader"), era) as session:
        with pytest.raises(MCPError) as excinfo:
            await session.call_tool("set_item", {"key": key, "value": "should not be stored"})
        assert excinfo.value.code == types.INVALID_PARAMS, excinfo.value.error
        assert "tool `set_item` not found" in excinfo.value.message

        # The session survives the refusal, and nothing was stored.
        got = await session.call_tool("get_item", {"key": key})
        assert got.is_error is not True, text_of(got)
        assert got.structured_content == {"key": key, "found": False, "value": None}


@http_modes
async def test_write_token_value_is_visible_to_a_read_token(server: ServerHandle, era: str) -> None:
    """One store behind every session and connection: a reader sees what a writer stored."""
    key = unique_key()
    async with connect(server, write_token(server), era) as session:
        stored = await session.call_tool("set_item", {"key": key, "value": "shared"})
        assert_stored(stored, key, previous=None, value="shared")
    async with connect(server, server.token(READ_SCOPE, sub="reader"), era) as session:
        got = await session.call_tool("get_item", {"key": key})
        assert got.structured_content == {"key": key, "found": True, "value": "shared"}


@http_modes
async def test_no_token_is_401_with_resource_metadata(server: ServerHandle) -> None:
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        if server.mode == SSE:
            response = await http.get(server.sse_url, headers={"Accept": "text/event-stream"})
        else:
            response = await http.post(
                server.mcp_url,
                headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": HANDSHAKE_PROTOCOL_VERSIONS[-1],
                        "capabilities": {},
                        "clientInfo": {"name": "interop", "version": "0"},
                    },
                },
            )
    assert response.status_code == 401, response.text
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    match = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert match, challenge

    # The metadata it points to is served (without a token), on this server, and names a
    # resource the SDK's OAuth client accepts for the /mcp endpoint.
    metadata_url = match.group(1)
    assert metadata_url.startswith(f"{server.base_url}/.well-known/oauth-protected-resource"), metadata_url
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        metadata_response = await http.get(metadata_url)
    assert metadata_response.status_code == 200, metadata_response.text
    metadata = metadata_response.json()
    assert check_resource_allowed(requested_resource=server.mcp_url, configured_resource=metadata["resource"]), metadata
    assert {READ_SCOPE, WRITE_SCOPE} <= set(metadata.get("scopes_supported", [])), metadata

    # The SDK client without a token cannot connect either: the first request it makes is
    # answered 401 (the Streamable HTTP transport reports that as a JSON-RPC error, the
    # SSE transport as an HTTP status error), and nothing but 401 comes back.
    responses: list[httpx2.Response] = []
    with pytest.raises(Exception) as excinfo:  # noqa: PT011 - checked below
        async with transport(server, None, responses) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
                await session.initialize()
    statuses = [response.status_code for response in responses]
    assert statuses and set(statuses) == {401}, (statuses, repr(excinfo.value))
    assert _has(excinfo.value, lambda e: isinstance(e, MCPError | httpx2.HTTPStatusError)), repr(excinfo.value)


def _has(exc: BaseException, predicate) -> bool:
    """Whether `exc`, or any exception nested in it (groups, causes), satisfies `predicate`."""
    if predicate(exc):
        return True
    if any(_has(inner, predicate) for inner in getattr(exc, "exceptions", ())):
        return True
    return exc.__cause__ is not None and _has(exc.__cause__, predicate)


@pytest.mark.parametrize("server", [HTTP_STATEFUL], indirect=True)
async def test_stateful_session_is_terminated_when_the_sdk_closes(server: ServerHandle) -> None:
    """The SDK sends DELETE with its Mcp-Session-Id on close; the server then forgets the session."""
    token = write_token(server)
    responses: list[httpx2.Response] = []
    async with transport(server, token, responses) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
            await session.initialize()
            assert "set_item" in {tool.name for tool in (await session.list_tools()).tools}
    session_ids = {r.headers["mcp-session-id"] for r in responses if "mcp-session-id" in r.headers}
    assert len(session_ids) == 1, session_ids
    (session_id,) = session_ids
    deletes = [r for r in responses if r.request.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].request.headers.get("mcp-session-id") == session_id
    assert 200 <= deletes[0].status_code < 300, deletes[0].status_code

    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        after = await http.post(
            server.mcp_url,
            headers={
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "Mcp-Session-Id": session_id,
                "Mcp-Protocol-Version": LATEST_HANDSHAKE_VERSION,
            },
            json={"jsonrpc": "2.0", "id": 7, "method": "tools/list"},
        )
    assert after.status_code == 404, (after.status_code, after.text)


@pytest.mark.parametrize("server", [HTTP_STATEFUL, HTTP_STATELESS], indirect=True)
async def test_session_id_only_when_stateful(server: ServerHandle) -> None:
    token = write_token(server)
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        response = await http.post(
            server.mcp_url,
            headers={
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
            },
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": HANDSHAKE_PROTOCOL_VERSIONS[-1],
                    "capabilities": {},
                    "clientInfo": {"name": "interop", "version": "0"},
                },
            },
        )
    assert response.status_code == 200, response.text
    session_id = response.headers.get("mcp-session-id")
    if server.mode == HTTP_STATEFUL:
        assert session_id, "stateful server issued no Mcp-Session-Id"
    else:
        assert session_id is None, f"stateless server issued Mcp-Session-Id {session_id!r}"
