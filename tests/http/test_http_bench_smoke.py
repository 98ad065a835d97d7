"""``python -m bench.http_load --quick`` runs end to end (the numbers are the benchmark's business)."""

from __future__ import annotations

import os
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


def test_the_two_replicas_on_postgres_row_runs_in_quick_mode(tmp_path: Path) -> None:
    from tests.pg import bin_dir, unavailable

    env = dict(os.environ)
    if env.get("THINKGATE_TEST_PG_URL") and not env.get("THINKGATE_BENCH_PG_URL"):
        env["THINKGATE_BENCH_PG_URL"] = env["THINKGATE_TEST_PG_URL"]  # CI's server (scripts/pg-test.sh)
    if bin_dir() is None and not env.get("THINKGATE_BENCH_PG_URL"):
        unavailable("no PostgreSQL binaries (initdb, pg_ctl) for bench.http_pg: install postgresql")
    out = tmp_path / "http-pg.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "bench.http_pg", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "Two ThinkGate replicas on PostgreSQL ÷ plain SDK HTTP server" in run.stdout
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {r["server"] for r in records} == {"thinkgate-pg-2", "sdk-http"}
    assert all(r["errors"] == 0 and r["calls"] > 0 for r in records)
    [pg] = [r for r in records if r["server"] == "thinkgate-pg-2"]
    assert len(pg["rss_mib_each"]) == 2 and all(x > 0 for x in pg["rss_mib_each"])
