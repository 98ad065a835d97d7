"""Properties of the thought graph under any sequence of commands (Hypothesis).

- No cycle can ever be created among depends_on/refines edges.
- Pruning never removes a node: it stays in the graph (status pruned) and in the log.
- Replaying the events rebuilds the same state; a snapshot round-trips.
- The frontier only ever holds active nodes; every edge joins existing nodes.
- A refused command changes nothing (decide is pure: the state it was given is the state kept).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinkgate.domain.deliberation import (
    AddThought,
    DistillCluster,
    ExpandThoughts,
    LinkThoughts,
    MergeBranches,
    PruneThoughts,
    RefineThought,
    RunElaboration,
    ScoreThoughts,
    StartDeliberation,
    StartSkeleton,
    text_needs,
)
from thinkgate.domain.events import DeliberationStarted, Event, GraphUpdated, ThoughtRecorded
from thinkgate.domain.graph import EDGE_KINDS, STRICT_KINDS
from thinkgate.domain.state import SessionState, apply, replay
from thinkgate.domain.thinking import ClearHistory, Limits, RecordThought, decide
from thinkgate.errors import CycleRefused, ThinkGateError

LIMITS = Limits(max_thought_bytes=4096, max_thoughts_per_session=400)
WORDS = st.sampled_from(["cache", "index", "shard", "replica", "queue", "budget", "latency", "risk", "plan"])
TEXT = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)


def ids(draw: Any, state: SessionState, *, least: int = 0, most: int = 4) -> tuple[str, ...]:
    """Node ids: mostly existing ones, sometimes unknown or repeated (which must be refused)."""
    known = sorted(state.graph.nodes, key=lambda n: state.graph.nodes[n].seq)
    pool = st.sampled_from(known) if known else st.just("t1")
    unknown = st.sampled_from(["t0", "t999", "t12345"])
    count = draw(st.integers(least, most))
    return tuple(draw(unknown if draw(st.integers(0, 15)) == 0 else pool) for _ in range(count))


def command(draw: Any, state: SessionState) -> Any:
    kind = draw(
        st.sampled_from(
            [
                "add",
                "add",
                "add",
                "link",
                "link",
                "link",
                "expand",
                "score",
                "prune",
                "merge",
                "distill",
                "refine",
                "chain",
                "skeleton",
                "elaborate",
                "clear",
            ]
        )
    )
    rid = draw(st.sampled_from(["r1", "r2", "r3"])) if draw(st.integers(0, 7)) == 0 else None
    if kind == "add":
        edges = tuple((draw(st.sampled_from(EDGE_KINDS)), target) for target in ids(draw, state, most=2))
        parents = draw(st.one_of(st.none(), st.just(ids(draw, state, most=3))))
        return AddThought(draw(TEXT), parents, edges, request_id=rid)
    if kind == "link":
        pair = ids(draw, state, least=2, most=2)
        return LinkThoughts(pair[0], pair[1], draw(st.sampled_from(EDGE_KINDS)), request_id=rid)
    if kind == "expand":
        strategy = draw(st.sampled_from(["diverse", "least_to_most", "contrarian", "direct"]))
        return ExpandThoughts(ids(draw, state, least=1, most=2), strategy, draw(st.integers(1, 3)), rid)
    if kind == "score":
        scored = draw(st.one_of(st.none(), st.just(ids(draw, state, least=1, most=5))))
        client = ()
        if scored and draw(st.booleans()):
            client = ((scored[0], (("correctness", draw(st.floats(0, 1))),)),)
        return ScoreThoughts(scored, scores=client, request_id=rid)
    if kind == "prune":
        return PruneThoughts(
            draw(st.one_of(st.none(), st.integers(1, 4))),
            draw(st.one_of(st.none(), st.floats(0, 1))),
            draw(st.one_of(st.none(), st.just(ids(draw, state, least=1, most=4)))),
            rid,
        )
    if kind == "merge":
        return MergeBranches(ids(draw, state, least=2, most=3), draw(st.one_of(st.none(), TEXT)), request_id=rid)
    if kind == "distill":
        return DistillCluster(ids(draw, state, least=1, most=3), draw(st.one_of(st.none(), TEXT)), request_id=rid)
    if kind == "refine":
        return RefineThought(ids(draw, state, least=1, most=1)[0], critique=draw(TEXT), request_id=rid)
    if kind == "chain":
        numbers = sorted(state.numbers.keys())
        n = draw(st.integers(1, max(numbers, default=0) + 2))
        revises = draw(st.one_of(st.none(), st.sampled_from(numbers))) if numbers else None
        return RecordThought(draw(TEXT), n, n + 1, True, revises_thought=revises, request_id=rid)
    if kind == "skeleton":
        return StartSkeleton(num_skeletons=draw(st.integers(2, 4)), force=True, request_id=rid)
    if kind == "elaborate":
        return RunElaboration(depth=draw(st.integers(1, 2)), merge_after=draw(st.booleans()), request_id=rid)
    if draw(st.integers(0, 9)) == 0:
        return ClearHistory(request_id=rid)
    return AddThought(draw(TEXT), request_id=rid)


@st.composite
def commands(draw: Any, state: SessionState) -> Any:
    return command(draw, state)


def texts_of(events: list[Event]) -> dict[str, str]:
    out: dict[str, str] = {}
    for event in events:
        if isinstance(event, ThoughtRecorded):
            out[event.thought_id] = event.content
        elif isinstance(event, DeliberationStarted):
            out[str(event.root["id"])] = str(event.root["content"])
        elif isinstance(event, GraphUpdated):
            out.update((str(n["id"]), str(n["content"])) for n in event.nodes)
    return out


def acyclic(state: SessionState) -> bool:
    """Kahn's algorithm over the strict edges."""
    out = state.graph.strict_out
    nodes = set(state.graph.nodes)
    indegree = dict.fromkeys(nodes, 0)
    for source, targets in out.items():
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1
            nodes.add(source)
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for t in out.get(n, ()):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return seen == len(indegree)


def check_invariants(state: SessionState, created: set[str]) -> None:
    graph = state.graph
    assert acyclic(state)
    for nid in graph.frontier:
        assert graph.nodes[nid].status == "active", f"{nid} is in the frontier but pruned"
    for key in graph.edges:
        source, _, rest = key.partition(">")
        target, _, kind = rest.rpartition(":")
        assert source in graph.nodes and target in graph.nodes and kind in EDGE_KINDS
    for source, targets in graph.strict_out.items():
        assert all(t in graph.nodes for t in targets) and source in graph.nodes
    # Pruning never removes: every node created since the last clear is still there.
    assert created <= set(graph.nodes)
    for node in graph.nodes.values():
        assert all(p in graph.nodes for p in node.parents)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_command_sequence_keeps_the_graph_rules(data: st.DataObject) -> None:
    start = StartDeliberation("Pick a queue for the billing service", mode="got", limits=(("max_depth", 5),))
    decision = decide(None, start, session_id="s", now="2026-11-26T00:00:00.000Z", limits=LIMITS)
    events: list[Event] = list(decision.events)
    state = replay(events)
    assert state is not None
    created = set(state.graph.nodes)
    requests: dict[str, tuple[int, str]] = {}
    for _ in range(data.draw(st.integers(5, 30))):
        cmd = data.draw(commands(state))
        texts = texts_of(events)
        seen = requests.get(cmd.request_id) if cmd.request_id is not None else None
        before = state
        try:
            decision = decide(
                state,
                cmd,
                session_id="s",
                now="2026-11-26T00:00:01.000Z",
                limits=LIMITS,
                seen=seen,
                texts={k: texts[k] for k in text_needs(state, cmd) if k in texts}
                if not isinstance(cmd, (RecordThought, ClearHistory))
                else None,
            )
        except CycleRefused:
            assert isinstance(cmd, LinkThoughts) and cmd.kind in STRICT_KINDS
            assert state.graph.strict_reaches(cmd.target_id, cmd.source_id)
            assert state is before
            continue
        except ThinkGateError:
            assert state is before  # nothing to undo: decide only returns events
            continue
        if decision.replay_of is not None or decision.answer is not None:
            continue
        for event in decision.events:
            state = apply(state, event)
            events.append(event)
            if cmd.request_id is not None:
                requests[cmd.request_id] = (state.version, getattr(event, "args_digest", None) or "")
        if isinstance(cmd, ClearHistory):
            created = set(state.graph.nodes)
        else:
            created |= {n for n in state.graph.nodes}
        check_invariants(state, created)
    # Replay rebuilds the same graph, and a snapshot round-trips.
    rebuilt = replay(events)
    assert rebuilt is not None and rebuilt.to_snapshot() == state.to_snapshot()
    restored = SessionState.from_snapshot(state.to_snapshot(canonical=False))
    assert restored.to_snapshot() == state.to_snapshot()
    # Pruned nodes are still in the log: each was created by an event.
    logged = set(texts_of(events))
    assert {n for n, node in state.graph.nodes.items() if node.status == "pruned"} <= logged


def chain_of(length: int) -> tuple[SessionState, list[Event]]:
    start = StartDeliberation("chain", limits=(("max_depth", 64),))
    events = list(decide(None, start, session_id="s", now="t", limits=LIMITS).events)
    state = replay(events)
    assert state is not None
    for i in range(length):
        parent = f"t{i + 1}"
        decision = decide(state, AddThought(f"node {i}", (parent,)), session_id="s", now="t", limits=LIMITS)
        for e in decision.events:
            state = apply(state, e)
            events.append(e)
    return state, events


@given(st.integers(2, 30), st.data())
@settings(max_examples=60, deadline=None)
def test_a_link_closing_a_strict_cycle_is_refused_and_others_are_not(length: int, data: st.DataObject) -> None:
    state, _ = chain_of(length)
    nodes = [f"t{i}" for i in range(1, length + 2)]
    # depends_on edges down the chain: t2 -> t1, t3 -> t2, ...
    for a, b in zip(nodes[1:], nodes[:-1], strict=True):
        for e in decide(state, LinkThoughts(a, b, "depends_on"), session_id="s", now="t", limits=LIMITS).events:
            state = apply(state, e)
    i = data.draw(st.integers(0, len(nodes) - 1))
    j = data.draw(st.integers(0, len(nodes) - 1))
    kind = data.draw(st.sampled_from(sorted(STRICT_KINDS)))
    link = LinkThoughts(nodes[i], nodes[j], kind)
    if i <= j:  # nodes[j] already reaches nodes[i]: this edge would close a cycle
        try:
            decide(state, link, session_id="s", now="t", limits=LIMITS)
        except CycleRefused as exc:
            assert nodes[i] in exc.message and nodes[j] in exc.message
        else:
            raise AssertionError(f"{nodes[i]} {kind} {nodes[j]} closes a cycle but was accepted")
    else:
        decision = decide(state, link, session_id="s", now="t", limits=LIMITS)
        for e in decision.events:
            state = apply(state, e)
        assert acyclic(state)
