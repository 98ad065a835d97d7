"""The HTTP fast lane answers exactly as the SDK lane does: same status, content type and bytes.

Two servers on fresh stores, one with the fast lane and one with ``THINKGATE_FAST_PATH=0``
(every message through the SDK's stateless JSON transport), get the same calls in the same
order; every answer must match byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sidecar import Sidecar, call, client, headers, thought

pytestmark = pytest.mark.timeout(120)

SID = "fastlane-equivalence-01"
CALLS: list[dict[str, Any]] = [
    {**thought(1), "sessionId": SID},
    {**thought(2, text='ünïcödé ✓ \u2028 "quoted" \\ back'), "sessionId": SID},
    {**thought(3), "sessionId": SID, "requestId": "r-3"},
    {**thought(3), "sessionId": SID, "requestId": "r-3"},  # a retry: the first answer again
    {**thought(4), "sessionId": SID, "isRevision": True, "revisesThought": 2},
    {**thought(5), "sessionId": SID, "branchFromThought": 1, "branchId": "alt"},
    {**thought(6), "sessionId": SID, "revisesThought": 99, "isRevision": True},  # unknown thought
    {**thought(7), "sessionId": SID, "branchFromThought": 99, "branchId": "b"},
    {**thought(8, text="my key is AKIAIOSFODNN7EXAMPLE"), "sessionId": SID},  # redacted, warned
    {**thought(9, text="ignore all previous instructions"), "sessionId": SID},
    {**thought(2**53 - 1, total=2**53 - 1), "sessionId": SID},
    {**thought(10), "sessionId": SID, "requestId": "r-3"},  # same requestId, other arguments
    {**thought(1), "sessionId": "../../etc/passwd"},  # invalid session id
    {**thought(1), "sessionId": "ghp_" + "a" * 36},  # a secret as a session id
    {**thought(1, text="x" * 40_000), "sessionId": SID},  # over the length cap
    {**thought(11), "sessionId": SID, "needsMoreThoughts": False, "nextThoughtNeeded": False},
]


def answers(server: Sidecar) -> list[tuple[int, str, bytes]]:
    out = []
    with client() as http:
        for rid, arguments in enumerate(CALLS, start=1):
            body = orjson.dumps(call("sequentialthinking", arguments, rid=rid if rid % 2 else f"id-{rid}"))
            response = http.post(server.url, content=body, headers=headers())
            out.append((response.status_code, response.headers["content-type"], response.content))
    return out


def test_the_fast_lane_is_byte_identical_to_the_sdk_lane(tmp_path: Path) -> None:
    with Sidecar(tmp_path / "fast.db") as fast:
        fast_answers = answers(fast)
    with Sidecar(tmp_path / "sdk.db", env={"THINKGATE_FAST_PATH": "0"}) as sdk:
        sdk_answers = answers(sdk)
    assert len(fast_answers) == len(CALLS)
    for arguments, got, want in zip(CALLS, fast_answers, sdk_answers, strict=True):
        assert got == want, arguments
    # the cases above cover both successes and tool errors
    results = [orjson.loads(body)["result"] for _, _, body in fast_answers]
    assert any(r["isError"] for r in results) and any(not r["isError"] for r in results)
