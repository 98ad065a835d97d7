"""Differential test: ThinkGate's ``sequentialthinking`` against the official Node server.

The official server is ``@modelcontextprotocol/server-sequential-thinking`` 2026.8.31, installed
by ``scripts/node-deps.sh`` (``make node-deps``) and run with Node 22 and
``DISABLE_THOUGHT_LOGGING=true``. ThinkGate runs as ``python -m thinkgate serve --store memory://``.
Both are driven over raw stdio JSON-RPC (``rawstdio.RawStdioClient``, protocol 2025-06-18), one
fresh process per sequence (the Node server keeps one global history per process).

For every call we compare, type-strictly (``true`` is not ``1``), ``isError`` and, for successful
calls, the official ``structuredContent`` fields ``thoughtNumber``, ``totalThoughts``,
``nextThoughtNeeded``, ``branches`` and ``thoughtHistoryLength``. ThinkGate may add fields
(``sessionId``, ``thoughtId``, ``warnings``, ...); they are ignored. Error texts are not compared.
The Node outputs observed on 2026-11 are recorded in ``CASES`` and checked too, so a behaviour change
in the pinned Node package shows up as a failure of the Node side, not as a ThinkGate diff.

Node behaviour worth knowing (observed, see ``CASES``):

* Validation failures are tool results with ``isError: true`` and a text like
  ``MCP error -32602: Input validation error: Invalid arguments for tool sequentialthinking: Too small:
  expected number to be >=1 at thoughtNumber`` -- not JSON-RPC errors. A rejected call is not recorded.
* Integers go through ``z.coerce.number().int().min(1)``: ``"2"`` -> 2, ``" 9"`` -> 9, ``2.0`` -> 2,
  ``"1e1"`` -> 10, ``"0x10"`` -> 16, ``true`` -> 1; ``"abc"`` (NaN), ``""`` (0), ``"2.5"``/``1.5``,
  ``0`` and > 2**53-1 are rejected. The advertised JSON Schema says plain ``"integer"``.
* Booleans accept ``true``/``false`` or the strings "true"/"false" in any case (``"FALSE"``,
  ``"True"``); ``"0"``, ``"yes"``, ``" true"``, ``1`` and ``null`` are rejected. Advertised as
  ``["boolean", "string"]``.
* ``totalThoughts`` is raised to ``thoughtNumber`` when smaller. A repeated ``thoughtNumber`` is
  accepted and counted again (history length grows). Calls after a ``nextThoughtNeeded: false``
  are accepted as usual. Unknown extra arguments are ignored; an empty ``thought`` is accepted.
* ``branches`` is ``Object.keys(branches)``: ids in first-seen order, each once. A branch is
  recorded only when BOTH ``branchFromThought`` and a non-empty ``branchId`` are given; a lone
  ``branchId`` is ignored.

KNOWN INTENTIONAL DIFFERENCES (equality is NOT asserted; each side is checked on its own):

* ``revisesThought`` or ``branchFromThought`` naming a thought that does not exist: Node accepts it
  silently; ThinkGate returns ``isError: true`` with a text mentioning ``UNKNOWN_THOUGHT`` and does
  not record the call.
* ``branchFromThought`` without ``branchId``: Node records the thought but no branch; ThinkGate
  assigns a branch id, returns it as ``structuredContent.branchId`` and lists it in ``branches``.

Node quirks that are deliberately not part of the comparison (JavaScript artefacts): numeric-looking
branch ids are listed first in ascending numeric order (``"b"``, ``"10"``, ``"2"`` gives
``["2", "10", "b"]``); branch ids ``__proto__``/``constructor``/``toString`` give
``isError`` (``this.branches[input.branchId].push is not a function``) AFTER the thought was
appended to the history; ``""`` as ``branchId`` is silently not a branch; the exotic number
spellings above (``"0x10"``, ``"1e1"``, ``true`` as a number).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

_TESTS_DIR = Path(__file__).resolve().parents[1]
for _p in (_TESTS_DIR, _TESTS_DIR / "mcp"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rawstdio import RawStdioClient  # noqa: E402

import nodeenv  # noqa: E402

TOOL = "sequentialthinking"
THINKGATE_COMMAND = [sys.executable, "-m", "thinkgate", "serve", "--store", "memory://"]
NODE_ENV = {"DISABLE_THOUGHT_LOGGING": "true"}
NODE_VERSION = "2026.8.31"
CALL_TIMEOUT = 5.0  # seconds per JSON-RPC round trip (startup included in the first one)

OFFICIAL_FIELDS = ("thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength")
NODE_INPUT_PROPERTIES = (
    "thought",
    "nextThoughtNeeded",
    "thoughtNumber",
    "totalThoughts",
    "isRevision",
    "revisesThought",
    "branchFromThought",
    "branchId",
    "needsMoreThoughts",
)
NODE_REQUIRED = ("thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts")
# Fields Node coerces from strings at run time (booleans: "true"/"false"; integers: Number(...)).
STRING_COERCED_BOOLEANS = ("nextThoughtNeeded", "isRevision", "needsMoreThoughts")
STRING_COERCED_INTEGERS = ("thoughtNumber", "totalThoughts", "revisesThought", "branchFromThought")

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------------------------- helpers


def T(number: Any, total: Any, next_needed: Any = True, **extra: Any) -> dict[str, Any]:
    """Arguments of one ``sequentialthinking`` call."""
    args: dict[str, Any] = {
        "thought": f"step {number}: reasoning text",
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": next_needed,
    }
    args.update(extra)
    return args


def ok(number: int, total: int, next_needed: bool, branches: list[str], length: int) -> dict[str, Any]:
    """The official view of a successful call."""
    return {
        "isError": False,
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": next_needed,
        "branches": branches,
        "thoughtHistoryLength": length,
    }


ERR: dict[str, Any] = {"isError": True}


def canon(value: Any) -> str:
    """Type-strict canonical form (``True`` != ``1`` != ``1.0``)."""
    return json.dumps(value, sort_keys=True)


def tool_result(response: dict[str, Any], server: str) -> dict[str, Any]:
    assert "result" in response, f"{server}: JSON-RPC error instead of a tool result: {response!r}"
    result: dict[str, Any] = response["result"]
    return result


def official_view(response: dict[str, Any], server: str) -> dict[str, Any]:
    result = tool_result(response, server)
    if result.get("isError"):
        assert result.get("isError") is True, f"{server}: isError must be a JSON boolean: {result!r}"
        return dict(ERR)
    sc = result.get("structuredContent")
    assert isinstance(sc, dict), f"{server}: no structuredContent object in {result!r}"
    missing = [f for f in OFFICIAL_FIELDS if f not in sc]
    assert not missing, f"{server}: structuredContent lacks {missing}: {sc!r}"
    return {"isError": False, **{f: sc[f] for f in OFFICIAL_FIELDS}}


def check_text_mirrors_structured(response: dict[str, Any], server: str) -> None:
    """Clients that ignore structuredContent parse content[0].text (Node: the same JSON object)."""
    result = tool_result(response, server)
    if result.get("isError"):
        return
    content = result.get("content")
    assert isinstance(content, list) and content, f"{server}: empty content in {result!r}"
    first = content[0]
    assert first.get("type") == "text", f"{server}: content[0] is not text: {first!r}"
    try:
        parsed = json.loads(first["text"])
    except ValueError:
        pytest.fail(f"{server}: content[0].text is not JSON: {first['text'][:300]!r}")
    assert isinstance(parsed, dict), f"{server}: content[0].text is not a JSON object"
    sc = result["structuredContent"]
    assert canon({f: parsed.get(f) for f in OFFICIAL_FIELDS}) == canon({f: sc[f] for f in OFFICIAL_FIELDS}), (
        f"{server}: content[0].text and structuredContent disagree:\n{first['text']}\n{sc!r}"
    )


def error_text(response: dict[str, Any]) -> str:
    result = response.get("result", {})
    return "\n".join(str(c.get("text", "")) for c in result.get("content", []) if isinstance(c, dict))


def run_calls(
    argv: list[str], calls: list[dict[str, Any]], *, cwd: Path, env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Fresh server process: handshake, then one ``tools/call`` per entry. Whole responses."""
    with RawStdioClient(argv, env=env, cwd=cwd, timeout=CALL_TIMEOUT) as client:
        client.initialize()
        return [client.call_tool(TOOL, args) for args in calls]


def list_tools(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> tuple[dict[str, Any], Any]:
    with RawStdioClient(argv, env=env, cwd=cwd, timeout=CALL_TIMEOUT) as client:
        init = client.initialize()
        response = client.call("tools/list")
    assert "result" in response, f"tools/list failed: {response!r}"
    return init, response["result"]["tools"]


def find_tool(tools: list[dict[str, Any]], server: str) -> dict[str, Any]:
    for tool in tools:
        if tool.get("name") == TOOL:
            return tool
    pytest.fail(f"{server}: no {TOOL!r} tool in tools/list: {[t.get('name') for t in tools]}")


def admitted_types(schema: dict[str, Any]) -> set[str]:
    """JSON types a property schema admits (``type`` string/list, plus ``anyOf``/``oneOf`` members)."""
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(str(t) for t in declared)
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict):
                types |= admitted_types(sub)
    if "number" in types:
        types.add("integer")  # every integer is a number
    return types


@pytest.fixture(scope="module")
def node_command() -> list[str]:
    cmd = nodeenv.official_server_command()  # raises in CI when missing
    if cmd is None:
        pytest.skip(nodeenv.MISSING_HINT)
    return cmd


# ---------------------------------------------------------------------------------------------- cases
# name -> list of (arguments, Node's recorded official view). Each case runs in fresh processes.

CASES: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
    "simple_chain": [
        (T(1, 3), ok(1, 3, True, [], 1)),
        (T(2, 3), ok(2, 3, True, [], 2)),
        (T(3, 3, False), ok(3, 3, False, [], 3)),
    ],
    "string_coercion": [
        (T("1", "5", "true"), ok(1, 5, True, [], 1)),
        (T("2", "5", "true", isRevision="true", revisesThought="1"), ok(2, 5, True, [], 2)),
        (T("3", "5", "false", needsMoreThoughts="false"), ok(3, 5, False, [], 3)),
        (T(4, "5", "TRUE", isRevision="False"), ok(4, 5, True, [], 4)),
        (T("5", 5, "False", branchFromThought="1", branchId="s"), ok(5, 5, False, ["s"], 5)),
    ],
    "thought_number_exceeds_total": [
        (T(1, 3), ok(1, 3, True, [], 1)),
        (T(5, 3), ok(5, 5, True, [], 2)),
        (T(6, 2, False), ok(6, 6, False, [], 3)),
    ],
    "revision_of_existing_thought": [
        (T(1, 3), ok(1, 3, True, [], 1)),
        (T(2, 3), ok(2, 3, True, [], 2)),
        (T(3, 3, isRevision=True, revisesThought=1), ok(3, 3, True, [], 3)),
        (T(4, 4, False, isRevision=False), ok(4, 4, False, [], 4)),
    ],
    "branches": [
        (T(1, 5), ok(1, 5, True, [], 1)),
        (T(2, 5), ok(2, 5, True, [], 2)),
        (T(3, 5, branchFromThought=1, branchId="b"), ok(3, 5, True, ["b"], 3)),
        # second branch: listed after the first (first-seen order, not sorted)
        (T(4, 5, branchFromThought=2, branchId="a"), ok(4, 5, True, ["b", "a"], 4)),
        # repeated branch id: listed once, order unchanged
        (T(5, 5, branchFromThought=1, branchId="b"), ok(5, 5, True, ["b", "a"], 5)),
        (T(6, 6, False), ok(6, 6, False, ["b", "a"], 6)),
    ],
    "needs_more_thoughts": [
        (T(1, 2), ok(1, 2, True, [], 1)),
        (T(2, 2, needsMoreThoughts=True), ok(2, 2, True, [], 2)),
        (T(3, 4), ok(3, 4, True, [], 3)),
        (T(4, 4, False, needsMoreThoughts=False), ok(4, 4, False, [], 4)),
    ],
    "final_thought": [
        (T(1, 2), ok(1, 2, True, [], 1)),
        (T(2, 2, False), ok(2, 2, False, [], 2)),
        # Node keeps accepting thoughts after a final one
        (T(3, 3, True), ok(3, 3, True, [], 3)),
    ],
    "repeated_thought_number": [
        (T(1, 3), ok(1, 3, True, [], 1)),
        (T(1, 3), ok(1, 3, True, [], 2)),
        (T(2, 3), ok(2, 3, True, [], 3)),
        (T(2, 3), ok(2, 3, True, [], 4)),
    ],
    "lone_branch_id_is_not_a_branch": [
        (T(1, 3), ok(1, 3, True, [], 1)),
        (T(2, 3, branchId="lonely"), ok(2, 3, True, [], 2)),
    ],
    "invalid_inputs": [
        (T(0, 3), ERR),
        ({"thoughtNumber": 1, "totalThoughts": 3, "nextThoughtNeeded": True}, ERR),  # no thought
        (T("abc", 3), ERR),
        (T(-1, 3), ERR),
        (T(1, 0), ERR),
        (T(1.5, 3), ERR),
        (T(1, 3, "maybe"), ERR),
        ({"thought": "x", "thoughtNumber": 1, "totalThoughts": 3}, ERR),  # no nextThoughtNeeded
        (T(1, 3, revisesThought=0), ERR),
        # booleans are true/false or "true"/"false" in any case, nothing else
        (T(1, 3, "0"), ERR),
        (T(1, 3, "yes"), ERR),
        (T(1, 3, 1), ERR),
        (T(1, 3, " true"), ERR),
        (T("1_0", 3), ERR),
        (T(1, 3, isRevision="no"), ERR),
        # nothing above was recorded
        (T(1, 3), ok(1, 3, True, [], 1)),
    ],
    "number_forms": [
        # integers as JavaScript's Number() reads them
        (T(" 1", 9), ok(1, 9, True, [], 1)),
        (T("2.0", "9"), ok(2, 9, True, [], 2)),
        (T("0x3", 9), ok(3, 9, True, [], 3)),
        (T("4e0", "9.0"), ok(4, 9, True, [], 4)),
        (T(5.0, 9, "False"), ok(5, 9, False, [], 5)),
        (T(6, 9, branchId=""), ok(6, 9, True, [], 6)),
    ],
}


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.node
@pytest.mark.parametrize("case", list(CASES))
def test_sequence_matches_node(case: str, node_command: list[str], tmp_path: Path) -> None:
    calls = [args for args, _ in CASES[case]]
    recorded = [view for _, view in CASES[case]]

    node_responses = run_calls(node_command, calls, cwd=tmp_path, env=NODE_ENV)
    node_views = [official_view(r, "node") for r in node_responses]
    for i, (got, want) in enumerate(zip(node_views, recorded, strict=True)):
        assert canon(got) == canon(want), (
            f"the pinned Node server changed behaviour at call {i} {calls[i]!r}: {got!r}, recorded {want!r}"
        )

    tg_responses = run_calls(THINKGATE_COMMAND, calls, cwd=tmp_path, env=NODE_ENV)
    for i, (node_r, tg_r) in enumerate(zip(node_responses, tg_responses, strict=True)):
        node_view = official_view(node_r, "node")
        tg_view = official_view(tg_r, "thinkgate")
        assert canon(tg_view) == canon(node_view), (
            f"{case}: call {i} {calls[i]!r}\n  node:      {node_view!r}\n  thinkgate: {tg_view!r}"
            + (f"\n  thinkgate text: {error_text(tg_r)[:500]}" if tg_view["isError"] else "")
        )
        check_text_mirrors_structured(tg_r, "thinkgate")


@pytest.mark.node
def test_tool_schema_matches_node(node_command: list[str], tmp_path: Path) -> None:
    node_init, node_tools = list_tools(node_command, cwd=tmp_path, env=NODE_ENV)
    assert node_init["serverInfo"]["version"] == NODE_VERSION
    node_tool = find_tool(node_tools, "node")
    node_in = node_tool["inputSchema"]
    assert tuple(node_in["properties"]) == NODE_INPUT_PROPERTIES
    assert tuple(node_in["required"]) == NODE_REQUIRED

    _, tg_tools = list_tools(THINKGATE_COMMAND, cwd=tmp_path)
    tg_tool = find_tool(tg_tools, "thinkgate")
    tg_in = tg_tool["inputSchema"]
    tg_props = tg_in.get("properties", {})

    missing = [p for p in NODE_INPUT_PROPERTIES if p not in tg_props]
    assert not missing, f"ThinkGate's inputSchema lacks Node's properties {missing}"
    assert sorted(tg_in.get("required", [])) == sorted(node_in["required"]), (
        f"required differs: thinkgate {tg_in.get('required')!r}, node {node_in['required']!r}"
    )
    for name in NODE_INPUT_PROPERTIES:
        node_types = admitted_types(node_in["properties"][name])
        tg_types = admitted_types(tg_props[name])
        assert node_types <= tg_types, (
            f"{name}: Node admits {sorted(node_types)}, ThinkGate only {sorted(tg_types)}: {tg_props[name]!r}"
        )

    # Node guarantees all five official fields in structuredContent (its outputSchema requires them).
    node_out = node_tool["outputSchema"]
    assert sorted(node_out["required"]) == sorted(OFFICIAL_FIELDS)
    tg_out = tg_tool.get("outputSchema")
    assert isinstance(tg_out, dict), "ThinkGate's tool has no outputSchema"
    lacking = [f for f in OFFICIAL_FIELDS if f not in tg_out.get("properties", {})]
    assert not lacking, f"ThinkGate's outputSchema lacks {lacking}"
    not_required = [f for f in OFFICIAL_FIELDS if f not in tg_out.get("required", [])]
    assert not not_required, f"ThinkGate's outputSchema does not require {not_required}"


def test_input_schema_admits_strings_node_coerces(tmp_path: Path) -> None:
    """Node coerces strings for these fields (see CASES["string_coercion"]); ThinkGate's schema says so."""
    _, tg_tools = list_tools(THINKGATE_COMMAND, cwd=tmp_path)
    props = find_tool(tg_tools, "thinkgate")["inputSchema"].get("properties", {})
    for name in STRING_COERCED_BOOLEANS:
        assert {"boolean", "string"} <= admitted_types(props[name]), f"{name}: {props[name]!r}"
    for name in STRING_COERCED_INTEGERS:
        assert {"integer", "string"} <= admitted_types(props[name]), f"{name}: {props[name]!r}"


# ------------------------------------------------------------------- known intentional differences

UNKNOWN_REFERENCE_CASES: dict[str, dict[str, Any]] = {
    "revises_unknown_thought": T(2, 3, isRevision=True, revisesThought=99),
    "branch_from_unknown_thought": T(2, 3, branchFromThought=99, branchId="x"),
}
# what Node returns for the second call (it accepts the dangling reference)
NODE_UNKNOWN_REFERENCE_VIEWS: dict[str, dict[str, Any]] = {
    "revises_unknown_thought": ok(2, 3, True, [], 2),
    "branch_from_unknown_thought": ok(2, 3, True, ["x"], 2),
}
BRANCH_WITHOUT_ID = T(2, 3, branchFromThought=1)


@pytest.mark.node
def test_node_baseline_for_known_differences(node_command: list[str], tmp_path: Path) -> None:
    """Documents what Node does where ThinkGate intentionally differs."""
    for name, args in UNKNOWN_REFERENCE_CASES.items():
        responses = run_calls(node_command, [T(1, 3), args], cwd=tmp_path, env=NODE_ENV)
        assert canon(official_view(responses[1], "node")) == canon(NODE_UNKNOWN_REFERENCE_VIEWS[name]), name
    responses = run_calls(node_command, [T(1, 3), BRANCH_WITHOUT_ID], cwd=tmp_path, env=NODE_ENV)
    assert canon(official_view(responses[1], "node")) == canon(ok(2, 3, True, [], 2))
    assert "branchId" not in responses[1]["result"]["structuredContent"]


@pytest.mark.parametrize("name", list(UNKNOWN_REFERENCE_CASES))
def test_thinkgate_rejects_unknown_reference(name: str, tmp_path: Path) -> None:
    calls = [T(1, 3), UNKNOWN_REFERENCE_CASES[name], T(2, 3)]
    first, rejected, after = run_calls(THINKGATE_COMMAND, calls, cwd=tmp_path)
    assert canon(official_view(first, "thinkgate")) == canon(ok(1, 3, True, [], 1))
    assert official_view(rejected, "thinkgate") == ERR, f"expected isError, got {rejected!r}"
    assert "UNKNOWN_THOUGHT" in error_text(rejected), error_text(rejected)
    # the rejected call was not recorded
    assert canon(official_view(after, "thinkgate")) == canon(ok(2, 3, True, [], 2))


def test_thinkgate_assigns_branch_id(tmp_path: Path) -> None:
    first, branched = run_calls(THINKGATE_COMMAND, [T(1, 3), BRANCH_WITHOUT_ID], cwd=tmp_path)
    assert canon(official_view(first, "thinkgate")) == canon(ok(1, 3, True, [], 1))
    view = official_view(branched, "thinkgate")
    assert view["isError"] is False
    branch_id = branched["result"]["structuredContent"].get("branchId")
    assert isinstance(branch_id, str) and branch_id, f"no branchId in {branched['result']!r}"
    assert canon(view) == canon(ok(2, 3, True, [branch_id], 2))
