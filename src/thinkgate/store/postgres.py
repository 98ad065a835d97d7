"""PostgreSQL event store: one database shared by any number of ThinkGate replicas.

psycopg 3 with an async connection pool. Every table lives in the ``thinkgate`` schema, so
the database can be shared with other applications. The schema is never created or changed
on start-up: ``thinkgate db migrate`` applies migrations (``migrate``), and ``open`` refuses a
database whose schema is missing, older or newer than this code (``SCHEMA_MISMATCH``).

Writers of one session are serialised in the database, across processes: a write batch or
exclusive section takes a transaction-scoped advisory lock per session
(``pg_advisory_xact_lock``) before it reads the head, so the engine decides under the lock as
it does under SQLite's ``BEGIN IMMEDIATE``, and two replicas never both write version N
(which the primary key would refuse anyway). Sessions are locked in key order, so batches of
several sessions cannot deadlock. A writer that waits longer than ``LOCK_TIMEOUT_MS`` for a
session's lock gets ``STORE_UNAVAILABLE`` (retriable): that is the documented limit on how
hot one session may run across replicas.

Connection loss, a server that is down or restarting, and lock timeouts are
``StoreUnavailable`` (retriable). A pooled connection found broken when a batch begins or a
read runs (the server restarted while it sat idle) is replaced and the call goes on; the pool
reconnects in the background, so calls succeed again once the server is back.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from thinkgate.domain.chain import GENESIS_HASH
from thinkgate.errors import ConfigError, SchemaMismatch, StoreError, StoreUnavailable, VersionConflict
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
from thinkgate.store.url import redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresEventStore", "migrate", "schema_version"]

# Each migration moves the schema from version i to i + 1. Never edit a released one: add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Ids and timestamps compare byte-wise (COLLATE "C"), as in SQLite and Python, so
        # listing order does not depend on the database's locale.
        """CREATE TABLE thinkgate.sessions (
            id TEXT COLLATE "C" PRIMARY KEY,
            version BIGINT NOT NULL,
            head_hash TEXT NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            updated_at TEXT COLLATE "C" NOT NULL
        )""",
        """CREATE TABLE thinkgate.events (
            session_id TEXT COLLATE "C" NOT NULL,
            version BIGINT NOT NULL,
            type TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            payload BYTEA NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            request_id TEXT,
            thought_id TEXT,
            PRIMARY KEY (session_id, version)
        )""",
        # Idempotency keys are looked up in the log, so memory does not grow with them.
        "CREATE UNIQUE INDEX events_request ON thinkgate.events (session_id, request_id) WHERE request_id IS NOT NULL",
        """CREATE TABLE thinkgate.snapshots (
            session_id TEXT COLLATE "C" PRIMARY KEY,
            version BIGINT NOT NULL,
            state BYTEA NOT NULL
        )""",
    ),
    (
        # Route outcomes across all sessions, in keyset order (calibration reads them all). A
        # partial index: only outcome_recorded rows are in it, so other commits do not update it.
        # Built inside the migration's transaction (CONCURRENTLY cannot be), so writes wait for it.
        "CREATE INDEX events_outcomes ON thinkgate.events (session_id, version) WHERE type = 'outcome_recorded'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

LOCK_TIMEOUT_MS = 5000  # how long a writer waits for a session another replica is writing
IDLE_IN_TRANSACTION_MS = 60_000  # a hung replica's open transaction (and its locks) is ended after this
CONNECT_TIMEOUT_S = 5  # one connection attempt
CALL_TIMEOUT_S = 5.0  # how long a call waits for a working connection before STORE_UNAVAILABLE
POOL_MIN, POOL_MAX = 1, 10
# Used where the URL does not say otherwise. Over TCP, keepalives and tcp_user_timeout make a
# vanished server (a network partition, a dead host) an error within ~30 s instead of a hang.
_CONNECT_DEFAULTS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}

_MIGRATE_LOCK = 0x7468696E6B676174  # "thinkgat": one migration at a time per database
_EVENT_COLUMNS = "session_id, version, type, recorded_at, payload, prev_hash, hash"
_HEAD_COLUMNS = "id, version, head_hash, created_at, updated_at"
# One statement writes the events and moves the head (a data-modifying CTE always runs), unless
# one of the request ids is already used: then it writes nothing and returns no row, so the
# refusal leaves the transaction usable without a savepoint (one round trip per append).
_WRITE = (
    "WITH dup AS (SELECT 1 FROM thinkgate.events WHERE session_id = %s AND request_id = ANY(%s::text[]) LIMIT 1), "
    "ins AS (INSERT INTO thinkgate.events "
    f"({_EVENT_COLUMNS}, request_id, thought_id) "
    "SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bytea[], %s::text[], %s::text[], "
    "%s::text[], %s::text[]) WHERE NOT EXISTS (SELECT 1 FROM dup)) "
    f"INSERT INTO thinkgate.sessions ({_HEAD_COLUMNS}) SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM dup) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, head_hash = excluded.head_hash, "
    "updated_at = excluded.updated_at RETURNING 1"
)

# ``append_many`` in one statement. The version check is in SQL: a session is written only if its
# head is still the one the events were chained to (``ok``), so a stale head in the transaction's
# cache costs a VersionConflict, never a broken chain. If a request id is already used in its
# session (``dup``), nothing at all is written and the statement still succeeds, leaving the
# transaction usable. Returns that refusal and the ids of the sessions written.
_WRITE_MANY = (
    "WITH h AS (SELECT * FROM unnest(%(sid)s::text[], %(expected)s::bigint[], %(prev)s::text[], "
    "%(version)s::bigint[], %(hash)s::text[], %(created)s::text[], %(updated)s::text[]) "
    "AS h(id, expected, prev, version, head_hash, created_at, updated_at)), "
    "dup AS (SELECT 1 FROM thinkgate.events e JOIN unnest(%(rsid)s::text[], %(rid)s::text[]) AS r(sid, rid) "
    "ON e.session_id = r.sid AND e.request_id = r.rid LIMIT 1), "
    "ok AS (SELECT h.* FROM h LEFT JOIN thinkgate.sessions s ON s.id = h.id WHERE NOT EXISTS (SELECT 1 FROM dup) "
    "AND COALESCE(s.version, 0) = h.expected AND COALESCE(s.head_hash, %(genesis)s) = h.prev), "
    "ins AS (INSERT INTO thinkgate.events "
    f"({_EVENT_COLUMNS}, request_id, thought_id) "
    "SELECT e.* FROM unnest(%(e_sid)s::text[], %(e_version)s::bigint[], %(e_type)s::text[], %(e_at)s::text[], "
    "%(e_payload)s::bytea[], %(e_prev)s::text[], %(e_hash)s::text[], %(e_rid)s::text[], %(e_tid)s::text[]) "
    "AS e(session_id, version, type, recorded_at, payload, prev_hash, hash, request_id, thought_id) "
    "WHERE e.session_id IN (SELECT id FROM ok)), "
    f"up AS (INSERT INTO thinkgate.sessions ({_HEAD_COLUMNS}) "
    "SELECT id, version, head_hash, created_at, updated_at FROM ok "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, head_hash = excluded.head_hash, "
    "updated_at = excluded.updated_at RETURNING id) "
    "SELECT EXISTS (SELECT 1 FROM dup), ARRAY(SELECT id FROM up)"
)
_HEAD_ARGS = ("sid", "expected", "prev", "version", "hash", "created", "updated")
_EVENT_ARGS = ("e_sid", "e_version", "e_type", "e_at", "e_payload", "e_prev", "e_hash", "e_rid", "e_tid")


def lock_key(session_id: str) -> int:
    """The advisory-lock key of a session: 64 bits of a hash (a collision only serialises two sessions)."""
    return int.from_bytes(hashlib.blake2b(session_id.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(slots=True)
class _Tx:
    """A task's open transaction: its connection and the session locks it holds."""

    conn: psycopg.AsyncConnection[Any]
    locked: set[int] = field(default_factory=set)
    savepoints: int = 0
    failed: bool = False  # a statement failed outside a savepoint: the transaction can only roll back
    # Heads (version, hash) of locked sessions as this transaction left them: read with the
    # locks, kept up to date by its appends, so an append needs no read of its own.
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)

    def savepoint(self) -> str:
        self.savepoints += 1
        return f"tg_{self.savepoints}"


class PostgresEventStore:
    """Event logs in a PostgreSQL database, shared by every replica that opens it."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = POOL_MIN,
        max_size: int = POOL_MAX,
        lock_timeout_ms: int = LOCK_TIMEOUT_MS,
        call_timeout: float = CALL_TIMEOUT_S,
    ) -> None:
        self.url = redact_url(conninfo)  # safe to log
        self._conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.lock_timeout_ms = lock_timeout_ms
        self.call_timeout = call_timeout
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._txs: dict[object, _Tx] = {}  # task -> its open write transaction

    async def open(self) -> None:
        """Connect and check that the schema is the one this code expects.

        Raises:
            StoreUnavailable: the server cannot be reached.
            SchemaMismatch: the database is not migrated to ``SCHEMA_VERSION``.
        """
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        # One direct connection first: its failure says why (no such database, bad password).
        conn = await _connect(self._conninfo)
        try:
            current = await schema_version(conn)
        except psycopg.Error as exc:
            raise _store_error(f"reading the schema version of {self.url}", exc) from exc
        finally:
            await conn.close()
        _check_schema(self.url, current)
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._conninfo,
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            kwargs={"autocommit": True, **_connect_defaults(self._conninfo)},
            configure=self._configure,
            timeout=self.call_timeout,
            name="thinkgate",
        )
        await pool.open(wait=False)
        self._pool = pool

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(f"SET lock_timeout = {int(self.lock_timeout_ms)}")
        await conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _open_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    # -- transactions ------------------------------------------------------------------------

    def write_batch(self, session_ids: Collection[str] = ()) -> AbstractAsyncContextManager[Any]:
        # Group commit: one transaction for the whole batch, holding each named session's lock.
        return _Batch(self, session_ids)

    @asynccontextmanager
    async def exclusive(self, session_id: str) -> AsyncIterator[None]:
        tx = self._txs.get(current_task())
        if tx is None:
            async with _Batch(self, (session_id,)):
                yield
            return
        # Inside a batch: a savepoint, so a failing section leaves its session as it was.
        what = f"writing session {session_id!r}"
        await self._lock(tx, (session_id,), what)
        name = tx.savepoint()
        await _run(tx.conn, f"SAVEPOINT {name}", what)
        try:
            yield
        except BaseException:
            tx.heads.clear()  # the section's appends are undone: read the heads again
            if await _rollback_to(tx.conn, name):
                tx.failed = False  # whatever failed did so inside the section, and is undone
            raise
        await _run(tx.conn, f"RELEASE SAVEPOINT {name}", what)

    async def _lock(self, tx: _Tx, session_ids: Iterable[str], what: str) -> None:
        keys = sorted({lock_key(s) for s in session_ids} - tx.locked)
        if not keys:
            return
        import psycopg

        try:
            if len(keys) == 1:
                await tx.conn.execute("SELECT pg_advisory_xact_lock(%s)", (keys[0],))
            else:  # in key order: two batches never wait on each other in a cycle
                await tx.conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,))
        except psycopg.Error as exc:
            raise _store_error(what, exc) from exc
        tx.locked.update(keys)

    async def _in_savepoint(self, tx: _Tx, sql: str, args: Sequence[Any], what: str) -> None:
        """Run one write inside the task's transaction, so its failure leaves the transaction usable."""
        import psycopg

        name = tx.savepoint()
        conn = tx.conn
        try:
            # One round trip: the three statements go out together in a pipeline.
            async with conn.pipeline():
                await conn.execute(f"SAVEPOINT {name}")
                await conn.execute(sql, args)
                await conn.execute(f"RELEASE SAVEPOINT {name}")
        except psycopg.Error as exc:
            await _rollback_to(conn, name)
            raise _store_error(what, exc) from exc
        except BaseException:
            await _rollback_to(conn, name)
            raise

    # -- writes ------------------------------------------------------------------------------

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        tx = self._txs.get(current_task())
        if tx is None:
            async with _Batch(self, (session_id,)) as batch:
                return await self._append(batch.held(), session_id, expected_version, events)
        return await self._append(tx, session_id, expected_version, events)

    async def _append(
        self, tx: _Tx, session_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[StoredEvent]:
        what = f"append to session {session_id!r}"
        await self._lock(tx, (session_id,), what)
        head = tx.heads.get(session_id)
        if head is None:
            row = await _fetchone(
                tx.conn, "SELECT version, head_hash FROM thinkgate.sessions WHERE id = %s", (session_id,), what
            )
            head = tx.heads[session_id] = (row[0], row[1]) if row else (0, GENESIS_HASH)
        current = head[0]
        if current != expected_version:
            raise VersionConflict(f"session {session_id!r} is at version {current}, not {expected_version}")
        if not events:
            return []
        request_ids = [n.request_id for n in events]
        _check_writable(session_id, request_ids, [n.thought_id for n in events], what)
        stored = chain_events(session_id, head[1], current + 1, events)
        last = stored[-1]
        args = (
            session_id,
            [r for r in request_ids if r is not None],
            session_id,
            [e.version for e in stored],
            [e.type for e in stored],
            [e.recorded_at for e in stored],
            [e.payload for e in stored],
            [e.prev_hash for e in stored],
            [e.hash for e in stored],
            request_ids,
            [n.thought_id for n in events],
            session_id,
            last.version,
            last.hash,
            stored[0].recorded_at,
            last.recorded_at,
        )
        try:
            cur = await tx.conn.execute(_WRITE, args)
            written = await cur.fetchone()
        except BaseException as exc:
            # The transaction is lost (no savepoint): its commit must not pretend otherwise.
            tx.failed = True
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise _store_error(what, exc) from exc
            raise
        if written is None:
            raise StoreError(f"{what} failed: a request id of these events is already used in the session")
        tx.heads[session_id] = (last.version, last.hash)
        return stored

    async def append_many(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        check_distinct(items)
        tx = self._txs.get(current_task())
        if tx is None:
            async with _Batch(self, [item[0] for item in items]) as batch:
                return await self._append_many(batch.held(), items)
        return await self._append_many(tx, items)

    async def _append_many(self, tx: _Tx, items: Sequence[AppendItem]) -> list[AppendResult]:
        what = "append to several sessions"
        await self._lock(tx, (item[0] for item in items), what)
        missing = [item[0] for item in items if item[0] not in tx.heads]
        if missing:  # sessions the batch did not name when it began (never on the engine's path)
            found = await _run(
                tx.conn, "SELECT id, version, head_hash FROM thinkgate.sessions WHERE id = ANY(%s)", what, (missing,)
            )
            tx.heads.update((sid, (0, GENESIS_HASH)) for sid in missing)
            tx.heads.update((sid, (version, head_hash)) for sid, version, head_hash in await found.fetchall())
        out: list[AppendResult] = []
        chained: dict[str, list[StoredEvent]] = {}
        heads: list[tuple[Any, ...]] = []  # one per session written, the columns of ``h``
        rows: list[tuple[Any, ...]] = []  # one per event, the columns of ``e``
        for session_id, expected_version, events in items:
            current, head_hash = tx.heads[session_id]
            if current != expected_version:
                out.append(VersionConflict(f"session {session_id!r} is at version {current}, not {expected_version}"))
                continue
            out.append([])
            if not events:
                continue
            request_ids = [n.request_id for n in events]
            thought_ids = [n.thought_id for n in events]
            _check_writable(session_id, request_ids, thought_ids, f"append to session {session_id!r}")
            stored = chained[session_id] = chain_events(session_id, head_hash, current + 1, events)
            first, last = stored[0], stored[-1]
            heads.append((session_id, current, head_hash, last.version, last.hash, first.recorded_at, last.recorded_at))
            rows.extend((*event_row(e), r, t) for e, r, t in zip(stored, request_ids, thought_ids, strict=True))
        if not chained:
            return out
        args: dict[str, Any] = dict(zip(_HEAD_ARGS, map(list, zip(*heads, strict=True)), strict=True))
        args.update(zip(_EVENT_ARGS, map(list, zip(*rows, strict=True)), strict=True))
        used = [(r[0], r[7]) for r in rows if r[7] is not None]
        args.update(rsid=[u[0] for u in used], rid=[u[1] for u in used], genesis=GENESIS_HASH)
        try:
            cur = await tx.conn.execute(_WRITE_MANY, args)
            row = await cur.fetchone()
        except BaseException as exc:
            # The transaction is lost (no savepoint): its commit must not pretend otherwise.
            tx.failed = True
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise _store_error(what, exc) from exc
            raise
        if row is None or row[0]:
            raise StoreError(f"{what} failed: a request id of these events is already used in its session")
        written = set(row[1])
        for i, (session_id, expected_version, _) in enumerate(items):
            appended = chained.get(session_id)
            if appended is None:
                continue
            if session_id in written:
                out[i] = appended
                tx.heads[session_id] = (appended[-1].version, appended[-1].hash)
            else:  # the head was not the one this transaction knew: read it again next time
                del tx.heads[session_id]
                out[i] = VersionConflict(f"session {session_id!r} is not at version {expected_version}")
        return out

    async def delete_session(self, session_id: str) -> bool:
        what = f"deleting session {session_id!r}"
        async with _Batch(self, (session_id,)) as batch:
            tx = batch.held()
            cur = await _run(tx.conn, "DELETE FROM thinkgate.sessions WHERE id = %s", what, (session_id,))
            deleted: bool = cur.rowcount > 0
            await _run(tx.conn, "DELETE FROM thinkgate.events WHERE session_id = %s", what, (session_id,))
            await _run(tx.conn, "DELETE FROM thinkgate.snapshots WHERE session_id = %s", what, (session_id,))
            tx.heads[session_id] = (0, GENESIS_HASH)
        return deleted

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        sql = (
            "INSERT INTO thinkgate.snapshots (session_id, version, state) SELECT %s, %s, %s "
            "WHERE EXISTS (SELECT 1 FROM thinkgate.sessions WHERE id = %s) "
            "ON CONFLICT (session_id) DO UPDATE SET version = excluded.version, state = excluded.state "
            "WHERE excluded.version > thinkgate.snapshots.version"
        )
        args = (snapshot.session_id, snapshot.version, snapshot.state, snapshot.session_id)
        what = f"saving a snapshot of {snapshot.session_id!r}"
        tx = self._txs.get(current_task())
        if tx is not None:
            await self._in_savepoint(tx, sql, args, what)
            return
        await self._query(sql, args, what, fetch=False)

    # -- reads -------------------------------------------------------------------------------

    async def _query(self, sql: str, args: Sequence[Any], what: str, *, fetch: bool = True) -> list[Any]:
        """Rows of one statement: on the task's own transaction if it has one (to see its writes), else pooled."""
        import psycopg

        tx = self._txs.get(current_task())
        if tx is not None:
            try:
                cur = await tx.conn.execute(sql, args)
                return await cur.fetchall() if fetch else []
            except psycopg.Error as exc:
                raise _store_error(what, exc) from exc
        pool = self._open_pool()
        for attempt in itertools.count():
            try:
                async with pool.connection() as conn:
                    try:
                        cur = await conn.execute(sql, args)
                        return await cur.fetchall() if fetch else []
                    except psycopg.OperationalError:
                        # A pooled connection the server dropped while idle (a restart): the
                        # statement reads, or writes a snapshot only if newer, so it is retried
                        # once per connection the pool may still hold.
                        if conn.broken and attempt < self.max_size:
                            continue
                        raise
            except psycopg.Error as exc:
                raise _store_error(what, exc) from exc
        raise AssertionError("unreachable")

    async def read(self, session_id: str, from_version: int = 1, limit: int | None = None) -> list[StoredEvent]:
        rows = await self._query(
            f"SELECT {_EVENT_COLUMNS} FROM thinkgate.events WHERE session_id = %s AND version >= %s "
            "ORDER BY version LIMIT %s",
            (session_id, from_version, limit),
            f"reading session {session_id!r}",
        )
        return [event_from_row(r) for r in rows]

    async def find_request(self, session_id: str, request_id: str) -> StoredEvent | None:
        rows = await self._query(
            f"SELECT {_EVENT_COLUMNS} FROM thinkgate.events WHERE session_id = %s AND request_id = %s",
            (session_id, request_id),
            f"looking up a request in session {session_id!r}",
        )
        return event_from_row(rows[0]) if rows else None

    async def find_thought(self, session_id: str, thought_id: str) -> StoredEvent | None:
        rows = await self._query(
            f"SELECT {_EVENT_COLUMNS} FROM thinkgate.events WHERE session_id = %s AND thought_id = %s",
            (session_id, thought_id),
            f"looking up a thought in session {session_id!r}",
        )
        return event_from_row(rows[0]) if rows else None

    async def outcome_events(self, *, after: tuple[str, int] | None = None, limit: int = 1000) -> list[StoredEvent]:
        check_page_limit(limit)
        session_id, version = after if after is not None else ("", 0)
        # The type is a literal, not a parameter, so the planner can prove the partial index applies.
        rows = await self._query(
            f"SELECT {_EVENT_COLUMNS} FROM thinkgate.events WHERE type = 'outcome_recorded' "
            "AND (session_id, version) > (%s, %s) ORDER BY session_id, version LIMIT %s",
            (session_id, version, limit),
            "reading outcome events",
        )
        return [event_from_row(r) for r in rows]

    async def session(self, session_id: str) -> SessionInfo | None:
        rows = await self._query(
            f"SELECT {_HEAD_COLUMNS} FROM thinkgate.sessions WHERE id = %s",
            (session_id,),
            f"reading session {session_id!r}",
        )
        return SessionInfo(*rows[0]) if rows else None

    async def list_sessions(self, limit: int = 100, after: str | None = None) -> list[SessionInfo]:
        rows = await self._query(
            f"SELECT {_HEAD_COLUMNS} FROM thinkgate.sessions WHERE id > %s ORDER BY id LIMIT %s",
            (after or "", limit),
            "listing sessions",
        )
        return [SessionInfo(*r) for r in rows]

    async def recent_sessions(self, limit: int = 100, before: tuple[str, str] | None = None) -> list[SessionInfo]:
        if before is None:
            sql = f"SELECT {_HEAD_COLUMNS} FROM thinkgate.sessions ORDER BY updated_at DESC, id DESC LIMIT %s"
            args: tuple[Any, ...] = (limit,)
        else:
            sql = (
                f"SELECT {_HEAD_COLUMNS} FROM thinkgate.sessions WHERE (updated_at, id) < (%s, %s) "
                "ORDER BY updated_at DESC, id DESC LIMIT %s"
            )
            args = (before[0], before[1], limit)
        return [SessionInfo(*r) for r in await self._query(sql, args, "listing sessions")]

    async def orphan_sessions(self) -> list[str]:
        rows = await self._query(
            "SELECT DISTINCT e.session_id FROM thinkgate.events e "
            "WHERE NOT EXISTS (SELECT 1 FROM thinkgate.sessions s WHERE s.id = e.session_id) ORDER BY 1",
            (),
            "checking for orphaned events",
        )
        return [r[0] for r in rows]

    async def count_sessions(self) -> int:
        rows = await self._query("SELECT count(*) FROM thinkgate.sessions", (), "counting sessions")
        return int(rows[0][0])

    async def load_snapshot(self, session_id: str) -> Snapshot | None:
        rows = await self._query(
            "SELECT session_id, version, state FROM thinkgate.snapshots WHERE session_id = %s",
            (session_id,),
            f"loading a snapshot of {session_id!r}",
        )
        return Snapshot(rows[0][0], rows[0][1], bytes(rows[0][2])) if rows else None


class _Batch:
    """``write_batch``: a transaction holding session locks, joined when the task already has one."""

    __slots__ = ("joined", "session_ids", "store", "task", "tx")

    def __init__(self, store: PostgresEventStore, session_ids: Collection[str]) -> None:
        self.store = store
        self.session_ids = session_ids
        self.joined = False
        self.task: object | None = None
        self.tx: _Tx | None = None

    def held(self) -> _Tx:
        """The transaction this batch runs in (once entered)."""
        if self.tx is None:
            raise StoreError("the batch is not open")
        return self.tx

    async def __aenter__(self) -> _Batch:
        import psycopg
        from psycopg import sql

        store = self.store
        self.task = task = current_task()
        what = "writing a batch of events"
        tx = store._txs.get(task)
        if tx is not None:
            self.joined, self.tx = True, tx
            await store._lock(tx, self.session_ids, what)
            return self
        pool = store._open_pool()
        keys = sorted({lock_key(s) for s in self.session_ids})
        # BEGIN, the locks and then the sessions' heads in one round trip (a simple query: the
        # keys are our own integers, the ids are quoted literals), locks in key order so two
        # batches never wait on each other in a cycle; read after the locks, the heads stay
        # true for the whole transaction.
        begin = "; ".join(["BEGIN", *(f"SELECT pg_advisory_xact_lock({k})" for k in keys)])
        read_heads = sql.SQL("; SELECT id, version, head_hash FROM thinkgate.sessions WHERE id = ANY({})").format(
            sql.Literal(list(self.session_ids))
        )
        for attempt in itertools.count():
            try:
                conn = await pool.getconn()
            except psycopg.Error as exc:
                raise _store_error(what, exc) from exc
            try:
                query = begin + read_heads.as_string(conn) if self.session_ids else begin
                cur = await conn.execute(query)
                while cur.nextset():
                    pass
                found = await cur.fetchall() if self.session_ids else []
            except psycopg.Error as exc:
                with anyio.CancelScope(shield=True):
                    await _discard(pool, conn)
                # A pooled connection the server dropped while it sat idle (a restart): nothing
                # was sent that counts, so another connection is tried.
                if conn.broken and attempt < store.max_size:
                    continue
                raise _store_error(what, exc) from exc
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await _discard(pool, conn)
                raise
            break
        heads = {sid: (0, GENESIS_HASH) for sid in self.session_ids}
        heads.update((sid, (version, head_hash)) for sid, version, head_hash in found)
        tx = _Tx(conn, set(keys), heads=heads)
        store._txs[task] = self.tx = tx
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self.joined or self.tx is None:
            return
        import psycopg

        store, conn = self.store, self.tx.conn
        store._txs.pop(self.task, None)
        pool = store._pool
        # Shielded: a cancelled batch must still roll back and hand its connection back.
        with anyio.CancelScope(shield=True):
            if kind is None:
                if self.tx.failed:
                    await _discard(pool, conn)
                    raise StoreError("committing a batch of events failed: a write in it failed; nothing was kept")
                try:
                    cur = await conn.execute("COMMIT")
                except psycopg.Error as failed:
                    await _discard(pool, conn)
                    raise _store_error("committing a batch of events", failed) from failed
                await _give_back(pool, conn)
                # PostgreSQL answers COMMIT of a transaction a failed statement aborted with
                # ROLLBACK, not an error: it must not pass for a commit.
                if cur.statusmessage != "COMMIT":
                    raise StoreError("committing a batch of events failed: PostgreSQL rolled it back; nothing was kept")
                return
            await _discard(pool, conn)


async def _discard(pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None, conn: Any) -> None:
    """Roll back whatever ``conn`` has open and hand it back (the pool drops it if it is broken)."""
    import psycopg

    with contextlib.suppress(psycopg.Error):  # a broken connection: the pool sees it and replaces it
        await conn.execute("ROLLBACK")
    await _give_back(pool, conn)


async def _give_back(pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None, conn: Any) -> None:
    if pool is None:  # the store was closed meanwhile
        await conn.close()
    else:
        await pool.putconn(conn)


async def _rollback_to(conn: Any, savepoint: str) -> bool:
    """Undo the transaction back to ``savepoint``; False if that failed too."""
    import psycopg

    with anyio.CancelScope(shield=True):
        try:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            await conn.execute(f"RELEASE SAVEPOINT {savepoint}")
        except psycopg.Error:
            return False  # the transaction is lost; its commit reports it (``_Batch.__aexit__``)
    return True


def _check_writable(session_id: str, request_ids: list[str | None], thought_ids: list[str | None], what: str) -> None:
    """Refuse, before sending, what the server would refuse (and so abort the transaction over).

    Raises:
        StoreError: a NUL character (PostgreSQL text cannot hold one) or a request id used twice.
    """
    texts = [session_id, *(r for r in request_ids if r is not None), *(t for t in thought_ids if t is not None)]
    if any("\x00" in t for t in texts):
        raise StoreError(f"{what} failed: PostgreSQL text cannot hold a NUL character")
    used = [r for r in request_ids if r is not None]
    if len(used) != len(set(used)):
        raise StoreError(f"{what} failed: a request id is used twice in these events")


async def _run(conn: Any, sql: str, what: str, args: Sequence[Any] | None = None) -> Any:
    import psycopg

    try:
        return await conn.execute(sql, args)
    except psycopg.Error as exc:
        raise _store_error(what, exc) from exc


async def _fetchone(conn: Any, sql: str, args: Sequence[Any], what: str) -> Any:
    cur = await _run(conn, sql, what, args)
    return await cur.fetchone()


async def schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The database's ThinkGate schema version (0: never migrated)."""
    cur = await conn.execute("SELECT to_regclass('thinkgate.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM thinkgate.schema_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def _check_schema(url: str, current: int) -> None:
    if current == SCHEMA_VERSION:
        return
    if current > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{url} has schema version {current}, newer than this ThinkGate understands ({SCHEMA_VERSION}); "
            "upgrade ThinkGate"
        )
    state = "has no ThinkGate schema" if current == 0 else f"has schema version {current}"
    raise SchemaMismatch(
        f"{url} {state}; this ThinkGate needs version {SCHEMA_VERSION}: run `thinkgate db migrate --store URL`"
    )


async def migrate(conninfo: str) -> tuple[int, int]:
    """Bring the database's schema up to ``SCHEMA_VERSION``; returns (version before, version after).

    One transaction under an advisory lock: concurrent migrations wait for each other, and a
    failed one changes nothing.

    Raises:
        StoreUnavailable: the server cannot be reached.
        SchemaMismatch: the schema is newer than this code.
        StoreError: a migration failed.
    """
    import psycopg

    url = redact_url(conninfo)
    conn = await _connect(conninfo)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            await conn.execute("CREATE SCHEMA IF NOT EXISTS thinkgate")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS thinkgate.schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            before = await schema_version(conn)
            if before > SCHEMA_VERSION:
                _check_schema(url, before)
            for version in range(before + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO thinkgate.schema_migrations (version) VALUES (%s)", (version,))
    except psycopg.Error as exc:
        raise _store_error(f"migrating {url}", exc) from exc
    finally:
        await conn.close()
    return before, max(before, SCHEMA_VERSION)


async def current_schema(conninfo: str) -> int:
    """The schema version of the database ``conninfo`` names (0: never migrated).

    Raises:
        StoreUnavailable: the server cannot be reached.
    """
    import psycopg

    url = redact_url(conninfo)
    conn = await _connect(conninfo)
    try:
        return await schema_version(conn)
    except psycopg.Error as exc:
        raise _store_error(f"reading the schema version of {url}", exc) from exc
    finally:
        await conn.close()


def _connect_defaults(conninfo: str) -> dict[str, Any]:
    """Connection parameters the URL does not set itself: bounded connects, and dead peers noticed.

    Raises:
        ConfigError: the URL cannot be parsed.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise ConfigError(f"invalid PostgreSQL URL {redact_url(conninfo)}: {_reason(exc)}") from exc
    return {k: v for k, v in _CONNECT_DEFAULTS.items() if k not in given}


async def _connect(conninfo: str) -> psycopg.AsyncConnection[Any]:
    """One autocommit connection (not pooled).

    Raises:
        StoreUnavailable: the server cannot be reached or refused the connection.
    """
    import psycopg

    defaults = _connect_defaults(conninfo)
    try:
        return await psycopg.AsyncConnection.connect(conninfo, autocommit=True, **defaults)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {redact_url(conninfo)}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _store_error(what: str, exc: BaseException) -> StoreError:
    """``what`` failed: retriable (``STORE_UNAVAILABLE``) when the server is unreachable or a lock wait timed out."""
    import psycopg
    from psycopg import errors

    if isinstance(exc, errors.LockNotAvailable):
        return StoreUnavailable(
            f"{what} failed: the session is being written by other replicas; it waited over "
            f"{LOCK_TIMEOUT_MS} ms for its lock (a session that hot is over the documented limit); retry"
        )
    if isinstance(exc, psycopg.OperationalError):
        # Connection lost, server shutting down or starting, pool timeout, deadlock, cancellation.
        return StoreUnavailable(f"{what} failed: PostgreSQL is unavailable ({_reason(exc)}); retry")
    return StoreError(f"{what} failed: {_reason(exc)}")
