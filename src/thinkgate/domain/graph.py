"""A session's thought graph: nodes, typed edges, the frontier, and the deliberation settings.

One model for every way of thinking: a ``sequentialthinking`` chain is a tree with one
branch per ``branchFromThought``; the deliberation tools add nodes, typed edges, scores
and prunes to the same graph. Node ids are ``t{seq}`` in creation order, whatever tool
made the node.

The graph in a session's state holds only what commands are decided against (kinds,
parents, depth, status, scores, strict edges, the frontier), never texts: those stay
in the event log. Every collection is a persistent ``immutables.Map``, so applying an
event costs O(log n) per node or edge it touches, never O(graph).

Edges. ``parent`` links form the tree (parent → child). Typed edges read "source
supports / conflicts / depends_on / refines target". ``depends_on`` and ``refines``
form the *strict subgraph*, which is kept acyclic: an edge that would close a cycle is
refused (``CYCLE_REFUSED``). ``supports`` and ``conflicts`` may form cycles.

The frontier is the set of active nodes to work on next: a new node joins it and the
nodes it grew from leave it; merge and distill reset it to their result; pruning
removes nodes from it. It only ever holds active nodes. A node's status is ``active``,
``pruned`` (out of play: it can no longer grow or be linked) or ``merged`` (a merge
consumed it; it stays usable, but never rejoins the frontier).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from immutables import Map

__all__ = [
    "EDGE_KINDS",
    "MODES",
    "MODE_ALIASES",
    "NODE_KINDS",
    "PROFILES",
    "STRICT_KINDS",
    "Deliberation",
    "Graph",
    "GraphLimits",
    "Node",
    "Phase",
    "build_graph",
    "edge_key",
    "new_node",
    "reaches",
]

# Modes (wire values) and the aliases ReasonKit's clients use.
MODES = ("cot", "tot", "got", "sot", "governed")
MODE_ALIASES = {"quick": "cot", "explore": "tot", "map": "got", "sketch": "sot", "test": "governed"}
EDGE_KINDS = ("supports", "conflicts", "depends_on", "refines")
STRICT_KINDS = frozenset({"depends_on", "refines"})
NODE_KINDS = (
    "root",
    "chain",
    "thought",
    "scaffold",
    "merged",
    "distilled",
    "refined",
    "skeleton",
    "elaboration",
    "convergence",
)


@dataclass(frozen=True, slots=True)
class GraphLimits:
    """Growth limits of one session's graph."""

    max_depth: int
    max_nodes: int
    max_edges: int
    max_branches_per_expand: int

    def to_dict(self) -> dict[str, int]:
        return {
            "max_depth": self.max_depth,
            "max_nodes": self.max_nodes,
            "max_edges": self.max_edges,
            "max_branches_per_expand": self.max_branches_per_expand,
        }


# Profile defaults: limits and the beam width prune uses when none is given.
PROFILES: dict[str, tuple[GraphLimits, int]] = {
    "quick": (GraphLimits(max_depth=3, max_nodes=64, max_edges=256, max_branches_per_expand=2), 2),
    "balanced": (GraphLimits(max_depth=6, max_nodes=512, max_edges=2048, max_branches_per_expand=4), 3),
    "deep": (GraphLimits(max_depth=12, max_nodes=4096, max_edges=16384, max_branches_per_expand=8), 5),
    "paranoid": (GraphLimits(max_depth=8, max_nodes=2048, max_edges=8192, max_branches_per_expand=6), 4),
}
# Safe ranges: a requested limit outside is clamped into it (and the applied value reported).
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "max_depth": (1, 64),
    "max_nodes": (2, 100_000),
    "max_edges": (0, 400_000),
    "max_branches_per_expand": (1, 16),
}


class Node(NamedTuple):
    """What the state keeps of one node (its text is in the event log, at ``version``).

    A named tuple, built on the hot path with ``new_node``: profile lesson, a frozen slots
    dataclass of 8 fields costs ~2.5 µs to construct (``object.__setattr__`` per field), a
    tuple ~0.1 µs, and every ``sequentialthinking`` call builds a node.
    """

    seq: int
    version: int  # the event that created it
    kind: str
    depth: int
    parents: tuple[str, ...]
    status: str = "active"  # "pruned" (out of play), or "merged" (consumed by a merge, still usable)
    score: float | None = None  # latest composite score
    branch_id: str | None = None

    def to_list(self) -> list[Any]:
        return [
            self.seq,
            self.version,
            self.kind,
            self.depth,
            list(self.parents),
            self.status,
            self.score,
            self.branch_id,
        ]

    @classmethod
    def from_list(cls, raw: Any) -> Node:
        if not isinstance(raw, list) or len(raw) != 8:
            raise ValueError("malformed node")
        seq, version, kind, depth, parents, status, score, branch = raw
        if not (type(seq) is int and type(version) is int and type(depth) is int and isinstance(kind, str)):
            raise ValueError("malformed node")
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise ValueError("malformed node parents")
        if status not in ("active", "pruned", "merged") or not (score is None or isinstance(score, (int, float))):
            raise ValueError("malformed node status")
        if not (branch is None or isinstance(branch, str)):
            raise ValueError("malformed node branch")
        return cls(seq, version, kind, depth, tuple(parents), status, score, branch)


_new = tuple.__new__


def new_node(
    seq: int,
    version: int,
    kind: str,
    depth: int,
    parents: tuple[str, ...],
    status: str,
    score: float | None,
    branch_id: str | None,
) -> Node:
    """``Node(...)`` without the named tuple's Python-level ``__new__`` (hot path)."""
    return _new(Node, (seq, version, kind, depth, parents, status, score, branch_id))


@dataclass(frozen=True, slots=True)
class Deliberation:
    """A deliberation's settings (the goal's text is the root node's content)."""

    mode: str
    profile: str
    limits: GraphLimits
    root_id: str
    beam_width: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "profile": self.profile,
            "limits": self.limits.to_dict(),
            "root_id": self.root_id,
            "beam_width": self.beam_width,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Deliberation:
        limits = raw["limits"]
        return cls(
            mode=str(raw["mode"]),
            profile=str(raw["profile"]),
            limits=GraphLimits(**{k: int(limits[k]) for k in LIMIT_RANGES}),
            root_id=str(raw["root_id"]),
            beam_width=int(raw["beam_width"]),
        )


@dataclass(frozen=True, slots=True)
class Phase:
    """A Skeleton-of-Thought phase: its skeleton nodes, and whether they were elaborated."""

    source_id: str
    skeleton_ids: tuple[str, ...]
    style: str
    elaborated: bool = False

    def to_list(self) -> list[Any]:
        return [self.source_id, list(self.skeleton_ids), self.style, self.elaborated]

    @classmethod
    def from_list(cls, raw: Any) -> Phase:
        source, skeletons, style, elaborated = raw
        return cls(str(source), tuple(str(s) for s in skeletons), str(style), bool(elaborated))


def edge_key(source: str, target: str, kind: str) -> str:
    return f"{source}>{target}:{kind}"


_NO_NODES: Map[str, Node] = Map()
_NO_IDS: Map[str, int] = Map()
_NO_OUT: Map[str, tuple[str, ...]] = Map()
_NO_EDGES: Map[str, int] = Map()
_NO_STATS: Map[str, tuple[int, int]] = Map()
_NO_PHASES: Map[str, Phase] = Map()


class Graph(NamedTuple):
    """The decidable part of a session's thought graph (persistent: every change returns a new one).

    A named tuple for the same reason as ``Node``; ``build_graph`` builds one without ``__new__``.
    """

    nodes: Map[str, Node] = _NO_NODES
    frontier: Map[str, int] = _NO_IDS  # node id -> seq (for creation order)
    strict_out: Map[str, tuple[str, ...]] = _NO_OUT  # depends_on/refines adjacency, source -> targets
    edges: Map[str, int] = _NO_EDGES  # edge_key -> version of the event that added it (typed edges only)
    stats: Map[str, tuple[int, int]] = _NO_STATS  # node -> (supports in, conflicts in)
    deliberation: Deliberation | None = None
    phases: Map[str, Phase] = _NO_PHASES
    last_phase: str | None = None

    # -- queries ------------------------------------------------------------------------------

    def frontier_ids(self) -> list[str]:
        """The frontier in creation order (O(F log F): for reads and commands that touch it all)."""
        return [nid for nid, _ in sorted(self.frontier.items(), key=lambda kv: kv[1])]

    def first_frontier_ids(self, n: int) -> list[str]:
        """The ``n`` oldest frontier nodes (O(F log n))."""
        return [nid for nid, _ in heapq.nsmallest(n, self.frontier.items(), key=lambda kv: kv[1])]

    def strict_reaches(self, start: str, goal: str) -> bool:
        """Whether ``goal`` is reachable from ``start`` along strict edges."""
        return reaches(self.strict_out, start, goal)

    # -- changes (used by ``apply``) ---------------------------------------------------------

    def with_chain_thought(
        self, node_id: str, seq: int, version: int, parent: str | None, branch: str | None, revises: str | None
    ) -> Graph:
        """Add a ``sequentialthinking`` thought: a chain node under ``parent`` (None: a first thought)."""
        nodes = self.nodes
        frontier = self.frontier
        depth = 0
        parents: tuple[str, ...] = ()
        if parent is not None:
            pnode = nodes.get(parent)
            if pnode is not None:
                depth = pnode.depth + 1
                parents = (parent,)
                if parent in frontier:
                    frontier = frontier.delete(parent)
        nodes = nodes.set(node_id, new_node(seq, version, "chain", depth, parents, "active", None, branch))
        graph = build_graph(
            nodes,
            frontier.set(node_id, seq),
            self.strict_out,
            self.edges,
            self.stats,
            self.deliberation,
            self.phases,
            self.last_phase,
        )
        if revises is not None and revises in nodes:
            graph = graph.with_edges([(node_id, revises, "refines")], version)
        return graph

    def with_edges(self, edges: Iterable[tuple[str, str, str]], version: int) -> Graph:
        strict_out = self.strict_out
        keys = self.edges
        stats = self.stats
        for source, target, kind in edges:
            keys = keys.set(edge_key(source, target, kind), version)
            if kind in STRICT_KINDS:
                strict_out = strict_out.set(source, (*strict_out.get(source, ()), target))
            elif kind in ("supports", "conflicts"):
                sup, con = stats.get(target, (0, 0))
                stats = stats.set(target, (sup + 1, con) if kind == "supports" else (sup, con + 1))
        return build_graph(
            self.nodes, self.frontier, strict_out, keys, stats, self.deliberation, self.phases, self.last_phase
        )

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "nodes": {nid: node.to_list() for nid, node in self.nodes.items()},
            "frontier": list(self.frontier.keys()),
            "edges": list(self.edges.items()),
            "deliberation": self.deliberation.to_dict() if self.deliberation is not None else None,
            "phases": {pid: phase.to_list() for pid, phase in self.phases.items()},
            "last_phase": self.last_phase,
        }

    @classmethod
    def from_snapshot(cls, raw: Any) -> Graph:
        """Rebuild from ``to_snapshot`` output (strict adjacency and stats are derived from the edges).

        Raises:
            ValueError: malformed.
        """
        try:
            nodes = Map({str(nid): Node.from_list(v) for nid, v in raw["nodes"].items()})
            frontier = Map({str(nid): nodes[nid].seq for nid in raw["frontier"]})
            graph = cls(nodes, frontier)
            by_version: dict[int, list[tuple[str, str, str]]] = {}
            for key, version in raw["edges"]:
                source, _, rest = str(key).partition(">")
                target, _, kind = rest.rpartition(":")
                by_version.setdefault(int(version), []).append((source, target, kind))
            for version, edges in sorted(by_version.items()):
                graph = graph.with_edges(edges, version)
            deliberation = Deliberation.from_dict(raw["deliberation"]) if raw["deliberation"] is not None else None
            phases = Map({str(pid): Phase.from_list(v) for pid, v in raw["phases"].items()})
            last_phase = raw["last_phase"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed graph snapshot: {exc}") from exc
        return cls(
            graph.nodes,
            graph.frontier,
            graph.strict_out,
            graph.edges,
            graph.stats,
            deliberation,
            phases,
            None if last_phase is None else str(last_phase),
        )

    def canonical(self) -> dict[str, Any]:
        """An order-independent form (equal graphs give equal dicts), for tests and audits."""
        snap = self.to_snapshot()
        snap["nodes"] = dict(sorted(snap["nodes"].items()))
        snap["frontier"] = sorted(snap["frontier"])
        snap["edges"] = sorted(snap["edges"])
        snap["phases"] = dict(sorted(snap["phases"].items()))
        return snap


def build_graph(
    nodes: Map[str, Node],
    frontier: Map[str, int],
    strict_out: Map[str, tuple[str, ...]],
    edges: Map[str, int],
    stats: Map[str, tuple[int, int]],
    deliberation: Deliberation | None,
    phases: Map[str, Phase],
    last_phase: str | None,
) -> Graph:
    return _new(Graph, (nodes, frontier, strict_out, edges, stats, deliberation, phases, last_phase))


def reaches(adjacency: Mapping[str, tuple[str, ...]], start: str, goal: str) -> bool:
    """Depth-first search from ``start``: touches only what ``start`` reaches."""
    if start == goal:
        return True
    seen = {start}
    stack = [start]
    while stack:
        for nxt in adjacency.get(stack.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False
