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
    "DeliberationStarted",
    "Event",
    "GraphUpdated",
    "HistoryCleared",
    "LedgerUpdated",
    "OutcomeRecorded",
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


@dataclass(frozen=True, slots=True)
class DeliberationStarted:
    """A deliberation was opened on the session: its settings and its root node (the goal).

    ``root`` is a node record as in ``GraphUpdated.nodes``.
    """

    TYPE: ClassVar[str] = "deliberation_started"
    goal: str
    constraints: tuple[str, ...]
    mode: str
    profile: str
    limits: Mapping[str, int]
    beam_width: int
    root: Mapping[str, Any]
    request_id: str | None = None
    args_digest: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "constraints": list(self.constraints),
            "mode": self.mode,
            "profile": self.profile,
            "limits": dict(self.limits),
            "beam_width": self.beam_width,
            "root": dict(self.root),
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True)
class GraphUpdated:
    """One graph operation (``op`` names the tool), applied atomically.

    - ``nodes``: new nodes, each ``{id, seq, kind, content, parents, depth, tags, branch_id,
      provenance}``;
    - ``edges``: new typed edges ``{source, target, kind, note}``;
    - the frontier: cleared first when ``frontier_reset``, then ``frontier_removed`` leave and
      ``frontier_added`` join it;
    - ``pruned``: nodes whose status becomes ``pruned`` (they leave the frontier);
    - ``merged``: nodes whose status becomes ``merged`` (a merge consumed them; still usable);
    - ``scores``: ``{node, composite, dims}`` per scored node;
    - ``phase`` / ``phase_elaborated``: a Skeleton-of-Thought phase opened / elaborated.
    """

    TYPE: ClassVar[str] = "graph_updated"
    op: str
    nodes: tuple[Mapping[str, Any], ...] = ()
    edges: tuple[Mapping[str, Any], ...] = ()
    frontier_reset: bool = False
    frontier_removed: tuple[str, ...] = ()
    frontier_added: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()
    scores: tuple[Mapping[str, Any], ...] = ()
    phase: Mapping[str, Any] | None = None
    phase_elaborated: str | None = None
    request_id: str | None = None
    args_digest: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "nodes": [dict(n) for n in self.nodes],
            "edges": [dict(e) for e in self.edges],
            "frontier_reset": self.frontier_reset,
            "frontier_removed": list(self.frontier_removed),
            "frontier_added": list(self.frontier_added),
            "pruned": list(self.pruned),
            "merged": list(self.merged),
            "scores": [dict(s) for s in self.scores],
            "phase": dict(self.phase) if self.phase is not None else None,
            "phase_elaborated": self.phase_elaborated,
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True)
class LedgerUpdated:
    """One verification or governance operation (``op`` names the tool), applied atomically.

    Records are camelCase dicts as the tools show them; each replaces the record with its id:
    ``claims`` (each with its ``evidence`` and their check results), ``assumptions``,
    ``critiques`` (per governance stage). ``policy`` is the session's new policy;
    ``decision`` a route decision recorded with its id; ``checkpoint`` a checkpoint's gates.
    """

    TYPE: ClassVar[str] = "ledger_updated"
    op: str
    claims: tuple[Mapping[str, Any], ...] = ()
    assumptions: tuple[Mapping[str, Any], ...] = ()
    policy: Mapping[str, Any] | None = None
    critiques: tuple[Mapping[str, Any], ...] = ()
    decision: Mapping[str, Any] | None = None
    checkpoint: Mapping[str, Any] | None = None
    request_id: str | None = None
    args_digest: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "claims": [dict(c) for c in self.claims],
            "assumptions": [dict(a) for a in self.assumptions],
            "policy": dict(self.policy) if self.policy is not None else None,
            "critiques": [dict(c) for c in self.critiques],
            "decision": dict(self.decision) if self.decision is not None else None,
            "checkpoint": dict(self.checkpoint) if self.checkpoint is not None else None,
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True)
class OutcomeRecorded:
    """What really happened after a route decision (for calibration).

    ``outcome`` holds ``decisionId``, ``decision``, ``confidence``, ``rawConfidence``,
    ``profile``, ``outcome`` (0-1: failure 0, success 1, or a score) and ``note``. A type of its
    own, so that calibration reads every outcome of the store through one index.
    """

    TYPE: ClassVar[str] = "outcome_recorded"
    outcome: Mapping[str, Any]
    request_id: str | None = None
    args_digest: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "outcome": dict(self.outcome),
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "result": dict(self.result),
        }


Event = (
    SessionCreated
    | ThoughtRecorded
    | HistoryCleared
    | DeliberationStarted
    | GraphUpdated
    | LedgerUpdated
    | OutcomeRecorded
)

_TYPES: dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        SessionCreated,
        ThoughtRecorded,
        HistoryCleared,
        DeliberationStarted,
        GraphUpdated,
        LedgerUpdated,
        OutcomeRecorded,
    )
}
_TUPLE_FIELDS = {
    DeliberationStarted: ("constraints",),
    GraphUpdated: ("nodes", "edges", "frontier_removed", "frontier_added", "pruned", "merged", "scores"),
    LedgerUpdated: ("claims", "assumptions", "critiques"),
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
    for name in _TUPLE_FIELDS.get(cls, ()):
        if name in data:
            if not isinstance(data[name], list):
                raise ValueError(f"payload field {name!r} of {type_!r} is not a list")
            data[name] = tuple(data[name])
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"payload does not fit event type {type_!r}: {exc}") from exc
