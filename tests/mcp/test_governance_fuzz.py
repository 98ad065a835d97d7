"""Arguments of any shape to the governance tools: a result or a coded error, never INTERNAL, and
every session's log stays verifiable.

Evidence items are drawn both as well-formed items of every kind (real files under a real root,
allow-listed and other programs, urls, text) and as arbitrary values, so calls get past argument
validation into the checks, the ledger and the route decision.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp import Client
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import TOOLSETS
from thinkgate.store.sqlite import SqliteEventStore

GOVERNANCE = sorted(TOOLSETS["governance"])
GOOD_IDS = st.sampled_from(["c1", "c2", "c3", "a1", "a2", "d1", "d2", "d99"])
IDS = st.one_of(GOOD_IDS, GOOD_IDS, GOOD_IDS, st.sampled_from(["t1", "", "x y", "c" * 70]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    IDS,
    st.sampled_from(["critical", "high", "open", "accepted_risk", "deep", "paranoid", "success", "refutes"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=10,
)
TEXTS = st.one_of(st.sampled_from(["Add Redis", "the quote", "first line"]), st.text(max_size=20))
PATHS = st.sampled_from(["notes.md", "../outside.txt", "/etc/hostname", "escape.txt", "missing.md", "", "notes.md\x00"])
EXPRESSIONS = st.one_of(
    st.sampled_from(["1 + 1", "2 ** 10", "1 / 0", "10 ** 999", "2 ** 2 ** 2 ** 2", "((((1))))", "3 > 2 > 1", "x"]),
    st.text(alphabet="0123456789+-*/%().<>=! e", max_size=40),
)
EVIDENCE = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("file"),
            "path": PATHS,
            "lines": st.sampled_from(["1", "1-2", "0", "2-1", "9", "x"]),
            "quote": st.sampled_from(["first line", "second", "first line second line", "x"]),
        },
        optional={"stance": st.sampled_from(["supports", "refutes"])},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("calc"), "expression": EXPRESSIONS},
        optional={"expected": SCALARS, "stance": st.sampled_from(["supports", "refutes"])},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("command"),
            "argv": st.lists(
                st.sampled_from(["true", "false", "ls", "/bin/true", "", "-c", "x"]), min_size=1, max_size=3
            ),
        },
        optional={"expectExitCode": st.integers(0, 2), "cwd": PATHS, "stance": st.sampled_from(["refutes"])},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("url"), "url": st.sampled_from(["https://a.example.com/x", "http://127.0.0.1/", "nope", ""])},
        optional={"tier": st.integers(1, 3), "stance": st.sampled_from(["supports", "refutes"])},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("text"), "text": st.text(min_size=1, max_size=20)}, optional={"source": TEXTS}
    ),
)
EVIDENCE = st.one_of(
    *[EVIDENCE] * 7,
    st.dictionaries(
        st.sampled_from(["kind", "stance", "path", "url", "argv", "tier", "expectExitCode", "bogus"]),
        VALUES,
        max_size=4,
    ),
)
CLAIM = st.fixed_dictionaries(
    {"text": TEXTS},
    optional={
        "criticality": st.sampled_from(["critical", "high", "medium", "low", "urgent"]),
        "claimId": GOOD_IDS,
        "evidence": st.lists(EVIDENCE, max_size=3),
        "thoughtIds": st.lists(st.sampled_from(["t1", "t2", "t9"]), max_size=2),
    },
)
SPECIFIC: dict[str, st.SearchStrategy[Any]] = {
    "claims": st.lists(CLAIM, max_size=3),
    "evidence": st.lists(EVIDENCE, min_size=1, max_size=3),
    "policy": st.dictionaries(
        st.sampled_from(["minIndependentGroups", "allowTier3", "requireCheckedForCritical", "failClosed", "x"]),
        st.one_of(st.booleans(), st.integers(0, 9)),
        max_size=3,
    ),
    "recheck": st.booleans(),
    "requestId": st.sampled_from(["r1", "r2"]),
    "sessionId": st.sampled_from(["nope", "", "x" * 200]),
    "claimId": st.one_of(st.just("c1"), IDS),
    "minIndependentGroups": st.integers(-1, 10),
    "allowTier3": st.booleans(),
    "requireCheckedForCritical": st.booleans(),
    "failClosed": st.booleans(),
    "text": TEXTS,
    "criticality": st.sampled_from(["critical", "high", "medium", "low", "urgent"]),
    "status": st.sampled_from(["open", "verified", "invalidated", "accepted_risk", "closed"]),
    "assumptionId": IDS,
    "thoughtIds": st.lists(st.sampled_from(["t1", "t2", "t9"]), max_size=2),
    "note": TEXTS,
    "profile": st.sampled_from(["quick", "balanced", "deep", "paranoid", "insane"]),
    "summary": TEXTS,
    "candidates": st.lists(
        st.fixed_dictionaries(
            {"answer": TEXTS}, optional={"votes": st.one_of(st.integers(-1, 5), SCALARS), "score": SCALARS}
        ),
        max_size=3,
    ),
    "critiques": st.dictionaries(
        st.sampled_from(["first_principles", "trade_offs", "brutal_honesty", "fallacy_detection", "triangulation"]),
        TEXTS,
        max_size=3,
    ),
    "outcome": st.sampled_from(["success", "failure", "maybe"]),
    "score": st.floats(-0.5, 1.5),
    "decisionId": IDS,
}
PARAMETERS = {
    "verify_thoughts": ("claims", "policy", "recheck"),
    "add_evidence": ("claimId", "evidence"),
    "set_verification_policy": ("minIndependentGroups", "allowTier3", "requireCheckedForCritical", "failClosed"),
    "record_assumption": ("text", "criticality", "status", "assumptionId", "thoughtIds"),
    "set_assumption_status": ("assumptionId", "status", "note"),
    "run_reasoning_checkpoint": ("profile", "note"),
    "converge_reasoning": ("summary", "profile"),
    "consensus_answer": ("candidates", "profile"),
    "run_governance_pipeline": ("profile", "critiques"),
    "record_outcome": ("outcome", "score", "decisionId", "note"),
}
assert set(PARAMETERS) == set(GOVERNANCE)
REQUIRED = {
    "verify_thoughts": ("claims",),
    "add_evidence": ("claimId", "evidence"),
    "record_assumption": ("text",),
    "set_assumption_status": ("assumptionId", "status"),
}
COMMON = ("requestId", "sessionId", "unknownArgument")


@st.composite
def call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A tool and arguments: mostly its own names with plausible values, sometimes anything."""
    tool = draw(st.sampled_from(GOVERNANCE))
    names = draw(st.lists(st.sampled_from(PARAMETERS[tool] + COMMON), max_size=5, unique=True))
    if draw(st.integers(0, 5)) > 0:  # usually with the arguments the tool requires
        names = list(dict.fromkeys([*REQUIRED.get(tool, ()), *names]))
    arguments: dict[str, Any] = {}
    for name in names:
        if name in COMMON and draw(st.integers(0, 3)) > 0:
            continue  # rarely: another session, a retry key or an unknown name
        plausible = SPECIFIC.get(name)
        arguments[name] = draw(VALUES if plausible is None or draw(st.integers(0, 9)) == 0 else plausible)
    return tool, arguments


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-gov")
    (base / "outside.txt").write_text("outside\n")
    root = base / "root"
    root.mkdir()
    (root / "notes.md").write_text("first line\nsecond line\n")
    (root / "escape.txt").symlink_to(base / "outside.txt")
    return root


@pytest.fixture(scope="module")
def served(root: Path) -> Iterator[tuple[Engine, Any]]:
    """One engine and server for every example (building a server is the slow part); a session per example."""
    engine = Engine(
        SqliteEventStore(root.parent / "fuzz.db"),
        EngineConfig(evidence_roots=(str(root),), evidence_commands=frozenset({"true", "false"})),
    )
    yield engine, build_server(engine)


_numbers = itertools.count(1)


async def _run(client: Client, engine: Engine, sid: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
    async def ok(name: str, arguments: dict[str, Any]) -> None:
        result = await client.call_tool(name, {"sessionId": sid, **arguments})
        assert not result.is_error, (name, result.content)

    await ok("start_deliberation", {"goal": "Should we add a cache?", "mode": "got"})
    await ok("add_thought", {"content": "Add Redis"})
    await ok(
        "verify_thoughts",
        {"claims": [{"text": "TTL", "evidence": [{"kind": "calc", "expression": "1", "expected": 1}]}]},
    )
    await ok("record_assumption", {"text": "flat traffic", "criticality": "high"})
    await ok("run_reasoning_checkpoint", {})
    for name, given_arguments in calls:
        arguments = {"sessionId": sid, **given_arguments}
        result = await client.call_tool(name, arguments)
        if result.is_error:
            code = (result.meta or {}).get("thinkgate/error", {}).get("code")
            assert code is not None and code != "INTERNAL", (name, arguments, result.content)
    # Still serving, every stored check can run again, and the session's log is intact.
    await ok("verify_thoughts", {"recheck": True})
    await ok("run_reasoning_checkpoint", {})
    assert await engine.verify(sid) is None


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(call(), min_size=1, max_size=6))
def test_any_arguments_get_a_result_or_a_coded_error(served: tuple[Engine, Any], calls: list[Any]) -> None:
    engine, server = served
    sid = f"g{next(_numbers)}"

    async def go() -> None:
        await engine.start()
        try:
            with anyio.fail_after(60):
                async with Client(server, mode="legacy") as client:
                    await _run(client, engine, sid, calls)
        finally:
            await engine.stop()

    anyio.run(go)
