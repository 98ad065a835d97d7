"""The deliberation tools, resources and prompts (toolsets ``graph`` and ``sot``).

Argument shapes are checked by pydantic (explicit object types and enums, which
Gemini's function declarations also accept); every domain rule by the engine. Each
tool takes ``sessionId`` (a ``deliberationId`` is one); without it, the connection's
default session is used, and ``start_deliberation`` makes the session it opens the
connection's default.

The listed input schemas are compacted (``compact_schema``): every tool in the list
costs the agent context on every turn. Profile lesson: pydantic's ``anyOf [T, null]``
plus ``title`` and ``default: null`` made the nine graph tools 20 KB of JSON.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import orjson
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from thinkgate.domain.deliberation import (
    AddThought,
    DistillCluster,
    ExpandThoughts,
    LinkThoughts,
    MergeBranches,
    PruneThoughts,
    RefineThought,
    RunElaboration,
    ScoreThoughts,
    StartDeliberation,
    StartSkeleton,
)
from thinkgate.domain.ids import SESSION_ID_PATTERN, check_new_session_id
from thinkgate.engine.engine import Engine
from thinkgate.engine.graphview import THINKING_MODES, elaboration_prompts, expand_prompts, model_unavailable
from thinkgate.errors import InvalidInput, SessionNotFound, ThinkGateError
from thinkgate.mcp import graph_texts as texts
from thinkgate.mcp.connection import DefaultSessions

__all__ = ["compact_schema", "register_graph", "tool_registrar"]

NODE_ID_PATTERN = r"^t[1-9][0-9]{0,8}$"
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN, max_length=10, description="A node id such as t3")]
_SID = Annotated[
    str | None,
    Field(
        default=None,
        description="The deliberation/session id; omit for this connection's session",
        pattern=SESSION_ID_PATTERN,
        max_length=128,
    ),
]
_RID = Annotated[
    str | None, Field(default=None, description="Idempotency key: a retry is not applied twice", max_length=200)
]
Mode = Literal["cot", "tot", "got", "sot", "governed", "quick", "explore", "map", "sketch", "test"]
Generation = Literal["prompt_pack", "heuristic", "model_backed"]
_MUTATING = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


class LimitsIn(BaseModel):
    """Graph limits; out-of-range values are clamped (and reported)."""

    model_config = ConfigDict(extra="forbid")
    max_depth: int | None = Field(default=None, description="Deepest node (1-64)")
    max_nodes: int | None = Field(default=None, description="Most nodes (2-100000)")
    max_edges: int | None = Field(default=None, description="Most typed edges (0-400000)")
    max_branches_per_expand: int | None = Field(default=None, description="Most children per expand (1-16)")


class EdgeIn(BaseModel):
    """A typed edge from the new node."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["supports", "conflicts", "depends_on", "refines"]
    targetId: NodeId


class ScoreIn(BaseModel):
    """Your scores for one node, each 0-1 (risk and cost: higher is worse)."""

    model_config = ConfigDict(extra="forbid")
    correctness: float | None = Field(default=None, ge=0, le=1)
    evidence: float | None = Field(default=None, ge=0, le=1)
    risk: float | None = Field(default=None, ge=0, le=1)
    cost: float | None = Field(default=None, ge=0, le=1)
    novelty: float | None = Field(default=None, ge=0, le=1)


class WeightsIn(BaseModel):
    """Weights of the dimensions (defaults: correctness 0.3, evidence 0.25, risk 0.2, cost 0.1, novelty 0.15)."""

    model_config = ConfigDict(extra="forbid")
    correctness: float | None = Field(default=None, ge=0, le=100)
    evidence: float | None = Field(default=None, ge=0, le=100)
    risk: float | None = Field(default=None, ge=0, le=100)
    cost: float | None = Field(default=None, ge=0, le=100)
    novelty: float | None = Field(default=None, ge=0, le=100)
    correctness_proxy: float | None = Field(default=None, ge=0, le=100, description="Alias of correctness")
    evidence_quality: float | None = Field(default=None, ge=0, le=100, description="Alias of evidence")


def compact_schema(schema: Any) -> None:
    """Shrink a JSON schema in place, meaning unchanged: ``$defs`` inlined (clients with an
    OpenAPI-subset schema, such as Gemini's function declarations, resolve no ``$ref``),
    ``anyOf [T, null]`` → ``type [T, "null"]``, no ``title``, no ``default: null``
    (validation is pydantic's, not the listed schema's)."""
    if isinstance(schema, dict) and "$defs" in schema:
        _inline(schema, schema.pop("$defs"))
    _compact(schema)


def _inline(node: Any, defs: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            del node["$ref"]
            for key, value in copy.deepcopy(defs[ref[len("#/$defs/") :]]).items():
                node.setdefault(key, value)
        for value in node.values():
            _inline(value, defs)
    elif isinstance(node, list):
        for item in node:
            _inline(item, defs)


def _compact(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        other = any_of[0] if any_of[1] == {"type": "null"} else any_of[1]
        if isinstance(other, dict) and isinstance(other.get("type"), str):
            del schema["anyOf"]
            for key, value in other.items():
                schema.setdefault(key, value)
            schema["type"] = [other["type"], "null"]
    schema.pop("title", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    for sub in (schema.get("properties") or {}).values():
        _compact(sub)
    for key in ("items", "additionalProperties"):
        _compact(schema.get(key))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or ():
            _compact(sub)


def _set(model: BaseModel | None) -> tuple[tuple[str, Any], ...]:
    if model is None:
        return ()
    return tuple((k, v) for k, v in model.model_dump().items() if v is not None)


Resolve = Callable[..., str]
_F = TypeVar("_F", bound=Callable[..., Any])


def tool_registrar(server: MCPServer, enabled: frozenset[str]) -> Callable[..., Callable[[_F], _F]]:
    """A decorator factory that registers a tool (with a compacted schema) only when it is enabled."""

    def tool(name: str, title: str, description: str, annotations: ToolAnnotations = _MUTATING) -> Callable[[_F], _F]:
        def register(fn: _F) -> _F:
            if name in enabled:
                server.tool(name=name, title=title, description=description, annotations=annotations)(fn)
                registered = server._tool_manager.get_tool(name)
                assert registered is not None
                compact_schema(registered.parameters)
            return fn

        return register

    return tool


def register_graph(
    server: MCPServer, engine: Engine, defaults: DefaultSessions, resolve: Resolve, enabled: frozenset[str]
) -> None:
    """Add the enabled deliberation tools, and the graph resources and prompts, to ``server``."""

    tool = tool_registrar(server, enabled)

    # Per connection: requestId -> the session a start_deliberation without sessionId opened.
    started: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()

    def _started(key: Any, request_id: str | None) -> str | None:
        if key is None or request_id is None:
            return None
        try:
            return started.get(key, {}).get(request_id)
        except TypeError:
            return None

    def session(ctx: Context, session_id: str | None) -> str:
        return resolve(ctx, session_id, create=False)

    async def _branch_cap(sid: str) -> int:
        state = await engine.current(sid)
        if state is None:
            raise SessionNotFound(f"no session {sid!r}")
        deliberation = state.graph.deliberation
        return deliberation.limits.max_branches_per_expand if deliberation is not None else 16

    async def run(ctx: Context, sid: str | None, make: Callable[[], Any]) -> dict[str, Any]:
        try:
            return await engine.graph_command(session(ctx, sid), make())
        except ThinkGateError as exc:
            return _error(exc)

    @tool("start_deliberation", "Start a deliberation", texts.START_DELIBERATION)
    async def start_deliberation(
        ctx: Context,
        goal: Annotated[str, Field(description="What to decide, plan or solve")],
        constraints: Annotated[list[str] | None, Field(description="Hard constraints", max_length=32)] = None,
        mode: Annotated[Mode, Field(description="Way of thinking (aliases accepted)")] = "tot",
        profile: Annotated[Literal["quick", "balanced", "deep", "paranoid"], Field(description="Limit preset")] = (
            "balanced"
        ),
        limits: Annotated[LimitsIn | None, Field(description="Overrides of the profile's limits")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        key = defaults.connection_key(ctx.request_context.session)
        try:
            if sessionId is not None:
                sid = check_new_session_id(sessionId)
            else:
                # A retry (same requestId) on this connection must reach the session the first call
                # opened, whose id the caller may never have received.
                sid = _started(key, requestId) or engine.new_session_id()
            command = StartDeliberation(
                goal=goal,
                constraints=tuple(constraints or ()),
                mode=mode,
                profile=profile,
                limits=_set(limits),
                request_id=requestId,
            )
            result = await engine.graph_command(sid, command)
        except ThinkGateError as exc:
            return _error(exc)
        defaults.set(key, sid)
        if sessionId is None and requestId is not None and key is None:
            result.setdefault("warnings", []).append(
                "requestId without sessionId makes a retry safe only on a connection; this request has none "
                "(stateless protocol), so a retry would open another deliberation: choose and pass a sessionId"
            )
        if sessionId is None and requestId is not None and key is not None:
            # A connection that cannot be weakly referenced keeps no retry memory.
            with contextlib.suppress(TypeError):
                started.setdefault(key, {})[requestId] = sid
        return result

    @tool("add_thought", "Add a thought node", texts.ADD_THOUGHT)
    async def add_thought(
        ctx: Context,
        content: Annotated[str, Field(description="The node's text: one idea, step or answer")],
        parentIds: Annotated[
            list[NodeId] | None, Field(description="Nodes it grows from (default: the root)", max_length=16)
        ] = None,
        edges: Annotated[list[EdgeIn] | None, Field(description="Typed edges from this node", max_length=32)] = None,
        tags: Annotated[list[str] | None, Field(description="Labels", max_length=16)] = None,
        branchId: Annotated[str | None, Field(description="Branch label", max_length=200)] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: AddThought(
                content=content,
                parent_ids=tuple(parentIds) if parentIds is not None else None,
                edges=tuple((e.kind, e.targetId) for e in edges or ()),
                tags=tuple(tags or ()),
                branch_id=branchId,
                request_id=requestId,
            ),
        )

    @tool("expand_thoughts", "Expand thoughts", texts.EXPAND_THOUGHTS)
    async def expand_thoughts(
        ctx: Context,
        fromNodeIds: Annotated[list[NodeId], Field(description="Nodes to expand", min_length=1, max_length=64)],
        strategy: Annotated[
            Literal["diverse", "least_to_most", "contrarian", "direct", "skeleton_first"], Field(description="How")
        ] = "diverse",
        count: Annotated[int, Field(ge=1, le=64, description="New nodes per source (capped by the limits)")] = 3,
        generation: Annotated[Generation, Field(description="Who writes the new nodes")] = "prompt_pack",
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        try:
            sid = session(ctx, sessionId)
            if strategy == "skeleton_first":
                if len(fromNodeIds) != 1:
                    raise InvalidInput("strategy skeleton_first needs exactly one node in fromNodeIds")
                if generation == "heuristic":  # the shortcut for start_skeleton_of_thought
                    cap = await _branch_cap(sid)
                    command = StartSkeleton(
                        source_id=fromNodeIds[0], num_skeletons=max(2, min(count, cap)), request_id=requestId
                    )
                    return await engine.graph_command(sid, command)
            if generation == "prompt_pack":
                return await expand_prompts(engine, sid, fromNodeIds, strategy, count)
            if generation == "model_backed":
                if await engine.current(sid) is None:
                    raise SessionNotFound(f"no session {sid!r}")
                raise model_unavailable("expand_thoughts")
            return await engine.graph_command(
                sid, ExpandThoughts(from_ids=tuple(fromNodeIds), strategy=strategy, count=count, request_id=requestId)
            )
        except ThinkGateError as exc:
            return _error(exc)

    @tool("score_thoughts", "Score thoughts", texts.SCORE_THOUGHTS)
    async def score_thoughts(
        ctx: Context,
        nodeIds: Annotated[
            list[NodeId] | None, Field(description="Nodes to score (default: the frontier)", max_length=5000)
        ] = None,
        scores: Annotated[dict[str, ScoreIn] | None, Field(description="Your scores by node id")] = None,
        weights: Annotated[WeightsIn | None, Field(description="Dimension weights")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: ScoreThoughts(
                node_ids=tuple(nodeIds) if nodeIds is not None else None,
                weights=_set(weights),
                scores=tuple((nid, _set(s)) for nid, s in (scores or {}).items()),
                request_id=requestId,
            ),
        )

    @tool("prune_thoughts", "Prune thoughts", texts.PRUNE_THOUGHTS)
    async def prune_thoughts(
        ctx: Context,
        beamWidth: Annotated[int | None, Field(ge=1, le=100_000, description="How many to keep")] = None,
        threshold: Annotated[float | None, Field(ge=0, le=1, description="Drop scores below this")] = None,
        nodeIds: Annotated[
            list[NodeId] | None, Field(description="Candidates (default: the frontier)", max_length=5000)
        ] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: PruneThoughts(
                beam_width=beamWidth,
                threshold=threshold,
                node_ids=tuple(nodeIds) if nodeIds is not None else None,
                request_id=requestId,
            ),
        )

    @tool("link_thoughts", "Link thoughts", texts.LINK_THOUGHTS)
    async def link_thoughts(
        ctx: Context,
        sourceId: NodeId,
        targetId: NodeId,
        kind: Annotated[Literal["supports", "conflicts", "depends_on", "refines"], Field(description="Edge kind")],
        note: Annotated[str | None, Field(description="Why", max_length=2000)] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: LinkThoughts(sourceId, targetId, kind, note, requestId),
        )

    @tool("merge_thought_branches", "Merge thought branches", texts.MERGE_THOUGHT_BRANCHES)
    async def merge_thought_branches(
        ctx: Context,
        sourceNodeIds: Annotated[list[NodeId], Field(min_length=2, max_length=64, description="Nodes to merge")],
        content: Annotated[str | None, Field(description="Your synthesis (recommended)")] = None,
        tags: Annotated[list[str] | None, Field(max_length=16, description="Labels")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: MergeBranches(tuple(sourceNodeIds), content, tuple(tags or ()), requestId),
        )

    @tool("distill_thought_cluster", "Distill a thought cluster", texts.DISTILL_THOUGHT_CLUSTER)
    async def distill_thought_cluster(
        ctx: Context,
        sourceNodeIds: Annotated[list[NodeId], Field(min_length=1, max_length=64, description="Nodes to distill")],
        content: Annotated[str | None, Field(description="Your summary (recommended)")] = None,
        maxBullets: Annotated[int, Field(ge=1, le=32, description="Bullets in a heuristic summary")] = 8,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: DistillCluster(tuple(sourceNodeIds), content, maxBullets, requestId),
        )

    @tool("refine_thoughts", "Refine a thought", texts.REFINE_THOUGHTS)
    async def refine_thoughts(
        ctx: Context,
        sourceNodeId: NodeId,
        critique: Annotated[str | None, Field(description="What is wrong or missing", max_length=8000)] = None,
        verificationFailure: Annotated[str | None, Field(description="A check that failed", max_length=8000)] = None,
        refinedContent: Annotated[str | None, Field(description="Your corrected version")] = None,
        branchId: Annotated[str | None, Field(max_length=200, description="Branch label")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: RefineThought(sourceNodeId, critique, verificationFailure, refinedContent, branchId, requestId),
        )

    @tool("start_skeleton_of_thought", "Start a skeleton of thought", texts.START_SKELETON_OF_THOUGHT)
    async def start_skeleton_of_thought(
        ctx: Context,
        sourceNodeId: Annotated[str | None, Field(pattern=NODE_ID_PATTERN, description="Default: the goal")] = None,
        numSkeletons: Annotated[int, Field(ge=1, le=100, description="Outline points (clamped to 2-10)")] = 4,
        skeletonStyle: Annotated[
            Literal["multi_lens", "decomposition", "hypothesis_set", "stakeholder_views", "implementation_plan"],
            Field(description="Kind of outline"),
        ] = "multi_lens",
        suitabilityPolicy: Annotated[
            Literal["conservative", "balanced", "permissive"], Field(description="How strict the gate is")
        ] = "balanced",
        force: Annotated[bool, Field(description="Outline even if the gate refuses")] = False,
        branchLabels: Annotated[list[str] | None, Field(max_length=10, description="Your outline labels")] = None,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        return await run(
            ctx,
            sessionId,
            lambda: StartSkeleton(
                sourceNodeId,
                numSkeletons,
                skeletonStyle,
                suitabilityPolicy,
                force,
                tuple(branchLabels or ()),
                requestId,
            ),
        )

    @tool("run_skeleton_elaboration", "Elaborate a skeleton", texts.RUN_SKELETON_ELABORATION)
    async def run_skeleton_elaboration(
        ctx: Context,
        phaseId: Annotated[str | None, Field(max_length=32, description="Default: the newest open phase")] = None,
        skeletonNodeIds: Annotated[list[NodeId] | None, Field(max_length=10, description="Default: all")] = None,
        elaborationDepth: Annotated[int, Field(ge=1, le=100, description="Nodes per point (clamped to 1-8)")] = 3,
        generation: Annotated[Generation, Field(description="Who writes the elaboration")] = "prompt_pack",
        mergeAfter: Annotated[bool, Field(description="Add a merge node after (heuristic only)")] = False,
        sessionId: _SID = None,
        requestId: _RID = None,
    ) -> dict[str, Any]:
        try:
            sid = session(ctx, sessionId)
            if generation == "prompt_pack":
                return await elaboration_prompts(engine, sid, phaseId, skeletonNodeIds, elaborationDepth)
            if generation == "model_backed":
                if await engine.current(sid) is None:
                    raise SessionNotFound(f"no session {sid!r}")
                raise model_unavailable("run_skeleton_elaboration")
            command = RunElaboration(
                phaseId,
                tuple(skeletonNodeIds) if skeletonNodeIds is not None else None,
                elaborationDepth,
                mergeAfter,
                requestId,
            )
            return await engine.graph_command(sid, command)
        except ThinkGateError as exc:
            return _error(exc)

    @server.resource(
        "thinkgate://session/{session_id}/graph",
        name="session-graph",
        description="A session's thought graph: nodes (with text, status, score), parent and typed edges, frontier.",
        mime_type="application/json",
    )
    async def graph_resource(session_id: str) -> str:
        return orjson.dumps(await _read(engine.graph_view, session_id)).decode()

    @server.resource(
        "thinkgate://session/{session_id}/frontier",
        name="session-frontier",
        description="A session's frontier: the active nodes to work on next, with their text (the first 1,000).",
        mime_type="application/json",
    )
    async def frontier_resource(session_id: str) -> str:
        return orjson.dumps(await _read(engine.frontier_view, session_id)).decode()

    @server.resource(
        "thinkgate://thinking-modes",
        name="thinking-modes",
        description="The thinking modes with their aliases, cost, tools and gates, and the profiles' limits.",
        mime_type="application/json",
    )
    async def thinking_modes() -> str:
        return orjson.dumps(THINKING_MODES).decode()

    @server.prompt(
        name="tot-planner-guidance",
        title="Tree-of-thought planning guidance",
        description="How to plan with a tree of thoughts: expand, add, score, prune, converge.",
    )
    def tot_planner_guidance() -> str:
        return texts.TOT_PLANNER_GUIDANCE

    @server.prompt(
        name="diverse-lens-pack",
        title="Diverse lens pack",
        description="Eight lenses for diverse expansion of a topic, answered with add_thought.",
    )
    def diverse_lens_pack(topic: str = "") -> str:
        return texts.diverse_lens_pack(topic)


async def _read(view: Callable[[str], Any], session_id: str) -> Any:
    try:
        return await view(session_id)
    except SessionNotFound as exc:
        raise ResourceNotFoundError(f"{exc.code}: {exc.message}") from exc
    except ThinkGateError as exc:
        raise ResourceError(f"{exc.code}: {exc.message}") from exc


def _error(exc: ThinkGateError) -> dict[str, Any]:
    from thinkgate.mcp.server import tool_error

    return tool_error(exc)  # type: ignore[return-value]  # the SDK passes error results through
