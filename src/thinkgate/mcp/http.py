"""The MCP server as the HTTP sidecar serves it: ``build_server`` plus two HTTP-only rules.

* ``list_sessions`` and the ``thinkgate://sessions`` resource list every session in the store,
  and over HTTP a session id is the only thing that keeps one client out of another's session
  (ids are random, 128 bits). So over HTTP they are refused (``FORBIDDEN``) unless the operator
  turns them on (``--list-sessions``, ``THINKGATE_HTTP_LIST_SESSIONS=1``) for a deployment
  whose clients all trust each other. Everything else is served exactly as on stdio.
* Every ``tools/call`` the SDK answers is counted in the metrics (the fast path counts its own).

The SDK serves it in stateless mode with JSON responses: no MCP session lives in a process, so
any replica can answer any request (ThinkGate's own sessions are in the store, named by
``sessionId``).
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult

from thinkgate.engine.engine import Engine
from thinkgate.errors import Forbidden
from thinkgate.http.metrics import Metrics
from thinkgate.mcp.server import build_server, tool_error
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS

__all__ = ["SESSIONS_URI", "Forbidden", "build_http_server", "session_manager"]

SESSIONS_URI = "thinkgate://sessions"


LIST_FORBIDDEN = Forbidden(
    "listing sessions is turned off over HTTP (it would show other clients' session ids); "
    "pass the sessionId you got from sequentialthinking, or ask the operator for --list-sessions"
)


def build_http_server(
    engine: Engine,
    *,
    metrics: Metrics,
    log_thoughts: bool = False,
    list_sessions: bool = False,
    toolsets: frozenset[str] = DEFAULT_TOOLSETS,
) -> MCPServer:
    """``build_server(engine)`` with the HTTP rules above."""
    server = build_server(engine, log_thoughts=log_thoughts, toolsets=toolsets)
    metrics.add_tools(tool.name for tool in server._tool_manager.list_tools())  # the SDK has no sync public list
    call_tool = server.call_tool
    read_resource = server.read_resource

    async def guarded_call_tool(name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        start = time.perf_counter()
        error = True
        try:
            if name == "list_sessions" and not list_sessions:
                result: Any = tool_error(LIST_FORBIDDEN)
            else:
                result = await call_tool(name, arguments, context)
            error = isinstance(result, CallToolResult) and bool(result.is_error)
            return result
        finally:
            metrics.observe_call(name, time.perf_counter() - start, error)

    async def guarded_read_resource(uri: Any, context: Any = None) -> Any:
        if str(uri) == SESSIONS_URI and not list_sessions:
            raise ResourceError(f"{LIST_FORBIDDEN.code}: {LIST_FORBIDDEN.message}")
        return await read_resource(uri, context)

    # The SDK's handlers call these through the instance, so the instance attributes take over.
    server.call_tool = guarded_call_tool  # type: ignore[method-assign]
    server.read_resource = guarded_read_resource  # type: ignore[method-assign]
    return server


def session_manager(server: MCPServer, *, max_body_bytes: int) -> StreamableHTTPSessionManager:
    """The SDK's Streamable HTTP handler for ``server``: stateless, JSON answers.

    Host, Origin and the token are checked before a request reaches it (``http/security.py``),
    so the SDK's own DNS-rebinding check is off here rather than run twice with other rules.
    """
    server.streamable_http_app(
        json_response=True,
        stateless_http=True,
        max_request_body_size=max_body_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager
