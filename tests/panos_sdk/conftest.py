"""Start `vendor-sim panos` on 127.0.0.1 for the pan-os-python checks.

`panos_sim(config)` starts the simulator on one of the shared real-world configs, with two
administrators (`admin`, `bob`), and returns its port and their API keys; every simulator a
test starts is stopped when the test ends. `firewall(sim, key)` and `panorama(sim, key)` are
pan-os-python devices pointed at it over plain HTTP (pan-python's `use_http`).
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from panos.base import PanDevice
from panos.firewall import Firewall
from panos.panorama import Panorama

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SECOPS_BIN_DIR", str(ROOT / "target" / "debug"))) / "vendor-sim"
FIXTURES = Path(os.environ.get("SECOPS_FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))
CONFIGS = FIXTURES / "panos" / "configs"
START_TIMEOUT_S = 30


@dataclass
class Sim:
    """One running simulator."""

    port: int
    admin_key: str
    bob_key: str
    proc: subprocess.Popen


def _http_xapi(device: PanDevice) -> PanDevice.XapiWrapper:
    """What PanDevice.generate_xapi builds, plus pan-python's use_http (the simulator is HTTP)."""
    return PanDevice.XapiWrapper(
        api_key=device.api_key,
        hostname=device.hostname,
        port=device.port,
        timeout=device.timeout,
        pan_device=device,
        use_http=True,
    )


class HttpFirewall(Firewall):
    def generate_xapi(self):
        return _http_xapi(self)


class HttpPanorama(Panorama):
    def generate_xapi(self):
        return _http_xapi(self)


def firewall(sim: Sim, key: str) -> Firewall:
    return HttpFirewall("127.0.0.1", api_key=key, port=sim.port)


def panorama(sim: Sim, key: str) -> Panorama:
    return HttpPanorama("127.0.0.1", api_key=key, port=sim.port)


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first stdout line, or an error once `timeout` seconds pass (bounded, no polling sleep)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"vendor-sim did not announce its address within {timeout} s") from None


@pytest.fixture
def panos_sim():
    if not CONFIGS.is_dir():
        pytest.fail(
            f"SKIPPED, not passed: the shared fixtures are missing ({CONFIGS} is not a directory); "
            "set SECOPS_FIXTURES_DIR to the shared fixtures folder"
        )
    if not BIN.is_file():
        pytest.fail(f"{BIN} is missing: run `cargo build -p simulators --bins` (or `make build`) first")
    started: list[subprocess.Popen] = []

    def start(config: str) -> Sim:
        admin_key, bob_key = secrets.token_hex(16), secrets.token_hex(16)
        proc = subprocess.Popen(
            [
                str(BIN), "panos", "--bind", "127.0.0.1:0",
                "--config", str(CONFIGS / config),
                "--api-key", admin_key, "--username", "admin", "--password", secrets.token_hex(8),
                "--user", f"bob:{secrets.token_hex(8)}:{bob_key}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(proc)
        line = _first_line(proc, START_TIMEOUT_S).strip()
        prefix = "listening on http://127.0.0.1:"
        if not line.startswith(prefix):
            raise RuntimeError(f"unexpected first line from vendor-sim: {line!r}")
        return Sim(port=int(line[len(prefix):]), admin_key=admin_key, bob_key=bob_key, proc=proc)

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
