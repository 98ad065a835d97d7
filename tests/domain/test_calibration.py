"""Calibration: Brier, ECE and reliability by hand, the isotonic map, and which map is in force."""

from __future__ import annotations

import json
import math
from itertools import chain, pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinkgate.domain.calibration import (
    MIN_OUTCOMES_FOR_MAP,
    CalibrationMap,
    brier,
    choose_map,
    ece,
    fit_map,
    reliability,
    summary,
)
from thinkgate.errors import InvalidInput

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
outcome = st.sampled_from([0.0, 1.0]) | unit
pairs = st.lists(st.tuples(unit, outcome), min_size=1, max_size=60)


def record(profile: str, raw: float, result: float, confidence: float | None = None) -> dict[str, Any]:
    """An outcome record as ``Engine.outcomes()`` returns it."""
    return {
        "sessionId": "s",
        "decisionId": "d",
        "profile": profile,
        "decision": "go",
        "confidence": raw if confidence is None else confidence,
        "rawConfidence": raw,
        "outcome": result,
        "recordedAt": "2025-01-01T00:00:00Z",
    }


def records(profile: str, n: int) -> list[dict[str, Any]]:
    return [record(profile, (i % 10) / 10, float(i % 2)) for i in range(n)]


# Brier, ECE, reliability


def test_brier_is_the_mean_squared_gap() -> None:
    assert brier([(0.8, 1.0), (0.3, 0.0)]) == pytest.approx((0.04 + 0.09) / 2)


def test_brier_is_zero_when_certain_and_right_and_one_when_certain_and_wrong() -> None:
    assert brier([(1.0, 1.0), (0.0, 0.0)]) == 0.0
    assert brier([(1.0, 0.0), (0.0, 1.0)]) == 1.0


def test_ece_weighs_each_bins_gap_by_its_share() -> None:
    # bins of 0.1: [0.0,0.1) conf .05 obs 0; [0.1,0.2) conf .15 obs .5; [0.9,1.0] conf .95 obs 1
    data = [(0.15, 1.0), (0.15, 0.0), (0.05, 0.0), (0.95, 1.0)]
    assert ece(data) == pytest.approx(0.25 * 0.05 + 0.5 * 0.35 + 0.25 * 0.05)


def test_ece_of_two_singleton_bins() -> None:
    assert ece([(0.8, 1.0), (0.3, 0.0)]) == pytest.approx((0.2 + 0.3) / 2)


def test_perfect_calibration_has_zero_ece() -> None:
    data = [(0.25, 1.0)] + [(0.25, 0.0)] * 3 + [(0.75, 1.0)] * 3 + [(0.75, 0.0)]
    assert ece(data) == 0.0
    assert ece(data, bins=4) == 0.0


def test_reliability_lists_every_bin_including_empty_ones() -> None:
    table = reliability([(0.1, 1.0), (0.15, 0.0), (1.0, 1.0)], bins=10)
    assert len(table) == 10
    assert [b.count for b in table] == [0, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table[0].mean_confidence is None and table[0].observed_rate is None
    assert table[1].lower == pytest.approx(0.1) and table[1].upper == pytest.approx(0.2)
    assert table[1].mean_confidence == pytest.approx(0.125) and table[1].observed_rate == 0.5
    assert table[9].to_dict() == {
        "lower": 0.9,
        "upper": 1.0,
        "count": 1,
        "meanConfidence": 1.0,
        "observedRate": 1.0,
    }


def test_a_confidence_on_a_bin_edge_falls_in_the_upper_bin() -> None:
    table = reliability([(0.5, 1.0)], bins=2)
    assert [b.count for b in table] == [0, 1]


@pytest.mark.parametrize("bad", [(1.5, 1.0), (0.5, -0.1), (math.nan, 1.0), (0.5, math.inf), (True, 1.0)])
def test_values_outside_the_unit_interval_are_rejected(bad: tuple[Any, Any]) -> None:
    with pytest.raises(InvalidInput):
        brier([bad])


def test_no_pairs_and_no_bins_are_rejected() -> None:
    with pytest.raises(InvalidInput):
        brier([])
    with pytest.raises(InvalidInput):
        ece([(0.5, 1.0)], bins=0)


@given(pairs, st.integers(min_value=1, max_value=20))
def test_brier_and_ece_lie_in_the_unit_interval(data: list[tuple[float, float]], bins: int) -> None:
    assert 0.0 <= brier(data) <= 1.0
    assert 0.0 <= ece(data, bins) <= 1.0
    assert sum(b.count for b in reliability(data, bins)) == len(data)


# The isotonic map


def test_pav_pools_adjacent_violators() -> None:
    m = fit_map([(0.1, 0.2), (0.2, 0.6), (0.3, 0.4), (0.4, 0.8), (0.5, 0.6), (0.6, 1.0)])
    assert list(chain(*m.points)) == pytest.approx([0.1, 0.2, 0.25, 0.5, 0.45, 0.7, 0.6, 1.0])
    assert m.outcomes == 6 and m.profile is None


def test_pav_weighs_blocks_by_their_outcomes() -> None:
    m = fit_map([(0.2, 1.0), (0.2, 1.0), (0.2, 1.0), (0.4, 0.0)])
    assert list(chain(*m.points)) == pytest.approx([0.25, 0.75])
    assert m.apply(0.0) == m.apply(1.0) == 0.75


def test_equal_confidences_form_one_block() -> None:
    assert fit_map([(0.5, 1.0), (0.5, 0.0), (0.2, 0.0)]).points == ((0.2, 0.0), (0.5, 0.5))


def test_points_that_change_no_value_are_dropped() -> None:
    assert fit_map([(0.1, 0.0), (0.2, 0.0), (0.5, 1.0), (0.6, 1.0)]).points == ((0.2, 0.0), (0.5, 1.0))
    assert fit_map([(0.1, 0.5), (0.9, 0.5)]).points == ((0.1, 0.5),)


def test_apply_interpolates_between_points_and_is_constant_beyond_them() -> None:
    m = CalibrationMap(points=((0.2, 0.0), (0.6, 0.8)), outcomes=40)
    assert m.apply(0.0) == 0.0
    assert m.apply(0.4) == pytest.approx(0.4)
    assert m.apply(0.6) == 0.8
    assert m.apply(1.0) == 0.8
    with pytest.raises(InvalidInput):
        m.apply(math.nan)


def test_a_map_that_decreases_is_refused() -> None:
    with pytest.raises(InvalidInput):
        CalibrationMap(points=((0.2, 0.5), (0.6, 0.4)), outcomes=2)
    with pytest.raises(InvalidInput):
        CalibrationMap.from_dict({"points": [[0.6, 0.4], [0.2, 0.5]], "outcomes": 2, "profile": None})
    with pytest.raises(InvalidInput):
        CalibrationMap.from_dict({"points": [[0.2]], "outcomes": 2})


@given(pairs)
def test_the_fitted_map_is_non_decreasing_and_within_the_unit_interval(data: list[tuple[float, float]]) -> None:
    m = fit_map(data)
    xs = [x for x, _ in m.points]
    ys = [y for _, y in m.points]
    assert all(a < b for a, b in pairwise(xs))
    assert all(a <= b for a, b in pairwise(ys))
    assert all(0.0 <= v <= 1.0 for v in xs + ys)


@given(pairs, st.lists(st.floats(min_value=-0.5, max_value=1.5, allow_nan=False), min_size=2, max_size=20))
def test_apply_is_monotone_and_within_the_unit_interval(data: list[tuple[float, float]], probes: list[float]) -> None:
    m = fit_map(data)
    values = [m.apply(x) for x in sorted(probes + [x for x, _ in data])]
    assert all(a <= b for a, b in pairwise(values))
    assert all(0.0 <= v <= 1.0 for v in values)


@given(st.lists(unit, min_size=1, max_size=30, unique=True), st.data())
def test_monotone_data_is_fitted_exactly(xs: list[float], data: st.DataObject) -> None:
    ys = sorted(data.draw(st.lists(unit, min_size=len(xs), max_size=len(xs))))
    m = fit_map(list(zip(sorted(xs), ys, strict=True)))
    assert [m.apply(x) for x in sorted(xs)] == ys


@given(pairs, st.none() | st.text(max_size=8))
def test_a_map_survives_a_json_round_trip(data: list[tuple[float, float]], profile: str | None) -> None:
    m = fit_map(data, profile)
    assert CalibrationMap.from_dict(json.loads(json.dumps(m.to_dict()))) == m


# Which map is in force


def test_no_map_below_the_threshold() -> None:
    assert MIN_OUTCOMES_FOR_MAP == 30
    assert choose_map(records("a", MIN_OUTCOMES_FOR_MAP - 1), "a") is None
    assert choose_map(records("a", MIN_OUTCOMES_FOR_MAP - 1), None) is None


def test_a_profile_with_enough_outcomes_gets_its_own_map() -> None:
    outcomes = records("a", MIN_OUTCOMES_FOR_MAP) + records("b", 5)
    own = choose_map(outcomes, "a")
    assert own is not None and own.profile == "a" and own.outcomes == MIN_OUTCOMES_FOR_MAP


def test_a_profile_with_too_few_outcomes_falls_back_to_the_overall_map() -> None:
    outcomes = records("a", 20) + records("b", 10)
    for profile in ("a", "b", "unseen", None):
        chosen = choose_map(outcomes, profile)
        assert chosen is not None and chosen.profile is None and chosen.outcomes == 30


def test_the_map_is_fitted_on_raw_confidence() -> None:
    outcomes = [record("a", (i % 10) / 10, float(i % 10 >= 5), confidence=0.5) for i in range(30)]
    chosen = choose_map(outcomes, "a")
    assert chosen is not None
    assert chosen.points == ((0.4, 0.0), (0.5, 1.0))


# The summary


def test_the_summary_of_no_outcomes_says_how_many_are_needed() -> None:
    result = summary([])
    assert result["overall"]["count"] == 0 and result["overall"]["brier"] is None
    assert result["overall"]["map"] == {
        "inForce": False,
        "fittedOn": None,
        "outcomes": 0,
        "points": None,
        "outcomesNeeded": MIN_OUTCOMES_FOR_MAP,
    }
    assert result["perProfile"] == {}


def test_the_summary_reports_each_profile_and_the_map_in_force_for_it() -> None:
    outcomes = records("a", 30) + records("b", 4)
    result = json.loads(json.dumps(summary(outcomes, bins=5)))
    assert result["bins"] == 5 and result["minOutcomesForMap"] == 30
    assert result["overall"]["count"] == 34 and len(result["overall"]["reliability"]) == 5
    assert result["overall"]["brier"] == pytest.approx(brier([(r["confidence"], r["outcome"]) for r in outcomes]))
    a, b = result["perProfile"]["a"], result["perProfile"]["b"]
    assert a["map"]["fittedOn"] == "profile" and a["map"]["profileOutcomesNeeded"] == 0
    assert b["map"]["fittedOn"] == "overall" and b["map"]["outcomes"] == 34
    assert b["map"]["profileOutcomesNeeded"] == 26 and b["map"]["outcomesNeeded"] == 0
    assert b["count"] == 4


def test_the_summary_can_be_limited_to_one_profile() -> None:
    result = summary(records("a", 3) + records("b", 4), profile="b")
    assert list(result["perProfile"]) == ["b"]
    assert result["overall"]["count"] == 7
    assert result["perProfile"]["b"]["map"]["outcomesNeeded"] == 23
    assert summary(records("a", 3), profile="zzz")["perProfile"]["zzz"]["count"] == 0


def test_a_record_without_a_string_profile_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        summary([{"confidence": 0.5, "rawConfidence": 0.5, "outcome": 1.0}])
