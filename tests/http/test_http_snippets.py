"""``thinkgate config CLIENT --http URL``: snippets that point a client at a running sidecar."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thinkgate.cli.snippets import CLIENTS, snippet

URL = "http://127.0.0.1:8765/mcp"


@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_gets_the_url_and_no_command(client: str) -> None:
    text = snippet(client, http_url=URL)
    assert URL in text and "thinkgate serve" not in text and "command" not in text
    body = text[text.index("{") :] if "{" in text else ""
    if body:
        assert URL in json.dumps(json.loads(body))


def test_claude_code_gets_the_transport_flag() -> None:
    assert f"claude mcp add --scope user --transport http thinkgate {URL}" in snippet("claude-code", http_url=URL)


def test_the_command_line_refuses_a_non_http_url_and_a_store_with_it() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "thinkgate", "config", "cursor", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert run("--http", URL).returncode == 0
    assert run("--http", "ftp://x").returncode == 2
    assert run("--http", URL, "--store", "sqlite:///x.db").returncode == 2
