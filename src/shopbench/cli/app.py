"""`shopbench` entry point: one Typer app, one module per sub-command family.

Every command raises `ShopbenchError` for anything a user can act on; `main` turns it into one
sentence on stderr and the exit code DESIGN.md promises, never a traceback.

Start-up is lazy, so `shopbench --help` and `shopbench consistency --help` answer in well under
0.2 s: the command modules are imported only when their command is asked for (`COMMANDS` lists
them, with the one-line help the top-level `--help` shows), and each module imports Locust, gevent,
the drivers and the report inside the function that needs them.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from shopbench import __version__
from shopbench.errors import EXIT_USAGE, ShopbenchError

# name -> (module under shopbench.cli, the first line of its help). Order: the order in --help.
# tests/report/test_cli_startup.py checks this table against the commands the modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "Check a shop before the first run: every endpoint each mix and check needs (tried once "
                         "on entities it creates and reads back), which runs are possible and the flags for the "
                         "others, the services and which faults can land, how many connections the gateway "
                         "holds; then the command lines to run."),
    "consistency": ("consistency", "Populate, fire every checkout at once, settle, and prove or refute that no "
                                   "money or stock was lost."),
    "stress": ("stress", "Load the shop with Locust (web UI on :8089, or --headless), record every operation, "
                         "then settle, check that no money or stock was lost, judge the SLOs and write a run "
                         "directory."),
    "suite": ("suite", "A consistency test and a stress test with the same faults, one after the other, then a "
                       "comparison."),
    "demo": ("demo", "The full tour: shop up, consistency test with a kill, stress test with a pause, reports, "
                     "shop down."),
    "check": ("check", "Check a finished run again, offline: exit 0 when valid, 1 when an anomaly is found, 4 when "
                       "unknown."),
    "report": ("report", "Build the self-contained HTML report of a run (no network needed to view it)."),
    "compare": ("report", "Set runs side by side: validity, anomalies, checkout success, rps, p95/p99, recovery "
                          "times."),
    "grpc": ("grpc", "Load a gRPC vacancy service (seed 004) with Locust: users sign in round robin over the "
                     "credentials, run create -> update -> get -> delete and the list on their own schedules; then "
                     "probe every RPC without, with a malformed and with an expired token, and check the history."),
    "explore": ("explore", "Look for the fault plan that breaks the shop (random plans, or request by request), "
                           "shrink it to the smallest that still fails, and print the command that reproduces it."),
    "shop": ("shop", "Run the reference shop (refshop) in the background."),
    "services": ("services", "List, inspect and fault the services of a shop by hand (local processes, Docker "
                             "containers or Kubernetes pods)."),
    "mapping": ("mapping", "Describe your shop's API in a mapping file: `mapping draft --openapi URL` prints a "
                           "first one."),
}


class LazyGroup(TyperGroup):
    """The root command: a sub-command's module is imported when that command is looked up; the
    top-level help lists `COMMANDS` without importing any of them."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS) + [name for name in self.commands if name not in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            _load(COMMANDS[cmd_name][0] if cmd_name in COMMANDS else None)
            self.commands.update(typer.main.get_group(app).commands)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, text) for name, (_, text) in COMMANDS.items()]
        rows += [(name, cmd.get_short_help_str(80)) for name, cmd in self.commands.items() if name not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        # Only a command that will really run needs gevent's hub told about Ctrl-C; `X --help` does not.
        if not {"--help", "-h"} & set(ctx.args):
            _quiet_ctrl_c()
        return super().invoke(ctx)


def _load(module: str | None) -> None:
    """Import one command module (it registers its commands on `app`), or every one of them."""
    if module is not None:
        importlib.import_module(f"shopbench.cli.{module}")
        return
    import pkgutil  # 30 ms of imports: only for this rare path

    import shopbench.cli

    for info in pkgutil.iter_modules(shopbench.cli.__path__):
        if info.name not in ("app", "options", "__main__"):
            importlib.import_module(f"shopbench.cli.{info.name}")


app = typer.Typer(
    name="shopbench",
    cls=LazyGroup,
    help="Load-test an order/stock/payment shop, inject faults under load, and check that no money or stock was lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain Click help: Typer's Rich help formatter imports Rich's Markdown, Syntax and traceback
    # modules, which alone took longer than the 0.2 s a `--help` may take.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(epilog="shopbench --version prints the version.")
def _root() -> None:
    """shopbench: stress, faults and a consistency verdict for transactional shops."""


def _quick_help(args: list[str]) -> bool:
    """`shopbench COMMAND --help`, printed without parsing: Typer would coerce the --help flag's value
    through pydantic first (0.1 s of imports) to print the same page."""
    if len(args) != 2 or args[1] not in ("--help", "-h") or args[0] not in COMMANDS:
        return False
    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="shopbench", **group.context_settings)
    cmd = group.get_command(root, args[0])
    ctx = cmd.context_class(cmd, info_name=args[0], parent=root, **cmd.context_settings)
    typer.echo(cmd.get_help(ctx))
    return True


def _register() -> None:
    """Import every command module (for tests and tools that want the whole app built)."""
    _load(None)


def _err(text: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(text, highlight=False, markup=True, soft_wrap=True)


def _quiet_ctrl_c() -> None:
    """Ctrl-C while the main greenlet waits in gevent's hub is raised in the hub, which prints a
    traceback before handing it to us; it is not an error, so the hub should stay quiet."""
    import gevent

    hub = gevent.get_hub()
    if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
        hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)


def run() -> NoReturn:
    """The `shopbench` command: `main`, then a quick exit.

    By the time `main` returns, everything a command owns is closed (the shop stopped, the history
    and run directory written, workers and faults ended). Python's own finalisation would then
    tear down the ~500 modules a run imports, one by one: 0.1-0.2 s after the verdict is printed,
    on every run. The atexit hooks still run (the nemesis' last-resort restore among them); a
    thread that is not a daemon gets the ordinary exit, which waits for it."""
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`shopbench … | head`): nothing left to say
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    # Answered before Typer parses anything: importing Typer alone costs about 0.1 s.
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        print(f"shopbench {__version__}")
        return 0
    if _quick_help(args):
        return 0
    try:
        result = app(args=argv, standalone_mode=False)
        # Commands return their exit code (0 valid, 1 a check failed); None means 0. Typer turns a
        # Ctrl-C into a plain 130, after the command's own clean-up (faults restored, run closed).
        if result == 130:
            _err("interrupted: the run directory records how far it got.")
        return int(result or 0)
    except ShopbenchError as exc:
        _err(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _err("aborted.")
        return 130
    except KeyboardInterrupt:
        _err("interrupted.")
        return 130
    except typer.TyperException as exc:  # Typer's own usage errors (bad flag values, unknown options)
        if hasattr(exc, "show"):
            exc.show()
        return getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
