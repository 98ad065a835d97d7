"""Real ``thinkgate serve --store postgresql://…`` processes sharing one database.

Several server processes write one session at once; and a server is killed with SIGKILL in
the middle of a pipelined burst while another keeps writing. Every acknowledged thought must
be stored exactly once, versions contiguous, and ``thinkgate audit verify`` must pass.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.pg import fresh_database

_MCP_TESTS = Path(__file__).resolve().parents[1] / "mcp"
if str(_MCP_TESTS) not in sys.path:
    sys.path.insert(0, str(_MCP_TESTS))

from rawstdio import InvalidMessageError, RawStdioClient, ServerClosedError  # noqa: E402

pytestmark = pytest.mark.timeout(180)

SESSION = "pg-shared"


def serve(url: str) -> RawStdioClient:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("THINKGATE_")}
    return RawStdioClient([sys.executable, "-m", "thinkgate", "serve", "--store", url], env=env, timeout=60)


def thought_args(text: str, number: int, total: int) -> dict[str, Any]:
    return {
        "thought": text,
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": True,
        "sessionId": SESSION,
    }


def stored_thoughts(url: str) -> list[dict[str, Any]]:
    reader = serve(url)
    try:
        reader.initialize()
        stored: list[dict[str, Any]] = []
        cursor = None
        while True:
            args: dict[str, Any] = {"sessionId": SESSION, "limit": 500}
            if cursor is not None:
                args["cursor"] = cursor
            page = reader.call_tool("get_thinking_history", args)["result"]["structuredContent"]
            stored += page["thoughts"]
            cursor = page["nextCursor"]
            if cursor is None:
                return stored
    finally:
        assert reader.close() == 0, reader.stderr_tail()


def audit(url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", url],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hash chains intact" in result.stdout


def test_server_processes_writing_one_session_through_postgres_lose_nothing() -> None:
    url = fresh_database()
    writers, each = 3, 40
    clients = [serve(url) for _ in range(writers)]
    acknowledged: list[list[dict[str, Any]]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []

    def write(index: int) -> None:
        client = clients[index]
        try:
            ids = [
                client.request(
                    "tools/call",
                    {"name": "sequentialthinking", "arguments": thought_args(f"writer {index} thought {n}", n, each)},
                )
                for n in range(1, each + 1)
            ]
            for request_id in ids:
                result = client.wait_for(request_id)["result"]
                assert result.get("isError") is not True, result
                acknowledged[index].append(result["structuredContent"])
        except BaseException as exc:
            errors.append(exc)

    try:
        for client in clients:
            client.initialize()
        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=150)
    finally:
        codes = [client.close() for client in clients]
    assert not errors, errors
    assert codes == [0] * writers, [c.stderr_tail() for c in clients]

    acked = [r for batch in acknowledged for r in batch]
    assert len(acked) == writers * each
    assert len({r["thoughtId"] for r in acked}) == len(acked)
    assert sorted(r["thoughtHistoryLength"] for r in acked) == list(range(1, writers * each + 1))
    stored = stored_thoughts(url)
    assert sorted(t["thoughtId"] for t in stored) == sorted(r["thoughtId"] for r in acked)
    assert {t["thought"] for t in stored} == {
        f"writer {i} thought {n}" for i in range(writers) for n in range(1, each + 1)
    }
    audit(url)


def test_a_server_killed_mid_burst_loses_no_acknowledged_write_while_another_keeps_writing() -> None:
    url = fresh_database()
    calls, kill_after, steady_calls = 200, 60, 60
    victim, steady = serve(url), serve(url)
    acked: dict[str, str] = {}  # thoughtId -> text, from both servers
    steady_errors: list[BaseException] = []

    burst = bytearray()
    for n in range(1, calls + 1):
        message = {
            "jsonrpc": "2.0",
            "id": 1000 + n,
            "method": "tools/call",
            "params": {"name": "sequentialthinking", "arguments": thought_args(f"victim {n}", n, calls)},
        }
        burst += json.dumps(message).encode() + b"\n"

    def take(response: dict[str, Any]) -> None:
        result = response["result"]
        assert result["isError"] is False, result
        content = result["structuredContent"]
        assert content["thoughtId"] not in acked
        acked[content["thoughtId"]] = f"victim {response['id'] - 1000}"

    def write_burst() -> None:
        with contextlib.suppress(ServerClosedError):  # the victim dies while this may still block
            victim.send_raw(bytes(burst))

    def write_steady() -> None:
        try:
            for n in range(1, steady_calls + 1):
                text = f"steady {n}"
                result = steady.call_tool("sequentialthinking", thought_args(text, n, steady_calls))["result"]
                assert result.get("isError") is not True, result
                acked[result["structuredContent"]["thoughtId"]] = text
        except BaseException as exc:
            steady_errors.append(exc)

    burst_writer = threading.Thread(target=write_burst, daemon=True)
    steady_writer = threading.Thread(target=write_steady)
    try:
        victim.initialize()
        steady.initialize()
        burst_writer.start()
        steady_writer.start()
        taken = 0
        while taken < kill_after:
            take(victim.read_response(timeout=60))
            taken += 1
        assert victim.kill() == -9
        # Answers already in the pipe were acknowledged too; only the last one can be cut short.
        try:
            while True:
                take(victim.read_response(timeout=10))
        except InvalidMessageError:
            with pytest.raises(ServerClosedError):
                victim.read_response(timeout=10)
        except ServerClosedError:
            pass
        steady_writer.join(timeout=150)
        assert not steady_writer.is_alive()
    finally:
        if victim.proc.poll() is None:
            victim.kill()
        burst_writer.join(timeout=10)
        steady_code = steady.close()
    assert not steady_errors, steady_errors
    assert steady_code == 0, steady.stderr_tail()

    stored = stored_thoughts(url)
    ids = [t["thoughtId"] for t in stored]
    assert len(ids) == len(set(ids))
    by_id = {t["thoughtId"]: t["thought"] for t in stored}
    for thought_id, text in acked.items():  # every acknowledged thought, exactly as acknowledged
        assert by_id.get(thought_id) == text, thought_id
    assert sum(1 for t in stored if t["thought"].startswith("steady")) == steady_calls

    # A restarted server goes on writing the same session after the crash.
    after = serve(url)
    try:
        after.initialize()
        result = after.call_tool("sequentialthinking", thought_args("after the crash", 1, 1))["result"]
        assert result["isError"] is False, result
        assert result["structuredContent"]["thoughtHistoryLength"] == len(stored) + 1
    finally:
        assert after.close() == 0, after.stderr_tail()
    audit(url)
