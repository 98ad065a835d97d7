"""A bounded LRU of hot session states, capped by entry count and by approximate bytes."""

from __future__ import annotations

from collections import OrderedDict

from thinkgate.domain.state import SessionState

__all__ = ["StateCache"]


class StateCache:
    """Least-recently-used session states; evicts until both caps hold."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 16 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache caps must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[SessionState, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        """Approximate bytes held."""
        return self._bytes

    def get(self, session_id: str) -> SessionState | None:
        item = self._items.get(session_id)
        if item is None:
            return None
        self._items.move_to_end(session_id)
        return item[0]

    def put(self, state: SessionState) -> None:
        size = state.approx_size()
        old = self._items.pop(state.session_id, None)
        if old is not None:
            self._bytes -= old[1]
        self._items[state.session_id] = (state, size)
        self._bytes += size
        # The newest entry stays even if it alone exceeds the byte cap: it is in use right now.
        while len(self._items) > 1 and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
            _, (_, evicted) = self._items.popitem(last=False)
            self._bytes -= evicted

    def drop(self, session_id: str) -> None:
        old = self._items.pop(session_id, None)
        if old is not None:
            self._bytes -= old[1]
