"""Governance commands mixed with graph commands, retries and bad inputs (Hypothesis).

- A refused command changes nothing, and a retried request id writes nothing again.
- Replaying the stored log (events through their JSON payloads) rebuilds the same state, the
  ledger included, and a snapshot round-trips to the state the replay gives.
- Replay reproduces every recorded decision: ``route_decision`` on the state the command saw,
  under the decision's recorded policy, profile and calibration map, gives the recorded route.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinkgate.domain.calibration import CalibrationMap
from thinkgate.domain.deliberation import AddThought, LinkThoughts, PruneThoughts, ScoreThoughts, StartDeliberation
from thinkgate.domain.events import (
    DeliberationStarted,
    Event,
    GraphUpdated,
    LedgerUpdated,
    OutcomeRecorded,
    event_from_payload,
)
from thinkgate.domain.governance import (
    AddEvidence,
    ClaimIn,
    Consensus,
    Converge,
    RecordAssumption,
    RecordOutcome,
    RunCheckpoint,
    RunPipeline,
    SetAssumptionStatus,
    SetPolicy,
    VerifyClaims,
    governance_digest,
    session_policy,
)
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGES
from thinkgate.domain.route import route_decision
from thinkgate.domain.state import SessionState, apply, replay
from thinkgate.domain.thinking import Limits, decide
from thinkgate.domain.verification import CRITICALITIES, Policy
from thinkgate.errors import IdempotencyConflict, InvalidInput, ThinkGateError

LIMITS = Limits(max_thought_bytes=4096, max_thoughts_per_session=400)
NOW = "2026-11-26T00:00:00.000Z"
PROFILES = tuple(GOVERNANCE_PROFILES)
CRITIQUE_STAGES = tuple(s for s, spec in STAGES.items() if spec["kind"] == "critique")
GROUPS = ("repo:/w/a", "repo:/w/b", "calc", "command:pytest", "domain:a.com", "domain:b.org", "source:x")
ASSUMPTION_STATUSES = ("open", "verified", "invalidated", "accepted_risk")
WORDS = st.sampled_from(["cache", "latency", "queue", "budget", "risk", "billing", "replica"])
TEXT = st.lists(WORDS, min_size=1, max_size=5).map(" ".join)
BAD_ID = st.sampled_from(["c999", "a999", "d999", "no such", ""])


def result(check: str, tier: int, group: str, *, error: bool = False) -> dict[str, Any]:
    """A check result as ``check_evidence`` returns it."""
    reason = "checker error: OSError" if error else f"{check} for a reason"
    return {"check": check, "reason": reason, "tier": tier, "group": group, "details": {"sha256": "ab"}, "error": error}


@st.composite
def checked_items(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An evidence item (wire form, sometimes malformed) and the check result it would get."""
    kind = draw(st.sampled_from(["file", "calc", "command", "url", "text"]))
    stance = draw(st.sampled_from(["supports", "supports", "refutes"]))
    group = draw(st.sampled_from(GROUPS))
    evidence: dict[str, Any] = {"kind": kind, "stance": stance}
    if kind == "file":
        evidence.update(path="src/app.py", lines="3-4", quote=draw(TEXT))
    elif kind == "calc":
        evidence.update(expression="2 + 2", expected=draw(st.sampled_from([4, "4", 5])))
    elif kind == "command":
        evidence.update(argv=["pytest", "-q"], expectExitCode=0)
    elif kind == "url":
        evidence.update(url="https://a.com/x", tier=draw(st.sampled_from([1, 2, 3])))
    else:
        evidence.update(text=draw(TEXT), source=draw(st.sampled_from(["Vendor docs", "blog"])))
    if draw(st.integers(0, 19)) == 0:
        evidence["kind"] = draw(st.sampled_from(["video", None]))  # refused: unknown kind
    if draw(st.integers(0, 19)) == 0:
        evidence["stance"] = "maybe"  # refused: unknown stance
    if kind in ("file", "calc", "command"):
        check = draw(st.sampled_from(["passed", "passed", "failed", "not_checked"]))
        error = check == "failed" and draw(st.integers(0, 5)) == 0
        return evidence, result(check, 1 if check == "passed" else 3, group, error=error)
    if kind == "url":
        return evidence, result("not_checked", max(2, int(evidence["tier"])), group)
    return evidence, result("not_checked", 3, group)


policy_changes = st.dictionaries(
    st.sampled_from(["minIndependentGroups", "allowTier3", "requireCheckedForCritical", "failClosed", "bogus"]),
    st.integers(0, 9) | st.booleans(),
    max_size=3,
)


@st.composite
def calibration_maps(draw: Any) -> dict[str, CalibrationMap]:
    """Fitted maps for some profiles (what the engine passes in once outcomes exist)."""
    maps: dict[str, CalibrationMap] = {}
    for profile in draw(st.lists(st.sampled_from(PROFILES), unique=True, max_size=2)):
        xs = sorted(set(draw(st.lists(st.floats(0, 1), min_size=1, max_size=5))))
        ys = sorted(draw(st.lists(st.floats(0, 1), min_size=len(xs), max_size=len(xs))))
        maps[profile] = CalibrationMap(tuple(zip(xs, ys, strict=True)), draw(st.integers(30, 99)), profile)
    return maps


def some(draw: Any, known: list[str], bad: st.SearchStrategy[str] = BAD_ID) -> str:
    """A known id, now and then an unknown one (which must be refused)."""
    if not known or draw(st.integers(0, 9)) == 0:
        return draw(bad)
    return draw(st.sampled_from(known))


def command(draw: Any, state: SessionState, rid: str | None) -> Any:
    ledger = state.ledger
    nodes = sorted(state.graph.nodes, key=lambda n: state.graph.nodes[n].seq)
    claims = sorted(ledger.claims.keys())
    kind = draw(
        st.sampled_from(
            [
                "verify",
                "verify",
                "verify",
                "evidence",
                "policy",
                "assume",
                "status",
                "checkpoint",
                "converge",
                "consensus",
                "pipeline",
                "outcome",
                "outcome",
                "add",
                "add",
                "score",
                "link",
                "prune",
            ]
        )
    )
    profile = draw(st.none() | st.sampled_from([*PROFILES, "reckless"]))
    if kind == "verify":
        claim_ins, checks = [], []
        for _ in range(draw(st.integers(0 if draw(st.booleans()) else 1, 3))):
            pairs = draw(st.lists(checked_items(), max_size=3))
            claim_id = draw(st.none() | st.sampled_from([*claims, "risk-1", "bad id!"]))
            criticality = draw(st.sampled_from([*CRITICALITIES, "urgent"]))
            thoughts = tuple(draw(st.lists(st.sampled_from([*nodes, "t999"]), max_size=2)))
            claim_ins.append(ClaimIn(draw(TEXT), criticality, claim_id, thoughts, tuple(i for i, _ in pairs)))
            checks.append(tuple(c for _, c in pairs))
        if checks and draw(st.integers(0, 19)) == 0:
            checks[-1] = checks[-1][1:]  # refused: an item without its check result
        override = draw(policy_changes) if draw(st.integers(0, 4)) == 0 else None
        recheck = draw(st.integers(0, 4)) == 0
        rechecks = ()
        if recheck:
            stored = [(str(c["id"]), str(e["evidenceId"])) for c in ledger.ordered_claims() for e in c["evidence"]]
            picked = draw(st.lists(st.sampled_from(stored), max_size=3)) if stored else []
            rechecks = tuple((cid, eid, draw(checked_items())[1]) for cid, eid in picked)
        return VerifyClaims(
            tuple(claim_ins),
            tuple(sorted(override.items())) if override is not None else None,
            recheck,
            rid,
            tuple(checks),
            rechecks,
        )
    if kind == "evidence":
        pairs = draw(st.lists(checked_items(), max_size=3))
        return AddEvidence(some(draw, claims), tuple(i for i, _ in pairs), rid, tuple(c for _, c in pairs))
    if kind == "policy":
        return SetPolicy(tuple(sorted(draw(policy_changes).items())), rid)
    if kind == "assume":
        taken = sorted(ledger.assumptions.keys())
        aid = draw(st.none() | st.sampled_from([*taken, "db-ok", "bad id!"]))
        return RecordAssumption(
            draw(TEXT),
            draw(st.sampled_from([*CRITICALITIES, "urgent"])),
            aid,
            draw(st.sampled_from([*ASSUMPTION_STATUSES, "maybe"])),
            request_id=rid,
        )
    if kind == "status":
        aid = some(draw, sorted(ledger.assumptions.keys()))
        return SetAssumptionStatus(
            aid, draw(st.sampled_from([*ASSUMPTION_STATUSES, "maybe"])), draw(st.none() | TEXT), rid
        )
    if kind == "checkpoint":
        return RunCheckpoint(profile, draw(st.none() | TEXT), rid)
    if kind == "converge":
        return Converge(draw(st.none() | TEXT), profile, rid)
    if kind == "consensus":
        candidates = None
        if draw(st.booleans()):
            candidates = tuple(
                (draw(TEXT), draw(st.integers(-1, 3)), draw(st.none() | st.floats(0, 1)))
                for _ in range(draw(st.integers(0, 4)))
            )
        return Consensus(candidates, profile, rid)
    if kind == "pipeline":
        stages = draw(st.lists(st.sampled_from([*CRITIQUE_STAGES, "triangulation", "astrology"]), max_size=3))
        return RunPipeline(profile, tuple((s, draw(TEXT)) for s in stages), rid)
    if kind == "outcome":
        decided = [str(d["decisionId"]) for d in ledger.decisions]
        decision_id = draw(st.none() | st.just(some(draw, decided)))
        value = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1) | st.sampled_from([-0.5, 1.5]))
        return RecordOutcome(value, decision_id, draw(st.none() | TEXT), rid)
    if kind == "score" and nodes:
        target = draw(st.sampled_from(nodes))
        return ScoreThoughts((target,), scores=((target, (("correctness", draw(st.floats(0, 1))),)),), request_id=rid)
    if kind == "link" and len(nodes) > 1:
        a, b = draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2))
        return LinkThoughts(a, b, draw(st.sampled_from(["conflicts", "supports"])), request_id=rid)
    if kind == "prune" and len(nodes) > 1:
        return PruneThoughts(node_ids=(draw(st.sampled_from(nodes[1:])),), request_id=rid)
    parent = draw(st.sampled_from(nodes)) if nodes else None
    return AddThought(draw(TEXT), (parent,) if parent else None, request_id=rid)


def texts_of(events: list[Event]) -> dict[str, str]:
    out: dict[str, str] = {}
    for event in events:
        if isinstance(event, DeliberationStarted):
            out[str(event.root["id"])] = str(event.root["content"])
        elif isinstance(event, GraphUpdated):
            out.update((str(n["id"]), str(n["content"])) for n in event.nodes)
    return out


def stored(events: list[Event]) -> list[Event]:
    """The events as a store gives them back: through their JSON payloads."""
    return [event_from_payload(e.TYPE, orjson.loads(orjson.dumps(e.to_payload()))) for e in events]


def json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def recorded_route(state: SessionState, route: dict[str, Any]) -> dict[str, Any]:
    """``route_decision`` again, under the route's own policy, profile and calibration map."""
    calibration = dict(route["calibration"])
    fitted = CalibrationMap.from_dict(calibration) if calibration.pop("applied") else None
    return route_decision(
        state,
        policy=Policy.from_wire(route["policy"]),
        profile=route["profile"],
        calibrate=fitted.apply if fitted is not None else None,
        calibration=fitted.to_dict() if fitted is not None else None,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PROFILES), calibration_maps(), st.data())
def test_governance_sequences_replay_to_the_same_state_and_the_same_decisions(
    profile: str, maps: dict[str, CalibrationMap], data: st.DataObject
) -> None:
    start = StartDeliberation("Choose a billing queue", constraints=("latency budget",), profile=profile)
    events: list[Event] = list(decide(None, start, session_id="s", now=NOW, limits=LIMITS).events)
    state = replay(events)
    assert state is not None
    commands: list[tuple[int, int]] = []  # (first event index, end index) of every accepted command
    requests: dict[str, tuple[int, str]] = {}  # request id -> (version of its last event, digest)
    issued: dict[str, Any] = {}  # request id -> the command first sent with it
    for _ in range(data.draw(st.integers(4, 30))):
        rid = data.draw(st.sampled_from(["r1", "r2", "r3"])) if data.draw(st.integers(0, 5)) == 0 else None
        cmd = issued[rid] if rid in issued and data.draw(st.booleans()) else command(data.draw, state, rid)
        seen = requests.get(rid) if rid is not None else None
        before = state
        try:
            decision = decide(
                state,
                cmd,
                session_id="s",
                now=NOW,
                limits=LIMITS,
                seen=seen,
                texts=texts_of(events),
                calibration=maps,
                constraints=("latency budget",),
            )
        except IdempotencyConflict:
            assert seen is not None and cmd is not issued.get(rid)
            continue
        except ThinkGateError:
            assert state is before and state.to_snapshot() == before.to_snapshot()
            continue
        if decision.replay_of is not None:
            assert seen is not None and decision.replay_of == seen[0] and not decision.events
            continue
        if decision.answer is not None:
            assert not decision.events  # blocked convergence, an edge that exists: nothing written
            continue
        first = len(events)
        for event in decision.events:
            state = apply(state, event)
            events.append(event)
        commands.append((first, len(events)))
        last = decision.events[-1]
        if rid is not None:
            assert getattr(last, "request_id", None) == rid
            issued.setdefault(rid, cmd)
            digest = getattr(last, "args_digest", None)
            if isinstance(last, (LedgerUpdated, OutcomeRecorded)):
                assert digest == governance_digest(cmd)
            requests[rid] = (state.version, digest or "")

    log = stored(events)
    rebuilt = replay(log)
    assert rebuilt is not None
    assert rebuilt.to_snapshot() == state.to_snapshot()
    assert rebuilt.ledger.to_snapshot() == json_safe(state.ledger.to_snapshot())
    # What the engine audit compares: a snapshot, through JSON, equals the replayed state.
    restored = SessionState.from_snapshot(json_safe(state.to_snapshot(canonical=False)))
    assert restored.to_snapshot() == state.to_snapshot()
    assert restored == rebuilt

    # Every recorded decision, recomputed on the state its command saw.
    decisions = 0
    for first, end in commands:
        seen_state = replay(log[:first])
        assert seen_state is not None
        for event in log[first:end]:
            if isinstance(event, OutcomeRecorded):
                decided = seen_state.ledger.decision(str(event.outcome["decisionId"]))
                assert decided is not None
                for key in ("decision", "confidence", "rawConfidence", "profile"):
                    assert event.outcome[key] == decided["route"][key]
            if not isinstance(event, LedgerUpdated) or event.decision is None:
                continue
            decisions += 1
            route = json_safe(event.decision["route"])
            assert route["policy"] == session_policy(seen_state).to_wire()
            # A pipeline's decision includes the critiques it submits; graph events of the same command
            # (converge's new node) come after the decision was taken.
            judged = apply(seen_state, event)
            assert json_safe(recorded_route(judged, route)) == route
            assert json_safe(recorded_route(seen_state, route)) == route or event.critiques
            if route["calibration"]["applied"]:
                assert route["calibration"]["points"] == maps[route["profile"]].to_dict()["points"]
            else:
                assert route["profile"] not in maps
    assert decisions == rebuilt.ledger.decision_count


def test_a_convergence_decision_describes_the_session_before_its_convergence_node() -> None:
    """converge_reasoning decides, then writes its node: the recorded route is the one before the node.

    Replaying it therefore needs the state before the command's graph event; on the state just
    before its ledger event (node written, the scored node it consumed off the frontier) the
    branches factor differs.
    """
    start = StartDeliberation("Choose a billing queue")
    events = list(decide(None, start, session_id="s", now=NOW, limits=LIMITS).events)
    state = replay(events)
    assert state is not None

    def run(cmd: Any) -> tuple[Event, ...]:
        nonlocal state
        decided = decide(state, cmd, session_id="s", now=NOW, limits=LIMITS, texts=texts_of(events))
        for event in decided.events:
            state = apply(state, event)
            events.append(event)
        return decided.events

    run(AddThought("use a replica queue", ("t1",)))
    run(ScoreThoughts(("t2",), scores=(("t2", (("correctness", 0.5),)),)))
    run(
        VerifyClaims(
            (ClaimIn("replicas cut latency", "high", evidence=({"kind": "calc", "stance": "supports"},)),),
            checks=((result("passed", 1, "calc"),),),
        )
    )
    before = state
    graph_event, ledger_event = run(Converge("replicas it is"))
    assert isinstance(graph_event, GraphUpdated) and isinstance(ledger_event, LedgerUpdated)
    assert ledger_event.decision is not None
    route = json_safe(ledger_event.decision["route"])
    assert route["factors"]["branches"] < 1.0
    assert json_safe(recorded_route(before, route)) == route
    written = apply(before, graph_event)
    assert recorded_route(written, route)["factors"]["branches"] == 1.0


def test_a_decision_never_gets_a_second_outcome_however_many_outcomes_follow() -> None:
    state = replay(decide(None, StartDeliberation("g"), session_id="s", now=NOW, limits=LIMITS).events)

    def run(cmd: Any) -> None:
        nonlocal state
        for event in decide(state, cmd, session_id="s", now=NOW, limits=LIMITS).events:
            state = apply(state, event)

    for _ in range(257):
        run(RunCheckpoint())
    run(RecordOutcome(1.0, "d257"))
    for i in range(2, 257):  # 255 outcomes of older decisions, still kept
        run(RecordOutcome(0.0, f"d{i}"))
    run(RunCheckpoint())
    run(RecordOutcome(0.0, "d258"))  # d257's outcome is now the 257th newest: no longer kept
    assert state is not None and state.ledger.decision("d257") is not None
    with pytest.raises(InvalidInput):
        run(RecordOutcome(1.0, "d257"))
