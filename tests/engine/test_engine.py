"""The engine over real stores: results, idempotency, snapshots, the hot cache, caps, history, integrity.

Most tests run on both the memory and the SQLite store. "Another engine on the same store"
means, for SQLite, a second store on the same file (a second server process); for memory,
a second engine sharing the one store object.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import commands

from thinkgate.domain.events import event_from_payload
from thinkgate.domain.state import SessionState, replay
from thinkgate.domain.thinking import ClearHistory, Limits, RecordThought
from thinkgate.engine.engine import SNAPSHOT_FORMAT, Engine, EngineConfig
from thinkgate.errors import (
    IdempotencyConflict,
    InvalidSessionId,
    LimitExceeded,
    SessionNotFound,
    StoreError,
    ThinkGateError,
)
from thinkgate.store.base import EventStore, NewEvent
from thinkgate.store.memory import MemoryEventStore
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

OFFICIAL_FIELDS = ("thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength")


class Rig:
    """Builds engines on one shared store (memory) or one shared file (SQLite) and closes them all."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.path = tmp_path / "events.db"
        self._memory = MemoryEventStore()
        self._opened: list[EventStore] = []

    async def engine(self, config: EngineConfig | None = None) -> Engine:
        if self.kind == "memory":
            store: EventStore = self._memory
            if not self._opened:
                await store.open()
                self._opened.append(store)
        else:
            store = SqliteEventStore(self.path)
            await store.open()
            self._opened.append(store)
        return Engine(store, config)

    async def close(self) -> None:
        for store in reversed(self._opened):
            await store.close()


@pytest.fixture(params=["memory", "sqlite"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(request.param, tmp_path)
    try:
        yield r
    finally:
        await r.close()


@pytest.fixture
async def sqlite_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig("sqlite", tmp_path)
    try:
        yield r
    finally:
        await r.close()


@pytest.fixture
async def engine(rig: Rig) -> Engine:
    return await rig.engine()


def step(
    n: int,
    total: int = 5,
    *,
    text: str | None = None,
    next_needed: bool = True,
    request_id: str | None = None,
    **kwargs: Any,
) -> RecordThought:
    return RecordThought(
        thought=text if text is not None else f"thought {n}",
        thought_number=n,
        total_thoughts=total,
        next_thought_needed=next_needed,
        request_id=request_id,
        **kwargs,
    )


async def version_of(engine: Engine, session_id: str) -> int:
    info = await engine.store.session(session_id)
    return 0 if info is None else info.version


async def replayed(engine: Engine, session_id: str) -> SessionState:
    """The session's state from a full replay of its stored events, bypassing cache and snapshots."""
    rows = await engine.events(session_id)
    state = replay(event_from_payload(r.type, r.data()) for r in rows)
    assert state is not None
    return state


def sql(store: EventStore) -> sqlite3.Connection:
    assert isinstance(store, SqliteEventStore)
    return store.db


# -- recording thoughts ------------------------------------------------------------------------


async def test_recording_thoughts_returns_the_official_result_fields(engine: Engine) -> None:
    first = await engine.record_thought("s1", step(1, 3))
    assert {k: first[k] for k in OFFICIAL_FIELDS} == {
        "thoughtNumber": 1,
        "totalThoughts": 3,
        "nextThoughtNeeded": True,
        "branches": [],
        "thoughtHistoryLength": 1,
    }
    assert type(first["thoughtNumber"]) is int
    assert type(first["nextThoughtNeeded"]) is bool
    assert first["sessionId"] == "s1"
    assert first["thoughtId"] == "t1"

    # totalThoughts is raised to thoughtNumber when smaller.
    second = await engine.record_thought("s1", step(4, 3))
    assert second["totalThoughts"] == 4
    assert second["thoughtHistoryLength"] == 2
    assert second["thoughtId"] == "t2"

    branched = await engine.record_thought("s1", step(2, 4, branch_from_thought=1, branch_id="alt"))
    assert branched["branches"] == ["alt"]
    assert branched["branchId"] == "alt"
    again = await engine.record_thought("s1", step(3, 4, branch_from_thought=2, branch_id="other"))
    assert again["branches"] == ["alt", "other"]
    # As in the official server, a branchId alone tags the thought but opens no branch.
    tagged = await engine.record_thought("s1", step(4, 4, branch_id="tag-only"))
    assert tagged["branches"] == ["alt", "other"]
    assert tagged["branchId"] == "tag-only"

    last = await engine.record_thought("s1", step(5, 5, next_needed=False))
    assert last["nextThoughtNeeded"] is False
    assert last["thoughtHistoryLength"] == 6
    # session_created plus six thoughts
    assert await version_of(engine, "s1") == 7


async def test_a_retried_request_returns_the_first_result_and_appends_nothing(engine: Engine) -> None:
    await engine.record_thought("s1", step(1))
    first = await engine.record_thought("s1", step(2, request_id="req-2"))
    version = await version_of(engine, "s1")

    for _ in range(3):
        assert await engine.record_thought("s1", step(2, request_id="req-2")) == first
    assert await version_of(engine, "s1") == version

    # A retry after the state left the cache is answered from the log just the same.
    engine.cache.drop("s1")
    assert await engine.record_thought("s1", step(2, request_id="req-2")) == first
    assert await version_of(engine, "s1") == version
    nxt = await engine.record_thought("s1", step(3))
    assert nxt["thoughtId"] == "t3"
    assert nxt["thoughtHistoryLength"] == 3


async def test_a_retried_first_request_does_not_create_a_second_session_event(engine: Engine) -> None:
    first = await engine.record_thought("s1", step(1, request_id="r1"))
    assert await engine.record_thought("s1", step(1, request_id="r1")) == first
    assert [r.type for r in await engine.events("s1")] == ["session_created", "thought_recorded"]


async def test_a_reused_request_id_with_other_arguments_is_a_conflict_and_appends_nothing(engine: Engine) -> None:
    await engine.record_thought("s1", step(1, request_id="req-1"))
    version = await version_of(engine, "s1")
    with pytest.raises(IdempotencyConflict):
        await engine.record_thought("s1", step(1, text="something else", request_id="req-1"))
    with pytest.raises(IdempotencyConflict):
        await engine.record_thought("s1", step(2, request_id="req-1"))
    assert await version_of(engine, "s1") == version
    assert (await engine.history("s1")).thoughts[-1]["thought"] == "thought 1"


async def test_a_retry_that_lands_on_another_engine_returns_the_first_result(rig: Rig) -> None:
    a = await rig.engine()
    b = await rig.engine()
    await b.record_thought("s1", step(1))  # b now caches the session at version 2
    first = await a.record_thought("s1", step(2, request_id="r2"))
    version = await version_of(a, "s1")

    assert await b.record_thought("s1", step(2, request_id="r2")) == first
    assert await version_of(a, "s1") == version


async def test_clear_history_is_idempotent_per_request_id(engine: Engine) -> None:
    for n in (1, 2):
        await engine.record_thought("s1", step(n))
    first = await engine.clear_history("s1", request_id="clear-1")
    assert first == {"sessionId": "s1", "cleared": 2}
    version = await version_of(engine, "s1")
    assert await engine.clear_history("s1", request_id="clear-1") == first
    assert await version_of(engine, "s1") == version


# -- snapshots ---------------------------------------------------------------------------------


async def write_varied_thoughts(engine: Engine, session_id: str, count: int) -> None:
    """``count`` thoughts with branches, revisions, request ids and one history clear among them."""
    for n in range(1, count + 1):
        if n == 12:
            await engine.clear_history(session_id, request_id="clear-at-12")
        if n % 7 == 0:
            cmd = step(n, count, branch_from_thought=n - 1, branch_id=f"b{n}", request_id=f"r{n}")
        elif n % 5 == 0:
            cmd = step(n, count, revises_thought=n - 1, is_revision=True)
        else:
            cmd = step(n, count, request_id=f"r{n}" if n % 2 else None)
        await engine.record_thought(session_id, cmd)


async def test_snapshots_are_taken_and_a_fresh_engine_loads_the_replayed_state(rig: Rig) -> None:
    config = EngineConfig(snapshot_every=10)
    writer = await rig.engine(config)
    await write_varied_thoughts(writer, "s1", 25)

    snap = await writer.store.load_snapshot("s1")
    assert snap is not None
    assert snap.version >= 20

    expected = (await replayed(writer, "s1")).to_snapshot()
    written = await writer.load("s1")
    assert written is not None
    assert written.to_snapshot() == expected

    fresh = await rig.engine(config)
    loaded = await fresh.load("s1")
    assert loaded is not None
    assert loaded.to_snapshot() == expected

    # ...and the fresh engine carries on where the writer stopped.
    nxt = await fresh.record_thought("s1", step(26, 26))
    assert nxt["thoughtId"] == "t26"
    assert nxt["thoughtHistoryLength"] == expected["history_length"] + 1


async def test_loading_starts_from_the_snapshot_and_reads_only_the_tail(sqlite_rig: Rig) -> None:
    config = EngineConfig(snapshot_every=10)
    writer = await sqlite_rig.engine(config)
    await write_varied_thoughts(writer, "s1", 25)
    expected = (await replayed(writer, "s1")).to_snapshot()
    snap = await writer.store.load_snapshot("s1")
    assert snap is not None

    # Without the events before the snapshot, only a snapshot-based load can rebuild the state
    # (the event at the snapshot's version stays: its hash anchors the snapshot to the log).
    with sql(writer.store) as db:
        db.execute("DELETE FROM events WHERE session_id = 's1' AND version < ?", (snap.version,))

    fresh = await sqlite_rig.engine(config)
    loaded = await fresh.load("s1")
    assert loaded is not None
    assert loaded.to_snapshot() == expected


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff not json at all",
        b"",
        b'{"format": 99, "state": {}}',
        b'{"format": 1, "state": {"session_id": "s1"}}',
        b'{"format": 1, "state": {"numbers": 5}}',
        b'{"format": 1}',
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
    ],
    ids=["binary", "empty", "unknown-format", "missing-fields", "wrong-types", "no-state", "array", "string", "null"],
)
async def test_a_corrupted_snapshot_is_ignored_and_the_state_loads_from_events(sqlite_rig: Rig, garbage: bytes) -> None:
    config = EngineConfig(snapshot_every=10)
    writer = await sqlite_rig.engine(config)
    await write_varied_thoughts(writer, "s1", 25)
    expected = (await replayed(writer, "s1")).to_snapshot()

    with sql(writer.store) as db:
        changed = db.execute("UPDATE snapshots SET state = ? WHERE session_id = 's1'", (garbage,)).rowcount
    assert changed == 1

    fresh = await sqlite_rig.engine(config)
    loaded = await fresh.load("s1")
    assert loaded is not None
    assert loaded.to_snapshot() == expected
    result = await fresh.record_thought("s1", step(26, 26))
    assert result["thoughtId"] == "t26"


def _truncate_the_branches(state: dict[str, Any]) -> None:
    state["branches"] = "not a list"


def _claim_a_later_version(state: dict[str, Any]) -> None:
    state["version"] += 50


def _claim_another_session(state: dict[str, Any]) -> None:
    state["session_id"] = "someone-else"


def _number_is_not_a_number(state: dict[str, Any]) -> None:
    state["numbers"][0] = "one"


@pytest.mark.parametrize(
    "corrupt", [_truncate_the_branches, _claim_a_later_version, _claim_another_session, _number_is_not_a_number]
)
async def test_a_well_formed_but_inconsistent_snapshot_is_ignored(sqlite_rig: Rig, corrupt: Any) -> None:
    config = EngineConfig(snapshot_every=10)
    writer = await sqlite_rig.engine(config)
    await write_varied_thoughts(writer, "s1", 25)
    expected = (await replayed(writer, "s1")).to_snapshot()
    snap = await writer.store.load_snapshot("s1")
    assert snap is not None
    blob = orjson.loads(snap.state)
    corrupt(blob["state"])
    with sql(writer.store) as db:
        db.execute("UPDATE snapshots SET state = ? WHERE session_id = 's1'", (orjson.dumps(blob),))

    fresh = await sqlite_rig.engine(config)
    loaded = await fresh.load("s1")
    assert loaded is not None
    assert loaded.to_snapshot() == expected
    result = await fresh.record_thought("s1", step(26, 26))
    assert result["thoughtId"] == "t26"
    assert result["sessionId"] == "s1"


async def test_snapshot_blobs_are_versioned_json(sqlite_rig: Rig) -> None:
    writer = await sqlite_rig.engine(EngineConfig(snapshot_every=4))
    for n in range(1, 6):
        await writer.record_thought("s1", step(n))
    snap = await writer.store.load_snapshot("s1")
    assert snap is not None
    data = orjson.loads(snap.state)
    assert data["format"] == SNAPSHOT_FORMAT
    assert data["state"]["version"] == snap.version
    assert data["state"]["session_id"] == "s1"


# -- the hot-session cache ---------------------------------------------------------------------


async def test_the_cache_is_bounded_by_session_count(rig: Rig) -> None:
    engine = await rig.engine(EngineConfig(cache_max_sessions=5))
    for i in range(50):
        await engine.record_thought(f"s{i}", step(1))
        assert len(engine.cache) <= 5
    assert len(engine.cache) == 5
    assert await engine.store.count_sessions() == 50


async def test_the_cache_is_bounded_by_bytes(rig: Rig) -> None:
    cap = 2_000
    engine = await rig.engine(EngineConfig(cache_max_bytes=cap))
    for i in range(50):
        await engine.record_thought(f"s{i}", step(1))
        await engine.record_thought(f"s{i}", step(2, request_id=f"r{i}"))
        assert engine.cache.bytes <= cap
    assert 1 <= len(engine.cache) < 50
    # The byte count is kept exactly: dropping everything brings it back to zero.
    for i in range(50):
        engine.cache.drop(f"s{i}")
    assert len(engine.cache) == 0
    assert engine.cache.bytes == 0


async def test_a_single_entry_larger_than_the_byte_cap_is_kept_alone(rig: Rig) -> None:
    cap = 100  # smaller than any session state
    engine = await rig.engine(EngineConfig(cache_max_bytes=cap))
    for i in range(5):
        await engine.record_thought(f"s{i}", step(1))
        assert len(engine.cache) == 1
        assert engine.cache.get(f"s{i}") is not None
        assert engine.cache.bytes > cap


async def test_evicted_sessions_reload_and_keep_numbering(rig: Rig) -> None:
    engine = await rig.engine(EngineConfig(cache_max_sessions=1))
    sessions = ["a", "b", "c"]
    for n in range(1, 6):
        for sid in sessions:
            result = await engine.record_thought(sid, step(n, request_id=f"{sid}-{n}"))
            assert result["thoughtId"] == f"t{n}"
            assert result["thoughtHistoryLength"] == n
            assert len(engine.cache) == 1
    for sid in sessions:
        loaded = await engine.load(sid)
        assert loaded is not None
        assert loaded.to_snapshot() == (await replayed(engine, sid)).to_snapshot()
        assert [t["thoughtId"] for t in (await engine.history(sid)).thoughts] == [f"t{n}" for n in range(1, 6)]
    # Idempotency survives eviction too.
    engine.cache.drop("a")
    version = await version_of(engine, "a")
    assert (await engine.record_thought("a", step(3, request_id="a-3")))["thoughtId"] == "t3"
    assert await version_of(engine, "a") == version


# -- two writers -------------------------------------------------------------------------------


async def test_two_engines_writing_one_session_alternately_both_succeed(rig: Rig) -> None:
    a = await rig.engine()
    b = await rig.engine()
    results: list[dict[str, Any]] = []
    for n in range(1, 21):
        writer = a if n % 2 else b
        results.append(await writer.record_thought("shared", step(n, 20, text=f"from {n}")))

    assert [r["thoughtId"] for r in results] == [f"t{n}" for n in range(1, 21)]
    assert [r["thoughtHistoryLength"] for r in results] == list(range(1, 21))

    rows = await a.events("shared")
    assert [r.version for r in rows] == list(range(1, 22))
    assert [r.type for r in rows].count("session_created") == 1
    contents = [r.data()["content"] for r in rows if r.type == "thought_recorded"]
    assert contents == [f"from {n}" for n in range(1, 21)]
    assert await a.verify("shared") is None
    assert await b.verify("shared") is None


async def test_two_engines_creating_one_session_create_it_once(rig: Rig) -> None:
    a = await rig.engine()
    b = await rig.engine()
    assert await a.load("new") is None
    assert await b.load("new") is None
    await a.record_thought("new", step(1, text="a"))
    result = await b.record_thought("new", step(2, text="b"))
    assert result["thoughtHistoryLength"] == 2
    assert [r.type for r in await a.events("new")] == ["session_created", "thought_recorded", "thought_recorded"]


# -- caps --------------------------------------------------------------------------------------


async def test_the_session_cap_refuses_a_new_session_but_not_existing_ones(rig: Rig) -> None:
    engine = await rig.engine(EngineConfig(max_sessions=3))
    for sid in ("a", "b", "c"):
        await engine.record_thought(sid, step(1))
    with pytest.raises(LimitExceeded):
        await engine.record_thought("d", step(1))
    assert await engine.load("d") is None
    assert await engine.store.count_sessions() == 3

    result = await engine.record_thought("a", step(2))
    assert result["thoughtHistoryLength"] == 2

    assert await engine.delete("b") is True
    await engine.record_thought("d", step(1))
    assert await engine.store.count_sessions() == 3


async def test_the_thoughts_per_session_cap_refuses_one_more(rig: Rig) -> None:
    engine = await rig.engine(EngineConfig(limits=Limits(max_thoughts_per_session=3)))
    for n in (1, 2):
        await engine.record_thought("s1", step(n))
    third = await engine.record_thought("s1", step(3, request_id="r3"))
    version = await version_of(engine, "s1")
    with pytest.raises(LimitExceeded):
        await engine.record_thought("s1", step(4))
    assert await version_of(engine, "s1") == version
    # A retry of a call that was accepted is still answered at the cap.
    assert await engine.record_thought("s1", step(3, request_id="r3")) == third
    # Other sessions are unaffected.
    assert (await engine.record_thought("s2", step(1)))["thoughtId"] == "t1"


# -- clearing and history ----------------------------------------------------------------------


async def test_clear_history_starts_afresh_but_keeps_the_events(engine: Engine) -> None:
    await engine.record_thought("s1", step(1, text="old one"))
    await engine.record_thought("s1", step(2, branch_from_thought=1, branch_id="old-branch", text="old two"))
    assert await engine.clear_history("s1") == {"sessionId": "s1", "cleared": 2}

    state = await engine.load("s1")
    assert state is not None
    assert state.history_length == 0
    assert list(state.branches) == []
    assert (await engine.history("s1")).thoughts == []

    result = await engine.record_thought("s1", step(1, text="new one"))
    assert result["thoughtHistoryLength"] == 1
    assert result["branches"] == []
    assert result["thoughtId"] == "t3"  # ids never repeat within a session

    page = await engine.history("s1")
    assert [t["thought"] for t in page.thoughts] == ["new one"]
    contents = [r.data()["content"] for r in await engine.events("s1") if r.type == "thought_recorded"]
    assert contents == ["old one", "old two", "new one"]


async def test_clearing_an_unknown_session_is_session_not_found(engine: Engine) -> None:
    with pytest.raises(SessionNotFound):
        await engine.clear_history("nobody")
    assert await engine.load("nobody") is None


async def test_history_pages_with_cursor_and_limit(engine: Engine) -> None:
    for n in range(1, 8):
        await engine.record_thought("s1", step(n, 7))
    pages: list[list[int]] = []
    cursor: str | None = None
    for _ in range(10):
        page = await engine.history("s1", cursor=cursor, limit=3)
        assert page.session_id == "s1"
        pages.append([t["thoughtNumber"] for t in page.thoughts])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]

    whole = await engine.history("s1")
    assert [t["thoughtId"] for t in whole.thoughts] == [f"t{n}" for n in range(1, 8)]
    assert whole.next_cursor is None
    view = whole.thoughts[0]
    assert view["thought"] == "thought 1"
    assert view["totalThoughts"] == 7
    assert view["nextThoughtNeeded"] is True
    assert isinstance(view["recordedAt"], str)


async def test_history_pages_that_end_exactly_on_the_last_thought_have_no_cursor(engine: Engine) -> None:
    for n in range(1, 7):
        await engine.record_thought("s1", step(n, 6))
    first = await engine.history("s1", limit=3)
    assert first.next_cursor is not None
    second = await engine.history("s1", cursor=first.next_cursor, limit=3)
    assert [t["thoughtNumber"] for t in second.thoughts] == [4, 5, 6]
    assert second.next_cursor is None


async def test_history_filters_by_branch(engine: Engine) -> None:
    await engine.record_thought("s1", step(1))
    await engine.record_thought("s1", step(2))
    await engine.record_thought("s1", step(2, branch_from_thought=1, branch_id="alt", text="alt a"))
    await engine.record_thought("s1", step(3))
    await engine.record_thought("s1", step(3, branch_id="alt", text="alt b"))
    await engine.record_thought("s1", step(3, branch_from_thought=2, branch_id="other", text="other a"))

    alt = await engine.history("s1", branch_id="alt")
    assert [t["thought"] for t in alt.thoughts] == ["alt a", "alt b"]
    assert all(t["branchId"] == "alt" for t in alt.thoughts)
    assert alt.thoughts[0]["branchFromThought"] == 1

    paged = await engine.history("s1", branch_id="alt", limit=1)
    assert [t["thought"] for t in paged.thoughts] == ["alt a"]
    assert paged.next_cursor is not None
    rest = await engine.history("s1", branch_id="alt", cursor=paged.next_cursor, limit=1)
    assert [t["thought"] for t in rest.thoughts] == ["alt b"]

    assert (await engine.history("s1", branch_id="missing")).thoughts == []
    assert len((await engine.history("s1")).thoughts) == 6


async def test_history_of_an_unknown_session_is_session_not_found(engine: Engine) -> None:
    with pytest.raises(SessionNotFound):
        await engine.history("nobody")


@pytest.mark.parametrize("bad", ["../x", "", "a/b", "x" * 200, ".hidden", "-dash", "a b", "a\\b", "a..b", "é"])
async def test_invalid_session_ids_are_rejected(engine: Engine, bad: str) -> None:
    with pytest.raises(InvalidSessionId):
        await engine.record_thought(bad, step(1))
    with pytest.raises(InvalidSessionId):
        await engine.history(bad)
    with pytest.raises(InvalidSessionId):
        await engine.clear_history(bad)
    with pytest.raises(InvalidSessionId):
        await engine.delete(bad)
    assert await engine.store.count_sessions() == 0


async def test_the_longest_valid_session_id_is_accepted(engine: Engine) -> None:
    sid = "a" * 128
    assert (await engine.record_thought(sid, step(1)))["sessionId"] == sid


# -- integrity and deletion --------------------------------------------------------------------


async def test_verify_of_an_intact_session_is_none(engine: Engine) -> None:
    for n in range(1, 5):
        await engine.record_thought("s1", step(n))
    await engine.clear_history("s1")
    await engine.record_thought("s1", step(1))
    assert await engine.verify("s1") is None


async def test_verify_of_an_unknown_session_is_session_not_found(engine: Engine) -> None:
    with pytest.raises(SessionNotFound):
        await engine.verify("nobody")


async def test_verify_names_the_version_whose_payload_was_edited(sqlite_rig: Rig) -> None:
    engine = await sqlite_rig.engine()
    for n in range(1, 6):
        await engine.record_thought("s1", step(n, text=f"honest {n}"))
    [row] = await engine.store.read("s1", 3, limit=1)
    forged = row.payload.replace(b"honest 2", b"forged 2")
    assert forged != row.payload
    with sql(engine.store) as db:
        db.execute("UPDATE events SET payload = ? WHERE session_id = 's1' AND version = 3", (forged,))

    broken = await engine.verify("s1")
    assert broken is not None
    assert broken.session_id == "s1"
    assert broken.version == 3
    assert "edited" in broken.reason


async def test_delete_removes_the_session(engine: Engine) -> None:
    await engine.record_thought("s1", step(1))
    await engine.record_thought("keep", step(1))
    assert await engine.delete("s1") is True
    assert await engine.load("s1") is None
    assert await engine.events("s1") == []
    with pytest.raises(SessionNotFound):
        await engine.history("s1")
    assert await engine.delete("s1") is False
    assert [i.session_id for i in await engine.sessions()] == ["keep"]

    again = await engine.record_thought("s1", step(1))
    assert again["thoughtId"] == "t1"
    assert again["thoughtHistoryLength"] == 1


async def test_reads_see_writes_made_by_another_process(rig: Rig) -> None:
    a = await rig.engine()
    b = await rig.engine()
    for n in (1, 2, 3):
        await a.record_thought("shared", step(n, 3))
    assert len((await a.history("shared")).thoughts) == 3  # a now has the session cached
    await b.clear_history("shared")
    await b.record_thought("shared", step(1, 1))
    page = await a.history("shared")
    assert [t["thoughtNumber"] for t in page.thoughts] == [1]
    await b.delete("shared")
    with pytest.raises(SessionNotFound):
        await a.history("shared")


@settings(max_examples=60, deadline=None)
@given(st.lists(commands, min_size=1, max_size=25))
def test_a_failing_command_appends_nothing_and_leaves_the_state_as_it_was(cmds: list[Any]) -> None:
    async def scenario() -> None:
        store = MemoryEventStore()
        engine = Engine(store, EngineConfig(limits=Limits(max_thought_bytes=40, max_thoughts_per_session=12)))
        await engine.start()
        for cmd in cmds:
            info = await store.session("prop")
            before_version = info.version if info else 0
            before_state = await engine.load("prop")
            try:
                if isinstance(cmd, ClearHistory):
                    await engine.clear_history("prop", request_id=cmd.request_id)
                else:
                    await engine.record_thought("prop", cmd)
            except ThinkGateError:
                info = await store.session("prop")
                assert (info.version if info else 0) == before_version
                after_state = await engine.load("prop")
                assert (after_state.to_snapshot() if after_state else None) == (
                    before_state.to_snapshot() if before_state else None
                )
        await engine.stop()

    anyio.run(scenario)


async def test_an_edited_snapshot_fails_verification(sqlite_rig: Rig) -> None:
    engine = await sqlite_rig.engine(EngineConfig(snapshot_every=10))
    await write_varied_thoughts(engine, "s1", 25)
    assert await engine.verify("s1") is None
    snap = await engine.store.load_snapshot("s1")
    assert snap is not None
    blob = orjson.loads(snap.state)
    blob["state"]["history_length"] = 3
    blob["state"]["numbers"] = blob["state"]["numbers"][:2]
    with sql(engine.store) as db:
        db.execute("UPDATE snapshots SET state = ? WHERE session_id = 's1'", (orjson.dumps(blob),))
    brk = await engine.verify("s1")
    assert brk is not None
    assert brk.version == snap.version
    assert "snapshot" in brk.reason


async def test_verify_ignores_events_appended_after_it_read_the_head(sqlite_rig: Rig) -> None:
    engine = await sqlite_rig.engine()
    for n in range(1, 4):
        await engine.record_thought("live", step(n))
    real_session = engine.store.session

    async def session_then_a_concurrent_write(session_id: str) -> Any:
        head = await real_session(session_id)
        # Another writer commits right after the audit read the head.
        await engine.store.append(
            session_id, head.version, [NewEvent("history_cleared", {"cleared": 0, "request_id": None}, "later")]
        )
        return head

    engine.store.session = session_then_a_concurrent_write  # type: ignore[method-assign]
    assert await engine.verify("live") is None


class _CommitFails(SqliteEventStore):
    """A real SQLite store whose next write batch fails at commit time (like SQLITE_FULL)."""

    fail_next = False

    @asynccontextmanager
    async def write_batch(self, session_ids: Collection[str] = ()) -> AsyncIterator[None]:
        async with super().write_batch(session_ids):
            yield
            if self.fail_next:
                self.fail_next = False
                raise StoreError("disk full (simulated at commit)")


async def test_a_failed_commit_leaves_nothing_cached_and_the_retry_succeeds(tmp_path: Path) -> None:
    store = _CommitFails(tmp_path / "full.db")
    engine = Engine(store)
    await engine.start()
    try:
        await engine.record_thought("s", step(1))
        store.fail_next = True
        with pytest.raises(StoreError):
            await engine.record_thought("s", step(2, request_id="r2"))
        info = await store.session("s")
        assert info is not None and info.version == 2  # the failed section was rolled back
        retried = await engine.record_thought("s", step(2, request_id="r2"))
        assert retried["thoughtHistoryLength"] == 2
        again = await engine.record_thought("s", step(2, request_id="r2"))
        assert again == retried
    finally:
        await engine.stop()


async def test_a_revision_is_compared_with_the_stored_text_it_revises(rig: Rig) -> None:
    engine = await rig.engine()
    await engine.record_thought("rev", step(1, text="The cache is the bottleneck"))
    await engine.record_thought("rev", step(2))
    same = await engine.record_thought(
        "rev", step(3, text="the cache is the bottleneck", is_revision=True, revises_thought=1)
    )
    assert any("repeats thought 1" in f for f in same["feedback"])
