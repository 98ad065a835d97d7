"""Domain events: the only things that change a session's state.

Each event is a frozen dataclass with a stable ``TYPE`` name and a JSON-safe payload
(``to_payload`` / ``event_from_payload`` round-trip exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "RESULT_ORDER",
    "Event",
    "HistoryCleared",
    "SessionCreated",
    "ThoughtRecorded",
    "event_from_payload",
]


@dataclass(frozen=True, slots=True)
class SessionCreated:
    """A session came into existence."""

    TYPE: ClassVar[str] = "session_created"
    session_id: str
    created_at: str
    mode: str = "cot"

    def to_payload(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "created_at": self.created_at, "mode": self.mode}


# The key order of a ``sequentialthinking`` result: the official server's fields, then ThinkGate's.
RESULT_ORDER = (
    "thoughtNumber",
    "totalThoughts",
    "nextThoughtNeeded",
    "branches",
    "thoughtHistoryLength",
    "sessionId",
    "thoughtId",
    "branchId",
    "warnings",
    "feedback",
)


@dataclass(frozen=True, slots=True)
class ThoughtRecorded:
    """One thought was added to the session's chain.

    ``result`` is the structured result the caller received, kept so that a retried
    call with the same ``request_id`` gets exactly the first answer back.
    """

    TYPE: ClassVar[str] = "thought_recorded"
    thought_id: str
    seq: int
    content: str
    thought_number: int
    total_thoughts: int
    next_thought_needed: bool
    is_revision: bool = False
    revises_thought: int | None = None
    branch_from_thought: int | None = None
    branch_id: str | None = None
    needs_more_thoughts: bool = False
    parent_id: str | None = None
    request_id: str | None = None
    args_digest: str | None = None
    warnings: tuple[str, ...] = ()
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "thought_id": self.thought_id,
            "seq": self.seq,
            "content": self.content,
            "thought_number": self.thought_number,
            "total_thoughts": self.total_thoughts,
            "next_thought_needed": self.next_thought_needed,
            "is_revision": self.is_revision,
            "revises_thought": self.revises_thought,
            "branch_from_thought": self.branch_from_thought,
            "branch_id": self.branch_id,
            "needs_more_thoughts": self.needs_more_thoughts,
            "parent_id": self.parent_id,
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "warnings": list(self.warnings),
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True)
class HistoryCleared:
    """The session's thought history was started afresh (earlier events stay in the log)."""

    TYPE: ClassVar[str] = "history_cleared"
    cleared: int
    request_id: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {"cleared": self.cleared, "request_id": self.request_id}


Event = SessionCreated | ThoughtRecorded | HistoryCleared

_TYPES: dict[str, type[SessionCreated] | type[ThoughtRecorded] | type[HistoryCleared]] = {
    cls.TYPE: cls for cls in (SessionCreated, ThoughtRecorded, HistoryCleared)
}


def event_from_payload(type_: str, payload: Mapping[str, Any]) -> Event:
    """Rebuild an event from its stored type name and payload.

    Raises:
        ValueError: the type is unknown or the payload does not fit it.
    """
    cls = _TYPES.get(type_)
    if cls is None:
        raise ValueError(f"unknown event type {type_!r}")
    data = dict(payload)
    if cls is ThoughtRecorded:
        data["warnings"] = tuple(data.get("warnings", ()))
        result = data.get("result")
        if isinstance(result, dict):
            # Stored canonically (sorted keys); a retried call must get the first answer's order back.
            data["result"] = {k: result[k] for k in RESULT_ORDER if k in result} | result
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"payload does not fit event type {type_!r}: {exc}") from exc
