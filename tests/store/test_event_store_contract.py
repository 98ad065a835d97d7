"""Conformance suite every ``EventStore`` implementation must pass.

Each test runs once per implementation in ``IMPLEMENTATIONS``. To add one (PostgreSQL, say),
write a factory ``(tmp_path) -> EventStore`` that returns an unopened store on a fresh,
empty database (calling ``pytest.skip`` when the server is not available) and add one
``pytest.param`` to the list.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from thinkgate.domain.chain import GENESIS_HASH, canonical, verify_chain
from thinkgate.errors import StoreError, VersionConflict
from thinkgate.store.base import EventStore, NewEvent, Snapshot
from thinkgate.store.memory import MemoryEventStore
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

StoreFactory = Callable[[Path], EventStore]


def _memory(tmp_path: Path) -> EventStore:
    return MemoryEventStore()


def _sqlite(tmp_path: Path) -> EventStore:
    return SqliteEventStore(tmp_path / "events.db")


def _postgres(tmp_path: Path) -> EventStore:
    from tests.pg import fresh_database

    from thinkgate.store.postgres import PostgresEventStore

    return PostgresEventStore(fresh_database())  # a real server; see tests/pg.py for where it comes from


IMPLEMENTATIONS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(_postgres, id="postgres"),
]


def ev(n: int, *, type_: str = "thought_recorded", **payload: Any) -> NewEvent:
    """A distinct event whose timestamp encodes ``n``."""
    return NewEvent(type_, {"n": n, **payload}, f"2026-01-01T00:00:{n:02d}.000Z")


def evs(first: int, count: int) -> list[NewEvent]:
    return [ev(n) for n in range(first, first + count)]


# -- append ------------------------------------------------------------------------------------


async def test_append_at_version_zero_creates_the_session(store: EventStore) -> None:
    assert await store.session("s1") is None
    stored = await store.append("s1", 0, [ev(1)])
    assert [e.version for e in stored] == [1]
    assert stored[0].session_id == "s1"
    assert stored[0].prev_hash == GENESIS_HASH
    info = await store.session("s1")
    assert info is not None
    assert info.version == 1
    assert await store.count_sessions() == 1


async def test_versions_are_contiguous_from_one_across_appends(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 3))
    await store.append("s1", 3, evs(4, 1))
    await store.append("s1", 4, evs(5, 2))
    rows = await store.read("s1")
    assert [r.version for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.data()["n"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for earlier, later in pairwise(rows):
        assert later.prev_hash == earlier.hash


async def test_append_returns_what_read_returns(store: EventStore) -> None:
    stored = await store.append("s1", 0, evs(1, 3))
    assert await store.read("s1") == stored


@pytest.mark.parametrize("wrong", [0, 1, 3, 99])
async def test_append_at_a_wrong_version_raises_and_appends_nothing(store: EventStore, wrong: int) -> None:
    await store.append("s1", 0, evs(1, 2))
    before = await store.session("s1")
    with pytest.raises(VersionConflict):
        await store.append("s1", wrong, [ev(9)])
    assert [r.version for r in await store.read("s1")] == [1, 2]
    assert await store.session("s1") == before


async def test_append_to_a_missing_session_with_nonzero_version_raises_and_creates_nothing(store: EventStore) -> None:
    with pytest.raises(VersionConflict):
        await store.append("ghost", 1, [ev(1)])
    assert await store.session("ghost") is None
    assert await store.read("ghost") == []
    assert await store.count_sessions() == 0


async def test_appending_no_events_changes_nothing(store: EventStore) -> None:
    assert await store.append("s1", 0, []) == []
    assert await store.session("s1") is None
    assert await store.count_sessions() == 0

    await store.append("s1", 0, evs(1, 2))
    before = await store.session("s1")
    assert await store.append("s1", 2, []) == []
    assert await store.session("s1") == before
    assert len(await store.read("s1")) == 2


async def test_appending_no_events_at_a_wrong_version_still_conflicts(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 2))
    with pytest.raises(VersionConflict):
        await store.append("s1", 1, [])


async def test_sessions_are_independent(store: EventStore) -> None:
    await store.append("a", 0, evs(1, 2))
    await store.append("b", 0, evs(10, 3))
    assert [r.data()["n"] for r in await store.read("a")] == [1, 2]
    assert [r.data()["n"] for r in await store.read("b")] == [10, 11, 12]
    assert all(r.session_id == "b" for r in await store.read("b"))


# -- read --------------------------------------------------------------------------------------


async def test_read_with_from_version_and_limit(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 10))

    async def versions(**kwargs: Any) -> list[int]:
        return [r.version for r in await store.read("s1", **kwargs)]

    assert await versions() == list(range(1, 11))
    assert await versions(from_version=4) == list(range(4, 11))
    assert await versions(limit=3) == [1, 2, 3]
    assert await versions(from_version=4, limit=3) == [4, 5, 6]
    assert await versions(from_version=9, limit=5) == [9, 10]
    assert await versions(from_version=10) == [10]
    assert await versions(from_version=11) == []
    assert await versions(from_version=4, limit=0) == []


async def test_read_of_an_unknown_session_is_empty(store: EventStore) -> None:
    assert await store.read("nobody") == []
    assert await store.read("nobody", 5, limit=2) == []


# -- session heads -----------------------------------------------------------------------------


async def test_session_head_tracks_version_hash_and_times(store: EventStore) -> None:
    first = await store.append("s1", 0, evs(1, 2))
    info = await store.session("s1")
    assert info is not None
    assert info.session_id == "s1"
    assert info.version == 2
    assert info.head_hash == first[-1].hash
    assert info.created_at == first[0].recorded_at
    assert info.updated_at == first[-1].recorded_at

    more = await store.append("s1", 2, evs(30, 3))
    info = await store.session("s1")
    assert info is not None
    assert info.version == 5
    assert info.head_hash == more[-1].hash
    assert info.created_at == first[0].recorded_at
    assert info.updated_at == more[-1].recorded_at


async def test_list_sessions_is_ordered_by_id_and_pages_with_after(store: EventStore) -> None:
    ids = ["delta", "alpha", "echo", "charlie", "bravo", "0-first", "Zulu"]
    for sid in ids:
        await store.append(sid, 0, [ev(1)])
    expected = sorted(ids)

    listed = await store.list_sessions()
    assert [i.session_id for i in listed] == expected
    assert all(i.version == 1 for i in listed)
    assert listed == [await store.session(sid) for sid in expected]

    pages: list[list[str]] = []
    after: str | None = None
    while True:
        page = await store.list_sessions(limit=3, after=after)
        if not page:
            break
        pages.append([i.session_id for i in page])
        after = page[-1].session_id
    assert pages == [expected[0:3], expected[3:6], expected[6:7]]

    assert [i.session_id for i in await store.list_sessions(after="charlie")] == ["delta", "echo"]
    assert [i.session_id for i in await store.list_sessions(after="c")] == ["charlie", "delta", "echo"]
    assert await store.list_sessions(after="zzz") == []


async def test_list_sessions_of_an_empty_store_is_empty(store: EventStore) -> None:
    assert await store.list_sessions() == []
    assert await store.count_sessions() == 0


async def test_count_sessions_counts_sessions_not_events(store: EventStore) -> None:
    for i, sid in enumerate(["a", "b", "c"]):
        await store.append(sid, 0, evs(1, i + 1))
    assert await store.count_sessions() == 3
    await store.append("a", 1, evs(2, 5))
    assert await store.count_sessions() == 3


# -- delete ------------------------------------------------------------------------------------


async def test_delete_session_removes_events_snapshot_and_head(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 3))
    await store.append("keep", 0, evs(1, 2))
    await store.save_snapshot(Snapshot("s1", 3, b"state"))
    await store.save_snapshot(Snapshot("keep", 2, b"kept"))

    assert await store.delete_session("s1") is True

    assert await store.session("s1") is None
    assert await store.read("s1") == []
    assert await store.load_snapshot("s1") is None
    assert await store.count_sessions() == 1
    assert [i.session_id for i in await store.list_sessions()] == ["keep"]
    assert len(await store.read("keep")) == 2
    assert await store.load_snapshot("keep") == Snapshot("keep", 2, b"kept")

    assert await store.delete_session("s1") is False
    assert await store.delete_session("never-existed") is False


async def test_a_deleted_session_can_be_created_again_from_version_zero(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 3))
    await store.save_snapshot(Snapshot("s1", 3, b"old"))
    await store.delete_session("s1")

    stored = await store.append("s1", 0, [ev(50)])
    assert [r.version for r in stored] == [1]
    assert stored[0].prev_hash == GENESIS_HASH
    assert [r.data()["n"] for r in await store.read("s1")] == [50]
    assert await store.load_snapshot("s1") is None


# -- snapshots ---------------------------------------------------------------------------------


async def test_snapshot_save_and_load(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 5))
    assert await store.load_snapshot("s1") is None
    snap = Snapshot("s1", 5, b'{"state": "\xc3\xa9"}\x00\xff')
    await store.save_snapshot(snap)
    assert await store.load_snapshot("s1") == snap


async def test_a_newer_snapshot_replaces_an_older_one(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 8))
    await store.save_snapshot(Snapshot("s1", 3, b"at-3"))
    await store.save_snapshot(Snapshot("s1", 8, b"at-8"))
    assert await store.load_snapshot("s1") == Snapshot("s1", 8, b"at-8")


async def test_saving_an_older_snapshot_keeps_the_newer_one(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 8))
    await store.save_snapshot(Snapshot("s1", 8, b"at-8"))
    await store.save_snapshot(Snapshot("s1", 3, b"at-3"))
    assert await store.load_snapshot("s1") == Snapshot("s1", 8, b"at-8")


async def test_a_snapshot_of_a_missing_session_is_not_kept(store: EventStore) -> None:
    await store.save_snapshot(Snapshot("ghost", 4, b"nothing"))
    assert await store.load_snapshot("ghost") is None
    assert await store.session("ghost") is None
    assert await store.count_sessions() == 0


# -- integrity and encoding --------------------------------------------------------------------


async def test_stored_events_form_a_valid_hash_chain(store: EventStore) -> None:
    await store.append("s1", 0, evs(1, 3))
    await store.append("s1", 3, evs(4, 4))
    rows = await store.read("s1")
    info = await store.session("s1")
    assert info is not None
    assert verify_chain("s1", rows, info.version, info.head_hash) is None


async def test_stored_payload_bytes_are_the_canonical_encoding(store: EventStore) -> None:
    payloads: list[dict[str, Any]] = [
        {"z": 1, "a": {"y": [3, 2, 1], "b": None}, "m": "μ"},
        {"text": "naïve café — 思考 🧠", "flag": True, "n": -1.5},
        {},
    ]
    new = [NewEvent("thought_recorded", p, f"2026-01-01T00:00:0{i}.000Z") for i, p in enumerate(payloads)]
    await store.append("s1", 0, new)
    rows = await store.read("s1")
    assert [r.payload for r in rows] == [canonical(p) for p in payloads]
    assert all(isinstance(r.payload, bytes) for r in rows)


async def test_event_data_round_trips_non_ascii_and_nested_payloads(store: EventStore) -> None:
    payload: dict[str, Any] = {
        "content": "Ünïcödé ✓ — 日本語 — emoji 🧪 — quotes \"' and \\ backslash\nnewline",
        "nested": {"deeper": {"list": [1, "two", {"three": 3.0}], "empty": {}, "none": None}},
        "result": {"branches": ["b-1", "ветка"], "warnings": []},
        "big": 2**53 - 1,
        "neg": -7,
        "bool": False,
    }
    await store.append("s1", 0, [NewEvent("thought_recorded", payload, "2026-01-01T00:00:00.000Z")])
    [row] = await store.read("s1")
    assert row.data() == payload
    assert row.type == "thought_recorded"
    assert row.recorded_at == "2026-01-01T00:00:00.000Z"


async def test_stored_fields_round_trip_exactly(store: EventStore) -> None:
    new = NewEvent("session_created", {"session_id": "s1", "mode": "cot"}, "2026-02-03T04:05:06.789Z")
    [stored] = await store.append("s1", 0, [new])
    [row] = await store.read("s1")
    assert row == stored
    assert row.type == "session_created"
    assert row.recorded_at == "2026-02-03T04:05:06.789Z"
    assert len(row.hash) == 64


# -- lifecycle ---------------------------------------------------------------------------------


async def test_calls_after_close_raise_store_error(store: EventStore) -> None:
    await store.append("s1", 0, [ev(1)])
    await store.close()
    with pytest.raises(StoreError):
        await store.append("s1", 1, [ev(2)])
    with pytest.raises(StoreError):
        await store.read("s1")
    with pytest.raises(StoreError):
        await store.session("s1")


async def test_appends_inside_an_exclusive_section_are_kept_when_it_ends(store: EventStore) -> None:
    async with store.exclusive("s1"):
        await store.append("s1", 0, [ev(1), ev(2)])
        await store.append("s1", 2, [ev(3)])
    info = await store.session("s1")
    assert info is not None and info.version == 3
    assert [e.version for e in await store.read("s1")] == [1, 2, 3]


async def test_a_failing_exclusive_section_leaves_the_session_as_it_was(store: EventStore) -> None:
    await store.append("s1", 0, [ev(1)])
    before = await store.session("s1")
    with pytest.raises(RuntimeError, match="boom"):
        async with store.exclusive("s1"):
            await store.append("s1", 1, [ev(2), ev(3)])
            raise RuntimeError("boom")
    assert await store.session("s1") == before
    assert [e.version for e in await store.read("s1")] == [1]
    await store.append("s1", 1, [ev(2)])  # and the session is writable again
    with pytest.raises(RuntimeError, match="boom"):
        async with store.exclusive("new"):
            await store.append("new", 0, [ev(1)])
            raise RuntimeError("boom")
    assert await store.session("new") is None
    assert await store.read("new") == []


async def test_recent_sessions_are_newest_first_and_page_with_a_key(store: EventStore) -> None:
    for i, sid in enumerate(["a", "b", "c", "d"]):
        await store.append(sid, 0, [NewEvent("session_created", {"n": i}, f"2026-01-01T00:00:0{i}.000Z")])
    await store.append("a", 1, [NewEvent("thought_recorded", {"n": 9}, "2026-01-01T00:00:09.000Z")])
    assert [i.session_id for i in await store.recent_sessions()] == ["a", "d", "c", "b"]
    first = await store.recent_sessions(limit=2)
    last = first[-1]
    rest = await store.recent_sessions(limit=2, before=(last.updated_at, last.session_id))
    assert [i.session_id for i in first + rest] == ["a", "d", "c", "b"]
    assert await store.recent_sessions(before=("2026-01-01T00:00:00.000Z", "a")) == []
