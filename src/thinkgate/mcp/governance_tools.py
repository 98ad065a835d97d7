"""The verification and governance tools, resources and prompts (toolset ``governance``).

Argument shapes are checked by pydantic (flat objects with enums, which Gemini's function
declarations accept); every rule by the domain. Evidence is checked by the engine before it is
recorded, under the allowed roots: the client's MCP roots when it offers them (handshake-era
connections), else ``THINKGATE_EVIDENCE_ROOTS``, else the server's working directory.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio
import orjson
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinkgate.domain.governance import (
    ClaimIn,
    Consensus,
    Converge,
    RecordAssumption,
    RecordOutcome,
    RunCheckpoint,
    RunPipeline,
    SetAssumptionStatus,
    SetPolicy,
)
from thinkgate.domain.pipeline import STAGES
from thinkgate.engine import governance as gov
from thinkgate.engine.engine import Engine
from thinkgate.errors import SessionNotFound, ThinkGateError
from thinkgate.mcp import governance_texts as texts
from thinkgate.mcp.connection import DefaultSessions
from thinkgate.mcp.graph_tools import NodeId, _error, tool_registrar

__all__ = ["register_governance"]

log = logging.getLogger("thinkgate.mcp")

_SID = Annotated[
    str | None,
    Field(default=None, description="The session id; omit for this connection's session", max_length=128),
]
_RID = Annotated[
    str | None, Field(default=None, description="Idempotency key: a retry is not applied twice", max_length=200)
]
Criticality = Literal["critical", "high", "medium", "low"]
Profile = Literal["quick", "balanced", "deep", "paranoid"]
_PROFILE = Field(description="Governance profile (default: the deliberation's, else balanced)")
_ID = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", max_length=64)
_MUTATING = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
# verify_thoughts and add_evidence read files and may run allow-listed programs.
_CHECKING = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
ROOTS_TIMEOUT = 5.0  # seconds to wait for a client's roots/list answer
_REQUIRED = {
    "file": ("path", "lines", "quote"),
    "calc": ("expression", "expected"),
    "command": ("argv",),
    "url": ("url",),
    "text": ("text",),
}


class EvidenceIn(BaseModel):
    """One piece of evidence; the fields its kind needs (see the tool description)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["file", "calc", "command", "url", "text"]
    stance: Literal["supports", "refutes"] = "supports"
    path: str | None = Field(default=None, max_length=4096, description="file: path under an allowed root")
    lines: str | int | None = Field(default=None, description='file: 12, "12" or "12-18"')
    quote: str | None = Field(default=None, max_length=8000, description="file: text in those lines")
    expression: str | None = Field(default=None, max_length=1000, description="calc: arithmetic expression")
    # int before float: a JSON integer stays exact (2**60 + 1 as a float is off by 23).
    expected: bool | int | float | str | None = Field(default=None, description="calc: expected value")
    argv: list[Annotated[str, Field(max_length=8192)]] | None = Field(
        default=None, max_length=256, description="command: program and arguments"
    )
    expectExitCode: int | None = Field(
        default=None, ge=-255, le=255, description="command: expected exit code (0; negative: killed by that signal)"
    )
    cwd: str | None = Field(default=None, max_length=4096, description="command: working directory (a root)")
    url: str | None = Field(default=None, max_length=4096, description="url: the page")
    tier: int | None = Field(default=None, ge=1, le=3, description="url: declared tier (at best 2)")
    text: str | None = Field(default=None, max_length=8000, description="text: the statement")
    source: str | None = Field(default=None, max_length=200, description="text: where it comes from")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> EvidenceIn:
        missing = [name for name in _REQUIRED[self.kind] if getattr(self, name) in (None, "", [])]
        if missing:
            raise ValueError(f"{self.kind} evidence needs {', '.join(missing)}")
        if isinstance(self.lines, str) and len(self.lines) > 40:
            raise ValueError("lines must be at most 40 characters")
        return self

    def item(self) -> dict[str, Any]:
        item = {k: v for k, v in self.model_dump().items() if v is not None}
        expected = item.get("expected")
        if type(expected) is int and not -(2**63) <= expected < 2**63:
            item["expected"] = str(expected)  # exact as text; the log's JSON holds 64-bit integers only
        return item


class ClaimModel(BaseModel):
    """A claim and its evidence."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=100_000, description="The claim, one checkable sentence")
    criticality: Criticality | None = Field(default=None, description="Default medium; a reused claimId keeps its own")
    claimId: str | None = Field(default=None, description="Your id (default c1, c2, …); reuse it to add to a claim")
    thoughtIds: list[NodeId] | None = Field(default=None, max_length=64, description="Thoughts it supports")
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _id(self) -> ClaimModel:
        if self.claimId is not None:
            import re

            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", self.claimId):
                raise ValueError("claimId must be 1-64 letters, digits, '_', '.', ':' or '-'")
        return self


class PolicyIn(BaseModel):
    """A verification policy override for these claims."""

    model_config = ConfigDict(extra="forbid")
    minIndependentGroups: int | None = Field(default=None, ge=1, le=8)
    allowTier3: bool | None = None
    requireCheckedForCritical: bool | None = None
    failClosed: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CandidateIn(BaseModel):
    """A candidate answer."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=100_000)
    votes: int = Field(default=1, ge=0, le=1_000_000)
    score: float | None = Field(default=None, ge=0, le=1)


class CritiquesIn(BaseModel):
    """Your critique per stage (the stages a model would otherwise write)."""

    model_config = ConfigDict(extra="forbid")
    first_principles: str | None = Field(default=None, max_length=8000)
    causal_modelling: str | None = Field(default=None, max_length=8000)
    trade_offs: str | None = Field(default=None, max_length=8000)
    fallacy_detection: str | None = Field(default=None, max_length=8000)
    brutal_honesty: str | None = Field(default=None, max_length=8000)


assert {name for name, spec in STAGES.items() if spec["kind"] == "critique"} == set(CritiquesIn.model_fields)

Resolve = Callable[..., str]


async def client_roots(ctx: Context, defaults: DefaultSessions) -> list[str] | None:
    """The client's roots (URIs), None when it offers none or cannot be asked (stateless requests).

    A client that offers roots but does not answer in time gets an empty list: no file is
    readable rather than a fallback it did not choose (fail closed).
    """
    session = ctx.request_context.session
    if defaults.connection_key(session) is None:
        return None
    capabilities = getattr(session, "client_capabilities", None)
    if capabilities is None or getattr(capabilities, "roots", None) is None:
        return None
    try:
        with anyio.fail_after(ROOTS_TIMEOUT), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated in the 2026 protocol, still current in 2025
            result = await session.list_roots()
    except Exception as exc:
        log.warning("the client offers roots but roots/list failed (%s): no file evidence is readable", exc)
        return []
    return [str(root.uri) for root in result.roots]


def register_governance(
    server: MCPServer, engine: Engine, defaults: DefaultSessions, resolve: Resolve, enabled: frozenset[str]
) -> None:
    """Add the enabled governance tools, and the verification resources and prompts, to ``server``."""

    tool = tool_registrar(server, enabled)

    async def run(ctx: Context, sid: str | None, call: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        try:
            return await call(resolve(ctx, sid, create=False))
        except ThinkGateError as exc:
            return _error(exc)

    @tool("verify_thoughts", "Verify claims against evidence", texts.VERIFY_THOUGHTS, _CHECKING)
    async def verify_thoughts(
        ctx: Context,
        claims: Annotated[list[ClaimModel], Field(description="Claims with evidence", max_length=100)] = [],  # noqa: B006
        policy: Annotated[PolicyIn | None, Field(description="Policy override for these claims")] = None,
        recheck: Annotated[bool, Field(description="Re-run the stored checks (of these claims, or all)")] = False,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        roots = await client_roots(ctx, defaults)
        return await run(
            ctx,
            sessionId,
            lambda sid: gov.verify_claims(
                engine,
                sid,
                [
                    ClaimIn(
                        text=c.text,
                        criticality=c.criticality,
                        claim_id=c.claimId,
                        thought_ids=tuple(c.thoughtIds or ()),
                        evidence=tuple(e.item() for e in c.evidence),
                    )
                    for c in claims
                ],
                policy=policy.changes() if policy is not None else None,
                recheck=recheck,
                request_id=requestId,
                client_roots=roots,
            ),
        )

    @tool("add_evidence", "Add evidence to a claim", texts.ADD_EVIDENCE, _CHECKING)
    async def add_evidence(
        ctx: Context,
        claimId: Annotated[str, _ID, Field(description="The claim")],
        evidence: Annotated[list[EvidenceIn], Field(min_length=1, max_length=64)],
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        roots = await client_roots(ctx, defaults)
        return await run(
            ctx,
            sessionId,
            lambda sid: gov.add_evidence(
                engine, sid, claimId, [e.item() for e in evidence], request_id=requestId, client_roots=roots
            ),
        )

    @tool("set_verification_policy", "Set the verification policy", texts.SET_VERIFICATION_POLICY)
    async def set_verification_policy(
        ctx: Context,
        minIndependentGroups: Annotated[int | None, Field(ge=1, le=8, description="Distinct groups to verify")] = None,
        allowTier3: Annotated[bool | None, Field(description="Count tier-3 evidence for groups")] = None,
        requireCheckedForCritical: Annotated[bool | None, Field(description="Critical claims need a check")] = None,
        failClosed: Annotated[bool | None, Field(description="Unresolved critical items block")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        values = {
            "minIndependentGroups": minIndependentGroups,
            "allowTier3": allowTier3,
            "requireCheckedForCritical": requireCheckedForCritical,
            "failClosed": failClosed,
        }
        changes = tuple(sorted((k, v) for k, v in values.items() if v is not None))
        return await run(
            ctx, sessionId, lambda sid: gov.run_governance(engine, sid, SetPolicy(changes, request_id=requestId))
        )

    @tool("record_assumption", "Record an assumption", texts.RECORD_ASSUMPTION)
    async def record_assumption(
        ctx: Context,
        text: Annotated[str, Field(max_length=100_000, description="The assumption")],
        criticality: Criticality = "medium",
        status: Literal["open", "verified", "invalidated", "accepted_risk"] = "open",
        assumptionId: Annotated[str | None, _ID, Field(description="Your id (default a1, a2, …)")] = None,
        thoughtIds: Annotated[list[NodeId] | None, Field(max_length=64)] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        command = RecordAssumption(
            text=text,
            criticality=criticality,
            assumption_id=assumptionId,
            status=status,
            thought_ids=tuple(thoughtIds or ()),
            request_id=requestId,
        )
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("set_assumption_status", "Settle an assumption", texts.SET_ASSUMPTION_STATUS)
    async def set_assumption_status(
        ctx: Context,
        assumptionId: Annotated[str, _ID, Field(description="The assumption")],
        status: Literal["open", "verified", "invalidated", "accepted_risk"],
        note: Annotated[str | None, Field(max_length=8000, description="Why")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        command = SetAssumptionStatus(assumption_id=assumptionId, status=status, note=note, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("run_reasoning_checkpoint", "Run a reasoning checkpoint", texts.RUN_REASONING_CHECKPOINT)
    async def run_reasoning_checkpoint(
        ctx: Context,
        profile: Annotated[Profile | None, _PROFILE] = None,
        note: Annotated[str | None, Field(max_length=8000)] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        command = RunCheckpoint(profile=profile, note=note, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("converge_reasoning", "Converge when nothing blocks", texts.CONVERGE_REASONING)
    async def converge_reasoning(
        ctx: Context,
        summary: Annotated[str | None, Field(max_length=100_000, description="The converged answer")] = None,
        profile: Annotated[Profile | None, _PROFILE] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        command = Converge(summary=summary, profile=profile, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("consensus_answer", "Choose a consensus answer", texts.CONSENSUS_ANSWER)
    async def consensus_answer(
        ctx: Context,
        candidates: Annotated[
            list[CandidateIn] | None, Field(max_length=64, description="Answers to choose from (default: frontier)")
        ] = None,
        profile: Annotated[Profile | None, _PROFILE] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        chosen = tuple((c.answer, c.votes, c.score) for c in candidates) if candidates is not None else None
        command = Consensus(candidates=chosen, profile=profile, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("run_governance_pipeline", "Run the governance pipeline", texts.RUN_GOVERNANCE_PIPELINE)
    async def run_governance_pipeline(
        ctx: Context,
        profile: Annotated[Profile | None, _PROFILE] = None,
        critiques: Annotated[CritiquesIn | None, Field(description="Your critique per stage")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        given = critiques.model_dump() if critiques is not None else {}
        pairs = tuple((stage, text) for stage, text in given.items() if text is not None)
        command = RunPipeline(profile=profile, critiques=pairs, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    @tool("record_outcome", "Record a decision's outcome", texts.RECORD_OUTCOME)
    async def record_outcome(
        ctx: Context,
        outcome: Annotated[Literal["success", "failure"] | None, Field(description="What happened")] = None,
        score: Annotated[float | None, Field(ge=0, le=1, description="Or a score 0-1")] = None,
        decisionId: Annotated[str | None, _ID, Field(description="The decision (default: the latest)")] = None,
        note: Annotated[str | None, Field(max_length=8000)] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        if (outcome is None) == (score is None):
            from thinkgate.errors import InvalidInput

            return _error(InvalidInput("give exactly one of outcome (success or failure) and score"))
        value = score if score is not None else (1.0 if outcome == "success" else 0.0)
        command = RecordOutcome(outcome=value, decision_id=decisionId, note=note, request_id=requestId)
        return await run(ctx, sessionId, lambda sid: gov.run_governance(engine, sid, command))

    def session_resource(name: str, description: str, view: Callable[[Engine, str], Awaitable[dict[str, Any]]]) -> None:
        async def read(session_id: str) -> str:
            return await _read(view, engine, session_id)

        uri = f"thinkgate://session/{{session_id}}/{name}"
        server.resource(uri, name=name, description=description, mime_type="application/json")(read)

    for name, description, view in (
        (
            "verification-matrix",
            "Claims × evidence: each claim's status and reason, each item's check, reason, tier and group.",
            gov.matrix_view,
        ),
        (
            "route-decision",
            "The route decision now: decision, confidence, rationale, blocking gaps, factors, policy and profile.",
            gov.route_view,
        ),
        (
            "assumptions",
            "The assumption ledger: each assumption's criticality, status, history and whether it blocks.",
            gov.assumptions_view,
        ),
        (
            "checkpoints",
            "Persisted checkpoints (gates, blocking gaps, next steps), recorded decisions and their outcomes.",
            gov.checkpoints_view,
        ),
    ):
        session_resource(name, description, view)

    @server.resource(
        "thinkgate://config/policy",
        name="policy",
        description="Verification defaults and ranges, decision bands, governance profiles and stages, evidence.",
        mime_type="application/json",
    )
    async def policy() -> str:
        await gov.refresh_calibration(engine)
        return orjson.dumps(gov.policy_config(engine)).decode()

    @server.prompt(
        name="verification-pack",
        title="Verification pack",
        description="Chain-of-verification steps for a claim, ending in verify_thoughts with checkable evidence.",
    )
    def verification_pack(claim: str = "") -> str:
        return texts.verification_pack(claim)

    @server.prompt(
        name="triangulation-pack",
        title="Triangulation pack",
        description="How to support a claim from independent origins (repositories, domains, programs).",
    )
    def triangulation_pack(claim: str = "") -> str:
        return texts.triangulation_pack(claim)

    @server.prompt(
        name="decision-routing-pack",
        title="Decision routing pack",
        description="How to clear blocking gaps and reach a routed decision, then record its outcome.",
    )
    def decision_routing_pack(question: str = "") -> str:
        return texts.decision_routing_pack(question)


async def _read(view: Callable[[Engine, str], Awaitable[dict[str, Any]]], engine: Engine, session_id: str) -> str:
    try:
        return orjson.dumps(await view(engine, session_id)).decode()
    except SessionNotFound as exc:
        raise ResourceNotFoundError(f"{exc.code}: {exc.message}") from exc
    except ThinkGateError as exc:
        raise ResourceError(f"{exc.code}: {exc.message}") from exc
