"""The deliberation tools as agents and third-party clients use them.

Through the official SDK client, in-process, in both protocol eras, on a real SQLite file:
realistic Tree-of-Thought and Graph-of-Thought flows end to end, every error path with its
stable code and nothing written, idempotent retries, the tool surface (descriptions,
annotations, typed schemas, toolsets), the Skeleton-of-Thought gate, clamped limits and
the chain of ``sequentialthinking`` living in the same graph.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from mcp import Client
from thinkgate.domain.thinking import Limits
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.errors import ConfigError
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS, TOOLSETS, parse_toolsets
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

ALL = frozenset({"core", "graph", "sot"})
GOAL = "Choose a caching strategy for the product catalogue API: compare the options and their trade-offs"
DIMS = ("correctness", "evidence", "risk", "cost", "novelty")
WEIGHTS = {"correctness": 0.3, "evidence": 0.25, "risk": 0.2, "cost": 0.1, "novelty": 0.15}
PROFILE_LIMITS = {
    "quick": {"max_depth": 3, "max_nodes": 64, "max_edges": 256, "max_branches_per_expand": 2},
    "balanced": {"max_depth": 6, "max_nodes": 512, "max_edges": 2048, "max_branches_per_expand": 4},
    "deep": {"max_depth": 12, "max_nodes": 4096, "max_edges": 16384, "max_branches_per_expand": 8},
    "paranoid": {"max_depth": 8, "max_nodes": 2048, "max_edges": 8192, "max_branches_per_expand": 6},
}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(
        SqliteEventStore(tmp_path / "graph.db"),
        EngineConfig(limits=Limits(max_thought_bytes=1000, max_thoughts_per_session=5000)),
    )
    await eng.start()
    yield eng
    await eng.stop()


@pytest.fixture(params=["legacy", "auto"])
async def client(request: pytest.FixtureRequest, engine: Engine) -> AsyncIterator[Client]:
    async with Client(build_server(engine, toolsets=ALL), mode=request.param) as c:
        yield c


# -- helpers ------------------------------------------------------------------------------------


def error_code(result: Any) -> str:
    """The stable code of an error result: it leads the text and is repeated in ``_meta``."""
    assert result.is_error, result
    assert result.structured_content is None
    code: str = result.meta["thinkgate/error"]["code"]
    assert result.content[0].text.startswith(f"{code}: ")
    return code


async def call(c: Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await c.call_tool(name, arguments)
    if not result.is_error:
        assert json.loads(result.content[0].text) == result.structured_content
    return result


async def ok(c: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await call(c, name, arguments)
    assert not result.is_error, result.content[0].text
    out: dict[str, Any] = result.structured_content
    return out


async def read_json(c: Client, uri: str) -> Any:
    res = await c.read_resource(uri)
    assert res.contents[0].mime_type == "application/json"
    return json.loads(res.contents[0].text)  # type: ignore[union-attr]


async def graph(c: Client, sid: str) -> dict[str, Any]:
    doc: dict[str, Any] = await read_json(c, f"thinkgate://session/{sid}/graph")
    return doc


async def frontier(c: Client, sid: str) -> dict[str, Any]:
    doc: dict[str, Any] = await read_json(c, f"thinkgate://session/{sid}/frontier")
    return doc


async def version(engine: Engine, sid: str) -> int:
    info = await engine.store.session(sid)
    return info.version if info is not None else 0


def nodes_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in view["nodes"]}


def typed_edges(view: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], e["kind"]) for e in view["edges"] if e["kind"] != "parent"}


Snapshot = tuple[int, dict[str, Any]]


async def snapshot(c: Client, engine: Engine, sid: str) -> Snapshot:
    return await version(engine, sid), await graph(c, sid)


class Delib:
    """A deliberation as a client holds it: calls name its id (the 2026 era has no connection default)."""

    def __init__(self, c: Client, out: dict[str, Any]) -> None:
        self.c = c
        self.out = out
        self.sid: str = out["deliberationId"]

    def _args(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return arguments if "sessionId" in arguments else {**arguments, "sessionId": self.sid}

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return await call(self.c, name, self._args(arguments))

    async def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return await ok(self.c, name, self._args(arguments))


async def start(c: Client, **kw: Any) -> Delib:
    return Delib(c, await ok(c, "start_deliberation", {"goal": kw.pop("goal", GOAL), **kw}))


# -- the tool surface ---------------------------------------------------------------------------


async def test_default_toolsets_list_core_graph_and_governance_but_not_sot(engine: Engine) -> None:
    async with Client(build_server(engine), mode="legacy") as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == set(TOOLSETS["core"]) | set(TOOLSETS["graph"]) | set(TOOLSETS["governance"])
    assert not names & set(TOOLSETS["sot"])
    assert frozenset({"core", "graph", "governance"}) == DEFAULT_TOOLSETS


async def test_the_sot_toolset_adds_the_two_skeleton_tools(client: Client) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == set(TOOLSETS["core"]) | set(TOOLSETS["graph"]) | set(TOOLSETS["sot"])
    assert set(TOOLSETS["sot"]) == {"start_skeleton_of_thought", "run_skeleton_elaboration"}


async def test_a_tool_outside_the_enabled_toolsets_is_an_unknown_tool(engine: Engine) -> None:
    async with Client(build_server(engine), mode="legacy") as c:
        result = await c.call_tool("start_skeleton_of_thought", {})
    assert error_code(result) == "UNKNOWN_TOOL"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, {"core", "graph", "governance"}),
        ("", {"core", "graph", "governance"}),
        ("sot", {"core", "sot"}),
        ("graph, SOT", {"core", "graph", "sot"}),
        ("all", {"core", "graph", "sot", "governance"}),
        ("core", {"core"}),
    ],
)
def test_toolset_specs_are_parsed_with_core_always_on(spec: str | None, expected: set[str]) -> None:
    assert parse_toolsets(spec) == frozenset(expected)


def test_an_unknown_toolset_is_a_config_error_naming_it_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        parse_toolsets("graph,gpt")
    assert info.value.code == "CONFIG_ERROR"
    assert "gpt" in info.value.message and "sot" in info.value.message and "all" in info.value.message


async def test_deliberation_tools_have_short_descriptions_titles_and_honest_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in TOOLSETS["graph"] + TOOLSETS["sot"]:
        tool = tools[name]
        assert tool.description and len(tool.description) < 1024, name
        assert tool.title, name
        ann = tool.annotations
        assert ann is not None, name
        # Every one of them may write an event to the session log, and none reaches outside.
        assert ann.read_only_hint is False, name
        assert ann.destructive_hint is False, name
        assert ann.open_world_hint is False, name
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    for name in ("tot-planner-guidance", "diverse-lens-pack"):
        assert prompts[name].description and len(prompts[name].description or "") < 1024


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/$defs/"), ref
    resolved: dict[str, Any] = defs[ref.removeprefix("#/$defs/")]
    return resolved


def _untyped(schema: dict[str, Any], defs: dict[str, Any], where: str, *, inline: bool) -> list[str]:
    """Where a schema (or an anyOf/oneOf member, or an item/property schema) names no type.

    ``inline``: a bare ``$ref`` counts as untyped (the strict reading clients like Gemini need).
    """
    bad: list[str] = []
    if "$ref" in schema and inline:
        return [f"{where} (a bare $ref)"]
    schema = _resolve(schema, defs)
    alts = schema.get("anyOf") or schema.get("oneOf")
    if alts is not None:
        for i, alt in enumerate(alts):
            bad += _untyped(alt, defs, f"{where}.anyOf[{i}]", inline=inline)
        return bad
    if "type" not in schema:
        return [where]
    for key, sub in schema.get("properties", {}).items():
        bad += _untyped(sub, defs, f"{where}.{key}", inline=inline)
    if isinstance(schema.get("items"), dict):
        bad += _untyped(schema["items"], defs, f"{where}[]", inline=inline)
    if isinstance(schema.get("additionalProperties"), dict):
        bad += _untyped(schema["additionalProperties"], defs, f"{where}{{}}", inline=inline)
    return bad


async def test_every_argument_of_the_deliberation_tools_has_an_explicit_type(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    bad: list[str] = []
    for name in TOOLSETS["graph"] + TOOLSETS["sot"]:
        schema = tools[name].input_schema
        assert schema["type"] == "object"
        bad += _untyped(schema, schema.get("$defs", {}), name, inline=False)
    assert bad == []


async def test_enumerated_arguments_are_enums_in_the_schema(client: Client) -> None:
    tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    assert set(tools["start_deliberation"]["properties"]["mode"]["enum"]) == {
        "cot",
        "tot",
        "got",
        "sot",
        "governed",
        "quick",
        "explore",
        "map",
        "sketch",
        "test",
    }
    assert set(tools["start_deliberation"]["properties"]["profile"]["enum"]) == set(PROFILE_LIMITS)
    expand = tools["expand_thoughts"]["properties"]
    assert set(expand["strategy"]["enum"]) == {"diverse", "least_to_most", "contrarian", "direct", "skeleton_first"}
    assert set(expand["generation"]["enum"]) == {"prompt_pack", "heuristic", "model_backed"}
    assert set(tools["link_thoughts"]["properties"]["kind"]["enum"]) == {
        "supports",
        "conflicts",
        "depends_on",
        "refines",
    }
    assert tools["merge_thought_branches"]["properties"]["sourceNodeIds"]["minItems"] == 2
    assert set(tools["start_skeleton_of_thought"]["properties"]["skeletonStyle"]["enum"]) == {
        "multi_lens",
        "decomposition",
        "hypothesis_set",
        "stakeholder_views",
        "implementation_plan",
    }


# -- start_deliberation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "wire"),
    [
        ("cot", "cot"),
        ("tot", "tot"),
        ("got", "got"),
        ("sot", "sot"),
        ("governed", "governed"),
        ("quick", "cot"),
        ("explore", "tot"),
        ("map", "got"),
        ("sketch", "sot"),
        ("test", "governed"),
    ],
)
async def test_modes_and_their_aliases_open_a_deliberation(client: Client, mode: str, wire: str) -> None:
    d = await start(client, mode=mode)
    out = d.out
    assert out["mode"] == wire
    assert out["nextSteps"]
    view = await graph(client, out["deliberationId"])
    assert view["deliberation"]["mode"] == wire


@pytest.mark.parametrize("profile", sorted(PROFILE_LIMITS))
async def test_each_profile_applies_its_limits(client: Client, profile: str) -> None:
    d = await start(client, profile=profile)
    out = d.out
    assert out["profile"] == profile
    assert out["limitsApplied"] == PROFILE_LIMITS[profile]
    assert "clampedLimits" not in out
    modes = await read_json(client, "thinkgate://thinking-modes")
    assert modes["profiles"][profile]["limits"] == PROFILE_LIMITS[profile]
    assert modes["profiles"][profile]["beamWidth"] == out["beamWidth"]


async def test_start_returns_a_deliberation_id_every_tool_accepts_and_the_root(client: Client, engine: Engine) -> None:
    d = await start(client, constraints=["p99 under 50 ms", "no new vendor"])
    out = d.out
    did = out["deliberationId"]
    assert out["sessionId"] == did
    assert out["rootNode"]["id"] == "t1" and out["rootNode"]["kind"] == "root" and out["rootNode"]["depth"] == 0
    assert out["frontier"] == ["t1"] and out["frontierSize"] == 1
    assert out["status"] == "open"
    view = await graph(client, did)
    assert view["deliberation"]["goal"] == GOAL
    assert view["deliberation"]["constraints"] == ["p99 under 50 ms", "no new vendor"]
    assert view["deliberation"]["rootId"] == "t1"
    assert [(n["id"], n["content"]) for n in view["nodes"]] == [("t1", GOAL)]
    # the id is a sessionId for every tool, the core ones too
    a = await ok(client, "add_thought", {"content": "Redis cache-aside", "sessionId": did})
    b = await ok(client, "sequentialthinking", thought(1, "Start from the read pattern", sessionId=did))
    assert a["sessionId"] == b["sessionId"] == did
    history = await ok(client, "get_thinking_history", {"sessionId": did})
    assert history["sessionId"] == did and [t["thought"] for t in history["thoughts"]] == [
        "Start from the read pattern"
    ]
    listed = await ok(client, "list_sessions", {})
    assert did in {s["sessionId"] for s in listed["sessions"]}
    assert await version(engine, did) == 4  # session_created, deliberation_started, a node, a chain thought


async def test_start_deliberation_makes_its_session_the_connections_default(engine: Engine) -> None:
    async with Client(build_server(engine, toolsets=ALL), mode="legacy") as c:  # an era with connections
        did = (await ok(c, "start_deliberation", {"goal": GOAL}))["deliberationId"]
        added = await ok(c, "add_thought", {"content": "Redis cache-aside"})
        chained = await ok(c, "sequentialthinking", thought(1, "a chain step"))
        assert added["sessionId"] == chained["sessionId"] == did
        second = (await ok(c, "start_deliberation", {"goal": "Another goal"}))["deliberationId"]
        assert second != did
        assert (await ok(c, "add_thought", {"content": "for the second"}))["sessionId"] == second


async def test_unsafe_limits_are_clamped_and_the_applied_values_returned(client: Client) -> None:
    limits = {"max_depth": 1000, "max_nodes": 1, "max_edges": -5, "max_branches_per_expand": 99}
    d = await start(client, limits=limits)
    out = d.out
    assert out["limitsApplied"] == {"max_depth": 64, "max_nodes": 2, "max_edges": 0, "max_branches_per_expand": 16}
    assert out["clampedLimits"] == {
        "max_depth": {"requested": 1000, "applied": 64},
        "max_nodes": {"requested": 1, "applied": 2},
        "max_edges": {"requested": -5, "applied": 0},
        "max_branches_per_expand": {"requested": 99, "applied": 16},
    }
    assert len(out["warnings"]) == 4
    view = await graph(client, out["deliberationId"])
    assert view["deliberation"]["limits"] == out["limitsApplied"]


async def test_a_limit_above_the_servers_node_cap_is_clamped_to_it(tmp_path: Path) -> None:
    eng = Engine(
        SqliteEventStore(tmp_path / "cap.db"),
        EngineConfig(limits=Limits(max_thought_bytes=1000, max_thoughts_per_session=40)),
    )
    await eng.start()
    try:
        async with Client(build_server(eng), mode="legacy") as c:
            out = (await start(c, limits={"max_nodes": 100_000})).out
    finally:
        await eng.stop()
    assert out["limitsApplied"]["max_nodes"] == 40
    assert out["clampedLimits"]["max_nodes"] == {"requested": 100_000, "applied": 40}


async def test_clamped_limits_are_the_ones_enforced(client: Client, engine: Engine) -> None:
    d = await start(client, limits={"max_branches_per_expand": 99, "max_edges": -1})
    out = d.out
    sid = out["deliberationId"]
    expanded = await d.ok("expand_thoughts", {"fromNodeIds": ["t1"], "generation": "heuristic", "count": 64})
    assert len(expanded["createdNodes"]) == 16
    assert any("16" in w for w in expanded["warnings"])
    before = await snapshot(client, engine, sid)
    refused = await d.call("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "supports"})
    assert error_code(refused) == "LIMIT_EXCEEDED"
    assert await snapshot(client, engine, sid) == before


# -- a Tree-of-Thought flow ---------------------------------------------------------------------


async def test_a_tree_of_thought_flow_end_to_end(client: Client, engine: Engine) -> None:
    d = await start(client, mode="explore", constraints=["p99 under 50 ms"])
    out = d.out
    sid = out["deliberationId"]
    assert out["mode"] == "tot" and out["beamWidth"] == 3
    v0 = await version(engine, sid)

    # 1. prompts for the root: nothing is created
    pack = await d.ok("expand_thoughts", {"fromNodeIds": ["t1"], "strategy": "diverse", "count": 3})
    assert pack["generation"] == "prompt_pack" and pack["createdNodes"] == []
    assert len(pack["prompts"]) == 3
    assert len({p["lens"] for p in pack["prompts"]}) == 3  # three different lenses
    for p in pack["prompts"]:
        assert p["fromNodeId"] == "t1" and GOAL[:40] in p["prompt"]
        assert p["addThought"]["parentIds"] == ["t1"] and p["addThought"]["sessionId"] == sid
    assert await version(engine, sid) == v0

    # 2. answer each prompt with add_thought, as the pack says
    answers = [
        "Redis cache-aside with a 60 s TTL and explicit invalidation on product updates",
        "CDN edge caching of GET /products with surrogate keys purged on writes",
        "Per-instance in-process LRU cache, accepting short staleness between instances",
    ]
    ids = []
    for p, text in zip(pack["prompts"], answers, strict=True):
        added = await d.ok("add_thought", {**p["addThought"], "content": text})
        assert added["node"]["kind"] == "thought" and added["node"]["parents"] == ["t1"]
        assert added["node"]["provenance"] == {"mode": "agent", "tool": "add_thought"}
        assert added["node"]["tags"] == p["addThought"]["tags"]
        ids.append(added["node"]["id"])
    assert ids == ["t2", "t3", "t4"]
    assert await version(engine, sid) == v0 + 3  # one event per node
    assert (await frontier(client, sid))["frontier"] == [
        {"id": i, "kind": "thought", "depth": 1, "parents": ["t1"], "score": None, "content": t}
        for i, t in zip(ids, answers, strict=True)
    ]

    # 3. score: our own judgement where we have one, heuristics for the rest, each labelled
    scored = await d.ok(
        "score_thoughts",
        {
            "scores": {
                "t2": {"correctness": 0.9, "evidence": 0.8, "risk": 0.2, "cost": 0.3, "novelty": 0.4},
                "t4": {"correctness": 0.3},
            }
        },
    )
    assert scored["weights"] == WEIGHTS
    entries = {e["node"]: e for e in scored["scores"]}
    assert set(entries) == {"t2", "t3", "t4"}  # the frontier
    assert {d: entries["t2"]["dims"][d]["source"] for d in DIMS} == dict.fromkeys(DIMS, "client")
    assert {d: entries["t3"]["dims"][d]["source"] for d in DIMS} == dict.fromkeys(DIMS, "heuristic")
    assert entries["t4"]["dims"]["correctness"] == {"value": 0.3, "source": "client"}
    assert entries["t4"]["dims"]["evidence"]["source"] == "heuristic"
    # composite = weighted mean, risk and cost inverted
    expected_t2 = (0.3 * 0.9 + 0.25 * 0.8 + 0.2 * (1 - 0.2) + 0.1 * (1 - 0.3) + 0.15 * 0.4) / 1.0
    assert entries["t2"]["composite"] == pytest.approx(expected_t2, abs=1e-4)
    for e in entries.values():
        values = {d: e["dims"][d]["value"] for d in DIMS}
        mean = sum(WEIGHTS[d] * ((1 - values[d]) if d in ("risk", "cost") else values[d]) for d in DIMS)
        assert e["composite"] == pytest.approx(mean, abs=2e-4)
        assert all(0.0 <= v <= 1.0 for v in values.values())
    ranked = scored["rankedNodeIds"]
    assert sorted(ranked) == ["t2", "t3", "t4"]
    assert [entries[n]["composite"] for n in ranked] == sorted((e["composite"] for e in entries.values()), reverse=True)
    assert ranked[0] == "t2"
    assert scored["analysis"]["provenance"] and scored["analysis"]["limitations"]
    view = nodes_by_id(await graph(client, sid))
    assert view["t2"]["score"] == entries["t2"]["composite"]

    # 4. prune to a beam of 2: the worst leaves the frontier but stays in the graph
    pruned = await d.ok("prune_thoughts", {"beamWidth": 2})
    assert pruned["keptNodeIds"] == ranked[:2] and pruned["prunedNodeIds"] == ranked[2:]
    loser = ranked[2]
    after = await graph(client, sid)
    by_id = nodes_by_id(after)
    assert by_id[loser]["status"] == "pruned" and by_id[loser]["frontier"] is False
    assert by_id[loser]["content"] in answers  # its text is kept
    assert after["frontier"] == sorted(ranked[:2], key=lambda n: int(n[1:]))
    assert [n["id"] for n in (await frontier(client, sid))["frontier"]] == after["frontier"]

    # 5. go deeper from the best with heuristic scaffolds, labelled as such
    deeper = await d.ok("expand_thoughts", {"fromNodeIds": ["t2"], "generation": "heuristic", "strategy": "contrarian"})
    created = deeper["createdNodes"]
    assert len(created) == 3
    for n in created:
        assert n["kind"] == "scaffold" and n["parents"] == ["t2"] and n["depth"] == 2
        assert n["provenance"] == {"mode": "heuristic", "tool": "expand_thoughts"}
        assert n["content"].startswith("[scaffold · contrarian")
        assert "scaffold" in n["tags"] and "contrarian" in n["tags"]
    assert deeper["analysis"]["provenance"] == "heuristic"
    final = await graph(client, sid)
    new_ids = [n["id"] for n in created]
    assert "t2" not in final["frontier"]  # it grew children
    assert set(new_ids) <= set(final["frontier"])
    assert {(e["source"], e["target"]) for e in final["edges"] if e["kind"] == "parent"} >= {("t2", i) for i in new_ids}
    # 6. answer a scaffold and refine the answer after a failed check
    answer = await d.ok(
        "add_thought",
        {"content": "Stale prices after a flash sale would cost real money", "parentIds": [new_ids[0]]},
    )
    refined = await d.ok(
        "refine_thoughts",
        {
            "sourceNodeId": answer["node"]["id"],
            "verificationFailure": "load test: 8% of reads served stale prices",
            "refinedContent": "Exclude prices from the cache; cache only descriptions and images",
        },
    )
    edge = refined["refinementEdge"]
    assert (edge["source"], edge["target"], edge["kind"]) == (refined["refinedNodeId"], answer["node"]["id"], "refines")
    assert "stale prices" in edge["note"]
    last = await graph(client, sid)
    assert answer["node"]["id"] not in last["frontier"] and refined["refinedNodeId"] in last["frontier"]
    assert (refined["refinedNodeId"], answer["node"]["id"], "refines") in typed_edges(last)


async def test_prune_without_beam_or_threshold_uses_the_profiles_beam(client: Client) -> None:
    d = await start(client, profile="quick")
    out = d.out
    assert out["beamWidth"] == 2
    for text in ("alpha option one", "beta option two", "gamma option three", "delta option four"):
        await d.ok("add_thought", {"content": text})
    await d.ok("score_thoughts", {"scores": {f"t{i}": {"correctness": i / 10} for i in range(2, 6)}})
    pruned = await d.ok("prune_thoughts", {})
    assert pruned["beamWidth"] == 2
    assert pruned["keptNodeIds"] == ["t5", "t4"] and sorted(pruned["prunedNodeIds"]) == ["t2", "t3"]


async def test_prune_by_threshold_keeps_unscored_nodes_and_never_the_root(client: Client) -> None:
    d = await start(client)
    out = d.out
    sid = out["deliberationId"]
    for text in ("first idea here", "second idea here", "third idea here"):
        await d.ok("add_thought", {"content": text})
    high = {"correctness": 1, "evidence": 1, "risk": 0, "cost": 0, "novelty": 1}
    low = {"correctness": 0, "evidence": 0, "risk": 1, "cost": 1, "novelty": 0}
    await d.ok("score_thoughts", {"nodeIds": ["t2", "t3"], "scores": {"t2": high, "t3": low}})
    pruned = await d.ok("prune_thoughts", {"threshold": 0.5, "nodeIds": ["t2", "t3", "t4"]})
    assert pruned["prunedNodeIds"] == ["t3"]
    assert sorted(pruned["keptNodeIds"]) == ["t2", "t4"]
    root = await d.ok("prune_thoughts", {"threshold": 0.9, "nodeIds": ["t1", "t2"]})
    assert "t1" not in root["prunedNodeIds"] and any("root" in w for w in root["warnings"])
    assert nodes_by_id(await graph(client, sid))["t1"]["status"] == "active"


# -- a Graph-of-Thought flow --------------------------------------------------------------------


async def test_a_graph_of_thought_flow_end_to_end(client: Client, engine: Engine) -> None:
    d = await start(client, mode="map")
    out = d.out
    sid = out["deliberationId"]
    assert out["mode"] == "got"
    redis = await d.ok("add_thought", {"content": "Redis cluster as a shared cache", "tags": ["option"]})
    cdn = await d.ok(
        "add_thought",
        {"content": "CDN in front of the API", "tags": ["option"], "edges": [{"kind": "conflicts", "targetId": "t2"}]},
    )
    warm = await d.ok(
        "add_thought",
        {
            "content": "Warm the cache from the product change stream",
            "parentIds": ["t2"],
            "edges": [{"kind": "depends_on", "targetId": "t2"}, {"kind": "supports", "targetId": "t2"}],
        },
    )
    assert [x["node"]["id"] for x in (redis, cdn, warm)] == ["t2", "t3", "t4"]
    assert cdn["edges"] == [{"source": "t3", "target": "t2", "kind": "conflicts"}]
    assert warm["node"]["depth"] == 2

    linked = await d.ok(
        "link_thoughts", {"sourceId": "t3", "targetId": "t4", "kind": "depends_on", "note": "purge hooks"}
    )
    assert linked["created"] is True and linked["edge"]["note"] == "purge hooks"

    # a duplicate edge changes nothing
    v = await version(engine, sid)
    again = await d.ok("link_thoughts", {"sourceId": "t3", "targetId": "t4", "kind": "depends_on"})
    assert again["created"] is False
    assert await version(engine, sid) == v

    # t3 → t4 → t2 along depends_on: t2 depends_on t3 would close a cycle
    before = await snapshot(client, engine, sid)
    cycle = await d.call("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "depends_on"})
    assert error_code(cycle) == "CYCLE_REFUSED"
    text = cycle.content[0].text
    assert "t3" in text and "t4" in text and "t2" in text  # the path is named
    mixed = await d.call("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "refines"})
    assert error_code(mixed) == "CYCLE_REFUSED"  # depends_on and refines form one strict subgraph
    assert await snapshot(client, engine, sid) == before
    # supports and conflicts may form cycles
    back = await d.ok("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "conflicts"})
    assert back["created"] is True

    # merge two branches with a synthesis: provenance edges, and the frontier resets to it
    merged = await d.ok(
        "merge_thought_branches",
        {"sourceNodeIds": ["t3", "t4"], "content": "CDN for anonymous reads, warmed Redis behind it", "tags": ["plan"]},
    )
    mid = merged["mergedNode"]["id"]
    assert merged["mergedNode"]["kind"] == "merged"
    assert merged["mergedNode"]["parents"] == ["t3", "t4"]
    assert merged["mergedNode"]["provenance"] == {"mode": "agent", "tool": "merge_thought_branches"}
    assert "plan" in merged["mergedNode"]["tags"]
    assert merged["frontier"] == [mid] and merged["frontierSize"] == 1
    view = await graph(client, sid)
    assert view["frontier"] == [mid]
    assert {("t3", mid, "supports"), ("t4", mid, "supports")} <= typed_edges(view)

    # distill without content: a labelled heuristic summary that depends_on each source
    distilled = await d.ok("distill_thought_cluster", {"sourceNodeIds": ["t2", mid], "maxBullets": 4})
    did_ = distilled["distilledNode"]["id"]
    assert distilled["distilledNode"]["kind"] == "distilled"
    assert distilled["distilledNode"]["provenance"]["mode"] == "heuristic"
    content = distilled["distilledNode"]["content"]
    assert content.startswith("- ") and "Redis cluster as a shared cache" in content
    assert distilled["frontier"] == [did_]
    view = await graph(client, sid)
    assert {(did_, "t2", "depends_on"), (did_, mid, "depends_on")} <= typed_edges(view)
    assert nodes_by_id(view)[did_]["content"] == content
    assert any(e.get("note") == "purge hooks" for e in view["edges"])

    # refine without refinedContent: a labelled scaffold asking for the rewrite
    refined = await d.ok("refine_thoughts", {"sourceNodeId": did_, "critique": "no cost estimate"})
    rid = refined["refinedNodeId"]
    assert refined["refinedNode"]["kind"] == "refined" and refined["refinedNode"]["provenance"]["mode"] == "heuristic"
    view = await graph(client, sid)
    assert view["frontier"] == [rid]
    assert (rid, did_, "refines") in typed_edges(view)
    assert "no cost estimate" in nodes_by_id(view)[rid]["content"]
    # a refines edge back from the summary to its refinement would be a cycle
    refused = await d.call("link_thoughts", {"sourceId": did_, "targetId": rid, "kind": "depends_on"})
    assert error_code(refused) == "CYCLE_REFUSED"


# -- the chain is the same graph ----------------------------------------------------------------


def thought(n: int, text: str, **kw: Any) -> dict[str, Any]:
    return {"thought": text, "thoughtNumber": n, "totalThoughts": 3, "nextThoughtNeeded": True, **kw}


async def test_a_chain_in_a_deliberation_hangs_under_the_root_and_a_revision_refines(client: Client) -> None:
    d = await start(client, mode="quick")
    out = d.out
    sid = out["deliberationId"]
    first = await d.ok("sequentialthinking", thought(1, "List what the API serves"))  # the default session
    assert first["sessionId"] == sid and first["thoughtId"] == "t2"
    await d.ok("sequentialthinking", thought(2, "Most reads are product pages", sessionId=sid))
    rev = await d.ok("sequentialthinking", thought(3, "Actually search dominates", isRevision=True, revisesThought=2))
    view = await graph(client, sid)
    by_id = nodes_by_id(view)
    assert [by_id[i]["kind"] for i in ("t1", "t2", "t3", "t4")] == ["root", "chain", "chain", "chain"]
    assert by_id["t2"]["parents"] == ["t1"] and by_id["t2"]["depth"] == 1
    assert by_id["t3"]["parents"] == ["t2"] and by_id["t3"]["thoughtNumber"] == 2
    assert by_id["t2"]["content"] == "List what the API serves"
    assert by_id["t4"]["provenance"]["tool"] == "sequentialthinking"
    assert (rev["thoughtId"], "t3", "refines") in typed_edges(view)
    assert view["frontier"] == ["t4"]
    # and the graph tools work on chain nodes
    linked = await d.ok("link_thoughts", {"sourceId": "t3", "targetId": "t2", "kind": "supports"})
    assert linked["created"] is True
    added = await d.ok("add_thought", {"content": "Cache search results too", "parentIds": ["t4"]})
    assert added["node"]["depth"] == 4


async def test_a_plain_chain_session_is_a_graph_without_a_deliberation(client: Client) -> None:
    sid = "plain-chain"
    await ok(client, "sequentialthinking", thought(1, "one", sessionId=sid))
    await ok(client, "sequentialthinking", thought(2, "two", sessionId=sid))
    await ok(client, "sequentialthinking", thought(3, "alt", branchFromThought=1, branchId="b", sessionId=sid))
    view = await graph(client, sid)
    assert view["deliberation"] is None
    by_id = nodes_by_id(view)
    assert by_id["t1"]["parents"] == [] and by_id["t2"]["parents"] == ["t1"] and by_id["t3"]["parents"] == ["t1"]
    assert by_id["t3"]["branchId"] == "b"
    assert view["frontier"] == ["t2", "t3"]
    # the deliberation tools work on it as well
    added = await ok(client, "add_thought", {"content": "a node on the chain", "parentIds": ["t2"], "sessionId": sid})
    assert added["node"]["parents"] == ["t2"]


# -- Skeleton-of-Thought ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goal", "signal"),
    [
        ("What is the capital of Australia?", "-short_factual"),
        ("Prove that there are infinitely many primes", "-proof"),
        ("Calculate 17 * 23 + 4", "-exact_calculation"),
        ("Debug this error: Traceback in line 42 of the failing test", "-exact_debugging"),
    ],
)
async def test_the_sot_gate_refuses_poor_fits_and_writes_nothing_until_forced(
    client: Client, engine: Engine, goal: str, signal: str
) -> None:
    d = await start(client, goal=goal, mode="sketch")
    sid = d.sid
    before = await snapshot(client, engine, sid)
    blocked = await d.ok("start_skeleton_of_thought", {})
    verdict = blocked["suitability"]
    assert verdict["blocked"] is True and verdict["decision"] == "unsuitable"
    assert signal in verdict["signals"]
    assert verdict["fallback"]
    assert blocked["phaseId"] is None and blocked["skeletonNodeIds"] == []
    assert "force" in blocked["note"]
    assert await snapshot(client, engine, sid) == before
    via_expand = await d.ok(
        "expand_thoughts", {"fromNodeIds": ["t1"], "strategy": "skeleton_first", "generation": "heuristic"}
    )
    assert via_expand["suitability"]["blocked"] is True
    assert await snapshot(client, engine, sid) == before

    forced = await d.ok("start_skeleton_of_thought", {"force": True, "numSkeletons": 3})
    assert forced["suitability"]["blocked"] is False and forced["suitability"]["decision"] == "unsuitable"
    assert forced["phaseId"] == "sot-1" and len(forced["skeletonNodeIds"]) == 3
    assert await version(engine, sid) == before[0] + 1


async def test_the_conservative_policy_blocks_a_marginal_task_the_balanced_one_allows(client: Client) -> None:
    d = await start(client, goal="Write release notes for version 2")  # no signals: marginal
    conservative = await d.ok("start_skeleton_of_thought", {"suitabilityPolicy": "conservative"})
    assert conservative["suitability"]["decision"] == "marginal" and conservative["suitability"]["blocked"] is True
    balanced = await d.ok("start_skeleton_of_thought", {"suitabilityPolicy": "balanced"})
    assert balanced["suitability"]["blocked"] is False and balanced["phaseId"] == "sot-1"


@pytest.mark.parametrize(
    "style", ["multi_lens", "decomposition", "hypothesis_set", "stakeholder_views", "implementation_plan"]
)
async def test_each_skeleton_style_outlines_the_goal(client: Client, style: str) -> None:
    d = await start(client, mode="sot", profile="deep")
    sid = d.sid
    out = await d.ok("start_skeleton_of_thought", {"skeletonStyle": style, "numSkeletons": 5})
    assert out["suitability"]["decision"] == "suitable"
    assert len(out["skeletonNodeIds"]) == 5
    for n in out["skeletonNodes"]:
        assert n["kind"] == "skeleton" and n["parents"] == ["t1"]
        assert n["content"].startswith(f"[skeleton · {style}")
    view = await graph(client, sid)
    assert view["frontier"] == out["skeletonNodeIds"]
    assert {(s, "t1", "depends_on") for s in out["skeletonNodeIds"]} <= typed_edges(view)


async def test_a_skeleton_is_elaborated_by_prompts_then_by_heuristic_chains_and_merged(
    client: Client, engine: Engine
) -> None:
    d = await start(client, mode="sketch")
    sid = d.sid
    outline = await d.ok(
        "start_skeleton_of_thought",
        {"numSkeletons": 30, "branchLabels": ["latency", "consistency", "cost"], "skeletonStyle": "decomposition"},
    )
    skeletons = outline["skeletonNodeIds"]
    assert len(skeletons) == 10 and any("numSkeletons 30" in w for w in outline["warnings"])
    assert [n["provenance"]["mode"] for n in outline["skeletonNodes"][:3]] == ["agent"] * 3
    assert "latency" in outline["skeletonNodes"][0]["content"]

    v = await version(engine, sid)
    prompts = await d.ok("run_skeleton_elaboration", {"elaborationDepth": 2})
    assert prompts["status"] == "PROMPT_PACK_READY" and prompts["phaseId"] == outline["phaseId"]
    assert [p["skeletonNodeId"] for p in prompts["promptPack"]] == skeletons
    assert prompts["elaborationNodeIdsBySkeleton"] == {}
    missing = await d.call("run_skeleton_elaboration", {"generation": "model_backed"})
    assert error_code(missing) == "MODEL_UNAVAILABLE"
    assert await version(engine, sid) == v

    two = skeletons[:2]
    done = await d.ok(
        "run_skeleton_elaboration",
        {"generation": "heuristic", "skeletonNodeIds": two, "elaborationDepth": 2, "mergeAfter": True},
    )
    assert done["status"] == "HEURISTIC_NODES_CREATED"
    chains = done["elaborationNodeIdsBySkeleton"]
    assert list(chains) == two and all(len(c) == 2 for c in chains.values())
    merge = done["mergeNodeId"]
    assert done["frontier"] == [merge]
    view = await graph(client, sid)
    by_id = nodes_by_id(view)
    for skel, chain in chains.items():
        assert by_id[chain[0]]["parents"] == [skel] and by_id[chain[1]]["parents"] == [chain[0]]
        assert by_id[chain[0]]["kind"] == "elaboration" and by_id[chain[0]]["provenance"]["mode"] == "heuristic"
        assert (merge, chain[-1], "depends_on") in typed_edges(view)
    assert by_id[merge]["kind"] == "merged"
    # the phase is closed: a second elaboration has nothing to do
    again = await d.call("run_skeleton_elaboration", {"generation": "heuristic"})
    assert error_code(again) == "INVALID_INPUT"


# -- errors: a stable code, and nothing changed ------------------------------------------------


@pytest.fixture
async def populated(client: Client) -> Delib:
    """A deliberation t1 (root) ← t2, t3, t4 (pruned); t3 depends_on t2; a skeleton phase sot-1 t5..t6."""
    d = await start(client, mode="got")
    sid = d.sid
    await d.ok("add_thought", {"content": "Redis cache-aside with TTLs"})
    await d.ok("add_thought", {"content": "CDN edge caching", "edges": [{"kind": "depends_on", "targetId": "t2"}]})
    await d.ok("add_thought", {"content": "Memcached fleet"})
    await d.ok("prune_thoughts", {"nodeIds": ["t4"]})  # nodeIds alone: exactly these
    assert nodes_by_id(await graph(client, sid))["t4"]["status"] == "pruned"
    await d.ok("start_skeleton_of_thought", {"sourceNodeId": "t2", "numSkeletons": 2, "force": True})
    return d


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("add_thought", {"content": "x", "parentIds": ["t99"]}, "UNKNOWN_THOUGHT"),
    ("add_thought", {"content": "x", "parentIds": ["t4"]}, "NODE_PRUNED"),
    ("add_thought", {"content": "x", "edges": [{"kind": "supports", "targetId": "t4"}]}, "NODE_PRUNED"),
    (
        "add_thought",
        {"content": "x", "edges": [{"kind": "supports", "targetId": "t2"}, {"kind": "conflicts", "targetId": "t42"}]},
        "UNKNOWN_THOUGHT",
    ),
    ("add_thought", {"content": "x" * 1001}, "THOUGHT_TOO_LONG"),
    ("add_thought", {"content": "   "}, "INVALID_INPUT"),
    ("add_thought", {"content": "x", "parentIds": ["t2", "t2"]}, "INVALID_INPUT"),
    ("add_thought", {"content": "x", "edges": [{"kind": "blocks", "targetId": "t2"}]}, "INVALID_INPUT"),
    ("add_thought", {"content": "x", "parentIds": ["node-2"]}, "INVALID_INPUT"),
    ("add_thought", {"content": "x", "tags": ["t" * 65]}, "THOUGHT_TOO_LONG"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "depends_on"}, "CYCLE_REFUSED"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "refines"}, "CYCLE_REFUSED"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t2", "kind": "refines"}, "CYCLE_REFUSED"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t2", "kind": "supports"}, "INVALID_INPUT"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t77", "kind": "supports"}, "UNKNOWN_THOUGHT"),
    ("link_thoughts", {"sourceId": "t4", "targetId": "t2", "kind": "supports"}, "NODE_PRUNED"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "causes"}, "INVALID_INPUT"),
    ("link_thoughts", {"sourceId": "t2", "targetId": "t3", "kind": "supports", "note": "n" * 2001}, "INVALID_INPUT"),
    ("expand_thoughts", {"fromNodeIds": ["t4"]}, "NODE_PRUNED"),
    ("expand_thoughts", {"fromNodeIds": ["t4"], "generation": "heuristic"}, "NODE_PRUNED"),
    ("expand_thoughts", {"fromNodeIds": ["t99"]}, "UNKNOWN_THOUGHT"),
    ("expand_thoughts", {"fromNodeIds": ["t2", "t2"], "generation": "heuristic"}, "INVALID_INPUT"),
    ("expand_thoughts", {"fromNodeIds": ["t2"], "generation": "model_backed"}, "MODEL_UNAVAILABLE"),
    (
        "expand_thoughts",
        {"fromNodeIds": ["t2"], "strategy": "skeleton_first", "generation": "model_backed"},
        ("MODEL_UNAVAILABLE"),
    ),
    ("expand_thoughts", {"fromNodeIds": ["t2", "t3"], "strategy": "skeleton_first"}, "INVALID_INPUT"),
    ("expand_thoughts", {"fromNodeIds": []}, "INVALID_INPUT"),
    ("expand_thoughts", {"fromNodeIds": ["t2"], "count": 0}, "INVALID_INPUT"),
    ("score_thoughts", {"scores": {"t2": {"correctness": 1.5}}}, "INVALID_INPUT"),
    ("score_thoughts", {"scores": {"t2": {"truth": 0.5}}}, "INVALID_INPUT"),
    ("score_thoughts", {"scores": {"t9": {"correctness": 0.5}}}, "UNKNOWN_THOUGHT"),
    ("score_thoughts", {"nodeIds": ["t2", "t2"]}, "INVALID_INPUT"),
    ("score_thoughts", {"nodeIds": ["t2", "t8"]}, "UNKNOWN_THOUGHT"),
    ("score_thoughts", {"weights": dict.fromkeys(DIMS, 0)}, "INVALID_INPUT"),
    ("score_thoughts", {"weights": {"correctness": -1}}, "INVALID_INPUT"),
    ("prune_thoughts", {"beamWidth": 0}, "INVALID_INPUT"),
    ("prune_thoughts", {"threshold": 1.5}, "INVALID_INPUT"),
    ("prune_thoughts", {"beamWidth": 1, "nodeIds": ["t4"]}, "NODE_PRUNED"),
    ("prune_thoughts", {"beamWidth": 1, "nodeIds": ["t2", "t66"]}, "UNKNOWN_THOUGHT"),
    ("merge_thought_branches", {"sourceNodeIds": ["t2"]}, "INVALID_INPUT"),
    ("merge_thought_branches", {"sourceNodeIds": ["t2", "t2"]}, "INVALID_INPUT"),
    ("merge_thought_branches", {"sourceNodeIds": ["t2", "t4"]}, "NODE_PRUNED"),
    ("merge_thought_branches", {"sourceNodeIds": ["t2", "t55"]}, "UNKNOWN_THOUGHT"),
    ("merge_thought_branches", {"sourceNodeIds": ["t2", "t3"], "content": "y" * 1001}, "THOUGHT_TOO_LONG"),
    ("distill_thought_cluster", {"sourceNodeIds": []}, "INVALID_INPUT"),
    ("distill_thought_cluster", {"sourceNodeIds": ["t4"]}, "NODE_PRUNED"),
    ("distill_thought_cluster", {"sourceNodeIds": ["t2", "t44"]}, "UNKNOWN_THOUGHT"),
    ("distill_thought_cluster", {"sourceNodeIds": ["t2"], "maxBullets": 0}, "INVALID_INPUT"),
    ("refine_thoughts", {"sourceNodeId": "t2"}, "INVALID_INPUT"),
    ("refine_thoughts", {"sourceNodeId": "t4", "critique": "weak"}, "NODE_PRUNED"),
    ("refine_thoughts", {"sourceNodeId": "t33", "critique": "weak"}, "UNKNOWN_THOUGHT"),
    ("refine_thoughts", {"sourceNodeId": "t2", "refinedContent": "z" * 1001}, "THOUGHT_TOO_LONG"),
    ("start_deliberation", {"goal": "a second goal"}, "INVALID_INPUT"),  # sessionId added below
    ("start_deliberation", {"goal": "x", "mode": "lateral"}, "INVALID_INPUT"),
    ("start_deliberation", {"goal": "x", "profile": "insane"}, "INVALID_INPUT"),
    ("start_deliberation", {"goal": "x", "limits": {"max_width": 3}}, "INVALID_INPUT"),
    ("start_deliberation", {"goal": "x", "limits": {"max_depth": "deep"}}, "INVALID_INPUT"),
    ("start_deliberation", {"goal": "  "}, "INVALID_INPUT"),
    ("start_deliberation", {"goal": "x", "constraints": ["c"] * 33}, "INVALID_INPUT"),
    ("start_skeleton_of_thought", {"sourceNodeId": "t4", "force": True}, "NODE_PRUNED"),
    ("start_skeleton_of_thought", {"sourceNodeId": "t99", "force": True}, "UNKNOWN_THOUGHT"),
    ("start_skeleton_of_thought", {"numSkeletons": 2, "branchLabels": ["a", "b", "c"]}, "INVALID_INPUT"),
    ("start_skeleton_of_thought", {"skeletonStyle": "mind_map"}, "INVALID_INPUT"),
    ("run_skeleton_elaboration", {"phaseId": "sot-9", "generation": "heuristic"}, "UNKNOWN_THOUGHT"),
    ("run_skeleton_elaboration", {"phaseId": "sot-9"}, "UNKNOWN_THOUGHT"),
    ("run_skeleton_elaboration", {"skeletonNodeIds": ["t2"], "generation": "heuristic"}, "INVALID_INPUT"),
    ("run_skeleton_elaboration", {"skeletonNodeIds": ["t2"]}, "INVALID_INPUT"),
    ("run_skeleton_elaboration", {"generation": "model_backed"}, "MODEL_UNAVAILABLE"),
    ("run_skeleton_elaboration", {"generation": "heuristic", "elaborationDepth": 8}, "LIMIT_EXCEEDED"),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    BAD_CALLS,
    ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(BAD_CALLS)],
)
async def test_a_refused_call_has_a_stable_code_and_changes_nothing(
    client: Client, engine: Engine, populated: Delib, tool: str, arguments: dict[str, Any], code: str
) -> None:
    d = populated
    sid = d.sid
    if tool == "start_deliberation" and arguments["goal"] != "a second goal":
        arguments = {**arguments, "sessionId": "a-fresh-session"}  # refused before the session is made
    before = await snapshot(client, engine, sid)
    sessions = await engine.store.count_sessions()
    result = await d.call(tool, arguments)
    assert error_code(result) == code, result.content[0].text
    assert await snapshot(client, engine, sid) == before
    assert await engine.store.count_sessions() == sessions
    assert (await frontier(client, sid))["frontier"] == [
        {k: v for k, v in n.items() if k in ("id", "kind", "depth", "parents", "score", "content")}
        for n in before[1]["nodes"]
        if n["frontier"]
    ]


GRAPH_TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("add_thought", {"content": "x"}),
    ("expand_thoughts", {"fromNodeIds": ["t1"]}),
    ("expand_thoughts", {"fromNodeIds": ["t1"], "generation": "heuristic"}),
    ("expand_thoughts", {"fromNodeIds": ["t1"], "generation": "model_backed"}),
    ("score_thoughts", {}),
    ("prune_thoughts", {"beamWidth": 1}),
    ("link_thoughts", {"sourceId": "t1", "targetId": "t2", "kind": "supports"}),
    ("merge_thought_branches", {"sourceNodeIds": ["t1", "t2"]}),
    ("distill_thought_cluster", {"sourceNodeIds": ["t1"]}),
    ("refine_thoughts", {"sourceNodeId": "t1", "critique": "c"}),
    ("start_skeleton_of_thought", {"force": True}),
    ("run_skeleton_elaboration", {}),
    ("run_skeleton_elaboration", {"generation": "heuristic"}),
    ("run_skeleton_elaboration", {"generation": "model_backed"}),
]


@pytest.mark.parametrize(("tool", "arguments"), GRAPH_TOOL_CALLS, ids=[t for t, _ in GRAPH_TOOL_CALLS])
async def test_an_unknown_session_is_session_not_found_and_is_not_created(
    client: Client, engine: Engine, tool: str, arguments: dict[str, Any]
) -> None:
    named = await call(client, tool, {**arguments, "sessionId": "no-such-deliberation"})
    assert error_code(named) == "SESSION_NOT_FOUND"
    unnamed = await call(client, tool, arguments)  # no connection default (2025 era) or none at all (2026)
    assert error_code(unnamed) == "SESSION_NOT_FOUND"
    assert await engine.store.count_sessions() == 0


async def test_resources_of_an_unknown_session_are_errors(client: Client) -> None:
    for uri in ("thinkgate://session/nope/graph", "thinkgate://session/nope/frontier"):
        with pytest.raises(MCPError) as info:
            await client.read_resource(uri)
        assert "SESSION_NOT_FOUND" in info.value.error.message


async def test_the_node_limit_is_checked_before_writing_a_multi_node_expansion(client: Client, engine: Engine) -> None:
    d = await start(client, limits={"max_nodes": 5})
    sid = d.sid
    await d.ok("add_thought", {"content": "Postgres"})
    await d.ok("add_thought", {"content": "MySQL", "parentIds": ["t1"]})
    before = await snapshot(client, engine, sid)
    # 2 sources × 2 = 4 new nodes on top of 3: over 5; no partial expansion of the first source
    over = await d.call("expand_thoughts", {"fromNodeIds": ["t2", "t3"], "generation": "heuristic", "count": 2})
    assert error_code(over) == "LIMIT_EXCEEDED"
    assert "max_nodes" in over.content[0].text
    assert await snapshot(client, engine, sid) == before
    fits = await d.ok("expand_thoughts", {"fromNodeIds": ["t2", "t3"], "generation": "heuristic", "count": 1})
    assert len(fits["createdNodes"]) == 2
    full = await d.call("add_thought", {"content": "one too many"})
    assert error_code(full) == "LIMIT_EXCEEDED"
    chain = await d.call("sequentialthinking", thought(1, "a chain step counts too", sessionId=sid))
    assert error_code(chain) == "LIMIT_EXCEEDED"
    assert (await version(engine, sid)) == before[0] + 1


async def test_the_depth_limit_refuses_a_deeper_node_but_merge_and_refine_may_go_below_it(
    client: Client, engine: Engine
) -> None:
    d = await start(client, profile="quick")
    sid = d.sid  # max_depth 3
    parent = "t1"
    for i in range(3):
        parent = (await d.ok("add_thought", {"content": f"level {i + 1}", "parentIds": [parent]}))["node"]["id"]
    side = (await d.ok("add_thought", {"content": "side at 3", "parentIds": ["t3"]}))["node"]["id"]
    before = await snapshot(client, engine, sid)
    deep = await d.call("add_thought", {"content": "level 4", "parentIds": [parent]})
    assert error_code(deep) == "LIMIT_EXCEEDED" and "max_depth" in deep.content[0].text
    heur = await d.call("expand_thoughts", {"fromNodeIds": [parent], "generation": "heuristic"})
    assert error_code(heur) == "LIMIT_EXCEEDED"
    assert await snapshot(client, engine, sid) == before
    # Converging and replacing nodes may go one level deeper: merge, distill, refine.
    merged = await d.ok("merge_thought_branches", {"sourceNodeIds": [parent, side], "content": "both"})
    assert merged["mergedNode"]["depth"] == 4
    refine = await d.ok("refine_thoughts", {"sourceNodeId": side, "refinedContent": "better side at 3"})
    assert refine["refinedNode"]["depth"] == 4


async def test_the_edge_limit_counts_the_edges_a_call_adds(client: Client, engine: Engine) -> None:
    d = await start(client, limits={"max_edges": 2})
    sid = d.sid
    for text in ("one idea", "two idea", "three idea"):
        await d.ok("add_thought", {"content": text})
    before = await snapshot(client, engine, sid)
    # merging three sources adds three supports edges: over 2
    over = await d.call("merge_thought_branches", {"sourceNodeIds": ["t2", "t3", "t4"], "content": "m"})
    assert error_code(over) == "LIMIT_EXCEEDED" and "max_edges" in over.content[0].text
    over_add = await d.call(
        "add_thought",
        {"content": "x", "edges": [{"kind": "supports", "targetId": t} for t in ("t2", "t3", "t4")]},
    )
    assert error_code(over_add) == "LIMIT_EXCEEDED"
    assert await snapshot(client, engine, sid) == before


# -- idempotency --------------------------------------------------------------------------------


RETRIES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("add_thought", {"content": "Varnish in front"}, {"content": "Nginx in front"}),
    (
        "expand_thoughts",
        {"fromNodeIds": ["t2"], "generation": "heuristic"},
        {"fromNodeIds": ["t3"], "generation": "heuristic"},
    ),
    ("score_thoughts", {"scores": {"t2": {"correctness": 0.7}}}, {"scores": {"t2": {"correctness": 0.2}}}),
    ("prune_thoughts", {"beamWidth": 1}, {"beamWidth": 2}),
    (
        "link_thoughts",
        {"sourceId": "t3", "targetId": "t2", "kind": "supports"},
        {"sourceId": "t3", "targetId": "t2", "kind": "conflicts"},
    ),
    (
        "merge_thought_branches",
        {"sourceNodeIds": ["t2", "t3"], "content": "m"},
        {"sourceNodeIds": ["t2", "t3"], "content": "n"},
    ),
    ("distill_thought_cluster", {"sourceNodeIds": ["t2", "t3"]}, {"sourceNodeIds": ["t2", "t3"], "maxBullets": 1}),
    ("refine_thoughts", {"sourceNodeId": "t2", "critique": "vague"}, {"sourceNodeId": "t2", "critique": "wrong"}),
    ("start_skeleton_of_thought", {"numSkeletons": 2}, {"numSkeletons": 3}),
]


@pytest.mark.parametrize(("tool", "first", "other"), RETRIES, ids=[t for t, _, _ in RETRIES])
async def test_a_retry_with_the_same_request_id_returns_the_first_result_and_writes_once(
    client: Client, engine: Engine, tool: str, first: dict[str, Any], other: dict[str, Any]
) -> None:
    d = await start(client)
    sid = d.sid
    await d.ok("add_thought", {"content": "Redis cache-aside"})
    await d.ok("add_thought", {"content": "CDN edge caching"})
    v = await version(engine, sid)
    a = await d.ok(tool, {**first, "requestId": "req-1"})
    after_first = await snapshot(client, engine, sid)
    assert after_first[0] == v + 1
    b = await d.ok(tool, {**first, "requestId": "req-1"})
    assert b == a
    assert await snapshot(client, engine, sid) == after_first
    clash = await d.call(tool, {**other, "requestId": "req-1"})
    assert error_code(clash) == "IDEMPOTENCY_CONFLICT"
    other_tool = await d.call("add_thought", {"content": "something else", "requestId": "req-1"})
    if tool != "add_thought":
        assert error_code(other_tool) == "IDEMPOTENCY_CONFLICT"
    chain = await d.call("sequentialthinking", thought(1, "a chain step", requestId="req-1"))
    assert error_code(chain) == "IDEMPOTENCY_CONFLICT"
    assert await snapshot(client, engine, sid) == after_first


async def test_start_deliberation_with_a_session_id_is_idempotent(client: Client, engine: Engine) -> None:
    a = await start(client, sessionId="plan-42", requestId="open-1")
    b = await start(client, sessionId="plan-42", requestId="open-1")
    assert a.out == b.out
    assert await version(engine, "plan-42") == 2
    clash = await call(
        client, "start_deliberation", {"goal": "another goal", "sessionId": "plan-42", "requestId": "open-1"}
    )
    assert error_code(clash) == "IDEMPOTENCY_CONFLICT"
    assert await version(engine, "plan-42") == 2


async def test_a_prompt_pack_and_a_blocked_skeleton_write_nothing_even_with_a_request_id(
    client: Client, engine: Engine
) -> None:
    d = await start(client, goal="Who wrote Hamlet?")
    sid = d.sid
    v = await version(engine, sid)
    await d.ok("expand_thoughts", {"fromNodeIds": ["t1"], "requestId": "r"})
    blocked = await d.ok("start_skeleton_of_thought", {"requestId": "r"})
    assert blocked["suitability"]["blocked"] is True
    assert await version(engine, sid) == v
    # the request id was not used up by calls that wrote nothing
    forced = await d.ok("start_skeleton_of_thought", {"requestId": "r", "force": True})
    assert forced["phaseId"] == "sot-1"


# -- resources and prompts ----------------------------------------------------------------------


async def test_resource_templates_static_resources_and_thinking_modes(client: Client) -> None:
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert {"thinkgate://session/{session_id}/graph", "thinkgate://session/{session_id}/frontier"} <= templates
    assert "thinkgate://thinking-modes" in {str(r.uri) for r in (await client.list_resources()).resources}
    modes = await read_json(client, "thinkgate://thinking-modes")
    assert [m["mode"] for m in modes["modes"]] == ["cot", "tot", "got", "sot", "governed"]
    assert modes["aliases"] == {"quick": "cot", "explore": "tot", "map": "got", "sketch": "sot", "test": "governed"}
    tools = {t.name for t in (await client.list_tools()).tools}
    for m in modes["modes"]:
        assert set(m["tools"]) <= tools, m["mode"]  # every tool a mode names exists
    assert set(modes["profiles"]) == set(PROFILE_LIMITS)


async def test_the_planning_prompts_name_real_tools(client: Client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    guidance = await client.get_prompt("tot-planner-guidance", {})
    text = guidance.messages[0].content.text  # type: ignore[union-attr]
    for name in ("start_deliberation", "expand_thoughts", "add_thought", "score_thoughts", "prune_thoughts"):
        assert name in text and name in tools
    lenses = await client.get_prompt("diverse-lens-pack", {"topic": "the product cache"})
    body = lenses.messages[0].content.text  # type: ignore[union-attr]
    assert "the product cache" in body and "add_thought" in body
    assert body.count("\n- ") == 8
    plain = await client.get_prompt("diverse-lens-pack", {})
    assert "the problem" in plain.messages[0].content.text  # type: ignore[union-attr]


async def test_the_frontier_resource_follows_every_kind_of_change(client: Client) -> None:
    d = await start(client)
    sid = d.sid

    async def ids() -> list[str]:
        doc = await frontier(client, sid)
        assert doc["frontierSize"] == len(doc["frontier"]) and doc["truncated"] is False
        return [n["id"] for n in doc["frontier"]]

    assert await ids() == ["t1"]
    await d.ok("add_thought", {"content": "a"})
    await d.ok("add_thought", {"content": "b"})
    assert await ids() == ["t2", "t3"]
    await d.ok("add_thought", {"content": "c", "parentIds": ["t2", "t3"]})
    assert await ids() == ["t4"]  # both parents leave it
    await d.ok("add_thought", {"content": "d", "parentIds": ["t1"]})
    await d.ok("merge_thought_branches", {"sourceNodeIds": ["t4", "t5"], "content": "cd"})
    assert await ids() == ["t6"]
    await d.ok("expand_thoughts", {"fromNodeIds": ["t6"], "generation": "heuristic", "count": 2})
    assert await ids() == ["t7", "t8"]
    await d.ok("prune_thoughts", {"beamWidth": 1, "nodeIds": ["t7", "t8"]})
    assert await ids() == ["t7"]


# -- regressions (reported in /tmp/graph_bugs.md, fixed in 5c27c93) ------------------------------


async def test_a_retried_start_deliberation_without_session_id_opens_one_deliberation(engine: Engine) -> None:
    async with Client(build_server(engine, toolsets=ALL), mode="legacy") as c:
        a = await ok(c, "start_deliberation", {"goal": GOAL, "requestId": "open-once"})
        b = await ok(c, "start_deliberation", {"goal": GOAL, "requestId": "open-once"})
    assert b["deliberationId"] == a["deliberationId"]
    assert await engine.store.count_sessions() == 1


async def test_a_stateless_start_with_a_request_id_but_no_session_id_warns_that_a_retry_would_not_match(
    engine: Engine,
) -> None:
    async with Client(build_server(engine, toolsets=ALL), mode="auto") as c:
        a = await ok(c, "start_deliberation", {"goal": GOAL, "requestId": "open-once"})
    assert any("sessionId" in w and "retry" in w for w in a["warnings"])


async def test_expand_with_skeleton_first_and_prompt_pack_creates_nothing(client: Client, engine: Engine) -> None:
    d = await start(client)
    before = await snapshot(client, engine, d.sid)
    out = await d.ok("expand_thoughts", {"fromNodeIds": ["t1"], "strategy": "skeleton_first"})  # prompt_pack
    assert out["generation"] == "prompt_pack" and out["createdNodes"] == [] and out["prompts"]
    assert not out.get("skeletonNodeIds")
    assert await snapshot(client, engine, d.sid) == before


async def test_expand_with_skeleton_first_is_capped_by_max_branches_per_expand(client: Client) -> None:
    d = await start(client)  # balanced: max_branches_per_expand 4
    out = await d.ok(
        "expand_thoughts",
        {"fromNodeIds": ["t1"], "strategy": "skeleton_first", "count": 64, "generation": "heuristic"},
    )
    assert 2 <= len(out["skeletonNodeIds"]) <= 4


async def test_a_deliberation_id_argument_never_writes_into_another_session(engine: Engine) -> None:
    async with Client(build_server(engine, toolsets=ALL), mode="legacy") as c:
        a = (await ok(c, "start_deliberation", {"goal": "First goal", "sessionId": "sess-a"}))["deliberationId"]
        b = (await ok(c, "start_deliberation", {"goal": "Second goal", "sessionId": "sess-b"}))["deliberationId"]
        # the agent names the deliberation by the key start_deliberation returned
        result = await call(c, "add_thought", {"content": "meant for the first", "deliberationId": a})
        if result.is_error:
            assert error_code(result) == "INVALID_INPUT"
            assert await version(engine, a) == 2
        else:
            assert result.structured_content["sessionId"] == a
        assert await version(engine, b) == 2, "the node went into the connection's default session"


async def test_an_unknown_argument_name_is_refused_and_writes_nothing(client: Client, engine: Engine) -> None:
    d = await start(client)
    before = await snapshot(client, engine, d.sid)
    result = await d.call("add_thought", {"content": "x", "parentId": "t1"})  # a typo of parentIds
    assert error_code(result) == "INVALID_INPUT"
    assert await snapshot(client, engine, d.sid) == before


async def test_no_input_schema_has_a_bare_ref_where_a_type_is_expected(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    bad: list[str] = []
    for name in TOOLSETS["graph"] + TOOLSETS["sot"]:
        schema = tools[name].input_schema
        bad += _untyped(schema, schema.get("$defs", {}), name, inline=True)
    assert bad == []
