"""The governance pipeline: stages and profiles as data, and what each stage finds.

A stage is either *computed* from the session (``basis: "session"``: the graph, the claims
and their checked evidence, the assumptions, the route decision), or a *critique*: the
agent's own text submitted for that stage (``basis: "agent_critique"``). A model could write
critiques once a model provider exists; until then a critique stage nobody submitted is
``unavailable``. A profile names the stages it requires; a required stage that is unavailable
is a blocking gap of the route decision. The default profile (``balanced``) requires only
computed stages, so it never blocks for a missing critique.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinkgate.domain.state import SessionState

__all__ = ["GOVERNANCE_PROFILES", "STAGES", "STAGE_ORDER", "available", "stage_finding"]

STAGES: dict[str, dict[str, str]] = {
    "constraint_mapping": {
        "kind": "computed",
        "does": "lists the deliberation's constraints and which claims mention them",
    },
    "diverse_thinking": {
        "kind": "computed",
        "does": "counts the distinct branches under the root and the lenses (tags) they used",
    },
    "first_principles": {
        "kind": "critique",
        "does": "the agent's reduction of the problem to facts it can check, and what follows from them",
    },
    "hypothesis_rivalry": {
        "kind": "computed",
        "does": "compares the active frontier's alternatives by their latest scores",
    },
    "causal_modelling": {
        "kind": "critique",
        "does": "the agent's causal model: what drives what, and which link is weakest",
    },
    "trade_offs": {
        "kind": "critique",
        "does": "the agent's trade-offs between the options (cost, risk, reversibility)",
    },
    "fallacy_detection": {
        "kind": "critique",
        "does": "the agent's audit of its own reasoning for fallacies and unsupported leaps",
    },
    "triangulation": {
        "kind": "computed",
        "does": "the claims' statuses and how many independent groups support each",
    },
    "brutal_honesty": {
        "kind": "critique",
        "does": "the agent's strongest case against its own answer",
    },
    "calibration_routing": {
        "kind": "computed",
        "does": "the route decision, its confidence and whether a fitted calibration map applies",
    },
}
STAGE_ORDER: tuple[str, ...] = tuple(STAGES)
TRIANGULATION_SHOWN = 100  # claims listed in a triangulation finding (all are counted)

GOVERNANCE_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"requiredStages": ("triangulation", "calibration_routing"), "confidenceFactor": 1.0},
    "balanced": {
        "requiredStages": ("constraint_mapping", "triangulation", "calibration_routing"),
        "confidenceFactor": 1.0,
    },
    "deep": {
        "requiredStages": (
            "constraint_mapping",
            "diverse_thinking",
            "first_principles",
            "hypothesis_rivalry",
            "fallacy_detection",
            "triangulation",
            "brutal_honesty",
            "calibration_routing",
        ),
        "confidenceFactor": 0.98,
    },
    "paranoid": {"requiredStages": STAGE_ORDER, "confidenceFactor": 0.95},
}


def available(state: SessionState, stage: str) -> bool:
    """Whether ``stage`` can give a finding now (computed stages always can)."""
    return STAGES[stage]["kind"] == "computed" or stage in state.ledger.critiques


def stage_finding(
    state: SessionState, stage: str, route: Mapping[str, Any], constraints: tuple[str, ...]
) -> dict[str, Any]:
    """What ``stage`` finds in the session, and what that finding is based on.

    ``route`` is the session's route decision (for ``calibration_routing`` and
    ``triangulation``); ``constraints`` the deliberation's constraints (kept in the log).
    """
    spec = STAGES[stage]
    if spec["kind"] == "critique":
        critique = state.ledger.critiques.get(stage)
        if critique is None:
            return {
                "stage": stage,
                "basis": "unavailable",
                "status": "unavailable",
                "summary": f"no critique submitted for {stage} and no model provider is configured",
            }
        return {
            "stage": stage,
            "basis": "agent_critique",
            "status": "submitted",
            "summary": str(critique["text"]),
        }
    return {"stage": stage, "basis": "session", **_COMPUTED[stage](state, route, constraints)}


def _constraints(state: SessionState, route: Mapping[str, Any], constraints: tuple[str, ...]) -> dict[str, Any]:
    claims = state.ledger.ordered_claims()
    mapped = []
    for constraint in constraints:
        words = {w for w in constraint.casefold().split() if len(w) > 3}
        mentioned = [str(c["id"]) for c in claims if words & set(str(c["text"]).casefold().split())]
        mapped.append({"constraint": constraint, "claims": mentioned})
    unmapped = [m["constraint"] for m in mapped if not m["claims"]]
    if not constraints:
        summary = "no constraints recorded (start_deliberation takes them)"
    elif unmapped:
        summary = f"{len(unmapped)} of {len(constraints)} constraints are mentioned by no claim"
    else:
        summary = f"all {len(constraints)} constraints are mentioned by a claim"
    return {"status": "concern" if unmapped else "ok", "summary": summary, "details": {"constraints": mapped}}


def _diversity(state: SessionState, route: Mapping[str, Any], constraints: tuple[str, ...]) -> dict[str, Any]:
    graph = state.graph
    root = graph.deliberation.root_id if graph.deliberation is not None else None
    branches = [nid for nid, node in graph.nodes.items() if root is not None and node.parents[:1] == (root,)]
    active = [b for b in branches if graph.nodes[b].status != "pruned"]
    summary = (
        f"{len(branches)} branches under the root ({len(active)} not pruned)"
        if root is not None
        else "no deliberation: a single chain has no branches to compare"
    )
    concern = root is None or len(branches) < 2
    return {
        "status": "concern" if concern else "ok",
        "summary": summary,
        "details": {"branches": sorted(branches, key=lambda n: int(n[1:])), "active": len(active)},
    }


def _rivalry(state: SessionState, route: Mapping[str, Any], constraints: tuple[str, ...]) -> dict[str, Any]:
    graph = state.graph
    scored = sorted(
        ((graph.nodes[n].score, n) for n in graph.frontier_ids() if graph.nodes[n].score is not None),
        key=lambda p: (-float(p[0] or 0), int(p[1][1:])),
    )
    rivals = [{"nodeId": n, "score": s} for s, n in scored[:5]]
    if len(scored) < 2:
        return {
            "status": "concern",
            "summary": f"{len(scored)} scored alternatives on the frontier: nothing to compare",
            "details": {"rivals": rivals},
        }
    margin = float(scored[0][0] or 0) - float(scored[1][0] or 0)
    return {
        "status": "ok" if margin >= 0.05 else "concern",
        "summary": f"{scored[0][1]} leads {scored[1][1]} by {margin:.3f}",
        "details": {"rivals": rivals, "margin": round(margin, 4)},
    }


def _triangulation(state: SessionState, route: Mapping[str, Any], constraints: tuple[str, ...]) -> dict[str, Any]:
    from thinkgate.domain.route import claim_policy
    from thinkgate.domain.verification import Policy, claim_verdict

    session = Policy.from_wire(state.ledger.policy)
    claims = []
    for claim in state.ledger.ordered_claims():
        verdict = claim_verdict(claim["evidence"], str(claim["criticality"]), claim_policy(claim, session))
        claims.append(
            {
                "claimId": claim["id"],
                "criticality": claim["criticality"],
                "status": verdict.status,
                "supportGroups": len(verdict.support_groups),
                "refuteGroups": len(verdict.refute_groups),
            }
        )
    statuses = route.get("claims", {})
    total = sum(int(v) for v in statuses.values())
    verified = int(statuses.get("verified", 0))
    summary = f"{verified} of {total} claims verified" if total else "no claims recorded"
    concern = not total or verified < total
    return {
        "status": "concern" if concern else "ok",
        "summary": summary,
        "details": {"claims": claims[:TRIANGULATION_SHOWN], "claimCount": len(claims)},
    }


def _routing(state: SessionState, route: Mapping[str, Any], constraints: tuple[str, ...]) -> dict[str, Any]:
    calibration = route.get("calibration", {})
    summary = f"{route.get('decision')} at confidence {route.get('confidence')}"
    if calibration.get("applied"):
        summary += f" (calibrated on {calibration.get('outcomes')} outcomes)"
    return {
        "status": "ok" if route.get("decision") not in ("blocked", "do_not_proceed") else "concern",
        "summary": summary,
        "details": {"decision": route.get("decision"), "confidence": route.get("confidence")},
    }


_COMPUTED = {
    "constraint_mapping": _constraints,
    "diverse_thinking": _diversity,
    "hypothesis_rivalry": _rivalry,
    "triangulation": _triangulation,
    "calibration_routing": _routing,
}
