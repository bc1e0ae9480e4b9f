"""The ledger checker on hand-made histories: every anomaly type found, clean histories pass."""

from __future__ import annotations

import random

import pytest
from ledger_sim import SimShop

from shopbench.checker.ledger import check
from shopbench.checker.verdict import assemble


def types(verdict: dict) -> set[str]:
    return {a["type"] for a in verdict["anomalies"]}


def seed_shop(items: int = 3, stock: int = 2, price: int = 5, users: int = 3, credit: int = 10) -> SimShop:
    shop = SimShop(random.Random(1))
    shop.batch_items(items, stock, price)
    shop.batch_users(users, credit)
    return shop


def bought(shop: SimShop, uid: str, iid: str, qty: int = 1) -> str:
    oid = shop.create_order(uid)
    shop.add_item(oid, iid, qty)
    return oid


def test_clean_history_passes():
    shop = seed_shop()
    for uid, iid in (("0", "0"), ("1", "0"), ("2", "0"), ("2", "1")):
        shop.checkout(bought(shop, uid, iid))
    v = check(shop.ops, shop.state())
    assert v["valid"], v["anomalies"]
    assert v["checkouts"]["ok"] == 3 and v["checkouts"]["fail"] == 1  # third on item 0 is out of stock
    assert v["totals"]["money"]["actual"] == 30 - 15
    assert v["totals"]["stock"]["actual"] == 6 - 3


def test_acknowledged_lost():
    shop = seed_shop()
    oid = bought(shop, "0", "0")
    shop._op("checkout", {"order_id": oid}, "ok", {"paid": True})  # answered 2xx, nothing happened
    v = check(shop.ops, shop.state())
    assert types(v) == {"acknowledged_lost"}
    [a] = v["anomalies"]
    assert a["order_id"] == oid and a["user_id"] == "0" and oid in a["message"]


def test_failed_but_paid():
    shop = seed_shop()
    oid = bought(shop, "1", "2")
    shop.checkout(oid)
    shop.ops[-1]["type"], shop.ops[-1]["status"] = "fail", 400
    v = check(shop.ops, shop.state())
    assert types(v) == {"failed_but_paid"}
    assert v["anomalies"][0]["order_id"] == oid


def test_fail_for_already_paid_order_is_correct_when_another_checkout_succeeded_or_was_indeterminate():
    shop = seed_shop()
    a = bought(shop, "0", "0")
    assert shop.checkout(a) == "ok"
    assert shop.checkout(a) == "fail"  # already paid: a correct 4xx
    b = bought(shop, "1", "1")
    shop.orders[b]["paid"] = True  # the first checkout of b took effect, but its answer was lost
    shop.items["1"][0] -= 1
    shop.users["1"] -= 5
    shop._op("checkout", {"order_id": b}, "info")
    shop._op("checkout", {"order_id": b}, "fail")
    v = check(shop.ops, shop.state())
    assert v["valid"], v["anomalies"]
    assert v["checkouts"]["info_resolved_paid"] == 1


def test_indeterminate_checkout_resolved_from_final_state_either_way():
    for applied in (True, False):
        shop = seed_shop()
        oid = bought(shop, "0", "0")
        if applied:
            shop.orders[oid]["paid"] = True
            shop.items["0"][0] -= 1
            shop.users["0"] -= 5
        shop._op("checkout", {"order_id": oid}, "info")
        v = check(shop.ops, shop.state())
        assert v["valid"], v["anomalies"]
        key = "info_resolved_paid" if applied else "info_resolved_unpaid"
        assert v["checkouts"][key] == 1


def test_double_charge_is_one_user_credit_drift_and_the_total_says_nothing_new():
    shop = seed_shop()
    oid = bought(shop, "0", "0")
    shop.checkout(oid)
    shop.users["0"] -= 5  # charged a second time
    v = check(shop.ops, shop.state())
    assert types(v) == {"user_credit_drift"}  # the total is reported, not a second anomaly
    drift = next(a for a in v["anomalies"] if a["type"] == "user_credit_drift")
    assert drift["user_id"] == "0" and drift["expected"] == [5, 5] and drift["actual"] == 0
    assert drift["direction"] == "unbacked_charge" and drift["diff"] == -5
    assert drift["culprit_orders"] == [oid]
    money = v["totals"]["money"]
    assert money["expected"] == [25, 25] and money["actual"] == 20
    assert money["drift"] == {"what": "5 destroyed", "explained_by_users": 1}


def test_missing_charge_names_the_paid_order():
    shop = seed_shop()
    oid = bought(shop, "2", "1")
    shop.checkout(oid)
    shop.users["2"] += 5  # paid, never charged
    v = check(shop.ops, shop.state())
    drift = next(a for a in v["anomalies"] if a["type"] == "user_credit_drift")
    assert drift["direction"] == "missing_charge" and oid in drift["paid_orders"] and oid in drift["message"]
    assert types(v) == {"user_credit_drift"}


def test_money_moved_between_users_is_caught_per_user_though_the_total_is_right():
    shop = seed_shop()
    shop.checkout(bought(shop, "0", "0"))
    shop.users["0"] += 5
    shop.users["1"] -= 5  # the wrong user paid
    v = check(shop.ops, shop.state())
    assert types(v) == {"user_credit_drift"}
    assert {a["user_id"] for a in v["anomalies"]} == {"0", "1"}


def test_stock_drift_lost_update_is_missing_stock_movement():
    shop = seed_shop(stock=1)
    shop.checkout(bought(shop, "0", "0"))
    shop.items["0"][0] += 1  # the subtraction was overwritten
    v = check(shop.ops, shop.state())
    assert types(v) == {"stock_drift"}
    a = v["anomalies"][0]
    assert a["item_id"] == "0" and a["expected"] == [0, 0] and a["actual"] == 1
    assert a["direction"] == "missing_stock_movement"


def test_oversold_item_is_flagged():
    shop = seed_shop(stock=1)
    a, b = bought(shop, "0", "0"), bought(shop, "1", "0")
    shop.checkout(a)
    # Both paid, stock written 0 twice (a lost update lets two checkouts sell the one unit).
    shop.orders[b]["paid"] = True
    shop.users["1"] -= 5
    shop._op("checkout", {"order_id": b}, "ok", {"paid": True})
    v = check(shop.ops, shop.state())
    drift = next(x for x in v["anomalies"] if x["type"] == "stock_drift")
    assert drift["oversold"] and drift["expected"] == [-1, -1] and "oversold" in drift["message"]


def test_stock_drift_no_compensation_is_unbacked_stock_movement():
    shop = seed_shop(credit=0)
    oid = bought(shop, "0", "0")
    shop.checkout(oid)  # fails: no credit
    shop.items["0"][0] -= 1  # but the reserved stock was never released
    v = check(shop.ops, shop.state())
    assert types(v) == {"stock_drift"}
    assert v["anomalies"][0]["direction"] == "unbacked_stock_movement"


def test_negative_stock_and_negative_credit():
    shop = seed_shop()
    shop.items["2"][0] = -1
    shop.users["2"] = -3
    v = check(shop.ops, shop.state())
    assert {"negative_stock", "negative_credit", "stock_drift", "user_credit_drift"} <= types(v)
    neg = next(a for a in v["anomalies"] if a["type"] == "negative_stock")
    assert neg["item_id"] == "2" and neg["actual"] == -1


def test_order_total_mismatch():
    shop = seed_shop()
    oid = bought(shop, "0", "0")
    shop.checkout(oid)
    state = shop.state()
    state["orders"][oid]["total_cost"] = 3
    state["users"]["0"]["credit"] = 7  # charged the wrong total consistently
    v = check(shop.ops, state)
    assert types(v) == {"order_total_mismatch"}
    assert v["anomalies"][0]["expected"] == 5 and v["anomalies"][0]["actual"] == 3


def test_expected_fail_but_ok():
    shop = seed_shop()
    oid = bought(shop, "0", "0")
    shop.checkout(oid)
    shop.ops[-1]["expect"] = "fail"
    v = check(shop.ops, shop.state())
    assert types(v) == {"expected_fail_but_ok"}


def test_indeterminate_funding_widens_the_interval():
    shop = SimShop(random.Random(2))
    uid, iid = shop.create_user(), shop.create_item(4)
    shop._op("add_funds", {"user_id": uid, "amount": 10}, "info")  # did not take effect
    shop._op("add_funds", {"user_id": uid, "amount": 7}, "info")
    shop.users[uid] += 7  # this one did
    shop._op("add_stock", {"item_id": iid, "amount": 3}, "info")
    shop.items[iid][0] += 3
    shop.add_stock(iid, 2)
    v = check(shop.ops, shop.state())
    assert v["valid"], v["anomalies"]
    assert v["totals"]["money"]["expected"] == [0, 17]
    assert v["totals"]["stock"]["expected"] == [2, 5]
    shop.users[uid] = 18  # 18 is more than could ever have been put in
    v = check(shop.ops, shop.state())
    assert types(v) == {"user_credit_drift"}


def test_unreadable_order_is_unresolved_not_a_false_alarm():
    shop = seed_shop()
    oid = bought(shop, "0", "0")
    shop.checkout(oid)
    shop.ops[-1]["type"] = "info"
    v = check(shop.ops, shop.state(unreadable_orders=(oid,)))
    assert v["valid"], v["anomalies"]
    assert oid in v["unresolved"]["orders"]
    assert v["checkouts"]["info_unresolved"] == 1
    # Its possible effect is bounded by what was added to it: more than that is still caught.
    shop.users["0"] -= 6
    v = check(shop.ops, shop.state(unreadable_orders=(oid,)))
    assert "user_credit_drift" in types(v)


def test_unreadable_user_is_reported_not_guessed():
    shop = seed_shop()
    state = shop.state()
    del state["users"]["1"]
    state["unreadable"]["users"] = {"1": "HTTP 503"}
    v = check(shop.ops, state)
    assert v["valid"] and v["unresolved"]["users"] == ["1"]


def test_verdict_merges_sections_and_a_failed_section_invalidates():
    shop = seed_shop()
    ledger = check(shop.ops, shop.state())
    v = assemble(ledger, shop.state(), extra={"slo": {"valid": True}})
    assert v["valid"] and v["seed_metrics"] is not None and v["slo"] == {"valid": True}
    v = assemble(ledger, shop.state(), extra={"faults": {"valid": False, "why": "service never came back"}})
    assert not v["valid"] and v["failed_sections"] == ["faults"] and v["anomaly_count"] == 0


@pytest.mark.parametrize("n_items,stock", [(100, 1), (1, 100)])
def test_seed_metrics_match_the_seeds_arithmetic(n_items, stock):
    rng = random.Random(7)
    shop = SimShop(rng)
    items = shop.batch_items(n_items, stock, 1)
    users = shop.batch_users(1000, 1)
    orders = [bought(shop, rng.choice(users), rng.choice(items)) for _ in range(1000)]
    for oid in orders:
        shop.checkout(oid)
    v = assemble(check(shop.ops, shop.state()), shop.state())
    sold = sum(o["paid"] for o in shop.orders.values())
    # The seed expects every unit to sell; whatever did not shows up in its numbers just as in verify.py.
    unsold = n_items * stock - sold
    assert v["seed_metrics"] == {"stock_log": -unsold, "stock_db": -unsold, "payment_log": unsold,
                                 "payment_db": unsold}
    # A checkout answered 5xx counts as a seed "SUCCESS" even though nothing happened.
    shop._op("checkout", {"order_id": orders[0]}, "info")
    v2 = assemble(check(shop.ops, shop.state()), shop.state())
    assert v2["seed_metrics"]["stock_log"] == -unsold + 1
    assert v2["valid"]
