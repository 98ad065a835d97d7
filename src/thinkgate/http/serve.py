"""Run the sidecar: bind the socket, wire engine, SDK handler and ASGI app, serve with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Generator
from typing import Any

import uvicorn

from thinkgate.config import Settings
from thinkgate.errors import ConfigError
from thinkgate.http.security import Guard, require_token_off_loopback

__all__ = ["bind", "run", "serve_http", "uvicorn_server"]

log = logging.getLogger("thinkgate.http")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        ConfigError: the address cannot be used (taken, not local, not an address).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/mcp"


JANITOR_PERIOD = 3600.0  # seconds between sweeps for idle sessions


async def expire_idle_sessions(engine: Any, idle_seconds: float, period: float = JANITOR_PERIOD) -> None:
    """Delete idle sessions now and then every ``period`` seconds (THINKGATE_SESSION_IDLE_DAYS).

    Replicas may all sweep: each deletion re-checks the session under its write lock.
    """
    while True:
        try:
            expired = await engine.expire_idle(idle_seconds)
            if expired:
                log.info("expired %d idle session(s)", len(expired))
        except Exception:  # a failed sweep (store down) is retried at the next one
            log.warning("could not expire idle sessions", exc_info=True)
        await asyncio.sleep(period)


async def serve_http(settings: Settings) -> None:
    """Serve MCP over Streamable HTTP until SIGINT or SIGTERM.

    Raises:
        ConfigError: no token for a non-loopback address, or the address cannot be used.
        StoreError: the store cannot be opened.
    """
    from thinkgate.engine.engine import Engine, new_session_id
    from thinkgate.http.asgi import MAX_BODY_BYTES, HttpApp
    from thinkgate.http.metrics import Metrics, TimedStore
    from thinkgate.mcp.http import build_http_server, session_manager
    from thinkgate.store.url import open_store

    require_token_off_loopback(settings.http_host, settings.token)
    sock = bind(settings.http_host, settings.http_port)
    metrics = Metrics()
    try:
        store = open_store(settings.resolved_store_url(), durability=settings.durability, create=True)
        engine = Engine(TimedStore(store, metrics), settings.engine, id_factory=metrics.counting(new_session_id))
        await engine.start()
    except BaseException:
        sock.close()
        raise
    try:
        server = build_http_server(
            engine,
            metrics=metrics,
            log_thoughts=settings.log_thoughts,
            list_sessions=settings.http_list_sessions,
            toolsets=settings.toolsets,
        )
        guard = Guard(
            bind_host=settings.http_host,
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
            token=settings.token,
        )
        app = HttpApp(
            engine,
            session_manager(server, max_body_bytes=MAX_BODY_BYTES),
            guard,
            metrics,
            fast_path=settings.fast_path,
            log_thoughts=settings.log_thoughts,
        )
        server_ = uvicorn_server(app)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server_.stop)
        url = _url(sock, settings.http_host)
        print(
            f"thinkgate: serving MCP over Streamable HTTP at {url} (store {engine.store.url}; "
            f"token {'required' if guard.needs_token else 'off (loopback)'}; /healthz /readyz /metrics)",
            file=sys.stderr,
            flush=True,
        )
        gc.collect()
        gc.freeze()  # as run_stdio: long-lived objects out of the collector's scans
        janitor = (
            asyncio.ensure_future(expire_idle_sessions(engine, settings.session_idle_days * 86_400.0))
            if settings.session_idle_days > 0
            else None
        )
        try:
            await server_.serve(sockets=[sock])
        finally:
            if janitor is not None:
                janitor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await janitor
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        await engine.stop()


def uvicorn_server(app: Any) -> _Server:
    """uvicorn as the sidecar runs ``app`` (serve it with ``serve(sockets=…)``, end it with ``stop()``).

    The conformance fixture server (``tests/http/conformance_server.py``) runs its app through
    this too, so the suite tests these settings.
    """
    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,  # the request line is enough to leak a session id into logs
        log_level=logging.WARNING,
        log_config=None,
        http=_http_impl(),
        timeout_graceful_shutdown=10,
        server_header=False,
        proxy_headers=False,  # no proxy in front by default; X-Forwarded-* would be spoofable
    )
    return _Server(config)


class _Server(uvicorn.Server):
    """uvicorn's server, minus its signal handling: it re-raises SIGTERM once it has stopped,
    which would kill the process before the engine closes the store. Ours just stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


def _http_impl() -> Any:
    """httptools when installed (several times faster than h11 at parsing), else h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def run(settings: Settings) -> None:
    """Serve on uvloop when it is installed (a cheaper event loop under many connections)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_http(settings))
        return
    uvloop.run(serve_http(settings))
