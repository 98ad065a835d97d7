"""One entry for every evidence item: ``check_evidence`` dispatches on ``kind`` and never raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from thinkgate.evidence.base import (
    CheckContext,
    Checker,
    CheckResult,
    MalformedEvidence,
    failed,
    malformed,
    not_checked,
    optional_int,
    require_str,
)
from thinkgate.evidence.calc import check_calc
from thinkgate.evidence.commands import check_command
from thinkgate.evidence.files import check_file
from thinkgate.evidence.origin import domain_group, source_group

__all__ = ["CHECKERS", "STANCES", "check_evidence", "check_text", "check_url"]

STANCES = frozenset({"supports", "refutes"})
MAX_URL_CHARS = 4096
MAX_TEXT_CHARS = 100_000
UNKNOWN_GROUP = "unknown"


async def check_url(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """A url is declared, never fetched: ``not_checked`` at tier ``max(2, declared)``, grouped by domain."""
    del ctx
    try:
        url = require_str(item, "url", max_len=MAX_URL_CHARS)
        declared = optional_int(item, "tier", 2, low=1, high=3)
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError as exc:
            raise MalformedEvidence("'url' is not a valid URL") from exc
        if not host:
            raise MalformedEvidence("'url' has no host")
    except MalformedEvidence as exc:
        return malformed(exc, "domain:unknown")
    tier = max(2, declared)
    return not_checked("a url is declared, not fetched", domain_group(host), {"declaredTier": declared}, tier=tier)


async def check_text(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """Free text is never checked: ``not_checked`` at tier 3, grouped by its source."""
    del ctx
    try:
        require_str(item, "text", max_len=MAX_TEXT_CHARS)
        source = item.get("source")
        if source is not None and not isinstance(source, str):
            raise MalformedEvidence("'source' must be a string")
    except MalformedEvidence as exc:
        return malformed(exc, "source:unknown")
    return not_checked("free text is never checked", source_group(source))


CHECKERS: Mapping[str, Checker] = {
    "calc": check_calc,
    "command": check_command,
    "file": check_file,
    "text": check_text,
    "url": check_url,
}


async def check_evidence(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """Check one evidence item with the checker for its ``kind``; never raises.

    A malformed item (not an object, no or unknown ``kind``, a ``stance`` other than
    ``supports``/``refutes``, a field missing or of the wrong type) is ``failed`` with the reason.
    An exception inside a checker fails closed: ``failed``, ``error=True``, reason
    ``checker error: <ExceptionType>``. Cancellation still propagates.
    """
    candidate: object = item  # the type is what callers promise, not what the wire guarantees
    try:
        if not isinstance(candidate, Mapping):
            return failed("malformed evidence: an evidence item must be an object", UNKNOWN_GROUP)
        kind = item.get("kind")
        checker = CHECKERS.get(kind) if isinstance(kind, str) else None
        if checker is None:
            kinds = ", ".join(sorted(CHECKERS))
            return failed(f"malformed evidence: 'kind' must be one of {kinds}", UNKNOWN_GROUP)
        stance = item.get("stance")
        if not isinstance(stance, str) or stance not in STANCES:
            return failed("malformed evidence: 'stance' must be supports or refutes", UNKNOWN_GROUP)
        return await checker(item, ctx)
    except Exception as exc:
        return CheckResult("failed", f"checker error: {type(exc).__name__}", 3, UNKNOWN_GROUP, {}, error=True)
