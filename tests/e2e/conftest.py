"""Fixtures shared by the end-to-end suites: the harness and the Traefik helper on sys.path, anyio on asyncio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "harness"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"
