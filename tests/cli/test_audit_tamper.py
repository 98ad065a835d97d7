"""``thinkgate audit verify`` against a real SQLite file edited behind ThinkGate's back.

Thoughts are recorded once through a real stdio server; each test works on its own copy of
that file, tampers with it through ``sqlite3`` and runs the CLI as a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_MCP_TESTS = Path(__file__).resolve().parents[1] / "mcp"
if str(_MCP_TESTS) not in sys.path:
    sys.path.insert(0, str(_MCP_TESTS))

from rawstdio import RawStdioClient  # noqa: E402

pytestmark = pytest.mark.timeout(120)

CLI_TIMEOUT = 60.0
TAMPERED = "tampered-session"  # 4 thoughts: events 1 (session_created) .. 5
INTACT = "intact-session"  # 3 thoughts: events 1 .. 4


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@dataclass(frozen=True)
class Store:
    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def verify(self, session_id: str | None = None) -> subprocess.CompletedProcess[str]:
        args = ["audit", "verify"] + ([session_id] if session_id else [])
        return run_cli(*args, "--store", self.url)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        db = sqlite3.connect(self.path)
        try:
            with db:
                changed = db.execute(sql, params).rowcount
        finally:
            db.close()
        return changed

    def payload(self, session_id: str, version: int) -> bytes:
        db = sqlite3.connect(self.path)
        try:
            row = db.execute(
                "SELECT payload FROM events WHERE session_id = ? AND version = ?", (session_id, version)
            ).fetchone()
        finally:
            db.close()
        assert row is not None
        return bytes(row[0])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store written through a real stdio server: two sessions, closed cleanly."""
    path = tmp_path_factory.mktemp("tamper-template") / "template.db"
    argv = [sys.executable, "-m", "thinkgate", "serve", "--store", f"sqlite:///{path}"]
    with RawStdioClient(argv, env={"THINKGATE_STORE": None}) as c:
        c.initialize()
        for sid, count in ((TAMPERED, 4), (INTACT, 3)):
            for n in range(1, count + 1):
                args = {
                    "thought": f"{sid} step {n}",
                    "thoughtNumber": n,
                    "totalThoughts": count,
                    "nextThoughtNeeded": n < count,
                    "sessionId": sid,
                }
                response = c.call_tool("sequentialthinking", args)
                assert response["result"].get("isError") is not True, response
    assert c.proc.returncode == 0, c.stderr_tail()
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Store:
    """A private copy of the template store (sqlite3's backup API, so WAL content comes along)."""
    target = tmp_path / "store.db"
    src = sqlite3.connect(template)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return Store(target)


def assert_intact(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert "TAMPERED" not in proc.stderr


def assert_tampered(proc: subprocess.CompletedProcess[str], session_id: str, version: int) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"TAMPERED session {session_id}: first bad event is version {version}:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not proc.stdout.startswith("ok")


def test_untouched_copy_verifies(store: Store) -> None:
    assert_intact(store.verify())
    assert_intact(store.verify(TAMPERED))


def test_edited_payload_is_detected_at_its_version(store: Store) -> None:
    payload = json.loads(store.payload(TAMPERED, 2))
    assert payload["content"] == f"{TAMPERED} step 1"
    payload["content"] = "a quietly rewritten first step"
    edited = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert store.execute("UPDATE events SET payload = ? WHERE session_id = ? AND version = 2", (edited, TAMPERED)) == 1

    assert_tampered(store.verify(), TAMPERED, 2)
    assert_tampered(store.verify(TAMPERED), TAMPERED, 2)


def test_edited_payload_with_the_same_length_is_detected(store: Store) -> None:
    original = store.payload(TAMPERED, 3)
    edited = original.replace(b"step 2", b"step 9")
    assert edited != original
    assert len(edited) == len(original)
    store.execute("UPDATE events SET payload = ? WHERE session_id = ? AND version = 3", (edited, TAMPERED))

    assert_tampered(store.verify(TAMPERED), TAMPERED, 3)


def test_deleted_middle_event_is_detected(store: Store) -> None:
    assert store.execute("DELETE FROM events WHERE session_id = ? AND version = 3", (TAMPERED,)) == 1

    assert_tampered(store.verify(), TAMPERED, 3)
    assert_tampered(store.verify(TAMPERED), TAMPERED, 3)


def test_deleted_last_event_is_detected_by_the_session_head(store: Store) -> None:
    # The sessions row still says version 5 with the old head hash.
    assert store.execute("DELETE FROM events WHERE session_id = ? AND version = 5", (TAMPERED,)) == 1

    proc = store.verify(TAMPERED)
    assert proc.returncode == 1, proc.stderr
    assert f"TAMPERED session {TAMPERED}: first bad event is version" in proc.stderr
    assert_tampered(proc, TAMPERED, 5)
    assert_tampered(store.verify(), TAMPERED, 5)


def test_swapped_payloads_are_detected(store: Store) -> None:
    second, third = store.payload(TAMPERED, 2), store.payload(TAMPERED, 3)
    store.execute("UPDATE events SET payload = ? WHERE session_id = ? AND version = 2", (third, TAMPERED))
    store.execute("UPDATE events SET payload = ? WHERE session_id = ? AND version = 3", (second, TAMPERED))

    assert_tampered(store.verify(), TAMPERED, 2)
    assert_tampered(store.verify(TAMPERED), TAMPERED, 2)


def test_one_tampered_session_fails_the_store_and_the_other_still_verifies(store: Store) -> None:
    payload = json.loads(store.payload(TAMPERED, 4))
    payload["content"] = "edited"
    store.execute(
        "UPDATE events SET payload = ? WHERE session_id = ? AND version = 4",
        (json.dumps(payload).encode(), TAMPERED),
    )

    every = store.verify()
    assert_tampered(every, TAMPERED, 4)
    assert INTACT not in every.stderr, "only the tampered session is reported"
    assert_intact(store.verify(INTACT))
    assert_tampered(store.verify(TAMPERED), TAMPERED, 4)


def test_events_left_behind_by_a_deleted_session_head_are_detected(store: Store) -> None:
    assert store.execute("DELETE FROM sessions WHERE id = ?", (TAMPERED,)) == 1

    every = store.verify()
    assert every.returncode == 1, every.stderr
    assert f"TAMPERED session {TAMPERED}: first bad event is version 1: events exist but the session head" in (
        every.stderr
    )
    assert_tampered(store.verify(TAMPERED), TAMPERED, 1)


def test_auditing_a_store_that_does_not_exist_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "store.db"
    proc = run_cli("audit", "verify", "--store", f"sqlite:///{missing}")
    assert proc.returncode == 2
    assert "STORE_NOT_FOUND" in proc.stderr
    assert not missing.exists() and not missing.parent.exists()
    listing = run_cli("sessions", "list", "--store", f"sqlite:///{missing}")
    assert listing.returncode == 2 and "STORE_NOT_FOUND" in listing.stderr
