"""A session's verification ledger: claims with their checked evidence, assumptions, the policy,
submitted critiques, and the decisions, checkpoints and outcomes recorded so far.

Records are the JSON-safe dicts the events carry (camelCase, as the tools show them) and are
never mutated: an update replaces a record. The ledger survives a history clear (claims are
about the task, not about the thoughts that led to them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from immutables import Map

__all__ = ["KEPT", "Ledger", "record_bytes"]

KEPT = 256  # decisions, checkpoints and outcomes kept in the state (all of them stay in the log)

_NO_RECORDS: Map[str, Mapping[str, Any]] = Map()


class Ledger(NamedTuple):
    """The verification side of a session's state."""

    claims: Map[str, Mapping[str, Any]] = _NO_RECORDS  # claim id -> record (with ``evidence``)
    claim_count: int = 0  # claims ever added (numbers ``c1``, ``c2``, … and orders them)
    evidence_count: int = 0  # evidence items ever added (``e1``, ``e2``, …)
    assumptions: Map[str, Mapping[str, Any]] = _NO_RECORDS
    assumption_count: int = 0
    policy: Mapping[str, Any] | None = None  # the session's policy (wire form); None: the defaults
    critiques: Map[str, Mapping[str, Any]] = _NO_RECORDS  # governance stage -> the agent's latest critique
    decisions: tuple[Mapping[str, Any], ...] = ()  # the latest KEPT recorded route decisions
    decision_count: int = 0
    checkpoints: tuple[Mapping[str, Any], ...] = ()  # the latest KEPT checkpoints
    checkpoint_count: int = 0
    outcomes: tuple[Mapping[str, Any], ...] = ()  # the latest KEPT outcomes
    outcome_count: int = 0
    evidence_held: int = 0  # evidence items in ``claims`` now, kept up to date (approx_size is O(1))
    kept_bytes: int = 0  # estimated size of the kept decisions and checkpoints, kept up to date

    @property
    def empty(self) -> bool:
        return self == _EMPTY

    def ordered_claims(self) -> list[Mapping[str, Any]]:
        """Claims in the order they were first added."""
        return sorted(self.claims.values(), key=lambda c: int(c["n"]))

    def ordered_assumptions(self) -> list[Mapping[str, Any]]:
        """Assumptions in the order they were recorded."""
        return sorted(self.assumptions.values(), key=lambda a: int(a["n"]))

    def decision(self, decision_id: str) -> Mapping[str, Any] | None:
        """A kept decision by id."""
        for record in reversed(self.decisions):
            if record["decisionId"] == decision_id:
                return dict(record)
        return None

    def approx_size(self) -> int:
        """A rough, high byte count, in O(1): it runs on every write to the session (cache accounting).

        Measured with tracemalloc (bench.governance): a claim ~1 KB plus ~1.5 KB per evidence
        item, an assumption ~0.5 KB, a recorded decision or checkpoint ~4 KB (they keep the
        route's gaps, at most ``route.KEPT_ISSUES`` open issues and no per-claim list): see
        ``record_bytes``.
        """
        return (
            1000 * len(self.claims)
            + 1500 * self.evidence_held
            + 500 * len(self.assumptions)
            + self.kept_bytes
            + 8000 * len(self.critiques)
            + 300 * len(self.outcomes)
        )

    def entries(self) -> int:
        """Roughly how many records a snapshot of the ledger encodes (for spacing snapshots)."""
        return (
            len(self.claims)
            + self.evidence_held
            + len(self.assumptions)
            + 8 * (len(self.decisions) + len(self.checkpoints))
        )

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-safe form (claims and assumptions in order, so equal ledgers give equal dicts)."""
        return {
            "claims": [dict(c) for c in self.ordered_claims()],
            "claim_count": self.claim_count,
            "evidence_count": self.evidence_count,
            "assumptions": [dict(a) for a in self.ordered_assumptions()],
            "assumption_count": self.assumption_count,
            "policy": dict(self.policy) if self.policy is not None else None,
            "critiques": {k: dict(self.critiques[k]) for k in sorted(self.critiques.keys())},
            "decisions": [dict(d) for d in self.decisions],
            "decision_count": self.decision_count,
            "checkpoints": [dict(c) for c in self.checkpoints],
            "checkpoint_count": self.checkpoint_count,
            "outcomes": [dict(o) for o in self.outcomes],
            "outcome_count": self.outcome_count,
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Ledger:
        """Rebuild from ``to_snapshot`` output.

        Raises:
            ValueError: ``data`` is malformed.
        """
        try:
            return cls(
                Map({str(c["id"]): c for c in data["claims"]}),
                int(data["claim_count"]),
                int(data["evidence_count"]),
                Map({str(a["id"]): a for a in data["assumptions"]}),
                int(data["assumption_count"]),
                data["policy"],
                Map(dict(data["critiques"])),
                tuple(data["decisions"]),
                int(data["decision_count"]),
                tuple(data["checkpoints"]),
                int(data["checkpoint_count"]),
                tuple(data["outcomes"]),
                int(data["outcome_count"]),
                sum(len(c["evidence"]) for c in data["claims"]),
                sum(record_bytes(r) for r in (*data["decisions"], *data["checkpoints"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"snapshot ledger is malformed: {exc}") from exc

    def updated(
        self,
        *,
        claims: tuple[Mapping[str, Any], ...] = (),
        assumptions: tuple[Mapping[str, Any], ...] = (),
        policy: Mapping[str, Any] | None = None,
        critiques: tuple[Mapping[str, Any], ...] = (),
        decision: Mapping[str, Any] | None = None,
        checkpoint: Mapping[str, Any] | None = None,
        outcome: Mapping[str, Any] | None = None,
    ) -> Ledger:
        """The ledger after one ``ledger_updated`` event (records replace those with the same id)."""
        claim_map, claim_count, evidence_count = self.claims, self.claim_count, self.evidence_count
        held = self.evidence_held
        for claim in claims:
            before = claim_map.get(str(claim["id"]))
            held += len(claim["evidence"]) - (len(before["evidence"]) if before is not None else 0)
            claim_map = claim_map.set(str(claim["id"]), claim)
            claim_count = max(claim_count, int(claim["n"]))
            for item in claim["evidence"]:
                evidence_count = max(evidence_count, int(str(item["evidenceId"])[1:]))
        assumption_map, assumption_count = self.assumptions, self.assumption_count
        for record in assumptions:
            assumption_map = assumption_map.set(str(record["id"]), record)
            assumption_count = max(assumption_count, int(record["n"]))
        critique_map = self.critiques
        for critique in critiques:
            critique_map = critique_map.set(str(critique["stage"]), critique)
        kept = self.kept_bytes
        decisions, decision_count = self.decisions, self.decision_count
        if decision is not None:
            kept += record_bytes(decision) - (record_bytes(decisions[0]) if len(decisions) >= KEPT else 0)
            decisions, decision_count = (*decisions, decision)[-KEPT:], decision_count + 1
        checkpoints, checkpoint_count = self.checkpoints, self.checkpoint_count
        if checkpoint is not None:
            kept += record_bytes(checkpoint) - (record_bytes(checkpoints[0]) if len(checkpoints) >= KEPT else 0)
            checkpoints, checkpoint_count = (*checkpoints, checkpoint)[-KEPT:], checkpoint_count + 1
        outcomes, outcome_count = self.outcomes, self.outcome_count
        if outcome is not None:
            outcomes, outcome_count = (*outcomes, outcome)[-KEPT:], outcome_count + 1
            # The decision remembers its outcome (one outcome per decision, however many follow).
            decisions = tuple(
                {**d, "outcome": outcome["outcome"]} if d["decisionId"] == outcome["decisionId"] else d
                for d in decisions
            )
        return Ledger(
            claim_map,
            claim_count,
            evidence_count,
            assumption_map,
            assumption_count,
            self.policy if policy is None else policy,
            critique_map,
            decisions,
            decision_count,
            checkpoints,
            checkpoint_count,
            outcomes,
            outcome_count,
            held,
            kept,
        )


def record_bytes(record: Mapping[str, Any]) -> int:
    """A high estimate of a kept decision's or checkpoint's memory: a base plus each gap and issue.

    Measured with tracemalloc (bench.governance): ~2-4 KB for a decision with few gaps, and
    ~150-250 B per listed gap or issue.
    """
    route = record.get("route", record)
    listed = len(route.get("blockingGaps", ())) + len(route.get("openIssues", ()))
    return 4000 + 300 * listed


_EMPTY = Ledger()
