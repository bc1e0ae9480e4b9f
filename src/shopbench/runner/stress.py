"""The order of a stress run: set up → populate → load on Locust (+ nemesis) → settle → read the
final state → ledger check → SLOs → verdict.

Load runs through Locust's own command line (`locust.main.main`) with the shopbench locustfile (or
the user's `-f`), so its flags, web UI, `--processes`, `--master`/`--worker`, CSV and HTML behave
exactly as Locust users know them. Locust is imported here, lazily, because importing it
monkey-patches the process; nothing the other commands import may pull it in.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from shopbench.checker.slo import Slo, evaluate, measure, parse_slos
from shopbench.checker.verdict import exit_code, result_of
from shopbench.driver import connect
from shopbench.errors import TargetError, UsageError
from shopbench.history import HistoryWriter, iter_history
from shopbench.report.terminal import print_summary
from shopbench.rundir import OPS, VERDICT, RunDir
from shopbench.runner.finish import finish_run, write_report
from shopbench.shop import RefShop
from shopbench.stress.config import StressConfig
from shopbench.target import Target
from shopbench.workload.populate import create_each
from shopbench.workload.skew import IdRange, Pool

LOCUSTFILE = Path(__file__).resolve().parent.parent / "stress" / "locustfile.py"
POPULATE = "populate"
WORKERS = 32  # concurrent requests while populating
console = Console(stderr=True, highlight=False)


# -- populate ------------------------------------------------------------------------------------
def populate(target: Target, cfg: StressConfig, listener: Any) -> Pool:
    """Create what the mix shares, recorded in the history (the ledger counts it as money and stock
    put in): a pool of items and users, the hot items, or seed 000's 2024 batch_init database."""
    pool = Pool()
    if not (cfg.needs_pool or cfg.needs_hot or cfg.needs_batch):
        return pool
    driver = connect(target, listener, timeout=max(cfg.timeout, 30.0), concurrency=WORKERS, process=POPULATE)
    try:
        if cfg.needs_batch:
            for what, out in (
                ("stock", lambda: driver.batch_init_stock(cfg.init_items, cfg.init_stock, cfg.init_price, expect="ok")),
                ("payment", lambda: driver.batch_init_users(cfg.init_users, cfg.init_credit, expect="ok")),
                ("order", lambda: driver.batch_init_orders(cfg.init_orders, cfg.init_items, cfg.init_users,
                                                           cfg.init_price, expect="ok")),
            ):
                result = out()
                if not result.ok:
                    raise TargetError(f"populating with batch_init failed on the {what} service "
                                      f"({result.status or 'no answer'}: {result.error}).")
            pool.items, pool.users, pool.orders = (IdRange(cfg.init_items), IdRange(cfg.init_users),
                                                   IdRange(cfg.init_orders))
            return pool

        def items(n: int, stock: int, what: str) -> list[str]:
            add = (lambda _, iid: driver.add_stock(iid, stock, expect="ok")) if stock else None
            return create_each(n, lambda _: driver.create_item(cfg.pool_price, expect="ok"), "item_id", add,
                               WORKERS, None, what)

        pool.items = items(cfg.pool_items, cfg.pool_stock, "populate items") if cfg.needs_pool else []
        fund = (lambda _, uid: driver.add_funds(uid, cfg.pool_credit, expect="ok")) if cfg.pool_credit else None
        pool.users = create_each(cfg.pool_users, lambda _: driver.create_user(expect="ok"), "user_id", fund,
                                 WORKERS, None, "populate users")
        if cfg.needs_hot:
            pool.hot_items = items(cfg.hot_items, cfg.hot_stock, "populate hot items")
        return pool
    finally:
        driver.transport.close()


# -- Locust --------------------------------------------------------------------------------------
@contextmanager
def _ctrl_c_noted() -> Iterator[list[bool]]:
    """Yields a list that holds True once a SIGINT arrived; the signal itself goes on to Locust."""
    noted: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum: int, frame: Any) -> None:
        noted.append(True)
        handler = previous if callable(previous) else signal.default_int_handler
        handler(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        if signal.getsignal(signal.SIGINT) is note:
            signal.signal(signal.SIGINT, previous)


def run_locust(argv: list[str]) -> int:
    """Run Locust's own main with `argv`; its exit code. A `--processes` child never returns from
    here: it leaves with `os._exit` so none of the parent's clean-up runs twice."""
    import locust.main

    pid = os.getpid()
    saved = sys.argv
    sys.argv = argv
    code = 0
    try:
        locust.main.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        if os.getpid() != pid:
            os._exit(1)
        raise
    finally:
        sys.argv = saved
    if os.getpid() != pid:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _kill_locust_greenlets()
    return code


def _kill_locust_greenlets() -> None:
    """Locust expects its process to exit after `main`; ours goes on to settle and check, so the
    background greenlets it left (CSV writer, stats history, input listener, our live line) must
    not wake up and write to files it already closed."""
    import gc

    import gevent

    stale = []
    for obj in gc.get_objects():
        if isinstance(obj, gevent.Greenlet) and not obj.dead:
            run = getattr(obj, "_run", None)
            module = getattr(run, "__module__", "") or getattr(getattr(run, "__func__", None), "__module__", "")
            if module.startswith(("locust", "shopbench.stress")):
                stale.append(obj)
    gevent.killall(stale, block=True, timeout=5)


def _flag_value(args: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _has(args: Sequence[str], *names: str) -> bool:
    return any(a in names or any(a.startswith(n + "=") for n in names) for a in args)


def locust_argv(cfg: StressConfig, run: RunDir | None, target: Target, args: Sequence[str],
                locustfile: Path | None) -> list[str]:
    argv = ["locust", "-f", str(locustfile or LOCUSTFILE), "--host", target.order_url]
    extra = list(args)
    if run is not None:
        argv += ["--csv", str(run.file("locust")), "--html", str(run.file("locust.html"))]
    if not _has(extra, "--stop-timeout"):
        # Let iterations in flight finish, so the history ends with completed operations.
        extra += ["--stop-timeout", str(int(cfg.timeout))]
    if _has(extra, "--headless") and not _has(extra, "--print-stats", "--only-summary"):
        extra += ["--only-summary"]  # our live line replaces Locust's periodic tables
    if cfg.arrival_rate and not _has(extra, "-u", "--users"):
        extra += ["-u", str(cfg.generators), "-r", str(cfg.generators)]
    return argv + extra


def _generators(args: Sequence[str]) -> int:
    for names in (("-u", "--users"), ("--processes",), ("--expect-workers",)):
        value = _flag_value(args, *names)
        if value and value.lstrip("-").isdigit() and int(value) > 0:
            return int(value)
    return 1


# -- the run -------------------------------------------------------------------------------------
def run_stress(
    cfg: StressConfig,
    *,
    urls: str | Path | None = None,
    flaw: str | None = None,
    out: str | Path | None = None,
    settle_timeout: float = 30.0,
    slos: Sequence[str] = (),
    slo_presets: Sequence[str] = (),
    locust_args: Sequence[str] = (),
    locustfile: str | Path | None = None,
    user_csv: str | None = None,
    user_html: str | None = None,
    nemesis: Any = None,
    config_extra: dict[str, Any] | None = None,
) -> int:
    """One stress run; returns the exit code (0 valid, 1 an anomaly or a failed SLO).

    `nemesis`, if given, is called as `nemesis(monitor)` when the load starts and must return a
    context manager; it is exited when the load stops. `monitor` is the master's (or the local
    process's) `LoadMonitor`, fed with every operation of every worker and with the user count.
    """
    parsed_slos = parse_slos(slos, slo_presets)
    if flaw and urls:
        raise UsageError("--flaw applies to the embedded reference shop only; leave out --urls to use it.")
    if locustfile is not None and not Path(locustfile).is_file():
        raise UsageError(f"-f {locustfile}: no such locustfile.")
    args = list(locust_args)
    worker = _has(args, "--worker")
    if cfg.arrival_rate:
        cfg.generators = _generators(args)
    # Import Locust (and its monkey-patching) before anything starts threads or sockets.
    import locust  # noqa: F401

    from shopbench.stress import session as sessions

    if worker:
        if urls is None:
            raise UsageError("--worker needs --urls urls.json: a worker does not start a shop of its own.")
        target = Target.load(urls)
        sessions.install(sessions.Session(target=target, config=cfg, remote_worker=True))
        return run_locust(locust_argv(cfg, None, target, args, Path(locustfile) if locustfile else None))

    config = {"stress": cfg.to_dict(), "urls": str(urls) if urls else None, "flaw": flaw, "slo": list(slos),
              "slo_preset": list(slo_presets), "locust_args": args, "settle_timeout": settle_timeout,
              "locustfile": str(locustfile) if locustfile else None, **(config_extra or {})}
    run = RunDir.create("stress", out, config)
    status, code = "crashed", None
    try:
        with ExitStack() as stack:
            shop: RefShop | None = None
            if urls is not None:
                target = Target.load(urls)
            else:
                with run.phase("start-shop"):
                    shop = RefShop(run.file("shop"), flaw=flaw, links=getattr(nemesis, "wants_links", False))
                    stack.enter_context(shop)
                    target = shop.target
            run.manifest["target"] = target.as_dict()
            run.save_manifest()
            bind = getattr(nemesis, "bind", None)  # a fault hook chooses its backend once the shop exists
            if bind is not None:
                bind(run, shop.supervisor if shop is not None else None)
            writer = stack.enter_context(HistoryWriter(run.file(OPS)))
            with run.phase("populate"):
                pool = populate(target, cfg, writer)
            writer.flush()
            session = sessions.Session(target=target, config=cfg, pool=pool, writer=writer, nemesis=nemesis)
            sessions.install(session)
            argv = locust_argv(cfg, run, target, args, Path(locustfile) if locustfile else None)
            with run.phase("load"), _ctrl_c_noted() as ctrl_c:
                locust_code = run_locust(argv)
            if ctrl_c:
                # Locust's Ctrl-C is a graceful stop: what ran is settled and checked like any load,
                # but the run says it was cut short.
                run.manifest["stopped_early"] = "Ctrl-C (SIGINT) stopped the load before its end"
            writer.close()
            _copy_outputs(run, user_csv, user_html)
            run.manifest["locust"] = {"argv": argv[1:], "exit_code": locust_code, **session_totals(session)}
            run.save_manifest()
            with run.phase("check"):
                verdict = finish(run, target, parsed_slos, settle_timeout, session, nemesis)
        code = exit_code(verdict)
        status = result_of(verdict)
        return code
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        sessions.install(None)
        run.finish(status, code)
        write_report(run, partial=status not in ("valid", "invalid", "unknown"))
        if status in ("valid", "invalid", "unknown"):
            print_summary(console, run.read_json(VERDICT), run.manifest, str(run.path))


def session_totals(session: Any) -> dict[str, Any]:
    from shopbench.stress.recording import recorder

    return {"requests": session.locust_requests, "failures": session.locust_failures,
            "dropped": recorder.dropped, "history_ops": session.writer.count if session.writer else None}


def _copy_outputs(run: RunDir, user_csv: str | None, user_html: str | None) -> None:
    if user_csv:
        base = Path(user_csv)
        base.parent.mkdir(parents=True, exist_ok=True)
        for f in run.path.glob("locust_*.csv"):
            shutil.copy(f, base.parent / (base.name + f.name[len("locust"):]))
    if user_html and run.file("locust.html").exists():
        Path(user_html).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(run.file("locust.html"), user_html)


def finish(run: RunDir, target: Target, slos: list[Slo], settle_timeout: float, session: Any,
           nemesis: Any = None) -> dict[str, Any]:
    """Settle, read the final state and ledger-check (`finish_run`), with the SLOs judged on the
    load's latencies and on what the ledger found (overselling, negative stock)."""
    from shopbench.stress.recording import recorder

    load = {"dropped": recorder.dropped, "locust_requests": session.locust_requests,
            "locust_failures": session.locust_failures, "stopped_early": run.manifest.get("stopped_early")}
    fault_extra = getattr(nemesis, "verdict_extra", None)

    def slo_section(verdict: dict[str, Any]) -> dict[str, Any]:
        measured = measure(iter_history(run.file(OPS)), dropped=recorder.dropped)
        measured.negative_stock = int(verdict["anomaly_types"].get("negative_stock", 0))
        measured.overselling = measured.negative_stock + sum(
            1 for a in verdict["anomalies"]
            if a.get("type") == "stock_drift" and a.get("direction") == "missing_stock_movement")
        if run.manifest.get("stopped_early"):
            verdict["warnings"].append(
                f"{run.manifest['stopped_early']}: the verdict covers the load that ran, not the planned one")
        return {"slo": evaluate(slos, measured)}

    return finish_run(run, target, None, settle_timeout=settle_timeout, late_sections=slo_section,
                      extra={"load": load, **(fault_extra() if fault_extra is not None else {})})
