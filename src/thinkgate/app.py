"""Composition root: settings → store → engine → MCP server → transport."""

from __future__ import annotations

import gc
import logging
import sys

from thinkgate.config import Settings
from thinkgate.engine.engine import Engine
from thinkgate.store.url import open_store

__all__ = ["build_engine", "configure_logging", "run_http", "run_stdio"]


def configure_logging(settings: Settings) -> None:
    """Send ThinkGate's logs to stderr (never stdout: in stdio mode stdout is the JSON-RPC wire)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("thinkgate")
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root.propagate = False
    thoughts = logging.getLogger("thinkgate.thoughts")
    thoughts.setLevel(logging.INFO if settings.log_thoughts else logging.CRITICAL + 1)


def build_engine(settings: Settings, *, create: bool = True) -> Engine:
    """An engine on the store the settings name (not yet started; ``create=False``: must exist)."""
    store = open_store(settings.resolved_store_url(), durability=settings.durability, create=create)
    return Engine(store, settings.engine)


async def run_stdio(settings: Settings) -> None:
    """Serve MCP over stdio until the client closes stdin."""
    from thinkgate.mcp.wire import StdioWire

    engine = build_engine(settings)
    await engine.start()
    log = logging.getLogger("thinkgate")
    log.info("serving MCP on stdio, store %s", engine.store.url)
    # Everything loaded so far (modules, compiled patterns, tables) lives as long as the process:
    # moved out of the collector's reach, it is never scanned again by a full collection, which
    # keeps those pauses short (a latency-tail lesson from the benchmarks).
    gc.collect()
    gc.freeze()
    try:
        wire = StdioWire(
            engine, fast_path=settings.fast_path, log_thoughts=settings.log_thoughts, toolsets=settings.toolsets
        )
        await wire.serve()
    finally:
        await engine.stop()


def run_http(settings: Settings) -> None:
    """Serve MCP over Streamable HTTP until SIGINT or SIGTERM (the ``serve --http`` sidecar).

    Raises:
        ConfigError: no token for a non-loopback address, or the address cannot be used.
        StoreError: the store cannot be opened.
    """
    from thinkgate.http.serve import run

    run(settings)
