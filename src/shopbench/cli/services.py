"""`shopbench services list|status|kill|terminate|pause|resume|restart|start|stop|adopt|plan`.

Seed 001's `docker_service_manager.py`, for both backends: the reference shop's processes (or a
user's services described in a services file) through the local backend, or Docker containers
through the Docker backend. Names are service names (seed names like order-service work too).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shopbench.cli.app import app
from shopbench.errors import EXIT_UNREACHABLE, UsageError
from shopbench.nemesis.backends import BACKENDS, Backend, Hit, LocalBackend, make_backend

services_app = typer.Typer(
    help="List, inspect and fault the services of a shop by hand (local processes, Docker containers or "
    "Kubernetes pods).",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")
console = Console()

BACKEND_OPT = typer.Option("local", "--backend", help=f"Where the services run: {' | '.join(BACKENDS)}.")
DATA_OPT = typer.Option(None, "--data", "--services-data", help="local: the supervisor state directory (default "
                        ".shopbench/shop/services, the reference shop's; with --services-file, .shopbench/<file "
                        "stem>/ beside that file, whatever the current folder).")
FILE_OPT = typer.Option(None, "--services-file", help="local: a JSON or TOML file describing your own services "
                        "(name, command, cwd, env; health_url, health_tcp or port; match or pid_file to adopt "
                        "a running instance). k8s: the namespace and each service's label selector.")
DOCKER_OPT = typer.Option(None, "--docker-url", help="docker: the Engine URL (default unix:///var/run/docker.sock).")
PROJECT_OPT = typer.Option(None, "--project", help="docker: only containers of this Compose project.")
COUNT_OPT = typer.Option(1, "--count", min=1, help="How many containers of each service to hit.")
NAMES_ARG = typer.Argument(..., help="Service names (Compose service, container-name prefix, or local service).")

VERBS = {"kill": "killed (SIGKILL)", "terminate": "terminated (SIGTERM)", "pause": "paused",
         "resume": "resumed", "restart": "restarted"}


def _backend(backend: str, data: Path | None, services_file: Path | None, docker_url: str | None,
             project: str | None) -> Backend:
    if backend == "local" and (docker_url or project):
        raise UsageError("--docker-url and --project apply to --backend docker only.")
    if backend == "docker" and (data or services_file):
        raise UsageError("--data and --services-file apply to --backend local (or k8s: --services-file) only.")
    if backend == "k8s" and (data or docker_url or project):
        raise UsageError("--backend k8s takes --services-file only (a Kubernetes services file).")
    return make_backend(backend, data_dir=data, services_file=services_file, docker_url=docker_url,
                        project=project)


def _report(verb: str, service: str, hits: list[Hit], since: float | None = None) -> bool:
    """One line per hit; False when one failed or did not take effect."""
    ok = True
    for hit in hits:
        where = f" ({hit.target})" if hit.target else ""
        if hit.result == "ok" and hit.landed is False:
            ok = False
            console.print(f"[red]{service}{where}: did not take effect[/], {hit.evidence}", highlight=False)
        elif hit.result == "ok":
            took = f" in {hit.landed_at - since:.3f} s" if since and hit.landed_at else ""
            evidence = f" ({hit.evidence})" if hit.evidence else ""
            console.print(f"{service}{where}: {verb}{took}{evidence}", highlight=False)
        elif hit.result == "skipped":
            console.print(f"{service}{where}: nothing to do, {hit.error}")
        else:
            ok = False
            console.print(f"[red]{service}{where}: failed[/], {hit.error}", highlight=False)
    return ok


@services_app.command("list")
def list_services(
    backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
    docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
) -> int:
    """List the services the backend knows, with how many of their targets run."""
    be = _backend(backend, data, services_file, docker_url, project)
    rows = be.status()
    table = Table("service", "targets", "running")
    by_service: dict[str, list] = {}
    for row in rows:
        by_service.setdefault(row.service, []).append(row)
    for name in sorted(by_service):
        group = by_service[name]
        table.add_row(name, str(sum(1 for r in group if r.target)), str(sum(1 for r in group if r.state == "running")))
    console.print(table if by_service else "no services found.")
    return 0


@services_app.command("status")
def status(
    names: list[str] | None = typer.Argument(None, help="Only these services."),
    backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
    docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
) -> int:
    """Show each service's targets (pids or containers) and their state."""
    be = _backend(backend, data, services_file, docker_url, project)
    table = Table("service", "target", "state", "detail")
    rows = be.status(names or None)
    for row in rows:
        table.add_row(row.service, row.target or "-", row.state, row.detail)
    console.print(table if rows else "no services found.")
    return 0


def _action_command(action: str) -> None:
    def command(
        names: list[str] = NAMES_ARG,
        count: int = COUNT_OPT,
        backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
        docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
    ) -> int:
        be = _backend(backend, data, services_file, docker_url, project)
        resolved = [be.canonical(n) for n in names]  # every name checked before anything is hit
        ok = True
        for name in resolved:
            t0 = time.time()
            ok &= _report(VERBS[action], name, be.apply(action, name, count), since=t0)
        return 0 if ok else EXIT_UNREACHABLE

    command.__doc__ = f"{VERBS[action].capitalize()}: {action} the named services."
    services_app.command(action)(command)


for _action in ("kill", "terminate", "pause", "resume", "restart"):
    _action_command(_action)


def _local_only(be: Backend, verb: str) -> LocalBackend:
    if not isinstance(be, LocalBackend):
        raise UsageError(f"'services {verb}' runs local processes; with --backend docker use docker compose.")
    return be


@services_app.command("start")
def start(
    names: list[str] | None = typer.Argument(None, help="Only these services (default: all, in file order)."),
    backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
    docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
) -> int:
    """Start services (those of --services-file, or stopped ones known to --data) and wait until healthy."""
    be = _local_only(_backend(backend, data, services_file, docker_url, project), "start")
    todo = [be.canonical(n) for n in names] if names else (list(be.specs) or be.services())
    ok = True
    for name in todo:
        ok &= _report("running", name, [be.start(name)])
    return 0 if ok else EXIT_UNREACHABLE


@services_app.command("stop")
def stop(
    names: list[str] | None = typer.Argument(None, help="Only these services (default: all)."),
    backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
    docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
) -> int:
    """Stop services started by shopbench (resuming paused ones first)."""
    be = _local_only(_backend(backend, data, services_file, docker_url, project), "stop")
    todo = [be.canonical(n) for n in names] if names else list(reversed(list(be.specs) or be.services()))
    ok = True
    for name in todo:
        ok &= _report("stopped", name, [be.stop(name)])
    return 0 if ok else EXIT_UNREACHABLE


@services_app.command("plan")
def plan(
    kill_config: Path = typer.Argument(..., help="A kill_config.json (seed 001's format, plus action and duration)."),
    adopt: bool = typer.Option(True, "--adopt/--no-adopt", help="local: adopt running services of --services-file "
                               "first, as a run does."),
    backend: str = BACKEND_OPT, data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
    docker_url: str | None = DOCKER_OPT, project: str | None = PROJECT_OPT,
) -> int:
    """Check a kill_config.json, show what it will do, warn about faults that cannot land. Hits nothing.

    A fault cannot land on a service that is not running and cannot be adopted (no port, match or
    pid_file), or a resume on a service that is not paused."""
    from shopbench.nemesis.config import load_fault_plan
    from shopbench.nemesis.hooks import plan_warnings

    be = _backend(backend, data, services_file, docker_url, project)
    fault_plan = load_fault_plan(kill_config, backend=be)
    table = Table("#", "when", "action", "services", "count", "undone after")
    for i, trig in enumerate(fault_plan.triggers):
        when = {"time": f"{trig.threshold:g} s into the load", "users": f"users >= {trig.threshold:g}",
                "rps": f"rps >= {trig.threshold:g}", "checkouts": f"checkouts >= {trig.threshold:g}"}[trig.type]
        hold = trig.hold_time()
        undone = ("-" if trig.action in ("restart", "resume") else
                  f"{hold:g} s" if hold is not None else "the run ends")
        table.add_row(str(i), when, trig.action, ", ".join(trig.services), str(trig.count), undone)
    console.print(table)
    if isinstance(be, LocalBackend) and be.specs:
        for service, pid, how in be.adopt(fault_plan.services()) if adopt else ():
            if pid is not None and how.startswith("found by"):
                console.print(f"{service}: adopted pid {pid}, {how}", highlight=False)
    from shopbench.doctor.overlaps import overlapping

    warnings = plan_warnings(fault_plan, be) + overlapping(fault_plan)
    for line in warnings:
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    if not warnings:
        console.print("every fault can land on the services as they are now, and none overlaps another.")
    return 0


@services_app.command("adopt")
def adopt(
    names: list[str] | None = typer.Argument(None, help="Only these services (default: all of the file)."),
    data: Path | None = DATA_OPT, services_file: Path | None = FILE_OPT,
) -> int:
    """Adopt running services of --services-file (by pid_file, port or match) so faults reach them.

    Nothing is restarted now; a restart later (a fault, or recovery from one) runs the file's command."""
    if services_file is None:
        raise UsageError("'services adopt' needs --services-file: the file says how to find each service.")
    be = _local_only(_backend("local", data, services_file, None, None), "adopt")
    ok = True
    for service, pid, how in be.adopt(names or None):
        if pid is None:
            ok = False
            console.print(f"[yellow]{service}: not adopted[/], {how}", highlight=False)
        else:
            console.print(f"{service}: pid {pid}, {how}", highlight=False)
    return 0 if ok else EXIT_UNREACHABLE
