"""Independence groups from where evidence comes from, never from a label the caller invents.

- a file: ``repo:<top directory holding .git>`` below its root, else ``root:<root>``
- a url: ``domain:<registrable domain>`` by the Public Suffix List (private section too, so
  ``a.github.io`` and ``b.github.io`` differ); an IP literal or a bare host stands for itself
- a command: ``command:<program name>``; a calc: ``calc``
- free text: ``source:<source, case-folded, whitespace collapsed>``, ``source:unknown`` when empty
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import urllib.parse
from functools import cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

__all__ = [
    "MAX_SOURCE_CHARS",
    "command_group",
    "domain_group",
    "file_group",
    "registrable_domain",
    "source_group",
]

MAX_SOURCE_CHARS = 200


def file_group(path: Path, root: Path) -> str:
    """The group of ``path`` (resolved, inside the resolved ``root``): its repository or its root.

    The repository is the topmost directory holding a ``.git`` entry between the file and its
    root, both included: nested ``.git`` directories cannot split one checkout into many groups.
    """
    top: Path | None = None
    directory = path.parent if path != root else path
    while True:
        if _exists(directory / ".git"):
            top = directory
        if directory in (root, directory.parent):
            break
        directory = directory.parent
    return f"repo:{top}" if top is not None else f"root:{root}"


def _exists(path: Path) -> bool:
    # Path.exists raises for some names on Python 3.11 (ENAMETOOLONG, ELOOP): not a repository.
    try:
        return path.exists()
    except OSError:
        return False


@cache
def _psl() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (lower case), the IP for an IP literal, else the host itself."""
    host = urllib.parse.unquote(host).strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = _ipv4_number(host)
    if address is not None:
        mapped = getattr(address, "ipv4_mapped", None)
        return (mapped or address).compressed
    with contextlib.suppress(UnicodeError):
        # One spelling per name: bücher.de and xn--bcher-kva.de are the same domain.
        host = host.encode("idna").decode("ascii")
    if "." not in host:
        return host
    found = _psl().privatesuffix(host)
    return found if isinstance(found, str) else host


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any form browsers accept (127.1, 2130706433, 0x7f.0.0.1), else None."""
    if not host or not all(c in "0123456789abcdefx." for c in host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def domain_group(host: str) -> str:
    """The group of a url whose host is ``host``."""
    return f"domain:{registrable_domain(host)}"


def command_group(program: str) -> str:
    """The group of a command whose ``argv[0]`` is ``program``."""
    return f"command:{PurePath(program).name or program}"


def source_group(source: str | None) -> str:
    """The group of free text attributed to ``source``."""
    collapsed = " ".join((source or "").casefold().split())[:MAX_SOURCE_CHARS]
    return f"source:{collapsed or 'unknown'}"
