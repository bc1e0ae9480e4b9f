"""SIGKILL any one service in the middle of a burst of checkouts, restart it: every invariant holds."""

from __future__ import annotations

import time

import pytest
from refshop_helpers import anomalies, checkouts_with_fault, mixed, ok, settle

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("victim", ["order", "stock", "payment"])
def test_sigkill_mid_burst_then_restart_keeps_every_invariant(make_shop, victim):
    # --step-delay widens the window between the stock and the payment step, so that the kill
    # lands while many checkouts are half done.
    shop = make_shop(order_args=["--step-delay", "0.02"])
    t = shop.target
    # Scarce stock and credit: checkouts succeed, fail on stock and fail on credit (compensation).
    pop = mixed(t, n_orders=1500, n_items=40, stock=25, n_users=150, credit=16, price=2)
    killed_at: list[dict] = []

    def fault() -> None:
        killed_at.append(ok("GET", f"{t.order_url}/internal/order/pending"))
        shop.kill(victim)
        time.sleep(0.3)
        shop.restart(victim)

    results = checkouts_with_fault(t, pop.orders, concurrency=48, fault=fault, fault_after=300)
    assert killed_at and killed_at[0]["driving"] > 0, "the kill should land while checkouts are in flight"
    settle(t.order_url)
    statuses = [s for ss in results.values() for s in ss]
    assert statuses.count(200) > 50 and statuses.count(400) > 50, statuses
    if victim == "order":
        assert statuses.count(0) > 0  # some clients saw the crash: indeterminate
    found = anomalies(t, pop.items, pop.users, pop.orders, results)
    assert found == [], found[:10]
