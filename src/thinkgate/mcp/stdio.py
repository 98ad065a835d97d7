"""ThinkGate's own stdio transport under the SDK's ``Server.run(read_stream, write_stream)``.

Why not the SDK's ``stdio_server()``: it reads and writes through ``anyio.wrap_file``,
one worker-thread hop per readline, write and flush (~370 µs of a ~900 µs call,
``shared/reference/sdk-performance.md``), and it drops unparseable lines silently,
where JSON-RPC 2.0 requires a parse error with ``id: null``. Here stdin and stdout
are asyncio pipes, lines are decoded with orjson, and bad lines are answered.

While serving, fd 0 reads the null device and fd 1 points at stderr, so stray
output from libraries or children can never corrupt the JSON-RPC stream; the wire
uses private duplicates of the original descriptors, restored on exit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp_types import (
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from thinkgate.mcp.connection import ConnectionScope, connection_scope

__all__ = ["MAX_MESSAGE_BYTES", "serve_stdio"]

log = logging.getLogger("thinkgate.stdio")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
# How long requests still running at stdin EOF may take to finish before the server exits.
EOF_GRACE_SECONDS = 30.0


def _error_line(code: int, message: str, request_id: Any = None, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}) + b"\n"


def _loads(line: bytes) -> Any:
    """Decode one JSON-RPC line (orjson; the standard library only for what orjson refuses).

    JSON allows escaped lone surrogates (``"\\ud800"``) that orjson rejects; JavaScript
    peers accept them. They are read with the standard library and replaced by U+FFFD, so
    every string inside ThinkGate is valid Unicode.

    Raises:
        ValueError: the line is not JSON.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _without_surrogates(json.loads(line))


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


def _request_id(obj: Any) -> Any:
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, str | int) and not isinstance(rid, bool):
            return rid
    return None


@asynccontextmanager
async def _claimed_stdio() -> AsyncIterator[tuple[int, int]]:
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


class _LineReader:
    """Reads newline-delimited messages from a pipe (asyncio) or a regular file (a thread)."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self._reader: asyncio.StreamReader | None = None
        self._file: Any = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._file = os.fdopen(self.fd, "rb", buffering=0 if self._is_stream() else -1, closefd=True)
        if self._is_stream():
            reader = asyncio.StreamReader(limit=self.limit)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self._file)
            self._reader = reader

    def _is_stream(self) -> bool:
        mode = os.fstat(self.fd).st_mode
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)

    async def readline(self) -> bytes | None:
        """The next line; b"" for an over-long line (its rest is discarded); None at EOF."""
        if self._reader is None:
            line: bytes = await anyio.to_thread.run_sync(self._file.readline, self.limit + 1)
            if not line:
                return None
            if len(line) > self.limit and not line.endswith(b"\n"):
                while True:
                    more: bytes = await anyio.to_thread.run_sync(self._file.readline, self.limit)
                    if not more or more.endswith(b"\n"):
                        break
                return b""
            return line
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError as exc:
            # Drop the oversized message up to and including its newline.
            await self._reader.readexactly(exc.consumed)
            while True:
                try:
                    await self._reader.readuntil(b"\n")
                    return b""
                except asyncio.LimitOverrunError as more:
                    await self._reader.readexactly(more.consumed)
                except asyncio.IncompleteReadError:
                    return b""


class _Writer:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._transport: asyncio.WriteTransport | None = None
        self._protocol: Any = None
        self._file: Any = None
        self.closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        mode = os.fstat(self.fd).st_mode
        self._file = os.fdopen(self.fd, "wb", buffering=0, closefd=True)
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            from asyncio.streams import FlowControlMixin

            self._transport, self._protocol = await loop.connect_write_pipe(FlowControlMixin, self._file)

    async def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            if self._transport is None:
                await anyio.to_thread.run_sync(self._file.write, data)
                return
            if self._transport.is_closing():
                self.closed = True
                return
            self._transport.write(data)
            await self._protocol._drain_helper()
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        elif self._file is not None:
            with suppress(OSError):
                self._file.close()


async def serve_stdio(
    run: Callable[[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]], Any],
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> None:
    """Serve one MCP connection over this process's stdin/stdout until stdin closes.

    Args:
        run: ``server.run``-shaped coroutine function taking the read and write streams.
        max_message_bytes: longest accepted JSON-RPC line; longer ones get an error and are skipped.
    """
    connection_scope.set(ConnectionScope("stdio"))
    async with _claimed_stdio() as (wire_in, wire_out):
        reader = _LineReader(wire_in, max_message_bytes)
        writer = _Writer(wire_out)
        await reader.start()
        await writer.start()
        to_server_send, to_server_recv = anyio.create_memory_object_stream[SessionMessage | Exception](64)
        from_server_send, from_server_recv = anyio.create_memory_object_stream[SessionMessage](64)

        # Requests read but not yet answered. At EOF they are allowed to finish (the SDK
        # would cancel them): a client that writes its requests and closes stdin still
        # gets every answer, as with the official server.
        pending: set[Any] = set()
        idle = anyio.Event()  # set whenever `pending` becomes empty; replaced when it fills again

        async def pump_in() -> None:
            nonlocal idle
            async with to_server_send:
                while True:
                    line = await reader.readline()
                    if line is None:
                        with anyio.move_on_after(EOF_GRACE_SECONDS):
                            while pending:
                                await idle.wait()
                        return
                    if line == b"":
                        await writer.write(
                            _error_line(INVALID_REQUEST, f"message larger than {max_message_bytes} bytes")
                        )
                        continue
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        obj = _loads(line)
                    except ValueError:
                        await writer.write(_error_line(PARSE_ERROR, "Parse error: the line is not valid JSON"))
                        continue
                    if isinstance(obj, dict) and "id" in obj and _request_id(obj) is None and "method" in obj:
                        # MCP requires a string or integer id; the SDK would take this for a
                        # notification and never answer, leaving the client waiting.
                        await writer.write(
                            _error_line(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
                        )
                        continue
                    try:
                        message = jsonrpc_message_adapter.validate_python(obj, by_name=False)
                    except ValidationError:
                        await writer.write(
                            _error_line(
                                INVALID_REQUEST,
                                "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
                                _request_id(obj),
                            )
                        )
                        continue
                    if isinstance(message, JSONRPCRequest):
                        if not pending:
                            idle = anyio.Event()
                        pending.add(message.id)
                    elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
                        # A cancelled request gets no response (MCP spec): stop waiting for it.
                        pending.discard((message.params or {}).get("requestId"))
                        if not pending:
                            idle.set()
                    await to_server_send.send(SessionMessage(message))

        async def pump_out() -> None:
            async with from_server_recv:
                async for item in from_server_recv:
                    message = item.message
                    data = message.model_dump_json(by_alias=True, exclude_unset=True).encode()
                    await writer.write(data + b"\n")
                    if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id in pending:
                        pending.discard(message.id)
                        if not pending:
                            idle.set()

        try:
            async with anyio.create_task_group() as tg:
                reading = anyio.CancelScope()

                async def guarded_pump_in() -> None:
                    with reading:
                        await pump_in()

                tg.start_soon(guarded_pump_in)
                tg.start_soon(pump_out)
                async with from_server_send:
                    await run(to_server_recv, from_server_send)
                # The server is done (stdin closed): stop reading, but let every response
                # it already produced reach the wire before the process exits.
                reading.cancel()
        finally:
            writer.close()
