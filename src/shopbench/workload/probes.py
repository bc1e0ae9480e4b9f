"""Error probes: requests a correct shop must refuse with a 4xx, never a 5xx, never a 2xx.

Each probe is one iteration over a driver. The operation under test carries `expect="fail"`; the
set-up it needs (a fresh item, user or paid order) carries `expect="ok"`.
"""

from __future__ import annotations

import uuid

from shopbench.driver import Driver
from shopbench.workload.scenarios import Context, Scenario, new_item, new_user

# Beyond any 64-bit integer: a shop that accepts it overflows somewhere. A string, because the
# history (JSON via orjson) cannot hold an integer this large; the URL is the same.
HUGE = str(10**30)


def _unknown() -> str:
    return "no-such-" + uuid.uuid4().hex[:12]


def unknown_ids(d: Driver, ctx: Context) -> None:
    d.scenario = "probe:unknown-id"
    probe = ctx.rng.randrange(7)
    if probe == 0:
        d.find_item(_unknown(), expect="fail")
    elif probe == 1:
        d.find_user(_unknown(), expect="fail")
    elif probe == 2:
        d.find_order(_unknown(), expect="fail")
    elif probe == 3:
        d.checkout(_unknown(), expect="fail")
    elif probe == 4:
        d.add_funds(_unknown(), 1, expect="fail")
    elif probe == 5:
        d.add_stock(_unknown(), 1, expect="fail")
    else:
        d.create_order(_unknown(), expect="fail")


def negative_amounts(d: Driver, ctx: Context) -> None:
    d.scenario = "probe:negative-amount"
    probe = ctx.rng.randrange(4)
    if probe == 0:
        d.create_item(-ctx.price(), expect="fail")
    elif probe == 1:
        made = new_item(d, ctx, 5)
        if made:
            d.add_stock(made[0], -5, expect="fail")
    elif probe == 2:
        made = new_item(d, ctx, 5)
        if made:
            d.subtract_stock(made[0], -5, expect="fail")
    else:
        user_id = new_user(d, ctx, 5)
        if user_id:
            d.add_funds(user_id, -5, expect="fail")


def non_numeric_amounts(d: Driver, ctx: Context) -> None:
    d.scenario = "probe:non-numeric"
    probe = ctx.rng.randrange(3)
    if probe == 0:
        d.create_item("abc", expect="fail")
    elif probe == 1:
        made = new_item(d, ctx, 1)
        if made:
            d.add_stock(made[0], "1.5x", expect="fail")
    else:
        user_id = new_user(d, ctx, 0)
        if user_id:
            d.add_funds(user_id, "ten", expect="fail")


def huge_amounts(d: Driver, ctx: Context) -> None:
    d.scenario = "probe:huge-amount"
    probe = ctx.rng.randrange(3)
    if probe == 0:
        made = new_item(d, ctx, 1)
        if made:
            d.add_stock(made[0], HUGE, expect="fail")
    elif probe == 1:
        user_id = new_user(d, ctx, 0)
        if user_id:
            d.add_funds(user_id, HUGE, expect="fail")
    else:
        made = new_item(d, ctx, 1)
        if made:
            d.subtract_stock(made[0], HUGE, expect="fail")


def overdraw(d: Driver, ctx: Context) -> None:
    """More than there is: subtract beyond stock, pay beyond credit."""
    d.scenario = "probe:overdraw"
    if ctx.rng.random() < 0.5:
        made = new_item(d, ctx, 2)
        if made:
            d.subtract_stock(made[0], 3, expect="fail")
    else:
        user_id = new_user(d, ctx, 2)
        if user_id:
            d.pay(user_id, 3, expect="fail")


def double_checkout(d: Driver, ctx: Context) -> None:
    """Check out an order, then check it out again and add to it: both must be refused."""
    d.scenario = "probe:double-checkout"
    made = new_item(d, ctx, 2)
    user_id = new_user(d, ctx, 2 * made[1]) if made else None
    if not (made and user_id):
        return
    out = d.create_order(user_id, expect="ok")
    if not out.ok:
        return
    order_id = out.data["order_id"]
    if d.add_item(order_id, made[0], 1, expect="ok").ok and d.checkout(order_id, expect="ok").ok:
        d.checkout(order_id, expect="fail")
        d.add_item(order_id, made[0], 1, expect="fail")


PROBES: dict[str, Scenario] = {
    "unknown-id": unknown_ids,
    "negative-amount": negative_amounts,
    "non-numeric": non_numeric_amounts,
    "huge-amount": huge_amounts,
    "overdraw": overdraw,
    "double-checkout": double_checkout,
}


def any_probe(d: Driver, ctx: Context) -> None:
    """One probe, drawn uniformly."""
    probe = list(PROBES.values())[ctx.rng.randrange(len(PROBES))]
    probe(d, ctx)
