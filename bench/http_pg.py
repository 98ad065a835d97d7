"""``make bench``, HTTP row "two replicas on PostgreSQL": 64 sessions over two ``serve --http`` replicas.

    .venv/bin/python -m bench.http_pg [--sessions 64] [--calls 12800] [--rounds 3] [--quick]

Servers, started fresh for every round, in alternating order:

* ``thinkgate-pg-2``: two ``thinkgate serve --http --store postgresql://…`` processes on one
  fresh, migrated database; the sessions are spread over them in turn (each session stays on
  its replica's keep-alive connection). Every thought is committed before its answer, with
  PostgreSQL's default durability (``fsync = on``, ``synchronous_commit = on``).
* ``sdk-http``: the plain ``mcp`` SDK server over Streamable HTTP, as ``bench.http_load`` runs it.

PostgreSQL: ``THINKGATE_BENCH_PG_URL`` (a server whose role may create databases; a database
is made per round and dropped after), else a throwaway cluster in a temporary folder
(``initdb`` + ``pg_ctl``, Unix socket only, as ``postgres`` when run as root), removed at exit.
The client, both replicas and PostgreSQL share the machine.

Prints a markdown report on stdout (progress on stderr), writes it to
``.cache/bench/http-pg-latest.md`` and every measurement as a JSON line to ``--out``.
Exit status 1 when any call failed, 2 when a server could not be run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.client import machine_info
from bench.http_load import (
    ANCHOR,
    QUICK,
    REPO,
    SDK,
    Config,
    Server,
    drive,
    log,
    measure,
    run_rounds,
    summary,
    target_lines,
)

PG = "thinkgate-pg-2"
REPLICAS = 2
ENV_URL = "THINKGATE_BENCH_PG_URL"


# ----------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------


class Postgres:
    """The server the row runs on: ``THINKGATE_BENCH_PG_URL``, else a throwaway cluster."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.user: str | None = None
        self.admin_url = os.environ.get(ENV_URL, "")
        self.databases: list[str] = []

    def start(self) -> Postgres:
        if self.admin_url:
            return self
        bindir = _bin_dir()
        if bindir is None:
            raise RuntimeError(f"no PostgreSQL binaries (initdb, pg_ctl): install postgresql or set {ENV_URL}")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="thinkgate-bench-pg-"))
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (data / "postgresql.conf").open("a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.root}'\nmax_connections = 100\n")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        self.admin_url = f"postgresql://postgres@/postgres?host={self.root}"
        return self

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bindir / tool), *args]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed ({out.returncode}): {out.stderr or out.stdout}")

    def database(self, name: str) -> str:
        """A new, migrated database ``name``; its URL."""
        import psycopg

        from thinkgate.store.postgres import migrate

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]  # our own name
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # our own name
        self.databases.append(name)
        parts = urlsplit(self.admin_url)
        url = f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")
        asyncio.run(migrate(url))
        return url

    def drop(self, name: str) -> None:
        import psycopg

        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn,
        ):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]  # our own name

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


class PgReplica(Server):
    """``thinkgate serve --http`` on a PostgreSQL database (``bench.http_load.Server`` with another store)."""

    def __init__(self, name: str, tmp: Path, url: str) -> None:
        super().__init__(name, tmp)
        self.store_url = url

    def start(self) -> PgReplica:
        stderr = (self.tmp / f"{self.name}.stderr").open("wb")
        exe = Path(sys.executable).with_name("thinkgate")
        argv = [str(exe)] if exe.is_file() else [sys.executable, "-m", "thinkgate"]
        argv += ["serve", "--http", "--port", "0", "--store", self.store_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=REPO
        )
        stderr.close()
        self.url = self._url_from_stderr()
        return self


def measure_pg(pg: Postgres, cfg: Config, tmp: Path, round_no: int) -> dict[str, Any]:
    name = f"tg_bench_{os.getpid()}_{round_no}"
    url = pg.database(name)
    replicas: list[PgReplica] = []
    try:
        for i in range(REPLICAS):
            replicas.append(PgReplica(f"{PG}-{i}", tmp, url).start())
        out = asyncio.run(drive([r.url for r in replicas], cfg, pass_session_id=True))
        rss = [r.rss_mib() for r in replicas]
    finally:
        for r in replicas:
            r.stop()
        pg.drop(name)
    rec = summary(PG, cfg, out, sum(rss))
    rec["rss_mib_each"] = [round(x, 1) for x in rss]
    return rec


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------


def _median(records: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in records))


def report(records: list[dict[str, Any]], cfg: Config, started: str, where: str) -> str:
    by = {name: [r for r in records if r["server"] == name] for name in (PG, SDK)}
    lines = [
        f"# HTTP load, two replicas on PostgreSQL: {cfg.sessions} concurrent sessions ({started})",
        "",
        f"PostgreSQL: {where}. Each round: fresh processes (and a fresh database), "
        f"{cfg.warmup} warm-up calls per session, then {cfg.calls:,} timed `sequentialthinking` "
        f"calls split over the sessions (closed loop, one keep-alive connection each; "
        f"ThinkGate's sessions spread over {REPLICAS} replicas in turn). Medians over {cfg.rounds} round(s).",
        "",
        "| server | calls/s | p50 µs | p99 µs | p99.9 µs | errors | RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in by.items():
        if not rows:
            continue
        if name == PG:
            each = [statistics.median(r["rss_mib_each"][i] for r in rows) for i in range(REPLICAS)]
            rss = " + ".join(f"{x:.1f}" for x in each)
        else:
            rss = f"{_median(rows, 'rss_mib'):.1f}"
        lines.append(
            f"| {name} | {_median(rows, 'calls_per_s'):,.0f} | {_median(rows, 'p50_us'):,.0f} | "
            f"{_median(rows, 'p99_us'):,.0f} | {_median(rows, 'p999_us'):,.0f} | "
            f"{sum(r['errors'] for r in rows)} | {rss} |"
        )
    if by[PG] and by[SDK]:
        lines += target_lines("Two ThinkGate replicas on PostgreSQL", by[PG], by[SDK])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny numbers, one round")
    parser.add_argument("--only", default=f"{PG},{SDK}", help=f"servers to run, comma-separated ({PG}, {SDK})")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines file")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    cfg = Config(
        sessions=args.sessions or base.sessions,
        calls=args.calls or base.calls,
        warmup=base.warmup,
        rounds=args.rounds or base.rounds,
    )
    names = [n for n in (PG, SDK) if n in args.only.split(",")]
    if SDK in names and not (REPO / ANCHOR).is_file():
        log(f"missing {ANCHOR} (the shared/ folder beside the repo)")
        return 2
    cache = REPO / ".cache" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_path = args.out or cache / f"http-pg-{started.replace(':', '')}.jsonl"
    records: list[dict[str, Any]] = []
    pg = Postgres()
    log(f"http_pg: {cfg} machine {machine_info(None)}")
    try:
        if PG in names:
            try:
                pg.start()
            except (RuntimeError, OSError, KeyError, subprocess.SubprocessError) as exc:
                log(f"{PG}: no PostgreSQL: {exc}")
                return 2
        where = f"{ENV_URL}" if os.environ.get(ENV_URL) else "a throwaway local cluster (Unix socket, default settings)"
        with tempfile.TemporaryDirectory(prefix="thinkgate-http-pg-bench-") as tmp, out_path.open("ab") as out:

            def run(name: str, folder: Path, round_no: int) -> dict[str, Any]:
                return measure_pg(pg, cfg, folder, round_no) if name == PG else measure(name, cfg, folder)

            if not run_rounds(names, cfg, Path(tmp), out, records, run):
                return 2
    finally:
        pg.stop()
    text = report(records, cfg, started, where)
    (cache / "http-pg-latest.md").write_text(text, encoding="utf-8")
    print(text, end="")
    return 1 if any(r["errors"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
