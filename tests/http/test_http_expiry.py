"""Idle-session expiry: the sidecar's hourly sweep (THINKGATE_SESSION_IDLE_DAYS) and the CLI command."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import anyio
from tests.http.sidecar import Sidecar

from thinkgate.domain.thinking import RecordThought
from thinkgate.engine.engine import Engine
from thinkgate.store.sqlite import SqliteEventStore


def seed(db: Path) -> None:
    """Two sessions last written in 2020 and one written now."""

    async def go() -> None:
        old = Engine(SqliteEventStore(db), clock=lambda: "2020-01-01T00:00:00.000Z")
        await old.start()
        for sid in ("old-a", "old-b"):
            await old.record_thought(sid, RecordThought("long ago", 1, 1, False))
        await old.stop()
        new = Engine(SqliteEventStore(db))
        await new.start()
        await new.record_thought("fresh", RecordThought("today", 1, 1, False))
        await new.stop()

    anyio.run(go)


def sessions(db: Path) -> set[str]:
    async def go() -> set[str]:
        store = SqliteEventStore(db)
        await store.open()
        try:
            return {info.session_id for info in await store.list_sessions(limit=100)}
        finally:
            await store.close()

    return anyio.run(go)


def test_the_sidecar_expires_idle_sessions_when_configured(tmp_path: Path) -> None:
    db = tmp_path / "idle.db"
    seed(db)
    with Sidecar(db, env={"THINKGATE_SESSION_IDLE_DAYS": "30"}) as sidecar:
        deadline = time.monotonic() + 60
        while sessions(db) != {"fresh"} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sessions(db) == {"fresh"}
        assert sidecar.alive()
    seed(tmp_path / "kept.db")
    with Sidecar(tmp_path / "kept.db"):  # default: keep every session
        time.sleep(1)
    assert sessions(tmp_path / "kept.db") == {"old-a", "old-b", "fresh"}


def test_sessions_expire_deletes_idle_sessions_once(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    seed(db)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "thinkgate",
            "sessions",
            "expire",
            "--idle-days",
            "7",
            "--yes",
            "--store",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted(["deleted", "old-a", "deleted", "old-b"])
    assert "2 idle session(s) deleted" in done.stderr
    assert sessions(db) == {"fresh"}
