"""The governance tools through a real ``thinkgate serve --http`` sidecar, in both protocol eras.

HTTP requests carry no connection to ask for MCP roots, so the evidence roots are the configured
``THINKGATE_EVIDENCE_ROOTS`` (even when the client offers roots of its own). Claims are verified
against files under that root, a consensus is blocked and then answered, and every governance
resource and prompt answers over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sidecar import Sidecar

from mcp import Client, MCPError, types

pytestmark = pytest.mark.timeout(120)

ERAS = [pytest.param("legacy", id="2025-11-25"), pytest.param("auto", id="2026-07-28")]
CACHE_PY = "def ttl_seconds():\n    return 60 * 5\n"
SECRET = "tg-secret-4f1d9c0a7b"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("http-gov")
    paths = {"root": base / "root", "other": base / "other", "outside": base / "outside"}
    for path in paths.values():
        path.mkdir()
    (paths["root"] / "cache.py").write_text(CACHE_PY)
    (paths["other"] / "cache.py").write_text(CACHE_PY)
    (paths["outside"] / "secret.txt").write_text("the secret is 42\n")
    (paths["root"] / "escape.txt").symlink_to(paths["outside"] / "secret.txt")
    return paths


@pytest.fixture(scope="module")
def gov_sidecar(layout: dict[str, Path]) -> Iterator[Sidecar]:
    env = {
        "THINKGATE_EVIDENCE_ROOTS": str(layout["root"]),
        "THINKGATE_EVIDENCE_COMMANDS": "true,env",
        "GOV_TEST_TOKEN": SECRET,
    }
    with Sidecar(layout["root"].parent / "gov.db", env=env) as server:
        yield server


def run(fn: Any, *args: Any) -> Any:
    async def go() -> Any:
        with anyio.fail_after(60):
            return await fn(*args)

    return anyio.run(go)


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    assert json.loads(result.content[0].text) == result.structured_content
    return dict(result.structured_content)


def roots_of(path: Path) -> Any:
    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=path.as_uri())])  # type: ignore[arg-type]

    return list_roots


async def read(c: Client, uri: str) -> Any:
    res = await c.read_resource(uri)
    return json.loads(res.contents[0].text)  # type: ignore[union-attr]


def file_ev(path: str, quote: str = "return 60 * 5", stance: str = "supports") -> dict[str, Any]:
    return {"kind": "file", "stance": stance, "path": path, "lines": "2", "quote": quote}


@pytest.mark.parametrize("mode", ERAS)
def test_claims_are_verified_against_the_configured_roots_over_http(
    gov_sidecar: Sidecar, layout: dict[str, Path], mode: str
) -> None:
    async def go() -> None:
        # The client offers a root of its own; a stateless HTTP server cannot ask for it.
        async with Client(gov_sidecar.url, mode=mode, list_roots_callback=roots_of(layout["other"])) as c:
            sid = data(await c.call_tool("start_deliberation", {"goal": "Should the API add a Redis cache?"}))[
                "deliberationId"
            ]
            out = data(
                await c.call_tool(
                    "verify_thoughts",
                    {
                        "sessionId": sid,
                        "claims": [
                            {
                                "text": "TTL is five minutes",
                                "criticality": "critical",
                                "evidence": [file_ev("cache.py")],
                            },
                            {
                                "text": "Other evidence",
                                "evidence": [
                                    file_ev(str(layout["other"] / "cache.py")),
                                    file_ev("escape.txt", "the secret is 42"),
                                    file_ev("../outside/secret.txt", "the secret is 42"),
                                    file_ev("cache.py", "return 60 * 10"),
                                    {"kind": "command", "argv": ["true"]},
                                    {"kind": "command", "argv": ["false"]},
                                    {"kind": "calc", "expression": "60 * 5", "expected": "300"},
                                ],
                            },
                        ],
                    },
                )
            )
            first, second = out["claims"]
            assert first["status"] == "verified"
            assert first["evidence"][0]["group"] == f"root:{layout['root'].resolve()}"
            assert [e["check"] for e in second["evidence"]] == [
                "not_checked",
                "not_checked",
                "not_checked",
                "failed",
                "passed",
                "not_checked",
                "passed",
            ]
            assert out["route"]["decision"] == "proceed"
            matrix = await read(c, f"thinkgate://session/{sid}/verification-matrix")
            assert matrix["claims"] == out["claims"]

    run(go)


@pytest.mark.parametrize("mode", ERAS)
def test_consensus_and_the_governance_resources_and_prompts_over_http(gov_sidecar: Sidecar, mode: str) -> None:
    async def go() -> None:
        async with Client(gov_sidecar.url, mode=mode) as c:
            sid = data(await c.call_tool("start_deliberation", {"goal": "Should the API add a Redis cache?"}))[
                "deliberationId"
            ]
            s = {"sessionId": sid}
            data(
                await c.call_tool(
                    "verify_thoughts",
                    {
                        "claims": [
                            {
                                "text": "Redis halves p99",
                                "criticality": "critical",
                                "evidence": [
                                    {"kind": "url", "url": "https://redis.io/docs/x", "tier": 1},
                                    {"kind": "url", "url": "https://aws.amazon.com/caching/"},
                                ],
                            }
                        ],
                        **s,
                    },
                )
            )
            candidates = [{"answer": "Add Redis", "votes": 2}, {"answer": "Add a CDN"}]
            blocked = await c.call_tool("consensus_answer", {"candidates": candidates, **s})
            assert blocked.is_error is False
            out = data(blocked)
            assert (out["status"], out["answer"]) == ("blocked", None)
            assert [(g["kind"], g["id"], g["status"]) for g in out["blockingGaps"]] == [("claim", "c1", "data_deficit")]
            data(
                await c.call_tool(
                    "add_evidence",
                    {"claimId": "c1", "evidence": [{"kind": "calc", "expression": "2", "expected": 2}], **s},
                )
            )
            aid = data(await c.call_tool("record_assumption", {"text": "Flat traffic", "criticality": "low", **s}))[
                "assumption"
            ]["assumptionId"]
            answered = data(await c.call_tool("consensus_answer", {"candidates": candidates, **s}))
            assert (answered["status"], answered["answer"]) == ("answered", "Add Redis")
            assert answered["routeDecision"]["confidence"] == pytest.approx(0.95)  # a low open assumption
            assert answered["routeDecision"]["decision"] == "proceed"
            pipeline = data(await c.call_tool("run_governance_pipeline", {"profile": "quick", **s}))
            assert pipeline["requiredStages"] == ["triangulation", "calibration_routing"]
            recorded = data(await c.call_tool("record_outcome", {"outcome": "success", **s}))
            assert recorded["recorded"]["decisionId"] == pipeline["decisionId"]

            route = await read(c, f"thinkgate://session/{sid}/route-decision")
            assert (route["decision"], route["confidence"]) == ("proceed", 0.95)
            assumptions = await read(c, f"thinkgate://session/{sid}/assumptions")
            assert [a["assumptionId"] for a in assumptions["assumptions"]] == [aid]
            checkpoints = await read(c, f"thinkgate://session/{sid}/checkpoints")
            assert [d["decision"] for d in checkpoints["decisions"]] == ["blocked", "proceed", "proceed"]
            assert [o["decisionId"] for o in checkpoints["outcomes"]] == [pipeline["decisionId"]]
            matrix = await read(c, f"thinkgate://session/{sid}/verification-matrix")
            assert [e["tier"] for e in matrix["claims"][0]["evidence"]] == [2, 2, 1]
            config = await read(c, "thinkgate://config/policy")
            assert config["evidence"]["commands"] == ["env", "true"]
            with pytest.raises(MCPError):
                await c.read_resource("thinkgate://session/missing/route-decision")
            for name, arg in (
                ("verification-pack", "claim"),
                ("triangulation-pack", "claim"),
                ("decision-routing-pack", "question"),
            ):
                prompt = await c.get_prompt(name, {arg: "Redis halves p99"})
                assert "Redis halves p99" in prompt.messages[0].content.text  # type: ignore[union-attr]

    run(go)


def test_a_command_runs_in_a_scrubbed_environment(gov_sidecar: Sidecar, layout: dict[str, Path]) -> None:
    """The server's own variables (a token here) never reach an evidence command."""

    async def go() -> dict[str, Any]:
        async with Client(gov_sidecar.url, mode="legacy") as c:
            sid = data(await c.call_tool("start_deliberation", {"goal": "Is the environment scrubbed?"}))[
                "deliberationId"
            ]
            return data(
                await c.call_tool(
                    "verify_thoughts",
                    {"sessionId": sid, "claims": [{"text": "t", "evidence": [{"kind": "command", "argv": ["env"]}]}]},
                )
            )

    out = run(go)
    ev = out["claims"][0]["evidence"][0]
    root = str(layout["root"].resolve())
    assert ev["check"] == "passed" and ev["details"]["cwd"] == root
    names = {line.split("=", 1)[0] for line in ev["details"]["output"].splitlines() if "=" in line}
    assert "GOV_TEST_TOKEN" not in names and SECRET not in json.dumps(out)
    home = [line for line in ev["details"]["output"].splitlines() if line.startswith("HOME=")]
    assert len(home) == 1 and "thinkgate-home-" in home[0] and str(root) not in home[0]  # not the checked tree
    assert names <= {"PATH", "LANG", "HOME", "PWD", "LC_ALL", "LC_CTYPE"}, names
