"""Replica loss behind a real Traefik: SIGKILL one of three stateless replicas under load.

Traefik runs the chart's routes plus an active health check on /readyz and a retry middleware
(tests/e2e/traefik.py). While concurrent MCP SDK clients call tools, one replica is SIGKILLed
(no drain, no goodbye), and later restarted on the same port.

Why the failure bound is "at most one call per worker": a stateless call holds no state in a
replica, so the only calls that can be lost are the ones in flight on the killed replica at the
instant it dies: Traefik has already written the POST to it, gets a reset instead of an answer,
and (rightly) does not replay a non-idempotent request. Each worker has at most one call in
flight, so at most `WORKERS` calls can fail. Every later call either reaches a live replica
(round robin), or hits the dead port, is refused before anything is sent, and is retried by
Traefik on the next replica; once the health check marks the replica DOWN it gets no traffic.

The writes (aws-whitelist `whitelist`) need a human's confirmation. The SDK client speaks
2026-07-28 and answers with an elicitation callback that accepts: each whitelist is two
requests, the `InputRequiredResult` that asks and the retry that carries the answer and the
sealed `requestState`. The replicas share one MCP_STATE_KEY, so a confirmation asked by one
replica is resumed by whichever replica Traefik sends the retry to; the audit logs show that
this happened.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections import Counter, defaultdict
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from secops_stack import Deployment, Stack
from traefik import Edge

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 30.0
RUN_LIMIT_S = 120.0  # whole-run bound so a wedged stack fails instead of hanging (not a timing assertion)


@asynccontextmanager
async def sdk_session(edge: Edge, server: str, token: str):
    async with edge.http_client(token) as http, streamable_http_client(edge.https_url(server), http_client=http) as (
        read, write, *_):
        async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def confirming_client(edge: Edge, server: str, token: str, human):
    """The SDK's `Client` on 2026-07-28 through Traefik: it answers each `InputRequiredResult`
    with `human` (an elicitation callback) and retries, as an agent with a user would."""
    async with edge.http_client(token) as http:
        async with Client(streamable_http_client(edge.https_url(server), http_client=http),
                          mode=LATEST_MODERN_VERSION, read_timeout_seconds=CALL_TIMEOUT_S,
                          elicitation_callback=human) as client:
            yield client


def deploy_behind_traefik(stack: Stack, server: str, replicas: int,
                          env: dict[str, str] | None = None) -> tuple[Edge, Deployment]:
    edge = Edge(stack)
    dep = stack.deploy(server, replicas=replicas, stateless=True, env={**edge.server_env(server), **(env or {})})
    edge.add(server, dep)
    edge.start()
    return edge, dep


class Tally:
    """Counts calls and failures; fires events when the totals pass the phase marks."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.marks: list[tuple[int, anyio.Event]] = []

    def at(self, total: int) -> anyio.Event:
        event = anyio.Event()
        self.marks.append((total, event))
        return event

    def record(self, ok: bool, error: str = "") -> None:
        if ok:
            self.ok += 1
        else:
            self.failed += 1
            self.errors[error[:160]] += 1
        for total, event in self.marks:
            if self.ok + self.failed >= total:
                event.set()


def describe(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}"


async def read_worker(edge: Edge, server: str, token: str, tool: str, args: dict, calls: int, tally: Tally,
                      expect: str) -> None:
    """`calls` tool calls; a failed call is counted (not retried) and the session is reopened."""
    done = 0
    while done < calls:
        try:
            async with sdk_session(edge, server, token) as session:
                while done < calls:
                    try:
                        res = await session.call_tool(tool, args)
                    except Exception as err:  # noqa: BLE001 - counted
                        done += 1
                        tally.record(False, describe(err))
                        break
                    done += 1
                    text = " ".join(getattr(c, "text", "") for c in res.content)
                    tally.record(not res.is_error and expect in text, text if res.is_error else "")
        except Exception as err:  # noqa: BLE001 - a session that could not open costs one call
            done += 1
            tally.record(False, "session: " + describe(err))


async def test_read_calls_survive_a_replica_kill_and_restart():
    workers, calls_each = 6, 40
    total = workers * calls_each
    with Stack() as stack:
        server = "paloalto-ngfw"
        edge, dep = deploy_behind_traefik(stack, server, replicas=3)
        token = dep.token(["ngfw:read"])
        victim = dep.replicas[0]
        victim_url, victim_port = victim.base, victim.port
        tally = Tally()
        kill_at = tally.at(total // 4)
        restart_at = tally.at(total // 2)
        restarted: dict = {}

        async def chaos() -> None:
            await kill_at.wait()
            victim.proc.kill()
            print(f"killed {victim_url} after {tally.ok + tally.failed} calls")
            await anyio.to_thread.run_sync(edge.wait_status, server, victim_url, "DOWN")
            await restart_at.wait()
            replica = await anyio.to_thread.run_sync(lambda: dep.start_replica(port=victim_port))
            restarted["replica"] = replica
            await anyio.to_thread.run_sync(edge.wait_status, server, victim_url, "UP")
            restarted["at"] = tally.ok + tally.failed
            print(f"restarted {replica.base}; Traefik sees it UP after {restarted['at']} calls")

        with anyio.fail_after(RUN_LIMIT_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(chaos)
                for _ in range(workers):
                    tg.start_soon(read_worker, edge, server, token, "get_system_info", {}, calls_each, tally,
                                  "fw-sim-01")

            # The restarted replica takes traffic again: a bounded extra round after Traefik saw it UP
            # (the load above may have ended before the health check brought it back).
            replica = restarted["replica"]
            assert replica.base == victim_url
            extra = 0
            while replica.metric("mcp_tool_calls_total") == 0 and extra < 30:
                await read_worker(edge, server, token, "get_system_info", {}, 3, tally, "fw-sim-01")
                extra += 3

        print(f"replica loss (reads): {tally.ok} ok, {tally.failed} failed of {tally.ok + tally.failed} calls; "
              f"errors: {dict(tally.errors)}")
        per_replica = {r.base: r.metric("mcp_tool_calls_total") for r in dep.replicas if r.proc.alive()}
        print(f"tool calls per live replica: {per_replica}")
        assert tally.ok + tally.failed == total + extra
        assert tally.failed <= workers, f"{tally.failed} failed calls > {workers}: {dict(tally.errors)}"
        assert replica.metric("mcp_tool_calls_total") > 0, "the restarted replica got no tool call"
        # The two replicas that stayed up served throughout.
        assert all(per_replica[r.base] > 0 for r in dep.replicas[1:3])


# --- writes: aws-whitelist against moto ------------------------------------------------------------


def whitelist_args(cidr: str, group_id: str) -> dict:
    return {"cidr": cidr, "target": group_id, "port": "postgres", "description": "e2e replica loss"}


class Human:
    """An elicitation callback that says yes to every whitelist question, and counts them."""

    def __init__(self) -> None:
        self.asked = 0

    async def __call__(self, _ctx, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert "allow" in params.message and "digest sha256:" in params.message, params.message
        self.asked += 1
        return types.ElicitResult(action="accept", content={"confirm": True})


async def write_worker(edge: Edge, token: str, group_id: str, cidrs: list[str], tally: Tally,
                       outcomes: dict[str, list[str]], human: Human, max_attempts: int = 6) -> None:
    """Whitelists each CIDR, retrying a failed call (bounded) until the server confirms it."""
    session_cm = None
    session = None
    try:
        for cidr in cidrs:
            for attempt in range(max_attempts):
                try:
                    if session is None:
                        session_cm = confirming_client(edge, "aws-whitelist", token, human)
                        session = await session_cm.__aenter__()
                    res = await session.call_tool("whitelist", whitelist_args(cidr, group_id))
                except Exception as err:  # noqa: BLE001 - retried: the tool is idempotent
                    tally.record(False, describe(err))
                    if session_cm is not None:
                        try:
                            await session_cm.__aexit__(None, None, None)
                        except Exception:  # noqa: BLE001
                            pass
                    session_cm = session = None
                    continue
                if res.is_error:
                    tally.record(False, " ".join(getattr(c, "text", "") for c in res.content))
                    continue
                tally.record(True)
                data = res.structured_content or json.loads(res.content[0].text)
                # Applied after the user's yes, through the multi round-trip request.
                assert data["change"]["status"] == "applied", data["change"]
                assert data["change"]["confirmation"] == {"by": "input_required"}, data["change"]
                outcomes.setdefault(cidr, []).extend(g["status"] for g in data["groups"])
                break
            else:
                raise AssertionError(f"{cidr}: not whitelisted after {max_attempts} attempts: {dict(tally.errors)}")
    finally:
        if session_cm is not None:
            await session_cm.__aexit__(None, None, None)


async def test_writes_are_neither_lost_nor_duplicated_when_a_replica_dies():
    workers = 6
    distinct_each = 7  # 6 x 7 + 3 shared = 45 rules: under the 60 rules a security group may hold
    with Stack() as stack:
        server = "aws-whitelist"
        # One MCP_STATE_KEY for every replica: any of them opens a requestState another sealed.
        edge, dep = deploy_behind_traefik(stack, server, replicas=3, env={"MCP_STATE_KEY": secrets.token_hex(32)})
        moto = dep.upstream
        token = dep.token(["aws:write"])
        # Distinct CIDRs per worker (TEST-NET-3 /32s; TEST-NET-2 for the shared ones), plus the same three
        # CIDRs requested by every worker, concurrently.
        shared = ["198.51.100.16/28", "198.51.100.32/28", "198.51.100.200/32"]
        plans: list[list[str]] = []
        for w in range(workers):
            own = [f"203.0.113.{w * distinct_each + i + 1}/32" for i in range(distinct_each)]
            plan = own[:2] + [shared[0]] + own[2:4] + [shared[1]] + own[4:] + [shared[2]]
            plans.append(plan)
        requested = {c for plan in plans for c in plan}
        total_calls = sum(len(p) for p in plans)

        tally = Tally()
        kill_at = tally.at(total_calls // 3)
        outcomes: dict[str, list[str]] = {}
        human = Human()
        victim = dep.replicas[1]

        async def chaos() -> None:
            await kill_at.wait()
            victim.proc.kill()
            print(f"killed {victim.base} after {tally.ok + tally.failed} calls")

        with anyio.fail_after(RUN_LIMIT_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(chaos)
                for plan in plans:
                    tg.start_soon(write_worker, edge, token, moto.group_id, plan, tally, outcomes, human)

        print(f"replica loss (writes): {tally.ok} confirmed, {tally.failed} failed attempts (retried); "
              f"errors: {dict(tally.errors)}")
        replayed = sorted(c for c, s in outcomes.items() if c not in shared and "added" not in s)
        print(f"CIDRs whose first answer was lost and whose retry found the rule already there: {replayed}")
        assert not victim.proc.alive()
        assert tally.failed <= workers, f"{tally.failed} failed attempts > {workers}: {dict(tally.errors)}"
        # Every request was confirmed by the server, as added or (after a retry, or for a CIDR
        # another worker added first) as already there.
        assert set(outcomes) == requested
        assert all(set(s) <= {"added", "exists"} for s in outcomes.values()), outcomes
        # Each shared CIDR was requested by every worker: exactly one of them added it.
        for cidr in shared:
            assert Counter(outcomes[cidr])["added"] <= 1 and len(outcomes[cidr]) == workers, (cidr, outcomes[cidr])

        # moto's state: exactly one rule per requested CIDR on 5432/tcp, nothing lost, no duplicate.
        ranges = [r["CidrIp"] for perm in moto.ingress()
                  if perm.get("FromPort") == 5432 and perm.get("ToPort") == 5432 and perm.get("IpProtocol") == "tcp"
                  for r in perm.get("IpRanges", [])]
        normalized = [str(ipaddress.ip_network(c, strict=False)) for c in ranges]
        duplicates = {c: n for c, n in Counter(normalized).items() if n > 1}
        assert not duplicates, f"duplicate rules in moto: {duplicates}"
        assert set(normalized) == requested, (f"lost: {sorted(requested - set(normalized))}, "
                                              f"unexpected: {sorted(set(normalized) - requested)}")
        # No CIDR was reported "added" twice. (It may be reported "added" zero times: when the
        # replica dies after AWS applied the rule but before it answered, the retry says "exists".)
        assert all(Counter(s)["added"] <= 1 for s in outcomes.values()), outcomes

        # Every confirmed write was asked first (one question per InputRequiredResult).
        assert human.asked >= tally.ok, (human.asked, tally.ok)
        # Confirmations resumed on another replica: the audit events of `whitelist` name the plan's
        # digest; a digest applied (confirmation `input_required`) by a replica that never asked
        # about it was asked by another one and resumed with the shared key.
        asked_by: dict[str, set[str]] = defaultdict(set)
        applied_by: dict[str, set[str]] = defaultdict(set)
        for replica in dep.replicas:
            for event in audit_events(replica, "whitelist"):
                if event["confirmation"] == "asked":
                    asked_by[event["digest"]].add(replica.base)
                elif event["confirmation"] == "input_required" and event["outcome"] == "ok":
                    applied_by[event["digest"]].add(replica.base)
        assert len(applied_by) >= len(requested), (len(applied_by), len(requested))
        resumed_elsewhere = [d for d, where in applied_by.items() if where - asked_by[d]]
        print(f"confirmations resumed on another replica than the one that asked: "
              f"{len(resumed_elsewhere)} of {len(applied_by)} applied plans")
        assert resumed_elsewhere, "every confirmation was resumed by the replica that asked it"


def audit_events(replica, tool: str) -> list[dict]:
    """The replica's audit events of `tool` calls (JSON log lines, message "tool call")."""
    events = []
    for line in list(replica.proc.lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("message") == "tool call" and record.get("tool") == tool:
            events.append(record)
    return events
