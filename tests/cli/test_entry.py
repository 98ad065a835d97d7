"""The console script's quick path for ``serve``: it takes exactly what the full CLI would take the same way."""

from __future__ import annotations

import pytest

from thinkgate.cli.entry import plain_serve_args


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve"], {}),
        (["serve", "--store", "memory://"], {"--store": "memory://"}),
        (["serve", "--store=sqlite:///x.db"], {"--store": "sqlite:///x.db"}),
        (["serve", "--durability", "full"], {"--durability": "full"}),
        (
            ["serve", "--durability=normal", "--store", "memory://"],
            {"--durability": "normal", "--store": "memory://"},
        ),
    ],
)
def test_plain_serve_command_lines_are_parsed_here(argv: list[str], expected: dict[str, str]) -> None:
    assert plain_serve_args(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["serve", "--help"],
        ["serve", "--durability", "fast"],  # invalid: the full CLI explains it
        ["serve", "--store"],  # missing value
        ["serve", "--store", "--durability", "full"],
        ["serve", "--store", "a", "--store", "b"],  # repeated
        ["serve", "extra"],
        ["serve", "--store="],
        ["sessions", "list"],
        ["serve", "--unknown", "x"],
    ],
)
def test_anything_else_goes_to_the_full_cli(argv: list[str]) -> None:
    assert plain_serve_args(argv) is None
