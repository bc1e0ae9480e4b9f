"""`shopbench doctor --urls urls.json [--services-file F] [--faults kill_config.json]`: the command a
user runs first (like `brew doctor`). It tries every endpoint once on entities it creates, says which
runs are possible and with which flags, which services it finds and which faults can land, how many
connections the gateway holds, and ends with the command lines to run. Findings on stdout
(`--json`: as JSON), progress on stderr.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.errors import EXIT_INVALID, EXIT_UNREACHABLE, EXIT_VALID

HELP = """Check a shop before the first run: every endpoint each mix and check needs (tried once on entities
it creates and reads back), which runs are possible and the flags for the others, the services and which
faults can land, how many connections the gateway holds; then the command lines to run.
Exit code: 0 a run is possible, 1 none is as the shop answers now, 3 the shop cannot be reached."""

_MARK = {"ok": "[green]ok[/]", "missing": "[yellow]missing[/]", "broken": "[red]broken[/]",
         "not tried": "[dim]not tried[/]", "unreachable": "[red]no answer[/]"}


@app.command("doctor", help=HELP)
def doctor(
    urls: Path = typer.Option(..., "--urls", help="urls.json of the shop (ORDER_URL, PAYMENT_URL, STOCK_URL)."),
    services_file: Path | None = typer.Option(None, "--services-file", help="Your services (JSON/TOML, as for "
                                              "--faults runs): are they found, adoptable, healthy?"),
    faults: Path | None = typer.Option(None, "--faults", help="A kill_config.json: which faults can land, which "
                                       "overlap."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds before a probe's request counts as unanswered."),
    driver: str | None = options.DRIVER,
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON on stdout."),
) -> int:
    from rich.console import Console

    from shopbench.doctor import advice, examine
    from shopbench.driver import connect, use_driver
    from shopbench.target import Target

    use_driver(driver)
    target = Target.load(urls)
    err = Console(stderr=True)
    err.print("probing every endpoint once, on entities of its own …", highlight=False)
    probe_driver = connect(target, None, timeout=timeout, concurrency=1, process="doctor")
    try:
        found = examine.endpoints(probe_driver)
    finally:
        probe_driver.transport.close()
    findings = examine.Findings(target=target.to_urls_json(), endpoints=found, gateway=None,
                                gateway_url=target.order_url, urls_file=str(urls),
                                services_file=str(services_file) if services_file else None,
                                faults_file=str(faults) if faults else None)
    unreachable = all(e.state in ("unreachable", "not tried") for e in found)
    if not unreachable:
        err.print("counting the connections the gateway holds …", highlight=False)
        findings.gateway_url, findings.gateway = examine.gateway(target.order_url)
    backend = None
    if services_file is not None or faults is not None:
        from shopbench.nemesis.backends import make_backend

        backend = make_backend("local", services_file=services_file)
    if services_file is not None:
        findings.services = examine.services(backend)
    if faults is not None:
        findings.fault_warnings = examine.fault_warnings(faults, backend)
    code = EXIT_UNREACHABLE if unreachable else EXIT_VALID if advice.commands(findings) else EXIT_INVALID
    if as_json:
        data = asdict(findings)
        data["runs"] = [asdict(r) for r in advice.runs(findings)]
        data["concurrency"] = advice.concurrency(findings)
        data["commands"] = advice.commands(findings)
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        _print(Console(), findings)
    return code


def _print(console: object, f: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from shopbench.doctor import advice
    from shopbench.doctor.examine import Findings
    from shopbench.doctor.needs import endpoint

    assert isinstance(console, Console) and isinstance(f, Findings)
    table = Table("operation", "endpoint", "", "why", title="endpoints (each tried once, on entities of its own)",
                  title_justify="left")
    for e in f.endpoints:
        table.add_row(e.op, endpoint(e.op), _MARK[e.state], e.why)
    console.print(table)
    console.print("consistency and stress populate with batch_init when the shop accepts it, else one call per "
                  "entity (--populate api skips it).", highlight=False)

    runs = Table("run", "", "how", title="what can run", title_justify="left")
    for r in advice.runs(f):
        runs.add_row(r.name, {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]untried[/]"}[r.ok],
                     " ".join(r.flags) if r.ok and r.flags else "as it is" if r.ok else r.why)
    console.print(runs)

    if f.services is None:
        console.print("services: no --services-file, so faults reach only services shopbench starts; describe "
                      "yours in one (README \"Your own shop: a services file\") to kill and pause them.",
                      highlight=False)
    else:
        svc = Table("service", "found", "healthy", "how", title=f"services ({f.services_file})", title_justify="left")
        for s in f.services:
            svc.add_row(s.name, f"pid {s.pid}" if s.pid else "[yellow]no[/]",
                        {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[s.healthy], s.how)
        console.print(svc)
    if f.faults_file:
        for line in f.fault_warnings:
            console.print(f"[yellow]faults:[/] {line}", highlight=False)
        if not f.fault_warnings:
            console.print(f"faults: every fault of {f.faults_file} can land and none overlaps another.",
                          highlight=False)

    if f.gateway is not None:
        line = f"gateway {f.gateway_url}: {f.gateway.sentence()}"
        safe = f.gateway.safe_concurrency()
        if safe is not None:
            line += (f". A proxied request holds two of its connections: keep a burst to --concurrency {safe} "
                     f"and Locust to -u {safe} or fewer, or raise the limit")
        console.print(line + ".", highlight=False)

    cmds = advice.commands(f)
    if cmds:
        console.print("next, run:", highlight=False)
        for cmd in cmds:
            console.print(f"  {cmd}", highlight=False, soft_wrap=True)
    else:
        console.print("[red]no run is possible yet:[/] fix or map the endpoints above (a --driver), then run "
                      "shopbench doctor again.", highlight=False)
