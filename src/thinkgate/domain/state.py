"""A session's state, built only by applying events.

The state holds what commands need to be decided (which thought numbers exist, the
branches) but neither request ids nor thought texts, which stay in the
event log: memory per session is small and bounded by counts, not by text length.
The thought-number map is a persistent (structure-sharing) HAMT from ``immutables``, so
``apply`` never mutates the state it is given and costs O(log n). Profile lesson
(BENCHMARKS.md): ``pyrsistent``'s pure-Python map cost ~3 µs per set and ~18 ms to
snapshot 20,000 entries; ``immutables.Map`` (C) costs ~0.5 µs and ~3 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from immutables import Map

from thinkgate.domain.events import Event, HistoryCleared, SessionCreated, ThoughtRecorded

__all__ = ["SessionState", "apply", "replay", "thought_id"]

_EMPTY: Map[int, int] = Map()


def thought_id(seq: int) -> str:
    """The id of a session's ``seq``-th thought."""
    return f"t{seq}"


@dataclass(frozen=True, slots=True)
class SessionState:
    """Everything a session's commands are decided against."""

    session_id: str
    created_at: str
    mode: str = "cot"
    version: int = 0
    seq: int = 0
    history_length: int = 0
    numbers: Map[int, int] = _EMPTY  # thoughtNumber -> seq of its latest thought, since the last clear
    branches: tuple[str, ...] = ()  # branch ids in order of first appearance, since the last clear
    last_thought_id: str | None = None
    linear_run: int = 0
    last_next_needed: bool = True
    history_start: int = 0  # version of the last history_cleared event (0: never cleared)
    markers: tuple[int, ...] = (1,)  # versions of the events that are not thoughts (creation, clears)

    def version_of(self, seq: int) -> int:
        """The log version of the session's ``seq``-th thought (the store reads it by primary key)."""
        version = seq
        for marker in self.markers:
            if marker <= version:
                version += 1
        return version

    def approx_size(self) -> int:
        """A rough, deliberately high byte count of this state in memory, for the hot-session cache.

        Measured with tracemalloc: ~340 B for an empty state; each thought number ~70-140 B
        (an int→int HAMT entry plus the int objects), each branch id ~100 B.
        """
        return 400 + 140 * len(self.numbers) + 120 * len(self.branches)

    def to_snapshot(self, *, canonical: bool = True) -> dict[str, Any]:
        """A JSON-safe form of the state (for snapshots).

        ``numbers`` and ``seqs`` are parallel lists (thought number → seq of its latest
        thought). Canonical output sorts them, so equal states give equal dicts; snapshots
        are written unsorted (``canonical=False``). Profile lesson: for 20,000 numbers,
        sorted ``(number, seq)`` pairs took ~9 ms and parallel lists ~1.5 ms, a stall that
        set the p99 at 64 calls in flight.
        """
        if canonical:
            numbers = sorted(self.numbers.keys())
            get = self.numbers.__getitem__
            seqs = [get(n) for n in numbers]
        else:
            numbers = list(self.numbers.keys())
            seqs = list(self.numbers.values())  # the same traversal order as keys()
        return {
            "session_id": self.session_id,
            "created_at": self.created_at,
            "mode": self.mode,
            "version": self.version,
            "seq": self.seq,
            "history_length": self.history_length,
            "numbers": numbers,
            "seqs": seqs,
            "branches": list(self.branches),
            "last_thought_id": self.last_thought_id,
            "linear_run": self.linear_run,
            "last_next_needed": self.last_next_needed,
            "history_start": self.history_start,
            "markers": list(self.markers),
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
        seqs = field("seqs", list)
        branches = field("branches", list)
        mapping = dict(zip(numbers, seqs, strict=False))
        if (
            len(numbers) != len(seqs)
            or len(mapping) != len(numbers)
            or not all(type(n) is int for n in numbers)
            or not all(type(q) is int for q in seqs)
        ):
            raise ValueError("snapshot fields 'numbers' and 'seqs' are malformed")
        if not all(isinstance(b, str) for b in branches):
            raise ValueError("snapshot field 'branches' is malformed")
        return cls(
            session_id=field("session_id", str),
            created_at=field("created_at", str),
            mode=field("mode", str),
            version=field("version", int),
            seq=field("seq", int),
            history_length=field("history_length", int),
            numbers=Map(mapping),
            branches=tuple(branches),
            last_thought_id=field("last_thought_id", (str, type(None))),
            linear_run=field("linear_run", int),
            last_next_needed=field("last_next_needed", bool),
            history_start=field("history_start", int),
            markers=tuple(_markers(field("markers", list))),
        )


def _markers(values: list[Any]) -> list[int]:
    if not values or not all(type(v) is int for v in values) or values != sorted(set(values)):
        raise ValueError("snapshot field 'markers' is malformed")
    return values


def apply(state: SessionState | None, event: Event) -> SessionState:
    """Return the state after ``event``; ``state`` is left untouched.

    Raises:
        ValueError: the event cannot follow ``state`` (a log that was not produced by ``decide``).
    """
    # States are built with every field given positionally: ``dataclasses.replace`` costs
    # several microseconds per call on this hot path.
    if type(event) is ThoughtRecorded:
        if state is None:
            raise ValueError(f"{event.TYPE} applied before session_created")
        branches = state.branches
        if event.branch_from_thought is not None and event.branch_id is not None and event.branch_id not in branches:
            branches = (*branches, event.branch_id)
        forks = event.branch_from_thought is not None or event.is_revision
        return SessionState(
            state.session_id,
            state.created_at,
            state.mode,
            state.version + 1,
            event.seq,
            state.history_length + 1,
            state.numbers.set(event.thought_number, event.seq),
            branches,
            event.thought_id,
            0 if forks else state.linear_run + 1,
            event.next_thought_needed,
            state.history_start,
            state.markers,
        )
    if isinstance(event, SessionCreated):
        if state is not None:
            raise ValueError("session_created applied to an existing session")
        return SessionState(session_id=event.session_id, created_at=event.created_at, mode=event.mode, version=1)
    if state is None:
        raise ValueError(f"{event.TYPE} applied before session_created")
    if isinstance(event, HistoryCleared):
        version = state.version + 1
        return SessionState(
            state.session_id,
            state.created_at,
            state.mode,
            version,
            state.seq,
            0,
            _EMPTY,
            (),
            None,
            0,
            True,
            version,
            (*state.markers, version),
        )
    raise ValueError(f"unknown event {event!r}")


def replay(events: Any, state: SessionState | None = None) -> SessionState | None:
    """Fold ``events`` over ``state`` (None for a new session)."""
    for event in events:
        state = apply(state, event)
    return state
