"""Who may talk to the HTTP sidecar: Host and Origin checks (DNS rebinding) and the bearer token.

Every request to ``/mcp`` and ``/metrics`` passes ``Guard.check`` before anything else runs:

* ``Host`` must name the server: a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``), the
  address it listens on (when that is a specific address), or a configured extra name. Any port.
  Otherwise 421 — a page whose DNS name was rebound to 127.0.0.1 sends its own name.
* ``Origin``, when present (browsers send it), must be a loopback origin or a configured one.
  Otherwise 403.
* With a token configured (required off loopback), ``Authorization: Bearer <token>`` must match,
  compared in constant time. Otherwise 401, and nothing of the request is read or run.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from thinkgate.errors import ConfigError

__all__ = ["Denied", "Guard", "is_loopback", "require_token_off_loopback"]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a Host name) is a loopback address or ``localhost``."""
    name = host.strip().lower().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Refuse to listen anywhere but loopback without a bearer token.

    Raises:
        ConfigError: ``host`` is not loopback and no token is configured.
    """
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host}: a non-loopback address needs a bearer token "
            "(set THINKGATE_TOKEN or pass --token-file FILE), or listen on 127.0.0.1"
        )


def _host_name(header: str) -> str:
    """The name part of a Host header (``[::1]:8765`` → ``::1``, ``Example.com:80`` → ``example.com``)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Denied(Exception):
    """A request the guard refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Guard:
    """Checks one request's Host, Origin and Authorization headers."""

    def __init__(
        self,
        *,
        bind_host: str,
        allowed_hosts: tuple[str, ...] = (),
        allowed_origins: tuple[str, ...] = (),
        token: str | None = None,
    ) -> None:
        names = set(_LOOPBACK_NAMES)
        bind = bind_host.strip().lower().strip("[]")
        if bind not in ("", "0.0.0.0", "::"):
            names.add(bind)
        names.update(_host_name(h) for h in allowed_hosts)
        self.host_names = frozenset(names)
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins)
        self._expected = f"Bearer {token}".encode() if token is not None else None

    @property
    def needs_token(self) -> bool:
        return self._expected is not None

    def check(self, host: bytes | None, origin: bytes | None, authorization: bytes | None) -> None:
        """Raise ``Denied`` unless the headers pass (``None``: the header is absent).

        Raises:
            Denied: 421 for a foreign Host, 403 for a foreign Origin, 401 for a missing or wrong token.
        """
        if host is None or _host_name(host.decode("latin-1")) not in self.host_names:
            raise Denied(421, "Misdirected Request: this Host is not served here (DNS-rebinding protection)")
        if origin is not None and not self._origin_ok(origin.decode("latin-1")):
            raise Denied(403, "Forbidden: this Origin is not allowed")
        if self._expected is not None and (
            authorization is None or not hmac.compare_digest(authorization, self._expected)
        ):
            raise Denied(401, "Unauthorized: missing or wrong bearer token")

    def _origin_ok(self, origin: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        try:
            hostname = parts.hostname
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and hostname is not None and is_loopback(hostname)
