"""``EventStore.outcome_events``: every route outcome across all sessions, paged by a keyset.

The contract tests run on every implementation (the ``store`` fixture). The schema tests below
them build a store at the schema version before the outcomes index, write outcomes into it,
and check that the current code migrates it forward (SQLite on open, PostgreSQL with
``migrate``) and reads them back, in order, through the index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinkgate.domain.chain import GENESIS_HASH, verify_chain
from thinkgate.errors import InvalidInput, SchemaMismatch
from thinkgate.store import postgres, sqlite
from thinkgate.store.base import MAX_PAGE_ROWS, EventStore, NewEvent, StoredEvent, chain_events

pytestmark = pytest.mark.anyio

OUTCOME = "outcome_recorded"
# The migrations that add the outcomes index (released migrations never change, so neither do these).
SQLITE_OUTCOMES, POSTGRES_OUTCOMES = 5, 2


def ev(n: int, type_: str = "thought_recorded") -> NewEvent:
    """A distinct event whose timestamp encodes ``n``."""
    return NewEvent(type_, {"n": n}, f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}.000Z")


def outcome(n: int) -> NewEvent:
    return ev(n, OUTCOME)


def keys(events: list[StoredEvent]) -> list[tuple[str, int]]:
    return [(e.session_id, e.version) for e in events]


async def all_outcomes(store: EventStore, page: int) -> list[StoredEvent]:
    """Every outcome event, read ``page`` at a time with the keyset of each page's last event."""
    out: list[StoredEvent] = []
    after: tuple[str, int] | None = None
    while True:
        rows = await store.outcome_events(after=after, limit=page)
        assert len(rows) <= page
        out.extend(rows)
        if len(rows) < page:
            return out
        after = (rows[-1].session_id, rows[-1].version)


async def seed(store: EventStore) -> list[StoredEvent]:
    """Sessions created out of id order, outcomes among other events; the outcomes, in key order."""
    await store.append("m", 0, [ev(1), outcome(2), ev(3, "route_decided"), outcome(4)])
    await store.append_many(
        [
            ("b", 0, [outcome(5), ev(6)]),
            ("z", 0, [ev(7), ev(8)]),  # no outcome at all
            ("a", 0, [ev(9, "route_decided"), outcome(10)]),
        ]
    )
    await store.append("m", 4, [ev(11), outcome(12)])
    async with store.write_batch(("b", "c")):
        await store.append("b", 2, [outcome(13)])
        await store.append_many([("c", 0, [outcome(14), outcome(15), outcome(16)])])
    logs = [e for sid in ("a", "b", "c", "m", "z") for e in await store.read(sid)]
    return [e for e in logs if e.type == OUTCOME]


# -- contract ----------------------------------------------------------------------------------


async def test_an_empty_store_has_no_outcome_events(store: EventStore) -> None:
    assert await store.outcome_events() == []
    assert await store.outcome_events(after=("a", 1), limit=1) == []


async def test_a_store_without_outcomes_returns_none(store: EventStore) -> None:
    await store.append("s1", 0, [ev(1), ev(2, "route_decided"), ev(3, "outcome_recorded_later")])
    assert await store.outcome_events() == []


async def test_only_outcome_events_are_returned_as_read_returns_them(store: EventStore) -> None:
    expected = await seed(store)
    got = await store.outcome_events()
    assert got == expected  # whole StoredEvents: payload, prev_hash and hash as read gives them
    assert {e.type for e in got} == {OUTCOME}
    assert [e.data()["n"] for e in got] == [10, 5, 13, 14, 15, 16, 2, 4, 12]


async def test_outcomes_come_in_session_then_version_order(store: EventStore) -> None:
    await seed(store)
    got = keys(await store.outcome_events())
    assert got == sorted(got)
    assert got == [("a", 2), ("b", 1), ("b", 3), ("c", 1), ("c", 2), ("c", 3), ("m", 2), ("m", 4), ("m", 6)]


async def test_after_returns_only_strictly_later_outcomes(store: EventStore) -> None:
    expected = keys(await seed(store))
    for i, key in enumerate(expected):
        assert keys(await store.outcome_events(after=key)) == expected[i + 1 :]
    # A keyset need not name an outcome, or any event at all.
    assert keys(await store.outcome_events(after=("m", 3))) == [("m", 4), ("m", 6)]
    assert keys(await store.outcome_events(after=("b", 99))) == expected[3:]
    assert keys(await store.outcome_events(after=("bb", 0))) == expected[3:]
    assert keys(await store.outcome_events(after=("", 0))) == expected
    assert await store.outcome_events(after=("m", 6)) == []
    assert await store.outcome_events(after=("zz", 0)) == []


@pytest.mark.parametrize("page", [1, 2, 3, 9, 10, 1000])
async def test_pages_cover_every_outcome_exactly_once(store: EventStore, page: int) -> None:
    expected = await seed(store)
    assert await all_outcomes(store, page) == expected


async def test_limit_caps_a_page(store: EventStore) -> None:
    expected = await seed(store)
    assert await store.outcome_events(limit=4) == expected[:4]
    assert await store.outcome_events(limit=MAX_PAGE_ROWS) == expected


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_ROWS + 1])
async def test_a_limit_out_of_range_is_invalid_input(store: EventStore, limit: int) -> None:
    await seed(store)
    with pytest.raises(InvalidInput, match="limit") as info:
        await store.outcome_events(limit=limit)
    assert info.value.code == "INVALID_INPUT"


async def test_outcomes_of_a_deleted_session_are_gone(store: EventStore) -> None:
    expected = await seed(store)
    assert await store.delete_session("c")
    assert await store.outcome_events() == [e for e in expected if e.session_id != "c"]
    await store.append("c", 0, [ev(20), outcome(21)])  # a new session of that id: only its outcome
    assert [e.data()["n"] for e in await store.outcome_events(after=("b", 3))] == [21, 2, 4, 12]


async def test_a_write_batch_reads_its_own_outcomes(store: EventStore) -> None:
    async with store.write_batch(("s1",)):
        await store.append("s1", 0, [outcome(1)])
        assert keys(await store.outcome_events()) == [("s1", 1)]
    assert keys(await store.outcome_events()) == [("s1", 1)]


# -- schema: the outcomes index and the migration to it ----------------------------------------


def old_log(session_id: str, first: int) -> list[StoredEvent]:
    """A chained log with outcomes in it, as the previous schema version's code stored it."""
    events = [ev(first), outcome(first + 1), ev(first + 2, "route_decided"), outcome(first + 3)]
    return chain_events(session_id, GENESIS_HASH, 1, events)


OLD_LOGS = {"s2": old_log("s2", 10), "s1": old_log("s1", 20)}
OLD_OUTCOMES = [e for sid in sorted(OLD_LOGS) for e in OLD_LOGS[sid] if e.type == OUTCOME]


def old_rows() -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) of ``OLD_LOGS``: each event, then each session's head."""
    for sid, log in OLD_LOGS.items():
        for e in log:
            yield "events", (e.session_id, e.version, e.type, e.recorded_at, e.payload, e.prev_hash, e.hash)
        yield "sessions", (sid, log[-1].version, log[-1].hash, log[0].recorded_at, log[-1].recorded_at)


_INSERT = {
    "events": "INSERT INTO {s}events (session_id, version, type, recorded_at, payload, prev_hash, hash) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
    "sessions": "INSERT INTO {s}sessions (id, version, head_hash, created_at, updated_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p})",
}


async def check_migrated(store: EventStore) -> None:
    """The old outcomes read back in order, the old chains verify, and the logs go on."""
    assert await store.outcome_events() == OLD_OUTCOMES
    assert await all_outcomes(store, 1) == OLD_OUTCOMES
    for sid, log in OLD_LOGS.items():
        assert verify_chain(sid, await store.read(sid), len(log), log[-1].hash) is None
    await store.append("s1", 4, [outcome(30)])
    assert [e.data()["n"] for e in await store.outcome_events(after=("s1", 4))] == [30, 11, 13]


def test_the_outcomes_index_is_sqlite_migration_5_and_postgres_migration_2() -> None:
    for migrations, version in ((sqlite.MIGRATIONS, SQLITE_OUTCOMES), (postgres.MIGRATIONS, POSTGRES_OUTCOMES)):
        [statement] = migrations[version - 1]
        assert "CREATE INDEX events_outcomes" in statement
        assert "WHERE type = 'outcome_recorded'" in statement


async def test_sqlite_reads_outcomes_through_the_partial_index(tmp_path: Path) -> None:
    store = sqlite.SqliteEventStore(tmp_path / "events.db")
    await store.open()
    try:
        await seed(store)
        indexes = {r[0]: r[1] for r in store.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")}
        assert "WHERE type = 'outcome_recorded'" in indexes["events_outcomes"]
        # The plan of the store's own query (traced with its parameters filled in).
        trace: list[str] = []
        store.db.set_trace_callback(trace.append)
        await store.outcome_events(after=("b", 1), limit=2)
        store.db.set_trace_callback(None)
        [query] = [t for t in trace if "outcome_recorded" in t]
        plan = " ".join(str(r[3]) for r in store.db.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "USING INDEX events_outcomes" in plan, plan
    finally:
        await store.close()


async def test_a_sqlite_file_at_the_previous_schema_version_migrates_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SQLITE_OUTCOMES - 1
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for version, statements in enumerate(sqlite.MIGRATIONS[:old], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
        for table, row in old_rows():
            conn.execute(_INSERT[table].format(s="", p="?"), row)
        conn.commit()
    finally:
        conn.close()
    store = sqlite.SqliteEventStore(path)
    await store.open()
    try:
        await check_migrated(store)
        versions = [r[0] for r in store.db.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, sqlite.SCHEMA_VERSION + 1))
        indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "events_outcomes" in indexes
    finally:
        await store.close()


async def test_postgres_reads_outcomes_through_the_partial_index() -> None:
    import psycopg
    from tests.pg import fresh_database

    url = fresh_database()
    store = postgres.PostgresEventStore(url)
    await store.open()
    try:
        await seed(store)
    finally:
        await store.close()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'events_outcomes'")
        row = await cur.fetchone()
        assert row is not None and "WHERE (type = 'outcome_recorded'::text)" in row[0]
        # A tiny table is cheapest to scan; with scans priced out the planner shows which index applies.
        await conn.execute("SET enable_seqscan = off")
        cur = await conn.execute(
            "EXPLAIN SELECT session_id, version, type, recorded_at, payload, prev_hash, hash FROM thinkgate.events "
            "WHERE type = 'outcome_recorded' AND (session_id, version) > ('b', 1) ORDER BY session_id, version LIMIT 2"
        )
        plan = " ".join(r[0] for r in await cur.fetchall())
        assert "events_outcomes" in plan, plan


async def test_a_postgres_database_at_the_previous_schema_version_migrates() -> None:
    import psycopg
    from tests.pg import empty_database

    url = empty_database()
    old = POSTGRES_OUTCOMES - 1
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, conn.transaction():
        # As ``migrate`` of the previous release left it.
        await conn.execute("CREATE SCHEMA thinkgate")
        await conn.execute(
            "CREATE TABLE thinkgate.schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for version, statements in enumerate(postgres.MIGRATIONS[:old], start=1):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO thinkgate.schema_migrations (version) VALUES (%s)", (version,))
        for table, row in old_rows():
            await conn.execute(_INSERT[table].format(s="thinkgate.", p="%s"), row)
    store = postgres.PostgresEventStore(url)
    with pytest.raises(SchemaMismatch, match="thinkgate db migrate"):
        await store.open()
    assert await postgres.migrate(url) == (old, postgres.SCHEMA_VERSION)
    assert await postgres.current_schema(url) == postgres.SCHEMA_VERSION
    await store.open()
    try:
        await check_migrated(store)
    finally:
        await store.close()
