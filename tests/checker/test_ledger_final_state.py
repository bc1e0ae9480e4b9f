"""How the ledger reads the final state, seen through `check()`: what is left out as malformed and
why, whose price counts, and ids of other types kept apart (mutation survivors of issue 19)."""

from __future__ import annotations

from shopbench.checker.ledger import check

CREATED = [{"id": 0, "process": "w0-u0", "f": "create_item", "args": {"price": 3}, "type": "ok", "status": 200,
            "value": {"item_id": "i1"}, "expect": None, "wall": 0.0, "t0": 0.0, "t1": 0.0, "scenario": None}]


def test_a_malformed_item_or_order_line_is_left_out_with_why():
    v = check(CREATED, {"items": {"i1": {"stock": "x", "price": 3}}, "users": {},
                        "orders": {"o1": {"user_id": "u1", "items": [[True, 1]], "total_cost": 3, "paid": True},
                                   "o2": {"user_id": "u1", "items": [["i1", True]], "total_cost": 3, "paid": True}}})
    assert v["unresolved"]["malformed"] == {
        "items": {"i1": "stock 'x' is not an integer"},
        "orders": {"o1": "items [[True, 1]] is not a list of [item_id, quantity] pairs",
                   "o2": "items [['i1', True]] is not a list of [item_id, quantity] pairs"},
        "users": {}}
    assert v["counts"]["paid_orders"] == 0 and v["totals"]["stock"]["items_checked"] == 0


def test_the_price_read_back_is_the_one_a_paid_order_is_held_to():
    # Created at 3, read back at 5 (the shop changed it): one unit for 5 is the right total.
    order = {"user_id": "u1", "items": [["i1", 1]], "total_cost": 5, "paid": True}
    v = check(CREATED, {"items": {"i1": {"stock": 0, "price": 5}}, "users": {}, "orders": {"o1": order}})
    assert v["anomaly_types"].get("order_total_mismatch") is None
    v = check(CREATED, {"items": {"i1": {"stock": 0, "price": 4}}, "users": {}, "orders": {"o1": order}})
    (mismatch,) = [a for a in v["anomalies"] if a["type"] == "order_total_mismatch"]
    assert (mismatch["expected"], mismatch["actual"]) == (4, 5)


def test_user_ids_of_other_types_are_not_merged():
    # user_id 1 and user_id true are different users ("1" and "True"), though 1 == True in Python.
    made = [{**CREATED[0], "f": "batch_init_users", "args": {"n": 2, "starting_money": 10}, "value": {"msg": "ok"}}]
    orders = {"o1": {"user_id": 1, "items": [], "total_cost": 3, "paid": True},
              "o2": {"user_id": True, "items": [], "total_cost": 3, "paid": True}}
    v = check(made, {"items": {}, "users": {"1": {"credit": 7}}, "orders": orders})
    assert [a for a in v["anomalies"] if a["type"] == "user_credit_drift"] == []
    assert v["totals"]["money"]["out_paid_orders"] == 3
