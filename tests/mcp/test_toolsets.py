"""Toolsets: the default list is small, more are opt-in, and the README's sizes stay true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import anyio
import orjson
import pytest

from mcp import Client
from thinkgate.config import Settings
from thinkgate.engine.engine import Engine
from thinkgate.errors import ConfigError
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import DEFAULT_TOOLSETS, TOOLSETS, parse_toolsets
from thinkgate.store.memory import MemoryEventStore

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def listed(toolsets: frozenset[str]) -> dict[str, bytes]:
    async def go() -> dict[str, bytes]:
        async with Client(build_server(Engine(MemoryEventStore()), toolsets=toolsets)) as c:
            tools = (await c.list_tools()).tools
            return {t.name: orjson.dumps(t.model_dump(by_alias=True, exclude_none=True)) for t in tools}

    return anyio.run(go)


def test_parse_toolsets() -> None:
    assert parse_toolsets(None) == parse_toolsets("") == DEFAULT_TOOLSETS == {"core", "graph", "governance"}
    assert parse_toolsets("sot") == {"core", "sot"}  # core is always on
    assert parse_toolsets(" Graph , SOT ") == {"core", "graph", "sot"}
    assert parse_toolsets("all") == set(TOOLSETS)
    with pytest.raises(ConfigError, match="unknown toolset"):
        parse_toolsets("graph,verification")
    assert Settings.from_env({"THINKGATE_TOOLSETS": "all"}).toolsets == set(TOOLSETS)
    assert Settings.from_env({}).with_overrides(toolsets="sot").toolsets == {"core", "sot"}


def test_each_toolset_lists_its_tools_and_the_readme_states_their_size() -> None:
    every = listed(frozenset(TOOLSETS))
    assert set(every) == {name for names in TOOLSETS.values() for name in names}
    assert set(listed(DEFAULT_TOOLSETS)) == set(TOOLSETS["core"]) | set(TOOLSETS["graph"]) | set(TOOLSETS["governance"])
    assert set(listed(frozenset({"core"}))) == set(TOOLSETS["core"])
    for name, tools in TOOLSETS.items():
        size_kb = sum(len(every[t]) for t in tools) / 1000
        row = re.search(rf"^\| {name} \|.*\| ([\d.]+) KB \(", README, flags=re.M)
        assert row is not None, name
        assert abs(float(row.group(1)) - size_kb) <= 0.1 * size_kb, (name, size_kb)


def test_graph_tool_schemas_are_compact_and_typed() -> None:
    for name, raw in listed(frozenset(TOOLSETS)).items():
        if name in TOOLSETS["core"]:
            continue  # the official server's shapes, kept as they are
        schema = json.loads(raw)["inputSchema"]

        for path, node in walk(schema, name):
            assert "title" not in node or path.endswith("properties"), path
            for member in node.get("anyOf", ()):
                assert "type" in member or "$ref" in member, path
        assert schema["type"] == "object"


def walk(node: object, path: str) -> list[tuple[str, dict[str, object]]]:
    """Every object in a JSON document, with its path."""
    out: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, value in node.items():
            out.extend(walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for item in node:
            out.extend(walk(item, path))
    return out


def serve(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--store", "memory://", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )


HANDSHAKE = "\n".join(
    json.dumps(m)
    for m in (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )
)


def tools_over_stdio(*args: str, env: dict[str, str] | None = None) -> set[str]:
    done = serve(*args, env=env, stdin=HANDSHAKE + "\n")
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    listing = next(r for r in replies if r.get("id") == 2)
    return {t["name"] for t in listing["result"]["tools"]}


def test_serve_lists_the_chosen_toolsets_over_stdio() -> None:
    default = set(TOOLSETS["core"]) | set(TOOLSETS["graph"]) | set(TOOLSETS["governance"])
    assert tools_over_stdio() == default
    assert tools_over_stdio("--toolsets", "all") == {n for names in TOOLSETS.values() for n in names}
    assert tools_over_stdio(env={"THINKGATE_TOOLSETS": "sot"}) == set(TOOLSETS["core"]) | set(TOOLSETS["sot"])
    bad = serve("--toolsets", "graph,nope")
    assert bad.returncode == 2 and "unknown toolset" in bad.stderr and bad.stdout == ""
