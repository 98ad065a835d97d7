"""PostgreSQL beyond the shared contract: replicas on one database, locks, schema checks, a server restart.

Every test runs against a real server (``tests/pg.py``): the shared one with a fresh database
per test, or, for the restart test, a cluster of its own that the test stops and starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from tests.pg import Cluster, empty_database, fresh_database, new_cluster

from thinkgate.domain.chain import verify_chain
from thinkgate.domain.thinking import RecordThought
from thinkgate.engine.engine import Engine
from thinkgate.errors import ConfigError, SchemaMismatch, StoreError, StoreUnavailable, VersionConflict
from thinkgate.store.base import NewEvent
from thinkgate.store.postgres import SCHEMA_VERSION, PostgresEventStore, current_schema, migrate
from thinkgate.store.url import open_store, redact_url

pytestmark = pytest.mark.anyio


def ev(n: int, request_id: str | None = None) -> NewEvent:
    return NewEvent("thought_recorded", {"n": n}, f"2026-01-01T00:00:{n % 60:02d}.000Z", request_id)


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[PostgresEventStore, PostgresEventStore]]:
    """Two stores on one database, as two replicas would have (each with its own pool)."""
    url = fresh_database()
    a, b = PostgresEventStore(url), PostgresEventStore(url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await b.close()
        await a.close()


async def wait_for_lock_waiter(store: PostgresEventStore) -> None:
    """Return once some backend of this database waits on an advisory lock (bounded)."""
    with anyio.fail_after(30):
        while True:
            rows = await store._query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                (),
                "test",
            )
            if rows[0][0]:
                return
            await anyio.sleep(0.01)


def thought(n: int, request_id: str | None = None) -> RecordThought:
    return RecordThought(f"thought {n}", n, n, True, request_id=request_id)


# -- replicas on one database ------------------------------------------------------------------


async def test_another_replica_sees_a_batch_only_when_it_ends(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    writer, reader = replicas
    await writer.append("a", 0, [ev(1)])
    async with writer.write_batch(["a", "b"]):
        await writer.append("a", 1, [ev(2, "ra2")])
        await writer.append("b", 0, [ev(1), ev(2)])
        info = await reader.session("a")
        assert info is not None and info.version == 1
        assert await reader.session("b") is None
        assert await reader.find_request("a", "ra2") is None
        assert await reader.count_sessions() == 1
    info = await reader.session("a")
    assert info is not None and info.version == 2
    assert [r.version for r in await reader.read("b")] == [1, 2]


async def test_a_writer_of_another_replica_waits_for_the_session_and_then_sees_the_new_head(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    # Without the session lock the second writer would read version 1, build version 2 and
    # hit the primary key (a STORE_ERROR); with it, it decides after the first commits.
    first, second = replicas
    await first.append("s", 0, [ev(1)])
    outcome: list[BaseException | int] = []

    async def late_writer() -> None:
        try:
            stored = await second.append("s", 1, [ev(9)])
            outcome.append(stored[0].version)
        except BaseException as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg, first.write_batch(["s"]):
        await first.append("s", 1, [ev(2)])
        tg.start_soon(late_writer)
        await wait_for_lock_waiter(first)
        assert outcome == []  # still waiting: the batch holds the session
    [result] = outcome
    assert isinstance(result, VersionConflict), result
    rows = await second.read("s")
    assert [r.data()["n"] for r in rows] == [1, 2]


async def test_a_session_held_past_the_lock_timeout_is_store_unavailable(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    holder, _ = replicas
    impatient = PostgresEventStore(holder._conninfo, lock_timeout_ms=50)
    await impatient.open()
    try:
        async with holder.write_batch(["hot"]):
            await holder.append("hot", 0, [ev(1)])
            with pytest.raises(StoreUnavailable, match="other replicas") as caught:
                await impatient.append("hot", 1, [ev(2)])
            assert caught.value.retriable
            # Other sessions are not held up.
            assert [e.version for e in await impatient.append("cold", 0, [ev(1)])] == [1]
        assert [e.version for e in await impatient.append("hot", 1, [ev(2)])] == [2]
    finally:
        await impatient.close()


async def test_batches_naming_sessions_in_any_order_do_not_deadlock(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    a, b = replicas
    await a.append("x", 0, [ev(1)])
    await a.append("y", 0, [ev(1)])

    async def bump(store: PostgresEventStore, order: list[str], rounds: int) -> None:
        for _ in range(rounds):
            async with store.write_batch(order):
                for sid in order:
                    info = await store.session(sid)
                    assert info is not None
                    await store.append(sid, info.version, [ev(info.version + 1)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(bump, a, ["x", "y"], 25)
        tg.start_soon(bump, b, ["y", "x"], 25)
    for sid in ("x", "y"):
        info = await a.session(sid)
        assert info is not None and info.version == 51
        assert verify_chain(sid, await a.read(sid), info.version, info.head_hash) is None


async def test_engines_on_two_replicas_writing_one_session_lose_nothing(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    engines = [Engine(replicas[0]), Engine(replicas[1])]
    per_engine = 30
    acked: list[dict[str, Any]] = []

    async def write(index: int) -> None:
        engine = engines[index]
        for n in range(1, per_engine + 1):
            # Several calls in flight per engine: they group-commit, and race the other replica.
            results = await asyncio.gather(
                engine.record_thought("shared", thought(n, f"e{index}-{n}-a")),
                engine.record_thought("shared", thought(n, f"e{index}-{n}-b")),
            )
            acked.extend(results)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, 0)
        tg.start_soon(write, 1)
    total = 2 * 2 * per_engine
    assert sorted(r["thoughtHistoryLength"] for r in acked) == list(range(1, total + 1))
    assert len({r["thoughtId"] for r in acked}) == total
    info = await replicas[0].session("shared")
    assert info is not None
    rows = await replicas[1].read("shared")
    assert verify_chain("shared", rows, info.version, info.head_hash) is None
    assert await engines[0].verify("shared") is None


async def test_a_write_the_server_refuses_inside_a_batch_spoils_nothing_else(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    store, _ = replicas
    async with store.write_batch(["a"]):
        await store.append("a", 0, [ev(1)])
        with pytest.raises(StoreError):
            await store.append("a", 1, [ev(2, "bad\x00id")])  # PostgreSQL text cannot hold NUL
        await store.append("a", 1, [ev(2, "good")])
    assert [r.data()["n"] for r in await store.read("a")] == [1, 2]


async def test_a_batch_whose_transaction_the_server_aborted_is_not_reported_as_committed(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    # PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not an error.
    store, other = replicas
    with pytest.raises(StoreError, match="rolled it back"):
        async with store.write_batch(["a"]):
            await store.append("a", 0, [ev(1)])
            with pytest.raises(StoreError):
                await store._query("SELECT 1 / 0", (), "a failing statement outside any savepoint")
    assert await other.session("a") is None
    assert [e.version for e in await store.append("a", 0, [ev(1)])] == [1]


async def test_heads_read_with_the_locks_handle_any_session_id_and_see_other_replicas(
    replicas: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    a, b = replicas
    odd = ["it's", 'a "quoted" id', "back\\slash", "{braces,comma}", "ünï"]
    async with a.write_batch(odd):
        for sid in odd:
            await a.append(sid, 0, [ev(1)])
    for sid in odd:
        await b.append(sid, 1, [ev(2)])  # another replica moves every head
    async with a.write_batch(odd):
        for sid in odd:
            with pytest.raises(VersionConflict):
                await a.append(sid, 1, [ev(3)])
            await a.append(sid, 2, [ev(3)])
    for sid in odd:
        info = await b.session(sid)
        assert info is not None and info.version == 3
        assert verify_chain(sid, await b.read(sid), info.version, info.head_hash) is None


# -- schema ------------------------------------------------------------------------------------


async def test_opening_an_unmigrated_database_is_a_schema_mismatch() -> None:
    url = empty_database()
    store = PostgresEventStore(url)
    with pytest.raises(SchemaMismatch, match="thinkgate db migrate"):
        await store.open()
    assert await migrate(url) == (0, SCHEMA_VERSION)
    await store.open()
    try:
        assert await store.count_sessions() == 0
    finally:
        await store.close()


async def test_opening_a_database_with_a_newer_schema_is_a_schema_mismatch() -> None:
    url = fresh_database()
    await migrate(url)  # nothing to do
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("INSERT INTO thinkgate.schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaMismatch, match="newer"):
        await PostgresEventStore(url).open()
    with pytest.raises(SchemaMismatch, match="newer"):
        await migrate(url)


async def test_concurrent_migrations_apply_each_step_once() -> None:
    url = empty_database()
    results = await asyncio.gather(*(migrate(url) for _ in range(4)))
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * 3
    assert await current_schema(url) == SCHEMA_VERSION


# -- unreachable server, restart ---------------------------------------------------------------


async def test_opening_an_unreachable_server_is_store_unavailable(tmp_path: Any) -> None:
    url = f"postgresql://postgres:pw@/thinkgate?host={tmp_path}"  # no server listens there
    with pytest.raises(StoreUnavailable, match="cannot connect") as caught:
        await open_store(url).open()
    assert caught.value.retriable
    assert "pw@" not in str(caught.value)


async def test_a_server_restart_fails_calls_retriably_and_the_pool_recovers() -> None:
    cluster: Cluster = await anyio.to_thread.run_sync(new_cluster)
    try:
        await _restart_while_writing(cluster)
    finally:
        await anyio.to_thread.run_sync(cluster.destroy)


async def _restart_while_writing(cluster: Cluster) -> None:
    url = cluster.url("restart")
    await anyio.to_thread.run_sync(lambda: _createdb(cluster.url(), "restart"))
    await migrate(url)
    store = PostgresEventStore(url, call_timeout=1.0)
    engine = Engine(store)
    await engine.start()
    acked: list[str] = []
    attempted: set[str] = set()
    failures: list[BaseException] = []
    unexpected: list[BaseException] = []
    warmed_up = anyio.Event()
    succeeded_after_failure = anyio.Event()
    failed = anyio.Event()
    stop = anyio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            request = f"r{n}"
            attempted.add(request)
            try:
                result = await engine.record_thought("s", thought(n, request))
                await engine.history("s", limit=1)
            except StoreUnavailable as exc:
                failures.append(exc)
                failed.set()
                await anyio.sleep(0.05)  # a client backing off before it retries
                continue
            except Exception as exc:  # anything but STORE_UNAVAILABLE is a bug
                unexpected.append(exc)
                raise
            acked.append(result["thoughtId"])
            if len(acked) >= 20:
                warmed_up.set()
            if failed.is_set():
                succeeded_after_failure.set()

    try:
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer)
                await warmed_up.wait()
                await anyio.to_thread.run_sync(cluster.stop)
                await failed.wait()
                await anyio.to_thread.run_sync(cluster.start)
                await succeeded_after_failure.wait()
                stop.set()
    finally:
        await engine.stop()
    assert not unexpected, unexpected
    assert failures and all(f.code == "STORE_UNAVAILABLE" for f in failures)
    assert "PostgreSQL is unavailable" in str(failures[0]) or "cannot" in str(failures[0])

    # Every acknowledged thought is stored exactly once, and the chain verifies.
    reopened = PostgresEventStore(url)
    check = Engine(reopened)
    await check.start()
    try:
        stored = await check.all_thoughts("s")
        ids = [t["thoughtId"] for t in stored]
        assert len(ids) == len(set(ids))
        assert set(acked) <= set(ids)
        assert len(ids) <= len(attempted)
        assert await check.verify("s") is None
    finally:
        await check.stop()


def _createdb(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # a fixed test name


# -- URLs --------------------------------------------------------------------------------------


def test_redact_url_hides_passwords_in_the_authority_and_the_query() -> None:
    assert redact_url("postgresql://app:s3cret@db.example:5432/tg") == "postgresql://app:***@db.example:5432/tg"
    assert redact_url("postgres://app:p%40ss@h/tg?sslmode=require") == "postgres://app:***@h/tg?sslmode=require"
    assert "hunter2" not in redact_url("postgresql://app@h/tg?password=hunter2&sslmode=disable")
    assert redact_url("postgresql://app@h/tg") == "postgresql://app@h/tg"
    assert redact_url("postgresql:///tg?host=/run/pg") == "postgresql:///tg?host=/run/pg"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_both_postgres_schemes_open_a_postgres_store_whose_url_is_redacted() -> None:
    for scheme in ("postgresql", "postgres"):
        store = open_store(f"{scheme}://app:s3cret@localhost/tg")
        assert isinstance(store, PostgresEventStore)
        assert "s3cret" not in store.url
        assert store.url == f"{scheme}://app:***@localhost/tg"


async def test_a_url_libpq_cannot_parse_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid PostgreSQL URL"):
        await open_store("postgresql://app:s3cret@localhost/tg?no_such_parameter=1").open()
