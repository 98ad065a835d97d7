"""README and CHANGELOG stay true to the code: every example runs, every table matches."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from thinkgate.config import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def thinkgate_lines() -> list[str]:
    lines = []
    for block in code_blocks(README):
        for raw in block.splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("thinkgate"):
                lines.append(line)
    return lines


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "THINKGATE_STORE": f"sqlite:///{tmp_path}/docs.db"}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


def test_configuration_table_lists_exactly_the_environment_variables() -> None:
    documented = set(re.findall(r"^\| `((?:THINKGATE|DISABLE)_[A-Z_]+)`", README, flags=re.M))
    assert documented == set(ENV_VARS)


def test_tool_table_matches_the_server() -> None:
    import anyio

    from mcp import Client
    from thinkgate.engine.engine import Engine
    from thinkgate.mcp.server import build_server
    from thinkgate.mcp.toolsets import TOOLSETS
    from thinkgate.store.memory import MemoryEventStore

    async def surface() -> tuple[dict[str, Any], set[str], set[str]]:
        every = frozenset(TOOLSETS)  # the README documents every toolset's tools
        async with Client(build_server(Engine(MemoryEventStore()), toolsets=every)) as c:
            tools = {t.name: t.annotations for t in (await c.list_tools()).tools}
            prompts = {p.name for p in (await c.list_prompts()).prompts}
            resources = {str(r.uri) for r in (await c.list_resources()).resources}
            resources |= {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
            return tools, prompts, resources

    tools, prompts, resources = anyio.run(surface)
    documented = set(re.findall(r"^\| (?:prompt )?`([a-z_-]+)`", README, flags=re.M))
    assert set(tools) | prompts == documented
    documented_resources = set(re.findall(r"^\| resource `([^`]+)`", README, flags=re.M))
    assert {r.replace("{session_id}", "{id}") for r in resources} == documented_resources
    # The annotations column says what the tool's MCP annotations say.
    for name, ann in tools.items():
        row = re.search(rf"^\| `{name}` \|.*\| ([^|]+) \|$", README, flags=re.M)
        assert row is not None, name
        column = row.group(1)
        assert ("read-only" in column) == bool(ann.read_only_hint), name
        assert ("destructive" in column) == bool(ann.destructive_hint), name
        assert ("not idempotent" in column) == (not ann.idempotent_hint and not ann.read_only_hint), name


@pytest.mark.parametrize(
    "line", [ln for ln in thinkgate_lines() if ln.startswith("thinkgate config") and "CLIENT" not in ln]
)
def test_config_examples_run(line: str, tmp_path: Path) -> None:
    result = run_cli(shlex.split(line)[1:], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "thinkgate" in result.stdout


@pytest.mark.parametrize(
    "line", [ln for ln in thinkgate_lines() if not ln.startswith("thinkgate config ") or "CLIENT" in ln]
)
def test_every_documented_command_exists(line: str, tmp_path: Path) -> None:
    words = [w for w in shlex.split(line)[1:] if not w.startswith(("[", "-")) and not w.isupper()]
    args = [*words, "--help"] if words else ["--version"]
    result = run_cli(args, tmp_path)
    assert result.returncode == 0, (line, result.stderr)


def test_documented_flags_exist(tmp_path: Path) -> None:
    for line in thinkgate_lines():
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))[1:]
        command = [w for w in words if not w.startswith("-") and not w.isupper() and w.islower()]
        flags = [w for w in words if w.startswith("--") and w not in ("--help",)]
        if not flags or line.startswith("thinkgate config cursor"):
            continue
        sub = [
            w
            for w in command
            if w
            in (
                "serve",
                "config",
                "sessions",
                "list",
                "show",
                "export",
                "delete",
                "expire",
                "audit",
                "verify",
                "report",
                "calibration",
                "db",
            )
        ]
        help_text = run_cli([*sub, "--help"], tmp_path).stdout if sub else ""
        for flag in flags:
            if flag == "--version":
                continue
            assert flag in help_text, (line, flag)


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text


DELIBERATION = (ROOT / "docs" / "deliberation.md").read_text(encoding="utf-8")


def table_rows(text: str, header: str) -> list[list[str]]:
    """The body rows of the markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_deliberation_doc_states_the_profiles_and_limit_ranges_of_the_code() -> None:
    from thinkgate.domain.graph import LIMIT_RANGES, MODE_ALIASES, PROFILES

    documented = {row[0]: (tuple(int(v) for v in row[1:5]), int(row[5])) for row in table_rows(DELIBERATION, "profile")}
    assert documented == {name: (tuple(limits.to_dict().values()), beam) for name, (limits, beam) in PROFILES.items()}
    ranges = {row[0]: row[1].split()[0] for row in table_rows(DELIBERATION, "limit")}
    assert ranges == {k: f"{lo}–{hi}" for k, (lo, hi) in LIMIT_RANGES.items()}
    assert {row[1]: row[0] for row in table_rows(DELIBERATION, "mode")} == MODE_ALIASES


def test_deliberation_doc_states_the_scoring_formula_of_the_code() -> None:
    from thinkgate.domain.scoring import DEFAULT_WEIGHTS, INVERTED, NodeFacts, composite, heuristic_scores

    rows = table_rows(DELIBERATION, "dimension")
    assert {row[0]: float(row[2]) for row in rows} == DEFAULT_WEIGHTS
    assert {row[0] for row in rows if row[3].startswith("lower")} == INVERTED
    # The worked example, computed by the code.
    own = frozenset(f"word{i}" for i in range(10))
    node = NodeFacts("t9", 2, 1, 1, 2, own, frozenset({"word0", "word1"}))
    other = NodeFacts("t8", 0, 0, 0, 1, frozenset({"word2", "word3", "word4", "word5"}), frozenset())
    values = heuristic_scores([node, other], max_depth=6)["t9"]
    stated = re.search(
        r"correctness ([\d.]+), evidence ([\d.]+), risk ([\d.]+), cost ([\d.]+), novelty ([\d.]+), "
        r"composite \*\*([\d.]+)\*\*",
        DELIBERATION,
    )
    assert stated is not None
    expected = [float(x) for x in stated.groups()]
    got = [values[d] for d in ("correctness", "evidence", "risk", "cost", "novelty")]
    assert [round(v, 4) for v in got] == expected[:5]
    assert composite(values, DEFAULT_WEIGHTS) == expected[5]


def test_deliberation_doc_states_the_skeleton_gate_of_the_code() -> None:
    from thinkgate.domain.sot import suitability

    thresholds = {row[0]: row[1] for row in table_rows(DELIBERATION, "decision")}
    assert thresholds == {"suitable": "≥ 0.6", "marginal": "0.4 to < 0.6", "unsuitable": "< 0.4"}
    assert suitability("Prove that the sum of two even numbers is even").decision == "unsuitable"
    plan = "Plan the migration: compare the options and their trade-offs for each stakeholder"
    assert suitability(plan).decision == "suitable"
    assert suitability("What is the capital of France?").blocked
    assert not suitability("What is the capital of France?", force=True).blocked
