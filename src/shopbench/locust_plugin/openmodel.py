"""The open model, which Locust lacks: iterations start at a fixed rate whatever the response times.

Each `ArrivalUser` generates `arrival_rate / generators` iterations per second on a fixed schedule
(`start + k / rate`). An arrival takes a free client (its own driver and context) or grows the
client pool, up to `max_users / generators`; when every client is busy the arrival is dropped and
counted. Each operation records the iteration's *intended* start (`driver.intended`), so latency
can be measured from when the iteration should have begun: a stalled target cannot hide its stall
by slowing the generator down (coordinated omission).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from gevent.pool import Group
from locust import constant, task

from shopbench.driver import Driver, RestDriver
from shopbench.locust_plugin import internals, options
from shopbench.locust_plugin.user import ShopUser
from shopbench.workload.scenarios import Context

Iteration = Callable[[Driver, Context], Any]
DRAIN_WAIT = 10.0
CANCELLED = "open-model request cancelled at the end of the load"


class ArrivalUser(ShopUser):
    abstract = True
    wait_time = constant(0)
    iterations: Sequence[tuple[Iteration, int]] = ()  # (function, weight), set by the locustfile

    def on_start(self) -> None:
        super().on_start()
        cfg = self.session.config
        generators = options.generators(self.environment, cfg.generators)
        self.rate = float(cfg.arrival_rate or 1.0) / generators
        self.cap = max(1, cfg.max_users // generators)
        self.free: list[tuple[RestDriver, Context]] = []
        self.busy: set[RestDriver] = set()
        self.clients = 0
        self.inflight = Group()
        self._fns = [fn for fn, _ in self.iterations]
        self._weights = [w for _, w in self.iterations]
        self._rng = random.Random(None if cfg.seed is None else f"{cfg.seed}:arrivals:{self.driver.process}")

    def _client(self) -> tuple[RestDriver, Context] | None:
        if self.free:
            return self.free.pop()
        if self.clients >= self.cap:
            return None
        self.clients += 1
        return self.new_driver("a"), self.new_context()

    def _run(self, client: tuple[RestDriver, Context], intended: float) -> None:
        driver, ctx = client
        self.session.busy += 1
        self.busy.add(driver)
        driver.intended = intended
        try:
            fn = self._rng.choices(self._fns, self._weights)[0]
            fn(driver, ctx)
        except Exception as exc:  # a workload bug must not kill the generator; Locust shows it
            self.environment.events.user_error.fire(user_instance=self, exception=exc, tb=exc.__traceback__)
        finally:
            driver.intended = None
            driver.scenario = None
            self.session.busy -= 1
            self.busy.discard(driver)
            self.free.append(client)

    @task
    def generate(self) -> None:
        interval = 1.0 / self.rate
        start = time.time()
        k = 0
        while not internals.is_stopping(self):
            intended = start + k * interval
            k += 1
            delay = intended - time.time()
            if delay > 0:
                gevent.sleep(delay)
            client = self._client()
            if client is None:
                self.session.dropped += 1
                continue
            self.inflight.spawn(self._run, client, intended)
        self.inflight.join(timeout=DRAIN_WAIT)
        self._cancel()

    def _cancel(self) -> None:
        """Kill the iterations still in flight; the request each was waiting on is recorded as cut off."""
        for driver in self.busy:
            driver.cut_off = f"cut off: {CANCELLED}"
        self.inflight.kill()

    def on_stop(self) -> None:
        self._cancel()
        for driver, _ in self.free:
            driver.transport.close()
        super().on_stop()
