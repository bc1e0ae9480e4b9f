"""The sentences and numbers the ledger hands a user, asserted whole: a message is behaviour too."""

from __future__ import annotations

import random

from ledger_sim import SimShop

from shopbench.checker.ledger import check


def op(i, f, args, kind="ok", value=None, process="c1", expect=None, scenario=None, wall=None, t1=0.5):
    return {"id": i, "process": process, "f": f, "args": args, "expect": expect, "type": kind, "scenario": scenario,
            "status": {"ok": 200, "fail": 400}.get(kind), "value": value, "error": None,
            "wall": 100.0 + i if wall is None else wall, "t0": 0.25, "t1": t1}


def one_sale(paid_user_credit: int = 7, stock: int = 4, **order):
    """User u (10 credit) buys 2 of item i (price 3, 6 in stock) in order o; the state as given."""
    ops = [op(0, "create_item", {"price": 3}, value={"item_id": "i"}, process="populate"),
           op(1, "add_stock", {"item_id": "i", "amount": 6}, process="populate"),
           op(2, "create_user", {}, value={"user_id": "u"}, process="populate"),
           op(3, "add_funds", {"user_id": "u", "amount": 10}, process="populate"),
           op(4, "create_order", {"user_id": "u"}, value={"order_id": "o"}),
           op(5, "add_item", {"order_id": "o", "item_id": "i", "quantity": 2}),
           op(6, "checkout", {"order_id": "o"})]
    state = {"items": {"i": {"stock": stock, "price": 3}}, "users": {"u": {"credit": paid_user_credit}},
             "orders": {"o": {"paid": True, "items": [["i", 2]], "user_id": "u", "total_cost": 6, **order}}}
    return ops, state


def test_a_correct_sale_and_every_number_reported_about_it():
    ops, state = one_sale(4, 4)
    v = check(ops, state)
    assert v["valid"] and v["anomaly_count"] == 0 and v["anomalies_listed"] == 0 and v["warnings"] == []
    assert v["totals"]["money"] == {"in": [10, 10], "out_direct": [0, 0], "out_paid_orders": 6,
                                    "out_unresolved_orders_max": 0, "expected": [4, 4], "actual": 4,
                                    "users_checked": 1}
    assert v["totals"]["stock"] == {"in": [6, 6], "out_direct": [0, 0], "out_paid_orders": 2,
                                    "out_unresolved_orders_max": 0, "expected": [4, 4], "actual": 4,
                                    "items_checked": 1}
    assert v["counts"] == {"ops": 7, "load_ran": True, "orders_checked_out": 1, "orders_read": 1, "paid_orders": 1,
                           "users_read": 1, "items_read": 1, "expected_fail_but_ok": 0}
    assert v["checkouts"] == {"ok": 1, "fail": 0, "info": 0, "info_resolved_paid": 0, "info_resolved_unpaid": 0,
                              "info_unresolved": 0}
    assert v["seed_inputs"] == {"initial_stock": 6, "initial_stock_value": 18, "initial_credit": 10, "final_stock": 4,
                                "final_credit": 4, "first_item": "i", "first_item_stock": 4, "success_checkouts": 1,
                                "success_units": 2, "success_cost": 6}
    assert v["unresolved"] == {"orders": [], "users": [], "items": [], "malformed": {"orders": {}, "users": {},
                               "items": {}}, "vanished": {"orders": [], "users": [], "items": []},
                               "unbounded_orders": [], "note": "entities that could not be read, were malformed, "
                               "vanished (created, then 404) or have no baseline in this history: not checked, "
                               "never guessed"}
    assert v["unknown_reasons"] == [] and v["oversold_items"] == [] and v["anomaly_types"] == {}


def test_a_missing_charge_names_the_paid_order():
    ops, state = one_sale(10, 4)
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("user u has credit 10, expected 4 (10 put in, 6 in 1 paid order): 6 more than expected: "
                            "charges of its paid orders are missing (1 paid order: o).")
    assert (a["direction"], a["diff"], a["expected"], a["paid_orders"], a["culprit_orders"]) == (
        "missing_charge", 6, [4, 4], ["o"], ["o"])


def test_money_that_appeared_with_no_order_and_a_charge_with_none():
    ops, state = one_sale(12, 6)
    state["orders"]["o"]["paid"] = False
    ops[6]["type"] = "fail"
    v = check(ops, state)
    [a] = v["anomalies"]
    assert a["message"] == ("user u has credit 12, expected 10 (10 put in, 0 in 0 paid orders): 2 more than "
                            "expected: money appeared with no operation behind it.")
    state["users"]["u"]["credit"] = 9
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("user u has credit 9, expected 10 (10 put in, 0 in 0 paid orders): 1 less than "
                            "expected: charged with no paid order behind it.")
    assert (a["direction"], a["diff"]) == ("unbacked_charge", -1)


def test_an_unbacked_charge_beside_paid_orders_names_them():
    ops, state = one_sale(1, 4)
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("user u has credit 1, expected 4 (10 put in, 6 in 1 paid order): 3 less than expected: "
                            "charged with no paid order behind it (its paid orders: o).")


def test_an_overspent_user_says_how_much_beyond_what_it_ever_had():
    ops, state = one_sale(0, 4)
    ops[3]["args"]["amount"] = 5  # it only ever had 5, and was charged 6 (credit 0: one charge lost)
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("user u has credit 0, expected -1 (5 put in, 6 in 1 paid order): 1 more than expected: "
                            "charges of its paid orders are missing (1 paid order: o); 1 more was charged in paid "
                            "orders than it ever had.")
    assert (a["overspent"], a["budget"], a["overspent_orders"]) == (1, [5, 5], ["o"])
    state["users"]["u"]["credit"] = -1  # charged in full: only below zero
    [a] = check(ops, state)["anomalies"]
    assert a["type"] == "negative_credit" and a["message"] == "user u has credit -1, below zero."
    assert (a["expected"], a["overspent"], a["overspent_orders"]) == ("0", 1, ["o"])


def test_stock_that_appeared_and_stock_below_zero():
    ops, state = one_sale(4, 5)
    state["orders"]["o"]["paid"] = False
    state["users"]["u"]["credit"] = 10
    ops[6]["type"] = "fail"
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("item i has stock 5, expected 6 (supply 6 (6 put in), 0 units in 0 paid orders): 1 unit "
                            "less than expected: stock taken with no paid order behind it; checkouts of orders "
                            "holding it: o (4xx, unpaid).")
    state["items"]["i"]["stock"] = 7
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("item i has stock 7, expected 6 (supply 6 (6 put in), 0 units in 0 paid orders): 1 unit "
                            "more than expected: stock appeared with no operation behind it; checkouts of orders "
                            "holding it: o (4xx, unpaid).")
    assert (a["diff"], a["culprit_orders"], a["oversold"], a["supply"], a["units_in_paid_orders"]) == (
        1, [], False, [6, 6], 0)
    ops, state = one_sale(4, -1)
    ops[1]["args"]["amount"] = 1  # one unit, two sold
    v = check(ops, state)
    [neg] = v["anomalies"]
    assert neg["message"] == ("item i has stock -1, below zero: supply 1 (1 put in), 2 units in 1 paid order; "
                              "oversold by 1: the paid orders whose checkout completed after the supply ran out "
                              "are o.")
    assert (neg["expected"], neg["oversold_units"], neg["supply"]) == ("0", 1, [1, 1])


def test_checkout_verdicts_say_how_often():
    ops, state = one_sale(10, 6)
    state["orders"]["o"]["paid"] = False
    ops.append(op(7, "checkout", {"order_id": "o"}))
    [a] = [x for x in check(ops, state)["anomalies"] if x["type"] == "acknowledged_lost"]
    assert a["message"] == "order o: checkout answered 2xx (2 times), but the order is not paid."
    assert (a["user_id"], a["checkouts"]) == ("u", {"ok": 2, "fail": 0, "info": 0})
    ops, state = one_sale(4, 4)
    ops[6]["type"] = "fail"
    ops.append(op(7, "checkout", {"order_id": "o"}, "fail"))
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == "order o is paid (total_cost 6), yet every checkout of it (2) answered 4xx."
    assert (a["user_id"], a["expected"], a["actual"]) == ("u", "unpaid", "paid")


def test_expected_failures_that_succeeded_say_which_workload():
    ops, state = one_sale(4, 4)
    ops[6].update(expect="fail", scenario="doomed-checkout")
    ops.append(op(7, "add_funds", {"user_id": "u", "amount": -5}, expect="fail", process="probe"))
    state["users"]["u"]["credit"] = -1
    v = check(ops, state)
    messages = [a["message"] for a in v["anomalies"] if a["type"] == "expected_fail_but_ok"]
    assert messages == ["checkout of order o must fail (the doomed-checkout workload made it impossible) but it "
                        "answered 200.", "add_funds {'user_id': 'u', 'amount': -5} must fail but it answered 200."]
    assert v["counts"]["expected_fail_but_ok"] == 2


def test_an_order_total_mismatch_is_priced_from_the_items():
    ops, state = one_sale(5, 4, total_cost=5)
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == "paid order o has total_cost 5, but its lines at the items' prices cost 6."
    assert (a["order_id"], a["user_id"], a["expected"], a["actual"]) == ("o", "u", 6, 5)


def test_the_first_acknowledgement_dates_a_sale_not_a_later_one():
    # Two orders of the one unit: o1's first 2xx came before o2's, a later 2xx of o1 does not move it.
    ops = [op(0, "batch_init_stock", {"n": 1, "starting_stock": 1, "item_price": 1}, process="populate"),
           op(1, "batch_init_users", {"n": 2, "starting_money": 1}, process="populate")]
    for k, oid in enumerate(("o1", "o2")):
        ops += [op(2 + 2 * k, "create_order", {"user_id": str(k)}, value={"order_id": oid}),
                op(3 + 2 * k, "add_item", {"order_id": oid, "item_id": "0", "quantity": 1})]
    ops += [op(6, "checkout", {"order_id": "o2"}, "info", wall=50.0, t1=9.0),  # indeterminate, completed at 58.75
            op(7, "checkout", {"order_id": "o1"}, wall=50.0, t1=2.0),  # first 2xx at 51.75
            op(8, "checkout", {"order_id": "o2"}, wall=60.0),
            op(9, "checkout", {"order_id": "o1"}, wall=70.0)]  # a later 2xx of o1
    state = {"items": {"0": {"stock": 0, "price": 1}}, "users": {"0": {"credit": 0}, "1": {"credit": 0}},
             "orders": {o: {"paid": True, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
                        for k, o in enumerate(("o1", "o2"))}}
    [a] = check(ops, state)["anomalies"]
    assert a["oversold_orders"] == ["o2"]  # o1 was acknowledged first, o2 no later than 58.75
    ops[7]["wall"] = 59.0  # o1's first 2xx now after o2's indeterminate completion
    [a] = check(ops, state)["anomalies"]
    assert a["oversold_orders"] == ["o1"]


def test_seed_inputs_count_every_answered_checkout_as_the_seed_does():
    shop = SimShop(random.Random(1))
    shop.batch_items(2, 3, 4)
    shop.batch_users(2, 20)
    oid = shop.create_order("0")
    shop.add_item(oid, "1", 2)
    shop.checkout(oid)
    shop._op("checkout", {"order_id": oid}, "info")  # counted too: anything but 4xx
    shop._op("checkout", {"order_id": oid}, "fail")  # not counted
    v = check(shop.ops, shop.state())
    assert v["seed_inputs"] == {"initial_stock": 6, "initial_stock_value": 24, "initial_credit": 40,
                                "final_stock": 4, "final_credit": 32, "first_item": "0", "first_item_stock": 3,
                                "success_checkouts": 2, "success_units": 4, "success_cost": 16}
    assert check([], {"items": {}, "users": {}, "orders": {}})["seed_inputs"]["first_item_stock"] is None
