"""``thinkgate db migrate`` / ``db status``, and start-up refusing a schema it does not know, on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.pg import empty_database, fresh_database, with_database

from thinkgate.store.postgres import SCHEMA_VERSION

pytestmark = pytest.mark.timeout(120)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def with_password(url: str, password: str) -> str:
    """``url`` with a password in it (the test servers trust local connections, so any password works)."""
    scheme, rest = url.split("://", 1)
    user, at, host = rest.partition("@")
    assert at, url
    return f"{scheme}://{user}:{password}@{host}"


def sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]  # test-only literal SQL


def test_migrate_creates_the_schema_once_and_then_has_nothing_to_do() -> None:
    url = empty_database()
    status = run_cli("db", "status", "--store", url)
    assert status.returncode == 1, status.stderr
    assert "needs" in status.stdout and "thinkgate db migrate" in status.stdout

    first = run_cli("db", "migrate", "--store", url)
    assert first.returncode == 0, first.stderr
    assert f"from version 0 to {SCHEMA_VERSION}" in first.stdout

    again = run_cli("db", "migrate", "--store", url)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout

    status = run_cli("db", "status", "--store", url)
    assert status.returncode == 0, status.stderr
    assert "up to date" in status.stdout


def test_serve_refuses_an_unmigrated_database_with_schema_mismatch() -> None:
    url = empty_database()
    result = run_cli("audit", "verify", "--store", url)
    assert result.returncode == 2
    assert "SCHEMA_MISMATCH" in result.stderr
    assert "thinkgate db migrate" in result.stderr
    served = subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve", "--store", url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert served.returncode == 2
    assert "SCHEMA_MISMATCH" in served.stderr


def test_a_newer_schema_is_refused_by_start_up_and_by_migrate() -> None:
    url = fresh_database()
    sql(url, f"INSERT INTO thinkgate.schema_migrations (version) VALUES ({SCHEMA_VERSION + 1})")
    for args in (("audit", "verify"), ("db", "migrate")):
        result = run_cli(*args, "--store", url)
        assert result.returncode == 2, (args, result.stdout)
        assert "SCHEMA_MISMATCH" in result.stderr
        assert "newer" in result.stderr
    status = run_cli("db", "status", "--store", url)
    assert status.returncode == 1
    assert "newer" in status.stdout


def test_migrated_database_serves_and_audits() -> None:
    url = empty_database()
    assert run_cli("db", "migrate", "--store", url).returncode == 0
    result = run_cli("audit", "verify", "--store", url)
    assert result.returncode == 0, result.stderr
    assert "ok: 0 session(s)" in result.stdout


def test_the_password_never_appears_in_output() -> None:
    url = with_password(empty_database(), "s3cret-pw")
    outputs = [run_cli("db", "migrate", "--store", url), run_cli("db", "status", "--store", url)]
    broken = with_database(url, "no_such_database_here")
    outputs.append(run_cli("db", "migrate", "--store", broken))
    for result in outputs:
        assert "s3cret-pw" not in result.stdout + result.stderr
        assert "***" in result.stdout + result.stderr
    assert outputs[0].returncode == 0, outputs[0].stderr
    assert outputs[2].returncode == 2
    assert "STORE_UNAVAILABLE" in outputs[2].stderr
    assert "no_such_database_here" in outputs[2].stderr


def test_sqlite_migrate_opens_the_file(tmp_path: Path) -> None:
    result = run_cli("db", "migrate", "--store", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.db").is_file()


def test_the_readme_postgresql_example_runs() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## PostgreSQL\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    lines = [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    export, *commands = [ln for ln in lines if ln]
    assert export.startswith("export THINKGATE_STORE=postgresql://")
    url = empty_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env["THINKGATE_STORE"] = url
    assert commands == ["thinkgate db migrate", "thinkgate db status", "thinkgate serve"]
    for command in commands[:2]:
        args = command.split()[1:]
        result = subprocess.run(
            [sys.executable, "-m", "thinkgate", *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
    served = subprocess.run(
        [sys.executable, "-m", "thinkgate", "serve"],
        input=json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"},
                },
            }
        )
        + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    assert '"serverInfo"' in served.stdout
