"""Upstream faults against the three simulator-backed servers: paloalto-ngfw, panw-airs, proxmox.

Each server talks to its `vendor-sim` (tests/harness/secops_stack.py), whose fault injection
(`POST /_sim/faults`) produces 5xx bursts, 429 with Retry-After, dropped connections,
malformed bodies and latency, and whose `/_sim/stats` counts the requests that reached it.
The client is raw JSON-RPC over stateless Streamable HTTP (httpx2), plus the official Python
SDK over stateful Streamable HTTP for the session test.

What is checked:

- `test_fault_matrix` (server x operation x fault, one table): every fault becomes an
  `isError` tool result (not a JSON-RPC error) whose text names the upstream and the status
  or cause and holds no secret; the simulator's request count (and the audit event's
  `upstream_calls`) shows that idempotent calls are retried up to PREFIX_MAX_RETRIES and
  writes are not, except after a refused connection, when nothing was sent; no call runs
  past its deadline (the client's read timeout is the deadline plus a margin).
- `test_breaker_opens_fails_fast_half_opens_and_recovers`: PREFIX_BREAKER_FAILURES
  consecutive failures open the breaker; calls then fail at once with no upstream request
  and say so; after PREFIX_BREAKER_COOLDOWN one call goes through (half-open), a failure
  re-opens it, and after the faults clear it closes again.
- `test_request_timeout_bounds_a_slow_upstream`: MCP_REQUEST_TIMEOUT ends a call whose
  upstream is slower than it, with a message naming the variable.
- `test_readyz_follows_the_upstream_healthz_does_not`: a stopped simulator turns /readyz to
  503 while /healthz stays 200; restarted on the same port, /readyz comes back to 200.
- `test_readyz_answers_within_the_probe_deadline_when_the_upstream_is_silent`: an upstream
  that never answers turns /readyz to 503 (`… answer within …`) without /readyz hanging.
- `test_sdk_session_survives_upstream_failure`: the official SDK's session keeps working
  after a tool call failed upstream, and closing it brings the session gauge back to 0.
- `test_stateless_client_disconnect_cancels_the_call`, `test_stateful_cancel_notification_ends_the_call`,
  `test_stateful_disconnect_is_bounded_by_request_timeout`: a call whose client went away or
  cancelled it stops (the in-flight gauge returns to 0) long before the slow upstream would
  have answered.

Waits are bounded polls; no sleep is used as synchronisation and no wall-clock duration is
asserted: deadlines are enforced with client-side timeouts only.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "harness"))
sys.path.insert(0, str(HERE))

import httpx2  # noqa: E402

from mcp_wire import INITIALIZED, call_body, headers, initialize_body, jsonrpc_reply, poll, tool_text  # noqa: E402
from secops_stack import FIXTURES, Deployment, Simulator, Stack, http_get  # noqa: E402

# Slack added to every deadline before a client gives up and calls it a hang. Generous,
# because debug binaries on two busy cores can be slow; it bounds a hang, it times nothing.
MARGIN_S = 10.0
MAX_RETRIES = 2  # PREFIX_MAX_RETRIES in every test (the default, set explicitly)
ATTEMPTS = 1 + MAX_RETRIES


# --------------------------------------------------------------------------- the servers


@dataclass(frozen=True)
class Op:
    """One tool call that makes exactly one upstream request when nothing fails."""

    tool: str
    args: dict
    ok: Callable[[dict], bool]  # checks structuredContent of a successful call


@dataclass(frozen=True)
class Vendor:
    server: str
    prefix: str  # PREFIX_ of the upstream variables
    upstream: str  # the display name in tool errors and the `upstream` metric label
    scopes: tuple[str, ...]
    ops: dict[str, Op]
    malformed: str  # what the error says about a body that does not parse
    extra_env: dict[str, str] = field(default_factory=dict)


def _nodes(sc: dict) -> bool:
    return {n.get("node") for n in sc["data"]} == {"pve1", "pve2", "pve3"}


VENDORS: dict[str, Vendor] = {
    "paloalto-ngfw": Vendor(
        server="paloalto-ngfw", prefix="PANOS", upstream="PAN-OS", scopes=("ngfw:read",),
        ops={"read": Op("get_system_info", {}, lambda sc: sc["fields"]["hostname"] == "fw-sim-01")},
        malformed="not a PAN-OS XML API document",
        # No cache: every call must reach the simulator, or request counts would prove nothing.
        extra_env={"PANOS_CACHE_TTL": "0"},
    ),
    "panw-airs": Vendor(
        server="panw-airs", prefix="PANW_AI", upstream="AIRS", scopes=("airs:scan",),
        ops={
            "read": Op("pan_get_scan_results", {"scan_ids": ["00000000-0000-0000-0000-00000000abcd"]},
                       lambda sc: sc["missing"] == ["00000000-0000-0000-0000-00000000abcd"] and sc["results"] == []),
            # Scans are sent as idempotent on purpose (docs/servers/panw-airs.md).
            "scan": Op("pan_inline_scan", {"prompt": "What is the capital of France?"},
                       lambda sc: sc["category"] == "benign" and sc["action"] == "allow"),
        },
        malformed="not valid JSON",
    ),
    "proxmox": Vendor(
        server="proxmox", prefix="PROXMOX", upstream="Proxmox VE",
        scopes=("proxmox:read", "proxmox:power", "proxmox:admin"),
        ops={
            "read": Op("list_nodes", {}, _nodes),
            # One POST, sent as NonIdempotent by PveClient::write (the path vm_action uses too).
            "write": Op("proxmox_api", {"method": "POST", "path": "/nodes/pve2/qemu/102/status/start"},
                        lambda sc: sc["data"].startswith("UPID:pve2:") and ":qmstart:102:" in sc["data"]),
        },
        malformed="not valid JSON",
        # A non-GET proxmox_api call asks a human first (the confirmation gate of mcp-core). These
        # tests are about what upstream faults do to a write, not about confirmations (those are
        # tests/interop/test_confirmation.py and tests/e2e/test_confirmation.py), and their SDK
        # client cannot answer one: let the write through.
        extra_env={"MCP_CONFIRM": "off"},
    ),
}


@dataclass
class Rig:
    """One server (stateless HTTP, JWT) wired to its own simulator, with fresh secrets."""

    vendor: Vendor
    stack: Stack
    dep: Deployment
    sim: Simulator
    token: str
    secrets: list[str]
    sim_vars: dict[str, str]
    timeout_s: float  # PREFIX_TIMEOUT in seconds
    request_timeout_s: float  # MCP_REQUEST_TIMEOUT in seconds
    next_id: int = 0

    @property
    def base(self) -> str:
        return self.dep.replicas[0].base

    @property
    def replica(self):
        return self.dep.replicas[0]

    def deadline(self) -> float:
        """The longest a call may take: the upstream deadline (twice PREFIX_TIMEOUT) or
        MCP_REQUEST_TIMEOUT, whichever is shorter, plus the margin."""
        return min(2 * self.timeout_s, self.request_timeout_s) + MARGIN_S

    def call(self, op: Op, bound: float | None = None) -> tuple[dict, str, str]:
        """(CallToolResult, the raw HTTP body, the X-Request-Id sent). Fails the test if no
        answer comes within `bound` (default: `deadline()`)."""
        self.next_id += 1
        rid = f"hardening-{uuid.uuid4()}"
        bound = bound if bound is not None else self.deadline()
        try:
            with httpx2.Client(timeout=bound, trust_env=False) as client:
                resp = client.post(f"{self.base}/mcp", headers=headers(self.token, request_id=rid),
                                   json=call_body(self.next_id, op.tool, op.args))
        except httpx2.TimeoutException:
            pytest.fail(f"{op.tool}: no answer within {bound:.0f} s: the call hung past its deadline\n"
                        + self.log_tail())
        msg = jsonrpc_reply(resp, self.next_id)
        assert "result" in msg, f"{op.tool}: a JSON-RPC error instead of a tool result: {msg}"
        return msg["result"], resp.text, rid

    def requests(self) -> int:
        return self.sim.requests()

    def audit(self, rid: str) -> dict:
        """The audit event (`tool call`) of the request with X-Request-Id `rid`."""

        def find():
            for line in list(self.replica.proc.lines):
                if rid in line and '"audit"' in line:
                    rec = json.loads(line)
                    if rec.get("request_id") == rid and rec.get("message") == "tool call":
                        return rec
            return None

        return poll(f"audit event of {rid}", find, 10)

    def metric(self, name: str, **labels: str) -> float:
        return self.replica.metric(name, **labels)

    def log_tail(self, n: int = 30) -> str:
        return "server log tail:\n" + "\n".join(list(self.replica.proc.lines)[-n:])

    def assert_no_secret(self, *texts: str) -> None:
        for text in texts:
            for s in self.secrets:
                assert s not in text, f"a secret ({s[:6]}…) leaked into: {text[:400]}"

    def stop_simulator(self) -> int:
        """Stops the simulator; returns its port (for a restart)."""
        port = int(self.sim.url.rsplit(":", 1)[1])
        self.sim.proc.stop()
        assert not self.sim.proc.alive()
        return port

    def restart_simulator(self, port: int) -> None:
        """Starts the simulator again, with the same arguments, on the same port."""
        cmd = list(self.sim.proc.cmd)
        cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
        proc = self.stack._spawn(cmd, {}, f"vendor-sim {self.sim.kind} (restarted)")
        url = proc.wait_line(r"listening on (http://[0-9.:]+)", 20).group(1)
        assert url == self.sim.url, f"restarted on {url}, not {self.sim.url}"
        self.sim = Simulator(kind=self.sim.kind, url=url, proc=proc)

    def finish(self) -> None:
        """End-of-test checks: no secret in the server's log, no panic, /healthz still 200,
        and a graceful SIGTERM still exits 0."""
        log = self.replica.proc.log()
        self.assert_no_secret(log)
        assert "panicked" not in log, self.log_tail()
        assert http_get(f"{self.base}/healthz")[0] == 200
        code = self.replica.proc.stop()
        assert code == 0, f"{self.vendor.server} exited {code} after SIGTERM\n{self.log_tail()}"


def _duration_s(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s)", value)
    assert m, value
    return int(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def start_rig(st: Stack, vendor: Vendor, env: dict[str, str] | None = None, stateless: bool = True) -> Rig:
    """Starts the vendor's simulator with credentials made for this test, then the server."""
    p = vendor.prefix
    if vendor.server == "paloalto-ngfw":
        key = f"pk{secrets.token_hex(20)}"
        sim = st.simulator("panos", "--config", str(FIXTURES / "panos" / "firewall.xml"), "--api-key", key)
        sim_vars = {"PANOS_HOST": sim.url, "PANOS_API_KEY": key}
        creds = [key]
    elif vendor.server == "panw-airs":
        key = f"ak{secrets.token_hex(20)}"
        sim = st.simulator("airs", "--api-key", key)
        sim_vars = {"PANW_AI_SEC_API_ENDPOINT": sim.url, "PANW_AI_SEC_API_KEY": key,
                    "PANW_AI_PROFILE_NAME": "default-profile"}
        creds = [key]
    else:
        token_secret = str(uuid.uuid4())
        sim = st.simulator("proxmox", "--token-id", "mcp@pve!hardening", "--token-secret", token_secret)
        sim_vars = {"PROXMOX_HOST": sim.url, "PROXMOX_TOKEN_ID": "mcp@pve!hardening",
                    "PROXMOX_TOKEN_SECRET": token_secret}
        creds = [token_secret]
    full = {f"{p}_TIMEOUT": "3s", f"{p}_MAX_RETRIES": str(MAX_RETRIES), f"{p}_BREAKER_FAILURES": "100",
            f"{p}_BREAKER_COOLDOWN": "30s", "MCP_REQUEST_TIMEOUT": "60s", **vendor.extra_env, **(env or {})}
    dep = st.deploy(vendor.server, stateless=stateless, upstream=sim, upstream_vars=sim_vars, env=full)
    token = dep.token(list(vendor.scopes))
    return Rig(vendor=vendor, stack=st, dep=dep, sim=sim, token=token, secrets=creds + [dep.secret, token],
               sim_vars=sim_vars, timeout_s=_duration_s(full[f"{p}_TIMEOUT"]),
               request_timeout_s=_duration_s(full["MCP_REQUEST_TIMEOUT"]))


@pytest.fixture
def stack():
    st = Stack()
    try:
        yield st
    finally:
        # A simulator may still be sleeping on an injected latency; it is a fake with no state
        # worth keeping, so SIGKILL it rather than wait for its graceful shutdown.
        for proc in st.procs:
            if proc.cmd and proc.cmd[0].endswith("vendor-sim"):
                proc.kill()
        st.close()


# --------------------------------------------------------------------------- the fault table


@dataclass(frozen=True)
class Fault:
    id: str
    faults: dict | None  # POST /_sim/faults; None: stop the simulator (a dead upstream)
    outcome: str  # `ok`, or the tool-call outcome label: unavailable, rate_limited, upstream_error
    requests: int | None  # upstream requests the call makes (None: the simulator is down)
    words: tuple[str, ...] = ()  # fragments of the error text; {up} is the upstream's name
    env: dict[str, str] = field(default_factory=dict)  # keys may use {p}, the variable prefix
    connect_errors: int = 0  # for a dead upstream: refused connections (attempts) expected
    breaker_stays_closed: bool = False  # check mcp_upstream_circuit_state is still 0 afterwards


READ_FAULTS = [
    Fault("5xx_burst_retried_away", {"fail_next": MAX_RETRIES}, "ok", ATTEMPTS),
    Fault("5xx_outlasts_retries", {"fail_next": ATTEMPTS, "fail_status": 503}, "unavailable", ATTEMPTS,
          ("{up} is unavailable", "HTTP 503")),
    Fault("429_short_retry_after_waited_then_retried", {"rate_limit_next": 1, "retry_after_secs": 1}, "ok", 2),
    Fault("429_long_retry_after_returned_at_once", {"rate_limit_next": 1, "retry_after_secs": 30},
          "rate_limited", 1, ("{up} is rate limiting requests; retry after 30 s",)),
    # Three 429s in a row with PREFIX_BREAKER_FAILURES=2: a 429 is not a breaker failure.
    Fault("429_persisting_is_retried_a_bounded_number_of_times", {"rate_limit_next": 10, "retry_after_secs": 1},
          "rate_limited", ATTEMPTS, ("{up} is rate limiting requests; retry after 1 s",),
          env={"{p}_BREAKER_FAILURES": "2"}, breaker_stays_closed=True),
    Fault("connection_reset_retried_away", {"drop_next": 1}, "ok", 2),
    Fault("connection_reset_outlasts_retries", {"drop_next": ATTEMPTS}, "unavailable", ATTEMPTS,
          ("{up} is unavailable", "connection closed before message completed")),
    Fault("malformed_body_not_retried", {"malformed_next": 1}, "upstream_error", 1, ("{up} said:", "{malformed}")),
    # PREFIX_TIMEOUT 1 s, so the whole call's upstream deadline is 2 s; the simulator waits 4 s.
    Fault("latency_over_timeout_is_cut_at_the_deadline", {"latency_ms": 4000}, "unavailable", None,
          ("{up} is unavailable: no answer within",), env={"{p}_TIMEOUT": "1s"}),
    Fault("dead_upstream", None, "unavailable", None, ("{up} is unavailable", "Connection refused"),
          connect_errors=ATTEMPTS),
]

# proxmox_api POST: sent NonIdempotent, so nothing that may have reached PVE is sent twice.
WRITE_FAULTS = [
    Fault("control_no_fault", {}, "ok", 1),
    Fault("5xx_not_retried", {"fail_next": 1}, "unavailable", 1, ("{up} is unavailable", "HTTP 500")),
    Fault("connection_reset_not_retried", {"drop_next": 1}, "unavailable", 1,
          ("{up} is unavailable", "connection closed before message completed")),
    Fault("429_not_retried_even_with_a_short_retry_after", {"rate_limit_next": 1, "retry_after_secs": 1},
          "rate_limited", 1, ("{up} is rate limiting requests; retry after 1 s",)),
    Fault("timeout_not_retried", {"latency_ms": 3000}, "unavailable", 1, ("{up} is unavailable: no answer within",),
          env={"{p}_TIMEOUT": "1s"}),
    # A refused connection means nothing was sent, so even a write is tried again.
    Fault("dead_upstream_refused_connection_is_retried", None, "unavailable", None,
          ("{up} is unavailable", "Connection refused"), connect_errors=ATTEMPTS),
]

SCAN_FAULTS = [
    Fault("5xx_burst_retried_away_scans_are_idempotent", {"fail_next": MAX_RETRIES}, "ok", ATTEMPTS),
    Fault("malformed_body_not_retried", {"malformed_next": 1}, "upstream_error", 1, ("{up} said:", "{malformed}")),
]

def _guest_102(rig: Rig) -> str:
    """The power state of proxmox guest 102 (stopped in the simulator's fixture), via vm_status."""
    result, _, _ = rig.call(Op("vm_status", {"vmid": 102}, lambda sc: True))
    assert result.get("isError") is not True, tool_text(result)
    return result["structuredContent"]["status"]["status"]


MATRIX = ([(s, "read", f) for s in VENDORS for f in READ_FAULTS]
          + [("proxmox", "write", f) for f in WRITE_FAULTS]
          + [("panw-airs", "scan", f) for f in SCAN_FAULTS])


@pytest.mark.parametrize(("server", "op_name", "fault"), MATRIX,
                         ids=[f"{s}-{o}-{f.id}" for s, o, f in MATRIX])
def test_fault_matrix(stack: Stack, server: str, op_name: str, fault: Fault) -> None:
    vendor = VENDORS[server]
    p = vendor.prefix
    rig = start_rig(stack, vendor, {k.format(p=p): v for k, v in fault.env.items()})
    op = vendor.ops[op_name]
    up = vendor.upstream

    before_connect = rig.metric("mcp_upstream_requests_total", upstream=up, outcome="connect_error")
    before_outcome = rig.metric("mcp_tool_calls_total", tool=op.tool, outcome=fault.outcome)
    if fault.faults is None:
        rig.stop_simulator()
        n0 = None
    else:
        rig.sim.faults(**fault.faults)
        n0 = rig.requests()

    result, raw, rid = rig.call(op)
    text = tool_text(result)

    # The outcome, as the model and the metrics see it.
    if fault.outcome == "ok":
        assert result.get("isError") is not True, f"expected success, got: {text}"
        assert op.ok(result["structuredContent"]), result["structuredContent"]
    else:
        assert result.get("isError") is True, f"expected an isError result, got: {raw[:400]}"
        assert text.startswith(up), f"the error does not name {up}: {text}"
        for word in fault.words:
            word = word.format(up=up, malformed=vendor.malformed)
            assert word in text, f"{word!r} not in {text!r}"
        assert "internal error" not in text
    rig.assert_no_secret(raw)
    assert rig.metric("mcp_tool_calls_total", tool=op.tool, outcome=fault.outcome) == before_outcome + 1

    # How many requests reached the upstream: retries only where the call is idempotent.
    audit = rig.audit(rid)
    assert audit["outcome"] == fault.outcome, audit
    rig.assert_no_secret(json.dumps(audit))
    if n0 is not None:
        sent = rig.requests() - n0
        if fault.requests is not None:
            assert sent == fault.requests, f"{sent} upstream requests, expected {fault.requests}"
        else:  # cut by the deadline: at least one attempt, never more than the retry budget
            assert 1 <= sent <= ATTEMPTS, sent
        assert audit["upstream_calls"] == sent, (audit["upstream_calls"], sent)
    if fault.breaker_stays_closed:
        assert rig.metric("mcp_upstream_circuit_state", upstream=up) == 0, "the breaker opened"
    if fault.connect_errors:
        connect = rig.metric("mcp_upstream_requests_total", upstream=up, outcome="connect_error") - before_connect
        assert connect == fault.connect_errors, f"{connect} refused connections, expected {fault.connect_errors}"
        assert audit["upstream_calls"] == fault.connect_errors, audit

    if fault.faults is not None:
        # The fault was one-shot or is cleared; the next call works: no state was left broken.
        rig.sim.clear_faults()
        if op_name == "write" and fault.outcome != "ok" and fault.faults.get("latency_ms"):
            # Whether a write that timed out took effect is unknown to the server (the
            # simulator drops the handler of a client that went away; a real PVE may not).
            pass
        elif op_name == "write" and fault.outcome != "ok":
            # The refused POST did not start the guest, and the same start now succeeds (a
            # second start of a running guest would be refused with "already running").
            assert _guest_102(rig) == "stopped"
            n1 = rig.requests()
            after, _, _ = rig.call(op)
            assert after.get("isError") is not True, tool_text(after)
            assert rig.requests() - n1 == 1
        elif op_name != "write":
            after, _, _ = rig.call(op)
            assert after.get("isError") is not True, tool_text(after)
    rig.finish()


# --------------------------------------------------------------------------- circuit breaker


@pytest.mark.parametrize("server", list(VENDORS))
def test_breaker_opens_fails_fast_half_opens_and_recovers(stack: Stack, server: str) -> None:
    vendor = VENDORS[server]
    p, up = vendor.prefix, vendor.upstream
    failures = 3
    # No retries, so each call is one attempt and one breaker failure.
    rig = start_rig(stack, vendor, {f"{p}_MAX_RETRIES": "0", f"{p}_BREAKER_FAILURES": str(failures),
                                    f"{p}_BREAKER_COOLDOWN": "1s"})
    op = vendor.ops["read"]
    assert rig.metric("mcp_upstream_circuit_state", upstream=up) == 0

    rig.sim.faults(fail_rate=1.0, fail_status=503)  # every request fails until cleared
    for i in range(failures):
        n0 = rig.requests()
        result, raw, _ = rig.call(op)
        assert result.get("isError") is True and "HTTP 503" in tool_text(result), (i, tool_text(result))
        assert rig.requests() - n0 == 1, f"failure {i + 1}: the call did not reach the upstream once"
    assert rig.metric("mcp_upstream_circuit_state", upstream=up) == 2, "breaker not open after the failures"

    # Open: the call fails at once, nothing is sent, and the message says why and when to retry.
    n0 = rig.requests()
    result, raw, rid = rig.call(op)
    text = tool_text(result)
    assert result.get("isError") is True
    assert text.startswith(f"{up} is unavailable: circuit breaker is open after repeated failures"), text
    assert "retry after" in text, text
    assert rig.requests() == n0, "an open breaker let a request through"
    assert rig.audit(rid)["upstream_calls"] == 0
    assert rig.metric("mcp_upstream_requests_total", upstream=up, outcome="circuit_open") >= 1
    rig.assert_no_secret(raw)

    # Half-open after the cooldown: exactly one call goes through; it fails, so the breaker opens again.
    def half_open_trial():
        before = rig.requests()
        res, _, _ = rig.call(op)
        sent = rig.requests() - before
        if sent == 0:
            assert "circuit breaker is open" in tool_text(res), tool_text(res)
            return None
        return sent, res

    sent, res = poll("a call let through after the cooldown (half-open)", half_open_trial, 20)
    assert sent == 1 and res.get("isError") is True and "HTTP 503" in tool_text(res), (sent, tool_text(res))
    n0 = rig.requests()
    result, _, _ = rig.call(op)
    assert "circuit breaker is open" in tool_text(result), "a failed half-open trial did not re-open the breaker"
    assert rig.requests() == n0

    # Recovery: with the upstream healthy again the next trial succeeds and the breaker closes.
    rig.sim.clear_faults()

    def recovered():
        res, _, _ = rig.call(op)
        return res if res.get("isError") is not True else None

    res = poll("a successful call after the faults were cleared", recovered, 20)
    assert op.ok(res["structuredContent"])
    assert rig.metric("mcp_upstream_circuit_state", upstream=up) == 0, "breaker not closed after a success"
    n0 = rig.requests()
    result, _, _ = rig.call(op)
    assert result.get("isError") is not True and rig.requests() - n0 == 1
    log = rig.replica.proc.log()
    assert "circuit breaker opened: upstream calls paused" in log
    assert "circuit breaker closed: upstream recovered" in log
    rig.finish()


# --------------------------------------------------------------------------- MCP_REQUEST_TIMEOUT


@pytest.mark.parametrize("server", list(VENDORS))
def test_request_timeout_bounds_a_slow_upstream(stack: Stack, server: str) -> None:
    vendor = VENDORS[server]
    p = vendor.prefix
    # The upstream client alone would wait up to 60 s (2 x 30 s); MCP_REQUEST_TIMEOUT is 1 s.
    rig = start_rig(stack, vendor, {f"{p}_TIMEOUT": "30s", "MCP_REQUEST_TIMEOUT": "1s"})
    op = vendor.ops["read"]
    # Longer than the client's bound below, so a call that ignored MCP_REQUEST_TIMEOUT would
    # be reported as a hang, not pass late.
    rig.sim.faults(latency_ms=int((rig.deadline() + 5) * 1000))
    n0 = rig.requests()
    result, raw, rid = rig.call(op)
    text = tool_text(result)
    assert result.get("isError") is True, raw[:400]
    assert text == "this server is unavailable: the call did not finish within the 1s limit (MCP_REQUEST_TIMEOUT)", text
    assert rig.requests() - n0 == 1
    assert rig.audit(rid)["outcome"] == "unavailable"
    # The abandoned call is no longer counted as in flight.
    poll("mcp_inflight_tool_calls back to 0", lambda: rig.metric("mcp_inflight_tool_calls") == 0, 10)
    rig.finish()


# --------------------------------------------------------------------------- readiness


READYZ_DOWN = "upstream not reachable (details in the server log)"


def _readiness_cycle(st: Stack, vendor: Vendor) -> None:
    rig = start_rig(st, vendor, {f"{vendor.prefix}_BREAKER_COOLDOWN": "1s"})
    base = rig.base
    assert http_get(f"{base}/readyz")[0] == 200  # the harness waited for this
    port = rig.stop_simulator()

    # The probe result is cached for 10 s, so the change shows within one cache period.
    def unready():
        status, body = http_get(f"{base}/readyz", timeout=rig.deadline())
        return (status, body.decode()) if status == 503 else None

    status, body = poll(f"{vendor.server}: /readyz 503 with the simulator down", unready, 40, interval=0.25)
    # The probe's error (which names the upstream and its address) is logged, never served.
    assert body == READYZ_DOWN, body
    assert str(port) not in body, body
    # Logged before the 503 was sent, but read from the server's stderr by another thread:
    # a bounded wait for the line, not a check of what that thread has read so far.
    rig.replica.proc.wait_line(re.compile(f"(?=.*readiness probe failed)(?=.*{re.escape(vendor.upstream)})"), 10)
    rig.assert_no_secret(body)
    assert http_get(f"{base}/healthz") == (200, b"ok"), "/healthz must not depend on the upstream"
    result, _, _ = rig.call(vendor.ops["read"])
    assert result.get("isError") is True and tool_text(result).startswith(f"{vendor.upstream} is unavailable")

    rig.restart_simulator(port)
    poll(f"{vendor.server}: /readyz 200 with the simulator back on port {port}",
         lambda: http_get(f"{base}/readyz", timeout=rig.deadline())[0] == 200, 40, interval=0.25)
    assert http_get(f"{base}/healthz") == (200, b"ok")
    result, _, _ = rig.call(vendor.ops["read"])
    assert result.get("isError") is not True, tool_text(result)
    rig.finish()


def _readiness_slow_cycle(st: Stack, vendor: Vendor) -> None:
    """An upstream that accepts but does not answer: /readyz still answers, 503, within the
    probe's deadline (2 x PREFIX_TIMEOUT, at most 4 s), and /healthz is not held up by it."""
    rig = start_rig(st, vendor, {f"{vendor.prefix}_TIMEOUT": "1s", f"{vendor.prefix}_BREAKER_COOLDOWN": "1s"})
    base = rig.base
    rig.sim.faults(latency_ms=60_000)

    def unready():
        try:
            status, body = http_get(f"{base}/readyz", timeout=rig.deadline())
        except OSError as err:  # a client timeout: /readyz hung past the probe's deadline
            raise AssertionError(f"/readyz gave no answer within {rig.deadline():.0f} s: {err!r}") from err
        return (status, body.decode()) if status == 503 else None

    status, body = poll(f"{vendor.server}: /readyz 503 with a silent upstream", unready, 40, interval=0.25)
    assert body == READYZ_DOWN, body
    # "did not answer within" or "no answer within", in the log only.
    rig.replica.proc.wait_line(re.compile("(?=.*readiness probe failed)(?=.*answer within)"), 10)
    assert http_get(f"{base}/healthz", timeout=MARGIN_S) == (200, b"ok")
    rig.sim.clear_faults()
    poll(f"{vendor.server}: /readyz 200 once the upstream answers again",
         lambda: http_get(f"{base}/readyz", timeout=rig.deadline())[0] == 200, 40, interval=0.25)
    rig.finish()


@pytest.fixture(scope="module")
def readiness_cycles():
    """Runs the readiness cycles side by side (each waits out the 10 s probe cache twice), so
    the module pays for about one of them in wall time."""
    st = Stack()
    pool = ThreadPoolExecutor(max_workers=2 * len(VENDORS))
    futures = {("down", name): pool.submit(_readiness_cycle, st, vendor) for name, vendor in VENDORS.items()}
    futures |= {("silent", name): pool.submit(_readiness_slow_cycle, st, vendor) for name, vendor in VENDORS.items()}
    try:
        yield futures
    finally:
        pool.shutdown(wait=True)
        for proc in st.procs:
            if proc.cmd and proc.cmd[0].endswith("vendor-sim"):
                proc.kill()
        st.close()


@pytest.mark.parametrize("server", list(VENDORS))
def test_readyz_follows_the_upstream_healthz_does_not(readiness_cycles, server: str) -> None:
    readiness_cycles[("down", server)].result(timeout=180)


@pytest.mark.parametrize("server", list(VENDORS))
def test_readyz_answers_within_the_probe_deadline_when_the_upstream_is_silent(readiness_cycles, server: str) -> None:
    readiness_cycles[("silent", server)].result(timeout=180)


# --------------------------------------------------------------------------- official SDK


@pytest.mark.parametrize("server", list(VENDORS))
def test_sdk_session_survives_upstream_failure(stack: Stack, server: str) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    vendor = VENDORS[server]
    rig = start_rig(stack, vendor, stateless=False)
    op = vendor.ops["read"]

    async def run() -> tuple[Any, Any, Any]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {rig.token}"}, trust_env=False,
                                      timeout=httpx2.Timeout(rig.deadline())) as http:
            async with streamable_http_client(f"{rig.base}/mcp", http_client=http) as (read, write, *_):
                async with ClientSession(read, write, read_timeout_seconds=rig.deadline()) as session:
                    await session.initialize()
                    rig.sim.faults(fail_next=ATTEMPTS)
                    failed = await session.call_tool(op.tool, op.args)
                    ok = await session.call_tool(op.tool, op.args)
                    tools = await session.list_tools()
                    return failed, ok, tools

    failed, ok, tools = asyncio.run(asyncio.wait_for(run(), timeout=3 * rig.deadline()))
    failed_text = "\n".join(getattr(c, "text", "") for c in failed.content)
    assert failed.is_error is True
    assert failed_text.startswith(f"{vendor.upstream} is unavailable"), failed_text
    rig.assert_no_secret(failed_text)
    assert ok.is_error is not True
    assert op.ok(ok.structured_content)
    assert op.tool in {t.name for t in tools.tools}
    # Leaving the SDK's context closed the session.
    poll("mcp_active_sessions back to 0",
         lambda: rig.metric("mcp_active_sessions", transport="streamable_http") == 0, 10)
    rig.finish()


# --------------------------------------------------------------------------- a client that gives up


def _inflight_back_to_zero(rig: Rig, within: float) -> None:
    poll("mcp_inflight_tool_calls back to 0", lambda: rig.metric("mcp_inflight_tool_calls") == 0, within)


def _last_audit(rig: Rig, tool: str) -> dict:
    def find():
        for line in reversed(list(rig.replica.proc.lines)):
            if '"audit"' in line and f'"tool":"{tool}"' in line:
                return json.loads(line)
        return None

    return poll(f"audit event of {tool}", find, 10)


# The upstream answers after UPSTREAM_WAIT_S; every check below must see the call end well
# before that, so a call that kept running would fail the bounded poll instead of passing late.
UPSTREAM_WAIT_S = 30
GONE_BOUND_S = 12


@pytest.mark.parametrize("server", list(VENDORS))
def test_stateless_client_disconnect_cancels_the_call(stack: Stack, server: str) -> None:
    vendor = VENDORS[server]
    rig = start_rig(stack, vendor, {f"{vendor.prefix}_TIMEOUT": "60s"})
    op = vendor.ops["read"]
    rig.sim.faults(latency_ms=UPSTREAM_WAIT_S * 1000)
    rig.next_id += 1
    with httpx2.Client(timeout=httpx2.Timeout(10.0, read=0.5), trust_env=False) as client:
        with pytest.raises(httpx2.ReadTimeout):
            client.post(f"{rig.base}/mcp", headers=headers(rig.token), json=call_body(rig.next_id, op.tool, op.args))
    # Leaving the client closed the connection.
    _inflight_back_to_zero(rig, GONE_BOUND_S)
    audit = _last_audit(rig, op.tool)
    assert audit["outcome"] == "unavailable" and audit["error"].endswith("the client cancelled the call"), audit
    assert audit["upstream_calls"] == 1
    rig.sim.clear_faults()
    result, _, _ = rig.call(op)
    assert result.get("isError") is not True, tool_text(result)
    rig.finish()


def _stateful_session(rig: Rig, client: httpx2.Client) -> str:
    resp = client.post(f"{rig.base}/mcp", headers=headers(rig.token), json=initialize_body(1))
    assert "result" in jsonrpc_reply(resp, 1)
    sid = resp.headers["mcp-session-id"]
    assert client.post(f"{rig.base}/mcp", headers=headers(rig.token, sid), json=INITIALIZED).status_code == 202
    return sid


@pytest.mark.parametrize("server", list(VENDORS))
def test_stateful_cancel_notification_ends_the_call(stack: Stack, server: str) -> None:
    vendor = VENDORS[server]
    rig = start_rig(stack, vendor, {f"{vendor.prefix}_TIMEOUT": "60s"}, stateless=False)
    op = vendor.ops["read"]
    with httpx2.Client(timeout=GONE_BOUND_S, trust_env=False) as client:
        sid = _stateful_session(rig, client)
        rig.sim.faults(latency_ms=UPSTREAM_WAIT_S * 1000)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(client.post, f"{rig.base}/mcp", headers=headers(rig.token, sid),
                                  json=call_body(7, op.tool, op.args))
            poll("the call is in flight", lambda: rig.metric("mcp_inflight_tool_calls") == 1, 10)
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": 7, "reason": "hardening test"}}
            assert client.post(f"{rig.base}/mcp", headers=headers(rig.token, sid), json=cancel).status_code == 202
            _inflight_back_to_zero(rig, GONE_BOUND_S)
            # The call's POST stream ends (no hang) and carries no answer to the cancelled request.
            resp = pending.result(timeout=GONE_BOUND_S + 5)
        assert resp.status_code == 200
        assert '"id":7' not in resp.text, resp.text[:300]
        audit = _last_audit(rig, op.tool)
        assert audit["error"].endswith("the client cancelled the call"), audit
        rig.sim.clear_faults()
        # The session is still usable.
        after = client.post(f"{rig.base}/mcp", headers=headers(rig.token, sid), json=call_body(8, op.tool, op.args))
        assert jsonrpc_reply(after, 8)["result"].get("isError") is not True
    rig.finish()


@pytest.mark.parametrize("server", list(VENDORS))
def test_stateful_disconnect_is_bounded_by_request_timeout(stack: Stack, server: str) -> None:
    """Over stateful Streamable HTTP a dropped connection is not a cancellation (the spec says
    so): the call goes on, but never past MCP_REQUEST_TIMEOUT."""
    vendor = VENDORS[server]
    rig = start_rig(stack, vendor, {f"{vendor.prefix}_TIMEOUT": "60s", "MCP_REQUEST_TIMEOUT": "2s"}, stateless=False)
    op = vendor.ops["read"]
    with httpx2.Client(timeout=GONE_BOUND_S, trust_env=False) as client:
        sid = _stateful_session(rig, client)
    rig.sim.faults(latency_ms=UPSTREAM_WAIT_S * 1000)
    with httpx2.Client(timeout=httpx2.Timeout(10.0, read=0.5), trust_env=False) as client:
        with pytest.raises(httpx2.ReadTimeout):
            client.post(f"{rig.base}/mcp", headers=headers(rig.token, sid), json=call_body(2, op.tool, op.args))
    _inflight_back_to_zero(rig, GONE_BOUND_S)
    audit = _last_audit(rig, op.tool)
    assert audit["outcome"] == "unavailable", audit
    assert audit["error"].endswith("(MCP_REQUEST_TIMEOUT)"), audit
    rig.finish()
