"""Crash safety: SIGKILL the stdio server mid-stream; nothing it acknowledged may be lost.

A burst of ``sequentialthinking`` calls is written without waiting; after some answers have
arrived the server is killed with SIGKILL. A new server on the same SQLite file must hold
every acknowledged thought exactly once, and the hash chains must verify.
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

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from rawstdio import InvalidMessageError, RawStdioClient, ServerClosedError  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SESSION = "crash-session"
CALLS = 200
KILL_AFTER = 60  # acknowledged answers before SIGKILL


def serve_argv(db: Path) -> list[str]:
    return [sys.executable, "-m", "thinkgate", "serve", "--store", f"sqlite:///{db}"]


def call_line(request_id: int, number: int) -> bytes:
    args = {
        "thought": f"crash thought {number}",
        "thoughtNumber": number,
        "totalThoughts": CALLS,
        "nextThoughtNeeded": number < CALLS,
        "sessionId": SESSION,
    }
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "sequentialthinking", "arguments": args},
    }
    return json.dumps(message).encode() + b"\n"


def record_and_kill(db: Path, env: dict[str, str | None]) -> dict[str, int]:
    """Pipeline CALLS thoughts, SIGKILL after KILL_AFTER answers; thoughtId -> thoughtNumber acknowledged."""
    client = RawStdioClient(serve_argv(db), env=env, timeout=30.0)
    acked: dict[str, int] = {}
    numbers: dict[int, int] = {}  # request id -> thoughtNumber
    burst = bytearray()
    for n in range(1, CALLS + 1):
        numbers[1000 + n] = n
        burst += call_line(1000 + n, n)

    def write() -> None:
        # The server may die while this is still blocked on a full pipe.
        with contextlib.suppress(ServerClosedError):
            client.send_raw(bytes(burst))

    writer = threading.Thread(target=write, name="crash-writer", daemon=True)
    try:
        client.initialize()
        writer.start()

        def take(response: dict[str, Any]) -> None:
            result = response["result"]
            assert result["isError"] is False, result
            content = result["structuredContent"]
            assert content["sessionId"] == SESSION
            assert content["thoughtNumber"] == numbers[response["id"]]
            assert content["thoughtId"] not in acked, "one thoughtId per acknowledged call"
            acked[content["thoughtId"]] = content["thoughtNumber"]

        while len(acked) < KILL_AFTER:
            take(client.read_response(timeout=30))
        assert client.kill() == -9
        # Answers already on the pipe when the server died were acknowledged too. The kill
        # can cut the last answer short (a write that did not fit the pipe): the client
        # cannot read that one, so it was not acknowledged, and only it can be cut.
        try:
            while True:
                take(client.read_response(timeout=10))
        except InvalidMessageError:
            with pytest.raises(ServerClosedError):
                client.read_response(timeout=10)
        except ServerClosedError:
            pass
    finally:
        if client.proc.poll() is None:
            client.kill()
        writer.join(timeout=10)
    assert not writer.is_alive()
    return acked


def stored_history(db: Path, env: dict[str, str | None]) -> list[dict[str, Any]]:
    """Every thought of SESSION, read by a fresh server through get_thinking_history pages."""
    thoughts: list[dict[str, Any]] = []
    with RawStdioClient(serve_argv(db), env=env, timeout=30.0) as client:
        client.initialize()
        cursor: str | None = None
        for _ in range(CALLS + 1):
            args: dict[str, Any] = {"sessionId": SESSION, "limit": 37}
            if cursor is not None:
                args["cursor"] = cursor
            response = client.call_tool("get_thinking_history", args)
            page = response["result"]["structuredContent"]
            thoughts.extend(page["thoughts"])
            cursor = page["nextCursor"]
            if cursor is None:
                break
        else:
            raise AssertionError("history paging did not end")
        # The restarted server also keeps writing to the same session.
        more = client.call_tool(
            "sequentialthinking",
            {
                "thought": "after the crash",
                "thoughtNumber": CALLS + 1,
                "totalThoughts": CALLS + 1,
                "nextThoughtNeeded": False,
                "sessionId": SESSION,
            },
        )
        assert more["result"]["isError"] is False, more
        assert more["result"]["structuredContent"]["thoughtHistoryLength"] == len(thoughts) + 1
    assert client.proc.returncode == 0, client.stderr_tail()
    return thoughts


def audit_verify(db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("durability", [None, "full"], ids=["normal", "full"])
def test_acknowledged_thoughts_survive_sigkill(durability: str | None, tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env: dict[str, str | None] = {"THINKGATE_STORE": None, "THINKGATE_DURABILITY": durability}

    acked = record_and_kill(db, env)
    assert len(acked) >= KILL_AFTER

    thoughts = stored_history(db, env)
    ids = [t["thoughtId"] for t in thoughts]
    assert len(ids) == len(set(ids)), "no thought stored twice"
    by_id = {t["thoughtId"]: t for t in thoughts}
    for thought_id, number in acked.items():
        assert thought_id in by_id, f"acknowledged {thought_id} (thought {number}) was lost"
        assert by_id[thought_id]["thoughtNumber"] == number
        assert by_id[thought_id]["thought"] == f"crash thought {number}"
    numbers = [t["thoughtNumber"] for t in thoughts]
    assert len(numbers) == len(set(numbers)), "no call recorded twice"
    assert set(numbers) <= set(range(1, CALLS + 1))
    # Thought ids follow the session's sequence: the recovered log has no holes.
    assert ids == [f"t{n}" for n in range(1, len(thoughts) + 1)]

    proc = audit_verify(db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
