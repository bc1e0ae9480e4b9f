"""A consistency run's steps in the one run order (runner/skeleton.py): probe -> populate ->
orders (populate), burst (load), settle -> read -> check (check).

Without a target the reference shop is started in `<run>/shop` for the run and stopped after,
whatever happens (an error, Ctrl-C). Companions (runner/companion.py: faults, samplers) are
entered just before the first checkout and left when the last one has answered.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from shopbench.driver import GeventTransport, RestDriver, connect, new_driver
from shopbench.driver.contract import check_at_door, operations_needed
from shopbench.errors import TargetError, UsageError
from shopbench.history import OpListener, tee
from shopbench.monitor import LoadMonitor
from shopbench.runner.companion import Companion
from shopbench.runner.finish import finish_run
from shopbench.runner.skeleton import RunContext, RunResult, companions_of, execute
from shopbench.target import Target
from shopbench.workload.consistency import ConsistencyConfig, create_orders, fire_checkouts, plan_orders
from shopbench.workload.populate import populate_items, populate_users

DuringBurst = Callable[[LoadMonitor], AbstractContextManager[Any]]
SETUP_POOL = 128  # concurrent requests while populating, creating orders and reading state
PROBE_ID = "shopbench-probe-0"

__all__ = ["RunResult", "probe", "run_consistency"]


def probe(target: Target, listener: OpListener | None, timeout: float) -> None:
    """One read per service of an id that does not exist: any HTTP answer but garbage will do."""
    driver = connect(target, listener, timeout=min(timeout, 5.0), concurrency=1, process="probe")
    try:
        for service, url, read in (("stock", target.stock_url, driver.find_item),
                                   ("payment", target.payment_url, driver.find_user),
                                   ("order", target.order_url, driver.find_order)):
            out = read(PROBE_ID)
            if out.kind != "ok" and out.status is None:
                raise TargetError(f"cannot reach the {service} service at {url}: {out.error}.")
            if out.kind == "info" and out.status is not None and 200 <= out.status < 300:
                raise TargetError(f"the {service} service at {url} does not speak the shop API: it answered "
                                  f"{out.status} to a read of an unknown id with {out.error}.")
    finally:
        driver.transport.close()


class ConsistencySteps:
    def __init__(self, cfg: ConsistencyConfig, progress: Any):
        self.cfg, self.progress = cfg, progress
        self.monitor = LoadMonitor()

    def start(self, name: str, total: int | None) -> Callable[[int], None] | None:
        return self.progress.start(name, total) if self.progress is not None else None

    def populate(self, ctx: RunContext) -> None:
        cfg, run = self.cfg, ctx.run
        if self.progress is not None and hasattr(self.progress, "watch"):
            self.progress.watch(self.monitor)
        listener = self.listener = tee(ctx.writer, self.monitor)
        probe(ctx.target, listener, cfg.timeout)
        rng = random.Random(cfg.seed)
        pool = self.pool = min(SETUP_POOL, cfg.concurrency)
        setup = connect(ctx.target, listener, timeout=cfg.timeout, concurrency=pool, process="populate")
        ctx.stack.callback(setup.transport.close)
        with run.phase("populate"):
            items, items_mode = populate_items(setup, cfg.items, cfg.stock, cfg.price, mode=cfg.populate,
                                               pool_size=pool, advance=self.start("items", cfg.items))
            users, users_mode = populate_users(setup, cfg.users, cfg.credit, mode=cfg.populate,
                                               pool_size=pool, advance=self.start("users", cfg.users))
            run.manifest["populate"] = {"items": items_mode, "users": users_mode,
                                        "items_created": len(items), "users_created": len(users)}
            check_at_door(ctx.target, operations_needed(consistency=True), timeout=min(cfg.timeout, 5.0))
        with run.phase("orders"):
            setup.process = "orders"
            plan = plan_orders(rng, items, users, cfg.orders, cfg.items_per_order)
            self.order_ids = create_orders(setup, plan, pool_size=pool, advance=self.start("orders", len(plan)))
            run.manifest["orders_created"] = len(self.order_ids)

    def load(self, ctx: RunContext) -> None:
        cfg, monitor = self.cfg, self.monitor
        # One pooled transport sized to the burst, shared by every simulated client.
        transport = GeventTransport(ctx.target, timeout=cfg.timeout, concurrency=cfg.concurrency)
        ctx.stack.callback(transport.close)

        def make_driver(process: str) -> RestDriver:
            return new_driver(transport, self.listener, process)

        with ctx.run.phase("burst"):
            monitor.users = min(cfg.concurrency, len(self.order_ids))
            advance = self.start("burst", len(self.order_ids))
            with ctx.beside_load(monitor):
                fire_checkouts(make_driver, self.order_ids, cfg.concurrency, advance=advance)
            monitor.users = 0

    def check(self, ctx: RunContext) -> dict[str, Any]:
        return finish_run(ctx.run, ctx.target, None, settle_timeout=self.cfg.settle_timeout,
                          timeout=self.cfg.timeout, concurrency=self.pool, listener=ctx.writer,
                          progress=self.progress, extra=ctx.sections() or None)


def run_consistency(
    cfg: ConsistencyConfig,
    *,
    target: Target | None = None,
    flaw: str | None = None,
    out: str | None = None,
    companions: Sequence[Companion] | None = None,
    during_burst: DuringBurst | None = None,
    progress: Any = None,
    command_config: dict[str, Any] | None = None,
) -> RunResult:
    """Run the consistency test; returns the run directory, the verdict and the exit code.

    `companions` run beside the burst (bind, during, sections); `during_burst(monitor)`, a plain
    context-manager factory, is the older spelling of one. Raises UsageError/TargetError before or
    during setup; the run directory then still records the error in run.json.
    """
    cfg.validate()
    if flaw is not None and target is not None:
        raise UsageError("--flaw only applies to the reference shop started for the run; drop --urls or --flaw.")
    if cfg.seed is None:
        cfg.seed = secrets.randbelow(2**31)
    config = {**cfg.as_dict(), "flaw": flaw, "target": target.as_dict() if target else "embedded refshop",
              **(command_config or {})}
    return execute("consistency", out, config, ConsistencySteps(cfg, progress), target=target, flaw=flaw,
                   companions=companions_of(companions, during_burst))
