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


def test_definite_amounts_add_up():
    ops, state = one_sale(9, 4)
    ops.append(op(7, "add_funds", {"user_id": "u", "amount": 5}))
    ops.append(op(8, "add_stock", {"item_id": "i", "amount": 2}))
    state["items"]["i"]["stock"] = 6
    v = check(ops, state)
    assert v["valid"] and v["totals"]["money"]["in"] == [15, 15] and v["totals"]["stock"]["in"] == [8, 8]
    state["users"]["u"]["credit"] = 8  # a unit short of 15 - 6
    assert check(ops, state)["anomaly_types"] == {"user_credit_drift": 1}


def test_a_missing_charge_names_the_paid_order():
    ops, state = one_sale(10, 4)
    [a] = check(ops, state)["anomalies"]
    assert a["message"] == ("user u has credit 10, expected 4 (10 put in, 6 in 1 paid order): 6 more than expected: "
                            "charges of its paid orders are missing (1 paid order: o).")
    assert (a["direction"], a["diff"], a["expected"], a["paid_orders"], a["culprit_orders"]) == (
        "missing_charge", 6, [4, 4], ["o"], ["o"])
    assert check(ops, state)["totals"]["money"]["drift"] == {"what": "6 created", "explained_by_users": 1}


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
    ops.append(op(8, "add_funds", {"user_id": "u", "amount": 5}, "info"))  # expected [10, 15]
    state["users"]["u"]["credit"] = 8
    [a] = check(ops, state)["anomalies"]
    assert (a["expected"], a["diff"]) == ([10, 15], -2)


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
    assert (a["expected"], a["actual"], a["overspent"], a["overspent_orders"]) == ("0", -1, 1, ["o"])
    ops.append(op(7, "pay", {"user_id": "u", "amount": 2}, "info"))  # budget [3, 5]: charged 6, credit in [-3, -1]
    state["users"]["u"]["credit"] = -2
    [a] = check(ops, state)["anomalies"]
    assert (a["type"], a["budget"], a["overspent"]) == ("negative_credit", [3, 5], 1)
    ops[3]["args"]["amount"] = 6  # charged exactly all it had (6), maybe paid 2 more directly: -2 is possible
    [a] = check(ops, state)["anomalies"]
    assert a["type"] == "negative_credit" and "overspent" not in a


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


def test_a_lost_update_reads_whole_and_names_20_of_its_paid_orders():
    ops = [op(0, "batch_init_stock", {"n": 1, "starting_stock": 30, "item_price": 1}, process="populate"),
           op(1, "batch_init_users", {"n": 21, "starting_money": 1}, process="populate")]
    orders = {}
    for k in range(21):
        ops.append(op(2 + k, "checkout", {"order_id": f"o{k:02}"}))
        orders[f"o{k:02}"] = {"paid": True, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
    state = {"items": {"0": {"stock": 10, "price": 1}}, "users": {str(k): {"credit": 0} for k in range(21)},
             "orders": orders}
    v = check(ops, state)
    [a] = v["anomalies"]
    assert a["message"].startswith("item 0 has stock 10, expected 9 (supply 30 (30 put in), 21 units in 21 paid "
                                   "orders): 1 unit more than expected: stock subtractions of some of its paid orders "
                                   "are missing (a lost update?); checkouts of orders holding it: o00 (2xx, paid)")
    assert len(a["paid_orders"]) == 20 and len(a["checkouts"]) == 20 and v["counts"]["paid_orders"] == 21


def test_a_stock_service_that_subtracts_beyond_the_stock_is_no_oversell():
    ops = [op(0, "create_item", {"price": 1}, value={"item_id": "i"}, process="populate"),
           op(1, "add_stock", {"item_id": "i", "amount": 1}, process="populate"),
           op(2, "subtract_stock", {"item_id": "i", "amount": 3})]
    v = check(ops, {"items": {"i": {"stock": -2, "price": 1}}, "users": {}, "orders": {}})
    assert v["anomaly_types"] == {"negative_stock": 1} and v["oversold_items"] == []
    v = check(ops, {"items": {"i": {"stock": -3, "price": 1}}, "users": {}, "orders": {}})
    neg = v["anomalies"][0]
    assert v["anomaly_types"] == {"negative_stock": 1, "stock_drift": 1} and "oversold" not in neg


def test_an_unpriced_line_of_a_paid_order_is_no_total_mismatch():
    ops, state = one_sale(4, 4)
    ops[0]["args"] = {}
    del state["items"]["i"]["price"]
    state["orders"]["o"]["total_cost"] = 5
    state["users"]["u"]["credit"] = 5
    v = check(ops, state)
    assert v["valid"], v["anomalies"]
    assert v["seed_inputs"]["initial_stock_value"] == 0  # an item of unknown price adds nothing


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
    other = shop.create_order("1")
    shop._op("checkout", {"order_id": other}, "info")
    v = check(shop.ops, shop.state())
    assert v["seed_inputs"] == {"initial_stock": 6, "initial_stock_value": 24, "initial_credit": 40,
                                "final_stock": 4, "final_credit": 32, "first_item": "0", "first_item_stock": 3,
                                "success_checkouts": 3, "success_units": 4, "success_cost": 16}
    assert check([], {"items": {}, "users": {}, "orders": {}})["seed_inputs"]["first_item_stock"] is None


def test_a_drift_names_at_most_20_paid_orders_and_an_overspent_budget_counts_direct_payments():
    ops = [op(0, "create_user", {}, value={"user_id": "u"}, process="populate"),
           op(1, "create_item", {"price": 2}, value={"item_id": "i"}, process="populate"),
           op(1, "add_stock", {"item_id": "i", "amount": 21}, process="populate"),
           op(1, "add_funds", {"user_id": "u", "amount": 30}, process="populate"),
           op(2, "pay", {"user_id": "u", "amount": 2}),  # paid 2 directly
           op(2, "pay", {"user_id": "u", "amount": 2}, "info")]  # maybe 2 more
    orders = {}
    for k in range(21):
        ops.append(op(3 + k, "checkout", {"order_id": f"o{k:02}"}))
        orders[f"o{k:02}"] = {"paid": True, "items": [["i", 1]], "user_id": "u", "total_cost": 2}
    state = {"items": {"i": {"stock": 0, "price": 2}}, "users": {"u": {"credit": -3}}, "orders": orders}
    neg, a = check(ops, state)["anomalies"]
    assert neg["type"] == "negative_credit" and "overspent" not in neg  # the drift carries it
    assert len(a["paid_orders"]) == 20 and a["paid_orders"][-1] == "o19"
    assert (a["overspent"], a["budget"], a["charged_in_paid_orders"]) == (14, [26, 28], 42)
    assert a["overspent_orders"] == a["culprit_orders"] == [f"o{k:02}" for k in range(14, 21)]
    assert a["message"].startswith("user u has credit -3, expected [-16, -14] (30 put in, 42 in 21 paid orders): 11 "
                                   "more than expected: charges of its paid orders are missing (21 paid orders: o00, "
                                   "o01, o02, o03, o04 and 16 more); 14 more was charged")
    ops[3]["args"]["amount"] = 60  # enough for all: a plain drift blames its paid orders, the first 20
    state["users"]["u"]["credit"] = 20
    [a] = check(ops, state)["anomalies"]
    assert a["culprit_orders"] == [f"o{k:02}" for k in range(20)] and "overspent" not in a


def test_totals_add_every_users_and_items_bounds():
    ops = [op(0, "batch_init_users", {"n": 2, "starting_money": 10}, process="populate"),
           op(1, "batch_init_stock", {"n": 2, "starting_stock": 8, "item_price": 1}, process="populate")]
    for k in ("0", "1"):
        ops += [op(2, "add_funds", {"user_id": k, "amount": 3}, "info"), op(3, "pay", {"user_id": k, "amount": 2}),
                op(4, "pay", {"user_id": k, "amount": 1}, "info"),
                op(5, "subtract_stock", {"item_id": k, "amount": 2}),
                op(6, "subtract_stock", {"item_id": k, "amount": 1}, "info"),
                op(7, "add_stock", {"item_id": k, "amount": 1}, "info")]  # did not land
    state = {"users": {"0": {"credit": 8}, "1": {"credit": 9}}, "items": {"0": {"stock": 5, "price": 1},
             "1": {"stock": 6, "price": 1}}, "orders": {}}
    v = check(ops, state)
    assert v["valid"], v["anomalies"]
    assert v["totals"]["money"] == {"in": [20, 26], "out_direct": [4, 6], "out_paid_orders": 0,
                                    "out_unresolved_orders_max": 0, "expected": [14, 22], "actual": 17,
                                    "users_checked": 2}
    assert v["totals"]["stock"] == {"in": [16, 18], "out_direct": [4, 6], "out_paid_orders": 0,
                                    "out_unresolved_orders_max": 0, "expected": [10, 14], "actual": 11,
                                    "items_checked": 2}
    assert (v["seed_inputs"]["initial_stock"], v["seed_inputs"]["initial_credit"]) == (16, 20)
    state["items"]["0"]["stock"] = 8  # supply [5, 7]: a unit appeared
    [a] = check(ops, state)["anomalies"]
    assert a["supply"] == [5, 7] and a["expected"] == [5, 7] and a["diff"] == 1
    state["users"]["0"]["credit"] = 12  # at most 10 + 3 - 2 = 11
    assert "user_credit_drift" in check(ops, state)["anomaly_types"]


def test_an_unreadable_orders_reach_is_reported_per_user_and_item():
    ops, state = one_sale(4, 4)
    del state["orders"]["o"]
    state["unreadable"] = {"orders": {"o": "HTTP 503"}}
    ops[6]["type"] = "info"
    v = check(ops, state)
    assert v["valid"] and v["totals"]["money"]["out_unresolved_orders_max"] == 6
    assert v["totals"]["stock"]["out_unresolved_orders_max"] == 2
    assert v["totals"]["money"]["expected"] == [4, 10] and v["totals"]["stock"]["expected"] == [4, 6]


def test_completion_is_wall_plus_latency_and_a_4xx_dates_nothing():
    ops = [op(0, "batch_init_stock", {"n": 1, "starting_stock": 1, "item_price": 1}, process="populate"),
           op(1, "batch_init_users", {"n": 2, "starting_money": 1}, process="populate")]
    for k, oid in enumerate(("o1", "o2")):
        ops += [op(2 + 2 * k, "create_order", {"user_id": str(k)}, value={"order_id": oid}),
                op(3 + 2 * k, "add_item", {"order_id": oid, "item_id": "0", "quantity": 1})]
    first = {**op(6, "checkout", {"order_id": "o1"}, "fail", wall=10.0)}  # a 4xx long before: no sale
    o1 = {**op(7, "checkout", {"order_id": "o1"}, wall=50.0), "t0": 5.0, "t1": 9.0}  # completed at 54
    o2 = {**op(8, "checkout", {"order_id": "o2"}, wall=52.0), "t0": 1.0, "t1": 2.0}  # completed at 53
    state = {"items": {"0": {"stock": 0, "price": 1}}, "users": {"0": {"credit": 0}, "1": {"credit": 0}},
             "orders": {o: {"paid": True, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
                        for k, o in enumerate(("o1", "o2"))}}
    [a] = check(ops + [first, o1, o2], state)["anomalies"]
    assert a["oversold_orders"] == ["o1"]  # o2 completed first, at 53
    late_info = {**op(9, "checkout", {"order_id": "o2"}, "info", wall=40.0), "t0": 0.0, "t1": 1.0}
    [a] = check(ops + [first, o1, o2, late_info], state)["anomalies"]
    assert a["oversold_orders"] == ["o1"]  # an indeterminate answer after the 2xx does not move it
    [a] = check(ops + [first, late_info, o1], state)["anomalies"]
    assert a["oversold_orders"] == ["o1"]  # o2 only indeterminate, completed at 41: it bounds the sale
    expect = {**op(10, "checkout", {"order_id": "o2"}, expect="fail", scenario=None)}
    found = [x for x in check(ops + [expect], state)["anomalies"] if x["type"] == "expected_fail_but_ok"]
    assert found == [{"type": "expected_fail_but_ok", "order_id": "o2", "op_id": 10, "f": "checkout",
                      "message": "checkout of order o2 must fail (the  workload made it impossible) but it "
                                 "answered 200."}]


def _two_orders_one_unit():
    ops = [op(0, "batch_init_stock", {"n": 1, "starting_stock": 1, "item_price": 1}, process="populate"),
           op(1, "batch_init_users", {"n": 2, "starting_money": 1}, process="populate")]
    state = {"items": {"0": {"stock": 0, "price": 1}}, "users": {"0": {"credit": 0}, "1": {"credit": 0}},
             "orders": {o: {"paid": True, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
                        for k, o in enumerate(("o1", "o2"))}}
    return ops, state


def timed(i, oid, kind, wall, t0, t1):
    return {**op(i, "checkout", {"order_id": oid}, kind, wall=wall), "t0": t0, "t1": t1}


def test_latency_is_t1_minus_t0_and_the_first_2xx_wins_over_an_earlier_indeterminate_answer():
    ops, state = _two_orders_one_unit()
    # o1 completed at 50 + 9 - 5 = 54, o2 at 56 + 1 - 0 = 57: o2 sold past the supply.
    [a] = check(ops + [timed(2, "o1", "ok", 50.0, 5.0, 9.0), timed(3, "o2", "ok", 56.0, 0.0, 1.0)], state)["anomalies"]
    assert a["oversold_orders"] == ["o2"]
    # o2 indeterminate at 41, then its 2xx at 60: the 2xx dates the sale, after o1's.
    history = ops + [timed(2, "o2", "info", 40.0, 0.0, 1.0), timed(3, "o1", "ok", 50.0, 5.0, 9.0),
                     timed(4, "o2", "ok", 60.0, 0.0, 1.0)]
    [a] = check(history, state)["anomalies"]
    assert a["oversold_orders"] == ["o2"]


def test_a_paid_order_only_refused_is_dated_last_not_by_its_4xx():
    ops, state = _two_orders_one_unit()
    history = ops + [timed(2, "o2", "fail", 10.0, 0.0, 1.0), timed(3, "o1", "ok", 50.0, 0.0, 1.0)]
    v = check(history, state)
    assert v["anomaly_types"] == {"failed_but_paid": 1, "stock_drift": 1}
    [drift] = [a for a in v["anomalies"] if a["type"] == "stock_drift"]
    assert drift["oversold_orders"] == ["o2"]


def test_expected_failures_are_counted_each():
    ops, state = one_sale(4, 4)
    ops[6]["expect"] = "fail"
    ops.append({**op(7, "checkout", {"order_id": "o"}), "expect": "fail"})
    assert check(ops, state)["counts"]["expected_fail_but_ok"] == 2


def test_an_unreadable_orders_lines_add_up_and_an_unreadable_create_is_no_crash():
    ops, state = one_sale(4, 3)
    ops.insert(6, op(5, "add_item", {"order_id": "o", "item_id": "i", "quantity": 1}))  # 3 units of i in o
    ops.insert(6, op(5, "add_item", {"order_id": "o", "item_id": "i", "quantity": "lots"}, "info"))  # not counted
    ops.append(op(9, "create_order", {"user_id": "u"}, "info"))  # no answer: no id, no value
    del state["orders"]["o"]
    state["unreadable"] = {"orders": {"o": "HTTP 503"}}
    v = check(ops, state)
    assert v["totals"]["stock"]["out_unresolved_orders_max"] == 3
    assert v["totals"]["money"]["out_unresolved_orders_max"] == 9
