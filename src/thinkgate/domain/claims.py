"""Deciding claims, evidence, the verification policy and assumptions (pure: check results are inputs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from thinkgate.domain._gov import (
    _clean_id,
    _criticality,
    _Gov,
    _next_id,
    _route_brief,
    _thoughts,
    session_policy,
    session_profile,
)
from thinkgate.domain.deliberation import Answer
from thinkgate.domain.events import Event, LedgerUpdated
from thinkgate.domain.governance_commands import (
    ASSUMPTION_STATUSES,
    MAX_ASSUMPTIONS,
    MAX_CLAIMS,
    MAX_CLAIMS_PER_CALL,
    MAX_EVIDENCE_PER_CLAIM,
    MAX_LOCATOR_BYTES,
    AddEvidence,
    ClaimIn,
    RecordAssumption,
    SetAssumptionStatus,
    SetPolicy,
    VerifyClaims,
)
from thinkgate.domain.route import claim_policy
from thinkgate.domain.safety import scan_text
from thinkgate.domain.state import SessionState, apply
from thinkgate.domain.verification import EVIDENCE_KINDS, Policy, claim_verdict, counts
from thinkgate.errors import InvalidInput, LimitExceeded, UnknownRecord

__all__ = ["assumption_view", "claim_view"]

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
    redacted = False
    for name in _LOCATORS[str(kind)]:
        value = item.get(name)
        if isinstance(value, str):
            clean = gov.ctx.clean(f"evidence {name}", value, limit=MAX_LOCATOR_BYTES, required=False)
            redacted = redacted or clean != value
            value = clean
        elif isinstance(value, list):  # argv: each argument scanned like any text
            clean_list = [
                gov.ctx.clean(f"evidence {name}", v, limit=MAX_LOCATOR_BYTES, required=False)
                if isinstance(v, str)
                else v
                for v in value
            ]
            redacted = redacted or clean_list != value
            value = clean_list
        elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            value = str(value)  # beyond what the log's JSON holds as a number; the text is exact
        record[name] = value
    if redacted:
        record["redacted"] = True  # a secret was removed: a recheck cannot repeat this check
    record.update(_check_fields(check))
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
    shown_ids = [str(c["id"]) for c in claims]
    if cmd.recheck:  # every claim in the recheck's scope, rechecked or not (a redacted item is kept)
        named = {c.claim_id for c in cmd.claims if c.claim_id is not None}
        scope = [str(c["id"]) for c in after.ledger.ordered_claims() if not named or c["id"] in named]
        shown_ids = list(dict.fromkeys([*shown_ids, *scope]))
    shown = [after.ledger.claims[cid] for cid in shown_ids]
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
    """A check result as recorded: secrets in its reason and in a program's output redacted."""
    details = dict(check.get("details") or {})
    if isinstance(details.get("output"), str):
        details["output"] = scan_text(details["output"]).text  # a program's output may print secrets
    return {
        "check": str(check["check"]),
        "reason": scan_text(str(check["reason"])).text,
        "tier": int(check["tier"]),
        "group": str(check["group"]),
        "details": details,
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
