"""Checkout under concurrency: no overselling, no double charge."""

from __future__ import annotations

import threading

import pytest
from refshop_helpers import anomalies, burst, call, hot_item, ok, settle

pytestmark = pytest.mark.slow


def test_200_concurrent_checkouts_of_an_item_with_stock_50(make_shop):
    shop = make_shop()
    t = shop.target
    pop = hot_item(t, n_orders=200, stock=50, price=3, credit=100)
    statuses = burst([f"{t.order_url}/orders/checkout/{o}" for o in pop.orders])
    assert sorted(set(statuses)) == [200, 400], statuses
    assert statuses.count(200) == 50
    settle(t.order_url)
    assert ok("GET", f"{t.stock_url}/stock/find/0")["stock"] == 0
    credit = sum(ok("GET", f"{t.payment_url}/payment/find_user/{u}")["credit"] for u in pop.users)
    assert credit == 200 * 100 - 50 * 3
    checkouts = {o: [s] for o, s in zip(pop.orders, statuses, strict=True)}
    assert anomalies(t, pop.items, pop.users, pop.orders, checkouts) == []


def test_concurrent_checkouts_of_one_order_charge_once(make_shop):
    shop = make_shop()
    t = shop.target
    pop = hot_item(t, n_orders=3, stock=10, price=7, credit=100)
    urls = [f"{t.order_url}/orders/checkout/{o}" for o in pop.orders for _ in range(30)]
    statuses = burst(urls)
    for i in range(len(pop.orders)):
        mine = statuses[30 * i:30 * (i + 1)]
        assert mine.count(200) == 1 and mine.count(400) == 29, mine
    settle(t.order_url)
    assert ok("GET", f"{t.stock_url}/stock/find/0")["stock"] == 7
    for u in pop.users:
        assert ok("GET", f"{t.payment_url}/payment/find_user/{u}")["credit"] == 93
    assert anomalies(t, pop.items, pop.users, pop.orders) == []


def test_orders_cannot_change_during_their_checkout(make_shop):
    # A checkout takes a while with --step-delay; meanwhile the order's lines are frozen.
    shop = make_shop(order_args=["--step-delay", "0.5"])
    t = shop.target
    pop = hot_item(t, n_orders=1, stock=10, price=2, credit=100)
    oid = pop.orders[0]
    result: list[int] = []
    th = threading.Thread(target=lambda: result.extend(burst([f"{t.order_url}/orders/checkout/{oid}"])))
    th.start()
    for _ in range(100):
        if ok("GET", f"{t.order_url}/internal/order/pending")["pending"]:
            break
    assert call("POST", f"{t.order_url}/orders/addItem/{oid}/0/5")[0] == 409
    assert call("DELETE", f"{t.order_url}/orders/removeItem/{oid}/0")[0] == 409
    th.join()
    assert result == [200]
    found = ok("GET", f"{t.order_url}/orders/find/{oid}")
    assert found == {"order_id": oid, "paid": True, "items": [["0", 1]], "user_id": "0", "total_cost": 2}
    assert anomalies(t, pop.items, pop.users, pop.orders, {oid: result}) == []
