"""Seed 000's six stress scenarios, as plain functions over a driver.

Each function is one iteration of one simulated client; it tags its operations with its scenario
name (`driver.scenario`) and passes `expect` wherever the right answer is known, so a 4xx in
scenarios 5 and 6 is a success and a 2xx a correctness failure.

Isolation: with an empty pool every iteration creates its own items and users (seed 000's way), so
every answer is known. With a pool (populated before the load, picked uniformly or Zipf-skewed)
clients share items and users and race for them; a checkout's answer is then unknown, and its
scenario name starts with ``race:`` so a definite 4xx (out of stock, out of credit) is not counted
as an error. Only a 5xx or no answer is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopbench.driver import Driver
from shopbench.history import RACE, is_race  # noqa: F401 - the workload names its races with it
from shopbench.workload.skew import Chooser, Pool, Skew


@dataclass
class Context:
    """What an iteration may draw on: its random source, the shared pool and how to pick from it."""

    rng: random.Random = field(default_factory=random.Random)
    pool: Pool = field(default_factory=Pool)
    skew: Skew = field(default_factory=Skew)
    pool_price: int = 1  # price of every pool item (they are populated alike)
    max_price: int = 10
    recent_orders: list[str] = field(default_factory=list)  # orders this client made, for readers
    _choosers: dict[str, Chooser] = field(default_factory=dict, repr=False)

    def _pick(self, name: str) -> str:
        ids = getattr(self.pool, name)
        chooser = self._choosers.get(name)
        if chooser is None or chooser.n != len(ids):
            skew = Skew() if name == "hot_items" else self.skew
            chooser = self._choosers[name] = Chooser(len(ids), skew, self.rng)
        return ids[chooser.index(self.rng)]

    def item(self) -> str:
        return self._pick("items")

    def user(self) -> str:
        return self._pick("users")

    def hot_item(self) -> str:
        return self._pick("hot_items")

    def order(self) -> str:
        return self._pick("orders")

    @property
    def shared(self) -> bool:
        return bool(self.pool.items) and bool(self.pool.users)

    def price(self) -> int:
        return self.rng.randint(1, self.max_price)


Scenario = Callable[[Driver, Context], Any]


# -- building blocks ----------------------------------------------------------------------------
def new_item(d: Driver, ctx: Context, stock: int, price: int | None = None) -> tuple[str, int] | None:
    """Create an item and stock it; (item_id, price), or None if the shop said no."""
    price = ctx.price() if price is None else price
    out = d.create_item(price, expect="ok")
    if not out.ok:
        return None
    item_id = out.data["item_id"]
    if stock > 0 and not d.add_stock(item_id, stock, expect="ok").ok:
        return None
    return item_id, price


def new_user(d: Driver, ctx: Context, credit: int) -> str | None:
    out = d.create_user(expect="ok")
    if not out.ok:
        return None
    user_id = out.data["user_id"]
    if credit > 0 and not d.add_funds(user_id, credit, expect="ok").ok:
        return None
    return user_id


def stocked_item(d: Driver, ctx: Context, qty: int = 1) -> tuple[str, int] | None:
    """An item with at least `qty` in stock a moment ago: a fresh one, or a pool item restocked."""
    if ctx.shared:
        item_id = ctx.item()
        if not d.add_stock(item_id, qty, expect="ok").ok:
            return None
        return item_id, ctx.pool_price
    return new_item(d, ctx, qty + ctx.rng.randint(0, 5))


def funded_user(d: Driver, ctx: Context, credit: int) -> str | None:
    if ctx.shared:
        user_id = ctx.user()
        if not d.add_funds(user_id, credit, expect="ok").ok:
            return None
        return user_id
    return new_user(d, ctx, credit + ctx.rng.randint(0, 10))


def _begin(d: Driver, ctx: Context, name: str) -> str | None:
    """Tag the iteration; returns the expectation for its checkout."""
    d.scenario = (RACE + name) if ctx.shared else name
    return None if ctx.shared else "ok"


def _order_with(d: Driver, user_id: str, items: list[tuple[str, int]]) -> str | None:
    out = d.create_order(user_id, expect="ok")
    if not out.ok:
        return None
    order_id = out.data["order_id"]
    for item_id, _ in items:
        if not d.add_item(order_id, item_id, 1, expect="ok").ok:
            return None
    return order_id


# -- the six scenarios --------------------------------------------------------------------------
def create_item_and_stock(d: Driver, ctx: Context) -> None:
    """1. A stock admin creates an item and adds stock to it."""
    d.scenario = "create-item-and-stock"
    new_item(d, ctx, ctx.rng.randint(1, 100))


def checkout_one_item(d: Driver, ctx: Context) -> None:
    """2. A user checks out an order with one item an admin stocked before."""
    expect = _begin(d, ctx, "checkout-one-item")
    item = stocked_item(d, ctx)
    user_id = funded_user(d, ctx, item[1]) if item else None
    order_id = _order_with(d, user_id, [item]) if user_id and item else None
    if order_id:
        d.checkout(order_id, expect=expect)


def checkout_two_items(d: Driver, ctx: Context) -> None:
    """3. The same with two items."""
    expect = _begin(d, ctx, "checkout-two-items")
    items = [stocked_item(d, ctx), stocked_item(d, ctx)]
    if None in items:
        return
    user_id = funded_user(d, ctx, sum(p for _, p in items))  # type: ignore[misc]
    order_id = _order_with(d, user_id, items) if user_id else None  # type: ignore[arg-type]
    if order_id:
        d.checkout(order_id, expect=expect)


def add_remove_add_checkout(d: Driver, ctx: Context) -> None:
    """4. A user adds an item, regrets it and removes it, adds it back and checks out."""
    expect = _begin(d, ctx, "add-remove-add-checkout")
    item = stocked_item(d, ctx)
    user_id = funded_user(d, ctx, item[1]) if item else None
    if not (item and user_id):
        return
    out = d.create_order(user_id, expect="ok")
    if not out.ok:
        return
    order_id = out.data["order_id"]
    if (d.add_item(order_id, item[0], 1, expect="ok").ok and d.remove_item(order_id, item[0], expect="ok").ok
            and d.add_item(order_id, item[0], 1, expect="ok").ok):
        d.checkout(order_id, expect=expect)


def checkout_out_of_stock(d: Driver, ctx: Context) -> None:
    """5. Must fail: the order's second item has no stock."""
    d.scenario = "checkout-out-of-stock"
    first = stocked_item(d, ctx)
    second = new_item(d, ctx, 0)
    if not (first and second):
        return
    user_id = funded_user(d, ctx, first[1] + second[1])
    order_id = _order_with(d, user_id, [first, second]) if user_id else None
    if order_id:
        d.checkout(order_id, expect="fail")


def checkout_no_credit(d: Driver, ctx: Context) -> None:
    """6. Must fail: the user has no credit."""
    d.scenario = "checkout-no-credit"
    item = stocked_item(d, ctx)
    user_id = new_user(d, ctx, 0) if item else None
    order_id = _order_with(d, user_id, [item]) if user_id and item else None
    if order_id:
        d.checkout(order_id, expect="fail")


def checkout_only(d: Driver, ctx: Context) -> None:
    """Seed 000's 2024 mode: check out one of the prepopulated (batch_init) orders, nothing else.
    Orders are drawn with replacement, so a second checkout of a paid order (a 4xx) is normal."""
    d.scenario = RACE + "checkout-only"
    d.checkout(ctx.order())


SCENARIOS: list[tuple[str, Scenario, int]] = [
    ("create-item-and-stock", create_item_and_stock, 5),
    ("checkout-one-item", checkout_one_item, 30),
    ("checkout-two-items", checkout_two_items, 25),
    ("add-remove-add-checkout", add_remove_add_checkout, 20),
    ("checkout-out-of-stock", checkout_out_of_stock, 10),
    ("checkout-no-credit", checkout_no_credit, 10),
]
