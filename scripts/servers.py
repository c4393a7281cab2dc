#!/usr/bin/env python3
"""The one list of servers: reads servers.toml (at the repository root) for every consumer.

Python (3.11+, tomllib) imports it:

    sys.path.insert(0, str(ROOT / "scripts"))
    import servers
    servers.load()                  # {name: Server}, in file order
    servers.names(deployable=True)  # ["paloalto-ngfw", ...]

Shell uses the CLI (the fields are documented at the top of servers.toml):

    python3 scripts/servers.py list [--deployable | --example]   names, one a line
    python3 scripts/servers.py get NAME FIELD                    one field (dotted: peer.sim)
    python3 scripts/servers.py conformance-args NAME             tests/conformance/run.py flags, one a line
    python3 scripts/servers.py check                             validate servers.toml (exit 1 on a problem)
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "servers.toml"

PEER_KINDS = {"vendor-sim", "moto", "none"}
SIMS = {"panos", "airs", "proxmox"}
COUNTERS = {"vendor-sim", "sshd", "moto"}
# The URL the conformance run gives a server whose peer it cannot start (moto): a closed port.
CLOSED_URL = "http://127.0.0.1:9"

_KEYS = {"name", "crate", "binary", "example", "short", "values", "scopes", "peer", "ssh", "test", "smoke", "bench"}
_PEER_KEYS = {"kind", "sim", "fixture", "args", "env", "readyz"}
_SSH_KEYS = {"env"}
_TEST_KEYS = {"hardening_env", "conformance_min"}
_SMOKE_KEYS = {"tool", "args", "scopes", "expect", "reaches"}
_BENCH_KEYS = {"tool", "args", "scopes", "load_env", "default_label", "probe"}


def fill(value: str, subst: dict[str, str]) -> str:
    """Replaces each "{KEY}" in `value` by subst[KEY] (plain replacement: other braces stay)."""
    for key, sub in subst.items():
        value = value.replace("{" + key + "}", sub)
    return value


def fill_all(obj: Any, subst: dict[str, str]) -> Any:
    """`fill` through nested dicts and lists (call arguments, expected strings)."""
    if isinstance(obj, str):
        return fill(obj, subst)
    if isinstance(obj, list):
        return [fill_all(v, subst) for v in obj]
    if isinstance(obj, dict):
        return {k: fill_all(v, subst) for k, v in obj.items()}
    return obj


@dataclass(frozen=True)
class Server:
    name: str
    crate: str
    scopes: list[str]
    short: str
    binary: str
    example: bool = False
    values: str | None = None
    peer: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    ssh: dict[str, Any] | None = None
    test: dict[str, Any] = field(default_factory=dict)
    smoke: list[dict[str, Any]] = field(default_factory=list)
    bench: dict[str, Any] | None = None

    @property
    def deployable(self) -> bool:
        return not self.example

    @property
    def read_scope(self) -> str:
        return self.scopes[0]

    @property
    def peer_kind(self) -> str:
        return self.peer.get("kind", "none")

    @property
    def sim(self) -> str | None:
        return self.peer.get("sim")

    @property
    def fixture(self) -> Path | None:
        return ROOT / self.peer["fixture"] if self.peer.get("fixture") else None

    @property
    def values_path(self) -> Path | None:
        return ROOT / self.values if self.values else None

    @property
    def hardening_env(self) -> dict[str, str]:
        return dict(self.test.get("hardening_env", {}))

    @property
    def conformance_min(self) -> int:
        return int(self.test.get("conformance_min", 4))

    def sim_args(self) -> list[str]:
        """The arguments after `vendor-sim <sim>` (without --bind)."""
        subst = {"fixture": str(self.fixture)} if self.fixture else {}
        return [fill(a, subst) for a in self.peer.get("args", [])]

    def peer_env(self, url: str) -> dict[str, str]:
        """The server variables against its peer at `url`."""
        return {k: fill(v, {"url": url}) for k, v in self.peer.get("env", {}).items()}

    def url_vars(self) -> list[str]:
        """The variables that receive the peer's URL as they are."""
        return [k for k, v in self.peer.get("env", {}).items() if v == "{url}"]

    def ssh_env(self, sshd_vars: dict[str, str]) -> dict[str, str]:
        """The server variables against the sshd peer (`sshd_vars`: the env file of tests/peers/sshd.sh)."""
        if self.ssh is None:
            raise ValueError(f"{self.name} has no [server.ssh] peer in servers.toml")
        return {k: fill(v, sshd_vars) for k, v in self.ssh.get("env", {}).items()}

    def conformance_args(self) -> list[str]:
        """Flags for tests/conformance/run.py: start its simulator, or point it at a closed port."""
        out: list[str] = []
        if self.peer_kind == "vendor-sim":
            out += ["--sim", " ".join([self.sim or "", *self.sim_args()])]
            url_vars = self.url_vars()
            if len(url_vars) != 1:
                raise ValueError(f"{self.name}: conformance needs exactly one variable set to \"{{url}}\", not {url_vars}")
            out += ["--sim-var", url_vars[0]]
            out += [f"--env={k}={v}" for k, v in self.peer.get("env", {}).items() if v != "{url}"]
        elif self.peer_kind == "moto":
            out += [f"--env={k}={v}" for k, v in self.peer_env(CLOSED_URL).items()]
            out.append("--no-ready")
        out += ["--min-scenarios", str(self.conformance_min)]
        return out


def _problems(name: str, raw: dict[str, Any]) -> list[str]:
    """What is wrong with one [[server]] entry (its shape; files are `missing_files`)."""
    p: list[str] = []
    where = f"[[server]] {name!r}"

    def unknown(sub: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            p.append(f"{where} {sub}: not a table")
            return
        extra = set(table) - allowed
        if extra:
            p.append(f"{where} {sub}: unknown keys {sorted(extra)} (known: {sorted(allowed)})")

    unknown("", raw, _KEYS)
    if not isinstance(name, str) or not name:
        p.append(f"{where}: `name` is required")
    for key in ("crate", "scopes"):
        if key not in raw:
            p.append(f"{where}: `{key}` is required")
    if raw.get("binary", name) != name:
        p.append(f"{where}: binary {raw['binary']!r} differs from the name; the Makefile, image.sh and the "
                 "conformance loop run target/*/NAME, so they must be the same")
    if not raw.get("scopes") or not all(isinstance(s, str) for s in raw.get("scopes", [])):
        p.append(f"{where}: `scopes` must be a non-empty list of strings")
    if raw.get("example") and "values" in raw:
        p.append(f"{where}: an example server is not deployed and has no `values`")
    peer = raw.get("peer", {"kind": "none"})
    unknown("[server.peer]", peer, _PEER_KEYS)
    kind = peer.get("kind", "none") if isinstance(peer, dict) else None
    if kind not in PEER_KINDS:
        p.append(f"{where} [server.peer]: kind {kind!r} is not one of {sorted(PEER_KINDS)}")
    if kind == "vendor-sim" and peer.get("sim") not in SIMS:
        p.append(f"{where} [server.peer]: sim {peer.get('sim')!r} is not one of {sorted(SIMS)}")
    if "ssh" in raw:
        unknown("[server.ssh]", raw["ssh"], _SSH_KEYS)
    if "test" in raw:
        unknown("[server.test]", raw["test"], _TEST_KEYS)
    for i, call in enumerate(raw.get("smoke", [])):
        unknown(f"[[server.smoke]] #{i + 1}", call, _SMOKE_KEYS)
        for key in ("tool", "scopes", "expect", "reaches"):
            if key not in call:
                p.append(f"{where} [[server.smoke]] #{i + 1}: `{key}` is required")
        if call.get("reaches") not in COUNTERS:
            p.append(f"{where} [[server.smoke]] #{i + 1}: reaches {call.get('reaches')!r} is not one of {sorted(COUNTERS)}")
        if call.get("reaches") == "sshd" and "ssh" not in raw:
            p.append(f"{where} [[server.smoke]] #{i + 1}: reaches sshd, but the server has no [server.ssh] peer")
    if "bench" in raw:
        unknown("[server.bench]", raw["bench"], _BENCH_KEYS)
    return p


def missing_files(servers: dict[str, "Server"]) -> list[str]:
    """Files servers.toml names that do not exist: crates, chart values, fixtures."""
    out = []
    for spec in servers.values():
        if not (ROOT / spec.crate / "Cargo.toml").is_file():
            out.append(f"{spec.name}: crate {spec.crate} has no Cargo.toml")
        if spec.values_path and not spec.values_path.is_file():
            out.append(f"{spec.name}: chart values {spec.values} do not exist")
        if spec.fixture and not spec.fixture.is_file():
            out.append(f"{spec.name}: fixture {spec.peer['fixture']} does not exist")
    return out


def load(path: Path = PATH) -> dict[str, Server]:
    """Every server in servers.toml, in file order. Raises ValueError when an entry is malformed
    (files that do not exist are `missing_files`, reported by `check` and the deploy checks)."""
    with path.open("rb") as f:
        doc = tomllib.load(f)
    if set(doc) != {"server"} or not isinstance(doc["server"], list):
        raise ValueError(f"{path}: expected only [[server]] entries, found {sorted(set(doc) - {'server'}) or doc}")
    out: dict[str, Server] = {}
    problems: list[str] = []
    shorts: dict[str, str] = {}
    for raw in doc["server"]:
        name = raw.get("name", "")
        entry = _problems(name, raw)
        if name in out:
            entry.append(f"[[server]] {name!r}: listed twice")
        short = raw.get("short", name)
        if short in shorts:
            entry.append(f"[[server]] {name!r}: short name {short!r} is also {shorts[short]}'s")
        shorts[short] = name
        problems += entry
        if entry:
            continue
        example = bool(raw.get("example", False))
        values = None if example else raw.get("values", f"deploy/helm/values/{name}.yaml")
        out[name] = Server(name=name, crate=raw["crate"], scopes=list(raw["scopes"]), short=short,
                           binary=raw.get("binary", name), example=example, values=values,
                           peer=dict(raw.get("peer", {"kind": "none"})), ssh=raw.get("ssh"),
                           test=dict(raw.get("test", {})), smoke=list(raw.get("smoke", [])), bench=raw.get("bench"))
    if problems:
        raise ValueError(f"{path}:\n  " + "\n  ".join(problems))
    return out


def names(deployable: bool = False, example: bool = False) -> list[str]:
    """Names in file order: all, or only the deployable ones, or only the example ones."""
    return [s.name for s in load().values()
            if (not deployable or s.deployable) and (not example or s.example)]


def get(name: str) -> Server:
    servers = load()
    if name not in servers:
        raise KeyError(f"unknown server {name!r}; servers.toml lists {list(servers)}")
    return servers[name]


def main(argv: list[str]) -> int:
    usage = __doc__.split("Shell uses the CLI", 1)[1]
    if not argv or argv[0] in ("-h", "--help"):
        print("usage:" + usage.split(":", 1)[1].rstrip())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "list":
            flags = set(rest) - {"--deployable", "--example"}
            if flags:
                raise SystemExit(f"servers.py list: unknown flags {sorted(flags)}")
            print("\n".join(names(deployable="--deployable" in rest, example="--example" in rest)))
        elif cmd == "get" and len(rest) == 2:
            value: Any = get(rest[0])
            for part in rest[1].split("."):
                value = getattr(value, part) if hasattr(value, part) else value[part]
            if callable(value):
                value = value()
            if isinstance(value, (list, tuple)):
                print("\n".join(map(str, value)))
            elif isinstance(value, dict):
                print(json.dumps(value))
            else:
                print("" if value is None else (str(value).lower() if isinstance(value, bool) else value))
        elif cmd == "conformance-args" and len(rest) == 1:
            print("\n".join(get(rest[0]).conformance_args()))
        elif cmd == "check" and not rest:
            servers = load()
            missing = missing_files(servers)
            if missing:
                raise ValueError("names files that do not exist:\n  " + "\n  ".join(missing))
            print(f"servers.toml: {len(servers)} servers ({', '.join(servers)}), "
                  f"{sum(s.deployable for s in servers.values())} deployable")
        else:
            raise SystemExit(f"servers.py: bad arguments {argv!r} (see --help)")
    except (ValueError, KeyError) as err:
        print(f"servers.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
