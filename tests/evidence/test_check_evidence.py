"""``check_evidence``: dispatch on kind, stance required, malformed input of any shape never raises."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import thinkgate.evidence
from thinkgate.evidence import CheckContext, CheckResult, check_evidence
from thinkgate.evidence.check import CHECKERS

KINDS = sorted(CHECKERS)


def valid(result: CheckResult) -> None:
    """The invariants every result keeps."""
    assert result.check in ("passed", "failed", "not_checked")
    assert isinstance(result.reason, str)
    assert result.reason.strip()
    assert result.tier in (1, 2, 3)
    if result.check != "passed":
        assert result.tier >= 2
    assert isinstance(result.group, str)
    assert result.group
    json.dumps(result.details)
    assert result.error is (result.reason.startswith("checker error:"))


@pytest.fixture(scope="module")
def module_ctx(tmp_path_factory: pytest.TempPathFactory) -> CheckContext:
    root = tmp_path_factory.mktemp("evidence-root").resolve()
    (root / "notes.txt").write_text("alpha\nbeta\n")
    return CheckContext(roots=(root,), commands=frozenset({"true", "false"}), command_timeout=5)


@pytest.mark.anyio
async def test_each_kind_goes_to_its_checker(module_ctx: CheckContext) -> None:
    items: list[dict[str, Any]] = [
        {"kind": "file", "path": "notes.txt", "lines": "2", "quote": "beta"},
        {"kind": "calc", "expression": "6 * 7", "expected": 42},
        {"kind": "command", "argv": ["true"]},
        {"kind": "url", "url": "https://example.org/", "tier": 1},
        {"kind": "text", "text": "someone said", "source": "Slack"},
    ]
    results = [await check_evidence({**item, "stance": "supports"}, module_ctx) for item in items]
    assert [r.check for r in results] == ["passed", "passed", "passed", "not_checked", "not_checked"]
    assert [r.tier for r in results] == [1, 1, 1, 2, 3]
    assert [r.group for r in results][1:] == ["calc", "command:true", "domain:example.org", "source:slack"]


@pytest.mark.anyio
@pytest.mark.parametrize("stance", ["supports", "refutes"])
async def test_both_stances_are_checked_alike(module_ctx: CheckContext, stance: str) -> None:
    result = await check_evidence({"kind": "calc", "stance": stance, "expression": "1", "expected": 1}, module_ctx)
    assert result.check == "passed"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (None, "must be an object"),
        ([], "must be an object"),
        ("calc", "must be an object"),
        ({}, "'kind' must be one of calc, command, file, text, url"),
        ({"kind": "FILE", "stance": "supports"}, "'kind' must be one of"),
        ({"kind": ["file"], "stance": "supports"}, "'kind' must be one of"),
        ({"kind": "calc", "expression": "1", "expected": 1}, "'stance' must be supports or refutes"),
        ({"kind": "calc", "stance": "agrees", "expression": "1", "expected": 1}, "'stance'"),
        ({"kind": "calc", "stance": "supports"}, "'expression' is required"),
    ],
)
async def test_malformed_items_fail_with_a_clear_reason(module_ctx: CheckContext, item: object, reason: str) -> None:
    result = await check_evidence(item, module_ctx)  # type: ignore[arg-type]
    valid(result)
    assert (result.check, result.error) == ("failed", False)
    assert result.reason.startswith("malformed evidence:")
    assert reason in result.reason


class ExplodingItem(Mapping[str, Any]):
    """An item whose fields raise when read: a checker's failure must not escape."""

    def __getitem__(self, key: str) -> Any:
        if key in ("kind", "stance"):
            return {"kind": "calc", "stance": "supports"}[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in ("kind", "stance"):
            return self[key]
        raise RuntimeError("boom")

    def __iter__(self) -> Any:
        return iter(("kind", "stance"))

    def __len__(self) -> int:
        return 2


@pytest.mark.anyio
async def test_an_exception_inside_a_checker_fails_closed(module_ctx: CheckContext) -> None:
    result = await check_evidence(ExplodingItem(), module_ctx)
    assert result == CheckResult("failed", "checker error: RuntimeError", 3, "unknown", {}, error=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["path", "lines", "quote", "expression", "expected", "argv", "expectExitCode", "cwd"])
field_names |= st.sampled_from(["url", "tier", "text", "source"]) | st.text(max_size=8)
field_values = json_values | st.sampled_from(["notes.txt", "1-2", "1", "0", "5-3", "beta", "1/0", "2**9999", "../x"])
field_values |= st.sampled_from([["true"], ["false"], ["/bin/true"], ["sleep", "9"], "https://a.example", "/"])
items = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(KINDS) | json_values,
        "stance": st.sampled_from(["supports", "refutes"]) | json_values,
    },
).flatmap(lambda base: st.dictionaries(field_names, field_values, max_size=6).map(lambda extra: {**extra, **base}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(items, json_values))
def test_no_item_of_any_shape_makes_check_evidence_raise(module_ctx: CheckContext, item: Any) -> None:
    result = anyio.run(check_evidence, item, module_ctx)
    valid(result)
    assert result.error is False


def test_the_public_api_is_sorted_and_complete() -> None:
    names = thinkgate.evidence.__all__
    assert list(names) == sorted(set(names))
    for name in names:
        assert getattr(thinkgate.evidence, name) is not None
    public = {name for name in vars(thinkgate.evidence) if not name.startswith("_")}
    modules = {"base", "calc", "check", "commands", "files", "origin", "roots", "annotations"}
    assert public - modules == set(names)


def test_importing_the_package_does_not_load_the_public_suffix_list(tmp_path: Path) -> None:
    code = "import sys, thinkgate.evidence; print('publicsuffixlist' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"
