"""`shopbench report RUN_DIR` and `shopbench compare RUN_DIR…`: pages built from run directories."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import typer
from rich.console import Console

from shopbench.cli.app import app
from shopbench.errors import UsageError

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
    run_dirs: list[Path] = typer.Argument(..., help="Run directories, or a folder of them (like seed 001's "
                                          "--results-dir: every run directory inside is compared)."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the page "
                                    "(default results/compare-<time>.html)."),
    open_: bool = typer.Option(False, "--open", help="Open the page in a browser when it is written."),
) -> int:
    """Set runs side by side: validity, anomalies, checkout success, rps, p95/p99, recovery times."""
    from shopbench.report.compare import build_compare, table

    if out is None:
        out = Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.html"
    path, summaries = build_compare(expand_run_dirs(run_dirs), out)
    console.print(table(summaries))
    console.print(f"comparison: {path}", highlight=False)
    if open_:
        webbrowser.open(path.resolve().as_uri())
    return 0


def expand_run_dirs(paths: list[Path]) -> list[Path]:
    """Each path as given when it is a run directory; a folder of runs becomes its runs, oldest first."""
    runs: list[Path] = []
    for path in paths:
        if (path / "run.json").exists() or not path.is_dir():
            runs.append(path)  # not a folder of runs: build_compare says what is wrong with it
            continue
        inner = sorted((p for p in path.iterdir() if (p / "run.json").exists()), key=lambda p: p.stat().st_mtime)
        if not inner:
            raise UsageError(f"{path}: neither a run directory (no run.json) nor a folder of run directories.")
        runs.extend(inner)
    return runs
