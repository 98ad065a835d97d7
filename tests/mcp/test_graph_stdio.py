"""The deliberation tools through a real ``thinkgate serve --toolsets all`` process over stdio.

The official SDK client (both protocol eras) drives a short flow on a real SQLite file; the
process is stopped and started again on the same file, and the graph must be the same and
keep growing; ``thinkgate audit verify`` passes afterwards and ``thinkgate sessions show
--format json`` prints the graph the resource serves. A TypeScript SDK client runs a short
flow too. Every wait is bounded.
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

from mcp import Client, MCPError, StdioServerParameters
from thinkgate.mcp.toolsets import TOOLSETS

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from nodeenv import MISSING_HINT, node22, ts_sdk_dir  # noqa: E402

pytestmark = pytest.mark.timeout(180)

GOAL = "Plan the rollout of a product cache: compare the options and their trade-offs"
GRAPH_TOOLS = {
    "start_deliberation",
    "add_thought",
    "expand_thoughts",
    "score_thoughts",
    "prune_thoughts",
    "link_thoughts",
    "merge_thought_branches",
    "distill_thought_cluster",
    "refine_thoughts",
}
SOT_TOOLS = {"start_skeleton_of_thought", "run_skeleton_elaboration"}
CORE_TOOLS = {"sequentialthinking", "get_thinking_history", "list_sessions", "clear_thinking_history"}
GOVERNANCE_TOOLS = set(TOOLSETS["governance"])
TIMEOUT = 60.0
TS_SCRIPT = _HERE / "ts_graph_check.mjs"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env.update(extra)
    return env


def params(db: Path, *extra: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "thinkgate", "serve", "--store", f"sqlite:///{db}", *extra],
        env=clean_env(**env),
    )


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
    assert result.structured_content is None
    text: str = result.content[0].text  # type: ignore[union-attr]
    code: str = result.meta["thinkgate/error"]["code"]  # type: ignore[index]
    assert text.startswith(f"{code}: ")
    return code


async def read_graph(client: Client, sid: str) -> dict[str, Any]:
    res = await client.read_resource(f"thinkgate://session/{sid}/graph")
    doc: dict[str, Any] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
    return doc


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", None], ids=["legacy", "auto"])
async def test_a_deliberation_survives_a_restart_and_the_cli_sees_the_same_graph(
    mode: str | None, tmp_path: Path
) -> None:
    db = tmp_path / "graph.db"
    kwargs: dict[str, Any] = {"mode": mode} if mode is not None else {}
    with anyio.fail_after(TIMEOUT):
        async with Client(params(db, "--toolsets", "all"), read_timeout_seconds=30, **kwargs) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == CORE_TOOLS | GRAPH_TOOLS | SOT_TOOLS | GOVERNANCE_TOOLS
            opened = await ok(
                client, "start_deliberation", {"goal": GOAL, "mode": "explore", "limits": {"max_depth": 99}}
            )
            sid = opened["deliberationId"]
            assert opened["limitsApplied"]["max_depth"] == 64 and "max_depth" in opened["clampedLimits"]
            s = {"sessionId": sid}
            pack = await ok(client, "expand_thoughts", {"fromNodeIds": ["t1"], "count": 2, **s})
            assert pack["createdNodes"] == [] and len(pack["prompts"]) == 2
            for p, text in zip(pack["prompts"], ("Redis cache-aside, 60 s TTL", "CDN edge cache"), strict=True):
                await ok(client, "add_thought", {**p["addThought"], "content": text})
            await ok(client, "link_thoughts", {"sourceId": "t3", "targetId": "t2", "kind": "depends_on", **s})
            assert await refused(
                client, "link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "refines", **s}
            ) == ("CYCLE_REFUSED")
            assert (
                await refused(client, "expand_thoughts", {"fromNodeIds": ["t2"], "generation": "model_backed", **s})
                == "MODEL_UNAVAILABLE"
            )
            scored = await ok(client, "score_thoughts", {"scores": {"t2": {"correctness": 0.9, "risk": 0.1}}, **s})
            assert scored["rankedNodeIds"][0] == "t2"
            pruned = await ok(client, "prune_thoughts", {"beamWidth": 1, **s})
            assert pruned["prunedNodeIds"] == ["t3"]
            assert await refused(client, "add_thought", {"content": "x", "parentIds": ["t3"], **s}) == "NODE_PRUNED"
            outline = await ok(client, "start_skeleton_of_thought", {"sourceNodeId": "t2", "numSkeletons": 2, **s})
            assert len(outline["skeletonNodeIds"]) == 2
            again = await ok(client, "add_thought", {"content": "retried", "requestId": "r-1", **s})
            assert await ok(client, "add_thought", {"content": "retried", "requestId": "r-1", **s}) == again
            assert await refused(client, "add_thought", {"content": "other", "requestId": "r-1", **s}) == (
                "IDEMPOTENCY_CONFLICT"
            )
            await ok(
                client,
                "sequentialthinking",
                {
                    "thought": "Chain step in the deliberation",
                    "thoughtNumber": 1,
                    "totalThoughts": 1,
                    "nextThoughtNeeded": False,
                    **s,
                },
            )
            before = await read_graph(client, sid)
            with pytest.raises(MCPError):
                await client.read_resource("thinkgate://session/nope/graph")
    kinds = [n["kind"] for n in before["nodes"]]
    assert kinds == ["root", "thought", "thought", "skeleton", "skeleton", "thought", "chain"]
    assert before["nodes"][-1]["parents"] == ["t1"]  # the chain hangs under the root
    assert [n["status"] for n in before["nodes"]].count("pruned") == 1

    # a new process on the same file: the same graph, and it keeps growing
    with anyio.fail_after(TIMEOUT):
        async with Client(params(db, "--toolsets", "all"), read_timeout_seconds=30, **kwargs) as client:
            assert await read_graph(client, sid) == before
            frontier = await client.read_resource(f"thinkgate://session/{sid}/frontier")
            fdoc = json.loads(frontier.contents[0].text)  # type: ignore[union-attr]
            assert [n["id"] for n in fdoc["frontier"]] == before["frontier"]
            grown = await ok(
                client, "add_thought", {"content": "After the restart", "parentIds": ["t6"], "sessionId": sid}
            )
            assert grown["node"]["id"] == "t8"
            # the retry of a call from the first process is still recognised
            assert await refused(client, "add_thought", {"content": "other", "requestId": "r-1", "sessionId": sid}) == (
                "IDEMPOTENCY_CONFLICT"
            )
            merged = await ok(
                client, "merge_thought_branches", {"sourceNodeIds": ["t2", "t8"], "content": "Both", "sessionId": sid}
            )
            after = await read_graph(client, sid)
    assert after["frontier"] == [merged["mergedNode"]["id"]]
    merged_ids = {"t2", "t8"}  # the merge consumed them: status merged, all else as before the restart
    assert after["nodes"][: len(before["nodes"])] == [
        {
            **n,
            "frontier": n["id"] in after["frontier"],
            "status": "merged" if n["id"] in merged_ids else n["status"],
        }
        for n in before["nodes"]
    ]

    audit = run_cli("audit", "verify", "--store", f"sqlite:///{db}")
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.startswith("ok: 1 session(s)")
    shown = run_cli("sessions", "show", sid, "--format", "json", "--store", f"sqlite:///{db}")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == after


@pytest.mark.anyio
async def test_the_toolsets_env_variable_chooses_the_listed_tools(tmp_path: Path) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(params(tmp_path / "t.db", THINKGATE_TOOLSETS="sot"), mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
        async with Client(params(tmp_path / "t.db"), mode="legacy") as client:
            default = {t.name for t in (await client.list_tools()).tools}
    assert names == CORE_TOOLS | SOT_TOOLS
    assert default == CORE_TOOLS | GRAPH_TOOLS | GOVERNANCE_TOOLS


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["--toolsets", "graph,bogus"], {}), ([], {"THINKGATE_TOOLSETS": "bogus"})],
    ids=["flag", "env"],
)
def test_an_unknown_toolset_stops_serve_with_a_clear_error(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--store", f"sqlite:///{tmp_path}/x.db", *argv],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode != 0
    assert proc.stdout == ""  # nothing on the JSON-RPC channel
    assert "CONFIG_ERROR" in proc.stderr and "bogus" in proc.stderr and "sot" in proc.stderr


@pytest.mark.node
def test_a_typescript_sdk_client_deliberates_over_stdio(tmp_path: Path) -> None:
    node, sdk = node22(), ts_sdk_dir()
    if node is None or sdk is None:
        pytest.skip(MISSING_HINT)
    store = f"sqlite:///{tmp_path}/ts.db"
    proc = subprocess.run(
        [
            node,
            str(TS_SCRIPT),
            str(sdk.parent.parent),
            sys.executable,
            "-m",
            "thinkgate",
            "serve",
            "--toolsets",
            "all",
            "--store",
            store,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["tools"]) == CORE_TOOLS | GRAPH_TOOLS | SOT_TOOLS | GOVERNANCE_TOOLS
    opened, added, linked, cycle, scored, merged, gate = out["results"]
    assert not opened["isError"] and opened["structured"]["rootNode"]["id"] == "t1"
    assert added["structured"]["node"]["id"] == "t2"
    assert linked["structured"]["created"] is True
    assert cycle["isError"] and cycle["text"].startswith("CYCLE_REFUSED: ")
    assert scored["structured"]["scores"][0]["dims"]["correctness"]["source"] == "client"
    assert merged["structured"]["frontier"] == [merged["structured"]["mergedNode"]["id"]]
    assert gate["structured"]["suitability"]["blocked"] is True
    assert out["graphNodes"] == 4 and out["frontier"] == [merged["structured"]["mergedNode"]["id"]]
