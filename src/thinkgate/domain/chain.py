"""Canonical event encoding and the hash chain that makes an event log tamper-evident.

Each event's hash is ``sha256(prev_hash + "\\n" + canonical(record))`` where the record
holds the session id, version, type, timestamp and payload. Editing, deleting or
reordering any event breaks the chain at that event (or, for the last event, at the
session head that the store keeps beside the log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["GENESIS_HASH", "ChainBreak", "canonical", "event_hash", "verify_chain"]

GENESIS_HASH = "0" * 64


def canonical(value: Mapping[str, Any]) -> bytes:
    """Encode ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def event_hash(prev_hash: str, session_id: str, version: int, type_: str, at: str, payload: bytes) -> str:
    """Hash of one event given the previous event's hash and the event's canonical payload bytes."""
    h = hashlib.sha256()
    h.update(prev_hash.encode("ascii"))
    h.update(b"\n")
    # The header is encoded canonically so that no field boundary can be shifted.
    h.update(canonical({"at": at, "session": session_id, "type": type_, "version": version}))
    h.update(b"\n")
    h.update(payload)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where and why a session's chain stops verifying."""

    session_id: str
    version: int
    reason: str


def verify_chain(
    session_id: str, rows: Iterable[Any], head_version: int | None = None, head_hash: str | None = None
) -> ChainBreak | None:
    """Recompute the chain over ``rows`` (ordered by version) and report the first bad event.

    Args:
        session_id: the session the rows belong to.
        rows: stored events in version order (objects shaped like ``StoredEvent``).
        head_version: the version the store's session head records, if any.
        head_hash: the hash the store's session head records, if any.
    """
    prev = GENESIS_HASH
    expected_version = 1
    for row in rows:
        if row.session_id != session_id:
            return ChainBreak(session_id, row.version, f"event belongs to session {row.session_id!r}")
        if row.version != expected_version:
            return ChainBreak(
                session_id,
                expected_version,
                f"event {expected_version} is missing or out of order (found version {row.version})",
            )
        if row.prev_hash != prev:
            return ChainBreak(session_id, row.version, "prev_hash does not match the previous event's hash")
        actual = event_hash(prev, session_id, row.version, row.type, row.recorded_at, row.payload)
        if actual != row.hash:
            return ChainBreak(session_id, row.version, "content does not match its hash (event was edited)")
        prev = row.hash
        expected_version += 1
    last = expected_version - 1
    if head_version is not None and head_version != last:
        return ChainBreak(
            session_id,
            last + 1 if head_version > last else head_version,
            f"session head says version {head_version} but the log ends at {last} (events deleted?)",
        )
    if head_hash is not None and last > 0 and head_hash != prev:
        return ChainBreak(session_id, last, "session head hash does not match the last event")
    return None
