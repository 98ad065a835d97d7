"""The command checker: an allow-listed program exits with the expected code.

Only a bare program name on the allow-list runs (a path never does), found with ``shutil.which``
on the server's ``PATH`` with relative entries removed (so a file in the checked tree cannot
shadow a program). It runs without a shell, in its own process group, with ``stdin`` from
``/dev/null``, a working directory inside an allowed root and an environment of ``PATH``,
``LANG`` and ``HOME`` (a new empty directory) only. On timeout the whole group is killed. Output (stdout then stderr,
interleaved) is kept up to ``max_output`` bytes; the sha256 of all of it is recorded. At most
``MAX_CONCURRENT`` commands run at once per event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import anyio.abc

from thinkgate.evidence.base import (
    FAILED,
    PASSED,
    CheckContext,
    CheckResult,
    MalformedEvidence,
    failed,
    malformed,
    not_checked,
    optional_int,
    require_str,
)
from thinkgate.evidence.origin import command_group
from thinkgate.evidence.roots import resolve_inside

__all__ = ["MAX_ARGS", "MAX_ARG_CHARS", "MAX_CONCURRENT", "check_command", "scrubbed_env"]

MAX_CONCURRENT = 4
_PR_SET_DUMPABLE = 4  # linux/prctl.h
MAX_ARGS = 256
MAX_ARG_CHARS = 8192
UNKNOWN_GROUP = "command:unknown"
_READ_CHUNK = 65_536

_SEMAPHORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.Semaphore] = weakref.WeakKeyDictionary()


class _Command(NamedTuple):
    argv: tuple[str, ...]
    expect: int
    cwd: str | None


class _Run(NamedTuple):
    exit_code: int | None  # None: timed out
    output: bytes
    total: int
    sha256: str


def _parse(item: Mapping[str, Any]) -> _Command:
    argv = item.get("argv")
    if argv is None:
        raise MalformedEvidence("'argv' is required")
    if not isinstance(argv, list | tuple) or not argv:
        raise MalformedEvidence("'argv' must be a non-empty list of strings")
    if len(argv) > MAX_ARGS:
        raise MalformedEvidence(f"'argv' has more than {MAX_ARGS} items")
    for arg in argv:
        if not isinstance(arg, str):
            raise MalformedEvidence("'argv' must be a non-empty list of strings")
        if len(arg) > MAX_ARG_CHARS or "\x00" in arg:
            raise MalformedEvidence(f"an argument is longer than {MAX_ARG_CHARS} characters or contains NUL")
    expect = optional_int(item, "expectExitCode", 0, low=-255, high=255)
    cwd = None if item.get("cwd") is None else require_str(item, "cwd", max_len=4096)
    return _Command(tuple(argv), expect, cwd)


def _search_path() -> str:
    """The server's ``PATH`` (or ``os.defpath``) with empty and relative entries dropped."""
    entries = (os.environ.get("PATH") or os.defpath).split(os.pathsep)
    return os.pathsep.join(entry for entry in entries if entry and os.path.isabs(entry))


_hidden: list[bool] = []  # set once the server's /proc entries were made unreadable to its commands


def hide_server_environment() -> bool:
    """Make this process's ``/proc`` entries (``environ``, ``mem``, …) unreadable to the programs it runs.

    A scrubbed environment keeps the server's variables out of a command's own environment, but a
    program running as the same user could still read ``/proc/<server pid>/environ``. Marking the
    server non-dumpable (Linux ``prctl(PR_SET_DUMPABLE, 0)``) gives those entries to root. Side
    effects: no core dumps of the server and no same-user ptrace (debuggers). Returns whether the
    server is protected (False where there is no ``prctl``).
    """
    if _hidden:
        return _hidden[0]
    done = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            done = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
        except (OSError, AttributeError):
            done = False
    _hidden.append(done)
    return done


def scrubbed_env(home: Path) -> dict[str, str]:
    """The whole environment of a checked command: nothing from the server but a cleaned ``PATH``.

    ``home`` is a new empty directory: a ``HOME`` inside the checked tree would let its dotfiles
    (``.gitconfig`` hooks, ``.npmrc``, ``.local`` site-packages) steer an allow-listed program.
    """
    return {"PATH": _search_path(), "LANG": "C.UTF-8", "HOME": str(home)}


def _is_bare(program: str) -> bool:
    separators = {"/", os.sep, os.altsep or "/"}
    return bool(program) and program not in (".", "..") and not any(s in program for s in separators)


async def check_command(item: Mapping[str, Any], ctx: CheckContext) -> CheckResult:
    """Run ``argv`` (its program allow-listed) and check its exit code is ``expectExitCode``."""
    try:
        command = _parse(item)
    except MalformedEvidence as exc:
        return malformed(exc, UNKNOWN_GROUP)
    program = command.argv[0]
    group = command_group(program)
    if not _is_bare(program):
        return not_checked("the program must be a bare name on the allow-list, not a path", group)
    if program not in ctx.commands:
        return not_checked(f"program {program!r} is not on the allow-list", group)
    if not ctx.roots:
        return not_checked("no evidence roots are configured, so commands cannot run", group)
    located = resolve_inside(ctx.roots, command.cwd if command.cwd is not None else ".")
    if located is None:
        return not_checked("the working directory is outside the allowed roots", group)
    cwd = located[0]
    try:
        usable = cwd.is_dir()
    except OSError:  # e.g. a name too long for the file system (Python 3.11 raises here)
        usable = False
    if not usable:
        return failed("the working directory does not exist or cannot be used", group, {"cwd": str(cwd)})
    executable = shutil.which(program, path=_search_path())
    if executable is None:
        return not_checked(f"program {program!r} is not found on PATH", group)
    hide_server_environment()
    async with _semaphore():
        with tempfile.TemporaryDirectory(prefix="thinkgate-home-") as home:
            try:
                run = await _run([executable, *command.argv[1:]], cwd, scrubbed_env(Path(home)), ctx)
            except OSError:
                return failed(f"program {program!r} could not be started", group, {"program": executable})
    details: dict[str, Any] = {
        "program": executable,
        "cwd": str(cwd),
        "exitCode": run.exit_code,
        "outputSha256": run.sha256,
        "outputBytes": run.total,
        "outputTruncated": run.total > len(run.output),
        "output": run.output.decode("utf-8", errors="replace"),
    }
    if run.exit_code is None:
        return failed(f"timed out after {ctx.command_timeout:g}s", group, details)
    if run.exit_code != command.expect:
        return CheckResult(FAILED, f"exit code {run.exit_code}, expected {command.expect}", 3, group, details)
    return CheckResult(PASSED, f"exit code {run.exit_code} as expected", 1, group, details)


def _semaphore() -> anyio.Semaphore:
    """The cap on running commands for the running event loop (a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    semaphore = _SEMAPHORES.get(loop)
    if semaphore is None:
        semaphore = _SEMAPHORES[loop] = anyio.Semaphore(MAX_CONCURRENT)
    return semaphore


async def _run(argv: list[str], cwd: Path, env: dict[str, str], ctx: CheckContext) -> _Run:
    """Run ``argv``; the whole process group is killed when it times out, fails or is cancelled."""
    digest = hashlib.sha256()
    kept = bytearray()
    total = 0
    exit_code: int | None = None
    process = await anyio.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        with anyio.move_on_after(max(ctx.command_timeout, 0.0)):
            stream = process.stdout
            assert stream is not None  # stdout=PIPE
            async for chunk in _chunks(stream):
                digest.update(chunk)
                total += len(chunk)
                if len(kept) < ctx.max_output:
                    kept.extend(chunk[: ctx.max_output - len(kept)])
            exit_code = await process.wait()
    finally:
        # On timeout the group dies before its leader is reaped; after a normal exit it is killed
        # too, so no stray child outlives the check (a group id still in use is never reused).
        _kill_group(process.pid)
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()
    return _Run(exit_code, bytes(kept), total, digest.hexdigest())


async def _chunks(stream: anyio.abc.ByteReceiveStream) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await stream.receive(_READ_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return
        yield chunk


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
