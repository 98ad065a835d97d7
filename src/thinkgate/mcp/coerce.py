"""Argument coercion that matches the official sequential-thinking server's.

Models often send numbers and booleans as strings. The official server (zod) accepts, for
integer fields, whatever JavaScript's ``Number()`` turns into an integer (``"3"``, ``" 3"``,
``"3.0"``, ``"1e1"``, ``"0x10"``), and for boolean fields a boolean or ``"true"``/``"false"``
in any case. Pydantic's lax mode differs in both directions (it takes ``"yes"``, ``1`` and
``"1_0"``, and refuses ``"1e1"``), so these validators run first and pydantic then checks
the result. Booleans and arrays are not numbers here, where JavaScript would convert them.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["js_bool", "js_int", "optional"]

_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PREFIXED = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def js_int(value: Any) -> Any:
    """An integer from a JSON number or a numeric string, as JavaScript's ``Number()`` reads it.

    Raises:
        ValueError: the value is not an integer by those rules.
    """
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ValueError("expected an integer")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0  # Number("") is 0; the field's minimum then rejects it
        if _PREFIXED.fullmatch(text):
            return int(text, 0)
        if _DECIMAL.fullmatch(text):
            number = float(text)
            if math.isfinite(number) and number.is_integer():
                return int(number)
        raise ValueError("expected an integer or a string holding one")
    raise ValueError("expected an integer")


def js_bool(value: Any) -> Any:
    """A boolean, or the strings ``"true"``/``"false"`` in any case.

    Raises:
        ValueError: anything else (``1``, ``"yes"``, ``" true"``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError('expected a boolean or "true"/"false"')


def optional(coerce: Any) -> Any:
    """``coerce`` for a field that may also be null or absent."""

    def run(value: Any) -> Any:
        return None if value is None else coerce(value)

    return run
