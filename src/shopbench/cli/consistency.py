"""`shopbench consistency`: placeholder until its issue lands (a clear error, not a stub that pretends)."""

from __future__ import annotations

from shopbench.cli.app import app
from shopbench.errors import UsageError


@app.command("consistency", help="(not built yet)")
def _placeholder() -> None:
    raise UsageError("'shopbench consistency' is not built yet.")
