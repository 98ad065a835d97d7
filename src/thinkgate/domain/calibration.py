"""Calibration of decision confidence against recorded outcomes: Brier, ECE, reliability, a fitted map.

A pair is ``(confidence, outcome)``, both finite numbers in [0, 1] (outcome 1.0 for a success,
0.0 for a failure, or a score in between). Outcome records are the dicts ``Engine.outcomes()``
returns; their ``confidence`` is the confidence the decision reported (after any map in force),
``rawConfidence`` the confidence before any map. Brier, ECE and the reliability table measure
the REPORTED confidence (what callers saw); the map is fitted on the RAW confidence (what the
map will be applied to).

With N pairs (c_i, o_i) and B equal-width bins, pair i falling in bin k = min(floor(c_i * B), B - 1)
(bin k holds k/B <= c < (k+1)/B; the last bin also holds c = 1):

- Brier = (1/N) * sum_i (c_i - o_i)^2, in [0, 1]; 0 is perfect.
- ECE   = sum_k (n_k / N) * |conf_k - obs_k|, with n_k the pairs in bin k, conf_k their mean
  confidence and obs_k their mean outcome (the observed rate); empty bins contribute 0.
- The fitted map is the isotonic (non-decreasing) least-squares regression of outcome on raw
  confidence, by pool-adjacent-violators: pairs with equal confidence form one block weighted
  by their count; blocks are taken in confidence order and a block whose mean outcome is below
  its predecessor's is pooled with it (weights add) until the means are non-decreasing. Each
  block gives a point (mean confidence, mean outcome); a point whose neighbours have the same
  mean outcome is dropped, since it changes no value. ``apply(x)`` interpolates linearly
  between points, is constant beyond the first and last, and is clamped to [0, 1]; it is
  non-decreasing in x, which the route decision's monotonicity depends on.
- A map is fitted once MIN_OUTCOMES_FOR_MAP outcomes exist: per profile when that profile has
  that many, else over all profiles when they together have that many, else none.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thinkgate.errors import InvalidInput

__all__ = [
    "MIN_OUTCOMES_FOR_MAP",
    "Bin",
    "CalibrationMap",
    "Pair",
    "brier",
    "choose_map",
    "ece",
    "fit_map",
    "pairs_of",
    "reliability",
    "summary",
]

MIN_OUTCOMES_FOR_MAP = 30

Pair = tuple[float, float]


def _unit(value: Any, what: str) -> float:
    """``value`` as a float in [0, 1], or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def _checked(pairs: Iterable[Pair]) -> list[Pair]:
    out = [(_unit(c, "confidence"), _unit(o, "outcome")) for c, o in pairs]
    if not out:
        raise InvalidInput("no (confidence, outcome) pairs")
    return out


def _profile(record: Mapping[str, Any]) -> str:
    value = record.get("profile")
    if not isinstance(value, str):
        raise InvalidInput(f"outcome record profile must be a string, got {value!r}")
    return value


def pairs_of(records: Iterable[Mapping[str, Any]], key: str = "confidence") -> list[Pair]:
    """The ``(record[key], record["outcome"])`` pairs of outcome records.

    Raises:
        InvalidInput: a record lacks the field or holds a value outside [0, 1].
    """
    out: list[Pair] = []
    for record in records:
        if key not in record or "outcome" not in record:
            raise InvalidInput(f"outcome record without {key!r} or 'outcome'")
        out.append((_unit(record[key], key), _unit(record["outcome"], "outcome")))
    return out


def brier(pairs: Iterable[Pair]) -> float:
    """The Brier score (1/N) * sum (c - o)^2 of (reported confidence, outcome) pairs, in [0, 1].

    Raises:
        InvalidInput: no pairs, or a value outside [0, 1].
    """
    checked = _checked(pairs)
    return min(1.0, math.fsum((c - o) ** 2 for c, o in checked) / len(checked))


@dataclass(frozen=True, slots=True)
class Bin:
    """One reliability bin [lower, upper): its pairs' count, mean confidence and observed rate (None when empty)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    observed_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """The bin as a JSON-safe dict with camelCase keys."""
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "meanConfidence": self.mean_confidence,
            "observedRate": self.observed_rate,
        }


def reliability(pairs: Iterable[Pair], bins: int = 10) -> list[Bin]:
    """The reliability table of (reported confidence, outcome) pairs: ``bins`` equal-width bins, empty ones too.

    Raises:
        InvalidInput: no pairs, a value outside [0, 1], or ``bins`` < 1.
    """
    if bins < 1:
        raise InvalidInput(f"bins must be at least 1, got {bins}")
    groups: list[list[Pair]] = [[] for _ in range(bins)]
    for c, o in _checked(pairs):
        groups[min(math.floor(c * bins), bins - 1)].append((c, o))
    return [
        Bin(
            lower=k / bins,
            upper=(k + 1) / bins,
            count=len(group),
            mean_confidence=math.fsum(c for c, _ in group) / len(group) if group else None,
            observed_rate=math.fsum(o for _, o in group) / len(group) if group else None,
        )
        for k, group in enumerate(groups)
    ]


def ece(pairs: Iterable[Pair], bins: int = 10) -> float:
    """The expected calibration error sum_k (n_k/N) * |conf_k - obs_k| over equal-width bins, in [0, 1].

    Raises:
        InvalidInput: no pairs, a value outside [0, 1], or ``bins`` < 1.
    """
    table = reliability(pairs, bins)
    total = sum(b.count for b in table)
    gaps = (
        b.count * abs(b.mean_confidence - b.observed_rate)
        for b in table
        if b.mean_confidence is not None and b.observed_rate is not None
    )
    return min(1.0, math.fsum(gaps) / total)


@dataclass(frozen=True, slots=True)
class CalibrationMap:
    """A fitted map from raw to calibrated confidence: points (x strictly increasing, y non-decreasing, in [0, 1]).

    ``outcomes`` is how many outcomes it was fitted on; ``profile`` the profile they came from, None for all.
    """

    points: tuple[tuple[float, float], ...]
    outcomes: int
    profile: str | None = None

    def __post_init__(self) -> None:
        if not self.points:
            raise InvalidInput("a calibration map needs at least one point")
        if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in self.points):
            raise InvalidInput("calibration map points must lie in [0, 1] x [0, 1]")
        for (x0, y0), (x1, y1) in zip(self.points, self.points[1:], strict=False):
            if not (x0 < x1 and y0 <= y1):
                raise InvalidInput("calibration map points must increase in x and not decrease in y")
        if isinstance(self.outcomes, bool) or not isinstance(self.outcomes, int) or self.outcomes < 0:
            raise InvalidInput(f"outcomes must be a non-negative integer, got {self.outcomes!r}")

    def apply(self, x: float) -> float:
        """The calibrated confidence for raw confidence ``x``: linear between points, constant beyond, in [0, 1]."""
        if math.isnan(x):
            raise InvalidInput("confidence must be a number, got NaN")
        points = self.points
        if x <= points[0][0]:
            return points[0][1]
        if x >= points[-1][0]:
            return points[-1][1]
        i = bisect_right(points, x, key=lambda p: p[0])  # points[i-1].x <= x < points[i].x
        (x0, y0), (x1, y1) = points[i - 1], points[i]
        # Each float step below is monotone in x; the clamp keeps segments joined without a dip.
        return min(y1, max(y0, y0 + (y1 - y0) * ((x - x0) / (x1 - x0))))

    def to_dict(self) -> dict[str, Any]:
        """The map as a JSON-safe dict: points as [x, y] lists, outcomes, profile."""
        return {"points": [[x, y] for x, y in self.points], "outcomes": self.outcomes, "profile": self.profile}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationMap:
        """The map ``to_dict`` gave, checked again.

        Raises:
            InvalidInput: a field is missing or malformed, or the points are not a valid map.
        """
        try:
            points = tuple((_unit(x, "map x"), _unit(y, "map y")) for x, y in data["points"])
            outcomes, profile = data["outcomes"], data.get("profile")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed calibration map: {exc!r}") from exc
        if profile is not None and not isinstance(profile, str):
            raise InvalidInput(f"calibration map profile must be a string or null, got {profile!r}")
        return cls(points=points, outcomes=outcomes, profile=profile)


@dataclass(slots=True)
class _Block:
    weight: int
    sum_x: float
    sum_y: float
    min_x: float
    max_x: float

    @property
    def mean_y(self) -> float:
        return self.sum_y / self.weight


def fit_map(pairs: Iterable[Pair], profile: str | None = None) -> CalibrationMap:
    """The isotonic regression (pool-adjacent-violators) of outcome on RAW confidence, as a CalibrationMap.

    Raises:
        InvalidInput: no pairs, or a value outside [0, 1].
    """
    checked = _checked(pairs)
    ties: dict[float, list[float]] = {}
    for c, o in checked:
        ties.setdefault(c, []).append(o)
    stack: list[_Block] = []
    for x in sorted(ties):
        ys = ties[x]
        stack.append(_Block(len(ys), x * len(ys), math.fsum(ys), x, x))
        # Invariant: the means compared here are the ones reported, so the result cannot decrease.
        while len(stack) > 1 and stack[-2].mean_y > stack[-1].mean_y:
            last = stack.pop()
            top = stack[-1]
            top.weight += last.weight
            top.sum_x += last.sum_x
            top.sum_y += last.sum_y
            top.max_x = last.max_x
    points = [
        # The clamps undo float rounding: x stays inside its block (so strictly increasing), y in [0, 1].
        (min(b.max_x, max(b.min_x, b.sum_x / b.weight)), min(1.0, max(0.0, b.mean_y)))
        for b in stack
    ]
    # A point whose every neighbour has its y changes no interpolated value: drop it (keep one when all are equal).
    kept = [
        p for i, p in enumerate(points) if any(q[1] != p[1] for q in points[max(0, i - 1) : i] + points[i + 1 : i + 2])
    ]
    return CalibrationMap(points=tuple(kept or points[:1]), outcomes=len(checked), profile=profile)


def choose_map(outcomes: Sequence[Mapping[str, Any]], profile: str | None) -> CalibrationMap | None:
    """The map in force for ``profile``: its own when it has MIN_OUTCOMES_FOR_MAP outcomes, else the overall one
    when all profiles together have that many, else None. Fitted on ``rawConfidence``.

    Raises:
        InvalidInput: a record lacks ``rawConfidence`` or ``outcome`` or holds a value outside [0, 1].
    """
    if profile is not None:
        own = [r for r in outcomes if _profile(r) == profile]
        if len(own) >= MIN_OUTCOMES_FOR_MAP:
            return fit_map(pairs_of(own, "rawConfidence"), profile)
    if len(outcomes) >= MIN_OUTCOMES_FOR_MAP:
        return fit_map(pairs_of(outcomes, "rawConfidence"))
    return None


def _scores(records: Sequence[Mapping[str, Any]], bins: int) -> dict[str, Any]:
    pairs = pairs_of(records)
    if not pairs:
        return {"count": 0, "brier": None, "ece": None, "reliability": []}
    return {
        "count": len(pairs),
        "brier": brier(pairs),
        "ece": ece(pairs, bins),
        "reliability": [b.to_dict() for b in reliability(pairs, bins)],
    }


def _map_info(outcomes: Sequence[Mapping[str, Any]], profile: str | None, own_count: int) -> dict[str, Any]:
    chosen = choose_map(outcomes, profile)
    info: dict[str, Any] = {
        "inForce": chosen is not None,
        "fittedOn": None if chosen is None else ("overall" if chosen.profile is None else "profile"),
        "outcomes": 0 if chosen is None else chosen.outcomes,
        "points": None if chosen is None else [[x, y] for x, y in chosen.points],
        "outcomesNeeded": max(0, MIN_OUTCOMES_FOR_MAP - len(outcomes)) if chosen is None else 0,
    }
    if profile is not None:
        info["profileOutcomesNeeded"] = max(0, MIN_OUTCOMES_FOR_MAP - own_count)
    return info


def summary(outcomes: Sequence[Mapping[str, Any]], bins: int = 10, profile: str | None = None) -> dict[str, Any]:
    """Brier, ECE and reliability overall and per profile, with the map in force for each, as a JSON-safe dict.

    ``overall`` always covers every outcome (the fallback map is fitted on them all); ``profile``
    limits ``perProfile`` to that one profile. ``outcomesNeeded`` is how many more outcomes bring
    some map into force, ``profileOutcomesNeeded`` how many more of the profile give it its own.

    Raises:
        InvalidInput: ``bins`` < 1, or a malformed record.
    """
    if bins < 1:
        raise InvalidInput(f"bins must be at least 1, got {bins}")
    by_profile: dict[str, list[Mapping[str, Any]]] = {}
    for record in outcomes:
        by_profile.setdefault(_profile(record), []).append(record)
    names = sorted(by_profile) if profile is None else [profile]
    overall = _scores(outcomes, bins) | {"map": _map_info(outcomes, None, len(outcomes))}
    return {
        "bins": bins,
        "minOutcomesForMap": MIN_OUTCOMES_FOR_MAP,
        "overall": overall,
        "perProfile": {
            name: _scores(by_profile.get(name, []), bins)
            | {"map": _map_info(outcomes, name, len(by_profile.get(name, [])))}
            for name in names
        },
    }
