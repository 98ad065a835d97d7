"""The values every evidence checker shares: its context, its result and the checker type.

A checker is ``async (item, ctx) -> CheckResult``: it reads one evidence item (a plain dict in
the wire shape, camelCase), checks it within the limits of ``ctx`` and says what it found. A
malformed item is a ``failed`` result with a reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "FAILED",
    "NOT_CHECKED",
    "PASSED",
    "CheckContext",
    "CheckResult",
    "Checker",
    "MalformedEvidence",
    "failed",
    "malformed",
    "not_checked",
    "optional_int",
    "require_str",
]

PASSED = "passed"
FAILED = "failed"
NOT_CHECKED = "not_checked"

# Tier of anything that was not checked and passed: it counts as free text at best.
UNCHECKED_TIER = 3


class CheckContext(NamedTuple):
    """What a checker may touch: the allowed roots, the allow-listed programs and the limits."""

    roots: tuple[Path, ...]
    commands: frozenset[str]
    command_timeout: float = 30.0
    max_output: int = 65_536
    max_file_bytes: int = 8 * 1024 * 1024


class CheckResult(NamedTuple):
    """The outcome of checking one evidence item; ``details`` is JSON-safe."""

    check: str
    reason: str
    tier: int
    group: str
    details: dict[str, Any]
    error: bool = False


Checker = Callable[[Mapping[str, Any], CheckContext], Awaitable[CheckResult]]


class MalformedEvidence(ValueError):
    """An evidence item lacks a field or has one of the wrong type; the message is the reason."""


def failed(reason: str, group: str, details: dict[str, Any] | None = None) -> CheckResult:
    """A ``failed`` result (tier 3)."""
    return CheckResult(FAILED, reason, UNCHECKED_TIER, group, details or {})


def not_checked(
    reason: str, group: str, details: dict[str, Any] | None = None, tier: int = UNCHECKED_TIER
) -> CheckResult:
    """A ``not_checked`` result (tier 3 unless told)."""
    return CheckResult(NOT_CHECKED, reason, tier, group, details or {})


def malformed(exc: MalformedEvidence, group: str) -> CheckResult:
    """The ``failed`` result for a malformed item."""
    return failed(f"malformed evidence: {exc}", group)


def require_str(item: Mapping[str, Any], name: str, *, max_len: int, allow_empty: bool = False) -> str:
    """The string field ``name`` of ``item``.

    Raises:
        MalformedEvidence: the field is missing, not a string, empty (unless allowed), too long
            or contains a NUL character.
    """
    value = item.get(name)
    if value is None:
        raise MalformedEvidence(f"'{name}' is required")
    if not isinstance(value, str):
        raise MalformedEvidence(f"'{name}' must be a string")
    if not allow_empty and not value.strip():
        raise MalformedEvidence(f"'{name}' must not be empty")
    if len(value) > max_len:
        raise MalformedEvidence(f"'{name}' is longer than {max_len} characters")
    if "\x00" in value:
        raise MalformedEvidence(f"'{name}' contains a NUL character")
    return value


def optional_int(item: Mapping[str, Any], name: str, default: int, *, low: int, high: int) -> int:
    """The integer field ``name`` of ``item`` in ``[low, high]``, or ``default`` when absent.

    Raises:
        MalformedEvidence: the field is present but not an integer (booleans are not) or out of range.
    """
    value = item.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedEvidence(f"'{name}' must be an integer")
    if not low <= value <= high:
        raise MalformedEvidence(f"'{name}' must be between {low} and {high}")
    return value
