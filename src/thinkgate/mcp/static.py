"""Answers that never change while the server runs, captured from the SDK server itself.

``initialize``, ``ping`` and the four list methods return the same result for every
call of a given protocol version. The stdio wire answers them from this table, so a
client's handshake needs neither the SDK import (~0.8-1.7 s and ~50 MiB, measured in
BENCHMARKS.md) nor its request pipeline. The table is not written by hand: it is the
SDK's own output for every handshake-era protocol version, captured by

    .venv/bin/python -m thinkgate.mcp.static

into ``static_responses.json``; ``tests/mcp/test_static.py`` recaptures it and fails
when a tool, prompt or resource changed without regenerating it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson

__all__ = ["STATIC_FILE", "STATIC_METHODS", "capture", "load"]

STATIC_FILE = Path(__file__).with_name("static_responses.json")
# Methods whose result depends only on the negotiated protocol version (asked without params).
STATIC_METHODS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")
_CLIENT_INFO = {"name": "thinkgate-static-capture", "version": "1"}


@cache
def load() -> dict[str, Any]:
    """The captured table: ``handshakeVersions``, ``latestHandshake`` and ``results[version][method]``."""
    data: dict[str, Any] = orjson.loads(STATIC_FILE.read_bytes())
    return data


async def capture() -> dict[str, Any]:
    """Run the real server (SDK path, in-process, memory store) and record its static answers."""
    import anyio
    from mcp.shared.message import SessionMessage
    from mcp_types import JSONRPCRequest
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    from thinkgate.engine.engine import Engine
    from thinkgate.mcp.server import build_server
    from thinkgate.store.memory import MemoryEventStore

    engine = Engine(MemoryEventStore())
    await engine.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        for version in HANDSHAKE_PROTOCOL_VERSIONS:
            server = build_server(engine)._lowlevel_server
            to_server, server_in = anyio.create_memory_object_stream[Any](8)
            server_out, from_server = anyio.create_memory_object_stream[Any](8)
            answers: dict[str, Any] = {}
            async with to_server, server_in, server_out, from_server, anyio.create_task_group() as tg:
                tg.start_soon(server.run, server_in, server_out, server.create_initialization_options())
                requests: list[tuple[str, dict[str, Any] | None]] = [
                    ("initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": _CLIENT_INFO}),
                    ("ping", None),
                    *((m, None) for m in STATIC_METHODS),
                ]
                for n, (method, params) in enumerate(requests, 1):
                    message = JSONRPCRequest(jsonrpc="2.0", id=n, method=method, params=params)
                    await to_server.send(SessionMessage(message))
                    reply = (await from_server.receive()).message
                    wire = orjson.loads(reply.model_dump_json(by_alias=True, exclude_unset=True))
                    if "result" not in wire:
                        raise RuntimeError(f"{method} failed while capturing: {wire}")
                    answers[method] = wire["result"]
                tg.cancel_scope.cancel()
            results[version] = answers
    finally:
        await engine.stop()
    return {
        "handshakeVersions": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "latestHandshake": LATEST_HANDSHAKE_VERSION,
        "results": results,
    }


def encode(data: dict[str, Any]) -> bytes:
    """The file's bytes: key order kept (it is the wire order), indented for reviewable diffs."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


if __name__ == "__main__":
    import anyio

    STATIC_FILE.write_bytes(encode(anyio.run(capture)))
    print(f"wrote {STATIC_FILE}")
