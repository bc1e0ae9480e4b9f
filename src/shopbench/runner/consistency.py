"""The order of a consistency run: set up -> probe -> populate -> orders -> burst -> settle ->
read -> check -> verdict.

Without a target the reference shop is started in `<run>/shop` for the run and stopped after,
whatever happens (an error, Ctrl-C). `during_burst(monitor)` lets a fault runner put its
nemesis around the burst: it returns a context manager entered just before the first checkout
and left when the last one has answered.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from typing import Any

from shopbench.checker.verdict import exit_code, result_of
from shopbench.driver import GeventTransport, RestDriver, connect, new_driver
from shopbench.errors import ShopbenchError, TargetError, UsageError
from shopbench.history import HistoryWriter, OpListener, tee
from shopbench.monitor import LoadMonitor
from shopbench.rundir import OPS, RunDir
from shopbench.runner.finish import finish_run, write_report
from shopbench.shop import RefShop
from shopbench.target import Target
from shopbench.workload.consistency import ConsistencyConfig, create_orders, fire_checkouts, plan_orders
from shopbench.workload.populate import populate_items, populate_users

DuringBurst = Callable[[LoadMonitor], AbstractContextManager[Any]]
SETUP_POOL = 128  # concurrent requests while populating, creating orders and reading state
PROBE_ID = "shopbench-probe-0"


@dataclass
class RunResult:
    run: RunDir
    verdict: dict[str, Any]
    exit_code: int


def probe(target: Target, listener: OpListener | None, timeout: float) -> None:
    """One read per service of an id that does not exist: any HTTP answer but garbage will do."""
    driver = connect(target, listener, timeout=min(timeout, 5.0), concurrency=1, process="probe")
    try:
        for service, url, read in (("stock", target.stock_url, driver.find_item),
                                   ("payment", target.payment_url, driver.find_user),
                                   ("order", target.order_url, driver.find_order)):
            out = read(PROBE_ID)
            if out.kind == "info" and out.status is None:
                raise TargetError(f"cannot reach the {service} service at {url}: {out.error}.")
            if out.kind == "info" and out.status is not None and 200 <= out.status < 300:
                raise TargetError(f"the {service} service at {url} does not speak the shop API: it answered "
                                  f"{out.status} to a read of an unknown id with {out.error}.")
    finally:
        driver.transport.close()


def run_consistency(
    cfg: ConsistencyConfig,
    *,
    target: Target | None = None,
    flaw: str | None = None,
    out: str | None = None,
    during_burst: DuringBurst | None = None,
    progress: Any = None,
    command_config: dict[str, Any] | None = None,
) -> RunResult:
    """Run the consistency test; returns the run directory, the verdict and the exit code (0/1).

    Raises UsageError/TargetError before or during setup; the run directory then still records
    the error in run.json.
    """
    cfg.validate()
    if flaw is not None and target is not None:
        raise UsageError("--flaw only applies to the reference shop started for the run; drop --urls or --flaw.")
    if cfg.seed is None:
        cfg.seed = secrets.randbelow(2**31)
    config = {**cfg.as_dict(), "flaw": flaw, "target": target.as_dict() if target else "embedded refshop",
              **(command_config or {})}
    run = RunDir.create("consistency", out, config)
    status, code = "error", None
    prog = progress

    def start(name: str, total: int | None) -> Callable[[int], None] | None:
        return prog.start(name, total) if prog is not None else None

    try:
        with ExitStack() as stack:
            shop: RefShop | None = None
            if target is None:
                with run.phase("setup"):
                    shop = RefShop(run.path / "shop", flaw=flaw, links=getattr(during_burst, "wants_links", False))
                    stack.enter_context(shop)
                    target = shop.target
                    run.manifest["config"]["target"] = target.as_dict()
            bind = getattr(during_burst, "bind", None)  # a fault hook (shopbench.nemesis.hooks) binds early
            if bind is not None:
                bind(run, shop.supervisor if shop is not None else None)
            writer = stack.enter_context(HistoryWriter(run.file(OPS)))
            monitor = LoadMonitor()
            if prog is not None and hasattr(prog, "watch"):
                prog.watch(monitor)
            listener = tee(writer, monitor)
            probe(target, listener, cfg.timeout)
            rng = random.Random(cfg.seed)
            pool = min(SETUP_POOL, cfg.concurrency)
            setup = connect(target, listener, timeout=cfg.timeout, concurrency=pool, process="populate")
            stack.callback(setup.transport.close)
            with run.phase("populate"):
                items, items_mode = populate_items(setup, cfg.items, cfg.stock, cfg.price, mode=cfg.populate,
                                                   pool_size=pool, advance=start("items", cfg.items))
                users, users_mode = populate_users(setup, cfg.users, cfg.credit, mode=cfg.populate,
                                                   pool_size=pool, advance=start("users", cfg.users))
                run.manifest["populate"] = {"items": items_mode, "users": users_mode,
                                            "items_created": len(items), "users_created": len(users)}
            with run.phase("orders"):
                setup.process = "orders"
                plan = plan_orders(rng, items, users, cfg.orders, cfg.items_per_order)
                order_ids = create_orders(setup, plan, pool_size=pool, advance=start("orders", len(plan)))
                run.manifest["orders_created"] = len(order_ids)
            # One pooled transport sized to the burst, shared by every simulated client.
            transport = GeventTransport(target, timeout=cfg.timeout, concurrency=cfg.concurrency)
            stack.callback(transport.close)

            def make_driver(process: str) -> RestDriver:
                return new_driver(transport, listener, process)

            with run.phase("burst"):
                monitor.users = min(cfg.concurrency, len(order_ids))
                advance = start("burst", len(order_ids))
                with during_burst(monitor) if during_burst is not None else nullcontext():
                    fire_checkouts(make_driver, order_ids, cfg.concurrency, advance=advance)
                monitor.users = 0
            writer.flush()
            fault_extra = getattr(during_burst, "verdict_extra", None)
            verdict = finish_run(run, target, None, settle_timeout=cfg.settle_timeout, timeout=cfg.timeout,
                                 concurrency=pool, listener=writer, progress=prog,
                                 extra=fault_extra() if fault_extra is not None else None)
        code = exit_code(verdict)
        status = result_of(verdict)
        return RunResult(run, verdict, code)
    except ShopbenchError as exc:
        run.manifest["error"] = str(exc)
        status, code = "error", exc.exit_code
        raise
    except KeyboardInterrupt:
        status, code = "interrupted", 130
        raise
    except BaseException as exc:
        run.manifest["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finish(status, code)
        write_report(run, partial=status not in ("valid", "invalid", "unknown"))
