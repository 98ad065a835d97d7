"""In-process micro-benchmarks of ThinkGate's core, each next to a reference measured in the same run.

    .venv/bin/python -m bench.micro [--quick] [--only NAME,...] [--out FILE.jsonl]

Every benchmark is one function decorated with ``@micro``: it builds its inputs and returns a
``Case`` holding the ThinkGate operation and a reference operation (the least work the same
job needs in plain Python: a hash of the same bytes, an orjson decode of the same line, a
bare SQLite insert). Both are timed with ``timeit`` (calibrated loop count, best of N
repeats) and reported in µs per operation, with their ratio. To add a benchmark (graph
operations, verification, ...), add one such function.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import hashlib
import re
import sqlite3
import sys
import tempfile
import timeit
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.client import cpu_probe_us, machine_info, thought_text
from thinkgate.domain.chain import GENESIS_HASH, canonical, event_hash, verify_chain
from thinkgate.domain.events import ThoughtRecorded
from thinkgate.domain.safety import scan_text
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.thinking import Limits, RecordThought, decide
from thinkgate.engine.engine import Engine
from thinkgate.store.base import StoredEvent
from thinkgate.store.sqlite import SqliteEventStore

REPO = Path(__file__).resolve().parents[1]
SESSION = "bench-micro"
NOW = "2026-01-01T00:00:00.000Z"

Timer = Callable[[int], float]  # run the operation n times, return the seconds it took


@dataclass
class Case:
    """One benchmark: the ThinkGate operation, a reference operation, and how to clean up."""

    op: Timer
    reference: str  # what the reference does, in words
    ref: Timer
    unit: str = "op"  # what one operation is


def timer(fn: Callable[[], object]) -> Timer:
    """A ``Timer`` for a no-argument callable (``timeit`` with the callable itself)."""
    t = timeit.Timer(fn)
    return t.timeit


REGISTRY: dict[str, Callable[[ExitStack, Path], Case]] = {}


def micro(name: str) -> Callable[[Callable[[ExitStack, Path], Case]], Callable[[ExitStack, Path], Case]]:
    """Register a benchmark: ``fn(stack, tmp_dir) -> Case``; resources go on ``stack``."""

    def register(fn: Callable[[ExitStack, Path], Case]) -> Callable[[ExitStack, Path], Case]:
        REGISTRY[name] = fn
        return fn

    return register


# ----------------------------------------------------------------------------------------------
# shared inputs
# ----------------------------------------------------------------------------------------------


def command(i: int, total: int = 1_000_000) -> RecordThought:
    return RecordThought(thought=thought_text(i), thought_number=i, total_thoughts=total, next_thought_needed=True)


def session_after(n: int) -> tuple[SessionState, list[ThoughtRecorded]]:
    """The state of a session holding ``n`` thoughts (built with decide + apply), and their events."""
    state: SessionState | None = None
    recorded: list[ThoughtRecorded] = []
    for i in range(1, n + 1):
        for event in decide(state, command(i), session_id=SESSION, now=NOW, limits=Limits()).events:
            state = apply(state, event)
            if isinstance(event, ThoughtRecorded):
                recorded.append(event)
    assert state is not None
    return state, recorded


def request_line(i: int) -> bytes:
    """The JSON-RPC line the suite sends for thought ``i``."""
    args = {"thought": thought_text(i), "nextThoughtNeeded": True, "thoughtNumber": i, "totalThoughts": 10_000}
    msg = {
        "jsonrpc": "2.0",
        "id": i,
        "method": "tools/call",
        "params": {"name": "sequentialthinking", "arguments": args},
    }
    return orjson.dumps(msg) + b"\n"


def floor_call(line: bytes) -> bytes:
    """What the floor server does per call, minus the pipe I/O: decode, build the result, encode."""
    msg = orjson.loads(line)
    a = msg["params"]["arguments"]
    data = {
        "thoughtNumber": a["thoughtNumber"],
        "totalThoughts": max(a["totalThoughts"], a["thoughtNumber"]),
        "nextThoughtNeeded": a["nextThoughtNeeded"],
        "branches": [],
        "thoughtHistoryLength": 11,
    }
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    result = {"content": [{"type": "text", "text": text}], "structuredContent": data}
    return orjson.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + b"\n"


def chained_rows(n: int) -> list[StoredEvent]:
    _, recorded = session_after(n)
    rows: list[StoredEvent] = []
    prev = GENESIS_HASH
    for version, event in enumerate(recorded, start=1):
        payload = canonical(event.to_payload())
        digest = event_hash(prev, SESSION, version, event.TYPE, NOW, payload)
        rows.append(StoredEvent(SESSION, version, event.TYPE, NOW, payload, prev, digest))
        prev = digest
    return rows


# ----------------------------------------------------------------------------------------------
# the benchmarks
# ----------------------------------------------------------------------------------------------


@micro("decide (RecordThought, 11th thought)")
def bench_decide(stack: ExitStack, tmp: Path) -> Case:
    state, _ = session_after(10)
    cmd, limits, line = command(11), Limits(), request_line(11)
    return Case(
        op=timer(lambda: decide(state, cmd, session_id=SESSION, now=NOW, limits=limits)),
        reference="the floor's whole call: orjson.loads of the same JSON-RPC line, result, orjson.dumps",
        ref=timer(lambda: floor_call(line)),
    )


@micro("apply (ThoughtRecorded)")
def bench_apply(stack: ExitStack, tmp: Path) -> Case:
    state, _ = session_after(10)
    event = decide(state, command(11), session_id=SESSION, now=NOW, limits=Limits()).events[-1]
    fields = state.to_snapshot()

    def new_dict() -> dict[str, Any]:
        return {
            **fields,
            "version": fields["version"] + 1,
            "seq": fields["seq"] + 1,
            "history_length": fields["history_length"] + 1,
            "last_thought_id": "t11",
            "linear_run": fields["linear_run"] + 1,
        }

    return Case(
        op=timer(lambda: apply(state, event)),
        reference="a new plain dict of the same state fields with the same five changed",
        ref=timer(new_dict),
    )


@micro("event_hash (one thought event)")
def bench_event_hash(stack: ExitStack, tmp: Path) -> Case:
    row = chained_rows(1)[0]
    payload = row.payload
    return Case(
        op=timer(lambda: event_hash(GENESIS_HASH, SESSION, 1, row.type, NOW, payload)),
        reference="hashlib.sha256(payload).hexdigest() of the same payload bytes",
        ref=timer(lambda: hashlib.sha256(payload).hexdigest()),
    )


@micro("verify_chain (1,000 events)")
def bench_verify_chain(stack: ExitStack, tmp: Path) -> Case:
    rows = chained_rows(1000)

    def raw_chain() -> str:
        prev = GENESIS_HASH
        for r in rows:
            prev = hashlib.sha256(prev.encode() + r.payload).hexdigest()
        return prev

    assert verify_chain(SESSION, rows) is None
    return Case(
        op=timer(lambda: verify_chain(SESSION, rows)),
        reference="a bare sha256 chain over the same 1,000 payloads",
        ref=timer(raw_chain),
        unit="1,000 events",
    )


_ONE_PATTERN = re.compile(r"\b(?:sk|ghp|xox[bp])[-_][A-Za-z0-9]{16,}")


@micro("scan_text (200-char benign thought)")
def bench_scan_text(stack: ExitStack, tmp: Path) -> Case:
    text = thought_text(42)
    assert scan_text(text).clean
    return Case(
        op=timer(lambda: scan_text(text)),
        reference="one compiled regex (an API-key pattern) searched over the same text",
        ref=timer(lambda: _ONE_PATTERN.search(text)),
    )


@micro("engine record_thought (SQLite file)")
def bench_engine_append(stack: ExitStack, tmp: Path) -> Case:
    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    engine = Engine(SqliteEventStore(tmp / "engine.db"))
    loop.run_until_complete(engine.start())
    stack.callback(lambda: loop.run_until_complete(engine.stop()))
    counter = iter(range(1, 1 << 40))

    async def appends(n: int) -> float:
        t0 = timeit.default_timer()
        for _ in range(n):
            i = next(counter)
            await engine.record_thought(SESSION, command(i))
        return timeit.default_timer() - t0

    db = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    stack.callback(db.close)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE events (session_id TEXT, version INTEGER, payload BLOB, PRIMARY KEY (session_id, version))"
    )
    payload = chained_rows(1)[0].payload
    versions = iter(range(1, 1 << 40))

    def raw_insert() -> None:
        db.execute("INSERT INTO events VALUES (?, ?, ?)", (SESSION, next(versions), payload))

    return Case(
        op=lambda n: loop.run_until_complete(appends(n)),
        reference="sqlite3: one-row INSERT of the same payload, autocommit, WAL, synchronous=NORMAL",
        ref=timer(raw_insert),
    )


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------


def best_us(t: Timer, repeat: int, min_time: float) -> tuple[float, int]:
    """Calibrate a loop count that takes ``min_time``, then best of ``repeat`` runs: (µs per op, loops)."""
    n = 1
    while (took := t(n)) < min_time / 10 and n < 1 << 24:
        n *= 10
    n = max(1, round(n * min_time / max(took, 1e-9)))
    best = min(t(n) for _ in range(repeat))
    return best / n * 1e6, n


def run(names: list[str], repeat: int, min_time: float) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="thinkgate-micro-") as tmp_name:
        for k, name in enumerate(names):
            tmp = Path(tmp_name) / str(k)
            tmp.mkdir()
            with ExitStack() as stack:
                case = REGISTRY[name](stack, tmp)
                probe = cpu_probe_us()
                gc.collect()
                op_us, op_n = best_us(case.op, repeat, min_time)
                ref_us, ref_n = best_us(case.ref, repeat, min_time)
            yield {
                "kind": "micro",
                "name": name,
                "unit": case.unit,
                "us_per_op": round(op_us, 3),
                "loops": op_n,
                "reference": case.reference,
                "ref_us_per_op": round(ref_us, 3),
                "ref_loops": ref_n,
                "ratio": round(op_us / ref_us, 3) if ref_us else None,
                "repeat": repeat,
                "cpu_probe_us": probe,
            }


def fmt_us(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}" if v < 10 else f"{v:,.1f}"


def render(rows: list[dict[str, Any]], machine: dict[str, Any], repeat: int) -> str:
    lines = [
        "# ThinkGate micro-benchmarks",
        "",
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}; "
        f"timeit, best of {repeat}; ratio = ThinkGate ÷ reference (same run).",
        "",
        "| benchmark | ThinkGate µs/op | reference | reference µs/op | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        per = "" if r["unit"] == "op" else f" (op = {r['unit']})"
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:,.1f}×"
        lines.append(
            f"| {r['name']}{per} | {fmt_us(r['us_per_op'])} | {r['reference']} "
            f"| {fmt_us(r['ref_us_per_op'])} | {ratio} |"
        )
    probes = [r["cpu_probe_us"] for r in rows]
    if probes:
        lines += ["", f"CPU probe before each benchmark: {min(probes):,.0f}–{max(probes):,.0f} µs."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    p.add_argument("--repeat", type=int, help="best of this many timed runs (default 7; --quick 3)")
    p.add_argument("--only", help=f"comma-separated benchmark names or name prefixes: {list(REGISTRY)}")
    p.add_argument("--out", type=Path, help="JSON lines file (default .cache/bench/micro-<timestamp>.jsonl)")
    p.add_argument("--md", type=Path, default=REPO / ".cache" / "bench" / "micro-latest.md")
    a = p.parse_args(argv)
    repeat = a.repeat or (3 if a.quick else 7)
    min_time = 0.01 if a.quick else 0.2
    names = list(REGISTRY)
    if a.only:
        wanted = [w.strip() for w in a.only.split(",") if w.strip()]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
        if not names:
            raise SystemExit(f"error: --only matches no benchmark; there are {list(REGISTRY)}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path: Path = a.out or REPO / ".cache" / "bench" / f"micro-{stamp}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info(None)
    rows: list[dict[str, Any]] = []
    with open(out_path, "wb") as out:
        out.write(orjson.dumps({"kind": "machine", **machine, "argv": sys.argv, "repeat": repeat}) + b"\n")
        for row in run(names, repeat, min_time):
            rows.append(row)
            out.write(orjson.dumps(row) + b"\n")
            print(f"  {row['name']}: {row['us_per_op']:,.2f} µs/op (ref {row['ref_us_per_op']:,.2f})", file=sys.stderr)
    report = render(rows, machine, repeat)
    print(report, end="", flush=True)
    a.md.parent.mkdir(parents=True, exist_ok=True)
    a.md.write_text(report, encoding="utf-8")
    print(f"raw results: {out_path}; report: {a.md}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
