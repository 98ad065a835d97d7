"""The governance tools through a real ``thinkgate serve`` process over stdio.

The server runs with its working directory *elsewhere*; the official SDK client gives it its
evidence root as an MCP root (``list_roots_callback``), so a relative path is read from the
client's root, not from the server's directory. ``THINKGATE_EVIDENCE_COMMANDS`` allow-lists the
programs. The process is stopped and started again on the same SQLite file: statuses, route
decisions, checkpoints and outcomes are the same, retries are still recognised, ``thinkgate audit
verify`` passes and ``thinkgate report calibration`` prints Brier and ECE over the outcomes.
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp import Client, StdioServerParameters, types

pytestmark = [pytest.mark.timeout(180), pytest.mark.anyio]

TIMEOUT = 60.0
CACHE_PY = "def ttl_seconds():\n    return 60 * 5\n"
GOVERNANCE_TOOLS = {
    "verify_thoughts",
    "add_evidence",
    "set_verification_policy",
    "record_assumption",
    "set_assumption_status",
    "run_reasoning_checkpoint",
    "converge_reasoning",
    "consensus_answer",
    "run_governance_pipeline",
    "record_outcome",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env.update(extra)
    return env


def params(db: Path, cwd: Path, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "thinkgate", "serve", "--store", f"sqlite:///{db}"],
        env=clean_env(**env),
        cwd=str(cwd),
    )


def roots_of(*paths: Path) -> Any:
    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=p.as_uri(), name=p.name) for p in paths])  # type: ignore[arg-type]

    return list_roots


async def failing_roots(context: Any) -> types.ErrorData:
    return types.ErrorData(code=-32603, message="roots are unavailable")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )


async def ok(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert result.is_error is False, result.content[0].text  # type: ignore[union-attr]
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    assert json.loads(result.content[0].text) == content  # type: ignore[union-attr]
    return content


async def refused(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error is True, result
    code: str = result.meta["thinkgate/error"]["code"]  # type: ignore[index]
    assert result.content[0].text.startswith(f"{code}: ")  # type: ignore[union-attr]
    return code


async def resources(client: Client, sid: str) -> dict[str, Any]:
    out = {}
    for name in ("verification-matrix", "route-decision", "assumptions", "checkpoints", "graph"):
        res = await client.read_resource(f"thinkgate://session/{sid}/{name}")
        out[name] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
    return out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """The client's project (its MCP root) and the server's working directory, apart."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "cache.py").write_text(CACHE_PY)
    (elsewhere / "cache.py").write_text("def ttl_seconds():\n    return 1\n")
    return project, elsewhere


def claim(*evidence: dict[str, Any], criticality: str = "medium", **extra: Any) -> dict[str, Any]:
    return {"text": "The cache TTL is five minutes", "criticality": criticality, "evidence": list(evidence), **extra}


FILE_OK = {"kind": "file", "path": "cache.py", "lines": "2", "quote": "return 60 * 5"}


async def test_client_roots_govern_file_evidence_and_everything_survives_a_restart(
    tmp_path: Path, dirs: tuple[Path, Path]
) -> None:
    project, elsewhere = dirs
    db = tmp_path / "gov.db"
    server = params(db, elsewhere, THINKGATE_EVIDENCE_COMMANDS="true,false")
    with anyio.fail_after(TIMEOUT):
        async with Client(server, mode="legacy", list_roots_callback=roots_of(project), read_timeout_seconds=30) as c:
            assert {t.name for t in (await c.list_tools()).tools} >= GOVERNANCE_TOOLS
            sid = (await ok(c, "start_deliberation", {"goal": "Should the catalogue API add a Redis cache?"}))[
                "deliberationId"
            ]
            s = {"sessionId": sid}
            verified = await ok(
                c,
                "verify_thoughts",
                {
                    "claims": [
                        claim(FILE_OK, criticality="critical"),
                        claim(
                            {"kind": "file", "path": str(elsewhere / "cache.py"), "lines": "2", "quote": "return 1"},
                            {"kind": "command", "argv": ["true"]},
                            {"kind": "command", "argv": ["false"], "expectExitCode": 0},
                            {"kind": "command", "argv": ["ls"]},
                            {"kind": "command", "argv": ["/bin/true"]},
                        ),
                    ],
                    "requestId": "v-1",
                    **s,
                },
            )
            first, second = verified["claims"]
            (ev,) = first["evidence"]
            assert (ev["check"], ev["group"]) == ("passed", f"root:{project.resolve()}")
            assert ev["details"]["resolvedPath"] == str((project / "cache.py").resolve())
            checks = [(e["check"], e["counts"]) for e in second["evidence"]]
            assert checks == [
                ("not_checked", False),  # the server's cwd is no root when the client gives roots
                ("passed", True),
                ("failed", False),
                ("not_checked", False),
                ("not_checked", False),
            ]
            assert second["evidence"][1]["details"]["cwd"] == str(project.resolve())
            assert (first["status"], second["status"]) == ("verified", "verified")

            aid = (await ok(c, "record_assumption", {"text": "Traffic stays flat", "criticality": "high", **s}))[
                "assumption"
            ]["assumptionId"]
            blocked = await ok(c, "consensus_answer", {"candidates": [{"answer": "Add Redis"}], **s})
            assert (blocked["status"], blocked["answer"]) == ("blocked", None)
            await ok(c, "set_assumption_status", {"assumptionId": aid, "status": "accepted_risk", **s})
            checkpoint = await ok(c, "run_reasoning_checkpoint", {"note": "review", **s})
            assert checkpoint["routeDecision"]["decision"] == "proceed_with_monitoring"
            answered = await ok(c, "consensus_answer", {"candidates": [{"answer": "Add Redis", "votes": 2}], **s})
            assert answered["answer"] == "Add Redis"
            for decision_id, outcome in (("d1", "failure"), ("d2", "success")):
                await ok(c, "record_outcome", {"decisionId": decision_id, "outcome": outcome, **s})
            await ok(c, "record_outcome", {"decisionId": "d3", "score": 0.75, "requestId": "o-3", **s})
            converged = await ok(c, "converge_reasoning", {"summary": "Add Redis, 5 minute TTL", **s})
            assert converged["written"] is True
            before = await resources(c, sid)
    assert before["verification-matrix"]["claims"] == verified["claims"]
    assert [d["decision"] for d in before["checkpoints"]["decisions"]] == [
        "blocked",
        "proceed_with_monitoring",
        "proceed_with_monitoring",
        "proceed_with_monitoring",
    ]

    # A new process on the same file, still elsewhere: the same ledger and decisions.
    with anyio.fail_after(TIMEOUT):
        async with Client(server, mode="legacy", list_roots_callback=roots_of(project), read_timeout_seconds=30) as c:
            after = await resources(c, sid)
            assert after == before
            assert await refused(
                c, "record_outcome", {"decisionId": "d3", "outcome": "failure", "requestId": "o-3", "sessionId": sid}
            ) == ("IDEMPOTENCY_CONFLICT")
            assert await refused(c, "record_outcome", {"decisionId": "d1", "outcome": "success", "sessionId": sid}) == (
                "INVALID_INPUT"
            )
            # the stored checks are re-run in the new process: the file is unchanged, so still verified
            rechecked = await ok(c, "verify_thoughts", {"recheck": True, "sessionId": sid})
            assert [cl["status"] for cl in rechecked["claims"]] == ["verified", "verified"]
            (project / "cache.py").write_text("def ttl_seconds():\n    return 60\n")
            changed = await ok(c, "verify_thoughts", {"recheck": True, "sessionId": sid})
            assert changed["claims"][0]["status"] == "data_deficit"
            assert changed["route"]["decision"] == "blocked"

    audit = run_cli("audit", "verify", "--store", f"sqlite:///{db}")
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.startswith("ok: 1 session(s)")
    report = run_cli("report", "calibration", "--store", f"sqlite:///{db}")
    assert report.returncode == 0, report.stderr
    assert "Brier" in report.stdout and "ECE" in report.stdout
    summary = run_cli("report", "calibration", "--store", f"sqlite:///{db}", "--format", "json")
    assert summary.returncode == 0, summary.stderr
    overall = json.loads(summary.stdout)["overall"]
    confidences = [d["confidence"] for d in before["checkpoints"]["decisions"][:3]]
    pairs = list(zip(confidences, (0.0, 1.0, 0.75), strict=True))
    assert overall["count"] == 3
    assert overall["brier"] == pytest.approx(sum((c - o) ** 2 for c, o in pairs) / 3, abs=1e-6)


async def test_a_client_whose_roots_list_fails_reads_no_file(tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    project, _ = dirs
    server = params(tmp_path / "r.db", project, THINKGATE_EVIDENCE_ROOTS=str(project))
    with anyio.fail_after(TIMEOUT):
        async with Client(server, mode="legacy", list_roots_callback=failing_roots, read_timeout_seconds=30) as c:
            sid = (await ok(c, "start_deliberation", {"goal": "Should we cache?"}))["deliberationId"]
            out = await ok(c, "verify_thoughts", {"claims": [claim(FILE_OK)], "sessionId": sid})
    (ev,) = out["claims"][0]["evidence"]
    assert (ev["check"], ev["counts"]) == ("not_checked", False)  # fail closed: no fallback to env or cwd


@pytest.mark.parametrize("mode", ["legacy", None], ids=["legacy", "auto"])
async def test_without_client_roots_the_configured_roots_then_the_cwd_are_used(
    tmp_path: Path, dirs: tuple[Path, Path], mode: str | None
) -> None:
    project, elsewhere = dirs
    kwargs: dict[str, Any] = {"mode": mode} if mode is not None else {}
    with anyio.fail_after(TIMEOUT):
        configured = params(tmp_path / "e.db", elsewhere, THINKGATE_EVIDENCE_ROOTS=str(project))
        async with Client(configured, read_timeout_seconds=30, **kwargs) as c:
            sid = (await ok(c, "start_deliberation", {"goal": "Should we cache?"}))["deliberationId"]
            from_env = await ok(c, "verify_thoughts", {"claims": [claim(FILE_OK)], "sessionId": sid})
            config = json.loads((await c.read_resource("thinkgate://config/policy")).contents[0].text)  # type: ignore[union-attr]
        async with Client(params(tmp_path / "c.db", elsewhere), read_timeout_seconds=30, **kwargs) as c:
            sid = (await ok(c, "start_deliberation", {"goal": "Should we cache?"}))["deliberationId"]
            from_cwd = await ok(
                c,
                "verify_thoughts",
                {
                    "claims": [claim(FILE_OK, {**FILE_OK, "quote": "return 1"}, {"kind": "command", "argv": ["true"]})],
                    "sessionId": sid,
                },
            )
    assert from_env["claims"][0]["evidence"][0]["check"] == "passed"
    assert from_env["claims"][0]["evidence"][0]["group"] == f"root:{project.resolve()}"
    assert config["evidence"]["configuredRoots"] == [str(project)]
    assert config["evidence"]["commands"] == []
    # the server's cwd holds the other cache.py; no command is allow-listed by default
    assert [e["check"] for e in from_cwd["claims"][0]["evidence"]] == ["failed", "passed", "not_checked"]
