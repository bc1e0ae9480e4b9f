"""No dead checks: for every anomaly type the ledger can emit, a shop that is wrong in the way the
type names, and the type fires with a message that says what happened. A new type without a
scenario here fails `test_every_type_has_a_wrong_shop`."""

from __future__ import annotations

import random

import pytest
from ledger_sim import SimShop

from shopbench.checker.ledger import ANOMALY_TYPES, check


def _forced(bug: str, credit: int = 100, stock: int = 5) -> SimShop:
    """A shop with `bug`, and one checkout certain to exercise it."""
    shop = SimShop(random.Random(3), bugs=frozenset({bug}))
    iid = shop.create_item(3)
    shop.add_stock(iid, stock)
    uid = shop.create_user()
    shop.add_funds(uid, credit)
    oid = shop.create_order(uid)
    shop.add_item(oid, iid, 2)
    shop.final_phase = True
    shop.checkout(oid)
    assert bug in shop.triggered
    return shop


def acknowledged_lost() -> SimShop:
    return _forced("ack_lost")


def failed_but_paid() -> SimShop:
    return _forced("fail_but_paid")


def user_credit_drift() -> SimShop:
    return _forced("double_charge")


def stock_drift() -> SimShop:
    return _forced("lost_update")


def negative_stock() -> SimShop:
    shop = _forced("oversell", stock=0)  # nothing in stock, sold anyway
    return shop


def negative_credit() -> SimShop:
    """A payment service that lets a direct payment overdraw the account."""
    shop = SimShop(random.Random(3))
    uid = shop.create_user()
    shop.add_funds(uid, 3)
    shop.users[uid] -= 5
    shop._op("pay", {"user_id": uid, "amount": 5}, "ok")
    return shop


def order_total_mismatch() -> SimShop:
    """An order service that prices an order with a stale price: it charged what it says it costs."""
    shop = SimShop(random.Random(3))
    iid, uid = shop.create_item(4), shop.create_user()
    shop.add_stock(iid, 2)
    shop.add_funds(uid, 10)
    oid = shop.create_order(uid)
    shop.add_item(oid, iid, 1)
    shop.items[iid][1] = 1  # priced at 1 while the checkout ran...
    shop.checkout(oid)
    shop.items[iid][1] = 4  # ...and the item is back at 4 when read
    shop.orders[oid]["stale_total"] = 1
    return shop


def expected_fail_but_ok() -> SimShop:
    """A stock service that lets a subtraction beyond the stock through."""
    shop = SimShop(random.Random(3))
    iid = shop.create_item(1)
    shop.add_stock(iid, 1)
    shop.items[iid][0] = 0  # it subtracted 1 of the 2 asked and said yes
    shop._op("subtract_stock", {"item_id": iid, "amount": 2}, "ok", expect="fail")
    shop.ops[-1]["args"]["amount"] = 1
    return shop


WRONG_SHOPS = {f.__name__: f for f in (acknowledged_lost, failed_but_paid, user_credit_drift, stock_drift,
                                       negative_stock, negative_credit, order_total_mismatch, expected_fail_but_ok)}
# What each message must say: the sentence a user reads.
SAYS = {
    "acknowledged_lost": "checkout answered 2xx, but the order is not paid",
    "failed_but_paid": "answered 4xx",
    "user_credit_drift": "less than expected: charged with no paid order behind it",
    "stock_drift": "stock subtractions of some of its paid orders are missing",
    "negative_stock": "below zero",
    "negative_credit": "has credit -2, below zero",
    "order_total_mismatch": "has total_cost 1, but its lines at the items' prices cost 4",
    "expected_fail_but_ok": "must fail but it answered 200",
}


def _state(shop: SimShop) -> dict:
    state = shop.state()
    for oid, order in shop.orders.items():
        if "stale_total" in order:
            state["orders"][oid]["total_cost"] = order["stale_total"]
    return state


def test_every_type_has_a_wrong_shop():
    assert set(WRONG_SHOPS) == set(ANOMALY_TYPES) == set(SAYS)


@pytest.mark.parametrize("anomaly_type", ANOMALY_TYPES)
def test_the_type_fires_on_a_shop_wrong_that_way(anomaly_type):
    shop = WRONG_SHOPS[anomaly_type]()
    v = check(shop.ops, _state(shop))
    assert not v["valid"] and v["anomaly_types"].get(anomaly_type), v["anomalies"]
    fired = [a for a in v["anomalies"] if a["type"] == anomaly_type]
    assert any(SAYS[anomaly_type] in a["message"] for a in fired), [a["message"] for a in fired]
