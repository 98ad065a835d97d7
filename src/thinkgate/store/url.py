"""Store URLs: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``memory://``, ``postgresql://…``."""

from __future__ import annotations

import os
from pathlib import Path

from thinkgate.errors import ConfigError
from thinkgate.store.base import EventStore

__all__ = ["absolute_store_url", "default_store_url", "open_store", "redact_url"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_store_url() -> str:
    """The store used without ``--store`` or ``THINKGATE_STORE``: a file in the user's data dir."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('thinkgate', appauthor=False) / 'thinkgate.db'}"


def absolute_store_url(url: str) -> str:
    """``url`` checked, with a relative SQLite path made absolute (against the current folder).

    Raises:
        ConfigError: the URL is not one ``open_store`` accepts.
    """
    store = open_store(url)
    path = getattr(store, "path", None)
    if isinstance(path, Path):
        return f"sqlite:///{path.expanduser().resolve()}"
    return url


def open_store(url: str, *, durability: str = "normal", create: bool = True) -> EventStore:
    """Build (but do not open) the event store a URL names.

    With ``create=False`` opening fails with ``StoreNotFound`` instead of creating a new
    store (for commands that only read, so a mistyped path is not reported as empty).

    Raises:
        ConfigError: the URL's scheme is unknown or its path is empty.
    """
    if url in ("memory://", "memory:"):
        from thinkgate.store.memory import MemoryEventStore

        return MemoryEventStore(url)
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(f"SQLite store URL needs a path: sqlite:///relative.db or sqlite:////abs.db, got {url!r}")
        path = Path(os.path.expanduser(rest[1:])) if rest[1:2] == "~" else Path(rest[1:])
        from thinkgate.store.sqlite import SqliteEventStore

        return SqliteEventStore(path, durability=durability, url=url, create=create)
    if url.startswith(_POSTGRES_SCHEMES):
        # The database must exist and be migrated (`thinkgate db migrate`) whatever ``create``
        # says; ``durability`` is the server's business (its synchronous_commit).
        from thinkgate.store.postgres import PostgresEventStore

        return PostgresEventStore(url)
    raise ConfigError(
        f"unknown store URL {redact_url(url)!r}: use sqlite:///path/to/file.db, postgresql://host/db or memory://"
    )


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs and messages.

    Covers the password in the authority (``postgresql://user:secret@host/db``) and a
    ``password=`` query parameter.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() == "password" for k, _ in pairs):
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="/*")
    if netloc == parts.netloc and query == parts.query:
        return url
    # Reassembled by hand: urlunsplit would drop the empty authority of postgresql:///db.
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )
