"""Bad input of any shape over real stdio: every reply is JSON-RPC, the server keeps serving, data stays intact."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawstdio import RawStdioClient

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
official_keys = st.sampled_from(
    [
        "thought",
        "nextThoughtNeeded",
        "thoughtNumber",
        "totalThoughts",
        "isRevision",
        "revisesThought",
        "branchFromThought",
        "branchId",
        "needsMoreThoughts",
        "sessionId",
        "requestId",
    ]
)
tool_arguments = st.dictionaries(official_keys | st.text(max_size=8), json_values, max_size=8)
raw_lines = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" "))
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | json_values,
        "id": st.integers() | st.text(max_size=5) | st.none() | json_values,
        "method": st.sampled_from(["tools/call", "tools/list", "ping", "resources/read", "nope"])
        | st.text(max_size=10),
        "params": json_values,
    },
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawStdioClient, Path]]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    client = RawStdioClient([sys.executable, "-m", "thinkgate", "serve", "--store", f"sqlite:///{db}"], timeout=10)
    client.initialize()
    try:
        yield client, db
    finally:
        client.close()


def assert_valid_reply(message: dict[str, Any]) -> None:
    assert message.get("jsonrpc") == "2.0", message
    assert "id" in message, message
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        assert isinstance(message["error"]["code"], int) and isinstance(message["error"]["message"], str)


def drain_until_sentinel(client: RawStdioClient) -> list[dict[str, Any]]:
    """Send a ping and collect every reply that arrives before its answer."""
    sentinel = client.request("ping")
    replies = []
    while True:
        message = client.read_response()
        assert_valid_reply(message)
        if message.get("id") == sentinel:
            assert message.get("result") == {}
            return replies
        replies.append(message)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(line=raw_lines)
def test_arbitrary_bytes_get_json_rpc_errors(server: tuple[RawStdioClient, Path], line: bytes) -> None:
    client, _ = server
    client.send_raw(line + b"\n")
    drain_until_sentinel(client)


@FUZZ
@given(envelope=envelopes)
def test_arbitrary_envelopes_get_json_rpc_replies(
    server: tuple[RawStdioClient, Path], envelope: dict[str, Any]
) -> None:
    client, _ = server
    client.send_raw(json.dumps(envelope).encode() + b"\n")
    drain_until_sentinel(client)


@FUZZ
@given(arguments=tool_arguments)
def test_arbitrary_tool_arguments_get_a_result_or_a_coded_error(
    server: tuple[RawStdioClient, Path], arguments: dict[str, Any]
) -> None:
    client, _ = server
    response = client.call_tool("sequentialthinking", arguments)
    assert_valid_reply(response)
    result = response.get("result")
    if result is None:
        return
    if result.get("isError"):
        text = result["content"][0]["text"]
        assert text.split(":", 1)[0].isupper(), text  # CODE: message
        assert "structuredContent" not in result
    else:
        for key in ("thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength"):
            assert key in result["structuredContent"]


def test_after_the_fuzzing_the_server_still_serves_and_the_log_verifies(server: tuple[RawStdioClient, Path]) -> None:
    client, db = server
    ok = client.call_tool(
        "sequentialthinking",
        {"thought": "still here", "nextThoughtNeeded": False, "thoughtNumber": 1, "totalThoughts": 1},
    )
    assert ok["result"]["isError"] is False
    audit = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert audit.returncode == 0, audit.stderr
