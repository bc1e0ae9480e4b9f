"""`shopbench shop up|status|down`: the reference shop as three background processes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shopbench.cli.app import app
from shopbench.errors import EXIT_USAGE, UsageError
from shopbench.shop import FLAWS, SERVICES, RefShop

shop_app = typer.Typer(help="Run the reference shop (refshop) in the background.", no_args_is_help=True)
app.add_typer(shop_app, name="shop")
console = Console()

DATA_HELP = "Directory for the shop's databases, logs, pid files and urls.json."


@shop_app.command("up")
def up(
    port_base: int | None = typer.Option(None, "--port-base", help="order on N, stock on N+1, payment on N+2; "
                                         "free ports when omitted."),
    data: Path = typer.Option(Path(".shopbench/shop"), "--data", help=DATA_HELP),
    flaw: str | None = typer.Option(None, "--flaw", help=f"Start with a known bug: {', '.join(FLAWS)}."),
) -> int:
    """Start the three services, wait until each answers, write urls.json and print the URLs."""
    try:
        existing: RefShop | None = RefShop.attach(data)
    except UsageError:  # no shop there yet: the normal case
        existing = None
    if existing is not None and existing.is_up():
        console.print(f"the reference shop in {data} is already up; `shopbench shop down --data {data}` first.")
        return EXIT_USAGE
    shop = RefShop(data, port_base=port_base, flaw=flaw)
    target = shop.start()
    console.print(f"reference shop up{f' with flaw [bold]{flaw}[/]' if flaw else ''}; urls: {data / 'urls.json'}")
    for key, url in target.to_urls_json().items():
        console.print(f"  {key:<12} {url}")
    return 0


@shop_app.command("status")
def status(data: Path = typer.Option(Path(".shopbench/shop"), "--data", help=DATA_HELP)) -> None:
    """Show each service's state, pid and log file."""
    shop = RefShop.attach(data)
    table = Table("service", "state", "pid", "url", "log")
    for name in SERVICES:
        st = shop.supervisor.status(name)
        table.add_row(name, st.state, str(st.pid or "-"), shop.url(name), st.log)
    console.print(table)


@shop_app.command("down")
def down(data: Path = typer.Option(Path(".shopbench/shop"), "--data", help=DATA_HELP)) -> None:
    """Stop the three services (resuming any that are paused first)."""
    shop = RefShop.attach(data)
    for name in SERVICES:
        if shop.supervisor.state(name) == "paused":
            shop.resume(name)
    shop.stop()
    console.print("reference shop down.")
