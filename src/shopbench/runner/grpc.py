"""The order of a gRPC run: start the reference service (unless --target) -> compile the protos ->
sign in and read the baseline -> load on Locust (+ nemesis) -> auth probe -> final list ->
checks -> verdict.

The same run directory, history, fault hook, Locust invocation, verdict rules, report and exit
codes as a stress run; only the protocol, the workload and the checks are gRPC's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from shopbench.checker.verdict import VERDICT_VERSION, add_sections, exit_code, result_of
from shopbench.errors import TargetError, UsageError
from shopbench.history import HistoryWriter, iter_history
from shopbench.rundir import OPS, VERDICT, RunDir
from shopbench.runner.finish import write_report

LOCUSTFILE = Path(__file__).resolve().parent.parent / "grpc" / "locustfile.py"
console = Console(stderr=True, highlight=False)


def _has(args: Sequence[str], *names: str) -> bool:
    return any(a in names or any(a.startswith(n + "=") for n in names) for a in args)


def run_grpc(
    *,
    target: str | None = None,
    proto: str | Path | None = None,
    credentials: str | Path | None = None,
    every: dict[str, float],
    deadline: float = 5.0,
    flaws: Sequence[str] = (),
    token_ttl: float = 10.0,
    expiry_wait: float = 30.0,
    locust_args: Sequence[str] = (),
    out: str | Path | None = None,
    nemesis: Any = None,
) -> int:
    from shopbench.grpc.credentials import generate, load_credentials, write_env
    from shopbench.grpc.service import RefGrpc, reference_protos

    if flaws and target:
        raise UsageError("--flaw applies to the reference gRPC service started for the run; drop --target or --flaw.")
    if credentials is None and Path(".env").is_file() and (target is not None or _has_users(Path(".env"))):
        credentials = ".env"  # seed 004 keeps them there; an unrelated .env does not stop a reference run
    users_file: Path | None = None
    if credentials is not None:
        creds, users_file = load_credentials(credentials), Path(credentials).resolve()
    elif target is None:
        creds = generate(3)  # written for the service once the run's clean-up is in place
    else:
        raise UsageError("--target needs credentials: --credentials FILE (USER_n_EMAIL / USER_n_PASSWORD) or a .env "
                         "in the current directory.")
    # Locust patches the process first; then grpcio learns to cooperate with gevent.
    import locust  # noqa: F401

    from shopbench.grpc import session as grpc_sessions
    from shopbench.grpc.client import GrpcClient
    from shopbench.grpc.probe import ExpiredToken, run_auth_probe
    from shopbench.grpc.protos import compile_dir, from_reflection
    from shopbench.runner.stress import _ctrl_c_noted, run_locust
    from shopbench.stress import session as stress_sessions
    from shopbench.workload.seed004 import Login, list_all

    args = list(locust_args)
    config = {"protocol": "grpc", "mix": "seed004", "target": target or "embedded refgrpc",
              "proto": str(proto) if proto else "refgrpc's own", "every": every, "deadline": deadline,
              "flaws": list(flaws), "token_ttl": token_ttl if target is None else None,
              "credentials": {"source": str(credentials) if credentials else "generated", "count": len(creds)},
              "locust_args": args}
    run = RunDir.create("grpc", out, config)
    status, code = "crashed", None
    try:
        with ExitStack() as stack:
            if users_file is None:
                users_file = write_env(creds)
                stack.callback(users_file.unlink, missing_ok=True)
            service = None
            if target is None:
                with run.phase("start-service"):
                    service = stack.enter_context(RefGrpc(run.file("service"), users_file, list(flaws), token_ttl))
                    target = service.target
            run.manifest["target"] = {"grpc": target}
            run.save_manifest()
            if proto is None and service is None:
                catalog = from_reflection(target)  # the service's own description of itself
                run.manifest["config"]["proto"] = "server reflection"
            else:
                catalog = compile_dir(proto or reference_protos())
            bind = getattr(nemesis, "bind", None)
            if bind is not None:
                bind(run, service.supervisor if service is not None else None)
            writer = stack.enter_context(HistoryWriter(run.file(OPS)))
            setup = GrpcClient(target, catalog, writer, "state", deadline=deadline)
            with run.phase("baseline"):
                expired = ExpiredToken.obtain(setup, Login(creds[0]))
                if expired.why_not and "failed" in expired.why_not:
                    raise TargetError(f"cannot sign in at {target} with the first credential: "
                                      f"{_last_error(writer, run)}.")
                setup.token = expired.token
                if not list_all(setup, "baseline"):
                    raise TargetError(f"cannot list the vacancies at {target}: {_last_error(writer, run)}.")
            setup.close()  # no channel open across Locust's --processes fork
            writer.flush()
            stress_sessions.install(stress_sessions.Session(target=None, writer=writer, nemesis=nemesis, live=False))
            proto_dir = Path(proto) if proto else (reference_protos() if service is not None else None)
            grpc_sessions.install(grpc_sessions.GrpcSession(target, proto_dir, creds, every,
                                                            deadline, _processes(args), catalog))
            argv = ["locust", "-f", str(LOCUSTFILE), "--host", target, "--csv", str(run.file("locust")),
                    "--html", str(run.file("locust.html")), *args]
            if not _has(args, "--stop-timeout"):
                argv += ["--stop-timeout", str(int(deadline * 6))]  # a flow in flight finishes its calls
            if _has(args, "--headless") and not _has(args, "--print-stats", "--only-summary"):
                argv += ["--only-summary"]
            with run.phase("load"), _ctrl_c_noted() as ctrl_c:
                locust_code = run_locust(argv)
            if ctrl_c:
                run.manifest["stopped_early"] = "Ctrl-C (SIGINT) stopped the load before its end"
            sess = stress_sessions.current()
            run.manifest["locust"] = {"argv": argv[1:], "exit_code": locust_code,
                                      "requests": sess.locust_requests, "failures": sess.locust_failures}
            with run.phase("probe"):
                checker = GrpcClient(target, catalog, writer, "state", deadline=deadline)
                stack.callback(checker.close)
                Login(creds[0]).sign_in(checker)
                not_probed = run_auth_probe(checker, catalog, expired, expiry_wait)
                final_ok = list_all(checker, "final")
            writer.close()
            with run.phase("check"):
                verdict = judge(run, nemesis, not_probed, every, final_ok)
        code = exit_code(verdict)
        status = result_of(verdict)
        return code
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except (UsageError, TargetError) as exc:
        run.manifest["error"] = str(exc)
        status, code = "error", exc.exit_code
        raise
    finally:
        with contextlib.suppress(Exception):
            stress_sessions.install(None)
            grpc_sessions.install(None)
        run.finish(status, code)
        write_report(run, partial=status not in ("valid", "invalid", "unknown"))
        if status in ("valid", "invalid", "unknown"):
            print_summary(run.read_json(VERDICT), run)


def _has_users(env: Path) -> bool:
    from shopbench.grpc.credentials import USER_KEY, parse_env

    try:
        return any(USER_KEY.match(key) for key in parse_env(env.read_text(errors="replace")))
    except OSError:
        return False


def _processes(args: Sequence[str]) -> int:
    from shopbench.runner.stress import _flag_value

    value = _flag_value(args, "--processes")
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def _last_error(writer: HistoryWriter, run: RunDir) -> str:
    writer.flush()
    ops = list(iter_history(run.file(OPS)))
    return ops[-1].get("error") or "no answer" if ops else "no answer"


def judge(run: RunDir, nemesis: Any, not_probed: list[str], every: dict[str, float], final_ok: bool) -> dict[str, Any]:
    """verdict.json from the history: the vacancy and auth checks, the schedules' lateness, the
    faults' recovery figures; one rule for the result (`add_sections`)."""
    ops = list(iter_history(run.file(OPS)))
    fault_extra = getattr(nemesis, "verdict_extra", None)
    verdict = grpc_verdict(ops, run.manifest, not_probed, every, final_ok,
                           fault_extra(ops) if fault_extra is not None else {})
    run.write_json(VERDICT, verdict)
    return verdict


def grpc_verdict(ops: list[dict[str, Any]], manifest: dict[str, Any], not_probed: list[str],
                 every: dict[str, float], final_ok: bool, fault_sections: dict[str, Any]) -> dict[str, Any]:
    from shopbench.checker.auth import check_auth
    from shopbench.checker.vacancy import check_vacancies
    from shopbench.workload.seed004 import lateness

    vacancy, auth = check_vacancies(ops), check_auth(ops, not_probed)
    auth["not_probed"] = list(not_probed)
    vacancy["final_list_ok"] = final_ok
    anomalies = vacancy.pop("anomalies") + auth.pop("anomalies")
    types: dict[str, int] = {}
    for a in anomalies:
        types[a["type"]] = types.get(a["type"], 0) + 1
    verdict: dict[str, Any] = {"version": VERDICT_VERSION, "checker": "grpc", "valid": True, "anomalies": anomalies,
                               "anomaly_count": len(anomalies), "anomaly_types": types, "warnings": []}
    sections: dict[str, Any] = {"vacancy": vacancy, "auth": auth, "schedule": {"every_s": every, **lateness(ops)},
                                "load": {"stopped_early": manifest.get("stopped_early"),
                                         **(manifest.get("locust") or {})}}
    if not final_ok:
        sections["vacancy"].setdefault("unknown_reasons", []).append(
            "the final list of all vacancies failed: deleted vacancies were checked only against the load's lists")
    if manifest.get("stopped_early"):
        verdict["warnings"].append(f"{manifest['stopped_early']}: the verdict covers the load that ran")
    sections.update(fault_sections)
    return add_sections(verdict, sections)


def recheck_grpc(run: RunDir) -> dict[str, Any]:
    """The gRPC verdict again from the run directory's own ops.jsonl (`shopbench check`): what the
    run knew beside the history (the probe's skipped cases, the final list, the faults' figures) is
    carried over from its verdict.json."""
    previous = run.read_json(VERDICT) if run.file(VERDICT).exists() else {}
    faults = {name: previous[name] for name in ("faults", "faults_not_fired") if name in previous}
    return grpc_verdict(list(iter_history(run.file(OPS))), run.manifest,
                        (previous.get("auth") or {}).get("not_probed", []),
                        run.manifest.get("config", {}).get("every") or {},
                        (previous.get("vacancy") or {}).get("final_list_ok", True), faults)


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
