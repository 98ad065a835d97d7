"""Reference server: the floor, a plain-Python line responder with orjson.

The least work a correct stdio MCP server can do for the ``sequentialthinking``
workload: one blocking loop reads a line, decodes it with orjson, answers
``initialize``, ``ping``, ``tools/list`` and ``tools/call`` (the official Node server's
result shape: a pretty-printed JSON text block plus ``structuredContent``), writes the
answer and flushes. Thoughts are kept in an in-memory list; extra arguments are
ignored; notifications get no answer; unknown methods get -32601.

    python bench/anchors/floor_orjson.py     # serves MCP on stdio
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
TOOL: dict[str, Any] = {
    "name": "sequentialthinking",
    "description": "Record one thinking step and report the chain's state.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "thought": {"type": "string"},
            "nextThoughtNeeded": {"type": "boolean"},
            "thoughtNumber": {"type": "integer", "minimum": 1},
            "totalThoughts": {"type": "integer", "minimum": 1},
        },
        "required": ["thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts"],
    },
}

steps: list[tuple[str, int, int, bool]] = []


def tool_call(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("name") != "sequentialthinking":
        return {"error": {"code": -32602, "message": f"Unknown tool: {params.get('name')!r}"}}
    args = params.get("arguments") or {}
    thought, nxt = args.get("thought"), args.get("nextThoughtNeeded")
    number, total = args.get("thoughtNumber"), args.get("totalThoughts")
    if not (isinstance(thought, str) and type(nxt) is bool and type(number) is int and type(total) is int):
        return {"result": {"content": [{"type": "text", "text": "Invalid arguments"}], "isError": True}}
    if number < 1 or total < 1:
        return {"result": {"content": [{"type": "text", "text": "Numbers must be >= 1"}], "isError": True}}
    total = max(total, number)
    steps.append((thought, number, total, nxt))
    data = {
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": nxt,
        "branches": [],
        "thoughtHistoryLength": len(steps),
    }
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    return {"result": {"content": [{"type": "text", "text": text}], "structuredContent": data}}


def answer(msg: dict[str, Any]) -> dict[str, Any] | None:
    if "id" not in msg or "method" not in msg:
        return None  # a notification (or a stray response)
    method = msg["method"]
    params = msg.get("params") or {}
    if method == "tools/call":
        body = tool_call(params)
    elif method == "initialize":
        asked = params.get("protocolVersion")
        body = {
            "result": {
                "protocolVersion": asked if asked in VERSIONS else VERSIONS[-1],
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "floor-orjson", "version": "1.0.0"},
            }
        }
    elif method == "tools/list":
        body = {"result": {"tools": [TOOL]}}
    elif method == "ping":
        body = {"result": {}}
    else:
        body = {"error": {"code": -32601, "message": f"Method not found: {method}"}}
    return {"jsonrpc": "2.0", "id": msg["id"], **body}


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            reply: dict[str, Any] | None = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32700, "message": "Parse error"},
            }
        else:
            reply = answer(msg) if isinstance(msg, dict) else None
        if reply is not None:
            out.write(orjson.dumps(reply) + b"\n")
            out.flush()


if __name__ == "__main__":
    main()
