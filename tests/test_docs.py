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
    from thinkgate.store.memory import MemoryEventStore

    async def surface() -> tuple[dict[str, Any], set[str], set[str]]:
        async with Client(build_server(Engine(MemoryEventStore()))) as c:
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
            if w in ("serve", "config", "sessions", "list", "show", "export", "delete", "audit", "verify")
        ]
        help_text = run_cli([*sub, "--help"], tmp_path).stdout if sub else ""
        for flag in flags:
            if flag == "--version":
                continue
            assert flag in help_text, (line, flag)


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
