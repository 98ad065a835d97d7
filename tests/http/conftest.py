"""Fixtures for the HTTP sidecar tests: a real server subprocess on a free loopback port."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from sidecar import Sidecar  # noqa: E402


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """One server per test module, on a fresh SQLite file."""
    db = tmp_path_factory.mktemp("http") / "tg.db"
    with Sidecar(db) as server:
        yield server
