"""The file checker: the quoted text is really in those lines of a file under an allowed root.

The path is resolved (symlinks too) before the root check, so ``..``, absolute paths and
symlinks pointing out of the roots are refused. The file is opened without following a final
symlink and, where ``/proc`` exists, the opened descriptor must still be the resolved path, so
a swap between the check and the read is caught. Binary, non-UTF-8 and oversized files fail.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import anyio.to_thread

from thinkgate.evidence.base import (
    FAILED,
    PASSED,
    CheckContext,
    CheckResult,
    MalformedEvidence,
    failed,
    malformed,
    not_checked,
    require_str,
)
from thinkgate.evidence.origin import file_group
from thinkgate.evidence.roots import resolve_inside

__all__ = ["MAX_PATH_CHARS", "MAX_QUOTE_CHARS", "LineRange", "check_file", "normalise", "parse_lines"]

MAX_PATH_CHARS = 4096
MAX_QUOTE_CHARS = 100_000
UNKNOWN_GROUP = "root:unknown"

_LINES = re.compile(r"\s*([0-9]{1,9})\s*(?:-\s*([0-9]{1,9})\s*)?")


class LineRange(NamedTuple):
    """Lines ``first`` to ``last``, both included, counted from 1."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


class _FileError(Exception):
    """The file cannot be read as text; the message is the reason."""


def parse_lines(value: object) -> LineRange:
    """The line range of ``"12"``, ``"12-18"`` or ``12``.

    Raises:
        MalformedEvidence: missing, of another type, not a range, 0, or ending before it starts.
    """
    if value is None:
        raise MalformedEvidence("'lines' is required")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedEvidence('\'lines\' must be a string such as "12" or "12-18"')
    match = _LINES.fullmatch(value)
    if match is None:
        raise MalformedEvidence('\'lines\' must look like "12" or "12-18"')
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1:
        raise MalformedEvidence("'lines' count from 1")
    if last < first:
        raise MalformedEvidence("'lines' ends before it starts")
    return LineRange(first, last)


def normalise(text: str) -> str:
    """``text`` with every run of whitespace (line breaks too) made one space, stripped."""
    return " ".join(text.split())


async def check_file(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """Check that ``quote`` appears in ``lines`` of the file at ``path`` under an allowed root."""
    try:
        raw_path = require_str(item, "path", max_len=MAX_PATH_CHARS)
        lines = parse_lines(item.get("lines"))
        quote = normalise(require_str(item, "quote", max_len=MAX_QUOTE_CHARS))
    except MalformedEvidence as exc:
        return malformed(exc, UNKNOWN_GROUP)
    if not ctx.roots:
        return not_checked("no evidence roots are configured, so files cannot be read", UNKNOWN_GROUP)
    # Resolving, grouping and reading all touch the file system: off the event loop.
    return await anyio.to_thread.run_sync(_check, raw_path, lines, quote, ctx)


def _check(raw_path: str, lines: LineRange, quote: str, ctx: CheckContext) -> CheckResult:
    located = resolve_inside(ctx.roots, raw_path)
    if located is None:
        return not_checked(f"{raw_path} is outside the allowed roots", UNKNOWN_GROUP)
    path, root = located
    group = file_group(path, root)
    details: dict[str, Any] = {"resolvedPath": str(path), "lines": str(lines)}
    try:
        data = _read(path, ctx.max_file_bytes)
    except _FileError as exc:
        return failed(f"{raw_path}: {exc}", group, details)
    details["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        text = _text(data)
    except _FileError as exc:
        return failed(f"{raw_path}: {exc}", group, details)
    file_lines = _split_lines(text)
    if lines.last > len(file_lines):
        return failed(f"{raw_path} has {len(file_lines)} lines, not {lines.last}", group, details)
    quoted = "\n".join(file_lines[lines.first - 1 : lines.last])
    details["linesSha256"] = hashlib.sha256(quoted.encode("utf-8")).hexdigest()
    if quote not in normalise(quoted):
        return CheckResult(FAILED, f"the quote is not in lines {lines} of {raw_path}", 3, group, details)
    return CheckResult(PASSED, f"the quote is in lines {lines} of {raw_path}", 1, group, details)


def _read(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (at most ``limit``), opened without following a final symlink."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise _FileError("file not found") from exc
    except OSError as exc:
        raise _FileError("file cannot be opened") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _FileError("not a regular file")
        _same_file(fd, path)
        if info.st_size > limit:
            raise _FileError(f"file is larger than {limit} bytes")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise _FileError("file cannot be read") from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _FileError(f"file is larger than {limit} bytes")
    return data


def _same_file(fd: int, path: Path) -> None:
    """Refuse when the opened descriptor is no longer ``path`` (a directory swapped for a symlink)."""
    link = f"/proc/self/fd/{fd}"
    if not os.path.exists("/proc/self/fd"):
        return
    try:
        opened = os.readlink(link)
    except OSError:
        return
    if opened != str(path):
        raise _FileError("file changed while it was being opened")


def _text(data: bytes) -> str:
    if b"\x00" in data:
        raise _FileError("file is binary")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _FileError("file is not valid UTF-8") from exc


# Line breaks editors disagree on (a lone CR, NEL, LS, PS): line numbers would be ambiguous.
_AMBIGUOUS_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")


def _split_lines(text: str) -> list[str]:
    """Lines as editors number them: split on ``\\n`` only, a final newline ends the last line.

    Raises:
        _FileError: the file has line breaks other than LF and CRLF (its line numbers are ambiguous).
    """
    if _AMBIGUOUS_BREAK.search(text):
        raise _FileError("the file has line breaks other than LF and CRLF, so its line numbers are ambiguous")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
