"""`shopbench` entry point: one Typer app, one module per sub-command family.

Every command raises `ShopbenchError` for anything a user can act on; `main` turns it into one
sentence on stderr and the exit code DESIGN.md promises, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from shopbench import __version__
from shopbench.errors import EXIT_USAGE, ShopbenchError

app = typer.Typer(
    name="shopbench",
    help="Load-test an order/stock/payment shop, inject faults under load, and check that no money or stock was lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shopbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """shopbench: stress, faults and a consistency verdict for transactional shops."""


def _register() -> None:
    # Each module adds its commands to `app`; the order here is the order in --help.
    from shopbench.cli import check, consistency, demo, grpc, report, services, shop, stress, suite  # noqa: F401


def _quiet_ctrl_c() -> None:
    """Ctrl-C while the main greenlet waits in gevent's hub is raised in the hub, which prints a
    traceback before handing it to us; it is not an error, so the hub should stay quiet."""
    import gevent

    hub = gevent.get_hub()
    if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
        hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)


def main(argv: list[str] | None = None) -> int:
    _register()
    _quiet_ctrl_c()
    try:
        result = app(args=argv, standalone_mode=False)
        # Commands return their exit code (0 valid, 1 a check failed); None means 0. Typer turns a
        # Ctrl-C into a plain 130, after the command's own clean-up (faults restored, run closed).
        if result == 130:
            err_console.print("interrupted: the run directory records how far it got.")
        return int(result or 0)
    except ShopbenchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted.")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted.")
        return 130
    except typer.TyperException as exc:  # Typer's own usage errors (bad flag values, unknown options)
        if hasattr(exc, "show"):
            exc.show()
        return getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
