"""The calc checker: exact arithmetic on an allow-list, refusing everything else within bounds."""

from __future__ import annotations

import contextlib
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkgate.evidence import CheckContext, check_calc
from thinkgate.evidence.calc import MAX_EXPRESSION_CHARS, CalcError, evaluate, format_value

CTX = CheckContext(roots=(), commands=frozenset())


async def calc(expression: object, expected: object) -> tuple[str, str]:
    result = await check_calc({"kind": "calc", "expression": expression, "expected": expected}, CTX)
    assert result.group == "calc"
    assert result.tier == (1 if result.check == "passed" else 3)
    return result.check, result.reason


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 2", 4),
        ("2 + 2", "4"),
        ("0.1 + 0.2", "0.3"),
        ("0.1 + 0.2", 0.3),
        ("1/3 + 1/6", "1/2"),
        ("1/3", "2/6"),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("-7 % 3", "2"),
        ("2 ** 10", 1024),
        ("2 ** -2", "0.25"),
        ("(1 + 2) * 3", 9),
        ("-3 + +5", 2),
        ("--3", 3),
        ("1.5e3", 1500),
        ("1_000 * 2", 2000),
        ("0x10", 16),
        ("10 / 4", 2.5),
    ],
)
async def test_a_right_value_passes(expression: str, expected: object) -> None:
    assert (await calc(expression, expected))[0] == "passed"


@pytest.mark.anyio
async def test_a_wrong_value_fails_and_says_both_values() -> None:
    check, reason = await calc("2 + 2", 5)
    assert check == "failed"
    assert reason == "expression gives 4, expected 5"


@pytest.mark.anyio
async def test_decimals_are_exact_not_binary_floats() -> None:
    assert (await calc("0.1 + 0.2 == 0.3", True))[0] == "passed"
    assert (await calc("0.1 + 0.2", "0.30000000000000004"))[0] == "failed"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 < 2 < 3", True),
        ("1 < 2 < 3", "true"),
        ("1 < 3 < 2", False),
        ("1 < 3 < 2", " False "),
        ("2 == 2.0 != 3", True),
        ("1 <= 1 >= 0", "TRUE"),
        ("1 > 2", "false"),
    ],
)
async def test_chained_comparisons_give_booleans(expression: str, expected: object) -> None:
    assert (await calc(expression, expected))[0] == "passed"


@pytest.mark.anyio
async def test_a_boolean_never_equals_a_number() -> None:
    check, reason = await calc("1 < 2", 1)
    assert check == "failed"
    assert "a boolean (true) but a number was expected" in reason
    assert (await calc("1", True))[0] == "failed"


@pytest.mark.anyio
@pytest.mark.parametrize("expression", ["1 / 0", "1 // 0", "1 % 0", "0 ** -1", "1 / (0.5 - 1/2)"])
async def test_division_by_zero_fails_with_a_reason(expression: str) -> None:
    check, reason = await calc(expression, 1)
    assert check == "failed"
    assert reason == "expression cannot be evaluated: division by zero"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "expression",
    [
        "2 ** 100000",
        "2 ** 10 ** 10",
        "9 ** 9 ** 9",
        "(10 ** 1000) ** 1000",
        "1e999999999",
        "7 ** 999 * 7 ** 999 * 7 ** 999 * 7 ** 999",
    ],
)
@pytest.mark.timeout(5)  # a bound against hanging, not a benchmark: refused before computing
async def test_huge_powers_are_refused_quickly(expression: str) -> None:
    check, reason = await calc(expression, 1)
    assert check == "failed"
    assert "larger than" in reason


@pytest.mark.anyio
async def test_a_too_long_expression_is_refused() -> None:
    check, reason = await calc("1+" * MAX_EXPRESSION_CHARS + "1", 1)
    assert check == "failed"
    assert f"longer than {MAX_EXPRESSION_CHARS} characters" in reason


@pytest.mark.anyio
@pytest.mark.parametrize("expression", ["-" * 900 + "1", "+".join(["1"] * 400), "(" * 300 + "1" + ")" * 300])
async def test_expressions_too_big_or_deep_are_refused_without_raising(expression: str) -> None:
    assert (await calc(expression, 1))[0] == "failed"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os')", "calls are not allowed"),
        ("a + 1", "names are not allowed"),
        ("(1).__class__", "attribute access is not allowed"),
        ("[1][0]", "subscripts are not allowed"),
        ("'a' * 3", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("1j * 1j", "only numbers are allowed"),
        ("lambda: 1", "lambdas are not allowed"),
        ("1 if 1 else 2", "IfExp is not allowed"),
        ("1 << 2", "operator LShift is not allowed"),
        ("1 & 2", "operator BitAnd is not allowed"),
        ("~1", "UnaryOp is not allowed"),
        ("not 1", "UnaryOp is not allowed"),
        ("1 in 2", "comparison In is not allowed"),
        ("1 is 1", "comparison Is is not allowed"),
        ("(1 < 2) + 1", "a comparison's result cannot be used as a number"),
        ("(1 < 2) < 3", "a comparison's result cannot be used as a number"),
        ("2 ** 0.5", "an exponent must be an integer"),
        ("x := 1", "not valid arithmetic"),
        ("1; 2", "not valid arithmetic"),
        ("import os", "not valid arithmetic"),
    ],
)
async def test_anything_outside_the_allow_list_is_refused(expression: str, why: str) -> None:
    check, reason = await calc(expression, 1)
    assert check == "failed"
    assert why in reason


@pytest.mark.anyio
@pytest.mark.parametrize("expected", [None, [], {}, float("nan"), float("inf"), "abc", "1 +", 2**10_001])
async def test_an_unreadable_expected_value_fails_as_malformed(expected: object) -> None:
    check, reason = await calc("1", expected)
    assert check == "failed"
    assert reason.startswith("malformed evidence: 'expected'")


@pytest.mark.anyio
@pytest.mark.parametrize("expression", [None, 3, "", "  ", ["1"]])
async def test_a_missing_or_mistyped_expression_fails_as_malformed(expression: object) -> None:
    check, reason = await calc(expression, 1)
    assert check == "failed"
    assert reason.startswith("malformed evidence: 'expression'")


@pytest.mark.anyio
async def test_the_computed_and_expected_values_are_in_the_details() -> None:
    result = await check_calc({"expression": "1/8 + 1/3", "expected": "11/24"}, CTX)
    assert result.details == {"value": "11/24", "expected": "11/24"}
    result = await check_calc({"expression": "-1/8", "expected": "-0.125"}, CTX)
    assert result.details == {"value": "-0.125", "expected": "-0.125"}


def test_values_format_as_integers_exact_decimals_or_fractions() -> None:
    assert format_value(Fraction(3)) == "3"
    assert format_value(Fraction(-1, 20)) == "-0.05"
    assert format_value(Fraction(1, 3)) == "1/3"
    assert format_value(True) == "true"


small = st.integers(min_value=-(10**6), max_value=10**6)


@settings(max_examples=200, deadline=None)
@given(small, small, small)
def test_integer_arithmetic_agrees_with_python(a: int, b: int, c: int) -> None:
    assert evaluate(f"{a} + {b} * {c}") == a + b * c
    assert evaluate(f"({a} - {b}) < {c}") is ((a - b) < c)
    if b:
        assert evaluate(f"{a} // {b}") == a // b
        assert evaluate(f"{a} % {b}") == a % b
        assert evaluate(f"{a} / {b}") == Fraction(a, b)


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**6), max_value=10**6))
def test_a_decimal_literal_is_its_exact_value_and_prints_back(value: object) -> None:
    text = format(value, "f")
    result = evaluate(text)
    assert result == Fraction(text)
    assert not isinstance(result, bool)
    assert evaluate(format_value(result)) == result


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_either_evaluates_or_raises_calc_error(text: str) -> None:
    with contextlib.suppress(CalcError):
        evaluate(text)
