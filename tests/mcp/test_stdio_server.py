"""``thinkgate serve`` as a real subprocess over stdio, on a real SQLite file.

Driven by the official SDK client (``mcp.Client`` + ``StdioServerParameters``, both protocol eras)
and by the raw JSON-RPC client in ``rawstdio.py`` for wire-level checks (stdout purity, framing
errors, EOF handling). Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp import Client, MCPError, StdioServerParameters

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from rawstdio import RawStdioClient, ServerClosedError  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SERVE = [sys.executable, "-m", "thinkgate", "serve"]
TOOLS = ("sequentialthinking", "get_thinking_history", "list_sessions", "clear_thinking_history")
SDK_TIMEOUT = 60.0
PROC_TIMEOUT = 60.0


def store_url(path: Path) -> str:
    return f"sqlite:///{path}"  # absolute path: sqlite:////abs/path


def serve_argv(db: Path) -> list[str]:
    return [*SERVE, "--store", store_url(db)]


def raw_client(db: Path, **env: str | None) -> RawStdioClient:
    """A RawStdioClient on a fresh server process; THINKGATE_STORE from the outside is ignored."""
    return RawStdioClient(serve_argv(db), env={"THINKGATE_STORE": None, **env}, timeout=30.0)


def thought(number: int, total: int = 3, text: str | None = None, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "thought": text if text is not None else f"step {number}",
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": True,
    }
    args.update(extra)
    return args


def ok(response: dict[str, Any]) -> dict[str, Any]:
    """structuredContent of a successful raw tools/call response."""
    assert "result" in response, response
    result = response["result"]
    assert result.get("isError") is not True, result
    content: dict[str, Any] = result["structuredContent"]
    return content


def error_code(result: dict[str, Any]) -> str:
    """The ThinkGate error code of a raw ``isError`` tool result (its text is ``CODE: message``)."""
    assert result.get("isError") is True, result
    text: str = result["content"][0]["text"]
    return text.split(":", 1)[0]


def history(client: RawStdioClient, session_id: str) -> list[dict[str, Any]]:
    """Every thought of a session, following nextCursor."""
    thoughts: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        args: dict[str, Any] = {"sessionId": session_id, "limit": 50}
        if cursor is not None:
            args["cursor"] = cursor
        page = ok(client.call_tool("get_thinking_history", args))
        assert page["sessionId"] == session_id
        thoughts.extend(page["thoughts"])
        cursor = page["nextCursor"]
        if cursor is None:
            return thoughts
    raise AssertionError("history paging did not end")


# ---------------------------------------------------------------------------------------------- a. SDK client


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", None], ids=["legacy", "auto"])
async def test_official_sdk_client_uses_tools_resources_and_prompt(mode: str | None, tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=serve_argv(tmp_path / "sdk.db")[1:])
    kwargs: dict[str, Any] = {"mode": mode} if mode is not None else {}
    with anyio.fail_after(SDK_TIMEOUT):
        async with Client(params, read_timeout_seconds=30, **kwargs) as client:
            # legacy forces the 2025-11-25 handshake; auto negotiates the 2026-07-28 era
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            assert client.server_info is not None
            assert client.server_info.name == "thinkgate"

            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(TOOLS) <= set(tools)
            for tool in tools.values():
                assert tool.description
                assert len(tool.description) < 1024, tool.name
                assert tool.annotations is not None, tool.name
            seq = tools["sequentialthinking"].annotations
            assert seq is not None
            assert seq.read_only_hint is False
            assert seq.idempotent_hint is False
            for name in ("get_thinking_history", "list_sessions"):
                ann = tools[name].annotations
                assert ann is not None
                assert ann.read_only_hint is True, name
            clear = tools["clear_thinking_history"].annotations
            assert clear is not None
            assert clear.destructive_hint is True
            schema = tools["sequentialthinking"].input_schema
            assert {"thought", "thoughtNumber", "totalThoughts", "nextThoughtNeeded"} <= set(schema["required"])

            async def think(args: dict[str, Any]) -> dict[str, Any]:
                result = await client.call_tool("sequentialthinking", args)
                assert result.is_error is False, result
                assert result.structured_content is not None
                return result.structured_content

            r1 = await think(thought(1, text="Understand the question"))
            sid = r1["sessionId"]
            assert r1["thoughtHistoryLength"] == 1
            assert r1["branches"] == []
            r2 = await think(thought(2, text="Pick an approach"))
            r3 = await think(thought(3, text="Step 1 was too vague", isRevision=True, revisesThought=1))
            r4 = await think(
                thought(3, text="Another approach", branchFromThought=2, branchId="alt", nextThoughtNeeded=False)
            )
            assert [r["sessionId"] for r in (r2, r3, r4)] == [sid, sid, sid]
            assert [r["thoughtHistoryLength"] for r in (r2, r3, r4)] == [2, 3, 4]
            assert [r["thoughtId"] for r in (r1, r2, r3, r4)] == ["t1", "t2", "t3", "t4"]
            assert r4["branches"] == ["alt"]
            assert r4["branchId"] == "alt"
            assert r4["nextThoughtNeeded"] is False

            bad = await client.call_tool("sequentialthinking", thought(4, isRevision=True, revisesThought=99))
            assert bad.is_error is True
            assert bad.content[0].text.startswith("UNKNOWN_THOUGHT: ")  # type: ignore[union-attr]

            hist = await client.call_tool("get_thinking_history", {})
            assert hist.is_error is False
            assert hist.structured_content is not None
            thoughts = hist.structured_content["thoughts"]
            assert hist.structured_content["sessionId"] == sid
            assert [t["thoughtId"] for t in thoughts] == ["t1", "t2", "t3", "t4"]
            assert [t["thoughtNumber"] for t in thoughts] == [1, 2, 3, 3]
            assert thoughts[0]["thought"] == "Understand the question"
            assert thoughts[2]["isRevision"] is True
            assert thoughts[2]["revisesThought"] == 1
            assert thoughts[3]["branchId"] == "alt"
            assert thoughts[3]["branchFromThought"] == 2
            branch = await client.call_tool("get_thinking_history", {"sessionId": sid, "branchId": "alt"})
            assert branch.structured_content is not None
            assert [t["thoughtId"] for t in branch.structured_content["thoughts"]] == ["t4"]

            listed = await client.call_tool("list_sessions", {})
            assert listed.structured_content is not None
            assert sid in {s["sessionId"] for s in listed.structured_content["sessions"]}

            resources = {str(r.uri) for r in (await client.list_resources()).resources}
            assert "thinkgate://sessions" in resources
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
            assert "thinkgate://session/{session_id}/timeline" in templates

            sessions = await client.read_resource("thinkgate://sessions")
            doc = json.loads(sessions.contents[0].text)  # type: ignore[union-attr]
            row = next(s for s in doc["sessions"] if s["sessionId"] == sid)
            assert row["events"] == 5  # session_created + 4 thoughts; the rejected call left nothing
            timeline = await client.read_resource(f"thinkgate://session/{sid}/timeline")
            assert timeline.contents[0].mime_type == "application/json"
            tdoc = json.loads(timeline.contents[0].text)  # type: ignore[union-attr]
            assert tdoc["sessionId"] == sid
            assert [t["thought"] for t in tdoc["thoughts"]] == [t["thought"] for t in thoughts]
            with pytest.raises(MCPError):
                await client.read_resource("thinkgate://session/no-such-session/timeline")

            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert "sequential-thinking-guidance" in prompts
            prompt = await client.get_prompt("sequential-thinking-guidance")
            text = prompt.messages[0].content.text  # type: ignore[union-attr]
            assert "sequentialthinking" in text


# ---------------------------------------------------------------------------------------------- b. restarts


def test_session_survives_a_restart_and_continues(tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    with raw_client(db) as first:
        first.initialize()
        r1 = ok(first.call_tool("sequentialthinking", thought(1, 4, "before restart one")))
        sid = r1["sessionId"]
        r2 = ok(first.call_tool("sequentialthinking", thought(2, 4, "before restart two")))
        assert r2["sessionId"] == sid
    assert first.proc.returncode == 0, first.stderr_tail()

    with raw_client(db) as second:
        second.initialize()
        r3 = ok(second.call_tool("sequentialthinking", thought(3, 4, "after restart", sessionId=sid)))
        assert r3["sessionId"] == sid
        assert r3["thoughtHistoryLength"] == 3
        assert r3["thoughtId"] == "t3"
        r4 = ok(
            second.call_tool(
                "sequentialthinking",
                thought(4, 4, "revise the first", sessionId=sid, isRevision=True, revisesThought=1),
            )
        )
        assert r4["thoughtHistoryLength"] == 4
        branch = ok(
            second.call_tool(
                "sequentialthinking", thought(3, 4, "branch off", sessionId=sid, branchFromThought=2, branchId="b")
            )
        )
        assert branch["branches"] == ["b"]
        missing = second.call_tool("sequentialthinking", thought(5, 5, "bad", sessionId=sid, revisesThought=42))
        assert error_code(missing["result"]) == "UNKNOWN_THOUGHT"
        thoughts = history(second, sid)
    assert second.proc.returncode == 0, second.stderr_tail()
    assert [t["thought"] for t in thoughts] == [
        "before restart one",
        "before restart two",
        "after restart",
        "revise the first",
        "branch off",
    ]
    assert thoughts[3]["revisesThought"] == 1


# ---------------------------------------------------------------------------------------------- c. default sessions


def test_each_server_process_gets_its_own_default_session(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    a, b = raw_client(db), raw_client(db)  # started together: both on the same file at once
    try:
        a.initialize()
        b.initialize()
        nothing_yet = b.call_tool("get_thinking_history", {})
        assert error_code(nothing_yet["result"]) == "SESSION_NOT_FOUND", "reading does not create a session"
        a1 = ok(a.call_tool("sequentialthinking", thought(1, text="from A")))
        b1 = ok(b.call_tool("sequentialthinking", thought(1, text="from B")))
        a2 = ok(a.call_tool("sequentialthinking", thought(2, text="A again")))
        assert a1["sessionId"] != b1["sessionId"]
        assert a2["sessionId"] == a1["sessionId"], "one connection keeps one session"
        assert a1["thoughtHistoryLength"] == 1
        assert b1["thoughtHistoryLength"] == 1, "no history shared between processes"
        assert a2["thoughtHistoryLength"] == 2
        own_a = ok(a.call_tool("get_thinking_history", {}))
        own_b = ok(b.call_tool("get_thinking_history", {}))
        assert [t["thought"] for t in own_a["thoughts"]] == ["from A", "A again"]
        assert [t["thought"] for t in own_b["thoughts"]] == ["from B"]
        listed = ok(b.call_tool("list_sessions", {}))
        assert {a1["sessionId"], b1["sessionId"]} <= {s["sessionId"] for s in listed["sessions"]}
    finally:
        codes = (a.close(), b.close())
    assert codes == (0, 0), a.stderr_tail() + b.stderr_tail()


# ---------------------------------------------------------------------------------------------- d. stdout purity


def _check_wire_message(message: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC 2.0 response: version, id, and exactly one of result / error."""
    assert message.get("jsonrpc") == "2.0", message
    assert "id" in message, message
    assert ("result" in message) != ("error" in message), message
    return message


def _check_wire_line(line: bytes) -> dict[str, Any]:
    message = json.loads(line)
    assert isinstance(message, dict), line[:200]
    return _check_wire_message(message)


def test_stdout_carries_only_json_rpc_whatever_the_input(tmp_path: Path) -> None:
    big = b"x" * (5 * 1024 * 1024)

    def req(rid: str, method: str, params: dict[str, Any] | None = None) -> bytes:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        return json.dumps(msg).encode() + b"\n"

    def call(rid: str, name: str, arguments: dict[str, Any]) -> bytes:
        return req(rid, "tools/call", {"name": name, "arguments": arguments})

    lines = [
        req(
            "init",
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        ),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
        call("ok1", "sequentialthinking", thought(1, text="first logged thought")),
        b"{this is not json\n",
        b'{"jsonrpc":"2.0","id":"cut","method":\n',
        b"\xff\xfe\x00garbage\n",
        b"[1, 2, 3]\n",
        b'[{"jsonrpc":"2.0","id":"in-batch","method":"ping"}]\n',
        b'{"hello":"world"}\n',
        b'"just a string"\n',
        b'{"jsonrpc":"2.0","id":"no-method"}\n',
        b'{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"sequentialthinking","arguments":'
        b'{"thought":"' + big + b'","thoughtNumber":2,"totalThoughts":3,"nextThoughtNeeded":true}}}\n',
        call("unknown-tool", "no_such_tool", {}),
        req("unknown-method", "no/such/method", {}),
        call("bad-number", "sequentialthinking", thought("abc", text="bad number")),  # type: ignore[arg-type]
        call("no-thought", "sequentialthinking", {"thoughtNumber": 2, "totalThoughts": 3, "nextThoughtNeeded": True}),
        call("ok2", "sequentialthinking", thought(2, text="second logged thought")),
        call("hist", "get_thinking_history", {}),
    ]
    client = RawStdioClient(
        serve_argv(tmp_path / "pure.db"),
        env={"THINKGATE_STORE": None, "THINKGATE_LOG_LEVEL": "DEBUG", "THINKGATE_LOG_THOUGHTS": "1"},
        timeout=30.0,
        stderr_limit=4 << 20,
    )
    messages: list[dict[str, Any]] = []
    try:
        client.send_raw(b"".join(lines))
        # read_message fails on any stdout line that is not a JSON object; the rest is checked here
        while not any(m.get("id") == "hist" for m in messages):
            messages.append(_check_wire_message(client.read_message(timeout=30)))
    finally:
        code = client.close()
    assert code == 0, client.stderr_tail()
    with pytest.raises(ServerClosedError):
        while True:  # anything written after the last answer must be JSON-RPC too
            messages.append(_check_wire_message(client.read_message(timeout=10)))

    by_id = {m["id"]: m for m in messages if m["id"] is not None}
    anonymous = [m for m in messages if m["id"] is None]
    assert len(by_id) + len(anonymous) == len(messages), "no id answered twice"

    assert "result" in by_id["init"]
    first = by_id["ok1"]["result"]["structuredContent"]
    second = by_id["ok2"]["result"]["structuredContent"]
    assert first["thoughtHistoryLength"] == 1
    assert second["thoughtHistoryLength"] == 2, "nothing in between was recorded"
    assert by_id["no-method"]["error"]["code"] == -32600
    assert by_id["unknown-method"]["error"]["code"] == -32601
    unknown_tool = by_id["unknown-tool"]
    assert unknown_tool.get("error") or unknown_tool["result"]["isError"] is True
    for rid in ("bad-number", "no-thought"):
        assert by_id[rid]["result"]["isError"] is True, by_id[rid]
    assert [t["thought"] for t in by_id["hist"]["result"]["structuredContent"]["thoughts"]] == [
        "first logged thought",
        "second logged thought",
    ]
    assert "big" not in by_id and "in-batch" not in by_id and "cut" not in by_id

    codes = sorted(m["error"]["code"] for m in anonymous)
    # three unparseable lines; array, batch, non-JSON-RPC object, bare string, oversized line
    assert codes == [-32700] * 3 + [-32600] * 5, anonymous
    oversized = [m for m in anonymous if "larger than" in m["error"]["message"]]
    assert len(oversized) == 1

    # Logs (including the opted-in thought log) went to stderr, never to stdout.
    stderr = client.stderr_tail(limit=4 << 20)
    assert stderr.strip()
    assert "logged thought" in stderr


def test_bad_lines_are_answered_one_by_one_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with raw_client(tmp_path / "live.db") as c:
        c.initialize()

        def error_for(raw: bytes) -> dict[str, Any]:
            c.send_raw(raw)
            response = c.read_response(timeout=30)
            assert response["jsonrpc"] == "2.0"
            assert "result" not in response
            error: dict[str, Any] = response["error"]
            error["id"] = response["id"]
            return error

        parse = error_for(b"not json at all\n")
        assert (parse["code"], parse["id"]) == (-32700, None)
        array = error_for(b'[{"jsonrpc":"2.0","id":"x","method":"ping"}]\n')
        assert (array["code"], array["id"]) == (-32600, None)
        stranger = error_for(b'{"jsonrpc":"2.0","id":"s-1","params":{}}\n')
        assert (stranger["code"], stranger["id"]) == (-32600, "s-1")
        old = error_for(b'{"jsonrpc":"1.0","id":"v1","method":"ping"}\n')
        assert (old["code"], old["id"]) == (-32600, "v1")
        oversized = error_for(
            b'{"jsonrpc":"2.0","id":"huge","method":"ping","params":{"pad":"' + b"y" * (5 << 20) + b'"}}\n'
        )
        assert oversized["code"] == -32600
        assert oversized["id"] is None

        after = ok(c.call_tool("sequentialthinking", thought(1, text="still serving")))
        assert after["thoughtHistoryLength"] == 1
        assert c.call("ping")["result"] == {}
        assert c.notifications == []
    assert c.proc.returncode == 0, c.stderr_tail()


# ---------------------------------------------------------------------------------------------- e. idempotency


def test_request_id_retry_returns_the_first_answer_and_records_once(tmp_path: Path) -> None:
    with raw_client(tmp_path / "retry.db") as c:
        c.initialize()
        args = thought(1, text="do this once", requestId="req-1")
        first = ok(c.call_tool("sequentialthinking", args))
        retry = ok(c.call_tool("sequentialthinking", args))
        assert retry["thoughtId"] == first["thoughtId"]
        assert retry == first
        sid = first["sessionId"]
        retry_explicit = ok(c.call_tool("sequentialthinking", {**args, "sessionId": sid}))
        assert retry_explicit["thoughtId"] == first["thoughtId"]
        assert len(history(c, sid)) == 1

        reused = c.call_tool("sequentialthinking", thought(1, text="something else", requestId="req-1"))
        assert error_code(reused["result"]) == "IDEMPOTENCY_CONFLICT"

        nxt = ok(c.call_tool("sequentialthinking", thought(2, text="next", requestId="req-2")))
        assert nxt["thoughtHistoryLength"] == 2
        assert [t["thoughtId"] for t in history(c, sid)] == [first["thoughtId"], nxt["thoughtId"]]
    assert c.proc.returncode == 0

    with raw_client(tmp_path / "retry.db") as again:  # the request log is durable too
        again.initialize()
        replay = ok(again.call_tool("sequentialthinking", {**args, "sessionId": sid}))
        assert replay["thoughtId"] == first["thoughtId"]
        assert len(history(again, sid)) == 2


# ---------------------------------------------------------------------------------------------- f. EOF


def _sequential_calls(count: int, first_id: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "jsonrpc": "2.0",
            "id": first_id + n - 1,
            "method": "tools/call",
            "params": {
                "name": "sequentialthinking",
                "arguments": thought(n, count, f"eof {n}", nextThoughtNeeded=n < count),
            },
        }
        for n in range(1, count + 1)
    ]


def test_client_that_writes_everything_and_closes_stdin_gets_every_answer(tmp_path: Path) -> None:
    count = 20
    messages: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *_sequential_calls(count),
        {
            "jsonrpc": "2.0",
            "id": count + 1,
            "method": "tools/call",
            "params": {"name": "list_sessions", "arguments": {}},
        },
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    proc = subprocess.run(
        serve_argv(tmp_path / "eof.db"),
        input=b"".join(json.dumps(m).encode() + b"\n" for m in messages),  # stdin closes after this
        capture_output=True,
        env=env,
        timeout=PROC_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    replies = [_check_wire_line(line) for line in proc.stdout.splitlines()]
    assert sorted(r["id"] for r in replies) == list(range(count + 2))
    by_id = {r["id"]: r for r in replies}
    lengths = sorted(by_id[n]["result"]["structuredContent"]["thoughtHistoryLength"] for n in range(1, count + 1))
    assert lengths == list(range(1, count + 1))
    sessions = by_id[count + 1]["result"]["structuredContent"]["sessions"]
    assert [s["events"] for s in sessions] == [count + 1]


def test_client_that_closes_stdin_after_the_handshake_and_a_burst_gets_every_answer(tmp_path: Path) -> None:
    # The usual client shape: wait for the initialize answer, write requests, close stdin at once.
    count = 10
    db = tmp_path / "eof-after-handshake.db"
    client = raw_client(db)
    answered: list[dict[str, Any]] = []
    try:
        client.initialize()
        burst = _sequential_calls(count, first_id=100)
        client.send_raw(b"".join(json.dumps(m).encode() + b"\n" for m in burst))
        assert client.proc.stdin is not None
        client.proc.stdin.close()
        with pytest.raises(ServerClosedError):
            while True:
                answered.append(_check_wire_message(client.read_message(timeout=30)))
    finally:
        code = client.close()
    assert code == 0, client.stderr_tail()
    sent = [m["id"] for m in burst]
    assert sorted(m["id"] for m in answered) == sent, "every request written before EOF is answered"
    assert all("result" in m and m["result"]["isError"] is False for m in answered), answered

    with raw_client(db) as check:  # and every answered thought is stored
        check.initialize()
        sessions = ok(check.call_tool("list_sessions", {}))["sessions"]
        assert [s["events"] for s in sessions] == [count + 1]


@pytest.mark.parametrize("opt_in", [False, True])
def test_thought_content_reaches_the_log_only_when_opted_in_and_never_with_secrets(
    tmp_path: Path, opt_in: bool
) -> None:
    key = "ghp_" + "Zq9Xw8Vu7T" * 4  # a GitHub-token-shaped value, built so scanners skip the file
    marker = "violet-marmoset-4471"
    env = {"THINKGATE_LOG_LEVEL": "DEBUG", "THINKGATE_LOG_THOUGHTS": "1" if opt_in else None}
    client = raw_client(tmp_path / "log.db", **env)
    try:
        client.initialize()
        ok(client.call_tool("sequentialthinking", thought(1, text=f"{marker} uses {key}")))
    finally:
        assert client.close() == 0
    stderr = client.stderr_tail(limit=1 << 20)
    assert key not in stderr
    assert (marker in stderr) is opt_in


@pytest.mark.parametrize("bad_id", [None, True, 1.5, {"a": 1}, [1]])
def test_a_request_with_an_invalid_id_gets_an_invalid_request_error(tmp_path: Path, bad_id: Any) -> None:
    client = raw_client(tmp_path / "ids.db")
    try:
        client.initialize()
        client.send_raw(json.dumps({"jsonrpc": "2.0", "id": bad_id, "method": "ping"}).encode() + b"\n")
        reply = client.read_response()
        assert reply["id"] is None
        assert reply["error"]["code"] == -32600
        assert ok(client.call_tool("sequentialthinking", thought(1)))["thoughtHistoryLength"] == 1
    finally:
        assert client.close() == 0


def test_clear_and_error_codes_over_stdio(tmp_path: Path) -> None:
    client = raw_client(tmp_path / "clear.db")
    try:
        client.initialize()
        sid = ok(client.call_tool("sequentialthinking", thought(1)))["sessionId"]
        ok(client.call_tool("sequentialthinking", thought(2)))
        cleared = ok(client.call_tool("clear_thinking_history", {}))
        assert cleared == {"sessionId": sid, "cleared": 2}
        assert ok(client.call_tool("sequentialthinking", thought(1)))["thoughtHistoryLength"] == 1
        assert error_code(client.call_tool("no_such_tool", {})["result"]) == "UNKNOWN_TOOL"
        bad = client.call_tool("sequentialthinking", thought("abc"))["result"]  # type: ignore[arg-type]
        assert error_code(bad) == "INVALID_INPUT"
        assert bad["_meta"]["thinkgate/error"] == {"code": "INVALID_INPUT", "retriable": False}
    finally:
        assert client.close() == 0


def test_escaped_lone_surrogates_are_accepted_and_stored_as_replacement_characters(tmp_path: Path) -> None:
    client = raw_client(tmp_path / "sur.db")
    try:
        client.initialize()
        line = (
            '{"jsonrpc":"2.0","id":"s1","method":"tools/call","params":{"name":"sequentialthinking","arguments":'
            '{"thought":"half \\ud800 pair","thoughtNumber":1,"totalThoughts":1,"nextThoughtNeeded":false}}}\n'
        )
        client.send_raw(line.encode())
        assert ok(client.wait_for("s1"))["thoughtHistoryLength"] == 1
        thoughts = ok(client.call_tool("get_thinking_history", {}))["thoughts"]
        assert thoughts[0]["thought"] == "half \ufffd pair"
    finally:
        assert client.close() == 0
