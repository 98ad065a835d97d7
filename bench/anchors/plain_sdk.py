"""Reference server: a plain ``mcp`` SDK server with one ``sequentialthinking`` tool.

What a straightforward server on the official Python SDK's high-level API costs:
``MCPServer`` from ``mcp.server``, the tool registered with a decorator, a TypedDict
result (the SDK turns it into ``structuredContent`` plus a JSON text block), the
official Node server's result shape, and thoughts kept in an in-memory list.
Extra arguments (such as ThinkGate's ``sessionId``) are ignored, as the Node server does.

    python bench/anchors/plain_sdk.py        # serves MCP on stdio
"""

from __future__ import annotations

from typing import TypedDict

from mcp.server import MCPServer


class StepResult(TypedDict):
    thoughtNumber: int
    totalThoughts: int
    nextThoughtNeeded: bool
    branches: list[str]
    thoughtHistoryLength: int


class Step(TypedDict):
    thought: str
    thoughtNumber: int
    totalThoughts: int
    nextThoughtNeeded: bool


mcp = MCPServer(name="plain-sdk-seqthink", version="1.0.0", log_level="WARNING")
steps: list[Step] = []


@mcp.tool(name="sequentialthinking", description="Record one thinking step and report the chain's state.")
def sequentialthinking(thought: str, nextThoughtNeeded: bool, thoughtNumber: int, totalThoughts: int) -> StepResult:
    total = max(totalThoughts, thoughtNumber)
    steps.append(
        {
            "thought": thought,
            "thoughtNumber": thoughtNumber,
            "totalThoughts": total,
            "nextThoughtNeeded": nextThoughtNeeded,
        }
    )
    return {
        "thoughtNumber": thoughtNumber,
        "totalThoughts": total,
        "nextThoughtNeeded": nextThoughtNeeded,
        "branches": [],
        "thoughtHistoryLength": len(steps),
    }


if __name__ == "__main__":
    mcp.run()
