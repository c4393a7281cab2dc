"""Protocol abuse on /mcp with raw HTTP (httpx2): every server must answer with the right HTTP
status or JSON-RPC error, and stay up.

Targets (one process each, MCP_MAX_BODY_BYTES=65536 so "too large" is cheap):
paloalto-ngfw and mcp-example, each stateful and stateless, and panw-airs (stateful),
proxmox (stateless) and aws-whitelist (stateful).

Every abuse opens its own connection (a server may close a connection whose body it did not
read), checks the answer, and then checks that the server is still fine: the process runs,
`/healthz` is 200, and a fresh initialize plus a normal tools/call succeeds.

What "right" means, case by case:

- a body that is not JSON (or a number JSON cannot hold, or nesting beyond the parser's
  depth): HTTP 400, and when the body is JSON, a JSON-RPC error -32700. The MCP transport
  spec asks for an HTTP error status such as 400 with an optional id-less JSON-RPC error;
  JSON-RPC 2.0 names -32700 "Parse error"; the reference SDKs (TypeScript, Python) answer
  400 + -32700, and mcp-core's own legacy SSE transport does the same
  (docs/architecture.md, "Legacy HTTP+SSE");
- JSON that is not a JSON-RPC 2.0 request, and batches (removed from MCP in 2025-06-18):
  HTTP 400, and when the body is JSON-RPC, -32600 (JSON-RPC 2.0's Invalid Request; the
  Python SDK answers -32602, mcp-core's SSE transport -32700: all accepted);
- tools/call with parameters of the wrong type: JSON-RPC -32602 naming the parameter;
- an unknown method: JSON-RPC -32601 for that id; an unknown tool: -32602 ``tool `x` not
  found`` (docs/auth.md);
- a body over MCP_MAX_BODY_BYTES, with or without Content-Length: 413
  (docs/configuration.md);
- stateful: an unknown Mcp-Session-Id 404, none 400, DELETE of an unknown session 404;
  stateless: the header is ignored, DELETE is 405 (docs/architecture.md);
- Accept without both JSON and SSE: 406; a Content-Type other than JSON: 415;
- a foreign Origin or Host: 403 with the documented JSON (docs/configuration.md);
- a missing, malformed, wrongly signed or expired token: 401 with the documented JSON and a
  `WWW-Authenticate: Bearer resource_metadata=…` challenge (docs/auth.md);
- legacy SSE (`POST /messages/?session_id=…`), as documented in docs/architecture.md: 400
  with -32700 for a body that is not a JSON-RPC message, 400 for a missing or over-long
  session_id, 404 for an unknown session or one opened by another subject, 413 over the
  body limit, 202 for the owner's own message (control).

Run: .venv/bin/pytest tests/hardening/test_protocol_abuse.py -q   (-k "ngfw-stateless" for one target)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import httpx2
import pytest

from hardening_support import LOOPBACK_TLS, Target, every_scope, log_tail
from secops_stack import Stack

MAX_BODY = 65536
PROTOCOL = "2025-06-18"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "abuse", "version": "1"}}}

# (server, stateless) -> a normal call that must work after each abuse: (tool, arguments)
TARGETS = [
    ("paloalto-ngfw", False), ("paloalto-ngfw", True),
    ("mcp-example", False), ("mcp-example", True),
    ("panw-airs", False), ("proxmox", True), ("aws-whitelist", False),
]
NORMAL_CALL = {
    "paloalto-ngfw": ("get_system_info", {}),
    "mcp-example": ("test_simple_text", {}),
    "panw-airs": ("pan_inline_scan", {"prompt": "hello"}),
    "proxmox": ("list_nodes", {}),
    "aws-whitelist": ("capabilities", {}),
}


def _tid(t: tuple[str, bool]) -> str:
    return f"{t[0]}-{'stateless' if t[1] else 'stateful'}"


@dataclass
class Peer:
    """One server under abuse, with what a well-behaved client would send."""

    target: Target
    stateless: bool
    secret: str

    @property
    def url(self) -> str:
        return f"{self.target.base}/mcp"

    def headers(self, session: str | None = None, **extra: str | None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.target.token}", "Accept": "application/json, text/event-stream",
             "Content-Type": "application/json", "MCP-Protocol-Version": PROTOCOL}
        if session:
            h["Mcp-Session-Id"] = session
        h.update(extra)
        return {k: v for k, v in h.items() if v is not None}

    def request(self, method: str, headers: dict[str, str], body=None, path: str = "/mcp") -> httpx2.Response:
        """One request on a fresh connection."""
        with httpx2.Client(trust_env=False, verify=LOOPBACK_TLS, timeout=httpx2.Timeout(20.0)) as c:
            return c.request(method, f"{self.target.base}{path}", headers=headers, content=body)

    @contextmanager
    def sse(self) -> Iterator[str]:
        """A legacy SSE session (`GET /sse`), open for the block; yields its POST path
        (`/messages/?session_id=…`) from the `endpoint` event."""
        with httpx2.Client(trust_env=False, verify=LOOPBACK_TLS, timeout=httpx2.Timeout(20.0)) as c:
            with c.stream("GET", f"{self.target.base}/sse",
                          headers={"Authorization": f"Bearer {self.target.token}", "Accept": "text/event-stream"}) as r:
                assert r.status_code == 200, f"GET /sse: {r.status_code}"
                lines = r.iter_lines()  # kept open (not exhausted, not closed) while the block runs
                endpoint = next(line for line in lines if line.startswith("data:"))[5:].strip()
                assert endpoint.startswith("/messages/?session_id="), endpoint
                yield endpoint

    def sse_post(self, body, token: str | None = None, path: str | None = None) -> httpx2.Response:
        """POST to a live SSE session of this caller (or to `path`), as `token`'s subject."""
        if not isinstance(body, (bytes, str)) and not callable(getattr(body, "__next__", None)):
            body = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token or self.target.token}", "Content-Type": "application/json"}
        if path is not None:
            return self.request("POST", headers, body, path)
        with self.sse() as endpoint:
            return self.request("POST", headers, body, endpoint)

    def post(self, body, session: str | None = None, **extra: str | None) -> httpx2.Response:
        if not isinstance(body, (bytes, str)) and not callable(getattr(body, "__next__", None)):
            body = json.dumps(body).encode()
        return self.request("POST", self.headers(session, **extra), body)

    def open_session(self) -> str | None:
        """initialize + notifications/initialized; the session id (None when stateless)."""
        r = self.post(INIT)
        assert r.status_code == 200, f"initialize: {r.status_code} {r.text[:300]}"
        sid = r.headers.get("mcp-session-id")
        assert (sid is None) == self.stateless, f"session id {sid!r} in {'stateless' if self.stateless else 'stateful'} mode"
        n = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
        assert n.status_code == 202, f"initialized: {n.status_code} {n.text[:300]}"
        return sid

    def assert_still_up(self, what: str) -> None:
        proc = self.target.proc
        assert proc.alive(), f"after {what}: the server died (exit {proc.popen.poll()})\n{log_tail(self.target, 30)}"
        assert self.target.healthz() == 200, f"after {what}: /healthz is not 200"
        sid = self.open_session()
        tool, args = NORMAL_CALL[self.target.server]
        r = self.post({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": tool, "arguments": args}},
                      sid)
        msgs = messages(r)
        assert r.status_code == 200 and msgs and "result" in msgs[-1], \
            f"after {what}: a normal {tool} call failed: {r.status_code} {r.text[:400]}"
        assert not msgs[-1]["result"].get("isError"), f"after {what}: {tool} returned an error: {r.text[:400]}"
        assert "panicked" not in proc.log(), f"after {what}: a panic in the log"


def messages(r: httpx2.Response) -> list[dict]:
    """The JSON-RPC messages of a response: a JSON body, or the `data:` lines of an SSE body."""
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = r.json()
        except ValueError:
            return []
        return body if isinstance(body, list) else [body]
    if ctype.startswith("text/event-stream"):
        out = []
        for line in r.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                try:
                    out.append(json.loads(line[5:]))
                except ValueError:
                    pass
        return out
    return []


def jwt(secret: str, claims: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


@pytest.fixture(scope="module")
def peers(stack: Stack):
    started: dict[tuple[str, bool], Peer] = {}

    def get(key: tuple[str, bool]) -> Peer:
        if key not in started:
            server, stateless = key
            dep = stack.deploy(server, stateless=stateless, env={"MCP_MAX_BODY_BYTES": str(MAX_BODY)})
            target = Target(server, dep, dep.token(every_scope(server)))
            started[key] = Peer(target, stateless, dep.secret)
        return started[key]

    return get


# --- expectations --------------------------------------------------------------------------

def _describe(r: httpx2.Response) -> str:
    return f"HTTP {r.status_code} content-type={r.headers.get('content-type')!r} body={r.text[:300]!r}"


def expect_status(status: int, *, rpc_codes: set[int] | None = None, json_error: str | None = None):
    """HTTP `status`; when the body is JSON-RPC, its error code is one of `rpc_codes`; when
    `json_error` is given, the body is the documented `{"error": …, "error_description": …}`."""

    def check(r: httpx2.Response, peer: Peer) -> None:
        assert r.status_code == status, f"expected HTTP {status}, got {_describe(r)}"
        msgs = messages(r)
        if rpc_codes is not None and msgs:
            err = msgs[-1].get("error") or {}
            assert err.get("code") in rpc_codes, f"expected JSON-RPC error {sorted(rpc_codes)}, got {_describe(r)}"
        if json_error is not None:
            assert r.headers.get("content-type", "").startswith("application/json"), _describe(r)
            body = r.json()
            assert body.get("error_description") == json_error, f"expected {json_error!r}, got {_describe(r)}"

    return check


def expect_rpc_error(code: int, rid, names: str | None = None):
    """A JSON-RPC error `code` answering id `rid` (HTTP 200, or 4xx), naming `names` if given."""

    def check(r: httpx2.Response, peer: Peer) -> None:
        assert r.status_code < 500, f"expected JSON-RPC error {code}, got {_describe(r)}"
        msgs = messages(r)
        errs = [m for m in msgs if m.get("id") == rid and "error" in m]
        assert errs, f"expected a JSON-RPC error {code} for id {rid!r}, got {_describe(r)}"
        err = errs[-1]["error"]
        assert err.get("code") == code, f"expected JSON-RPC error {code}, got {err}"
        if names:
            text = f"{err.get('message')} {json.dumps(err.get('data'))}"
            assert names in text, f"the error does not name {names!r}: {err}"

    return check


def expect_401(description: str):
    def check(r: httpx2.Response, peer: Peer) -> None:
        expect_status(401, json_error=description)(r, peer)
        challenge = r.headers.get("www-authenticate", "")
        assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge, \
            f"bad WWW-Authenticate {challenge!r}"

    return check


def expect_result(rid):
    def check(r: httpx2.Response, peer: Peer) -> None:
        msgs = [m for m in messages(r) if m.get("id") == rid]
        assert r.status_code == 200 and msgs and "result" in msgs[-1], f"expected a result, got {_describe(r)}"

    return check


# --- the abuses ----------------------------------------------------------------------------

TOOLS_LIST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}


def _chunks(total: int):
    yield b'{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"'
    for _ in range(total // 8192 + 1):
        yield b"a" * 8192
    yield b'"}}'


def _nested(depth: int) -> bytes:
    return (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"a":'
            + b"[" * depth + b"]" * depth + b"}}}")


def _call(name, arguments, rid=8) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


@dataclass
class Abuse:
    name: str
    send: Callable[[Peer, str | None], httpx2.Response]  # (peer, a live session id or None)
    check: Callable[[httpx2.Response, Peer], None]
    modes: str = "both"  # "both", "stateful" or "stateless"


PARSE = {-32700}
INVALID = {-32600, -32602, -32700}  # JSON-RPC's Invalid Request; the Python SDK says -32602

ABUSES: list[Abuse] = [
    # malformed bodies
    Abuse("invalid JSON (truncated)", lambda p, s: p.post(b'{"jsonrpc":"2.0","id":2,"method":', s),
          expect_status(400, rpc_codes=PARSE)),
    Abuse("not JSON at all", lambda p, s: p.post(b"hello", s), expect_status(400, rpc_codes=PARSE)),
    Abuse("empty body", lambda p, s: p.post(b"", s), expect_status(400, rpc_codes=PARSE)),
    Abuse("NaN literal", lambda p, s: p.post(b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"x":NaN}}', s),
          expect_status(400, rpc_codes=PARSE)),
    # 1e999 is valid JSON beyond f64: mcp-core passes it on as a string, so an ignored
    # parameter is harmless and a tool argument is refused by name (see the hostile table).
    Abuse("number 1e999 in an ignored parameter", lambda p, s: p.post(b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"x":1e999}}', s),
          expect_result(2)),
    Abuse("number 1e999 as a tool argument",
          lambda p, s: p.post(b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"no_such_tool","arguments":{"x":1e999}}}', s),
          expect_rpc_error(-32602, 8, "tool `no_such_tool` not found")),
    Abuse("nesting 20000 deep", lambda p, s: p.post(_nested(20000), s), expect_status(400, rpc_codes=PARSE)),
    # JSON, but not a JSON-RPC 2.0 request
    Abuse("missing jsonrpc", lambda p, s: p.post({"id": 3, "method": "tools/list"}, s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("jsonrpc 1.0", lambda p, s: p.post({"jsonrpc": "1.0", "id": 3, "method": "tools/list"}, s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("method is a number", lambda p, s: p.post({"jsonrpc": "2.0", "id": 3, "method": 42}, s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("id is an object", lambda p, s: p.post({"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}, s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("params is a string", lambda p, s: p.post({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": "x"}, s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("batch of two requests", lambda p, s: p.post([TOOLS_LIST, {**TOOLS_LIST, "id": 8}], s),
          expect_status(400, rpc_codes=INVALID)),
    Abuse("empty batch", lambda p, s: p.post([], s), expect_status(400, rpc_codes=INVALID)),
    # well-formed JSON-RPC, wrong parameters or unknown names
    Abuse("tools/call arguments is an array", lambda p, s: p.post(_call(NORMAL_CALL[p.target.server][0], [1]), s),
          expect_rpc_error(-32602, 8, "arguments")),
    Abuse("tools/call name is a number", lambda p, s: p.post(_call(5, {}), s), expect_rpc_error(-32602, 8, "name")),
    Abuse("tools/call without name", lambda p, s: p.post({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                                                          "params": {"arguments": {}}}, s),
          expect_rpc_error(-32602, 8, "name")),
    Abuse("tools/call unknown tool", lambda p, s: p.post(_call("no_such_tool", {}), s),
          expect_rpc_error(-32602, 8, "tool `no_such_tool` not found")),
    Abuse("unknown method", lambda p, s: p.post({"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {}}, s),
          expect_rpc_error(-32601, 4)),
    Abuse("unknown method tools/destroy", lambda p, s: p.post({"jsonrpc": "2.0", "id": 5, "method": "tools/destroy"}, s),
          expect_rpc_error(-32601, 5)),
    # size
    Abuse("body over MCP_MAX_BODY_BYTES with Content-Length",
          lambda p, s: p.post(json.dumps({**TOOLS_LIST, "params": {"x": "a" * (MAX_BODY + 1)}}).encode(), s),
          expect_status(413)),
    Abuse("body over MCP_MAX_BODY_BYTES, chunked", lambda p, s: p.post(_chunks(MAX_BODY * 2), s), expect_status(413)),
    # sessions
    Abuse("unknown Mcp-Session-Id", lambda p, s: p.post(TOOLS_LIST, "00000000-0000-0000-0000-000000000000"),
          expect_status(404), "stateful"),
    Abuse("Mcp-Session-Id of 4 KiB", lambda p, s: p.post(TOOLS_LIST, "f" * 4096), expect_status(404), "stateful"),
    Abuse("no Mcp-Session-Id after initialize", lambda p, s: p.post(TOOLS_LIST, None), expect_status(400), "stateful"),
    Abuse("DELETE of an unknown session",
          lambda p, s: p.request("DELETE", p.headers("00000000-0000-0000-0000-000000000000")),
          expect_status(404), "stateful"),
    Abuse("unknown Mcp-Session-Id is ignored", lambda p, s: p.post(TOOLS_LIST, "00000000-0000-0000-0000-000000000000"),
          expect_result(7), "stateless"),
    Abuse("DELETE is not allowed", lambda p, s: p.request("DELETE", p.headers()), expect_status(405), "stateless"),
    # content negotiation
    Abuse("Accept application/json only", lambda p, s: p.post(TOOLS_LIST, s, Accept="application/json"),
          expect_status(406)),
    Abuse("no Accept header", lambda p, s: p.post(TOOLS_LIST, s, Accept=None), expect_status(406)),
    Abuse("Accept text/html", lambda p, s: p.post(TOOLS_LIST, s, Accept="text/html"), expect_status(406)),
    Abuse("Content-Type text/plain", lambda p, s: p.post(TOOLS_LIST, s, **{"Content-Type": "text/plain"}),
          expect_status(415)),
    # origin and host (DNS rebinding)
    Abuse("foreign Origin", lambda p, s: p.post(TOOLS_LIST, s, Origin="http://evil.example.com"),
          expect_status(403, json_error="Origin not allowed")),
    Abuse("Origin null", lambda p, s: p.post(TOOLS_LIST, s, Origin="null"),
          expect_status(403, json_error="Origin not allowed")),
    Abuse("Origin with a look-alike host", lambda p, s: p.post(TOOLS_LIST, s, Origin="http://127.0.0.1.evil.example.com"),
          expect_status(403, json_error="Origin not allowed")),
    Abuse("own Origin is accepted (control)", lambda p, s: p.post(TOOLS_LIST, s, Origin=p.target.base),
          expect_result(7)),
    Abuse("foreign Host", lambda p, s: p.post(TOOLS_LIST, s, Host="evil.example.com"),
          expect_status(403, json_error="Host not allowed")),
    # authentication
    Abuse("no token", lambda p, s: p.post(TOOLS_LIST, s, Authorization=None), expect_401("no bearer token")),
    Abuse("Basic credentials", lambda p, s: p.post(TOOLS_LIST, s, Authorization="Basic dXNlcjpwYXNz"),
          expect_401("no bearer token")),
    Abuse("malformed token", lambda p, s: p.post(TOOLS_LIST, s, Authorization="Bearer abc.def.ghi"),
          expect_401("token is malformed")),
    Abuse("token signed with another secret",
          lambda p, s: p.post(TOOLS_LIST, s, Authorization="Bearer " + jwt(
              "x" * 64, {"sub": "mallory", "scope": " ".join(every_scope(p.target.server)),
                         "exp": int(time.time()) + 600})),
          expect_401("token signature is invalid")),
    Abuse("expired token",
          lambda p, s: p.post(TOOLS_LIST, s, Authorization="Bearer " + jwt(
              p.secret, {"sub": "e2e", "scope": " ".join(every_scope(p.target.server)),
                         "exp": int(time.time()) - 3600})),
          expect_401("token has expired")),
    # the legacy SSE transport (GET /sse + POST /messages/), mcp-core's own (docs/architecture.md)
    Abuse("SSE: invalid JSON", lambda p, s: p.sse_post(b'{"jsonrpc":'), expect_status(400, rpc_codes=PARSE)),
    Abuse("SSE: batch", lambda p, s: p.sse_post([TOOLS_LIST]), expect_status(400, rpc_codes=INVALID)),
    Abuse("SSE: body over MCP_MAX_BODY_BYTES, chunked", lambda p, s: p.sse_post(_chunks(MAX_BODY * 2)),
          expect_status(413)),
    Abuse("SSE: body over MCP_MAX_BODY_BYTES with Content-Length",
          lambda p, s: p.sse_post(json.dumps({**TOOLS_LIST, "params": {"x": "a" * (MAX_BODY + 1)}}).encode()),
          expect_status(413)),
    Abuse("SSE: no session_id", lambda p, s: p.sse_post(TOOLS_LIST, path="/messages/"), expect_status(400)),
    Abuse("SSE: session_id of 65 characters", lambda p, s: p.sse_post(TOOLS_LIST, path="/messages/?session_id=" + "a" * 65),
          expect_status(400)),
    Abuse("SSE: unknown session", lambda p, s: p.sse_post(TOOLS_LIST, path="/messages/?session_id=" + "0" * 32),
          expect_status(404)),
    Abuse("SSE: own session accepts a message (control)", lambda p, s: p.sse_post(
              {**INIT, "params": {**INIT["params"], "protocolVersion": "2024-11-05"}}), expect_status(202)),
    Abuse("SSE: another subject's session",
          lambda p, s: p.sse_post(TOOLS_LIST, token=p.target.dep.token(every_scope(p.target.server), sub="mallory")),
          expect_status(404)),
    Abuse("SSE: no token", lambda p, s: p.request("POST", {"Content-Type": "application/json"},
                                                   json.dumps(TOOLS_LIST).encode(), "/messages/?session_id=" + "0" * 32),
          expect_401("no bearer token")),
    Abuse("alg none token",
          lambda p, s: p.post(TOOLS_LIST, s, Authorization="Bearer " + base64.urlsafe_b64encode(
              b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode() + "." + base64.urlsafe_b64encode(json.dumps(
                  {"sub": "mallory", "scope": " ".join(every_scope(p.target.server)),
                   "exp": int(time.time()) + 600}).encode()).rstrip(b"=").decode() + "."),
          expect_401("token is malformed")),
]

CASES = [(t, a) for t in TARGETS for a in ABUSES
         if a.modes == "both" or (a.modes == "stateless") == t[1]]


@pytest.mark.parametrize("key,abuse", CASES, ids=[f"{_tid(t)}/{a.name}" for t, a in CASES])
def test_protocol_abuse(key, abuse: Abuse, peers) -> None:
    peer: Peer = peers(key)
    session = peer.open_session()
    response = abuse.send(peer, session)
    wrong: AssertionError | None = None
    try:
        abuse.check(response, peer)
    except AssertionError as err:
        wrong = err
    # Whatever the answer, the server must still be up and serving.
    peer.assert_still_up(abuse.name)
    if wrong is not None:
        raise wrong


@pytest.mark.parametrize("key", TARGETS, ids=[_tid(t) for t in TARGETS])
def test_no_errors_logged(key, peers) -> None:
    """After all the abuse of a target (file order): no ERROR lines and no panic in its log."""
    peer: Peer = peers(key)
    peer.assert_still_up("all abuses")
    log = peer.target.proc.log()
    errors = [line for line in log.splitlines() if '"level":"ERROR"' in line or "panicked" in line]
    assert not errors, "\n".join(errors[:10])
