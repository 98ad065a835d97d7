"""Conformance of ``EventStore.append_many``: the group commit's one write for several sessions.

Runs on every implementation of ``test_event_store_contract.py`` (the ``store`` fixture). Per
item, ``append_many`` does what ``append`` would: a session not at its expected version gets
its ``VersionConflict`` back and writes nothing, while the other items are written, chained
to their heads; inside a write batch it joins the batch, outside one it commits on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tests.store.test_write_batch_contract import assert_chains_valid, ev, everything, seed

from thinkgate.errors import StoreError, VersionConflict
from thinkgate.store.base import AppendItem, AppendResult, EventStore, StoredEvent

pytestmark = pytest.mark.anyio

IN_BATCH = pytest.mark.parametrize(
    "batch", ["none", "naming-the-sessions", "naming-none"], ids=["outside-a-batch", "in-batch", "in-bare-batch"]
)


async def append_many_in(store: EventStore, batch: str, items: Sequence[AppendItem]) -> list[AppendResult]:
    """``append_many`` outside a batch, or inside one that names the sessions or none of them."""
    if batch == "none":
        return await store.append_many(items)
    async with store.write_batch([sid for sid, _, _ in items] if batch == "naming-the-sessions" else ()):
        return await store.append_many(items)


def stored_events(result: AppendResult) -> list[StoredEvent]:
    assert not isinstance(result, VersionConflict), result
    return result


@IN_BATCH
async def test_a_conflicting_session_writes_nothing_and_the_others_are_written(store: EventStore, batch: str) -> None:
    await seed(store)  # a at version 2, untouched at version 1
    before = await everything(store)

    results = await append_many_in(
        store,
        batch,
        [
            ("a", 2, [ev(3, request_id="ra3", thought_id="ta3"), ev(4)]),
            ("untouched", 0, [ev(9, request_id="ru9")]),  # it is at version 1
            ("b", 0, [ev(1, request_id="rb1", thought_id="tb1")]),
        ],
    )

    assert len(results) == 3
    a, conflict, b = results
    assert isinstance(conflict, VersionConflict)
    assert [e.version for e in stored_events(a)] == [3, 4]
    assert [e.version for e in stored_events(b)] == [1]
    assert await store.read("a", 3) == a
    assert await store.read("b") == b
    after = await everything(store)
    assert after["untouched"] == before["untouched"]
    assert await store.find_request("untouched", "ru9") is None
    found = await store.find_request("a", "ra3")
    assert found is not None and found.version == 3
    thought = await store.find_thought("b", "tb1")
    assert thought is not None and thought.version == 1
    assert after["count"] == 3
    await assert_chains_valid(store, "a", "b", "untouched")


async def test_appends_of_several_calls_in_one_batch_continue_each_chain(store: EventStore) -> None:
    await seed(store)
    async with store.write_batch(["a", "b"]):
        first = await store.append_many([("a", 2, [ev(3)]), ("b", 0, [ev(1), ev(2)])])
        second = await store.append_many([("b", 2, [ev(3)]), ("a", 3, [ev(4)])])
        stale = await store.append_many([("a", 3, [ev(5)])])  # a is at 4 now
    assert [[e.version for e in stored_events(r)] for r in first + second] == [[3], [1, 2], [3], [4]]
    assert isinstance(stale[0], VersionConflict)
    assert stored_events(second[1])[0].prev_hash == stored_events(first[0])[-1].hash
    assert [r.version for r in await store.read("a")] == [1, 2, 3, 4]
    assert [r.version for r in await store.read("b")] == [1, 2, 3]
    await assert_chains_valid(store, "a", "b", "untouched")


@IN_BATCH
async def test_items_without_events_only_check_the_version(store: EventStore, batch: str) -> None:
    await seed(store)
    before = await everything(store)
    results = await append_many_in(store, batch, [("a", 2, []), ("untouched", 5, []), ("ghost", 0, [])])
    assert results[0] == [] and results[2] == []
    assert isinstance(results[1], VersionConflict)
    assert await everything(store) == before


async def test_a_batch_that_fails_after_append_many_keeps_nothing(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(RuntimeError, match="later"):
        async with store.write_batch(["a", "b"]):
            await store.append_many([("a", 2, [ev(3, request_id="ra3")]), ("b", 0, [ev(1)])])
            raise RuntimeError("later")
    assert await everything(store) == before


async def test_a_request_id_already_used_outside_a_batch_raises_and_writes_nothing(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(StoreError):
        await store.append_many([("b", 0, [ev(1)]), ("a", 2, [ev(3, request_id="ra1")])])
    assert await everything(store) == before


async def test_a_request_id_already_used_inside_a_batch_fails_the_batch_and_keeps_nothing(store: EventStore) -> None:
    await seed(store)
    before = await everything(store)
    with pytest.raises(StoreError):
        async with store.write_batch(["a", "b"]):
            await store.append_many([("b", 0, [ev(1)]), ("a", 2, [ev(3, request_id="ra1")])])
    assert await everything(store) == before


async def test_a_session_named_twice_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="more than once"):
        await store.append_many([("a", 0, [ev(1)]), ("a", 1, [ev(2)])])
    assert await store.session("a") is None


async def test_no_items_is_no_results(store: EventStore) -> None:
    assert await store.append_many([]) == []
    async with store.write_batch():
        assert await store.append_many([]) == []
