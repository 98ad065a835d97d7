"""``thinkgate report``: how well decision confidence matched recorded outcomes."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

__all__ = ["report_app"]

report_app = typer.Typer(help="Report on recorded decision outcomes.", no_args_is_help=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Event store URL: sqlite:///path.db (relative) or sqlite:////abs/path.db, postgresql://…, or memory://. "
        "Env: THINKGATE_STORE.",
        show_default=False,
    ),
]


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


@report_app.command("calibration")
def calibration(
    store: StoreOpt = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="text: tables; json: the summary.")] = ReportFormat.text,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Report this profile only (overall still covers all).")
    ] = None,
    bins: Annotated[int, typer.Option("--bins", min=1, max=100, help="Equal-width confidence bins.")] = 10,
) -> None:
    """Print Brier score, ECE and the reliability table, overall and per profile, and the fitted map in force.

    Brier, ECE and the table measure reported confidence; maps are fitted on raw confidence (docs/verification.md).
    """
    from thinkgate.cli.main import _run, _settings  # main imports this module: import its helpers late
    from thinkgate.domain.calibration import summary

    outcomes: list[dict[str, Any]] = _run(_settings(store), lambda e: e.outcomes())
    result = summary(outcomes, bins=bins, profile=profile)
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if not outcomes:
        typer.echo("no outcomes recorded yet: nothing to calibrate")
        return
    if profile is not None and result["perProfile"][profile]["count"] == 0:
        typer.echo(f"no outcomes recorded for profile {_plain(profile)!r} ({len(outcomes)} for other profiles)")
        return
    _print_text(result)


def _plain(text: str) -> str:
    from thinkgate.cli.main import _printable

    return _printable(text)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _map_cell(info: dict[str, Any]) -> str:
    if not info["inForce"]:
        return f"none: {info['outcomesNeeded']} more outcome(s) needed"
    text = f"{info['fittedOn']} map, {info['outcomes']} outcomes"
    if info.get("profileOutcomesNeeded"):
        text += f" ({info['profileOutcomesNeeded']} more for its own)"
    return text


def _print_text(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Wide enough for the summary row even when stdout is not a terminal (rich assumes 80 columns).
    console = Console(width=max(120, Console().width), highlight=False)
    scopes = [("all profiles", result["overall"])]
    scopes += [(f"profile {_plain(name)}", scores) for name, scores in result["perProfile"].items()]

    console.print(Text(f"Calibration of reported confidence ({result['bins']} bins)"))
    table = Table()
    for column in ("scope", "outcomes", "Brier", "ECE", "map in force (fitted on raw confidence)"):
        table.add_column(column)
    for label, scores in scopes:
        table.add_row(
            Text(label),
            str(scores["count"]),
            _number(scores["brier"]),
            _number(scores["ece"]),
            _map_cell(scores["map"]),
        )
    console.print(table)

    for label, scores in scopes:
        if not scores["count"]:
            continue
        console.print(Text(f"Reliability: {label}"))
        bins = Table()
        for column in ("confidence", "count", "mean confidence", "observed rate"):
            bins.add_column(column, justify="right")
        for row in scores["reliability"]:
            closing = "]" if row["upper"] >= 1.0 else ")"  # the last bin holds confidence 1 too
            bins.add_row(
                Text(f"[{row['lower']:.2f}, {row['upper']:.2f}{closing}"),
                str(row["count"]),
                _number(row["meanConfidence"]),
                _number(row["observedRate"]),
            )
        console.print(bins)

    # The overall map once; a profile's points only when it has its own.
    for i, (label, scores) in enumerate(scopes):
        info = scores["map"]
        if not info["inForce"] or (i > 0 and info["fittedOn"] != "profile"):
            continue
        console.print(Text(f"Map in force: {label} ({info['outcomes']} outcomes)"))
        points = Table()
        points.add_column("raw confidence", justify="right")
        points.add_column("calibrated", justify="right")
        for x, y in info["points"]:
            points.add_row(f"{x:.4f}", f"{y:.4f}")
        console.print(points)
