"""The command checker against real processes: allow-list, exit codes, timeouts, env, output, cwd."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import anyio
import pytest

from thinkgate.evidence import CheckContext, check_command

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

# Writes its pid and a child's (same process group) to ./pids, then waits to be killed.
SPAWNER = """
import os, subprocess, time
child = subprocess.Popen(["sleep", "30"])
with open("pids.tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.rename("pids.tmp", "pids")
time.sleep(30)
"""


def command(*argv: object, **fields: object) -> dict[str, object]:
    return {"kind": "command", "stance": "supports", "argv": list(argv), **fields}


@pytest.fixture
def path_with_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's PATH: a directory with ``python3`` (this interpreter), then the system default."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.defpath}")


def context(root: Path, *programs: str, **limits: float) -> CheckContext:
    return CheckContext(roots=(root,), commands=frozenset(programs), **limits)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie has already died)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read_pids(path: Path) -> list[int] | None:
    """The pids the spawner wrote, or None before it has written them."""
    try:
        return [int(pid) for pid in path.read_text().split()]
    except FileNotFoundError:
        return None


async def wait_for_pids(path: Path) -> list[int]:
    with anyio.fail_after(10):
        while (pids := read_pids(path)) is None:  # noqa: ASYNC110 - a child process writes them: no event to wait on
            await anyio.sleep(0.01)
    return pids


async def wait_gone(pids: list[int]) -> None:
    with anyio.fail_after(10):
        while any(alive(pid) for pid in pids):  # noqa: ASYNC110 - signals are delivered asynchronously
            await anyio.sleep(0.01)


async def test_an_allowed_program_exiting_zero_passes_at_tier_one(root: Path) -> None:
    result = await check_command(command("true"), context(root, "true"))
    assert (result.check, result.tier, result.group) == ("passed", 1, "command:true")
    assert result.reason == "exit code 0 as expected"
    assert result.details["exitCode"] == 0
    assert result.details["cwd"] == str(root)


async def test_an_unexpected_exit_code_fails(root: Path) -> None:
    result = await check_command(command("false"), context(root, "false"))
    assert (result.check, result.tier) == ("failed", 3)
    assert result.reason == "exit code 1, expected 0"


async def test_an_expected_non_zero_exit_code_passes(root: Path) -> None:
    assert (await check_command(command("false", expectExitCode=1), context(root, "false"))).check == "passed"


async def test_a_program_not_on_the_allow_list_is_not_checked(root: Path) -> None:
    result = await check_command(command("echo", "hi"), context(root, "true"))
    assert (result.check, result.group) == ("not_checked", "command:echo")
    assert "not on the allow-list" in result.reason
    assert "exitCode" not in result.details


@pytest.mark.parametrize("program", ["/bin/echo", "/usr/bin/echo", "./echo", "bin/echo", ".", ".."])
async def test_a_program_given_as_a_path_is_not_checked_even_when_listed(root: Path, program: str) -> None:
    result = await check_command(command(program, "hi"), context(root, "echo", program))
    assert result.check == "not_checked"
    assert "bare name" in result.reason


async def test_a_listed_program_missing_from_path_is_not_checked(root: Path) -> None:
    result = await check_command(command("no-such-program-xyz"), context(root, "no-such-program-xyz"))
    assert result.check == "not_checked"
    assert "not found on PATH" in result.reason


async def test_a_relative_path_entry_cannot_run_a_program_from_the_checked_tree(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = root / "mytool"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f".{os.pathsep}{os.pathsep}{os.defpath}")
    result = await check_command(command("mytool"), context(root, "mytool"))
    assert result.check == "not_checked"


async def test_without_roots_no_command_runs(root: Path) -> None:
    ctx = CheckContext(roots=(), commands=frozenset({"true"}))
    result = await check_command(command("true"), ctx)
    assert result.check == "not_checked"
    assert "no evidence roots" in result.reason


async def test_a_command_past_its_timeout_fails_quickly(root: Path) -> None:
    with anyio.fail_after(10):
        result = await check_command(command("sleep", "30"), context(root, "sleep", command_timeout=0.5))
    assert (result.check, result.tier) == ("failed", 3)
    assert result.reason == "timed out after 0.5s"
    assert result.details["exitCode"] is None


async def test_a_timeout_kills_the_whole_process_group(root: Path, path_with_python: None) -> None:
    result = await check_command(command("python3", "-c", SPAWNER), context(root, "python3", command_timeout=1.5))
    assert result.reason == "timed out after 1.5s"
    pids = read_pids(root / "pids")
    assert pids is not None
    assert len(pids) == 2
    await wait_gone(pids)


async def test_cancelling_a_check_kills_the_whole_process_group(root: Path, path_with_python: None) -> None:
    ctx = context(root, "python3", command_timeout=60)
    async with anyio.create_task_group() as tg:
        tg.start_soon(check_command, command("python3", "-c", SPAWNER), ctx)
        pids = await wait_for_pids(root / "pids")
        tg.cancel_scope.cancel()
    await wait_gone(pids)


async def test_the_environment_is_scrubbed_to_path_lang_and_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKGATE_TEST_SECRET", "hunter2-secret-token")
    result = await check_command(command("env"), context(root, "env"))
    assert result.check == "passed"
    output = result.details["output"]
    assert "hunter2" not in output
    names = sorted(line.partition("=")[0] for line in output.splitlines())
    assert names == ["HOME", "LANG", "PATH"]
    home = next(line for line in output.splitlines() if line.startswith("HOME=")).removeprefix("HOME=")
    assert not Path(home).is_relative_to(root) and not await anyio.Path(home).exists()  # fresh, then removed
    assert "LANG=C.UTF-8" in output.splitlines()


async def test_output_is_truncated_but_hashed_in_full(root: Path) -> None:
    full = "".join(f"{n}\n" for n in range(1, 100_001)).encode()
    result = await check_command(command("seq", "100000"), context(root, "seq", max_output=1000))
    assert result.check == "passed"
    assert result.details["output"] == full[:1000].decode()
    assert result.details["outputSha256"] == hashlib.sha256(full).hexdigest()
    assert result.details["outputBytes"] == len(full)
    assert result.details["outputTruncated"] is True


async def test_stderr_is_captured_with_stdout(root: Path, path_with_python: None) -> None:
    script = "import sys; print('out', flush=True); sys.stderr.write('err\\n'); sys.exit(3)"
    result = await check_command(command("python3", "-c", script, expectExitCode=3), context(root, "python3"))
    assert result.check == "passed"
    assert result.details["output"] == "out\nerr\n"
    assert result.details["outputTruncated"] is False


async def test_stdin_is_empty(root: Path) -> None:
    with anyio.fail_after(10):
        result = await check_command(command("cat"), context(root, "cat"))
    assert result.check == "passed"
    assert result.details["output"] == ""


async def test_the_working_directory_defaults_to_the_first_root_and_may_be_below_it(root: Path) -> None:
    (root / "sub").mkdir()
    result = await check_command(command("pwd"), context(root, "pwd"))
    assert result.details["output"] == f"{root}\n"
    result = await check_command(command("pwd", cwd="sub"), context(root, "pwd"))
    assert result.details["output"] == f"{root / 'sub'}\n"


@pytest.mark.parametrize("cwd", ["..", "/", "/tmp", "sub/../.."])
async def test_a_working_directory_outside_the_roots_is_not_checked(root: Path, cwd: str) -> None:
    (root / "sub").mkdir()
    result = await check_command(command("true", cwd=cwd), context(root, "true"))
    assert result.check == "not_checked"
    assert "outside the allowed roots" in result.reason


async def test_a_symlinked_working_directory_pointing_outside_is_not_checked(root: Path) -> None:
    (root / "out").symlink_to(root.parent, target_is_directory=True)
    assert (await check_command(command("true", cwd="out"), context(root, "true"))).check == "not_checked"


async def test_a_missing_working_directory_fails(root: Path) -> None:
    result = await check_command(command("true", cwd="missing"), context(root, "true"))
    assert result.check == "failed"
    assert "does not exist" in result.reason


async def test_arguments_reach_the_program_unchanged_without_a_shell(root: Path) -> None:
    args = ["$HOME", "a b", "*", ";", "`id`", "|", "'q'"]
    result = await check_command(command("echo", *args), context(root, "echo"))
    assert result.details["output"] == " ".join(args) + "\n"


@pytest.mark.parametrize(
    "fields",
    [
        {"argv": None},
        {"argv": []},
        {"argv": "true"},
        {"argv": ["true", 1]},
        {"argv": [None]},
        {"argv": ["true", "a\x00b"]},
        {"argv": ["true"] * 1000},
        {"argv": ["true"], "expectExitCode": "0"},
        {"argv": ["true"], "expectExitCode": True},
        {"argv": ["true"], "expectExitCode": 1.0},
        {"argv": ["true"], "expectExitCode": 10**6},
        {"argv": ["true"], "cwd": 3},
        {"argv": ["true"], "cwd": ""},
    ],
)
async def test_malformed_commands_fail_without_running(root: Path, fields: dict[str, object]) -> None:
    result = await check_command({"kind": "command", **fields}, context(root, "true"))
    assert result.check == "failed"
    assert result.reason.startswith("malformed evidence:")
    assert "exitCode" not in result.details


# Marks itself running, waits, reports how many are running, unmarks itself.
COUNTER = """
import glob, os, time
mine = f"running-{os.getpid()}"
open(mine, "w").close()
time.sleep(0.3)
print(len(glob.glob("running-*")))
os.remove(mine)
"""


async def test_at_most_four_commands_run_at_once(root: Path, path_with_python: None) -> None:
    ctx = context(root, "python3")
    results = []

    async def run_one() -> None:
        results.append(await check_command(command("python3", "-c", COUNTER), ctx))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(run_one)
    assert [r.check for r in results] == ["passed"] * 8
    assert max(int(r.details["output"]) for r in results) <= 4
