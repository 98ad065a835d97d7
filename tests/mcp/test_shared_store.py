"""Several server processes on one SQLite file, writing the same session at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from rawstdio import RawStdioClient

WRITERS = 3
THOUGHTS_EACH = 40


def test_concurrent_processes_writing_one_session_lose_nothing(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    clients = [
        RawStdioClient([sys.executable, "-m", "thinkgate", "serve", "--store", store], timeout=60)
        for _ in range(WRITERS)
    ]
    acknowledged: list[list[dict[str, Any]]] = [[] for _ in range(WRITERS)]
    errors: list[BaseException] = []

    def write(index: int) -> None:
        client = clients[index]
        try:
            ids = [
                client.request(
                    "tools/call",
                    {
                        "name": "sequentialthinking",
                        "arguments": {
                            "thought": f"writer {index} thought {n}",
                            "thoughtNumber": n,
                            "totalThoughts": THOUGHTS_EACH,
                            "nextThoughtNeeded": True,
                            "sessionId": "shared-session",
                        },
                    },
                )
                for n in range(1, THOUGHTS_EACH + 1)
            ]
            for request_id in ids:
                response = client.wait_for(request_id)
                result = response["result"]
                assert result.get("isError") is not True, result
                acknowledged[index].append(result["structuredContent"])
        except BaseException as exc:
            errors.append(exc)

    for client in clients:
        client.initialize()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for client in clients:
        assert client.close() == 0, client.stderr_tail()
    assert not errors, errors

    reader = RawStdioClient([sys.executable, "-m", "thinkgate", "serve", "--store", store], timeout=60)
    reader.initialize()
    stored: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = reader.call_tool(
            "get_thinking_history", {"sessionId": "shared-session", "limit": 500, "cursor": cursor}
        )["result"]["structuredContent"]
        stored += page["thoughts"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert reader.close() == 0

    acked_ids = [r["thoughtId"] for batch in acknowledged for r in batch]
    assert len(acked_ids) == WRITERS * THOUGHTS_EACH
    assert len(set(acked_ids)) == len(acked_ids)  # no two writers were given the same thought
    assert sorted(t["thoughtId"] for t in stored) == sorted(acked_ids)
    texts = {t["thought"] for t in stored}
    assert texts == {f"writer {i} thought {n}" for i in range(WRITERS) for n in range(1, THOUGHTS_EACH + 1)}
    lengths = sorted(r["thoughtHistoryLength"] for batch in acknowledged for r in batch)
    assert lengths == list(range(1, WRITERS * THOUGHTS_EACH + 1))  # versions are contiguous

    audit = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "shared-session", "--store", store],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert audit.returncode == 0, audit.stderr
