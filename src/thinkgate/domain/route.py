"""The route decision: blocking gaps, a confidence, and the band it falls in.

The confidence is a product of factors, each in [0, 1] (docs/verification.md shows the same
formula with a worked example; ``tests/test_docs_verification.py`` checks them against this code)::

    raw = claims × assumptions × conflicts × branches × profile

- **claims**: the criticality-weighted mean of each claim's strength ``S × (1 − R)``
  (weights critical 4, high 3, medium 2, low 1; no claims at all: 0.5). ``S`` is the support:
  1 with a passed supporting check, else ``0.9 × min(1, Σ group weights ÷ minIndependentGroups)``
  over the distinct groups of counting supporting evidence (a group's weight is 1 for tier 1–2,
  0.5 for tier 3). ``R`` is the same measure over refuting evidence.
- **assumptions**: the product over assumptions of a factor by status and criticality
  (``ASSUMPTION_FACTORS``; verified 1).
- **conflicts**: ``max(0.5, 1 − 0.05 × n)`` for ``n`` ``conflicts`` edges into nodes not pruned.
- **branches**: ``0.9 + 0.1 × best`` where ``best`` is the best latest score among the active
  frontier's scored nodes; 1 when none is scored.
- **profile**: the governance profile's factor (quick and balanced 1, deep 0.98, paranoid 0.95).

Every factor only grows with supporting evidence and only shrinks with refuting evidence or a
new conflict, so the confidence is monotone in both (a Hypothesis test checks it). Once enough
outcomes are recorded, a fitted calibration map (non-decreasing) turns ``raw`` into the reported
``confidence``. Bands: ≥ 0.95 ``proceed``, ≥ 0.85 ``proceed_with_monitoring``, ≥ 0.70
``proceed_with_caution``, ≥ 0.50 ``gather_more_data``, else ``do_not_proceed`` — unless a gap
blocks: a critical claim not verified or a critical/high assumption open or invalidated (while
the policy fails closed), a required governance stage unavailable, or any error while
evaluating (always: an exception is a gap, never a pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGES, available
from thinkgate.domain.verification import CLAIM_STATUSES, Policy, claim_verdict, counts

if TYPE_CHECKING:
    from thinkgate.domain.state import SessionState

__all__ = [
    "ASSUMPTION_FACTORS",
    "BANDS",
    "CRITICALITY_WEIGHTS",
    "band",
    "claim_strength",
    "confidence_factors",
    "evaluation_failed",
    "route_decision",
]

BANDS: tuple[tuple[float, str], ...] = (
    (0.95, "proceed"),
    (0.85, "proceed_with_monitoring"),
    (0.70, "proceed_with_caution"),
    (0.50, "gather_more_data"),
)
BELOW = "do_not_proceed"
CRITICALITY_WEIGHTS = {"critical": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
TIER_WEIGHTS = {1: 1.0, 2: 1.0, 3: 0.5}
DECLARED_CAP = 0.9  # support without a passed check is worth at most this
NO_CLAIMS = 0.5
CONFLICT_STEP, CONFLICT_FLOOR = 0.05, 0.5
BRANCH_BASE = 0.9
ASSUMPTION_FACTORS: dict[str, dict[str, float]] = {
    "verified": {"critical": 1.0, "high": 1.0, "medium": 1.0, "low": 1.0},
    "accepted_risk": {"critical": 0.80, "high": 0.85, "medium": 0.92, "low": 0.97},
    "open": {"critical": 0.60, "high": 0.70, "medium": 0.90, "low": 0.95},
    "invalidated": {"critical": 0.30, "high": 0.40, "medium": 0.70, "low": 0.85},
}
DIGITS = 4
# Non-blocking issues listed in a decision (all are counted): a decision is recorded in the
# state, and a list with an entry per claim made each one grow with the session (bench.governance).
KEPT_ISSUES = 50
_SCALE = 10**DIGITS


def _down(value: float) -> float:
    """``value`` cut to ``DIGITS`` decimals, rounding down (monotone, and never up into a higher band).

    The tiny tolerance keeps values such as 0.95 (stored as 0.94999…) at their decimal value.
    """
    return float(math.floor(value * _SCALE + 1e-9) / _SCALE)


Calibrate = Callable[[float], float]


def band(confidence: float) -> str:
    """The decision a confidence maps to when nothing blocks."""
    for threshold, name in BANDS:
        if confidence >= threshold:
            return name
    return BELOW


def claim_policy(claim: Mapping[str, Any], session: Policy) -> Policy:
    """The policy a claim is judged under (its own override, else the session's)."""
    override = claim.get("policy")
    return session.updated(override) if override else session


def claim_strength(evidence: Any, policy: Policy) -> tuple[float, float]:
    """``(S, R)``: the strength of a claim's support and of its refutation, each 0-1."""
    best: dict[str, dict[str, float]] = {"supports": {}, "refutes": {}}
    checked = {"supports": False, "refutes": False}
    for item in evidence:
        if not counts(item, policy):
            continue
        stance = "refutes" if item.get("stance") == "refutes" else "supports"
        if item.get("check") == "passed":
            checked[stance] = True
        weight = TIER_WEIGHTS.get(int(item.get("tier", 3)), 0.5)
        group = str(item.get("group", ""))
        groups = best[stance]
        groups[group] = max(groups.get(group, 0.0), weight)

    def strength(stance: str) -> float:
        if checked[stance]:
            return 1.0
        return DECLARED_CAP * min(1.0, sum(best[stance].values()) / policy.min_independent_groups)

    return strength("supports"), strength("refutes")


def confidence_factors(state: SessionState, policy: Policy, profile: str) -> dict[str, float]:
    """The factors of the raw confidence (see the module docstring), and ``raw`` itself."""
    ledger = state.ledger
    total = weighted = 0.0
    for claim in ledger.claims.values():
        weight = CRITICALITY_WEIGHTS[str(claim["criticality"])]
        support, refute = claim_strength(claim["evidence"], claim_policy(claim, policy))
        total += weight
        weighted += weight * support * (1.0 - refute)
    claims = weighted / total if total else NO_CLAIMS
    assumptions = 1.0
    for record in ledger.assumptions.values():
        assumptions *= ASSUMPTION_FACTORS[str(record["status"])][str(record["criticality"])]
    graph = state.graph
    conflicts_in = sum(
        con for nid, (_sup, con) in graph.stats.items() if nid in graph.nodes and graph.nodes[nid].status != "pruned"
    )
    conflicts = max(CONFLICT_FLOOR, 1.0 - CONFLICT_STEP * conflicts_in)
    scores = [graph.nodes[n].score for n in graph.frontier]
    best = max((float(s) for s in scores if s is not None), default=None)
    branches = 1.0 if best is None else BRANCH_BASE + (1.0 - BRANCH_BASE) * min(1.0, max(0.0, best))
    factor = float(GOVERNANCE_PROFILES[profile]["confidenceFactor"])
    raw = claims * assumptions * conflicts * branches * factor
    return {
        "claims": _down(claims),
        "assumptions": _down(assumptions),
        "conflicts": _down(conflicts),
        "branches": _down(branches),
        "profile": factor,
        "raw": _down(min(1.0, max(0.0, raw))),
    }


def route_decision(
    state: SessionState,
    *,
    policy: Policy,
    profile: str,
    calibrate: Calibrate | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The session's route decision under ``policy`` and ``profile``; never raises.

    ``calibrate`` is a fitted calibration map (described by ``calibration``), applied to the
    raw confidence. Any exception while evaluating yields ``blocked`` with the error as a gap.
    """
    try:
        return _decide(state, policy, profile, calibrate, calibration)
    except Exception as exc:  # fail closed: an error while evaluating is a gap, never a pass
        return evaluation_failed(exc, policy, profile)


def evaluation_failed(exc: Exception, policy: Policy, profile: str) -> dict[str, Any]:
    """The ``blocked`` decision for an error raised while evaluating a session."""
    return {
        "decision": "blocked",
        "confidence": 0.0,
        "rawConfidence": 0.0,
        "rationale": f"blocked: the decision could not be evaluated ({type(exc).__name__})",
        "blockingGaps": [{"kind": "evaluation_error", "id": None, "reason": f"{type(exc).__name__} while evaluating"}],
        "openIssues": [],
        "openIssueCount": 0,
        "factors": {},
        "claims": {},
        "policy": policy.to_wire(),
        "profile": profile,
        "calibration": {"applied": False},
    }


def _decide(
    state: SessionState,
    policy: Policy,
    profile: str,
    calibrate: Calibrate | None,
    calibration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    ledger = state.ledger
    gaps: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    tally = dict.fromkeys(CLAIM_STATUSES, 0)
    for claim in ledger.ordered_claims():
        criticality = str(claim["criticality"])
        judged = claim_policy(claim, policy)
        verdict = claim_verdict(claim["evidence"], criticality, judged)
        tally[verdict.status] += 1
        for item in claim["evidence"]:
            if item.get("error"):
                gaps.append(
                    {
                        "kind": "evaluation_error",
                        "id": item["evidenceId"],
                        "claimId": claim["id"],
                        "reason": f"the check of evidence {item['evidenceId']} raised: {item.get('reason', '')}",
                    }
                )
        if verdict.status == "verified":
            continue
        entry = {
            "kind": "claim",
            "id": claim["id"],
            "criticality": criticality,
            "status": verdict.status,
            "reason": f"{criticality} claim {claim['id']} is {verdict.status}: {verdict.reason}",
        }
        (gaps if criticality == "critical" and judged.fail_closed else issues).append(entry)
    for record in ledger.ordered_assumptions():
        status, criticality = str(record["status"]), str(record["criticality"])
        if status in ("verified", "accepted_risk"):
            continue
        entry = {
            "kind": "assumption",
            "id": record["id"],
            "criticality": criticality,
            "status": status,
            "reason": f"{criticality} assumption {record['id']} is {status}",
        }
        blocking = criticality in ("critical", "high") and policy.fail_closed
        (gaps if blocking else issues).append(entry)
    for stage in GOVERNANCE_PROFILES[profile]["requiredStages"]:
        if not available(state, stage):
            entry = {
                "kind": "stage",
                "id": stage,
                "reason": f"profile {profile} requires {stage} ({STAGES[stage]['does']}); "
                "submit it with run_governance_pipeline(critiques=...)",
            }
            (gaps if policy.fail_closed else issues).append(entry)
    factors = confidence_factors(state, policy, profile)
    raw = factors["raw"]
    applied = calibrate is not None
    confidence = _down(min(1.0, max(0.0, calibrate(raw)))) if calibrate is not None else raw
    decision = "blocked" if gaps else band(confidence)
    return {
        "decision": decision,
        "confidence": confidence,
        "rawConfidence": raw,
        "rationale": _rationale(decision, confidence, factors, tally, gaps, applied),
        "blockingGaps": gaps,
        "openIssues": issues[:KEPT_ISSUES],
        "openIssueCount": len(issues),
        "factors": factors,
        "claims": tally,
        "policy": policy.to_wire(),
        "profile": profile,
        "calibration": {"applied": True, **(calibration or {})} if applied else {"applied": False},
    }


def _rationale(
    decision: str,
    confidence: float,
    factors: Mapping[str, float],
    tally: Mapping[str, int],
    gaps: list[dict[str, Any]],
    calibrated: bool,
) -> str:
    total = sum(tally.values())
    parts = [f"{tally['verified']} of {total} claims verified" if total else "no claims recorded"]
    for status in ("refuted", "source_conflict", "data_deficit"):
        if tally[status]:
            parts.append(f"{tally[status]} {status}")
    formula = " × ".join(
        f"{name} {factors[name]}" for name in ("claims", "assumptions", "conflicts", "branches", "profile")
    )
    text = f"{'; '.join(parts)}. Confidence {confidence} (raw {factors['raw']} = {formula}"
    text += ", calibrated)" if calibrated else ")"
    if gaps:
        return (
            f"blocked by {len(gaps)} gap{'s' if len(gaps) > 1 else ''}: "
            + "; ".join(g["reason"] for g in gaps[:5])
            + f". {text}"
        )
    return f"{decision}: {text}"
