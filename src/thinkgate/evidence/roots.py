"""The allowed roots: which directories file and command evidence may touch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["ENV_VAR", "evidence_roots", "resolve_inside"]

ENV_VAR = "THINKGATE_EVIDENCE_ROOTS"


def evidence_roots(client_roots: Sequence[str] | None, env_value: str | None, cwd: Path) -> tuple[Path, ...]:
    """The allowed roots, resolved (symlinks too), existing directories only, first occurrence kept.

    Args:
        client_roots: the roots the MCP client announced (``file://`` URIs or paths); when given,
            even as an empty list, they alone decide (an empty list means no roots).
        env_value: ``THINKGATE_EVIDENCE_ROOTS`` (``os.pathsep``-separated paths), used when the
            client gave none; unset or empty means the working directory.
        cwd: the working directory, the fallback root and the base of relative paths.
    """
    if client_roots is not None:
        candidates = [_client_path(entry) for entry in client_roots]
    elif env_value:
        candidates = [part for part in env_value.split(os.pathsep) if part.strip()]
    else:
        candidates = [str(cwd)]
    roots: list[Path] = []
    for candidate in candidates:
        root = _existing_dir(cwd, candidate)
        if root is not None and root not in roots:
            roots.append(root)
    return tuple(roots)


def _client_path(entry: object) -> str | None:
    """The local path of one client root, or None for anything that is not a local file root."""
    if not isinstance(entry, str) or not entry.strip():
        return None
    if "://" not in entry:
        return entry
    try:
        parts = urlsplit(entry)
    except ValueError:
        return None
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    return unquote(parts.path)


def _existing_dir(cwd: Path, candidate: str | None) -> Path | None:
    if candidate is None or "\x00" in candidate:
        return None
    try:
        path = (cwd / Path(candidate).expanduser()).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    return path if path.is_dir() else None


def resolve_inside(roots: Sequence[Path], raw: str) -> tuple[Path, Path] | None:
    """``raw`` resolved (symlinks too; relative to the first root) with the root holding it, or None.

    None when there are no roots, when the path cannot be resolved, or when it lies outside every
    root once resolved (``..``, absolute paths and symlinks pointing out all end here).
    """
    if not roots or "\x00" in raw:
        return None
    try:
        path = (roots[0] / raw).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        return None
    for root in roots:
        try:
            real_root = root.resolve(strict=False)
        except (OSError, RuntimeError, ValueError):
            continue
        if path.is_relative_to(real_root):
            return path, real_root
    return None
