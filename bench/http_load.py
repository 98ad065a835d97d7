"""``make bench``, HTTP row: 64 concurrent sessions against one Streamable HTTP server.

    .venv/bin/python -m bench.http_load [--sessions 64] [--calls 20000] [--rounds 3] [--quick]

Servers, started fresh for every round, in alternating order:

* ``thinkgate``: ``thinkgate serve --http`` on a fresh SQLite file (every thought committed
  before its answer).
* ``sdk-http``: the plain ``mcp`` SDK server over Streamable HTTP, as shipped (stateful, SSE
  answers): ``../shared/bench/anchors/py_sdk_seqthink.py --http``.

The client is one asyncio process with one keep-alive HTTP/1.1 connection per session (raw
sockets, orjson; a few µs per call, so it measures the servers, not itself). Each session
does the ``initialize`` handshake (protocol 2025-11-25), sends ``notifications/initialized``,
then calls ``sequentialthinking`` one at a time (closed loop); ThinkGate sessions pass the
``sessionId`` their first call returned. Latency: from writing the request to having parsed
the answer. Errors: any answer that is not HTTP 200 with a result whose ``isError`` is false.

Prints a markdown report on stdout (progress on stderr), writes it to
``.cache/bench/http-latest.md`` and every measurement as a JSON line to ``--out``.
Exit status 1 when any call failed, 2 when a server could not be run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.client import cpu_probe_us, machine_info, tree_rss_kb

REPO = Path(__file__).resolve().parents[1]
ANCHOR = Path("..") / "shared" / "bench" / "anchors" / "py_sdk_seqthink.py"  # relative to the repo root
TG = "thinkgate"
TG_SDK = "thinkgate-sdk-lane"  # THINKGATE_FAST_PATH=0: every request through the SDK transport
SDK = "sdk-http"
START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
THOUGHT = (
    "Consider the constraints again: the cache must stay bounded, every write must be durable "
    "before it is acknowledged, and the tail latency must not grow with the number of sessions."
)
_URL = re.compile(rb"serving MCP over Streamable HTTP at (http://\S+/mcp)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    sessions: int = 64
    calls: int = 12_800  # timed calls per server per round, split over the sessions (200 each)
    warmup: int = 10  # untimed calls per session first
    rounds: int = 3


QUICK = Config(sessions=8, calls=160, warmup=2, rounds=1)


# ----------------------------------------------------------------------------------------------
# servers
# ----------------------------------------------------------------------------------------------


class Server:
    """One server process; ``url`` once it accepts connections."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        stderr = (self.tmp / f"{self.name}.stderr").open("wb")
        if self.name in (TG, TG_SDK):
            exe = Path(sys.executable).with_name("thinkgate")
            argv = [str(exe)] if exe.is_file() else [sys.executable, "-m", "thinkgate"]
            argv += ["serve", "--http", "--port", "0", "--store", f"sqlite:///{self.tmp / 'bench.db'}"]
            env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
            if self.name == TG_SDK:
                env["THINKGATE_FAST_PATH"] = "0"
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=REPO
            )
            self.url = self._url_from_stderr()
        else:
            port = _free_port()
            argv = [sys.executable, str(ANCHOR), "--http", "--port", str(port)]
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO
            )
            self.url = f"http://127.0.0.1:{port}/mcp"
            _wait_for_port(port, self.proc)
        stderr.close()
        return self

    def _url_from_stderr(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        path = self.tmp / f"{self.name}.stderr"
        assert self.proc is not None
        while time.monotonic() < deadline:
            found = _URL.search(path.read_bytes())
            if found:
                return found.group(1).decode()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start: {path.read_text(errors='replace')[-2000:]}")

    def rss_mib(self) -> float:
        assert self.proc is not None
        return tree_rss_kb(self.proc.pid) / 1024.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    # A TCP probe, never GET /mcp (that may open an endless SSE stream).
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# ----------------------------------------------------------------------------------------------
# the client
# ----------------------------------------------------------------------------------------------


class CallError(Exception):
    pass


class Session:
    """One MCP session on one keep-alive connection."""

    def __init__(self, url: str, pass_session_id: bool) -> None:
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self.pass_session_id = pass_session_id
        self.mcp_session: str | None = None
        self.session_id: str | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.next_id = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        init = {
            "jsonrpc": "2.0",
            "id": self._id(),
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "thinkgate-http-bench", "version": "1"},
            },
        }
        status, headers, _ = await self._post(orjson.dumps(init), initialize=True)
        if status != 200:
            raise CallError(f"initialize: HTTP {status}")
        self.mcp_session = headers.get(b"mcp-session-id", b"").decode() or None
        status, _, _ = await self._post(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        if status != 202:
            raise CallError(f"notifications/initialized: HTTP {status}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def request(self, number: int, total: int) -> bytes:
        args: dict[str, Any] = {
            "thought": THOUGHT,
            "thoughtNumber": number,
            "totalThoughts": total,
            "nextThoughtNeeded": True,
        }
        if self.pass_session_id and self.session_id is not None:
            args["sessionId"] = self.session_id
        return orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": self._id(),
                "method": "tools/call",
                "params": {"name": "sequentialthinking", "arguments": args},
            }
        )

    async def call(self, body: bytes) -> None:
        status, _, payload = await self._post(body)
        if status != 200:
            raise CallError(f"HTTP {status}: {payload[:200]!r}")
        message = _message(payload)
        result = message.get("result")
        if not isinstance(result, dict) or result.get("isError") is not False:
            raise CallError(f"error answer: {payload[:300]!r}")
        if self.session_id is None:
            self.session_id = result["structuredContent"].get("sessionId")

    async def _post(self, body: bytes, *, initialize: bool = False) -> tuple[int, dict[bytes, bytes], bytes]:
        assert self.reader is not None and self.writer is not None
        head = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            f"Content-Length: {len(body)}",
        ]
        if not initialize:
            head.append("MCP-Protocol-Version: 2025-11-25")
        if self.mcp_session is not None:
            head.append(f"Mcp-Session-Id: {self.mcp_session}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            payload = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            payload = b"".join(chunks)
        else:
            payload = b""
        return status, headers, payload


def _message(payload: bytes) -> dict[str, Any]:
    """The JSON-RPC answer in a JSON body or in an SSE stream (its ``data:`` line with a result)."""
    if payload.startswith(b"{"):
        message: dict[str, Any] = orjson.loads(payload)
        return message
    for line in payload.split(b"\n"):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data.startswith(b"{"):
                candidate: dict[str, Any] = orjson.loads(data)
                if "result" in candidate or "error" in candidate:
                    return candidate
    raise CallError(f"no JSON-RPC answer in {payload[:200]!r}")


async def drive(urls: list[str], cfg: Config, pass_session_id: bool) -> dict[str, Any]:
    """The timed load; sessions are spread over ``urls`` in turn (each stays on its server)."""
    sessions = [Session(urls[i % len(urls)], pass_session_id) for i in range(cfg.sessions)]
    await asyncio.gather(*(s.open() for s in sessions))
    per_session = max(1, cfg.calls // cfg.sessions)
    total = cfg.warmup + per_session
    errors: list[str] = []
    latencies: list[float] = []

    async def run(session: Session, calls: range, timed: bool) -> None:
        for number in calls:
            body = session.request(number, total)
            start = time.perf_counter()
            try:
                await asyncio.wait_for(session.call(body), CALL_TIMEOUT)
            except (CallError, OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if not timed:
                    raise
                continue
            if timed:
                latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(run(s, range(1, cfg.warmup + 1), False) for s in sessions))
    errors.clear()
    probe = cpu_probe_us()
    start = time.perf_counter()
    await asyncio.gather(*(run(s, range(cfg.warmup + 1, total + 1), True) for s in sessions))
    wall = time.perf_counter() - start
    for s in sessions:
        s.close()
    return {"latencies": latencies, "wall": wall, "errors": errors, "cpu_probe_us": probe}


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def measure(name: str, cfg: Config, tmp: Path) -> dict[str, Any]:
    server = Server(name, tmp).start()
    try:
        out = asyncio.run(drive([server.url], cfg, pass_session_id=name != SDK))
        rss = server.rss_mib()
    finally:
        server.stop()
    return summary(name, cfg, out, rss)


def summary(name: str, cfg: Config, out: dict[str, Any], rss: float) -> dict[str, Any]:
    """One measurement record from what ``drive`` returned."""
    lat = sorted(out["latencies"])
    calls = len(lat) + len(out["errors"])
    return {
        "server": name,
        "sessions": cfg.sessions,
        "calls": calls,
        "errors": len(out["errors"]),
        "error_sample": out["errors"][:3],
        "calls_per_s": round(len(lat) / out["wall"], 1) if out["wall"] > 0 else 0.0,
        "p50_us": round(_pct(lat, 0.50) * 1e6, 1),
        "p99_us": round(_pct(lat, 0.99) * 1e6, 1),
        "p999_us": round(_pct(lat, 0.999) * 1e6, 1),
        "rss_mib": round(rss, 1),
        "cpu_probe_us": out["cpu_probe_us"],
    }


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------


def _median(records: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in records))


def report(records: list[dict[str, Any]], cfg: Config, started: str) -> str:
    by = {name: [r for r in records if r["server"] == name] for name in (TG, TG_SDK, SDK)}
    lines = [
        f"# HTTP load: {cfg.sessions} concurrent sessions ({started})",
        "",
        f"Each round: fresh processes, {cfg.warmup} warm-up calls per session, then "
        f"{cfg.calls:,} timed `sequentialthinking` calls split over the sessions (closed loop, "
        f"one keep-alive connection each). Medians over {cfg.rounds} round(s).",
        "",
        "| server | calls/s | p50 µs | p99 µs | p99.9 µs | errors | RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in by.items():
        if rows:
            lines.append(
                f"| {name} | {_median(rows, 'calls_per_s'):,.0f} | {_median(rows, 'p50_us'):,.0f} | "
                f"{_median(rows, 'p99_us'):,.0f} | {_median(rows, 'p999_us'):,.0f} | "
                f"{sum(r['errors'] for r in rows)} | {_median(rows, 'rss_mib'):.1f} |"
            )
    if by[TG] and by[SDK]:
        lines += target_lines("ThinkGate", by[TG], by[SDK])
    return "\n".join(lines) + "\n"


def run_rounds(
    names: list[str],
    cfg: Config,
    tmp: Path,
    out: Any,
    records: list[dict[str, Any]],
    run: Callable[[str, Path, int], dict[str, Any]],
) -> bool:
    """Measure every server each round (order alternated), appending to ``records`` and ``out``;
    False when a server could not be run."""
    for round_no in range(cfg.rounds):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            folder = tmp / f"{round_no}-{name}"
            folder.mkdir()
            try:
                rec = run(name, folder, round_no)
            except (RuntimeError, OSError, CallError, asyncio.IncompleteReadError) as exc:
                log(f"{name}: could not be run: {exc}")
                return False
            rec["round"] = round_no
            records.append(rec)
            out.write(orjson.dumps(rec) + b"\n")
            out.flush()
            log(
                f"round {round_no + 1}/{cfg.rounds} {name}: {rec['calls_per_s']:,.0f} calls/s "
                f"p50 {rec['p50_us']:,.0f} µs p99 {rec['p99_us']:,.0f} µs errors {rec['errors']}"
            )
            for sample in rec["error_sample"]:
                log(f"  {sample}")
    return True


def target_lines(label: str, ours: list[dict[str, Any]], sdk: list[dict[str, Any]]) -> list[str]:
    """Same-round ratios against the plain SDK HTTP server (each round's pair ran back to back),
    their medians, and the issue's targets."""
    pairs = list(zip(ours, sdk, strict=False))
    per_round = ", ".join(f"{t['calls_per_s'] / s['calls_per_s']:.2f}×" for t, s in pairs)
    thr = statistics.median(t["calls_per_s"] / s["calls_per_s"] for t, s in pairs)
    p99 = statistics.median(t["p99_us"] / s["p99_us"] for t, s in pairs)
    p50 = statistics.median(t["p50_us"] / s["p50_us"] for t, s in pairs)
    errors = sum(r["errors"] for r in ours)
    return [
        "",
        f"{label} ÷ plain SDK HTTP server, same rounds: throughput **{thr:.2f}×**, "
        f"p50 **{p50:.2f}×**, p99 **{p99:.2f}×** (throughput ratio per round: {per_round}).",
        "",
        "| target | value | met |",
        "|---|---|---|",
        f"| throughput ≥ 4× the SDK HTTP server | {thr:.2f}× | {'yes' if thr >= 4 else 'no'} |",
        f"| p99 ≤ 0.25× the SDK HTTP server's | {p99:.2f}× | {'yes' if p99 <= 0.25 else 'no'} |",
        f"| zero errors | {errors} | {'yes' if errors == 0 else 'no'} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny numbers, one round")
    parser.add_argument(
        "--only", default=f"{TG},{SDK}", help=f"servers to run, comma-separated ({TG}, {TG_SDK}, {SDK})"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON lines file")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    cfg = Config(
        sessions=args.sessions or base.sessions,
        calls=args.calls or base.calls,
        warmup=base.warmup,
        rounds=args.rounds or base.rounds,
    )
    names = [n for n in (TG, TG_SDK, SDK) if n in args.only.split(",")]
    if SDK in names and not (REPO / ANCHOR).is_file():
        log(f"missing {ANCHOR} (the shared/ folder beside the repo)")
        return 2
    cache = REPO / ".cache" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_path = args.out or cache / f"http-{started.replace(':', '')}.jsonl"
    records: list[dict[str, Any]] = []
    log(f"http_load: {cfg} machine {machine_info(None)}")
    with tempfile.TemporaryDirectory(prefix="thinkgate-http-bench-") as tmp, out_path.open("ab") as out:
        if not run_rounds(names, cfg, Path(tmp), out, records, lambda name, folder, _round: measure(name, cfg, folder)):
            return 2
    text = report(records, cfg, started)
    (cache / "http-latest.md").write_text(text, encoding="utf-8")
    print(text, end="")
    return 1 if any(r["errors"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
