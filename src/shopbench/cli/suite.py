"""`shopbench suite`: a consistency test and a stress test with the same faults, one after the other
(seed 001's `--test-type both`), against one shop, then a comparison page.

Each test runs as its own `shopbench` process, exactly as a user would type it (the command lines
are printed): Locust monkey-patches the process that imports it, and a separate process per test
keeps each run directory's story simple.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.console import Console
from rich.rule import Rule

from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.driver import use_driver
from shopbench.errors import EXIT_INVALID, EXIT_VALID, UsageError
from shopbench.nemesis.config import plan_for_services
from shopbench.processes.spawn import spawn, untie
from shopbench.rundir import new_group_dir
from shopbench.shop import FLAWS, RefShop

console = Console()
TEST_TYPES = ("consistency", "stress", "both")


def shopbench(args: list[str]) -> int:
    """Run one `shopbench` command in a child process, printing it first.

    The child is started like every child of shopbench (`spawn`): in its own session, ended by the
    restore guardian should this process be SIGKILLed. A terminal's Ctrl-C therefore reaches only
    this process; it is passed on to the child (each one: a second Ctrl-C is the child's second
    Ctrl-C), which ends its run as documented (faults healed, a verdict), and the suite then stops.
    """
    console.print(f"[dim]$ shopbench {shlex.join(args)}[/]", highlight=False)
    proc = spawn([sys.executable, "-m", "shopbench", *args], why=f"shopbench {args[0]}")
    interrupted = False
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
                proc.send_signal(signal.SIGINT)
    finally:
        untie(proc)
    if interrupted:
        raise KeyboardInterrupt
    return code


def combined_exit(codes: dict[str, int]) -> int:
    """0 when every test passed; else 1 if a check failed, else the first other failure's code."""
    bad = [c for c in codes.values() if c != EXIT_VALID]
    if not bad:
        return EXIT_VALID
    return EXIT_INVALID if EXIT_INVALID in bad else bad[0]


def print_results(root: Path, codes: dict[str, int]) -> None:
    for name in ("consistency", "stress"):
        if name not in codes:
            continue
        report = root / name / "report.html"
        verdict = {0: "[green]VALID[/]", 1: "[red]INVALID[/]"}.get(codes[name], f"[yellow]exit {codes[name]}[/]")
        console.print(f"  {name:<12} {verdict}  report: {report if report.exists() else '(none)'}")
    if (root / "compare.html").exists():
        console.print(f"  {'compare':<12} {root / 'compare.html'}")


def compare_runs(root: Path, codes: dict[str, int]) -> None:
    runs = [str(root / name) for name in ("consistency", "stress") if (root / name / "verdict.json").exists()]
    if len(runs) == 2:
        codes["compare"] = shopbench(["compare", *runs, "--out", str(root / "compare.html")])


@app.command("suite")
def suite(
    test_type: str = typer.Option("both", "--test-type", help="consistency | stress | both (seed 001's flag)."),
    urls: Path | None = typer.Option(None, "--urls", help="urls.json of the shop; without it the reference shop "
                                     "is started once for both tests."),
    flaw: str | None = typer.Option(None, "--flaw", help=f"Embedded reference shop only: {', '.join(FLAWS)}."),
    users: int = typer.Option(50, "-u", "--users", help="Locust users in the stress test."),
    spawn_rate: float = typer.Option(10, "-r", "--spawn-rate", help="Users started per second."),
    run_time: str = typer.Option("30s", "-t", "--run-time", help="Length of the stress test."),
    out: Path | None = typer.Option(None, "--out", help="Directory for both run directories "
                                    "(default results/suite-<time>)."),
    faults: Path | None = options.FAULTS,
    kill_services: list[str] = typer.Option([], "--kill-services", help="Seed 001's static faults: SIGKILL these "
                                            "services (repeatable) at each test's first answered checkout, restored "
                                            "at its end; instead of --faults."),
    fault_backend: str = options.FAULT_BACKEND,
    services_file: Path | None = options.SERVICES_FILE,
    services_data: Path | None = options.SERVICES_DATA,
    docker_url: str | None = options.DOCKER_URL,
    driver: str | None = options.DRIVER,
    mapping: Path | None = options.MAPPING,
) -> int:
    """A consistency test and a stress test with the same faults, one after the other, then a comparison."""
    use_driver(driver, mapping=mapping)
    if test_type not in TEST_TYPES:
        raise UsageError(f"--test-type {test_type!r}: choose one of {', '.join(TEST_TYPES)}.")
    if flaw and urls:
        raise UsageError("--flaw applies to the embedded reference shop only; leave out --urls to use it.")
    if faults is not None and not faults.is_file():
        raise UsageError(f"--faults {faults}: no such file.")
    if faults is not None and kill_services:
        raise UsageError("give --faults FILE or --kill-services NAME, not both.")
    root = new_group_dir(out, "suite")
    if kill_services:
        # At the first answered checkout, not at a time: a consistency burst can be over within a
        # second, and a kill planned after it never lands. Names are checked by each test's backend.
        plan = plan_for_services(kill_services, trigger="checkouts", at=1)
        faults = root / "kill_services.json"
        faults.write_text(json.dumps({"kill_triggers": plan.model_dump()["kill_triggers"]}, indent=2))
    codes: dict[str, int] = {}
    with ExitStack() as stack:
        if urls is None:
            shop = stack.enter_context(RefShop(root / "shop", flaw=flaw))
            urls = root / "shop" / "urls.json"
            if services_file is None and services_data is None and fault_backend == "local":
                services_data = shop.supervisor.state_dir
        fault_args: list[str] = []
        if faults is not None:
            fault_args = ["--faults", str(faults), "--fault-backend", fault_backend]
            for flag, value in (("--services-file", services_file), ("--services-data", services_data),
                                ("--docker-url", docker_url)):
                if value is not None:
                    fault_args += [flag, str(value)]
        common = ["--urls", str(urls), *fault_args]
        if test_type in ("consistency", "both"):
            console.print(Rule("consistency test"))
            codes["consistency"] = shopbench(["consistency", *common, "--out", str(root / "consistency")])
        if test_type in ("stress", "both"):
            console.print(Rule("stress test"))
            codes["stress"] = shopbench(["stress", *common, "--headless", "-u", str(users), "-r", str(spawn_rate),
                                         "-t", run_time, "--out", str(root / "stress")])
        compare_runs(root, codes)
    console.print(Rule("suite finished"))
    print_results(root, codes)
    return combined_exit({k: v for k, v in codes.items() if k != "compare"})
