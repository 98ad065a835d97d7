"""The calc checker: exact arithmetic on an allow-list of ``ast`` nodes, never ``eval``.

Numbers are ``fractions.Fraction``: ``0.1`` is exactly 1/10, so ``0.1 + 0.2 == 0.3`` holds.
Allowed: integer and decimal literals, ``+ - * / // % **``, unary ``-``/``+``, parentheses and
comparisons (``== != < <= > >=``, chained) giving a boolean. Everything else (names, calls,
attributes, strings, subscripts, ...) is refused. Every size is bounded so a hostile expression
cannot hang or exhaust memory: its length, its node count and depth, the exponent of ``**`` and
of a literal, and the bit size of every intermediate value.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from thinkgate.evidence.base import (
    PASSED,
    CheckContext,
    CheckResult,
    MalformedEvidence,
    failed,
    malformed,
    require_str,
)

__all__ = [
    "GROUP",
    "MAX_BITS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_EXPRESSION_CHARS",
    "MAX_NODES",
    "CalcError",
    "check_calc",
    "evaluate",
    "format_value",
    "parse_expected",
]

GROUP = "calc"
MAX_EXPRESSION_CHARS = 1000
MAX_NODES = 500  # ast nodes, operators included
MAX_DEPTH = 100
MAX_EXPONENT = 1000  # |n| of ``x ** n`` and of a literal's ``eN``
MAX_BITS = 10_000  # of every numerator and denominator along the way
FLOAT_DIGITS = 15  # significant digits a double always carries exactly from decimal text
_MAX_DECIMAL_PLACES = 50  # longer exact decimals are shown as p/q

_LITERAL_EXPONENT = re.compile(r"[eE]([+-]?[0-9_]+)$")

Value = Fraction | bool

_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: lambda a, b: Fraction(a // b),
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Fraction, Fraction], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_REFUSED = {
    ast.Name: "names are not allowed",
    ast.Call: "calls are not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
}


class CalcError(ValueError):
    """The expression is refused or cannot be evaluated; the message says why."""


def evaluate(expression: str) -> Value:
    """The exact value of ``expression``: a Fraction, or a bool for a comparison.

    Raises:
        CalcError: the expression is too long or too large, uses anything outside the
            allow-list, divides by zero or is not valid syntax.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalcError("expression is not valid arithmetic") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression has more than {MAX_NODES} parts")
    try:
        return _Evaluator(expression.strip()).eval(tree.body, 0)
    except ZeroDivisionError as exc:
        raise CalcError("division by zero") from exc


class _Evaluator:
    """Walks one parsed expression; ``source`` gives literals back their exact decimal text."""

    def __init__(self, source: str) -> None:
        self.source = source

    def eval(self, node: ast.expr, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise CalcError(f"expression is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = _number(self.eval(node.operand, depth + 1))
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left = _number(self.eval(node.left, depth + 1))
            right = _number(self.eval(node.right, depth + 1))
            if isinstance(node.op, ast.Pow):
                return _power(left, right)
            op = _BINARY.get(type(node.op))
            if op is None:
                raise CalcError(f"operator {type(node.op).__name__} is not allowed")
            return _bounded(op(left, right))
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        raise CalcError(_REFUSED.get(type(node), f"{type(node).__name__} is not allowed"))

    def compare(self, node: ast.Compare, depth: int) -> bool:
        left = _number(self.eval(node.left, depth + 1))
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            op = _COMPARE.get(type(op_node))
            if op is None:
                raise CalcError(f"comparison {type(op_node).__name__} is not allowed")
            right = _number(self.eval(right_node, depth + 1))
            if not op(left, right):
                return False
            left = right
        return True

    def constant(self, node: ast.Constant) -> Fraction:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalcError("only numbers are allowed as literals")
        if isinstance(value, int):
            return _bounded(Fraction(value))
        # A float literal: take its source text, so 0.1 is exactly 1/10 and not the binary double.
        text = (ast.get_source_segment(self.source, node) or "").replace("_", "")
        exponent = _LITERAL_EXPONENT.search(text)
        if exponent is not None and abs(int(exponent.group(1))) > MAX_EXPONENT:
            raise CalcError(f"a literal's exponent is larger than {MAX_EXPONENT}")
        try:
            return _bounded(Fraction(text))
        except ValueError as exc:
            raise CalcError("a number literal cannot be read exactly") from exc


def _number(value: Value) -> Fraction:
    if isinstance(value, bool):
        raise CalcError("a comparison's result cannot be used as a number")
    return value


def _bounded(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise CalcError(f"a value is larger than {MAX_BITS} bits")
    return value


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise CalcError("an exponent must be an integer")
    n = exponent.numerator
    if abs(n) > MAX_EXPONENT:
        raise CalcError(f"an exponent is larger than {MAX_EXPONENT}")
    if base == 0 and n < 0:
        raise ZeroDivisionError
    # Refuse before computing: the result has at most bits * |n| bits.
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if bits * abs(n) > MAX_BITS:
        raise CalcError(f"a value is larger than {MAX_BITS} bits")
    return _bounded(base**n)


def parse_expected(value: object) -> Value:
    """The expected value of a calc item: a number, a numeric string or expression, or a boolean.

    Raises:
        MalformedEvidence: the value is missing, of another type, not finite or not readable.
    """
    if value is None:
        raise MalformedEvidence("'expected' is required")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise MalformedEvidence(f"'expected' is larger than {MAX_BITS} bits")
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedEvidence("'expected' must be a finite number")
        shortest = repr(value)
        digits = shortest.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
        if abs(value) >= 2**53 or len(digits) > FLOAT_DIGITS:
            # JSON numbers reach us as doubles: this one may not be what the caller wrote
            # (9007199254740993.0 arrives as ...992). Exact values travel as strings.
            raise MalformedEvidence(
                f"'expected' {shortest} is beyond what a JSON number carries exactly; give it as a string"
            )
        return Fraction(shortest)  # the shortest decimal: 0.3 means 3/10
    if isinstance(value, str):
        if value.strip().casefold() in ("true", "false"):
            return value.strip().casefold() == "true"
        try:
            return evaluate(value)
        except CalcError as exc:
            raise MalformedEvidence(f"'expected' is not a number or a boolean ({exc})") from exc
    raise MalformedEvidence("'expected' must be a number, a string or a boolean")


def format_value(value: Value) -> str:
    """``value`` as text: ``true``/``false``, an integer, an exact decimal, or ``p/q``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value.denominator == 1:
        return str(value.numerator)
    places = _decimal_places(value.denominator)
    if places is None:
        return f"{value.numerator}/{value.denominator}"
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _decimal_places(denominator: int) -> int | None:
    """Places of the exact decimal for this denominator, or None when it has none (or too many)."""
    twos = (denominator & -denominator).bit_length() - 1
    rest = denominator >> twos
    fives = 0
    while rest % 5 == 0 and fives <= _MAX_DECIMAL_PLACES:
        rest //= 5
        fives += 1
    places = max(twos, fives)
    return places if rest == 1 and places <= _MAX_DECIMAL_PLACES else None


async def check_calc(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """Check that ``expression`` evaluates exactly to ``expected``."""
    del ctx  # arithmetic needs no roots or programs
    try:
        expression = require_str(item, "expression", max_len=4 * MAX_EXPRESSION_CHARS)
        expected = parse_expected(item.get("expected"))
    except MalformedEvidence as exc:
        return malformed(exc, GROUP)
    try:
        value = evaluate(expression)
    except CalcError as exc:
        return failed(f"expression cannot be evaluated: {exc}", GROUP, {"expected": format_value(expected)})
    details: dict[str, Any] = {"value": format_value(value), "expected": format_value(expected)}
    if isinstance(value, bool) != isinstance(expected, bool):
        kinds = ("a boolean", "a number") if isinstance(value, bool) else ("a number", "a boolean")
        return failed(f"expression gives {kinds[0]} ({details['value']}) but {kinds[1]} was expected", GROUP, details)
    if value != expected:
        return failed(f"expression gives {details['value']}, expected {details['expected']}", GROUP, details)
    return CheckResult(PASSED, f"expression gives {details['value']} as expected", 1, GROUP, details)
