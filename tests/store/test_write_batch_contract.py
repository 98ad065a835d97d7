"""Conformance of ``EventStore.write_batch``: the group commit behind every engine write.

Runs over the same implementations as ``test_event_store_contract.py`` (its ``IMPLEMENTATIONS``
list is imported, so a new store is covered here as soon as it is added there). A batch keeps
everything written inside it when it ends, or, when it fails, nothing: every session, head,
index and snapshot is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from thinkgate.domain.chain import GENESIS_HASH, verify_chain
from thinkgate.errors import StoreError, VersionConflict
from thinkgate.store.base import EventStore, NewEvent, Snapshot
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sqlite_pair(tmp_path: Path) -> AsyncIterator[tuple[SqliteEventStore, SqliteEventStore]]:
    """Two stores on one file: the writer, and another process's connection that only reads."""
    writer = SqliteEventStore(tmp_path / "events.db")
    reader = SqliteEventStore(tmp_path / "events.db")
    await writer.open()
    await reader.open()
    try:
        yield writer, reader
    finally:
        await reader.close()
        await writer.close()


def ev(n: int, *, request_id: str | None = None, thought_id: str | None = None) -> NewEvent:
    """A distinct event whose timestamp encodes ``n``, optionally indexed by request and thought id."""
    return NewEvent("thought_recorded", {"n": n}, f"2026-01-01T00:00:{n:02d}.000Z", request_id, thought_id)


SESSIONS = ("a", "b", "untouched")
REQUESTS = ("ra1", "ra2", "ra3", "rb1", "ru1")
THOUGHTS = ("ta1", "ta2", "ta3", "tb1", "tu1")


async def everything(store: EventStore) -> dict[str, Any]:
    """All a caller can observe of the sessions these tests use."""
    out: dict[str, Any] = {
        "count": await store.count_sessions(),
        "list": await store.list_sessions(),
        "recent": await store.recent_sessions(),
        "orphans": await store.orphan_sessions(),
    }
    for sid in SESSIONS:
        out[sid] = {
            "head": await store.session(sid),
            "events": await store.read(sid),
            "snapshot": await store.load_snapshot(sid),
            "requests": {r: await store.find_request(sid, r) for r in REQUESTS},
            "thoughts": {t: await store.find_thought(sid, t) for t in THOUGHTS},
        }
    return out


async def seed(store: EventStore) -> None:
    """Session ``a`` with two indexed events and a snapshot, and a session no batch touches."""
    await store.append("a", 0, [ev(1, request_id="ra1", thought_id="ta1"), ev(2, thought_id="ta2")])
    await store.save_snapshot(Snapshot("a", 2, b"a-at-2"))
    await store.append("untouched", 0, [ev(1, request_id="ru1", thought_id="tu1")])
    await store.save_snapshot(Snapshot("untouched", 1, b"u-at-1"))


async def assert_chains_valid(store: EventStore, *session_ids: str) -> None:
    for sid in session_ids:
        info = await store.session(sid)
        assert info is not None, sid
        rows = await store.read(sid)
        assert [r.version for r in rows] == list(range(1, info.version + 1))
        assert verify_chain(sid, rows, info.version, info.head_hash) is None


async def write_both(store: EventStore, *, sectioned: bool) -> None:
    """Append to ``a`` (existing) and ``b`` (new), with index entries and snapshots, as the engine does."""

    async def to_a() -> None:
        await store.append("a", 2, [ev(3, request_id="ra3", thought_id="ta3")])
        await store.append("a", 3, [ev(4)])
        await store.save_snapshot(Snapshot("a", 4, b"a-at-4"))

    async def to_b() -> None:
        await store.append("b", 0, [ev(1, request_id="rb1", thought_id="tb1"), ev(2)])
        await store.save_snapshot(Snapshot("b", 2, b"b-at-2"))

    if sectioned:
        async with store.exclusive("a"):
            await to_a()
        async with store.exclusive("b"):
            await to_b()
    else:
        await to_a()
        await to_b()


SECTIONED = pytest.mark.parametrize("sectioned", [True, False], ids=["in-exclusive", "bare-appends"])


# -- a batch that ends normally keeps everything -----------------------------------------------


@SECTIONED
async def test_appends_to_several_sessions_in_one_batch_are_all_kept(store: EventStore, sectioned: bool) -> None:
    await seed(store)
    async with store.write_batch():
        await write_both(store, sectioned=sectioned)
        # Inside the batch, the writing task already sees its own writes.
        info = await store.session("b")
        assert info is not None and info.version == 2
    a = await store.session("a")
    b = await store.session("b")
    assert a is not None and a.version == 4
    assert b is not None and b.version == 2
    assert [r.data()["n"] for r in await store.read("a")] == [1, 2, 3, 4]
    assert [r.data()["n"] for r in await store.read("b")] == [1, 2]
    assert (await store.read("b"))[0].prev_hash == GENESIS_HASH
    assert await store.count_sessions() == 3
    found = await store.find_request("a", "ra3")
    assert found is not None and found.version == 3
    found = await store.find_thought("b", "tb1")
    assert found is not None and found.version == 1
    assert await store.load_snapshot("a") == Snapshot("a", 4, b"a-at-4")
    assert await store.load_snapshot("b") == Snapshot("b", 2, b"b-at-2")
    await assert_chains_valid(store, *SESSIONS)


async def test_several_sections_of_one_session_in_a_batch_chain_on_each_other(store: EventStore) -> None:
    async with store.write_batch():
        for first in (1, 3, 5):
            async with store.exclusive("s"):
                await store.append("s", first - 1, [ev(first), ev(first + 1)])
        async with store.exclusive("t"):
            await store.append("t", 0, [ev(1)])
        async with store.exclusive("s"):
            await store.append("s", 6, [ev(7)])
    rows = await store.read("s")
    assert [r.version for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    await assert_chains_valid(store, "s", "t")


async def test_a_version_conflict_caught_inside_a_batch_does_not_spoil_it(store: EventStore) -> None:
    # The engine's retry: a stale expected version is refused, the caller reloads and appends again.
    await store.append("a", 0, [ev(1)])
    async with store.write_batch():
        async with store.exclusive("a"):
            with pytest.raises(VersionConflict):
                await store.append("a", 0, [ev(9)])
            await store.append("a", 1, [ev(2)])
        async with store.exclusive("b"):
            with pytest.raises(VersionConflict):
                await store.append("b", 3, [ev(9)])
            await store.append("b", 0, [ev(1)])
    assert [r.data()["n"] for r in await store.read("a")] == [1, 2]
    assert [r.data()["n"] for r in await store.read("b")] == [1]
    await assert_chains_valid(store, "a", "b")


async def test_nested_batches_and_sections_commit_with_the_outer_batch(store: EventStore) -> None:
    async with store.write_batch():
        async with store.write_batch():
            async with store.exclusive("a"):
                await store.append("a", 0, [ev(1)])
            async with store.write_batch(), store.exclusive("b"):
                await store.append("b", 0, [ev(1), ev(2)])
        async with store.exclusive("a"):
            await store.append("a", 1, [ev(2)])
    assert [r.version for r in await store.read("a")] == [1, 2]
    assert [r.version for r in await store.read("b")] == [1, 2]
    await assert_chains_valid(store, "a", "b")


async def test_an_empty_batch_changes_nothing(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    async with store.write_batch():
        pass
    assert await everything(store) == before


# -- a batch that fails keeps nothing ----------------------------------------------------------


@SECTIONED
async def test_a_failing_batch_leaves_every_session_exactly_as_it_was(store: EventStore, sectioned: bool) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(RuntimeError, match="boom"):
        async with store.write_batch():
            await write_both(store, sectioned=sectioned)
            raise RuntimeError("boom")
    assert await everything(store) == before
    assert await store.session("b") is None
    assert await store.read("b") == []
    assert await store.find_request("a", "ra3") is None
    assert await store.find_thought("b", "tb1") is None
    await assert_chains_valid(store, "a", "untouched")


@SECTIONED
async def test_after_a_failed_batch_the_same_writes_succeed(store: EventStore, sectioned: bool) -> None:
    await seed(store)
    with pytest.raises(RuntimeError):
        async with store.write_batch():
            await write_both(store, sectioned=sectioned)
            raise RuntimeError("boom")
    # The same versions, request ids and thought ids are free again.
    async with store.write_batch():
        await write_both(store, sectioned=sectioned)
    a = await store.session("a")
    assert a is not None and a.version == 4
    found = await store.find_request("b", "rb1")
    assert found is not None and found.version == 1
    await assert_chains_valid(store, *SESSIONS)


async def test_a_store_error_inside_a_batch_rolls_back_the_sessions_written_before_it(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(StoreError):
        async with store.write_batch():
            await write_both(store, sectioned=True)
            async with store.exclusive("a"):
                await store.append("a", 4, [ev(5, request_id="ra1")])  # a request id already used
    assert await everything(store) == before


async def test_an_append_refused_inside_a_batch_raises_store_error(store: EventStore) -> None:
    # ``append`` raises ``StoreError`` when the store refuses it, inside a batch as outside one.
    await seed(store)
    async with store.write_batch(), store.exclusive("a"):
        await store.append("a", 2, [ev(3)])
        with pytest.raises(StoreError):
            await store.append("a", 3, [ev(4, request_id="ra1")])  # a request id already used
    a = await store.session("a")
    assert a is not None and a.version == 3
    found = await store.find_request("a", "ra1")
    assert found is not None and found.version == 1
    await assert_chains_valid(store, "a")


async def test_a_failure_in_a_nested_batch_rolls_back_the_whole_outer_batch(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(RuntimeError, match="inner"):
        async with store.write_batch():
            async with store.exclusive("a"):
                await store.append("a", 2, [ev(3, request_id="ra3", thought_id="ta3")])
            async with store.write_batch():
                async with store.exclusive("b"):
                    await store.append("b", 0, [ev(1, request_id="rb1")])
                raise RuntimeError("inner")
    assert await everything(store) == before


async def test_writes_of_a_nested_batch_are_undone_when_the_outer_batch_fails_later(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(RuntimeError, match="outer"):
        async with store.write_batch():
            async with store.write_batch(), store.exclusive("b"):
                await store.append("b", 0, [ev(1, request_id="rb1", thought_id="tb1")])
            async with store.exclusive("a"):
                await store.append("a", 2, [ev(3)])
            raise RuntimeError("outer")
    assert await everything(store) == before


async def test_a_cancelled_batch_keeps_nothing(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with anyio.CancelScope() as scope:
        async with store.write_batch():
            await write_both(store, sectioned=True)
            scope.cancel()
            await anyio.lowlevel.checkpoint()  # the cancellation is delivered here, inside the batch
    assert scope.cancelled_caught
    assert await everything(store) == before


async def test_a_failing_section_caught_inside_a_batch_leaves_its_session_as_it_was(store: EventStore) -> None:
    # The contract of ``exclusive`` (a failing section leaves the session as it found it) holds
    # inside a batch too; the batch's other writes are kept.
    await seed(store)
    async with store.write_batch():
        async with store.exclusive("a"):
            await store.append("a", 2, [ev(3)])
        with pytest.raises(RuntimeError, match="section"):
            async with store.exclusive("b"):
                await store.append("b", 0, [ev(1, request_id="rb1", thought_id="tb1")])
                raise RuntimeError("section")
    a = await store.session("a")
    assert a is not None and a.version == 3
    assert await store.session("b") is None
    assert await store.read("b") == []
    assert await store.find_request("b", "rb1") is None
    assert await store.count_sessions() == 2


# -- SQLite: one transaction, invisible to other connections until it commits -----------------


async def test_sqlite_another_connection_sees_a_batch_only_when_it_ends(
    sqlite_pair: tuple[SqliteEventStore, SqliteEventStore],
) -> None:
    writer, reader = sqlite_pair
    await writer.append("a", 0, [ev(1)])
    async with writer.write_batch():
        async with writer.exclusive("a"):
            await writer.append("a", 1, [ev(2, request_id="ra2")])
        async with writer.exclusive("b"):
            await writer.append("b", 0, [ev(1), ev(2)])
        async with writer.write_batch():
            await writer.append("c", 0, [ev(1)])  # a nested batch commits with the outer one
        # The other connection still sees the last commit before the batch.
        info = await reader.session("a")
        assert info is not None and info.version == 1
        assert [r.version for r in await reader.read("a")] == [1]
        assert await reader.session("b") is None
        assert await reader.read("b") == []
        assert await reader.session("c") is None
        assert await reader.find_request("a", "ra2") is None
        assert await reader.count_sessions() == 1
    info = await reader.session("a")
    assert info is not None and info.version == 2
    b = await reader.session("b")
    assert b is not None and b.version == 2
    assert await reader.session("c") is not None
    assert await reader.count_sessions() == 3
    await assert_chains_valid(reader, "a", "b", "c")


async def test_sqlite_another_connection_never_sees_a_failed_batch(
    sqlite_pair: tuple[SqliteEventStore, SqliteEventStore],
) -> None:
    writer, reader = sqlite_pair
    await seed(writer)
    before = await everything(reader)
    with pytest.raises(RuntimeError):
        async with writer.write_batch():
            await write_both(writer, sectioned=True)
            assert await everything(reader) == before
            raise RuntimeError("boom")
    assert await everything(reader) == before
    assert await everything(writer) == before
