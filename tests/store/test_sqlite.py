"""What only the SQLite event store promises: the file's mode, its schema, sharing it, and its URLs."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from thinkgate.domain.chain import verify_chain
from thinkgate.errors import ConfigError, SchemaMismatch, StoreError, StoreUnavailable, VersionConflict
from thinkgate.store.base import NewEvent
from thinkgate.store.memory import MemoryEventStore
from thinkgate.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteEventStore
from thinkgate.store.url import open_store

pytestmark = pytest.mark.anyio


def ev(n: int) -> NewEvent:
    return NewEvent("thought_recorded", {"n": n}, f"2026-01-01T00:00:{n:02d}.000Z")


@asynccontextmanager
async def opened(path: Path, durability: str = "normal") -> AsyncIterator[SqliteEventStore]:
    store = SqliteEventStore(path, durability=durability)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def raw() -> Iterator[list[sqlite3.Connection]]:
    """Plain sqlite3 connections opened by a test, closed after it."""
    conns: list[sqlite3.Connection] = []
    yield conns
    for conn in conns:
        conn.close()


def connect(path: Path, conns: list[sqlite3.Connection]) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conns.append(conn)
    return conn


# -- file mode and schema ----------------------------------------------------------------------


async def test_the_file_is_in_wal_mode(tmp_path: Path, raw: list[sqlite3.Connection]) -> None:
    path = tmp_path / "events.db"
    async with opened(path) as store:
        await store.append("s1", 0, [ev(1)])
        # journal_mode=WAL is a property of the file, so a second connection sees it.
        assert connect(path, raw).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (tmp_path / "events.db-wal").exists()


@pytest.mark.parametrize(("durability", "level"), [("normal", 1), ("full", 2)])
async def test_durability_sets_the_synchronous_level(tmp_path: Path, durability: str, level: int) -> None:
    # synchronous is per connection, so it is read from the store's own connection.
    async with opened(tmp_path / "events.db", durability) as store:
        assert store.durability == durability
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == level


def test_an_unknown_durability_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        SqliteEventStore(tmp_path / "events.db", durability="sometimes")


async def test_schema_migrations_records_the_schema_version(tmp_path: Path, raw: list[sqlite3.Connection]) -> None:
    path = tmp_path / "events.db"
    async with opened(path):
        pass
    rows = connect(path, raw).execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    tables = {r[0] for r in connect(path, raw).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "events", "snapshots", "schema_migrations"} <= tables


async def test_reopening_an_existing_file_keeps_its_data(tmp_path: Path, raw: list[sqlite3.Connection]) -> None:
    path = tmp_path / "events.db"
    async with opened(path) as store:
        first = await store.append("s1", 0, [ev(1), ev(2)])
        await store.append("s2", 0, [ev(3)])
    async with opened(path) as store:
        assert await store.read("s1") == first
        assert await store.count_sessions() == 2
        info = await store.session("s1")
        assert info is not None
        assert info.version == 2
        assert info.head_hash == first[-1].hash
        more = await store.append("s1", 2, [ev(4)])
        assert more[0].version == 3
        assert more[0].prev_hash == first[-1].hash
        assert verify_chain("s1", await store.read("s1"), 3, more[0].hash) is None
    count = connect(path, raw).execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == SCHEMA_VERSION


async def test_a_newer_schema_version_is_refused(tmp_path: Path, raw: list[sqlite3.Connection]) -> None:
    path = tmp_path / "events.db"
    async with opened(path):
        pass
    newer = SCHEMA_VERSION + 1
    conn = connect(path, raw)
    with conn:
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'later')", (newer,))
    conn.close()

    store = SqliteEventStore(path)
    with pytest.raises(SchemaMismatch) as info:
        await store.open()
    await store.close()
    assert isinstance(info.value, StoreError)
    assert info.value.code == "SCHEMA_MISMATCH"
    assert str(newer) in info.value.message
    assert f"({SCHEMA_VERSION})" in info.value.message


# -- two processes on one file ------------------------------------------------------------------


async def test_a_stale_writer_on_the_same_file_gets_a_version_conflict(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with opened(path) as a, opened(path) as b:
        await a.append("s1", 0, [ev(1), ev(2)])
        seen = await b.session("s1")
        assert seen is not None
        assert seen.version == 2

        await a.append("s1", 2, [ev(3)])
        with pytest.raises(VersionConflict):
            await b.append("s1", seen.version, [ev(99)])

        # b catches up and then wins its turn; a is now the stale one.
        fresh = await b.session("s1")
        assert fresh is not None
        assert fresh.version == 3
        await b.append("s1", 3, [ev(4)])
        with pytest.raises(VersionConflict):
            await a.append("s1", 3, [ev(98)])

        for store in (a, b):
            rows = await store.read("s1")
            assert [r.version for r in rows] == [1, 2, 3, 4]
            assert [r.data()["n"] for r in rows] == [1, 2, 3, 4]
            head = await store.session("s1")
            assert head is not None
            assert verify_chain("s1", rows, head.version, head.head_hash) is None


async def test_two_writers_creating_the_same_session_conflict(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with opened(path) as a, opened(path) as b:
        await a.append("s1", 0, [ev(1)])
        with pytest.raises(VersionConflict):
            await b.append("s1", 0, [ev(2)])
        assert [r.data()["n"] for r in await b.read("s1")] == [1]
        assert await b.count_sessions() == 1


# -- failures surface as StoreError -----------------------------------------------------------


async def test_a_directory_in_place_of_the_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.mkdir()
    store = SqliteEventStore(path)
    with pytest.raises(StoreError):
        await store.open()
    await store.close()


async def test_a_path_below_a_regular_file_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file, not a directory")
    store = SqliteEventStore(blocker / "sub" / "events.db")
    with pytest.raises(StoreError):
        await store.open()
    await store.close()


async def test_calls_on_an_unopened_store_raise_store_error(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    with pytest.raises(StoreError):
        await store.read("s1")
    with pytest.raises(StoreError):
        await store.count_sessions()


# -- store URLs --------------------------------------------------------------------------------


async def test_a_relative_sqlite_url_opens_a_file_below_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/relative.db")
    assert isinstance(store, SqliteEventStore)
    assert store.path == Path("data/relative.db")
    assert store.url == "sqlite:///data/relative.db"
    await store.open()
    try:
        await store.append("s1", 0, [ev(1)])
    finally:
        await store.close()
    assert (tmp_path / "data" / "relative.db").is_file()


def test_an_absolute_sqlite_url_names_an_absolute_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'abs.db'}"
    assert url.startswith("sqlite:////")
    store = open_store(url, durability="full")
    assert isinstance(store, SqliteEventStore)
    assert store.path == tmp_path / "abs.db"
    assert store.path.is_absolute()
    assert store.durability == "full"
    assert store.url == url


def test_a_sqlite_url_may_start_at_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store("sqlite:///~/tg.db")
    assert isinstance(store, SqliteEventStore)
    assert store.path == tmp_path / "tg.db"


@pytest.mark.parametrize("url", ["memory://", "memory:"])
def test_a_memory_url_gives_a_memory_store(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, MemoryEventStore)
    assert store.url == url


@pytest.mark.parametrize("url", ["mysql://db/x", "sqlite:/one-slash.db", "file:///tmp/x.db", "", "events.db"])
def test_an_unknown_url_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_store(url)
    assert info.value.code == "CONFIG_ERROR"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://relative.db"])
def test_a_sqlite_url_without_a_path_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="path"):
        open_store(url)


async def test_a_file_at_schema_version_1_is_migrated_in_place(tmp_path: Path, raw: list[sqlite3.Connection]) -> None:
    # Build a version-1 file by hand, exactly as the first release wrote it, with data in it.
    path = tmp_path / "v1.db"
    conn = connect(path, raw)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'then')")
    conn.commit()
    conn.close()
    async with opened(path) as store:
        await store.append("s1", 0, [ev(1)])
        assert [i.session_id for i in await store.recent_sessions()] == ["s1"]
    check = connect(path, raw)
    versions = [r[0] for r in check.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    indexes = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "events_request" in indexes  # added by migration 2
    assert "sessions_recent" not in indexes  # added by 2, dropped by 3


async def test_a_write_while_another_process_holds_the_lock_is_a_retriable_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with opened(path) as store:
        await store.append("s1", 0, [ev(1)])
    store = SqliteEventStore(path, busy_timeout_ms=50)
    await store.open()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        try:
            with pytest.raises(StoreUnavailable) as info:
                async with store.write_batch(("s1",)):
                    await store.append("s1", 1, [ev(2)])
            assert info.value.retriable and info.value.code == "STORE_UNAVAILABLE"
        finally:
            await store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    async with opened(path) as store:  # nothing was written, and the store works
        assert (await store.session("s1")).version == 1  # type: ignore[union-attr]
        await store.append("s1", 1, [ev(2)])
