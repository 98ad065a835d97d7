"""Deliberation commands on a session's thought graph, and ``decide_graph``.

Like ``thinking.decide``: pure, no clock, no ids of its own, no I/O. The texts of the
nodes a command reads (to quote or summarise them) are looked up by the engine first
(``text_needs``) and passed in. Every limit and reference is checked before an event
is built, so a command either produces exactly one event or raises a typed error and
changes nothing. A command that changes nothing (a duplicate link, a blocked skeleton)
returns an ``Answer`` and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from thinkgate.domain.chain import canonical
from thinkgate.domain.events import DeliberationStarted, Event, GraphUpdated, SessionCreated
from thinkgate.domain.graph import (
    EDGE_KINDS,
    LIMIT_RANGES,
    MODE_ALIASES,
    MODES,
    PROFILES,
    STRICT_KINDS,
    Graph,
    GraphLimits,
    Node,
    edge_key,
)
from thinkgate.domain.safety import scan_text
from thinkgate.domain.scoring import (
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    WEIGHT_ALIASES,
    NodeFacts,
    composite,
    heuristic_scores,
    words,
)
from thinkgate.domain.sot import POLICIES, suitability
from thinkgate.domain.state import SessionState, apply, thought_id
from thinkgate.domain.templates import EXPAND_STRATEGIES, SOT_STYLES, expand_items, skeleton_items, snippet
from thinkgate.errors import (
    CycleRefused,
    InvalidInput,
    LimitExceeded,
    NodeInactive,
    SessionNotFound,
    ThoughtTooLong,
    UnknownReference,
)

__all__ = [
    "GRAPH_COMMANDS",
    "AddThought",
    "Answer",
    "DistillCluster",
    "ExpandThoughts",
    "GraphCommand",
    "LinkThoughts",
    "MergeBranches",
    "PruneThoughts",
    "RefineThought",
    "RunElaboration",
    "ScoreThoughts",
    "StartDeliberation",
    "StartSkeleton",
    "decide_graph",
    "graph_limits",
    "normalise_mode",
    "op_name",
    "text_needs",
]

MAX_SOURCES = 64
MAX_PARENTS = 16
MAX_TAGS = 16
MAX_TAG_LENGTH = 64
MAX_CONSTRAINTS = 32
MAX_NOTE_BYTES = 2000
MAX_SCORED = 5000
MAX_OUT_EDGES = 32
FRONTIER_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Answer:
    """The result of a command that changed nothing (nothing was written)."""

    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StartDeliberation:
    goal: str
    constraints: tuple[str, ...] = ()
    mode: str = "tot"
    profile: str = "balanced"
    limits: tuple[tuple[str, Any], ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddThought:
    content: str
    parent_ids: tuple[str, ...] | None = None  # None: the deliberation's root (or no parent without one)
    edges: tuple[tuple[str, str], ...] = ()  # (kind, target): typed edges from the new node
    tags: tuple[str, ...] = ()
    branch_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExpandThoughts:
    """Heuristic expansion (scaffold nodes); prompt packs are a read, model-backed needs a provider."""

    from_ids: tuple[str, ...]
    strategy: str = "diverse"
    count: int = 3
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreThoughts:
    node_ids: tuple[str, ...] | None = None  # None: the frontier
    weights: tuple[tuple[str, float], ...] = ()
    scores: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # client scores per node
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class PruneThoughts:
    beam_width: int | None = None
    threshold: float | None = None
    node_ids: tuple[str, ...] | None = None  # None: the frontier
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class LinkThoughts:
    source_id: str
    target_id: str
    kind: str
    note: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class MergeBranches:
    source_ids: tuple[str, ...]
    content: str | None = None
    tags: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class DistillCluster:
    source_ids: tuple[str, ...]
    content: str | None = None
    max_bullets: int = 8
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RefineThought:
    source_id: str
    critique: str | None = None
    verification_failure: str | None = None
    refined_content: str | None = None
    branch_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class StartSkeleton:
    source_id: str | None = None  # None: the deliberation's root, else the newest frontier node
    num_skeletons: int = 4
    style: str = "multi_lens"
    policy: str = "balanced"
    force: bool = False
    labels: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunElaboration:
    """Heuristic elaboration of a skeleton phase (prompt packs are a read)."""

    phase_id: str | None = None  # None: the newest phase not yet elaborated
    skeleton_ids: tuple[str, ...] | None = None
    depth: int = 3
    merge_after: bool = False
    request_id: str | None = None


GraphCommand = (
    StartDeliberation
    | AddThought
    | ExpandThoughts
    | ScoreThoughts
    | PruneThoughts
    | LinkThoughts
    | MergeBranches
    | DistillCluster
    | RefineThought
    | StartSkeleton
    | RunElaboration
)
GRAPH_COMMANDS: frozenset[type] = frozenset(
    {
        StartDeliberation,
        AddThought,
        ExpandThoughts,
        ScoreThoughts,
        PruneThoughts,
        LinkThoughts,
        MergeBranches,
        DistillCluster,
        RefineThought,
        StartSkeleton,
        RunElaboration,
    }
)
_OP = {
    StartDeliberation: "start_deliberation",
    AddThought: "add_thought",
    ExpandThoughts: "expand_thoughts",
    ScoreThoughts: "score_thoughts",
    PruneThoughts: "prune_thoughts",
    LinkThoughts: "link_thoughts",
    MergeBranches: "merge_thought_branches",
    DistillCluster: "distill_thought_cluster",
    RefineThought: "refine_thoughts",
    StartSkeleton: "start_skeleton_of_thought",
    RunElaboration: "run_skeleton_elaboration",
}


def op_name(command: GraphCommand) -> str:
    """The tool name of a command (the ``op`` of the event it writes)."""
    return _OP[type(command)]


def digest(command: GraphCommand) -> str:
    """A fingerprint of a command's arguments (to tell a retry from a reused request id)."""
    data: dict[str, Any] = {"op": _OP[type(command)]}
    for f in fields(command):
        if f.name != "request_id":
            data[f.name] = getattr(command, f.name)
    return hashlib.sha256(canonical(data)).hexdigest()[:32]


# -- helpers ------------------------------------------------------------------------------------


def normalise_mode(mode: str) -> str:
    """The wire value of a mode or alias.

    Raises:
        InvalidInput: unknown mode.
    """
    m = mode.strip().lower()
    m = MODE_ALIASES.get(m, m)
    if m not in MODES:
        aliases = ", ".join(f"{a}={w}" for a, w in MODE_ALIASES.items())
        raise InvalidInput(f"mode {mode!r} is unknown; use one of {', '.join(MODES)} (aliases {aliases})")
    return m


def graph_limits(state: SessionState | None, max_thoughts: int) -> GraphLimits:
    """The limits a session's graph grows under: its deliberation's, else wide defaults."""
    if state is not None and state.graph.deliberation is not None:
        return state.graph.deliberation.limits
    return GraphLimits(
        max_depth=max_thoughts, max_nodes=max_thoughts, max_edges=4 * max_thoughts, max_branches_per_expand=16
    )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


@dataclass(slots=True)
class _Ctx:
    """What one decision accumulates: warnings, and the texts it may read."""

    state: SessionState | None
    session_id: str
    max_bytes: int
    max_thoughts: int
    texts: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)

    def clean(self, name: str, value: str, *, limit: int | None = None, required: bool = True) -> str:
        """``value`` checked for size, scanned, secrets redacted; injection patterns warned about."""
        if required and not value.strip():
            raise InvalidInput(f"{name} must not be empty")
        cap = self.max_bytes if limit is None else limit
        size = _utf8_len(value)
        if size > cap:
            raise ThoughtTooLong(f"{name} is {size} bytes; the limit is {cap}. Shorten it or split it into nodes.")
        scan = scan_text(value)
        if scan.injections:
            self.warnings.append(f"{name}: possible prompt-injection pattern ({', '.join(scan.injections)}); kept")
        if scan.secrets:
            self.warnings.append(f"{name}: secret redacted before storage ({', '.join(scan.secrets)})")
        return scan.text

    def tags(self, tags: Sequence[str]) -> list[str]:
        if len(tags) > MAX_TAGS:
            raise InvalidInput(f"at most {MAX_TAGS} tags per node, got {len(tags)}")
        out: list[str] = []
        for tag in tags:
            clean = self.clean("tag", tag, limit=MAX_TAG_LENGTH)
            if clean not in out:
                out.append(clean)
        return out

    @property
    def graph(self) -> Graph:
        assert self.state is not None
        return self.state.graph

    def node(self, node_id: str, name: str = "node") -> Node:
        node = self.graph.nodes.get(node_id)
        if node is None:
            raise UnknownReference(f"{name} {node_id!r} names no node of this session; {_known(self.graph)}")
        return node

    def active(self, node_id: str, name: str = "node") -> Node:
        """The node, which must not be pruned (``merged`` nodes stay usable)."""
        node = self.node(node_id, name)
        if node.status == "pruned":
            raise NodeInactive(f"{name} {node_id!r} was pruned; work from an active node ({_known(self.graph)})")
        return node

    def text(self, node_id: str) -> str:
        return self.texts.get(node_id, "")

    def limits(self) -> GraphLimits:
        return graph_limits(self.state, self.max_thoughts)


def _known(graph: Graph) -> str:
    frontier = graph.first_frontier_ids(11)
    if not frontier:
        return f"the graph has {len(graph.nodes)} nodes and an empty frontier"
    shown = ", ".join(frontier[:10]) + (" …" if len(frontier) > 10 else "")
    return f"frontier: {shown}"


def _distinct(ids: Sequence[str], name: str, *, least: int, most: int) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(ids))
    if len(out) != len(ids):
        raise InvalidInput(f"{name} names a node twice")
    if not least <= len(out) <= most:
        raise InvalidInput(f"{name} needs {least} to {most} node ids, got {len(out)}")
    return out


def _check_growth(ctx: _Ctx, nodes: Sequence[Mapping[str, Any]], edges: int, *, depth: bool = True) -> None:
    """Limits, all checked before anything is written (``depth=False``: a converging node may go deeper)."""
    graph = ctx.graph
    lim = ctx.limits()
    state = ctx.state
    assert state is not None
    if len(graph.nodes) + len(nodes) > lim.max_nodes:
        raise LimitExceeded(
            f"this would make {len(graph.nodes) + len(nodes)} nodes; max_nodes is {lim.max_nodes} (pruned nodes "
            "count: the budget bounds exploration). Converge on what you have, or start a new deliberation with a "
            "larger limits.max_nodes."
        )
    if state.seq + len(nodes) > ctx.max_thoughts:
        raise LimitExceeded(f"session {state.session_id!r} reached the limit of {ctx.max_thoughts} nodes")
    if len(graph.edges) + edges > lim.max_edges:
        raise LimitExceeded(
            f"this would make {len(graph.edges) + edges} typed edges; max_edges is {lim.max_edges}. "
            "Start a deliberation with a larger limits.max_edges."
        )
    deepest = max((int(n["depth"]) for n in nodes), default=0)
    if depth and deepest > lim.max_depth:
        raise LimitExceeded(
            f"this would make a node at depth {deepest}; max_depth is {lim.max_depth}. "
            "Work from a shallower node, or converge with merge_thought_branches / distill_thought_cluster."
        )


def _node_record(
    seq: int,
    kind: str,
    content: str,
    parents: Sequence[str],
    depth: int,
    *,
    tags: Sequence[str] = (),
    branch_id: str | None = None,
    mode: str = "agent",
    tool: str,
) -> dict[str, Any]:
    return {
        "id": thought_id(seq),
        "seq": seq,
        "kind": kind,
        "content": content,
        "parents": list(parents),
        "depth": depth,
        "tags": list(tags),
        "branch_id": branch_id,
        "provenance": {"mode": mode, "tool": tool},
    }


def _depth(graph: Graph, parents: Sequence[str]) -> int:
    return max((graph.nodes[p].depth for p in parents), default=-1) + 1


def _brief(node: Mapping[str, Any]) -> dict[str, Any]:
    out = {"id": node["id"], "kind": node["kind"], "depth": node["depth"], "parents": list(node["parents"])}
    if node.get("tags"):
        out["tags"] = list(node["tags"])
    out["provenance"] = dict(node["provenance"])
    return out


# -- decide -------------------------------------------------------------------------------------


def text_needs(state: SessionState | None, command: GraphCommand) -> list[str]:
    """The nodes whose text ``decide_graph`` reads for ``command`` (existing ones only)."""
    if state is None:
        return []
    graph = state.graph
    ids: list[str]
    if isinstance(command, ExpandThoughts):
        ids = list(command.from_ids)
    elif isinstance(command, (MergeBranches, DistillCluster)):
        ids = list(command.source_ids) if command.content is None else []
    elif isinstance(command, RefineThought):
        ids = [command.source_id] if command.refined_content is None else []
    elif isinstance(command, StartSkeleton):
        ids = [_skeleton_source(state, command.source_id)]
        if graph.deliberation is not None:
            ids.append(graph.deliberation.root_id)
    elif isinstance(command, RunElaboration):
        phase = _phase_id(graph, command.phase_id, strict=False)
        ids = list(graph.phases[phase].skeleton_ids) if phase is not None else []
    elif isinstance(command, ScoreThoughts):
        scored = list(command.node_ids) if command.node_ids is not None else graph.frontier_ids()
        ids = scored + [graph.nodes[n].parents[0] for n in scored if n in graph.nodes and graph.nodes[n].parents]
    else:
        ids = []
    return [i for i in dict.fromkeys(ids) if i in graph.nodes]


def decide_graph(
    state: SessionState | None,
    command: GraphCommand,
    *,
    session_id: str,
    now: str,
    max_bytes: int,
    max_thoughts: int,
    texts: Mapping[str, str],
) -> tuple[tuple[Event, ...], Answer | None]:
    """The events ``command`` produces (with the result each answers), or an ``Answer`` for a no-op.

    Raises:
        InvalidInput, ThoughtTooLong, UnknownReference, NodeInactive, CycleRefused,
        LimitExceeded, SessionNotFound: nothing is produced.
    """
    ctx = _Ctx(state, session_id, max_bytes, max_thoughts, texts)
    if isinstance(command, StartDeliberation):
        return _start(ctx, command, now), None
    if state is None:
        raise SessionNotFound(f"no session {session_id!r}: open one with start_deliberation")
    handler = _HANDLERS[type(command)]
    outcome = handler(ctx, command)
    if isinstance(outcome, Answer):
        return (), outcome
    event = replace(outcome, request_id=command.request_id, args_digest=_digest_if(command))
    after = apply(state, event)
    assert after is not None
    result = dict(event.result)
    result.update(_frontier_result(after.graph, event))
    result["warnings"] = ctx.warnings + list(result.get("warnings", []))
    return (replace(event, result=result),), None


def _digest_if(command: GraphCommand) -> str | None:
    return digest(command) if command.request_id is not None else None


def _frontier_result(graph: Graph, event: GraphUpdated | None = None) -> dict[str, Any]:
    """The frontier after a command: in full while it is small, else what changed and its size.

    Listing a large frontier in every result would cost every command O(frontier) (profile
    lesson: sorting a 9,280-node frontier made add_thought 55× slower than on a small one).
    """
    size = len(graph.frontier)
    out: dict[str, Any] = {}
    if size <= FRONTIER_SHOWN:
        out["frontier"] = graph.frontier_ids()
    else:
        out["frontier"] = None
        out["frontierNote"] = (
            f"the frontier holds {size} nodes: read thinkgate://session/{{id}}/frontier for all of them"
        )
    if event is not None:
        added = [n for n in event.frontier_added if n in graph.frontier]
        removed = list(event.frontier_removed) + [n for n in event.pruned if n not in event.frontier_removed]
        if added or removed or event.frontier_reset:
            out["frontierChange"] = {"added": added, "removed": removed, "reset": event.frontier_reset}
    out["frontierSize"] = size
    return out


_NEXT_STEPS = {
    "cot": ["sequentialthinking with this sessionId: one step per call; the chain hangs under the root"],
    "tot": [
        "expand_thoughts (generation=prompt_pack) for prompts, then add_thought for each alternative",
        "score_thoughts, then prune_thoughts to keep the best; repeat from the frontier",
    ],
    "got": [
        "add_thought for each idea; link_thoughts for supports/conflicts/depends_on/refines",
        "merge_thought_branches or distill_thought_cluster to converge",
    ],
    "sot": ["start_skeleton_of_thought for an outline, then run_skeleton_elaboration"],
    "governed": [
        "as tot: expand, add_thought, score_thoughts, prune_thoughts",
        "verification gates come with the governance toolset; until then score and prune conservatively",
    ],
}


def _start(ctx: _Ctx, cmd: StartDeliberation, now: str) -> tuple[Event, ...]:
    state = ctx.state
    if state is not None and state.graph.deliberation is not None:
        raise InvalidInput(
            f"session {ctx.session_id!r} already has a deliberation (root {state.graph.deliberation.root_id}); "
            "start a new one without sessionId"
        )
    mode = normalise_mode(cmd.mode)
    profile = cmd.profile.strip().lower()
    if profile not in PROFILES:
        raise InvalidInput(f"profile {cmd.profile!r} is unknown; use one of {', '.join(PROFILES)}")
    defaults, beam = PROFILES[profile]
    applied = defaults.to_dict()
    clamped: dict[str, dict[str, int]] = {}
    for key, value in cmd.limits:
        if key not in LIMIT_RANGES:
            raise InvalidInput(f"limits.{key} is unknown; the limits are {', '.join(LIMIT_RANGES)}")
        if type(value) is not int:
            raise InvalidInput(f"limits.{key} must be an integer")
        lo, hi = LIMIT_RANGES[key]
        if key == "max_nodes":
            hi = min(hi, ctx.max_thoughts)
        ok = min(hi, max(lo, value))
        if ok != value:
            clamped[key] = {"requested": value, "applied": ok}
            ctx.warnings.append(f"limits.{key}={value} is outside the safe range {lo}..{hi}: applied {ok}")
        applied[key] = ok
    goal = ctx.clean("goal", cmd.goal)
    if len(cmd.constraints) > MAX_CONSTRAINTS:
        raise InvalidInput(f"at most {MAX_CONSTRAINTS} constraints, got {len(cmd.constraints)}")
    constraints = tuple(ctx.clean("constraint", c, limit=MAX_NOTE_BYTES) for c in cmd.constraints)
    events: list[Event] = []
    seq = 1
    if state is None:
        events.append(SessionCreated(session_id=ctx.session_id, created_at=now, mode=mode))
    else:
        seq = state.seq + 1
        if seq > ctx.max_thoughts:
            raise LimitExceeded(f"session {ctx.session_id!r} reached the limit of {ctx.max_thoughts} nodes")
    root = _node_record(seq, "root", goal, (), 0, tags=("goal",), tool="start_deliberation")
    result: dict[str, Any] = {
        "deliberationId": ctx.session_id,
        "sessionId": ctx.session_id,
        "mode": mode,
        "profile": profile,
        "limitsApplied": applied,
        "beamWidth": beam,
        "rootNode": _brief(root),
        "status": "open",
    }
    if clamped:
        result["clampedLimits"] = clamped
    result["frontier"] = [root["id"]]
    result["frontierSize"] = 1 + (len(state.graph.frontier) if state is not None else 0)
    result["warnings"] = ctx.warnings
    result["nextSteps"] = _NEXT_STEPS[mode]
    events.append(
        DeliberationStarted(
            goal=goal,
            constraints=constraints,
            mode=mode,
            profile=profile,
            limits=applied,
            beam_width=beam,
            root=root,
            request_id=cmd.request_id,
            args_digest=_digest_if(cmd),
            result=result,
        )
    )
    return tuple(events)


def _add(ctx: _Ctx, cmd: AddThought) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    if cmd.parent_ids is None:
        parents: tuple[str, ...] = (graph.deliberation.root_id,) if graph.deliberation is not None else ()
    else:
        parents = _distinct(cmd.parent_ids, "parentIds", least=0, most=MAX_PARENTS)
    for p in parents:
        ctx.active(p, "parent")
    if len(cmd.edges) > MAX_OUT_EDGES:
        raise InvalidInput(f"at most {MAX_OUT_EDGES} edges per node, got {len(cmd.edges)}")
    seq = state.seq + 1
    new_id = thought_id(seq)
    edges: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for kind, target in cmd.edges:
        if kind not in EDGE_KINDS:
            raise InvalidInput(f"edge kind {kind!r} is unknown; use one of {', '.join(EDGE_KINDS)}")
        ctx.active(target, "edge target")
        if (kind, target) not in seen:
            seen.add((kind, target))
            edges.append({"source": new_id, "target": target, "kind": kind})
    content = ctx.clean("content", cmd.content)
    branch = ctx.clean("branchId", cmd.branch_id, limit=200) if cmd.branch_id else None
    node = _node_record(
        seq,
        "thought",
        content,
        parents,
        _depth(graph, parents),
        tags=ctx.tags(cmd.tags),
        branch_id=branch,
        tool="add_thought",
    )
    _check_growth(ctx, [node], len(edges))
    return GraphUpdated(
        op="add_thought",
        nodes=(node,),
        edges=tuple(edges),
        frontier_removed=tuple(p for p in parents if p in graph.frontier),
        frontier_added=(new_id,),
        result={"sessionId": ctx.session_id, "node": _brief(node), "edges": edges},
    )


def _expand(ctx: _Ctx, cmd: ExpandThoughts) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    if cmd.strategy not in EXPAND_STRATEGIES or cmd.strategy == "skeleton_first":
        raise InvalidInput(f"strategy {cmd.strategy!r} is unknown; use one of {', '.join(EXPAND_STRATEGIES)}")
    sources = _distinct(cmd.from_ids, "fromNodeIds", least=1, most=MAX_SOURCES)
    for s in sources:
        ctx.active(s, "fromNodeIds")
    lim = ctx.limits()
    count = cmd.count
    if count < 1:
        raise InvalidInput("count must be at least 1")
    if count > lim.max_branches_per_expand:
        ctx.warnings.append(f"count {count} clamped to max_branches_per_expand={lim.max_branches_per_expand}")
        count = lim.max_branches_per_expand
    seq = state.seq
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for source in sources:
        depth = graph.nodes[source].depth + 1
        previous: str | None = None
        for k, (label, question) in enumerate(expand_items(cmd.strategy, ctx.text(source), count), 1):
            seq += 1
            node = _node_record(
                seq,
                "scaffold",
                f"[scaffold · {cmd.strategy} · {label}] {question}",
                (source,),
                depth,
                tags=("scaffold", cmd.strategy, label),
                branch_id=f"{source}.{k}",
                mode="heuristic",
                tool="expand_thoughts",
            )
            nodes.append(node)
            if cmd.strategy == "least_to_most" and previous is not None:
                # Each harder step builds on the one before it.
                edges.append({"source": node["id"], "target": previous, "kind": "depends_on"})
            previous = node["id"]
    _check_growth(ctx, nodes, len(edges))
    return GraphUpdated(
        op="expand_thoughts",
        nodes=tuple(nodes),
        edges=tuple(edges),
        frontier_removed=tuple(s for s in sources if s in graph.frontier),
        frontier_added=tuple(n["id"] for n in nodes),
        result={
            "sessionId": ctx.session_id,
            "generation": "heuristic",
            "strategy": cmd.strategy,
            "createdNodes": [_brief(n) | {"content": n["content"]} for n in nodes],
            "expansionSummary": (
                f"{len(nodes)} scaffold node(s) from {len(sources)} source(s); they hold questions, not answers: "
                "answer each with add_thought (parentIds=[its id]) or prune them"
            ),
            "analysis": {"provenance": "heuristic", "limitations": "templates, no model; no content was generated"},
        },
    )


def _score(ctx: _Ctx, cmd: ScoreThoughts) -> GraphUpdated:
    graph = ctx.graph
    if cmd.node_ids is not None:
        ids = list(_distinct(cmd.node_ids, "nodeIds", least=1, most=MAX_SCORED))
    else:
        ids = graph.frontier_ids()
    client: dict[str, dict[str, float]] = {}
    for nid, dims in cmd.scores:
        if nid not in ids:
            ids.append(nid)
        ctx.node(nid, "scores")
        entry = client.setdefault(nid, {})
        for dim, value in dims:
            d = WEIGHT_ALIASES.get(dim, dim)
            if d not in DIMENSIONS:
                raise InvalidInput(f"score dimension {dim!r} is unknown; use {', '.join(DIMENSIONS)}")
            if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
                raise InvalidInput(f"scores.{nid}.{dim} must be a number from 0 to 1")
            entry[d] = float(value)
    if not ids:
        raise InvalidInput("nothing to score: the frontier is empty and no nodeIds were given")
    if len(ids) > MAX_SCORED:
        raise InvalidInput(f"at most {MAX_SCORED} nodes per call, got {len(ids)}")
    weights = dict(DEFAULT_WEIGHTS)
    for dim, w in cmd.weights:
        d = WEIGHT_ALIASES.get(dim, dim)
        if d not in DIMENSIONS:
            raise InvalidInput(f"weight {dim!r} is unknown; use {', '.join(DIMENSIONS)}")
        if not (isinstance(w, (int, float)) and 0.0 <= float(w) <= 100.0):
            raise InvalidInput(f"weights.{dim} must be a number from 0 to 100")
        weights[d] = float(w)
    if sum(weights.values()) <= 0:
        raise InvalidInput("weights must not all be zero")
    facts = []
    parent_words_of: dict[str, frozenset[str]] = {}  # siblings share a parent: its words once
    for nid in ids:
        node = ctx.node(nid, "nodeIds")
        sup, con = graph.stats.get(nid, (0, 0))
        parent_words: frozenset[str] = frozenset()
        if node.parents:
            first = node.parents[0]
            if first not in parent_words_of:
                parent_words_of[first] = words(ctx.text(first))
            parent_words = parent_words_of[first]
        facts.append(
            NodeFacts(nid, sup, con, len(graph.strict_out.get(nid, ())), node.depth, words(ctx.text(nid)), parent_words)
        )
    heuristic = heuristic_scores(facts, ctx.limits().max_depth)
    entries: list[dict[str, Any]] = []
    for nid in ids:
        values = dict(heuristic[nid])
        sources = dict.fromkeys(DIMENSIONS, "heuristic")
        for d, v in client.get(nid, {}).items():
            values[d], sources[d] = v, "client"
        entries.append(
            {
                "node": nid,
                "composite": composite(values, weights),
                "dims": {d: {"value": round(values[d], 4), "source": sources[d]} for d in DIMENSIONS},
            }
        )
    seqs = {nid: graph.nodes[nid].seq for nid in ids}
    ranked = sorted(entries, key=lambda e: (-e["composite"], seqs[e["node"]]))
    return GraphUpdated(
        op="score_thoughts",
        scores=tuple(entries),
        result={
            "sessionId": ctx.session_id,
            "weights": weights,
            "scores": entries,
            "rankedNodeIds": [e["node"] for e in ranked],
            "analysis": {
                "provenance": "client scores where given, else structural heuristics (docs/deliberation.md)",
                "limitations": "heuristics read graph shape and word overlap, not truth",
            },
        },
    )


def _prune(ctx: _Ctx, cmd: PruneThoughts) -> GraphUpdated:
    graph = ctx.graph
    root = graph.deliberation.root_id if graph.deliberation is not None else None
    if cmd.node_ids is not None:
        candidates = list(_distinct(cmd.node_ids, "nodeIds", least=1, most=MAX_SCORED))
        for nid in candidates:
            ctx.active(nid, "nodeIds")
    else:
        candidates = graph.frontier_ids()
    if root in candidates:
        candidates.remove(root)
        ctx.warnings.append(f"the root {root} is never pruned")
    beam = cmd.beam_width
    explicit = cmd.node_ids is not None and beam is None and cmd.threshold is None  # prune exactly these
    if beam is None and cmd.threshold is None and not explicit:
        beam = graph.deliberation.beam_width if graph.deliberation is not None else 3
    if beam is not None and beam < 1:
        raise InvalidInput("beamWidth must be at least 1")
    if cmd.threshold is not None and not 0.0 <= cmd.threshold <= 1.0:
        raise InvalidInput("threshold must be from 0 to 1")
    nodes = graph.nodes
    ranked = sorted(
        candidates,
        key=lambda n: (nodes[n].score is None, -(nodes[n].score or 0.0), nodes[n].seq),
    )
    unscored = [n for n in ranked if nodes[n].score is None]
    if unscored and not explicit:
        ctx.warnings.append(
            f"{len(unscored)} candidate(s) were never scored and rank last: {', '.join(unscored[:10])}"
            + (" …" if len(unscored) > 10 else "")
            + "; run score_thoughts first"
        )
    pruned: list[str] = []
    kept: list[str] = []
    for rank, nid in enumerate(ranked):
        score = nodes[nid].score
        out_of_beam = beam is not None and rank >= beam
        below = cmd.threshold is not None and score is not None and score < cmd.threshold
        (pruned if explicit or out_of_beam or below else kept).append(nid)
    return GraphUpdated(
        op="prune_thoughts",
        pruned=tuple(pruned),
        result={
            "sessionId": ctx.session_id,
            "beamWidth": beam,
            "threshold": cmd.threshold,
            "prunedNodeIds": pruned,
            "keptNodeIds": kept,
            "note": "pruned nodes stay in the log and the graph with status pruned",
        },
    )


def _cycle_path(graph: Graph, start: str, goal: str) -> list[str]:
    """A strict path start → … → goal (exists when called)."""
    previous: dict[str, str | None] = {start: None}
    stack = [start]
    while stack:
        cur = stack.pop()
        if cur == goal:
            break
        for nxt in graph.strict_out.get(cur, ()):
            if nxt not in previous:
                previous[nxt] = cur
                stack.append(nxt)
    path: list[str] = []
    at: str | None = goal
    while at is not None:
        path.append(at)
        at = previous.get(at)
    return path[::-1]


def _link(ctx: _Ctx, cmd: LinkThoughts) -> GraphUpdated | Answer:
    graph = ctx.graph
    if cmd.kind not in EDGE_KINDS:
        raise InvalidInput(f"kind {cmd.kind!r} is unknown; use one of {', '.join(EDGE_KINDS)}")
    ctx.active(cmd.source_id, "sourceId")
    ctx.active(cmd.target_id, "targetId")
    if cmd.source_id == cmd.target_id:
        if cmd.kind in STRICT_KINDS:
            raise CycleRefused(f"{cmd.source_id} {cmd.kind} {cmd.source_id} is a cycle of one node")
        raise InvalidInput("sourceId and targetId are the same node")
    edge: dict[str, Any] = {"source": cmd.source_id, "target": cmd.target_id, "kind": cmd.kind}
    if cmd.note:
        edge["note"] = ctx.clean("note", cmd.note, limit=MAX_NOTE_BYTES)
    if edge_key(cmd.source_id, cmd.target_id, cmd.kind) in graph.edges:
        return Answer(
            {
                "sessionId": ctx.session_id,
                "edge": edge,
                "created": False,
                "note": "this edge already exists; nothing was written",
                **_frontier_result(graph),
                "warnings": ctx.warnings,
            }
        )
    if cmd.kind in STRICT_KINDS and graph.strict_reaches(cmd.target_id, cmd.source_id):
        path = _cycle_path(graph, cmd.target_id, cmd.source_id)
        raise CycleRefused(
            f"{cmd.source_id} {cmd.kind} {cmd.target_id} would close a cycle of depends_on/refines edges: "
            f"{' → '.join(path)} → {path[0]}"
        )
    _check_growth(ctx, [], 1)
    return GraphUpdated(
        op="link_thoughts",
        edges=(edge,),
        result={"sessionId": ctx.session_id, "edge": edge, "created": True},
    )


def _sources(ctx: _Ctx, ids: Sequence[str], *, least: int) -> tuple[str, ...]:
    """Distinct, existing, unpruned ``sourceNodeIds``."""
    sources = _distinct(ids, "sourceNodeIds", least=least, most=MAX_SOURCES)
    for s in sources:
        ctx.active(s, "sourceNodeIds")
    return sources


def _merge(ctx: _Ctx, cmd: MergeBranches) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    sources = _sources(ctx, cmd.source_ids, least=2)
    if cmd.content is not None:
        content, mode = ctx.clean("content", cmd.content), "agent"
    else:
        lines = [f"Merged from {', '.join(sources)}:"] + [f"- {s}: {snippet(ctx.text(s), 160)}" for s in sources]
        content, mode = "\n".join(lines), "heuristic"
    seq = state.seq + 1
    node = _node_record(
        seq,
        "merged",
        content,
        sources,
        _depth(graph, sources),
        tags=("got", "merged", *ctx.tags(cmd.tags)),
        mode=mode,
        tool="merge_thought_branches",
    )
    edges = [{"source": s, "target": node["id"], "kind": "supports"} for s in sources]
    _check_growth(ctx, [node], len(edges), depth=False)
    return GraphUpdated(
        op="merge_thought_branches",
        nodes=(node,),
        edges=tuple(edges),
        merged=sources,
        frontier_reset=True,
        frontier_added=(node["id"],),
        result={"sessionId": ctx.session_id, "mergedNode": _brief(node), "edges": edges},
    )


def _first_clause(text: str) -> str:
    flat = text.strip()
    for sep in ("\n", ". ", "; "):
        head, found, _ = flat.partition(sep)
        if found:
            flat = head
    return snippet(flat.rstrip("."), 160)


def _distill(ctx: _Ctx, cmd: DistillCluster) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    sources = _sources(ctx, cmd.source_ids, least=1)
    if not 1 <= cmd.max_bullets <= 32:
        raise InvalidInput("maxBullets must be from 1 to 32")
    if cmd.content is not None:
        content, mode = ctx.clean("content", cmd.content), "agent"
    else:
        bullets: list[str] = []
        for s in sources:
            clause = _first_clause(ctx.text(s))
            if clause and clause not in bullets:
                bullets.append(clause)
        shown = bullets[: cmd.max_bullets]
        more = f"\n(+{len(bullets) - len(shown)} more)" if len(bullets) > len(shown) else ""
        content = "\n".join(f"- {b}" for b in shown) + more or "(the sources are empty)"
        mode = "heuristic"
    seq = state.seq + 1
    node = _node_record(
        seq,
        "distilled",
        content,
        sources,
        _depth(graph, sources),
        tags=("got", "distilled"),
        mode=mode,
        tool="distill_thought_cluster",
    )
    edges = [{"source": node["id"], "target": s, "kind": "depends_on"} for s in sources]
    _check_growth(ctx, [node], len(edges), depth=False)
    return GraphUpdated(
        op="distill_thought_cluster",
        nodes=(node,),
        edges=tuple(edges),
        frontier_reset=True,
        frontier_added=(node["id"],),
        result={"sessionId": ctx.session_id, "distilledNode": _brief(node) | {"content": content}, "edges": edges},
    )


def _refine(ctx: _Ctx, cmd: RefineThought) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    source = ctx.active(cmd.source_id, "sourceNodeId")
    if not (cmd.critique or cmd.verification_failure or cmd.refined_content):
        raise InvalidInput("give at least one of critique, verificationFailure, refinedContent")
    critique = ctx.clean("critique", cmd.critique, limit=MAX_NOTE_BYTES) if cmd.critique else None
    failure = (
        ctx.clean("verificationFailure", cmd.verification_failure, limit=MAX_NOTE_BYTES)
        if cmd.verification_failure
        else None
    )
    if cmd.refined_content:
        content, mode = ctx.clean("refinedContent", cmd.refined_content), "agent"
    else:
        reasons = "; ".join(x for x in (critique, failure) if x)
        content = (
            f"[scaffold · refinement] Rewrite «{snippet(ctx.text(cmd.source_id), 120)}» so that it answers: {reasons}"
        )
        mode = "heuristic"
    branch = ctx.clean("branchId", cmd.branch_id, limit=200) if cmd.branch_id else source.branch_id
    seq = state.seq + 1
    node = _node_record(
        seq,
        "refined",
        content,
        (cmd.source_id,),
        source.depth + 1,
        tags=("got", "refined", "feedback-loop"),
        branch_id=branch,
        mode=mode,
        tool="refine_thoughts",
    )
    notes = "; ".join(x for x in (critique and f"critique: {critique}", failure and f"failure: {failure}") if x)
    edge: dict[str, Any] = {"source": node["id"], "target": cmd.source_id, "kind": "refines"}
    if notes:
        edge["note"] = notes
    _check_growth(ctx, [node], 1, depth=False)  # a refinement replaces its source; it may go one level deeper
    return GraphUpdated(
        op="refine_thoughts",
        nodes=(node,),
        edges=(edge,),
        frontier_removed=(cmd.source_id,) if cmd.source_id in graph.frontier else (),
        frontier_added=(node["id"],),
        result={
            "sessionId": ctx.session_id,
            "refinedNodeId": node["id"],
            "refinedNode": _brief(node),
            "refinementEdge": edge,
        },
    )


def _skeleton_source(state: SessionState, source_id: str | None) -> str:
    if source_id is not None:
        return source_id
    graph = state.graph
    if graph.deliberation is not None:
        return graph.deliberation.root_id
    frontier = graph.frontier_ids()
    if not frontier:
        raise InvalidInput("the session has no node to outline: give sourceNodeId or start a deliberation")
    return frontier[-1]


def _phase_id(graph: Graph, phase_id: str | None, *, strict: bool = True) -> str | None:
    if phase_id is not None:
        if phase_id not in graph.phases:
            if not strict:
                return None
            known = ", ".join(graph.phases.keys()) or "none yet"
            raise UnknownReference(f"phaseId {phase_id!r} names no skeleton phase; phases: {known}")
        return phase_id
    open_phases = [pid for pid, phase in graph.phases.items() if not phase.elaborated]
    if not open_phases:
        if not strict:
            return None
        raise InvalidInput("no skeleton phase waits for elaboration: run start_skeleton_of_thought first")
    return max(open_phases, key=lambda pid: int(pid.rpartition("-")[2]))


def sot_text(state: SessionState, source_id: str, texts: Mapping[str, str]) -> str:
    """The text the suitability gate reads: the source node, and the goal when it is another node."""
    text = texts.get(source_id, "")
    graph = state.graph
    if graph.deliberation is not None and graph.deliberation.root_id != source_id:
        text = f"{texts.get(graph.deliberation.root_id, '')}\n{text}"
    return text


def _skeleton(ctx: _Ctx, cmd: StartSkeleton) -> GraphUpdated | Answer:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    source_id = _skeleton_source(state, cmd.source_id)
    source = ctx.active(source_id, "sourceNodeId")
    if cmd.style not in SOT_STYLES:
        raise InvalidInput(f"skeletonStyle {cmd.style!r} is unknown; use one of {', '.join(SOT_STYLES)}")
    if cmd.policy not in POLICIES:
        raise InvalidInput(f"suitabilityPolicy {cmd.policy!r} is unknown; use one of {', '.join(POLICIES)}")
    count = cmd.num_skeletons
    if not 2 <= count <= 10:
        clamped = min(10, max(2, count))
        ctx.warnings.append(f"numSkeletons {count} clamped to {clamped} (2..10)")
        count = clamped
    if len(cmd.labels) > count:
        raise InvalidInput(f"{len(cmd.labels)} branchLabels for {count} skeletons")
    labels = [ctx.clean("branchLabel", label, limit=200) for label in cmd.labels]
    verdict = suitability(sot_text(state, source_id, ctx.texts), policy=cmd.policy, force=cmd.force)
    if verdict.blocked:
        return Answer(
            {
                "sessionId": ctx.session_id,
                "phaseId": None,
                "suitability": verdict.to_dict(),
                "skeletonNodeIds": [],
                **_frontier_result(graph),
                "nextRecommendedTools": ["sequentialthinking", "expand_thoughts"],
                "note": f"blocked: outline-first fits this task poorly ({', '.join(verdict.signals) or 'no signals'})"
                "; nothing was written. Use force=true to outline anyway.",
                "warnings": ctx.warnings,
            }
        )
    phase_id = f"sot-{len(graph.phases) + 1}"
    seq = state.seq
    nodes = []
    edges = []
    for label, text in skeleton_items(cmd.style, ctx.text(source_id), count, labels or None):
        seq += 1
        node = _node_record(
            seq,
            "skeleton",
            f"[skeleton · {cmd.style} · {label}] {text}",
            (source_id,),
            source.depth + 1,
            tags=("sot", "skeleton", "sot_phase_1", f"sot_phase:{phase_id}", label),
            mode="agent" if labels and label in labels else "heuristic",
            tool="start_skeleton_of_thought",
        )
        nodes.append(node)
        edges.append({"source": node["id"], "target": source_id, "kind": "depends_on"})
    _check_growth(ctx, nodes, len(edges))
    ids = [n["id"] for n in nodes]
    return GraphUpdated(
        op="start_skeleton_of_thought",
        nodes=tuple(nodes),
        edges=tuple(edges),
        frontier_removed=(source_id,) if source_id in graph.frontier else (),
        frontier_added=tuple(ids),
        phase={"id": phase_id, "source": source_id, "skeletons": ids, "style": cmd.style},
        result={
            "sessionId": ctx.session_id,
            "phaseId": phase_id,
            "suitability": verdict.to_dict(),
            "skeletonNodeIds": ids,
            "skeletonNodes": [_brief(n) | {"content": n["content"]} for n in nodes],
            "nextRecommendedTools": ["run_skeleton_elaboration", "add_thought"],
        },
    )


def _elaborate(ctx: _Ctx, cmd: RunElaboration) -> GraphUpdated:
    graph = ctx.graph
    state = ctx.state
    assert state is not None
    phase_id = _phase_id(graph, cmd.phase_id)
    assert phase_id is not None
    phase = graph.phases[phase_id]
    if phase.elaborated:
        raise InvalidInput(f"phase {phase_id} was already elaborated; start a new skeleton phase")
    if cmd.skeleton_ids is not None:
        skeletons = _distinct(cmd.skeleton_ids, "skeletonNodeIds", least=1, most=10)
        for s in skeletons:
            if s not in phase.skeleton_ids:
                raise InvalidInput(f"{s} is not a skeleton node of phase {phase_id} ({', '.join(phase.skeleton_ids)})")
    else:
        skeletons = tuple(s for s in phase.skeleton_ids if graph.nodes[s].status != "pruned")
    for s in skeletons:
        ctx.active(s, "skeletonNodeIds")
    if not skeletons:
        raise InvalidInput(f"every skeleton node of phase {phase_id} was pruned")
    depth = cmd.depth
    if not 1 <= depth <= 8:
        clamped = min(8, max(1, depth))
        ctx.warnings.append(f"elaborationDepth {depth} clamped to {clamped} (1..8)")
        depth = clamped
    seq = state.seq
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    by_skeleton: dict[str, list[str]] = {}
    tips: list[str] = []
    for s in skeletons:
        parent = s
        chain: list[str] = []
        point = snippet(ctx.text(s), 100)
        for step in range(1, depth + 1):
            seq += 1
            node = _node_record(
                seq,
                "elaboration",
                f"[scaffold · elaboration {step}/{depth}] Develop «{point}»: "
                + ("state the main point." if step == 1 else "add the next level of detail to the step above."),
                (parent,),
                graph.nodes[s].depth + step,
                tags=("sot", "elaboration", f"sot_phase:{phase_id}"),
                mode="heuristic",
                tool="run_skeleton_elaboration",
            )
            nodes.append(node)
            chain.append(node["id"])
            parent = node["id"]
        by_skeleton[s] = chain
        tips.append(parent)
    merge_id = None
    if cmd.merge_after:
        seq += 1
        merged = _node_record(
            seq,
            "merged",
            f"[scaffold · merge of phase {phase_id}] Combine the elaborations of {', '.join(skeletons)} "
            "into one answer.",
            tuple(tips),
            max(int(n["depth"]) for n in nodes) + 1,
            tags=("sot", "merged", f"sot_phase:{phase_id}"),
            mode="heuristic",
            tool="run_skeleton_elaboration",
        )
        nodes.append(merged)
        merge_id = merged["id"]
        edges.extend({"source": merge_id, "target": t, "kind": "depends_on"} for t in tips)
    _check_growth(ctx, nodes, len(edges))
    return GraphUpdated(
        op="run_skeleton_elaboration",
        nodes=tuple(nodes),
        edges=tuple(edges),
        merged=tuple(tips) if merge_id is not None else (),
        frontier_reset=merge_id is not None,
        frontier_removed=() if merge_id is not None else tuple(s for s in skeletons if s in graph.frontier),
        frontier_added=(merge_id,) if merge_id is not None else tuple(tips),
        phase_elaborated=phase_id,
        result={
            "sessionId": ctx.session_id,
            "status": "HEURISTIC_NODES_CREATED",
            "phaseId": phase_id,
            "elaborationNodeIdsBySkeleton": by_skeleton,
            "mergeNodeId": merge_id,
            "limitations": "scaffold nodes hold questions, not content: answer them with add_thought",
        },
    )


_HANDLERS: dict[type, Any] = {
    AddThought: _add,
    ExpandThoughts: _expand,
    ScoreThoughts: _score,
    PruneThoughts: _prune,
    LinkThoughts: _link,
    MergeBranches: _merge,
    DistillCluster: _distill,
    RefineThought: _refine,
    StartSkeleton: _skeleton,
    RunElaboration: _elaborate,
}
