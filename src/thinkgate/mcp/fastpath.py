"""The hot ``sequentialthinking`` call without the SDK: argument checks and wire bytes.

Profile lesson (``shared/reference/sdk-performance.md``; BENCHMARKS.md): the SDK spends
~0.9 ms of CPU per ``tools/call``, almost all of it in thread hops, anyio streams and a
task per request, and only ~40 µs in parsing, validation and serialisation. A call
answered here costs a few microseconds of Python on top of the engine's write.

The contract with the SDK path is byte equality: for every call this module accepts,
the response bytes are exactly those the SDK path (``mcp/server.py`` under the SDK's
``Server.run``) writes for the same call; ``tests/mcp/test_fastpath_equivalence.py``
runs both and compares. So the fast path only accepts arguments in their canonical
JSON types (real booleans and integers, strings within their length limits, no unknown
keys); anything the SDK would coerce, reject or treat specially is declined and goes to
the SDK, which owns every error message about argument shapes.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from thinkgate.domain.ids import SESSION_ID_PATTERN
from thinkgate.domain.thinking import RecordThought
from thinkgate.errors import ThinkGateError

__all__ = ["TOOL_NAME", "encode_error", "encode_result", "encode_static", "parse_thought_call"]

TOOL_NAME = "sequentialthinking"
MAX_NUMBER = 2**53 - 1  # the bound the tool schema declares (mcp/server.py)
_SESSION_ID = re.compile(SESSION_ID_PATTERN)
_KEYS = frozenset(
    {
        "thought",
        "nextThoughtNeeded",
        "thoughtNumber",
        "totalThoughts",
        "isRevision",
        "revisesThought",
        "branchFromThought",
        "branchId",
        "needsMoreThoughts",
        "sessionId",
        "requestId",
    }
)
_ERROR_META_KEY = "thinkgate/error"  # as mcp/server.py's tool_error


def _number(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_NUMBER


def _opt_number(value: Any) -> bool:
    return value is None or (type(value) is int and 1 <= value <= MAX_NUMBER)


def _opt_bool(value: Any) -> bool:
    return value is None or type(value) is bool


def _opt_str(value: Any, limit: int) -> bool:
    return value is None or (type(value) is str and len(value) <= limit)


def parse_thought_call(arguments: Any) -> tuple[RecordThought, str | None] | None:
    """The command and the explicit session id of a canonical call, or None to decline it."""
    if type(arguments) is not dict or not _KEYS.issuperset(arguments):
        return None
    get = arguments.get
    thought = get("thought")
    next_needed = get("nextThoughtNeeded")
    number: Any = get("thoughtNumber")
    total: Any = get("totalThoughts")
    session_id = get("sessionId")
    if not (
        type(thought) is str
        and type(next_needed) is bool
        and _number(number)
        and _number(total)
        and _opt_bool(get("isRevision"))
        and _opt_number(get("revisesThought"))
        and _opt_number(get("branchFromThought"))
        and _opt_str(get("branchId"), 200)
        and _opt_bool(get("needsMoreThoughts"))
        and _opt_str(get("requestId"), 200)
        and (session_id is None or (type(session_id) is str and _SESSION_ID.fullmatch(session_id) is not None))
    ):
        return None
    command = RecordThought(
        thought=thought,
        thought_number=number,
        total_thoughts=total,
        next_thought_needed=next_needed,
        is_revision=get("isRevision"),
        revises_thought=get("revisesThought"),
        branch_from_thought=get("branchFromThought"),
        branch_id=get("branchId"),
        needs_more_thoughts=get("needsMoreThoughts"),
        request_id=get("requestId"),
    )
    return command, session_id


def encode_result(request_id: str | int, result: dict[str, Any]) -> bytes:
    """The SDK's response line for a successful call (MCPServer's JSON text + structuredContent)."""
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    return (
        orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {
                    "content": [{"text": text, "type": "text"}],
                    "isError": False,
                    "structuredContent": result,
                },
            }
        )
        + b"\n"
    )


def encode_error(request_id: str | int, exc: ThinkGateError) -> bytes:
    """The SDK's response line for a tool error (mcp/server.py's ``tool_error``)."""
    return (
        orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {
                    "_meta": {_ERROR_META_KEY: {"code": exc.code, "retriable": exc.retriable}},
                    "content": [{"text": f"{exc.code}: {exc.message}", "type": "text"}],
                    "isError": True,
                },
            }
        )
        + b"\n"
    )


def encode_static(request_id: str | int, result: Any) -> bytes:
    """A response line carrying a precomputed result."""
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + b"\n"
