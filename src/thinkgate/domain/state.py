"""A session's state, built only by applying events.

The state holds what commands need to be decided (which thought numbers exist, the
branches, which request ids were seen) but not the thought texts, which stay in the
event log: memory per session is small and bounded by counts, not by text length.
Collections are persistent (structure-sharing) so ``apply`` is cheap and never
mutates the state it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pyrsistent import pmap, pset, pvector

from thinkgate.domain.events import Event, HistoryCleared, SessionCreated, ThoughtRecorded

__all__ = ["SessionState", "apply", "replay"]


@dataclass(frozen=True, slots=True)
class SessionState:
    """Everything a session's commands are decided against."""

    session_id: str
    created_at: str
    mode: str = "cot"
    version: int = 0
    seq: int = 0
    history_length: int = 0
    numbers: Any = pmap()  # PMap[int, str]: thoughtNumber -> latest thought id, since the last clear
    branches: Any = pvector()  # PVector[str]: branch ids in order of first appearance, since the last clear
    branch_set: Any = pset()  # PSet[str]
    last_thought_id: str | None = None
    linear_run: int = 0
    last_next_needed: bool = True
    history_start: int = 0  # version of the last history_cleared event (0: never cleared)

    def approx_size(self) -> int:
        """A rough byte count of this state in memory, for the hot-session cache."""
        return 700 + 160 * len(self.numbers) + 140 * len(self.branches)

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-safe form of the state (for snapshots)."""
        return {
            "session_id": self.session_id,
            "created_at": self.created_at,
            "mode": self.mode,
            "version": self.version,
            "seq": self.seq,
            "history_length": self.history_length,
            "numbers": [[k, v] for k, v in sorted(self.numbers.items())],
            "branches": list(self.branches),
            "last_thought_id": self.last_thought_id,
            "linear_run": self.linear_run,
            "last_next_needed": self.last_next_needed,
            "history_start": self.history_start,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> SessionState:
        """Rebuild a state from ``to_snapshot`` output.

        Raises:
            ValueError: ``data`` is not a well-formed snapshot.
        """

        def field(name: str, kind: type | tuple[type, ...]) -> Any:
            value = data[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"snapshot field {name!r} has the wrong type")
            return value

        numbers = field("numbers", list)
        branches = field("branches", list)
        if not all(
            isinstance(p, list) and len(p) == 2 and type(p[0]) is int and isinstance(p[1], str) for p in numbers
        ):
            raise ValueError("snapshot field 'numbers' is malformed")
        if not all(isinstance(b, str) for b in branches):
            raise ValueError("snapshot field 'branches' is malformed")
        return cls(
            session_id=field("session_id", str),
            created_at=field("created_at", str),
            mode=field("mode", str),
            version=field("version", int),
            seq=field("seq", int),
            history_length=field("history_length", int),
            numbers=pmap({k: v for k, v in numbers}),
            branches=pvector(branches),
            branch_set=pset(branches),
            last_thought_id=field("last_thought_id", (str, type(None))),
            linear_run=field("linear_run", int),
            last_next_needed=field("last_next_needed", bool),
            history_start=field("history_start", int),
        )


def apply(state: SessionState | None, event: Event) -> SessionState:
    """Return the state after ``event``; ``state`` is left untouched.

    Raises:
        ValueError: the event cannot follow ``state`` (a log that was not produced by ``decide``).
    """
    if isinstance(event, SessionCreated):
        if state is not None:
            raise ValueError("session_created applied to an existing session")
        return SessionState(session_id=event.session_id, created_at=event.created_at, mode=event.mode, version=1)
    if state is None:
        raise ValueError(f"{event.TYPE} applied before session_created")
    version = state.version + 1
    if isinstance(event, ThoughtRecorded):
        branches, branch_set = state.branches, state.branch_set
        if event.branch_from_thought is not None and event.branch_id is not None and event.branch_id not in branch_set:
            branches = branches.append(event.branch_id)
            branch_set = branch_set.add(event.branch_id)
        forks = event.branch_from_thought is not None or event.is_revision
        return replace(
            state,
            version=version,
            seq=event.seq,
            history_length=state.history_length + 1,
            numbers=state.numbers.set(event.thought_number, event.thought_id),
            branches=branches,
            branch_set=branch_set,
            last_thought_id=event.thought_id,
            linear_run=0 if forks else state.linear_run + 1,
            last_next_needed=event.next_thought_needed,
        )
    if isinstance(event, HistoryCleared):
        return replace(
            state,
            version=version,
            history_length=0,
            numbers=pmap(),
            branches=pvector(),
            branch_set=pset(),
            last_thought_id=None,
            linear_run=0,
            last_next_needed=True,
            history_start=version,
        )
    raise ValueError(f"unknown event {event!r}")


def replay(events: Any, state: SessionState | None = None) -> SessionState | None:
    """Fold ``events`` over ``state`` (None for a new session)."""
    for event in events:
        state = apply(state, event)
    return state
