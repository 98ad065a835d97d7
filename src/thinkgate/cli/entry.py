"""The ``thinkgate`` console script: ``serve`` starts without loading the full command line.

An MCP client starts ``thinkgate serve`` for every session, and waits for it. Parsing a
plain ``serve [--store URL] [--durability normal|full] [--toolsets LIST]`` here skips importing typer and
the other commands (~50 ms of a ~0.4 s cold start, BENCHMARKS.md); any other command
line, including ``--help`` and every mistake, goes to the full CLI (``cli/main.py``),
which runs the same ``serve`` function.
"""

from __future__ import annotations

import sys

__all__ = ["main", "plain_serve_args", "serve", "serve_http"]

_OPTIONS = ("--store", "--durability", "--toolsets")


def plain_serve_args(argv: list[str]) -> dict[str, str] | None:
    """The options of a plain ``serve`` command line, or None when the full CLI must parse it."""
    if not argv or argv[0] != "serve":
        return None
    options: dict[str, str] = {}
    rest = argv[1:]
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in _OPTIONS or name in options:
            return None
        if not eq:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        if not value or (name == "--durability" and value not in ("normal", "full")):
            return None
        options[name] = value
    return options


def serve(store: str | None, durability: str | None, toolsets: str | None = None) -> None:
    """Serve MCP over stdio until the client closes stdin (the ``serve`` command).

    Raises:
        ThinkGateError: the configuration or the store is unusable.
    """
    import asyncio

    from thinkgate import __version__
    from thinkgate.app import configure_logging, run_stdio
    from thinkgate.config import Settings

    settings = Settings.from_env().with_overrides(store_url=store, durability=durability, toolsets=toolsets)
    configure_logging(settings)
    if settings.durability == "full" and settings.resolved_store_url().startswith("memory:"):
        print("warning: --durability full has no effect on a memory:// store (nothing is kept)", file=sys.stderr)
    if sys.stdin.isatty():
        from thinkgate.store.url import redact_url

        print(
            f"thinkgate {__version__}: serving MCP on stdio (store {redact_url(settings.resolved_store_url())}).\n"
            "An MCP client should launch this command; see `thinkgate config --help`. Ctrl-D to stop.",
            file=sys.stderr,
        )
    asyncio.run(run_stdio(settings))


def serve_http(
    store: str | None,
    durability: str | None,
    *,
    host: str | None = None,
    port: int | None = None,
    allow_hosts: list[str] | None = None,
    allow_origins: list[str] | None = None,
    token_file: str | None = None,
    list_sessions: bool = False,
    toolsets: str | None = None,
) -> None:
    """Serve MCP over Streamable HTTP until SIGINT or SIGTERM (the ``serve --http`` command).

    Raises:
        ThinkGateError: the configuration or the store is unusable (e.g. no token off loopback).
    """
    from thinkgate.app import configure_logging, run_http
    from thinkgate.config import Settings

    settings = (
        Settings.from_env()
        .with_overrides(store_url=store, durability=durability, toolsets=toolsets)
        .with_http(
            host=host,
            port=port,
            allow_hosts=allow_hosts or (),
            allow_origins=allow_origins or (),
            token_file=token_file,
            list_sessions=list_sessions,
        )
    )
    configure_logging(settings)
    run_http(settings)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    options = plain_serve_args(args)
    if options is None:
        from thinkgate.cli.main import main as full_main

        full_main(args)
        return
    from thinkgate.errors import ThinkGateError

    try:
        serve(options.get("--store"), options.get("--durability"), options.get("--toolsets"))
    except ThinkGateError as exc:  # as cli/main.py reports it
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
