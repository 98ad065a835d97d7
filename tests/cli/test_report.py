"""``thinkgate report calibration``, run as a subprocess against a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from thinkgate.app import build_engine
from thinkgate.config import Settings
from thinkgate.domain.calibration import MIN_OUTCOMES_FOR_MAP, summary
from thinkgate.domain.governance import RecordOutcome, RunCheckpoint
from thinkgate.domain.thinking import RecordThought

pytestmark = pytest.mark.timeout(120)

CLI_TIMEOUT = 60.0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m thinkgate ARGS`` without any THINKGATE_* variable and return the finished process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    """The URL of an SQLite store that exists and holds nothing."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    created = run_cli("db", "migrate", "--store", url)
    assert created.returncode == 0, created.stderr
    return url


def test_an_empty_store_says_there_is_nothing_to_calibrate(empty_store: str) -> None:
    result = run_cli("report", "calibration", "--store", empty_store)
    assert result.returncode == 0, result.stderr
    assert "no outcomes recorded" in result.stdout


def test_an_empty_store_gives_an_empty_json_summary(empty_store: str) -> None:
    result = run_cli("report", "calibration", "--store", empty_store, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["overall"]["count"] == 0 and report["perProfile"] == {}
    assert report["overall"]["map"]["inForce"] is False
    assert report["overall"]["map"]["outcomesNeeded"] == MIN_OUTCOMES_FOR_MAP


def test_a_missing_store_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    result = run_cli("report", "calibration", "--store", f"sqlite:///{tmp_path / 'typo.db'}")
    assert result.returncode != 0
    assert "STORE_NOT_FOUND" in result.stderr


def test_bins_must_be_at_least_one(empty_store: str) -> None:
    result = run_cli("report", "calibration", "--store", empty_store, "--bins", "0")
    assert result.returncode == 2
    assert "--bins" in result.stderr


async def record_outcomes(url: str, profiles: dict[str, int]) -> list[dict[str, Any]]:
    """Record ``n`` route decisions of each profile and their outcomes (one success in three); every outcome."""
    engine = build_engine(Settings().with_overrides(store_url=url), create=True)
    await engine.start()
    try:
        session_id = engine.new_session_id()
        await engine.record_thought(session_id, RecordThought("Ship the release?", 1, 1, False))
        for profile, n in profiles.items():
            for i in range(n):
                await engine.governance_command(session_id, RunCheckpoint(profile=profile))
                await engine.governance_command(session_id, RecordOutcome(outcome=float(i % 3 == 0)))
        outcomes: list[dict[str, Any]] = await engine.outcomes()
        return outcomes
    finally:
        await engine.stop()


@pytest.fixture
def store_with_outcomes(empty_store: str) -> tuple[str, list[dict[str, Any]]]:
    """A store where profile quick has enough outcomes for its own map and balanced has three."""
    outcomes = asyncio.run(record_outcomes(empty_store, {"quick": MIN_OUTCOMES_FOR_MAP, "balanced": 3}))
    assert len(outcomes) == MIN_OUTCOMES_FOR_MAP + 3
    return empty_store, outcomes


def test_the_text_report_shows_scores_reliability_and_the_maps_in_force(
    store_with_outcomes: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = store_with_outcomes
    result = run_cli("report", "calibration", "--store", url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for heading in ("Brier", "ECE", "Reliability: all profiles", "Reliability: profile quick", "profile balanced"):
        assert heading in out, heading
    assert "Map in force: all profiles (33 outcomes)" in out
    assert "Map in force: profile quick (30 outcomes)" in out
    assert "Map in force: profile balanced" not in out  # it uses the overall map
    assert "overall map, 33 outcomes (27 more for its own)" in out


def test_the_json_report_is_the_summary_of_the_recorded_outcomes(
    store_with_outcomes: tuple[str, list[dict[str, Any]]],
) -> None:
    url, outcomes = store_with_outcomes
    result = run_cli("report", "calibration", "--store", url, "--format", "json", "--bins", "4")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == json.loads(json.dumps(summary(outcomes, bins=4)))
    assert report["perProfile"]["quick"]["map"]["fittedOn"] == "profile"
    assert report["perProfile"]["balanced"]["map"]["fittedOn"] == "overall"


def test_one_profile_can_be_reported_alone(store_with_outcomes: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = store_with_outcomes
    result = run_cli("report", "calibration", "--store", url, "--profile", "balanced", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report["perProfile"]) == ["balanced"] and report["overall"]["count"] == 33
    unknown = run_cli("report", "calibration", "--store", url, "--profile", "thorough")
    assert unknown.returncode == 0, unknown.stderr
    assert "no outcomes recorded for profile 'thorough'" in unknown.stdout
