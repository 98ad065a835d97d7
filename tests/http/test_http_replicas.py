"""Replicas: two sidecars on one store serve any session consistently, with no sticky sessions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from sidecar import Sidecar, call, client, headers, thought

from mcp import Client

pytestmark = pytest.mark.timeout(180)


def test_two_replicas_on_one_sqlite_file_serve_one_session_alternately(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with Sidecar(db) as a, Sidecar(db) as b, client() as http:
        sid = "replicated-session-01"
        replicas = [a, b]
        for n in range(1, 41):
            server = replicas[n % 2]  # every call goes to the other replica
            response = http.post(
                server.url,
                json=call("sequentialthinking", {**thought(n, total=40), "sessionId": sid}),
                headers=headers(),
            )
            result = response.json()["result"]
            assert result["isError"] is False, result
            assert result["structuredContent"]["thoughtHistoryLength"] == n
        for server in replicas:
            page = http.post(server.url, json=call("get_thinking_history", {"sessionId": sid}), headers=headers())
            thoughts = page.json()["result"]["structuredContent"]["thoughts"]
            assert [t["thoughtNumber"] for t in thoughts] == list(range(1, 41))

        async def sdk_client_across_replicas() -> None:
            # the SDK client of either era, talking to one replica, continues what the other wrote
            with anyio.fail_after(60):
                async with Client(a.url, mode="legacy") as first, Client(b.url) as second:
                    made: Any = await first.call_tool("sequentialthinking", thought(1))
                    other = made.structured_content["sessionId"]
                    more: Any = await second.call_tool("sequentialthinking", {**thought(2), "sessionId": other})
                    assert more.structured_content["thoughtHistoryLength"] == 2

        anyio.run(sdk_client_across_replicas)
    audit = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=a.env,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
