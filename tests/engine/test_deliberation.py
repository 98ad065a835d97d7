"""The deliberation engine over a real SQLite file: atomicity, idempotency, one graph with the chain,
clears, restarts and snapshots, group commit, limits, the SoT gate and the graph view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from thinkgate.domain.deliberation import (
    AddThought,
    DistillCluster,
    ExpandThoughts,
    LinkThoughts,
    MergeBranches,
    PruneThoughts,
    RefineThought,
    RunElaboration,
    ScoreThoughts,
    StartDeliberation,
    StartSkeleton,
)
from thinkgate.domain.thinking import RecordThought
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.errors import (
    CycleRefused,
    IdempotencyConflict,
    InvalidInput,
    LimitExceeded,
    NodeInactive,
    SessionNotFound,
    ThinkGateError,
    UnknownReference,
)
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

GOAL = "Choose a message queue for the billing service: compare the options and their trade-offs"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(SqliteEventStore(tmp_path / "g.db"), EngineConfig(snapshot_every=4))
    await eng.start()
    yield eng
    await eng.stop()


async def version(engine: Engine, sid: str) -> int:
    info = await engine.store.session(sid)
    return info.version if info is not None else 0


async def start(engine: Engine, sid: str = "d1", **kw: Any) -> dict[str, Any]:
    return await engine.graph_command(sid, StartDeliberation(GOAL, **kw))


async def add(engine: Engine, content: str, *parents: str, sid: str = "d1", **kw: Any) -> str:
    result = await engine.graph_command(sid, AddThought(content, parents or None, **kw))
    return str(result["node"]["id"])


async def test_a_deliberation_opens_with_its_root_and_clamped_limits(engine: Engine) -> None:
    result = await start(engine, mode="explore", profile="quick", limits=(("max_depth", 999), ("max_nodes", 0)))
    assert result["deliberationId"] == result["sessionId"] == "d1"
    assert result["mode"] == "tot" and result["profile"] == "quick"
    assert result["limitsApplied"]["max_depth"] == 64 and result["limitsApplied"]["max_nodes"] == 2
    assert result["clampedLimits"] == {
        "max_depth": {"requested": 999, "applied": 64},
        "max_nodes": {"requested": 0, "applied": 2},
    }
    assert result["rootNode"]["id"] == "t1" and result["frontier"] == ["t1"]
    view = await engine.graph_view("d1")
    assert view["deliberation"]["goal"] == GOAL and view["nodes"][0]["kind"] == "root"
    with pytest.raises(InvalidInput, match="already has a deliberation"):
        await start(engine)
    with pytest.raises(InvalidInput, match="unknown"):
        await engine.graph_command("d2", StartDeliberation(GOAL, limits=(("max_width", 3),)))
    with pytest.raises(InvalidInput, match="mode"):
        await engine.graph_command("d2", StartDeliberation(GOAL, mode="lateral"))
    assert await engine.store.session("d2") is None  # refused calls create nothing


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (AddThought("x", ("t99",)), UnknownReference),
        (AddThought("x", ("t1",), edges=(("supports", "t42"),)), UnknownReference),
        (AddThought("x", ("t1",), edges=(("blocks", "t2"),)), InvalidInput),
        (
            AddThought(
                "   ",
            ),
            InvalidInput,
        ),
        (ExpandThoughts(("t2", "t77")), UnknownReference),
        (ExpandThoughts(("t2",), strategy="sideways"), InvalidInput),
        (LinkThoughts("t3", "t2", "depends_on"), CycleRefused),  # t2 depends_on t3 exists
        (LinkThoughts("t2", "t2", "refines"), CycleRefused),
        (MergeBranches(("t2",)), InvalidInput),
        (MergeBranches(("t2", "t2")), InvalidInput),
        (MergeBranches(("t2", "t4")), NodeInactive),  # t4 was pruned
        (DistillCluster(("t2",), max_bullets=0), InvalidInput),
        (RefineThought("t2"), InvalidInput),
        (RefineThought("t4", critique="weak"), NodeInactive),
        (ScoreThoughts(("t2",), scores=(("t2", (("correctness", 1.5),)),)), InvalidInput),
        (ScoreThoughts(("t2",), weights=(("beauty", 1.0),)), InvalidInput),
        (PruneThoughts(beam_width=0), InvalidInput),
        (RunElaboration(), InvalidInput),  # no skeleton phase yet
    ],
)
async def test_a_refused_command_changes_nothing(engine: Engine, command: Any, error: type[ThinkGateError]) -> None:
    await start(engine)
    await add(engine, "Kafka: durable log, replay", "t1")  # t2
    await add(engine, "RabbitMQ: mature broker", "t1")  # t3
    await add(engine, "Redis streams", "t1")  # t4
    await engine.graph_command("d1", LinkThoughts("t2", "t3", "depends_on"))
    await engine.graph_command("d1", PruneThoughts(node_ids=("t4",)))
    before_version = await version(engine, "d1")
    before = await engine.graph_view("d1")
    with pytest.raises(error):
        await engine.graph_command("d1", command)
    assert await version(engine, "d1") == before_version
    assert await engine.graph_view("d1") == before


async def test_limits_are_checked_before_anything_is_written(engine: Engine) -> None:
    await start(engine, limits=(("max_nodes", 5), ("max_depth", 2), ("max_edges", 1), ("max_branches_per_expand", 2)))
    a = await add(engine, "first", "t1")
    b = await add(engine, "second", a)
    with pytest.raises(LimitExceeded, match="max_depth"):
        await add(engine, "too deep", b)
    expanded = await engine.graph_command("d1", ExpandThoughts(("t1",), count=5))
    assert "clamped" in expanded["warnings"][0] and len(expanded["createdNodes"]) == 2
    await engine.graph_command("d1", PruneThoughts(node_ids=(expanded["createdNodes"][0]["id"],), beam_width=1))
    v = await version(engine, "d1")
    with pytest.raises(LimitExceeded, match="max_nodes"):
        await add(engine, "one too many", "t1")
    with pytest.raises(LimitExceeded, match="max_nodes"):  # chain thoughts count too: one graph
        await engine.record_thought("d1", RecordThought("step", 1, 1, False))
    await engine.graph_command("d1", LinkThoughts(a, b, "supports"))
    with pytest.raises(LimitExceeded, match="max_edges"):
        await engine.graph_command("d1", LinkThoughts(b, a, "conflicts"))
    assert await version(engine, "d1") == v + 1


async def test_a_retried_request_returns_the_first_result_and_writes_once(engine: Engine) -> None:
    first = await engine.graph_command("d1", StartDeliberation(GOAL, request_id="open"))
    again = await engine.graph_command("d1", StartDeliberation(GOAL, request_id="open"))
    assert again == first
    added = await engine.graph_command("d1", AddThought("Kafka", request_id="a1"))
    v = await version(engine, "d1")
    assert await engine.graph_command("d1", AddThought("Kafka", request_id="a1")) == added
    assert await version(engine, "d1") == v
    with pytest.raises(IdempotencyConflict):
        await engine.graph_command("d1", AddThought("Pulsar", request_id="a1"))
    with pytest.raises(IdempotencyConflict):  # same id, another tool
        await engine.graph_command("d1", LinkThoughts("t2", "t1", "supports", request_id="a1"))
    with pytest.raises(IdempotencyConflict):
        await engine.record_thought("d1", RecordThought("x", 1, 1, False, request_id="a1"))


async def test_the_chain_is_the_same_graph(engine: Engine) -> None:
    await start(engine, mode="cot")
    one = await engine.record_thought("d1", RecordThought("list the queues", 1, 3, True))
    two = await engine.record_thought("d1", RecordThought("Kafka is heavy", 2, 3, True))
    alt = await engine.record_thought("d1", RecordThought("or SQS", 3, 3, True, branch_from_thought=1, branch_id="b"))
    rev = await engine.record_thought("d1", RecordThought("Kafka is fine", 4, 4, False, revises_thought=2))
    view = await engine.graph_view("d1")
    nodes = {n["id"]: n for n in view["nodes"]}
    assert nodes[one["thoughtId"]]["parents"] == ["t1"]  # the chain hangs under the root
    assert nodes[two["thoughtId"]]["parents"] == [one["thoughtId"]]
    assert nodes[alt["thoughtId"]]["parents"] == [one["thoughtId"]] and nodes[alt["thoughtId"]]["branchId"] == "b"
    assert nodes[rev["thoughtId"]]["kind"] == "chain" and nodes[rev["thoughtId"]]["thoughtNumber"] == 4
    assert {"source": rev["thoughtId"], "target": two["thoughtId"], "kind": "refines"} in view["edges"]
    # Graph tools work on chain nodes, and chain numbering continues around them.
    idea = await add(engine, "what about NATS?", one["thoughtId"])
    await engine.graph_command("d1", LinkThoughts(idea, two["thoughtId"], "conflicts"))
    five = await engine.record_thought("d1", RecordThought("decide", 5, 5, False))
    assert five["thoughtHistoryLength"] == 5
    assert set(view["frontier"]) == {two["thoughtId"], rev["thoughtId"]}  # rev continues from alt


async def test_a_plain_chain_session_is_a_graph_too(engine: Engine) -> None:
    for n in (1, 2, 3):
        await engine.record_thought("c", RecordThought(f"step {n}", n, 3, n < 3))
    view = await engine.graph_view("c")
    assert view["deliberation"] is None
    assert [(n["id"], n["parents"]) for n in view["nodes"]] == [("t1", []), ("t2", ["t1"]), ("t3", ["t2"])]
    assert view["frontier"] == ["t3"]
    with pytest.raises(SessionNotFound):
        await engine.graph_command("nope", AddThought("x"))
    added = await engine.graph_command("c", AddThought("an aside", ("t2",)))
    assert added["node"]["parents"] == ["t2"]


async def test_clearing_history_keeps_the_deliberation_and_its_root(engine: Engine) -> None:
    await start(engine)
    await add(engine, "idea", "t1")
    await engine.record_thought("d1", RecordThought("step", 1, 1, False))
    cleared = await engine.clear_history("d1")
    assert cleared["cleared"] == 2  # every node but the root
    view = await engine.graph_view("d1")
    assert [n["id"] for n in view["nodes"]] == ["t1"] and view["frontier"] == ["t1"]
    assert view["deliberation"] is not None
    after = await add(engine, "fresh idea", "t1")
    assert after == "t4"  # ids are never reused
    with pytest.raises(UnknownReference):
        await add(engine, "child of a cleared node", "t2")


async def test_a_restarted_engine_rebuilds_the_same_graph_from_snapshot_and_log(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    first = Engine(SqliteEventStore(path), EngineConfig(snapshot_every=4))
    await first.start()
    await first.graph_command("d1", StartDeliberation(GOAL, mode="got"))
    await first.graph_command("d1", ExpandThoughts(("t1",), "least_to_most", 3))
    for i in range(12):
        await first.graph_command("d1", AddThought(f"option {i}: tradeoffs of queue {i}", ("t1",)))
    await first.graph_command("d1", LinkThoughts("t6", "t7", "depends_on", note="needs the schema"))
    await first.graph_command("d1", ScoreThoughts())
    await first.graph_command("d1", PruneThoughts(beam_width=4))
    await first.graph_command("d1", MergeBranches(("t2", "t3"), "Kafka with a schema registry"))
    await first.record_thought("d1", RecordThought("check the cost", 1, 1, False))
    view = await first.graph_view("d1")
    state = await first.load("d1")
    await first.stop()
    second = Engine(SqliteEventStore(path))
    await second.start()
    try:
        assert await second.store.load_snapshot("d1") is not None  # the load starts from a snapshot
        loaded = await second.load("d1")
        assert state is not None and loaded is not None and loaded.to_snapshot() == state.to_snapshot()
        assert await second.graph_view("d1") == view
        assert await second.verify("d1") is None
        statuses = {n["id"]: n["status"] for n in view["nodes"]}
        assert statuses["t2"] == statuses["t3"] == "merged"  # consumed by the merge, still in the graph
        pruned = [n for n in view["nodes"] if n["status"] == "pruned"]
        assert pruned and all(n["content"] for n in pruned)  # pruned nodes keep their text in the log
        assert any(e.get("note") == "needs the schema" for e in view["edges"])
    finally:
        await second.stop()


async def test_one_group_commit_can_build_on_its_own_nodes(engine: Engine) -> None:
    await start(engine)
    outcomes = await engine.execute_many(
        [
            ("d1", AddThought("Kafka: a durable log. Strong ordering.", ("t1",))),
            ("d1", AddThought("SQS: no servers to run. At-least-once.", ("t1",))),
            ("d1", DistillCluster(("t2", "t3"))),  # reads the texts of nodes of this same batch
            ("d1", AddThought("child of nothing", ("t99",))),  # fails alone
            ("d1", LinkThoughts("t4", "t2", "refines")),
        ]
    )
    assert isinstance(outcomes[3], UnknownReference)
    assert not any(isinstance(o, ThinkGateError) for i, o in enumerate(outcomes) if i != 3)
    view = await engine.graph_view("d1")
    distilled = next(n for n in view["nodes"] if n["kind"] == "distilled")
    assert distilled["content"] == "- Kafka: a durable log\n- SQS: no servers to run"
    assert distilled["provenance"] == {"mode": "heuristic", "tool": "distill_thought_cluster"}


async def test_scoring_labels_each_dimension_with_its_source_and_prune_follows_the_ranking(engine: Engine) -> None:
    await start(engine)
    for text in ("Kafka durable replay", "RabbitMQ routing flexible", "Redis streams cheap"):
        await add(engine, text, "t1")
    await engine.graph_command("d1", LinkThoughts("t3", "t2", "supports"))
    scored = await engine.graph_command(
        "d1", ScoreThoughts(scores=(("t4", (("correctness", 0.0), ("risk", 1.0))),), weights=(("novelty", 0.0),))
    )
    by_node = {s["node"]: s for s in scored["scores"]}
    assert by_node["t4"]["dims"]["correctness"] == {"value": 0.0, "source": "client"}
    assert by_node["t2"]["dims"]["correctness"] == {"value": 1.0, "source": "heuristic"}  # supported, no conflict
    assert scored["rankedNodeIds"][0] == "t2" and scored["rankedNodeIds"][-1] == "t4"
    pruned = await engine.graph_command("d1", PruneThoughts(beam_width=2))
    assert pruned["prunedNodeIds"] == ["t4"] and pruned["keptNodeIds"] == ["t2", "t3"]
    assert pruned["frontier"] == ["t2", "t3"]
    view = await engine.graph_view("d1")
    assert next(n for n in view["nodes"] if n["id"] == "t4")["status"] == "pruned"


async def test_skeleton_gate_blocks_poor_fits_without_writing_and_force_overrides(engine: Engine) -> None:
    await engine.graph_command("q", StartDeliberation("What is 17 * 23?", mode="sot"))
    v = await version(engine, "q")
    blocked = await engine.graph_command("q", StartSkeleton())
    assert blocked["phaseId"] is None and blocked["suitability"]["blocked"] is True
    assert "-exact_calculation" in blocked["suitability"]["signals"]
    assert await version(engine, "q") == v
    forced = await engine.graph_command("q", StartSkeleton(force=True, num_skeletons=3, style="decomposition"))
    assert forced["phaseId"] == "sot-1" and len(forced["skeletonNodeIds"]) == 3
    # An open, multi-aspect task passes the gate; elaborate it once, merge after.
    await start(engine, sid="plan", mode="sketch")
    skel = await engine.graph_command("plan", StartSkeleton(style="stakeholder_views", labels=("users", "ops")))
    assert skel["suitability"]["decision"] == "suitable"
    done = await engine.graph_command("plan", RunElaboration(depth=2, merge_after=True))
    assert done["status"] == "HEURISTIC_NODES_CREATED" and done["mergeNodeId"] is not None
    assert done["frontier"] == [done["mergeNodeId"]]
    with pytest.raises(InvalidInput, match="no skeleton phase"):
        await engine.graph_command("plan", RunElaboration())
    with pytest.raises(InvalidInput, match="already elaborated"):
        await engine.graph_command("plan", RunElaboration(phase_id="sot-1"))


async def test_refine_replaces_the_source_in_the_frontier_with_a_refines_edge(engine: Engine) -> None:
    await start(engine)
    a = await add(engine, "Use Kafka everywhere", "t1")
    result = await engine.graph_command(
        "d1", RefineThought(a, critique="too heavy for 10 msgs/s", refined_content="Use SQS; revisit at 10k msgs/s")
    )
    new = result["refinedNodeId"]
    assert result["refinementEdge"] == {
        "source": new,
        "target": a,
        "kind": "refines",
        "note": "critique: too heavy for 10 msgs/s",
    }
    assert result["frontier"] == [new]
    with pytest.raises(CycleRefused):
        await engine.graph_command("d1", LinkThoughts(a, new, "depends_on"))


async def test_merged_sources_stay_usable_but_leave_the_frontier_for_good(engine: Engine) -> None:
    await start(engine)
    a = await add(engine, "Kafka", "t1")
    b = await add(engine, "Pulsar", "t1")
    merged = await engine.graph_command("d1", MergeBranches((a, b), "A log-based broker"))
    assert merged["frontier"] == [merged["mergedNode"]["id"]]
    assert merged["frontierChange"] == {"added": [merged["mergedNode"]["id"]], "removed": [], "reset": True}
    child = await add(engine, "Kafka with tiered storage", a)  # a merged node can still grow
    await engine.graph_command("d1", LinkThoughts(b, child, "supports"))
    view = await engine.graph_view("d1")
    status = {n["id"]: n["status"] for n in view["nodes"]}
    assert status[a] == status[b] == "merged" and status[child] == "active"
    assert a not in view["frontier"] and child in view["frontier"]
