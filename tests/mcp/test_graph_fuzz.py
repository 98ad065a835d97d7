"""Arguments of any shape to the deliberation tools: a result or a coded error, never INTERNAL, and
the session's log stays verifiable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp import Client
from thinkgate.engine.engine import Engine
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import TOOLSETS
from thinkgate.store.sqlite import SqliteEventStore

GRAPH_TOOLS = sorted(TOOLSETS["graph"] + TOOLSETS["sot"])
ARGUMENT_NAMES = [
    "goal", "constraints", "mode", "profile", "limits", "sessionId", "requestId", "content", "parentIds", "edges",
    "tags", "branchId", "fromNodeIds", "strategy", "count", "generation", "nodeIds", "scores", "weights",
    "beamWidth", "threshold", "sourceId", "targetId", "kind", "note", "sourceNodeIds", "maxBullets",
    "sourceNodeId", "critique", "verificationFailure", "refinedContent", "numSkeletons", "skeletonStyle",
    "suitabilityPolicy", "force", "branchLabels", "phaseId", "skeletonNodeIds", "elaborationDepth", "mergeAfter",
    "deliberationId", "unknownArgument",
]  # fmt: skip
NODE_IDS = st.sampled_from(["t1", "t2", "t3", "t4", "t9", "t0", "x", "", "t99999999999"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    NODE_IDS,
    st.sampled_from(["tot", "sketch", "supports", "depends_on", "heuristic", "prompt_pack", "model_backed", "d1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
ARGUMENTS = st.dictionaries(st.sampled_from(ARGUMENT_NAMES), VALUES, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(st.tuples(st.sampled_from(GRAPH_TOOLS), ARGUMENTS), min_size=1, max_size=8))
def test_any_arguments_get_a_result_or_a_coded_error(tmp_path_factory: Any, calls: list[Any]) -> None:
    db: Path = tmp_path_factory.mktemp("fuzz") / "g.db"

    async def go() -> None:
        engine = Engine(SqliteEventStore(db))
        await engine.start()
        try:
            server = build_server(engine, toolsets=frozenset(TOOLSETS))
            async with Client(server, mode="legacy") as client:
                opened = await client.call_tool(
                    "start_deliberation", {"goal": "Compare the options", "sessionId": "d1", "mode": "got"}
                )
                assert not opened.is_error
                await client.call_tool("add_thought", {"content": "an option", "sessionId": "d1"})
                for name, given_arguments in calls:
                    arguments = {"sessionId": "d1", **given_arguments}
                    result = await client.call_tool(name, arguments)
                    if result.is_error:
                        code = (result.meta or {}).get("thinkgate/error", {}).get("code")
                        assert code is not None and code != "INTERNAL", (name, arguments, result.content)
                # Still serving, and every log written is intact.
                assert not (await client.call_tool("add_thought", {"content": "after", "sessionId": "d1"})).is_error
            for info in await engine.sessions(limit=100):
                assert await engine.verify(info.session_id) is None
        finally:
            await engine.stop()

    anyio.run(go)
