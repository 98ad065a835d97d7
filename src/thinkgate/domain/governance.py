"""Verification and governance commands, decided purely like the graph commands.

Evidence checks read files and run programs, so they run *before* a command is decided
(``thinkgate.evidence``); a command carries its items' check results, and ``decide_governance``
only validates, records and judges. Replaying the log therefore reproduces every status and
every recorded route decision without checking anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from thinkgate.domain._gov import _frontier_candidates, _Gov, session_policy, session_profile
from thinkgate.domain.claims import (
    _add_evidence,
    _record_assumption,
    _set_assumption_status,
    _set_policy,
    _verify,
    assumption_view,
    claim_view,
)
from thinkgate.domain.deliberation import Answer, _Ctx
from thinkgate.domain.events import Event
from thinkgate.domain.gates import _checkpoint, _consensus, _converge, _outcome, _pipeline
from thinkgate.domain.governance_commands import (
    ASSUMPTION_STATUSES,
    GOVERNANCE_COMMANDS,
    AddEvidence,
    ClaimIn,
    Consensus,
    Converge,
    GovernanceCommand,
    RecordAssumption,
    RecordOutcome,
    RunCheckpoint,
    RunPipeline,
    SetAssumptionStatus,
    SetPolicy,
    VerifyClaims,
    governance_digest,
    governance_op,
)
from thinkgate.domain.state import SessionState
from thinkgate.errors import SessionNotFound

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


def governance_text_needs(state: SessionState | None, command: GovernanceCommand) -> list[str]:
    """The nodes whose text ``decide_governance`` reads for ``command``."""
    if state is None:
        return []
    if isinstance(command, Consensus) and command.candidates is None:
        return _frontier_candidates(state.graph)
    if isinstance(command, Converge) and command.summary is None:
        return _frontier_candidates(state.graph)[:1]
    return []


# -- decide -------------------------------------------------------------------------------------


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
