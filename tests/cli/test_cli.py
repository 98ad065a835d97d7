"""The ``thinkgate`` command line, run as a subprocess against a real SQLite store.

Thoughts are recorded through a real stdio server process (``rawstdio.RawStdioClient``); the
CLI then reads the same file. Every subprocess wait is bounded.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import thinkgate
from thinkgate.domain.chain import GENESIS_HASH, canonical, event_hash

_MCP_TESTS = Path(__file__).resolve().parents[1] / "mcp"
if str(_MCP_TESTS) not in sys.path:
    sys.path.insert(0, str(_MCP_TESTS))

from rawstdio import RawStdioClient  # noqa: E402

pytestmark = pytest.mark.timeout(120)

CLI_TIMEOUT = 60.0
CLIENTS = ("claude-code", "cursor", "vscode", "gemini", "codex")
SERVE_ARGS = ["-m", "thinkgate", "serve"]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any THINKGATE_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m thinkgate ARGS`` and return the finished process (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"  # an absolute path gives sqlite:////abs/path


def thought(number: int, total: int, text: str, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "thought": text,
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": True,
    }
    args.update(extra)
    return args


def structured(response: dict[str, Any]) -> dict[str, Any]:
    """The structuredContent of a successful tools/call response."""
    assert "result" in response, response
    result = response["result"]
    assert result.get("isError") is not True, result
    content: dict[str, Any] = result["structuredContent"]
    return content


@dataclass(frozen=True)
class Recorded:
    url: str
    main: str  # four thoughts: 1, 2, 3 revising 1, 3 on branch "alt" from 2
    doomed: str  # two thoughts; deleted by the delete test
    texts: tuple[str, ...]


MAIN_TEXTS = (
    "Parse the problem: find the shortest route",
    "Try Dijkstra on the weighted graph",
    "Revise: edge weights can be negative, so Dijkstra is wrong",
    "Alternative: Bellman-Ford handles negative weights",
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """A SQLite store with two sessions, written through a real stdio server."""
    db = tmp_path_factory.mktemp("cli-store") / "thinkgate.db"
    url = sqlite_url(db)
    with RawStdioClient([sys.executable, *SERVE_ARGS, "--store", url], env={"THINKGATE_STORE": None}) as c:
        c.initialize()
        first = structured(c.call_tool("sequentialthinking", thought(1, 3, MAIN_TEXTS[0])))
        main = first["sessionId"]
        structured(c.call_tool("sequentialthinking", thought(2, 3, MAIN_TEXTS[1])))
        structured(c.call_tool("sequentialthinking", thought(3, 3, MAIN_TEXTS[2], isRevision=True, revisesThought=1)))
        last = structured(
            c.call_tool(
                "sequentialthinking",
                thought(3, 3, MAIN_TEXTS[3], branchFromThought=2, branchId="alt", nextThoughtNeeded=False),
            )
        )
        assert last["sessionId"] == main
        assert last["thoughtHistoryLength"] == 4
        doomed = "cli-doomed-session"
        for n in (1, 2):
            structured(c.call_tool("sequentialthinking", thought(n, 2, f"doomed {n}", sessionId=doomed)))
    assert c.proc.returncode == 0, c.stderr_tail()
    return Recorded(url=url, main=main, doomed=doomed, texts=MAIN_TEXTS)


# ---------------------------------------------------------------------------------------------- version, config


def test_version_flag_prints_the_package_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"thinkgate {thinkgate.__version__}"


def _parse_snippet(client: str, text: str) -> tuple[str, list[str], dict[str, Any]]:
    """(command, args, whole parsed config) from a ``thinkgate config`` snippet."""
    if client == "codex":
        data = tomllib.loads(text)
        server = data["mcp_servers"]["thinkgate"]
        return server["command"], server["args"], data
    body = "\n".join(
        line for line in text.splitlines() if not line.startswith("#") and not line.startswith("claude mcp add")
    )
    data = json.loads(body)
    key = "servers" if client == "vscode" else "mcpServers"
    server = data[key]["thinkgate"]
    if client == "vscode":
        assert server["type"] == "stdio"
    return server["command"], server["args"], data


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("with_store", [False, True], ids=["default-store", "store"])
def test_config_snippet_parses_and_launches_thinkgate_serve(client: str, with_store: bool, tmp_path: Path) -> None:
    store = sqlite_url(tmp_path / "client.db")
    args = ["config", client] + (["--store", store] if with_store else [])
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    command, launch_args, _ = _parse_snippet(client, proc.stdout)
    assert command == sys.executable
    expected = [*SERVE_ARGS, "--store", store] if with_store else SERVE_ARGS
    assert launch_args == expected


def test_claude_code_snippet_shell_command_matches_the_json_even_with_spaces(tmp_path: Path) -> None:
    # The `claude mcp add ... -- CMD ARGS` line is pasted into a shell: it must survive word splitting.
    store = sqlite_url(tmp_path / "my store" / "think gate.db")
    proc = run_cli("config", "claude-code", "--store", store)
    assert proc.returncode == 0, proc.stderr
    command, launch_args, _ = _parse_snippet("claude-code", proc.stdout)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("claude mcp add")]
    words = shlex.split(line)
    assert words[words.index("--") + 1 :] == [command, *launch_args]
    assert launch_args == [*SERVE_ARGS, "--store", store]


def test_config_snippet_command_actually_serves_mcp(tmp_path: Path) -> None:
    store = sqlite_url(tmp_path / "launched.db")
    proc = run_cli("config", "codex", "--store", store)
    assert proc.returncode == 0, proc.stderr
    command, launch_args, _ = _parse_snippet("codex", proc.stdout)
    with RawStdioClient([command, *launch_args], env={"THINKGATE_STORE": None}) as c:
        info = c.initialize()
        assert info["serverInfo"]["name"] == "thinkgate"
        result = structured(c.call_tool("sequentialthinking", thought(1, 1, "hello", nextThoughtNeeded=False)))
    assert c.proc.returncode == 0
    assert (tmp_path / "launched.db").exists()
    assert result["thoughtHistoryLength"] == 1


def test_config_for_an_unknown_client_is_a_usage_error() -> None:
    proc = run_cli("config", "notepad")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert "notepad" in proc.stderr
    assert "Usage" in proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------------------------------------- sessions


def test_sessions_list_json_shows_the_session_and_its_event_count(recorded: Recorded) -> None:
    proc = run_cli("sessions", "list", "--json", "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    rows = {row["sessionId"]: row for row in json.loads(proc.stdout)["sessions"]}
    assert recorded.main in rows
    # one session_created event plus one event per thought
    assert rows[recorded.main]["events"] == 1 + len(recorded.texts)
    assert rows[recorded.main]["createdAt"] <= rows[recorded.main]["updatedAt"]


def test_the_store_can_come_from_the_environment(recorded: Recorded) -> None:
    proc = run_cli("sessions", "show", recorded.main, "--json", env=clean_env(THINKGATE_STORE=recorded.url))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sessionId"] == recorded.main


def test_sessions_list_table_shows_whole_session_ids(recorded: Recorded) -> None:
    # Piped output (no terminal) must still carry complete ids: they are what `sessions show` takes.
    proc = run_cli("sessions", "list", "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    assert recorded.main in proc.stdout


def test_sessions_show_text_contains_the_thoughts(recorded: Recorded) -> None:
    proc = run_cli("sessions", "show", recorded.main, "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert recorded.main in out
    positions = [out.index(text) for text in recorded.texts]
    assert positions == sorted(positions), "thoughts are shown oldest first"
    assert "revises 1" in out
    assert "branch alt from 2" in out


def test_sessions_show_json_has_history_length_and_thoughts(recorded: Recorded) -> None:
    proc = run_cli("sessions", "show", recorded.main, "--json", "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    detail = json.loads(proc.stdout)
    assert detail["sessionId"] == recorded.main
    assert detail["thoughtHistoryLength"] == 4
    assert detail["events"] == 5
    assert detail["branches"] == ["alt"]
    thoughts = detail["thoughts"]
    assert [t["thought"] for t in thoughts] == list(recorded.texts)
    assert [t["thoughtNumber"] for t in thoughts] == [1, 2, 3, 3]
    assert [t["thoughtId"] for t in thoughts] == ["t1", "t2", "t3", "t4"]
    assert thoughts[2]["isRevision"] is True
    assert thoughts[2]["revisesThought"] == 1
    assert thoughts[3]["branchId"] == "alt"
    assert thoughts[3]["branchFromThought"] == 2


def _check_export(doc: dict[str, Any], session_id: str, texts: tuple[str, ...]) -> None:
    assert doc["format"] == "thinkgate-session/1"
    assert doc["sessionId"] == session_id
    events = doc["events"]
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS_HASH
    for e in events:
        assert e["prevHash"] == prev
        # The export is self-verifying: the hash is recomputable from the exported fields.
        payload = canonical(e["payload"])
        assert event_hash(prev, session_id, e["version"], e["type"], e["recordedAt"], payload) == e["hash"]
        prev = e["hash"]
    assert doc["headHash"] == prev
    assert events[0]["type"] == "session_created"
    assert events[0]["payload"]["session_id"] == session_id
    thoughts = [e["payload"] for e in events if e["type"] == "thought_recorded"]
    assert [p["content"] for p in thoughts] == list(texts)
    assert [p["thought_id"] for p in thoughts] == ["t1", "t2", "t3", "t4"]


def test_sessions_export_writes_the_hash_chained_event_log(recorded: Recorded) -> None:
    proc = run_cli("sessions", "export", recorded.main, "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    _check_export(json.loads(proc.stdout), recorded.main, recorded.texts)


def test_sessions_export_to_a_file(recorded: Recorded, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    proc = run_cli("sessions", "export", recorded.main, "-o", str(target), "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    _check_export(doc, recorded.main, recorded.texts)
    again = run_cli("sessions", "export", recorded.main, "--store", recorded.url)
    assert json.loads(again.stdout) == doc


def test_sessions_delete_removes_the_session(recorded: Recorded) -> None:
    before = run_cli("sessions", "show", recorded.doomed, "--json", "--store", recorded.url)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["thoughtHistoryLength"] == 2

    proc = run_cli("sessions", "delete", recorded.doomed, "--yes", "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    assert recorded.doomed in proc.stdout

    after = run_cli("sessions", "show", recorded.doomed, "--store", recorded.url)
    assert after.returncode == 2
    assert "error: SESSION_NOT_FOUND:" in after.stderr
    again = run_cli("sessions", "delete", recorded.doomed, "--yes", "--store", recorded.url)
    assert again.returncode == 2
    assert "error: SESSION_NOT_FOUND:" in again.stderr
    kept = run_cli("sessions", "show", recorded.main, "--json", "--store", recorded.url)
    assert kept.returncode == 0, "deleting one session leaves the others"


# ---------------------------------------------------------------------------------------------- audit


def test_audit_verify_passes_on_an_untouched_store(recorded: Recorded) -> None:
    proc = run_cli("audit", "verify", "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def test_audit_verify_one_session_passes(recorded: Recorded) -> None:
    proc = run_cli("audit", "verify", recorded.main, "--store", recorded.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: 1 session(s)")


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "command",
    [
        ["sessions", "show", "no-such-session"],
        ["sessions", "show", "no-such-session", "--json"],
        ["sessions", "export", "no-such-session"],
        ["sessions", "delete", "no-such-session", "--yes"],
        ["audit", "verify", "no-such-session"],
    ],
    ids=lambda c: "-".join(c[:2] + c[3:]),
)
def test_unknown_session_is_session_not_found(command: list[str], recorded: Recorded) -> None:
    proc = run_cli(*command, "--store", recorded.url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: SESSION_NOT_FOUND: ")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("url", ["bogus://x", "sqlite://", "sqlite://relative-without-slash.db", "postgres"])
def test_invalid_store_url_is_a_config_error(url: str) -> None:
    proc = run_cli("audit", "verify", "--store", url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: CONFIG_ERROR: ")
    assert proc.stdout == ""


def test_invalid_store_url_from_the_environment_is_a_config_error() -> None:
    proc = run_cli("audit", "verify", env=clean_env(THINKGATE_STORE="nosuchscheme://here"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: CONFIG_ERROR: ")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("THINKGATE_DURABILITY", "bogus"),
        ("THINKGATE_LOG_LEVEL", "LOUD"),
        ("THINKGATE_MAX_THOUGHT_BYTES", "lots"),
    ],
)
def test_invalid_environment_setting_is_a_config_error(variable: str, value: str, tmp_path: Path) -> None:
    env = clean_env(**{variable: value})
    proc = run_cli("sessions", "show", "any", "--store", sqlite_url(tmp_path / "x.db"), env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: CONFIG_ERROR: ")
    assert variable.removeprefix("THINKGATE_").lower() in proc.stderr.lower()


def test_serve_with_bogus_durability_fails_before_serving(tmp_path: Path) -> None:
    env = clean_env(THINKGATE_DURABILITY="bogus")
    proc = run_cli("serve", "--store", sqlite_url(tmp_path / "x.db"), env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: CONFIG_ERROR: ")
    assert proc.stdout == ""
    assert not (tmp_path / "x.db").exists()


def test_config_makes_a_relative_store_path_absolute_and_refuses_bad_urls(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgate", "config", "cursor", "--store", "sqlite:///rel.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"sqlite:///{tmp_path.resolve() / 'rel.db'}" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "thinkgate", "config", "cursor", "--store", "bogus://x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "CONFIG_ERROR" in bad.stderr


def test_sessions_show_does_not_pass_terminal_escape_sequences_through(tmp_path: Path) -> None:
    import anyio

    from thinkgate.domain.thinking import RecordThought
    from thinkgate.engine.engine import Engine
    from thinkgate.store.sqlite import SqliteEventStore

    db = tmp_path / "esc.db"

    async def record() -> None:
        engine = Engine(SqliteEventStore(db))
        await engine.start()
        await engine.record_thought("esc", RecordThought("title \x1b]0;pwned\x07 and \x9b31m red", 1, 1, False))
        await engine.stop()

    anyio.run(record)
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgate", "sessions", "show", "esc", "--store", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x9b" not in proc.stdout
    assert "\\x1b]0;pwned\\x07" in proc.stdout
