"""Session load and session cleanup on a vendor server (proxmox against `vendor-sim proxmox`).

- `test_thousand_concurrent_sessions`: SECOPS_LOAD_SESSIONS (default 1,000) stateful
  Streamable HTTP sessions are opened (initialize + notifications/initialized) and are all
  open at once (the `mcp_active_sessions{transport="streamable_http"}` gauge reads that
  number); each then runs tools/list (exactly the six read tools) and one tools/call
  (`list_nodes`, checked for pve1-3), and is closed with DELETE (204). Every answer is
  checked, the simulator sees exactly one `GET /nodes` per call, closed sessions answer
  404, the gauge returns to 0, the server counts every call as `ok`, no 500/502/503/504 on
  /mcp, nothing in flight, no ERROR log line or panic, and the server exits 0 on SIGTERM.
- `test_abandoned_sessions_are_reaped_after_idle_timeout`: 100 sessions whose client goes
  away without DELETE (half only initialize; half also hold the standalone GET stream, then
  drop it) are closed after MCP_SESSION_IDLE_TIMEOUT (6 s here); the gauge returns to 0 and
  the old ids get 404.
- `test_dropped_legacy_sse_streams_end_their_sessions`: 200 legacy `GET /sse` clients that
  initialize through `/messages/` and then drop the connection; the `sse` gauge returns to
  0 and the dropped sessions answer 404 to further messages.
- `test_session_cap_counts_both_transports_and_frees_up`: MCP_MAX_SESSIONS (40: 20 SSE, 20
  Streamable HTTP) caps both transports together: one more session gets 503 on /mcp (with
  `Retry-After: 5`) and on /sse, the open sessions keep working, and a DELETE makes room.
- `test_early_refusal_keeps_or_announces_closing_the_connection`: a 503 (session cap), 401
  (no token) or 404 (unknown session) on a raw HTTP/1.1 socket must leave the connection
  usable for a follow-up `GET /healthz` or say `Connection: close`. All three say
  `Connection: close` now.

The client is raw JSON-RPC over httpx2 (async), with a bounded connection pool (POOL = 200):
sessions are server-side state and outlive connections, so 1,000 sessions need far fewer
sockets. The early-refusal test speaks HTTP/1.1 on a plain socket.

File descriptors: the server gets a socket per open connection (at most POOL here), and the
SSE test holds SSE_STREAMS stream connections (plus up to as many short POST connections)
on both sides, so neither side needs 1,000 descriptors. `raise_nofile` raises the soft
RLIMIT_NOFILE of this process (and so of the servers it starts, which inherit it) to
NOFILE_WANTED (4 x (POOL + SSE_STREAMS) + 1024), or to the hard limit when that is lower,
and reports what it did; the module fixture then requires at least 2 x (POOL + SSE_STREAMS)
+ 256.

Waits are bounded polls or bounded waits on events (each phase at most PHASE_TIMEOUT_S);
nothing sleeps as synchronisation and no duration is asserted. The one fixed wait is the
early-refusal test's EARLY_WATCH_S (2 s) read timeout, which decides whether the server
answered before the body was sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "harness"))
sys.path.insert(0, str(HERE))

import httpx2  # noqa: E402

from mcp_wire import (  # noqa: E402
    INITIALIZED, PROTOCOL_VERSION, call_body, headers, initialize_body, jsonrpc_reply, poll, sse_events, tool_text,
)
from secops_stack import Deployment, Stack  # noqa: E402

SESSIONS = int(os.environ.get("SECOPS_LOAD_SESSIONS", "1000"))
POOL = 200  # client connections at most
ABANDONED = 100
SSE_STREAMS = 200
NOFILE_WANTED = 4 * (POOL + SSE_STREAMS) + 1024
PHASE_TIMEOUT_S = 180.0  # bound for one phase of 1,000 sessions (a hang fails, it times nothing)
GAUGE = "mcp_active_sessions"
READ_TOOLS = {"list_vms", "vm_status", "list_nodes", "node_status", "task_status", "proxmox_api", "list_snapshots",
              "list_backups", "guest_config", "list_storage", "list_networks", "list_firewall_rules", "list_tasks",
              "task_log"}


def raise_nofile() -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= NOFILE_WANTED:
        return f"RLIMIT_NOFILE soft {soft} already >= {NOFILE_WANTED}"
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(NOFILE_WANTED, soft))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return f"RLIMIT_NOFILE soft raised {soft} -> {target} (hard {hard})"


@pytest.fixture(scope="module", autouse=True)
def nofile(request):
    note = raise_nofile()
    print(f"\n[test_load] {note}")  # shown with -s or -rA
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= 2 * (POOL + SSE_STREAMS) + 256, f"RLIMIT_NOFILE {soft} is too low for this suite"
    return note


@pytest.fixture
def stack():
    st = Stack()
    try:
        yield st
    finally:
        st.close()


def _client(limit: int = POOL, keepalive: bool = True) -> httpx2.AsyncClient:
    """A pooled client. `keepalive=False` gives every request its own connection: used for
    requests that are expected to be refused early (404, 503), whose connections the server
    may close without saying so (see test_early_refusal_keeps_or_announces_closing_the_connection),
    so that that bug is reported once, by its own test, and not as noise here."""
    return httpx2.AsyncClient(trust_env=False, timeout=httpx2.Timeout(60.0, pool=PHASE_TIMEOUT_S),
                              limits=httpx2.Limits(max_connections=limit,
                                                   max_keepalive_connections=limit if keepalive else 0))


def _gauge(dep: Deployment, transport: str) -> float:
    return dep.replicas[0].metric(GAUGE, transport=transport)


async def _gather_checked(what: str, coros) -> list:
    """Runs every coroutine; fails with the first few errors if any raised."""
    results = await asyncio.wait_for(asyncio.gather(*coros, return_exceptions=True), PHASE_TIMEOUT_S)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{what}: {len(errors)} of {len(results)} failed; first: {errors[:3]!r}"
    return results


async def _open(http: httpx2.AsyncClient, base: str, token: str) -> str:
    """initialize + notifications/initialized; returns the session id."""
    resp = await http.post(f"{base}/mcp", headers=headers(token), json=initialize_body(1))
    msg = jsonrpc_reply(resp, 1)
    assert "result" in msg, msg
    assert msg["result"]["serverInfo"]["name"] == "proxmox", msg
    assert msg["result"]["protocolVersion"] == PROTOCOL_VERSION, msg
    sid = resp.headers.get("mcp-session-id")
    assert sid, f"no Mcp-Session-Id: {resp.headers}"
    resp = await http.post(f"{base}/mcp", headers=headers(token, sid), json=INITIALIZED)
    assert resp.status_code == 202, f"notifications/initialized: HTTP {resp.status_code} {resp.text[:200]}"
    return sid


async def _use(http: httpx2.AsyncClient, base: str, token: str, sid: str) -> None:
    """tools/list, then list_nodes; both answers checked."""
    resp = await http.post(f"{base}/mcp", headers=headers(token, sid),
                           json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    msg = jsonrpc_reply(resp, 2)
    names = {t["name"] for t in msg["result"]["tools"]}
    assert names == READ_TOOLS, names
    resp = await http.post(f"{base}/mcp", headers=headers(token, sid), json=call_body(3, "list_nodes", {}))
    result = jsonrpc_reply(resp, 3)["result"]
    assert result.get("isError") is not True, tool_text(result)
    assert {n["node"] for n in result["structuredContent"]["data"]} == {"pve1", "pve2", "pve3"}


async def _close(http: httpx2.AsyncClient, base: str, token: str, sid: str) -> None:
    resp = await http.delete(f"{base}/mcp", headers=headers(token, sid))
    assert resp.status_code == 204, f"DELETE: HTTP {resp.status_code} {resp.text[:200]}"


async def _status_of_list(http: httpx2.AsyncClient, base: str, token: str, sid: str) -> int:
    resp = await http.post(f"{base}/mcp", headers=headers(token, sid),
                           json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"})
    return resp.status_code


def _server_errors(dep: Deployment) -> list[str]:
    bad = []
    for line in dep.replicas[0].proc.lines:
        if "panicked" in line:
            bad.append(line)
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("level") == "ERROR":
            bad.append(line)
    return bad


def test_thousand_concurrent_sessions(stack: Stack) -> None:
    # One token opens them all: lift the per-subject cap (default 1,000) with the total.
    dep = stack.deploy("proxmox", env={"MCP_MAX_SESSIONS": str(SESSIONS + 100),
                                       "MCP_MAX_SESSIONS_PER_SUBJECT": str(SESSIONS + 100),
                                       "MCP_SESSION_IDLE_TIMEOUT": "10m"})
    token = dep.token(["proxmox:read"])
    base = dep.replicas[0].base
    sim = dep.upstream
    assert _gauge(dep, "streamable_http") == 0

    async def run() -> None:
        async with _client() as http:
            sids = await _gather_checked("initialize", [_open(http, base, token) for _ in range(SESSIONS)])
            assert len(set(sids)) == SESSIONS, "session ids are not unique"
            # Every session is open at the same time.
            assert _gauge(dep, "streamable_http") == SESSIONS
            n0 = sim.stats()["by_key"].get("GET /nodes", 0)
            await _gather_checked("tools/list + tools/call", [_use(http, base, token, s) for s in sids])
            assert sim.stats()["by_key"].get("GET /nodes", 0) - n0 == SESSIONS, "not one upstream request per call"
            assert _gauge(dep, "streamable_http") == SESSIONS, "a session was lost while in use"
            await _gather_checked("DELETE", [_close(http, base, token, s) for s in sids])
        # A closed session is gone for good.
        async with _client(20, keepalive=False) as fresh:
            statuses = await asyncio.gather(*[_status_of_list(fresh, base, token, s) for s in sids[:20]])
        assert set(statuses) == {404}, statuses

    asyncio.run(run())
    poll(f"{GAUGE}{{streamable_http}} back to 0", lambda: _gauge(dep, "streamable_http") == 0, 30)
    r = dep.replicas[0]
    assert r.metric("mcp_tool_calls_total", tool="list_nodes", outcome="ok") == SESSIONS
    assert r.metric("mcp_tool_calls_total", tool="list_nodes") == SESSIONS, "some calls had another outcome"
    for status in ("500", "502", "503", "504"):
        assert r.metric("mcp_http_requests_total", route="/mcp", status=status) == 0, f"HTTP {status} on /mcp"
    assert r.metric("mcp_inflight_tool_calls") == 0
    assert not _server_errors(dep), _server_errors(dep)[:5]
    assert r.proc.stop() == 0


def test_abandoned_sessions_are_reaped_after_idle_timeout(stack: Stack) -> None:
    # The idle timeout has to outlast the opening of every session, or the first ones are
    # reaped (correctly) before the gauge is read; 6 s leaves room on a busy machine.
    idle_s = 6
    dep = stack.deploy("proxmox", env={"MCP_SESSION_IDLE_TIMEOUT": f"{idle_s}s"})
    token = dep.token(["proxmox:read"])
    base = dep.replicas[0].base

    async def open_with_stream(http: httpx2.AsyncClient, opened: asyncio.Event, release: asyncio.Event,
                               sids: list[str]) -> None:
        """A session whose client also opens the standalone GET stream, then vanishes."""
        sid = await _open(http, base, token)
        sids.append(sid)
        async with http.stream("GET", f"{base}/mcp", headers=headers(token, sid)) as resp:
            assert resp.status_code == 200, resp.status_code
            assert resp.headers["content-type"].startswith("text/event-stream")
            opened.set()
            await release.wait()

    async def run() -> list[str]:
        # Half the clients only initialize; the other half also hold a GET stream.
        plain = ABANDONED // 2
        with_stream = ABANDONED - plain
        async with _client(plain + with_stream + 10) as http:
            started = time.monotonic()
            release = asyncio.Event()
            events = [asyncio.Event() for _ in range(with_stream)]
            stream_sids: list[str] = []
            tasks = [asyncio.create_task(open_with_stream(http, ev, release, stream_sids)) for ev in events]
            sids = list(await _gather_checked("initialize", [_open(http, base, token) for _ in range(plain)]))
            await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in events)), PHASE_TIMEOUT_S)
            seen = _gauge(dep, "streamable_http")
            took = time.monotonic() - started  # for the message only; nothing asserts it
            release.set()  # the stream holders leave their `async with`: connections dropped
            await _gather_checked("streams", tasks)
            assert seen == ABANDONED, (f"{GAUGE} was {seen} with {ABANDONED} sessions open (opening took "
                                       f"{took:.1f} s; MCP_SESSION_IDLE_TIMEOUT is {idle_s} s)")
            return sids + stream_sids
        # Leaving the client closes every connection; no DELETE was sent.

    sids = asyncio.run(run())
    assert len(set(sids)) == ABANDONED
    poll(f"{GAUGE}{{streamable_http}} back to 0 after MCP_SESSION_IDLE_TIMEOUT={idle_s}s",
         lambda: _gauge(dep, "streamable_http") == 0, idle_s + 30, interval=0.2)

    async def after() -> list[int]:
        async with _client(20, keepalive=False) as http:
            return await asyncio.gather(*[_status_of_list(http, base, token, s) for s in sids[::5]])

    statuses = asyncio.run(after())
    assert set(statuses) == {404}, f"reaped sessions still answer: {statuses}"
    assert not _server_errors(dep), _server_errors(dep)[:5]
    assert dep.replicas[0].proc.stop() == 0


def test_dropped_legacy_sse_streams_end_their_sessions(stack: Stack) -> None:
    dep = stack.deploy("proxmox")
    token = dep.token(["proxmox:read"])
    base = dep.replicas[0].base
    auth = {"Authorization": f"Bearer {token}"}

    async def sse_client(http: httpx2.AsyncClient, opened: asyncio.Event, release: asyncio.Event,
                         endpoints: list[str]) -> None:
        async with http.stream("GET", f"{base}/sse", headers={**auth, "Accept": "text/event-stream"}) as resp:
            assert resp.status_code == 200, resp.status_code
            lines = resp.aiter_lines()
            buf: list[str] = []

            async def next_event() -> dict:
                while True:
                    line = await anext(lines)
                    if line == "" and buf:
                        evs = sse_events("\n".join(buf) + "\n\n")
                        buf.clear()
                        if evs and evs[0].get("data"):
                            return evs[0]
                    elif line != "":
                        buf.append(line)

            ev = await next_event()
            assert ev.get("event") == "endpoint", ev
            endpoint = ev["data"]
            assert endpoint.startswith("/messages/?session_id="), endpoint
            endpoints.append(endpoint)
            post = await http.post(f"{base}{endpoint}", headers={**auth, "Content-Type": "application/json"},
                                   json=initialize_body(1))
            assert post.status_code == 202, post.status_code
            ev = await next_event()
            assert ev.get("event") == "message", ev
            msg = json.loads(ev["data"])
            assert msg["id"] == 1 and msg["result"]["serverInfo"]["name"] == "proxmox", msg
            opened.set()
            await release.wait()
        # Leaving `async with` drops the connection without any goodbye.

    async def run() -> list[str]:
        # Each client holds one stream connection and briefly a second one for its POST.
        async with _client(2 * SSE_STREAMS + 10) as http:
            release = asyncio.Event()
            events = [asyncio.Event() for _ in range(SSE_STREAMS)]
            endpoints: list[str] = []
            tasks = [asyncio.create_task(sse_client(http, ev, release, endpoints)) for ev in events]
            try:
                await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in events)), PHASE_TIMEOUT_S)
            except TimeoutError:
                failed = [t.exception() for t in tasks if t.done() and t.exception()]
                raise AssertionError(f"SSE clients did not all open: {failed[:3]!r}") from None
            seen = _gauge(dep, "sse")
            release.set()
            await _gather_checked("sse clients", tasks)
            assert seen == SSE_STREAMS, f"{GAUGE}{{sse}} was {seen} with {SSE_STREAMS} streams open"
            return endpoints

    endpoints = asyncio.run(run())
    poll(f"{GAUGE}{{sse}} back to 0", lambda: _gauge(dep, "sse") == 0, 30, interval=0.1)

    async def after() -> list[int]:
        async with _client(20, keepalive=False) as http:
            resps = await asyncio.gather(*[
                http.post(f"{base}{e}", headers={**auth, "Content-Type": "application/json"},
                          json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
                for e in endpoints[::10]])
            return [r.status_code for r in resps]

    statuses = asyncio.run(after())
    assert set(statuses) == {404}, f"dropped SSE sessions still accept messages: {statuses}"
    assert not _server_errors(dep), _server_errors(dep)[:5]
    assert dep.replicas[0].proc.stop() == 0


def test_session_cap_counts_both_transports_and_frees_up(stack: Stack) -> None:
    """MCP_MAX_SESSIONS caps Streamable HTTP and legacy SSE sessions together: a new session
    over the cap gets 503 (with `Retry-After: 5` on /mcp), open sessions keep working, and a
    closed one makes room again."""
    cap = 40
    dep = stack.deploy("proxmox", env={"MCP_MAX_SESSIONS": str(cap)})
    token = dep.token(["proxmox:read"])
    base = dep.replicas[0].base
    auth = {"Authorization": f"Bearer {token}"}
    n_sse = cap // 2

    async def hold_sse(http: httpx2.AsyncClient, opened: asyncio.Event, release: asyncio.Event) -> None:
        async with http.stream("GET", f"{base}/sse", headers={**auth, "Accept": "text/event-stream"}) as resp:
            assert resp.status_code == 200, resp.status_code
            # Keep the line iterator referenced: a finished `async for` would let it be
            # collected, which closes the stream (and so the session) early.
            lines = resp.aiter_lines()
            while not (await anext(lines)).startswith("data: /messages/"):
                pass
            opened.set()
            await release.wait()
            del lines

    async def run() -> None:
        async with _client(cap + 20) as http:
            release = asyncio.Event()
            events = [asyncio.Event() for _ in range(n_sse)]
            tasks = [asyncio.create_task(hold_sse(http, ev, release)) for ev in events]
            await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in events)), PHASE_TIMEOUT_S)
            sids = await _gather_checked("initialize", [_open(http, base, token) for _ in range(cap - n_sse)])
            assert _gauge(dep, "sse") + _gauge(dep, "streamable_http") == cap

            async with _client(2, keepalive=False) as refused:
                over = await refused.post(f"{base}/mcp", headers=headers(token), json=initialize_body(1))
                assert over.status_code == 503, over.status_code
                assert over.headers.get("retry-after") == "5", over.headers
                over_sse = await refused.get(f"{base}/sse", headers={**auth, "Accept": "text/event-stream"})
                assert over_sse.status_code == 503, over_sse.status_code
            # The sessions already open are not affected.
            await _gather_checked("use at the cap", [_use(http, base, token, s) for s in sids[:5]])

            await _close(http, base, token, sids[0])
            poll("room for one more session", lambda: _gauge(dep, "streamable_http") == cap - n_sse - 1, 10)
            fresh = await _open(http, base, token)
            await _use(http, base, token, fresh)
            release.set()
            await _gather_checked("sse holders", tasks)

    asyncio.run(run())
    assert not _server_errors(dep), _server_errors(dep)[:5]
    assert dep.replicas[0].proc.stop() == 0


# --------------------------------------------------------------------------- connection reuse after a refusal


def _read_answer(sock) -> bytes:
    """Reads one HTTP/1.1 response (Content-Length or chunked) and returns its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    fields = {k.strip().lower(): v.strip() for k, _, v in
              (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    if b"content-length" in fields:
        need = int(fields[b"content-length"])
        while len(rest) < need:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        while b"\r\n0\r\n\r\n" not in b"\r\n" + rest:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return head


def _raw_exchange_after_early_answer(port: int, head: bytes, body: bytes) -> tuple[bytes, str]:
    """Sends a request's head and gives the server EARLY_WATCH_S to answer before the body.
    A server may answer early (a refusal that needs no body) or wait for the body (then it
    gets it). After the answer, a server that keeps the connection must serve a
    `GET /healthz` on it, as HTTP/1.1 lets a client expect. Returns (the answer's head, what
    happened next)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(EARLY_WATCH_S)
        try:
            early = sock.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            early = None  # the server waits for the body
        sock.settimeout(10)
        body_sent = early is None
        if body_sent:
            sock.sendall(body)
        first = _read_answer(sock)
        if not body_sent:
            sock.settimeout(EARLY_WATCH_S)
            try:
                extra = sock.recv(65536)
                if not extra:
                    return first, "the server closed the connection after its answer"
                return first, f"unexpected bytes after the answer: {extra[:80]!r}"
            except socket.timeout:
                pass  # still open and quiet: the server waits for the body
            except OSError as err:
                return first, f"the connection failed after the answer ({type(err).__name__})"
            sock.settimeout(10)
        try:
            sock.sendall((b"" if body_sent else body)
                         + f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            follow = b""
            while b"\r\n\r\n" not in follow:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                follow += chunk
        except OSError as err:
            return first, f"the follow-up failed ({type(err).__name__})"
        return first, follow.split(b"\r\n", 1)[0].decode(errors="replace") or "closed before answering the follow-up"


EARLY_WATCH_S = 2.0


@pytest.mark.parametrize("refusal", ["503 session cap", "401 no token", "404 unknown session"])
def test_early_refusal_keeps_or_announces_closing_the_connection(stack: Stack, refusal: str) -> None:
    """A refusal sent before the request body was read (the session cap's 503, auth's 401,
    an unknown session's 404) must leave the HTTP/1.1 connection usable, or say
    `Connection: close`. Otherwise a pooling client (httpx, reqwest, a proxy) sends its next
    request, such as the retry the 503's `Retry-After: 5` invites, on a connection the server
    has closed, and gets "Server disconnected without sending a response"."""
    dep = stack.deploy("proxmox", env={"MCP_MAX_SESSIONS": "1"})
    token = dep.token(["proxmox:read"])
    replica = dep.replicas[0]
    body = json.dumps(initialize_body(1)).encode()

    def head(auth: str | None, session: str | None = None) -> bytes:
        lines = [f"POST /mcp HTTP/1.1", f"Host: 127.0.0.1:{replica.port}",
                 "Accept: application/json, text/event-stream", "Content-Type: application/json",
                 f"Content-Length: {len(body)}"]
        if auth:
            lines.append(f"Authorization: Bearer {auth}")
        if session:
            lines += [f"Mcp-Session-Id: {session}", f"MCP-Protocol-Version: {PROTOCOL_VERSION}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def fill_the_cap() -> None:
        async with _client(2) as http:
            await _open(http, base=replica.base, token=token)

    expected = refusal.split()[0]
    if refusal.startswith("503"):
        asyncio.run(fill_the_cap())
        first, outcome = _raw_exchange_after_early_answer(replica.port, head(token), body)
    elif refusal.startswith("401"):
        first, outcome = _raw_exchange_after_early_answer(replica.port, head(None), body)
    else:
        first, outcome = _raw_exchange_after_early_answer(
            replica.port, head(token, "00000000-0000-0000-0000-000000000000"), body)
    status_line = first.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith(f"HTTP/1.1 {expected}"), first
    announces_close = any(line.lower().replace(b" ", b"") == b"connection:close" for line in first.split(b"\r\n"))
    assert announces_close or outcome.startswith("HTTP/1.1 200"), (
        f"after `{status_line}` without `Connection: close`: {outcome}; a pooling client's next "
        f"request on this connection fails with 'Server disconnected without sending a response'")
