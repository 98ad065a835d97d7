"""Which session a call without ``sessionId`` belongs to: the default session of its connection.

A connection is one stdio server process (set by our transport), or one handshake-era
MCP connection (the SDK's per-connection object, e.g. in-process clients). Each
connection gets its own default session, created by its first thought and never
shared. A 2026-07-28 request that arrives with no connection to attach to (a
stateless transport) gets a fresh session; the id comes back in every result.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

__all__ = ["ConnectionScope", "DefaultSessions", "connection_scope"]


class ConnectionScope:
    """Identity of one client connection, set by a transport for the handlers it runs."""

    __slots__ = ("__weakref__", "label")

    def __init__(self, label: str) -> None:
        self.label = label


connection_scope: ContextVar[ConnectionScope | None] = ContextVar("thinkgate_connection", default=None)


class DefaultSessions:
    """Maps connections to their default session ids; entries die with their connection."""

    def __init__(self) -> None:
        self._by_key: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    @staticmethod
    def connection_key(request_session: Any) -> Any | None:
        """The object identifying the caller's connection, or None when there is none."""
        scope = connection_scope.get()
        if scope is not None:
            return scope
        connection = getattr(request_session, "_connection", None)
        version = getattr(connection, "protocol_version", None)
        # Handshake-era connections live as long as the client is connected; modern-era
        # request contexts are built per request, so they cannot carry a default.
        if connection is not None and isinstance(version, str) and version < "2026":
            return connection
        return None

    def get(self, key: Any | None) -> str | None:
        if key is None:
            return None
        try:
            return self._by_key.get(key)
        except TypeError:  # not weak-referenceable: no default for it
            return None

    def set(self, key: Any | None, session_id: str) -> None:
        if key is None:
            return
        try:
            self._by_key[key] = session_id
        except TypeError:
            return
