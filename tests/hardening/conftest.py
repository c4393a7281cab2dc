"""Fixtures for the hardening suites (helpers are in hardening_support.py).

`targets(server)` (module-scoped, lazy) starts a vendor server behind counted upstreams on
first use and keeps it for every hostile case of that server. `stack` (module-scoped) owns
every process, so nothing outlives the module that started it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _p in (str(HERE.parent / "harness"), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import hardening_support as hs  # noqa: E402
from secops_stack import Stack  # noqa: E402


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def stack():
    """Every process a test module starts; all stopped when the module is done."""
    st = Stack()
    try:
        yield st
    finally:
        st.close()
        while hs.closers:
            hs.closers.pop()()


@pytest.fixture(scope="module")
def targets(stack: Stack):
    """`targets(server)` starts `server` on first use and returns the same Target afterwards."""
    started: dict[str, hs.Target] = {}

    def get(server: str) -> hs.Target:
        if server not in started:
            started[server] = hs.start_target(stack, server)
        return started[server]

    return get


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The size of the hostile-input table, per server and category (when it was collected)."""
    mod = sys.modules.get("hostile_cases")
    if mod is None:
        return
    from collections import Counter

    cases = mod.CASES
    by = Counter((c.server, c.category) for c in cases)
    cats = [c for c in mod.CATEGORIES if any(by[(s, c)] for s in mod.SERVERS)]
    tr = terminalreporter
    tr.section("hostile-input table")
    tr.write_line(f"{len(cases)} cases over {len({(c.server, c.tool) for c in cases})} tools")
    tr.write_line(f"{'category':<20}" + "".join(f"{s:>15}" for s in mod.SERVERS) + f"{'total':>8}")
    for cat in cats:
        row = [by[(s, cat)] for s in mod.SERVERS]
        tr.write_line(f"{cat:<20}" + "".join(f"{n:>15}" for n in row) + f"{sum(row):>8}")
    totals = [sum(by[(s, c)] for c in cats) for s in mod.SERVERS]
    tr.write_line(f"{'total':<20}" + "".join(f"{n:>15}" for n in totals) + f"{sum(totals):>8}")
