"""Every tool, resource and prompt through the official SDK client, in-process, in both protocol eras."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from mcp import Client
from thinkgate.domain.thinking import Limits
from thinkgate.engine.engine import Engine, EngineConfig
from thinkgate.mcp.server import build_server
from thinkgate.mcp.toolsets import TOOLSETS
from thinkgate.store.sqlite import SqliteEventStore

pytestmark = pytest.mark.anyio

OFFICIAL = ("thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength")


@pytest.fixture
async def engine(tmp_path: Any) -> AsyncIterator[Engine]:
    ticks = itertools.count()
    eng = Engine(
        SqliteEventStore(tmp_path / "tg.db"),
        EngineConfig(limits=Limits(max_thought_bytes=1000, max_thoughts_per_session=50)),
        # A clock that always moves forward, so "most recent" is well defined in these tests.
        clock=lambda: f"2026-01-01T00:00:00.{next(ticks):06d}Z",
    )
    await eng.start()
    yield eng
    await eng.stop()


@pytest.fixture(params=["legacy", "auto"])
async def client(request: pytest.FixtureRequest, engine: Engine) -> AsyncIterator[Client]:
    async with Client(build_server(engine), mode=request.param) as c:
        yield c


def args(n: int, total: int = 3, **kw: Any) -> dict[str, Any]:
    return {"thought": f"step {n}", "nextThoughtNeeded": True, "thoughtNumber": n, "totalThoughts": total, **kw}


def error_code(result: Any) -> str:
    """The stable code of an error result: it leads the text and is repeated in ``_meta``."""
    assert result.is_error
    assert result.structured_content is None  # clients validate it against the output schema
    code: str = result.meta["thinkgate/error"]["code"]
    assert result.content[0].text.startswith(f"{code}: ")
    return code


async def call(c: Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await c.call_tool(name, arguments)
    if not result.is_error:
        # The text block carries the same JSON as structuredContent, for clients that only read text.
        assert json.loads(result.content[0].text) == result.structured_content
    return result


async def test_tools_are_listed_with_honest_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "sequentialthinking",
        "get_thinking_history",
        "list_sessions",
        "clear_thinking_history",
    } | set(TOOLSETS["graph"]) | set(TOOLSETS["governance"])
    for name in TOOLSETS["graph"]:  # every deliberation tool writes to the session's log
        ann = tools[name].annotations
        assert ann is not None and ann.read_only_hint is False and ann.destructive_hint is False
    seq = tools["sequentialthinking"].annotations
    assert seq is not None
    assert (seq.read_only_hint, seq.idempotent_hint, seq.destructive_hint) == (False, False, False)
    for name in ("get_thinking_history", "list_sessions"):
        ann = tools[name].annotations
        assert ann is not None and ann.read_only_hint is True
    clear = tools["clear_thinking_history"].annotations
    assert clear is not None and clear.destructive_hint is True
    for tool in tools.values():
        assert tool.description and len(tool.description) < 1024
    schema = tools["sequentialthinking"].input_schema
    assert set(schema["required"]) == {"thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts"}
    assert tools["sequentialthinking"].output_schema is not None
    assert set(OFFICIAL) <= set(tools["sequentialthinking"].output_schema["required"])


async def test_a_chain_with_a_branch_and_a_revision(client: Client) -> None:
    first = await call(client, "sequentialthinking", args(1))
    sid = first.structured_content["sessionId"]
    await call(client, "sequentialthinking", args(2, sessionId=sid))
    branch = await call(client, "sequentialthinking", args(3, sessionId=sid, branchFromThought=1, branchId="alt"))
    revision = await call(client, "sequentialthinking", args(4, sessionId=sid, isRevision=True, revisesThought=2))
    assert branch.structured_content["branches"] == ["alt"]
    assert revision.structured_content["thoughtHistoryLength"] == 4
    history = await call(client, "get_thinking_history", {"sessionId": sid})
    thoughts = history.structured_content["thoughts"]
    assert [t["thought"] for t in thoughts] == ["step 1", "step 2", "step 3", "step 4"]
    assert thoughts[2]["branchId"] == "alt" and thoughts[3]["revisesThought"] == 2
    only_alt = await call(client, "get_thinking_history", {"sessionId": sid, "branchId": "alt"})
    assert [t["thoughtNumber"] for t in only_alt.structured_content["thoughts"]] == [3]


async def test_strings_are_coerced_like_the_official_server(client: Client) -> None:
    result = await call(
        client,
        "sequentialthinking",
        {"thought": "x", "nextThoughtNeeded": "false", "thoughtNumber": "4", "totalThoughts": "2"},
    )
    assert not result.is_error
    assert {k: result.structured_content[k] for k in OFFICIAL[:3]} == {
        "thoughtNumber": 4,
        "totalThoughts": 4,
        "nextThoughtNeeded": False,
    }


async def test_unknown_reference_is_a_tool_error_with_a_stable_code(client: Client, engine: Engine) -> None:
    first = await call(client, "sequentialthinking", args(1))
    sid = first.structured_content["sessionId"]
    bad = await call(client, "sequentialthinking", args(2, sessionId=sid, revisesThought=7))
    assert bad.is_error
    assert error_code(bad) == "UNKNOWN_THOUGHT"
    assert "existing thoughtNumbers: 1" in bad.content[0].text
    state = await engine.load(sid)
    assert state is not None and state.history_length == 1  # nothing stored


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (args(1, sessionId="../etc"), "INVALID_INPUT"),  # rejected by the schema's pattern
        (args(1, thought="x" * 1001), "THOUGHT_TOO_LONG"),
        (args(1, branchFromThought=1, branchId="b"), "UNKNOWN_THOUGHT"),
    ],
)
async def test_bad_input_is_an_error_and_stores_nothing(
    client: Client, engine: Engine, arguments: dict[str, Any], code: str | None
) -> None:
    result = await call(client, "sequentialthinking", arguments)
    assert result.is_error
    if code is not None:
        assert error_code(result) == code
    assert await engine.store.count_sessions() == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"thought": "x", "nextThoughtNeeded": True, "thoughtNumber": 0, "totalThoughts": 1},
        {"thought": "x", "nextThoughtNeeded": True, "thoughtNumber": "abc", "totalThoughts": 1},
        {"nextThoughtNeeded": True, "thoughtNumber": 1, "totalThoughts": 1},
        {"thought": 5, "nextThoughtNeeded": True, "thoughtNumber": 1, "totalThoughts": 1},
        {"thought": "x", "nextThoughtNeeded": "maybe", "thoughtNumber": 1, "totalThoughts": 1},
    ],
)
async def test_wrong_types_and_missing_fields_are_tool_errors(client: Client, arguments: dict[str, Any]) -> None:
    result = await client.call_tool("sequentialthinking", arguments)
    assert result.is_error
    assert error_code(result) == "INVALID_INPUT"
    assert result.content[0].text.startswith("INVALID_INPUT: invalid arguments for sequentialthinking: ")


async def test_unknown_tool_is_an_error(client: Client) -> None:
    result = await client.call_tool("no_such_tool", {})
    assert result.is_error
    assert error_code(result) == "UNKNOWN_TOOL"


async def test_retry_with_the_same_request_id_is_recorded_once(client: Client, engine: Engine) -> None:
    a = await call(client, "sequentialthinking", args(1, sessionId="retry-1", requestId="req-1"))
    b = await call(client, "sequentialthinking", args(1, sessionId="retry-1", requestId="req-1"))
    assert a.structured_content == b.structured_content
    info = await engine.store.session("retry-1")
    assert info is not None and info.version == 2  # session_created + one thought
    clash = await call(client, "sequentialthinking", args(2, sessionId="retry-1", requestId="req-1"))
    assert error_code(clash) == "IDEMPOTENCY_CONFLICT"


async def test_unknown_session_id_creates_that_session(client: Client) -> None:
    result = await call(client, "sequentialthinking", args(1, sessionId="my-task-42"))
    assert result.structured_content["sessionId"] == "my-task-42"


async def test_history_pages_with_a_cursor(client: Client) -> None:
    for n in range(1, 8):
        await call(client, "sequentialthinking", args(n, total=7, sessionId="paged"))
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await call(client, "get_thinking_history", {"sessionId": "paged", "limit": 3, "cursor": cursor})
        seen += [t["thoughtNumber"] for t in page.structured_content["thoughts"]]
        cursor = page.structured_content["nextCursor"]
        pages += 1
        if cursor is None:
            break
    assert seen == list(range(1, 8))
    assert pages == 3


async def test_history_of_unknown_session_is_an_error(client: Client) -> None:
    result = await call(client, "get_thinking_history", {"sessionId": "nope"})
    assert error_code(result) == "SESSION_NOT_FOUND"


async def test_list_sessions_pages(client: Client) -> None:
    for i in range(5):
        await call(client, "sequentialthinking", args(1, sessionId=f"s{i}"))
    await call(client, "sequentialthinking", args(2, sessionId="s1"))  # s1 is now the most recent
    first = await call(client, "list_sessions", {"limit": 3})
    assert [s["sessionId"] for s in first.structured_content["sessions"]] == ["s1", "s4", "s3"]
    rest = await call(client, "list_sessions", {"limit": 3, "cursor": first.structured_content["nextCursor"]})
    assert [s["sessionId"] for s in rest.structured_content["sessions"]] == ["s2", "s0"]
    assert rest.structured_content["nextCursor"] is None
    bad = await call(client, "list_sessions", {"cursor": "not-a-cursor"})
    assert error_code(bad) == "INVALID_INPUT"


async def test_clear_starts_history_afresh(client: Client) -> None:
    await call(client, "sequentialthinking", args(1, sessionId="c"))
    await call(client, "sequentialthinking", args(2, sessionId="c"))
    cleared = await call(client, "clear_thinking_history", {"sessionId": "c"})
    assert cleared.structured_content == {"sessionId": "c", "cleared": 2}
    again = await call(client, "sequentialthinking", args(1, sessionId="c"))
    assert again.structured_content["thoughtHistoryLength"] == 1
    history = await call(client, "get_thinking_history", {"sessionId": "c"})
    assert len(history.structured_content["thoughts"]) == 1


async def test_clear_of_unknown_session_is_an_error(client: Client) -> None:
    result = await call(client, "clear_thinking_history", {"sessionId": "ghost"})
    assert error_code(result) == "SESSION_NOT_FOUND"


async def test_resources_list_sessions_and_timelines(client: Client) -> None:
    await call(client, "sequentialthinking", args(1, sessionId="res"))
    sessions = await client.read_resource("thinkgate://sessions")
    assert [s["sessionId"] for s in json.loads(sessions.contents[0].text)["sessions"]] == ["res"]
    timeline = await client.read_resource("thinkgate://session/res/timeline")
    assert [t["thought"] for t in json.loads(timeline.contents[0].text)["thoughts"]] == ["step 1"]
    with pytest.raises(MCPError):
        await client.read_resource("thinkgate://session/missing/timeline")


async def test_guidance_prompt(client: Client) -> None:
    prompts = await client.list_prompts()
    assert [p.name for p in prompts.prompts] == [
        "sequential-thinking-guidance",
        "tot-planner-guidance",
        "diverse-lens-pack",
        "verification-pack",
        "triangulation-pack",
        "decision-routing-pack",
    ]
    prompt = await client.get_prompt("sequential-thinking-guidance", {})
    assert "revise" in prompt.messages[0].content.text


async def test_two_connections_without_session_id_never_share_a_history(engine: Engine) -> None:
    server = build_server(engine)
    async with Client(server, mode="legacy") as a, Client(server, mode="legacy") as b:
        a1 = await call(a, "sequentialthinking", args(1))
        b1 = await call(b, "sequentialthinking", args(1))
        a2 = await call(a, "sequentialthinking", args(2))
        assert a1.structured_content["sessionId"] != b1.structured_content["sessionId"]
        assert a2.structured_content["sessionId"] == a1.structured_content["sessionId"]
        assert a2.structured_content["thoughtHistoryLength"] == 2
        assert b1.structured_content["thoughtHistoryLength"] == 1


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (args(2**53), "INVALID_INPUT"),
        ({**args(1), "totalThoughts": "18446744073709551616"}, "INVALID_INPUT"),
        (args(1, sessionId="ghp_" + "A1b2C3d4E5" * 4), "INVALID_SESSION_ID"),
    ],
)
async def test_out_of_range_numbers_and_secret_looking_session_ids_are_refused(
    client: Client, engine: Engine, arguments: dict[str, Any], code: str
) -> None:
    assert error_code(await call(client, "sequentialthinking", arguments)) == code
    assert await engine.store.count_sessions() == 0


async def test_a_history_cursor_out_of_range_is_invalid_input(client: Client) -> None:
    await call(client, "sequentialthinking", args(1, sessionId="cur"))
    bad = await call(client, "get_thinking_history", {"sessionId": "cur", "cursor": "99999999999999999999999"})
    assert error_code(bad) == "INVALID_INPUT"


async def test_an_empty_branch_id_means_no_branch(client: Client) -> None:
    first = await call(client, "sequentialthinking", args(1, branchId=""))
    sid = first.structured_content["sessionId"]
    second = await call(client, "sequentialthinking", args(2, sessionId=sid, branchFromThought=1, branchId=""))
    assert first.structured_content["branches"] == []
    assert second.structured_content["branches"] == [second.structured_content["branchId"]]  # one was assigned


async def test_an_unknown_prompt_is_an_invalid_params_error(client: Client) -> None:
    with pytest.raises(MCPError) as info:
        await client.get_prompt("no-such-prompt", {})
    assert info.value.error.code == -32602
    assert "prompts/list" in info.value.error.message


async def test_a_history_page_limit_over_the_maximum_is_clamped_and_reported(client: Client) -> None:
    await call(client, "sequentialthinking", args(1, sessionId="clamp"))
    page = await call(client, "get_thinking_history", {"sessionId": "clamp", "limit": 5000})
    assert page.structured_content["warnings"] == ["limit 5000 clamped to 500"]
    assert len(page.structured_content["thoughts"]) == 1


async def test_a_null_optional_number_beside_a_bad_argument_is_invalid_input(client: Client) -> None:
    # pydantic once applied the range of revisesThought to its None (INTERNAL instead of INVALID_INPUT).
    for key in ("revisesThought", "branchFromThought"):
        result = await client.call_tool("sequentialthinking", {**args(1), "thoughtNumber": "x", key: None})
        assert error_code(result) == "INVALID_INPUT"
