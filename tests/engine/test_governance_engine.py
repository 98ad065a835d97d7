"""Verification and governance over a real SQLite file: evidence checks on real files, restarts, audit, calibration."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from thinkgate.domain.calibration import MIN_OUTCOMES_FOR_MAP, choose_map
from thinkgate.domain.deliberation import AddThought, StartDeliberation
from thinkgate.domain.events import event_from_payload
from thinkgate.domain.governance import (
    ClaimIn,
    RecordAssumption,
    RecordOutcome,
    RunCheckpoint,
    SetAssumptionStatus,
    SetPolicy,
    VerifyClaims,
)
from thinkgate.domain.state import replay
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.engine.governance import (
    add_evidence,
    assumptions_view,
    checkpoints_view,
    matrix_view,
    outcomes,
    route_view,
    run_governance,
    verify_claims,
)
from thinkgate.errors import InvalidInput, SessionNotFound, UnknownReference
from thinkgate.store.url import open_store

pytestmark = pytest.mark.anyio

SOURCE = "def handler(event):\n    # retries are idempotent\n    return process(event)\n"


class Rig:
    """Engines on one SQLite file (a restart is a new engine on the same file), with a root of real files."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'events.db'}"
        self.root = (tmp_path / "work").resolve()
        (self.root / "repo" / ".git").mkdir(parents=True)
        (self.root / "repo" / "app.py").write_text(SOURCE)
        (self.root / "notes.txt").write_text("the queue holds at most 500 messages\n")
        (tmp_path / "secret.txt").write_text("the queue holds at most 500 messages\n")
        (self.root / "escape.txt").symlink_to(tmp_path / "secret.txt")
        self.engines: list[Engine] = []

    async def engine(self, **config: Any) -> Engine:
        store = open_store(self.url)
        await store.open()
        engine = Engine(store, EngineConfig(evidence_roots=(str(self.root),), **config))
        self.engines.append(engine)
        return engine

    async def close(self) -> None:
        for engine in reversed(self.engines):
            await engine.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        await r.close()


async def session(engine: Engine, profile: str = "balanced") -> str:
    sid = engine.new_session_id()
    await engine.graph_command(sid, StartDeliberation("Choose a billing queue", profile=profile))
    return sid


async def version(engine: Engine, sid: str) -> int:
    info = await engine.store.session(sid)
    return 0 if info is None else info.version


def quote(path: str, lines: str, text: str, stance: str = "supports") -> dict[str, Any]:
    return {"kind": "file", "stance": stance, "path": path, "lines": lines, "quote": text}


def calc(expression: str, expected: Any, stance: str = "supports") -> dict[str, Any]:
    return {"kind": "calc", "stance": stance, "expression": expression, "expected": expected}


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["claimId"]: c for c in result["claims"]}


async def test_verify_claims_checks_real_files_and_records_what_it_read(rig: Rig) -> None:
    engine = await rig.engine()
    sid = await session(engine)
    result = await verify_claims(
        engine,
        sid,
        [
            ClaimIn(
                "retries are idempotent",
                "critical",
                "idem",
                evidence=(quote("repo/app.py", "2", "retries  are\nidempotent"),),
            ),
            ClaimIn(
                "the quote is wrong", "high", "wrong", evidence=(quote("repo/app.py", "1-3", "retries are lossy"),)
            ),
            ClaimIn("escapes the root", "medium", "dots", evidence=(quote("../secret.txt", "1", "500 messages"),)),
            ClaimIn("escapes by a link", "medium", "link", evidence=(quote("escape.txt", "1", "500 messages"),)),
            ClaimIn("arithmetic", "low", "sum", evidence=(calc("0.1 + 0.2", "0.3"), calc("2 ** 10", 1000, "refutes"))),
        ],
    )
    claims = by_id(result)
    assert {k: c["status"] for k, c in claims.items()} == {
        "idem": "verified",
        "wrong": "data_deficit",
        "dots": "data_deficit",
        "link": "data_deficit",
        "sum": "verified",  # a passed supporting calc; the refuting one failed its check
    }
    (idem,) = claims["idem"]["evidence"]
    assert (idem["check"], idem["tier"], idem["group"], idem["counts"]) == (
        "passed",
        1,
        f"repo:{rig.root / 'repo'}",
        True,
    )
    assert idem["details"]["sha256"] == hashlib.sha256(SOURCE.encode()).hexdigest()
    assert idem["details"]["linesSha256"] == hashlib.sha256(b"    # retries are idempotent").hexdigest()
    assert claims["wrong"]["evidence"][0]["check"] == "failed"
    assert [c["evidence"][0]["check"] for c in (claims["dots"], claims["link"])] == ["not_checked", "not_checked"]
    assert [e["check"] for e in claims["sum"]["evidence"]] == ["passed", "failed"]
    assert result["route"]["decision"] != "blocked"
    # The check results are in the log: the matrix after a reload shows the same.
    matrix = await matrix_view(engine, sid)
    assert {c["claimId"]: c["status"] for c in matrix["claims"]} == {k: c["status"] for k, c in claims.items()}


async def test_a_failed_check_never_verifies_a_critical_claim_and_blocks(rig: Rig) -> None:
    engine = await rig.engine()
    sid = await session(engine)
    result = await verify_claims(
        engine,
        sid,
        [ClaimIn("limit is 500", "critical", "limit", evidence=(quote("notes.txt", "1", "at most 600 messages"),))],
    )
    assert by_id(result)["limit"]["status"] == "data_deficit"
    assert result["route"]["decision"] == "blocked"
    assert [(g["kind"], g["id"]) for g in result["route"]["blockingGaps"]] == [("claim", "limit")]
    fixed = await add_evidence(engine, sid, "limit", [quote("notes.txt", "1", "at most 500 messages")])
    assert by_id(fixed)["limit"]["status"] == "verified"
    assert fixed["route"]["decision"] == "proceed"


async def test_recheck_runs_the_stored_checks_again_after_a_file_changed(rig: Rig) -> None:
    engine = await rig.engine()
    sid = await session(engine)
    await verify_claims(
        engine, sid, [ClaimIn("limit is 500", "critical", "limit", evidence=(quote("notes.txt", "1", "500 messages"),))]
    )
    (rig.root / "notes.txt").write_text("the queue holds at most 50 messages\n")
    result = await verify_claims(engine, sid, [], recheck=True)
    (claim,) = result["claims"]
    assert claim["status"] == "data_deficit"
    assert claim["evidence"][0]["check"] == "failed"
    state = await engine.load(sid)
    assert state is not None
    assert state.ledger.claims["limit"]["evidence"][0]["recheckedOf"] == "passed"
    assert result["route"]["decision"] == "blocked"


async def test_a_retry_returns_the_first_result_even_when_the_file_changed_since(rig: Rig) -> None:
    """The checks run before the command is decided; a retried request id writes nothing and re-answers."""
    engine = await rig.engine()
    sid = await session(engine)
    claim = ClaimIn("limit is 500", "high", "limit", evidence=(quote("notes.txt", "1", "500 messages"),))
    first = await verify_claims(engine, sid, [claim], request_id="r1")
    written = await version(engine, sid)
    (rig.root / "notes.txt").write_text("nothing here\n")
    again = await verify_claims(engine, sid, [claim], request_id="r1")
    assert again == first and await version(engine, sid) == written


async def test_a_refused_command_writes_nothing(rig: Rig) -> None:
    engine = await rig.engine(evidence_commands=frozenset({"touch"}))
    sid = await session(engine)
    await verify_claims(engine, sid, [ClaimIn("known", "low", "c1")])
    written = await version(engine, sid)
    ran = {"kind": "command", "stance": "supports", "argv": ["touch", "ran-before-refusal"]}
    with pytest.raises(UnknownReference):
        await add_evidence(engine, sid, "c404", [ran, quote("notes.txt", "1", "500")])
    # Refused before any check ran: the allow-listed program never touched its file.
    assert not (rig.root / "ran-before-refusal").exists()
    with pytest.raises(InvalidInput):
        await verify_claims(engine, sid, [ClaimIn("bad", "urgent", evidence=(calc("1", 1),))])
    with pytest.raises(InvalidInput):
        await run_governance(engine, sid, SetPolicy((("minIndependentGroups", 9),)))
    with pytest.raises(UnknownReference):
        await run_governance(engine, sid, SetAssumptionStatus("a404", "verified"))
    with pytest.raises(UnknownReference):
        await run_governance(engine, sid, RecordOutcome(1.0))  # no decision yet
    assert await version(engine, sid) == written
    with pytest.raises(SessionNotFound):
        await verify_claims(engine, "s-does-not-exist", [ClaimIn("x", evidence=(calc("1", 1),))])
    assert await engine.store.session("s-does-not-exist") is None


async def test_a_checker_that_raised_blocks_the_route_through_reloads(rig: Rig) -> None:
    """The result ``verify_claims`` records when ``check_evidence`` caught an exception (``error=True``)."""
    engine = await rig.engine()
    sid = await session(engine)
    raised = {
        "check": "failed",
        "reason": "checker error: OSError",
        "tier": 3,
        "group": "unknown",
        "details": {},
        "error": True,
    }
    command = VerifyClaims(
        claims=(
            ClaimIn("fine", "low", "ok"),
            ClaimIn("odd", "low", "odd", evidence=(quote("repo/app.py", "1", "def"),)),
        ),
        checks=((), (raised,)),
    )
    result = await run_governance(engine, sid, command)
    (evidence,) = by_id(result)["odd"]["evidence"]
    assert (evidence["check"], evidence.get("error")) == ("failed", True)
    await run_governance(engine, sid, SetPolicy((("failClosed", False),)))
    restarted = await rig.engine()
    for eng in (engine, restarted):
        route = await route_view(eng, sid)
        assert route["decision"] == "blocked"
        assert [(g["kind"], g["id"], g["claimId"]) for g in route["blockingGaps"]] == [
            ("evaluation_error", "e1", "odd")
        ]
    # A recheck whose checker no longer raises clears the gap.
    cleared = await verify_claims(restarted, sid, [], recheck=True)
    assert cleared["route"]["decision"] != "blocked"
    assert by_id(cleared)["odd"]["status"] == "verified"


async def test_a_path_the_file_system_refuses_is_a_failed_check_not_a_checker_error(rig: Rig) -> None:
    engine = await rig.engine(evidence_commands=frozenset({"true"}))
    sid = await session(engine)
    result = await verify_claims(
        engine,
        sid,
        [
            ClaimIn("long path", "low", "file", evidence=(quote("x" * 300 + "/app.py", "1", "def"),)),
            ClaimIn(
                "long cwd",
                "low",
                "cmd",
                evidence=({"kind": "command", "stance": "supports", "argv": ["true"], "cwd": "y" * 300},),
            ),
            ClaimIn("fine", "low", "ok", evidence=(calc("1 + 1", 2),)),
        ],
    )
    claims = by_id(result)
    assert [claims[c]["evidence"][0].get("error", False) for c in ("file", "cmd")] == [False, False]
    assert result["route"]["decision"] != "blocked"


async def test_a_restart_from_a_snapshot_gives_the_same_ledger_and_route_and_the_audit_passes(rig: Rig) -> None:
    engine = await rig.engine(snapshot_every=2)
    sid = await session(engine, "quick")
    await engine.graph_command(sid, AddThought("use replicas", ("t1",)))
    await verify_claims(
        engine,
        sid,
        [
            ClaimIn("idempotent", "critical", evidence=(quote("repo/app.py", "2", "retries are idempotent"),)),
            ClaimIn(
                "cheap", "medium", evidence=({"kind": "url", "stance": "supports", "url": "https://a.example.com/p"},)
            ),
        ],
    )
    await run_governance(engine, sid, RecordAssumption("traffic stays flat", "high"))
    await run_governance(engine, sid, SetAssumptionStatus("a1", "accepted_risk", note="reviewed"))
    await run_governance(engine, sid, SetPolicy((("minIndependentGroups", 1),)))
    await run_governance(engine, sid, RunCheckpoint(note="first"))
    await add_evidence(engine, sid, "c2", [calc("3 * 7", 21, "refutes")])
    await run_governance(engine, sid, RunCheckpoint())
    await run_governance(engine, sid, RecordOutcome(1.0, "d1"))
    state = await engine.load(sid)
    assert state is not None
    snapshot = await engine.store.load_snapshot(sid)
    assert snapshot is not None and 1 < snapshot.version <= state.version
    route = await route_view(engine, sid)
    views = (await matrix_view(engine, sid), await assumptions_view(engine, sid), await checkpoints_view(engine, sid))

    restarted = await rig.engine(snapshot_every=2)
    reloaded = await restarted.load(sid)
    assert reloaded is not None
    assert reloaded.ledger.to_snapshot() == state.ledger.to_snapshot()
    assert reloaded.to_snapshot() == state.to_snapshot()
    rows = await restarted.events(sid)
    full = replay(event_from_payload(r.type, r.data()) for r in rows)
    assert full is not None and full.to_snapshot() == state.to_snapshot()
    assert await route_view(restarted, sid) == route
    assert (
        await matrix_view(restarted, sid),
        await assumptions_view(restarted, sid),
        await checkpoints_view(restarted, sid),
    ) == views
    assert await engine.verify(sid) is None
    assert await restarted.verify(sid) is None


async def test_outcomes_gather_every_sessions_recorded_outcomes(rig: Rig) -> None:
    engine = await rig.engine()
    first, second = await session(engine), await session(engine, "deep")
    await verify_claims(engine, first, [ClaimIn("ok", "high", evidence=(calc("2 + 2", 4),))])
    one = await run_governance(engine, first, RunCheckpoint())
    two = await run_governance(engine, second, RunCheckpoint())
    await run_governance(engine, first, RecordOutcome(1.0, one["decisionId"], note="shipped"))
    await run_governance(engine, second, RecordOutcome(0.25))
    with pytest.raises(InvalidInput):
        await run_governance(engine, second, RecordOutcome(1.0, two["decisionId"]))  # already has one
    with pytest.raises(InvalidInput):
        await run_governance(engine, second, RecordOutcome(1.5))
    records = await engine.outcomes()
    assert records == await outcomes(engine)
    got = {(r["sessionId"], r["decisionId"]): r for r in records}
    assert set(got) == {(first, one["decisionId"]), (second, two["decisionId"])}
    a, b = got[(first, one["decisionId"])], got[(second, two["decisionId"])]
    assert (a["profile"], a["decision"], a["outcome"]) == ("balanced", one["routeDecision"]["decision"], 1.0)
    assert (a["confidence"], a["rawConfidence"]) == (
        one["routeDecision"]["confidence"],
        one["routeDecision"]["rawConfidence"],
    )
    assert (b["profile"], b["decision"], b["outcome"]) == ("deep", "blocked", 0.25)
    assert all(isinstance(r["recordedAt"], str) and r["recordedAt"] for r in records)


async def test_a_calibration_map_applies_once_enough_outcomes_are_recorded(rig: Rig) -> None:
    engine = await rig.engine()
    sids = [await session(engine), await session(engine)]
    await verify_claims(engine, sids[0], [ClaimIn("ok", "high", evidence=(calc("2 + 2", 4),))])
    for i in range(MIN_OUTCOMES_FOR_MAP):
        sid = sids[i % 2]
        # Lower the raw confidence step by step (a low assumption left open), so the map has a shape.
        if i % 4 == 0:
            await run_governance(engine, sid, RecordAssumption(f"assumption {i}", "low"))
        checkpoint = await run_governance(engine, sid, RunCheckpoint())
        route = checkpoint["routeDecision"]
        assert route["calibration"] == {"applied": False}
        assert route["confidence"] == route["rawConfidence"]
        await run_governance(engine, sid, RecordOutcome(1.0 if i % 3 else 0.0, checkpoint["decisionId"]))
    records = await engine.outcomes()
    assert len(records) == MIN_OUTCOMES_FOR_MAP
    fitted = choose_map(records, "balanced")
    assert fitted is not None and fitted.outcomes == MIN_OUTCOMES_FOR_MAP
    assert len({r["rawConfidence"] for r in records}) > 2
    assert engine.calibrations["balanced"] == fitted

    taken: dict[str, dict[str, Any]] = {}
    for sid in sids:
        route = await route_view(engine, sid)
        assert route["calibration"]["applied"] is True
        assert route["calibration"]["outcomes"] == MIN_OUTCOMES_FOR_MAP
        # Reported to 4 decimals, rounded down (never up into a higher band).
        assert (
            route["confidence"]
            == math.floor(min(1.0, max(0.0, fitted.apply(route["rawConfidence"]))) * 1e4 + 1e-9) / 1e4
        )
        checkpoint = await run_governance(engine, sid, RunCheckpoint())
        recorded = checkpoint["routeDecision"]
        assert recorded["calibration"]["applied"] is True
        assert recorded["calibration"]["points"] == [list(p) for p in fitted.points]
        assert recorded["confidence"] == route["confidence"]
        taken[sid] = checkpoint
    # The outcome of a calibrated decision keeps both numbers: the map is fitted on the raw one.
    await run_governance(engine, sids[0], RecordOutcome(1.0))
    (latest,) = [r for r in await engine.outcomes() if r["decisionId"] == taken[sids[0]]["decisionId"]]
    route = taken[sids[0]]["routeDecision"]
    assert (latest["confidence"], latest["rawConfidence"]) == (route["confidence"], route["rawConfidence"])


async def test_evidence_roots_bound_what_a_file_check_may_read(rig: Rig, tmp_path: Path) -> None:
    engine = await rig.engine()
    sid = await session(engine)
    outside = os.fspath(tmp_path / "secret.txt")
    result = await verify_claims(
        engine,
        sid,
        [
            ClaimIn("absolute path outside", "low", "abs", evidence=(quote(outside, "1", "500 messages"),)),
            ClaimIn(
                "absolute path inside", "low", "in", evidence=(quote(os.fspath(rig.root / "notes.txt"), "1", "500"),)
            ),
        ],
        client_roots=[rig.root.as_uri()],
    )
    claims = by_id(result)
    assert claims["abs"]["evidence"][0]["check"] == "not_checked"
    assert claims["in"]["evidence"][0]["check"] == "passed"
    # A client that offers an empty list of roots gets no file checks at all (fail closed).
    none = await verify_claims(
        engine, sid, [ClaimIn("no roots", "low", "none", evidence=(quote("notes.txt", "1", "500"),))], client_roots=[]
    )
    assert by_id(none)["none"]["evidence"][0]["check"] == "not_checked"


async def test_one_call_may_hold_at_most_sixteen_command_items(rig: Rig) -> None:
    from thinkgate.engine.governance import MAX_COMMANDS_PER_CALL

    engine = await rig.engine(evidence_commands=frozenset({"touch"}))
    sid = await session(engine)
    ran = {"kind": "command", "stance": "supports", "argv": ["touch", "too-many"]}
    with pytest.raises(InvalidInput, match="command items per call"):
        await verify_claims(engine, sid, [ClaimIn("x", "low", evidence=(ran,) * (MAX_COMMANDS_PER_CALL + 1))])
    assert not (rig.root / "too-many").exists()  # refused before any of them ran
    done = await verify_claims(engine, sid, [ClaimIn("x", "low", evidence=(ran,) * MAX_COMMANDS_PER_CALL)])
    assert [e["check"] for e in done["claims"][0]["evidence"]] == ["passed"] * MAX_COMMANDS_PER_CALL


async def test_a_recheck_counts_its_stored_commands_towards_the_cap(rig: Rig) -> None:
    from thinkgate.engine.governance import MAX_COMMANDS_PER_CALL

    engine = await rig.engine(evidence_commands=frozenset({"true"}))
    sid = await session(engine)
    ran = {"kind": "command", "stance": "supports", "argv": ["true"]}
    for n in range(2):
        await verify_claims(
            engine, sid, [ClaimIn(f"claim {n}", "low", f"k{n}", evidence=(ran,) * MAX_COMMANDS_PER_CALL)]
        )
    written = await version(engine, sid)
    with pytest.raises(InvalidInput, match="recheck fewer claims"):
        await verify_claims(engine, sid, [], recheck=True)
    assert await version(engine, sid) == written
    one = await verify_claims(engine, sid, [ClaimIn("claim 0", None, "k0")], recheck=True)
    assert [c["claimId"] for c in one["claims"]] == ["k0"]
