"""Hostile inputs through the official MCP Python SDK, against every tool of every vendor server.

Each case of `hostile_cases.CASES` is one test: connect (Streamable HTTP, JWT with every scope
of the server), call the tool once, and require

1. a clean refusal: an `isError` tool result whose text starts the documented way
   (``invalid argument `field`: …`` or ``refused by policy: …``, only once), or a JSON-RPC
   error -32602/-32600/-32700 from the protocol layer that names the field. An HTTP error
   status, a -32603 internal error, a success, a timeout or a dropped connection fails;
2. the text names the offending argument (`Case.must_contain`), and repeats none of the
   case's `secrets` (values under secret-named keys), which the server's log (the audit
   event included) must not hold either;
3. nothing reached the upstream: the simulator's request counter (and, for proxmox, the
   sshd peer's connection and session log; for aws-whitelist, the counting proxy in front
   of moto) is the same before and after;
4. the server process is still running.

All cases of one server run against one server process (the module-scoped `targets`). After
them, `test_server_still_healthy` checks `/healthz`, a normal call that reaches the upstream
(and moves its counter, which shows the counter would have seen a leak), and the log.

Run: .venv/bin/pytest tests/hardening -q        (add -k aws-whitelist to pick a server)
"""

from __future__ import annotations

import json
import re
import time

import anyio
import pytest
from mcp import MCPError

from hardening_support import (CALL_TIMEOUT_S, Target, log_mark, log_since, log_tail, mcp_session, result_text,
                               tool_inventory)
from hostile_cases import CASES, SERVERS, UNKNOWN, Case
from secops_stack import spec_of
from servers import fill_all

pytestmark = pytest.mark.anyio

CLEAN_PREFIX = re.compile(r"^(invalid argument `[^`\n]+`: |refused by policy: )")
PROTOCOL_CODES = {-32602, -32600, -32700}
# A refusal may quote the input, but escaped: a raw newline, NUL or ESC from the caller could forge
# lines in the model's context and in terminals that show the result, and a bidi override or a
# line separator could reorder or split what a person reads.
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\u200b-\u200f\ufeff]")


def _short(value, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


async def call_once(target: Target, case: Case) -> dict:
    """One tools/call through the SDK; what came back, and every HTTP error answer on the way."""
    http_errors: list[tuple[int, str]] = []
    out: dict = {"kind": None, "text": "", "code": None, "http_errors": http_errors}
    try:
        with anyio.fail_after(CALL_TIMEOUT_S + 10):
            async with mcp_session(target.base, target.token, http_errors) as session:
                try:
                    result = await session.call_tool(case.tool, case.args)
                    out["kind"] = "tool-error" if result.is_error else "success"
                    out["text"] = result_text(result)
                except MCPError as err:
                    out["kind"] = "jsonrpc-error"
                    out["code"] = err.error.code
                    out["text"] = f"{err.error.message} {json.dumps(err.error.data, default=str)}"
    except TimeoutError:
        out["kind"] = "timeout"
    except Exception as err:  # noqa: BLE001 - a dropped connection, a transport failure: reported below
        if out["kind"] is None:
            out["kind"] = "transport-failure"
            out["text"] = repr(err)[:500]
        else:  # the answer came; closing the session failed (shown in a failure report only)
            out["teardown"] = repr(err)[:300]
    return out


def _report(target: Target, case: Case, out: dict, before: dict, after: dict, problem: str, mark: int) -> str:
    return (f"{problem}\n  case: {case.id}\n  tool: {case.tool}  field: {case.field!r}  must contain: "
            f"{case.must_contain!r}\n  arguments: {_short(case.args)}\n  outcome: {out['kind']} code={out['code']} "
            f"text={out['text'][:500]!r}\n  HTTP errors seen by the client: {out['http_errors']}\n"
            f"  closing the session: {out.get('teardown', 'ok')}\n"
            f"  upstream before={before} after={after}\n  server log during the case:\n{log_since(target, mark)}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_input_is_refused_cleanly(case: Case, targets) -> None:
    target: Target = targets(case.server)
    mark = log_mark(target)
    before = target.upstream_counts()
    out = await call_once(target, case)
    after = target.upstream_counts()
    fail = lambda problem: _report(target, case, out, before, after, problem, mark)  # noqa: E731

    assert target.proc.alive(), fail(f"the server process died (exit {target.proc.popen.poll()})")
    assert not out["http_errors"], fail("the server answered with an HTTP error instead of a JSON-RPC answer")
    if out["kind"] == "tool-error":
        assert CLEAN_PREFIX.match(out["text"]), fail("the tool error does not start the documented way")
        assert out["text"].count("invalid argument") <= 1, fail("the tool error wraps another `invalid argument`")
        assert case.must_contain in out["text"], fail("the refusal does not name the offending argument")
        assert not RAW_CONTROL.search(out["text"]), fail("the refusal echoes a raw control character")
    elif out["kind"] == "jsonrpc-error":
        assert out["code"] in PROTOCOL_CODES, fail(f"JSON-RPC error {out['code']} is not an invalid-input error")
        assert case.field.split(".")[0].split("[")[0] in out["text"], fail("the JSON-RPC error does not name the field")
    else:
        pytest.fail(fail(f"not refused cleanly: {out['kind']}"))
    assert after == before, fail("a request reached the upstream")
    if case.secrets:
        _wait_for_audit(target, mark, case.tool)
        logged = log_since(target, mark, limit=10_000)
        for secret in case.secrets:
            assert secret not in out["text"], fail(f"the refusal repeats the secret {secret!r}")
            assert secret not in logged, fail(f"the server log holds the secret {secret!r}")


def _wait_for_audit(target: Target, mark: int, tool: str, seconds: float = 10.0) -> None:
    """Until the call's audit event (logged before the answer is sent) has been read from the
    server's stderr; bounded."""
    needle = f'"tool":"{tool}"'
    deadline = time.monotonic() + seconds
    with target.proc._cv:
        while not any(needle in line and "audit" in line for line in list(target.proc.lines)[mark:]):
            left = deadline - time.monotonic()
            assert left > 0, f"no audit event for {tool} in the server log:\n{log_since(target, mark)}"
            target.proc._cv.wait(timeout=min(left, 0.2))


# --- after every case: the servers still work ----------------------------------------------

def normal_calls(target: Target) -> list[tuple[str, dict, list[str], str]]:
    """(tool, arguments, texts the result must contain, counter that must move): the server's
    `[[server.smoke]]` calls in servers.toml, every one of them."""
    subst = {"group_id": target.extra["moto"].group_id} if "moto" in target.extra else {}
    return [(c["tool"], fill_all(c.get("args", {}), subst), fill_all(c["expect"], subst), c["reaches"])
            for c in spec_of(target.server).smoke]


@pytest.mark.parametrize("server", SERVERS)
async def test_server_still_healthy(server: str, targets) -> None:
    """Runs after the cases of `server` (file order): alive, /healthz 200, normal calls work and
    reach the upstream (so the counters used above do see real traffic), no panic, no ERROR log."""
    target: Target = targets(server)
    assert target.proc.alive(), f"{server} died; log:\n{log_tail(target, 40)}"
    assert target.healthz() == 200
    calls = normal_calls(target)
    assert calls, f"{server}: servers.toml has no [[server.smoke]] call"
    for tool, args, expect, counter in calls:
        before = target.upstream_counts()
        with anyio.fail_after(CALL_TIMEOUT_S + 10):
            async with mcp_session(target.base, target.token) as session:
                result = await session.call_tool(tool, args)
        text = result_text(result)
        assert not result.is_error, f"{server} {tool}: {text[:500]}"
        for needle in expect:
            assert needle in text.replace(" ", ""), f"{server} {tool}: {needle!r} not in {text[:500]}"
        after = target.upstream_counts()
        assert after[counter] > before[counter], f"{server} {tool}: counter {counter} did not move ({before} → {after})"
    log = target.proc.log()
    assert "panicked" not in log, f"{server} panicked:\n" + "\n".join(l for l in log.splitlines() if "panick" in l)
    errors = [line for line in log.splitlines() if '"level":"ERROR"' in line]
    assert not errors, f"{server} logged errors:\n" + "\n".join(errors[:10])


# --- the table itself --------------------------------------------------------------------

def test_table_has_150_cases_and_covers_every_tool() -> None:
    assert len(CASES) >= 150, f"only {len(CASES)} hostile cases"
    problems = []
    for server in SERVERS:
        tools = {t["name"]: t for t in tool_inventory(server)}
        covered = {c.tool for c in CASES if c.server == server}
        missing = sorted(set(tools) - covered)
        if missing:
            problems.append(f"{server}: no hostile case for {missing}")
        unknown = sorted(covered - set(tools))
        if unknown:
            problems.append(f"{server}: cases name tools that do not exist: {unknown}")
        for c in CASES:
            if c.server != server or c.tool not in tools:
                continue
            top = c.field.split(".")[0].split("[")[0]
            props = tools[c.tool]["inputSchema"].get("properties", {})
            nested = top != c.field
            if c.category == UNKNOWN and not nested:
                if top in props:
                    problems.append(f"{c.id}: `{top}` is a real parameter, not an unknown one")
            elif top not in props:
                problems.append(f"{c.id}: `{top}` is not a parameter of {c.tool}")
    assert not problems, "\n".join(problems)
