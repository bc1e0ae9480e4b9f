"""`shopbench consistency`: seed 000's consistency test, done right (issue 3).

Thin: parse the flags, call `runner.consistency.run_consistency`, print the summary (or the
verdict as JSON with --json) and return the exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID, UsageError

if TYPE_CHECKING:  # imported where used, so `--help` stays quick (no gevent, no driver)
    from rich.console import Console

    from shopbench.runner.consistency import RunResult
    from shopbench.workload.consistency import ConsistencyConfig

_VERDICT_CELL = {"valid": "[green]VALID[/]", "invalid": "[red]INVALID[/]", "unknown": "[yellow]UNKNOWN[/]"}


@app.command("consistency")
def consistency(
    items: int = typer.Option(100, "--items", help="Number of items to populate."),
    stock: int = typer.Option(1, "--stock", help="Starting stock of each item."),
    price: int = typer.Option(1, "--price", help="Price of each item."),
    users: int = typer.Option(1000, "--users", help="Number of users to populate."),
    credit: int = typer.Option(1, "--credit", help="Starting credit of each user."),
    orders: int = typer.Option(1000, "--orders", help="Number of orders (each checked out once, all at once)."),
    items_per_order: int = typer.Option(1, "--items-per-order", help="Random items in each order."),
    concurrency: int | None = typer.Option(None, "--concurrency", help="Simultaneous clients firing the checkouts "
                                           "(default 1000, seed 000's; with --urls lowered to what the shop's "
                                           "gateway holds open, and said so; give it to insist)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the random choices: the same seed, the same orders."),
    urls: Path | None = typer.Option(None, "--urls", help="urls.json of the shop to test (ORDER_URL, PAYMENT_URL, "
                                     "STOCK_URL); without it the reference shop is started for the run."),
    populate: str = typer.Option("auto", "--populate", help=f"How to populate: {options.POPULATE_MODES} (auto: "
                                 "batch_init, else one call per entity)."),
    flaw: str | None = typer.Option(None, "--flaw", help=f"Start the reference shop with a known bug "
                                    f"({options.FLAWS}); only without --urls."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default results/<run-id>/)."),
    settle_timeout: float = typer.Option(30.0, "--settle-timeout", help="Seconds to wait for the state to settle."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds before a request counts as indeterminate."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON on stdout (progress on stderr)."),
    repeat: int = typer.Option(1, "--repeat", help="Run the test N times (each its own run directory under --out, "
                               "seeds --seed, --seed+1, …) and say how many found anomalies: races are "
                               "probabilistic, one clean run proves little."),
    faults: Path | None = options.FAULTS,
    fault_backend: str = options.FAULT_BACKEND,
    services_file: Path | None = options.SERVICES_FILE,
    services_data: Path | None = options.SERVICES_DATA,
    docker_url: str | None = options.DOCKER_URL,
    driver: str | None = options.DRIVER,
) -> int:
    """Populate, fire every checkout at once, settle, and prove or refute that no money or stock was lost."""
    from rich.console import Console

    from shopbench.driver import use_driver
    from shopbench.report.terminal import PhaseProgress, print_summary
    from shopbench.runner.companion import standard
    from shopbench.runner.consistency import run_consistency
    from shopbench.target import Target
    from shopbench.workload.consistency import ConsistencyConfig

    use_driver(driver)
    cfg = ConsistencyConfig(items=items, stock=stock, price=price, users=users, credit=credit, orders=orders,
                            items_per_order=items_per_order, seed=seed, populate=populate,
                            timeout=timeout, settle_timeout=settle_timeout)
    if concurrency is not None:
        cfg.concurrency = concurrency
    cfg.validate()
    target = Target.load(urls) if urls is not None else None
    err = Console(stderr=True)
    fitted = None
    if target is not None and concurrency is None:
        # A gateway short of connections closes some of a 1000-client burst's (nginx's default holds
        # 512): measured first, and the burst fits under it rather than be overwhelmed by surprise.
        from shopbench.doctor.gateway import fit_to_gateway, fitted_sentence

        cfg.concurrency, fitted = fit_to_gateway(target.order_url, min(cfg.concurrency, cfg.orders))
        if fitted is not None:
            err.print(f"[yellow]note:[/] {fitted_sentence(fitted)}", highlight=False)
    if repeat < 1:
        raise UsageError(f"--repeat {repeat}: give at least 1.")

    def once(run_cfg: ConsistencyConfig, run_out: Path | None) -> RunResult:
        hook = None
        if faults is not None or services_file or services_data or docker_url or fault_backend != "local":
            # The fault package (pydantic models, backends) is imported only for a run that uses it.
            from shopbench.nemesis.hooks import hook_from_flags

            hook = hook_from_flags(faults, backend=fault_backend, services_file=services_file,
                                   services_data=services_data, docker_url=docker_url,
                                   echo=lambda line: err.print(line, highlight=False))
        with PhaseProgress(err, enabled=err.is_terminal) as progress:
            return run_consistency(run_cfg, target=target, flaw=flaw, out=str(run_out) if run_out else None,
                                   progress=progress, command_config={"urls": str(urls) if urls else None,
                                                                      "gateway_fit": fitted},
                                   companions=standard(hook))

    if repeat == 1:
        result = once(cfg, out)
        if as_json:
            typer.echo(json.dumps(result.verdict, indent=2, default=str))
        else:
            print_summary(Console(), result.verdict, result.run.manifest, str(result.run.path))
        return result.exit_code
    return _repeated(once, cfg, repeat, out, as_json, err)


def _repeated(once: Callable[[ConsistencyConfig, Path | None], RunResult], cfg: ConsistencyConfig, repeat: int,
              out: Path | None, as_json: bool, err: Console) -> int:
    import secrets

    from rich.console import Console
    from rich.table import Table

    from shopbench.checker.verdict import result_of
    from shopbench.rundir import new_group_dir

    root = new_group_dir(out, "consistency-repeat")
    base_seed = cfg.seed if cfg.seed is not None else secrets.randbelow(2**31)
    results: list[RunResult] = []
    for i in range(repeat):
        err.print(f"run {i + 1} of {repeat}", highlight=False)
        results.append(once(replace(cfg, seed=base_seed + i), root / f"run-{i + 1}"))
    table = Table("run", "seed", "verdict", "anomalies", "checkouts ok/fail/info", title="repeated runs",
                  title_justify="left")
    for i, r in enumerate(results):
        co = r.verdict.get("checkouts") or {}
        table.add_row(str(i + 1), str(base_seed + i), _VERDICT_CELL[result_of(r.verdict)],
                      str(r.verdict.get("anomaly_count", 0)), f"{co.get('ok')}/{co.get('fail')}/{co.get('info')}")
    invalid = sum(1 for r in results if result_of(r.verdict) == "invalid")
    unknown = sum(1 for r in results if result_of(r.verdict) == "unknown")
    from shopbench.report.compare import build_compare

    page, _ = build_compare([r.run.path for r in results], root / "compare.html")
    if as_json:
        typer.echo(json.dumps({"runs": len(results), "invalid": invalid,
                               "verdicts": [r.verdict for r in results]}, indent=2, default=str))
    else:
        console = Console()
        console.print(table)
        console.print(f"{invalid} of {repeat} runs found anomalies; comparison: {page}", highlight=False)
    if unknown and not as_json:
        Console().print(f"{unknown} of {repeat} runs were inconclusive (UNKNOWN); see their verdicts", highlight=False)
    return EXIT_INVALID if invalid else EXIT_UNKNOWN if unknown else EXIT_VALID
