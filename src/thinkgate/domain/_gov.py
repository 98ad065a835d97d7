"""What the governance decisions share: the call context, the session's policy and profile, ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkgate.domain.deliberation import _Ctx
from thinkgate.domain.governance_commands import (
    ID_PATTERN,
    MAX_CANDIDATES,
)
from thinkgate.domain.graph import Graph
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES
from thinkgate.domain.route import evaluation_failed, route_decision
from thinkgate.domain.state import SessionState
from thinkgate.domain.verification import CRITICALITIES, Policy
from thinkgate.errors import InvalidInput


def session_policy(state: SessionState | None) -> Policy:
    """The session's verification policy (the defaults until one is set)."""
    if state is None or state.ledger.policy is None:
        return Policy()
    return Policy.from_wire(state.ledger.policy)


def session_profile(state: SessionState | None, profile: str | None) -> str:
    """The governance profile: the one asked for, else the deliberation's, else ``balanced``."""
    if profile is not None:
        if profile not in GOVERNANCE_PROFILES:
            raise InvalidInput(f"profile {profile!r} is unknown; use one of {', '.join(GOVERNANCE_PROFILES)}")
        return profile
    deliberation = state.graph.deliberation if state is not None else None
    return deliberation.profile if deliberation is not None else "balanced"


def _frontier_candidates(graph: Graph) -> list[str]:
    """The frontier's nodes, best scored first (at most ``MAX_CANDIDATES``)."""
    nodes = graph.nodes
    ranked = sorted(graph.frontier_ids(), key=lambda n: (-(nodes[n].score or 0.0), int(n[1:])))
    return [n for n in ranked if nodes[n].kind != "root"][:MAX_CANDIDATES]


@dataclass(slots=True)
class _Gov:
    ctx: _Ctx
    calibrations: Mapping[str, Any]  # profile -> fitted map (``apply``, ``to_dict``)
    constraints: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    @property
    def state(self) -> SessionState:
        assert self.ctx.state is not None
        return self.ctx.state

    def route(self, state: SessionState, profile: str) -> dict[str, Any]:
        fitted = self.calibrations.get(profile)
        try:
            policy = session_policy(state)
        except Exception as exc:  # a ledger that cannot be read blocks; it never passes
            return evaluation_failed(exc, Policy(), profile)
        return route_decision(
            state,
            policy=policy,
            profile=profile,
            calibrate=fitted.apply if fitted is not None else None,
            calibration=fitted.to_dict() if fitted is not None else None,
        )


def _clean_id(value: str, name: str) -> str:
    if not ID_PATTERN.match(value):
        raise InvalidInput(f"{name} {value!r} must be 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def _criticality(value: str) -> str:
    if value not in CRITICALITIES:
        raise InvalidInput(f"criticality {value!r} is unknown; use one of {', '.join(CRITICALITIES)}")
    return value


def _thoughts(gov: _Gov, ids: Sequence[str]) -> list[str]:
    for nid in ids:
        gov.ctx.node(nid, "thoughtIds entry")
    return list(dict.fromkeys(ids))


def _next_id(prefix: str, count: int, taken: Mapping[str, Any]) -> tuple[str, int]:
    n = count + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}", n


def _route_brief(route: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("decision", "confidence", "rationale", "blockingGaps", "profile")
    return {k: route[k] for k in keys}


def _decision_record(gov: _Gov, op: str, route: Mapping[str, Any]) -> dict[str, Any]:
    ledger = gov.state.ledger
    return {"decisionId": f"d{ledger.decision_count + 1}", "op": op, "route": dict(route)}
