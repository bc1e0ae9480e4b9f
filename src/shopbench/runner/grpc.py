"""A gRPC run's steps in the one run order (runner/skeleton.py): set up (the reference gRPC service
unless --target) -> populate (compile the protos, sign in, read the baseline) -> load on Locust
(companions beside it, from Locust's test_start to its test_stop) -> check (auth probe, final list,
vacancy and auth checks, verdict).

The same run directory, history, companions (fault hook, resource sampler), Locust invocation and
integration (`shopbench.locust_plugin`), verdict rules, report and exit codes as a stress run; only
the protocol, the workload and the checks are gRPC's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from shopbench.checker.verdict import assemble_verdict, result_of
from shopbench.errors import TargetError, UsageError
from shopbench.grpc.target import GrpcTarget
from shopbench.history import HistoryWriter, iter_history
from shopbench.rundir import OPS, VERDICT, RunDir
from shopbench.runner.companion import Companion
from shopbench.runner.skeleton import FINISHED, RunContext, companions_of, execute

LOCUSTFILE = Path(__file__).resolve().parent.parent / "grpc" / "seed004_locustfile.py"
REFERENCE_TOKEN_TTL = 10.0  # s: short, so the probe's expired token comes soon after the load
STOP_TIMEOUT_DEADLINES = 6  # Locust's --stop-timeout default: a flow in flight gets to finish its calls
console = Console(highlight=False)  # the summary: stdout, as every command (README "Output")


@dataclass
class OwnService:
    """The reference gRPC service started for the run, as the skeleton sees it."""

    target: GrpcTarget
    supervisor: Any


class GrpcSteps:
    def __init__(self, *, proto: str | Path | None, creds: list[Any], users_file: Path | None,
                 every: dict[str, float], deadline: float, flaws: Sequence[str], token_ttl: float | None,
                 expiry_wait: float, args: list[str], proto_includes: Sequence[str | Path] = (),
                 public: Sequence[str] = ()):
        self.proto, self.creds, self.users_file = proto, creds, users_file
        self.every, self.deadline, self.flaws, self.token_ttl = every, deadline, list(flaws), token_ttl
        self.expiry_wait, self.args = expiry_wait, args
        self.proto_includes, self.public = list(proto_includes), list(public)
        self.catalog: Any = None
        self.expired: Any = None
        self.public_from = ""
        self.session: Any = None  # the Locust plugin's session

    @contextmanager
    def own_target(self, run: RunDir, links: bool) -> Iterator[OwnService]:
        """The reference gRPC service (`python -m refgrpc`) under a Supervisor in `<run>/service/`;
        generated credentials go to a private temp file outside the run directory, deleted after."""
        from shopbench.grpc.credentials import write_env
        from shopbench.grpc.service import RefGrpc

        if links:
            raise UsageError("network faults need the services' links through the fault proxy; the reference gRPC "
                             "service has none (kill/pause faults work).")
        with ExitStack() as stack:
            users_file = self.users_file
            if users_file is None:
                users_file = write_env(self.creds)
                stack.callback(users_file.unlink, missing_ok=True)
            service = stack.enter_context(RefGrpc(run.file("service"), users_file, self.flaws,
                                                  self.token_ttl or REFERENCE_TOKEN_TTL))
            yield OwnService(GrpcTarget(service.target), service.supervisor)

    def populate(self, ctx: RunContext) -> None:
        from shopbench.grpc import load_settings as grpc_sessions
        from shopbench.grpc.client import GrpcClient
        from shopbench.grpc.probe import ExpiredToken, probe_plan
        from shopbench.grpc.protos import compile_dir, from_reflection
        from shopbench.grpc.service import reference_protos
        from shopbench.locust_plugin import session as sessions
        from shopbench.workload.seed004 import Login, list_all

        run, address, writer = ctx.run, str(ctx.target), ctx.writer
        own = ctx.shop is not None
        if self.proto is None and not own:
            self.catalog = from_reflection(address)  # the service's own description of itself, asked without a token
            run.manifest["config"]["proto"] = "server reflection"
        else:
            self.catalog = compile_dir(self.proto or reference_protos(), self.proto_includes)
        probe_plan(self.catalog, self.public)  # a --public name the service does not declare: said now
        setup = GrpcClient(address, self.catalog, writer, "state", deadline=self.deadline)
        try:
            with run.phase("baseline"):
                # Signed in before anything else: whether the list needs a token is the probe's to find out.
                if not Login(self.creds[0], self.token_ttl or 0.0).sign_in(setup):
                    raise TargetError(f"cannot sign in at {address} with the first credential: "
                                      f"{_last_error(writer, run)}.")
                self.expired = ExpiredToken.obtain(setup, Login(self.creds[0], self.token_ttl or 0.0))
                if not list_all(setup, "baseline"):
                    raise TargetError(f"cannot list the vacancies at {address}: {_last_error(writer, run)}.")
        finally:
            setup.close()  # no channel open across Locust's --processes fork
        self.session = sessions.Session(target=ctx.target, writer=writer, beside_load=ctx.beside_load, live=False,
                                        stop_timeout=self.deadline * STOP_TIMEOUT_DEADLINES)
        sessions.install(self.session)
        proto_dir = Path(self.proto) if self.proto else (reference_protos() if own else None)
        grpc_sessions.install(grpc_sessions.GrpcSession(address, proto_dir, self.creds, self.every, self.deadline,
                                                        self.catalog, self.proto_includes, self.token_ttl or 0.0))

    def load(self, ctx: RunContext) -> None:
        from shopbench.runner.stress import load_on_locust, locust_argv, session_totals

        run = ctx.run
        argv = locust_argv(run, ctx.target, self.args, LOCUSTFILE)
        locust_code = load_on_locust(run, argv)
        ctx.writer.flush()
        run.manifest["locust"] = {"argv": argv[1:], "exit_code": locust_code, **session_totals(self.session)}
        if self.session.history_incomplete:
            run.manifest["locust"]["history_incomplete"] = self.session.history_incomplete
        run.save_manifest()

    def check(self, ctx: RunContext) -> dict[str, Any]:
        from shopbench.grpc.client import GrpcClient
        from shopbench.grpc.probe import run_auth_probe
        from shopbench.workload.seed004 import Login, list_all

        run = ctx.run
        with run.phase("probe"):
            checker = GrpcClient(str(ctx.target), self.catalog, ctx.writer, "state", deadline=self.deadline)
            try:
                signed_in = Login(self.creds[0], self.token_ttl or 0.0).sign_in(checker)
                not_probed, public_from = run_auth_probe(checker, self.catalog, self.expired, self.expiry_wait,
                                                         self.public)
                final_ok = signed_in and list_all(checker, "final")
            finally:
                checker.close()
        with run.phase("check"):
            return judge(run, ctx.sections(), not_probed, self.every, final_ok, public_from)


def run_grpc(
    *,
    target: str | None = None,
    proto: str | Path | None = None,
    credentials: str | Path | None = None,
    every: dict[str, float],
    deadline: float = 5.0,
    flaws: Sequence[str] = (),
    token_ttl: float | None = None,
    proto_includes: Sequence[str | Path] = (),
    public: Sequence[str] = (),
    expiry_wait: float = 30.0,
    locust_args: Sequence[str] = (),
    out: str | Path | None = None,
    companions: Sequence[Companion] | None = None,
    nemesis: Any = None,
    on_run: Callable[[Path], None] | None = None,
) -> int:
    """One gRPC run; returns the exit code (0 valid, 1 invalid, 4 unknown). `companions` run beside
    the load as in a stress run (runner/companion.py); `nemesis(monitor)` is the older spelling."""
    from shopbench.grpc.credentials import generate, load_credentials

    if flaws and target:
        raise UsageError("--flaw applies to the reference gRPC service started for the run; drop --target or --flaw.")
    if credentials is None and Path(".env").is_file() and (target is not None or _has_users(Path(".env"))):
        credentials = ".env"  # seed 004 keeps them there; an unrelated .env does not stop a reference run
    users_file: Path | None = None
    if credentials is not None:
        creds, users_file = load_credentials(credentials), Path(credentials).resolve()
    elif target is None:
        creds = generate(3)  # written for the service once the run's clean-up is in place (own_target)
    else:
        raise UsageError("--target needs credentials: --credentials FILE (USER_n_EMAIL / USER_n_PASSWORD) or a .env "
                         "in the current directory.")
    # Locust patches the process first; then grpcio learns to cooperate with gevent.
    import locust  # noqa: F401

    from shopbench.grpc import load_settings as grpc_sessions
    from shopbench.locust_plugin import session as sessions

    args = list(locust_args)
    config = {"protocol": "grpc", "mix": "seed004", "target": target or "embedded refgrpc",
              "proto": str(proto) if proto else "refgrpc's own", "proto_include": [str(p) for p in proto_includes],
              "public": list(public), "every": every, "deadline": deadline,
              "flaws": list(flaws), "token_ttl": token_ttl or (REFERENCE_TOKEN_TTL if target is None else None),
              "credentials": {"source": str(credentials) if credentials else "generated", "count": len(creds)},
              "locust_args": args}

    def on_end(run: RunDir, status: str) -> None:
        sessions.install(None)
        grpc_sessions.install(None)
        if on_run is not None:
            on_run(run.path)
        if status in FINISHED:
            print_summary(run.read_json(VERDICT), run)

    steps = GrpcSteps(proto=proto, creds=creds, users_file=users_file, every=every, deadline=deadline, flaws=flaws,
                      token_ttl=token_ttl, expiry_wait=expiry_wait, args=args, proto_includes=proto_includes,
                      public=public)
    result = execute("grpc", out, config, steps, target=GrpcTarget(target) if target is not None else None,
                     flaw=None, companions=companions_of(companions, nemesis), on_end=on_end)
    return result.exit_code


def _has_users(env: Path) -> bool:
    from shopbench.grpc.credentials import USER_KEY, parse_env

    try:
        return any(USER_KEY.match(key) for key in parse_env(env.read_text(errors="replace")))
    except OSError:
        return False


def _last_error(writer: HistoryWriter, run: RunDir) -> str:
    writer.flush()
    ops = list(iter_history(run.file(OPS)))
    return ops[-1].get("error") or "no answer" if ops else "no answer"


def judge(run: RunDir, sections: dict[str, Any], not_probed: list[str], every: dict[str, float],
          final_ok: bool, public_from: str = "") -> dict[str, Any]:
    """verdict.json from the history: the vacancy and auth checks, the schedules' lateness, the
    companions' sections (the faults' recovery figures, resources), through the one assembler
    (`checker.verdict.assemble_verdict`)."""
    ops = list(iter_history(run.file(OPS)))
    verdict = grpc_verdict(ops, run.manifest, not_probed, every, final_ok, sections, public_from)
    run.write_json(VERDICT, verdict)
    return verdict


def grpc_verdict(ops: list[dict[str, Any]], manifest: dict[str, Any], not_probed: list[str],
                 every: dict[str, float], final_ok: bool, companion_sections: dict[str, Any],
                 public_from: str = "") -> dict[str, Any]:
    from shopbench.checker.auth import check_auth
    from shopbench.checker.vacancy import check_vacancies
    from shopbench.workload.seed004 import lateness

    vacancy, auth = check_vacancies(ops), check_auth(ops, not_probed)
    auth["not_probed"] = list(not_probed)
    auth["expected_public_from"] = public_from
    vacancy["final_list_ok"] = final_ok
    findings: dict[str, Any] = {"anomalies": vacancy.pop("anomalies") + auth.pop("anomalies"), "warnings": []}
    sections: dict[str, Any] = {"vacancy": vacancy, "auth": auth, "schedule": {"every_s": every, **lateness(ops)},
                                "load": {"stopped_early": manifest.get("stopped_early"),
                                         **(manifest.get("locust") or {})}}
    if not final_ok:
        sections["vacancy"].setdefault("unknown_reasons", []).append(
            "the final list of all vacancies failed: deleted vacancies were checked only against the load's lists")
    incomplete = (manifest.get("locust") or {}).get("history_incomplete")
    if incomplete:
        sections["load"]["unknown_reasons"] = [incomplete]
    if manifest.get("stopped_early"):
        findings["warnings"].append(f"{manifest['stopped_early']}: the verdict covers the load that ran")
    sections.update(companion_sections)
    return assemble_verdict("grpc", findings, sections)


def recheck_grpc(run: RunDir) -> dict[str, Any]:
    """The gRPC verdict again from the run directory's own ops.jsonl (`shopbench check`): what the
    run knew beside the history (the probe's skipped cases, the final list, the faults' figures) is
    carried over from its verdict.json."""
    from shopbench.runner.finish import CARRIED_SECTIONS

    previous = run.read_json(VERDICT) if run.file(VERDICT).exists() else {}
    # `load` is read again from run.json; the faults' sections are carried over as they were.
    faults = {name: previous[name] for name in CARRIED_SECTIONS if name in previous and name != "load"}
    return grpc_verdict(list(iter_history(run.file(OPS))), run.manifest,
                        (previous.get("auth") or {}).get("not_probed", []),
                        run.manifest.get("config", {}).get("every") or {},
                        (previous.get("vacancy") or {}).get("final_list_ok", True), faults,
                        (previous.get("auth") or {}).get("expected_public_from", ""))


def print_summary(verdict: dict[str, Any], run: RunDir, max_rows: int = 20) -> None:
    for a in verdict.get("anomalies", [])[:max_rows]:
        console.print(f"[red]{a['type']}[/]: {a['message']}")
    if verdict.get("anomaly_count", 0) > max_rows:
        console.print(f"… and {verdict['anomaly_count'] - max_rows} more, see verdict.json")
    for fault in verdict.get("faults") or ():
        console.print(f"fault {fault.get('fault')}: {fault.get('action')} {fault.get('service')}, outage "
                      f"{fault.get('outage_s')} s, answered again {fault.get('time_to_answer_s')} s after the restore")
    print_schedule(verdict.get("schedule") or {})
    for reason in verdict.get("unknown_reasons") or ():
        console.print(f"[yellow]unknown:[/] {reason}")
    for warning in verdict.get("warnings") or ():
        console.print(f"[yellow]warning:[/] {warning}")
    counts = (verdict.get("vacancy") or {}).get("counts") or {}
    result = result_of(verdict).upper()
    detail = {"VALID": "every vacancy check and the auth probe passed",
              "INVALID": f"{verdict.get('anomaly_count', 0)} anomalies",
              "UNKNOWN": "nothing wrong found, but not every check could judge"}[result]
    console.print(f"[bold]{result}[/]: {detail} ({counts.get('created', 0)} vacancies created, "
                  f"{counts.get('indeterminate', 0)} indeterminate calls).")
    console.print(f"run directory: {run.path}")
    if run.file("report.html").exists():
        console.print(f"report: {run.file('report.html')}")


def print_schedule(schedule: dict[str, Any]) -> None:
    for name in ("crud", "list"):
        s = schedule.get(name)
        if s:
            late = s["lateness_ms"]
            console.print(f"schedule {name} every {schedule['every_s'][name]:g} s: {s['starts']} starts, lateness "
                          f"p50 {late['p50']} ms, p99 {late['p99']} ms, max {late['max']} ms")
