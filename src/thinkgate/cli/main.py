"""``thinkgate``: serve MCP, print client configs, inspect and audit stored sessions.

Errors surface here, once: a ThinkGate error prints ``CODE: message`` on stderr and
exits non-zero. Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from thinkgate import __version__
from thinkgate.cli.db import db_app
from thinkgate.cli.report import report_app
from thinkgate.errors import ThinkGateError

__all__ = ["app", "main"]

T = TypeVar("T")

STORE_HELP = (
    "Event store URL: sqlite:///path.db (relative) or sqlite:////abs/path.db, or memory://. Env: THINKGATE_STORE."
)
StoreOpt = Annotated[str | None, typer.Option("--store", help=STORE_HELP, show_default=False)]


class Durability(StrEnum):
    normal = "normal"
    full = "full"


class Client(StrEnum):
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"
    gemini = "gemini"
    codex = "codex"


app = typer.Typer(
    name="thinkgate",
    help="ThinkGate: an auditable reasoning and verification runtime for AI agents, served over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sessions_app = typer.Typer(help="List, show, export, delete and expire stored sessions.", no_args_is_help=True)
audit_app = typer.Typer(help="Check stored event logs for tampering.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(report_app, name="report")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thinkgate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """ThinkGate command line."""


def _settings(store: str | None, durability: str | None = None) -> Any:
    from thinkgate.app import configure_logging
    from thinkgate.config import Settings

    settings = Settings.from_env().with_overrides(store_url=store, durability=durability)
    configure_logging(settings)
    return settings


def _run(settings: Any, fn: Callable[[Any], Awaitable[T]], *, create: bool = False) -> T:
    """Run ``fn(engine)`` with a started engine on the configured store.

    These commands inspect or delete: a store that does not exist is an error, never
    silently created (a mistyped path must not look like an empty, intact store).
    """
    from thinkgate.app import build_engine

    async def go() -> T:
        engine = build_engine(settings, create=create)
        await engine.start()
        try:
            return await fn(engine)
        finally:
            await engine.stop()

    return asyncio.run(go())


@app.command()
def serve(
    store: StoreOpt = None,
    durability: Annotated[
        Durability | None,
        typer.Option(
            help="normal: survives kill -9; full: fsync every commit, survives power loss. Env: THINKGATE_DURABILITY."
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve Streamable HTTP (a sidecar at http://HOST:PORT/mcp) instead of stdio.")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="--http: address to listen on (default 127.0.0.1). Env: THINKGATE_HTTP_HOST.")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="--http: port (default 8765; 0 = any free). Env: THINKGATE_HTTP_PORT."),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="--http: another Host name clients use (repeatable). Env: THINKGATE_ALLOWED_HOSTS."),
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(help="--http: an Origin to accept (repeatable). Env: THINKGATE_ALLOWED_ORIGINS."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help="--http: file holding the bearer token clients must send. Env: THINKGATE_TOKEN."),
    ] = None,
    list_sessions: Annotated[
        bool,
        typer.Option(
            "--list-sessions", help="--http: let clients list every session. Env: THINKGATE_HTTP_LIST_SESSIONS=1."
        ),
    ] = False,
    toolsets: Annotated[
        str | None,
        typer.Option(
            help="Toolsets to list, comma-separated: core (always on), graph, sot, governance, or all. "
            "Default core,graph,governance. "
            "Env: THINKGATE_TOOLSETS."
        ),
    ] = None,
) -> None:
    """Serve MCP over stdio (for an MCP client to launch), or over Streamable HTTP with --http. Logs go to stderr."""
    from thinkgate.cli.entry import serve as run_serve
    from thinkgate.cli.entry import serve_http

    http_only = (host, port, allow_host, allow_origin, token_file)
    if not http and (any(v is not None for v in http_only) or list_sessions):
        raise typer.BadParameter("--host, --port, --allow-host, --allow-origin, --token-file need --http")
    if http:
        serve_http(
            store,
            durability.value if durability else None,
            host=host,
            port=port,
            allow_hosts=allow_host,
            allow_origins=allow_origin,
            token_file=str(token_file) if token_file else None,
            list_sessions=list_sessions,
            toolsets=toolsets,
        )
        return
    run_serve(store, durability.value if durability else None, toolsets)


@app.command()
def config(
    client: Annotated[Client, typer.Argument(help="The MCP client to configure.")],
    store: StoreOpt = None,
    http: Annotated[
        str | None,
        typer.Option("--http", metavar="URL", help="Connect to a running `serve --http` sidecar at URL instead."),
    ] = None,
) -> None:
    """Print the configuration snippet that adds ThinkGate to an MCP client.

    A relative SQLite path is made absolute: the client starts the server in a folder of its own.
    """
    from thinkgate.cli.snippets import snippet
    from thinkgate.store.url import absolute_store_url

    if http is not None and store is not None:
        raise typer.BadParameter("--store applies to a server the client starts; with --http the sidecar has its own")
    if http is not None and not http.startswith(("http://", "https://")):
        raise typer.BadParameter(f"--http needs the sidecar's http:// or https:// URL, got {http!r}")
    typer.echo(snippet(client.value, absolute_store_url(store) if store else None, http_url=http), nl=False)


@sessions_app.command("list")
def sessions_list(
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most sessions to list.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List stored sessions, most recently updated first."""
    from thinkgate.engine.views import session_view

    page = _run(_settings(store), lambda e: e.recent(limit=limit))
    rows = [session_view(i) for i in page.sessions]
    if as_json:
        typer.echo(json.dumps({"sessions": rows}, indent=2))
        return
    if not rows:
        typer.echo("no sessions")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("session", no_wrap=True, min_width=32)
    for column in ("events", "created", "updated"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["sessionId"], str(r["events"]), r["createdAt"], r["updatedAt"])
    # Session ids are never cut, even when stdout is not a terminal (rich assumes 80 columns).
    Console(width=max(120, Console().width)).print(table)


async def _session_detail(engine: Any, session_id: str) -> dict[str, Any]:
    from thinkgate.errors import SessionNotFound

    state = await engine.current(session_id)
    info = await engine.store.session(session_id)
    if state is None or info is None:
        raise SessionNotFound(f"no session {session_id!r}")
    thoughts = await engine.all_thoughts(session_id)
    return {
        "sessionId": session_id,
        "createdAt": info.created_at,
        "updatedAt": info.updated_at,
        "events": info.version,
        "thoughtHistoryLength": state.history_length,
        "branches": list(state.branches),
        "thoughts": thoughts,
    }


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"
    dot = "dot"


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the thoughts as JSON instead of text.")] = False,
    fmt: Annotated[
        ShowFormat,
        typer.Option(
            "--format",
            help="text: the thoughts; json, mermaid or dot: the deliberation graph "
            "(pruned nodes grey, each edge kind its own style).",
        ),
    ] = ShowFormat.text,
) -> None:
    """Show a session and its thoughts, or its deliberation graph as JSON, Mermaid or Graphviz DOT."""
    if fmt is not ShowFormat.text:
        if as_json:
            raise typer.BadParameter(
                "--json is the thought log; --format json alone prints the graph", param_hint="--json"
            )
        from thinkgate.render import FORMATS

        view = _run(_settings(store), lambda e: e.graph_view(session_id))
        typer.echo(FORMATS[fmt.value](view), nl=False)
        return
    detail = _run(_settings(store), lambda e: _session_detail(e, session_id))
    if as_json:
        typer.echo(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    typer.echo(f"session  {detail['sessionId']}")
    typer.echo(f"created  {detail['createdAt']}   updated {detail['updatedAt']}   events {detail['events']}")
    typer.echo(f"thoughts {detail['thoughtHistoryLength']}   branches {', '.join(detail['branches']) or '-'}")
    for t in detail["thoughts"]:
        marks = []
        if t.get("isRevision"):
            marks.append(f"revises {t.get('revisesThought', '?')}")
        if t.get("branchId"):
            marks.append(f"branch {t['branchId']} from {t.get('branchFromThought', '?')}")
        suffix = f"  [{'; '.join(marks)}]" if marks else ""
        typer.echo(f"\n{t['thoughtNumber']}/{t['totalThoughts']} {t['thoughtId']}{_printable(suffix)}")
        typer.echo(_printable(t["thought"]))


def _printable(text: str) -> str:
    """Text for a terminal: control characters (escape sequences a thought may carry) made visible."""
    return "".join(
        ch if ch in "\n\t" or not (ord(ch) < 32 or 127 <= ord(ch) < 160) else f"\\x{ord(ch):02x}" for ch in text
    )


@sessions_app.command("export")
def sessions_export(
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    store: StoreOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")] = None,
) -> None:
    """Export a session's full event log (with its hash chain) as JSON."""
    from thinkgate.errors import SessionNotFound

    async def export(engine: Any) -> dict[str, Any]:
        info = await engine.store.session(session_id)
        if info is None:
            raise SessionNotFound(f"no session {session_id!r}")
        events = await engine.events(session_id)
        return {
            "format": "thinkgate-session/1",
            "sessionId": session_id,
            "headHash": info.head_hash,
            "events": [
                {
                    "version": e.version,
                    "type": e.type,
                    "recordedAt": e.recorded_at,
                    "payload": e.data(),
                    "prevHash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in events
            ],
        }

    text = json.dumps(_run(_settings(store), export), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@sessions_app.command("delete")
def sessions_delete(
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a session and all of its events (this cannot be undone)."""
    from thinkgate.errors import SessionNotFound

    if not yes and sys.stdin.isatty():
        typer.confirm(f"Delete session {session_id} and all its events?", abort=True)
    if not _run(_settings(store), lambda e: e.delete(session_id)):
        raise SessionNotFound(f"no session {session_id!r}")
    typer.echo(f"deleted {session_id}")


@sessions_app.command("expire")
def sessions_expire(
    idle_days: Annotated[float, typer.Option("--idle-days", min=0.001, help="Delete sessions idle this many days.")],
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every session nobody wrote to for --idle-days (the sidecar can do it hourly:
    THINKGATE_SESSION_IDLE_DAYS)."""
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Delete every session idle for {idle_days:g} days, with all its events?", abort=True)
    expired = _run(_settings(store), lambda e: e.expire_idle(idle_days * 86_400.0))
    for sid in expired:
        typer.echo(f"deleted {sid}")
    typer.echo(f"{len(expired)} idle session(s) deleted", err=True)


@audit_app.command("verify")
def audit_verify(
    session_id: Annotated[str | None, typer.Argument(help="Session id; all sessions when omitted.")] = None,
    store: StoreOpt = None,
) -> None:
    """Recompute hash chains; exit 0 when intact, 1 naming the first bad event when not."""

    async def verify(engine: Any) -> list[tuple[str, Any]]:
        if session_id is not None:
            return [(session_id, await engine.verify(session_id))]
        out: list[tuple[str, Any]] = []
        after = None
        while True:
            infos = await engine.sessions(limit=1000, after=after)
            for info in infos:
                out.append((info.session_id, await engine.verify(info.session_id)))
            if len(infos) < 1000:
                break
            after = infos[-1].session_id
        # Events whose session head is gone would otherwise be invisible to the walk above.
        for orphan in await engine.orphans():
            out.append((orphan, await engine.verify(orphan)))
        return out

    results = _run(_settings(store), verify)
    bad = [(sid, brk) for sid, brk in results if brk is not None]
    for sid, brk in bad:
        typer.echo(f"TAMPERED session {sid}: first bad event is version {brk.version}: {brk.reason}", err=True)
    if bad:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(results)} session(s), hash chains intact")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the one place where errors become messages and exit codes."""
    from typer._click.exceptions import ClickException  # typer vendors its own click

    try:
        code = app(args=argv, prog_name="thinkgate", standalone_mode=False)
    except ThinkGateError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(2)
    except ClickException as exc:  # usage errors: unknown command, bad option value
        exc.show()
        sys.exit(exc.exit_code)
    except (typer.Abort, EOFError):
        typer.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    # Without standalone mode, typer returns the code of a `typer.Exit` instead of exiting.
    if isinstance(code, int) and code != 0:
        sys.exit(code)
