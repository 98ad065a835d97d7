"""The MCP conformance suite (``@modelcontextprotocol/conformance``, HTTP only) against ``serve --http``.

Runs in CI (``make node-deps`` installs the suite and Node 22; a missing install fails there
instead of skipping). The scenarios that need the suite's own fixtures or features ThinkGate
does not have are listed in ``conformance-baseline.yml``; every other scenario must pass, and a
listed one that starts passing fails the run too. This shows the product server's own surface;
the transport's conformance is shown by ``test_http_conformance_fixture.py`` (the same HTTP
stack serving every fixture the suite calls).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sidecar import Sidecar

from nodeenv import MISSING_HINT, conformance_cli

pytestmark = pytest.mark.timeout(600)

BASELINE = Path(__file__).with_name("conformance-baseline.yml")
# Scenarios that must pass on their merits (tools-call-simple-text and tools-call-error pass
# against any server, see shared/reference/mcp-sdk.md §6, so they prove nothing here).
MUST_PASS = {"server-initialize", "ping", "tools-list", "resources-list", "prompts-list", "dns-rebinding-protection"}


def test_the_conformance_suite_passes_except_the_documented_scenarios(tmp_path: Path) -> None:
    cli = conformance_cli()
    if cli is None:
        pytest.skip(MISSING_HINT)
    out = tmp_path / "results"
    with Sidecar(tmp_path / "tg.db") as server:
        run = subprocess.run(
            [*cli, "server", "--url", server.url, "--expected-failures", str(BASELINE), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert server.alive()
    summary = run.stdout[run.stdout.find("=== SUMMARY ===") :]
    assert run.returncode == 0, summary + run.stderr[-3000:]
    statuses: dict[str, set[str]] = {}
    for checks in out.glob("server-*/checks.json"):
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name.removeprefix("server-"))
        statuses.setdefault(scenario, set()).update(c["status"] for c in json.loads(checks.read_text()))
    for scenario in MUST_PASS:
        assert statuses.get(scenario) == {"SUCCESS"}, (scenario, statuses.get(scenario), summary)
