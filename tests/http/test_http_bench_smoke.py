"""``python -m bench.http_load --quick`` runs end to end (the numbers are the benchmark's business)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]


def test_the_http_load_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    out = tmp_path / "http.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "bench.http_load", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "ThinkGate ÷ plain SDK HTTP server" in run.stdout
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {r["server"] for r in records} == {"thinkgate", "sdk-http"}
    assert all(r["errors"] == 0 and r["calls"] > 0 for r in records)
