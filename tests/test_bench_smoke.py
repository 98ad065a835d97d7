"""Smoke run of the benchmark suite (``make bench``): tiny numbers, the report's shape, and failure on errors."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nodeenv

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("thinkgate", "node", "floor")

# A server that answers like the floor but fails every 7th call after the warm-up: the suite must say so.
FLAKY_SERVER = r"""
import sys, orjson
for line in sys.stdin.buffer:
    msg = orjson.loads(line)
    if "id" not in msg:
        continue
    method, rid = msg["method"], msg["id"]
    if method == "initialize":
        info = {"name": "flaky", "version": "0"}
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": info}
    elif method == "tools/list":
        result = {"tools": [{"name": "sequentialthinking", "inputSchema": {"type": "object"}}]}
    else:
        n = msg["params"]["arguments"]["thoughtNumber"]
        result = {"content": [{"type": "text", "text": "ok"}], "isError": n > 25 and n % 7 == 0}
    sys.stdout.buffer.write(orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + b"\n")
    sys.stdout.buffer.flush()
"""


def run_module(args: list[str], timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]  # every line must parse


@pytest.mark.node
def test_quick_suite_reports_every_workload_without_errors(tmp_path: Path) -> None:
    node = nodeenv.official_server_command()  # raises in CI when missing
    if node is None:
        pytest.skip(nodeenv.MISSING_HINT)
    out, md = tmp_path / "results.jsonl", tmp_path / "latest.md"
    proc = run_module(
        [
            "bench.suite",
            "--quick",
            "--only",
            ",".join(SERVERS),
            "--server",
            f"node=DISABLE_THOUGHT_LOGGING=true {shlex.join(node)}",
            "--out",
            str(out),
            "--md",
            str(md),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = proc.stdout
    assert md.read_text(encoding="utf-8") == report
    header = next(line for line in report.splitlines() if line.startswith("| workload"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "workload",
        *SERVERS,
        "TG ÷ node",
        "TG ÷ floor",
    ]
    for row in (
        "cold start, ms",
        "idle RSS, MiB",
        "sequential p50, µs",
        "sequential p99, µs",
        "C=8 throughput, calls/s",
        "C=64 throughput, calls/s",
        "many sessions: RSS after, MiB",
        "many sessions: growth over idle, MiB",
        "| --durability full",
        "CPU probe before each phase",
        "machine: ",
    ):
        assert row in report, row
    assert "| failed calls (all phases) | 0 | 0 | 0 |" in report
    targets = report.split("## Targets", 1)[1].split("## Drift", 1)[0]
    rows = [line for line in targets.splitlines() if line.startswith("| ") and not line.startswith("| target ")]
    statuses = [line.rsplit("|", 2)[1].strip() for line in rows]
    assert len(statuses) == 8 and set(statuses) <= {"met", "NOT met"}, targets

    records = read_jsonl(out)
    kinds = {r["kind"] for r in records}
    assert kinds == {"machine", "cold", "phase", "memory", "summary"}
    phases = [r for r in records if r["kind"] == "phase"]
    assert {(r["server"], r["workload"]) for r in phases} == {
        *((s, w) for s in SERVERS for w in ("seq", "c8", "c64")),
        ("thinkgate-full", "c64"),
    }
    assert all(r["calls"] == 200 and r["errors"] == 0 and r["calls_per_s"] > 0 for r in phases)
    memory = {r["server"]: r for r in records if r["kind"] == "memory"}
    assert set(memory) == set(SERVERS) and all(r["errors"] == 0 for r in memory.values())
    assert memory["thinkgate"]["session_arg"] is True
    assert len([r for r in records if r["kind"] == "cold"]) == 2 * len(SERVERS)
    summary = records[-1]
    assert summary["kind"] == "summary" and summary["errors"] == 0 and len(summary["targets"]) == 8


def test_failed_calls_fail_the_run(tmp_path: Path) -> None:
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY_SERVER, encoding="utf-8")
    out = tmp_path / "results.jsonl"
    proc = run_module(
        [
            "bench.suite",
            "--quick",
            "--only",
            "flaky,seq,c8",
            "--server",
            f"flaky={{python}} {shlex.quote(str(script))}",
            "--out",
            str(out),
            "--md",
            str(tmp_path / "latest.md"),
        ]
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "FAILED" in proc.stderr and "SOME CALLS FAILED" in proc.stdout
    records = read_jsonl(out)
    phases = [r for r in records if r["kind"] == "phase"]
    assert {r["workload"] for r in phases} == {"seq", "c8"} and all(r["errors"] > 0 for r in phases)
    assert records[-1]["kind"] == "summary" and records[-1]["errors"] == sum(r["errors"] for r in phases)


def test_a_server_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    proc = run_module(
        ["bench.suite", "--quick", "--only", "gone,seq", "--server", f"gone={tmp_path}/no-such-server"], timeout=30
    )
    assert proc.returncode != 0 and "no-such-server" in proc.stderr


def test_micro_benchmarks_run_quickly(tmp_path: Path) -> None:
    out = tmp_path / "micro.jsonl"
    proc = run_module(["bench.micro", "--quick", "--out", str(out), "--md", str(tmp_path / "micro.md")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [r for r in read_jsonl(out) if r["kind"] == "micro"]
    names = [r["name"] for r in rows]
    for prefix in ("decide", "apply", "event_hash", "verify_chain", "scan_text", "engine record_thought"):
        assert any(n.startswith(prefix) for n in names), prefix
        assert f"| {prefix}" in proc.stdout, prefix
    assert all(r["us_per_op"] > 0 and r["ref_us_per_op"] > 0 and r["ratio"] > 0 for r in rows)


def test_graph_benchmarks_run_quickly_and_report_every_row(tmp_path: Path) -> None:
    out, md = tmp_path / "graph.jsonl", tmp_path / "graph.md"
    proc = run_module(["bench.graph", "--quick", "--out", str(out), "--md", str(md)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert md.read_text(encoding="utf-8") == proc.stdout
    records = read_jsonl(out)
    rows = [r for r in records if r["kind"] == "graph"]
    names = [r["name"] for r in rows]
    for prefix in (
        "add_thought under the root",
        "add_thought under the root, wide frontier",
        "link_thoughts supports",
        "link_thoughts depends_on, check touches 1 node",
        "link_thoughts depends_on, check walks the chain",
        "link_thoughts refused",
        "score_thoughts (the frontier)",
        "score_thoughts (the frontier), rest of the graph",
        "prune_thoughts (ranks the frontier",
        "add_thought (decide + apply)",
        "add_thought, wide frontier (decide + apply)",
        "score_thoughts (decide + apply",
        "prune_thoughts to beam 3 (decide + apply)",
        "graph.reaches (cycle check alone)",
        "graph.reaches, touches 3 nodes",
        "snapshot encode",
    ):
        assert any(n.startswith(prefix) for n in names), prefix
        assert f"| {prefix}" in proc.stdout, prefix
    for r in rows:
        for side in ("small", "large"):
            assert r[side]["n"] > 0 and 0 < r[side]["median_us"] <= r[side]["max_us"], r
        assert r["ratio"] > 0 and r["mean_ratio"] > 0
    memory = {r["name"]: r for r in records if r["kind"] == "memory"}
    assert set(memory) == {"session state per node", "session state per depends_on edge"}
    assert all(m["measured_bytes"] > 0 and m["estimate_bytes"] > 0 for m in memory.values())
    assert "| session state per node" in proc.stdout
