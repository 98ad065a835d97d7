"""A small synchronous raw JSON-RPC-over-stdio MCP client for tests (stdlib only).

Messages are newline-delimited JSON (the MCP stdio transport). Every wait is bounded: reading
uses a background reader thread and a queue with a deadline, never ``sleep``.

    with RawStdioClient([sys.executable, "-m", "thinkgate", "serve"]) as c:
        c.initialize()                      # initialize (2025-06-18) + notifications/initialized
        resp = c.call("tools/list")         # the whole JSON-RPC response: {"jsonrpc", "id", "result"}
        resp = c.call_tool("sequentialthinking", {...})
        c.send_raw(b"not json\\n")          # arbitrary bytes (framing / crash tests)
        resp = c.read_response(timeout=2)   # next response, server notifications skipped

Server notifications are collected in ``notifications``; server->client requests are recorded in
``server_requests`` and answered (``ping`` with ``{}``, anything else with -32601) so the server
never waits on us. ``proc`` is the ``subprocess.Popen``; ``kill()`` sends SIGKILL.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_PROTOCOL_VERSION = "2025-06-18"
DEFAULT_TIMEOUT = 10.0

_EOF = object()


class RawStdioError(RuntimeError):
    """Base class for client-side failures (with the tail of the server's stderr when known)."""


class ResponseTimeoutError(RawStdioError, TimeoutError):
    """No matching message arrived before the deadline."""


class ServerClosedError(RawStdioError, EOFError):
    """The server closed its stdout (usually: it exited)."""


class InvalidMessageError(RawStdioError):
    """The server wrote a line to stdout that is not a JSON object (stdout must be JSON-RPC only)."""

    def __init__(self, message: str, line: bytes) -> None:
        super().__init__(message)
        self.line = line


class RawStdioClient:
    """Spawn ``argv`` and talk raw JSON-RPC to it over its stdin/stdout.

    ``env`` holds extra variables merged over ``os.environ`` (a value of ``None`` removes one).
    The server's stderr is drained by a thread; the last ``stderr_limit`` bytes are kept in
    ``stderr_tail()`` for error messages. Pass ``stderr=subprocess.DEVNULL`` (or a file) instead
    to not capture it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stderr: Any = subprocess.PIPE,
        stderr_limit: int = 64 * 1024,
    ) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self._next_id = 1
        self._stash: dict[Any, dict[str, Any]] = {}  # responses read while waiting for another id
        self._unmatched: collections.deque[dict[str, Any]] = collections.deque()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._eof = False
        self._write_lock = threading.Lock()
        self._stderr_buf = bytearray()
        self._stderr_limit = stderr_limit
        self._stderr_lock = threading.Lock()

        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value

        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=full_env,
            cwd=cwd,
        )
        self._reader = threading.Thread(target=self._read_stdout, name="rawstdio-stdout", daemon=True)
        self._reader.start()
        self._stderr_reader: threading.Thread | None = None
        if stderr is subprocess.PIPE:
            self._stderr_reader = threading.Thread(target=self._read_stderr, name="rawstdio-stderr", daemon=True)
            self._stderr_reader.start()

    # ------------------------------------------------------------------ threads

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in iter(self.proc.stdout.readline, b""):
                self._queue.put(line)
        except (OSError, ValueError):  # pipe closed under us by close()/kill()
            pass
        finally:
            self._queue.put(_EOF)

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        try:
            for chunk in iter(lambda: stream.read1(4096), b""):
                with self._stderr_lock:
                    self._stderr_buf += chunk
                    if len(self._stderr_buf) > self._stderr_limit:
                        del self._stderr_buf[: len(self._stderr_buf) - self._stderr_limit]
        except (OSError, ValueError):
            pass

    def stderr_tail(self, limit: int = 2000) -> str:
        with self._stderr_lock:
            return bytes(self._stderr_buf[-limit:]).decode("utf-8", "replace")

    def _context(self) -> str:
        code = self.proc.poll()
        state = "running" if code is None else f"exited with {code}"
        tail = self.stderr_tail()
        return f"[server {state}; argv={self.argv!r}]" + (f"\n--- server stderr (tail) ---\n{tail}" if tail else "")

    # ------------------------------------------------------------------ writing

    def send_raw(self, data: bytes) -> None:
        """Write arbitrary bytes to the server's stdin (no framing added).

        Raises ``ServerClosedError`` when the server's stdin is closed or the pipe is broken.
        """
        stdin = self.proc.stdin
        assert stdin is not None
        with self._write_lock:
            if stdin.closed:
                raise ServerClosedError("stdin is closed (after close()/kill()) " + self._context())
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise ServerClosedError(f"server stdin is broken ({exc}) " + self._context()) from exc

    def send(self, message: Mapping[str, Any]) -> None:
        """Write one JSON-RPC message followed by a newline."""
        self.send_raw(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        self.send(message)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> int:
        """Send a request without waiting; returns its id (see ``wait_for``)."""
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = dict(params)
        self.send(message)
        return request_id

    # ------------------------------------------------------------------ reading

    def read_message(self, timeout: float | None = None) -> dict[str, Any]:
        """Next message of any kind from stdout (raises on timeout, EOF or a non-JSON line)."""
        if self._eof:
            raise ServerClosedError("server stdout is closed " + self._context())
        wait = self.timeout if timeout is None else timeout
        try:
            item = self._queue.get(timeout=max(wait, 0.0))
        except queue.Empty:
            raise ResponseTimeoutError(f"no message from the server within {wait:.1f}s " + self._context()) from None
        if item is _EOF:
            self._eof = True
            # give the process a moment to be reaped so the context shows its exit code
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1.0)
            if self._stderr_reader is not None:
                self._stderr_reader.join(timeout=1.0)  # so the error shows the server's last words
            raise ServerClosedError("server closed stdout " + self._context())
        line: bytes = item
        try:
            message = json.loads(line)
        except ValueError:
            raise InvalidMessageError(
                f"non-JSON line on server stdout: {line[:500]!r} " + self._context(), line
            ) from None
        if not isinstance(message, dict):
            raise InvalidMessageError(f"stdout line is not a JSON object: {line[:500]!r}", line)
        return message

    def _next_response(self, deadline: float) -> dict[str, Any]:
        """Read until a response (result or error) arrives; handle everything else on the way."""
        while True:
            message = self.read_message(timeout=deadline - time.monotonic())
            if "method" in message:
                if "id" in message:
                    self._answer_server_request(message)
                else:
                    self.notifications.append(message)
                continue
            return message

    def read_response(self, timeout: float | None = None) -> dict[str, Any]:
        """Next JSON-RPC response (any id, including ``null``), skipping server notifications."""
        if self._unmatched:
            return self._unmatched.popleft()
        if self._stash:
            key = next(iter(self._stash))
            return self._stash.pop(key)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return self._next_response(deadline)

    def wait_for(self, request_id: Any, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the response with ``request_id``; other responses are kept for later reads."""
        if request_id in self._stash:
            return self._stash.pop(request_id)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                response = self._next_response(deadline)
            except ResponseTimeoutError as exc:
                raise ResponseTimeoutError(f"no response to request id {request_id!r}: {exc}") from None
            rid = response.get("id")
            if rid == request_id:
                return response
            if rid is None:
                self._unmatched.append(response)
            else:
                self._stash[rid] = response

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        self.server_requests.append(message)
        if message.get("method") == "ping":
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
        else:
            reply = {
                "jsonrpc": "2.0",
                "id": message["id"],
                "error": {"code": -32601, "message": f"test client does not support {message.get('method')}"},
            }
        with contextlib.suppress(ServerClosedError):
            self.send(reply)

    # ------------------------------------------------------------------ high level

    def call(
        self, method: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and return the whole JSON-RPC response (``result`` or ``error``)."""
        return self.wait_for(self.request(method, params), timeout=timeout)

    def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """``tools/call``; returns the whole JSON-RPC response."""
        return self.call("tools/call", {"name": name, "arguments": dict(arguments or {})}, timeout=timeout)

    def initialize(
        self,
        protocol_version: str = DEFAULT_PROTOCOL_VERSION,
        *,
        capabilities: Mapping[str, Any] | None = None,
        client_info: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``initialize`` + ``notifications/initialized``; returns the initialize result.

        Raises ``RawStdioError`` when the server answers with a JSON-RPC error.
        """
        response = self.call(
            "initialize",
            {
                "protocolVersion": protocol_version,
                "capabilities": dict(capabilities or {}),
                "clientInfo": dict(client_info or {"name": "thinkgate-rawstdio", "version": "0"}),
            },
            timeout=timeout,
        )
        if "result" not in response:
            raise RawStdioError(f"initialize failed: {response!r} " + self._context())
        self.notify("notifications/initialized")
        result: dict[str, Any] = response["result"]
        return result

    # ------------------------------------------------------------------ shutdown

    def close(self, timeout: float = 5.0) -> int:
        """Close stdin, wait up to ``timeout`` s for exit, then SIGKILL. Returns the exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = self.kill()
        self._join_readers()
        return code

    def kill(self, timeout: float = 5.0) -> int:
        """SIGKILL the server process and reap it. Returns the exit code (``-9``)."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=timeout)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._join_readers()
        return code

    def _join_readers(self) -> None:
        # Close a pipe only once its reader thread is done (closing under a blocked readline can
        # hang); a reader still blocked means a grandchild holds the pipe open.
        for thread, stream in ((self._reader, self.proc.stdout), (self._stderr_reader, self.proc.stderr)):
            if thread is not None:
                thread.join(timeout=2.0)
                if thread.is_alive():
                    continue
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> RawStdioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
