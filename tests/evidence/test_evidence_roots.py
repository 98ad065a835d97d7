"""Which roots evidence may touch: client roots, then the environment variable, then the cwd."""

from __future__ import annotations

import os
from pathlib import Path

from thinkgate.evidence import evidence_roots


def dirs(tmp_path: Path, *names: str) -> list[Path]:
    made = []
    for name in names:
        (tmp_path / name).mkdir()
        made.append((tmp_path / name).resolve())
    return made


def test_client_roots_win_over_the_environment_and_cwd(tmp_path: Path) -> None:
    a, b, c = dirs(tmp_path, "a", "b", "c")
    assert evidence_roots([str(a), b.as_uri()], str(c), tmp_path) == (a, b)


def test_file_uris_are_decoded(tmp_path: Path) -> None:
    (spaced,) = dirs(tmp_path, "with space")
    assert evidence_roots([spaced.as_uri()], None, tmp_path) == (spaced,)
    assert evidence_roots([f"file://localhost{spaced.as_posix()}"], None, tmp_path) == (spaced,)


def test_an_empty_client_list_means_no_roots(tmp_path: Path) -> None:
    (a,) = dirs(tmp_path, "a")
    assert evidence_roots([], str(a), tmp_path) == ()


def test_client_roots_that_are_not_local_directories_are_dropped(tmp_path: Path) -> None:
    (a,) = dirs(tmp_path, "a")
    (tmp_path / "file.txt").write_text("x")
    client = [
        str(tmp_path / "missing"),
        str(tmp_path / "file.txt"),
        "https://example.com/repo",
        "file://otherhost/srv",
        "",
        "bad\x00path",
        7,
        str(a),
    ]
    assert evidence_roots(client, None, tmp_path) == (a,)  # type: ignore[arg-type]


def test_the_environment_variable_is_split_on_pathsep(tmp_path: Path) -> None:
    a, b = dirs(tmp_path, "a", "b")
    value = os.pathsep.join([str(a), "", str(tmp_path / "missing"), str(b)])
    assert evidence_roots(None, value, tmp_path) == (a, b)


def test_without_client_roots_or_environment_the_cwd_is_the_root(tmp_path: Path) -> None:
    assert evidence_roots(None, None, tmp_path) == (tmp_path.resolve(),)
    assert evidence_roots(None, "", tmp_path) == (tmp_path.resolve(),)


def test_an_environment_naming_only_missing_directories_gives_no_roots(tmp_path: Path) -> None:
    assert evidence_roots(None, str(tmp_path / "missing"), tmp_path) == ()


def test_roots_are_resolved_through_symlinks_and_deduplicated(tmp_path: Path) -> None:
    (real,) = dirs(tmp_path, "real")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert evidence_roots([str(tmp_path / "link"), str(real), "real"], None, tmp_path) == (real,)


def test_relative_roots_are_relative_to_the_cwd(tmp_path: Path) -> None:
    (a,) = dirs(tmp_path, "a")
    assert evidence_roots(["a"], None, tmp_path) == (a,)
    assert evidence_roots(None, "a", tmp_path) == (a,)
