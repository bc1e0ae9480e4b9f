"""`shopbench mapping draft`: a first mapping file (docs/shop-api.md) from a shop's OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import typer

from shopbench.cli.app import app
from shopbench.errors import UsageError

mapping_app = typer.Typer(help="Describe your shop's API in a mapping file: `mapping draft --openapi URL` prints a "
                               "first one.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("draft")
def draft(
    openapi: str = typer.Option(..., "--openapi", help="The shop's OpenAPI JSON: a URL (FastAPI serves "
                                "/openapi.json) or a file."),
    out: Path | None = typer.Option(None, "--out", help="Write the draft here instead of printing it."),
) -> int:
    """Print a draft mapping file for the API an OpenAPI document describes, to read and edit."""
    from shopbench.driver.draft import draft_mapping, read_openapi

    text = draft_mapping(read_openapi(openapi))
    if out is None:
        typer.echo(text, nl=False)
        return 0
    if out.exists():
        raise UsageError(f"--out {out}: the file exists; choose a new name (a draft never overwrites a mapping).")
    out.write_text(text)
    typer.echo(f"draft written to {out}: read it, settle its TODOs, then pass --mapping {out}", err=True)
    return 0
