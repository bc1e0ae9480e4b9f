"""`shopbench explore`: look for the fault plan that breaks the shop, and shrink it (issue 22).

Thin: parse the flags, run the exploration (shopbench.explore), print the summary, return 1 when a
failure was found, 0 when none within a budget that covered everything, 4 otherwise.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.errors import UsageError

MODES = ("random", "requests")


@app.command("explore")
def explore(
    mode: str = typer.Option("requests", "--mode", help="requests: every request position on every link hit in "
                             "every fault mode, one at a time; random: random plans of process and network faults "
                             "under load, the first failing one shrunk."),
    budget: str = typer.Option("5m", "--budget", help="How long to explore: a time (90s, 5m, 1h) or a number of "
                               "trials (40)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the random plans and of the workload's orders."),
    flaw: str | None = typer.Option(None, "--flaw", help=f"Start the reference shop with a known bug "
                                    f"({options.FLAWS}); only without --urls."),
    urls: Path | None = typer.Option(None, "--urls", help="urls.json of your shop; needs --services-file (its "
                                     "services, and `links` for network faults)."),
    services_file: Path | None = options.SERVICES_FILE,
    services_data: Path | None = options.SERVICES_DATA,
    orders: int = typer.Option(200, "--orders", help="Checkouts of each trial's burst."),
    concurrency: int = typer.Option(8, "--concurrency", help="Simultaneous clients of each trial's burst."),
    items: int = typer.Option(5, "--items", help="Items of each trial."),
    stock: int = typer.Option(100, "--stock", help="Starting stock of each item."),
    users: int = typer.Option(20, "--users", help="Users of each trial."),
    credit: int = typer.Option(100, "--credit", help="Starting credit of each user."),
    max_faults: int = typer.Option(3, "--max-faults", help="random: at most this many faults in a plan."),
    need: int = typer.Option(2, "--need", help="Shrinking keeps a smaller plan when it fails in at least NEED of "
                             "--tries runs."),
    tries: int = typer.Option(3, "--tries", help="Runs of each candidate plan while shrinking."),
    confirm: int = typer.Option(10, "--confirm", help="Runs of the smallest plan, to say how often it fails."),
    shrink_trials: int = typer.Option(40, "--shrink-trials", help="At most this many trials spent shrinking."),
    only: list[str] = typer.Option([], "--only", help="requests: run just this request fault, LINK#N:MODE (e.g. "
                                   "order->payment#1:lose-answer; repeat for a pair), then --confirm runs more."),
    workload: str = typer.Option("alone", "--workload", help="requests, with --only: alone (one checkout) or "
                                 "together (three at once)."),
    pairs: int = typer.Option(0, "--pairs", help="requests: after every single fault, up to this many two-fault "
                              "plans drawn from the reached positions."),
    keep_going: bool = typer.Option(False, "--keep-going", help="requests: cover the whole space whatever fails (the "
                                    "first 3 failing points are confirmed); without it, stop at the first point "
                                    "that fails in 9 of 10 confirming runs."),
    out: Path | None = typer.Option(None, "--out", help="Explore directory (default results/explore-<time>/)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout (progress on stderr)."),
) -> int:
    """Look for the fault plan that breaks the shop (random plans, or request by request), shrink it
    to the smallest that still fails, and print the command that reproduces it."""
    from rich.console import Console

    from shopbench.explore.hit import RequestFault
    from shopbench.explore.output import summarise, summary_lines
    from shopbench.explore.requests import RequestExplorer
    from shopbench.explore.schedule import Space
    from shopbench.explore.search import parse_budget, random_search
    from shopbench.explore.trial import Load, Shop, TrialRunner
    from shopbench.rundir import new_group_dir

    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: choose one of {', '.join(MODES)}.")
    if flaw is not None and urls is not None:
        raise UsageError("--flaw only applies to the reference shop started for the run; drop --urls or --flaw.")
    if urls is not None and services_file is None and services_data is None:
        raise UsageError("--urls needs --services-file (or --services-data): explore faults your services and "
                         "must know where they run.")
    if min(need, tries, confirm) < 1 or need > tries:
        raise UsageError(f"--need {need}, --tries {tries}, --confirm {confirm}: each must be >= 1 and --need at "
                         f"most --tries.")
    if max_faults < 1:
        raise UsageError(f"--max-faults {max_faults}: give at least 1.")
    spend = parse_budget(budget)
    load = Load(items=items, stock=stock, users=users, credit=credit, orders=orders, concurrency=concurrency,
                seed=seed)
    load.config().validate()
    shop = Shop(flaw=flaw, urls=urls, services_file=services_file, services_data=services_data)
    err = Console(stderr=True)

    def echo(line: str) -> None:
        err.print(line, highlight=False, markup=False, soft_wrap=True)

    faults = [RequestFault.parse(text) for text in only]
    if faults and mode != "requests":
        raise UsageError("--only applies to --mode requests.")
    if workload not in ("alone", "together"):
        raise UsageError(f"--workload {workload!r}: choose alone or together.")
    if pairs < 0:
        raise UsageError(f"--pairs {pairs}: give 0 or more.")
    services, links = targets(shop)
    if not links and (mode == "requests" or not services):
        raise UsageError(f"{services_file or services_data}: no services or `links` explore can fault; list the "
                         f"services and their links in a services file (--services-file; see docs/network-faults.md).")
    root = new_group_dir(out, "explore")
    runner = TrialRunner(root, shop, echo=echo)
    t0 = time.monotonic()
    if mode == "random":
        found = random_search(runner, Space(services, links, max_faults=max_faults), load, seed=seed,
                              budget=spend, need=need, tries=tries, confirm=confirm, shrink_trials=shrink_trials,
                              echo=echo)
    else:
        explorer = RequestExplorer(runner, list(links), set(services), load, services_file=services_file,
                                   services_data=services_data, echo=echo)
        found = explorer.explore(spend, only=faults or None, workload=workload, pair_bound=pairs, seed=seed,
                                 confirm=confirm, keep_going=keep_going)
    summary = summarise(found, root, shop, time.monotonic() - t0)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        for line in summary_lines(summary, root):
            typer.echo(line)
    return int(summary["exit_code"])


def targets(shop: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(services, links) a plan may hit: the reference shop's, or those of the services file."""
    from shopbench.explore.trial import Shop

    assert isinstance(shop, Shop)
    if shop.urls is None:
        from shopbench.shop import LINKS, SERVICES

        return tuple(SERVICES), tuple(LINKS)
    services: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    if shop.services_file is not None:
        from shopbench.nemesis.backends.local import load_services_file
        from shopbench.nemesis.network import links_of_services_file

        services = tuple(spec.name for spec in load_services_file(shop.services_file))
        links = tuple(spec.name for spec in links_of_services_file(shop.services_file))
    return services, links
