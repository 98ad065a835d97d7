"""A raw MCP client over stdio pipes, and the measurements the suite takes with it.

One thread, blocking pipes plus ``poll``: requests are serialized before the clock
starts, responses are split on newlines and decoded with orjson. The client adds a few
microseconds per call, so even the floor server is measured fairly.

Latency of a call = from just before its bytes are written to just after the chunk
holding its response was read. Pipelined runs keep exactly ``window`` requests
outstanding on one connection (a closed loop), so their latency includes queueing.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import re
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

__all__ = [
    "PROTOCOL_VERSION",
    "BenchError",
    "PhaseResult",
    "ServerSpec",
    "StdioServer",
    "build_calls",
    "cpu_probe_us",
    "machine_info",
    "percentile",
    "summarize",
    "thought_text",
    "tree_rss_kb",
]

PROTOCOL_VERSION = "2025-06-18"
TOOL = "sequentialthinking"
READ_TIMEOUT_S = 120.0  # no byte from the server for this long: the run fails
_ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class BenchError(RuntimeError):
    """A server misbehaved (died, timed out, answered with an error where none is allowed)."""


# ----------------------------------------------------------------------------------------------
# servers
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server.

    ``argv`` may contain ``{db}`` (replaced by a path in a fresh temporary folder for every
    process) and ``{python}`` (the interpreter running the suite).
    """

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    session_arg: bool = False  # pass sessionId=bench-NNNN in the many-sessions workload

    @classmethod
    def parse(cls, name: str, command: str, *, session_arg: bool = False) -> ServerSpec:
        """``"KEY=VALUE ... prog args"`` -> a spec (leading assignments become environment)."""
        words = shlex.split(os.path.expandvars(command))
        env: list[tuple[str, str]] = []
        while words and _ENV_WORD.match(words[0]):
            key, value = words.pop(0).split("=", 1)
            env.append((key, value))
        if not words:
            raise ValueError(f"server {name!r}: empty command {command!r}")
        return cls(name, tuple(words), tuple(env), session_arg)

    def command(self, tmp_dir: Path) -> tuple[list[str], dict[str, str]]:
        argv = [a.replace("{db}", str(tmp_dir / "bench.db")).replace("{python}", sys.executable) for a in self.argv]
        env = dict(os.environ)
        env.update(self.env)
        return argv, env

    def describe(self) -> str:
        prefix = " ".join(f"{k}={v}" for k, v in self.env)
        return (prefix + " " if prefix else "") + shlex.join(a.replace("{python}", sys.executable) for a in self.argv)


def is_error(msg: dict[str, Any]) -> bool:
    """A JSON-RPC error, a result that is not an object, or a tool result with isError: true."""
    if "error" in msg:
        return True
    result = msg.get("result")
    return not isinstance(result, dict) or result.get("isError") is True


class StdioServer:
    """One server process and the client end of its stdio pipes."""

    def __init__(self, spec: ServerSpec, tmp_dir: Path, *, stderr: str = "devnull") -> None:
        self.spec = spec
        argv, env = spec.command(tmp_dir)
        self._errf: IO[bytes] | None = None
        err: int | IO[bytes]
        if stderr == "devnull":
            err = subprocess.DEVNULL
        else:
            self._errf = open(stderr, "ab")  # noqa: SIM115  (closed in close())
            err = self._errf
        self.t_spawn_ns = time.perf_counter_ns()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, bufsize=0, close_fds=True
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.pid = self.proc.pid
        self._wfd = self.proc.stdin.fileno()
        self._rfd = self.proc.stdout.fileno()
        self._buf = b""
        self._poller = select.poll()
        self._poller.register(self._rfd, select.POLLIN)
        self._next_id = 1
        self.notifications = 0
        self.first_error: dict[str, Any] | None = None
        self.init_ms: float | None = None

    # -- wire -----------------------------------------------------------------------------------

    def new_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._wfd, view)
            except BrokenPipeError as exc:
                raise BenchError(f"{self.spec.name}: server closed stdin (exit code {self.proc.poll()})") from exc
            view = view[n:]

    def send(self, obj: dict[str, Any]) -> None:
        self._write_all(orjson.dumps(obj) + b"\n")

    def _read_chunk(self) -> bytes:
        if not self._poller.poll(READ_TIMEOUT_S * 1000):
            raise BenchError(f"{self.spec.name}: no output from the server for {READ_TIMEOUT_S:.0f} s")
        chunk = os.read(self._rfd, 1 << 16)
        if not chunk:
            raise BenchError(f"{self.spec.name}: server closed stdout (exit code {self.proc.poll()})")
        return chunk

    def _decode(self, line: bytes) -> dict[str, Any] | None:
        """Decode one line; answer server->client requests; None unless it is a response."""
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BenchError(f"{self.spec.name}: a non-JSON line on stdout: {line[:200]!r}") from exc
        if not isinstance(msg, dict):
            raise BenchError(f"{self.spec.name}: a JSON-RPC message that is not an object: {line[:200]!r}")
        if "method" in msg:
            if "id" in msg:  # a request from the server (ping, roots/list): answer it
                if msg["method"] == "ping":
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
                elif msg["method"] == "roots/list":
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"roots": []}})
                else:
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "unsupported"}})
            else:
                self.notifications += 1
            return None
        return msg

    def wait_for(self, rid: int) -> dict[str, Any]:
        while True:
            nl = self._buf.find(b"\n")
            while nl < 0:
                self._buf += self._read_chunk()
                nl = self._buf.find(b"\n")
            line, self._buf = self._buf[:nl], self._buf[nl + 1 :]
            if not line.strip():
                continue
            msg = self._decode(line)
            if msg is not None and msg.get("id") == rid:
                return msg

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        rid = self.new_id()
        obj: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            obj["params"] = params
        self.send(obj)
        return self.wait_for(rid)

    # -- MCP ------------------------------------------------------------------------------------

    def initialize(self) -> float:
        """Send ``initialize``; returns ms from spawn to its answer."""
        reply = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "thinkgate-bench", "version": "1"},
            },
        )
        self.init_ms = (time.perf_counter_ns() - self.t_spawn_ns) / 1e6
        if "result" not in reply:
            raise BenchError(f"{self.spec.name}: initialize failed: {reply}")
        return self.init_ms

    def handshake(self) -> float:
        """initialize, notifications/initialized, tools/list (which must list the tool)."""
        ms = self.initialize()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        reply = self.request("tools/list", {})
        tools = reply.get("result", {}).get("tools") if isinstance(reply.get("result"), dict) else None
        if not isinstance(tools, list) or not any(isinstance(t, dict) and t.get("name") == TOOL for t in tools):
            raise BenchError(f"{self.spec.name}: tools/list has no {TOOL!r} tool: {str(reply)[:300]}")
        return ms

    def call_tool(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": TOOL, "arguments": arguments})

    # -- workloads ------------------------------------------------------------------------------

    def _note_error(self, msg: dict[str, Any]) -> None:
        if self.first_error is None:
            self.first_error = msg

    def run_sequential(self, calls: Sequence[tuple[int, bytes]]) -> tuple[list[int], int]:
        """One call at a time. Returns (latencies ns, error count)."""
        lat: list[int] = []
        errors = 0
        now, write, wait = time.perf_counter_ns, self._write_all, self.wait_for
        for rid, data in calls:
            t0 = now()
            write(data)
            msg = wait(rid)
            lat.append(now() - t0)
            if is_error(msg):
                errors += 1
                self._note_error(msg)
        return lat, errors

    def run_pipelined(self, calls: Sequence[tuple[int, bytes]], window: int) -> tuple[list[int], int]:
        """Keep exactly ``window`` calls outstanding (fewer only at the end). Returns (latencies ns, errors)."""
        now = time.perf_counter_ns
        started: dict[int, int] = {}
        lat: list[int] = []
        errors = 0
        pending = bytearray()
        total = len(calls)
        nxt = done = 0
        poller = select.poll()
        poller.register(self._rfd, select.POLLIN)
        watching_w = False
        os.set_blocking(self._wfd, False)
        try:
            while done < total:
                if nxt < total and len(started) < window:
                    t = now()
                    while nxt < total and len(started) < window:
                        rid, data = calls[nxt]
                        started[rid] = t
                        pending += data
                        nxt += 1
                if pending:
                    try:
                        n = os.write(self._wfd, pending)
                        del pending[:n]
                    except BlockingIOError:
                        pass
                    except BrokenPipeError as exc:
                        raise BenchError(f"{self.spec.name}: server closed stdin (exit {self.proc.poll()})") from exc
                if bool(pending) != watching_w:
                    if pending:
                        poller.register(self._wfd, select.POLLOUT)
                    else:
                        poller.unregister(self._wfd)
                    watching_w = bool(pending)
                if self._buf.find(b"\n") < 0:
                    events = poller.poll(READ_TIMEOUT_S * 1000)
                    if not events:
                        raise BenchError(f"{self.spec.name}: timeout with {len(started)} calls outstanding")
                    if not any(fd == self._rfd for fd, _ in events):
                        continue
                    chunk = os.read(self._rfd, 1 << 16)
                    if not chunk:
                        raise BenchError(f"{self.spec.name}: server closed stdout (exit code {self.proc.poll()})")
                    self._buf += chunk
                t = now()
                buf, start = self._buf, 0
                while (nl := buf.find(b"\n", start)) >= 0:
                    line, start = buf[start:nl], nl + 1
                    if not line.strip():
                        continue
                    msg = self._decode(line)
                    if msg is None:
                        continue
                    mid = msg.get("id")
                    t0 = started.pop(mid, None) if isinstance(mid, int) else None
                    if t0 is None:
                        raise BenchError(f"{self.spec.name}: a response to no outstanding request: {str(msg)[:200]}")
                    lat.append(t - t0)
                    done += 1
                    if is_error(msg):
                        errors += 1
                        self._note_error(msg)
                self._buf = buf[start:]
        finally:
            os.set_blocking(self._wfd, True)
        return lat, errors

    # -- process ----------------------------------------------------------------------------------

    def rss_kb(self) -> int:
        return tree_rss_kb(self.pid)

    def close(self) -> None:
        """Close stdin (all answers are in by now) and wait; terminate a server that lingers."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        if self._errf is not None:
            self._errf.close()


# ----------------------------------------------------------------------------------------------
# workload construction
# ----------------------------------------------------------------------------------------------

_THOUGHT = (
    "Thought {i}: the retry path re-reads the session head before appending, so a stale cache "
    "only costs one extra round trip; next, check that the write order still holds when two "
    "callers race on it."
)


def thought_text(i: int) -> str:
    """A ~200-character thought that contains ``i``."""
    return _THOUGHT.replace("{i}", str(i))


def build_calls(
    server: StdioServer, first_i: int, count: int, total: int, *, sessions: int = 0, session_arg: bool = False
) -> list[tuple[int, bytes]]:
    """Serialize ``count`` tools/call requests with thoughtNumber ``first_i`` onwards (ids from the server).

    With ``sessions`` > 0 the calls go round-robin over that many sessions: call k belongs to
    session ``k % sessions`` and has thoughtNumber ``k // sessions + 1`` (``sessionId`` only
    when ``session_arg``).
    """
    out: list[tuple[int, bytes]] = []
    for k in range(count):
        args: dict[str, Any] = {
            "thought": thought_text(first_i + k),
            "nextThoughtNeeded": True,
            "thoughtNumber": first_i + k,
            "totalThoughts": total,
        }
        if sessions:
            args["thoughtNumber"] = k // sessions + 1
            if session_arg:
                args["sessionId"] = f"bench-{k % sessions:04d}"
        rid = server.new_id()
        msg = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": TOOL, "arguments": args}}
        out.append((rid, orjson.dumps(msg) + b"\n"))
    return out


# ----------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    """One timed phase on one server process."""

    calls: int
    errors: int
    wall_s: float
    lat_ns: list[int] = field(repr=False)

    def summary(self) -> dict[str, float]:
        return summarize(self.lat_ns, self.calls, self.wall_s)


def percentile(sorted_vals: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_vals:
        return math.nan
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q * len(sorted_vals)) - 1))
    return float(sorted_vals[k])


def summarize(lat_ns: list[int], calls: int, wall_s: float) -> dict[str, float]:
    s = sorted(lat_ns)
    return {
        "p50_us": round(percentile(s, 0.50) / 1000, 1),
        "p90_us": round(percentile(s, 0.90) / 1000, 1),
        "p99_us": round(percentile(s, 0.99) / 1000, 1),
        "max_us": round(s[-1] / 1000, 1) if s else math.nan,
        "calls_per_s": round(calls / wall_s, 1) if wall_s > 0 else math.nan,
    }


@contextmanager
def gc_paused() -> Iterator[None]:
    """No client-side GC pauses inside a timed phase."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def timed(fn: Any, *args: Any) -> PhaseResult:
    with gc_paused():
        t0 = time.perf_counter()
        lat, errors = fn(*args)
        wall = time.perf_counter() - t0
    return PhaseResult(len(lat), errors, wall, lat)


_PROBE = {"thought": thought_text(7), "nextThoughtNeeded": True, "thoughtNumber": 7, "totalThoughts": 9}


def cpu_probe_us() -> float:
    """A fixed small pure-Python job (400 json dumps+loads), best of 3, in µs: how fast the CPU is now."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter_ns()
        for _ in range(400):
            json.loads(json.dumps(_PROBE))
        best = min(best, (time.perf_counter_ns() - t0) / 1000)
    return round(best, 1)


def _ppid_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_rss_kb(pid: int) -> int:
    """Sum of VmRSS over ``pid`` and all its descendants (from /proc)."""
    kids = _ppid_map()
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(kids.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def machine_info(node: str | None) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node_version = "-"
    if node:
        try:
            node_version = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=30, check=False
            ).stdout.strip()
        except OSError:
            node_version = "?"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "node": node_version,
        "kernel": platform.release(),
    }
