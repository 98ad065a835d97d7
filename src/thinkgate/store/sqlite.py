"""SQLite event store (the default): one file, WAL mode, versioned schema.

Calls run inline on the event loop's thread rather than on a worker thread: a WAL
commit without fsync costs tens of microseconds, while one hop to a worker thread
costs ~100 µs of CPU plus wake-up latency on this class of machine
(``shared/reference/sdk-performance.md``), so the hop would dominate every write.

Durability: ``normal`` (``synchronous=NORMAL``) survives a kill -9 of the server, since
a committed transaction is in the WAL file before ``append`` returns; ``full``
(``synchronous=FULL``) also fsyncs the WAL on every commit, surviving power loss.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio

from thinkgate.domain.chain import GENESIS_HASH
from thinkgate.errors import SchemaMismatch, StoreError, StoreNotFound, StoreUnavailable, VersionConflict
from thinkgate.store.base import (
    AppendItem,
    AppendResult,
    NewEvent,
    SessionInfo,
    Snapshot,
    StoredEvent,
    chain_events,
    check_distinct,
    check_page_limit,
    current_task,
    event_from_row,
    event_row,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteEventStore"]

# Each migration moves the schema from version i to i + 1. Never edit a released one: add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            head_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE events (
            session_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            payload BLOB NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (session_id, version)
        ) WITHOUT ROWID""",
        """CREATE TABLE snapshots (
            session_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state BLOB NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # Most recently updated sessions first (`sessions list`, the list_sessions tool).
        "CREATE INDEX sessions_recent ON sessions (updated_at DESC, id DESC)",
        # Idempotency keys are looked up in the log, so memory does not grow with them.
        "ALTER TABLE events ADD COLUMN request_id TEXT",
        "CREATE UNIQUE INDEX events_request ON events (session_id, request_id) WHERE request_id IS NOT NULL",
        # Thoughts are found by id without scanning the log (revisions, graph reads).
        "ALTER TABLE events ADD COLUMN thought_id TEXT",
        "CREATE UNIQUE INDEX events_thought ON events (session_id, thought_id) WHERE thought_id IS NOT NULL",
    ),
    (
        # Every index is one more page in every commit's WAL write. Profile lesson (BENCHMARKS.md):
        # dropping these two cut a single-thought commit by 10-18%. Thoughts are read by
        # version (the session state knows it); recent sessions are sorted when listed.
        "DROP INDEX events_thought",
        "DROP INDEX sessions_recent",
    ),
    (
        # Events and snapshots become rowid tables. A WITHOUT ROWID table stores whole rows in
        # its primary-key B-tree, which SQLite advises against for rows over ~1/20 of a page;
        # an event is ~1 KiB. Measured (BENCHMARKS.md): a one-event insert took ~100 µs
        # WITHOUT ROWID and ~50 µs as a rowid table with a unique (session_id, version) index.
        """CREATE TABLE events_v4 (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            payload BLOB NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            request_id TEXT,
            thought_id TEXT,
            UNIQUE (session_id, version)
        )""",
        "INSERT INTO events_v4 (session_id, version, type, recorded_at, payload, prev_hash, hash, request_id, "
        "thought_id) SELECT session_id, version, type, recorded_at, payload, prev_hash, hash, request_id, thought_id "
        "FROM events ORDER BY session_id, version",
        "DROP TABLE events",
        "ALTER TABLE events_v4 RENAME TO events",
        "CREATE UNIQUE INDEX events_request ON events (session_id, request_id) WHERE request_id IS NOT NULL",
        """CREATE TABLE snapshots_v4 (
            session_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state BLOB NOT NULL
        )""",
        "INSERT INTO snapshots_v4 (session_id, version, state) SELECT session_id, version, state FROM snapshots",
        "DROP TABLE snapshots",
        "ALTER TABLE snapshots_v4 RENAME TO snapshots",
    ),
    (
        # Route outcomes across all sessions, in keyset order (calibration reads them all). A
        # partial index: only outcome_recorded rows are in it, so other commits write no page of
        # it. A query uses it only when its WHERE implies this one (``outcome_events``).
        "CREATE INDEX events_outcomes ON events (session_id, version) WHERE type = 'outcome_recorded'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

WAL_CHECKPOINT_PAGES = 4000
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's transaction
OPEN_RETRY_SECONDS = 15.0  # how long opening retries a database another process is setting up

_EVENT_COLUMNS = "session_id, version, type, recorded_at, payload, prev_hash, hash"


class SqliteEventStore:
    """Event logs in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        durability: str = "normal",
        url: str | None = None,
        create: bool = True,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.path = Path(path)
        self.durability = durability
        self.url = url or f"sqlite:///{self.path}"
        self.create = create
        self.busy_timeout_ms = busy_timeout_ms
        self._db: sqlite3.Connection | None = None
        self._owner: object | None = None  # the task whose write transaction is open

    async def open(self) -> None:
        if not self.create and not self.path.is_file():
            raise StoreNotFound(f"no SQLite store at {self.path}; check --store / THINKGATE_STORE")
        # Several processes may open a new file at once (two clients starting servers on the
        # default store): switching to WAL and migrating take locks that the busy timeout
        # does not always wait for, so a locked database is retried for a while.
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                self._db = self._connect()
                return
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise _store_error(f"opening SQLite store {self.path}", exc) from exc
            await anyio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"could not put {self.path} in WAL mode (got {mode!r})")
            db.execute(f"PRAGMA synchronous = {'FULL' if self.durability == 'full' else 'NORMAL'}")
            # The commit that crosses this many WAL pages also checkpoints (copies them into the
            # database file and fsyncs both): a 3-7 ms stall. At SQLite's default of 1,000 pages
            # that was every ~130-180 single-thought commits, which set the sequential p99
            # (BENCHMARKS.md); at 4,000 it is every ~600+, outside the p99, for a WAL of <= 16 MiB.
            db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            self._migrate(db)
        except sqlite3.OperationalError:
            if db is not None:
                db.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        except BaseException:
            if db is not None:
                db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"{self.path} has schema version {current}, newer than this ThinkGate understands "
                    f"({SCHEMA_VERSION}); upgrade ThinkGate"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
                    (version,),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction (taking the write lock up front); store failures become ``StoreError``.

        Re-entrant for the task that holds it: inside ``write_batch`` or ``exclusive``, the same
        task's writes join the open transaction and commit with it.
        """
        db = self.db
        task = current_task()
        if self._owner is not None and self._owner is task:
            try:
                yield db
            except sqlite3.Error as exc:
                raise _store_error(f"{what}", exc) from exc
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            self._owner = task
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                self._owner = None
        except sqlite3.Error as exc:
            raise _store_error(f"{what}", exc) from exc

    @asynccontextmanager
    async def exclusive(self, session_id: str) -> AsyncIterator[None]:
        # SQLite has one writer at a time: holding the write lock across read-decide-append
        # serialises writers of every process in the database, so none of them can conflict.
        what = f"writing session {session_id!r}"
        if self._owner is None or self._owner is not current_task():
            with self._transaction(what):
                yield
            return
        # Inside a batch: a savepoint, so a failing section leaves its session as it was.
        with self._transaction(what) as db:
            db.execute("SAVEPOINT section")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK TO section")
                db.execute("RELEASE section")
                raise
            db.execute("RELEASE section")

    def write_batch(self, session_ids: Collection[str] = ()) -> AbstractAsyncContextManager[None]:
        # Group commit: one transaction, one WAL append and (with durability full) one fsync
        # for every call in the batch. BEGIN IMMEDIATE takes the database's write lock, which
        # holds off every other writer of every session.
        return _Batch(self)

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        if self._owner is not None and self._owner is current_task():
            try:  # inside the caller's transaction (the hot path: no context manager of its own)
                return self._append(self.db, session_id, expected_version, events)
            except sqlite3.Error as exc:
                raise _store_error(f"append to session {session_id!r}", exc) from exc
        with self._transaction(f"append to session {session_id!r}") as db:
            return self._append(db, session_id, expected_version, events)

    async def append_many(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        # Appends are local calls: one after another inside the open transaction (or a new one).
        check_distinct(items)
        what = "append to several sessions"
        if self._owner is not None and self._owner is current_task():
            try:
                return self._append_each(self.db, items)
            except sqlite3.Error as exc:
                raise _store_error(what, exc) from exc
        with self._transaction(what) as db:
            return self._append_each(db, items)

    @classmethod
    def _append_each(cls, db: sqlite3.Connection, items: Sequence[AppendItem]) -> list[AppendResult]:
        out: list[AppendResult] = []
        for session_id, expected_version, events in items:
            try:
                out.append(cls._append(db, session_id, expected_version, events))
            except VersionConflict as exc:
                out.append(exc)
        return out

    @staticmethod
    def _append(
        db: sqlite3.Connection, session_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[StoredEvent]:
        row = db.execute("SELECT version, head_hash FROM sessions WHERE id = ?", (session_id,)).fetchone()
        current = row[0] if row else 0
        if current != expected_version:
            raise VersionConflict(f"session {session_id!r} is at version {current}, not {expected_version}")
        if not events:
            return []
        stored = chain_events(session_id, row[1] if row else GENESIS_HASH, current + 1, events)
        db.executemany(
            f"INSERT INTO events ({_EVENT_COLUMNS}, request_id, thought_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*event_row(e), n.request_id, n.thought_id) for e, n in zip(stored, events, strict=True)],
        )
        last = stored[-1]
        if row:
            db.execute(
                "UPDATE sessions SET version = ?, head_hash = ?, updated_at = ? WHERE id = ?",
                (last.version, last.hash, last.recorded_at, session_id),
            )
        else:
            db.execute(
                "INSERT INTO sessions (id, version, head_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (session_id, last.version, last.hash, stored[0].recorded_at, last.recorded_at),
            )
        return stored

    async def read(self, session_id: str, from_version: int = 1, limit: int | None = None) -> list[StoredEvent]:
        try:
            rows = self.db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE session_id = ? AND version >= ? ORDER BY version LIMIT ?",
                (session_id, from_version, -1 if limit is None else limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error(f"reading session {session_id!r}", exc) from exc
        return [event_from_row(r) for r in rows]

    async def find_request(self, session_id: str, request_id: str) -> StoredEvent | None:
        row = self._one(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE session_id = ? AND request_id = ?", (session_id, request_id)
        )
        return event_from_row(row) if row else None

    async def find_thought(self, session_id: str, thought_id: str) -> StoredEvent | None:
        row = self._one(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE session_id = ? AND thought_id = ?", (session_id, thought_id)
        )
        return event_from_row(row) if row else None

    async def outcome_events(self, *, after: tuple[str, int] | None = None, limit: int = 1000) -> list[StoredEvent]:
        check_page_limit(limit)
        session_id, version = after if after is not None else ("", 0)
        try:
            # The type is a literal, as in the index's WHERE, so the planner can always use the
            # partial index (with a parameter it would have to re-plan for the bound value).
            rows = self.db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE type = 'outcome_recorded' "
                "AND (session_id, version) > (?, ?) ORDER BY session_id, version LIMIT ?",
                (session_id, version, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error("reading outcome events", exc) from exc
        return [event_from_row(r) for r in rows]

    async def session(self, session_id: str) -> SessionInfo | None:
        row = self._one(
            "SELECT id, version, head_hash, created_at, updated_at FROM sessions WHERE id = ?", (session_id,)
        )
        return SessionInfo(*row) if row else None

    async def list_sessions(self, limit: int = 100, after: str | None = None) -> list[SessionInfo]:
        try:
            rows = self.db.execute(
                "SELECT id, version, head_hash, created_at, updated_at FROM sessions WHERE id > ? ORDER BY id LIMIT ?",
                (after or "", limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error("listing sessions", exc) from exc
        return [SessionInfo(*r) for r in rows]

    async def recent_sessions(self, limit: int = 100, before: tuple[str, str] | None = None) -> list[SessionInfo]:
        updated, sid = before if before is not None else ("\uffff", "")
        try:
            rows = self.db.execute(
                "SELECT id, version, head_hash, created_at, updated_at FROM sessions "
                "WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?",
                (updated, sid, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error("listing sessions", exc) from exc
        return [SessionInfo(*r) for r in rows]

    async def orphan_sessions(self) -> list[str]:
        try:
            rows = self.db.execute(
                "SELECT DISTINCT session_id FROM events WHERE session_id NOT IN (SELECT id FROM sessions) "
                "ORDER BY session_id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error("checking for orphaned events", exc) from exc
        return [r[0] for r in rows]

    async def count_sessions(self) -> int:
        row = self._one("SELECT COUNT(*) FROM sessions", ())
        return int(row[0]) if row else 0

    async def delete_session(self, session_id: str) -> bool:
        with self._transaction(f"deleting session {session_id!r}") as db:
            db.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM snapshots WHERE session_id = ?", (session_id,))
            deleted: int = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount
        return deleted > 0

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        try:
            self.db.execute(
                "INSERT INTO snapshots (session_id, version, state) SELECT ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?) "
                "ON CONFLICT (session_id) DO UPDATE SET version = excluded.version, state = excluded.state "
                "WHERE excluded.version > snapshots.version",
                (snapshot.session_id, snapshot.version, snapshot.state, snapshot.session_id),
            )
        except sqlite3.Error as exc:
            raise _store_error(f"saving a snapshot of {snapshot.session_id!r}", exc) from exc

    async def load_snapshot(self, session_id: str) -> Snapshot | None:
        row = self._one("SELECT session_id, version, state FROM snapshots WHERE session_id = ?", (session_id,))
        return Snapshot(row[0], row[1], bytes(row[2])) if row else None

    def _one(self, sql: str, args: tuple[object, ...]) -> Any:
        try:
            row = self.db.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise _store_error("store query", exc) from exc
        return row


class _Batch:
    """``write_batch``: the store's write transaction, joined when the task already holds it.

    A class rather than ``@asynccontextmanager``: it is entered on every write, and the
    generator-based form costs several microseconds more per use.
    """

    __slots__ = ("joined", "store")

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.joined = False

    async def __aenter__(self) -> None:
        store = self.store
        task = current_task()
        if store._owner is not None and store._owner is task:
            self.joined = True
            return
        try:
            store.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _store_error("writing a batch of events", exc) from exc
        store._owner = task

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if not self.joined:
            store = self.store
            store._owner = None
            db = store.db
            try:
                if kind is None:
                    db.execute("COMMIT")
                    return
                if db.in_transaction:
                    db.execute("ROLLBACK")
            except sqlite3.Error as failed:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise _store_error("writing a batch of events", failed) from failed
        if isinstance(exc, sqlite3.Error):
            raise _store_error("writing a batch of events", exc) from exc


def _store_error(what: str, exc: sqlite3.Error) -> StoreError:
    """``what`` failed: retriable (``STORE_UNAVAILABLE``) when another process holds the database's lock."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreUnavailable(f"{what} failed: the database is busy (another process holds its lock); retry")
    return StoreError(f"{what} failed: {text}")
