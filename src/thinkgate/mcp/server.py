"""``build_server``: the MCP tools, resources and prompts, bound to an engine.

Handlers are ``async def`` (a sync tool costs a thread hop per call). Domain errors
become tool results with ``isError: true``, the text ``CODE: message`` and the code in
``_meta``; resources raise the SDK's resource errors. Nothing here prints to stdout.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, NotRequired, TypedDict

import orjson
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BeforeValidator, Field, ValidationError, WithJsonSchema

from thinkgate import __version__
from thinkgate.domain.ids import SESSION_ID_PATTERN, check_new_session_id
from thinkgate.domain.safety import scan_text
from thinkgate.domain.thinking import RecordThought
from thinkgate.engine.engine import MAX_PAGE, Engine
from thinkgate.engine.views import session_view
from thinkgate.errors import InternalError, InvalidInput, SessionNotFound, ThinkGateError, UnknownTool
from thinkgate.mcp import texts
from thinkgate.mcp.coerce import js_bool, js_int, optional
from thinkgate.mcp.connection import DefaultSessions
from thinkgate.mcp.governance_tools import register_governance
from thinkgate.mcp.graph_tools import register_graph
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS, TOOLSETS, tools_of

__all__ = ["ThoughtResult", "build_server"]

log = logging.getLogger("thinkgate.mcp")
# Thought content goes only to this logger, and only when THINKGATE_LOG_THOUGHTS=1 (secrets redacted).
thought_log = logging.getLogger("thinkgate.thoughts")

# The official server advertises string-or-native types for coerced fields; so do we.
_BOOL = WithJsonSchema({"type": ["boolean", "string"]})
# Thought numbers are at most 2**53 - 1, the largest integer every JSON peer reads exactly.
MAX_NUMBER = 2**53 - 1
_INT = WithJsonSchema({"type": ["integer", "string"], "minimum": 1, "maximum": MAX_NUMBER})
_OPT_INT = WithJsonSchema({"type": ["integer", "string", "null"], "minimum": 1, "maximum": MAX_NUMBER})
_OPT_BOOL = WithJsonSchema({"type": ["boolean", "string", "null"]})
# The official server's coercion rules (mcp/coerce.py), applied before pydantic's checks.
# The range sits inside the optional type: on ``int | None`` pydantic would apply it to None too
# (a TypeError, so INTERNAL instead of INVALID_INPUT, whenever another argument also failed).
_ThoughtNumber = Annotated[int, Field(ge=1, le=MAX_NUMBER)]
_TO_INT = BeforeValidator(js_int)
_TO_BOOL = BeforeValidator(js_bool)
_TO_OPT_INT = BeforeValidator(optional(js_int))
_TO_OPT_BOOL = BeforeValidator(optional(js_bool))
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_SESSION = Field(
    default=None,
    description="Session to use; omit for this connection's own session. Unknown ids create that session.",
    pattern=SESSION_ID_PATTERN,
    max_length=128,
)


class ThoughtResult(TypedDict):
    """Result of ``sequentialthinking``: the official fields plus ThinkGate's additions."""

    thoughtNumber: int
    totalThoughts: int
    nextThoughtNeeded: bool
    branches: list[str]
    thoughtHistoryLength: int
    sessionId: str
    thoughtId: str
    branchId: NotRequired[str]
    warnings: list[str]
    feedback: list[str]


class HistoryResult(TypedDict):
    """A page of a session's thoughts."""

    sessionId: str
    thoughts: list[dict[str, Any]]
    nextCursor: str | None
    warnings: list[str]


class SessionsResult(TypedDict):
    """A page of sessions."""

    sessions: list[dict[str, Any]]
    nextCursor: str | None


class ClearResult(TypedDict):
    """What ``clear_thinking_history`` did."""

    sessionId: str
    cleared: int


ERROR_META_KEY = "thinkgate/error"


def tool_error(exc: ThinkGateError) -> CallToolResult:
    """A domain error as a tool result the model can read and a client can branch on.

    The code leads the text (``CODE: message``) and is repeated in ``_meta`` for programs.
    There is deliberately no ``structuredContent``: clients such as the TypeScript SDK
    validate it against the tool's output schema even on error results.
    """
    return CallToolResult(
        is_error=True,
        content=[TextContent(type="text", text=f"{exc.code}: {exc.message}")],
        _meta={ERROR_META_KEY: {"code": exc.code, "retriable": exc.retriable}},
    )


def _validation_summary(exc: ValidationError) -> str:
    # Field names and reasons only: the rejected values are the caller's data.
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class ThinkGateMCP(MCPServer):
    """``MCPServer`` whose every tool failure carries a stable error code.

    The SDK turns argument-validation failures and unknown tools into plain-text errors
    and hides unexpected exceptions; here each becomes the same structured error as a
    domain error (``INVALID_INPUT``, ``UNKNOWN_TOOL``, ``INTERNAL``).
    """

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if name in STRICT_TOOLS:
            refused = _strict_arguments(self, name, arguments)
            if refused is not None:
                return tool_error(refused)
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            log.error("tool %r failed unexpectedly", name, exc_info=exc.__cause__ or exc)
            return tool_error(InternalError(f"{name} failed unexpectedly; nothing was stored. Retry the call."))
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return tool_error(InvalidInput(f"invalid arguments for {name}: {_validation_summary(exc.__cause__)}"))
            if self._tool_manager.get_tool(name) is None:
                return tool_error(UnknownTool(f"no tool named {name!r}; call tools/list for the tools"))
            raise

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        # The SDK reports an unknown prompt as error code 0 with a traceback in the log.
        if self._prompt_manager.get_prompt(name) is None:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {name!r}; call prompts/list for the prompts")
        return await super().get_prompt(name, arguments, context)


# The deliberation tools refuse arguments they do not know (a misspelt or guessed name must not
# be dropped silently, e.g. sending a write to another session). The official server's tools
# (core) keep its lenient behaviour.
STRICT_TOOLS = frozenset(name for ts, names in TOOLSETS.items() if ts != "core" for name in names)


def _strict_arguments(server: MCPServer, name: str, arguments: dict[str, Any]) -> InvalidInput | None:
    """Map ``deliberationId`` to ``sessionId`` and refuse unknown argument names (None: all known)."""
    tool = server._tool_manager.get_tool(name)
    if tool is None or not isinstance(arguments, dict):
        return None
    if "deliberationId" in arguments:  # what start_deliberation returns; an unlisted alias
        did = arguments.pop("deliberationId")
        if arguments.setdefault("sessionId", did) != did:
            return InvalidInput("sessionId and deliberationId name different sessions; give one")
    known = tool.parameters.get("properties", {})
    unknown = sorted(k for k in arguments if k not in known)
    if unknown:
        return InvalidInput(
            f"{name} has no argument {', '.join(map(repr, unknown))}; its arguments are {', '.join(known)}"
        )
    return None


def build_server(
    engine: Engine,
    *,
    log_thoughts: bool = False,
    defaults: DefaultSessions | None = None,
    toolsets: frozenset[str] = DEFAULT_TOOLSETS,
) -> MCPServer:
    """The ThinkGate MCP server bound to ``engine`` (which the caller starts and stops).

    ``defaults`` holds each connection's default session; a transport that answers some
    calls itself (``mcp/wire.py``) passes its own so both agree. ``toolsets`` chooses the
    tools listed (``mcp/toolsets.py``); resources and prompts are always there.
    """
    enabled = tools_of(toolsets)
    server = ThinkGateMCP(
        "thinkgate",
        version=__version__,
        instructions=texts.instructions(enabled),
        # The SDK configures the root logger at this level; ThinkGate's own logger is set up in app.py.
        log_level="WARNING",
    )
    defaults = defaults if defaults is not None else DefaultSessions()

    def resolve(ctx: Context, session_id: str | None, *, create: bool) -> str:
        if session_id is not None:
            return check_new_session_id(session_id)
        key = defaults.connection_key(ctx.request_context.session)
        existing = defaults.get(key)
        if existing is not None:
            return existing
        if not create:
            if key is None:
                raise SessionNotFound(
                    "this request has no connection to hold a default session (a stateless protocol): "
                    "pass the sessionId (or deliberationId) that an earlier result returned"
                )
            raise SessionNotFound("this connection has no session yet: pass sessionId, or record a thought first")
        new = engine.new_session_id()
        defaults.set(key, new)
        return new

    @server.tool(
        name="sequentialthinking",
        title="Sequential Thinking",
        description=texts.SEQUENTIAL_THINKING,
        annotations=ToolAnnotations(
            title="Sequential Thinking",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def sequentialthinking(
        ctx: Context,
        thought: Annotated[str, Field(description="Your current thinking step")],
        nextThoughtNeeded: Annotated[
            bool, _BOOL, _TO_BOOL, Field(description="Whether another thought step is needed")
        ],
        thoughtNumber: Annotated[
            int, _INT, _TO_INT, Field(ge=1, le=MAX_NUMBER, description="Current thought number (e.g. 1, 2, 3)")
        ],
        totalThoughts: Annotated[
            int, _INT, _TO_INT, Field(ge=1, le=MAX_NUMBER, description="Estimated total thoughts needed")
        ],
        isRevision: Annotated[
            bool | None, _OPT_BOOL, _TO_OPT_BOOL, Field(description="Whether this revises previous thinking")
        ] = None,
        revisesThought: Annotated[
            _ThoughtNumber | None,
            _OPT_INT,
            _TO_OPT_INT,
            Field(description="Which thought is being reconsidered"),
        ] = None,
        branchFromThought: Annotated[
            _ThoughtNumber | None, _OPT_INT, _TO_OPT_INT, Field(description="Branching point thought number")
        ] = None,
        branchId: Annotated[str | None, Field(description="Branch identifier", max_length=200)] = None,
        needsMoreThoughts: Annotated[
            bool | None, _OPT_BOOL, _TO_OPT_BOOL, Field(description="If more thoughts are needed")
        ] = None,
        sessionId: Annotated[str | None, _SESSION] = None,
        requestId: Annotated[
            str | None,
            Field(
                description="Idempotency key: a retry with the same requestId is not recorded twice",
                max_length=200,
            ),
        ] = None,
    ) -> ThoughtResult:
        command = RecordThought(
            thought=thought,
            thought_number=thoughtNumber,
            total_thoughts=totalThoughts,
            next_thought_needed=nextThoughtNeeded,
            is_revision=isRevision,
            revises_thought=revisesThought,
            branch_from_thought=branchFromThought,
            branch_id=branchId,
            needs_more_thoughts=needsMoreThoughts,
            request_id=requestId,
        )
        try:
            sid = resolve(ctx, sessionId, create=True)
            result = await engine.record_thought(sid, command)
        except ThinkGateError as exc:
            return tool_error(exc)  # type: ignore[return-value]  # the SDK passes error results through
        if log_thoughts:
            thought_log.info("%s %s: %s", sid, result["thoughtId"], scan_text(thought).text)
        return result  # type: ignore[return-value]  # built by the domain with exactly these keys

    @server.tool(
        name="get_thinking_history",
        title="Get thinking history",
        description=texts.GET_HISTORY,
        annotations=_READ_ONLY,
    )
    async def get_thinking_history(
        ctx: Context,
        sessionId: Annotated[str | None, _SESSION] = None,
        branchId: Annotated[str | None, Field(description="Only thoughts of this branch", max_length=200)] = None,
        cursor: Annotated[str | None, Field(description="nextCursor of the previous page", max_length=32)] = None,
        limit: Annotated[int, Field(ge=1, description=f"Thoughts per page (at most {MAX_PAGE})")] = 50,
    ) -> HistoryResult:
        warnings = []
        if limit > MAX_PAGE:
            warnings.append(f"limit {limit} clamped to {MAX_PAGE}")
            limit = MAX_PAGE
        try:
            sid = resolve(ctx, sessionId, create=False)
            page = await engine.history(sid, branch_id=branchId, cursor=cursor, limit=limit)
        except ThinkGateError as exc:
            return tool_error(exc)  # type: ignore[return-value]
        return {
            "sessionId": page.session_id,
            "thoughts": page.thoughts,
            "nextCursor": page.next_cursor,
            "warnings": warnings,
        }

    @server.tool(
        name="list_sessions",
        title="List sessions",
        description=texts.LIST_SESSIONS,
        annotations=_READ_ONLY,
    )
    async def list_sessions(
        cursor: Annotated[str | None, Field(description="nextCursor of the previous page", max_length=300)] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Sessions per page")] = 100,
    ) -> SessionsResult:
        try:
            page = await engine.recent(limit=limit, cursor=cursor)
        except ThinkGateError as exc:
            return tool_error(exc)  # type: ignore[return-value]
        return {"sessions": [session_view(i) for i in page.sessions], "nextCursor": page.next_cursor}

    @server.tool(
        name="clear_thinking_history",
        title="Clear thinking history",
        description=texts.CLEAR_HISTORY,
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def clear_thinking_history(
        ctx: Context,
        sessionId: Annotated[str | None, _SESSION] = None,
        requestId: Annotated[str | None, Field(description="Idempotency key", max_length=200)] = None,
    ) -> ClearResult:
        try:
            sid = resolve(ctx, sessionId, create=False)
            result = await engine.clear_history(sid, request_id=requestId)
        except ThinkGateError as exc:
            return tool_error(exc)  # type: ignore[return-value]
        return {"sessionId": result["sessionId"], "cleared": result["cleared"]}

    @server.resource(
        "thinkgate://sessions",
        name="sessions",
        description="The 1,000 most recently updated sessions, newest first, as JSON.",
        mime_type="application/json",
    )
    async def sessions_resource() -> str:
        page = await engine.recent(limit=1000)
        return orjson.dumps({"sessions": [session_view(i) for i in page.sessions]}).decode()

    @server.resource(
        "thinkgate://session/{session_id}/timeline",
        name="session-timeline",
        description=(
            f"A session's thoughts since its last clear, oldest first, as JSON (the first {MAX_PAGE}; "
            "nextCursor continues with get_thinking_history)."
        ),
        mime_type="application/json",
    )
    async def timeline_resource(session_id: str) -> str:
        # One page, so a long session cannot turn into a message of tens of megabytes.
        try:
            page = await engine.history(session_id, limit=MAX_PAGE)
        except SessionNotFound as exc:
            raise ResourceNotFoundError(f"{exc.code}: {exc.message}") from exc
        except ThinkGateError as exc:
            raise ResourceError(f"{exc.code}: {exc.message}") from exc
        return orjson.dumps(
            {"sessionId": session_id, "thoughts": page.thoughts, "nextCursor": page.next_cursor}
        ).decode()

    @server.prompt(
        name="sequential-thinking-guidance",
        title="Sequential thinking guidance",
        description="When and how to use the sequentialthinking tool.",
    )
    def guidance() -> str:
        return texts.GUIDANCE

    register_graph(server, engine, defaults, resolve, enabled)
    register_governance(server, engine, defaults, resolve, enabled)
    return server
