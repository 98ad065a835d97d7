"""Verification and governance in-process: does each cost follow what it touches, and what does a check cost?

    .venv/bin/python -m bench.governance [--quick] [--out FILE.jsonl] [--md FILE.md]

Every row times one operation against a reference measured in the same run, blocks
interleaved over rounds (this 2-core host is shared and drifts), and reports the ratio of
the medians (and of the means). Two kinds of rows:

- *size* rows: the same operation on a session with few claims and on one with many (each
  claim with 3 evidence items, plus the same assumptions); the last column is the ratio to
  expect if the cost follows the claims it reads (the route decision reads every claim by
  design) or nothing of the ledger (1×: adding a thought).
- *check* rows: ``verify_thoughts`` end to end (``engine.governance.verify_claims``: the
  evidence check, then decide, hash and commit on a real SQLite file) with one claim and one
  calc, file or allow-listed command item, against ``add_thought`` through the same engine.

Domain rows call ``route_decision`` alone on a fixed state; engine rows go through
``Engine`` on a SQLite file in a temporary directory (commit included). GC is paused inside
timed blocks and run between them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.client import machine_info, thought_text
from bench.graph import (
    Block,
    Comparison,
    Series,
    comparison_rows,
    measure_cached,
    pure_block,
    timing,
    write_results,
)
from thinkgate.domain.deliberation import AddThought, StartDeliberation
from thinkgate.domain.governance import ClaimIn, GovernanceCommand, RecordAssumption, RunCheckpoint, VerifyClaims
from thinkgate.domain.ledger import KEPT
from thinkgate.domain.route import route_decision
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.thinking import Limits, decide
from thinkgate.domain.verification import CRITICALITIES, Policy
from thinkgate.engine.engine import SNAPSHOT_FORMAT, Engine, EngineConfig
from thinkgate.engine.governance import refresh_calibration, verify_claims
from thinkgate.evidence import CheckContext, check_evidence
from thinkgate.store.sqlite import SqliteEventStore

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-01-01T00:00:00.000Z"
LIMITS = Limits()
PER_CALL = 100  # claims per verify_thoughts call while building (the tool's limit)
ASSUMPTION_STATUSES = ("open", "verified", "accepted_risk", "invalidated")
FILE_LINES = 200


@dataclass(frozen=True)
class Sizes:
    claims: tuple[int, int, int]  # small, middle, large session
    assumptions: int
    rounds: int
    route_ops: int  # route_decision calls per series
    engine_ops: int  # add_thought and verify_thoughts calls per series
    checkpoint_ops: int  # run_reasoning_checkpoint calls per series
    verify_sessions: int  # sessions the verify_thoughts calls go round-robin over
    decisions: int  # checkpoints recorded before the snapshot and memory rows (the ledger keeps 256)
    snapshot_ops: int


FULL = Sizes(
    (10, 100, 1_000),
    100,
    rounds=4,
    route_ops=200,
    engine_ops=400,
    checkpoint_ops=40,
    verify_sessions=40,
    decisions=KEPT,
    snapshot_ops=8,
)
QUICK = Sizes(
    (10, 30, 100),
    10,
    rounds=2,
    route_ops=8,
    engine_ops=12,
    checkpoint_ops=4,
    verify_sessions=4,
    decisions=8,
    snapshot_ops=2,
)


# ----------------------------------------------------------------------------------------------
# building ledgers
# ----------------------------------------------------------------------------------------------


def claim_evidence(i: int) -> tuple[dict[str, Any], ...]:
    """Three items for claim ``i``: a calc (passes for every third claim, else fails), two declared sources.

    The mix gives verified, data_deficit and (for critical claims) blocking claims, and a few
    independence groups, as a real session would.
    """
    expected = i + 1 if i % 3 == 0 else i + 2
    return (
        {"kind": "calc", "stance": "supports", "expression": f"{i} + 1", "expected": expected},
        {"kind": "url", "stance": "supports", "url": f"https://docs{i % 7}.example{i % 5}.org/page/{i}", "tier": 2},
        {
            "kind": "text",
            "stance": "refutes" if i % 11 == 0 else "supports",
            "text": thought_text(i),
            "source": "notes",
        },
    )


async def verify_batches(first: int, count: int) -> list[VerifyClaims]:
    """``count`` new claims (numbered from ``first``) with real check results, ``PER_CALL`` per command."""
    ctx = CheckContext(roots=(), commands=frozenset())
    out: list[VerifyClaims] = []
    for start in range(first, first + count, PER_CALL):
        claims, checks = [], []
        for i in range(start, min(first + count, start + PER_CALL)):
            items = claim_evidence(i)
            claims.append(ClaimIn(f"claim {i}: " + thought_text(i)[:80], CRITICALITIES[i % 4], evidence=items))
            checks.append(tuple([(await check_evidence(item, ctx))._asdict() for item in items]))
        out.append(VerifyClaims(claims=tuple(claims), checks=tuple(checks)))
    return out


def assumption_commands(n: int) -> list[RecordAssumption]:
    # Low and medium only: open ones are issues, not blocking gaps, so the route still runs every factor.
    return [
        RecordAssumption(
            f"assumption {i}: " + thought_text(i)[:60],
            criticality=("medium", "low")[i % 2],
            status=ASSUMPTION_STATUSES[i % 4],
        )
        for i in range(n)
    ]


async def ledger_commands(claims: int, assumptions: int) -> list[GovernanceCommand]:
    return [*assumption_commands(assumptions), *await verify_batches(0, claims)]


def domain_session(commands: list[GovernanceCommand], sid: str) -> SessionState:
    """A deliberation with ``commands`` applied through ``decide`` + ``apply`` (no store)."""
    state: SessionState | None = None
    for cmd in [StartDeliberation(goal=thought_text(0)), *commands]:
        for event in decide(state, cmd, session_id=sid, now=NOW, limits=LIMITS, texts={}).events:
            state = apply(state, event)
    assert state is not None
    return state


async def engine_session(engine: Engine, commands: list[GovernanceCommand], sid: str) -> str:
    await engine.graph_command(sid, StartDeliberation(goal=thought_text(0)))
    for cmd in commands:
        await engine.governance_command(sid, cmd)
    return sid


# ----------------------------------------------------------------------------------------------
# series
# ----------------------------------------------------------------------------------------------


def call_block(op: Callable[[int], Awaitable[object]]) -> Block:
    """Time ``await op(i)`` per call, ``i`` counting up across blocks."""
    counter = itertools.count()

    async def block(n: int) -> list[int]:
        out: list[int] = []
        for _ in range(n):
            i = next(counter)
            t0 = time.perf_counter_ns()
            await op(i)
            out.append(time.perf_counter_ns() - t0)
        return out

    return block


def add_thought(engine: Engine, sessions: list[str]) -> Callable[[int], Awaitable[object]]:
    async def op(i: int) -> object:
        return await engine.graph_command(sessions[i % len(sessions)], AddThought(thought_text(i)))

    return op


def route_of(state: SessionState) -> Callable[[], object]:
    return lambda: route_decision(state, policy=Policy(), profile="balanced")


def checkpointed(state: SessionState, n: int) -> SessionState:
    """``state`` after ``n`` run_reasoning_checkpoint calls (each records a decision and a checkpoint)."""
    for _ in range(n):
        for event in decide(state, RunCheckpoint(), session_id=state.session_id, now=NOW, limits=LIMITS).events:
            state = apply(state, event)
    return state


def snapshot_of(state: SessionState) -> Callable[[], object]:
    return lambda: orjson.dumps(
        {"format": SNAPSHOT_FORMAT, "hash": "0" * 64, "state": state.to_snapshot(canonical=False)}
    )


async def size_comparisons(sz: Sizes, new_engine: Callable[[str], Awaitable[Engine]]) -> list[Comparison]:
    small, middle, large = sz.claims
    a = sz.assumptions
    cmds = {n: await ledger_commands(n, a) for n in sz.claims}
    states = {n: domain_session(cmds[n], f"route-{n}") for n in sz.claims}
    case = {n: f"{n:,} claims × 3 items, {a} assumptions" for n in sz.claims}
    comps = [
        Comparison(
            "route_decision",
            "domain",
            Series(case[lo], pure_block(route_of(states[lo]))),
            Series(case[hi], pure_block(route_of(states[hi]))),
            f"≤{hi // lo:,}× (the claims)",
            sz.route_ops,
        )
        for lo, hi in ((small, middle), (middle, large), (small, large))
    ]
    after = {n: checkpointed(states[n], sz.decisions) for n in (small, large)}
    comps.append(
        Comparison(
            f"snapshot encode after {sz.decisions} checkpoints (to_snapshot + orjson)",
            "domain",
            Series(case[small], pure_block(snapshot_of(after[small]))),
            Series(case[large], pure_block(snapshot_of(after[large]))),
            f"{large // small:,}× (the claims)",
            sz.snapshot_ops,
        )
    )
    # Through the engine: a checkpoint (a recorded route decision) and a plain add_thought.
    ecp = await new_engine("checkpoint")
    cp = {n: await engine_session(ecp, cmds[n], f"checkpoint-{n}") for n in (small, large)}

    def checkpoint(sid: str) -> Callable[[int], Awaitable[object]]:
        return lambda i: ecp.governance_command(sid, RunCheckpoint())

    comps.append(
        Comparison(
            "run_reasoning_checkpoint",
            "engine",
            Series(case[small], call_block(checkpoint(cp[small]))),
            Series(case[large], call_block(checkpoint(cp[large]))),
            f"≤{large // small:,}× (the claims)",
            sz.checkpoint_ops,
        )
    )
    eadd = await new_engine("add")
    add = {n: await engine_session(eadd, cmds[n], f"add-{n}") for n in (small, large)}
    comps.append(
        Comparison(
            "add_thought in a session with a ledger",
            "engine",
            Series(case[small], call_block(add_thought(eadd, [add[small]]))),
            Series(case[large], call_block(add_thought(eadd, [add[large]]))),
            "1× (touches no claim)",
            sz.engine_ops,
        )
    )
    return comps


def file_text() -> str:
    return "".join(f"{i:4d}  " + thought_text(i)[:70] + "\n" for i in range(1, FILE_LINES + 1))


async def check_comparisons(sz: Sizes, root: Path, new_engine: Callable[[str], Awaitable[Engine]]) -> list[Comparison]:
    line = FILE_LINES // 2
    quote = file_text().splitlines()[line - 1]
    items: dict[str, dict[str, Any]] = {
        "calc": {"kind": "calc", "stance": "supports", "expression": "(17 * 23) + 1", "expected": 392},
        "file": {"kind": "file", "stance": "supports", "path": "src.py", "lines": str(line), "quote": quote},
        "command": {"kind": "command", "stance": "supports", "argv": ["true"]},
    }
    engine = await new_engine("verify")
    await refresh_calibration(engine)  # once a minute after this (no outcomes here: one empty read)
    ref_sessions = [await engine_session(engine, [], f"ref-{k}") for k in range(sz.verify_sessions)]
    reference = Series(
        f"add_thought, same engine, {sz.verify_sessions} sessions round-robin",
        call_block(add_thought(engine, ref_sessions)),
    )
    per_session = -(-sz.engine_ops // sz.verify_sessions)
    comps: list[Comparison] = []
    for kind, item in items.items():
        sessions = [await engine_session(engine, [], f"{kind}-{k}") for k in range(sz.verify_sessions)]

        def verify(
            sessions: list[str] = sessions, item: Mapping[str, Any] = item
        ) -> Callable[[int], Awaitable[object]]:
            async def op(i: int) -> object:
                result = await verify_claims(
                    engine, sessions[i % len(sessions)], [ClaimIn(f"claim {i}", "high", evidence=(item,))]
                )
                (claim,) = result["claims"]
                if claim["evidence"][0]["check"] != "passed":  # a benchmark of a failing check measures nothing
                    raise SystemExit(f"the {item['kind']} check did not pass: {claim['evidence'][0]['reason']}")
                return result

            return op

        comps.append(
            Comparison(
                f"verify_thoughts, one claim, one {kind} item"
                + (f" ({FILE_LINES}-line file)" if kind == "file" else "")
                + (" (`true`, allow-listed)" if kind == "command" else ""),
                "engine",
                reference,
                Series(
                    f"{sz.verify_sessions} sessions round-robin, each ends with ≤ {per_session} claims",
                    call_block(verify()),
                ),
                "— (the check's own cost)",
                sz.engine_ops,
            )
        )
    return comps


async def memory_rows(sz: Sizes) -> list[dict[str, Any]]:
    """Per session: bytes a ledger holds (tracemalloc) against ``approx_size``, and a checkpoint event's size."""
    rows: list[dict[str, Any]] = []
    for n in (sz.claims[0], sz.claims[2]):
        cmds = await ledger_commands(n, sz.assumptions)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        state = domain_session(cmds, f"memory-{n}")
        gc.collect()
        ledger_bytes = tracemalloc.get_traced_memory()[0] - before
        estimate = state.approx_size()
        (event,) = decide(state, RunCheckpoint(), session_id=state.session_id, now=NOW, limits=LIMITS).events
        payload = len(orjson.dumps(event.to_payload()))
        state = checkpointed(state, sz.decisions)
        gc.collect()
        total = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        rows.append(
            {
                "kind": "memory",
                "claims": n,
                "assumptions": sz.assumptions,
                "decisions": sz.decisions,
                "ledger_bytes": ledger_bytes,
                "ledger_estimate": estimate,
                "with_decisions_bytes": total,
                "with_decisions_estimate": state.approx_size(),
                "checkpoint_event_bytes": payload,
            }
        )
    return rows


# ----------------------------------------------------------------------------------------------
# running and reporting
# ----------------------------------------------------------------------------------------------


async def run(sz: Sizes, tmp: Path) -> tuple[list[dict[str, Any]], list[float]]:
    """Build, measure and summarise every comparison; stores and the evidence root live under ``tmp``."""
    engines: list[Engine] = []
    root = tmp / "root"

    async def new_engine(name: str) -> Engine:
        config = EngineConfig(evidence_commands=frozenset({"true"}), evidence_roots=(str(root),))
        engine = Engine(SqliteEventStore(tmp / f"{name}.db"), config)
        await engine.start()
        engines.append(engine)
        return engine

    try:
        print("building sessions ...", file=sys.stderr)
        comps = await size_comparisons(sz, new_engine)
        comps += await check_comparisons(sz, root, new_engine)
        probes = await measure_cached(comps, sz.rounds, engines)
    finally:
        for engine in engines:
            await engine.stop()
    return comparison_rows(comps, "governance", ("reference", "case")), probes


def render(
    rows: list[dict[str, Any]], mem: list[dict[str, Any]], machine: dict[str, Any], probes: list[float], rounds: int
) -> str:
    lines = [
        "# ThinkGate verification and governance",
        "",
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}; per-call timings, "
        f"reference and case blocks interleaved over {rounds} rounds, GC paused inside blocks; "
        "ratio = case ÷ reference, of medians and of means (same run).",
        "",
        "| operation | layer | reference | median / mean / p99 µs | case | median / mean / p99 µs "
        "| case ÷ reference, medians | means | if it follows what it touches |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref, case = r["reference"], r["case"]
        lines.append(
            f"| {r['name']} | {r['layer']} | {ref['case']} | {timing(ref)} | {case['case']} | {timing(case)} "
            f"| {r['ratio']:,.2f}× | {r['mean_ratio']:,.2f}× | {r['expect']} |"
        )
    lines += [
        "",
        "| memory, one session | ledger, measured (tracemalloc) | `approx_size()` | "
        "after N checkpoints, measured | `approx_size()` | one checkpoint event, bytes |",
        "|---|---|---|---|---|---|",
    ]
    for m in mem:
        lines.append(
            f"| {m['claims']:,} claims × 3 items, {m['assumptions']} assumptions; N = {m['decisions']} "
            f"| {mib(m['ledger_bytes'])} | {mib(m['ledger_estimate'])} | {mib(m['with_decisions_bytes'])} "
            f"| {mib(m['with_decisions_estimate'])} | {m['checkpoint_event_bytes']:,} |"
        )
    if probes:
        lines += ["", f"CPU probe before each round: {min(probes):,.0f}–{max(probes):,.0f} µs."]
    return "\n".join(lines) + "\n"


def mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.governance", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small ledgers and few calls (smoke test, a few seconds)")
    p.add_argument("--out", type=Path, help="JSON lines file (default .cache/bench/governance-<timestamp>.jsonl)")
    p.add_argument("--md", type=Path, default=REPO / ".cache" / "bench" / "governance-latest.md")
    a = p.parse_args(argv)
    sz = QUICK if a.quick else FULL
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path: Path = a.out or REPO / ".cache" / "bench" / f"governance-{stamp}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info(None)
    with tempfile.TemporaryDirectory(prefix="thinkgate-governance-") as tmp_name:
        tmp = Path(tmp_name).resolve()
        (tmp / "root").mkdir()
        (tmp / "root" / "src.py").write_text(file_text(), encoding="utf-8")
        rows, probes = asyncio.run(run(sz, tmp))
    mem = asyncio.run(memory_rows(sz))
    report = render(rows, mem, machine, probes, sz.rounds)
    write_results(out_path, a.md, {**machine, "sizes": sz.__dict__}, [*rows, *mem], probes, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
