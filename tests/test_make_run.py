"""``make run`` from the README starts the HTTP sidecar; ``make run-stdio`` serves stdio with nothing but
JSON-RPC on stdout."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_stdio_serves_mcp_with_only_json_rpc_on_stdout(tmp_path: Path) -> None:
    lines = [
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
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "sequentialthinking",
                "arguments": {
                    "thought": "via make run",
                    "thoughtNumber": 1,
                    "totalThoughts": 1,
                    "nextThoughtNeeded": False,
                },
            },
        },
    ]
    env = {**os.environ, "THINKGATE_STORE": f"sqlite:///{tmp_path / 'run.db'}"}
    proc = subprocess.run(
        ["make", "run-stdio"],
        cwd=ROOT,
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line) for line in proc.stdout.splitlines()]  # any non-JSON line fails here
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[1]["result"]["structuredContent"]["thoughtHistoryLength"] == 1
    assert "thinkgate config" in proc.stderr  # how to connect a client goes to stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_starts_the_http_sidecar_and_prints_its_url_and_a_client_snippet(tmp_path: Path) -> None:
    from tests.http.sidecar import call, client, headers, thought

    with socket.socket() as probe:  # a free port for the sidecar (make prints the URL it is given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env.update(THINKGATE_STORE=f"sqlite:///{tmp_path / 'run.db'}", THINKGATE_HTTP_PORT=str(port))
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 300
        while "serving MCP over Streamable HTTP" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 5)
            chunk = os.read(proc.stderr.fileno(), 65536) if ready else b""
            if ready and not chunk:
                break
            seen += chunk.decode(errors="replace")
        assert f"claude mcp add --transport http thinkgate {url}" in seen, seen
        assert f'"url": "{url}"' in seen
        with client() as http:
            assert http.get(url.removesuffix("/mcp") + "/healthz").status_code == 200
            reply = http.post(url, json=call("sequentialthinking", thought(1, 1)), headers=headers())
            assert reply.status_code == 200, reply.text
            assert reply.json()["result"]["structuredContent"]["thoughtHistoryLength"] == 1
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: make and the server it started
        proc.wait(timeout=60)
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:
        assert proc.stdout.read() == b""  # nothing on stdout
    with socket.socket() as probe:  # the server is gone: its port is free again
        probe.bind(("127.0.0.1", port))
