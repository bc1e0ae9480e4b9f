"""How the ledger reads the history's creates, batch_inits, refusals and must-fail answers, seen
through what `check()` reports: the anomalies and their fields, the totals, `seed_inputs` and what
is left unresolved. Hand-written histories, a few operations each (mutation survivors of issue 19)."""

from __future__ import annotations

import itertools
from typing import Any

from shopbench.checker.ledger import check

_ids = itertools.count()


def op(f: str, args: dict[str, Any], kind: str = "ok", value: Any = None, **extra: Any) -> dict[str, Any]:
    status = {"ok": 200, "fail": 400, "info": None}[kind]
    return {"id": next(_ids), "process": "w0-u0", "f": f, "args": args, "type": kind, "status": status,
            "value": value, "expect": None, "error": None, "wall": 0.0, "t0": 0.0, "t1": 0.0,
            "scenario": None, **extra}


def state(items: dict | None = None, users: dict | None = None, orders: dict | None = None,
          **rest: Any) -> dict[str, Any]:
    return {"items": {i: {"stock": s, "price": 3} for i, s in (items or {}).items()},
            "users": {u: {"credit": c} for u, c in (users or {}).items()}, "orders": orders or {}, **rest}


def test_a_created_item_and_user_start_at_zero_and_are_checked():
    made = [op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("create_user", {}, value={"user_id": "u1"})]
    v = check(made, state(items={"i1": 0}, users={"u1": 0}))
    assert v["valid"] and v["unknown_reasons"] == []
    assert v["totals"]["stock"]["items_checked"] == 1 and v["totals"]["money"]["users_checked"] == 1
    assert v["unresolved"]["items"] == [] and v["unresolved"]["users"] == []
    # From zero: what appeared with nothing behind it is a drift of exactly that much.
    v = check(made, state(items={"i1": 2}, users={"u1": 4}))
    assert {(a["type"], a.get("item_id") or a.get("user_id"), a["diff"]) for a in v["anomalies"]} == {
        ("stock_drift", "i1", 2), ("user_credit_drift", "u1", 4)}


def test_creates_without_an_id_in_the_answer_give_no_baseline_and_never_crash():
    # An indeterminate create (no answer) and a 2xx whose answer has no id: the entity may exist, but
    # the history cannot say which id it has, so an entity read back with that id is not judged.
    made = [op("create_item", {"price": 3}, kind="info"), op("create_user", {}, kind="info"),
            op("create_item", {"price": 3}, value={"id": "i1"}), op("create_user", {}, value={"id": "u1"}),
            op("create_item", {"price": 3}, value="i1"), op("create_user", {}, value=["u1"])]
    v = check(made, state(items={"i1": 0}, users={"u1": 0}))
    assert v["valid"] and v["anomalies"] == []
    assert v["unresolved"]["items"] == ["i1"] and v["unresolved"]["users"] == ["u1"]
    assert v["totals"]["stock"]["items_checked"] == 0 and v["totals"]["money"]["users_checked"] == 0


def test_a_batch_init_with_a_non_integer_count_or_amount_creates_nothing_countable():
    for n, amount in ((2, "lots"), ("two", 5), (None, 5), (2, None)):
        made = [op("batch_init_stock", {"n": n, "starting_stock": amount, "item_price": 3}, value={"msg": "ok"}),
                op("batch_init_users", {"n": n, "starting_money": amount}, value={"msg": "ok"})]
        v = check(made, state(items={"0": 5}, users={"0": 5}))
        assert v["anomalies"] == [], (n, amount)
        assert v["unresolved"]["items"] == ["0"] and v["unresolved"]["users"] == ["0"], (n, amount)
        assert v["seed_inputs"]["first_item"] is None, (n, amount)


def test_first_item_is_the_first_item_the_history_made():
    def first(*made: dict[str, Any]) -> Any:
        return check(list(made), state(items={"0": 4, "i1": 0}))["seed_inputs"]["first_item"]

    batch = {"starting_stock": 4, "item_price": 3}
    assert first(op("batch_init_stock", {"n": 1, **batch})) == "0"
    assert first(op("batch_init_stock", {"n": 0, **batch})) is None  # a batch of none made no item
    assert first(op("create_item", {"price": 3}, value={"item_id": "i1"}),
                 op("batch_init_stock", {"n": 2, **batch})) == "i1"
    assert first(op("batch_init_stock", {"n": 2, **batch}),
                 op("create_item", {"price": 3}, value={"item_id": "i1"})) == "0"
    assert check([op("batch_init_stock", {"n": 1, **batch})], state(items={"0": 4}))["seed_inputs"][
        "first_item_stock"] == 4


def test_a_refused_write_has_no_effect_even_on_the_high_bound():
    # A 4xx add_funds / add_stock is a definite no: money or stock that appears anyway is a drift, not
    # something an indeterminate answer could explain.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("add_funds", {"user_id": "u1", "amount": 10}, kind="fail"),
            op("add_stock", {"item_id": "i1", "amount": 4}, kind="fail")]
    v = check(made, state(items={"i1": 4}, users={"u1": 10}))
    drifts = {a["type"]: a for a in v["anomalies"]}
    assert set(drifts) == {"user_credit_drift", "stock_drift"}
    assert drifts["user_credit_drift"]["expected"] == [0, 0] and drifts["user_credit_drift"]["diff"] == 10
    assert drifts["stock_drift"]["expected"] == [0, 0] and drifts["stock_drift"]["diff"] == 4
    assert v["totals"]["money"]["in"] == [0, 0] and v["totals"]["stock"]["in"] == [0, 0]


def test_expected_fail_but_ok_names_the_operation_its_function_and_arguments():
    made = [op("create_user", {}, value={"user_id": "u1"}),
            op("add_funds", {"user_id": "u1", "amount": 5}, expect="fail", scenario="probe:overdraw")]
    v = check(made, state(users={"u1": 5}))
    assert v["anomalies"] == [{
        "type": "expected_fail_but_ok", "message": "add_funds {'user_id': 'u1', 'amount': 5} must fail but it "
                                                   "answered 200.",
        "op_id": made[1]["id"], "f": "add_funds", "args": {"user_id": "u1", "amount": 5}}]
    assert v["counts"]["expected_fail_but_ok"] == 1 and v["anomaly_types"] == {"expected_fail_but_ok": 1}


def test_an_unbacked_stock_drift_is_measured_from_the_low_bound():
    # 5 for sure, 3 more maybe: [5, 8]; stock 2 is 3 below the low bound, not 6 below the high one.
    made = [op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("add_stock", {"item_id": "i1", "amount": 5}),
            op("add_stock", {"item_id": "i1", "amount": 3}, kind="info")]
    (drift,) = check(made, state(items={"i1": 2}))["anomalies"]
    assert (drift["direction"], drift["expected"], drift["actual"], drift["diff"]) == (
        "unbacked_stock_movement", [5, 8], 2, -3)
    (drift,) = check(made, state(items={"i1": 10}))["anomalies"]
    assert (drift["direction"], drift["diff"]) == ("missing_stock_movement", 2)


def _bought(oid: str, uid: str, iid: str, qty: int, checkout: str = "ok") -> list[dict[str, Any]]:
    return [op("create_order", {"user_id": uid}, value={"order_id": oid}),
            op("add_item", {"order_id": oid, "item_id": iid, "quantity": qty}),
            op("checkout", {"order_id": oid}, kind=checkout)]


def test_totals_add_up_what_every_user_and_item_paid_and_may_have_paid():
    setup = [op("create_user", {}, value={"user_id": u}) for u in ("u1", "u2")]
    setup += [op("create_item", {"price": 3}, value={"item_id": i}) for i in ("i1", "i2")]
    setup += [op("add_funds", {"user_id": u, "amount": 100}) for u in ("u1", "u2")]
    setup += [op("add_stock", {"item_id": i, "amount": 10}) for i in ("i1", "i2")]
    # Paid and read back: u1 bought 2 of i1, u2 bought 1 of i2.
    paid = _bought("p1", "u1", "i1", 2) + _bought("p2", "u2", "i2", 1)
    orders = {"p1": {"user_id": "u1", "items": [["i1", 2]], "total_cost": 6, "paid": True},
              "p2": {"user_id": "u2", "items": [["i2", 1]], "total_cost": 3, "paid": True}}
    # Checked out with no answer and never read back: u1 may have paid o1 (1 of i1) and o2 (2 of i2),
    # u2 o3 (4 of i2).
    unknown = _bought("o1", "u1", "i1", 1, "info") + _bought("o2", "u1", "i2", 2, "info") + _bought(
        "o3", "u2", "i2", 4, "info")
    v = check(setup + paid + unknown, state(items={"i1": 8, "i2": 9}, users={"u1": 94, "u2": 97}, orders=orders,
                                            unreadable={"orders": {o: "timeout" for o in ("o1", "o2", "o3")}}))
    assert v["anomalies"] == []
    money, stock = v["totals"]["money"], v["totals"]["stock"]
    assert money["out_paid_orders"] == 9 and stock["out_paid_orders"] == 3
    assert money["out_unresolved_orders_max"] == 3 * (1 + 2 + 4) and stock["out_unresolved_orders_max"] == 1 + 2 + 4
    assert money["expected"] == [200 - 9 - 21, 200 - 9] and stock["expected"] == [20 - 3 - 7, 20 - 3]
    # u1's low bound counts both its unreadable orders: 9 below what it could have paid is a drift.
    v = check(setup + paid + unknown, state(items={"i1": 8, "i2": 9}, users={"u1": 100 - 6 - 9 - 1, "u2": 97},
                                            orders=orders,
                                            unreadable={"orders": {o: "timeout" for o in ("o1", "o2", "o3")}}))
    (drift,) = v["anomalies"]
    assert (drift["type"], drift["user_id"], drift["expected"], drift["diff"]) == (
        "user_credit_drift", "u1", [100 - 6 - 9, 100 - 6], -1)


def test_an_indeterminate_negative_amount_widens_the_interval_downwards():
    made = [op("create_item", {"price": 3}, value={"item_id": "i1"}), op("add_stock", {"item_id": "i1", "amount": 5}),
            op("add_stock", {"item_id": "i1", "amount": -5}, kind="info", expect="fail",
               scenario="probe:negative-amount")]
    for stock in (5, 0):  # the shop refused it (as it must) or took it: neither is a drift
        v = check(made, state(items={"i1": stock}))
        assert v["anomalies"] == [] and v["totals"]["stock"]["expected"] == [0, 5], stock


def test_an_indeterminate_answer_after_the_first_2xx_does_not_move_a_sale():
    # o1 acknowledged at 10, o2 at 20, then a retry of o1 got no answer at 30: o1 still sold first.
    made = [op("batch_init_stock", {"n": 1, "starting_stock": 1, "item_price": 1}),
            op("batch_init_users", {"n": 2, "starting_money": 1})]
    for k, oid in enumerate(("o1", "o2")):
        made += [op("create_order", {"user_id": str(k)}, value={"order_id": oid}),
                 op("add_item", {"order_id": oid, "item_id": "0", "quantity": 1})]
    made += [op("checkout", {"order_id": "o1"}, wall=10.0), op("checkout", {"order_id": "o2"}, wall=20.0),
             op("checkout", {"order_id": "o1"}, kind="info", wall=30.0)]
    orders = {o: {"paid": True, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
              for k, o in enumerate(("o1", "o2"))}
    v = check(made, {"items": {"0": {"stock": 0, "price": 1}}, "users": {"0": {"credit": 0}, "1": {"credit": 0}},
                     "orders": orders})
    (oversold,) = v["anomalies"]
    assert oversold["oversold_orders"] == ["o2"] and oversold["culprit_orders"] == ["o2"]


def test_a_created_order_whose_answer_is_no_object_is_not_pending():
    # A bare string answer (a plug-in driver's, or a history from elsewhere) names no order the
    # ledger can bound: it is skipped, not indexed.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_order", {"user_id": "u1"}, value="o1"),
            op("create_order", {"user_id": "u1"}, value=None)]
    v = check(made, state(users={"u1": 0}))
    assert v["valid"] and v["anomalies"] == [] and v["unresolved"]["orders"] == []


def test_a_created_order_without_an_id_in_the_answer_is_no_crash():
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_order", {"user_id": "u1"}, value={"id": "o1"})]
    assert check(made, state(users={"u1": 0}))["anomalies"] == []


def test_a_read_that_must_fail_answered_2xx_is_an_anomaly():
    # probe:unknown-id asks for an item that does not exist: a 2xx invents one (SHOP-API: 4xx unknown item)
    made = [op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("find_item", {"item_id": "nope"}, value={"stock": 0, "price": 0}, expect="fail",
               scenario="probe:unknown-id"),
            op("find_item", {"item_id": "nope-2"}, kind="fail", expect="fail", scenario="probe:unknown-id")]
    v = check(made, state(items={"i1": 0}))
    (wrong,) = v["anomalies"]
    assert (wrong["type"], wrong["f"], wrong["args"]) == ("expected_fail_but_ok", "find_item", {"item_id": "nope"})
    assert wrong["message"] == "find_item {'item_id': 'nope'} must fail but it answered 200." and not v["valid"]


def test_a_read_answered_2xx_does_not_end_the_reading():
    # Reads change nothing, and the operations after one still count: the add_funds after the read
    # is in the user's interval (10 put in: credit 10 is no drift).
    made = [op("create_user", {}, value={"user_id": "u1"}), op("find_user", {"user_id": "u1"}, value={"credit": 0}),
            op("add_funds", {"user_id": "u1", "amount": 10})]
    v = check(made, state(users={"u1": 10}))
    assert v["valid"] and v["anomalies"] == [] and v["totals"]["money"]["in"] == [10, 10]
    assert v["counts"]["ops"] == 3


def test_a_create_order_without_an_id_bounds_no_order_named_none():
    # A create_order with no answer names no order: an order "None" checked out later (a locustfile
    # that passed the missing id on) has no known user, so it is unbounded, not u1's.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_order", {"user_id": "u1"}, kind="info"),
            op("checkout", {"order_id": None}, kind="info")]
    v = check(made, state(users={"u1": 0}))
    assert v["unresolved"]["unbounded_orders"] == ["None"]
    assert "could not be bounded" in v["unresolved"]["note"]


def test_an_order_named_none_that_does_not_exist_leaves_the_others_bounded():
    # The shop answered 404 for an order "None" (checked out with a missing id): o1, created by u1 and
    # unreadable, is still bounded by what its add_item put in it.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("add_stock", {"item_id": "i1", "amount": 5}), op("add_funds", {"user_id": "u1", "amount": 10}),
            *_bought("o1", "u1", "i1", 1, "info"), op("checkout", {"order_id": None}, kind="fail")]
    v = check(made, state(items={"i1": 4}, users={"u1": 7}, not_found={"orders": ["None"]},
                          unreadable={"orders": {"o1": "timeout", "None": "HTTP 404"}}))
    assert v["anomalies"] == [] and v["unresolved"]["unbounded_orders"] == []
    assert v["totals"]["money"]["expected"] == [7, 10] and v["totals"]["stock"]["expected"] == [4, 5]


def test_a_negative_quantity_on_an_unreadable_order_does_not_invert_the_intervals():
    # add_item of -2 got no answer (the shop refuses it, as it must), then o1 could not be read back:
    # nothing moved, and stock 5 / credit 10 are what was put in. An unreadable order may have sold
    # its lines; a negative line cannot have sold less than nothing.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("add_stock", {"item_id": "i1", "amount": 5}), op("add_funds", {"user_id": "u1", "amount": 10}),
            op("create_order", {"user_id": "u1"}, value={"order_id": "o1"}),
            op("add_item", {"order_id": "o1", "item_id": "i1", "quantity": -2}, kind="info"),
            op("checkout", {"order_id": "o1"}, kind="info")]
    v = check(made, state(items={"i1": 5}, users={"u1": 10}, unreadable={"orders": {"o1": "timeout"}}))
    assert v["anomalies"] == [], [a["message"] for a in v["anomalies"]]
    money, stock = v["totals"]["money"]["expected"], v["totals"]["stock"]["expected"]
    assert money[0] <= 10 <= money[1] and stock[0] <= 5 <= stock[1]


def test_an_unreadable_orders_lines_bound_what_it_may_have_sold_and_charged():
    # o1 (unreadable) was asked for 2 units, then 0 more, then -1: at most 2 units (6 credits) sold.
    made = [op("create_user", {}, value={"user_id": "u1"}), op("create_item", {"price": 3}, value={"item_id": "i1"}),
            op("add_stock", {"item_id": "i1", "amount": 5}), op("add_funds", {"user_id": "u1", "amount": 10}),
            op("create_order", {"user_id": "u1"}, value={"order_id": "o1"}),
            op("add_item", {"order_id": "o1", "item_id": "i1", "quantity": 2}),
            op("add_item", {"order_id": "o1", "item_id": "i1", "quantity": 0}, kind="info"),
            op("add_item", {"order_id": "o1", "item_id": "i1", "quantity": -1}, kind="info"),
            op("checkout", {"order_id": "o1"}, kind="info")]
    v = check(made, state(items={"i1": 3}, users={"u1": 4}, unreadable={"orders": {"o1": "timeout"}}))
    assert v["anomalies"] == []
    assert v["totals"]["money"]["expected"] == [4, 10] and v["totals"]["stock"]["expected"] == [3, 5]
