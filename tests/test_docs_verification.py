"""docs/verification.md stays true to the code: every table, constant and the worked example."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest

from mcp import Client
from thinkgate.domain import route as route_module
from thinkgate.domain.pipeline import GOVERNANCE_PROFILES, STAGE_ORDER, STAGES
from thinkgate.domain.verification import CLAIM_STATUSES, DEFAULT_POLICY, EVIDENCE_KINDS, POLICY_RANGES, Policy
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.evidence import CheckContext, check_evidence
from thinkgate.evidence.calc import evaluate
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import TOOLSETS
from thinkgate.store.memory import MemoryEventStore

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")


def raw_rows(header: str) -> list[list[str]]:
    """The body rows (cells as written) of the table whose header row starts with ``header``."""
    lines = DOC.splitlines()
    starts = [
        i for i, line in enumerate(lines[:-1]) if line.startswith(f"| {header} |") and lines[i + 1].startswith("|---")
    ]
    assert len(starts) == 1, f"one table headed {header!r}"
    rows = []
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
        rows.append([cell.strip() for cell in cells])
    return rows


def rows(header: str) -> list[list[str]]:
    """As ``raw_rows``, each cell without its surrounding backticks."""
    return [[cell.strip("`") for cell in row] for row in raw_rows(header)]


def column(header: str, index: int = 0) -> list[str]:
    return [row[index] for row in rows(header)]


def section(title: str) -> str:
    """The text of the section headed ``title`` (up to the next heading), whitespace runs made one space."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", DOC + "\n# end", flags=re.S | re.M)
    assert match is not None, title
    return " ".join(match.group(1).split())


def number(text: str) -> Fraction:
    """A number as the doc writes it (exactly)."""
    return Fraction(text.strip())


def arithmetic(text: str) -> Fraction:
    """The exact value of an expression as the doc writes it (×, ÷, −)."""
    value = evaluate(text.replace("×", "*").replace("÷", "/").replace("−", "-"))
    assert isinstance(value, Fraction)
    return value


# -- tools, resources, prompts ------------------------------------------------------------------


async def surface() -> tuple[set[str], set[str], dict[str, list[str]]]:
    engine = Engine(MemoryEventStore())
    async with Client(build_server(engine)) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        resources = {str(r.uri) for r in (await c.list_resources()).resources}
        resources |= {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        prompts = {p.name: [a.name for a in p.arguments or []] for p in (await c.list_prompts()).prompts}
    return tools, resources, prompts


def test_the_documented_tools_resources_and_prompts_are_the_servers() -> None:
    tools, resources, prompts = anyio.run(surface)
    documented = column("tool")
    assert set(documented) == set(TOOLSETS["governance"])
    assert set(documented) <= tools  # the governance toolset is on by default
    assert {r.replace("{session_id}", "{id}") for r in resources} >= set(column("resource"))
    documented_sessions = {r for r in column("resource") if r.startswith("thinkgate://session/")}
    governance_views = ("verification-matrix", "route-decision", "assumptions", "checkpoints")
    served = {r.replace("{session_id}", "{id}") for r in resources if r.endswith(governance_views)}
    assert documented_sessions == served
    assert {row[0]: [row[1]] for row in rows("prompt")} == {
        name: prompts[name] for name in ("verification-pack", "triangulation-pack", "decision-routing-pack")
    }


# -- evidence -----------------------------------------------------------------------------------


def test_the_evidence_table_lists_the_kinds_and_fields_the_tool_takes() -> None:
    async def schema() -> dict[str, Any]:
        async with Client(build_server(Engine(MemoryEventStore()))) as c:
            tools = {t.name: t.input_schema for t in (await c.list_tools()).tools}
        item: dict[str, Any] = tools["verify_thoughts"]["properties"]["claims"]["items"]["properties"]["evidence"]
        return item["items"]["properties"]  # type: ignore[no-any-return]

    table = raw_rows("kind")
    assert tuple(row[0].strip("`") for row in table) == EVIDENCE_KINDS
    fields = {name for row in table for name in re.findall(r"`(\w+)`", row[1])}
    assert fields | {"kind", "stance"} == set(anyio.run(schema))


def test_the_documented_tiers_and_groups_are_what_the_checkers_give(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\nbeta\n")
    root = tmp_path.resolve()
    ctx = CheckContext(roots=(root,), commands=frozenset())

    async def tier(item: dict[str, Any]) -> tuple[str, int, str]:
        result = await check_evidence({"stance": "supports", **item}, ctx)
        return result.check, result.tier, result.group

    async def checks() -> None:
        file_ok = {"kind": "file", "path": "a.txt", "lines": "2", "quote": "beta"}
        assert await tier(file_ok) == ("passed", 1, f"root:{root}")
        assert (await tier({**file_ok, "quote": "gamma"}))[:2] == ("failed", 3)
        assert await tier({"kind": "calc", "expression": "0.1 + 0.2", "expected": "0.3"}) == ("passed", 1, "calc")
        assert (await tier({"kind": "calc", "expression": "1 / 0", "expected": 1}))[:2] == ("failed", 3)
        assert (await tier({"kind": "command", "argv": ["true"]}))[:2] == ("not_checked", 3)
        assert await tier({"kind": "url", "url": "https://python.org/", "tier": 1}) == (
            "not_checked",
            2,
            "domain:python.org",
        )
        assert (await tier({"kind": "url", "url": "https://python.org/", "tier": 3}))[1] == 3
        assert await tier({"kind": "text", "text": "it is so", "source": "Ops  Chat"}) == (
            "not_checked",
            3,
            "source:ops chat",
        )

    anyio.run(checks)
    assert "1 when passed, else 3" in column("kind", 3) and "max(2, declared)" in column("kind", 3)


def test_the_documented_check_bounds_are_the_codes() -> None:
    from thinkgate.engine import governance as engine_governance
    from thinkgate.evidence import calc, commands, files, origin
    from thinkgate.mcp import governance_tools

    code = {
        **{n: getattr(files, n) for n in ("MAX_PATH_CHARS", "MAX_QUOTE_CHARS")},
        **{n: getattr(calc, n) for n in ("MAX_EXPRESSION_CHARS", "MAX_NODES", "MAX_DEPTH", "MAX_EXPONENT", "MAX_BITS")},
        **{n: getattr(commands, n) for n in ("MAX_ARGS", "MAX_ARG_CHARS", "MAX_CONCURRENT")},
        "MAX_OUTPUT_KEPT": engine_governance.MAX_OUTPUT_KEPT,
        "MAX_SOURCE_CHARS": origin.MAX_SOURCE_CHARS,
    }
    assert {row[0]: int(row[1]) for row in rows("constant")} == code
    text = section("Evidence kinds and how each is checked")
    assert CheckContext((), frozenset()).max_file_bytes == 8 * 1024 * 1024 and "at most 8 MiB" in text
    assert f"the first {engine_governance.MAX_OUTPUT_KEPT} bytes" in text
    assert f"At most {commands.MAX_CONCURRENT} commands" in text
    assert f"({governance_tools.ROOTS_TIMEOUT:g} s timeout)" in section("Allowed roots")
    assert "−255 to 255" in text
    assert governance_tools.EvidenceIn.model_json_schema()["properties"]["expectExitCode"]["anyOf"][0] == {
        "maximum": 255,
        "minimum": -255,
        "type": "integer",
    }


def test_the_evidence_environment_variables_and_defaults_are_the_codes() -> None:
    from thinkgate.config import ENV_VARS, Settings

    table = {row[0]: row[1] for row in rows("variable")}
    assert set(table) == {name for name in ENV_VARS if name.startswith("THINKGATE_EVIDENCE_")}
    engine = Settings.from_env({}).engine
    assert engine.evidence_roots is None and table["THINKGATE_EVIDENCE_ROOTS"] == "the working directory"
    assert engine.evidence_commands == frozenset() and table["THINKGATE_EVIDENCE_COMMANDS"] == "none"
    assert engine.evidence_timeout == float(table["THINKGATE_EVIDENCE_TIMEOUT"])
    assert "timed out after 30s" in DOC


def test_the_group_examples_are_the_groups_the_code_gives() -> None:
    from thinkgate.evidence.origin import command_group, domain_group, source_group

    make = {
        "url": lambda e: domain_group(urlsplit(e).hostname or ""),
        "command": command_group,
        "text": source_group,
    }
    examples = [row for row in raw_rows("origin") if row[2]]
    assert {row[0] for row in examples} == set(make)
    for origin, _rule, example, group in examples:
        assert make[origin](example.strip("`")) == group.strip("`"), example
    assert {row[0] for row in raw_rows("origin")} == set(EVIDENCE_KINDS)


# -- statuses and policy ------------------------------------------------------------------------


def test_the_statuses_are_listed_in_the_codes_order_of_precedence() -> None:
    listed = re.findall(r"\b\d\. `(\w+)`:", section("Claim statuses"))
    assert tuple(listed) == CLAIM_STATUSES


def test_the_policy_table_states_the_defaults_and_ranges_of_the_code() -> None:
    table = {row[0]: (row[1], row[2]) for row in rows("field")}
    assert set(table) == set(DEFAULT_POLICY.to_wire())
    for name, default in DEFAULT_POLICY.to_wire().items():
        assert table[name][0] == (str(default).lower() if isinstance(default, bool) else str(default)), name
        if name in POLICY_RANGES:
            low, high = POLICY_RANGES[name]
            assert table[name][1] == f"{low}–{high}"
        else:
            assert table[name][1] == "true/false"
    # A per-call override keeps only the fields it names.
    override = {"allowTier3": True}
    assert Policy(3, False, False, True).updated(override) == Policy(3, True, False, True)


# -- the route decision -------------------------------------------------------------------------


def test_the_bands_are_the_codes() -> None:
    table = rows("band")
    assert [(float(c.removeprefix("≥ ")), b) for b, c in table[:-1]] == list(route_module.BANDS)
    assert table[-1] == [route_module.BELOW, f"< {route_module.BANDS[-1][0]:.2f}"]
    assert all(route_module.band(t) == b for t, b in route_module.BANDS)


def test_the_gap_kinds_are_the_codes() -> None:
    table = {row[0]: row[2] for row in rows("gap kind")}
    assert set(table) == {"claim", "assumption", "stage", "evaluation_error"}
    assert [k for k, v in table.items() if v == "always blocks"] == ["evaluation_error"]
    failed = route_module.evaluation_failed(RuntimeError("x"), DEFAULT_POLICY, "balanced")
    assert (failed["decision"], failed["confidence"]) == ("blocked", 0.0)
    assert failed["blockingGaps"][0]["kind"] == "evaluation_error"


def test_the_formula_constants_and_weights_are_the_codes() -> None:
    assert {row[0]: float(row[1]) for row in rows("criticality")} == route_module.CRITICALITY_WEIGHTS
    assert {int(row[0]): float(row[1]) for row in rows("tier")} == route_module.TIER_WEIGHTS
    header = rows("assumption status")
    criticalities = ["critical", "high", "medium", "low"]
    assert {row[0]: dict(zip(criticalities, map(float, row[1:]), strict=True)) for row in header} == (
        route_module.ASSUMPTION_FACTORS
    )
    constants = {row[0]: float(row[1]) for row in rows("formula constant")}
    assert constants == {name: float(getattr(route_module, name)) for name in constants}
    assert set(constants) == {"DECLARED_CAP", "NO_CLAIMS", "CONFLICT_STEP", "CONFLICT_FLOOR", "BRANCH_BASE", "DIGITS"}
    text = section("The confidence formula")
    r = route_module
    assert f"with no claims it is {r.NO_CLAIMS}" in text
    assert f"{r.DECLARED_CAP} × min(1, Σ group weights ÷ `minIndependentGroups`)" in text
    assert f"max({r.CONFLICT_FLOOR}, 1 − {r.CONFLICT_STEP} × n)" in text
    assert f"{r.BRANCH_BASE} + {1 - r.BRANCH_BASE:.1f} × best" in text
    # The cut is downwards: the doc's example.
    assert route_module._down(0.84996) == 0.8499 and route_module.band(0.8499) == "proceed_with_caution"
    assert "0.84996 is 0.8499, `proceed_with_caution`" in text


# -- the governance pipeline --------------------------------------------------------------------


def test_the_stage_table_is_the_codes() -> None:
    table = rows("stage")
    assert tuple(row[0] for row in table) == STAGE_ORDER
    assert {row[0]: {"kind": row[1], "does": row[2]} for row in table} == STAGES


def test_the_profile_table_is_the_codes() -> None:
    documented = {}
    for name, stages, factor in rows("profile"):
        required = STAGE_ORDER if stages == "all ten" else tuple(stages.split(", "))
        documented[name] = {"requiredStages": required, "confidenceFactor": float(factor)}
    assert documented == GOVERNANCE_PROFILES
    assert len(STAGE_ORDER) == 10


# -- calibration --------------------------------------------------------------------------------


def test_the_calibration_settings_and_report_flags_are_the_codes() -> None:
    from typer.testing import CliRunner

    from thinkgate.cli.report import report_app
    from thinkgate.domain.calibration import MIN_OUTCOMES_FOR_MAP
    from thinkgate.engine.governance import CALIBRATION_TTL

    table = {row[0]: float(row[1]) for row in rows("calibration setting")}
    assert table == {"MIN_OUTCOMES_FOR_MAP": MIN_OUTCOMES_FOR_MAP, "CALIBRATION_TTL": CALIBRATION_TTL}
    synopsis = re.search(r"`thinkgate report calibration ([^`]+)`", DOC)
    assert synopsis is not None
    result = CliRunner().invoke(report_app, ["calibration", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for flag in re.findall(r"--[a-z]+", synopsis.group(1)):
        assert flag in result.output, flag
    assert "default 10" in section("Calibration") and "[default: 10]" in result.output


# -- errors and limits --------------------------------------------------------------------------


def test_the_error_codes_and_limits_are_the_codes() -> None:
    from thinkgate import errors
    from thinkgate.domain import governance_commands as governance

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ThinkGateError) and cls is not errors.ThinkGateError
    }
    documented = column("code")
    assert set(documented) <= codes
    assert {"INVALID_INPUT", "UNKNOWN_THOUGHT", "UNKNOWN_REFERENCE", "LIMIT_EXCEEDED"} <= set(documented)
    assert errors.UnknownReference.code == "UNKNOWN_THOUGHT" and errors.UnknownRecord.code == "UNKNOWN_REFERENCE"
    limits = rows("limit")
    assert {row[0]: int(row[1]) for row in limits} == {row[0]: getattr(governance, row[0]) for row in limits}
    assert {row[2] for row in limits} <= codes


# -- the worked example -------------------------------------------------------------------------

LINE_2 = "    return 60 * 5  # five minutes"
CLAIMS = [
    {
        "claimId": "ttl",
        "text": "Entries expire after five minutes",
        "criticality": "critical",
        "evidence": [{"kind": "file", "path": "app/cache.py", "lines": "2", "quote": "return 60 * 5"}],
    },
    {
        "claimId": "hit",
        "text": "Cache-aside suits a read-heavy catalogue",
        "criticality": "high",
        "evidence": [
            {"kind": "url", "url": "https://redis.io/docs/latest/develop/use/patterns/"},
            {"kind": "url", "url": "https://docs.aws.amazon.com/whitepapers/latest/caching.html", "tier": 1},
        ],
    },
    {
        "claimId": "mem",
        "text": "The working set fits in 2 GB",
        "criticality": "medium",
        "evidence": [
            {"kind": "url", "url": "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/"},
            {"kind": "text", "text": "our ops lead says so", "source": "ops chat"},
        ],
    },
    {
        "claimId": "cost",
        "text": "The cache costs under 40 a month",
        "criticality": "low",
        "evidence": [
            {"kind": "calc", "expression": "0.05 * 24 * 30", "expected": 36},
            {"kind": "url", "url": "https://aws.amazon.com/elasticache/pricing/", "stance": "refutes"},
        ],
    },
]
SCORES = {
    "t2": {"correctness": 0.8, "evidence": 0.8, "risk": 0.2, "cost": 0.2, "novelty": 0.8},
    "t3": {"correctness": 0.4, "evidence": 0.4, "risk": 0.6, "cost": 0.6, "novelty": 0.4},
}


class Rig:
    def __init__(self, c: Client, sid: str) -> None:
        self.c, self.sid = c, sid

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return await self.c.call_tool(name, {"sessionId": self.sid, **arguments})

    async def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        out: dict[str, Any] = result.structured_content
        return out

    async def read(self, name: str) -> dict[str, Any]:
        res = await self.c.read_resource(f"thinkgate://session/{self.sid}/{name}")
        out: dict[str, Any] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
        return out


def exact_raw(factors: dict[str, float]) -> Fraction:
    product = Fraction(1)
    for name in ("claims", "assumptions", "conflicts", "branches", "profile"):
        product *= Fraction(str(factors[name]))
    return product


async def worked_example(root: Path) -> Example:
    """The doc's scenario through the MCP tools: (verification matrix, route decision) after each step."""
    (root / "app" / ".git").mkdir(parents=True)
    (root / "app" / "cache.py").write_text(f"def ttl_seconds():\n{LINE_2}\n")
    engine = Engine(MemoryEventStore(), EngineConfig(evidence_roots=(str(root),)))
    taken: list[tuple[dict[str, Any], dict[str, Any]]] = []
    async with Client(build_server(engine)) as c:
        started = (await c.call_tool("start_deliberation", {"goal": "Add a Redis cache?"})).structured_content
        assert started is not None
        s = Rig(c, started["deliberationId"])
        await s.ok("add_thought", {"content": "Cache-aside with Redis, 5 minute TTL"})
        await s.ok("add_thought", {"content": "Put a CDN in front"})
        await s.ok("link_thoughts", {"sourceId": "t3", "targetId": "t2", "kind": "conflicts"})
        await s.ok("score_thoughts", {"scores": SCORES})
        await s.ok("verify_thoughts", {"claims": CLAIMS})
        await s.ok(
            "record_assumption", {"text": "Traffic stays read-heavy", "criticality": "high", "status": "accepted_risk"}
        )
        low = (await s.ok("record_assumption", {"text": "Prices stay stable", "criticality": "low"}))["assumption"]
        checkpoint = await s.ok("run_reasoning_checkpoint", {})
        now = await s.read("route-decision")
        assert {k: v for k, v in now.items() if k != "sessionId"} == checkpoint["routeDecision"]
        taken.append((await s.read("verification-matrix"), checkpoint["routeDecision"]))
        second = {"kind": "url", "url": "https://www.digitalocean.com/community/tutorials/redis-memory"}
        await s.ok("add_evidence", {"claimId": "mem", "evidence": [second]})
        taken.append((await s.read("verification-matrix"), await s.read("route-decision")))
        await s.ok("set_assumption_status", {"assumptionId": low["assumptionId"], "status": "verified"})
        taken.append((await s.read("verification-matrix"), await s.read("route-decision")))
        await s.ok("record_assumption", {"text": "Redis stays within budget", "criticality": "critical"})
        taken.append((await s.read("verification-matrix"), await s.read("route-decision")))

        # Blocked consensus is a normal result; a blocked converge writes nothing.
        consensus = await s.ok("consensus_answer", {})
        assert (consensus["status"], consensus["answer"]) == ("blocked", None)
        assert consensus["blockingGaps"] and consensus["decisionId"]
        converge = await s.ok("converge_reasoning", {})
        assert (converge["status"], converge["written"], converge["nodeId"]) == ("blocked", False, None)
        # One outcome per decision.
        await s.ok("record_outcome", {"outcome": "success", "decisionId": consensus["decisionId"]})
        again = await s.call("record_outcome", {"outcome": "failure", "decisionId": consensus["decisionId"]})
        assert again.is_error and again.content[0].text.startswith("INVALID_INPUT")
        # failClosed off: the open critical assumption no longer blocks (an open issue), the band decides.
        relaxed = await s.ok("set_verification_policy", {"failClosed": False})
        assert relaxed["route"]["decision"] == "do_not_proceed"
        route = await s.read("route-decision")
        assert not route["blockingGaps"] and any(i["criticality"] == "critical" for i in route["openIssues"])
        assert route["calibration"] == {"applied": False}
        # Nothing blocks now: converge writes; every tool that records a decision has recorded one.
        assert (await s.ok("converge_reasoning", {}))["written"] is True
        await s.ok("run_governance_pipeline", {})
        recorded = {d["op"] for d in (await s.read("checkpoints"))["decisions"]}
        # Unknown references.
        missing = await s.call("add_evidence", {"claimId": "nope", "evidence": [second]})
        assert missing.content[0].text.startswith("UNKNOWN_REFERENCE")
        ghost = {"text": "x", "thoughtIds": ["t99"]}
        assert (await s.call("verify_thoughts", {"claims": [ghost]})).content[0].text.startswith("UNKNOWN_THOUGHT")
    return taken, recorded


Example = tuple[list[tuple[dict[str, Any], dict[str, Any]]], set[str]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Example:
    root = tmp_path_factory.mktemp("example").resolve()
    return anyio.run(worked_example, root)


@pytest.fixture
def example(run: Example) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return run[0]


def test_the_worked_example_states_its_setup() -> None:
    text = section("Worked example")
    assert f"line 2 is `{LINE_2}`" in DOC
    assert "`return 60 * 5`" in text and "calc `0.05 * 24 * 30` = 36" in text
    assert "scored 0.8" in text and "scored 0.4" in text
    from thinkgate.domain.scoring import DEFAULT_WEIGHTS, composite

    assert [composite(SCORES[n], DEFAULT_WEIGHTS) for n in ("t2", "t3")] == [0.8, 0.4]


def test_the_worked_example_claims_are_what_the_code_finds(example: list[Any]) -> None:
    matrix, _route = example[0]
    claims = {c["claimId"]: c for c in matrix["claims"]}
    table = rows("claim")
    assert [row[0] for row in table] == [c["claimId"] for c in CLAIMS]
    for cid, criticality, _evidence, status, s, r, strength in table:
        claim = claims[cid]
        assert (claim["criticality"], claim["status"]) == (criticality, status), cid
        support, refute = route_module.claim_strength(claim["evidence"], DEFAULT_POLICY)
        assert (support, refute) == (float(s), float(r)), cid
        assert number(strength) == number(s) * (1 - number(r)), cid
        assert round(support * (1 - refute), 10) == float(strength), cid


def test_the_worked_example_factors_and_confidence_are_what_the_code_computes(example: list[Any]) -> None:
    _matrix, route = example[0]
    for name, value, computed in rows("factor"):
        assert arithmetic(computed) == number(value), name
        assert route["factors"][name] == float(value), name
    stated = re.search(
        r"raw = ([\d.]+) × ([\d.]+) × ([\d.]+) × ([\d.]+) × ([\d.]+) = ([\d.]+), reported \*\*([\d.]+)\*\*: `(\w+)`",
        DOC,
    )
    assert stated is not None
    *parts, raw, reported, decision = stated.groups()
    assert [float(p) for p in parts] == [
        route["factors"][n] for n in ("claims", "assumptions", "conflicts", "branches", "profile")
    ]
    assert exact_raw(route["factors"]) == number(raw)
    assert (route["rawConfidence"], route["confidence"], route["decision"]) == (
        float(reported),
        float(reported),
        decision,
    )
    assert route["blockingGaps"] == []
    assert {i["id"] for i in route["openIssues"] if i["kind"] == "claim"} == {"mem", "cost"}


def test_the_worked_example_steps_are_what_the_code_decides(example: list[Any]) -> None:
    table = rows("step")
    assert len(table) == len(example)
    confidences = []
    for (step, claims, assumptions, raw, confidence, decision), (_matrix, route) in zip(table, example, strict=True):
        factors = route["factors"]
        assert (factors["claims"], factors["assumptions"]) == (float(claims), float(assumptions)), step
        assert exact_raw(factors) == number(raw), step
        assert route["rawConfidence"] == float(confidence) == route["confidence"], step
        assert route["decision"] == decision, step
        assert route_module._down(float(raw)) == float(confidence), step
        confidences.append(route["confidence"])
    # More verified support and a settled assumption never lowered it (monotone).
    assert confidences[0] <= confidences[1] <= confidences[2]
    assert example[1][0]["claims"][2]["status"] == "verified"
    assert example[3][1]["blockingGaps"][0]["kind"] == "assumption"


def test_the_decision_recording_column_names_the_tools_that_recorded_decisions(run: Example) -> None:
    assert {row[0] for row in rows("tool") if row[2].startswith("yes")} == run[1]
