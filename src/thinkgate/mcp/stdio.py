"""Small pieces of the stdio wire (``mcp/wire.py``): line decoding, error lines, fd claiming.

Why not the SDK's ``stdio_server()``: it reads and writes through ``anyio.wrap_file``,
one worker-thread hop per readline, write and flush (~370 µs of a ~900 µs call,
``shared/reference/sdk-performance.md``), and it drops unparseable lines silently,
where JSON-RPC 2.0 requires a parse error with ``id: null``.

This module imports nothing from the SDK: the wire answers a handshake without it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson

__all__ = ["INVALID_REQUEST", "PARSE_ERROR", "claimed_stdio", "error_line", "loads", "request_id_of"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def error_line(code: int, message: str, request_id: Any = None, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}) + b"\n"


def loads(line: bytes) -> Any:
    """Decode one JSON-RPC line (orjson; the standard library only for what orjson refuses).

    JSON allows escaped lone surrogates (``"\\ud800"``) that orjson rejects; JavaScript
    peers accept them. They are read with the standard library and replaced by U+FFFD, so
    every string inside ThinkGate is valid Unicode.

    Raises:
        ValueError: the line is not JSON, or nests deeper than orjson's 1,024 levels (the
            standard library would recurse until Python's stack limit).
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
    try:
        return _without_surrogates(json.loads(line))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return (
            "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value) if _has_surrogate(value) else value
        )
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def request_id_of(obj: Any) -> Any:
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, str | int) and not isinstance(rid, bool):
            return rid
    return None


@asynccontextmanager
async def claimed_stdio() -> AsyncIterator[tuple[int, int]]:
    """Private duplicates of fd 0 and fd 1; meanwhile fd 0 reads /dev/null and fd 1 writes to stderr."""
    sys.stdout.flush()
    wire_in = os.dup(0)
    wire_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(devnull, 0)
        os.dup2(2, 1)
        yield wire_in, wire_out
    finally:
        os.close(devnull)
        with suppress(OSError):
            os.dup2(wire_in, 0)
            os.dup2(wire_out, 1)
