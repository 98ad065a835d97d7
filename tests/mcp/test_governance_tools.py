"""The verification and governance tools as agents and third-party clients use them.

Through the official SDK client, in-process, in both protocol eras, on a real SQLite file with a
real evidence root on disk (files, a symlink pointing out of it, two git repositories) and real
allow-listed programs: every evidence kind checked or refused, claim statuses, every blocked
condition, the band edges of the route decision, consensus and convergence, outcomes, idempotent
retries, unknown arguments, rechecks after a file changed, and the resources and prompts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from mcp import Client
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS, TOOLSETS
from thinkgate.store.memory import MemoryEventStore
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

GOVERNANCE = TOOLSETS["governance"]
GOAL = "Decide whether the catalogue API should add a Redis cache in front of PostgreSQL"
CACHE_PY = "def ttl_seconds():\n    return   60  *\t5\n\n# Cache entries expire after five minutes.\n"
NOTES = "Latency budget: p99 under 50 ms.\nThe catalogue changes hourly.\n"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """One event loop for the module, so one server serves every test (building it is the slow part)."""
    return "asyncio"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An evidence root with two git repositories and symlinks out; a secret file outside it."""
    base = tmp_path_factory.mktemp("governance")
    root = base / "root"
    for repo in ("app", "lib"):
        (root / repo / ".git").mkdir(parents=True)
    (root / "app" / "cache.py").write_text(CACHE_PY)
    (root / "lib" / "README.md").write_text("lib: a Redis client wrapper\n")
    (root / "notes.md").write_text(NOTES)
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret is 42\n")
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    return root


@pytest.fixture
def scratch(workspace: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A file of this test's own under the root (holding ``CACHE_PY``), for tests that change it."""
    path = workspace / "app" / f"scratch_{abs(hash(request.node.nodeid))}.py"
    path.write_text(CACHE_PY)
    yield path
    path.unlink()


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory, workspace: Path) -> AsyncIterator[tuple[Engine, Any]]:
    """One engine on a real SQLite file and one server over it; every test opens its own session."""
    eng = Engine(
        SqliteEventStore(tmp_path_factory.mktemp("store") / "gov.db"),
        EngineConfig(evidence_roots=(str(workspace),), evidence_commands=frozenset({"true", "false"})),
    )
    await eng.start()
    yield eng, build_server(eng)
    await eng.stop()


@pytest.fixture
def engine(served: tuple[Engine, Any]) -> Engine:
    return served[0]


@pytest.fixture(params=["legacy", "auto"])
async def client(request: pytest.FixtureRequest, served: tuple[Engine, Any]) -> AsyncIterator[Client]:
    async with Client(served[1], mode=request.param) as c:
        yield c


# -- helpers ------------------------------------------------------------------------------------


def error_code(result: Any) -> str:
    """The stable code of an error result: it leads the text and is repeated in ``_meta``."""
    assert result.is_error, result
    assert result.structured_content is None
    code: str = result.meta["thinkgate/error"]["code"]
    assert result.content[0].text.startswith(f"{code}: ")
    return code


async def read_json(c: Client, uri: str) -> Any:
    res = await c.read_resource(uri)
    assert res.contents[0].mime_type == "application/json"
    return json.loads(res.contents[0].text)  # type: ignore[union-attr]


async def version(engine: Engine, sid: str) -> int:
    info = await engine.store.session(sid)
    return info.version if info is not None else 0


class Session:
    """A session as a client holds it: every call names its id (the 2026 era has no connection default)."""

    def __init__(self, c: Client, sid: str) -> None:
        self.c = c
        self.sid = sid

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        result = await self.c.call_tool(name, {"sessionId": self.sid, **arguments})
        if not result.is_error:
            assert json.loads(result.content[0].text) == result.structured_content
        return result

    async def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        out: dict[str, Any] = result.structured_content
        return out

    async def code(self, name: str, arguments: dict[str, Any]) -> str:
        return error_code(await self.call(name, arguments))

    async def claim(
        self, *evidence: dict[str, Any], criticality: str = "medium", claim_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Verify one claim with ``evidence``; its view."""
        claim = {"text": "The cache TTL is five minutes", "criticality": criticality, "evidence": list(evidence)}
        if claim_id is not None:
            claim["claimId"] = claim_id
        out = await self.ok("verify_thoughts", {"claims": [claim], **extra})
        view: dict[str, Any] = out["claims"][0]
        return view

    async def assume(self, criticality: str, status: str, text: str = "Hourly changes stay hourly") -> str:
        out = await self.ok("record_assumption", {"text": text, "criticality": criticality, "status": status})
        aid: str = out["assumption"]["assumptionId"]
        return aid

    async def route(self) -> dict[str, Any]:
        doc: dict[str, Any] = await read_json(self.c, f"thinkgate://session/{self.sid}/route-decision")
        return doc

    async def resource(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = await read_json(self.c, f"thinkgate://session/{self.sid}/{name}")
        return doc


async def open_session(c: Client, **kw: Any) -> Session:
    out = (await c.call_tool("start_deliberation", {"goal": GOAL, **kw})).structured_content
    assert out is not None
    return Session(c, out["deliberationId"])


def file_ev(path: str, lines: str, quote: str, stance: str = "supports") -> dict[str, Any]:
    return {"kind": "file", "stance": stance, "path": path, "lines": lines, "quote": quote}


def calc(expression: str, expected: Any, stance: str = "supports") -> dict[str, Any]:
    return {"kind": "calc", "stance": stance, "expression": expression, "expected": expected}


def cmd(*argv: str, exit_code: int | None = None, stance: str = "supports") -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "command", "stance": stance, "argv": list(argv)}
    if exit_code is not None:
        item["expectExitCode"] = exit_code
    return item


def url(address: str, tier: int | None = None, stance: str = "supports") -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "url", "stance": stance, "url": address}
    if tier is not None:
        item["tier"] = tier
    return item


def text(statement: str, source: str, stance: str = "supports") -> dict[str, Any]:
    return {"kind": "text", "stance": stance, "text": statement, "source": source}


# An unknown decision, assumption or claim (an unknown thought stays UNKNOWN_THOUGHT).
UNKNOWN_REF = {"UNKNOWN_REFERENCE"}
PASS = calc("60 * 5", 300)  # a passed supporting check
ONE_DOMAIN = url("https://redis.io/docs/latest/develop/use/keyspace/")
TWO_DOMAINS = (ONE_DOMAIN, url("https://aws.amazon.com/caching/best-practices/"))


# -- the tool surface ---------------------------------------------------------------------------


async def test_the_governance_toolset_is_on_by_default_with_ten_tools(client: Client) -> None:
    assert "governance" in DEFAULT_TOOLSETS
    names = {t.name for t in (await client.list_tools()).tools}
    assert set(GOVERNANCE) <= names
    assert set(GOVERNANCE) == {
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


async def test_governance_tools_have_descriptions_titles_and_honest_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in GOVERNANCE:
        tool = tools[name]
        assert tool.description and 40 < len(tool.description) < 2048, name
        assert tool.title, name
        ann = tool.annotations
        assert ann is not None and ann.read_only_hint is False and ann.destructive_hint is False, name
        # Only the two tools that read files and run programs reach outside the session.
        assert ann.open_world_hint is (name in ("verify_thoughts", "add_evidence")), name


def _untyped(schema: Any, where: str) -> list[str]:
    """Where a schema (or an anyOf member, item or property schema) names no type."""
    if not isinstance(schema, dict):
        return [where]
    if "$ref" in schema:
        return [f"{where} ($ref)"]
    if "anyOf" in schema:
        return [bad for i, alt in enumerate(schema["anyOf"]) for bad in _untyped(alt, f"{where}.anyOf[{i}]")]
    if "type" not in schema:
        return [where]
    bad: list[str] = []
    for key, sub in schema.get("properties", {}).items():
        bad += _untyped(sub, f"{where}.{key}")
    if isinstance(schema.get("items"), dict):
        bad += _untyped(schema["items"], f"{where}[]")
    return bad


async def test_every_governance_argument_has_an_explicit_type_and_enums_are_listed(client: Client) -> None:
    tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    bad = [b for name in GOVERNANCE for b in _untyped(tools[name], name)]
    assert bad == []
    claim = tools["verify_thoughts"]["properties"]["claims"]["items"]
    assert set(claim["properties"]["criticality"]["enum"]) == {"critical", "high", "medium", "low"}
    evidence = claim["properties"]["evidence"]["items"]["properties"]
    assert set(evidence["kind"]["enum"]) == {"file", "calc", "command", "url", "text"}
    assert set(evidence["stance"]["enum"]) == {"supports", "refutes"}
    policy = tools["set_verification_policy"]["properties"]["minIndependentGroups"]
    assert (policy["minimum"], policy["maximum"]) == (1, 8)
    assert set(tools["set_assumption_status"]["properties"]["status"]["enum"]) == {
        "open",
        "verified",
        "invalidated",
        "accepted_risk",
    }
    assert set(tools["record_outcome"]["properties"]["outcome"]["enum"]) == {"success", "failure"}
    for name in ("run_reasoning_checkpoint", "converge_reasoning", "consensus_answer", "run_governance_pipeline"):
        assert set(tools[name]["properties"]["profile"]["enum"]) == {"quick", "balanced", "deep", "paranoid"}
    critiques = tools["run_governance_pipeline"]["properties"]["critiques"]["properties"]
    assert set(critiques) == {
        "first_principles",
        "causal_modelling",
        "trade_offs",
        "fallacy_detection",
        "brutal_honesty",
    }


# -- file evidence ------------------------------------------------------------------------------


async def test_a_correct_file_quote_passes_at_tier_1_with_the_file_and_lines_hashed(
    client: Client, workspace: Path
) -> None:
    s = await open_session(client)
    view = await s.claim(file_ev("app/cache.py", "1-2", "def ttl_seconds(): return 60 * 5"))
    (ev,) = view["evidence"]
    assert (ev["check"], ev["tier"], ev["counts"]) == ("passed", 1, True)
    assert ev["group"] == f"repo:{workspace / 'app'}"
    assert ev["evidenceId"] == "e1" and ev["reason"]
    import hashlib

    assert ev["details"]["sha256"] == hashlib.sha256(CACHE_PY.encode()).hexdigest()
    assert len(ev["details"]["linesSha256"]) == 64
    assert view["status"] == "verified" and view["claimId"] == "c1"


@pytest.mark.parametrize(
    "quote",
    ["return 60 * 5", "  return\t60   *  5  ", "return 60\n*\n5"],
    ids=["single-spaces", "extra-whitespace", "line-breaks"],
)
async def test_a_quote_matches_after_whitespace_normalisation(client: Client, quote: str) -> None:
    s = await open_session(client)
    view = await s.claim(file_ev("app/cache.py", "2", quote))
    assert view["evidence"][0]["check"] == "passed", view["evidence"][0]["reason"]


@pytest.mark.parametrize(
    ("lines", "quote", "why"),
    [
        ("2", "return 60 * 10", "wrong quote"),
        ("1", "return 60 * 5", "quote on another line"),
        ("9", "return", "past the end"),
        ("4-7", "five minutes", "range past the end"),
    ],
)
async def test_a_wrong_quote_or_missing_lines_fail_and_count_for_nothing(
    client: Client, lines: str, quote: str, why: str
) -> None:
    s = await open_session(client)
    view = await s.claim(file_ev("app/cache.py", lines, quote))
    (ev,) = view["evidence"]
    assert (ev["check"], ev["counts"], ev["tier"]) == ("failed", False, 3), why
    assert ev["reason"]
    assert view["status"] == "data_deficit"


async def test_a_malformed_line_range_is_refused_or_failed_never_passed(client: Client) -> None:
    s = await open_session(client)
    for lines in ("0", "3-1", "two"):
        result = await s.call(
            "verify_thoughts", {"claims": [{"text": "x", "evidence": [file_ev("notes.md", lines, "p99")]}]}
        )
        if not result.is_error:
            assert result.structured_content["claims"][0]["evidence"][0]["check"] == "failed", lines


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "app/../../outside/secret.txt", "ABSOLUTE", "escape.txt", "escape_dir/secret.txt"],
    ids=["dotdot", "dotdot-inside", "absolute", "symlink-file", "symlink-dir"],
)
async def test_paths_escaping_the_roots_are_not_read_and_not_counted(
    client: Client, workspace: Path, path: str
) -> None:
    if path == "ABSOLUTE":
        path = str(workspace.parent / "outside" / "secret.txt")
    s = await open_session(client)
    view = await s.claim(file_ev(path, "1", "the secret is 42"))
    (ev,) = view["evidence"]
    assert (ev["check"], ev["counts"]) == ("not_checked", False)
    assert "outside" in ev["reason"]
    assert "sha256" not in ev.get("details", {})  # never read
    assert view["status"] == "data_deficit"


async def test_an_absolute_path_inside_the_root_is_read(client: Client, workspace: Path) -> None:
    s = await open_session(client)
    view = await s.claim(file_ev(str(workspace / "notes.md"), "1", "p99 under 50 ms"))
    assert view["evidence"][0]["check"] == "passed"
    assert view["evidence"][0]["group"] == f"root:{workspace}"


# -- calc evidence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected", "check"),
    [
        ("60 * 5", 300, "passed"),
        ("60 * 5", "300", "passed"),
        ("0.1 + 0.2", "0.3", "passed"),
        ("1 / 3", "1/3", "passed"),
        ("2 ** 10 // 3 % 7", 5, "passed"),
        ("3 > 2 >= 2", True, "passed"),
        ("60 * 5", 301, "failed"),
        ("1 / 0", 1, "failed"),
        ("2 ** 5000", 1, "failed"),
        ("__import__('os')", 0, "failed"),
    ],
)
async def test_calculations_are_computed_exactly_and_compared(
    client: Client, expression: str, expected: Any, check: str
) -> None:
    s = await open_session(client)
    view = await s.claim(calc(expression, expected))
    (ev,) = view["evidence"]
    assert ev["check"] == check, ev["reason"]
    assert ev["group"] == "calc"
    assert ev["tier"] == (1 if check == "passed" else 3)
    assert view["status"] == ("verified" if check == "passed" else "data_deficit")


async def test_a_large_integer_expected_value_is_compared_exactly(client: Client) -> None:
    s = await open_session(client)
    view = await s.claim(calc("2 ** 60 + 1", 2**60 + 1))
    assert view["evidence"][0]["check"] == "passed", view["evidence"][0]["reason"]


# -- command evidence ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "check", "why"),
    [
        (cmd("true"), "passed", "allowed, exit 0 as expected"),
        (cmd("false", exit_code=1), "passed", "allowed, exit 1 as expected"),
        (cmd("false"), "failed", "wrong exit code"),
        (cmd("true", exit_code=3), "failed", "wrong exit code"),
        (cmd("ls", "-la"), "not_checked", "not on the allow-list"),
        (cmd("/usr/bin/true"), "not_checked", "a path, not a bare name"),
        (cmd("./true"), "not_checked", "a relative path"),
    ],
)
async def test_commands_run_only_when_allow_listed_and_pass_on_the_expected_exit_code(
    client: Client, workspace: Path, item: dict[str, Any], check: str, why: str
) -> None:
    s = await open_session(client)
    view = await s.claim(item)
    (ev,) = view["evidence"]
    assert ev["check"] == check, (why, ev["reason"])
    assert ev["counts"] is (check == "passed")
    assert ev["tier"] == (1 if check == "passed" else 3)
    assert ev["group"] == f"command:{Path(item['argv'][0]).name}"
    if check != "not_checked":
        assert ev["details"]["cwd"] == str(workspace)  # the first root
        assert len(ev["details"]["outputSha256"]) == 64
    if check == "not_checked":
        assert "allow-list" in ev["reason"]


async def test_a_command_cwd_outside_the_roots_is_not_run(client: Client, workspace: Path) -> None:
    s = await open_session(client)
    view = await s.claim({**cmd("true"), "cwd": str(workspace.parent / "outside")})
    assert view["evidence"][0]["check"] == "not_checked"
    inside = await s.claim({**cmd("true"), "cwd": str(workspace / "app")})
    assert inside["evidence"][0]["check"] == "passed"
    assert inside["evidence"][0]["details"]["cwd"] == str(workspace / "app")


# -- url and text evidence, groups and tiers ----------------------------------------------------


async def test_two_urls_on_one_registrable_domain_are_one_group(client: Client) -> None:
    s = await open_session(client)
    view = await s.claim(url("https://docs.python.org/3/library/functools.html"), url("https://www.python.org/about/"))
    assert [e["group"] for e in view["evidence"]] == ["domain:python.org", "domain:python.org"]
    assert view["supportGroups"] == ["domain:python.org"]
    assert view["status"] == "data_deficit"


async def test_two_domains_verify_a_non_critical_claim_but_not_a_critical_one(client: Client) -> None:
    s = await open_session(client)
    for criticality in ("low", "medium", "high"):
        view = await s.claim(*TWO_DOMAINS, criticality=criticality)
        assert view["status"] == "verified", criticality
        assert sorted(view["supportGroups"]) == ["domain:amazon.com", "domain:redis.io"]
        assert all(e["check"] == "not_checked" and e["counts"] for e in view["evidence"])
    critical = await s.claim(*TWO_DOMAINS, criticality="critical")
    assert critical["status"] == "data_deficit"
    assert "requireCheckedForCritical" in critical["reason"]
    relaxed = await s.claim(*TWO_DOMAINS, criticality="critical", policy={"requireCheckedForCritical": False})
    assert relaxed["status"] == "verified"


async def test_a_url_declared_tier_1_is_reported_as_tier_2_and_tier_3_does_not_count(client: Client) -> None:
    s = await open_session(client)
    view = await s.claim(url("https://redis.io/a", tier=1), url("https://example.org/b", tier=3))
    first, second = view["evidence"]
    assert (first["tier"], first["counts"], first["check"]) == (2, True, "not_checked")
    assert (second["tier"], second["counts"]) == (3, False)
    assert view["status"] == "data_deficit"


async def test_text_is_tier_3_and_counts_only_with_allow_tier_3(client: Client) -> None:
    s = await open_session(client)
    items = (text("TTL is 5 min", "Ops runbook"), text("TTL is 5 min", "On-call  chat"))
    view = await s.claim(*items)
    assert [(e["tier"], e["check"], e["counts"]) for e in view["evidence"]] == [(3, "not_checked", False)] * 2
    assert [e["group"] for e in view["evidence"]] == ["source:ops runbook", "source:on-call chat"]
    assert view["status"] == "data_deficit"

    # a per-call override judges this claim only
    override = await s.claim(*items, policy={"allowTier3": True})
    assert override["status"] == "verified"
    assert override["policy"]["allowTier3"] is True
    assert all(e["counts"] for e in override["evidence"])
    matrix = await s.resource("verification-matrix")
    assert [c["status"] for c in matrix["claims"]] == ["data_deficit", "verified"]

    # the session policy judges every claim without an override
    out = await s.ok("set_verification_policy", {"allowTier3": True})
    assert out["policy"] == {
        "minIndependentGroups": 2,
        "allowTier3": True,
        "requireCheckedForCritical": True,
        "failClosed": True,
    }
    matrix = await s.resource("verification-matrix")
    assert [c["status"] for c in matrix["claims"]] == ["verified", "verified"]
    assert matrix["policy"]["allowTier3"] is True


async def test_a_per_call_override_changes_only_the_fields_it_names(client: Client) -> None:
    s = await open_session(client)
    await s.ok("set_verification_policy", {"minIndependentGroups": 1, "failClosed": False})
    view = await s.claim(text("TTL is 5 min", "Ops runbook"), criticality="critical", policy={"allowTier3": True})
    assert view["policy"] == {
        "minIndependentGroups": 1,
        "allowTier3": True,
        "requireCheckedForCritical": True,
        "failClosed": False,
    }
    assert (await s.route())["decision"] != "blocked"  # the session does not fail closed


async def test_min_independent_groups_from_the_session_policy_decides_verification(client: Client) -> None:
    s = await open_session(client)
    one = await s.claim(ONE_DOMAIN)
    assert one["status"] == "data_deficit"
    out = await s.ok("set_verification_policy", {"minIndependentGroups": 1})
    assert out["route"]["decision"] == "proceed_with_monitoring"  # 0.9 × 1: declared support is capped
    assert (await s.resource("verification-matrix"))["claims"][0]["status"] == "verified"
    await s.ok("set_verification_policy", {"minIndependentGroups": 3})
    assert (await s.resource("verification-matrix"))["claims"][0]["status"] == "data_deficit"
    for bad in (0, 9):
        assert await s.code("set_verification_policy", {"minIndependentGroups": bad}) == "INVALID_INPUT"
    assert await s.code("set_verification_policy", {}) == "INVALID_INPUT"


# -- conflicts ----------------------------------------------------------------------------------


async def test_supporting_and_refuting_counting_evidence_is_a_source_conflict(client: Client) -> None:
    s = await open_session(client)
    view = await s.claim(*TWO_DOMAINS, url("https://stackoverflow.com/q/1", stance="refutes"))
    assert view["status"] == "source_conflict"
    assert view["refuteGroups"] == ["domain:stackoverflow.com"]
    checked = await s.claim(PASS, url("https://stackoverflow.com/q/1", stance="refutes"))
    assert checked["status"] == "source_conflict"
    both = await s.claim(PASS, calc("60 * 5", 300, stance="refutes"))
    assert both["status"] == "source_conflict"


async def test_a_checked_refutation_without_checked_support_refutes(client: Client) -> None:
    s = await open_session(client)
    view = await s.claim(*TWO_DOMAINS, file_ev("notes.md", "2", "The catalogue changes hourly.", stance="refutes"))
    assert view["status"] == "refuted"
    # a refutation that failed its check counts for nothing
    failed = await s.claim(*TWO_DOMAINS, calc("1 + 1", 3, stance="refutes"))
    assert failed["status"] == "verified"


# -- blocked conditions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "status"),
    [
        ([], "data_deficit"),
        ([ONE_DOMAIN], "data_deficit"),
        ([*TWO_DOMAINS], "data_deficit"),
        ([ONE_DOMAIN, calc("1 + 1", 2, stance="refutes")], "refuted"),
        ([PASS, url("https://stackoverflow.com/q/1", stance="refutes")], "source_conflict"),
    ],
)
async def test_a_critical_claim_that_is_not_verified_blocks(
    client: Client, evidence: list[dict[str, Any]], status: str
) -> None:
    s = await open_session(client)
    view = await s.claim(*evidence, criticality="critical")
    assert view["status"] == status
    route = await s.route()
    assert route["decision"] == "blocked"
    (gap,) = route["blockingGaps"]
    assert (gap["kind"], gap["id"], gap["status"]) == ("claim", "c1", status)
    assert "critical" in gap["reason"] and status in gap["reason"]
    # the same claim at high criticality is an open issue, not a gap
    high = await s.claim(criticality="high", claim_id="c1")
    assert high["criticality"] == "high" and len(high["evidence"]) == len(evidence)
    route = await s.route()
    assert route["decision"] != "blocked" and route["blockingGaps"] == []
    # two domains verify a high claim (only critical ones need a passed check); else an open issue
    assert high["status"] == ("verified" if evidence == list(TWO_DOMAINS) else status)
    assert [i["id"] for i in route["openIssues"]] == ([] if high["status"] == "verified" else ["c1"])


@pytest.mark.parametrize(
    ("criticality", "status", "blocks"),
    [
        ("critical", "open", True),
        ("high", "open", True),
        ("critical", "invalidated", True),
        ("high", "invalidated", True),
        ("medium", "open", False),
        ("low", "invalidated", False),
        ("critical", "accepted_risk", False),
        ("critical", "verified", False),
    ],
)
async def test_critical_and_high_assumptions_block_while_open_or_invalidated(
    client: Client, criticality: str, status: str, blocks: bool
) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    aid = await s.assume(criticality, status)
    route = await s.route()
    assert (route["decision"] == "blocked") is blocks
    if blocks:
        assert [(g["kind"], g["id"], g["status"]) for g in route["blockingGaps"]] == [("assumption", aid, status)]
    assumptions = (await s.resource("assumptions"))["assumptions"]
    assert assumptions[0]["blocking"] is blocks


async def test_accepting_a_risk_unblocks_but_lowers_the_confidence(client: Client) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    aid = await s.assume("critical", "open")
    assert (await s.route())["decision"] == "blocked"
    out = await s.ok("set_assumption_status", {"assumptionId": aid, "status": "accepted_risk", "note": "owner: ops"})
    assert out["assumption"]["blocking"] is False
    assert out["route"]["decision"] == "proceed_with_caution"
    assert out["route"]["confidence"] == pytest.approx(0.80)
    verified = await s.ok("set_assumption_status", {"assumptionId": aid, "status": "verified"})
    assert (verified["route"]["decision"], verified["route"]["confidence"]) == ("proceed", 1.0)
    history = (await s.resource("assumptions"))["assumptions"][0]["history"]
    assert [(h["from"], h["to"]) for h in history] == [("open", "accepted_risk"), ("accepted_risk", "verified")]
    assert history[0]["note"] == "owner: ops"
    assert await s.code("set_assumption_status", {"assumptionId": "a99", "status": "verified"}) in UNKNOWN_REF


@pytest.mark.parametrize(
    ("profile", "missing"),
    [
        ("deep", ["first_principles", "fallacy_detection", "brutal_honesty"]),
        ("paranoid", ["first_principles", "causal_modelling", "trade_offs", "fallacy_detection", "brutal_honesty"]),
    ],
)
async def test_deep_and_paranoid_block_on_unsubmitted_critiques_until_they_are_submitted(
    client: Client, profile: str, missing: list[str]
) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    balanced = await s.ok("run_reasoning_checkpoint", {})
    assert balanced["routeDecision"]["decision"] == "proceed"  # the default profile needs no critique
    checkpoint = await s.ok("run_reasoning_checkpoint", {"profile": profile})
    route = checkpoint["routeDecision"]
    assert route["decision"] == "blocked" and route["profile"] == profile
    assert [g["id"] for g in route["blockingGaps"] if g["kind"] == "stage"] == missing
    assert any("run_governance_pipeline" in step for step in checkpoint["nextSteps"])

    pipeline = await s.ok(
        "run_governance_pipeline", {"profile": profile, "critiques": {missing[0]: "Reduced to facts."}}
    )
    findings = {f["stage"]: f for f in pipeline["findings"]}
    assert findings[missing[0]]["basis"] == "agent_critique"
    assert all(findings[m]["basis"] == "unavailable" and findings[m]["required"] for m in missing[1:])
    assert findings["triangulation"]["basis"] == "session"
    assert pipeline["routeDecision"]["decision"] == "blocked"

    rest = {stage: f"My critique for {stage}." for stage in missing[1:]}
    done = await s.ok("run_governance_pipeline", {"profile": profile, "critiques": rest})
    assert done["routeDecision"]["decision"] == "proceed"
    assert done["routeDecision"]["blockingGaps"] == []
    factor = {"deep": 0.98, "paranoid": 0.95}[profile]
    assert done["routeDecision"]["confidence"] == pytest.approx(factor)


async def test_a_deliberation_profile_is_the_default_governance_profile(client: Client) -> None:
    s = await open_session(client, profile="deep")
    await s.claim(PASS)
    route = await s.route()
    assert route["profile"] == "deep" and route["decision"] == "blocked"


async def test_fail_closed_false_turns_gaps_into_open_issues(client: Client) -> None:
    s = await open_session(client)
    await s.claim(ONE_DOMAIN, criticality="critical")
    await s.assume("high", "open")
    assert len((await s.route())["blockingGaps"]) == 2
    out = await s.ok("set_verification_policy", {"failClosed": False})
    assert out["route"]["decision"] != "blocked" and out["route"]["blockingGaps"] == []
    route = await s.route()
    assert {i["kind"] for i in route["openIssues"]} == {"claim", "assumption"}
    deep = await s.ok("run_reasoning_checkpoint", {"profile": "deep"})
    assert deep["routeDecision"]["decision"] != "blocked"
    assert {i["kind"] for i in deep["routeDecision"]["openIssues"]} == {"claim", "assumption", "stage"}


# -- the route decision's bands -----------------------------------------------------------------

BANDS = [
    (0.95, "proceed"),
    (0.85, "proceed_with_monitoring"),
    (0.70, "proceed_with_caution"),
    (0.50, "gather_more_data"),
]


def band(confidence: float) -> str:
    return next((name for edge, name in BANDS if confidence >= edge), "do_not_proceed")


# (claims as (criticality, evidence), assumptions as (criticality, status), confidence by the documented formula)
MIXES = [
    pytest.param([("medium", [PASS])], [], 1.0, id="all-checked"),
    pytest.param([("medium", [PASS])], [("low", "open")], 0.95, id="edge-0.95"),
    pytest.param([("medium", list(TWO_DOMAINS))], [], 0.9, id="declared-cap-0.9"),
    pytest.param([("medium", [PASS])], [("high", "accepted_risk")], 0.85, id="edge-0.85"),
    pytest.param([("critical", [PASS]), ("low", [])], [], 0.8, id="weighted-0.8"),
    pytest.param([("medium", [PASS]), ("medium", [ONE_DOMAIN])], [], 0.725, id="half-support-0.725"),
    pytest.param([("medium", [PASS])], [("medium", "invalidated")], 0.70, id="edge-0.70"),
    pytest.param([("medium", list(TWO_DOMAINS)), ("medium", [ONE_DOMAIN])], [], 0.675, id="0.675"),
    pytest.param(
        [("medium", [PASS, url("https://stackoverflow.com/q", stance="refutes")])], [], 0.55, id="conflict-0.55"
    ),
    pytest.param([("medium", [PASS]), ("medium", [])], [], 0.5, id="edge-0.50"),
    pytest.param([("medium", [PASS]), ("medium", [])], [("low", "open")], 0.475, id="below-0.475"),
    pytest.param([("medium", [ONE_DOMAIN])], [], 0.45, id="one-group-0.45"),
    pytest.param([("low", [calc("1", 1, stance="refutes")])], [], 0.0, id="refuted-0"),
]


@pytest.mark.parametrize(("claims", "assumptions", "confidence"), MIXES)
async def test_the_confidence_follows_the_documented_formula_and_maps_to_its_band(
    client: Client,
    claims: list[tuple[str, list[dict[str, Any]]]],
    assumptions: list[tuple[str, str]],
    confidence: float,
) -> None:
    s = await open_session(client)
    await s.ok(
        "verify_thoughts",
        {"claims": [{"text": f"claim {i}", "criticality": c, "evidence": ev} for i, (c, ev) in enumerate(claims)]},
    )
    for criticality, status in assumptions:
        await s.assume(criticality, status)
    route = await s.route()
    assert route["confidence"] == pytest.approx(confidence, abs=1e-4)
    assert route["rawConfidence"] == route["confidence"]  # no outcomes yet: no calibration map
    assert route["calibration"] == {"applied": False}
    assert route["decision"] == band(route["confidence"]) == band(confidence)
    factors = route["factors"]
    product = factors["claims"] * factors["assumptions"] * factors["conflicts"] * factors["branches"]
    assert product * factors["profile"] == pytest.approx(factors["raw"], abs=1e-4)
    checkpoint = await s.ok("run_reasoning_checkpoint", {})
    assert checkpoint["routeDecision"]["decision"] == route["decision"]
    assert checkpoint["gates"]["route"] == {"decision": route["decision"], "confidence": route["confidence"]}


async def test_the_policy_resource_lists_the_same_bands(client: Client) -> None:
    config = await read_json(client, "thinkgate://config/policy")
    assert [(b["atLeast"], b["decision"]) for b in config["bands"]] == [*BANDS, (0.0, "do_not_proceed")]


# -- consensus and convergence ------------------------------------------------------------------


async def test_a_blocked_consensus_is_a_normal_result_with_no_answer(client: Client) -> None:
    s = await open_session(client)
    await s.claim(ONE_DOMAIN, criticality="critical")
    result = await s.call("consensus_answer", {"candidates": [{"answer": "Add Redis", "votes": 3}, {"answer": "No"}]})
    assert result.is_error is False
    out = result.structured_content
    assert (out["status"], out["answer"]) == ("blocked", None)
    assert [g["id"] for g in out["blockingGaps"]] == ["c1"]
    assert out["routeDecision"]["decision"] == "blocked"
    decisions = (await s.resource("checkpoints"))["decisions"]
    assert [(d["decisionId"], d["op"], d["decision"]) for d in decisions] == [("d1", "consensus_answer", "blocked")]


async def test_consensus_chooses_by_votes_then_score_merging_equal_answers(client: Client) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    out = await s.ok(
        "consensus_answer",
        {
            "candidates": [
                {"answer": "Add Redis", "votes": 2},
                {"answer": "Use a CDN", "votes": 3, "score": 0.4},
                {"answer": "add   REDIS", "votes": 1, "score": 0.9},
            ]
        },
    )
    assert (out["status"], out["answer"]) == ("answered", "Add Redis")
    assert out["support"]["votes"] == 3 and out["support"]["totalVotes"] == 6
    assert out["support"]["share"] == 0.5 and out["support"]["score"] == 0.9
    assert out["support"]["runnerUp"] == "Use a CDN"
    assert out["routeDecision"]["decision"] == "proceed" and out["decisionId"] == "d1"
    assert await s.code("consensus_answer", {"candidates": []}) == "INVALID_INPUT"
    assert await s.code("consensus_answer", {"candidates": [{"answer": "x", "votes": -1}]}) == "INVALID_INPUT"


async def test_consensus_without_candidates_uses_the_frontier(client: Client) -> None:
    s = await open_session(client)
    await s.ok("add_thought", {"content": "Cache-aside with Redis, 5 minute TTL"})
    await s.ok("add_thought", {"content": "Put a CDN in front"})
    await s.ok("score_thoughts", {"scores": {"t2": {"correctness": 0.9}, "t3": {"correctness": 0.2}}})
    await s.claim(PASS)
    out = await s.ok("consensus_answer", {})
    assert out["answer"] == "Cache-aside with Redis, 5 minute TTL"
    assert out["support"]["nodeIds"] == ["t2"]


async def test_converge_writes_a_node_only_when_nothing_blocks(client: Client, engine: Engine) -> None:
    s = await open_session(client)
    await s.claim(ONE_DOMAIN, criticality="critical")
    before_graph = await s.resource("graph")
    before = await version(engine, s.sid)
    blocked = await s.ok("converge_reasoning", {"summary": "Add Redis"})
    assert (blocked["status"], blocked["written"], blocked["nodeId"]) == ("blocked", False, None)
    assert blocked["blockingGaps"] and blocked["nextSteps"]
    assert await version(engine, s.sid) == before
    assert await s.resource("graph") == before_graph

    await s.ok("add_evidence", {"claimId": "c1", "evidence": [PASS]})
    done = await s.ok("converge_reasoning", {"summary": "Add Redis with a 5 minute TTL"})
    assert (done["status"], done["written"]) == ("converged", True)
    view = await s.resource("graph")
    node = next(n for n in view["nodes"] if n["id"] == done["nodeId"])
    assert node["kind"] == "convergence"
    assert view["frontier"] == [done["nodeId"]]
    decisions = (await s.resource("checkpoints"))["decisions"]
    assert decisions[-1]["decisionId"] == done["decisionId"] and decisions[-1]["op"] == "converge_reasoning"


# -- outcomes -----------------------------------------------------------------------------------


async def test_record_outcome_needs_a_recorded_decision_and_takes_one_outcome_per_decision(
    client: Client, engine: Engine
) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    assert await s.code("record_outcome", {"outcome": "success"}) in UNKNOWN_REF
    first = await s.ok("run_reasoning_checkpoint", {})
    second = await s.ok("consensus_answer", {"candidates": [{"answer": "Add Redis"}]})
    assert (first["decisionId"], second["decisionId"]) == ("d1", "d2")

    latest = await s.ok("record_outcome", {"outcome": "success"})
    assert latest["recorded"]["decisionId"] == "d2" and latest["recorded"]["outcome"] == 1.0
    assert latest["recorded"]["confidence"] == second["routeDecision"]["confidence"]
    named = await s.ok("record_outcome", {"score": 0.25, "decisionId": "d1", "note": "partly"})
    assert named["recorded"]["outcome"] == 0.25 and named["outcomes"] == 2

    before = await version(engine, s.sid)
    assert await s.code("record_outcome", {"outcome": "failure", "decisionId": "d1"}) == "INVALID_INPUT"
    assert await s.code("record_outcome", {"outcome": "failure"}) == "INVALID_INPUT"  # the latest, d2, again
    assert await s.code("record_outcome", {"outcome": "failure", "decisionId": "d9"}) in UNKNOWN_REF
    assert await s.code("record_outcome", {"outcome": "success", "score": 1}) == "INVALID_INPUT"
    assert await s.code("record_outcome", {}) == "INVALID_INPUT"
    assert await s.code("record_outcome", {"score": 1.5}) == "INVALID_INPUT"
    assert await version(engine, s.sid) == before
    outcomes = (await s.resource("checkpoints"))["outcomes"]
    assert [(o["decisionId"], o["outcome"]) for o in outcomes] == [("d2", 1.0), ("d1", 0.25)]
    assert [o["decisionId"] for o in await engine.outcomes() if o["sessionId"] == s.sid] == ["d2", "d1"]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("record_outcome", {"outcome": "success", "decisionId": "d9"}),
        ("set_assumption_status", {"assumptionId": "a9", "status": "verified"}),
        ("add_evidence", {"claimId": "c9", "evidence": [{"kind": "calc", "expression": "1", "expected": 1}]}),
    ],
)
async def test_an_unknown_decision_assumption_or_claim_is_an_unknown_reference(
    client: Client, tool: str, arguments: dict[str, Any]
) -> None:
    s = await open_session(client)
    await s.ok("run_reasoning_checkpoint", {})
    assert await s.code(tool, arguments) == "UNKNOWN_REFERENCE"


async def test_enough_outcomes_fit_a_calibration_map_that_the_route_decision_applies() -> None:
    engine = Engine(MemoryEventStore())
    await engine.start()
    try:
        async with Client(build_server(engine), mode="legacy") as c:
            s = await open_session(c)
            await s.claim(PASS)
            for _ in range(30):  # MIN_OUTCOMES_FOR_MAP: every "proceed" at 1.0 turned out a failure
                checkpoint = await s.ok("run_reasoning_checkpoint", {})
                assert checkpoint["routeDecision"]["calibration"] == {"applied": False}
                await s.ok("record_outcome", {"outcome": "failure"})
            route = await s.route()
            config = await read_json(c, "thinkgate://config/policy")
    finally:
        await engine.stop()
    assert route["calibration"]["applied"] is True
    assert route["rawConfidence"] == 1.0 and route["confidence"] == 0.0
    assert route["decision"] == "do_not_proceed" and "calibrated" in route["rationale"]
    assert "balanced" in config["calibration"]["fittedProfiles"]


# -- idempotent retries -------------------------------------------------------------------------

RETRIES = [
    ("verify_thoughts", {"claims": [{"text": "TTL", "evidence": [PASS]}]}, {"claims": [{"text": "TTL 2"}]}),
    ("add_evidence", {"claimId": "c1", "evidence": [ONE_DOMAIN]}, {"claimId": "c1", "evidence": [PASS]}),
    ("set_verification_policy", {"minIndependentGroups": 1}, {"minIndependentGroups": 3}),
    ("record_assumption", {"text": "Stable", "criticality": "low"}, {"text": "Stable", "criticality": "high"}),
    ("set_assumption_status", {"assumptionId": "a1", "status": "verified"}, {"assumptionId": "a1", "status": "open"}),
    ("run_reasoning_checkpoint", {"note": "first"}, {"note": "second"}),
    ("converge_reasoning", {"summary": "Add Redis"}, {"summary": "Add a CDN"}),
    ("consensus_answer", {"candidates": [{"answer": "Redis"}]}, {"candidates": [{"answer": "CDN"}]}),
    ("run_governance_pipeline", {"critiques": {"trade_offs": "cost"}}, {"critiques": {"trade_offs": "risk"}}),
    ("record_outcome", {"outcome": "success", "decisionId": "d1"}, {"outcome": "failure", "decisionId": "d1"}),
]


@pytest.mark.parametrize(("tool", "first", "other"), RETRIES, ids=[r[0] for r in RETRIES])
async def test_a_retry_with_the_same_request_id_is_answered_again_and_writes_nothing(
    client: Client, engine: Engine, tool: str, first: dict[str, Any], other: dict[str, Any]
) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    await s.assume("low", "open")
    await s.ok("run_reasoning_checkpoint", {})
    a = await s.ok(tool, {**first, "requestId": "req-1"})
    written = await version(engine, s.sid)
    b = await s.ok(tool, {**first, "requestId": "req-1"})
    assert b == a
    assert await version(engine, s.sid) == written
    assert await s.code(tool, {**other, "requestId": "req-1"}) == "IDEMPOTENCY_CONFLICT"
    assert await version(engine, s.sid) == written


async def test_a_retried_verification_is_not_checked_again(client: Client, scratch: Path) -> None:
    s = await open_session(client)
    args = {"claims": [{"text": "TTL", "evidence": [file_ev(str(scratch), "2", "return 60 * 5")]}], "requestId": "v"}
    a = await s.ok("verify_thoughts", args)
    assert a["claims"][0]["status"] == "verified"
    await anyio.Path(scratch).write_text("changed\n")
    assert await s.ok("verify_thoughts", args) == a


# -- refused arguments --------------------------------------------------------------------------


@pytest.mark.parametrize("tool", GOVERNANCE)
async def test_an_unknown_argument_name_is_refused_and_nothing_is_written(
    client: Client, engine: Engine, tool: str
) -> None:
    s = await open_session(client)
    before = await version(engine, s.sid)
    result = await s.call(tool, {"claimsList": [], "criticallity": "high"})
    assert error_code(result) == "INVALID_INPUT"
    assert "claimsList" in result.content[0].text
    assert await version(engine, s.sid) == before


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("verify_thoughts", {"claims": [{"text": "x", "evidence": [{**PASS, "expectedValue": 1}]}]}),
        ("verify_thoughts", {"claims": [{"text": "x", "criticallity": "high"}]}),
        ("verify_thoughts", {"claims": [{"text": "x"}], "policy": {"minGroups": 1}}),
        ("verify_thoughts", {"claims": [{"text": "x", "evidence": [{"kind": "file", "path": "notes.md"}]}]}),
        ("verify_thoughts", {"claims": [{"text": "x", "evidence": [{"kind": "video", "url": "u"}]}]}),
        ("verify_thoughts", {"claims": [{"text": "x", "criticality": "urgent"}]}),
        ("verify_thoughts", {"claims": [{"text": "x", "claimId": "bad id!"}]}),
        ("verify_thoughts", {"claims": []}),
        ("verify_thoughts", {"claims": [{"text": "   "}]}),
        ("verify_thoughts", {"claims": [{"text": "x", "thoughtIds": ["t9"]}]}),
        ("add_evidence", {"claimId": "c9", "evidence": [PASS]}),
        ("add_evidence", {"claimId": "c1", "evidence": []}),
        ("record_assumption", {"text": "x", "criticality": "urgent"}),
        ("record_assumption", {"text": "x", "assumptionId": "a1"}),
        ("set_assumption_status", {"assumptionId": "a1", "status": "maybe"}),
        ("run_reasoning_checkpoint", {"profile": "reckless"}),
        ("run_governance_pipeline", {"critiques": {"triangulation": "mine"}}),
    ],
)
async def test_malformed_governance_arguments_are_refused_with_a_code(
    client: Client, engine: Engine, tool: str, arguments: dict[str, Any]
) -> None:
    s = await open_session(client)
    await s.claim(PASS)
    await s.assume("low", "open")
    before = await version(engine, s.sid)
    # A thoughtIds entry naming no node is an unknown thought; an unknown claim, an unknown reference.
    assert await s.code(tool, arguments) in {"INVALID_INPUT", "UNKNOWN_THOUGHT", *UNKNOWN_REF}
    assert await version(engine, s.sid) == before


async def test_governance_calls_on_an_unknown_session_are_refused(client: Client) -> None:
    result = await client.call_tool("verify_thoughts", {"sessionId": "nope", "claims": [{"text": "x"}]})
    assert error_code(result) == "SESSION_NOT_FOUND"
    with pytest.raises(MCPError):
        await client.read_resource("thinkgate://session/nope/route-decision")


# -- recheck ------------------------------------------------------------------------------------


async def test_a_recheck_after_the_file_changed_fails_the_quote_and_changes_the_status(
    client: Client, scratch: Path
) -> None:
    s = await open_session(client)
    view = await s.claim(file_ev(str(scratch), "2", "return 60 * 5"), criticality="critical")
    old_hash = view["evidence"][0]["details"]["sha256"]
    assert view["status"] == "verified" and (await s.route())["decision"] == "proceed"

    await anyio.Path(scratch).write_text(CACHE_PY.replace("60", "30"))
    unchanged = await s.resource("verification-matrix")
    assert unchanged["claims"][0]["status"] == "verified"  # stored results stand until a recheck

    out = await s.ok("verify_thoughts", {"recheck": True})
    (claim,) = out["claims"]
    (ev,) = claim["evidence"]
    assert (ev["evidenceId"], ev["check"], ev["counts"]) == ("e1", "failed", False)
    assert ev["details"]["sha256"] != old_hash
    assert claim["status"] == "data_deficit"
    assert out["route"]["decision"] == "blocked"

    await anyio.Path(scratch).write_text(CACHE_PY)
    again = await s.ok("verify_thoughts", {"recheck": True, "claims": [{"text": "TTL", "claimId": "c1"}]})
    assert again["claims"][0]["evidence"][0]["check"] == "passed"
    assert again["claims"][0]["status"] == "verified"


# -- resources and prompts ----------------------------------------------------------------------


async def test_the_session_resources_show_the_ledger(client: Client, workspace: Path) -> None:
    s = await open_session(client)
    verified = await s.ok(
        "verify_thoughts",
        {
            "claims": [
                {"text": "TTL is five minutes", "criticality": "high", "evidence": [PASS, ONE_DOMAIN]},
                {"text": "p99 budget is 50 ms", "evidence": [file_ev("notes.md", "1", "p99 under 50")]},
                {"text": "Hourly changes", "criticality": "low"},
            ]
        },
    )
    assert [c["claimId"] for c in verified["claims"]] == ["c1", "c2", "c3"]
    await s.assume("medium", "open")
    checkpoint = await s.ok("run_reasoning_checkpoint", {"note": "before review"})

    matrix = await s.resource("verification-matrix")
    assert matrix["sessionId"] == s.sid
    assert matrix["statuses"] == {"verified": 2, "data_deficit": 1}
    assert matrix["claims"] == verified["claims"]

    route = await s.route()
    assert set(route) >= {
        "decision",
        "confidence",
        "rawConfidence",
        "rationale",
        "blockingGaps",
        "openIssues",
        "openIssueCount",
        "factors",
        "claims",
        "policy",
        "profile",
        "calibration",
    }
    assert route["claims"] == {"refuted": 0, "source_conflict": 0, "verified": 2, "data_deficit": 1}
    assert route["openIssueCount"] == len(route["openIssues"]) == 2  # the data_deficit claim, the open assumption
    assert route["profile"] == "balanced" and route["policy"]["minIndependentGroups"] == 2
    assert {k: route[k] for k in ("decision", "confidence")} == checkpoint["gates"]["route"]
    assert route["rationale"].startswith(route["decision"])

    assumptions = await s.resource("assumptions")
    assert [(a["assumptionId"], a["status"], a["blocking"]) for a in assumptions["assumptions"]] == [
        ("a1", "open", False)
    ]
    checkpoints = await s.resource("checkpoints")
    assert checkpoints["total"] == 1
    (k1,) = checkpoints["checkpoints"]
    assert (k1["checkpointId"], k1["decisionId"], k1["note"]) == ("k1", "d1", "before review")
    assert k1["gates"]["evidence"] == route["claims"]
    assert k1["gates"]["assumptions"]["open"] == 1
    assert k1["nextSteps"]

    config = await read_json(client, "thinkgate://config/policy")
    assert config["defaultPolicy"] == {
        "minIndependentGroups": 2,
        "allowTier3": False,
        "requireCheckedForCritical": True,
        "failClosed": True,
    }
    assert config["policyRanges"]["minIndependentGroups"] == [1, 8]
    assert config["profiles"]["balanced"]["requiredStages"] == [
        "constraint_mapping",
        "triangulation",
        "calibration_routing",
    ]
    assert config["evidence"]["commands"] == ["false", "true"]
    assert config["evidence"]["configuredRoots"] == [str(workspace)]
    assert config["calibration"]["minOutcomes"] == 30


async def test_the_session_resource_templates_are_listed(client: Client) -> None:
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    for name in ("verification-matrix", "route-decision", "assumptions", "checkpoints"):
        assert f"thinkgate://session/{{session_id}}/{name}" in templates
    assert "thinkgate://config/policy" in {str(r.uri) for r in (await client.list_resources()).resources}


@pytest.mark.parametrize(
    ("name", "argument", "expect"),
    [
        ("verification-pack", "claim", "verify_thoughts"),
        ("triangulation-pack", "claim", "registrable domain"),
        ("decision-routing-pack", "question", "blockingGaps"),
    ],
)
async def test_the_governance_prompts_name_the_subject_and_the_tools(
    client: Client, name: str, argument: str, expect: str
) -> None:
    listed = {p.name for p in (await client.list_prompts()).prompts}
    assert name in listed
    prompt = await client.get_prompt(name, {argument: "Redis halves p99 latency"})
    body = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "Redis halves p99 latency" in body and expect in body
    bare = await client.get_prompt(name, {})
    assert bare.messages[0].content.text  # type: ignore[union-attr]
