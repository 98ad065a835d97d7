"""The stdio wire: ThinkGate reads and answers JSON-RPC lines itself, the SDK only when needed.

Why (profile lessons, numbers in BENCHMARKS.md and ``shared/reference/sdk-performance.md``):

* The SDK's own stdio transport hops to a worker thread for every read, write and flush,
  and its server spends ~0.9 ms of CPU per call, mostly in anyio streams and a task per
  request: six times the official Node server's time. Here stdin is an asyncio pipe whose
  bytes are split into lines in one pass, and every line that is already in the buffer is
  handled in the same loop turn.
* The hot ``tools/call sequentialthinking`` is answered by ``fastpath`` (byte-identical to
  the SDK's answer, tested), and every such call found in one read is written with one
  group commit (``Engine.execute_many``): at 64 calls in flight that is one SQLite
  transaction instead of 64. Nothing is answered before its commit.
* ``initialize``, ``ping`` and the list methods are answered from the SDK's own captured
  output (``static``), so a client's handshake costs no SDK import: cold start and idle
  memory are those of a small Python program. The SDK (``mcp/server.py`` under the SDK's
  ``Server.run``) is imported the first time a message needs it — any other method, a
  call the fast path declines, a response, anything unusual — and is then told the
  handshake it missed, so from its point of view it served the connection from the start.

Ordering: a line that goes to the SDK first flushes the fast calls read before it, and
while an SDK ``tools/call`` is running, later calls go to the SDK too, so calls that a
client sends in order are executed in order.

Set ``THINKGATE_FAST_PATH=0`` to route every message through the SDK (for diagnosis; the
equivalence tests run both ways).

While serving, fd 0 reads the null device and fd 1 points at stderr, so stray output
from libraries or children can never corrupt the JSON-RPC stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import stat
from collections import deque
from typing import Any

from thinkgate.domain.events import ThoughtRecorded
from thinkgate.domain.ids import check_new_session_id
from thinkgate.domain.safety import scan_text
from thinkgate.engine.engine import Engine
from thinkgate.errors import InternalError, InvalidInput, ThinkGateError
from thinkgate.mcp import fastpath, static
from thinkgate.mcp.connection import ConnectionScope, DefaultSessions, connection_scope
from thinkgate.mcp.stdio import INVALID_REQUEST, PARSE_ERROR, claimed_stdio, error_line, loads, request_id_of
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS

__all__ = ["MAX_MESSAGE_BYTES", "StdioWire"]

log = logging.getLogger("thinkgate.stdio")
thought_log = logging.getLogger("thinkgate.thoughts")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# How long requests still running at stdin EOF may take to finish before the server exits.
EOF_GRACE_SECONDS = 30.0
# Lines buffered before stdin is paused (backpressure on a client that writes faster than we answer).
_HIGH_WATER = 4096
_CHECKED_IDS = 4096  # session ids remembered as valid per connection
_OVERSIZE = b"\x00oversize"  # stands for a line longer than the limit (never a valid line: it is not JSON)
# The id under which the SDK is told the handshake it missed (its answer is dropped): random, so
# no client request id can collide with it.
_REPLAY_ID = f"thinkgate-replayed-initialize-{secrets.token_hex(8)}"
_INTERNAL_MESSAGE = f"{fastpath.TOOL_NAME} failed unexpectedly; nothing was stored. Retry the call."


class _Inbox(asyncio.Protocol):
    """Splits stdin's bytes into lines as they arrive; the dispatcher takes all of them at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.eof = False
        self._buf = bytearray()
        self._lines: deque[bytes] = deque()
        self._skipping = False  # inside an over-long line: drop bytes up to its newline
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return
            data = data[newline + 1 :]
            self._skipping = False
        buf = self._buf
        buf += data
        if b"\n" in data:
            *complete, rest = buf.split(b"\n")
            self._buf = bytearray(rest)
            for line in complete:
                self._lines.append(_OVERSIZE if len(line) > self.limit else bytes(line))
        if len(self._buf) > self.limit:
            self._buf = bytearray()
            self._skipping = True
            self._lines.append(_OVERSIZE)
        if not self._paused and len(self._lines) > _HIGH_WATER and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self.eof:
            self.eof = True
            if self._buf and not self._skipping:
                self._lines.append(bytes(self._buf))  # a last line without its newline
            self._buf = bytearray()
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[bytes] | None:
        """Every line read so far (waiting for one); None at end of input."""
        while not self._lines:
            if self.eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        lines = list(self._lines)
        self._lines.clear()
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return lines


class _Output:
    """stdout: writes are buffered per loop turn and flushed together."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        self._pending: list[bytes] = []
        self._transport: asyncio.WriteTransport | None = None
        self._protocol: Any = None
        self._file: Any = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._file = os.fdopen(self.fd, "wb", buffering=0, closefd=True)
        if _is_stream(self.fd):
            from asyncio.streams import FlowControlMixin

            self._transport, self._protocol = await loop.connect_write_pipe(FlowControlMixin, self._file)

    def add(self, data: bytes) -> None:
        self._pending.append(data)

    async def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if self.closed:
            return
        try:
            if self._transport is None:
                await asyncio.to_thread(self._file.write, data)
                return
            if self._transport.is_closing():
                self.closed = True
                return
            self._transport.write(data)
            await self._protocol._drain_helper()  # returns at once unless the pipe is full
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        elif self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()


def _is_stream(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Hot:
    __slots__ = ("command", "request_id", "session_id")

    def __init__(self, request_id: str | int, session_id: str, command: Any) -> None:
        self.request_id = request_id
        self.session_id = session_id
        self.command = command


class StdioWire:
    """Serves one MCP client over this process's stdin and stdout until stdin closes."""

    def __init__(
        self,
        engine: Engine,
        *,
        fast_path: bool = True,
        log_thoughts: bool = False,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        toolsets: frozenset[str] = DEFAULT_TOOLSETS,
    ) -> None:
        self.engine = engine
        self.toolsets = toolsets
        # The captured answers (tools/list, and initialize's instructions) are the default
        # toolsets'; with other toolsets the SDK answers those.
        self._static_lists = toolsets == DEFAULT_TOOLSETS
        self.fast = fast_path
        self.log_thoughts = log_thoughts
        self.limit = max_message_bytes
        self.scope = ConnectionScope("stdio")
        self.defaults = DefaultSessions()
        self._out: _Output | None = None
        self._version: str | None = None  # negotiated by a fast initialize
        self._handshake: list[dict[str, Any]] = []  # what the SDK must be told when it starts
        self._sdk: _SdkLane | None = None
        self._checked: set[str] = set()  # session ids that passed check_new_session_id

    async def serve(self) -> None:
        connection_scope.set(self.scope)
        async with claimed_stdio() as (wire_in, wire_out):
            loop = asyncio.get_running_loop()
            inbox = _Inbox(self.limit)
            out = self._out = _Output(wire_out)
            await out.start()
            reader_task: asyncio.Task[None] | None = None
            stdin = os.fdopen(wire_in, "rb", buffering=0, closefd=True)
            if _is_stream(wire_in):
                await loop.connect_read_pipe(lambda: inbox, stdin)
            else:  # a regular file: read it on a thread

                async def read_file() -> None:
                    while chunk := await asyncio.to_thread(stdin.read, 1 << 16):
                        inbox.data_received(chunk)
                    inbox.connection_lost(None)

                reader_task = asyncio.ensure_future(read_file())
            try:
                while (lines := await inbox.take()) is not None:
                    await self._handle(lines)
                    await out.flush()
                if self._sdk is not None:
                    await self._sdk.finish()
                await out.flush()
            finally:
                if reader_task is not None:
                    reader_task.cancel()
                if self._sdk is not None:
                    await self._sdk.close()
                out.close()
                stdin.close()

    # -- dispatch -----------------------------------------------------------------------------

    async def _handle(self, lines: list[bytes]) -> None:
        out = self._out
        assert out is not None
        hot: list[_Hot] = []
        for line in lines:
            if line is _OVERSIZE:
                out.add(error_line(INVALID_REQUEST, f"message larger than {self.limit} bytes"))
                continue
            raw = line.strip()
            if not raw:
                continue
            try:
                obj = loads(raw)
            except ValueError:
                out.add(error_line(PARSE_ERROR, "Parse error: the line is not valid JSON"))
                continue
            if self.fast and type(obj) is dict and obj.get("jsonrpc") == "2.0":
                method = obj.get("method")
                if method == "tools/call":
                    if self._version is not None and (self._sdk is None or not self._sdk.calls):
                        call = self._hot_call(obj)
                        if call is not None:
                            hot.append(call)
                            continue
                elif self._static(obj, method):
                    continue
                elif (
                    self._sdk is None
                    and "id" not in obj
                    and type(method) is str
                    and method != "notifications/initialized"  # without a handshake: the SDK's to judge
                ):
                    # A notification (cancelled, progress, roots/list_changed, …) before the SDK
                    # is needed: it has nothing to act on (every request so far was answered),
                    # and it never gets an answer, so there is nothing to do.
                    continue
            # Everything else is the SDK's: the fast calls read before it are written first.
            if hot:
                await self._run_hot(hot)
                hot = []
            await self._to_sdk(obj)
        if hot:
            await self._run_hot(hot)

    def _hot_call(self, obj: dict[str, Any]) -> _Hot | None:
        rid: Any = obj.get("id")
        params: Any = obj.get("params")
        if (
            len(obj) != 4
            or type(rid) not in (int, str)
            or type(params) is not dict
            or len(params) != 2
            or params.get("name") != fastpath.TOOL_NAME
        ):
            return None
        parsed = fastpath.parse_thought_call(params.get("arguments"))
        if parsed is None:
            return None
        command, session_id = parsed
        if session_id is not None:
            if session_id in self._checked:
                return _Hot(rid, session_id, command)
            try:
                session_id = check_new_session_id(session_id)
            except ThinkGateError as exc:
                assert self._out is not None
                self._out.add(fastpath.encode_error(rid, exc))
                return _Hot(rid, "", None)  # answered already
            # Clients pass the same id on every call: the secret scan of a 32-character id
            # (~10 µs) runs once per connection, not per call.
            if len(self._checked) >= _CHECKED_IDS:
                self._checked.clear()
            self._checked.add(session_id)
        else:
            # The connection's default session, exactly as mcp/server.py's resolve().
            session_id = self.defaults.get(self.scope)
            if session_id is None:
                session_id = self.engine.new_session_id()
                self.defaults.set(self.scope, session_id)
        return _Hot(rid, session_id, command)

    async def _run_hot(self, hot: list[_Hot]) -> None:
        out = self._out
        assert out is not None
        calls = [h for h in hot if h.command is not None]
        if not calls:
            return
        try:
            outcomes = await self.engine.execute_many([(h.session_id, h.command) for h in calls])
        except Exception:
            log.error("%s failed unexpectedly", fastpath.TOOL_NAME, exc_info=True)
            for h in calls:
                out.add(fastpath.encode_error(h.request_id, InternalError(_INTERNAL_MESSAGE)))
            return
        for h, outcome in zip(calls, outcomes, strict=True):
            if isinstance(outcome, ThoughtRecorded):
                out.add(fastpath.encode_result(h.request_id, dict(outcome.result)))
                if self.log_thoughts:
                    thought_log.info(
                        "%s %s: %s", h.session_id, outcome.result["thoughtId"], scan_text(h.command.thought).text
                    )
            elif isinstance(outcome, ThinkGateError):
                out.add(fastpath.encode_error(h.request_id, outcome))
            else:  # the request id answered a different kind of call
                message = f"requestId {h.command.request_id!r} was used for a different kind of call"
                out.add(fastpath.encode_error(h.request_id, InvalidInput(message)))

    def _static(self, obj: dict[str, Any], method: Any) -> bool:
        """Answer a request whose result never changes; False to leave it to the SDK."""
        rid: Any = obj.get("id")
        if type(rid) not in (int, str):
            if method == "notifications/initialized" and self._sdk is None and self._version is not None:
                self._handshake.append(obj)  # told to the SDK when it starts
                return True
            return False
        params: Any = obj.get("params")
        table = static.load()
        if method == "initialize":
            if self._sdk is not None or not self._static_lists or not _plain_initialize(params):
                return False
            requested = params["protocolVersion"]
            version = requested if requested in table["handshakeVersions"] else table["latestHandshake"]
            result = table["results"][version]["initialize"]
            self._version = version
            self._handshake = [obj]
        elif params not in (None, {}) or len(obj) != (4 if "params" in obj else 3):
            return False
        elif method == "ping":
            result = {}
        elif (
            method in static.STATIC_METHODS
            and self._version is not None
            and (self._static_lists or method != "tools/list")
        ):
            result = table["results"][self._version][method]
        else:
            return False
        assert self._out is not None
        self._out.add(fastpath.encode_static(rid, result))
        return True

    async def _to_sdk(self, obj: Any) -> None:
        if self._sdk is None:
            self._sdk = _SdkLane(self)
            await self._sdk.start(self._handshake)
        await self._sdk.send(obj)


def _plain_initialize(params: Any) -> bool:
    """An ``initialize`` whose parameters the SDK accepts as they are (else the SDK answers it)."""
    if type(params) is not dict or not {"protocolVersion", "capabilities", "clientInfo"} <= params.keys():
        return False
    info = params["clientInfo"]
    capabilities = params["capabilities"]
    return (
        type(params["protocolVersion"]) is str
        and type(capabilities) is dict
        and all(type(v) is dict for v in capabilities.values())
        and type(info) is dict
        and type(info.get("name")) is str
        and type(info.get("version")) is str
        and set(params) <= {"protocolVersion", "capabilities", "clientInfo"}
    )


class _SdkLane:
    """The SDK server, started on first need, fed the messages the fast path does not take."""

    def __init__(self, wire: StdioWire) -> None:
        self.wire = wire
        self.calls: set[Any] = set()  # ids of tools/call requests the SDK is running
        self.handshakes: set[Any] = set()  # ids of initialize requests the SDK is answering
        self.pending: set[Any] = set()  # ids of every request it has not answered yet
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._send: Any = None

    async def start(self, handshake: list[dict[str, Any]]) -> None:
        import anyio
        from mcp.shared.message import SessionMessage

        # Imported here: the first message that needs the SDK pays for the import, not start-up.
        from thinkgate.mcp.server import build_server

        wire = self.wire
        server = build_server(
            wire.engine, log_thoughts=wire.log_thoughts, defaults=wire.defaults, toolsets=wire.toolsets
        )
        lowlevel = server._lowlevel_server  # the SDK's documented seam for transports it does not ship
        to_server, server_in = anyio.create_memory_object_stream[Any](64)
        server_out, from_server = anyio.create_memory_object_stream[Any](64)
        self._send = to_server
        self._SessionMessage = SessionMessage

        async def run() -> None:
            async with server_out:
                await lowlevel.run(server_in, server_out, lowlevel.create_initialization_options())

        self._tasks = [asyncio.ensure_future(run()), asyncio.ensure_future(self._pump_out(from_server))]
        # Tell the SDK the handshake the fast path answered (its answer is dropped).
        for told in handshake:
            if "id" in told:
                told = {**told, "id": _REPLAY_ID}  # noqa: PLW2901 - the replayed copy
                self.pending.add(_REPLAY_ID)
                self._idle.clear()
            await self._forward(told)

    async def send(self, obj: Any) -> None:
        out = self.wire._out
        assert out is not None
        if isinstance(obj, dict) and "id" in obj and "method" in obj and request_id_of(obj) is None:
            # MCP requires a string or integer id; the SDK would take this for a notification
            # and never answer, leaving the client waiting.
            out.add(error_line(INVALID_REQUEST, "Invalid Request: id must be a string or an integer"))
            return
        await self._forward(obj)

    async def _forward(self, obj: Any) -> None:
        from mcp_types import JSONRPCNotification, JSONRPCRequest, jsonrpc_message_adapter
        from pydantic import ValidationError

        out = self.wire._out
        assert out is not None
        try:
            message = jsonrpc_message_adapter.validate_python(obj, by_name=False)
        except ValidationError:
            out.add(
                error_line(
                    INVALID_REQUEST,
                    "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
                    request_id_of(obj),
                )
            )
            return
        if isinstance(message, JSONRPCRequest):
            self.pending.add(message.id)
            self._idle.clear()
            if message.method == "tools/call":
                self.calls.add(message.id)
            elif message.method == "initialize" and message.id != _REPLAY_ID:
                self.handshakes.add(message.id)
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            # A cancelled request gets no response (MCP spec): stop waiting for it.
            cancelled = (message.params or {}).get("requestId")
            self._done(cancelled)
        await out.flush()  # what the fast path wrote so far goes out before the SDK may answer
        await self._send.send(self._SessionMessage(message))

    def _done(self, request_id: Any) -> None:
        self.pending.discard(request_id)
        self.calls.discard(request_id)
        if not self.pending:
            self._idle.set()

    async def _pump_out(self, from_server: Any) -> None:
        from mcp_types import JSONRPCError, JSONRPCResponse

        out = self.wire._out
        assert out is not None
        async with from_server:
            async for item in from_server:
                message = item.message
                is_answer = isinstance(message, JSONRPCResponse | JSONRPCError)
                if is_answer and message.id == _REPLAY_ID:
                    self._done(_REPLAY_ID)
                    continue
                out.add(message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n")
                await out.flush()
                if is_answer:
                    self._done(message.id)
                    if message.id in self.handshakes:
                        self.handshakes.discard(message.id)
                        self._handshake_done(message)

    def _handshake_done(self, message: Any) -> None:
        """The SDK answered an ``initialize`` the fast path left to it: from now on the fast path
        may answer this connection's hot calls and lists (for the version the SDK negotiated)."""
        result = getattr(message, "result", None)
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if version in static.load()["handshakeVersions"]:
            self.wire._version = version

    async def finish(self) -> None:
        """At end of input: let the requests the SDK is running finish (bounded), then stop it."""
        try:
            await asyncio.wait_for(self._idle.wait(), EOF_GRACE_SECONDS)
        except TimeoutError:
            log.warning("stdin closed; %d request(s) still running were abandoned", len(self.pending))
        await self._send.aclose()
        # The server ends once its input is closed; its last answers reach the wire.
        await asyncio.wait(self._tasks, timeout=5)

    async def close(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):  # shutting down; errors were logged where they happened
                await task
