"""The ``EventStore`` port and the records it deals in."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from thinkgate.domain.chain import canonical, event_hash
from thinkgate.errors import InvalidInput, VersionConflict

__all__ = [
    "MAX_PAGE_ROWS",
    "AppendItem",
    "AppendResult",
    "EventStore",
    "NewEvent",
    "SessionInfo",
    "Snapshot",
    "StoredEvent",
    "chain_events",
    "check_distinct",
    "check_page_limit",
]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: its type, JSON-safe payload and timestamp."""

    type: str
    payload: dict[str, Any]
    recorded_at: str
    request_id: str | None = None  # the caller's idempotency key, indexed for ``find_request``
    thought_id: str | None = None  # the thought the event records (``find_thought``)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: numbered, canonically encoded and chained to its predecessor."""

    session_id: str
    version: int
    type: str
    recorded_at: str
    payload: bytes
    prev_hash: str
    hash: str

    def data(self) -> dict[str, Any]:
        """The decoded payload."""
        value = orjson.loads(self.payload)
        if not isinstance(value, dict):
            raise ValueError(f"event {self.session_id}#{self.version} payload is not an object")
        return value


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's head: how many events it has and the hash of the last one."""

    session_id: str
    version: int
    head_hash: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A session's state serialised at a version, so loading need not replay from the start."""

    session_id: str
    version: int
    state: bytes


MAX_PAGE_ROWS = 10_000  # the most rows one paged read returns

AppendItem = tuple[str, int, Sequence[NewEvent]]  # (session id, expected version, events)
AppendResult = list[StoredEvent] | VersionConflict  # what one item of ``append_many`` became


def check_distinct(items: Sequence[AppendItem]) -> None:
    """Refuse an ``append_many`` that names a session twice (a caller's bug, not a store failure).

    Raises:
        ValueError: a session id occurs in more than one item.
    """
    if len({item[0] for item in items}) != len(items):
        raise ValueError("append_many names a session more than once")


def check_page_limit(limit: int) -> None:
    """Refuse a page size outside 1..``MAX_PAGE_ROWS`` (the engine's paged reads refuse the same).

    Raises:
        InvalidInput: ``limit`` is out of range.
    """
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_ROWS}")


def current_task() -> object | None:
    """The running asyncio task, or None outside one (stores key their open batches by task)."""
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def event_from_row(row: Any) -> StoredEvent:
    """A ``StoredEvent`` from a ``(session_id, version, type, recorded_at, payload, prev_hash, hash)`` row."""
    return StoredEvent(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6])


def event_row(e: StoredEvent) -> tuple[object, ...]:
    """The row of a ``StoredEvent``, in ``event_from_row``'s column order."""
    return (e.session_id, e.version, e.type, e.recorded_at, e.payload, e.prev_hash, e.hash)


def chain_events(session_id: str, prev_hash: str, first_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
    """Number, encode and hash ``events`` after a head (``prev_hash``, ``first_version - 1``)."""
    out: list[StoredEvent] = []
    prev = prev_hash
    for offset, ev in enumerate(events):
        version = first_version + offset
        payload = canonical(ev.payload)
        digest = event_hash(prev, session_id, version, ev.type, ev.recorded_at, payload)
        out.append(StoredEvent(session_id, version, ev.type, ev.recorded_at, payload, prev, digest))
        prev = digest
    return out


class EventStore(Protocol):
    """Append-only, per-session, hash-chained event logs with optimistic concurrency.

    Every implementation passes the same conformance suite (``tests/store``).
    """

    url: str

    async def open(self) -> None:
        """Connect and check (or, where allowed, create) the schema."""
        ...

    async def close(self) -> None:
        """Release connections; further calls are errors."""
        ...

    def exclusive(self, session_id: str) -> AbstractAsyncContextManager[None]:
        """Hold off other writers of ``session_id`` (in any process) for a read-decide-append.

        Appends made inside by the same task commit together when the section ends.
        """
        ...

    def write_batch(self, session_ids: Collection[str] = ()) -> AbstractAsyncContextManager[None]:
        """Group the appends and exclusive sections made inside (by the same task) into one commit.

        While it is open, no other writer (in any process) writes ``session_ids``: like an
        ``exclusive`` section on each of them. Either everything written inside is kept when
        the batch ends, or, if it fails, none of it is: the group commit behind every write
        of the engine.
        """
        ...

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append ``events`` if the session is at ``expected_version`` (0 creates it).

        Raises:
            VersionConflict: the session is not at ``expected_version``.
            StoreError: the store failed; nothing was appended.
        """
        ...

    async def append_many(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        """Append for several sessions at once; per item, in order, its stored events or its conflict.

        Each item ``(session_id, expected_version, events)`` is checked and written as ``append``
        would: a session not at its expected version gets its ``VersionConflict`` (returned, not
        raised) and writes nothing, while the other items are written. Inside a write batch the
        appends join it; outside one they commit together. The group commit's one write: a
        network store sends it in one round trip however many sessions it names.

        Raises:
            ValueError: a session occurs in more than one item.
            StoreError: the store failed or refused an item (a request id already used).
                Outside a batch nothing was appended; inside one, the batch must fail.
        """
        ...

    async def read(self, session_id: str, from_version: int = 1, limit: int | None = None) -> list[StoredEvent]:
        """Events of ``session_id`` from ``from_version`` on, in order (at most ``limit``)."""
        ...

    async def find_request(self, session_id: str, request_id: str) -> StoredEvent | None:
        """The event appended for ``request_id`` in this session, if any."""
        ...

    async def find_thought(self, session_id: str, thought_id: str) -> StoredEvent | None:
        """The event that recorded ``thought_id`` in this session, if any (SQLite: scans the session; the
        engine reads thoughts by version instead)."""
        ...

    async def outcome_events(self, *, after: tuple[str, int] | None = None, limit: int = 1000) -> list[StoredEvent]:
        """Events of type ``outcome_recorded`` in all sessions, in (session_id, version) order, after ``after``.

        Pages through every route outcome (calibration reads them all): pass the
        ``(session_id, version)`` of the last event of a page as ``after`` to get the next.
        Events of deleted sessions are gone. SQL stores read a partial index, so writes of
        other event types pay nothing for it.

        Args:
            after: return only events strictly after this ``(session_id, version)``; None: from the start.
            limit: at most this many events, 1..``MAX_PAGE_ROWS``.

        Raises:
            InvalidInput: ``limit`` is out of range.
            StoreError: the store failed.
        """
        ...

    async def session(self, session_id: str) -> SessionInfo | None:
        """The session's head, or None when it does not exist."""
        ...

    async def list_sessions(self, limit: int = 100, after: str | None = None) -> list[SessionInfo]:
        """Sessions ordered by id, starting after ``after``."""
        ...

    async def recent_sessions(self, limit: int = 100, before: tuple[str, str] | None = None) -> list[SessionInfo]:
        """Sessions, most recently updated first, starting after the ``(updated_at, id)`` key ``before``."""
        ...

    async def orphan_sessions(self) -> list[str]:
        """Ids that have events but no session head (only tampering or a bug can cause that)."""
        ...

    async def count_sessions(self) -> int:
        """How many sessions exist."""
        ...

    async def delete_session(self, session_id: str) -> bool:
        """Remove a session with its events and snapshots; False when it did not exist."""
        ...

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` (replacing older snapshots of that session)."""
        ...

    async def load_snapshot(self, session_id: str) -> Snapshot | None:
        """The latest snapshot of ``session_id``, if any."""
        ...
