"""Verification and governance on PostgreSQL: two engines (replicas) share claims, decisions and outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pg import fresh_database

from thinkgate.domain.deliberation import AddThought, StartDeliberation
from thinkgate.domain.events import event_from_payload
from thinkgate.domain.governance import ClaimIn, Consensus, RecordAssumption, RecordOutcome, SetAssumptionStatus
from thinkgate.domain.state import replay
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.engine.governance import matrix_view, outcomes, route_view, run_governance, verify_claims
from thinkgate.errors import InvalidInput
from thinkgate.store.url import open_store

pytestmark = pytest.mark.anyio


async def test_two_replicas_share_the_ledger_and_every_outcome(tmp_path: Path) -> None:
    (tmp_path / "limits.txt").write_text("max_connections = 100\n", encoding="utf-8")
    url = fresh_database()
    config = EngineConfig(evidence_roots=(str(tmp_path),))
    a, b = Engine(open_store(url), config), Engine(open_store(url), config)
    await a.start()
    await b.start()
    try:
        await a.graph_command("s1", StartDeliberation(goal="size the pool"))
        await b.graph_command("s1", AddThought(content="a pool of 50"))
        quote = {
            "kind": "file",
            "stance": "supports",
            "path": "limits.txt",
            "lines": "1",
            "quote": "max_connections = 100",
        }
        first = await verify_claims(
            a, "s1", [ClaimIn("the server allows 100 connections", "critical", evidence=(quote,))]
        )
        assert first["claims"][0]["status"] == "verified"
        await run_governance(b, "s1", RecordAssumption(text="traffic stays under 2x", criticality="high"))

        blocked = await run_governance(a, "s1", Consensus())  # a sees b's assumption: it blocks
        assert blocked["status"] == "blocked" and blocked["answer"] is None
        assert [g["id"] for g in blocked["blockingGaps"]] == ["a1"]
        await run_governance(b, "s1", SetAssumptionStatus(assumption_id="a1", status="verified"))
        answered = await run_governance(a, "s1", Consensus())
        assert answered["status"] == "answered" and answered["answer"] == "a pool of 50"

        await run_governance(b, "s1", RecordOutcome(outcome=1.0, decision_id=answered["decisionId"]))
        with pytest.raises(InvalidInput):  # one outcome per decision, whichever replica is asked
            await run_governance(a, "s1", RecordOutcome(outcome=0.0, decision_id=answered["decisionId"]))
        seen_by_a, seen_by_b = await outcomes(a), await outcomes(b)
        assert seen_by_a == seen_by_b
        assert [(o["sessionId"], o["decisionId"], o["outcome"]) for o in seen_by_a] == [
            ("s1", answered["decisionId"], 1.0)
        ]

        assert await matrix_view(a, "s1") == await matrix_view(b, "s1")
        assert await route_view(a, "s1") == await route_view(b, "s1")
        rows = await a.events("s1")
        rebuilt = replay(event_from_payload(row.type, row.data()) for row in rows)
        assert rebuilt is not None and rebuilt.ledger == (await b.load("s1")).ledger  # type: ignore[union-attr]
        assert await a.verify("s1") is None
    finally:
        await a.stop()
        await b.stop()


async def test_a_replica_with_a_stale_cache_does_not_refuse_what_the_other_replica_added() -> None:
    url = fresh_database()
    a, b = Engine(open_store(url)), Engine(open_store(url))
    await a.start()
    await b.start()
    try:
        await a.graph_command("s2", StartDeliberation(goal="g"))
        await b.current("s2")  # b caches the session as it is now
        added = await a.graph_command("s2", AddThought(content="made on a"))
        node = added["node"]["id"]
        # b's cached state has no such node: the refusal is re-decided on the fresh state.
        child = await b.graph_command("s2", AddThought(content="made on b", parent_ids=(node,)))
        assert child["node"]["parents"] == [node]
        await verify_claims(a, "s2", [ClaimIn("x", "low")])
        await run_governance(b, "s2", RecordAssumption(text="y"))
        assert sorted((await matrix_view(b, "s2"))["statuses"]) == ["data_deficit"]
    finally:
        await a.stop()
        await b.stop()
