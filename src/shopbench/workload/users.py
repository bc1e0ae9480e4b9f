"""Seed 002's user types, one iteration each, as plain functions over a driver.

  inventory manager  creates items, restocks pool items, reads them
  order processor    creates an order for a user, fills it with one to three items, checks it out
  monitor            frequent reads of items, users and orders
  hot-item buyer     races every other buyer for a few hot items with little stock ("last item")

They work on the shared pool when there is one (the runner populates it), else on fresh entities.
"""

from __future__ import annotations

from shopbench.driver import Driver
from shopbench.workload.scenarios import RACE, Context, Scenario, funded_user, new_item, stocked_item

HOT_RESTOCK_P = 0.05  # now and then a hot item gets one more unit, so the race does not end for good


def inventory_manager(d: Driver, ctx: Context) -> None:
    d.scenario = "inventory-manager"
    roll = ctx.rng.random()
    if roll < 0.4 or not ctx.pool.items:
        made = new_item(d, ctx, ctx.rng.randint(1, 50))
        if made:
            d.find_item(made[0], expect="ok")
    elif roll < 0.8:
        item_id = ctx.item()
        if d.add_stock(item_id, ctx.rng.randint(1, 20), expect="ok").ok:
            d.find_item(item_id, expect="ok")
    else:
        d.find_item(ctx.item(), expect="ok")


def order_processor(d: Driver, ctx: Context) -> None:
    # On a shared pool other clients drain the same stock and credit: the checkout's answer is unknown.
    d.scenario = (RACE if ctx.shared else "") + "order-processor"
    items = [stocked_item(d, ctx) for _ in range(ctx.rng.randint(1, 3))]
    if None in items:
        return
    user_id = funded_user(d, ctx, sum(p for _, p in items))  # type: ignore[misc]
    if not user_id:
        return
    out = d.create_order(user_id, expect="ok")
    if not out.ok:
        return
    order_id = out.data["order_id"]
    for item_id, _ in items:  # type: ignore[misc]
        if not d.add_item(order_id, item_id, 1, expect="ok").ok:
            return
    d.checkout(order_id, expect=None if ctx.shared else "ok")
    d.find_order(order_id, expect="ok")
    ctx.recent_orders.append(order_id)
    del ctx.recent_orders[:-50]


def monitor(d: Driver, ctx: Context) -> None:
    d.scenario = "monitor"
    if ctx.pool.items:
        d.find_item(ctx.item(), expect="ok")
    if ctx.pool.hot_items:
        d.find_item(ctx.hot_item(), expect="ok")
    if ctx.pool.users:
        d.find_user(ctx.user(), expect="ok")
    if ctx.recent_orders:
        d.find_order(ctx.rng.choice(ctx.recent_orders), expect="ok")
    if not (ctx.pool.items or ctx.pool.users or ctx.recent_orders):
        made = new_item(d, ctx, 1)
        if made:
            d.find_item(made[0], expect="ok")


def hot_item_buyer(d: Driver, ctx: Context) -> None:
    """Buy one unit of a hot item. Users are funded far beyond what they can spend, so the only
    thing a checkout can run out of is stock: exactly the "last item" race."""
    d.scenario = RACE + "hot-item"
    if not (ctx.pool.hot_items and ctx.pool.users):
        raise RuntimeError("the hot-item buyer needs a pool with hot items and users (the runner populates it)")
    item_id = ctx.hot_item()
    if ctx.rng.random() < HOT_RESTOCK_P:
        d.add_stock(item_id, 1, expect="ok")
        return
    out = d.create_order(ctx.user(), expect="ok")
    if not out.ok:
        return
    order_id = out.data["order_id"]
    if d.add_item(order_id, item_id, 1, expect="ok").ok:
        d.checkout(order_id)


USER_TYPES: dict[str, Scenario] = {
    "inventory": inventory_manager,
    "order": order_processor,
    "monitor": monitor,
    "hot": hot_item_buyer,
}
SEED002_WEIGHTS = {"inventory": 30, "order": 50, "monitor": 20, "hot": 10}
