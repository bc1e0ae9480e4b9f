"""The consistency workload of seed 000: orders of random items for random users, then every
checkout fired at once.

Random choices come from one seeded `random.Random` and are all made before any request, so the
same `--seed` makes the same orders whatever order the answers arrive in.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

import gevent
import gevent.event
import gevent.pool

from shopbench.driver import RestDriver
from shopbench.errors import UsageError
from shopbench.workload.populate import MODES, Advance, create_each

SCENARIO = "consistency"


@dataclass
class ConsistencyConfig:
    """Defaults reproduce seed 000; `items=1, stock=100` is its 2024 edition."""

    items: int = 100
    stock: int = 1
    price: int = 1
    users: int = 1000
    credit: int = 1
    orders: int = 1000
    items_per_order: int = 1
    concurrency: int = 1000
    seed: int | None = None
    populate: str = "auto"
    timeout: float = 10.0
    settle_timeout: float = 30.0

    def validate(self) -> None:
        for name, minimum in (("items", 1), ("users", 1), ("orders", 1), ("items_per_order", 1),
                              ("concurrency", 1), ("stock", 0), ("price", 0), ("credit", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < minimum:
                raise UsageError(f"--{name.replace('_', '-')} is {value!r}; it must be an integer >= {minimum}.")
        if self.populate not in MODES:
            raise UsageError(f"--populate {self.populate!r}: choose one of {', '.join(MODES)}.")
        if not self.timeout > 0:
            raise UsageError(f"--timeout is {self.timeout}; it must be a number of seconds > 0.")
        if self.settle_timeout < 0:
            raise UsageError(f"--settle-timeout is {self.settle_timeout}; it must be a number of seconds >= 0.")

    def as_dict(self) -> dict:
        return asdict(self)


def plan_orders(rng: random.Random, item_ids: list[str], user_ids: list[str], n: int,
                items_per_order: int) -> list[tuple[str, list[str]]]:
    """(user, items) of each order, chosen up front."""
    return [(rng.choice(user_ids), [rng.choice(item_ids) for _ in range(items_per_order)]) for _ in range(n)]


def create_orders(driver: RestDriver, plan: list[tuple[str, list[str]]], *, pool_size: int,
                  advance: Advance | None = None) -> list[str]:
    """Create each planned order and add its items; the ids of the orders that exist."""
    def add_items(slot: int, order_id: str) -> None:
        for item_id in plan[slot][1]:
            driver.add_item(order_id, item_id, 1)

    return create_each(len(plan), lambda slot: driver.create_order(plan[slot][0]), "order_id", add_items,
                       pool_size, advance, "orders")


def fire_checkouts(make_driver: Callable[[str], RestDriver], order_ids: list[str], concurrency: int, *,
                   advance: Advance | None = None) -> int:
    """Every checkout at once: `concurrency` clients each take their share of the orders and all
    start on one signal. Returns the number of clients.

    The clients' connections are opened before the signal (see `GeventTransport.warm`): the burst
    measures checkouts, not a thousand TCP handshakes queueing at the shop's listen backlog. Opened
    here, just before the signal, and not earlier: an idle connection holds a synchronous worker
    (gunicorn's default `sync`) until a request arrives on it, so connections opened while the
    orders are created would stall the shop's own order creation."""
    n_clients = max(1, min(concurrency, len(order_ids)))
    go = gevent.event.Event()
    drivers = [make_driver(f"burst-{index}") for index in range(n_clients)]
    warm = getattr(drivers[0].transport, "warm", None)  # a custom transport may not pool connections
    if warm is not None:
        warm("order", n_clients)

    def client(index: int) -> None:
        driver = drivers[index]
        driver.scenario = SCENARIO
        go.wait()
        for order_id in order_ids[index::n_clients]:
            driver.checkout(order_id)
            if advance:
                advance(1)

    greenlets = [gevent.spawn(client, i) for i in range(n_clients)]
    gevent.sleep(0)  # let every client reach the start line
    go.set()
    gevent.joinall(greenlets, raise_error=True)
    return n_clients
