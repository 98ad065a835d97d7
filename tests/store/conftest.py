"""The ``store`` fixture: every contract test runs on every event store implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.store.test_event_store_contract import IMPLEMENTATIONS, StoreFactory

from thinkgate.store.base import EventStore


@pytest.fixture(params=IMPLEMENTATIONS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    factory: StoreFactory = request.param
    s = factory(tmp_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
