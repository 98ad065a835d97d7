"""The verification and governance commands: what each tool asks for, as frozen data."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from thinkgate.domain.chain import canonical

__all__ = [
    "ASSUMPTION_STATUSES",
    "CANDIDATES_SHOWN",
    "GOVERNANCE_COMMANDS",
    "ID_PATTERN",
    "MAX_ASSUMPTIONS",
    "MAX_CANDIDATES",
    "MAX_CLAIMS",
    "MAX_CLAIMS_PER_CALL",
    "MAX_CRITIQUE_BYTES",
    "MAX_EVIDENCE_PER_CLAIM",
    "MAX_LOCATOR_BYTES",
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
    "governance_digest",
    "governance_op",
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
