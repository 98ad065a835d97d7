"""In-memory event store: a real implementation for tests and ephemeral servers."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager

from thinkgate.domain.chain import GENESIS_HASH
from thinkgate.errors import StoreError, VersionConflict
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
)

__all__ = ["MemoryEventStore"]


class MemoryEventStore:
    """Keeps every session's log in process memory; nothing survives the process."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._logs: dict[str, list[StoredEvent]] = {}
        self._heads: dict[str, SessionInfo] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._requests: dict[tuple[str, str], int] = {}  # (session, request id) -> version
        self._thoughts: dict[tuple[str, str], int] = {}  # (session, thought id) -> version
        self._closed = False
        self._undo_log: list[Callable[[], None]] | None = None  # open while a section is

    async def open(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    # Transactions: while an exclusive section or a batch is open, every change first records
    # how to undo it (an undo log, as in a database); a failing section undoes its own part,
    # a failing batch all of it.

    @asynccontextmanager
    async def exclusive(self, session_id: str) -> AsyncIterator[None]:
        # Every method completes without yielding to the event loop, so a single call is
        # already atomic and the engine runs one write batch at a time.
        async with self._section():
            yield

    @asynccontextmanager
    async def write_batch(self, session_ids: Collection[str] = ()) -> AsyncIterator[None]:
        async with self._section():
            yield

    @asynccontextmanager
    async def _section(self) -> AsyncIterator[None]:
        outermost = self._undo_log is None
        if outermost:
            self._undo_log = []
        log = self._undo_log
        assert log is not None
        mark = len(log)
        try:
            yield
        except BaseException:
            for undo in reversed(log[mark:]):
                undo()
            del log[mark:]
            raise
        finally:
            if outermost:
                self._undo_log = None

    def _record_undo(self, session_id: str, *, whole: bool = False) -> None:
        """Inside a section: remember how to put ``session_id`` back the way it is now."""
        if self._undo_log is None:
            return
        log = self._logs.get(session_id)
        length = len(log) if log is not None else 0
        head = self._heads.get(session_id)
        snapshot = self._snapshots.get(session_id)
        # Index entries are kept only when they are about to be dropped wholesale (a delete).
        indexes = (
            [
                (index, key, v)
                for index in (self._requests, self._thoughts)
                for key, v in index.items()
                if key[0] == session_id
            ]
            if whole
            else []
        )

        def undo() -> None:
            self._forget_requests(session_id, after_version=length)
            for index, key, version in indexes:
                index[key] = version
            if log is None:
                self._logs.pop(session_id, None)
            else:
                del log[length:]
                self._logs[session_id] = log
            if head is None:
                self._heads.pop(session_id, None)
            else:
                self._heads[session_id] = head
            if snapshot is None:
                self._snapshots.pop(session_id, None)
            else:
                self._snapshots[session_id] = snapshot

        self._undo_log.append(undo)

    async def append(self, session_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[StoredEvent]:
        self._check_open()
        head = self._heads.get(session_id)
        current = head.version if head else 0
        if current != expected_version:
            raise VersionConflict(f"session {session_id!r} is at version {current}, not {expected_version}")
        if not events:
            return []
        stored = chain_events(session_id, head.head_hash if head else GENESIS_HASH, current + 1, events)
        for new in events:
            if new.request_id is not None and (session_id, new.request_id) in self._requests:
                raise StoreError(f"request id {new.request_id!r} is already used in session {session_id!r}")
        self._record_undo(session_id)
        for new, event in zip(events, stored, strict=True):
            if new.request_id is not None:
                self._requests[(session_id, new.request_id)] = event.version
            if new.thought_id is not None:
                self._thoughts[(session_id, new.thought_id)] = event.version
        self._logs.setdefault(session_id, []).extend(stored)
        last = stored[-1]
        created = head.created_at if head else stored[0].recorded_at
        self._heads[session_id] = SessionInfo(session_id, last.version, last.hash, created, last.recorded_at)
        return stored

    async def append_many(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        self._check_open()
        check_distinct(items)
        out: list[AppendResult] = []
        async with self._section():  # a refused item undoes the items appended before it
            for session_id, expected_version, events in items:
                try:
                    out.append(await self.append(session_id, expected_version, events))
                except VersionConflict as exc:
                    out.append(exc)
        return out

    async def read(self, session_id: str, from_version: int = 1, limit: int | None = None) -> list[StoredEvent]:
        self._check_open()
        log = self._logs.get(session_id, [])
        start = max(from_version, 1) - 1
        end = None if limit is None else start + limit
        return log[start:end]

    async def find_request(self, session_id: str, request_id: str) -> StoredEvent | None:
        self._check_open()
        version = self._requests.get((session_id, request_id))
        return None if version is None else self._logs[session_id][version - 1]

    async def find_thought(self, session_id: str, thought_id: str) -> StoredEvent | None:
        self._check_open()
        version = self._thoughts.get((session_id, thought_id))
        return None if version is None else self._logs[session_id][version - 1]

    async def outcome_events(self, *, after: tuple[str, int] | None = None, limit: int = 1000) -> list[StoredEvent]:
        # A scan of every log, sessions in id order: no index is kept, so appends pay nothing. Fine for
        # the tests and ephemeral servers this store is for; the SQL stores read a partial index.
        self._check_open()
        check_page_limit(limit)
        start = after if after is not None else ("", 0)
        found = (
            e
            for sid in sorted(self._logs)  # each log is in version order already
            if sid >= start[0]
            for e in self._logs[sid]
            if e.type == "outcome_recorded" and (e.session_id, e.version) > start
        )
        return list(itertools.islice(found, limit))

    async def session(self, session_id: str) -> SessionInfo | None:
        self._check_open()
        return self._heads.get(session_id)

    async def list_sessions(self, limit: int = 100, after: str | None = None) -> list[SessionInfo]:
        self._check_open()
        ids = sorted(i for i in self._heads if after is None or i > after)
        return [self._heads[i] for i in ids[:limit]]

    async def recent_sessions(self, limit: int = 100, before: tuple[str, str] | None = None) -> list[SessionInfo]:
        self._check_open()
        heads = sorted(self._heads.values(), key=lambda h: (h.updated_at, h.session_id), reverse=True)
        if before is not None:
            heads = [h for h in heads if (h.updated_at, h.session_id) < before]
        return heads[:limit]

    async def orphan_sessions(self) -> list[str]:
        self._check_open()
        return sorted(sid for sid, log in self._logs.items() if log and sid not in self._heads)

    async def count_sessions(self) -> int:
        self._check_open()
        return len(self._heads)

    async def delete_session(self, session_id: str) -> bool:
        self._check_open()
        self._record_undo(session_id, whole=True)
        self._logs.pop(session_id, None)
        self._snapshots.pop(session_id, None)
        self._forget_requests(session_id, after_version=0)
        return self._heads.pop(session_id, None) is not None

    def _forget_requests(self, session_id: str, after_version: int) -> None:
        for index in (self._requests, self._thoughts):
            for key in [k for k, v in index.items() if k[0] == session_id and v > after_version]:
                del index[key]

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        self._check_open()
        self._record_undo(snapshot.session_id)
        current = self._snapshots.get(snapshot.session_id)
        if snapshot.session_id in self._heads and (current is None or snapshot.version > current.version):
            self._snapshots[snapshot.session_id] = snapshot

    async def load_snapshot(self, session_id: str) -> Snapshot | None:
        self._check_open()
        return self._snapshots.get(session_id)
