"""The public API: a sorted, complete ``__all__`` whose names all resolve."""

from __future__ import annotations

import subprocess
import sys

import thinkgate


def test_all_is_sorted_and_unique() -> None:
    assert list(thinkgate.__all__) == sorted(set(thinkgate.__all__))


def test_every_exported_name_resolves() -> None:
    for name in thinkgate.__all__:
        assert getattr(thinkgate, name) is not None


def test_unknown_attributes_raise_attribute_error() -> None:
    try:
        thinkgate.no_such_name  # noqa: B018
    except AttributeError:
        return
    raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_load_the_mcp_sdk() -> None:
    code = "import sys, thinkgate; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
