"""ThinkGate: an auditable reasoning and verification runtime for AI agents, served over MCP.

The public API is re-exported here. Heavy modules (the MCP SDK) load on first use, so
``import thinkgate`` stays cheap for the command line.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "EngineConfig",
    "EventStore",
    "Limits",
    "Settings",
    "ThinkGateError",
    "__version__",
    "build_server",
    "open_store",
]

_LAZY = {
    "Engine": "thinkgate.engine.engine",
    "EngineConfig": "thinkgate.engine.engine",
    "EventStore": "thinkgate.store.base",
    "Limits": "thinkgate.domain.thinking",
    "Settings": "thinkgate.config",
    "ThinkGateError": "thinkgate.errors",
    "build_server": "thinkgate.mcp.server",
    "open_store": "thinkgate.store.url",
}

if TYPE_CHECKING:
    from thinkgate.config import Settings
    from thinkgate.domain.thinking import Limits
    from thinkgate.engine.engine import Engine, EngineConfig
    from thinkgate.errors import ThinkGateError
    from thinkgate.mcp.server import build_server
    from thinkgate.store.base import EventStore
    from thinkgate.store.url import open_store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thinkgate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
