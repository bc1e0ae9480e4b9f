"""`shopbench grpc`: seed 004's workload on a gRPC vacancy service with Locust, every call recorded,
then the auth probe and the vacancy checks, in the usual run directory, verdict and exit codes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from shopbench.cli import options
from shopbench.cli.app import app
from shopbench.errors import UsageError

HELP = """Load a gRPC vacancy service (seed 004) with Locust: users sign in round robin over the
credentials, run create -> update -> get -> delete and the list on their own schedules; then probe
every RPC without, with a malformed and with an expired token, and check the history.
Without --target the reference gRPC service is started for the run.
Exit code: 0 valid, 1 an anomaly, 2 bad usage, 3 target unreachable, 4 unknown. Unknown flags go to Locust."""


@app.command("grpc", help=HELP, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def grpc_command(
    ctx: typer.Context,
    target: str | None = typer.Option(None, "--target", help="HOST:PORT of the gRPC service; without it the "
                                      "reference service (refgrpc) is started for the run."),
    proto: Path | None = typer.Option(None, "--proto", help="Folder of the service's .proto files, searched "
                                      "recursively and used as the include root as protoc -I would (a buf.yaml or "
                                      "buf.work.yaml in it is honoured); default: refgrpc's, or with --target the "
                                      "service's own server reflection."),
    proto_include: list[Path] = typer.Option([], "--proto-include", help="Another include root for the protos' "
                                             "imports (repeatable)."),
    public: list[str] = typer.Option([], "--public", help="RPCs that should need no token (repeatable or "
                                      "comma-separated); default: the other RPCs of the service that signs in."),
    credentials: Path | None = typer.Option(None, "--credentials", help=".env-style file of USER_n_EMAIL / "
                                            "USER_n_PASSWORD (default: ./.env if present; generated users for "
                                            "the reference service)."),
    mix: str = typer.Option("seed004", "--mix", help="The workload: seed004 (the only gRPC mix)."),
    every: str | None = typer.Option(None, "--every", help="Schedules: crud=30s,list=45s (the defaults)."),
    deadline: float = typer.Option(5.0, "--deadline", help="Seconds before a call counts as indeterminate."),
    users: int | None = typer.Option(None, "-u", "--users", help="Peak number of concurrent Locust users."),
    spawn_rate: float | None = typer.Option(None, "-r", "--spawn-rate", help="Users started per second."),
    run_time: str | None = typer.Option(None, "-t", "--run-time", help="Stop after this long (30s, 5m, 1h)."),
    headless: bool = typer.Option(False, "--headless", help="No web UI; start at once."),
    processes: int | None = typer.Option(None, "--processes", help="Fork N local Locust worker processes."),
    flaw: list[str] = typer.Option([], "--flaw", help="Reference service only, repeatable: no-auth, stale-read, "
                                   "lost-delete."),
    token_ttl: float | None = typer.Option(None, "--token-ttl", help="Access token lifetime (s): the reference "
                                           "service's (default 10); with --target, the service's when neither the "
                                           "sign-in answer (expires_in) nor the token (a JWT's exp) says."),
    expiry_wait: float = typer.Option(30.0, "--expiry-wait", help="Longest wait after the load for the probe's "
                                      "token to expire (s)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default results/grpc-…)."),
    faults: Path | None = options.FAULTS,
    fault_backend: str = options.FAULT_BACKEND,
    services_file: Path | None = options.SERVICES_FILE,
    services_data: Path | None = options.SERVICES_DATA,
    docker_url: str | None = options.DOCKER_URL,
) -> int:
    from shopbench.nemesis.hooks import hook_from_flags
    from shopbench.runner.companion import standard
    from shopbench.runner.grpc import run_grpc
    from shopbench.workload.seed004 import parse_every

    if mix != "seed004":
        raise UsageError(f"--mix {mix!r}: gRPC runs have one mix, seed004.")
    if token_ttl is not None and not token_ttl > 0:
        raise UsageError(f"--token-ttl {token_ttl}: give a positive number of seconds.")
    if not deadline > 0:
        raise UsageError(f"--deadline {deadline}: give a positive number of seconds.")
    schedules = parse_every(every)
    hook = hook_from_flags(faults, backend=fault_backend, services_file=services_file, services_data=services_data,
                           docker_url=docker_url, echo=lambda line: Console(stderr=True).print(line, highlight=False))
    args: list[str] = []
    for flag, value in (("-u", users), ("-r", spawn_rate), ("-t", run_time), ("--processes", processes)):
        if value is not None:
            args += [flag, str(value)]
    if headless:
        args.append("--headless")
    args += list(ctx.args)
    return run_grpc(target=target, proto=proto, credentials=credentials, every=schedules, deadline=deadline,
                    flaws=flaw, token_ttl=token_ttl, expiry_wait=expiry_wait, locust_args=args, out=out,
                    proto_includes=proto_include, public=[n.strip() for v in public for n in v.split(",") if n.strip()],
                    companions=standard(hook))
