"""The MCP conformance suite (``--suite all``) against ThinkGate's HTTP stack serving the suite's fixtures.

``test_http_conformance.py`` runs the suite against ``serve --http`` itself, where most
scenarios cannot pass: they call fixture tools, resources and prompts ThinkGate does not have.
This test runs it against ``conformance_server.py``: the same ``HttpApp`` (guard, body cap,
lanes), SDK handler (stateless, JSON answers) and uvicorn settings, serving an ``MCPServer``
with every fixture. So a failure here is the transport's, and ``conformance-fixture-baseline.yml``
lists only what stateless JSON mode rules out, with the reason for each.

Runs in CI (``make node-deps`` installs the suite and Node 22; a missing install fails there
instead of skipping).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sidecar import Sidecar

from nodeenv import MISSING_HINT, conformance_cli

pytestmark = pytest.mark.timeout(600)

HERE = Path(__file__).parent
BASELINE = HERE / "conformance-fixture-baseline.yml"
SERVER = HERE / "conformance_server.py"


class FixtureServer(Sidecar):
    """``conformance_server.py`` in a subprocess on a free loopback port (it prints its URL as the sidecar does)."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))
        self.argv = [sys.executable, str(SERVER)]


def _baseline() -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\s+- (\S+)", BASELINE.read_text(), re.MULTILINE)}


def test_every_scenario_passes_on_the_fixture_server_except_what_stateless_json_mode_rules_out(
    tmp_path: Path,
) -> None:
    cli = conformance_cli()
    if cli is None:
        pytest.skip(MISSING_HINT)
    listed = subprocess.run([*cli, "list", "--server"], capture_output=True, text=True, timeout=60, check=True)
    scenarios = set(re.findall(r"^\s+- (\S+) \[", listed.stdout, re.MULTILINE))
    out = tmp_path / "results"
    with FixtureServer() as server:
        argv = [*cli, "server", "--url", server.url, "--suite", "all", "--expected-failures", str(BASELINE)]
        run = subprocess.run(
            [*argv, "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert server.alive()
    summary = run.stdout[run.stdout.find("=== SUMMARY ===") :]
    # Exit 0: no failure outside the baseline, and no baseline entry that passes.
    assert run.returncode == 0, summary + run.stderr[-3000:]
    assert "Traceback" not in server.stderr.decode(errors="replace"), server.stderr.decode(errors="replace")
    statuses: dict[str, set[str]] = {}
    for checks in out.glob("server-*/checks.json"):
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name.removeprefix("server-"))
        statuses.setdefault(scenario, set()).update(c["status"] for c in json.loads(checks.read_text()))
    assert set(statuses) == scenarios, summary  # every scenario the suite has was run
    baseline = _baseline()
    assert baseline < scenarios, baseline - scenarios
    # Every other scenario passes on its merits: at least one SUCCESS, nothing but INFO beside it.
    for scenario in sorted(scenarios - baseline):
        assert "SUCCESS" in statuses[scenario] and statuses[scenario] <= {"SUCCESS", "INFO"}, (
            scenario,
            statuses[scenario],
            summary,
        )
