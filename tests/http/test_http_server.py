"""``thinkgate serve --http`` driven by the SDK's own Streamable HTTP client, in both protocol eras.

Every tool, resource and prompt, plus the health, readiness and metrics endpoints, against a
real server subprocess on a SQLite file.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from sidecar import Sidecar, call, client, headers, thought

from mcp import Client, MCPError

pytestmark = pytest.mark.timeout(120)

ERAS = [pytest.param("legacy", id="2025-11-25"), pytest.param("auto", id="2026-07-28")]
TOOLS = {"sequentialthinking", "get_thinking_history", "list_sessions", "clear_thinking_history"}


def run(fn: Any, *args: Any) -> Any:
    async def go() -> Any:
        with anyio.fail_after(90):
            return await fn(*args)

    return anyio.run(go)


async def in_process_surface() -> dict[str, Any]:
    """What the same server lists to an in-process client (stdio and HTTP serve the same surface)."""
    from thinkgate.engine.engine import Engine
    from thinkgate.mcp.server import build_server
    from thinkgate.store.memory import MemoryEventStore

    async with Client(build_server(Engine(MemoryEventStore()))) as c:
        return await surface(c)


async def surface(c: Client) -> dict[str, Any]:
    return {
        "tools": sorted(t.name for t in (await c.list_tools()).tools),
        "resources": sorted(str(r.uri) for r in (await c.list_resources()).resources),
        "templates": sorted(t.uri_template for t in (await c.list_resource_templates()).resource_templates),
        "prompts": {
            p.name: [a.name for a in p.arguments or [] if a.required] for p in (await c.list_prompts()).prompts
        },
    }


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


@pytest.mark.parametrize("mode", ERAS)
def test_the_sdk_client_uses_every_tool_resource_and_prompt(sidecar: Sidecar, mode: str) -> None:
    async def go() -> None:
        async with Client(sidecar.url, mode=mode) as c:
            expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
            assert c.protocol_version == expected
            listed = await surface(c)
            assert listed == await in_process_surface()
            assert set(listed["tools"]) >= TOOLS

            first = data(await c.call_tool("sequentialthinking", thought(1)))
            sid = first["sessionId"]
            assert len(sid) == 32 and first["thoughtHistoryLength"] == 1
            second = data(await c.call_tool("sequentialthinking", {**thought(2), "sessionId": sid}))
            assert (second["sessionId"], second["thoughtHistoryLength"]) == (sid, 2)
            branch = data(
                await c.call_tool(
                    "sequentialthinking", {**thought(3), "sessionId": sid, "branchFromThought": 1, "branchId": "alt"}
                )
            )
            assert branch["branches"] == ["alt"]
            history = data(await c.call_tool("get_thinking_history", {"sessionId": sid}))
            assert [t["thought"] for t in history["thoughts"]] == ["step 1", "step 2", "step 3"]

            # Every other tool answers over HTTP with a tool result (possibly an argument error,
            # never an unknown tool or an internal failure).
            for name in set(listed["tools"]) - TOOLS:
                result = await c.call_tool(name, {"sessionId": sid})
                text = result.content[0].text if result.is_error else ""
                assert not text.startswith(("UNKNOWN_TOOL", "INTERNAL")), (name, text)

            for template in listed["templates"]:
                read = await c.read_resource(template.replace("{session_id}", sid))
                assert read.contents, template
            timeline = await c.read_resource(f"thinkgate://session/{sid}/timeline")
            assert json.loads(timeline.contents[0].text)["sessionId"] == sid
            for uri in listed["resources"]:
                if uri != "thinkgate://sessions":  # refused over HTTP by default (next test)
                    assert (await c.read_resource(uri)).contents, uri
            for name, required in listed["prompts"].items():
                prompt = await c.get_prompt(name, dict.fromkeys(required, "why is the sky blue"))
                assert prompt.messages, name
            guidance = await c.get_prompt("sequential-thinking-guidance", {})
            assert "sequentialthinking" in guidance.messages[0].content.text

            cleared = data(await c.call_tool("clear_thinking_history", {"sessionId": sid}))
            # The three thoughts, and the convergence node converge_reasoning wrote (nothing blocked it).
            assert cleared == {"sessionId": sid, "cleared": 4}
            after = data(await c.call_tool("get_thinking_history", {"sessionId": sid}))
            assert after["thoughts"] == []

    run(go)


@pytest.mark.parametrize("mode", ERAS)
def test_listing_sessions_is_refused_over_http_by_default(sidecar: Sidecar, mode: str) -> None:
    async def go() -> None:
        async with Client(sidecar.url, mode=mode) as c:
            result = await c.call_tool("list_sessions", {})
            assert result.is_error
            assert result.content[0].text.startswith("FORBIDDEN: ")
            with pytest.raises(MCPError, match="FORBIDDEN"):
                await c.read_resource("thinkgate://sessions")

    run(go)


def test_list_sessions_flag_lets_http_clients_list_sessions(tmp_path: Any) -> None:
    async def go(url: str) -> None:
        async with Client(url, mode="legacy") as c:
            sid = data(await c.call_tool("sequentialthinking", thought(1)))["sessionId"]
            listed = data(await c.call_tool("list_sessions", {}))
            assert sid in [s["sessionId"] for s in listed["sessions"]]
            resource = await c.read_resource("thinkgate://sessions")
            assert sid in resource.contents[0].text

    with Sidecar(tmp_path / "tg.db", "--list-sessions") as server:
        run(go, server.url)


@pytest.mark.parametrize("mode", ERAS)
def test_a_call_without_session_id_starts_a_new_session_each_time(sidecar: Sidecar, mode: str) -> None:
    # Stateless HTTP has no connection to hold a default session: each such call starts one,
    # and says so in its result.
    async def go() -> None:
        async with Client(sidecar.url, mode=mode) as c:
            a = data(await c.call_tool("sequentialthinking", thought(1)))
            b = data(await c.call_tool("sequentialthinking", thought(1)))
            assert a["sessionId"] != b["sessionId"]
            missing = await c.call_tool("get_thinking_history", {})
            assert missing.is_error and "SESSION_NOT_FOUND" in missing.content[0].text

    run(go)


def test_two_clients_share_a_session_only_by_naming_it(sidecar: Sidecar) -> None:
    async def go() -> None:
        async with Client(sidecar.url, mode="legacy") as a, Client(sidecar.url) as b:
            sid = data(await a.call_tool("sequentialthinking", thought(1)))["sessionId"]
            own = data(await b.call_tool("sequentialthinking", thought(1)))["sessionId"]
            assert own != sid
            joined = data(await b.call_tool("sequentialthinking", {**thought(2), "sessionId": sid}))
            assert joined["thoughtHistoryLength"] == 2

    run(go)


def test_health_readiness_and_metrics(sidecar: Sidecar) -> None:
    with client() as http:
        assert http.get(f"{sidecar.base}/healthz").json() == {"status": "ok"}
        assert http.get(f"{sidecar.base}/readyz").json() == {"status": "ready"}
        sid = http.post(sidecar.url, json=call("sequentialthinking", thought(1)), headers=headers()).json()
        assert sid["result"]["isError"] is False
        bad = http.post(sidecar.url, json=call("get_thinking_history", {"sessionId": "nope-" * 3}), headers=headers())
        assert bad.json()["result"]["isError"] is True
        metrics = http.get(f"{sidecar.base}/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['thinkgate_tool_calls_total{tool="sequentialthinking"}'] >= 1
    assert values['thinkgate_tool_errors_total{tool="get_thinking_history"}'] >= 1
    assert values['thinkgate_tool_latency_seconds_count{tool="sequentialthinking"}'] >= 1
    assert values["thinkgate_sessions"] >= 1
    assert values["thinkgate_sessions_started_total"] >= 1
    assert values['thinkgate_store_latency_seconds_count{op="write_batch"}'] >= 1
    assert values["process_resident_memory_bytes"] > 0
    assert values['thinkgate_http_responses_total{status="200"}'] >= 1


def test_readiness_still_answers_when_the_database_file_is_gone_and_liveness_stays_up(tmp_path: Any) -> None:
    db = tmp_path / "tg.db"
    with Sidecar(db) as server, client() as http:
        assert http.get(f"{server.base}/readyz").status_code == 200
        for suffix in ("", "-wal", "-shm"):
            path = db.with_name(db.name + suffix)
            if path.exists():
                path.unlink()
        db.mkdir()  # the path is now a folder: the store cannot be opened or read afresh
        # The open connection may still answer from its unlinked file; what matters is that the
        # probe answers at all, with 200 or 503, and the liveness check stays up either way.
        assert http.get(f"{server.base}/readyz").status_code in (200, 503)
        assert http.get(f"{server.base}/healthz").status_code == 200


def test_sigterm_stops_the_server_cleanly(tmp_path: Any) -> None:
    with Sidecar(tmp_path / "tg.db") as server:
        assert server.stop() == 0, server.read_stderr()
