"""The sidecar's guard: loopback by default, Host and Origin checked, a bearer token off loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sidecar import Sidecar, call, client, headers, thought

pytestmark = pytest.mark.timeout(120)

TOKEN = "s3cret-token-for-tests-0123456789"


def serve(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``serve --http`` expecting it to refuse to start."""
    clean = {k: v for k, v in Sidecar(db).env.items()}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--http", "--port", "0", "--store", f"sqlite:///{db}", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_non_loopback_address_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    result = serve(tmp_path / "tg.db", "--host", host)
    assert result.returncode == 2
    assert "needs a bearer token" in result.stderr and "THINKGATE_TOKEN" in result.stderr


def test_a_short_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    result = serve(tmp_path / "tg.db", "--host", "0.0.0.0", env={"THINKGATE_TOKEN": "hunter2"})
    assert result.returncode == 2
    assert "at least 16" in result.stderr and "hunter2" not in result.stderr


def test_a_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    result = serve(tmp_path / "tg.db", "--token-file", str(tmp_path / "nope"))
    assert result.returncode == 2 and "cannot read the token file" in result.stderr


def test_http_flags_need_http(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--port", "1234", "--store", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "need --http" in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with Sidecar(tmp_path / "a.db") as running:
        port = running.url.rsplit(":", 1)[1].split("/")[0]
        result = serve(tmp_path / "b.db", "--port", port)
    # "--port 0" comes first in serve(); the later flag wins in typer
    assert result.returncode == 2 and "cannot listen on 127.0.0.1" in result.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server on all interfaces with a token from a file, and an extra allowed host and origin."""
    folder = tmp_path_factory.mktemp("guarded")
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    server = Sidecar(
        folder / "tg.db",
        "--host",
        "0.0.0.0",
        "--token-file",
        str(token_file),
        "--allow-host",
        "mcp.internal",
        "--allow-origin",
        "https://app.example",
        env={"THINKGATE_LOG_LEVEL": "DEBUG"},
    )
    with server:
        server.url = server.url.replace("0.0.0.0", "127.0.0.1")
        yield server


def auth(token: str = TOKEN) -> dict[str, str]:
    return headers(authorization=f"Bearer {token}")


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"authorization": "Bearer wrong-token-wrong-token"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"bearer  {TOKEN}"},
    ],
    ids=["missing", "wrong", "basic", "longer", "mangled"],
)
def test_a_missing_or_wrong_token_gets_401_and_nothing_runs(guarded: Sidecar, extra: dict[str, str]) -> None:
    with client() as http:
        before = http.get(f"{guarded.base}/metrics", headers=auth()).text
        response = http.post(guarded.url, json=call("sequentialthinking", thought(1)), headers=headers(**extra))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["message"].startswith("Unauthorized")
        assert http.get(f"{guarded.base}/metrics", headers=headers(**extra)).status_code == 401
        after = http.get(f"{guarded.base}/metrics", headers=auth()).text
    recorded = 'thinkgate_tool_calls_total{tool="sequentialthinking"}'
    assert [ln for ln in before.splitlines() if ln.startswith(recorded)] == [
        ln for ln in after.splitlines() if ln.startswith(recorded)
    ]


def test_the_right_token_is_served_and_never_logged(guarded: Sidecar) -> None:
    with client() as http:
        ok = http.post(guarded.url, json=call("sequentialthinking", thought(1)), headers=auth())
        assert ok.status_code == 200 and ok.json()["result"]["isError"] is False
        assert http.get(f"{guarded.base}/metrics", headers=auth()).status_code == 200
        # liveness and readiness stay open for probes
        assert http.get(f"{guarded.base}/healthz").status_code == 200
        assert http.get(f"{guarded.base}/readyz").status_code == 200
    assert TOKEN not in guarded.read_stderr()


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"host": "evil.example"}, 421),
        ({"host": "evil.example:8765"}, 421),
        ({"host": "127.0.0.1.nip.io"}, 421),
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "http://localhost.evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"host": "mcp.internal:443"}, 200),
        ({"host": "localhost"}, 200),
        ({"origin": "https://app.example"}, 200),
        ({"origin": "http://127.0.0.1:3000"}, 200),
    ],
)
def test_host_and_origin_are_checked(guarded: Sidecar, extra: dict[str, str], status: int) -> None:
    with client() as http:
        response = http.post(guarded.url, json=call("sequentialthinking", thought(1)), headers={**auth(), **extra})
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"]["code"] == -32600


def test_loopback_rejects_a_forged_host_without_a_token(sidecar: Sidecar) -> None:
    with client() as http:
        forged = http.post(
            sidecar.url, json=call("sequentialthinking", thought(1)), headers=headers(host="attacker.example")
        )
        assert forged.status_code == 421
        assert http.get(f"{sidecar.base}/metrics", headers={"host": "attacker.example"}).status_code == 421
        assert http.post(sidecar.url, json=call("sequentialthinking", thought(1)), headers=headers()).status_code == 200


def test_a_token_on_loopback_is_enforced_too(tmp_path: Path) -> None:
    with Sidecar(tmp_path / "tg.db", env={"THINKGATE_TOKEN": TOKEN}) as server, client() as http:
        body = call("sequentialthinking", thought(1))
        assert http.post(server.url, json=body, headers=headers()).status_code == 401
        assert http.post(server.url, json=body, headers=auth()).status_code == 200
