"""Interop: the confirmation and approval gate of mcp-core, driven by the official MCP Python SDK.

The example server's `delete_item` needs a human's yes (`Confirm::Always`); `set_item` does not
(`Confirm::Never`). What these tests prove, each against a fresh server process:

- 2026-07-28 (`server/discover`) with an elicitation callback: the server answers the call with
  an `InputRequiredResult` whose `confirm` input request is an `elicitation/create` form; the
  SDK's `Client` asks the callback and retries with `inputResponses` + `requestState`. Accept
  deletes (confirmed `input_required`); decline and cancel change nothing.
- The initialize handshake on a stateful transport (stdio, Streamable HTTP with a session, SSE):
  the server asks with `elicitation/create` inside the session (confirmed `elicitation`).
- A client that cannot ask (no elicitation capability, or a stateless HTTP server with the
  handshake, where there is no session to ask in) is refused, and nothing is deleted.
- `dry_run` returns the plan and asks nobody; `MCP_CONFIRM=off` lets a client that cannot ask
  through (`confirm_off`), but still asks one that can.
- `requestState` is sealed: altered, presented by another subject, or answered after what the
  tool would do has changed, it applies nothing. `MCP_STATE_KEY` shared by two processes lets
  one resume a confirmation the other asked; different keys do not.
- `MCP_APPROVALS=required` (two-person rule): a write waits as a pending change; its writer
  cannot approve it, an approval must name the exact digest, only the writer applies it, once,
  and only while the tool would still do exactly what was approved.

Every outcome is also checked in the server's audit log (JSON, message "tool call").
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, ClientSession, MCPError
from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

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
    audit_records,
)
from test_python_client import (
    CALL_TIMEOUT_S,
    DIGEST,
    HANDSHAKE,
    MODERN,
    connect,
    era,  # noqa: F401 - the fixture: handshake and modern
    text_of,
    transport,
    unique_key,
    write_token,
)

pytestmark = pytest.mark.anyio

APPROVE_SCOPE = "example:approve"
STATEFUL_MODES = [STDIO, HTTP_STATEFUL, SSE]
REFUSED = "needs a human's confirmation"
DECLINED = "not applied: the user declined; nothing was changed"
CANCELLED = "not applied: the user cancelled; nothing was changed"
AUDITED = {"decline": "user_declined", "cancel": "user_cancelled"}  # the audit event's `confirmation`


def all_modes(fn):
    return pytest.mark.parametrize("server", ALL_MODES, indirect=True)(fn)


def http_modes(fn):
    return pytest.mark.parametrize("server", HTTP_MODES, indirect=True)(fn)


class Human:
    """An elicitation callback that records every question and answers `action` (with
    `confirm: true` on accept)."""

    def __init__(self, action: str = "accept") -> None:
        self.action = action
        self.asked: list[types.ElicitRequestFormParams] = []

    async def __call__(self, _ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams), params
        self.asked.append(params)
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=self.action)


def assert_confirm_question(params: types.ElicitRequestFormParams, key: str) -> str:
    """The question is about exactly this delete, and asks for one boolean `confirm`; returns
    the digest it names."""
    assert f"delete item {key}" in params.message, params.message
    digest = DIGEST.search(params.message)
    assert digest, params.message
    schema = params.requested_schema
    assert schema["type"] == "object" and schema["required"] == ["confirm"], schema
    assert schema["properties"]["confirm"]["type"] == "boolean", schema
    return digest.group(0)


@asynccontextmanager
async def sdk_client(
    server: ServerHandle, token: str | None, era: str, elicitation_callback: Any = None
) -> AsyncIterator[Client]:
    """The SDK's high-level `Client` over the server's transport: in the modern era it drives
    `InputRequiredResult` rounds through `elicitation_callback` itself."""
    async with transport(server, token) as (read, write):

        class Streams:  # a `Transport`: an async context manager yielding the stream pair
            async def __aenter__(self):
                return read, write

            async def __aexit__(self, *exc: object) -> None:
                return None

        async with Client(
            Streams(),
            mode="legacy" if era == HANDSHAKE else "auto",  # auto: server/discover finds 2026-07-28
            read_timeout_seconds=CALL_TIMEOUT_S,
            elicitation_callback=elicitation_callback,
        ) as client:
            expected = LATEST_HANDSHAKE_VERSION if era == HANDSHAKE else LATEST_MODERN_VERSION
            assert client.protocol_version == expected
            yield client


async def store(session: ClientSession | Client, key: str, value: str) -> None:
    result = await session.call_tool("set_item", {"key": key, "value": value})
    assert result.is_error is not True, text_of(result)
    assert result.structured_content["change"]["status"] in ("applied", "unchanged"), result


async def stored(session: ClientSession | Client, key: str) -> str | None:
    """The value under `key`, or None."""
    result = await session.call_tool("get_item", {"key": key})
    assert result.is_error is not True, text_of(result)
    return result.structured_content["value"]


def deletes(server: ServerHandle) -> list[dict]:
    return audit_records(server.stderr_path, "delete_item")


def subject_token(server: ServerHandle, sub: str, *scopes: str) -> str | None:
    return server.token(*scopes, sub=sub) if server.is_http else None


def assert_applied(result: types.CallToolResult, key: str, value: str, by: str) -> dict:
    """delete_item deleted `value` under `key`, confirmed `by`; returns its change report."""
    assert result.is_error is not True, text_of(result)
    content = result.structured_content
    assert content["key"] == key and content["deleted"] == value, content
    change = content["change"]
    assert change["status"] == "applied", change
    assert change["confirmation"]["by"] == by, change
    plan = change["plan"]
    assert plan["tool"] == "delete_item" and DIGEST.fullmatch(plan["digest"]), plan
    assert plan["changes"] == [{"action": "delete", "kind": "item", "name": key, "before": value}], plan
    return change


# --------------------------------------------------------------------------- 2026-07-28: InputRequiredResult


@all_modes
async def test_modern_accept_deletes_through_input_required(server: ServerHandle) -> None:
    key, value = unique_key(), "keep me?"
    human = Human("accept")
    async with sdk_client(server, write_token(server), MODERN, human) as client:
        await store(client, key, value)
        result = await client.call_tool("delete_item", {"key": key})
        change = assert_applied(result, key, value, by="input_required")
        assert await stored(client, key) is None
    assert len(human.asked) == 1, human.asked
    assert assert_confirm_question(human.asked[0], key) == change["plan"]["digest"]
    # Two tools/call rounds: the question (nothing done), then the confirmed delete.
    audit = deletes(server)
    assert [r["confirmation"] for r in audit] == ["asked", "input_required"], audit
    assert all(r["digest"] == change["plan"]["digest"] for r in audit), audit
    assert audit[-1]["outcome"] == "ok", audit


@all_modes
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_modern_decline_or_cancel_changes_nothing(server: ServerHandle, action: str) -> None:
    key, value = unique_key(), "stays"
    human = Human(action)
    async with sdk_client(server, write_token(server), MODERN, human) as client:
        await store(client, key, value)
        result = await client.call_tool("delete_item", {"key": key})
        assert result.is_error is True, result
        assert text_of(result) == (DECLINED if action == "decline" else CANCELLED), text_of(result)
        assert await stored(client, key) == value
    assert len(human.asked) == 1
    audit = deletes(server)
    assert [r["confirmation"] for r in audit] == ["asked", AUDITED[action]], audit
    assert audit[-1]["outcome"] == "not_confirmed", audit


# --------------------------------------------------------------------------- handshake era: elicitation/create


@pytest.mark.parametrize("server", STATEFUL_MODES, indirect=True)
async def test_handshake_accept_deletes_through_elicitation(server: ServerHandle) -> None:
    key, value = unique_key(), "asked in the session"
    human = Human("accept")
    async with connect(server, write_token(server), HANDSHAKE, human) as session:
        await store(session, key, value)
        result = await session.call_tool("delete_item", {"key": key})
        change = assert_applied(result, key, value, by="elicitation")
        assert await stored(session, key) is None
    assert len(human.asked) == 1
    assert assert_confirm_question(human.asked[0], key) == change["plan"]["digest"]
    audit = deletes(server)
    assert [r["confirmation"] for r in audit] == ["elicitation"], audit
    assert audit[0]["digest"] == change["plan"]["digest"] and audit[0]["outcome"] == "ok", audit


@pytest.mark.parametrize("server", STATEFUL_MODES, indirect=True)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_handshake_decline_or_cancel_changes_nothing(server: ServerHandle, action: str) -> None:
    key, value = unique_key(), "stays"
    human = Human(action)
    async with connect(server, write_token(server), HANDSHAKE, human) as session:
        await store(session, key, value)
        result = await session.call_tool("delete_item", {"key": key})
        assert result.is_error is True, result
        assert text_of(result) == (DECLINED if action == "decline" else CANCELLED), text_of(result)
        assert await stored(session, key) == value
    assert len(human.asked) == 1
    audit = deletes(server)
    assert [r["confirmation"] for r in audit] == [AUDITED[action]], audit


# --------------------------------------------------------------------------- no way to ask


@all_modes
async def test_client_without_elicitation_is_refused(server: ServerHandle, era: str) -> None:
    key, value = unique_key(), "stays"
    async with connect(server, write_token(server), era) as session:
        await store(session, key, value)
        result = await session.call_tool("delete_item", {"key": key})
        assert result.is_error is True, result
        assert REFUSED in text_of(result) and "Nothing was changed" in text_of(result), text_of(result)
        assert await stored(session, key) == value
    audit = deletes(server)
    assert [(r["confirmation"], r["outcome"]) for r in audit] == [("unavailable", "not_confirmed")], audit


@pytest.mark.parametrize("server", [HTTP_STATELESS], indirect=True)
async def test_stateless_handshake_has_no_session_to_ask_in(server: ServerHandle) -> None:
    """The client can answer elicitation, but a stateless server has no session to send it in."""
    key, value = unique_key(), "stays"
    human = Human("accept")
    async with connect(server, write_token(server), HANDSHAKE, human) as session:
        await store(session, key, value)
        result = await session.call_tool("delete_item", {"key": key})
        assert result.is_error is True, result
        assert REFUSED in text_of(result), text_of(result)
        assert await stored(session, key) == value
    assert human.asked == []
    assert [r["confirmation"] for r in deletes(server)] == ["unavailable"]


# --------------------------------------------------------------------------- dry_run and MCP_CONFIRM=off


@all_modes
async def test_dry_run_plans_and_asks_nobody(server: ServerHandle, era: str) -> None:
    key, value = unique_key(), "planned only"
    human = Human("accept")
    async with sdk_client(server, write_token(server), era, human) as client:
        await store(client, key, value)
        result = await client.call_tool("delete_item", {"key": key, "dry_run": True})
        assert result.is_error is not True, text_of(result)
        content = result.structured_content
        assert content["deleted"] is None, content
        change = content["change"]
        assert change["status"] == "planned" and "confirmation" not in change, change
        assert change["plan"]["changes"] == [{"action": "delete", "kind": "item", "name": key, "before": value}]
        assert await stored(client, key) == value
    assert human.asked == [], "dry_run asked the user"
    assert [r["confirmation"] for r in deletes(server)] == ["dry_run"]


@all_modes
@pytest.mark.server_env(MCP_CONFIRM="off")
async def test_confirm_off_applies_for_a_client_that_cannot_ask(server: ServerHandle, era: str) -> None:
    key, value = unique_key(), "gone without asking"
    async with connect(server, write_token(server), era) as session:
        await store(session, key, value)
        result = await session.call_tool("delete_item", {"key": key})
        change = assert_applied(result, key, value, by="confirm_off")
        assert await stored(session, key) is None
    audit = deletes(server)
    assert [(r["confirmation"], r["digest"]) for r in audit] == [("confirm_off", change["plan"]["digest"])]


@pytest.mark.parametrize(
    "server,era",
    # Not the handshake with a stateless server: no session to ask in (see above).
    [(mode, MODERN) for mode in ALL_MODES] + [(mode, HANDSHAKE) for mode in STATEFUL_MODES],
    indirect=["server"],
)
@pytest.mark.server_env(MCP_CONFIRM="off")
async def test_confirm_off_still_asks_a_client_that_can(server: ServerHandle, era: str) -> None:
    """MCP_CONFIRM=off is for clients that cannot ask; one that can is asked, and its no holds."""
    key, value = unique_key(), "stays"
    human = Human("decline")
    async with sdk_client(server, write_token(server), era, human) as client:
        await store(client, key, value)
        result = await client.call_tool("delete_item", {"key": key})
        assert result.is_error is True and text_of(result) == DECLINED, text_of(result)
        assert await stored(client, key) == value
    assert len(human.asked) == 1
    assert deletes(server)[-1]["confirmation"] == "user_declined"


# --------------------------------------------------------------------------- requestState


def accept_response() -> dict[str, types.ElicitResult]:
    return {"confirm": types.ElicitResult(action="accept", content={"confirm": True})}


async def ask(session: ClientSession, key: str) -> types.InputRequiredResult:
    """Call delete_item and return the InputRequiredResult, without answering it."""
    first = await session.call_tool("delete_item", {"key": key}, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult), first
    assert first.request_state, first
    assert set(first.input_requests or {}) == {"confirm"}, first
    request = first.input_requests["confirm"]
    assert isinstance(request, types.ElicitRequest) and isinstance(request.params, types.ElicitRequestFormParams)
    return first


def altered(state: str) -> str:
    """`state` with one character in the middle replaced."""
    i = len(state) // 2
    return state[:i] + ("A" if state[i] != "A" else "B") + state[i + 1 :]


async def answer(session: ClientSession, key: str, state: str) -> types.CallToolResult | types.InputRequiredResult:
    return await session.call_tool(
        "delete_item",
        {"key": key},
        input_responses=accept_response(),
        request_state=state,
        allow_input_required=True,
    )


@all_modes
async def test_altered_request_state_is_refused(server: ServerHandle) -> None:
    key, value = unique_key(), "stays"
    human = Human("accept")  # declares the capability; the answers below are sent by hand
    async with connect(server, write_token(server), MODERN, human) as session:
        await store(session, key, value)
        first = await ask(session, key)
        for state in (altered(first.request_state), first.request_state[:-4], "not-a-state"):
            result = await answer(session, key, state)
            assert isinstance(result, types.CallToolResult) and result.is_error is True, result
            assert "invalid argument `requestState`" in text_of(result), text_of(result)
            assert await stored(session, key) == value
        # The genuine state still works: the refusals above were about the state alone.
        done = await answer(session, key, first.request_state)
        assert isinstance(done, types.CallToolResult)
        assert_applied(done, key, value, by="input_required")
    assert human.asked == []
    assert [r["outcome"] for r in deletes(server)] == ["input_required"] + ["invalid_input"] * 3 + ["ok"]


@all_modes
async def test_one_yes_is_good_for_one_change(server: ServerHandle) -> None:
    """A confirmed requestState sent again, for the same plan, is refused: one yes, one change."""
    key, value = unique_key(), "v"
    human = Human("accept")
    async with connect(server, write_token(server), MODERN, human) as session:
        await store(session, key, value)
        first = await ask(session, key)
        done = await answer(session, key, first.request_state)
        assert isinstance(done, types.CallToolResult)
        assert_applied(done, key, value, by="input_required")
        await store(session, key, value)  # the same plan (and digest) as the first time
        again = await answer(session, key, first.request_state)
        assert isinstance(again, types.CallToolResult) and again.is_error is True, again
        assert "already used" in text_of(again), text_of(again)
        assert await stored(session, key) == value, "the replayed yes deleted nothing"


@http_modes
async def test_request_state_of_another_subject_is_refused(server: ServerHandle) -> None:
    key, value = unique_key(), "stays"
    human = Human("accept")
    async with connect(server, server.token(WRITE_SCOPE, sub="alice"), MODERN, human) as alice:
        await store(alice, key, value)
        first = await ask(alice, key)
    async with connect(server, server.token(WRITE_SCOPE, sub="mallory"), MODERN, human) as mallory:
        result = await answer(mallory, key, first.request_state)
        assert isinstance(result, types.CallToolResult) and result.is_error is True, result
        assert "invalid argument `requestState`" in text_of(result), text_of(result)
        assert await stored(mallory, key) == value
    assert human.asked == []
    audit = deletes(server)
    assert [(r["subject"], r["outcome"]) for r in audit] == [("alice", "input_required"), ("mallory", "invalid_input")]


@all_modes
async def test_a_yes_to_an_older_plan_asks_again(server: ServerHandle) -> None:
    """The human said yes to deleting one value; the item changed before the retry: the server
    asks about the new plan instead of applying."""
    key = unique_key()
    human = Human("accept")
    async with connect(server, write_token(server), MODERN, human) as session:
        await store(session, key, "old value")
        first = await ask(session, key)
        await store(session, key, "new value")
        again = await answer(session, key, first.request_state)
        assert isinstance(again, types.InputRequiredResult), again
        assert again.request_state and again.request_state != first.request_state
        old_digest = assert_confirm_question(first.input_requests["confirm"].params, key)
        new_digest = assert_confirm_question(again.input_requests["confirm"].params, key)
        assert new_digest != old_digest
        assert await stored(session, key) == "new value"
        done = await answer(session, key, again.request_state)
        assert isinstance(done, types.CallToolResult)
        assert_applied(done, key, "new value", by="input_required")
    audit = deletes(server)
    assert [r["confirmation"] for r in audit] == ["asked", "asked", "input_required"], audit
    assert audit[0]["digest"] != audit[1]["digest"] == audit[2]["digest"], audit


@pytest.mark.parametrize("mode", [HTTP_STATEFUL, HTTP_STATELESS])
@pytest.mark.parametrize("keys", ["same", "different", "unset"])
async def test_state_key_shared_by_two_servers(start_server, mode: str, keys: str) -> None:
    """Server A asks; the retry goes to server B. Only a shared MCP_STATE_KEY lets B resume it."""
    key_a = secrets.token_hex(32)
    key_b = {"same": key_a, "different": secrets.token_hex(32), "unset": None}[keys]
    env_a = {"MCP_STATE_KEY": key_a} if keys != "unset" else {}
    env_b = {"MCP_STATE_KEY": key_b} if key_b else {}
    key, value = unique_key(), "on both"
    human = Human("accept")
    with start_server(mode, env_a) as a, start_server(mode, env_b) as b:
        async with connect(a, a.token(WRITE_SCOPE, sub="writer"), MODERN, human) as on_a:
            await store(on_a, key, value)
            first = await ask(on_a, key)
        async with connect(b, b.token(WRITE_SCOPE, sub="writer"), MODERN, human) as on_b:
            await store(on_b, key, value)  # B's store holds the same item, so the plan is the same
            result = await answer(on_b, key, first.request_state)
            assert isinstance(result, types.CallToolResult), result
            if keys == "same":
                assert_applied(result, key, value, by="input_required")
                assert await stored(on_b, key) is None
            else:
                assert result.is_error is True and "invalid argument `requestState`" in text_of(result), result
                assert await stored(on_b, key) == value
        async with connect(a, a.token(READ_SCOPE, sub="reader"), MODERN) as on_a:
            assert await stored(on_a, key) == value, "A's item was touched"
        assert [r["confirmation"] for r in deletes(a)] == ["asked"]
        expected = "input_required" if keys == "same" else ""
        assert [(r["confirmation"], r["outcome"]) for r in deletes(b)] == [
            (expected, "ok" if keys == "same" else "invalid_input")
        ]
    assert human.asked == []


# --------------------------------------------------------------------------- two-person rule


async def submit_and_approve(server: ServerHandle, key: str, value: str) -> tuple[str, str]:
    """As `writer`: store `value`, ask to delete it; as `approver`: approve. (change_id, digest)."""
    async with connect(server, server.token(WRITE_SCOPE, sub="writer"), MODERN) as w:
        await store(w, key, value)
        change = change_of(await w.call_tool("delete_item", {"key": key}))["change"]
        change_id, digest = change["pending"]["change_id"], change["pending"]["digest"]
    async with connect(server, server.token(APPROVE_SCOPE, sub="approver"), MODERN) as a:
        change_of(await a.call_tool("approve_change", {"change_id": change_id, "digest": digest}))
    return change_id, digest


def change_of(result: types.CallToolResult) -> dict:
    assert result.is_error is not True, text_of(result)
    return result.structured_content


@http_modes
@pytest.mark.server_env(MCP_APPROVALS="required")
async def test_two_person_rule(server: ServerHandle, era: str) -> None:
    key, value = unique_key(), "needs two people"
    writer = server.token(WRITE_SCOPE, sub="writer")
    approver = server.token(APPROVE_SCOPE, sub="approver")
    writer_with_approve = server.token(WRITE_SCOPE, APPROVE_SCOPE, sub="writer")

    async with connect(server, writer, era) as w:
        tools = {t.name for t in (await w.list_tools()).tools}
        assert {"delete_item", "list_changes", "apply_change"} <= tools and "approve_change" not in tools, tools
        await store(w, key, value)  # Confirm::Never: no approval needed
        pending = await w.call_tool("delete_item", {"key": key})
        content = change_of(pending)
        assert content["deleted"] is None, content
        change = content["change"]
        assert change["status"] == "pending_approval" and "confirmation" not in change, change
        change_id, digest = change["pending"]["change_id"], change["pending"]["digest"]
        assert digest == change["plan"]["digest"] and DIGEST.fullmatch(digest), change
        assert "approve_change" in change["pending"]["next"], change
        assert await stored(w, key) == value

        # The writer cannot approve: without the scope the tool does not exist for them...
        with pytest.raises(MCPError) as excinfo:
            await w.call_tool("approve_change", {"change_id": change_id, "digest": digest})
        assert "tool `approve_change` not found" in excinfo.value.message
        # ...and applying before anyone approved is refused.
        early = await w.call_tool("apply_change", {"change_id": change_id})
        assert early.is_error is True and "not approved yet" in text_of(early), text_of(early)

    # ...and with the scope, the writer still cannot approve their own change.
    async with connect(server, writer_with_approve, era) as w2:
        own = await w2.call_tool("approve_change", {"change_id": change_id, "digest": digest})
        assert own.is_error is True and "cannot approve their own change" in text_of(own), text_of(own)

    async with connect(server, approver, era) as a:
        listed = change_of(await a.call_tool("list_changes", {}))["changes"]
        mine = [c for c in listed if c["change_id"] == change_id]
        assert len(mine) == 1 and mine[0]["status"] == "pending" and mine[0]["writer"] == "writer", listed
        assert mine[0]["plan"]["digest"] == digest and mine[0]["tool"] == "delete_item", mine
        other_digest = digest[:-1] + ("0" if digest[-1] != "0" else "1")
        wrong = await a.call_tool("approve_change", {"change_id": change_id, "digest": other_digest})
        assert wrong.is_error is True and "is not the digest of change" in text_of(wrong), text_of(wrong)
        approved = change_of(await a.call_tool("approve_change", {"change_id": change_id, "digest": digest}))
        assert approved["status"] == "approved" and approved["approver"] == "approver", approved
        # Someone other than the writer cannot apply it.
        stolen = await a.call_tool("apply_change", {"change_id": change_id})
        assert stolen.is_error is True and "only its writer applies it" in text_of(stolen), text_of(stolen)
        assert await stored(a, key) == value

    async with connect(server, writer, era) as w:
        # call_tool checks the answer against apply_change's outputSchema, as the SDK does.
        applied = await w.call_tool("apply_change", {"change_id": change_id})
        assert applied.is_error is not True, text_of(applied)
        content = applied.structured_content
        assert content["deleted"] == value, content
        assert content["change"]["status"] == "applied", content
        assert content["change"]["confirmation"] == {"by": "approval", "approver": "approver", "change_id": change_id}
        assert content["change"]["plan"]["digest"] == digest
        assert await stored(w, key) is None
        again = await w.call_tool("apply_change", {"change_id": change_id})
        assert again.is_error is True and "already applied" in text_of(again), text_of(again)

    audit = audit_records(server.stderr_path)
    (submitted,) = [r for r in audit if r["tool"] == "delete_item"]
    assert (submitted["confirmation"], submitted["change_id"], submitted["digest"]) == (
        "pending_approval",
        change_id,
        digest,
    ), submitted
    applies = [r for r in audit if r["tool"] == "apply_change"]
    ok = [r for r in applies if r["outcome"] == "ok"]
    assert len(ok) == 1, applies
    assert ok[0]["subject"] == "writer" and ok[0]["applied_tool"] == "delete_item", ok
    assert (ok[0]["approver"], ok[0]["change_id"], ok[0]["confirmation"], ok[0]["digest"]) == (
        "approver",
        change_id,
        "approval",
        digest,
    ), ok
    assert len(applies) == 4, applies  # too early, by the approver, the apply, the second apply


@http_modes
@pytest.mark.server_env(MCP_APPROVALS="required")
async def test_two_person_rule_refuses_a_stale_change(server: ServerHandle) -> None:
    """Approved, then the item changes: the apply would delete something nobody approved."""
    key = unique_key()
    change_id, digest = await submit_and_approve(server, key, "approved value")
    async with connect(server, server.token(WRITE_SCOPE, sub="writer"), MODERN) as w:
        await store(w, key, "changed since")
        stale = await w.call_tool("apply_change", {"change_id": change_id})
        assert stale.is_error is True, stale
        assert f"change {change_id} is stale" in text_of(stale) and "Nothing was changed" in text_of(stale)
        assert await stored(w, key) == "changed since"
    (apply,) = audit_records(server.stderr_path, "apply_change")
    assert (apply["applied_tool"], apply["confirmation"], apply["outcome"]) == ("delete_item", "stale", "conflict"), apply
    assert apply["digest"] != digest, apply
