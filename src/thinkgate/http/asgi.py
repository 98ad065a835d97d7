"""The sidecar's ASGI application: ``/mcp``, ``/healthz``, ``/readyz``, ``/metrics``.

Request path for ``/mcp``: the guard (Host, Origin, token: ``security.py``), then the body is
read up to the cap (413 past it), then one of two lanes answers:

* the fast lane, for the hot call — a handshake-era ``tools/call sequentialthinking`` with
  canonical arguments (``mcp/fastpath.py`` decides, as on stdio). Its answer has the bytes,
  status and content type the SDK's stateless JSON-response transport gives the same call
  (``tests/http/test_http_fastpath.py`` compares them). Calls that arrive together are written
  with one group commit (``Engine.execute_many``), and none is answered before its commit.
* the SDK lane, for everything else (``mcp/http.py``): its Streamable HTTP handler in stateless
  mode with JSON answers, both protocol eras, every tool, resource and prompt.

Why a fast lane: the SDK's stateless transport builds a transport, a dispatcher, memory streams
and tasks for every request (BENCHMARKS.md, "HTTP"); the hot call needs none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from thinkgate.domain.events import ThoughtRecorded
from thinkgate.domain.ids import check_new_session_id
from thinkgate.domain.safety import scan_text
from thinkgate.engine.engine import Engine
from thinkgate.errors import InternalError, InvalidInput, ThinkGateError
from thinkgate.http.metrics import CONTENT_TYPE, Metrics
from thinkgate.http.security import Denied, Guard
from thinkgate.mcp import fastpath

__all__ = ["MAX_BODY_BYTES", "HttpApp"]

log = logging.getLogger("thinkgate.http")
thought_log = logging.getLogger("thinkgate.thoughts")

MAX_BODY_BYTES = 4 * 1024 * 1024  # as one stdio message
MCP_PATH = "/mcp"
_CHECKED_IDS = 4096
_JSON = b"application/json"
_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)
_INVALID_REQUEST = -32600
_INTERNAL_MESSAGE = f"{fastpath.TOOL_NAME} failed unexpectedly; nothing was stored. Retry the call."
_READY_PROBE = "thinkgate-readyz-probe"


def _error_body(code: int, message: str) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})


def _accepts_json(accept: bytes | None) -> bool:
    """The SDK's rule (``check_accept_headers``) for a JSON answer."""
    if accept is None:
        return False
    types = {part.split(b";")[0].strip().lower() for part in accept.split(b",")}
    return bool(types & {b"*/*", b"application/*", _JSON})


def _is_json(content_type: bytes | None) -> bool:
    """The SDK's rule (``_check_content_type``) for a JSON body."""
    if content_type is None:
        return False
    return any(part.strip() == _JSON for part in content_type.split(b";")[0].split(b","))


class _Disconnected(Exception):
    pass


class _Hot:
    __slots__ = ("command", "future", "session_id")

    def __init__(self, session_id: str, command: Any, future: asyncio.Future[Any]) -> None:
        self.session_id = session_id
        self.command = command
        self.future = future


class _GroupCommit:
    """Hot calls submitted in one loop turn are written together, with one store transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: list[_Hot] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, session_id: str, command: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            # Runs after the request tasks already scheduled in this turn have submitted theirs.
            loop.call_soon(self._flush)
        self._pending.append(_Hot(session_id, command, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Hot]) -> None:
        try:
            outcomes: list[Any] = await self.engine.execute_many([(h.session_id, h.command) for h in batch])
        except Exception:
            log.error("%s failed unexpectedly", fastpath.TOOL_NAME, exc_info=True)
            outcomes = [InternalError(_INTERNAL_MESSAGE)] * len(batch)
        except BaseException as exc:  # cancelled at shutdown: nobody waits any more
            for h in batch:
                if not h.future.done():
                    h.future.set_exception(exc)
            raise
        for h, outcome in zip(batch, outcomes, strict=True):
            if not h.future.done():
                h.future.set_result(outcome)


class HttpApp:
    """The ASGI app; ``sdk`` is the SDK's session manager (``mcp/http.py``), run by the lifespan."""

    def __init__(
        self,
        engine: Engine,
        sdk: Any,
        guard: Guard,
        metrics: Metrics,
        *,
        fast_path: bool = True,
        log_thoughts: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.engine = engine
        self.sdk = sdk
        self.guard = guard
        self.metrics = metrics
        self.fast = fast_path
        self.log_thoughts = log_thoughts
        self.limit = max_body_bytes
        self.commits = _GroupCommit(engine)
        self._checked: set[str] = set()
        self._hot_metrics = metrics.tool(fastpath.TOOL_NAME)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            async with self.sdk.run():
                await send({"type": "lifespan.startup.complete"})
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
        except Exception as exc:
            log.error("the MCP handler failed", exc_info=True)
            with contextlib.suppress(Exception):
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    # -- routing --------------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        method = scope["method"]
        if path == MCP_PATH:
            await self._mcp(scope, receive, send)
        elif path == "/healthz":
            await self._plain(send, method, 200, b'{"status":"ok"}')
        elif path == "/readyz":
            await self._ready(send, method)
        elif path == "/metrics":
            await self._metrics(scope, send, method)
        else:
            await self._respond(send, 404, _error_body(_INVALID_REQUEST, f"Not Found: MCP is served at {MCP_PATH}"))

    async def _plain(self, send: Any, method: str, status: int, body: bytes) -> None:
        if method not in ("GET", "HEAD"):
            await self._respond(send, 405, b'{"error":"Method Not Allowed"}', headers=[(b"allow", b"GET, HEAD")])
            return
        await self._respond(send, status, body)

    async def _ready(self, send: Any, method: str) -> None:
        try:
            await self.engine.store.session(_READY_PROBE)  # one indexed read: the store answers
        except Exception as exc:
            code = exc.code if isinstance(exc, ThinkGateError) else "STORE_ERROR"
            log.warning("readiness probe: the store did not answer: %s", code)
            await self._plain(send, method, 503, orjson.dumps({"status": "unavailable", "code": code}))
            return
        await self._plain(send, method, 200, b'{"status":"ready"}')

    async def _metrics(self, scope: dict[str, Any], send: Any, method: str) -> None:
        if not await self._guarded(scope, send):
            return
        if method not in ("GET", "HEAD"):
            await self._plain(send, method, 405, b"")
            return
        try:
            self.metrics.sessions.set(await self.engine.store.count_sessions())
        except Exception:
            log.warning("metrics: the store did not answer the session count", exc_info=True)
        await self._respond(send, 200, self.metrics.render(), content_type=CONTENT_TYPE.encode())

    async def _guarded(self, scope: dict[str, Any], send: Any) -> bool:
        host = origin = auth = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"authorization":
                auth = value
        return await self._allowed(send, host, origin, auth)

    async def _allowed(self, send: Any, host: bytes | None, origin: bytes | None, auth: bytes | None) -> bool:
        """Apply the guard; on a refusal answer it (401 with its challenge, 403, 421) and return False."""
        try:
            self.guard.check(host, origin, auth)
        except Denied as exc:
            headers = [(b"www-authenticate", b'Bearer realm="thinkgate"')] if exc.status == 401 else []
            await self._respond(send, exc.status, _error_body(_INVALID_REQUEST, exc.message), headers=headers)
            return False
        return True

    async def _respond(
        self,
        send: Any,
        status: int,
        body: bytes,
        *,
        content_type: bytes = _JSON,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.metrics.response(status)
        head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if headers:
            head += headers
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    # -- /mcp -----------------------------------------------------------------------------------

    async def _mcp(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        start = time.perf_counter()
        host = origin = auth = content_type = accept = version = length = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"authorization":
                auth = value
            elif name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value
            elif name == b"mcp-protocol-version":
                version = value
            elif name == b"content-length":
                length = value
        if not await self._allowed(send, host, origin, auth):
            return
        if scope["method"] != "POST":
            # Stateless: no stream to resume (GET) and no MCP session to end (DELETE).
            await self._respond(
                send,
                405,
                _error_body(_INVALID_REQUEST, "Method Not Allowed: send JSON-RPC messages with POST"),
                headers=[(b"allow", b"POST")],
            )
            return
        try:
            body = await self._body(receive, length)
        except _Disconnected:
            return
        if body is None:
            await self._respond(
                send, 413, _error_body(_INVALID_REQUEST, f"Request body larger than {self.limit} bytes")
            )
            return
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None  # the SDK answers with its parse error
        if type(obj) is dict and "method" in obj and "id" in obj and type(obj["id"]) not in (int, str):
            # MCP requires a string or integer id; the SDK would take this for a notification
            # (202, no answer), leaving the client waiting for one.
            await self._respond(
                send, 400, _error_body(_INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
            )
            return
        if (
            self.fast
            and type(obj) is dict
            and _is_json(content_type)
            and _accepts_json(accept)
            and (version is None or version in _HANDSHAKE_VERSIONS)
            and await self._hot(obj, send, start)
        ):
            return
        await self._to_sdk(scope, receive, send, body)

    async def _body(self, receive: Any, length: bytes | None) -> bytes | None:
        """The whole request body, or None when it is larger than the cap."""
        if length is not None:
            with contextlib.suppress(ValueError):
                if int(length) > self.limit:
                    return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _hot(self, obj: dict[str, Any], send: Any, start: float) -> bool:
        """Answer a hot call; False to leave the request to the SDK."""
        if len(obj) != 4 or obj.get("jsonrpc") != "2.0" or obj.get("method") != "tools/call":
            return False
        rid: Any = obj.get("id")
        params: Any = obj.get("params")
        if (
            type(rid) not in (int, str)
            or type(params) is not dict
            or len(params) != 2
            or params.get("name") != fastpath.TOOL_NAME
        ):
            return False
        parsed = fastpath.parse_thought_call(params.get("arguments"))
        if parsed is None:
            return False
        command, session_id = parsed
        outcome: Any
        if session_id is None:
            # Stateless: a call without sessionId starts a session, as the SDK lane does.
            session_id = self.engine.new_session_id()
            outcome = await self.commits.submit(session_id, command)
        elif session_id in self._checked:
            outcome = await self.commits.submit(session_id, command)
        else:
            try:
                session_id = check_new_session_id(session_id)
            except ThinkGateError as exc:
                outcome = exc
            else:
                if len(self._checked) >= _CHECKED_IDS:
                    self._checked.clear()
                self._checked.add(session_id)
                outcome = await self.commits.submit(session_id, command)
        error = True
        if isinstance(outcome, ThoughtRecorded):
            payload = fastpath.encode_result(rid, dict(outcome.result))
            error = False
            if self.log_thoughts:
                thought_log.info("%s %s: %s", session_id, outcome.result["thoughtId"], scan_text(command.thought).text)
        elif isinstance(outcome, ThinkGateError):
            payload = fastpath.encode_error(rid, outcome)
        else:  # the request id answered a different kind of call
            message = f"requestId {command.request_id!r} was used for a different kind of call"
            payload = fastpath.encode_error(rid, InvalidInput(message))
        # The stdio encoders end each message with a newline; an HTTP body has none.
        await self._respond(send, 200, payload[:-1])
        tool = self._hot_metrics
        tool.calls.inc()
        tool.latency.observe(time.perf_counter() - start)
        if error:
            tool.errors.inc()
        return True

    async def _to_sdk(self, scope: dict[str, Any], receive: Any, send: Any, body: bytes) -> None:
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        async def counted_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.metrics.response(message["status"])
            await send(message)

        await self.sdk.handle_request(scope, replay, counted_send)
