"""Event stores: where sessions' hash-chained event logs live."""

from thinkgate.store.base import EventStore, NewEvent, SessionInfo, Snapshot, StoredEvent
from thinkgate.store.url import open_store

__all__ = ["EventStore", "NewEvent", "SessionInfo", "Snapshot", "StoredEvent", "open_store"]
