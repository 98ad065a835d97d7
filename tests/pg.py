"""A real PostgreSQL server for the tests, and a fresh migrated database per test.

Where the server comes from, in order:
1. ``THINKGATE_TEST_PG_URL``: an existing server (CI exports it from ``scripts/pg-test.sh``);
   the URL names a database the tests may connect to, and its role may create databases.
2. Otherwise a throwaway cluster this test session starts itself: ``initdb`` into a temporary
   folder and ``pg_ctl start`` on a Unix socket in it (as the ``postgres`` user when running
   as root, since PostgreSQL refuses to run as root). It is stopped and removed at exit.

When neither is possible the PostgreSQL tests skip with the reason, except under CI (``CI``
set), where they fail: CI must never pass without running them.

Each test gets its own database, copied from a template that was migrated once
(``CREATE DATABASE … TEMPLATE``), so tests are independent. ``Cluster`` is also used by
tests that stop and restart a server of their own.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

T = TypeVar("T")

ENV_URL = "THINKGATE_TEST_PG_URL"
_TEMPLATE = f"tg_template_{os.getpid()}"
_counter = itertools.count(1)


def bin_dir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian install."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


class Cluster:
    """A PostgreSQL cluster in a temporary folder, listening only on a Unix socket there."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="tg-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user: str | None = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        conf = self.data / "postgresql.conf"
        with conf.open("a") as f:
            # Throwaway test data: no fsync. kill -9 of a ThinkGate process is what the fault
            # tests exercise; the server itself is stopped cleanly or restarts from its WAL.
            f.write(
                f"listen_addresses = ''\nunix_socket_directories = '{self.root}'\nport = 5432\n"
                "fsync = off\nfull_page_writes = off\nmax_connections = 200\n"
            )

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / tool), *args]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            raise RuntimeError(f"{tool} failed ({out.returncode}): {out.stderr or out.stdout}{self.log_tail()}")
        return out

    def log_tail(self) -> str:
        try:
            return "\n--- server log ---\n" + self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.root}"

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def new_cluster() -> Cluster:
    """A started throwaway cluster (the caller destroys it); skips or fails when impossible."""
    bindir = bin_dir()
    if bindir is None:
        unavailable("no PostgreSQL binaries (initdb, pg_ctl): install postgresql or set " + ENV_URL)
    try:
        cluster = Cluster(bindir)
    except (OSError, KeyError, RuntimeError, subprocess.SubprocessError) as exc:
        unavailable(f"cannot create a throwaway PostgreSQL cluster: {exc}")
    try:
        cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        cluster.destroy()
        unavailable(f"cannot start a throwaway PostgreSQL cluster: {exc}")
    return cluster


def unavailable(reason: str) -> Any:
    """Skip, or under CI fail: the PostgreSQL tests must run in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class _Server:
    """The session's server (external or throwaway) and the databases made on it."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.admin_url = ""
        self.error: str | None = None
        self.template_ready = False
        self.created: list[str] = []

    def ensure(self) -> None:
        if self.error is not None:
            unavailable(self.error)
        if self.admin_url:
            return
        external = os.environ.get(ENV_URL)
        if external:
            self.admin_url = external
            atexit.register(self.shutdown)  # drops the databases the tests made
            return
        try:
            self.cluster = new_cluster()
        except BaseException as exc:  # remembered, so later tests do not retry a slow failure
            self.error = str(exc)
            raise
        self.admin_url = self.cluster.url()
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        if self.cluster is not None:
            self.cluster.destroy()
            self.cluster = None
        elif self.created:
            with contextlib.suppress(Exception):
                _admin(self.admin_url, [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in self.created])


_server = _Server()


def with_database(url: str, dbname: str) -> str:
    """``url`` naming database ``dbname`` instead (an empty authority, ``postgresql:///db``, is kept)."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{dbname}{query}"


def _admin(url: str, statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type]  # built from our own names only


def _create(name: str, template: str | None = None) -> str:
    """Create database ``name`` on the session's server; its URL."""
    _server.ensure()
    statements = [f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")]
    if template is None:
        statements.insert(0, f'DROP DATABASE IF EXISTS "{name}"')
    try:
        _admin(_server.admin_url, statements)
    except Exception as exc:
        _server.error = f"cannot create a database on {_server.admin_url}: {exc}"
        unavailable(_server.error)
    _server.created.append(name)
    return with_database(_server.admin_url, name)


def fresh_database() -> str:
    """The URL of a new, migrated, empty database on the session's server."""
    _server.ensure()
    if not _server.template_ready:
        from thinkgate.store.postgres import migrate

        run_sync(migrate(_create(_TEMPLATE)))
        _server.template_ready = True
    return _create(f"tg_{os.getpid()}_{next(_counter)}", _TEMPLATE)


def empty_database() -> str:
    """The URL of a new database with no ThinkGate schema (for migration tests)."""
    return _create(f"tg_{os.getpid()}_{next(_counter)}")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a loop of its own (callable from inside a running loop too)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
