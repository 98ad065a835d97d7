"""The official server's coercion rules, called directly."""

from __future__ import annotations

from typing import Any

import pytest

from thinkgate.mcp.coerce import js_bool, js_int, optional


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (3.0, 3), ("3", 3), (" 3 ", 3), ("3.0", 3), ("1e1", 10), ("0x10", 16), ("0b11", 3), ("", 0), ("-2", -2)],
)
def test_integers_read_like_javascript_number(value: Any, expected: int) -> None:
    assert js_int(value) == expected


@pytest.mark.parametrize("value", [True, 1.5, "1.5", "abc", "1_0", "Infinity", "1e400", "-0x10", [3], None, {}])
def test_non_integers_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="expected an integer"):
        js_int(value)


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False)])
def test_booleans_and_their_strings_are_accepted(value: Any, expected: bool) -> None:
    assert js_bool(value) is expected


@pytest.mark.parametrize("value", [1, 0, "1", "yes", " true", None, "t"])
def test_other_boolean_spellings_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="boolean"):
        js_bool(value)


def test_optional_fields_pass_null_through() -> None:
    assert optional(js_int)(None) is None
    assert optional(js_bool)("true") is True
