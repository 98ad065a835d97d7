"""The stdio wire's own promises: the SDK loads only when needed, order is kept, bursts are batched safely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

TIMEOUT = 60


def run_server(lines: list[Any], *, env: dict[str, str] | None = None, db: Path | None = None) -> list[dict[str, Any]]:
    """Write every line at once to a real ``thinkgate serve``, close stdin; its answers in arrival order."""
    store = f"sqlite:///{db}" if db is not None else "memory://"
    payload = b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--store", store],
        input=payload,
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return [orjson.loads(line) for line in proc.stdout.splitlines()]


INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "wire-test", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def thought(n: int, number: int, session: str = "wire", **extra: Any) -> dict[str, Any]:
    arguments = {"thought": f"thought {number}", "nextThoughtNeeded": True, "thoughtNumber": number, "totalThoughts": 9}
    return {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": "sequentialthinking", "arguments": {**arguments, "sessionId": session, **extra}},
    }


def tool(n: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


PROBE = """
import sys, runpy
sys.argv = ["thinkgate", "serve", "--store", "memory://"]
try:
    runpy.run_module("thinkgate", run_name="__main__")
finally:
    loaded = sorted(m for m in sys.modules if m == "mcp" or m.startswith(("mcp.", "mcp_types", "pydantic", "typer")))
    sys.stderr.write("LOADED " + ",".join(loaded) + "\\n")
"""


def probe_modules(lines: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    payload = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], input=payload, capture_output=True, timeout=TIMEOUT, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    marker = [line for line in proc.stderr.decode().splitlines() if line.startswith("LOADED ")]
    loaded = [m for m in marker[-1].removeprefix("LOADED ").split(",") if m]
    return [orjson.loads(line) for line in proc.stdout.splitlines()], loaded


def test_a_handshake_and_thoughts_never_import_the_sdk() -> None:
    lines = [
        INIT,
        INITIALIZED,
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "resources/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "ping"},
        *(thought(10 + i, i) for i in range(1, 6)),
    ]
    answers, loaded = probe_modules(lines)
    assert len(answers) == 10 and all("result" in a for a in answers)
    assert loaded == [], f"the fast path imported {loaded}"


def test_the_first_message_the_fast_path_declines_loads_the_sdk_which_knows_the_handshake() -> None:
    lines = [
        INIT,
        INITIALIZED,
        thought(1, 1),
        tool(2, "get_thinking_history", {"sessionId": "wire"}),  # SDK path, after a fast handshake
        {"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "sequential-thinking-guidance"}},
        thought(4, 2),
    ]
    answers, loaded = probe_modules(lines)
    by_id = {a["id"]: a for a in answers}
    assert "mcp" in loaded and "typer" not in loaded
    history = by_id[2]["result"]["structuredContent"]
    assert [t["thought"] for t in history["thoughts"]] == ["thought 1"]
    assert by_id[3]["result"]["messages"]
    assert by_id[4]["result"]["structuredContent"]["thoughtHistoryLength"] == 2
    assert sorted(by_id) == [0, 1, 2, 3, 4]  # the replayed handshake's own answer is not sent


def test_calls_sent_in_one_burst_run_in_order_across_fast_and_sdk_paths(tmp_path: Path) -> None:
    lines = [
        INIT,
        *(thought(10 + i, i) for i in range(1, 4)),
        tool(20, "clear_thinking_history", {"sessionId": "wire"}),  # SDK path
        *(thought(30 + i, i) for i in range(1, 3)),  # must come after the clear
        tool(40, "get_thinking_history", {"sessionId": "wire"}),
    ]
    answers = {a["id"]: a for a in run_server(lines, db=tmp_path / "order.db")}
    assert answers[20]["result"]["structuredContent"] == {"sessionId": "wire", "cleared": 3}
    assert answers[31]["result"]["structuredContent"]["thoughtHistoryLength"] == 1
    history = answers[40]["result"]["structuredContent"]["thoughts"]
    assert [t["thought"] for t in history] == ["thought 1", "thought 2"]


def test_a_burst_of_calls_to_many_sessions_is_stored_exactly_once_each(tmp_path: Path) -> None:
    db = tmp_path / "burst.db"
    calls = [thought(100 + i, i // 8 + 1, session=f"s{i % 8}") for i in range(400)]
    answers = run_server([INIT, *calls], db=db)
    results = {a["id"]: a["result"] for a in answers if a["id"] != 0}
    assert len(results) == 400 and not any(r["isError"] for r in results.values())
    for i in range(400):
        content = results[100 + i]["structuredContent"]
        assert content["sessionId"] == f"s{i % 8}"
        assert content["thoughtHistoryLength"] == i // 8 + 1  # in order within each session
    audit = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", f"sqlite:///{db}"],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout.decode() + audit.stderr.decode()


def test_with_the_fast_path_off_every_message_still_gets_its_answer() -> None:
    lines = [INIT, INITIALIZED, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, thought(2, 1)]
    answers = run_server(lines, env={"THINKGATE_FAST_PATH": "0"})
    assert [a["id"] for a in answers] == [0, 1, 2]
    assert answers[2]["result"]["structuredContent"]["thoughtId"] == "t1"


def test_an_oversized_line_is_refused_and_the_next_one_answered() -> None:
    huge = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * (5 * 1024 * 1024) + b'"}}'
    answers = run_server([INIT, huge, {"jsonrpc": "2.0", "id": 2, "method": "ping"}])
    assert answers[1]["error"]["code"] == -32600 and answers[1]["id"] is None
    assert answers[2] == {"jsonrpc": "2.0", "id": 2, "result": {}}


def test_json_nested_too_deeply_is_a_parse_error_and_the_server_keeps_serving() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # the standard library would recurse until it crashed
    deep_with_surrogate = b'{"a":"\\ud800","b":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    answers = run_server([INIT, deep, deep_with_surrogate, {"jsonrpc": "2.0", "id": 2, "method": "ping"}])
    assert [a.get("error", {}).get("code") for a in answers[1:3]] == [-32700, -32700]
    assert answers[3] == {"jsonrpc": "2.0", "id": 2, "result": {}}


class _Collected:
    """Stands in for stdout inside the process: what the wire wrote, line by line."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def add(self, data: bytes) -> None:
        self.lines.extend(orjson.loads(line) for line in data.splitlines())

    async def flush(self) -> None:
        return None


@pytest.mark.anyio
async def test_after_a_handshake_the_sdk_answered_the_fast_path_takes_over() -> None:
    import asyncio

    from thinkgate.engine.engine import Engine
    from thinkgate.mcp.wire import StdioWire
    from thinkgate.store.memory import MemoryEventStore

    engine = Engine(MemoryEventStore())
    await engine.start()
    wire = StdioWire(engine)
    out = _Collected()
    wire._out = out  # type: ignore[assignment]
    unusual = {**INIT, "params": {**INIT["params"], "_meta": {"client": "x"}}}  # not the fast path's to answer
    await wire._handle([orjson.dumps(unusual)])
    for _ in range(200):
        if out.lines:
            break
        await asyncio.sleep(0.01)
    assert out.lines[0]["result"]["protocolVersion"] == "2025-11-25"
    assert wire._version == "2025-11-25"
    await wire._handle([orjson.dumps(thought(1, 1))])
    # Answered within the call (the fast path), not later by the SDK's task.
    assert out.lines[-1]["id"] == 1 and out.lines[-1]["result"]["structuredContent"]["thoughtId"] == "t1"
    assert wire._sdk is not None
    await wire._sdk.finish()
    await wire._sdk.close()
    await engine.stop()
