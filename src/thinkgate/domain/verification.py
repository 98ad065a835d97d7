"""Claim statuses: the verification contract (DESIGN.md section 5), as pure functions.

A claim's evidence items each carry the result of their check (``check``, ``tier``, ``group``;
see ``thinkgate.evidence``). What *counts*:

- an item whose check ``passed`` (tier 1: a file quote found, a calculation that holds, an
  allow-listed command that exited as expected);
- a ``url`` item (never fetched, tier at best 2), and tier-3 items (``text``, a url declared
  tier 3) only when the policy's ``allowTier3`` is on.

A ``file``, ``calc`` or ``command`` item whose check failed or did not run counts for nothing; it
is reported with its reason. Statuses, first match wins:

1. ``refuted``: a passed check refutes the claim and no passed check supports it;
2. ``source_conflict``: counting evidence both supports and refutes it;
3. ``verified``: a passed check supports it; or counting support comes from at least
   ``minIndependentGroups`` distinct groups (not enough for a ``critical`` claim while
   ``requireCheckedForCritical`` is on);
4. ``data_deficit``: everything else, including no evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from thinkgate.errors import InvalidInput

__all__ = [
    "CHECKABLE_KINDS",
    "CLAIM_STATUSES",
    "CRITICALITIES",
    "DEFAULT_POLICY",
    "EVIDENCE_KINDS",
    "POLICY_RANGES",
    "ClaimVerdict",
    "Policy",
    "claim_verdict",
    "counts",
]

CRITICALITIES = ("critical", "high", "medium", "low")
CLAIM_STATUSES = ("refuted", "source_conflict", "verified", "data_deficit")
EVIDENCE_KINDS = ("file", "calc", "command", "url", "text")
CHECKABLE_KINDS = frozenset({"file", "calc", "command"})
POLICY_RANGES = {"minIndependentGroups": (1, 8)}


class Policy(NamedTuple):
    """How strict verification is (a session's default, or a per-call override)."""

    min_independent_groups: int = 2
    allow_tier3: bool = False
    require_checked_for_critical: bool = True
    fail_closed: bool = True

    def to_wire(self) -> dict[str, Any]:
        """The policy as the tools show it (camelCase)."""
        return {
            "minIndependentGroups": self.min_independent_groups,
            "allowTier3": self.allow_tier3,
            "requireCheckedForCritical": self.require_checked_for_critical,
            "failClosed": self.fail_closed,
        }

    def updated(self, changes: Mapping[str, Any]) -> Policy:
        """This policy with the camelCase ``changes`` applied (unknown or out-of-range ones refused).

        Raises:
            InvalidInput: an unknown field, a wrong type, or ``minIndependentGroups`` outside 1-8.
        """
        values = self.to_wire()
        for name, value in changes.items():
            if name not in values:
                raise InvalidInput(f"unknown policy field {name!r}; known: {', '.join(sorted(values))}")
            if name == "minIndependentGroups":
                low, high = POLICY_RANGES[name]
                if type(value) is not int or not low <= value <= high:
                    raise InvalidInput(f"minIndependentGroups must be an integer from {low} to {high}")
            elif type(value) is not bool:
                raise InvalidInput(f"policy field {name!r} must be true or false")
            values[name] = value
        return Policy(
            values["minIndependentGroups"],
            values["allowTier3"],
            values["requireCheckedForCritical"],
            values["failClosed"],
        )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> Policy:
        """A policy from its wire form (missing fields take the defaults)."""
        return DEFAULT_POLICY.updated(data or {})


DEFAULT_POLICY = Policy()


class ClaimVerdict(NamedTuple):
    """A claim's status and what it rests on."""

    status: str
    reason: str
    support_groups: tuple[str, ...]  # distinct groups of counting supporting evidence
    refute_groups: tuple[str, ...]
    checked_support: bool
    checked_refute: bool


def counts(item: Mapping[str, Any], policy: Policy) -> bool:
    """Whether an evidence item (with its check result) counts towards a status."""
    if item.get("check") == "passed":
        return True
    if item.get("check") == "failed" or item.get("kind") in CHECKABLE_KINDS:
        return False  # failed, or a checkable kind not checked: counts for nothing
    tier = item.get("tier", 3)
    return tier <= 2 or policy.allow_tier3


def claim_verdict(evidence: Iterable[Mapping[str, Any]], criticality: str, policy: Policy) -> ClaimVerdict:
    """The status of a claim with ``evidence`` under ``policy`` (first matching rule wins)."""
    support: dict[str, None] = {}
    refute: dict[str, None] = {}
    checked_support = checked_refute = False
    for item in evidence:
        if not counts(item, policy):
            continue
        passed = item.get("check") == "passed"
        if item.get("stance") == "refutes":
            refute[str(item.get("group", ""))] = None
            checked_refute = checked_refute or passed
        else:
            support[str(item.get("group", ""))] = None
            checked_support = checked_support or passed
    groups, against = tuple(support), tuple(refute)

    def verdict(status: str, reason: str) -> ClaimVerdict:
        return ClaimVerdict(status, reason, groups, against, checked_support, checked_refute)

    if checked_refute and not checked_support:
        return verdict("refuted", "a passed check refutes it and no passed check supports it")
    if groups and against:
        return verdict(
            "source_conflict",
            f"supporting evidence from {_n(len(groups), 'group')} and refuting evidence from "
            f"{_n(len(against), 'group')}",
        )
    if checked_support:
        return verdict("verified", "a passed check supports it")
    needed = policy.min_independent_groups
    if len(groups) >= needed:
        if criticality == "critical" and policy.require_checked_for_critical:
            return verdict(
                "data_deficit",
                f"supported by {_n(len(groups), 'independent group')}, but a critical claim needs a passed check "
                "(file, calc or command evidence) while requireCheckedForCritical is on",
            )
        return verdict("verified", f"supported by {_n(len(groups), 'independent group')} (policy needs {needed})")
    if not groups:
        return verdict("data_deficit", "no counting supporting evidence (failed and unchecked items count for nothing)")
    return verdict(
        "data_deficit",
        f"supported by {_n(len(groups), 'independent group')}; the policy needs {needed} or a passed check",
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
