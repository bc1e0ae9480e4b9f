"""`shopbench stress`: Locust with the shop's scenarios built in, every operation recorded, and a
consistency verdict (plus SLOs) when the load stops.

Locust's own flags keep their spelling (-u, -r, -t, --headless, --csv, --html, --processes,
--master, --worker, --master-host, -f); any other Locust flag is passed through unchanged.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer
from rich.console import Console

from shopbench.checker.slo import PRESETS
from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.driver import use_driver
from shopbench.errors import UsageError
from shopbench.locust_plugin.config import MIX_HELP, build_config
from shopbench.rundir import VERDICT
from shopbench.shop import FLAWS
from shopbench.workload.skew import SKEW_HELP

HELP = """Load the shop with Locust (web UI on :8089, or --headless), record every operation, then settle,
check that no money or stock was lost, judge the SLOs and write a run directory.
Exit code: 0 valid, 1 an anomaly or a failed SLO, 2 bad usage, 3 target unreachable, 4 unknown (a check
could not run on complete data). --json prints verdict.json on stdout. The web UI listens on 127.0.0.1
unless you pass --web-host.
Unknown flags go to Locust unchanged."""


@app.command("stress", help=HELP, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def stress(
    ctx: typer.Context,
    users: int | None = typer.Option(None, "-u", "--users", help="Peak number of concurrent Locust users."),
    spawn_rate: float | None = typer.Option(None, "-r", "--spawn-rate", help="Users started per second."),
    run_time: str | None = typer.Option(None, "-t", "--run-time", help="Stop after this long (30s, 5m, 1h)."),
    headless: bool = typer.Option(False, "--headless", help="No web UI; start at once."),
    csv: str | None = typer.Option(None, "--csv", help="Also write Locust's CSVs with this prefix "
                                   "(they are always in the run directory as locust_*.csv)."),
    html: str | None = typer.Option(None, "--html", help="Also write Locust's HTML report here "
                                    "(always in the run directory as locust.html)."),
    processes: int | None = typer.Option(None, "--processes", help="Fork N local Locust worker processes."),
    master: bool = typer.Option(False, "--master", help="Be the master of distributed Locust workers."),
    worker: bool = typer.Option(False, "--worker", help="Be a worker: connect to --master-host; needs --urls (and "
                                "--driver if the master has one); the workload comes from the master."),
    master_host: str | None = typer.Option(None, "--master-host", help="Address of the master (workers)."),
    expect_workers: int | None = typer.Option(None, "--expect-workers", help="Master: wait for this many workers."),
    locustfile: Path | None = typer.Option(None, "-f", "--locustfile", help="Your own locustfile (it can import "
                                           "shopbench.ShopUser); default: the built-in mixes."),
    urls: Path | None = typer.Option(None, "--urls", help="urls.json of the shop; without it the reference shop "
                                     "is started for the run and stopped after."),
    flaw: str | None = typer.Option(None, "--flaw", help=f"Embedded reference shop only: {', '.join(FLAWS)}."),
    mix: str = typer.Option("seed000", "--mix", help=MIX_HELP),
    weights: str | None = typer.Option(None, "--weights", help="seed000: six scenario weights (default "
                                       "5,30,25,20,10,10); other mixes: one weight per user type."),
    without_ops: list[str] = typer.Option([], "--without", help="An operation your shop lacks (repeatable, or "
                                          "comma-separated), e.g. remove_item: the scenarios and user types that "
                                          "call it are left out of the mix."),
    wait: str = typer.Option("1-3", "--wait", help="Seconds between a user's iterations: MIN-MAX or one number."),
    arrival_rate: float | None = typer.Option(None, "--arrival-rate", help="Open model: start R iterations per "
                                              "second whatever the response times."),
    max_users: int = typer.Option(1000, "--max-users", help="Open model: most clients in flight; arrivals "
                                  "beyond are dropped and counted."),
    skew: str = typer.Option("uniform", "--skew", help=f"How items and users are picked: {SKEW_HELP}."),
    mode: str | None = typer.Option(None, "--mode", help="checkout-only: seed 000's 2024 mode (batch_init a "
                                    "database, then only checkouts)."),
    init_items: int | None = typer.Option(None, "--init-items", help="checkout-only: items (default 100000)."),
    init_users: int | None = typer.Option(None, "--init-users", help="checkout-only: users (default 100000)."),
    init_orders: int | None = typer.Option(None, "--init-orders", help="checkout-only: orders (default 100000)."),
    hot_items: int | None = typer.Option(None, "--hot-items", help="Hot items the buyers race for (default 3)."),
    hot_stock: int | None = typer.Option(None, "--hot-stock", help="Initial stock of each hot item (default 5)."),
    slo: list[str] = typer.Option([], "--slo", help="An objective, repeatable: 'checkout:p95<500ms', "
                                  "'error_rate<1%', 'rps>=100', 'get:avg<200ms'."),
    slo_preset: list[str] = typer.Option([], "--slo-preset", help=f"Named SLO sets: {', '.join(PRESETS)}."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default results/stress-…)."),
    settle_timeout: float = typer.Option(30.0, "--settle-timeout", help="Seconds to wait for the shop to settle "
                                         "before the final state is read."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of every random choice of the workload."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds before a request counts as indeterminate."),
    faults: Path | None = options.FAULTS,
    fault_backend: str = options.FAULT_BACKEND,
    services_file: Path | None = options.SERVICES_FILE,
    services_data: Path | None = options.SERVICES_DATA,
    docker_url: str | None = options.DOCKER_URL,
    driver: str | None = options.DRIVER,
    as_json: bool = typer.Option(False, "--json", help="Print verdict.json alone on stdout (no summary; logs and "
                                 "progress stay on stderr)."),
) -> int:
    use_driver(driver)
    from shopbench.nemesis.hooks import hook_from_flags
    from shopbench.runner.companion import standard
    from shopbench.runner.stress import run_stress

    # The nemesis lives on the master (or the local process), which sees the total users and rps.
    hook = None if worker else hook_from_flags(
        faults, backend=fault_backend, services_file=services_file, services_data=services_data,
        docker_url=docker_url, echo=lambda line: Console(stderr=True).print(line, highlight=False))

    cfg = build_config(mix=mix, weights=weights, wait=wait, arrival_rate=arrival_rate, max_users=max_users,
                       skew=skew, mode=mode, seed=seed, init_items=init_items, init_users=init_users,
                       init_orders=init_orders, hot_items=hot_items, hot_stock=hot_stock)
    if without_ops:
        from shopbench.doctor.needs import without

        dropped = without(cfg, [op.strip() for text in without_ops for op in text.split(",") if op.strip()])
        Console(stderr=True).print(f"--without: left out {', '.join(dropped) or 'nothing (the mix never calls it)'}",
                                   highlight=False)
    if not timeout > 0:
        raise UsageError(f"--timeout {timeout}: give a positive number of seconds.")
    cfg.timeout = timeout
    args: list[str] = []
    for flag, value in (("-u", users), ("-r", spawn_rate), ("-t", run_time), ("--processes", processes),
                        ("--master-host", master_host), ("--expect-workers", expect_workers)):
        if value is not None:
            args += [flag, str(value)]
    for flag, on in (("--headless", headless), ("--master", master), ("--worker", worker)):
        if on:
            args.append(flag)
    args += list(ctx.args)
    ran: list[Path] = []

    def run() -> int:
        return run_stress(cfg, urls=urls, flaw=flaw, out=out, settle_timeout=settle_timeout, slos=slo,
                          slo_presets=slo_preset, locust_args=args, locustfile=locustfile, user_csv=csv,
                          user_html=html, companions=standard(hook), summary=False, on_run=ran.append)

    # One convention for every command (README "Output"): logs, progress and Locust's own tables on
    # stderr; the summary and the verdict on stdout; with --json, verdict.json alone on stdout.
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        code = run()
    verdict = ran[0] / VERDICT if ran else None
    if verdict is None or not verdict.exists():  # a worker, or a run that ended before its verdict
        return code
    if as_json:
        stdout.write(verdict.read_text().rstrip() + "\n")
        stdout.flush()
        return code
    import json

    from shopbench.report.terminal import print_summary
    from shopbench.rundir import MANIFEST

    manifest_path = ran[0] / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    print_summary(Console(), json.loads(verdict.read_text()), manifest, str(ran[0]))
    return code
