"""A stress run's steps in the one run order (runner/skeleton.py): populate -> load on Locust
(companions beside it, from Locust's test_start to its test_stop) -> settle -> read the final
state -> ledger check -> SLOs -> verdict.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from shopbench.checker.slo import Slo, evaluate, measure, parse_slos
from shopbench.doctor.needs import operations_of
from shopbench.driver import connect
from shopbench.driver.contract import check_at_door, operations_needed
from shopbench.driver.inflight import IN_FLIGHT
from shopbench.errors import TargetError, UsageError
from shopbench.history import iter_history
from shopbench.locust_plugin.config import StressConfig
from shopbench.report.terminal import print_summary
from shopbench.rundir import OPS, VERDICT, RunDir
from shopbench.runner.companion import Companion
from shopbench.runner.finish import finish_run
from shopbench.runner.skeleton import FINISHED, RunContext, companions_of, execute
from shopbench.target import Target
from shopbench.workload.populate import create_each
from shopbench.workload.skew import IdRange, Pool

LOOPBACK = "127.0.0.1"
LOCUSTFILE = Path(__file__).resolve().parent.parent / "locust_plugin" / "locustfile.py"
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
def ctrl_c_noted() -> Iterator[list[bool]]:
    """Yields a list that holds True once a SIGINT arrived; the signal itself goes on to Locust."""
    noted: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum: int, frame: Any) -> None:
        noted.append(True)
        IN_FLIGHT.ending = "user stopped by Ctrl-C with the request in flight"
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
    from shopbench.locust_plugin import internals

    pid = os.getpid()
    code = 0
    try:
        internals.run_main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        if os.getpid() != pid:
            os._exit(1)
        raise
    if os.getpid() != pid:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    internals.kill_greenlets()
    return code


def locust_argv(run: RunDir | None, target: Target | Any, args: Sequence[str], locustfile: Path | None) -> list[str]:
    """Locust's command line: the locustfile, the target (a REST target's order URL, else the
    target as text: a gRPC HOST:PORT), our CSV/HTML in the run directory, the master's control port
    on loopback (`local_master`), and the user's flags unchanged (shopbench's defaults for Locust's
    options: locust_plugin/options.py)."""
    host = target.order_url if isinstance(target, Target) else str(target)
    argv = ["locust", "-f", str(locustfile or LOCUSTFILE), "--host", host]
    if run is not None:
        argv += ["--csv", str(run.file("locust")), "--html", str(run.file("locust.html"))]
    return argv + local_master(args) + list(args)


def _given(args: Sequence[str], *flags: str) -> bool:
    return any(a in flags or a.split("=", 1)[0] in flags for a in args)


def local_master(args: Sequence[str]) -> list[str]:
    """A local run's master (`--processes N` forks N workers that connect back) listens on loopback
    on a free port: Locust's default is every interface on 5557, a control port opened to the
    network unasked, and a second run on the same machine fails to bind it. Nothing is added for a
    distributed run (`--master` / `--worker`: Locust's own options and defaults, as its users know
    them) or where the user chose the address; without --processes Locust ignores these options."""
    if _given(args, "--master", "--worker", "--master-bind-host", "--master-bind-port", "--master-port",
              "--master-host"):
        return []
    from shopbench.processes import free_port  # free now; Locust's master binds it a moment later

    port = free_port(LOOPBACK)
    return ["--master-bind-host", LOOPBACK, "--master-bind-port", str(port), "--master-host", LOOPBACK,
            "--master-port", str(port)]



def load_on_locust(run: RunDir, argv: list[str]) -> int:
    """The run's `load` phase: Locust's main with `argv`, Ctrl-C noted; Locust's exit code.
    Locust's Ctrl-C is a graceful stop: what ran is settled and checked like any load, but the
    run says it was cut short (`stopped_early` in run.json)."""
    with run.phase("load"), ctrl_c_noted() as ctrl_c:
        code = run_locust(argv)
    if ctrl_c:
        run.manifest["stopped_early"] = "Ctrl-C (SIGINT) stopped the load before its end"
    return code


# -- the run -------------------------------------------------------------------------------------
class StressSteps:
    def __init__(self, cfg: StressConfig, args: list[str], locustfile: Path | None, slos: list[Slo],
                 settle_timeout: float, user_csv: str | None, user_html: str | None):
        self.cfg, self.args, self.locustfile, self.slos = cfg, args, locustfile, slos
        self.settle_timeout, self.user_csv, self.user_html = settle_timeout, user_csv, user_html
        self.session: Any = None

    def populate(self, ctx: RunContext) -> None:
        from shopbench.locust_plugin import session as sessions

        with ctx.run.phase("populate"):
            pool = populate(ctx.target, self.cfg, ctx.writer)
            check_at_door(ctx.target, operations_needed() if self.locustfile else operations_of(self.cfg), timeout=5.0)
        self.session = sessions.Session(target=ctx.target, config=self.cfg, pool=pool, writer=ctx.writer,
                                        beside_load=ctx.beside_load)
        sessions.install(self.session)

    def load(self, ctx: RunContext) -> None:
        run = ctx.run
        argv = locust_argv(run, ctx.target, self.args, self.locustfile)
        locust_code = load_on_locust(run, argv)
        ctx.writer.flush()
        _copy_outputs(run, self.user_csv, self.user_html)
        run.manifest["locust"] = {"argv": argv[1:], "exit_code": locust_code, **session_totals(self.session)}
        run.save_manifest()

    def check(self, ctx: RunContext) -> dict[str, Any]:
        with ctx.run.phase("check"):
            return finish(ctx.run, ctx.target, self.slos, self.settle_timeout, self.session, ctx.sections(),
                          listener=ctx.writer)


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
    companions: Sequence[Companion] | None = None,
    nemesis: Any = None,
    config_extra: dict[str, Any] | None = None,
    summary: bool = True,
    on_run: Callable[[Path], None] | None = None,
) -> int:
    """One stress run; returns the exit code (0 valid, 1 invalid, 4 unknown).

    `companions` run beside the load (runner/companion.py): bound once the shop exists, entered at
    Locust's test_start with the master's (or the local process's) `LoadMonitor`, which sees every
    operation of every worker and the user count, left at its test_stop; their sections join the
    verdict. `nemesis(monitor)`, a plain context-manager factory, is the older spelling of one.
    """
    parsed_slos = parse_slos(slos, slo_presets)
    if flaw and urls:
        raise UsageError("--flaw applies to the embedded reference shop only; leave out --urls to use it.")
    if locustfile is not None and not Path(locustfile).is_file():
        raise UsageError(f"-f {locustfile}: no such locustfile.")
    args = list(locust_args)
    own_file = Path(locustfile) if locustfile else None
    # Import Locust (and its monkey-patching) before anything starts threads or sockets.
    import locust  # noqa: F401

    from shopbench.locust_plugin import session as sessions

    if "--worker" in args:
        if urls is None:
            raise UsageError("--worker needs --urls urls.json: a worker does not start a shop of its own.")
        target = Target.load(urls)
        sessions.install(sessions.Session(target=target, config=cfg, remote_worker=True))
        return run_locust(locust_argv(None, target, args, own_file))

    config = {"stress": cfg.to_dict(), "urls": str(urls) if urls else None, "flaw": flaw, "slo": list(slos),
              "slo_preset": list(slo_presets), "locust_args": args, "settle_timeout": settle_timeout,
              "locustfile": str(locustfile) if locustfile else None, **(config_extra or {})}

    def on_end(run: RunDir, status: str) -> None:
        sessions.install(None)
        if on_run is not None:
            on_run(run.path)
        if summary and status in FINISHED:
            print_summary(console, run.read_json(VERDICT), run.manifest, str(run.path))

    steps = StressSteps(cfg, args, own_file, parsed_slos, settle_timeout, user_csv, user_html)
    result = execute("stress", out, config, steps, target=Target.load(urls) if urls is not None else None,
                     flaw=flaw, companions=companions_of(companions, nemesis), on_end=on_end)
    return result.exit_code


def session_totals(session: Any) -> dict[str, Any]:
    from shopbench.locust_plugin.shipping import shipping

    return {"requests": session.locust_requests, "failures": session.locust_failures,
            "dropped": shipping.dropped, "history_ops": session.writer.count if session.writer else None}


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
           sections: dict[str, Any] | None = None, listener: Any = None) -> dict[str, Any]:
    """Settle, read the final state and ledger-check (`finish_run`), with the SLOs judged on the
    load's latencies and on what the ledger found (overselling, negative stock), and the
    companions' sections. A history known to be incomplete makes the run UNKNOWN."""
    from shopbench.locust_plugin.shipping import shipping

    load: dict[str, Any] = {"dropped": shipping.dropped, "locust_requests": session.locust_requests,
                            "locust_failures": session.locust_failures,
                            "stopped_early": run.manifest.get("stopped_early")}
    if session.history_incomplete:
        load["unknown_reasons"] = [session.history_incomplete]

    def slo_section(verdict: dict[str, Any]) -> dict[str, Any]:
        measured = measure(iter_history(run.file(OPS)), dropped=shipping.dropped)
        measured.negative_stock = int(verdict["anomaly_types"].get("negative_stock", 0))
        measured.overselling = len(verdict.get("oversold_items") or ())  # the ledger's count of oversold items
        if run.manifest.get("stopped_early"):
            verdict["warnings"].append(
                f"{run.manifest['stopped_early']}: the verdict covers the load that ran, not the planned one")
        return {"slo": evaluate(slos, measured)}

    return finish_run(run, target, None, settle_timeout=settle_timeout, late_sections=slo_section,
                      extra={"load": load, **(sections or {})}, listener=listener)
