"""The file checker against real files: quotes, lines, roots, symlinks, encodings and groups."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from thinkgate.evidence import CheckContext, check_file
from thinkgate.evidence.files import normalise, parse_lines

pytestmark = pytest.mark.anyio

SOURCE = "def add(a, b):\n    # the sum\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def item(path: str, lines: object, quote: str) -> dict[str, object]:
    return {"kind": "file", "stance": "supports", "path": path, "lines": lines, "quote": quote}


@pytest.fixture
def source(root: Path) -> Path:
    path = root / "calc.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


async def test_a_quote_in_the_given_lines_passes_at_tier_one(source: Path, ctx: CheckContext) -> None:
    result = await check_file(item("calc.py", "1-3", "return a + b"), ctx)
    assert (result.check, result.tier, result.error) == ("passed", 1, False)
    assert result.details["resolvedPath"] == str(source)
    assert result.details["lines"] == "1-3"


async def test_a_single_line_number_is_a_range_of_one(source: Path, ctx: CheckContext) -> None:
    assert (await check_file(item("calc.py", "3", "return a + b"), ctx)).check == "passed"
    assert (await check_file(item("calc.py", 3, "return a + b"), ctx)).check == "passed"
    assert (await check_file(item("calc.py", "2", "return a + b"), ctx)).check == "failed"


async def test_a_quote_not_in_the_lines_fails_at_tier_three(source: Path, ctx: CheckContext) -> None:
    result = await check_file(item("calc.py", "1-3", "return a - b"), ctx)
    assert (result.check, result.tier) == ("failed", 3)
    assert "quote is not in lines 1-3" in result.reason


async def test_a_quote_elsewhere_in_the_file_fails(source: Path, ctx: CheckContext) -> None:
    result = await check_file(item("calc.py", "1-3", "return a - b"), ctx)
    assert result.check == "failed"
    assert (await check_file(item("calc.py", "6-7", "return a - b"), ctx)).check == "passed"


async def test_whitespace_is_normalised_across_lines_in_quote_and_file(source: Path, ctx: CheckContext) -> None:
    quote = "  def   add(a, b):\n\t# the\n   sum   "
    assert (await check_file(item("calc.py", "1-2", quote), ctx)).check == "passed"


async def test_an_absolute_path_inside_the_root_passes(source: Path, ctx: CheckContext) -> None:
    assert (await check_file(item(str(source), "3", "a + b"), ctx)).check == "passed"


async def test_lines_beyond_the_end_of_the_file_fail(source: Path, ctx: CheckContext) -> None:
    result = await check_file(item("calc.py", "6-8", "return a - b"), ctx)
    assert result.check == "failed"
    assert "has 7 lines, not 8" in result.reason


@pytest.mark.parametrize("lines", ["0", "5-3", "x", "", "1-", "-3", "1,2", 0, -1, True, None, 1.5, ["1"]])
async def test_a_bad_line_spec_fails_as_malformed(source: Path, ctx: CheckContext, lines: object) -> None:
    result = await check_file(item("calc.py", lines, "def"), ctx)
    assert result.check == "failed"
    assert result.reason.startswith("malformed evidence: 'lines'")


async def test_dot_dot_out_of_the_root_is_not_checked(root: Path, ctx: CheckContext) -> None:
    outside = root.parent / "secret.txt"
    outside.write_text("password\n")
    result = await check_file(item("../secret.txt", "1", "password"), ctx)
    assert (result.check, result.tier) == ("not_checked", 3)
    assert "outside the allowed roots" in result.reason
    assert "sha256" not in result.details


async def test_an_absolute_path_outside_the_roots_is_not_checked(root: Path, ctx: CheckContext) -> None:
    outside = root.parent / "elsewhere.txt"
    outside.write_text("hello\n")
    assert (await check_file(item(str(outside), "1", "hello"), ctx)).check == "not_checked"


async def test_a_symlink_inside_a_root_pointing_outside_is_not_checked(root: Path, ctx: CheckContext) -> None:
    outside = root.parent / "target.txt"
    outside.write_text("hello\n")
    (root / "link.txt").symlink_to(outside)
    result = await check_file(item("link.txt", "1", "hello"), ctx)
    assert result.check == "not_checked"
    assert "sha256" not in result.details


async def test_a_symlinked_directory_pointing_outside_is_not_checked(root: Path, ctx: CheckContext) -> None:
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "f.txt").write_text("hello\n")
    (root / "sub").symlink_to(elsewhere, target_is_directory=True)
    assert (await check_file(item("sub/f.txt", "1", "hello"), ctx)).check == "not_checked"


async def test_a_symlink_within_the_root_is_followed(root: Path, source: Path, ctx: CheckContext) -> None:
    (root / "alias.py").symlink_to(source)
    result = await check_file(item("alias.py", "3", "a + b"), ctx)
    assert result.check == "passed"
    assert result.details["resolvedPath"] == str(source)


async def test_a_root_given_through_a_symlink_still_admits_its_files(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "f.txt").write_text("hello world\n")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    ctx = CheckContext(roots=(link,), commands=frozenset())
    assert (await check_file(item("f.txt", "1", "hello"), ctx)).check == "passed"
    assert (await check_file(item(str(link / "f.txt"), "1", "hello"), ctx)).check == "passed"


async def test_relative_paths_are_relative_to_the_first_root(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "only_here.txt").write_text("x\n")
    ctx = CheckContext(roots=(first.resolve(), second.resolve()), commands=frozenset())
    assert (await check_file(item("only_here.txt", "1", "x"), ctx)).check == "failed"
    assert (await check_file(item(str(second / "only_here.txt"), "1", "x"), ctx)).check == "passed"


async def test_without_roots_no_file_is_checked(source: Path) -> None:
    ctx = CheckContext(roots=(), commands=frozenset())
    result = await check_file(item(str(source), "3", "a + b"), ctx)
    assert result.check == "not_checked"
    assert "no evidence roots" in result.reason


async def test_a_binary_file_fails(root: Path, ctx: CheckContext) -> None:
    (root / "blob.bin").write_bytes(b"hello\x00world\n")
    result = await check_file(item("blob.bin", "1", "hello"), ctx)
    assert result.check == "failed"
    assert "binary" in result.reason


async def test_a_file_that_is_not_utf8_fails(root: Path, ctx: CheckContext) -> None:
    (root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    result = await check_file(item("latin1.txt", "1", "caf"), ctx)
    assert result.check == "failed"
    assert "not valid UTF-8" in result.reason


async def test_a_file_larger_than_the_limit_fails(root: Path) -> None:
    (root / "big.txt").write_text("x" * 2000 + "\n")
    ctx = CheckContext(roots=(root,), commands=frozenset(), max_file_bytes=1000)
    result = await check_file(item("big.txt", "1", "x"), ctx)
    assert result.check == "failed"
    assert "larger than 1000 bytes" in result.reason


async def test_a_missing_file_fails(ctx: CheckContext) -> None:
    result = await check_file(item("nope.py", "1", "x"), ctx)
    assert result.check == "failed"
    assert "file not found" in result.reason


async def test_a_directory_is_not_a_regular_file(root: Path, ctx: CheckContext) -> None:
    (root / "dir").mkdir()
    result = await check_file(item("dir", "1", "x"), ctx)
    assert result.check == "failed"
    assert "not a regular file" in result.reason


async def test_a_fifo_fails_without_blocking(root: Path, ctx: CheckContext) -> None:
    os.mkfifo(root / "pipe")
    result = await check_file(item("pipe", "1", "x"), ctx)
    assert result.check == "failed"
    assert "not a regular file" in result.reason


async def test_the_file_and_quoted_lines_hashes_are_recorded(source: Path, ctx: CheckContext) -> None:
    result = await check_file(item("calc.py", "2-3", "the sum"), ctx)
    assert result.details["sha256"] == hashlib.sha256(SOURCE.encode()).hexdigest()
    quoted = "    # the sum\n    return a + b"
    assert result.details["linesSha256"] == hashlib.sha256(quoted.encode()).hexdigest()


async def test_crlf_line_endings_number_lines_like_an_editor(root: Path, ctx: CheckContext) -> None:
    (root / "dos.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    assert (await check_file(item("dos.txt", "2", "two"), ctx)).check == "passed"
    assert (await check_file(item("dos.txt", "4", "three"), ctx)).check == "failed"


async def test_a_file_inside_a_git_checkout_is_grouped_by_the_repository(root: Path, ctx: CheckContext) -> None:
    repo = root / "project"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    (repo / "src" / "m.py").write_text("x = 1\n")
    result = await check_file(item("project/src/m.py", "1", "x = 1"), ctx)
    assert result.check == "passed"
    assert result.group == f"repo:{repo}"


async def test_nested_git_directories_do_not_split_one_checkout(root: Path, ctx: CheckContext) -> None:
    (root / ".git").mkdir()
    (root / "vendored" / ".git").mkdir(parents=True)
    (root / "vendored" / "v.py").write_text("y = 2\n")
    result = await check_file(item("vendored/v.py", "1", "y = 2"), ctx)
    assert result.group == f"repo:{root}"


async def test_a_git_directory_above_the_root_is_not_used(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    root = tmp_path / "inner"
    root.mkdir()
    (root / "f.txt").write_text("z\n")
    ctx = CheckContext(roots=(root.resolve(),), commands=frozenset())
    assert (await check_file(item("f.txt", "1", "z"), ctx)).group == f"root:{root.resolve()}"


async def test_a_file_outside_any_checkout_is_grouped_by_its_root(source: Path, root: Path, ctx: CheckContext) -> None:
    assert (await check_file(item("calc.py", "1", "def add"), ctx)).group == f"root:{root}"


@pytest.mark.parametrize(
    ("field", "value"),
    [("path", None), ("path", 3), ("path", ""), ("path", "a\x00b"), ("quote", None), ("quote", "   "), ("quote", 1)],
)
async def test_missing_or_mistyped_fields_fail_as_malformed(
    source: Path, ctx: CheckContext, field: str, value: object
) -> None:
    evidence = item("calc.py", "1", "def")
    evidence[field] = value
    result = await check_file(evidence, ctx)
    assert result.check == "failed"
    assert result.reason.startswith(f"malformed evidence: '{field}'")


def test_line_specs_parse_to_inclusive_ranges() -> None:
    assert parse_lines("12") == (12, 12)
    assert parse_lines(" 12 - 18 ") == (12, 18)
    assert str(parse_lines("4-4")) == "4"


def test_normalising_collapses_every_whitespace_run() -> None:
    assert normalise("  a \t\n b\u00a0 c  ") == "a b c"
