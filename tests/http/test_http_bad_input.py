"""Bad input over HTTP: each gets a clear error, the server keeps serving, stored data is untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidecar import Sidecar, call, client, headers, thought

pytestmark = pytest.mark.timeout(300)

MAX_BODY = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def http() -> Any:
    with client() as c:
        yield c


@pytest.fixture(scope="module")
def witness(sidecar: Sidecar, http: Any) -> dict[str, Any]:
    """A session written before the abuse; it must read back the same afterwards."""
    sid = "witness-session-0001"
    for n in (1, 2, 3):
        response = http.post(
            sidecar.url, json=call("sequentialthinking", {**thought(n), "sessionId": sid}), headers=headers()
        )
        assert response.json()["result"]["isError"] is False
    return {"sessionId": sid, "history": history(sidecar, http, sid)}


def history(sidecar: Sidecar, http: Any, sid: str) -> Any:
    response = http.post(sidecar.url, json=call("get_thinking_history", {"sessionId": sid}), headers=headers())
    return response.json()["result"]["structuredContent"]["thoughts"]


def post(sidecar: Sidecar, http: Any, body: bytes, **extra: str) -> Any:
    return http.post(sidecar.url, content=body, headers=headers(**extra))


def test_malformed_json_is_a_parse_error(sidecar: Sidecar, http: Any, witness: Any) -> None:
    for body in (b"{", b"not json", b'{"jsonrpc": "2.0", "id": 1, "method": ', b"\xff\xfe", b""):
        response = post(sidecar, http, body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"42",
        b'"tools/call"',
        b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}',
        b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}',
        b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]',
    ],
)
def test_well_formed_json_that_is_not_a_request_is_rejected(sidecar: Sidecar, http: Any, body: bytes) -> None:
    response = post(sidecar, http, body)
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""])
def test_a_wrong_content_type_is_refused(sidecar: Sidecar, http: Any, content_type: str) -> None:
    body = orjson.dumps(call("sequentialthinking", thought(1)))
    response = http.post(sidecar.url, content=body, headers={**headers(), "content-type": content_type})
    assert response.status_code in (400, 415)
    assert "Content-Type" in response.text


def test_a_client_that_does_not_accept_json_gets_406(sidecar: Sidecar, http: Any) -> None:
    body = orjson.dumps(call("sequentialthinking", thought(1)))
    response = http.post(sidecar.url, content=body, headers={**headers(), "accept": "text/html"})
    assert response.status_code == 406


def test_an_oversized_body_gets_413_with_a_json_rpc_error(sidecar: Sidecar, http: Any, witness: Any) -> None:
    big = orjson.dumps(call("sequentialthinking", thought(1, text="x" * (MAX_BODY + 10))))
    response = post(sidecar, http, big)
    assert response.status_code == 413
    assert response.json()["error"]["message"] == f"Request body larger than {MAX_BODY} bytes"

    def chunks() -> Any:  # no Content-Length: the cap applies while reading
        for _ in range(5):
            yield b" " * (1024 * 1024)

    streamed = http.post(sidecar.url, content=chunks(), headers=headers())
    assert streamed.status_code == 413
    assert history(sidecar, http, witness["sessionId"]) == witness["history"]


def test_a_body_just_under_the_cap_is_served(sidecar: Sidecar, http: Any) -> None:
    padding = " " * (MAX_BODY - 300)
    body = orjson.dumps(call("sequentialthinking", thought(1))) + padding.encode()
    assert len(body) <= MAX_BODY
    response = post(sidecar, http, body)
    assert response.status_code == 200 and response.json()["result"]["isError"] is False


@pytest.mark.parametrize(
    "sid",
    ["../etc/passwd", "a b", "", "x" * 200, "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36, "é", "a/b", None, 5, ["x"]],
)
def test_bad_session_ids_get_a_tool_error_and_create_nothing(sidecar: Sidecar, http: Any, sid: Any) -> None:
    response = post(sidecar, http, orjson.dumps(call("sequentialthinking", {**thought(1), "sessionId": sid})))
    assert response.status_code == 200
    result = response.json()["result"]
    if sid is None:  # null is "not given": a new session
        assert result["isError"] is False
        return
    assert result["isError"] is True
    assert result["content"][0]["text"].split(":")[0] in ("INVALID_INPUT", "INVALID_SESSION_ID")


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH"])
def test_methods_other_than_post_get_405(sidecar: Sidecar, http: Any, method: str) -> None:
    response = http.request(method, sidecar.url, headers=headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_unknown_paths_get_404(sidecar: Sidecar, http: Any) -> None:
    assert http.get(f"{sidecar.base}/").status_code == 404
    assert http.post(f"{sidecar.base}/mcp/extra", json={}, headers=headers()).status_code == 404


def test_an_unknown_protocol_version_header_is_rejected(sidecar: Sidecar, http: Any) -> None:
    body = orjson.dumps(call("sequentialthinking", thought(1)))
    response = http.post(sidecar.url, content=body, headers=headers(**{"mcp-protocol-version": "1999-01-01"}))
    assert response.status_code == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ARG_KEYS = st.sampled_from(
    [
        "thought",
        "thoughtNumber",
        "totalThoughts",
        "nextThoughtNeeded",
        "sessionId",
        "branchId",
        "revisesThought",
        "isRevision",
        "branchFromThought",
        "requestId",
        "needsMoreThoughts",
        "extra",
    ]
)
ARGS = st.dictionaries(ARG_KEYS, JSON, max_size=8)
NAMES = st.sampled_from(["sequentialthinking", "get_thinking_history", "list_sessions", "clear_thinking_history", "x"])
REQUESTS = st.one_of(
    st.builds(
        lambda rid, name, args: {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": name, "arguments": args},
        },
        st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=8),
        NAMES,
        ARGS,
    ),
    st.builds(
        lambda rid, method, params: {"jsonrpc": "2.0", "id": rid, "method": method, "params": params},
        JSON,
        st.sampled_from(["tools/call", "tools/list", "resources/read", "prompts/get", "initialize", "nope"]),
        JSON,
    ),
    JSON,
)
BODIES = st.one_of(REQUESTS.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=BODIES)
def test_generated_bodies_get_an_answer_and_never_an_internal_failure(
    sidecar: Sidecar, http: Any, witness: Any, body: bytes
) -> None:
    response = post(sidecar, http, body)
    assert response.status_code in (200, 202, 400, 404, 406, 413, 415), (response.status_code, response.text)
    if response.status_code != 202:
        answer = response.json()
        assert "result" in answer or "error" in answer
        if "error" in answer:
            assert answer["error"]["code"] != -32603, answer  # no internal errors
        elif isinstance(answer["result"], dict) and answer["result"].get("isError"):
            assert not answer["result"]["content"][0]["text"].startswith("INTERNAL"), answer


def test_a_null_optional_number_next_to_a_bad_argument_is_invalid_input(sidecar: Sidecar, http: Any) -> None:
    arguments = {**thought(1), "thoughtNumber": "x", "revisesThought": None}
    response = post(sidecar, http, orjson.dumps(call("sequentialthinking", arguments)))
    assert response.json()["result"]["content"][0]["text"].startswith("INVALID_INPUT")


def test_after_all_that_the_server_serves_and_the_data_is_intact(sidecar: Sidecar, http: Any, witness: Any) -> None:
    assert sidecar.alive()
    assert history(sidecar, http, witness["sessionId"]) == witness["history"]
    assert http.get(f"{sidecar.base}/readyz").status_code == 200
    audit = subprocess.run(
        [sys.executable, "-m", "thinkgate", "audit", "verify", "--store", f"sqlite:///{sidecar.db}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=sidecar.env,
    )
    assert audit.returncode == 0, audit.stderr
    errors = [ln for ln in sidecar.read_stderr().splitlines() if " ERROR " in ln]
    assert errors == []  # no transport, tool or engine failure was logged
