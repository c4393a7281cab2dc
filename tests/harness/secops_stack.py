"""Start the secops-mcp servers on 127.0.0.1 with their upstream peers, for Python suites.

One shared harness for the end-to-end suites (Traefik, Claude Code, replica loss, hostile
inputs, protocol abuse, upstream faults, load). It starts:

- the upstream of a server: its simulator (`vendor-sim panos|airs|proxmox`) or a moto
  server, optionally a private OpenSSH sshd, as servers.toml says (`[server.peer]`
  and `.ssh`, with the variables that point the server at them; see its header);
- one or more replicas of the server itself (`<bin> serve`), HTTP on 127.0.0.1:0, JWT
  (HS256) auth, JSON logs; the port is read from the `listening on http://ADDR` log line
  and `/readyz` is polled (bounded) before the replica is handed out.

Ports: no port number is picked here and handed to a child to bind later (a number freed by
closing a probe socket can be taken by another process in between). Each process binds port 0
itself and reports it: the servers and `vendor-sim` log `listening on http://ADDR`, moto
(werkzeug) logs `Running on http://ADDR`. Traefik gets sockets the harness already listens on
(`listening_socket`, handed over by systemd socket activation, see tests/e2e/traefik.py).
sshd cannot do either: tests/peers/sshd.sh retries on a fresh port when sshd does not log
that it listens on the one it was given.

Everything binds 127.0.0.1, every wait is a bounded poll, and `Stack.close()` (or leaving
the `with` block) stops every process it started, in reverse order.

    with Stack() as st:
        dep = st.deploy("paloalto-ngfw", replicas=2, stateless=True)
        tok = dep.token(["ngfw:read"])
        dep.replicas[0].base        # http://127.0.0.1:PORT
        dep.upstream.stats()        # the simulator's request counters
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import shutil
import tempfile
import threading
import time
import urllib.error
import sys
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SECOPS_BIN_DIR", str(ROOT / "target" / "debug")))
VENV = ROOT / ".venv"
FIXTURES = ROOT / "crates" / "simulators" / "fixtures"

if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))
import servers as servers_toml  # noqa: E402 - scripts/servers.py: the one list of servers (servers.toml)

# Every server in servers.toml (the example server too), and the deployable ones: SERVERS.
SPECS: dict[str, servers_toml.Server] = servers_toml.load()
SERVERS = [name for name, spec in SPECS.items() if spec.deployable]

# Scopes that see every tool of a server (a non-read scope implies read in mcp-core's policy):
# the scopes the tools declare (`<server> tools --json`), plus any a tool checks itself
# (`proxmox:admin` for `proxmox_api` writes). `scopes` in servers.toml, read scope first.
ALL_SCOPES = {name: list(spec.scopes) for name, spec in SPECS.items()}
READ_SCOPE = {name: spec.read_scope for name, spec in SPECS.items()}


def spec_of(server: str) -> servers_toml.Server:
    """The servers.toml entry of `server`."""
    if server not in SPECS:
        raise ValueError(f"unknown server {server!r}; servers.toml lists {list(SPECS)}")
    return SPECS[server]

_LISTENING = re.compile(r"listening on (http://[0-9.:\[\]]+)")
_MOTO_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:[1-9][0-9]*)")
_POLL_S = 0.02


def listening_socket() -> socket.socket:
    """A TCP socket listening on 127.0.0.1, on a port the kernel chose.

    Whoever holds it holds the port: pass the socket itself to the process that is to serve it
    (`Proc(pass_fds=...)`), never just its number."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def http_get(url: str, timeout: float = 5, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET without raising on HTTP errors; (status, body). Connection errors raise OSError."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_post_json(url: str, body: Any, timeout: float = 5) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def poll(what: str, check, seconds: float = 20.0, proc: "Proc | None" = None):
    """Calls `check()` until it returns a truthy value or `seconds` pass (then raises).

    With `proc`, gives up at once when that process has exited (its last lines in the error)."""
    deadline = time.monotonic() + seconds
    last_err: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what}: {proc.name} exited ({proc.popen.returncode}); last lines:\n"
                               + "\n".join(list(proc.lines)[-30:]))
        try:
            value = check()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - kept for the message
            last_err = err
        time.sleep(_POLL_S)
    raise TimeoutError(f"{what}: not true within {seconds} s (last error: {last_err!r})")


class Proc:
    """A child process whose stderr (and stdout) lines are kept (the last 2,000) and drained."""

    def __init__(self, cmd: list[str], env: dict[str, str], name: str, stdin=None, pass_fds: tuple[int, ...] = ()):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.lines: deque[str] = deque(maxlen=2000)
        self._cv = threading.Condition()
        self.popen = subprocess.Popen(
            cmd, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
        )
        for stream in (self.popen.stdout, self.popen.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            with self._cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_line(self, pattern: str | re.Pattern, seconds: float = 20.0) -> re.Match:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + seconds
        seen = 0
        with self._cv:
            while True:
                lines = list(self.lines)
                for line in lines[seen:] if seen <= len(lines) else lines:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    break
                self._cv.wait(timeout=min(left, 0.2))
        raise RuntimeError(f"{self.name}: no line matching {rx.pattern!r}; exit={self.popen.poll()}; last lines:\n"
                           + "\n".join(list(self.lines)[-30:]))

    def log(self) -> str:
        return "\n".join(self.lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: the replica-loss case (no drain, no goodbye)."""
        self.stop(signal.SIGKILL, timeout=5)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """PATH and HOME only, plus `extra`: no MCP_*, AWS_* or vendor variable leaks in from the caller."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.update(extra or {})
    return env


@dataclass
class Simulator:
    """A `vendor-sim` process; `/_sim/*` control endpoints need no auth and are not counted."""

    kind: str
    url: str
    proc: Proc

    def stats(self) -> dict:
        status, body = http_get(f"{self.url}/_sim/stats")
        assert status == 200, f"{self.kind} simulator stats: HTTP {status}"
        return json.loads(body)

    def requests(self) -> int:
        """Counted upstream requests so far (every route but `/_sim/*`)."""
        return int(self.stats()["total"])

    def reset(self) -> None:
        http_post_json(f"{self.url}/_sim/reset", {})

    def faults(self, **settings: Any) -> dict:
        """Sets faults (latency_ms, fail_rate, fail_status, fail_next, malformed_next, drop_next,
        rate_limit_next, retry_after_secs); returns the settings now in force."""
        status, body = http_post_json(f"{self.url}/_sim/faults", settings)
        assert status == 200, f"{self.kind} simulator faults: HTTP {status} {body!r}"
        return json.loads(body)

    def clear_faults(self) -> None:
        self.faults(latency_ms=0, fail_rate=0.0, fail_next=0, malformed_next=0, drop_next=0, rate_limit_next=0)


@dataclass
class Moto:
    """A moto server (AWS API fake) on 127.0.0.1, seeded with one VPC and one security group."""

    url: str
    proc: Proc
    vpc_id: str
    group_id: str

    def ec2(self):
        import boto3  # installed with moto into .venv

        return boto3.client("ec2", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="secops-test", aws_secret_access_key="secops-test")

    def ingress(self, group_id: str | None = None) -> list[dict]:
        groups = self.ec2().describe_security_groups(GroupIds=[group_id or self.group_id])["SecurityGroups"]
        return groups[0].get("IpPermissions", [])



@dataclass
class Replica:
    base: str
    proc: Proc

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def ready(self) -> bool:
        try:
            return http_get(f"{self.base}/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def metrics(self) -> str:
        return http_get(f"{self.base}/metrics")[1].decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0.0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            if head.split("{", 1)[0] != name:
                continue
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total


@dataclass
class Deployment:
    """One server (one or more replicas) and its upstream."""

    server: str
    secret: str
    env: dict[str, str]
    replicas: list[Replica] = field(default_factory=list)
    upstream: Simulator | Moto | None = None
    stack: "Stack | None" = None

    @property
    def binary(self) -> Path:
        return BIN / self.server

    def token(self, scopes: list[str] | None = None, sub: str = "e2e", ttl: str = "30m") -> str:
        args = [str(self.binary), "token", "--sub", sub, "--ttl", ttl]
        for scope in scopes if scopes is not None else ALL_SCOPES[self.server]:
            args += ["--scope", scope]
        env = clean_env({"MCP_JWT_SECRET": self.secret})
        for key in ("MCP_JWT_ISSUER", "MCP_JWT_AUDIENCE"):
            if key in self.env:
                env[key] = self.env[key]
        out = subprocess.run(args, env=env, check=True, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def start_replica(self, port: int = 0) -> Replica:
        """Starts one more replica (or restarts one on a known port) and waits for /readyz."""
        assert self.stack is not None
        env = dict(self.env)
        env["MCP_BIND"] = f"127.0.0.1:{port}"
        proc = self.stack._spawn([str(self.binary), "serve"], env, f"{self.server}#{len(self.replicas)}")
        base = proc.wait_line(_LISTENING, 30).group(1)
        replica = Replica(base=base, proc=proc)
        poll(f"{self.server} {base}/readyz", replica.ready, 30, proc=proc)
        self.replicas.append(replica)
        return replica

    def stdio_command(self) -> tuple[list[str], dict[str, str]]:
        """The command and environment to run this server over stdio (no auth on stdio)."""
        env = {k: v for k, v in self.env.items() if k not in ("MCP_BIND", "MCP_TRANSPORT", "MCP_STATELESS")}
        env["MCP_TRANSPORT"] = "stdio"
        return [str(self.binary), "serve"], env


class Stack:
    """Owns every process started for a test; closes them in reverse order."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="secops-e2e-"))
        self._sshd_dirs: list[Path] = []

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        for d in self._sshd_dirs:
            subprocess.run(["bash", str(ROOT / "tests/peers/sshd.sh"), "stop", str(d)], capture_output=True)
        self._sshd_dirs.clear()

    def _spawn(self, cmd: list[str], env: dict[str, str], name: str, stdin=None,
               pass_fds: tuple[int, ...] = ()) -> Proc:
        binary = Path(cmd[0])
        if not binary.is_file():
            raise FileNotFoundError(f"{binary} not built: run `make build` (or set SECOPS_BIN_DIR)")
        proc = Proc(cmd, clean_env(env), name, stdin=stdin, pass_fds=pass_fds)
        self.procs.append(proc)
        return proc

    # --- upstreams -------------------------------------------------------------------------

    def simulator(self, kind: str, *args: str) -> Simulator:
        proc = self._spawn([str(BIN / "vendor-sim"), kind, "--bind", "127.0.0.1:0", *args], {}, f"vendor-sim {kind}")
        url = proc.wait_line(_LISTENING, 20).group(1)
        return Simulator(kind=kind, url=url, proc=proc)

    def moto(self) -> Moto:
        moto_bin = VENV / "bin" / "moto_server"
        if not moto_bin.is_file():
            raise FileNotFoundError(f"{moto_bin} missing: run `make deps`")
        # Port 0: moto binds a free port itself and werkzeug logs the one it got.
        proc = self._spawn([str(moto_bin), "-H", "127.0.0.1", "-p", "0"], {}, "moto")
        url = proc.wait_line(_MOTO_RUNNING, 60).group(1)
        poll("moto", lambda: http_get(f"{url}/moto-api/", timeout=2)[0] == 200, 60, proc=proc)
        moto = Moto(url=url, proc=proc, vpc_id="", group_id="")
        ec2 = moto.ec2()
        moto.vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        moto.group_id = ec2.create_security_group(GroupName="staging-db", Description="e2e",
                                                  VpcId=moto.vpc_id)["GroupId"]
        return moto

    def sshd(self) -> dict[str, str]:
        """A private OpenSSH sshd on 127.0.0.1 (tests/peers/sshd.sh); returns the variables of its
        env file (SSH_PORT, SSH_USER, SSH_KEY, SSH_KNOWN_HOSTS, ...), which fill a server's
        `[server.ssh] env` in servers.toml."""
        d = Path(tempfile.mkdtemp(prefix="sshd-", dir=self.tmp))
        subprocess.run(["bash", str(ROOT / "tests/peers/sshd.sh"), "start", str(d)], check=True, capture_output=True,
                       timeout=60)
        self._sshd_dirs.append(d)
        return dict(l.split("=", 1) for l in (d / "env").read_text().splitlines() if "=" in l)

    def redis(self) -> str:
        """A private redis-server on 127.0.0.1 (Debian's package, `make deps`): a password, no
        persistence, its files in the stack's directory. Returns its `redis://` URL, for
        `MCP_STATE_URL`."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server missing: run `make deps`")
        password = secrets.token_hex(16)
        for _ in range(3):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            d = Path(tempfile.mkdtemp(prefix="redis-", dir=self.tmp))
            proc = self._spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
                                "--save", "", "--appendonly", "no", "--dir", str(d), "--loglevel", "notice"],
                               {}, "redis-server")
            try:
                proc.wait_line("Ready to accept connections", 20)
            except Exception:
                proc.stop()
                continue
            return f"redis://:{password}@127.0.0.1:{port}"
        raise RuntimeError("redis-server did not start")

    def peer(self, server: str) -> Simulator | Moto | None:
        """Starts the upstream servers.toml names for `server` (`[server.peer] kind`)."""
        spec = spec_of(server)
        if spec.peer_kind == "vendor-sim":
            return self.simulator(spec.sim, *spec.sim_args())
        if spec.peer_kind == "moto":
            return self.moto()
        return None

    # --- servers ---------------------------------------------------------------------------

    def upstream_env(self, server: str, ssh: bool = False) -> tuple[Simulator | Moto | None, dict[str, str]]:
        """Starts the upstream of `server` and returns it with the server variables that reach it
        (servers.toml: `peer.env`, plus `ssh.env` against a private sshd when `ssh`)."""
        spec = spec_of(server)
        upstream = self.peer(server)
        env = spec.peer_env(upstream.url) if upstream is not None else spec.peer_env("")
        if ssh:
            env.update(spec.ssh_env(self.sshd()))
        return upstream, env

    def deploy(self, server: str, replicas: int = 1, stateless: bool = False, env: dict[str, str] | None = None,
               ssh: bool = False, upstream: Simulator | Moto | None = None,
               upstream_vars: dict[str, str] | None = None) -> Deployment:
        """Starts the upstream (unless given) and `replicas` copies of `server` (HTTP, JWT auth).

        `env` adds or overrides server variables (e.g. MCP_PUBLIC_URL, MCP_REQUEST_TIMEOUT)."""
        if upstream is None:
            upstream, up_env = self.upstream_env(server, ssh=ssh)
        else:
            up_env = dict(upstream_vars or {})
        full = {"MCP_TRANSPORT": "http", "MCP_JWT_SECRET": secrets.token_hex(32), "MCP_LOG_FORMAT": "json",
                "RUST_LOG": "info", "MCP_STATELESS": "true" if stateless else "false", **up_env, **(env or {})}
        dep = Deployment(server=server, secret=full["MCP_JWT_SECRET"], env=full, upstream=upstream, stack=self)
        for _ in range(replicas):
            dep.start_replica()
        return dep
