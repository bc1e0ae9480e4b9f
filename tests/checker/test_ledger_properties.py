"""Generated histories: a correct shop never raises a false alarm, however many answers are lost;
a shop with a known bug is always caught, with the anomaly type that bug causes."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_sim import SimShop

from shopbench.checker.ledger import check

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def workload(shop: SimShop, rng: random.Random, steps: int) -> None:
    """A mixed run: population through both paths, direct payments, orders with several lines,
    repeated checkouts of the same order, error-probe amounts."""
    items = shop.batch_items(rng.randint(1, 4), rng.randint(0, 3), rng.randint(1, 5))
    users = shop.batch_users(rng.randint(1, 4), rng.randint(0, 12))
    for _ in range(rng.randint(0, 2)):
        iid = shop.create_item(rng.randint(0, 6))
        shop.add_stock(iid, rng.randint(0, 4))
        items.append(iid)
    for _ in range(rng.randint(0, 2)):
        uid = shop.create_user()
        shop.add_funds(uid, rng.randint(0, 15))
        users.append(uid)
    orders: list[str] = []
    for _ in range(steps):
        r = rng.random()
        if r < 0.35 or not orders:
            oid = shop.create_order(rng.choice(users))
            for _ in range(rng.randint(1, 3)):
                shop.add_item(oid, rng.choice(items), rng.randint(1, 2))
            orders.append(oid)
        elif r < 0.75:
            shop.checkout(rng.choice(orders))
        elif r < 0.82:
            shop.add_funds(rng.choice(users), rng.randint(0, 5))
        elif r < 0.89:
            shop.add_stock(rng.choice(items), rng.randint(0, 3))
        elif r < 0.95:
            shop.pay(rng.choice(users), rng.randint(0, 4))
        else:
            shop.subtract_stock(rng.choice(items), rng.randint(0, 2))


@SETTINGS
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 60), info_rate=st.sampled_from([0.0, 0.2, 0.5, 0.9]))
def test_correct_shop_never_yields_a_false_alarm(seed, steps, info_rate):
    rng = random.Random(seed)
    shop = SimShop(rng, info_rate=info_rate)
    workload(shop, rng, steps)
    v = check(shop.ops, shop.state())
    assert v["valid"], v["anomalies"]
    co = v["checkouts"]
    assert co["info"] == co["info_resolved_paid"] + co["info_resolved_unpaid"]


@SETTINGS
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 40), info_rate=st.sampled_from([0.0, 0.3]))
def test_correct_shop_with_unreadable_orders_never_yields_a_false_alarm(seed, steps, info_rate):
    rng = random.Random(seed)
    shop = SimShop(rng, info_rate=info_rate)
    workload(shop, rng, steps)
    hidden = tuple(oid for oid in shop.orders if rng.random() < 0.3)
    v = check(shop.ops, shop.state(unreadable_orders=hidden))
    assert v["valid"], v["anomalies"]
    assert set(v["unresolved"]["orders"]) <= set(hidden)


def forced(shop: SimShop, bug: str) -> None:
    """A checkout that certainly exercises the bug: enough of everything, or too little credit."""
    iid = shop.create_item(3)
    shop.add_stock(iid, 5)
    uid = shop.create_user()
    if bug != "no_compensation":
        shop.add_funds(uid, 100)
    if bug == "oversell":
        shop.subtract_stock(iid, 5)
    oid = shop.create_order(uid)
    shop.add_item(oid, iid, 2)
    shop.final_phase = True
    shop.checkout(oid)


EXPECTED = {
    "lost_update": {"stock_drift"},
    "double_charge": {"user_credit_drift", "negative_credit"},
    "no_compensation": {"stock_drift"},
    "ack_lost": {"acknowledged_lost"},
    "fail_but_paid": {"failed_but_paid"},
    "oversell": {"negative_stock"},
}


@SETTINGS
@given(seed=st.integers(0, 2**32), steps=st.integers(0, 40), info_rate=st.sampled_from([0.0, 0.3]),
       bug=st.sampled_from(sorted(EXPECTED)))
def test_buggy_shop_is_caught(seed, steps, info_rate, bug):
    rng = random.Random(seed)
    shop = SimShop(rng, bugs=frozenset({bug}), info_rate=info_rate)
    workload(shop, rng, steps)
    shop.info_rate = 0.0  # the forced checkout must be answered, so the bug is certain to have happened
    forced(shop, bug)
    assert bug in shop.triggered
    v = check(shop.ops, shop.state())
    assert not v["valid"]
    found = {a["type"] for a in v["anomalies"]}
    assert EXPECTED[bug] & found, (bug, v["anomalies"])
