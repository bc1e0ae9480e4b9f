"""`ShopUser`: the Locust user class that owns a shop driver.

Every operation its driver performs is written to the run's history and fired as a Locust request
(method and operation name, latency in ms). It is a Locust success when the outcome is what the
workload expected (`expect`, else a 2xx; either definite answer for ``race:`` scenarios), and a
failure whose message says why otherwise, e.g. "expected 4xx, got 200".

A user's own locustfile:

    from locust import task
    from shopbench import ShopUser

    class Buyer(ShopUser):
        @task
        def buy(self):
            order = self.driver.create_order(self.ctx.user(), expect="ok")
            ...
"""

from __future__ import annotations

import random
import re
from typing import Any

import gevent
from locust import User, between

from shopbench.checker.slo import failure_message
from shopbench.driver import GeventTransport, RestDriver, new_driver
from shopbench.history import Op
from shopbench.locust_plugin import internals, plugin
from shopbench.locust_plugin import session as sessions
from shopbench.locust_plugin.recorder import recorder
from shopbench.workload.scenarios import Context
from shopbench.workload.skew import parse_skew

POOL_WAIT = 30.0
plugin.install()


# Entity ids, amounts and ports in an error's text: Locust groups its error table by the message, so
# they are replaced (the history keeps every id); what stays is the kind of error.
_VARYING = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\b\w*\d\w*\b")


def locust_message(op: Op) -> str | None:
    """The failure message Locust shows for `op` (None: a success), free of ids so that the same
    cause is one row of Locust's error table whatever entity it happened to."""
    msg = failure_message(op.type, op.expect, op.scenario, op.status, op.error)
    if msg is None:
        return None
    head, sep, detail = msg.partition(": ")
    return head + sep + _VARYING.sub("#", detail)


class UnexpectedOutcome(Exception):
    """What Locust shows in its failures table for an operation that did not answer as expected."""


class ShopUser(User):
    abstract = True
    wait_time = between(1, 3)
    connections = 4  # keep-alive connections per service for this user (iterations are sequential)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.session = sessions.current(environment.host)
        self.ctx = self.new_context()
        self.driver = self.new_driver()

    # -- building blocks a subclass may reuse (the open model makes one driver per in-flight client) --
    def new_context(self) -> Context:
        cfg = self.session.config
        # One stream per client, reproducible with --seed (str seeds hash deterministically).
        rng = random.Random(None if cfg.seed is None else f"{cfg.seed}:{recorder.client_name('seed')}")
        return Context(rng=rng, pool=self.session.pool, skew=parse_skew(cfg.skew),
                       pool_price=cfg.pool_price)

    def new_driver(self, prefix: str = "u") -> RestDriver:
        transport = GeventTransport(self.session.target, timeout=self.session.config.timeout,
                                    concurrency=self.connections)
        driver = new_driver(transport, None, recorder.client_name(prefix), recorder.next_id)
        driver.listener = lambda op: self._on_op(op, driver.sent)  # Locust's label: what this driver sent
        return driver

    def _on_op(self, op: Op, sent: str = "") -> None:
        recorder.record(op)
        msg = locust_message(op)
        self.environment.events.request.fire(
            request_type=sent or "-", name=op.f, response_time=(op.t1 - op.t0) * 1000.0,
            response_length=0, response=None, context={"scenario": op.scenario},
            exception=UnexpectedOutcome(msg) if msg else None, start_time=op.wall, url=None,
        )

    def on_start(self) -> None:
        if not self.session.pool_ready.is_set():
            # A remote worker: the pool comes from the master right after connecting.
            deadline = POOL_WAIT
            while not self.session.pool_ready.is_set() and deadline > 0:
                gevent.sleep(0.1)
                deadline -= 0.1
            if not self.session.pool_ready.is_set():
                raise RuntimeError("no pool from the master within 30 s; is the master a `shopbench stress` run?")
            self.ctx.pool = self.session.pool

    def stop(self, force: bool = False) -> bool:
        return internals.stop_halted(super().stop, self.driver, force)

    def on_stop(self) -> None:
        self.driver.transport.close()
