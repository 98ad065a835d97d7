"""Wire-shaped (camelCase) views of engine records, shared by the MCP surface and the CLI."""

from __future__ import annotations

from typing import Any

from thinkgate.store.base import SessionInfo

__all__ = ["session_view"]


def session_view(info: SessionInfo) -> dict[str, Any]:
    """A session's head as the tools, resources and CLI show it."""
    return {
        "sessionId": info.session_id,
        "events": info.version,
        "createdAt": info.created_at,
        "updatedAt": info.updated_at,
    }
