"""Deciding the gates: checkpoints, convergence, consensus, the governance pipeline and outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from thinkgate.domain._gov import (
    _decision_record,
    _frontier_candidates,
    _Gov,
    session_profile,
)
from thinkgate.domain.deliberation import Answer, _check_growth, _depth, _node_record
from thinkgate.domain.events import Event, GraphUpdated, LedgerUpdated, OutcomeRecorded
from thinkgate.domain.governance_commands import (
    CANDIDATES_SHOWN,
    MAX_CANDIDATES,
    MAX_CRITIQUE_BYTES,
    Consensus,
    Converge,
    RecordOutcome,
    RunCheckpoint,
    RunPipeline,
)
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGE_ORDER, STAGES, stage_finding
from thinkgate.domain.state import SessionState, apply
from thinkgate.errors import InvalidInput, UnknownRecord

__all__: list[str] = []

CHECKPOINT_GAPS_KEPT = 10


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
        # The state keeps the first gaps and their count; the decision it names keeps them all.
        "blockingGaps": route["blockingGaps"][:CHECKPOINT_GAPS_KEPT],
        "blockingGapCount": len(route["blockingGaps"]),
        "nextSteps": _next_steps(route),
    }
    event = LedgerUpdated(op="run_reasoning_checkpoint", decision=decision, checkpoint=checkpoint)
    result = {**checkpoint, "blockingGaps": route["blockingGaps"], "routeDecision": route}
    return (replace(event, result={"sessionId": gov.ctx.session_id, **result}),)


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
