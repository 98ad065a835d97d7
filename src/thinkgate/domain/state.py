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

from typing import Any, NamedTuple

from immutables import Map

from thinkgate.domain.events import (
    DeliberationStarted,
    Event,
    GraphUpdated,
    HistoryCleared,
    LedgerUpdated,
    OutcomeRecorded,
    SessionCreated,
    ThoughtRecorded,
)
from thinkgate.domain.graph import Deliberation, Graph, GraphLimits, Phase, build_graph, new_node
from thinkgate.domain.ledger import Ledger

__all__ = ["SessionState", "apply", "replay", "thought_id"]

_EMPTY: Map[int, int] = Map()
_NO_GRAPH = Graph()
_NO_LEDGER = Ledger()


def thought_id(seq: int) -> str:
    """The id of a session's ``seq``-th thought."""
    return f"t{seq}"


class SessionState(NamedTuple):
    """Everything a session's commands are decided against.

    A named tuple, built in ``apply`` with ``_state`` (no Python-level ``__new__``): profile
    lesson, the frozen slots dataclass it was cost ~3 µs per event to construct.
    """

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
    graph: Graph = _NO_GRAPH  # the thought graph since the last clear (the deliberation survives clears)
    ledger: Ledger = _NO_LEDGER  # claims, evidence, assumptions, policy, decisions (survives clears)

    def version_of(self, seq: int) -> int | None:
        """The log version of the event that created node ``t{seq}`` (the store reads it by primary key)."""
        node = self.graph.nodes.get(thought_id(seq))
        return node.version if node is not None else None

    def approx_size(self) -> int:
        """A rough, deliberately high byte count of this state in memory, for the hot-session cache.

        Measured with tracemalloc: ~340 B for an empty state; each thought number ~70-140 B
        (an int→int HAMT entry plus the int objects), each branch id ~100 B, each graph node
        ~330 B (the node record, its id and its frontier and HAMT entries), each typed edge ~215-260 B
        (measured by ``bench.graph``; rounded up here).
        """
        graph = self.graph
        ledger = self.ledger
        return (
            400
            + 140 * len(self.numbers)
            + 120 * len(self.branches)
            + 360 * len(graph.nodes)
            + 260 * len(graph.edges)
            + (0 if ledger is _NO_LEDGER else ledger.approx_size())
        )

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
            "graph": self.graph.canonical() if canonical else self.graph.to_snapshot(),
            "ledger": self.ledger.to_snapshot(),
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
            graph=Graph.from_snapshot(field("graph", dict)),
            ledger=Ledger.from_snapshot(field("ledger", dict)),
        )


_new = tuple.__new__


def _state(*fields: Any) -> SessionState:
    """``SessionState(*fields)`` without the named tuple's ``__new__`` (every field given, in order)."""
    return _new(SessionState, fields)


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
        version = state.version + 1
        revises = state.numbers.get(event.revises_thought) if event.revises_thought is not None else None
        graph = state.graph.with_chain_thought(
            event.thought_id,
            event.seq,
            version,
            event.parent_id,
            event.branch_id,
            thought_id(revises) if revises is not None else None,
        )
        return _state(
            state.session_id,
            state.created_at,
            state.mode,
            version,
            event.seq,
            state.history_length + 1,
            state.numbers.set(event.thought_number, event.seq),
            branches,
            event.thought_id,
            0 if forks else state.linear_run + 1,
            event.next_thought_needed,
            state.history_start,
            graph,
            state.ledger,
        )
    if type(event) is GraphUpdated:
        if state is None:
            raise ValueError(f"{event.TYPE} applied before session_created")
        seq = max((int(n["seq"]) for n in event.nodes), default=state.seq)
        return _with_graph(state, _apply_graph(state.graph, event, state.version + 1), max(seq, state.seq))
    if isinstance(event, SessionCreated):
        if state is not None:
            raise ValueError("session_created applied to an existing session")
        return SessionState(session_id=event.session_id, created_at=event.created_at, mode=event.mode, version=1)
    if state is None:
        raise ValueError(f"{event.TYPE} applied before session_created")
    if isinstance(event, HistoryCleared):
        version = state.version + 1
        return _state(
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
            _cleared(state.graph),
            state.ledger,
        )
    if isinstance(event, DeliberationStarted):
        if state.graph.deliberation is not None:
            raise ValueError("deliberation_started applied to a session that has one")
        version = state.version + 1
        graph = _apply_nodes(state.graph, (event.root,), version)
        root_id = str(event.root["id"])
        limits = GraphLimits(**{k: int(v) for k, v in event.limits.items()})
        deliberation = Deliberation(event.mode, event.profile, limits, root_id, event.beam_width)
        graph = build_graph(
            graph.nodes,
            graph.frontier.set(root_id, int(event.root["seq"])),
            graph.strict_out,
            graph.edges,
            graph.stats,
            deliberation,
            graph.phases,
            graph.last_phase,
        )
        return _state(
            state.session_id,
            state.created_at,
            event.mode,
            version,
            max(state.seq, int(event.root["seq"])),
            state.history_length,
            state.numbers,
            state.branches,
            state.last_thought_id,
            state.linear_run,
            state.last_next_needed,
            state.history_start,
            graph,
            state.ledger,
        )
    if isinstance(event, LedgerUpdated):
        return _with_ledger(
            state,
            state.ledger.updated(
                claims=event.claims,
                assumptions=event.assumptions,
                policy=event.policy,
                critiques=event.critiques,
                decision=event.decision,
                checkpoint=event.checkpoint,
            ),
        )
    if isinstance(event, OutcomeRecorded):
        return _with_ledger(state, state.ledger.updated(outcome=event.outcome))
    raise ValueError(f"unknown event {event!r}")


def _with_graph(state: SessionState, graph: Graph, seq: int) -> SessionState:
    """``state`` one event later, with ``graph`` and the newest node's ``seq``."""
    return _state(
        state.session_id,
        state.created_at,
        state.mode,
        state.version + 1,
        seq,
        state.history_length,
        state.numbers,
        state.branches,
        state.last_thought_id,
        state.linear_run,
        state.last_next_needed,
        state.history_start,
        graph,
        state.ledger,
    )


def _with_ledger(state: SessionState, ledger: Ledger) -> SessionState:
    """``state`` one event later, with ``ledger``."""
    return state._replace(version=state.version + 1, ledger=ledger)


def _cleared(graph: Graph) -> Graph:
    """The graph after a history clear: only the deliberation's root (if any) remains."""
    deliberation = graph.deliberation
    if deliberation is None:
        return _NO_GRAPH
    root = graph.nodes[deliberation.root_id]
    if root.status != "active":
        root = new_node(root.seq, root.version, root.kind, root.depth, root.parents, "active", None, root.branch_id)
    return Graph(
        Map({deliberation.root_id: root}),
        Map({deliberation.root_id: root.seq}),
        deliberation=deliberation,
    )


def _apply_nodes(graph: Graph, specs: Any, version: int) -> Graph:
    nodes = graph.nodes
    for spec in specs:
        nodes = nodes.set(
            spec["id"],
            new_node(
                int(spec["seq"]),
                version,
                spec["kind"],
                int(spec["depth"]),
                tuple(spec["parents"]),
                "active",
                None,
                spec.get("branch_id"),
            ),
        )
    return build_graph(
        nodes,
        graph.frontier,
        graph.strict_out,
        graph.edges,
        graph.stats,
        graph.deliberation,
        graph.phases,
        graph.last_phase,
    )


def _apply_graph(graph: Graph, event: GraphUpdated, version: int) -> Graph:
    """The graph after one ``graph_updated`` event (trusted: ``decide`` checked it)."""
    if event.nodes:
        graph = _apply_nodes(graph, event.nodes, version)
    if event.edges:
        graph = graph.with_edges(((e["source"], e["target"], e["kind"]) for e in event.edges), version)
    nodes = graph.nodes
    frontier: Map[str, int] = Map() if event.frontier_reset else graph.frontier
    if event.frontier_removed or event.frontier_added or event.pruned or event.scores or event.merged:
        with frontier.mutate() as fm, nodes.mutate() as nm:
            for nid in event.frontier_removed:
                fm.pop(nid, None)
            for nid in event.frontier_added:
                fm[nid] = nm[nid].seq
            for nid in event.pruned:
                node = nm[nid]
                nm[nid] = new_node(
                    node.seq, node.version, node.kind, node.depth, node.parents, "pruned", node.score, node.branch_id
                )
                fm.pop(nid, None)
            for nid in event.merged:
                node = nm[nid]
                if node.status == "active":
                    nm[nid] = new_node(
                        node.seq,
                        node.version,
                        node.kind,
                        node.depth,
                        node.parents,
                        "merged",
                        node.score,
                        node.branch_id,
                    )
            for entry in event.scores:
                nid = entry["node"]
                node = nm[nid]
                nm[nid] = new_node(
                    node.seq,
                    node.version,
                    node.kind,
                    node.depth,
                    node.parents,
                    node.status,
                    float(entry["composite"]),
                    node.branch_id,
                )
            frontier = fm.finish()
            nodes = nm.finish()
    phases = graph.phases
    last_phase = graph.last_phase
    if event.phase is not None:
        pid = str(event.phase["id"])
        phases = phases.set(
            pid,
            Phase(str(event.phase["source"]), tuple(event.phase["skeletons"]), str(event.phase["style"])),
        )
        last_phase = pid
    if event.phase_elaborated is not None:
        old = phases[event.phase_elaborated]
        phases = phases.set(event.phase_elaborated, Phase(old.source_id, old.skeleton_ids, old.style, True))
    return Graph(nodes, frontier, graph.strict_out, graph.edges, graph.stats, graph.deliberation, phases, last_phase)


def replay(events: Any, state: SessionState | None = None) -> SessionState | None:
    """Fold ``events`` over ``state`` (None for a new session)."""
    for event in events:
        state = apply(state, event)
    return state
