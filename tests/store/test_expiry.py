"""Idle-session expiry on every store: only sessions idle past the cutoff go, and a write since the walk
keeps a session."""

from __future__ import annotations

import time

import pytest

from thinkgate.domain.thinking import RecordThought
from thinkgate.engine.engine import Engine
from thinkgate.errors import InvalidInput
from thinkgate.store.base import EventStore

pytestmark = pytest.mark.anyio

LONG_AGO = "2020-01-01T00:00:00.000Z"


async def test_expire_idle_deletes_only_sessions_idle_past_the_cutoff(store: EventStore) -> None:
    past = Engine(store, clock=lambda: LONG_AGO)
    present = Engine(store)
    for sid in ("old-1", "old-2"):
        await past.record_thought(sid, RecordThought("long ago", 1, 1, False))
    await present.record_thought("fresh", RecordThought("just now", 1, 1, False))
    await past.record_thought("revived", RecordThought("long ago", 1, 2, True))
    await present.record_thought("revived", RecordThought("and again now", 2, 2, False))

    assert sorted(await present.expire_idle(3600)) == ["old-1", "old-2"]
    assert await store.session("old-1") is None and await store.read("old-1") == []
    assert await store.load_snapshot("old-1") is None
    for sid in ("fresh", "revived"):
        assert await store.session(sid) is not None and await present.verify(sid) is None
    assert await present.expire_idle(3600) == []  # nothing left to expire
    with pytest.raises(InvalidInput):
        await present.expire_idle(0)


async def test_a_session_written_after_the_walk_is_kept(store: EventStore) -> None:
    past = Engine(store, clock=lambda: LONG_AGO)
    await past.record_thought("s", RecordThought("long ago", 1, 2, True))
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    await Engine(store).record_thought("s", RecordThought("back", 2, 2, False))  # between walk and delete
    assert await past._expire("s", cutoff) is False
    assert (await store.session("s")) is not None


async def test_expire_idle_stops_at_its_limit(store: EventStore) -> None:
    past = Engine(store, clock=lambda: LONG_AGO)
    for n in range(5):
        await past.record_thought(f"s{n}", RecordThought("old", 1, 1, False))
    assert len(await past.expire_idle(60, limit=2)) == 2
    assert await store.count_sessions() == 3
