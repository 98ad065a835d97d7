"""Smoke run of the verification and governance benchmark (``make bench``): every row, the report's shape, exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = (
    "route_decision",
    "snapshot encode after",
    "run_reasoning_checkpoint",
    "add_thought in a session with a ledger",
    "verify_thoughts, one claim, one calc item",
    "verify_thoughts, one claim, one file item",
    "verify_thoughts, one claim, one command item",
)


def test_governance_benchmark_runs_quickly_and_reports_every_row(tmp_path: Path) -> None:
    out, md = tmp_path / "governance.jsonl", tmp_path / "governance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.governance", "--quick", "--out", str(out), "--md", str(md)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = proc.stdout
    assert md.read_text(encoding="utf-8") == report
    assert "| operation | layer | reference |" in report and "| memory, one session |" in report
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in records if r["kind"] == "governance"]
    for name in ROWS:
        assert any(r["name"].startswith(name) for r in rows), name
        assert f"| {name}" in report, name
    assert len([r for r in rows if r["name"] == "route_decision"]) == 3
    for r in rows:
        for side in ("reference", "case"):
            assert r[side]["n"] > 0 and 0 < r[side]["median_us"] <= r[side]["max_us"], r
        assert r["ratio"] > 0 and r["mean_ratio"] > 0
    memory = [r for r in records if r["kind"] == "memory"]
    assert len(memory) == 2 and all(m["ledger_bytes"] > 0 and m["checkpoint_event_bytes"] > 0 for m in memory)
