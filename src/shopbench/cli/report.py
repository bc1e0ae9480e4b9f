"""`shopbench report RUN_DIR` and `shopbench compare RUN_DIR…`: pages built from run directories."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import typer
from rich.console import Console

from shopbench.cli.app import app

console = Console()


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="A run directory (results/<run-id>/)."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the page (default RUN_DIR/report.html)."),
    partial: bool = typer.Option(False, "--partial", help="Accept a run that ended before its verdict "
                                 "(a crash, Ctrl-C): the page says what is missing."),
    open_: bool = typer.Option(False, "--open", help="Open the report in a browser when it is written."),
) -> int:
    """Build the self-contained HTML report of a run (no network needed to view it)."""
    from shopbench.report.html import build_report

    started = time.monotonic()
    path = build_report(run_dir, out=out, partial=partial)
    console.print(f"report: {path}  [dim]({time.monotonic() - started:.1f} s)[/]", highlight=False)
    if open_:
        webbrowser.open(path.resolve().as_uri())
    return 0


@app.command("compare")
def compare(
    run_dirs: list[Path] = typer.Argument(..., help="Two or more run directories."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the page "
                                    "(default results/compare-<time>.html)."),
    open_: bool = typer.Option(False, "--open", help="Open the page in a browser when it is written."),
) -> int:
    """Set runs side by side: validity, anomalies, checkout success, rps, p95/p99, recovery times."""
    from shopbench.report.compare import build_compare, table

    if out is None:
        out = Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.html"
    path, summaries = build_compare(list(run_dirs), out)
    console.print(table(summaries))
    console.print(f"comparison: {path}", highlight=False)
    if open_:
        webbrowser.open(path.resolve().as_uri())
    return 0
