"""`shopbench check RUN_DIR`: the ledger checker again on a finished run's history and final state.

For a run directory that came from CI or a colleague: no shop, no load, just the pure check of
`ops.jsonl` against `state.json` (with the run's SLO and fault sections carried over). A run
directory whose run was killed (no clean end in run.json) is UNKNOWN: its history may be partial.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from shopbench.cli.app import app


@app.command("check")
def check(
    run_dir: Path = typer.Argument(..., help="A run directory (it needs run.json, ops.jsonl and state.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON on stdout."),
    write: bool = typer.Option(False, "--write", help="Replace the run's verdict.json and report.html with it."),
) -> int:
    """Check a finished run again, offline: exit 0 when valid, 1 when an anomaly is found, 4 when unknown."""
    from shopbench.checker.verdict import add_sections, exit_code
    from shopbench.report.terminal import print_summary
    from shopbench.rundir import VERDICT, RunDir
    from shopbench.runner.finish import recheck, write_report

    run = RunDir.open(run_dir)
    if run.manifest.get("kind") == "grpc":
        from shopbench.runner.grpc import recheck_grpc

        verdict = add_sections(recheck_grpc(run), {"run_end": run.end_section()})  # killed: UNKNOWN
    else:
        verdict = recheck(run)
    if write:
        run.write_json(VERDICT, verdict)
        write_report(run)
    if as_json:
        typer.echo(json.dumps(verdict, indent=2, default=str))
    else:
        print_summary(Console(), verdict, None, str(run.path))
    return exit_code(verdict)
