"""`shopbench demo`: the full tour on this machine, with nothing to set up.

Reference shop up → consistency test with a service SIGKILLed mid-burst → stress test with a
service frozen for two seconds → reports and a comparison → shop down → seed 004's gRPC workload on
the reference gRPC service, killed mid-run. Each test runs as its own
`shopbench` command, exactly as a user would type it (the commands are printed), against the shop
through `--urls`, with faults through the shop's supervisor state: the demo takes the user's path,
not a private one. Stress runs in its own process also because Locust monkey-patches the process
that imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.rule import Rule

from shopbench.cli.app import app
from shopbench.cli.suite import combined_exit, compare_runs, print_results, shopbench

console = Console()

CONSISTENCY_FAULTS = {"kill_triggers": [
    # A `checkouts` trigger lands the kill mid-burst however fast this machine is.
    {"type": "checkouts", "threshold": 150, "services": ["order-service"], "count": 1, "recovery_time": 1,
     "action": "kill"},
]}
GRPC_FAULTS = {"kill_triggers": [
    {"type": "time", "threshold": 2, "services": ["vacancy"], "count": 1, "recovery_time": 1, "action": "kill"},
]}
STRESS_FAULTS = {"kill_triggers": [
    {"type": "time", "threshold": 6, "services": ["stock-service"], "count": 1, "recovery_time": 0,
     "action": "pause", "duration": 2},
]}


@app.command("demo")
def demo(
    out: Path | None = typer.Option(None, "--out", help="Directory for the demo's shop, fault files and runs "
                                    "(default results/demo-<time>)."),
    users: int = typer.Option(20, "-u", "--users", help="Locust users in the stress part."),
    run_time: str = typer.Option("20s", "-t", "--run-time", help="Length of the stress part."),
) -> int:
    """The full tour: shop up, consistency test with a kill, stress test with a pause, reports, shop down."""
    from shopbench.rundir import new_group_dir
    from shopbench.shop import RefShop

    root = new_group_dir(out, "demo")
    (root / "consistency_faults.json").write_text(json.dumps(CONSISTENCY_FAULTS, indent=2))
    (root / "stress_faults.json").write_text(json.dumps(STRESS_FAULTS, indent=2))
    shop = RefShop(root / "shop")
    console.print(Rule("1/5  reference shop up"))
    codes: dict[str, int] = {}
    with shop:
        for key, url in shop.target.to_urls_json().items():
            console.print(f"  {key:<12} {url}")
        urls = str(root / "shop" / "urls.json")
        services = str(shop.supervisor.state_dir)

        console.print(Rule("2/5  consistency test, the order service SIGKILLed mid-burst"))
        codes["consistency"] = shopbench([
            "consistency", "--urls", urls, "--faults", str(root / "consistency_faults.json"),
            "--services-data", services, "--out", str(root / "consistency")])

        console.print(Rule("3/5  stress test, the stock service frozen for 2 s"))
        codes["stress"] = shopbench([
            "stress", "--urls", urls, "--faults", str(root / "stress_faults.json"), "--services-data", services,
            "--headless", "-u", str(users), "-r", str(users), "-t", run_time, "--wait", "0.1-0.5",
            "--out", str(root / "stress")])

        console.print(Rule("4/5  comparison, shop down"))
        compare_runs(root, codes)
    console.print(Rule("5/5  gRPC: seed 004's vacancy service (reference), SIGKILLed mid-run"))
    (root / "grpc_faults.json").write_text(json.dumps(GRPC_FAULTS, indent=2))
    codes["grpc"] = shopbench([
        "grpc", "--headless", "-u", "3", "-r", "3", "-t", "6s", "--every", "crud=1s,list=1.5s", "--token-ttl", "3",
        "--faults", str(root / "grpc_faults.json"), "--out", str(root / "grpc")])
    console.print(Rule("demo finished"))
    print_results(root, codes)
    grpc_verdict = {0: "[green]VALID[/]", 1: "[red]INVALID[/]"}.get(codes["grpc"], f"[yellow]exit {codes['grpc']}[/]")
    console.print(f"  {'grpc':<12} {grpc_verdict}  report: {root / 'grpc' / 'report.html'}")
    return combined_exit({k: v for k, v in codes.items() if k != "compare"})
