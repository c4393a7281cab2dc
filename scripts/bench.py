#!/usr/bin/env python3
"""`make bench`: what the secops-mcp servers cost, measured in one run on this machine.

A benchmark, not a test: it asserts nothing, prints a table and writes docs/benchmarks.md.

The servers, their simulators, the variables against them and the tool measured come from
servers.toml (`[server.peer]` and `[server.bench]`).

1. Throughput and latency of one representative read tool per server, through `tools/call`
   over Streamable HTTP (stateless and stateful) and legacy SSE, with JWT auth and audit
   logging on, against its simulator; the same upstream request sent to the simulator
   directly (the ceiling); and a Python FastMCP equivalent of proxmox `list_vms`. Each at
   every concurrency in BENCH_CONCURRENCY, in BENCH_ROUNDS alternating rounds (every target
   once per round, the order reversed every other round), so that drift hits all alike.
2. Cold start (exec to the first 200 from /readyz) and idle RSS per server.
3. Server memory with BENCH_IDLE_SESSIONS idle sessions (stateful HTTP, with and without the
   GET stream, and legacy SSE).
4. Upstream requests caused by 100 identical concurrent reads (the simulators' counters).
5. proxmox `execute_command` latency, first call against later ones (the pooled SSH session).

The load generator is `mcp-bench` (crates/mcp-bench). Binaries come from the static release
build that the container images use (target/x86_64-unknown-linux-gnu/release, or
BENCH_BIN_DIR). Everything listens on 127.0.0.1 and is stopped at the end.

Environment: BENCH_DURATION (4s), BENCH_ROUNDS (2), BENCH_CONCURRENCY (1,100,1000),
BENCH_IDLE_SESSIONS (10000), BENCH_IDLE_SESSIONS_FASTMCP (2000),
BENCH_COLD_STARTS (5), BENCH_SSH_CALLS (10), BENCH_OUT
(docs/benchmarks.md), BENCH_ONLY (comma list of target groups to load-test: ceiling,
fastmcp, or a server's name; default all), BENCH_SKIP (comma list of sections to skip:
load, cold, idle, coalesce, ssh).

    python3 scripts/bench.py             run everything (what `make bench` does)
    python3 scripts/bench.py --dry-run   print what would run (servers, simulators, tools), start nothing
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import servers as servers_toml  # scripts/servers.py: the one list of servers (servers.toml)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BIN = ROOT / "target" / "x86_64-unknown-linux-gnu" / "release"
BIN = Path(os.environ.get("BENCH_BIN_DIR", str(DEFAULT_BIN)))
FASTMCP_PY = Path(os.environ.get("BENCH_FASTMCP_PYTHON", str(ROOT / ".venv" / "fastmcp-venv" / "bin" / "python")))
FASTMCP_APP = ROOT / "scripts" / "bench" / "fastmcp_proxmox.py"
MOTO = ROOT / ".venv" / "bin" / "moto_server"
FIXTURES = ROOT / "crates" / "simulators" / "fixtures"
LOGDIR = ROOT / "target" / "bench"
OUT = Path(os.environ.get("BENCH_OUT", str(ROOT / "docs" / "benchmarks.md")))
CHART = OUT.with_name(OUT.stem + "-targets.svg")
PROFILE = ROOT / "scripts" / "bench" / "profile.md"

DURATION = os.environ.get("BENCH_DURATION", "4s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,100,1000").split(",")]
IDLE_SESSIONS = int(os.environ.get("BENCH_IDLE_SESSIONS", "10000"))
# FastMCP opens sessions about 100 a second here: 10,000 would add minutes. Memory per session is
# linear (the same KiB a session at 2,000 and at 10,000 in our trials), so fewer are enough.
IDLE_SESSIONS_FASTMCP = int(os.environ.get("BENCH_IDLE_SESSIONS_FASTMCP", "2000"))
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "5"))
SSH_CALLS = int(os.environ.get("BENCH_SSH_CALLS", "10"))
ONLY = {g for g in os.environ.get("BENCH_ONLY", "").split(",") if g}
SKIP = {s for s in os.environ.get("BENCH_SKIP", "").split(",") if s}

SECRET = secrets.token_hex(32)

# servers.toml: the servers with a [bench] table (cold start, idle RSS), and among them LOAD,
# those with a bench tool against a vendor-sim peer (throughput, latency, coalescing).
SPECS = {name: spec for name, spec in servers_toml.load().items() if spec.bench is not None}
LOAD = [name for name, spec in SPECS.items() if spec.bench.get("tool") and spec.peer_kind == "vendor-sim"]
# The server whose bench tool also runs with the output guard on (MCP_GUARD=airs, against the
# AIRS simulator that panw-airs's bench uses): the guard's own rows.
GUARD_OF = "paloalto-ngfw"
# The FastMCP comparison is a Python equivalent of this server's bench tool, against the same simulator.
FASTMCP_OF = "proxmox"
# The representative read tool of each server (and of the FastMCP equivalent), and its token's scopes.
TOOLS = {name: (SPECS[name].bench["tool"], SPECS[name].bench.get("args", {})) for name in LOAD}
SCOPES = {name: list(spec.bench.get("scopes") or [spec.read_scope]) for name, spec in SPECS.items()}
SIM_OF = {name: SPECS[name].sim for name in LOAD}
if FASTMCP_OF in LOAD:
    SIM_OF["fastmcp"] = SIM_OF[FASTMCP_OF]
# Every simulator kind a benchmarked server needs.
SIM_KINDS = sorted({spec.sim for spec in SPECS.values() if spec.peer_kind == "vendor-sim"})
MOTO_SERVERS = [name for name, spec in SPECS.items() if spec.peer_kind == "moto"]
# The core ceiling: mcp-example against a bare rmcp server (crates/mcp-bench/src/bin/rmcp-echo.rs).
CORE = "mcp-example"
ECHO_LABEL = "bare rmcp echo (no auth, no audit log): Streamable HTTP stateless"
PANOS_XPATH = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']/address/entry"

_LISTENING = re.compile(r"listening on (http://[0-9.:]+)")
_MOTO_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:[1-9][0-9]*)")
STARTED = time.time()


def note(msg: str) -> None:
    print(f"[{time.time() - STARTED:7.1f}s] {msg}", flush=True)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.update(extra)
    return env


class Proc:
    """A child process whose stdout and stderr go to a log file (never through a pipe that
    Python would have to drain while it measures)."""

    all: list["Proc"] = []

    def __init__(self, name: str, cmd: list[str], env: dict[str, str]):
        self.name = name
        self.log = LOGDIR / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
        self._out = self.log.open("wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(cmd, env=clean_env(env), stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        self.base = ""
        Proc.all.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_listening(self, seconds: float = 60, pattern: re.Pattern = _LISTENING) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = pattern.search(self.log.read_text(errors="replace"))
            if m:
                self.base = m.group(1)
                return self.base
            if self.popen.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready(self.base):
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} never became ready:\n{self.log.read_text(errors='replace')[-3000:]}")

    def status_kb(self, fld: str) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(fld + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def rss_kb(self) -> int:
        return self.status_kb("VmRSS")

    def peak_kb(self) -> int:
        return self.status_kb("VmHWM")

    def reset_peak(self) -> None:
        """Resets VmHWM to the current RSS (Linux: `5` to /proc/PID/clear_refs)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()
        if self in Proc.all:
            Proc.all.remove(self)


def stop_all() -> None:
    for p in reversed(list(Proc.all)):
        p.stop()


def http_req(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None,
             timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def ready(base: str) -> bool:
    try:
        return http_req(f"{base}/readyz", timeout=2)[0] == 200
    except OSError:
        return False


# --- the upstreams and the servers ------------------------------------------------------------


@dataclass
class Sim:
    kind: str
    proc: Proc

    @property
    def url(self) -> str:
        return self.proc.base

    def stats(self) -> dict:
        return json.loads(http_req(f"{self.url}/_sim/stats")[1])

    def reset(self) -> None:
        http_req(f"{self.url}/_sim/reset", "POST", b"{}", {"Content-Type": "application/json"})


def sim_spec(kind: str) -> servers_toml.Server:
    """The (first) server of servers.toml whose peer is `vendor-sim <kind>`: its args and credentials."""
    return next(spec for spec in SPECS.values() if spec.peer_kind == "vendor-sim" and spec.sim == kind)


def start_sim(kind: str) -> Sim:
    args = sim_spec(kind).sim_args()
    proc = Proc(f"sim-{kind}", [str(BIN / "vendor-sim"), kind, "--bind", "127.0.0.1:0", *args], {})
    proc.wait_listening()
    return Sim(kind, proc)


def upstream_env(server: str, sims: dict[str, Sim]) -> dict[str, str]:
    """servers.toml's variables against the server's simulator (FastMCP: those of FASTMCP_OF)."""
    spec = SPECS[FASTMCP_OF if server == "fastmcp" else server]
    if spec.peer_kind != "vendor-sim":
        return {}
    return spec.peer_env(sims[spec.sim].url)


def server_cmd(server: str, stateless: bool, port: int, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one server process on 127.0.0.1:`port` (0: any)."""
    if server == "fastmcp":
        return [str(FASTMCP_PY), str(FASTMCP_APP)], {
            **env, "MCP_JWT_SECRET": SECRET, "BENCH_PORT": str(port or free_port()),
            "BENCH_STATELESS": "true" if stateless else "false"}
    return [str(BIN / server), "serve"], {
        "MCP_TRANSPORT": "http", "MCP_BIND": f"127.0.0.1:{port}", "MCP_JWT_SECRET": SECRET,
        "MCP_LOG_FORMAT": "json", "RUST_LOG": "info", "MCP_STATELESS": "true" if stateless else "false",
        "MCP_MAX_SESSIONS": "20000", "MCP_MAX_SESSIONS_PER_SUBJECT": "20000", "MCP_MAX_CONNECTIONS": "30000", **env}


def start_server(name: str, server: str, stateless: bool, env: dict[str, str]) -> Proc:
    cmd, full = server_cmd(server, stateless, 0, env)
    proc = Proc(name, cmd, full)
    proc.wait_listening()
    proc.wait_ready()
    return proc


def token(server: str) -> str:
    binary = FASTMCP_OF if server == "fastmcp" else server
    args = [str(BIN / binary), "token", "--sub", "bench", "--ttl", "4h"]
    for scope in SCOPES[binary]:
        args += ["--scope", scope]
    return subprocess.run(args, env=clean_env({"MCP_JWT_SECRET": SECRET}), check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


# --- mcp-bench -------------------------------------------------------------------------------


def mcp_bench(argv: list[str], timeout: float = 900) -> dict:
    cmd = [str(BIN / "mcp-bench"), *argv]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"rps": 0.0, "p50_ms": 0, "p99_ms": 0, "p999_ms": 0, "errors": -1, "requests": 0, "failed": "timeout"}
    lines = [l for l in out.stdout.strip().splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"rps": 0.0, "p50_ms": 0, "p99_ms": 0, "p999_ms": 0, "errors": -1, "requests": 0,
                "failed": (out.stderr or out.stdout)[-500:]}
    return json.loads(lines[-1])


def ceiling_args(kind: str, sim: Sim) -> list[str]:
    """mcp-bench arguments that send the simulator the request the server's tool sends (the bench
    tool of the server whose peer it is; credentials from that server's peer env in servers.toml)."""
    spec = sim_spec(kind)
    env = spec.peer_env(sim.url)
    if kind == "panos":
        form = urllib.parse.urlencode([("type", "config"), ("action", "show"), ("xpath", PANOS_XPATH)])
        return ["--url", f"{sim.url}/api/", "--transport", "raw", "--method", "post",
                "--content-type", "application/x-www-form-urlencoded", "--body", form,
                "--header", f"X-PAN-KEY: {env['PANOS_API_KEY']}", "--expect", 'status="success"']
    if kind == "airs":
        body = {"ai_profile": {"profile_name": env["PANW_AI_PROFILE_NAME"]}, "contents": [spec.bench["args"]]}
        return ["--url", f"{sim.url}/v1/scan/sync/request", "--transport", "raw", "--args", json.dumps(body),
                "--header", f"x-pan-token: {env['PANW_AI_SEC_API_KEY']}", "--header", "accept: application/json",
                "--expect", '"action"']
    if kind == "proxmox":
        auth = f"PVEAPIToken={env['PROXMOX_TOKEN_ID']}={env['PROXMOX_TOKEN_SECRET']}"
        return ["--url", f"{sim.url}/api2/json/cluster/resources?type=vm", "--transport", "raw", "--args", "null",
                "--header", f"Authorization: {auth}", "--expect", '"data"']
    raise KeyError(kind)


# The direct request of each simulator kind (the ceiling rows); a kind not here has no ceiling row.
CEILINGS = {"panos": "PAN-OS simulator direct: POST /api/ config show",
            "airs": "AIRS simulator direct: POST /v1/scan/sync/request",
            "proxmox": "Proxmox simulator direct: GET /api2/json/cluster/resources"}


def tool_args(server: str, base: str, transport: str, tok: str) -> list[str]:
    tool, args = TOOLS[FASTMCP_OF if server == "fastmcp" else server]
    return ["--url", base, "--transport", transport, "--token", tok, "--tool", tool, "--args", json.dumps(args)]


@dataclass
class Target:
    group: str
    label: str
    transport: str
    proc: Proc
    argv: list[str]
    cached: bool = False  # a server with its defaults, not bench.load_env (paloalto-ngfw's read cache)
    sim: str = ""  # ceiling rows: the simulator kind
    runs: dict[int, list[dict]] = field(default_factory=dict)


# --- 1. load ---------------------------------------------------------------------------------


def payload_check(sims: dict[str, Sim], servers: dict[str, Proc], tokens: dict[str, str]) -> list[str]:
    """Sends one call through each server and one ceiling request, and compares the
    simulator's counter keys: the ceiling must send the same upstream request."""
    out = []
    for server, kind in SIM_OF.items():
        if server not in servers or kind not in CEILINGS:
            continue
        sim = sims[kind]
        sim.reset()
        r1 = mcp_bench(tool_args(server, servers[server].base, "stateless", tokens[server])
                       + ["--concurrency", "1", "--calls", "1", "--duration", "30s"])
        via_server = sim.stats()["by_key"]
        sim.reset()
        r2 = mcp_bench(ceiling_args(kind, sim) + ["--concurrency", "1", "--calls", "1", "--duration", "30s"])
        direct = sim.stats()["by_key"]
        sim.reset()
        same = via_server == direct and r1.get("errors") == 0 and r2.get("errors") == 0
        keys = ", ".join(f"`{k}` x{v}" for k, v in direct.items())
        line = (f"{server} `{TOOLS[FASTMCP_OF if server == 'fastmcp' else server][0]}` and the direct request "
                f"{'make the same' if same else 'DO NOT make the same'} upstream request ({keys})")
        if not same:
            line += f"; through the server: {via_server}, errors {r1.get('errors')}/{r2.get('errors')}"
        note(line)
        out.append(line)
    airs = sims.get("airs")
    for name, proc in servers.items():
        if "-guard-" not in name or airs is None:
            continue
        server = name.split("-guard-")[0]
        airs.reset()
        r = mcp_bench(tool_args(server, proc.base, "stateless", tokens[server])
                      + ["--concurrency", "1", "--calls", "1", "--duration", "30s"])
        scans = airs.stats()["by_type"].get("sync", 0)
        airs.reset()
        line = (f"{name}: one call made {scans} AIRS scan(s) (at most one round trip per uncached result), "
                f"errors {r.get('errors')}")
        note(line)
        out.append(line)
    return out


def run_load(sims: dict[str, Sim], fastmcp: bool) -> dict[str, Any]:
    tokens = {s: token(s) for s in LOAD}
    if FASTMCP_OF in tokens:
        tokens["fastmcp"] = tokens[FASTMCP_OF]
    want = (lambda g: not ONLY or g in ONLY)
    procs: dict[str, Proc] = {}
    targets: list[Target] = []
    labels = {"stateless": "Streamable HTTP stateless", "stateful": "Streamable HTTP stateful", "sse": "legacy SSE"}

    for kind in dict.fromkeys(SIM_OF[s] for s in LOAD):
        if want("ceiling") and kind in CEILINGS:
            targets.append(Target("ceiling", CEILINGS[kind], "raw", sims[kind].proc, ceiling_args(kind, sims[kind]),
                                  sim=kind))

    if want("core") and CORE in SPECS:
        # The cost of mcp-core: a bare rmcp server (no auth, no audit) against mcp-example, whose
        # get_item reads an in-memory map (JWT and the audit log on, like every server row).
        echo = Proc("rmcp-echo", [str(BIN / "rmcp-echo"), "--bind", "127.0.0.1:0"], {})
        echo.wait_listening()
        echo.wait_ready()
        procs["rmcp-echo"] = echo
        core_args = ["--tool", "get_item", "--args", json.dumps({"key": "bench"})]
        targets.append(Target("core", ECHO_LABEL, "stateless", echo,
                              ["--url", echo.base, "--transport", "stateless", *core_args]))
        ex = start_server(f"{CORE}-stateless", CORE, True, {})
        procs[CORE] = ex
        targets.append(Target("core", f"{CORE} get_item: Streamable HTTP stateless (JWT, audit log)", "stateless", ex,
                              ["--url", ex.base, "--transport", "stateless", "--token", token(CORE), *core_args]))

    note("starting the servers")
    for server in LOAD:
        if not want(server):
            continue
        env = upstream_env(server, sims)
        load_env = SPECS[server].bench.get("load_env", {})
        suffix = ""
        if load_env:
            # Like for like: every call reaches the upstream (e.g. PANOS_CACHE_TTL=0). The server's
            # defaults (e.g. a 5 s read cache) are a row of their own.
            env = {**env, **load_env}
            suffix = " (" + ", ".join(f"{k}={v}" for k, v in load_env.items()) + ")"
            cached = start_server(f"{server}-stateless-cached", server, True, upstream_env(server, sims))
            procs[f"{server}-cached"] = cached
        sl = start_server(f"{server}-stateless", server, True, env)
        sf = start_server(f"{server}-stateful", server, False, env)
        procs[server] = sl
        for transport, proc in (("stateless", sl), ("stateful", sf), ("sse", sf)):
            targets.append(Target(server, f"{server} {TOOLS[server][0]}: {labels[transport]}{suffix}", transport, proc,
                                  tool_args(server, proc.base, transport, tokens[server])))
        if load_env:
            default_label = SPECS[server].bench.get("default_label", "defaults")
            targets.append(Target(server, f"{server} {TOOLS[server][0]}: {labels['stateless']} "
                                          f"({default_label})", "stateless", cached,
                                  tool_args(server, cached.base, "stateless", tokens[server]), cached=True))
        if server == GUARD_OF and "airs" in sims:
            # The output guard (docs/guard.md) against the AIRS simulator: every result scanned
            # (MCP_GUARD_CACHE_TTL=0: one AIRS round trip per call, coalesced in flight), and
            # with its default verdict cache (identical results reuse the verdict).
            guard_env = {**env, **upstream_env("panw-airs", sims), "MCP_GUARD": "airs"}
            for ttl, what in (("0", "every result scanned"), ("60s", "verdict cache")):
                g = start_server(f"{server}-guard-{ttl}", server, True, {**guard_env, "MCP_GUARD_CACHE_TTL": ttl})
                procs[f"{server}-guard-{ttl}"] = g
                targets.append(Target(server, f"{server} {TOOLS[server][0]}: {labels['stateless']}{suffix} "
                                              f"+ MCP_GUARD=airs ({what})", "stateless", g,
                                      tool_args(server, g.base, "stateless", tokens[server])))
    if fastmcp and want("fastmcp"):
        env = upstream_env("fastmcp", sims)
        sl = start_server("fastmcp-stateless", "fastmcp", True, env)
        sf = start_server("fastmcp-stateful", "fastmcp", False, env)
        procs["fastmcp"] = sl
        for transport, proc in (("stateless", sl), ("stateful", sf)):
            targets.append(Target("fastmcp", f"FastMCP (Python) list_vms: {labels[transport]}", transport, proc,
                                  tool_args("fastmcp", proc.base, transport, tokens["fastmcp"])))

    checks = payload_check(sims, procs, tokens)
    # Warm every process once (lazy initialisation, first connections), outside the windows.
    for t in targets:
        mcp_bench(t.argv + ["--concurrency", "1", "--calls", "3", "--duration", "30s"])
    note(f"load: {len(targets)} targets x {len(CONCURRENCY)} concurrencies x {ROUNDS} rounds of {DURATION}")
    for rnd in range(ROUNDS):
        order = targets if rnd % 2 == 0 else list(reversed(targets))
        for conc in CONCURRENCY:
            for t in order:
                t.proc.reset_peak()
                r = mcp_bench(t.argv + ["--concurrency", str(conc), "--duration", DURATION, "--label", t.label])
                r["peak_rss_kb"] = t.proc.peak_kb()
                t.runs.setdefault(conc, []).append(r)
                extra = f"  FAILED {r['failed'][:200]!r}" if "failed" in r else ""
                note(f"r{rnd + 1} c={conc:<5} {t.label[:78]:<78} {r['rps']:>9.1f}/s p50 {r['p50_ms']:.2f} "
                     f"p99 {r['p99_ms']:.2f} ms err {r['errors']}{extra}")
    for p in list(Proc.all):
        if not p.name.startswith("sim-"):
            p.stop()
    return {"targets": targets, "checks": checks}


def best(t: Target, conc: int) -> dict:
    runs = t.runs.get(conc, [])
    if not runs:
        return {}
    b = dict(max(runs, key=lambda r: r["rps"]))
    # Round 1 only: there each process has served this and lower concurrencies only. Later rounds
    # start with what the allocator kept from the higher ones.
    b["peak_rss_kb"] = runs[0].get("peak_rss_kb", 0)
    b["errors_all"] = sum(max(r.get("errors", 0), 0) for r in runs)
    return b


# --- 2. cold start and idle RSS ----------------------------------------------------------------


def start_moto() -> tuple[Proc, str] | None:
    """A moto server on 127.0.0.1 (from .venv); (its process, its URL)."""
    if not MOTO.is_file():
        return None
    # Port 0: moto binds a free port itself and werkzeug logs it.
    proc = Proc("moto", [str(MOTO), "-H", "127.0.0.1", "-p", "0"], {})
    url = proc.wait_listening(60, _MOTO_RUNNING)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http_req(f"{url}/moto-api/", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    return proc, url


def cold_start_once(name: str, server: str, env: dict[str, str]) -> tuple[float, int]:
    """Milliseconds from exec to the first 200 from /readyz, and the RSS (KiB) 0.5 s later."""
    # Port 0 (the server binds it and logs `listening on http://ADDR`), except for the FastMCP
    # baseline, which takes a number (BENCH_PORT) and may lose it to another process.
    port = free_port() if server == "fastmcp" else 0
    cmd, full = server_cmd(server, False, port, env)
    t0 = time.perf_counter()
    proc = Proc(name, cmd, full)
    conn_deadline = time.monotonic() + 60
    elapsed = None
    while time.monotonic() < conn_deadline:
        if not port:
            m = _LISTENING.search(proc.log.read_text(errors="replace"))
            if not m:
                if proc.popen.poll() is not None:
                    break
                time.sleep(0.002)
                continue
            port = int(m.group(1).rsplit(":", 1)[1])
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                elapsed = (time.perf_counter() - t0) * 1000
                c.close()
                break
            c.close()
        except OSError:
            pass
        if proc.popen.poll() is not None:
            break
        time.sleep(0.002)
    if elapsed is None:
        proc.stop()
        raise RuntimeError(f"{name} never became ready:\n{proc.log.read_text(errors='replace')[-2000:]}")
    time.sleep(0.5)
    rss = proc.rss_kb()
    proc.stop()
    return elapsed, rss


def run_cold(sims: dict[str, Sim], fastmcp: bool) -> list[dict]:
    rows = []
    servers = [(name, upstream_env(name, sims), spec.bench.get("probe", ""))
               for name, spec in SPECS.items() if spec.peer_kind != "moto"]
    moto = start_moto() if MOTO_SERVERS else None
    if moto:
        servers += [(name, SPECS[name].peer_env(moto[1]), SPECS[name].bench.get("probe", "")) for name in MOTO_SERVERS]
    if fastmcp:
        servers.append(("fastmcp", upstream_env("fastmcp", sims), "Proxmox simulator: `GET /version` (Python FastMCP)"))
    for server, env, probe in servers:
        times, rss = [], []
        for i in range(COLD_STARTS):
            ms, kb = cold_start_once(f"cold-{server}-{i}", server, env)
            times.append(ms)
            rss.append(kb)
        rows.append({"server": "FastMCP proxmox list_vms" if server == "fastmcp" else server, "probe": probe,
                     "cold_ms": statistics.median(times), "cold_min": min(times), "cold_max": max(times),
                     "idle_rss_kb": statistics.median(rss)})
        note(f"cold start {server}: median {statistics.median(times):.1f} ms (min {min(times):.1f}, "
             f"max {max(times):.1f}); idle RSS {statistics.median(rss) / 1024:.1f} MiB")
    if moto:
        moto[0].stop()
    return rows


# --- 3. idle sessions --------------------------------------------------------------------------


def hold_sessions(name: str, server: str, sims: dict[str, Sim], transport: str, stream: bool, n: int) -> dict:
    proc = start_server(name, server, False, upstream_env(server, sims))
    try:
        time.sleep(0.5)
        before = proc.rss_kb()
        argv = [str(BIN / "mcp-bench"), "--url", proc.base, "--transport", transport, "--token", token(server),
                "--idle", "--concurrency", str(n), "--duration", "600s", "--timeout", "120s"]
        if stream:
            argv.append("--idle-stream")
        holder = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(holder.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=900)
        try:
            res = json.loads(line[0]) if line and line[0].strip() else {"opened": 0, "errors": -1,
                                                                         "first_error": "no answer"}
        except json.JSONDecodeError:
            res = {"opened": 0, "errors": -1, "first_error": line[0][:200]}
        time.sleep(2)
        held = proc.rss_kb()
        peak = proc.peak_kb()
        alive = proc.popen.poll() is None
        holder.terminate()
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        opened = res.get("opened", 0)
        row = {"server": server, "transport": transport, "stream": stream, "opened": opened,
               "errors": res.get("errors"), "first_error": res.get("first_error"), "open_secs": res.get("open_secs"),
               "before_kb": before, "held_kb": held, "peak_kb": peak, "alive": alive,
               "per_session_kb": (held - before) / opened if opened else 0.0}
        note(f"idle {name}: {opened} open ({res.get('errors')} failed) in {res.get('open_secs')} s; RSS "
             f"{before / 1024:.1f} -> {held / 1024:.1f} MiB ({row['per_session_kb']:.1f} KiB a session)")
        return row
    finally:
        proc.stop()


def run_idle(sims: dict[str, Sim], fastmcp: bool) -> list[dict]:
    n = IDLE_SESSIONS
    rows = [hold_sessions("idle-proxmox-stateful", "proxmox", sims, "stateful", False, n),
            hold_sessions("idle-proxmox-stateful-stream", "proxmox", sims, "stateful", True, n),
            hold_sessions("idle-proxmox-sse", "proxmox", sims, "sse", True, n)]
    if fastmcp and IDLE_SESSIONS_FASTMCP > 0:
        n = IDLE_SESSIONS_FASTMCP
        rows += [hold_sessions("idle-fastmcp-stateful", "fastmcp", sims, "stateful", False, n),
                 hold_sessions("idle-fastmcp-stateful-stream", "fastmcp", sims, "stateful", True, n)]
    return rows


# --- 4. upstream requests for 100 identical concurrent reads -------------------------------------


def run_coalesce(sims: dict[str, Sim], fastmcp: bool) -> list[dict]:
    cases = []
    for server in LOAD:
        load_env = SPECS[server].bench.get("load_env", {})
        cases.append((server, SPECS[server].bench.get("default_label", "default") if load_env else "default", {}))
        if load_env:
            cases.append((server, ", ".join(f"{k}={v}" for k, v in load_env.items()), dict(load_env)))
    if fastmcp:
        cases.append(("fastmcp", "FastMCP list_vms", {}))
    rows = []
    for server, setting, extra in cases:
        proc = start_server(f"coalesce-{server}-{len(rows)}", server, True, {**upstream_env(server, sims), **extra})
        try:
            sim = next(s for k, s in sims.items() if k == SIM_OF[server])
            sim.reset()
            r = mcp_bench(tool_args(server, proc.base, "stateless", token(server))
                          + ["--concurrency", "100", "--calls", "1", "--duration", "60s"])
            total = sim.stats()["total"]
            ok = r.get("requests", 0) - max(r.get("errors", 0), 0)
            rows.append({"server": "FastMCP proxmox" if server == "fastmcp" else server, "setting": setting,
                         "tool": TOOLS[FASTMCP_OF if server == "fastmcp" else server][0], "ok": ok,
                         "errors": r.get("errors"), "upstream": total})
            note(f"100 identical reads via {server} ({setting}): {ok} ok, {total} upstream requests")
        finally:
            proc.stop()
    return rows


# --- 5. SSH: first and later execute_command ----------------------------------------------------


class McpHttp:
    """A minimal stateful Streamable HTTP client on one keep-alive connection."""

    def __init__(self, base: str, tok: str):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.headers = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream"}
        self.next_id = 1

    def post(self, msg: dict) -> dict | None:
        self.conn.request("POST", "/mcp", json.dumps(msg), self.headers)
        resp = self.conn.getresponse()
        raw = resp.read().decode()
        sid = resp.getheader("mcp-session-id")
        if sid:
            self.headers["mcp-session-id"] = sid
            self.headers["mcp-protocol-version"] = "2025-06-18"
        if resp.status >= 300 and resp.status != 202:
            raise RuntimeError(f"HTTP {resp.status}: {raw[:300]}")
        for chunk in [raw] + [l[5:].strip() for l in raw.splitlines() if l.startswith("data:")]:
            try:
                v = json.loads(chunk)
                if isinstance(v, dict) and "id" in v:
                    return v
            except json.JSONDecodeError:
                continue
        return None

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        r = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        if r is None:
            raise RuntimeError(f"{method}: no response")
        return r

    def initialize(self) -> None:
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "0"}})
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})


def openssh_reference(kv: dict[str, str]) -> dict | None:
    """The same remote command through the OpenSSH client: one fresh connection, then
    SSH_CALLS commands over a multiplexed master connection (ControlMaster)."""
    if shutil.which("ssh") is None:
        return None
    ctl = Path(tempfile.mkdtemp(prefix="bench-ssh-")) / "cm"
    base = ["ssh", "-i", kv["SSH_KEY"], "-p", kv["SSH_PORT"], "-o", f"UserKnownHostsFile={kv['SSH_KNOWN_HOSTS']}",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"ControlPath={ctl}"]
    target = f"{kv['SSH_USER']}@127.0.0.1"
    remote = ["timeout", "-k", "2", "31", "uptime"]  # what the server runs
    t0 = time.perf_counter()
    fresh = subprocess.run(base + ["-o", "ControlMaster=no", target, *remote], capture_output=True, timeout=60)
    fresh_ms = (time.perf_counter() - t0) * 1000
    subprocess.run(base + ["-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-fN", target], capture_output=True,
                   timeout=60)
    mux = []
    for _ in range(SSH_CALLS):
        t0 = time.perf_counter()
        subprocess.run(base + [target, *remote], capture_output=True, timeout=60)
        mux.append((time.perf_counter() - t0) * 1000)
    subprocess.run(base + ["-O", "exit", target], capture_output=True, timeout=30)
    shutil.rmtree(ctl.parent, ignore_errors=True)
    if fresh.returncode != 0:
        return None
    note(f"ssh reference (OpenSSH client): fresh connection {fresh_ms:.1f} ms; multiplexed: "
         + ", ".join(f"{t:.1f}" for t in mux) + " ms")
    return {"fresh_ms": fresh_ms, "mux_ms": mux}


def run_ssh(sims: dict[str, Sim]) -> dict | None:
    if not Path("/usr/sbin/sshd").is_file() or shutil.which("ssh-keygen") is None:
        note("ssh: no /usr/sbin/sshd or ssh-keygen (make sshd installs them): skipped")
        return None
    d = Path(tempfile.mkdtemp(prefix="bench-sshd-"))
    subprocess.run(["bash", str(ROOT / "tests/peers/sshd.sh"), "start", str(d)], check=True, capture_output=True,
                   timeout=60)
    try:
        kv = dict(l.split("=", 1) for l in (d / "env").read_text().splitlines() if "=" in l)
        env = {**upstream_env("proxmox", sims), **SPECS["proxmox"].ssh_env(kv)}
        proc = start_server("ssh-proxmox", "proxmox", False, env)
        try:
            c = McpHttp(proc.base, token("proxmox"))
            c.initialize()
            times, failures = [], 0
            for _ in range(SSH_CALLS):
                t0 = time.perf_counter()
                r = c.request("tools/call", {"name": "execute_command",
                                             "arguments": {"command": "uptime", "node": "pve1"}})
                times.append((time.perf_counter() - t0) * 1000)
                if "result" not in r or r["result"].get("isError"):
                    failures += 1
                    note(f"ssh: execute_command failed: {json.dumps(r)[:300]}")
            logins = (d / "sshd.log").read_text(errors="replace").count("Accepted publickey")
            row = {"calls": times, "failures": failures, "logins": logins, "openssh": openssh_reference(kv)}
            note("ssh execute_command uptime: " + ", ".join(f"{t:.1f}" for t in times) + " ms")
            return row
        finally:
            proc.stop()
    finally:
        subprocess.run(["bash", str(ROOT / "tests/peers/sshd.sh"), "stop", str(d)], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------


def mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def command_line() -> str:
    set_vars = [f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_")]
    return " ".join(["make", "bench", *set_vars]) if set_vars else "make bench"


def report(load: dict | None, cold: list[dict], idle: list[dict], coalesce: list[dict], ssh: dict | None,
           fastmcp: bool, notes: list[str]) -> str:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    L = ["# Benchmarks", "",
         f"Generated by `{command_line()}` (scripts/bench.py) on {time.strftime('%Y-%m-%d')} in "
         f"{(time.time() - STARTED) / 60:.1f} min: **{os.cpu_count()} cores** ({cpu_model()}), "
         f"{platform.machine()}, Linux {platform.release()}, RLIMIT_NOFILE {nofile[0]}. "
         f"Load cells: best of {ROUNDS} alternating rounds of {DURATION} each. Binaries: "
         + ("the static release build shared with the container images (`target/x86_64-unknown-linux-gnu/release`)"
            if BIN == DEFAULT_BIN else f"`{BIN}` (BENCH_BIN_DIR)") + ". Everything, load generator "
         "included, runs on this machine over 127.0.0.1, so client, server and simulator share the cores.", "",
         "Figures from a busy or small machine are noisy: compare rows of one run with each other, not with "
         "another machine's, and rerun `make bench` on a quiet machine before quoting absolute numbers.", ""]
    L += ["## Method", "",
          "- **What is called.** One representative read tool per server, with the same arguments in every "
          "row: `paloalto-ngfw retrieve_address_objects {}` (one PAN-OS `type=config&action=show` of the vsys1 "
          "address entries, XML parsed and paged), `panw-airs pan_inline_scan {\"prompt\": ...}` (one sync scan "
          "`POST /v1/scan/sync/request`), `proxmox list_vms {}` (one `GET /api2/json/cluster/resources?type=vm`, "
          "filtered, sorted, paged).",
          "- **Ceiling.** The same upstream request sent to the simulator directly with `mcp-bench --transport raw` "
          "(same method, path, form or JSON body and credential header; the whole answer is read and checked). "
          "Before the load, one call through each server and one direct request are compared on the simulator's "
          "request counters (`/_sim/stats`, key by request kind and XPath):", ""]
    L += [f"  - {c}" for c in (load or {}).get("checks", [])] + [""]
    L += ["- **Our servers.** Release build, `MCP_TRANSPORT=http` on 127.0.0.1, JWT (HS256) auth on, every call "
          "with a bearer token, `RUST_LOG=info` with `MCP_LOG_FORMAT=json`: one audit event per call, written to a "
          "log file. One process serves Streamable HTTP stateless (`MCP_STATELESS=true`); another serves stateful "
          "Streamable HTTP and legacy SSE (the SSE rows run against it too). `paloalto-ngfw` caches reads for "
          "5 s by default (`PANOS_CACHE_TTL`) and coalesces identical reads in flight: its transport rows run with "
          "`PANOS_CACHE_TTL=0`, so every call reaches PAN-OS like every other row; one extra row shows the default "
          "(after the first call of each 5 s, answers come from the cache, so that row measures the MCP layer, "
          "not PAN-OS).",
          "- **FastMCP.** " + ("A Python equivalent of `proxmox list_vms` "
          "(`scripts/bench/fastmcp_proxmox.py`, FastMCP " + fastmcp_version() + " from "
          "`scripts/bench/requirements-fastmcp.txt` in `.venv/fastmcp-venv`): same upstream request through one "
          "shared async `httpx2` client, same filters and page envelope, the same HS256 bearer-JWT check "
          "(FastMCP's `JWTVerifier`, scope `proxmox:read`), one JSON audit line per call to a log file, served by "
          "uvicorn (one process, its default asyncio loop and h11; uvloop is not installed) over Streamable HTTP "
          "stateless and stateful. Its legacy SSE transport is not measured." if fastmcp else
          "not measured in this run (no `.venv/fastmcp-venv`; `make bench` installs it)."),
          "- **Load.** `mcp-bench` (crates/mcp-bench): each of N workers opens its own session (initialize, "
          "initialized; for SSE the stream) and its own connection; when all are ready the window starts and each "
          "worker calls the tool in a closed loop (next call when the answer is in). Set-up is not timed, and "
          "every server process gets three untimed calls before the first round (FastMCP's first call in a process "
          "takes about a second). "
          "req/s counts successful calls; an `isError` result, an HTTP error or a timeout (60 s) counts as an "
          "error. Latency percentiles are over all calls of the window.",
          "- **Alternation.** Every round runs every target at every concurrency, one after the other; the next "
          "round runs them in reverse order. A cell shows the round with the most req/s; its errors column sums "
          "the errors of all rounds.",
          "- **Peak RSS.** The server process's `VmHWM`, reset (`/proc/PID/clear_refs`) before each run: the "
          "largest resident set during that run, taken from the first round, where the process had served only "
          "this and lower concurrencies (memory the allocator kept from earlier runs still counts). The ceiling "
          "rows show the simulator's; the AIRS simulator keeps its last scans in memory, so its figure grows with "
          "the run. Idle RSS: `VmRSS` of a fresh process 0.5 s after its first ready answer.", ""]
    if load:
        targets: list[Target] = load["targets"]
        L += ["## Throughput and latency", "",
              "| target | conc. | req/s | p50 ms | p99 ms | p99.9 ms | errors | peak RSS MiB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for t in targets:
            for conc in CONCURRENCY:
                b = best(t, conc)
                if not b:
                    continue
                L.append(f"| {t.label} | {conc} | {b['rps']:.0f} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | "
                         f"{b['p999_ms']:.2f} | {b['errors_all']} | {mib(b['peak_rss_kb'])} |")
        L += ["", "## Headline ratios", "", "Ratios of req/s (best round each)."]
        by = {(t.group, t.transport, t.cached): t for t in targets}
        ceiling_of = {t.sim: t for t in targets if t.group == "ceiling"}

        def rps(t: Target | None, conc: int) -> float:
            return best(t, conc).get("rps", 0.0) if t else 0.0

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}" if b else "n/a"

        for conc in CONCURRENCY:
            L += ["", f"Concurrency {conc}:", ""]
            ours_sl, ours_sf = by.get(("proxmox", "stateless", False)), by.get(("proxmox", "stateful", False))
            fm_sl, fm_sf = by.get(("fastmcp", "stateless", False)), by.get(("fastmcp", "stateful", False))
            if ours_sl and fm_sl:
                L.append(f"- ours / FastMCP (proxmox `list_vms`): stateless {ratio(rps(ours_sl, conc), rps(fm_sl, conc))}, "
                         f"stateful {ratio(rps(ours_sf, conc), rps(fm_sf, conc))}")
            for server in LOAD:
                sl, sf, sse = (by.get((server, tr, False)) for tr in ("stateless", "stateful", "sse"))
                if not sl:
                    continue
                c = ceiling_of.get(SIM_OF[server])
                parts = []
                if c:
                    parts.append(f"ours / ceiling: stateless {ratio(rps(sl, conc), rps(c, conc))}, "
                                 f"stateful {ratio(rps(sf, conc), rps(c, conc))}, SSE {ratio(rps(sse, conc), rps(c, conc))}")
                parts.append(f"stateless / stateful {ratio(rps(sl, conc), rps(sf, conc))}")
                L.append(f"- {server}: " + "; ".join(parts))
            if fm_sl and fm_sf:
                L.append(f"- FastMCP: stateless / stateful {ratio(rps(fm_sl, conc), rps(fm_sf, conc))}")
            for server in LOAD:
                cached = by.get((server, "stateless", True))
                if cached and by.get((server, "stateless", False)):
                    L.append(f"- {server} {SPECS[server].bench.get('default_label', 'defaults')} / "
                             + ", ".join(f"{k}={v}" for k, v in SPECS[server].bench["load_env"].items())
                             + f" (stateless): {ratio(rps(cached, conc), rps(by[(server, 'stateless', False)], conc))}")
    gs = goals(load, cold, idle)
    if gs:
        L += [""] + goals_section(gs, CHART.name)
    if cold:
        L += ["", "## Cold start and idle memory", "",
              f"Exec to the first 200 from `/readyz` (which calls the upstream once), median of {COLD_STARTS} "
              "starts (min to max), and the RSS of the fresh process 0.5 s later. Stateful HTTP, JWT auth on.", "",
              "| server | readiness probe | cold start ms | min-max ms | idle RSS MiB |", "|---|---|---:|---:|---:|"]
        for r in cold:
            L.append(f"| {r['server']} | {r['probe']} | {r['cold_ms']:.1f} | {r['cold_min']:.1f}-{r['cold_max']:.1f} | "
                     f"{mib(r['idle_rss_kb'])} |")
    if idle:
        L += ["", f"## {IDLE_SESSIONS:,} idle sessions", "",
              f"A fresh stateful server (`MCP_MAX_SESSIONS=20000`, RLIMIT_NOFILE raised to the hard limit) gets "
              f"{IDLE_SESSIONS:,} sessions from `mcp-bench --idle` (initialize + initialized, 100 at a time), which "
              "then holds them without calling anything. RSS is read 2 s after the last one opened. \"GET stream\": "
              "each session also holds its Streamable HTTP `GET /mcp` stream open, as most clients do; legacy SSE "
              "sessions always hold their stream. Our row is `proxmox` (sessions live in mcp-core, the same in "
              f"every server). FastMCP gets {IDLE_SESSIONS_FASTMCP:,} sessions (BENCH_IDLE_SESSIONS_FASTMCP): it "
              "opens about 100 sessions a second on a 2-core machine, so 10,000 would add minutes, and its memory "
              "per session was the same with 2,000 and 10,000 there.", "",
              "| server | transport | sessions open | failed | open s | RSS before MiB | RSS held MiB | KiB a session |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in idle:
            name = "FastMCP proxmox" if r["server"] == "fastmcp" else r["server"]
            tr = {"stateful": "Streamable HTTP stateful", "sse": "legacy SSE"}[r["transport"]]
            if r["transport"] == "stateful" and r["stream"]:
                tr += " + GET stream"
            fail = f"{r['errors']}" + (f" ({r['first_error']})" if r.get("first_error") else "")
            if not r["alive"]:
                fail += " (server died)"
            L.append(f"| {name} | {tr} | {r['opened']} | {fail} | {r['open_secs']} | {mib(r['before_kb'])} | "
                     f"{mib(r['held_kb'])} | {r['per_session_kb']:.1f} |")
    if coalesce:
        L += ["", "## Upstream requests for 100 identical concurrent reads", "",
              "A fresh stateless server, 100 workers each sending the same `tools/call` once, all at the same moment "
              "(after their initialize); the simulator's counter of API requests (reset just before) is read after.", "",
              "| server | setting | tool | calls OK | errors | upstream requests |", "|---|---|---|---:|---:|---:|"]
        for r in coalesce:
            L.append(f"| {r['server']} | {r['setting']} | `{r['tool']}` | {r['ok']} | {r['errors']} | {r['upstream']} |")
        L += ["", "Only `paloalto-ngfw` caches and coalesces reads (moka, per process; see "
              "[its page](servers/paloalto-ngfw.md#caching-and-coalescing)). `panw-airs`, `proxmox` and the FastMCP "
              "equivalent have no read cache: each call makes its own upstream request."]
    if ssh:
        t = ssh["calls"]
        L += ["", "## SSH: pooled session", "",
              f"`proxmox execute_command {{\"command\": \"uptime\", \"node\": \"pve1\"}}` {len(t)} times in a row over "
              "one stateful session, against a private OpenSSH sshd on 127.0.0.1 (tests/peers/sshd.sh; host key "
              "verified, key auth). The first call connects, authenticates and opens a channel; later calls "
              "reuse the pooled connection and only open a channel. Latency seen by the client, per call.", "",
              f"- first call: {t[0]:.1f} ms"]
        if len(t) > 1:
            L += [f"- second call: {t[1]:.1f} ms", f"- call {len(t)}: {t[-1]:.1f} ms",
                  f"- median of calls 2-{len(t)}: {statistics.median(t[1:]):.1f} ms"]
        L.append(f"- failed calls: {ssh['failures']}; SSH logins the sshd accepted for all {len(t)}: {ssh['logins']}")
        ref = ssh.get("openssh")
        if ref:
            L += ["", "For reference, the same remote command (`timeout -k 2 31 uptime`, which is what the server runs) "
                  "through the OpenSSH client against the same sshd, process start included: "
                  f"{ref['fresh_ms']:.1f} ms on a fresh connection, median {statistics.median(ref['mux_ms']):.1f} ms "
                  "over a multiplexed master connection (`ControlMaster`). What a pooled call costs is mostly the "
                  "sshd side: a new session process and the command itself."]
    if PROFILE.is_file():
        # The hand-written summary of the profile that guided the work (perf, not this run).
        L += [""] + PROFILE.read_text().rstrip().splitlines()
    L += ["", "## Not measured here", ""]
    L += [f"- {n}" for n in notes]
    L.append("")
    return "\n".join(L)


# --- the targets of issue 20, as ratios of this run ---------------------------------------------


@dataclass
class Goal:
    name: str
    what: str
    value: float | None  # None: not measured in this run
    goal: float
    at_least: bool = True  # False: the value must be at most the goal
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.goal if self.at_least else self.value <= self.goal

    @property
    def score(self) -> float:
        """How far along the goal is: 1.0 is the goal, more is better, whichever way it points."""
        if not self.value:
            return 0.0
        return self.value / self.goal if self.at_least else self.goal / self.value


def goals(load: dict | None, cold: list[dict], idle: list[dict]) -> list[Goal]:
    targets: list[Target] = (load or {}).get("targets", [])
    by = {(t.group, t.transport, t.cached): t for t in targets}
    ceiling_of = {t.sim: t for t in targets if t.group == "ceiling"}
    echo = next((t for t in targets if t.label == ECHO_LABEL), None)
    core = next((t for t in targets if t.group == "core" and t.label != ECHO_LABEL), None)

    def rps(t: Target | None, conc: int = 100) -> float | None:
        r = best(t, conc).get("rps") if t else None
        return r or None

    def div(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    out = [Goal("core", f"{CORE} `get_item` (JWT, audit log) / bare rmcp echo, stateless, 100 clients",
                div(rps(core), rps(echo)), 0.8)]
    for server in LOAD:
        out.append(Goal(f"uncached {server}", f"{server} `{TOOLS[server][0]}` stateless"
                        + (" (" + ", ".join(f"{k}={v}" for k, v in SPECS[server].bench.get("load_env", {}).items()) + ")"
                           if SPECS[server].bench.get("load_env") else "")
                        + " / its simulator called directly, 100 clients",
                        div(rps(by.get((server, "stateless", False))), rps(ceiling_of.get(SIM_OF[server]))), 0.25))
    for server in LOAD:
        cached = by.get((server, "stateless", True))
        if cached:
            out.append(Goal(f"cached {server}", f"{server} `{TOOLS[server][0]}` with its default cache / bare rmcp "
                            "echo, stateless, 100 clients", div(rps(cached), rps(echo)), 0.6))
    out.append(Goal("vs FastMCP", f"{FASTMCP_OF} `{TOOLS.get(FASTMCP_OF, ('?',))[0]}` / the FastMCP equivalent, "
                    "stateless, 100 clients",
                    div(rps(by.get((FASTMCP_OF, "stateless", False))), rps(by.get(("fastmcp", "stateless", False)))), 30))
    for server in LOAD:
        cached = by.get((server, "stateless", True))
        if cached and 1000 in CONCURRENCY:
            b = best(cached, 1000)
            out.append(Goal(f"tail {server}", f"{server} with its default cache, 1,000 clients: p99.9 / p50",
                            div(b.get("p999_ms"), b.get("p50_ms")), 5, at_least=False, unit="x"))
    ours = [r for r in idle if r["server"] != "fastmcp" and r["transport"] == "stateful" and not r["stream"]]
    out.append(Goal("sessions", f"KiB per idle stateful session ({IDLE_SESSIONS:,} held)",
                    ours[0]["per_session_kb"] if ours else None, 30, at_least=False, unit=" KiB"))
    for r in cold:
        if r["server"] not in SPECS:  # FastMCP's row: a comparison, not a target of ours
            continue
        out.append(Goal(f"idle RSS {r['server']}", f"{r['server']} idle RSS", r["idle_rss_kb"] / 1024, 15,
                        at_least=False, unit=" MiB"))
        out.append(Goal(f"cold start {r['server']}", f"{r['server']} exec to ready", r["cold_ms"], 50,
                        at_least=False, unit=" ms"))
    return out


def goals_section(gs: list[Goal], chart: str) -> list[str]:
    L = ["## Targets", "",
         "The targets of issue 20, each a figure of this run (ratios of req/s at 100 clients unless said). "
         f"The chart ([{chart}]({chart})) shows each as a share of its goal: 1.0 is the goal, longer is better.", "",
         f"![targets as a share of their goal]({chart})", "",
         "| target | measured | goal | met |", "|---|---:|---:|---|"]
    for g in gs:
        v = "not measured" if g.value is None else (f"{g.value:.2f}{g.unit}" if g.unit else f"{g.value:.2f}")
        goal = ("at least " if g.at_least else "at most ") + (f"{g.goal:g}{g.unit}" if g.unit else f"{g.goal:g}")
        met = {True: "met", False: "**not met**", None: "n/a"}[g.met]
        L.append(f"| {g.what} | {v} | {goal} | {met} |")
    return L


def goals_svg(gs: list[Goal]) -> str:
    """A horizontal bar per target: its share of the goal (a line at 1.0), in plain SVG."""
    row, left, width, top = 22, 330, 420, 30
    scale_max = max(2.0, *(min(g.score, 4.0) for g in gs)) if gs else 2.0
    h = top + row * len(gs) + 30
    x1 = left + width / scale_max
    esc = (lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="16" font-weight="bold">share of the goal (1.0 = goal met; bars capped at {scale_max:g})</text>']
    for i, g in enumerate(gs):
        y = top + i * row
        frac = min(g.score, scale_max) / scale_max
        colour = "#999999" if g.value is None else ("#2e7d32" if g.met else "#c62828")
        label = "not measured" if g.value is None else f"{g.score:.2f}"
        out.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{esc(g.name)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{width * frac:.1f}" height="{row - 8}" fill="{colour}"/>')
        out.append(f'<text x="{left + width * frac + 4:.1f}" y="{y + 14}">{label}</text>')
    out.append(f'<line x1="{x1:.1f}" y1="{top - 4}" x2="{x1:.1f}" y2="{top + row * len(gs)}" stroke="black" '
               'stroke-dasharray="4,3"/>')
    out.append(f'<text x="{x1:.1f}" y="{h - 10}" text-anchor="middle">goal</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def fastmcp_version() -> str:
    try:
        return subprocess.run([str(FASTMCP_PY), "-c", "import fastmcp; print(fastmcp.__version__)"],
                              capture_output=True, text=True, timeout=60).stdout.strip() or "?"
    except OSError:
        return "?"


def _terminated(signum, _frame):
    raise SystemExit(128 + signum)  # runs the finally blocks: every child is stopped


def plan() -> str:
    """What a run would start and measure, from servers.toml (`--dry-run`)."""
    L = [f"binaries: {BIN}", f"simulators: {', '.join(f'vendor-sim {k}' for k in SIM_KINDS)}"
         + (f"; moto ({MOTO}) for {', '.join(MOTO_SERVERS)}" if MOTO_SERVERS else "")]
    for name, spec in SPECS.items():
        env = spec.peer_env(f"http://127.0.0.1:<{spec.sim or spec.peer_kind}>")
        what = (f"load {TOOLS[name][0]} {json.dumps(TOOLS[name][1])} (scopes {' '.join(SCOPES[name])})"
                if name in LOAD else "cold start and idle RSS only")
        L.append(f"{name}: peer {spec.peer_kind}{' ' + spec.sim if spec.sim else ''}; {what}; probe: "
                 f"{spec.bench.get('probe', '')}")
        L += [f"    {k}={v}" for k, v in env.items()]
        if spec.bench.get("load_env"):
            L.append(f"    load rows add {spec.bench['load_env']}; one more row with the defaults "
                     f"({spec.bench.get('default_label', 'defaults')})")
    if FASTMCP_OF in LOAD:
        L.append(f"fastmcp: {FASTMCP_APP.relative_to(ROOT)}, the equivalent of {FASTMCP_OF} {TOOLS[FASTMCP_OF][0]}"
                 f" against vendor-sim {SIM_OF['fastmcp']} ({FASTMCP_PY})")
    L.append(f"sections: {', '.join(s for s in ('load', 'cold', 'idle', 'coalesce', 'ssh') if s not in SKIP)}"
             + (f"; load groups: {', '.join(sorted(ONLY))}" if ONLY else ""))
    return "\n".join(L)


def main() -> int:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    if "--dry-run" in sys.argv[1:]:
        print(plan())
        return 0
    if sys.argv[1:]:
        raise SystemExit(f"bench.py: unknown arguments {sys.argv[1:]} (--help, --dry-run)")
    signal.signal(signal.SIGTERM, _terminated)
    LOGDIR.mkdir(parents=True, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by every child
    missing = [b for b in ("vendor-sim", "mcp-bench", "rmcp-echo", *(n for n in SPECS if n not in MOTO_SERVERS))
               if not (BIN / b).is_file()]
    if missing:
        raise SystemExit(f"missing in {BIN}: {', '.join(missing)} (make bench builds them)")
    fastmcp = FASTMCP_PY.is_file()
    notes = [(f"`{name}` throughput: its upstream for local runs is moto, a single-process Python server, "
              "which would be the bottleneck of every row; a figure would measure moto, not the server. "
              "Its cold start and idle RSS are in the table above when `.venv` has moto (`make deps`)."
              if MOTO.is_file() else
              f"`{name}`: not measured (its local upstream is moto, a slow Python server, and `.venv` has no "
              "moto: `make deps` installs it for cold start and idle RSS).") for name in MOTO_SERVERS]
    notes += ["FastMCP over legacy SSE, and FastMCP's session memory with the SSE transport: the equivalent runs "
             "Streamable HTTP only.",
             "Real vendor latency: the simulators answer in microseconds, so these rows show the cost of the MCP "
             "layer itself. With a real firewall or PVE API (milliseconds to seconds a call) every server's "
             "throughput is bounded by the upstream, and caching or coalescing matters more than the transport.",
             "Client-side limits: with 2 cores the load generator takes a large share of the CPU, so high-concurrency "
             "rows understate what a server alone could do."]
    if not fastmcp:
        notes.insert(0, "FastMCP: `.venv/fastmcp-venv` is missing (`make bench` creates it).")
    if IDLE_SESSIONS + 1000 > want:
        notes.append(f"RLIMIT_NOFILE hard limit {hard} may be too low for {IDLE_SESSIONS} held streams (raise `ulimit -Hn`).")
    sims: dict[str, Sim] = {}
    load = None
    cold: list[dict] = []
    idle: list[dict] = []
    coalesce: list[dict] = []
    ssh = None
    try:
        for kind in SIM_KINDS:
            sims[kind] = start_sim(kind)
        note("simulators: " + ", ".join(f"{k} {s.url}" for k, s in sims.items()))
        if "cold" not in SKIP:
            cold = run_cold(sims, fastmcp)
        if "load" not in SKIP:
            load = run_load(sims, fastmcp)
        if "coalesce" not in SKIP:
            coalesce = run_coalesce(sims, fastmcp)
        if "idle" not in SKIP:
            idle = run_idle(sims, fastmcp)
        if "ssh" not in SKIP:
            ssh = run_ssh(sims)
            if ssh is None:
                notes.append("SSH session reuse: no sshd here (`make sshd` installs openssh-server).")
    finally:
        stop_all()
    raw = {"load": [{"group": t.group, "label": t.label, "transport": t.transport, "runs": t.runs}
                    for t in (load or {}).get("targets", [])],
           "checks": (load or {}).get("checks", []), "cold": cold, "idle": idle, "coalesce": coalesce, "ssh": ssh}
    (LOGDIR / "results.json").write_text(json.dumps(raw, indent=1))
    text = report(load, cold, idle, coalesce, ssh, fastmcp, notes)
    OUT.write_text(text)
    CHART.write_text(goals_svg(goals(load, cold, idle)))
    print("\n" + text)
    note(f"wrote {OUT.relative_to(ROOT) if OUT.is_relative_to(ROOT) else OUT}; raw figures and logs in "
         f"{LOGDIR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
