"""Verification and governance over the engine: evidence checks, calibration maps, and views.

Checks touch the world (files, programs), so they run here, before the command that records
their results is decided and written (``thinkgate.domain.governance`` stays pure). The fitted
calibration maps come from every outcome in the store and are refreshed at most once a minute
(and after an outcome is recorded here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from thinkgate.domain.calibration import MIN_OUTCOMES_FOR_MAP, choose_map
from thinkgate.domain.governance import (
    ASSUMPTION_STATUSES,
    AddEvidence,
    ClaimIn,
    GovernanceCommand,
    RecordOutcome,
    VerifyClaims,
    assumption_view,
    claim_view,
    session_policy,
    session_profile,
)
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGES
from thinkgate.domain.route import ASSUMPTION_FACTORS, BANDS, evaluation_failed, route_decision
from thinkgate.domain.verification import DEFAULT_POLICY, POLICY_RANGES
from thinkgate.errors import InvalidInput, SessionNotFound
from thinkgate.evidence import CheckContext, check_evidence, evidence_roots

if TYPE_CHECKING:
    from thinkgate.domain.state import SessionState
    from thinkgate.engine.engine import Engine

__all__ = [
    "add_evidence",
    "assumptions_view",
    "checkpoints_view",
    "matrix_view",
    "outcomes",
    "policy_config",
    "refresh_calibration",
    "route_view",
    "run_governance",
    "verify_claims",
]

CALIBRATION_TTL = 60.0  # seconds a set of fitted maps is reused
MAX_COMMANDS_PER_CALL = 16  # command items in one call (each may run up to the evidence timeout)
MAX_OUTPUT_KEPT = 4096  # bytes of a command's output kept in the log (its hash covers all of it)
_PAGE = 1000
_LOCATORS = (
    "path",
    "lines",
    "quote",
    "expression",
    "expected",
    "argv",
    "expectExitCode",
    "cwd",
    "url",
    "tier",
    "text",
    "source",
)


async def outcomes(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded outcome in the store, in (session, version) order."""
    out: list[dict[str, Any]] = []
    after: tuple[str, int] | None = None
    while True:
        rows = await engine.store.outcome_events(after=after, limit=_PAGE)
        for row in rows:
            data = row.data().get("outcome", {})
            out.append(
                {
                    "sessionId": row.session_id,
                    "decisionId": data.get("decisionId"),
                    "profile": data.get("profile"),
                    "decision": data.get("decision"),
                    "confidence": data.get("confidence"),
                    "rawConfidence": data.get("rawConfidence"),
                    "outcome": data.get("outcome"),
                    "recordedAt": row.recorded_at,
                }
            )
        if len(rows) < _PAGE:
            return out
        after = (rows[-1].session_id, rows[-1].version)


async def refresh_calibration(engine: Engine, *, force: bool = False) -> None:
    """Fit the calibration maps again when they are older than ``CALIBRATION_TTL`` (or ``force``)."""
    now = time.monotonic()
    last = engine.calibrated_at
    if not force and last is not None and now - last < CALIBRATION_TTL:
        return
    records = await outcomes(engine)
    fitted: dict[str, Any] = {}
    for profile in GOVERNANCE_PROFILES:
        chosen = choose_map(records, profile)
        if chosen is not None:
            fitted[profile] = chosen
    engine.calibrations = fitted
    engine.calibrated_at = now


def check_context(engine: Engine, client_roots: Sequence[str] | None) -> CheckContext:
    """What evidence checks may touch for this call: the client's roots, else the configured ones, else cwd."""
    config = engine.config
    env_roots = os.pathsep.join(config.evidence_roots) if config.evidence_roots is not None else None
    return CheckContext(
        roots=evidence_roots(client_roots, env_roots, Path.cwd()),
        commands=config.evidence_commands,
        command_timeout=config.evidence_timeout,
        max_output=MAX_OUTPUT_KEPT,
    )


async def run_checks(items: Sequence[Mapping[str, Any]], ctx: CheckContext) -> list[dict[str, Any]]:
    """Check ``items`` concurrently; each result as a dict (``check_evidence`` never raises)."""
    results: list[dict[str, Any]] = [{} for _ in items]

    async def one(i: int, item: Mapping[str, Any]) -> None:
        result = await check_evidence(item, ctx)
        results[i] = result._asdict()

    async with anyio.create_task_group() as tg:
        for i, item in enumerate(items):
            tg.start_soon(one, i, item)
    return results


async def verify_claims(
    engine: Engine,
    session_id: str,
    claims: Sequence[ClaimIn],
    *,
    policy: Mapping[str, Any] | None = None,
    recheck: bool = False,
    request_id: str | None = None,
    client_roots: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``verify_thoughts``: check every new evidence item (and, with ``recheck``, the stored ones), then record.

    The call is validated before any check runs (a call that will be refused runs no program), and a
    retried request id runs none either: it gets the first call's answer.
    """
    command = VerifyClaims(
        claims=tuple(claims),
        policy=tuple(sorted(policy.items())) if policy is not None else None,
        recheck=recheck,
        request_id=request_id,
        checks=tuple(tuple(_PENDING for _ in claim.evidence) for claim in claims),
    )
    state = await _existing(engine, session_id)
    pairs: list[tuple[str, Mapping[str, Any]]] = []  # (claim, stored item) to check again
    kept: list[str] = []  # items whose stored locator was redacted: their check cannot be repeated
    if recheck:
        named = {c.claim_id for c in claims if c.claim_id is not None}
        stored = [c for c in state.ledger.ordered_claims() if not named or c["id"] in named]
        pairs = [(str(c["id"]), e) for c in stored for e in c["evidence"] if not e.get("redacted")]
        kept = [str(e["evidenceId"]) for c in stored for e in c["evidence"] if e.get("redacted")]
    again = [_item(e) for _, e in pairs]
    if await _validated(engine, session_id, state, command, again):
        return await run_governance(engine, session_id, command)  # a retry: answered from the log
    new = [item for claim in claims for item in claim.evidence]
    flat = await run_checks([*new, *again], check_context(engine, client_roots))
    checks, at = [], 0
    for claim in claims:
        checks.append(tuple(flat[at : at + len(claim.evidence)]))
        at += len(claim.evidence)
    rechecks = [(cid, str(e["evidenceId"]), r) for (cid, e), r in zip(pairs, flat[at:], strict=True)]
    command = replace(command, checks=tuple(checks), rechecks=tuple(rechecks))
    result = await run_governance(engine, session_id, command)
    if kept:
        result.setdefault("warnings", []).append(
            f"not rechecked: {', '.join(kept)} (a secret was redacted from their locators before storage, so "
            "the stored text is not what was checked; they keep their result; add the evidence again to recheck)"
        )
    return result


async def add_evidence(
    engine: Engine,
    session_id: str,
    claim_id: str,
    evidence: Sequence[Mapping[str, Any]],
    *,
    request_id: str | None = None,
    client_roots: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``add_evidence``: check the new items (once the call is known to be valid), then append them."""
    command = AddEvidence(
        claim_id=claim_id,
        evidence=tuple(evidence),
        request_id=request_id,
        checks=tuple(_PENDING for _ in evidence),
    )
    state = await _existing(engine, session_id)
    if await _validated(engine, session_id, state, command):
        return await run_governance(engine, session_id, command)
    checks = await run_checks(evidence, check_context(engine, client_roots))
    return await run_governance(engine, session_id, replace(command, checks=tuple(checks)))


# What a command carries for an item not yet checked, to validate the call before checking.
_PENDING: Mapping[str, Any] = {
    "check": "not_checked",
    "reason": "not checked yet",
    "tier": 3,
    "group": "",
    "details": {},
}


async def _validated(
    engine: Engine,
    session_id: str,
    state: SessionState,
    command: GovernanceCommand,
    rechecked: Sequence[Mapping[str, Any]] = (),
) -> bool:
    """Refuse ``command`` now if deciding it would (no check has run); True when it is a retry.

    ``rechecked`` are the stored items a recheck would run again (they count towards the cap).

    Raises:
        ThinkGateError: what deciding the command raises (INVALID_INPUT, UNKNOWN_*, LIMIT_EXCEEDED, …).
    """
    from thinkgate.domain.thinking import decide

    if command.request_id is not None and await engine.store.find_request(session_id, command.request_id):
        return True
    items = [i for c in command.claims for i in c.evidence] if isinstance(command, VerifyClaims) else []
    if isinstance(command, AddEvidence):
        items = list(command.evidence)
    commands = sum(1 for item in (*items, *rechecked) if item.get("kind") == "command")
    if commands > MAX_COMMANDS_PER_CALL:
        # All commands share a few slots: one call must not hold them for an hour.
        raise InvalidInput(
            f"at most {MAX_COMMANDS_PER_CALL} command items per call (new and rechecked), got {commands}; "
            "recheck fewer claims at a time (name them with claimId)"
        )
    decide(state, command, session_id=session_id, now="", limits=engine.config.limits)
    return False


async def run_governance(engine: Engine, session_id: str, command: GovernanceCommand) -> dict[str, Any]:
    """Run a governance command with fresh calibration maps."""
    await refresh_calibration(engine)
    result = await engine.governance_command(session_id, command)
    if isinstance(command, RecordOutcome):
        await refresh_calibration(engine, force=True)
    return result


def _item(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored evidence record as the item that was checked (to check it again)."""
    item = {"kind": record["kind"], "stance": record["stance"]}
    item.update({k: record[k] for k in _LOCATORS if k in record and record[k] is not None})
    return item


async def _existing(engine: Engine, session_id: str) -> SessionState:
    state = await engine.current(session_id)
    if state is None:
        raise SessionNotFound(f"no session {session_id!r}")
    return state


# -- views (resources) ---------------------------------------------------------------------------


async def route_view(engine: Engine, session_id: str, profile: str | None = None) -> dict[str, Any]:
    """The session's route decision now (not recorded; consensus, checkpoints and converge record theirs)."""
    await refresh_calibration(engine)
    state = await _existing(engine, session_id)
    chosen = session_profile(state, profile)
    fitted = engine.calibrations.get(chosen)
    try:
        policy = session_policy(state)
    except Exception as exc:  # fail closed
        return {"sessionId": session_id, **evaluation_failed(exc, DEFAULT_POLICY, chosen)}
    route = route_decision(
        state,
        policy=policy,
        profile=chosen,
        calibrate=fitted.apply if fitted is not None else None,
        calibration=fitted.to_dict() if fitted is not None else None,
    )
    return {"sessionId": session_id, **route}


async def matrix_view(engine: Engine, session_id: str) -> dict[str, Any]:
    """Claims × evidence with statuses, check results, tiers and groups."""
    state = await _existing(engine, session_id)
    policy = session_policy(state)
    claims = [claim_view(c, policy) for c in state.ledger.ordered_claims()]
    tally: dict[str, int] = {}
    for claim in claims:
        tally[claim["status"]] = tally.get(claim["status"], 0) + 1
    return {"sessionId": session_id, "policy": policy.to_wire(), "statuses": tally, "claims": claims}


async def assumptions_view(engine: Engine, session_id: str) -> dict[str, Any]:
    """The assumption ledger."""
    state = await _existing(engine, session_id)
    return {
        "sessionId": session_id,
        "assumptions": [assumption_view(a) for a in state.ledger.ordered_assumptions()],
    }


async def checkpoints_view(engine: Engine, session_id: str) -> dict[str, Any]:
    """The checkpoints (the latest 256; all are in the log) and the recorded decisions' outcomes."""
    state = await _existing(engine, session_id)
    ledger = state.ledger
    return {
        "sessionId": session_id,
        "checkpoints": [dict(c) for c in ledger.checkpoints],
        "total": ledger.checkpoint_count,
        "decisions": [
            {
                "decisionId": d["decisionId"],
                "op": d["op"],
                "decision": d["route"]["decision"],
                "confidence": d["route"]["confidence"],
            }
            for d in ledger.decisions
        ],
        "outcomes": [dict(o) for o in ledger.outcomes],
    }


def policy_config(engine: Engine) -> dict[str, Any]:
    """``thinkgate://config/policy``: defaults, ranges, bands, profiles, evidence settings, calibration."""
    config = engine.config
    return {
        "defaultPolicy": DEFAULT_POLICY.to_wire(),
        "policyRanges": {k: list(v) for k, v in POLICY_RANGES.items()},
        "bands": [{"atLeast": t, "decision": d} for t, d in BANDS] + [{"atLeast": 0.0, "decision": "do_not_proceed"}],
        "profiles": {
            name: {"requiredStages": list(p["requiredStages"]), "confidenceFactor": p["confidenceFactor"]}
            for name, p in GOVERNANCE_PROFILES.items()
        },
        "stages": STAGES,
        "assumptionStatuses": list(ASSUMPTION_STATUSES),
        "assumptionFactors": ASSUMPTION_FACTORS,
        "evidence": {
            "roots": "the client's MCP roots when it offers them, else THINKGATE_EVIDENCE_ROOTS, "
            "else the working directory",
            "configuredRoots": list(config.evidence_roots) if config.evidence_roots is not None else None,
            "commands": sorted(config.evidence_commands),
            "commandTimeoutSeconds": config.evidence_timeout,
        },
        "calibration": {
            "minOutcomes": MIN_OUTCOMES_FOR_MAP,
            "fittedProfiles": sorted(engine.calibrations),
        },
    }
