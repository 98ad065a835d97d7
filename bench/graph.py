"""Deliberation-graph operations in-process: does each cost follow what it touches, or the whole graph?

    .venv/bin/python -m bench.graph [--quick] [--out FILE.jsonl] [--md FILE.md]

Every row times one operation on a small case and on a large one, in the same run, blocks
interleaved over rounds (this 2-core host is shared and drifts): "large ÷ small" is the
ratio of the medians, and the last column says what it would be if the operation cost
in proportion to what it touches (1× when the large case touches no more than the small
one). Engine rows go through ``Engine.graph_command`` on a real SQLite file (commit
included); domain rows call ``decide`` and ``apply`` alone, on a fixed state. Sessions are
grown with ``expand_thoughts`` (up to 64 sources × 16 scaffold nodes per event) and a
merge, which resets the frontier; an operation that changes the frontier is followed
by an untimed one that restores it, so a series measures one shape throughout.
GC is paused inside timed blocks and run between them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.client import cpu_probe_us, machine_info, thought_text
from thinkgate.domain.deliberation import (
    AddThought,
    ExpandThoughts,
    GraphCommand,
    LinkThoughts,
    MergeBranches,
    PruneThoughts,
    ScoreThoughts,
    StartDeliberation,
    text_needs,
)
from thinkgate.domain.events import DeliberationStarted, GraphUpdated
from thinkgate.domain.graph import reaches
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.thinking import Limits, decide
from thinkgate.engine.engine import SNAPSHOT_FORMAT, Engine
from thinkgate.errors import CycleRefused, ThinkGateError
from thinkgate.store.sqlite import SqliteEventStore

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-01-01T00:00:00.000Z"
LIMITS = Limits()
WIDE_LIMITS = (("max_nodes", 100_000), ("max_edges", 400_000), ("max_depth", 64), ("max_branches_per_expand", 16))

# A builder yields batches of commands and is sent the session's state after each batch.
Builder = Generator[list[GraphCommand], SessionState, None]
Block = Callable[[int], Awaitable[list[int]]]  # run n operations, return each one's ns


@dataclass(frozen=True)
class Sizes:
    small: int  # nodes of the small session
    big: int  # nodes of the large session ("the rest of the graph")
    chain: int  # the long depends_on chain
    short_chain: int
    frontier: int  # the large frontier (scored and pruned)
    small_frontier: int
    rounds: int
    ops: int  # operations per series for cheap operations
    heavy_ops: int  # for operations over a whole frontier or chain
    pure_ops: int  # for decide + apply and reaches


FULL = Sizes(10, 10_000, 10_000, 10, 1_000, 100, rounds=4, ops=400, heavy_ops=40, pure_ops=2_000)
QUICK = Sizes(10, 1_000, 1_000, 10, 100, 10, rounds=2, ops=16, heavy_ops=4, pure_ops=40)


# ----------------------------------------------------------------------------------------------
# building sessions
# ----------------------------------------------------------------------------------------------


def grown(total: int, frontier: int | None, info: dict[str, Any]) -> Builder:
    """A deliberation of ``total`` nodes: expansions from the root, then (unless ``frontier`` is
    None, which leaves every leaf on the frontier) a merge that resets the frontier and
    ``frontier`` thoughts under the merged node (or under the root when there is nothing
    else). ``info`` gets ``root``, ``parent`` (of the frontier), ``body`` (the expanded
    nodes, all active and off the frontier after the merge)."""
    state = yield [StartDeliberation(goal=thought_text(0), mode="tot", limits=WIDE_LIMITS)]
    assert state.graph.deliberation is not None
    root = info["root"] = info["parent"] = state.graph.deliberation.root_id
    body_target = total if frontier is None else total - frontier
    grow_to = body_target if frontier is None else body_target - 1  # the merge adds one
    while len(state.graph.nodes) < grow_to:
        need = grow_to - len(state.graph.nodes)
        leaves = state.graph.frontier_ids()
        k = min(64, len(leaves), need)
        state = yield [ExpandThoughts(tuple(leaves[:k]), count=min(16, need // k))]
    info["body"] = [nid for nid, _ in sorted(state.graph.nodes.items(), key=lambda kv: kv[1].seq) if nid != root]
    if frontier is not None and grow_to > 2:
        a, b = state.graph.frontier_ids()[:2]
        state = yield [MergeBranches((a, b), content="merged: " + thought_text(1))]
        info["parent"] = state.graph.frontier_ids()[0]
    if frontier:
        parent = (info["parent"],)
        state = yield [AddThought(thought_text(i), parent_ids=parent) for i in range(frontier)]
    info["frontier"] = state.graph.frontier_ids()


def chained(total: int, length: int, info: dict[str, Any]) -> Builder:
    """``grown(total, 10)`` and a depends_on chain through its first ``length`` body nodes.

    The chain is linked head first (c1 depends_on c2, then c2 on c3, ...), so each link's
    cycle check starts at a node with no strict edges yet. ``info``: ``head`` (c1, from which
    a check walks all ``length`` nodes), ``tail``, ``spare`` (body nodes off the chain).
    """
    yield from grown(total, 10, info)
    chain, info["spare"] = info["body"][:length], info["body"][length:]
    info["head"], info["tail"] = chain[0], chain[-1]
    yield [LinkThoughts(a, b, "depends_on") for a, b in itertools.pairwise(chain)]


def build_state(builder: Builder, sid: str = "bench-graph") -> tuple[SessionState, dict[str, str]]:
    """Fold a builder's commands through ``decide`` + ``apply``; the state and every node's text."""
    state: SessionState | None = None
    texts: dict[str, str] = {}
    batch = next(builder)
    while True:
        for cmd in batch:
            needed = {n: texts[n] for n in text_needs(state, cmd) if n in texts}
            for event in decide(state, cmd, session_id=sid, now=NOW, limits=LIMITS, texts=needed).events:
                state = apply(state, event)
                if isinstance(event, DeliberationStarted):
                    texts[str(event.root["id"])] = str(event.root["content"])
                elif isinstance(event, GraphUpdated):
                    texts.update((str(n["id"]), str(n["content"])) for n in event.nodes)
        assert state is not None
        try:
            batch = builder.send(state)
        except StopIteration:
            return state, texts


async def build_session(engine: Engine, builder: Builder, sid: str) -> SessionState:
    """Run a builder's commands through ``engine.execute_many`` (1,000 per group commit)."""
    batch = next(builder)
    while True:
        for start in range(0, len(batch), 1000):
            for outcome in await engine.execute_many([(sid, c) for c in batch[start : start + 1000]]):
                if isinstance(outcome, ThinkGateError):
                    raise outcome
        state = await engine.load(sid)
        assert state is not None
        try:
            batch = builder.send(state)
        except StopIteration:
            return state


# ----------------------------------------------------------------------------------------------
# series: one shape, one operation, timed per call
# ----------------------------------------------------------------------------------------------


@dataclass
class Series:
    case: str  # the shape, in words
    block: Block
    ns: list[int] = field(default_factory=list)


@dataclass
class Comparison:
    name: str
    layer: str  # "engine" or "domain"
    small: Series
    large: Series
    expect: str  # the ratio if the cost follows what the operation touches
    n: int  # operations per series


def engine_block(
    engine: Engine, sessions: list[str], op: Callable[[int, str], GraphCommand], restore: Any = None
) -> Block:
    """Time ``op(i, session)`` per call (sessions round-robin); ``restore(i, session, result)`` is untimed."""
    counter = itertools.count()

    async def block(n: int) -> list[int]:
        out: list[int] = []
        for _ in range(n):
            i = next(counter)
            sid = sessions[i % len(sessions)]
            cmd = op(i, sid)
            t0 = time.perf_counter_ns()
            try:
                result: dict[str, Any] | None = await engine.graph_command(sid, cmd)
            except CycleRefused:
                result = None
            out.append(time.perf_counter_ns() - t0)
            if restore is not None:
                await engine.graph_command(sid, restore(i, sid, result))
        return out

    return block


def pure_block(fn: Callable[[], object]) -> Block:
    async def block(n: int) -> list[int]:
        out: list[int] = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            fn()
            out.append(time.perf_counter_ns() - t0)
        return out

    return block


def decide_apply(state: SessionState, cmd: GraphCommand, texts: dict[str, str] | None = None) -> Callable[[], object]:
    needed = {n: texts[n] for n in text_needs(state, cmd)} if texts else None

    def run() -> SessionState:
        after = state
        for event in decide(state, cmd, session_id=state.session_id, now=NOW, limits=LIMITS, texts=needed).events:
            after = apply(after, event)
        return after

    return run


def add_and_restore(anchors: dict[str, str]) -> tuple[Callable[[int, str], GraphCommand], Any]:
    """add_thought under the root, then an untimed prune of the new node (the anchor, older, is kept)."""

    def op(i: int, sid: str) -> GraphCommand:
        return AddThought(thought_text(i))

    def restore(i: int, sid: str, result: dict[str, Any]) -> GraphCommand:
        return PruneThoughts(node_ids=(anchors[sid], result["node"]["id"]), beam_width=1)

    return op, restore


def pairs_of(ids: list[str]) -> Iterator[tuple[str, str]]:
    return ((a, b) for a in ids for b in ids if a != b)


async def engine_comparisons(sz: Sizes, tmp: Path, stack: list[Engine]) -> list[Comparison]:
    async def new_engine(name: str) -> Engine:
        engine = Engine(SqliteEventStore(tmp / f"{name}.db"))
        await engine.start()
        stack.append(engine)
        return engine

    comps: list[Comparison] = []
    # add and link: 30 small sessions round-robin (each grows by a few nodes), one of each large shape
    e1 = await new_engine("add")
    smalls: list[str] = []
    info: dict[str, dict[str, Any]] = {}
    anchors: dict[str, str] = {}
    for k in range(30):
        sid = f"small-{k}"
        info[sid] = {}
        await build_session(e1, grown(sz.small, sz.small - 1, info[sid]), sid)
        smalls.append(sid)
    for sid, frontier in (("narrow", 10), ("wide", None)):
        info[sid] = {}
        await build_session(e1, grown(sz.big, frontier, info[sid]), sid)
    for sid in info:
        anchors[sid] = info[sid]["frontier"][0]
    op, restore = add_and_restore(anchors)
    nf, wf = len(info["narrow"]["frontier"]), len(info["wide"]["frontier"])
    small_case = f"{sz.small} nodes, frontier {sz.small - 1}"
    for name, big, case in (
        ("add_thought under the root", "narrow", f"{sz.big:,} nodes, frontier {nf}"),
        ("add_thought under the root, wide frontier", "wide", f"{sz.big:,} nodes, frontier {wf:,}"),
    ):
        comps.append(
            Comparison(
                name,
                "engine",
                Series(small_case, engine_block(e1, smalls, op, restore)),
                Series(case, engine_block(e1, [big], op, restore)),
                "1×",
                sz.ops,
            )
        )
    pairs = {sid: pairs_of([info[sid]["root"], *info[sid]["body"], *info[sid]["frontier"]]) for sid in info}

    def supports(i: int, sid: str) -> GraphCommand:
        a, b = next(pairs[sid])
        return LinkThoughts(a, b, "supports")

    comps.append(
        Comparison(
            "link_thoughts supports",
            "engine",
            Series(small_case, engine_block(e1, smalls, supports)),
            Series(f"{sz.big:,} nodes", engine_block(e1, ["narrow"], supports)),
            "1×",
            sz.ops,
        )
    )
    sources = {sid: iter([*info[sid]["body"], *info[sid]["frontier"]]) for sid in info}

    def to_root(i: int, sid: str) -> GraphCommand:
        # The check walks from the root, which has no strict edges: it touches one node.
        return LinkThoughts(next(sources[sid]), info[sid]["root"], "depends_on")

    comps.append(
        Comparison(
            "link_thoughts depends_on, check touches 1 node",
            "engine",
            Series(small_case, engine_block(e1, smalls, to_root)),
            Series(f"{sz.big:,} nodes", engine_block(e1, ["narrow"], to_root)),
            "1×",
            min(sz.ops, 30 * (sz.small - 1)),
        )
    )

    # the cycle check along a chain: the same graph size, chains of different lengths
    e2 = await new_engine("chain")
    total = sz.chain + sz.ops + 20
    for sid, length in (("short", sz.short_chain), ("long", sz.chain)):
        info[sid] = {}
        await build_session(e2, chained(total, length, info[sid]), sid)
    spare = {sid: iter(info[sid]["spare"]) for sid in ("short", "long")}

    def onto_head(i: int, sid: str) -> GraphCommand:
        return LinkThoughts(next(spare[sid]), info[sid]["head"], "depends_on")

    def closing(i: int, sid: str) -> GraphCommand:
        return LinkThoughts(info[sid]["tail"], info[sid]["head"], "depends_on")

    short_case = f"{total:,} nodes, check walks a {sz.short_chain}-node chain"
    long_case = f"{total:,} nodes, check walks a {sz.chain:,}-node chain"
    expect = f"≤{sz.chain // sz.short_chain:,}× (the walk)"
    for name, op_ in (
        ("link_thoughts depends_on, check walks the chain", onto_head),
        ("link_thoughts refused: closes a cycle", closing),
    ):
        comps.append(
            Comparison(
                name,
                "engine",
                Series(short_case, engine_block(e2, ["short"], op_)),
                Series(long_case, engine_block(e2, ["long"], op_)),
                expect,
                sz.ops,
            )
        )

    # score and prune: a frontier of F next to many other nodes
    e3 = await new_engine("score")
    f_small, f_big = sz.small_frontier, sz.frontier
    shapes = {"f-small": (sz.big + f_small, f_small), "f-big": (sz.big + f_big, f_big), "f-alone": (f_big + 1, f_big)}
    for sid, (n_nodes, f) in shapes.items():
        info[sid] = {}
        await build_session(e3, grown(n_nodes, f, info[sid]), sid)

    def score(i: int, sid: str) -> GraphCommand:
        return ScoreThoughts()

    def prune(i: int, sid: str) -> GraphCommand:
        return PruneThoughts(beam_width=len(info[sid]["frontier"]) - 1)

    def regrow(i: int, sid: str, result: dict[str, Any]) -> GraphCommand:
        return AddThought(thought_text(i), parent_ids=(info[sid]["parent"],))

    for name, op_, restore_ in (
        ("score_thoughts (the frontier)", score, None),
        ("prune_thoughts (ranks the frontier, prunes 1)", prune, regrow),
    ):
        comps.append(
            Comparison(
                name,
                "engine",
                Series(f"frontier {f_small:,} + {sz.big:,} other nodes", engine_block(e3, ["f-small"], op_, restore_)),
                Series(f"frontier {f_big:,} + {sz.big:,} other nodes", engine_block(e3, ["f-big"], op_, restore_)),
                f"{f_big // f_small}×",
                sz.heavy_ops,
            )
        )
        comps.append(
            Comparison(
                name + ", rest of the graph",
                "engine",
                Series(f"frontier {f_big:,}, {f_big + 1:,} nodes", engine_block(e3, ["f-alone"], op_, restore_)),
                Series(f"frontier {f_big:,} + {sz.big:,} other nodes", engine_block(e3, ["f-big"], op_, restore_)),
                "1×",
                sz.heavy_ops,
            )
        )
    return comps


def domain_comparisons(sz: Sizes) -> tuple[list[Comparison], dict[str, SessionState]]:
    comps: list[Comparison] = []
    info: dict[str, dict[str, Any]] = {k: {} for k in ("small", "narrow", "wide", "f-small", "f-big", "short", "long")}
    small, _ = build_state(grown(sz.small, sz.small - 1, info["small"]))
    narrow, _ = build_state(grown(sz.big, 10, info["narrow"]))
    wide, _ = build_state(grown(sz.big, None, info["wide"]))
    add = AddThought(thought_text(1))
    small_case = f"{sz.small} nodes, frontier {len(small.graph.frontier)}"
    for name, big in (("add_thought", narrow), ("add_thought, wide frontier", wide)):
        comps.append(
            Comparison(
                name + " (decide + apply)",
                "domain",
                Series(small_case, pure_block(decide_apply(small, add))),
                Series(f"{sz.big:,} nodes, frontier {len(big.graph.frontier):,}", pure_block(decide_apply(big, add))),
                "1×",
                sz.pure_ops,
            )
        )
    f_small, texts_small = build_state(grown(sz.big + sz.small_frontier, sz.small_frontier, info["f-small"]))
    f_big, texts_big = build_state(grown(sz.big + sz.frontier, sz.frontier, info["f-big"]))
    ratio = f"{sz.frontier // sz.small_frontier}×"
    for name, cmd in (
        ("score_thoughts (decide + apply, texts given)", ScoreThoughts()),
        ("prune_thoughts to beam 3 (decide + apply)", PruneThoughts(beam_width=3)),
    ):
        comps.append(
            Comparison(
                name,
                "domain",
                Series(
                    f"frontier {sz.small_frontier:,} + {sz.big:,} other nodes",
                    pure_block(decide_apply(f_small, cmd, texts_small)),
                ),
                Series(
                    f"frontier {sz.frontier:,} + {sz.big:,} other nodes",
                    pure_block(decide_apply(f_big, cmd, texts_big)),
                ),
                ratio,
                max(4, sz.pure_ops // 20),
            )
        )
    total = sz.chain + 20
    short, _ = build_state(chained(total, sz.short_chain, info["short"]))
    long, _ = build_state(chained(total, sz.chain, info["long"]))
    comps.append(
        Comparison(
            "graph.reaches (cycle check alone), walks the chain",
            "domain",
            Series(
                f"{sz.short_chain}-node chain",
                pure_block(lambda: reaches(short.graph.strict_out, info["short"]["head"], "absent")),
            ),
            Series(
                f"{sz.chain:,}-node chain",
                pure_block(lambda: reaches(long.graph.strict_out, info["long"]["head"], "absent")),
            ),
            f"{sz.chain // sz.short_chain:,}×",
            max(4, sz.pure_ops // 10),
        )
    )
    # The last two links of each chain: the walk touches two nodes whatever the graph.
    near_short = info["short"]["body"][sz.short_chain - 3]
    near_long = info["long"]["body"][sz.chain - 3]
    comps.append(
        Comparison(
            "graph.reaches, touches 3 nodes",
            "domain",
            Series(
                f"{total:,} nodes, {sz.short_chain - 1} strict edges",
                pure_block(lambda: reaches(short.graph.strict_out, near_short, "absent")),
            ),
            Series(
                f"{total:,} nodes, {sz.chain - 1:,} strict edges",
                pure_block(lambda: reaches(long.graph.strict_out, near_long, "absent")),
            ),
            "1×",
            sz.pure_ops,
        )
    )

    def encode(state: SessionState) -> Callable[[], object]:
        return lambda: orjson.dumps(
            {"format": SNAPSHOT_FORMAT, "hash": "0" * 64, "state": state.to_snapshot(canonical=False)}
        )

    comps.append(
        Comparison(
            "snapshot encode (to_snapshot + orjson), whole state by design",
            "domain",
            Series(small_case, pure_block(encode(small))),
            Series(f"{sz.big:,} nodes", pure_block(encode(narrow))),
            f"{sz.big // sz.small:,}× (the state)",
            max(4, sz.pure_ops // 50),
        )
    )
    return comps, {"narrow": narrow, "long": long}


def memory_rows(sz: Sizes) -> list[dict[str, Any]]:
    """Bytes of session state per node and per strict edge (tracemalloc) against ``approx_size``."""
    rows: list[dict[str, Any]] = []
    measured: dict[str, tuple[int, SessionState]] = {}
    builders: list[tuple[str, Callable[[], Builder]]] = [
        ("nodes", lambda: grown(sz.big, 10, {})),
        ("chain", lambda: chained(sz.big, sz.big - 20, {})),
    ]
    for name, builder in builders:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        state, texts = build_state(builder())
        del texts
        gc.collect()
        measured[name] = (tracemalloc.get_traced_memory()[0] - before, state)
        tracemalloc.stop()
    nbytes, state = measured["nodes"]
    nodes = len(state.graph.nodes)
    rows.append(
        {
            "kind": "memory",
            "name": "session state per node",
            "case": f"{nodes:,} nodes from expand_thoughts and add_thought, frontier {len(state.graph.frontier)}",
            "measured_bytes": round(nbytes / nodes, 1),
            "estimate_bytes": round(state.approx_size() / nodes, 1),
            "measured_total": nbytes,
            "estimate_total": state.approx_size(),
        }
    )
    cbytes, cstate = measured["chain"]
    edges = len(cstate.graph.edges)
    rows.append(
        {
            "kind": "memory",
            "name": "session state per depends_on edge",
            "case": f"the same graph plus a chain of {edges:,} depends_on edges",
            "measured_bytes": round((cbytes - nbytes) / edges, 1),
            "estimate_bytes": round((cstate.approx_size() - state.approx_size()) / edges, 1),
            "measured_total": cbytes,
            "estimate_total": cstate.approx_size(),
        }
    )
    return rows


# ----------------------------------------------------------------------------------------------
# running and reporting
# ----------------------------------------------------------------------------------------------


def stats(ns: list[int]) -> dict[str, Any]:
    us = sorted(v / 1000 for v in ns)
    return {
        "n": len(us),
        "median_us": round(statistics.median(us), 2),
        "p99_us": round(us[min(len(us) - 1, round(0.99 * (len(us) - 1)))], 2),
        "mean_us": round(statistics.fmean(us), 2),
        "max_us": round(us[-1], 2),
    }


async def measure(comps: list[Comparison], rounds: int) -> list[float]:
    """Interleave: every round runs a block of each series, small and large in alternating order."""
    probes: list[float] = []
    for r in range(rounds):
        probes.append(cpu_probe_us())
        for comp in comps:
            per = max(1, comp.n // rounds)
            order = (comp.small, comp.large) if r % 2 == 0 else (comp.large, comp.small)
            for series in order:
                gc.collect()
                gc.disable()
                try:
                    series.ns += await series.block(per)
                finally:
                    gc.enable()
            print(f"  round {r + 1}: {comp.name}", file=sys.stderr)
    return probes


def fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def timing(s: dict[str, Any]) -> str:
    return f"{fmt(s['median_us'])} / {fmt(s['mean_us'])} / {fmt(s['p99_us'])}"


def render(
    rows: list[dict[str, Any]], mem: list[dict[str, Any]], machine: dict[str, Any], probes: list[float], rounds: int
) -> str:
    lines = [
        "# ThinkGate deliberation-graph operations",
        "",
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}; per-call timings, "
        "small and large blocks interleaved over "
        f"{rounds} rounds, GC paused inside blocks; large ÷ small = ratio of medians, and of means (same run).",
        "",
        "| operation | layer | small case | median / mean / p99 µs | large case | median / mean / p99 µs "
        "| large ÷ small, medians | means | if it follows what it touches |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s, g = r["small"], r["large"]
        lines.append(
            f"| {r['name']} | {r['layer']} | {s['case']} | {timing(s)} | {g['case']} | {timing(g)} "
            f"| {r['ratio']:,.2f}× | {r['mean_ratio']:,.2f}× | {r['expect']} |"
        )
    lines += [
        "",
        "| memory | case | measured (tracemalloc), bytes | `SessionState.approx_size()` estimate, bytes |",
        "|---|---|---|---|",
    ]
    for m in mem:
        lines.append(f"| {m['name']} | {m['case']} | {m['measured_bytes']:,.0f} | {m['estimate_bytes']:,.0f} |")
    if probes:
        lines += ["", f"CPU probe before each round: {min(probes):,.0f}–{max(probes):,.0f} µs."]
    return "\n".join(lines) + "\n"


async def run(sz: Sizes) -> tuple[list[dict[str, Any]], list[float]]:
    engines: list[Engine] = []
    with tempfile.TemporaryDirectory(prefix="thinkgate-graph-") as tmp:
        try:
            print("building sessions ...", file=sys.stderr)
            comps = await engine_comparisons(sz, Path(tmp), engines)
            dcomps, _keep = domain_comparisons(sz)
            comps += dcomps
            probes = await measure_cached(comps, sz.rounds, engines)
        finally:
            for engine in engines:
                await engine.stop()
    return comparison_rows(comps, "graph", ("small", "large")), probes


async def measure_cached(comps: list[Comparison], rounds: int, engines: list[Engine]) -> list[float]:
    """``measure`` the comparisons, then check that every session stayed in its engine's hot cache."""
    gc.collect()
    probes = await measure(comps, rounds)
    for engine in engines:  # every session stayed in the hot cache: no reload was timed
        if len(engine.cache) != await engine.store.count_sessions():
            raise SystemExit("a session was evicted from the engine's cache during the run")
    return probes


def comparison_rows(comps: list[Comparison], kind: str, labels: tuple[str, str]) -> list[dict[str, Any]]:
    """One JSON row per comparison: both sides' statistics (under ``labels``) and their ratios."""
    rows = []
    for c in comps:
        small, large = stats(c.small.ns), stats(c.large.ns)
        rows.append(
            {
                "kind": kind,
                "name": c.name,
                "layer": c.layer,
                labels[0]: {"case": c.small.case, **small},
                labels[1]: {"case": c.large.case, **large},
                "ratio": round(large["median_us"] / small["median_us"], 3),
                "mean_ratio": round(large["mean_us"] / small["mean_us"], 3),
                "expect": c.expect,
            }
        )
    return rows


def write_results(
    out_path: Path, md: Path, machine: dict[str, Any], rows: list[dict[str, Any]], probes: list[float], report: str
) -> None:
    """Write the raw rows as JSON lines and the rendered report (also printed)."""
    with open(out_path, "wb") as out:
        out.write(orjson.dumps({"kind": "machine", **machine, "argv": sys.argv}) + b"\n")
        for row in rows:
            out.write(orjson.dumps(row) + b"\n")
        out.write(orjson.dumps({"kind": "probe", "cpu_probe_us": probes}) + b"\n")
    print(report, end="", flush=True)
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(report, encoding="utf-8")
    print(f"raw results: {out_path}; report: {md}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.graph", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small graphs and few calls (smoke test, a few seconds)")
    p.add_argument("--out", type=Path, help="JSON lines file (default .cache/bench/graph-<timestamp>.jsonl)")
    p.add_argument("--md", type=Path, default=REPO / ".cache" / "bench" / "graph-latest.md")
    a = p.parse_args(argv)
    sz = QUICK if a.quick else FULL
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path: Path = a.out or REPO / ".cache" / "bench" / f"graph-{stamp}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info(None)
    rows, probes = asyncio.run(run(sz))
    mem = memory_rows(sz)
    report = render(rows, mem, machine, probes, sz.rounds)
    write_results(out_path, a.md, {**machine, "sizes": sz.__dict__}, [*rows, *mem], probes, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
