"""Verification and governance commands, decided purely like the graph commands.

Evidence checks read files and run programs, so they run *before* a command is decided
(``thinkgate.evidence``); a command carries its items' check results, and ``decide_governance``
only validates, records and judges. Replaying the log therefore reproduces every status and
every recorded route decision without checking anything again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from thinkgate.domain.chain import canonical
from thinkgate.domain.deliberation import Answer, _check_growth, _Ctx, _depth, _node_record
from thinkgate.domain.events import Event, GraphUpdated, LedgerUpdated, OutcomeRecorded
from thinkgate.domain.graph import Graph
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGE_ORDER, STAGES, stage_finding
from thinkgate.domain.route import claim_policy, evaluation_failed, route_decision
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.verification import CRITICALITIES, EVIDENCE_KINDS, Policy, claim_verdict, counts
from thinkgate.errors import InvalidInput, LimitExceeded, SessionNotFound, UnknownRecord

__all__ = [
    "ASSUMPTION_STATUSES",
    "GOVERNANCE_COMMANDS",
    "AddEvidence",
    "ClaimIn",
    "Consensus",
    "Converge",
    "GovernanceCommand",
    "RecordAssumption",
    "RecordOutcome",
    "RunCheckpoint",
    "RunPipeline",
    "SetAssumptionStatus",
    "SetPolicy",
    "VerifyClaims",
    "assumption_view",
    "claim_view",
    "decide_governance",
    "governance_digest",
    "governance_op",
    "governance_text_needs",
    "session_policy",
    "session_profile",
]

ASSUMPTION_STATUSES = ("open", "verified", "invalidated", "accepted_risk")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_CLAIMS = 1000  # per session
MAX_CLAIMS_PER_CALL = 100
MAX_EVIDENCE_PER_CLAIM = 64
MAX_ASSUMPTIONS = 1000
MAX_CANDIDATES = 64
MAX_CRITIQUE_BYTES = 8000
MAX_LOCATOR_BYTES = 32_000  # 8,000 characters (the tools' limit on a quote or text) of any UTF-8
CANDIDATES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class ClaimIn:
    """One claim as given to ``verify_thoughts`` (evidence items as on the wire)."""

    text: str
    criticality: str | None = None  # None: medium for a new claim; an existing claim keeps its own
    claim_id: str | None = None
    thought_ids: tuple[str, ...] = ()
    evidence: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyClaims:
    """Add or update claims with evidence; ``checks`` holds each new item's check result.

    With ``recheck``, the stored evidence of the named claims (of every claim when none is
    named) was checked again: ``rechecks`` maps ``(claimId, evidenceId)`` to the new result.
    """

    claims: tuple[ClaimIn, ...] = ()
    policy: tuple[tuple[str, Any], ...] | None = None
    recheck: bool = False
    request_id: str | None = None
    checks: tuple[tuple[Mapping[str, Any], ...], ...] = ()  # per claim, per new item (not in the digest)
    rechecks: tuple[tuple[str, str, Mapping[str, Any]], ...] = ()  # not in the digest


@dataclass(frozen=True, slots=True)
class AddEvidence:
    claim_id: str
    evidence: tuple[Mapping[str, Any], ...]
    request_id: str | None = None
    checks: tuple[Mapping[str, Any], ...] = ()  # not in the digest


@dataclass(frozen=True, slots=True)
class SetPolicy:
    changes: tuple[tuple[str, Any], ...]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordAssumption:
    text: str
    criticality: str = "medium"
    assumption_id: str | None = None
    status: str = "open"
    thought_ids: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SetAssumptionStatus:
    assumption_id: str
    status: str
    note: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunCheckpoint:
    profile: str | None = None
    note: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Converge:
    summary: str | None = None
    profile: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Consensus:
    """Choose an answer among ``candidates`` ((answer, votes, score) each), else the frontier's nodes."""

    candidates: tuple[tuple[str, int, float | None], ...] | None = None
    profile: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunPipeline:
    profile: str | None = None
    critiques: tuple[tuple[str, str], ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    outcome: float
    decision_id: str | None = None
    note: str | None = None
    request_id: str | None = None


GovernanceCommand = (
    VerifyClaims
    | AddEvidence
    | SetPolicy
    | RecordAssumption
    | SetAssumptionStatus
    | RunCheckpoint
    | Converge
    | Consensus
    | RunPipeline
    | RecordOutcome
)
_OPS: dict[type, str] = {
    VerifyClaims: "verify_thoughts",
    AddEvidence: "add_evidence",
    SetPolicy: "set_verification_policy",
    RecordAssumption: "record_assumption",
    SetAssumptionStatus: "set_assumption_status",
    RunCheckpoint: "run_reasoning_checkpoint",
    Converge: "converge_reasoning",
    Consensus: "consensus_answer",
    RunPipeline: "run_governance_pipeline",
    RecordOutcome: "record_outcome",
}
GOVERNANCE_COMMANDS: frozenset[type] = frozenset(_OPS)
_NOT_DIGESTED = frozenset({"request_id", "checks", "rechecks"})


def governance_op(command: GovernanceCommand) -> str:
    """The tool name of a command (the ``op`` of the event it writes)."""
    return _OPS[type(command)]


def governance_digest(command: GovernanceCommand) -> str:
    """A fingerprint of a command's arguments (check results excluded: a retry re-checks)."""
    data: dict[str, Any] = {"op": _OPS[type(command)]}
    for f in fields(command):
        if f.name not in _NOT_DIGESTED:
            data[f.name] = getattr(command, f.name)
    return hashlib.sha256(canonical(data)).hexdigest()[:32]


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


def governance_text_needs(state: SessionState | None, command: GovernanceCommand) -> list[str]:
    """The nodes whose text ``decide_governance`` reads for ``command``."""
    if state is None:
        return []
    if isinstance(command, Consensus) and command.candidates is None:
        return _frontier_candidates(state.graph)
    if isinstance(command, Converge) and command.summary is None:
        return _frontier_candidates(state.graph)[:1]
    return []


def _frontier_candidates(graph: Graph) -> list[str]:
    """The frontier's nodes, best scored first (at most ``MAX_CANDIDATES``)."""
    nodes = graph.nodes
    ranked = sorted(graph.frontier_ids(), key=lambda n: (-(nodes[n].score or 0.0), int(n[1:])))
    return [n for n in ranked if nodes[n].kind != "root"][:MAX_CANDIDATES]


# -- decide -------------------------------------------------------------------------------------


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


def decide_governance(
    state: SessionState | None,
    command: GovernanceCommand,
    *,
    session_id: str,
    max_bytes: int,
    max_thoughts: int,
    texts: Mapping[str, str],
    calibrations: Mapping[str, Any] | None = None,
    constraints: tuple[str, ...] = (),
) -> tuple[tuple[Event, ...], Answer | None]:
    """The events ``command`` produces (the last one answers it), or an ``Answer`` that writes nothing.

    Raises:
        InvalidInput, UnknownReference, LimitExceeded, SessionNotFound: nothing is produced.
    """
    if state is None:
        raise SessionNotFound(
            f"no session {session_id!r}: start one with start_deliberation or sequentialthinking first"
        )
    ctx = _Ctx(state, session_id, max_bytes, max_thoughts, texts)
    gov = _Gov(ctx, calibrations or {}, constraints)
    outcome = _HANDLERS[type(command)](gov, command)
    if isinstance(outcome, Answer):
        return (), outcome
    digest = governance_digest(command) if command.request_id is not None else None
    *before, last = outcome
    last = replace(last, request_id=command.request_id, args_digest=digest)
    result = dict(last.result)
    result["warnings"] = ctx.warnings + gov.warnings + list(result.get("warnings", []))
    return (*before, replace(last, result=result)), None


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


_LOCATORS = {
    "file": ("path", "lines", "quote"),
    "calc": ("expression", "expected"),
    "command": ("argv", "expectExitCode", "cwd"),
    "url": ("url", "tier"),
    "text": ("text", "source"),
}


def _evidence_record(gov: _Gov, item: Mapping[str, Any], check: Mapping[str, Any], number: int) -> dict[str, Any]:
    """An evidence item with its check result, as the ledger keeps it (free text scanned)."""
    kind = item.get("kind")
    if kind not in EVIDENCE_KINDS:
        raise InvalidInput(f"evidence kind {kind!r} is unknown; use one of {', '.join(EVIDENCE_KINDS)}")
    stance = item.get("stance", "supports")
    if stance not in ("supports", "refutes"):
        raise InvalidInput(f"evidence stance {stance!r} is unknown; use supports or refutes")
    record: dict[str, Any] = {"evidenceId": f"e{number}", "kind": kind, "stance": stance}
    for name in _LOCATORS[str(kind)]:
        value = item.get(name)
        if isinstance(value, str):
            value = gov.ctx.clean(f"evidence {name}", value, limit=MAX_LOCATOR_BYTES, required=False)
        record[name] = value
    record.update(
        {
            "check": str(check["check"]),
            "reason": str(check["reason"]),
            "tier": int(check["tier"]),
            "group": str(check["group"]),
            "details": dict(check.get("details") or {}),
            "error": bool(check.get("error", False)),
        }
    )
    return record


def _evidence_view(item: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    view = {k: item[k] for k in ("evidenceId", "kind", "stance", "check", "reason", "tier", "group")}
    view["counts"] = counts(item, policy)
    if item.get("error"):
        view["error"] = True
    if item.get("details"):
        view["details"] = item["details"]
    return view


def claim_view(claim: Mapping[str, Any], session: Policy) -> dict[str, Any]:
    """A claim as the tools and resources show it: its status, reason and evidence."""
    policy = claim_policy(claim, session)
    verdict = claim_verdict(claim["evidence"], str(claim["criticality"]), policy)
    view: dict[str, Any] = {
        "claimId": claim["id"],
        "text": claim["text"],
        "criticality": claim["criticality"],
        "status": verdict.status,
        "reason": verdict.reason,
        "supportGroups": list(verdict.support_groups),
        "refuteGroups": list(verdict.refute_groups),
        "thoughtIds": list(claim.get("thoughtIds", ())),
        "evidence": [_evidence_view(e, policy) for e in claim["evidence"]],
    }
    if claim.get("policy"):
        view["policy"] = policy.to_wire()
    return view


def _route_brief(route: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("decision", "confidence", "rationale", "blockingGaps", "profile")
    return {k: route[k] for k in keys}


def _verify(gov: _Gov, cmd: VerifyClaims) -> tuple[Event, ...]:
    state = gov.state
    ledger = state.ledger
    if len(cmd.claims) > MAX_CLAIMS_PER_CALL:
        raise InvalidInput(f"at most {MAX_CLAIMS_PER_CALL} claims per call, got {len(cmd.claims)}")
    if not cmd.claims and not cmd.recheck:
        raise InvalidInput("claims must not be empty (or pass recheck: true to re-run the stored checks)")
    if len(cmd.checks) != len(cmd.claims) or any(
        len(c.evidence) != len(k) for c, k in zip(cmd.claims, cmd.checks, strict=False)
    ):
        raise InvalidInput("every evidence item needs its check result")
    override: dict[str, Any] | None = None
    if cmd.policy is not None:
        session_policy(state).updated(dict(cmd.policy))  # validates the changes
        override = dict(cmd.policy)  # only the changes: the rest follows the session's policy
    changed: dict[str, dict[str, Any]] = {}
    claim_count, evidence_count = ledger.claim_count, ledger.evidence_count
    for claim_in, checks in zip(cmd.claims, cmd.checks, strict=True):
        existing = changed.get(claim_in.claim_id or "") or (
            ledger.claims.get(claim_in.claim_id) if claim_in.claim_id else None
        )
        if existing is None:
            if len(ledger.claims) + len([c for c in changed if c not in ledger.claims]) >= MAX_CLAIMS:
                raise LimitExceeded(f"this session holds {MAX_CLAIMS} claims, the most it may")
            if claim_in.claim_id is not None:
                claim_id = _clean_id(claim_in.claim_id, "claimId")
                claim_count += 1
                number = claim_count
            else:
                claim_id, number = _next_id("c", claim_count, {**dict(ledger.claims.items()), **changed})
                claim_count = number
            record: dict[str, Any] = {"id": claim_id, "n": number, "evidence": []}
        else:
            record = dict(existing)
            record["evidence"] = list(existing["evidence"])
        record["text"] = gov.ctx.clean("claim text", claim_in.text)
        if claim_in.criticality is not None:
            record["criticality"] = _criticality(claim_in.criticality)
        else:
            record.setdefault("criticality", "medium")  # an existing claim keeps its criticality
        record["thoughtIds"] = _thoughts(gov, claim_in.thought_ids) or list(record.get("thoughtIds", []))
        if override is not None:
            record["policy"] = override
        if len(record["evidence"]) + len(claim_in.evidence) > MAX_EVIDENCE_PER_CLAIM:
            raise LimitExceeded(f"a claim holds at most {MAX_EVIDENCE_PER_CLAIM} evidence items")
        for item, check in zip(claim_in.evidence, checks, strict=True):
            evidence_count += 1
            record["evidence"].append(_evidence_record(gov, item, check, evidence_count))
        changed[str(record["id"])] = record
    for claim_id, evidence_id, check in cmd.rechecks:
        base = changed.get(claim_id) or ledger.claims.get(claim_id)
        if base is None:
            raise UnknownRecord(f"claimId {claim_id!r} names no claim of this session")
        record = dict(base)
        items = []
        for item in base["evidence"]:
            fresh = item
            if item["evidenceId"] == evidence_id:
                fresh = {**item, **_check_fields(check), "recheckedOf": item["check"]}
            items.append(fresh)
        record["evidence"] = items
        changed[claim_id] = record
    claims = tuple(changed.values())
    event = LedgerUpdated(op="verify_thoughts", claims=claims)
    after = apply(state, event)
    session = session_policy(after)
    route = gov.route(after, session_profile(after, None))
    shown = [after.ledger.claims[str(c["id"])] for c in claims]
    return (
        replace(
            event,
            result={
                "sessionId": gov.ctx.session_id,
                "claims": [claim_view(c, session) for c in shown],
                "route": _route_brief(route),
            },
        ),
    )


def _check_fields(check: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "check": str(check["check"]),
        "reason": str(check["reason"]),
        "tier": int(check["tier"]),
        "group": str(check["group"]),
        "details": dict(check.get("details") or {}),
        "error": bool(check.get("error", False)),
    }


def _add_evidence(gov: _Gov, cmd: AddEvidence) -> tuple[Event, ...]:
    state = gov.state
    claim = state.ledger.claims.get(cmd.claim_id)
    if claim is None:
        raise UnknownRecord(f"claimId {cmd.claim_id!r} names no claim of this session; {_known_claims(state)}")
    if not cmd.evidence:
        raise InvalidInput("evidence must not be empty")
    if len(cmd.checks) != len(cmd.evidence):
        raise InvalidInput("every evidence item needs its check result")
    verify = VerifyClaims(
        claims=(
            ClaimIn(
                text=str(claim["text"]),
                criticality=str(claim["criticality"]),
                claim_id=cmd.claim_id,
                evidence=cmd.evidence,
            ),
        ),
        checks=(cmd.checks,),
    )
    (event,) = _verify(gov, verify)
    assert isinstance(event, LedgerUpdated)
    return (replace(event, op="add_evidence"),)


def _known_claims(state: SessionState) -> str:
    ids = [str(c["id"]) for c in state.ledger.ordered_claims()]
    if not ids:
        return "it has no claims yet (verify_thoughts adds them)"
    return "its claims: " + ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")


def _set_policy(gov: _Gov, cmd: SetPolicy) -> tuple[Event, ...]:
    if not cmd.changes:
        raise InvalidInput("give at least one policy field to change")
    policy = session_policy(gov.state).updated(dict(cmd.changes))
    event = LedgerUpdated(op="set_verification_policy", policy=policy.to_wire())
    after = apply(gov.state, event)
    route = gov.route(after, session_profile(after, None))
    return (
        replace(
            event,
            result={"sessionId": gov.ctx.session_id, "policy": policy.to_wire(), "route": _route_brief(route)},
        ),
    )


def assumption_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "assumptionId": record["id"],
        "text": record["text"],
        "criticality": record["criticality"],
        "status": record["status"],
        "thoughtIds": list(record.get("thoughtIds", ())),
        "history": list(record.get("history", ())),
        "blocking": record["criticality"] in ("critical", "high") and record["status"] in ("open", "invalidated"),
    }


def _status(value: str) -> str:
    if value not in ASSUMPTION_STATUSES:
        raise InvalidInput(f"assumption status {value!r} is unknown; use one of {', '.join(ASSUMPTION_STATUSES)}")
    return value


def _record_assumption(gov: _Gov, cmd: RecordAssumption) -> tuple[Event, ...]:
    ledger = gov.state.ledger
    if cmd.assumption_id is not None and cmd.assumption_id in ledger.assumptions:
        raise InvalidInput(
            f"assumptionId {cmd.assumption_id!r} already exists; change its status with set_assumption_status"
        )
    if len(ledger.assumptions) >= MAX_ASSUMPTIONS:
        raise LimitExceeded(f"this session holds {MAX_ASSUMPTIONS} assumptions, the most it may")
    if cmd.assumption_id is not None:
        assumption_id, number = _clean_id(cmd.assumption_id, "assumptionId"), ledger.assumption_count + 1
    else:
        assumption_id, number = _next_id("a", ledger.assumption_count, ledger.assumptions)
    record = {
        "id": assumption_id,
        "n": number,
        "text": gov.ctx.clean("assumption text", cmd.text),
        "criticality": _criticality(cmd.criticality),
        "status": _status(cmd.status),
        "thoughtIds": _thoughts(gov, cmd.thought_ids),
        "history": [],
    }
    event = LedgerUpdated(op="record_assumption", assumptions=(record,))
    return _with_route(gov, event, {"assumption": assumption_view(record)})


def _set_assumption_status(gov: _Gov, cmd: SetAssumptionStatus) -> tuple[Event, ...] | Answer:
    record = gov.state.ledger.assumptions.get(cmd.assumption_id)
    if record is None:
        known = ", ".join(str(a["id"]) for a in gov.state.ledger.ordered_assumptions()[:20]) or "none yet"
        raise UnknownRecord(f"assumptionId {cmd.assumption_id!r} names no assumption (known: {known})")
    status = _status(cmd.status)
    note = gov.ctx.clean("note", cmd.note, required=False) if cmd.note else None
    history = [*record.get("history", ()), {"from": record["status"], "to": status, "note": note}]
    updated = {**record, "status": status, "history": history}
    event = LedgerUpdated(op="set_assumption_status", assumptions=(updated,))
    return _with_route(gov, event, {"assumption": assumption_view(updated)})


def _with_route(gov: _Gov, event: LedgerUpdated, result: dict[str, Any]) -> tuple[Event, ...]:
    after = apply(gov.state, event)
    route = gov.route(after, session_profile(after, None))
    return (replace(event, result={"sessionId": gov.ctx.session_id, **result, "route": _route_brief(route)}),)


def _decision_record(gov: _Gov, op: str, route: Mapping[str, Any]) -> dict[str, Any]:
    ledger = gov.state.ledger
    return {"decisionId": f"d{ledger.decision_count + 1}", "op": op, "route": dict(route)}


def _graph_gates(state: SessionState) -> dict[str, Any]:
    graph = state.graph
    statuses = {"active": 0, "pruned": 0, "merged": 0}
    for node in graph.nodes.values():
        statuses[node.status] = statuses.get(node.status, 0) + 1
    scored = [n.score for n in graph.nodes.values() if n.score is not None]
    return {
        "nodes": len(graph.nodes),
        "byStatus": statuses,
        "frontier": len(graph.frontier),
        "edges": len(graph.edges),
        "scoredNodes": len(scored),
        "bestScore": max(scored, default=None),
    }


def _next_steps(route: Mapping[str, Any]) -> list[str]:
    steps: list[str] = []
    for gap in [*route["blockingGaps"], *route.get("openIssues", [])][:10]:
        if gap["kind"] == "claim":
            steps.append(f"verify_thoughts / add_evidence for claim {gap['id']} ({gap['status']})")
        elif gap["kind"] == "assumption":
            steps.append(f"settle assumption {gap['id']} with set_assumption_status ({gap['status']})")
        elif gap["kind"] == "stage":
            steps.append(f"run_governance_pipeline with a critique for {gap['id']}")
        else:
            steps.append(f"verify_thoughts with recheck: true (evidence {gap['id']} raised an error)")
    if not steps:
        steps.append("consensus_answer or converge_reasoning: nothing blocks")
    return steps


def _checkpoint(gov: _Gov, cmd: RunCheckpoint) -> tuple[Event, ...]:
    state = gov.state
    profile = session_profile(state, cmd.profile)
    route = gov.route(state, profile)
    decision = _decision_record(gov, "run_reasoning_checkpoint", route)
    assumptions: dict[str, int] = dict.fromkeys(("open", "verified", "invalidated", "accepted_risk"), 0)
    for record in state.ledger.assumptions.values():
        assumptions[str(record["status"])] += 1
    checkpoint = {
        "checkpointId": f"k{state.ledger.checkpoint_count + 1}",
        "decisionId": decision["decisionId"],
        "note": gov.ctx.clean("note", cmd.note, required=False) if cmd.note else None,
        "gates": {
            "quality": _graph_gates(state),
            "evidence": route["claims"],
            "assumptions": assumptions,
            "route": {"decision": route["decision"], "confidence": route["confidence"]},
        },
        "blockingGaps": route["blockingGaps"],
        "nextSteps": _next_steps(route),
    }
    event = LedgerUpdated(op="run_reasoning_checkpoint", decision=decision, checkpoint=checkpoint)
    return (
        replace(
            event,
            result={"sessionId": gov.ctx.session_id, **checkpoint, "routeDecision": route},
        ),
    )


def _converge(gov: _Gov, cmd: Converge) -> tuple[Event, ...] | Answer:
    state = gov.state
    profile = session_profile(state, cmd.profile)
    route = gov.route(state, profile)
    if route["decision"] == "blocked":
        return Answer(
            {
                "sessionId": gov.ctx.session_id,
                "status": "blocked",
                "written": False,
                "nodeId": None,
                "blockingGaps": route["blockingGaps"],
                "nextSteps": _next_steps(route),
                "routeDecision": route,
            }
        )
    graph = state.graph
    best = _frontier_candidates(graph)[:1]
    if cmd.summary is not None:
        summary = gov.ctx.clean("summary", cmd.summary)
    elif best:
        summary = "Convergence on " + best[0] + ": " + gov.ctx.text(best[0])
        summary = summary[: gov.ctx.max_bytes // 4]
    else:
        raise InvalidInput("nothing to converge on: give a summary (the frontier holds no candidate)")
    parents = tuple(best) or ((graph.deliberation.root_id,) if graph.deliberation is not None else ())
    seq = state.seq + 1
    node = _node_record(seq, "convergence", summary, parents, _depth(graph, parents), tool="converge_reasoning")
    _check_growth(gov.ctx, [node], 0, depth=False)
    nid = str(node["id"])
    graph_event = GraphUpdated(
        op="converge_reasoning",
        nodes=(node,),
        frontier_removed=tuple(p for p in parents if p in graph.frontier),
        frontier_added=(nid,),
    )
    decision = _decision_record(gov, "converge_reasoning", route)
    decision["nodeId"] = nid
    event = LedgerUpdated(
        op="converge_reasoning",
        decision=decision,
        result={
            "sessionId": gov.ctx.session_id,
            "status": "converged",
            "written": True,
            "nodeId": nid,
            "decisionId": decision["decisionId"],
            "summary": summary,
            "routeDecision": route,
        },
    )
    return graph_event, event


def _normalise_answer(text: str) -> str:
    return " ".join(text.casefold().split())


def _consensus(gov: _Gov, cmd: Consensus) -> tuple[Event, ...]:
    state = gov.state
    profile = session_profile(state, cmd.profile)
    graph = state.graph
    options: dict[str, dict[str, Any]] = {}
    raw: list[tuple[str, int, float | None, str | None]] = []
    if cmd.candidates is not None:
        if not cmd.candidates or len(cmd.candidates) > MAX_CANDIDATES:
            raise InvalidInput(f"give 1 to {MAX_CANDIDATES} candidates (or none to use the frontier)")
        raw = [(gov.ctx.clean("candidate answer", a), v, s, None) for a, v, s in cmd.candidates]
    else:
        for frontier_id in _frontier_candidates(graph):
            node = graph.nodes[frontier_id]
            votes = 1 + graph.stats.get(frontier_id, (0, 0))[0]
            raw.append((gov.ctx.text(frontier_id), votes, node.score, frontier_id))
        if not raw:
            raise InvalidInput("the frontier holds no candidate answer: give candidates or add thoughts first")
    for answer, votes, score, nid in raw:
        if votes < 0:
            raise InvalidInput("votes must not be negative")
        key = _normalise_answer(answer)
        option = options.setdefault(key, {"answer": answer, "votes": 0, "score": None, "nodeIds": []})
        option["votes"] += votes
        if score is not None:
            option["score"] = max(option["score"] or 0.0, float(score))
        if nid is not None:
            option["nodeIds"].append(nid)
    ranked = sorted(options.values(), key=lambda o: (-o["votes"], -(o["score"] or 0.0)))
    total = sum(o["votes"] for o in ranked)
    top = ranked[0]
    route = gov.route(state, profile)
    decision = _decision_record(gov, "consensus_answer", route)
    blocked = route["decision"] == "blocked"
    decision["answer"] = None if blocked else top["answer"]
    support = {
        "votes": top["votes"],
        "totalVotes": total,
        "share": round(top["votes"] / total, 4) if total else 0.0,
        "score": top["score"],
        "nodeIds": top["nodeIds"],
        "runnerUp": ranked[1]["answer"] if len(ranked) > 1 else None,
    }
    result = {
        "sessionId": gov.ctx.session_id,
        "status": "blocked" if blocked else "answered",
        "answer": None if blocked else top["answer"],
        "support": support,
        "candidates": ranked[:CANDIDATES_SHOWN],
        "decisionId": decision["decisionId"],
        "routeDecision": route,
        "blockingGaps": route["blockingGaps"],
    }
    return (LedgerUpdated(op="consensus_answer", decision=decision, result=result),)


def _pipeline(gov: _Gov, cmd: RunPipeline) -> tuple[Event, ...]:
    state = gov.state
    profile = session_profile(state, cmd.profile)
    critiques = []
    for stage, text in cmd.critiques:
        if stage not in STAGES:
            raise InvalidInput(f"stage {stage!r} is unknown; use one of {', '.join(STAGE_ORDER)}")
        if STAGES[stage]["kind"] != "critique":
            raise InvalidInput(f"stage {stage!r} is computed from the session; it takes no critique")
        critiques.append(
            {"stage": stage, "text": gov.ctx.clean(f"critique for {stage}", text, limit=MAX_CRITIQUE_BYTES)}
        )
    event = LedgerUpdated(op="run_governance_pipeline", critiques=tuple(critiques))
    after = apply(state, event)
    route = gov.route(after, profile)
    required = set(GOVERNANCE_PROFILES[profile]["requiredStages"])
    findings = []
    for stage in STAGE_ORDER:
        finding = stage_finding(after, stage, route, gov.constraints)
        finding["required"] = stage in required
        findings.append(finding)
    decision = _decision_record(gov, "run_governance_pipeline", route)
    return (
        replace(
            event,
            decision=decision,
            result={
                "sessionId": gov.ctx.session_id,
                "profile": profile,
                "requiredStages": [s for s in STAGE_ORDER if s in required],
                "findings": findings,
                "decisionId": decision["decisionId"],
                "routeDecision": route,
            },
        ),
    )


def _outcome(gov: _Gov, cmd: RecordOutcome) -> tuple[Event, ...]:
    ledger = gov.state.ledger
    if not 0.0 <= cmd.outcome <= 1.0:
        raise InvalidInput("outcome must be success, failure or a score from 0 to 1")
    if cmd.decision_id is None:
        if not ledger.decisions:
            raise UnknownRecord(
                "this session has no recorded decision yet (consensus_answer, converge_reasoning, "
                "run_reasoning_checkpoint and run_governance_pipeline record one)"
            )
        record = ledger.decisions[-1]
    else:
        found = ledger.decision(cmd.decision_id)
        if found is None:
            kept = ", ".join(str(d["decisionId"]) for d in ledger.decisions[-10:]) or "none"
            raise UnknownRecord(f"decisionId {cmd.decision_id!r} names no recorded decision (latest: {kept})")
        record = found
    decision_id = str(record["decisionId"])
    if record.get("outcome") is not None:
        raise InvalidInput(f"decision {decision_id} already has an outcome ({record['outcome']})")
    route = record["route"]
    outcome = {
        "decisionId": decision_id,
        "decision": route["decision"],
        "confidence": route["confidence"],
        "rawConfidence": route["rawConfidence"],
        "profile": route["profile"],
        "outcome": float(cmd.outcome),
        "note": gov.ctx.clean("note", cmd.note, required=False) if cmd.note else None,
    }
    return (
        OutcomeRecorded(
            outcome=outcome,
            result={"sessionId": gov.ctx.session_id, "recorded": outcome, "outcomes": ledger.outcome_count + 1},
        ),
    )


_HANDLERS: dict[type, Any] = {
    VerifyClaims: _verify,
    AddEvidence: _add_evidence,
    SetPolicy: _set_policy,
    RecordAssumption: _record_assumption,
    SetAssumptionStatus: _set_assumption_status,
    RunCheckpoint: _checkpoint,
    Converge: _converge,
    Consensus: _consensus,
    RunPipeline: _pipeline,
    RecordOutcome: _outcome,
}
