"""Generated histories: a correct shop never raises a false alarm, however many answers are lost;
a shop with a known bug is always caught, with the anomaly type that bug causes."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_sim import SimShop, forced, workload

from shopbench.checker.ledger import check

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
