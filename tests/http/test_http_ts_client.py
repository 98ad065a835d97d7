"""``serve --http`` as a third-party client sees it: the TypeScript MCP SDK's Streamable HTTP client."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sidecar import Sidecar

from nodeenv import MISSING_HINT, node22, ts_sdk_dir

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

SCRIPT = Path(__file__).with_name("ts_http_check.mjs")


def test_typescript_sdk_client_drives_the_http_sidecar(sidecar: Sidecar) -> None:
    node, sdk = node22(), ts_sdk_dir()
    if node is None or sdk is None:
        pytest.skip(MISSING_HINT)
    proc = subprocess.run(
        [node, str(SCRIPT), str(sdk.parent.parent), sidecar.url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["protocolVersion"] == "2025-11-25"
    assert out["sessionHeader"] is None  # stateless: no MCP session to stick to
    assert "sequentialthinking" in out["tools"] and "list_sessions" in out["tools"]
    first, second = out["results"]
    assert not first["isError"] and not second["isError"]
    assert second["structured"]["sessionId"] == first["structured"]["sessionId"]
    assert second["structured"]["thoughtHistoryLength"] == 2 and second["structured"]["nextThoughtNeeded"] is False
    assert out["history"] == ["first", "second"]
    assert out["listSessions"]["isError"] and out["listSessions"]["text"].startswith("FORBIDDEN")
    assert out["timelineThoughts"] == 2
    assert out["promptMessages"] >= 1
