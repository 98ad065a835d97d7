"""The route decision: band edges, every blocking condition, monotone confidence, fail closed (Hypothesis).

Sessions are built the way the engine builds them: commands decided by ``thinking.decide`` with
synthetic check results (what ``check_evidence`` returns), their events applied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from immutables import Map

from thinkgate.domain.calibration import CalibrationMap
from thinkgate.domain.deliberation import AddThought, LinkThoughts, PruneThoughts, ScoreThoughts, StartDeliberation
from thinkgate.domain.events import DeliberationStarted, Event, GraphUpdated
from thinkgate.domain.governance import (
    AddEvidence,
    ClaimIn,
    RecordAssumption,
    RunPipeline,
    SetAssumptionStatus,
    SetPolicy,
    VerifyClaims,
    session_policy,
)
from thinkgate.domain.ledger import Ledger
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGES
from thinkgate.domain.route import ASSUMPTION_FACTORS, BANDS, band, confidence_factors, route_decision
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.thinking import Limits, decide
from thinkgate.domain.verification import CRITICALITIES, Policy
from thinkgate.errors import ThinkGateError

LIMITS = Limits(max_thought_bytes=4096, max_thoughts_per_session=400)
NOW = "2026-11-26T00:00:00.000Z"
PROFILES = tuple(GOVERNANCE_PROFILES)
DECISIONS = {"blocked", "do_not_proceed", *(name for _, name in BANDS)}
GROUPS = ("repo:/w/a", "repo:/w/b", "calc", "command:pytest", "domain:a.com", "domain:b.org", "source:x")


# -- building sessions through decide -------------------------------------------------------------


def result(check: str, tier: int, group: str, *, error: bool = False, reason: str = "r") -> dict[str, Any]:
    """A check result as ``check_evidence`` returns it (``CheckResult._asdict()``)."""
    return {"check": check, "reason": reason, "tier": tier, "group": group, "details": {}, "error": error}


def item(kind: str, stance: str = "supports") -> dict[str, Any]:
    return {"kind": kind, "stance": stance}


def texts_of(events: list[Event]) -> dict[str, str]:
    out: dict[str, str] = {}
    for event in events:
        if isinstance(event, DeliberationStarted):
            out[str(event.root["id"])] = str(event.root["content"])
        elif isinstance(event, GraphUpdated):
            out.update((str(n["id"]), str(n["content"])) for n in event.nodes)
    return out


class Session:
    """A session built command by command (refused commands leave it as it was)."""

    def __init__(self, profile: str = "balanced") -> None:
        start = StartDeliberation("Pick a queue for billing", constraints=("latency budget",), profile=profile)
        self.events: list[Event] = list(decide(None, start, session_id="s", now=NOW, limits=LIMITS).events)
        state = None
        for event in self.events:
            state = apply(state, event)
        assert state is not None
        self.state: SessionState = state

    def run(self, command: Any, calibration: dict[str, Any] | None = None) -> bool:
        """Decide and apply ``command``; False when it was refused or answered without writing."""
        try:
            decision = decide(
                self.state,
                command,
                session_id="s",
                now=NOW,
                limits=LIMITS,
                texts=texts_of(self.events),
                calibration=calibration,
            )
        except ThinkGateError:
            return False
        if decision.answer is not None or decision.replay_of is not None:
            return False
        for event in decision.events:
            self.state = apply(self.state, event)
            self.events.append(event)
        return True

    def after(self, command: Any) -> SessionState | None:
        """The state ``command`` would lead to (None when refused); this session is unchanged."""
        try:
            decision = decide(self.state, command, session_id="s", now=NOW, limits=LIMITS, texts=texts_of(self.events))
        except ThinkGateError:
            return None
        state = self.state
        for event in decision.events:
            state = apply(state, event)
        return state

    def claim(
        self,
        evidence: list[tuple[dict[str, Any], dict[str, Any]]],
        criticality: str = "medium",
        claim_id: str | None = None,
        policy: dict[str, Any] | None = None,
    ) -> str:
        before = set(self.state.ledger.claims.keys())
        cmd = VerifyClaims(
            claims=(
                ClaimIn(
                    f"claim {len(before) + 1} about latency",
                    criticality,
                    claim_id,
                    evidence=tuple(i for i, _ in evidence),
                ),
            ),
            policy=tuple(sorted(policy.items())) if policy is not None else None,
            checks=(tuple(c for _, c in evidence),),
        )
        assert self.run(cmd)
        return claim_id or (set(self.state.ledger.claims.keys()) - before).pop()

    def assume(self, criticality: str, status: str) -> str:
        assert self.run(RecordAssumption(f"{criticality} assumption", criticality, status=status))
        return max(self.state.ledger.assumptions.keys(), key=lambda a: int(self.state.ledger.assumptions[a]["n"]))

    def route(self, profile: str = "balanced", policy: Policy | None = None, **kwargs: Any) -> dict[str, Any]:
        return route_decision(self.state, policy=policy or session_policy(self.state), profile=profile, **kwargs)


PASSED = (item("file"), result("passed", 1, "repo:/w/a"))
PASSED_CALC = (item("calc"), result("passed", 1, "calc"))
URL_A = (item("url"), result("not_checked", 2, "domain:a.com"))
URL_B = (item("url"), result("not_checked", 2, "domain:b.org"))
REFUTED = (item("calc", "refutes"), result("passed", 1, "calc"))


def constant(value: float) -> tuple[Any, dict[str, Any]]:
    """A calibration map that reports ``value`` whatever the raw confidence."""
    fitted = CalibrationMap(points=((0.5, value),), outcomes=30)
    return fitted.apply, fitted.to_dict()


# -- bands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (1.0, "proceed"),
        (0.95, "proceed"),
        (0.949999, "proceed_with_monitoring"),
        (0.85, "proceed_with_monitoring"),
        (0.849999, "proceed_with_caution"),
        (0.70, "proceed_with_caution"),
        (0.699999, "gather_more_data"),
        (0.50, "gather_more_data"),
        (0.499999, "do_not_proceed"),
        (0.0, "do_not_proceed"),
    ],
)
def test_band_edges_are_inclusive_from_below(confidence: float, expected: str) -> None:
    assert band(confidence) == expected


@pytest.mark.parametrize("confidence", [1.0, 0.95, 0.9499, 0.85, 0.8499, 0.7, 0.6999, 0.5, 0.4999, 0.0])
def test_route_decision_bands_the_confidence_it_reports(confidence: float) -> None:
    session = Session()
    session.claim([PASSED])
    calibrate, described = constant(confidence)
    route = session.route(calibrate=calibrate, calibration=described)
    assert route["confidence"] == confidence
    assert route["decision"] == band(confidence)
    assert route["calibration"]["applied"] is True and route["calibration"]["outcomes"] == 30


def test_a_confidence_just_below_a_band_edge_is_not_rounded_into_the_band_above() -> None:
    session = Session()
    session.claim([PASSED])
    calibrate, described = constant(0.949999)
    route = session.route(calibrate=calibrate, calibration=described)
    assert route["decision"] == "proceed_with_monitoring"


def test_a_session_with_one_verified_claim_and_nothing_else_proceeds_at_full_confidence() -> None:
    session = Session()
    session.claim([PASSED], "critical")
    route = session.route()
    assert (route["decision"], route["confidence"], route["rawConfidence"]) == ("proceed", 1.0, 1.0)
    assert route["blockingGaps"] == [] and route["calibration"] == {"applied": False}


def test_a_session_without_claims_has_confidence_one_half() -> None:
    route = Session().route()
    assert route["factors"]["claims"] == 0.5
    assert (route["decision"], route["confidence"]) == ("gather_more_data", 0.5)


# -- blocking conditions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "status"),
    [
        ([REFUTED], "refuted"),
        ([PASSED, REFUTED], "source_conflict"),
        ([URL_A, URL_B], "data_deficit"),
        ([], "data_deficit"),
    ],
)
def test_a_critical_claim_that_is_not_verified_blocks(evidence: list[Any], status: str) -> None:
    session = Session()
    session.claim([PASSED], "critical")
    cid = session.claim(evidence, "critical")
    route = session.route()
    assert route["decision"] == "blocked"
    assert [(g["kind"], g["id"], g["status"]) for g in route["blockingGaps"]] == [("claim", cid, status)]
    assert route["rationale"].startswith(f"blocked by 1 gap: critical claim {cid} is {status}")


@pytest.mark.parametrize("criticality", ["high", "medium", "low"])
def test_a_non_critical_claim_that_is_not_verified_is_an_open_issue_not_a_gap(criticality: str) -> None:
    session = Session()
    cid = session.claim([REFUTED], criticality)
    route = session.route()
    assert route["decision"] != "blocked"
    assert route["blockingGaps"] == []
    assert [i["id"] for i in route["openIssues"]] == [cid]


def test_a_critical_claim_does_not_block_when_the_policy_does_not_fail_closed() -> None:
    session = Session()
    cid = session.claim([], "critical")
    assert session.run(SetPolicy((("failClosed", False),)))
    route = session.route()
    assert route["decision"] == "do_not_proceed"
    assert [i["id"] for i in route["openIssues"]] == [cid]


def test_a_claims_own_policy_override_decides_whether_it_blocks() -> None:
    """A per-call policy override travels with the claim (here it turns fail-closed off for that claim)."""
    session = Session()
    session.claim([], "critical", policy={"failClosed": False})
    assert session.route()["decision"] != "blocked"
    session.claim([], "critical")
    assert session.route()["decision"] == "blocked"


@pytest.mark.parametrize("criticality", CRITICALITIES)
@pytest.mark.parametrize("status", ["open", "verified", "invalidated", "accepted_risk"])
def test_only_a_critical_or_high_assumption_open_or_invalidated_blocks(criticality: str, status: str) -> None:
    session = Session()
    session.claim([PASSED])
    aid = session.assume(criticality, status)
    route = session.route()
    blocks = criticality in ("critical", "high") and status in ("open", "invalidated")
    assert (route["decision"] == "blocked") is blocks
    if blocks:
        assert [(g["kind"], g["id"]) for g in route["blockingGaps"]] == [("assumption", aid)]
    elif status in ("open", "invalidated"):
        assert [i["id"] for i in route["openIssues"]] == [aid]
    assert route["factors"]["assumptions"] == ASSUMPTION_FACTORS[status][criticality]


def test_settling_a_blocking_assumption_unblocks() -> None:
    session = Session()
    session.claim([PASSED])
    aid = session.assume("critical", "open")
    assert session.route()["decision"] == "blocked"
    assert session.run(SetAssumptionStatus(aid, "accepted_risk", note="reviewed"))
    route = session.route()
    assert route["decision"] == band(route["confidence"]) != "blocked"
    assert route["factors"]["assumptions"] == ASSUMPTION_FACTORS["accepted_risk"]["critical"]


@pytest.mark.parametrize("profile", PROFILES)
def test_a_required_stage_without_a_critique_blocks_and_a_critique_unblocks(profile: str) -> None:
    session = Session()
    session.claim([PASSED])
    missing = [s for s in GOVERNANCE_PROFILES[profile]["requiredStages"] if STAGES[s]["kind"] == "critique"]
    route = session.route(profile)
    assert [g["id"] for g in route["blockingGaps"] if g["kind"] == "stage"] == missing
    assert (route["decision"] == "blocked") is bool(missing)
    assert session.run(RunPipeline(profile, critiques=tuple((s, f"my {s}") for s in missing))) or not missing
    assert session.route(profile)["decision"] != "blocked"


def test_a_missing_stage_is_an_open_issue_when_the_policy_does_not_fail_closed() -> None:
    session = Session()
    session.claim([PASSED])
    route = session.route("paranoid", Policy(fail_closed=False))
    assert route["decision"] != "blocked"
    assert {i["kind"] for i in route["openIssues"]} == {"stage"}


def raising_check() -> dict[str, Any]:
    """What the engine records when a checker raises: ``check_evidence`` fails closed with ``error=True``."""
    return result("failed", 3, "unknown", error=True, reason="checker error: OSError")


def test_a_checker_that_raised_blocks_even_when_the_policy_does_not_fail_closed() -> None:
    session = Session()
    session.claim([PASSED], "critical")
    cid = session.claim([PASSED_CALC, (item("file"), raising_check())], "low")
    assert session.run(SetPolicy((("failClosed", False),)))
    route = session.route()
    assert route["decision"] == "blocked"
    (gap,) = route["blockingGaps"]
    assert (gap["kind"], gap["claimId"]) == ("evaluation_error", cid)
    assert "checker error" in gap["reason"]


def test_an_exception_while_evaluating_is_a_gap_never_a_pass() -> None:
    session = Session()
    session.claim([PASSED])

    def broken(raw: float) -> float:
        raise ZeroDivisionError

    route = session.route(calibrate=broken, calibration={"points": []})
    assert route["decision"] == "blocked" and route["confidence"] == 0.0
    assert route["blockingGaps"] == [
        {"kind": "evaluation_error", "id": None, "reason": "ZeroDivisionError while evaluating"}
    ]
    assert route["calibration"] == {"applied": False}
    assert session.route(profile="nonexistent")["decision"] == "blocked"


# -- Hypothesis: monotone confidence ---------------------------------------------------------------

groups = st.sampled_from(GROUPS)


@st.composite
def checked_items(draw: Any, stance: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """An evidence item with a check result ``check_evidence`` could give it (never an error)."""
    kind = draw(st.sampled_from(["file", "calc", "command", "url", "text"]))
    side = stance or draw(st.sampled_from(["supports", "refutes"]))
    group = draw(groups)
    if kind in ("file", "calc", "command"):
        check = draw(st.sampled_from(["passed", "passed", "failed", "not_checked"]))
        return item(kind, side), result(check, 1 if check == "passed" else 3, group)
    if kind == "url":
        return item(kind, side), result("not_checked", draw(st.sampled_from([2, 2, 3])), group)
    return item(kind, side), result("not_checked", 3, group)


@st.composite
def counting_items(draw: Any, stance: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A counting item: a passed check (tier 1) or a url declared tier 1 or 2 (recorded as tier 2)."""
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["file", "calc", "command"]))
        return item(kind, stance), result("passed", 1, draw(groups))
    return item("url", stance), result("not_checked", 2, draw(groups))


policy_changes = st.fixed_dictionaries(
    {},
    optional={
        "minIndependentGroups": st.integers(1, 4),
        "allowTier3": st.booleans(),
        "requireCheckedForCritical": st.booleans(),
        "failClosed": st.booleans(),
    },
)


def node_ids(session: Session) -> list[str]:
    return sorted(session.state.graph.nodes, key=lambda n: session.state.graph.nodes[n].seq)


def step(draw: Any, session: Session) -> Any:
    """One random command against the session (some of them refused, which must change nothing)."""
    kind = draw(
        st.sampled_from(
            ["claim", "claim", "evidence", "assume", "status", "policy", "add", "add", "score", "link", "prune"]
        )
    )
    nodes = node_ids(session)
    claims = sorted(session.state.ledger.claims.keys())
    if kind == "claim":
        evidence = draw(st.lists(checked_items(), max_size=4))
        override = draw(st.none() | policy_changes) if draw(st.integers(0, 4)) == 0 else None
        return VerifyClaims(
            claims=(
                ClaimIn("latency claim", draw(st.sampled_from(CRITICALITIES)), evidence=tuple(i for i, _ in evidence)),
            ),
            policy=tuple(sorted(override.items())) if override else None,
            checks=(tuple(c for _, c in evidence),),
        )
    if kind == "evidence" and claims:
        evidence = draw(st.lists(checked_items(), min_size=1, max_size=3))
        return AddEvidence(
            draw(st.sampled_from(claims)), tuple(i for i, _ in evidence), checks=tuple(c for _, c in evidence)
        )
    if kind == "assume":
        return RecordAssumption(
            "an assumption",
            draw(st.sampled_from(CRITICALITIES)),
            status=draw(st.sampled_from(["open", "verified", "invalidated", "accepted_risk"])),
        )
    if kind == "status" and session.state.ledger.assumptions:
        return SetAssumptionStatus(
            draw(st.sampled_from(sorted(session.state.ledger.assumptions.keys()))),
            draw(st.sampled_from(["open", "verified", "invalidated", "accepted_risk"])),
        )
    if kind == "policy":
        return SetPolicy(tuple(sorted(draw(policy_changes).items())))
    if kind == "score":
        target = draw(st.sampled_from(nodes))
        return ScoreThoughts((target,), scores=((target, (("correctness", draw(st.floats(0, 1))),)),))
    if kind == "link" and len(nodes) > 1:
        a, b = draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2, unique=True))
        return LinkThoughts(a, b, draw(st.sampled_from(["conflicts", "conflicts", "supports"])))
    if kind == "prune" and len(nodes) > 1:
        return PruneThoughts(node_ids=(draw(st.sampled_from(nodes[1:])),))
    parent = draw(st.sampled_from(nodes))
    return AddThought("consider the queue latency", (parent,))


@st.composite
def sessions(draw: Any) -> Session:
    session = Session(draw(st.sampled_from(PROFILES)))
    for _ in range(draw(st.integers(0, 14))):
        session.run(step(draw, session))
    return session


@st.composite
def maps(draw: Any) -> CalibrationMap:
    """Any non-decreasing calibration map."""
    xs = sorted(set(draw(st.lists(st.floats(0, 1), min_size=1, max_size=6))))
    ys = sorted(draw(st.lists(st.floats(0, 1), min_size=len(xs), max_size=len(xs))))
    return CalibrationMap(points=tuple(zip(xs, ys, strict=True)), outcomes=draw(st.integers(30, 500)))


def confidences(state: SessionState, profile: str, fitted: CalibrationMap) -> tuple[float, float, float]:
    """(raw factor, reported uncalibrated, reported calibrated) under the session's own policy."""
    policy = session_policy(state)
    plain = route_decision(state, policy=policy, profile=profile)
    calibrated = route_decision(
        state, policy=policy, profile=profile, calibrate=fitted.apply, calibration=fitted.to_dict()
    )
    assert plain["decision"] in DECISIONS and calibrated["calibration"]["applied"] is True
    assert not any(g["kind"] == "evaluation_error" and g["id"] is None for g in plain["blockingGaps"])
    return confidence_factors(state, policy, profile)["raw"], plain["confidence"], calibrated["confidence"]


MONOTONE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@MONOTONE
@given(sessions(), st.sampled_from(PROFILES), maps(), st.data())
def test_adding_counting_support_to_any_claim_never_lowers_the_confidence(
    session: Session, profile: str, fitted: CalibrationMap, data: st.DataObject
) -> None:
    claims = sorted(session.state.ledger.claims.keys())
    if not claims:
        session.claim([data.draw(checked_items())], data.draw(st.sampled_from(CRITICALITIES)))
        claims = sorted(session.state.ledger.claims.keys())
    extra = data.draw(st.lists(counting_items("supports"), min_size=1, max_size=3))
    after = session.after(
        AddEvidence(data.draw(st.sampled_from(claims)), tuple(i for i, _ in extra), checks=tuple(c for _, c in extra))
    )
    if after is None:  # the claim is full (64 items)
        return
    before = confidences(session.state, profile, fitted)
    later = confidences(after, profile, fitted)
    assert all(b <= a for b, a in zip(before, later, strict=True)), (before, later)


@MONOTONE
@given(sessions(), st.sampled_from(PROFILES), maps(), st.data())
def test_adding_refuting_evidence_to_any_claim_never_raises_the_confidence(
    session: Session, profile: str, fitted: CalibrationMap, data: st.DataObject
) -> None:
    claims = sorted(session.state.ledger.claims.keys())
    if not claims:
        session.claim([data.draw(checked_items())], data.draw(st.sampled_from(CRITICALITIES)))
        claims = sorted(session.state.ledger.claims.keys())
    extra = data.draw(st.lists(counting_items("refutes") | checked_items("refutes"), min_size=1, max_size=3))
    after = session.after(
        AddEvidence(data.draw(st.sampled_from(claims)), tuple(i for i, _ in extra), checks=tuple(c for _, c in extra))
    )
    if after is None:
        return
    before = confidences(session.state, profile, fitted)
    later = confidences(after, profile, fitted)
    assert all(b >= a for b, a in zip(before, later, strict=True)), (before, later)


@MONOTONE
@given(sessions(), st.sampled_from(PROFILES), maps(), st.data())
def test_a_new_conflicts_edge_never_raises_the_confidence(
    session: Session, profile: str, fitted: CalibrationMap, data: st.DataObject
) -> None:
    nodes = node_ids(session)
    if len(nodes) < 2:
        session.run(AddThought("another option", (nodes[0],)))
        nodes = node_ids(session)
    a, b = data.draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2, unique=True))
    after = session.after(LinkThoughts(a, b, "conflicts"))
    if after is None:  # a pruned end: refused
        return
    before = confidences(session.state, profile, fitted)
    later = confidences(after, profile, fitted)
    assert all(x >= y for x, y in zip(before, later, strict=True)), (before, later)


@MONOTONE
@given(sessions(), st.sampled_from(PROFILES), policy_changes, st.data())
def test_a_checker_that_raises_always_yields_blocked(
    session: Session, profile: str, changes: dict[str, Any], data: st.DataObject
) -> None:
    if changes:
        session.run(SetPolicy(tuple(sorted(changes.items()))))
    claims = sorted(session.state.ledger.claims.keys())
    evidence = (item("file", data.draw(st.sampled_from(["supports", "refutes"]))), raising_check())
    if claims and data.draw(st.booleans()):
        assert session.run(AddEvidence(data.draw(st.sampled_from(claims)), (evidence[0],), checks=(evidence[1],))) or (
            len(session.state.ledger.claims[claims[0]]["evidence"]) >= 64
        )
    else:
        session.claim([evidence], data.draw(st.sampled_from(CRITICALITIES)))
    erroneous = {
        (str(c["id"]), str(e["evidenceId"]))
        for c in session.state.ledger.claims.values()
        for e in c["evidence"]
        if e.get("error")
    }
    assert erroneous
    route = session.route(profile)
    assert route["decision"] == "blocked"
    assert {(g["claimId"], g["id"]) for g in route["blockingGaps"] if g["kind"] == "evaluation_error"} == erroneous


# -- Hypothesis: never raises --------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-2, 2)
    | st.sampled_from(
        [
            "",
            "critical",
            "high",
            "medium",
            "low",
            "passed",
            "failed",
            "not_checked",
            "supports",
            "refutes",
            "open",
            "verified",
            "url",
            "file",
            "c1",
            "e1",
            "2",
            "nan",
        ]
    )
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "n",
                    "evidence",
                    "criticality",
                    "status",
                    "check",
                    "tier",
                    "group",
                    "stance",
                    "kind",
                    "error",
                    "evidenceId",
                    "policy",
                    "reason",
                    "minIndependentGroups",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@st.composite
def garbage_claim(draw: Any, n: int) -> Any:
    """A claim record, mostly well-formed, with fields replaced by garbage."""
    evidence = [
        {
            "evidenceId": f"e{i}",
            "kind": "url",
            "stance": "supports",
            "check": "not_checked",
            "tier": 2,
            "group": "domain:a.com",
            "reason": "r",
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    record: dict[str, Any] = {"id": f"c{n}", "n": n, "criticality": "critical", "evidence": evidence, "text": "t"}
    for key in draw(st.lists(st.sampled_from(["n", "criticality", "evidence", "policy", "id"]), max_size=2)):
        record[key] = draw(json_values)
    if evidence and draw(st.booleans()):
        victim = dict(evidence[0])
        victim[draw(st.sampled_from(["check", "tier", "group", "stance", "kind", "error", "evidenceId"]))] = draw(
            json_values
        )
        record["evidence"] = [victim, *evidence[1:]]
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    return record


@st.composite
def garbage_ledgers(draw: Any) -> Ledger:
    claims = draw(st.lists(garbage_claim(1), max_size=3))
    assumptions = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.just("a1"),
                    "n": st.just(1) | json_values,
                    "criticality": st.sampled_from(CRITICALITIES) | json_values,
                    "status": st.sampled_from(["open", "verified"]) | json_values,
                }
            ),
            max_size=2,
        )
    )
    return Ledger(
        claims=Map({f"c{i}": c for i, c in enumerate(claims)}),
        assumptions=Map({f"a{i}": a for i, a in enumerate(assumptions)}),
    )


@settings(max_examples=300, deadline=None)
@given(garbage_ledgers(), st.sampled_from([*PROFILES, "unknown"]), st.builds(Policy, st.integers(1, 4)))
def test_route_decision_never_raises_even_on_a_corrupted_ledger(ledger: Ledger, profile: str, policy: Policy) -> None:
    state = Session().state._replace(ledger=ledger)
    route = route_decision(state, policy=policy, profile=profile)
    assert route["decision"] in DECISIONS
    json.dumps(route)  # JSON-safe whatever the ledger held
    try:
        confidence_factors(state, policy, profile)
        [c["evidence"] for c in ledger.ordered_claims()]
    except Exception:  # a ledger the formula cannot read must block, never pass
        assert route["decision"] == "blocked"
        assert any(g["kind"] == "evaluation_error" for g in route["blockingGaps"])


def test_a_partial_policy_override_keeps_the_sessions_other_fields() -> None:
    session = Session()
    assert session.run(SetPolicy((("minIndependentGroups", 1),)))
    session.claim([URL_A], "medium")
    session.claim([URL_A], "medium", policy={"allowTier3": True})  # more permissive, never stricter
    assert session.route()["claims"]["verified"] == 2
