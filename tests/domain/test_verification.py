"""Claim statuses (DESIGN.md section 5): every rule by a table, and the exact monotone properties (Hypothesis).

The monotone properties the code guarantees, stated exactly. Rank the statuses
``refuted`` 0, ``data_deficit`` 1, ``source_conflict`` 1, ``verified`` 2:

- adding a counting *supporting* item never lowers the rank, never makes a claim ``refuted``,
  and keeps ``verified`` and ``source_conflict`` as they are;
- adding a counting *refuting* item never raises the rank, never makes a claim ``verified``,
  and keeps ``refuted`` as it is.

``data_deficit`` and ``source_conflict`` cannot be ordered: adding support to a claim whose only
refutation is declared (a url) turns ``data_deficit`` into ``source_conflict``, and so does adding
a declared refutation to a claim with too little support. The naive order
refuted < source_conflict < data_deficit < verified is therefore *not* monotone in support; a
test below shows the counterexample.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinkgate.domain.verification import (
    CHECKABLE_KINDS,
    CLAIM_STATUSES,
    CRITICALITIES,
    Policy,
    claim_verdict,
    counts,
)
from thinkgate.errors import InvalidInput

RANK = {"refuted": 0, "data_deficit": 1, "source_conflict": 1, "verified": 2}
GROUPS = ("repo:/w/a", "repo:/w/b", "calc", "command:pytest", "domain:a.com", "domain:b.org", "source:x", "")


def ev(kind: str, stance: str, check: str, tier: int, group: str, *, error: bool = False) -> dict[str, Any]:
    """An evidence record as the ledger keeps it (the locator fields do not matter here)."""
    return {"kind": kind, "stance": stance, "check": check, "tier": tier, "group": group, "error": error}


def passed(stance: str = "supports", group: str = "repo:/w/a", kind: str = "file") -> dict[str, Any]:
    return ev(kind, stance, "passed", 1, group)


def url(stance: str = "supports", group: str = "domain:a.com", tier: int = 2) -> dict[str, Any]:
    return ev("url", stance, "not_checked", tier, group)


def text(stance: str = "supports", group: str = "source:x") -> dict[str, Any]:
    return ev("text", stance, "not_checked", 3, group)


def failed(stance: str = "supports", group: str = "repo:/w/a", kind: str = "file") -> dict[str, Any]:
    return ev(kind, stance, "failed", 3, group)


def unchecked(stance: str = "supports", group: str = "repo:/w/a", kind: str = "command") -> dict[str, Any]:
    return ev(kind, stance, "not_checked", 3, group)


DEFAULT = Policy()
ONE_GROUP = Policy(min_independent_groups=1)
TIER3 = Policy(allow_tier3=True)
LAX_CRITICAL = Policy(require_checked_for_critical=False)

# (name, evidence, criticality, policy, expected status)
RULES: list[tuple[str, list[dict[str, Any]], str, Policy, str]] = [
    # 1. refuted: a passed check refutes and no passed check supports (first rule: wins over conflict)
    ("passed refutation alone", [passed("refutes")], "medium", DEFAULT, "refuted"),
    (
        "passed refutation beats declared support",
        [passed("refutes"), url(), url(group="domain:b.org")],
        "low",
        DEFAULT,
        "refuted",
    ),
    ("passed calc refutation", [passed("refutes", "calc", "calc")], "critical", DEFAULT, "refuted"),
    ("passed refutation with failed support", [passed("refutes"), failed()], "high", DEFAULT, "refuted"),
    # 2. source_conflict: counting support and counting refutation
    ("passed both ways", [passed(), passed("refutes", "calc", "calc")], "medium", DEFAULT, "source_conflict"),
    ("declared both ways", [url(), url("refutes", "domain:b.org")], "medium", DEFAULT, "source_conflict"),
    ("passed support, declared refutation", [passed(), url("refutes")], "low", DEFAULT, "source_conflict"),
    ("one declared support is enough for a conflict", [url(), url("refutes")], "high", DEFAULT, "source_conflict"),
    ("tier-3 both ways when allowed", [text(), text("refutes", "source:y")], "low", TIER3, "source_conflict"),
    # 3. verified
    ("a passed supporting check", [passed()], "medium", DEFAULT, "verified"),
    (
        "a passed check verifies a critical claim",
        [passed(kind="command", group="command:pytest")],
        "critical",
        DEFAULT,
        "verified",
    ),
    ("two declared groups", [url(), url(group="domain:b.org")], "high", DEFAULT, "verified"),
    ("one declared group when the policy needs one", [url()], "medium", ONE_GROUP, "verified"),
    ("tier-3 groups count when allowed", [text(), text(group="source:y")], "medium", TIER3, "verified"),
    (
        "declared groups verify a critical claim when checks are not required",
        [url(), url(group="domain:b.org")],
        "critical",
        LAX_CRITICAL,
        "verified",
    ),
    ("a declared refutation that failed is ignored", [passed(), failed("refutes")], "medium", DEFAULT, "verified"),
    # 4. data_deficit
    ("no evidence", [], "medium", DEFAULT, "data_deficit"),
    ("only failed evidence", [failed(), failed(kind="calc", group="calc")], "medium", DEFAULT, "data_deficit"),
    (
        "unchecked checkable kinds count for nothing",
        [unchecked(), unchecked(kind="file", group="repo:/w/b")],
        "low",
        ONE_GROUP,
        "data_deficit",
    ),
    ("one declared group of two needed", [url()], "medium", DEFAULT, "data_deficit"),
    ("two urls of one domain are one group", [url(), url()], "medium", DEFAULT, "data_deficit"),
    ("tier-3 is ignored by default", [text(), text(group="source:y")], "medium", DEFAULT, "data_deficit"),
    (
        "a url declared tier 3 is ignored by default",
        [url(tier=3), url(group="domain:b.org", tier=3)],
        "medium",
        DEFAULT,
        "data_deficit",
    ),
    ("a critical claim needs a passed check", [url(), url(group="domain:b.org")], "critical", DEFAULT, "data_deficit"),
    ("a declared refutation alone is not a refutation", [url("refutes")], "medium", DEFAULT, "data_deficit"),
    ("failed refutation, no support", [failed("refutes")], "medium", DEFAULT, "data_deficit"),
    (
        "three groups needed",
        [url(), url(group="domain:b.org")],
        "medium",
        Policy(min_independent_groups=3),
        "data_deficit",
    ),
]


@pytest.mark.parametrize(("name", "evidence", "criticality", "policy", "expected"), RULES, ids=[r[0] for r in RULES])
def test_each_status_rule_gives_its_status(
    name: str, evidence: list[dict[str, Any]], criticality: str, policy: Policy, expected: str
) -> None:
    verdict = claim_verdict(evidence, criticality, policy)
    assert verdict.status == expected, f"{name}: {verdict}"
    assert verdict.reason


def test_every_status_is_reached_by_some_rule() -> None:
    assert {r[4] for r in RULES} == set(CLAIM_STATUSES)


def test_verdict_reports_distinct_groups_and_whether_checks_passed() -> None:
    verdict = claim_verdict(
        [url(), url(), passed(group="repo:/w/b"), url("refutes", "domain:b.org"), failed("refutes")],
        "medium",
        DEFAULT,
    )
    assert verdict.support_groups == ("domain:a.com", "repo:/w/b")
    assert verdict.refute_groups == ("domain:b.org",)
    assert verdict.checked_support and not verdict.checked_refute


def test_critical_claim_reason_names_the_missing_passed_check() -> None:
    verdict = claim_verdict([url(), url(group="domain:b.org")], "critical", DEFAULT)
    assert "requireCheckedForCritical" in verdict.reason


def test_adding_support_to_a_declared_refutation_gives_source_conflict_not_verified() -> None:
    before = claim_verdict([url("refutes")], "medium", DEFAULT)
    after = claim_verdict([url("refutes"), passed()], "medium", DEFAULT)
    assert (before.status, after.status) == ("data_deficit", "source_conflict")


def test_policy_rejects_unknown_fields_and_out_of_range_groups() -> None:
    for bad in (
        {"minIndependentGroups": 0},
        {"minIndependentGroups": 9},
        {"minIndependentGroups": True},
        {"allowTier3": 1},
        {"nope": True},
    ):
        with pytest.raises(InvalidInput):
            Policy.from_wire(bad)
    assert Policy.from_wire({"minIndependentGroups": 8}).min_independent_groups == 8
    assert Policy.from_wire(None) == Policy()
    assert Policy.from_wire(Policy(3, True, False, False).to_wire()) == Policy(3, True, False, False)


# -- Hypothesis ----------------------------------------------------------------------------------

groups = st.sampled_from(GROUPS)
stances = st.sampled_from(["supports", "refutes"])


@st.composite
def items(draw: Any, stance: st.SearchStrategy[str] = stances) -> dict[str, Any]:
    """An evidence record with a check result check_evidence could have produced."""
    kind = draw(st.sampled_from(["file", "calc", "command", "url", "text"]))
    side = draw(stance)
    group = draw(groups)
    if kind in CHECKABLE_KINDS:
        check = draw(st.sampled_from(["passed", "failed", "not_checked"]))
        return ev(kind, side, check, 1 if check == "passed" else 3, group)
    if kind == "url":
        if draw(st.integers(0, 9)) == 0:
            return ev(kind, side, "failed", 3, group)  # malformed
        return ev(kind, side, "not_checked", draw(st.sampled_from([2, 3])), group)
    return ev(kind, side, "failed" if draw(st.integers(0, 9)) == 0 else "not_checked", 3, group)


policies = st.builds(Policy, st.integers(1, 4), st.booleans(), st.booleans(), st.booleans())
criticalities = st.sampled_from(CRITICALITIES)
evidence_lists = st.lists(items(), max_size=10)


def counting(policy: Policy, stance: str) -> st.SearchStrategy[dict[str, Any]]:
    return items(st.just(stance)).filter(lambda e: counts(e, policy))


def not_counting(policy: Policy) -> st.SearchStrategy[dict[str, Any]]:
    return items().filter(lambda e: not counts(e, policy))


def canonical(item: dict[str, Any]) -> dict[str, Any]:
    """A counting item reduced to what the status may depend on: stance, group, passed or not."""
    if item["check"] == "passed":
        return ev("calc", item["stance"], "passed", 1, item["group"])
    return ev("url", item["stance"], "not_checked", 2, item["group"])


@given(evidence_lists, criticalities, policies, st.randoms(use_true_random=False))
def test_status_is_a_function_of_the_counting_evidence_alone(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy, rnd: Any
) -> None:
    verdict = claim_verdict(evidence, criticality, policy)
    kept = [e for e in evidence if counts(e, policy)]
    assert claim_verdict(kept, criticality, policy) == verdict
    # Order and repetition do not matter (groups are a set; the tuple keeps first-seen order).
    shuffled = kept + kept
    rnd.shuffle(shuffled)
    again = claim_verdict(shuffled, criticality, policy)
    assert again.status == verdict.status
    assert set(again.support_groups) == set(verdict.support_groups)
    assert set(again.refute_groups) == set(verdict.refute_groups)
    # Only stance, group and whether the check passed matter, not the kind, tier or reason.
    assert claim_verdict([canonical(e) for e in kept], criticality, policy).status == verdict.status


@given(evidence_lists, criticalities, policies, st.data())
def test_evidence_that_does_not_count_never_changes_the_verdict(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy, data: st.DataObject
) -> None:
    noise = data.draw(st.lists(not_counting(policy), min_size=1, max_size=5))
    mixed = list(evidence)
    for item in noise:
        mixed.insert(data.draw(st.integers(0, len(mixed))), item)
    assert claim_verdict(mixed, criticality, policy) == claim_verdict(evidence, criticality, policy)


@given(evidence_lists, criticalities, policies, st.data())
def test_failed_or_unchecked_checkable_evidence_never_changes_the_status(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(CHECKABLE_KINDS)))
    check = data.draw(st.sampled_from(["failed", "not_checked"]))
    extra = ev(kind, data.draw(stances), check, data.draw(st.sampled_from([1, 2, 3])), data.draw(groups))
    assert not counts(extra, policy)
    assert claim_verdict([*evidence, extra], criticality, policy) == claim_verdict(evidence, criticality, policy)


@given(evidence_lists, criticalities, policies, st.data())
def test_adding_counting_support_never_lowers_the_status(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy, data: st.DataObject
) -> None:
    before = claim_verdict(evidence, criticality, policy)
    after = claim_verdict([*evidence, data.draw(counting(policy, "supports"))], criticality, policy)
    assert RANK[after.status] >= RANK[before.status]
    assert after.status != "refuted" or before.status == "refuted"
    if before.status in ("verified", "source_conflict"):
        assert after.status == before.status
    if before.status == "refuted":
        assert after.status in ("refuted", "source_conflict")
    assert set(after.support_groups) >= set(before.support_groups)
    assert after.refute_groups == before.refute_groups


@given(evidence_lists, criticalities, policies, st.data())
def test_adding_a_counting_refutation_never_raises_the_status(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy, data: st.DataObject
) -> None:
    before = claim_verdict(evidence, criticality, policy)
    after = claim_verdict([*evidence, data.draw(counting(policy, "refutes"))], criticality, policy)
    assert RANK[after.status] <= RANK[before.status]
    assert after.status != "verified"
    if before.status == "refuted":
        assert after.status == "refuted"
    if before.status in ("verified", "source_conflict"):
        assert after.status in ("source_conflict", "refuted")
    assert after.support_groups == before.support_groups


@given(evidence_lists, criticalities, policies)
def test_without_counting_refutation_support_only_moves_from_deficit_to_verified(
    evidence: list[dict[str, Any]], criticality: str, policy: Policy
) -> None:
    supports = [e for e in evidence if e["stance"] == "supports"]
    statuses = [claim_verdict(supports[:i], criticality, policy).status for i in range(len(supports) + 1)]
    assert set(statuses) <= {"data_deficit", "verified"}
    # Once verified, more support keeps it verified.
    first = statuses.index("verified") if "verified" in statuses else len(statuses)
    assert all(s == "verified" for s in statuses[first:])


@given(evidence_lists, policies)
def test_criticality_only_matters_for_critical_claims_without_a_passed_check(
    evidence: list[dict[str, Any]], policy: Policy
) -> None:
    verdicts = {c: claim_verdict(evidence, c, policy) for c in CRITICALITIES}
    assert verdicts["high"] == verdicts["medium"] == verdicts["low"]
    if verdicts["critical"] != verdicts["medium"]:
        assert policy.require_checked_for_critical
        assert (verdicts["critical"].status, verdicts["medium"].status) == ("data_deficit", "verified")
        assert not verdicts["critical"].checked_support


@given(evidence_lists, criticalities, policies)
def test_tighter_policies_never_verify_more(evidence: list[dict[str, Any]], criticality: str, policy: Policy) -> None:
    """Needing more groups, disallowing tier 3 or requiring checks for critical claims never adds a verification."""
    verified = claim_verdict(evidence, criticality, policy).status == "verified"
    stricter = [
        policy._replace(min_independent_groups=min(8, policy.min_independent_groups + 1)),
        policy._replace(require_checked_for_critical=True),
    ]
    for strict in stricter:
        if claim_verdict(evidence, criticality, strict).status == "verified":
            assert verified, strict
