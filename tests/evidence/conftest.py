"""Fixtures for the evidence checkers: a real root directory and a context over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkgate.evidence import CheckContext


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An allowed root: a real directory, resolved."""
    directory = tmp_path / "root"
    directory.mkdir()
    return directory.resolve()


@pytest.fixture
def ctx(root: Path) -> CheckContext:
    """A context with one root and no allow-listed programs."""
    return CheckContext(roots=(root,), commands=frozenset())
