"""Session ids: path-safe by construction, so they can name files, URLs and resources."""

from __future__ import annotations

import re

from thinkgate.domain.safety import scan_text
from thinkgate.errors import InvalidSessionId

__all__ = ["SESSION_ID_PATTERN", "check_new_session_id", "check_session_id"]

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def check_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is path-safe: 1-128 of ``A-Z a-z 0-9 . _ -``, not starting with ``.``/``-``/``_``.

    Raises:
        InvalidSessionId: it is not.
    """
    if not isinstance(session_id, str) or _SESSION_ID.fullmatch(session_id) is None or ".." in session_id:
        raise InvalidSessionId(
            f"sessionId {session_id!r} is not valid: use 1-128 characters from A-Z a-z 0-9 . _ - "
            "starting with a letter or digit"
        )
    return session_id


def check_new_session_id(session_id: str) -> str:
    """``check_session_id``, plus: a client-chosen id must not look like a secret.

    A session id is stored and shown verbatim (it cannot be redacted), so an id that looks
    like an API key or token is refused rather than kept.

    Raises:
        InvalidSessionId: it is not path-safe or looks like a secret.
    """
    check_session_id(session_id)
    if len(session_id) >= 16 and scan_text(session_id).secrets:
        raise InvalidSessionId("sessionId looks like a secret (an API key or token); use a random or descriptive id")
    return session_id
