"""ThinkGate over stdio as a third-party client sees it: the TypeScript MCP SDK client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nodeenv import MISSING_HINT, node22, ts_sdk_dir
from thinkgate.mcp.toolsets import TOOLSETS

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).with_name("ts_client_check.mjs")


def test_typescript_sdk_client_drives_thinkgate_over_stdio(tmp_path: Path) -> None:
    node, sdk = node22(), ts_sdk_dir()
    if node is None or sdk is None:
        pytest.skip(MISSING_HINT)
    store = f"sqlite:///{tmp_path}/ts.db"
    proc = subprocess.run(
        [node, str(SCRIPT), str(sdk.parent.parent), sys.executable, "-m", "thinkgate", "serve", "--store", store],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["tools"] == sorted(TOOLSETS["core"] + TOOLSETS["graph"] + TOOLSETS["governance"])  # the defaults
    assert out["annotations"]["readOnlyHint"] is False and out["annotations"]["idempotentHint"] is False
    assert out["hasOutputSchema"]
    ok, coerced, branch, bad, done = out["results"]
    assert not ok["isError"] and ok["structured"]["thoughtHistoryLength"] == 1
    assert coerced["structured"]["thoughtNumber"] == 2 and coerced["structured"]["nextThoughtNeeded"] is True
    assert branch["structured"]["branches"] == ["alt"]
    assert bad["isError"] and bad["text"].startswith("UNKNOWN_THOUGHT")
    assert done["structured"]["nextThoughtNeeded"] is False and done["structured"]["thoughtHistoryLength"] == 4
    assert out["historyLength"] == 4
    assert out["sessionsResource"] == 1
    assert out["promptMessages"] >= 1
