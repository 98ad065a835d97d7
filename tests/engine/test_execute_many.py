"""``Engine.execute_many``: group commit of many calls, over real stores.

The rule every test checks, one way or another: a batch gives each call exactly what it
would have got had the calls been made one at a time, in order, and stores the same events;
only the number of store transactions differs. Stores are the memory store and a SQLite
file; "a fresh engine" is an engine on a new, empty store of the same kind.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import commands, record_thoughts

from thinkgate.domain.events import Event, HistoryCleared, SessionCreated, ThoughtRecorded
from thinkgate.domain.thinking import ClearHistory, Command, Limits, RecordThought
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.errors import (
    IdempotencyConflict,
    InvalidInput,
    LimitExceeded,
    StoreError,
    ThinkGateError,
    ThoughtTooLong,
    UnknownReference,
    VersionConflict,
)
from thinkgate.store.base import AppendItem, AppendResult, EventStore, NewEvent, StoredEvent
from thinkgate.store.memory import MemoryEventStore
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

Call = tuple[str, Command]
Outcome = Event | ThinkGateError
TIME_FIELDS = frozenset({"recorded_at", "created_at"})


# -- stores and engines ------------------------------------------------------------------------


class _FailsAtCommit:
    """Mixed into a real store: its next write batch fails when it ends, after everything was appended
    (like SQLITE_FULL at commit time)."""

    fail_next = False

    @asynccontextmanager
    async def write_batch(self, session_ids: Collection[str] = ()) -> AsyncIterator[None]:
        async with super().write_batch(session_ids):  # type: ignore[misc]
            yield
            if self.fail_next:
                self.fail_next = False
                raise StoreError("disk full (simulated at commit)")


class _MemoryFailsAtCommit(_FailsAtCommit, MemoryEventStore):
    pass


class _SqliteFailsAtCommit(_FailsAtCommit, SqliteEventStore):
    pass


class _Counting:
    """Mixed into a real store: records the sessions of every ``append_many`` and counts ``append`` calls.

    Sessions named in ``always_conflict`` get a version conflict (and are not written), as if
    another process won the race every time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.append_many_calls: list[list[str]] = []
        self.appends = 0
        self.always_conflict: set[str] = set()

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        self.appends += 1
        return await super().append(session_id, expected_version, events)  # type: ignore[misc, no-any-return]

    async def append_many(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        self.append_many_calls.append([sid for sid, _, _ in items])
        appends = self.appends  # the memory store loops over ``append``: not the engine's calls
        passed = [item for item in items if item[0] not in self.always_conflict]
        written = iter(await super().append_many(passed))  # type: ignore[misc]
        self.appends = appends
        return [
            VersionConflict(f"session {sid!r} was written by someone else")
            if sid in self.always_conflict
            else next(written)
            for sid, _, _ in items
        ]


class _MemoryCounting(_Counting, MemoryEventStore):
    pass


class _SqliteCounting(_Counting, SqliteEventStore):
    pass


class _SuspendingStore(MemoryEventStore):
    """A memory store that yields to the event loop on every append, like a network database.

    Counts the write batches opened and the most that were ever open at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0
        self.open_batches = 0
        self.peak_open_batches = 0

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        await asyncio.sleep(0)
        return await super().append(session_id, expected_version, events)

    @asynccontextmanager
    async def write_batch(self, session_ids: Collection[str] = ()) -> AsyncIterator[None]:
        self.batches += 1
        self.open_batches += 1
        self.peak_open_batches = max(self.peak_open_batches, self.open_batches)
        try:
            async with super().write_batch(session_ids):
                yield
        finally:
            self.open_batches -= 1


class Stores:
    """Makes engines on fresh stores of one kind (each SQLite store on its own file) and closes them."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self._opened: list[EventStore] = []

    def counting(self, name: str) -> _Counting:
        return _MemoryCounting() if self.kind == "memory" else _SqliteCounting(self.tmp_path / f"{name}.db")

    def store(self, name: str, *, failing: bool = False) -> EventStore:
        if self.kind == "memory":
            return _MemoryFailsAtCommit() if failing else MemoryEventStore()
        path = self.tmp_path / f"{name}.db"
        return _SqliteFailsAtCommit(path) if failing else SqliteEventStore(path)

    async def engine(self, name: str, config: EngineConfig | None = None, *, store: EventStore | None = None) -> Engine:
        s = store if store is not None else self.store(name)
        await s.open()
        self._opened.append(s)
        return Engine(s, config)

    async def close(self) -> None:
        for s in reversed(self._opened):
            await s.close()


@pytest.fixture(params=["memory", "sqlite"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    s = Stores(request.param, tmp_path)
    try:
        yield s
    finally:
        await s.close()


def step(n: int, total: int = 5, *, text: str | None = None, request_id: str | None = None, **kw: Any) -> RecordThought:
    return RecordThought(
        thought=text if text is not None else f"thought {n}",
        thought_number=n,
        total_thoughts=total,
        next_thought_needed=True,
        request_id=request_id,
        **kw,
    )


# -- comparing outcomes and stores -------------------------------------------------------------


def view(outcome: Outcome | dict[str, Any]) -> tuple[Any, ...]:
    """What a caller learns from an outcome, whichever way it was obtained."""
    if isinstance(outcome, ThinkGateError):
        return ("error", type(outcome).__name__, outcome.message)
    if isinstance(outcome, dict):  # a record_thought result
        return ("thought", outcome)
    if isinstance(outcome, ThoughtRecorded):
        return ("thought", dict(outcome.result))
    if isinstance(outcome, HistoryCleared):
        return ("cleared", outcome.cleared, outcome.request_id)
    raise AssertionError(f"unexpected outcome {outcome!r}")


def untimed(value: Any) -> Any:
    """``value`` without its time fields (at any depth)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIME_FIELDS}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


async def stored(engine: Engine, session_ids: Sequence[str]) -> dict[str, list[tuple[int, str, Any]]]:
    """Every stored event of the sessions, as (version, type, payload without times)."""
    return {
        sid: [(r.version, r.type, untimed(r.data())) for r in await engine.store.read(sid)]
        for sid in sorted(set(session_ids))
    }


async def one_at_a_time(engine: Engine, calls: Sequence[Call]) -> list[tuple[Any, ...]]:
    """The calls made one by one: thoughts through ``record_thought``, clears as single calls."""
    out: list[tuple[Any, ...]] = []
    for sid, command in calls:
        if isinstance(command, RecordThought):
            try:
                out.append(view(await engine.record_thought(sid, command)))
            except ThinkGateError as exc:
                out.append(view(exc))
        else:
            out.append(view((await engine.execute_many([(sid, command)]))[0]))
    return out


async def assert_intact(engine: Engine, session_ids: Sequence[str]) -> None:
    for sid in set(session_ids):
        if await engine.store.session(sid) is not None:
            assert await engine.verify(sid) is None, sid
            state = await engine.load(sid)
            info = await engine.store.session(sid)
            assert state is not None and info is not None
            assert state.version == info.version  # the cache is never ahead of (or behind) the store


async def versions(engine: Engine, session_id: str) -> list[int]:
    return [r.version for r in await engine.store.read(session_id)]


# -- validation inside a batch -----------------------------------------------------------------

LIMITS = EngineConfig(limits=Limits(max_thought_bytes=100))


@pytest.mark.parametrize("existing", [False, True], ids=["new-session", "existing-session"])
async def test_invalid_calls_get_their_errors_and_the_valid_ones_are_stored_in_order(
    stores: Stores, existing: bool
) -> None:
    batched = await stores.engine("batched", LIMITS)
    fresh = await stores.engine("fresh", LIMITS)
    before: list[Call] = [("s", step(1, text="the first step"))] if existing else []
    base = len(before)
    calls: list[Call] = [
        ("s", step(base + 1, text="a valid step")),
        ("s", step(0)),  # thoughtNumber out of range
        ("s", step(base + 2, revises_thought=9)),  # names no thought
        ("s", step(base + 2, text="x" * 101)),  # over the length cap
        ("s", step(base + 2, text="another valid step")),
    ]
    for engine in (batched, fresh):
        await one_at_a_time(engine, before)

    results = await batched.execute_many(calls)

    assert [type(r) for r in results] == [
        ThoughtRecorded,
        InvalidInput,
        UnknownReference,
        ThoughtTooLong,
        ThoughtRecorded,
    ]
    assert "thoughtNumber" in str(results[1])
    assert "revisesThought=9" in str(results[2])
    first, last = results[0], results[4]
    assert isinstance(first, ThoughtRecorded) and isinstance(last, ThoughtRecorded)
    assert first.result["thoughtHistoryLength"] == base + 1
    assert last.result["thoughtHistoryLength"] == base + 2
    assert (first.thought_id, last.thought_id) == (f"t{base + 1}", f"t{base + 2}")
    rows = await batched.store.read("s")
    assert [r.version for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == 1 + base + 2  # session_created, the earlier thought, the two valid ones
    thoughts = [r.data()["content"] for r in rows if r.type == ThoughtRecorded.TYPE]
    assert thoughts[base:] == ["a valid step", "another valid step"]

    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)
    assert await stored(batched, ["s"]) == await stored(fresh, ["s"])
    await assert_intact(batched, ["s"])


async def test_a_batch_of_only_invalid_calls_writes_nothing(stores: Stores) -> None:
    engine = await stores.engine("e", LIMITS)
    await engine.record_thought("old", step(1))
    results = await engine.execute_many([("new", step(0)), ("old", step(2, branch_from_thought=7)), ("new", step(-1))])
    assert [type(r) for r in results] == [InvalidInput, UnknownReference, InvalidInput]
    assert await engine.store.session("new") is None
    assert await versions(engine, "old") == [1, 2]
    assert await engine.store.count_sessions() == 1


async def test_several_sessions_in_one_batch_including_new_ones(stores: Stores) -> None:
    batched = await stores.engine("batched")
    fresh = await stores.engine("fresh")
    before: list[Call] = [("old", step(1)), ("old", step(2))]
    calls: list[Call] = [
        ("old", step(3)),
        ("new", step(1, text="new one")),
        ("old", step(4, revises_thought=2, text="thought 2")),
        ("other", step(1)),
        ("new", step(2, branch_from_thought=1)),
        ("old", ClearHistory()),
        ("other", step(1, revises_thought=5)),
        ("new", step(3)),
        ("old", step(1)),
    ]
    for engine in (batched, fresh):
        await one_at_a_time(engine, before)

    results = await batched.execute_many(calls)

    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)
    sids = ["old", "new", "other"]
    assert await stored(batched, sids) == await stored(fresh, sids)
    assert await versions(batched, "old") == list(range(1, 8))  # created, 2 + 2 thoughts, clear, 1 thought
    assert await versions(batched, "new") == [1, 2, 3, 4]
    assert await versions(batched, "other") == [1, 2]
    assert isinstance(results[5], HistoryCleared) and results[5].cleared == 4
    assert isinstance(results[6], UnknownReference)
    await assert_intact(batched, sids)


async def test_a_session_over_the_session_cap_does_not_disturb_the_other_calls(stores: Stores) -> None:
    config = EngineConfig(max_sessions=2)
    batched = await stores.engine("batched", config)
    fresh = await stores.engine("fresh", config)
    before: list[Call] = [("a", step(1)), ("b", step(1))]
    calls: list[Call] = [("a", step(2)), ("c", step(1)), ("b", step(2))]
    for engine in (batched, fresh):
        await one_at_a_time(engine, before)
    expected = await one_at_a_time(fresh, calls)
    assert [v[0] for v in expected] == ["thought", "error", "thought"]
    assert expected[1][1] == "LimitExceeded"

    results = await batched.execute_many(calls)

    assert [view(r) for r in results] == expected
    assert isinstance(results[1], LimitExceeded)
    assert await stored(batched, ["a", "b", "c"]) == await stored(fresh, ["a", "b", "c"])
    assert await versions(batched, "a") == [1, 2, 3]


# -- request ids inside one batch --------------------------------------------------------------


async def test_the_same_request_id_twice_in_a_batch_gives_one_event_and_the_same_result(stores: Stores) -> None:
    engine = await stores.engine("e")
    calls: list[Call] = [
        ("s", step(1, request_id="r1")),
        ("s", step(1, request_id="r1")),
        ("s", step(2, request_id="r2")),
        ("s", step(1, request_id="r1")),
    ]
    results = await engine.execute_many(calls)
    first = results[0]
    assert isinstance(first, ThoughtRecorded)
    assert results[1] == first and results[3] == first
    assert isinstance(results[2], ThoughtRecorded) and results[2].thought_id == "t2"
    rows = await engine.store.read("s")
    assert [r.type for r in rows] == [SessionCreated.TYPE, ThoughtRecorded.TYPE, ThoughtRecorded.TYPE]
    found = await engine.store.find_request("s", "r1")
    assert found is not None and found.version == 2
    # A retry in a later call answers from the store with the same result.
    assert await engine.record_thought("s", step(1, request_id="r1")) == dict(first.result)
    assert await versions(engine, "s") == [1, 2, 3]

    fresh = await stores.engine("fresh")
    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)


async def test_a_request_id_reused_with_other_arguments_in_a_batch_conflicts(stores: Stores) -> None:
    engine = await stores.engine("e")
    calls: list[Call] = [
        ("s", step(1, request_id="r")),
        ("s", step(2, request_id="r")),
        ("s", ClearHistory(request_id="r")),
        ("s", ClearHistory(request_id="c")),
        ("s", step(1, request_id="c")),
        ("s", ClearHistory(request_id="c")),
    ]
    results = await engine.execute_many(calls)
    assert [type(r) for r in results] == [
        ThoughtRecorded,
        IdempotencyConflict,
        IdempotencyConflict,
        HistoryCleared,
        IdempotencyConflict,
        HistoryCleared,
    ]
    assert results[5] == results[3]
    rows = await engine.store.read("s")
    assert [r.type for r in rows] == [SessionCreated.TYPE, ThoughtRecorded.TYPE, HistoryCleared.TYPE]

    fresh = await stores.engine("fresh")
    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)
    assert await stored(engine, ["s"]) == await stored(fresh, ["s"])


async def test_the_same_request_id_in_two_sessions_of_a_batch_is_two_calls(stores: Stores) -> None:
    engine = await stores.engine("e")
    results = await engine.execute_many([("a", step(1, request_id="r")), ("b", step(1, request_id="r"))])
    assert all(isinstance(r, ThoughtRecorded) for r in results)
    assert await versions(engine, "a") == [1, 2]
    assert await versions(engine, "b") == [1, 2]


# -- another process wrote the session -------------------------------------------------------


async def test_a_batch_decides_again_when_another_process_wrote_a_session_first(stores: Stores) -> None:
    # ``other`` shares the store (memory: the same object; SQLite: the same file, another connection).
    engine = await stores.engine("shared")
    other_store = engine.store if stores.kind == "memory" else stores.store("shared")
    other = Engine(other_store) if stores.kind == "memory" else await stores.engine("shared", store=other_store)
    await engine.record_thought("s", step(1, text="mine"))
    assert (await engine.load("s") or pytest.fail("no state")).version == 2  # cached at version 2
    await other.record_thought("s", step(2, text="theirs", request_id="theirs"))

    results = await engine.execute_many(
        [
            ("s", step(3, request_id="r3")),
            ("n", step(1)),
            ("s", step(3, request_id="r3")),  # in-batch retry
            ("s", step(2, text="theirs", request_id="theirs")),  # retry of the other process's call
            ("s", step(4, text="THEIRS", revises_thought=2)),  # revises the other process's thought
        ]
    )

    assert all(isinstance(r, ThoughtRecorded) for r in results), results
    third, _, retried, theirs, revision = (r for r in results if isinstance(r, ThoughtRecorded))
    assert third.thought_id == "t3" and third.result["thoughtHistoryLength"] == 3
    assert retried == third
    assert theirs.content == "theirs" and theirs.thought_id == "t2"
    assert revision.thought_id == "t4"
    assert any("repeats thought 2" in f for f in revision.result["feedback"])
    assert await versions(engine, "s") == [1, 2, 3, 4, 5]
    await assert_intact(engine, ["s", "n"])


# -- one append_many per batch -----------------------------------------------------------------


async def test_a_batch_over_many_sessions_appends_them_all_with_one_call(stores: Stores) -> None:
    store = stores.counting("counted")
    engine = await stores.engine("counted", store=store)  # type: ignore[arg-type]
    fresh = await stores.engine("fresh")
    sids = [f"s{n:02d}" for n in range(40)]
    await one_at_a_time(engine, [(sid, step(1)) for sid in sids[::2]])  # half of them exist already
    await one_at_a_time(fresh, [(sid, step(1)) for sid in sids[::2]])
    store.append_many_calls.clear()
    calls: list[Call] = [(sid, step(2 if n % 2 == 0 else 1)) for n, sid in enumerate(sids)]
    calls += [(sid, step(3 if n % 2 == 0 else 2)) for n, sid in enumerate(sids)]
    calls += [("s00", step(0))]  # invalid: writes nothing, disturbs nothing

    results = await engine.execute_many(calls)

    assert store.append_many_calls == [sids]  # one call naming every session that writes, once
    assert store.appends == 0
    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)
    assert await stored(engine, sids) == await stored(fresh, sids)
    await assert_intact(engine, sids)


async def test_only_the_sessions_that_conflicted_are_decided_and_appended_again(stores: Stores) -> None:
    store = stores.counting("shared")
    engine = await stores.engine("shared", store=store)  # type: ignore[arg-type]
    other = Engine(store) if stores.kind == "memory" else await stores.engine("shared")  # type: ignore[arg-type]
    for sid in ("s", "t"):
        await engine.record_thought(sid, step(1, text="mine"))
    await other.record_thought("s", step(2, text="theirs"))  # engine's cached state of s is stale now
    store.append_many_calls.clear()

    results = await engine.execute_many([("t", step(2)), ("s", step(3)), ("n", step(1))])

    assert all(isinstance(r, ThoughtRecorded) for r in results), results
    assert store.append_many_calls == [["t", "s", "n"], ["s"]]
    assert await versions(engine, "s") == [1, 2, 3, 4]
    await assert_intact(engine, ["s", "t", "n"])


async def test_a_session_that_keeps_conflicting_fails_alone(stores: Stores) -> None:
    store = stores.counting("hot")
    engine = await stores.engine("hot", store=store)  # type: ignore[arg-type]
    await engine.record_thought("hot", step(1))
    store.always_conflict.add("hot")
    store.append_many_calls.clear()

    results = await engine.execute_many([("hot", step(2)), ("cool", step(1)), ("hot", step(3))])

    assert isinstance(results[0], VersionConflict) and isinstance(results[2], VersionConflict)
    assert isinstance(results[1], ThoughtRecorded)
    assert await versions(engine, "hot") == [1, 2]
    assert await versions(engine, "cool") == [1, 2]
    assert store.append_many_calls[0] == ["hot", "cool"]
    assert all(c == ["hot"] for c in store.append_many_calls[1:])
    await assert_intact(engine, ["hot", "cool"])


# -- revisions of thoughts recorded in the same batch ------------------------------------------


async def test_a_revision_of_a_thought_from_the_same_batch_sees_its_text(stores: Stores) -> None:
    engine = await stores.engine("e")
    fresh = await stores.engine("fresh")
    calls: list[Call] = [
        ("s", step(1, text="The cache is the bottleneck")),
        ("s", step(2)),
        ("s", step(3, text="the  cache is the BOTTLENECK", is_revision=True, revises_thought=1)),
        ("s", step(4, text="No: the disk is the bottleneck", revises_thought=1)),
        ("s", step(5, text="thought 2", revises_thought=2)),
    ]
    results = await engine.execute_many(calls)
    feedback = [r.result["feedback"] if isinstance(r, ThoughtRecorded) else None for r in results]
    assert any("repeats thought 1" in f for f in feedback[2] or [])
    assert not any("repeats thought" in f for f in feedback[3] or [])
    assert any("repeats thought 2" in f for f in feedback[4] or [])
    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)


async def test_a_revision_sees_the_redacted_text_of_a_thought_from_the_same_batch(stores: Stores) -> None:
    # What is compared is what was stored: the same whether the revised thought is in the batch or not.
    engine = await stores.engine("e")
    fresh = await stores.engine("fresh")
    secret = "the key is sk-ant-api03-" + "A1b2C3d4E5f6G7h8I9j0" * 4
    calls: list[Call] = [("s", step(1, text=secret)), ("s", step(2, text=secret, revises_thought=1))]
    results = await engine.execute_many(calls)
    assert [view(r) for r in results] == await one_at_a_time(fresh, calls)


# -- the store fails ---------------------------------------------------------------------------


async def test_a_failed_commit_fails_every_writing_call_and_keeps_nothing(stores: Stores) -> None:
    failing = stores.store("failing", failing=True)
    assert isinstance(failing, _MemoryFailsAtCommit | _SqliteFailsAtCommit)
    engine = await stores.engine("failing", store=failing)
    earlier = await engine.record_thought("s", step(1, request_id="old"))
    before = await stored(engine, ["s", "t"])
    snapshot_before = (await engine.load("s") or pytest.fail("no state")).to_snapshot()

    failing.fail_next = True
    results = await engine.execute_many(
        [
            ("s", step(2, request_id="n2")),
            ("s", step(0)),  # invalid: its own error, not the store's
            ("s", step(2, request_id="n2")),  # an in-batch retry of a call that was never kept
            ("s", step(1, request_id="old")),  # a retry of a call kept earlier: answered from the store
            ("t", step(1)),
            ("s", ClearHistory()),
        ]
    )

    assert [type(r) for r in results] == [StoreError, InvalidInput, StoreError, ThoughtRecorded, StoreError, StoreError]
    assert all("disk full" in str(r) for r in (results[0], results[2], results[4], results[5]))
    replayed = results[3]
    assert isinstance(replayed, ThoughtRecorded) and dict(replayed.result) == earlier
    assert await stored(engine, ["s", "t"]) == before
    assert await engine.store.session("t") is None
    assert await engine.store.find_request("s", "n2") is None
    assert await engine.store.count_sessions() == 1
    state = await engine.load("s")
    assert state is not None and state.to_snapshot() == snapshot_before  # the cache is not ahead

    # The engine works again, as if the failed batch had never been.
    again = await engine.execute_many([("s", step(2, request_id="n2")), ("t", step(1))])
    assert all(isinstance(r, ThoughtRecorded) for r in again)
    kept = again[0]
    assert isinstance(kept, ThoughtRecorded)
    assert await engine.record_thought("s", step(2, request_id="n2")) == dict(kept.result)
    assert kept.result["thoughtId"] == "t2"
    assert kept.result["thoughtHistoryLength"] == 2
    assert await versions(engine, "s") == [1, 2, 3]
    assert await versions(engine, "t") == [1, 2]
    await assert_intact(engine, ["s", "t"])


async def test_record_thought_raises_the_store_error_of_a_failed_commit(stores: Stores) -> None:
    failing = stores.store("failing", failing=True)
    assert isinstance(failing, _MemoryFailsAtCommit | _SqliteFailsAtCommit)
    engine = await stores.engine("failing", store=failing)
    await engine.record_thought("s", step(1))
    failing.fail_next = True
    with pytest.raises(StoreError, match="disk full"):
        await engine.record_thought("s", step(2))
    assert await versions(engine, "s") == [1, 2]
    result = await engine.record_thought("s", step(2))
    assert result["thoughtId"] == "t2"
    await assert_intact(engine, ["s"])


# -- durability --------------------------------------------------------------------------------


async def test_a_batch_written_to_sqlite_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    config = EngineConfig(snapshot_every=4)
    store = SqliteEventStore(path)
    engine = Engine(store, config)
    await engine.start()
    sids = ["a", "b", "c"]
    try:
        await engine.execute_many([("a", step(n, 12)) for n in range(1, 4)])
        calls: list[Call] = [(sids[n % 3], step(n // 3 + 1, 12)) for n in range(18)]
        calls += [("b", ClearHistory(request_id="clear-b")), ("b", step(1, 3, request_id="rb"))]
        calls += [("a", step(2, 12, revises_thought=1, text="thought 1")), ("c", step(9, 12, branch_from_thought=2))]
        results = await engine.execute_many(calls)
        assert not [r for r in results if isinstance(r, ThinkGateError)]
        states = {sid: (await engine.load(sid) or pytest.fail(sid)).to_snapshot() for sid in sids}
        events = await stored(engine, sids)
    finally:
        await engine.stop()

    reopened = Engine(SqliteEventStore(path), config)
    await reopened.start()
    try:
        for sid in sids:
            state = await reopened.load(sid)
            assert state is not None
            assert state.to_snapshot() == states[sid]
            assert await reopened.verify(sid) is None
            assert await reopened.store.load_snapshot(sid) is not None  # the batch crossed a snapshot step
        assert await stored(reopened, sids) == events
        retried = await reopened.record_thought("b", step(1, 3, request_id="rb"))
        first = results[19]
        assert isinstance(first, ThoughtRecorded)
        assert retried == dict(first.result)
    finally:
        await reopened.stop()


# -- batches versus one call at a time (property) ----------------------------------------------

SESSION_IDS = ("p", "q")
calls_strategy = st.lists(
    st.tuples(st.sampled_from(SESSION_IDS), st.one_of(record_thoughts, commands)), min_size=1, max_size=24
)


def split(calls: list[Call], cuts: list[int]) -> list[list[Call]]:
    """``calls`` cut into consecutive non-empty batches at the given positions."""
    points = sorted({c % (len(calls) + 1) for c in cuts} | {0, len(calls)})
    return [calls[a:b] for a, b in pairwise(points) if b > a]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None)
@given(calls=calls_strategy, cuts=st.lists(st.integers(min_value=0, max_value=24), max_size=6))
def test_batches_give_the_same_results_and_events_as_one_call_at_a_time(
    kind: str, calls: list[Call], cuts: list[int]
) -> None:
    config = EngineConfig(limits=Limits(max_thought_bytes=40, max_thoughts_per_session=12))

    async def scenario(tmp: Path) -> None:
        made = Stores(kind, tmp)
        try:
            batched = await made.engine("batched", config)
            single = await made.engine("single", config)
            got: list[tuple[Any, ...]] = []
            for batch in split(calls, cuts):
                outcomes = await batched.execute_many(batch)
                assert len(outcomes) == len(batch)
                got.extend(view(o) for o in outcomes)
            assert got == await one_at_a_time(single, calls)
            assert await stored(batched, SESSION_IDS) == await stored(single, SESSION_IDS)
            await assert_intact(batched, SESSION_IDS)
        finally:
            await made.close()

    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(scenario, Path(tmp))


# -- concurrent callers on a store that suspends -----------------------------------------------


async def test_concurrent_callers_are_merged_into_few_batches() -> None:
    store = _SuspendingStore()
    engine = Engine(store)
    await engine.start()
    results = await asyncio.gather(*(engine.record_thought("s", step(n, 50)) for n in range(1, 51)))
    assert sorted(r["thoughtId"] for r in results) == sorted(f"t{n}" for n in range(1, 51))
    assert sorted(r["thoughtHistoryLength"] for r in results) == list(range(1, 51))
    rows = await store.read("s")
    assert [r.version for r in rows] == list(range(1, 52))
    assert sorted(r.data()["content"] for r in rows[1:]) == sorted(f"thought {n}" for n in range(1, 51))
    assert store.batches < 50
    assert store.peak_open_batches == 1
    await assert_intact(engine, ["s"])


async def test_concurrent_callers_on_several_sessions_all_succeed() -> None:
    store = _SuspendingStore()
    engine = Engine(store)
    await engine.start()
    sids = ["a", "b", "c"]
    results = await asyncio.gather(*(engine.record_thought(sids[n % 3], step(n // 3 + 1, 20)) for n in range(60)))
    for sid in sids:
        mine = [r for r in results if r["sessionId"] == sid]
        assert sorted(r["thoughtId"] for r in mine) == sorted(f"t{n}" for n in range(1, 21))
        assert await versions(engine, sid) == list(range(1, 22))
    assert store.batches < 60
    await assert_intact(engine, sids)


async def test_callers_arriving_while_batches_are_written_all_succeed_and_are_all_kept() -> None:
    # Callers arrive at staggered moments, some just as a batch finishes: every acknowledged
    # thought must be in the store, and one engine never conflicts with itself.
    store = _SuspendingStore()
    engine = Engine(store)
    await engine.start()

    async def call(n: int) -> Outcome:
        for _ in range(n % 10):
            await asyncio.sleep(0)
        return (await engine.execute_many([("s", step(n, 40, text=f"call {n}"))]))[0]

    outcomes = await asyncio.gather(*(call(n) for n in range(1, 41)))
    errors = [o for o in outcomes if isinstance(o, ThinkGateError)]
    acknowledged = sorted(o.content for o in outcomes if isinstance(o, ThoughtRecorded))
    kept = sorted(r.data()["content"] for r in await store.read("s") if r.type == ThoughtRecorded.TYPE)
    assert acknowledged == kept  # nothing acknowledged is lost
    assert errors == []
    assert await versions(engine, "s") == list(range(1, 42))
    assert store.peak_open_batches == 1
    await assert_intact(engine, ["s"])


async def test_a_delete_amid_concurrent_writes_leaves_a_consistent_store_and_batches_never_overlap() -> None:
    store = _SuspendingStore()
    engine = Engine(store)
    await engine.start()

    async def late(n: int) -> None:
        for _ in range(n % 5):
            await asyncio.sleep(0)
        await engine.record_thought("s", step(n, 40))

    async def delete_midway() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await engine.delete("s")

    results = await asyncio.gather(*(late(n) for n in range(1, 21)), delete_midway(), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert await engine.orphans() == []  # no batch was half-written around the delete
    if await store.session("s") is not None:
        assert await engine.verify("s") is None
    assert store.peak_open_batches == 1
