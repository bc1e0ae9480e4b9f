"""Each anomaly that names an order, user or item gets that entity's operations, in order."""

from shopbench.checker.explain import MAX_STEPS, attach_timelines
from shopbench.checker.ledger import check


def op(i, f, args, kind="ok", value=None, process="c1", wall=None):
    wall = 100.0 + i if wall is None else wall
    return {"id": i, "process": process, "f": f, "args": args, "expect": None, "type": kind,
            "status": {"ok": 200, "fail": 400}.get(kind), "value": value,
            "error": "timeout" if kind == "info" else None, "wall": wall, "t0": 0.0, "t1": 0.004}


HISTORY = [
    op(0, "batch_init_stock", {"n": 2, "starting_stock": 5, "item_price": 3}, process="populate"),
    op(1, "batch_init_users", {"n": 2, "starting_money": 10}, process="populate"),
    op(2, "create_order", {"user_id": "0"}, value={"order_id": "o1"}),
    op(3, "add_item", {"order_id": "o1", "item_id": "1", "quantity": 1}),
    op(4, "create_order", {"user_id": "1"}, value={"order_id": "o2"}),      # unrelated to the lost order
    op(5, "checkout", {"order_id": "o1"}, process="burst-0"),               # acknowledged...
    op(6, "checkout", {"order_id": "o1"}, kind="info", process="burst-1"),
    op(7, "add_funds", {"user_id": "0", "amount": 2}),
]
# ...but not paid, and user 0 was charged anyway (credit 10 + 2 - 3 = 9): the shop lost the paid flag.
STATE = {"items": {"0": {"stock": 5, "price": 3}, "1": {"stock": 4, "price": 3}},
         "users": {"0": {"credit": 9}, "1": {"credit": 10}},
         "orders": {"o1": {"paid": False, "items": [["1", 1]], "user_id": "0", "total_cost": 3},
                    "o2": {"paid": False, "items": [], "user_id": "1", "total_cost": 0}}}


def test_the_lost_order_and_the_overcharged_user_are_explained():
    verdict = check(HISTORY, STATE)
    assert not verdict["valid"]
    explained = attach_timelines(HISTORY, verdict["anomalies"])
    lost = next(a for a in explained if a["type"] == "acknowledged_lost")
    assert [s["f"] for s in lost["timeline"]] == ["create_order", "add_item", "checkout", "checkout"]
    assert [s["process"] for s in lost["timeline"][2:]] == ["burst-0", "burst-1"]
    assert lost["timeline"][0]["at"] == 0.0 and lost["timeline"][-1]["at"] == 4.0
    assert lost["timeline"][-1]["type"] == "info" and lost["timeline"][-1]["error"] == "timeout"
    user = next(a for a in explained if a["type"] == "user_credit_drift")
    assert user["user_id"] == "0"
    # The user's own operations and its order's, not the other user's order.
    assert [s["f"] for s in user["timeline"]] == ["create_order", "add_item", "checkout", "checkout", "add_funds"]
    stock = next(a for a in explained if a["type"] == "stock_drift")
    # Item 1: a unit gone, no paid order; o1 holds it and was checked out (2xx, then indeterminate) but
    # is not paid: it is named, and its checkouts are on the item's timeline and its own.
    assert stock["checkouts"] == [{"order_id": "o1", "paid": False, "ok": 1, "fail": 0, "info": 1}]
    assert stock["message"].endswith("; checkouts of orders holding it: o1 (2xx, indeterminate, unpaid).")
    assert [s["f"] for s in stock["timeline"]] == ["create_order", "add_item", "checkout", "checkout"]
    [culprit] = stock["culprits"]
    assert culprit["order_id"] == "o1" and [s["f"] for s in culprit["timeline"]][-2:] == ["checkout", "checkout"]


def test_a_valid_history_is_left_alone_and_long_timelines_are_capped():
    verdict = check(HISTORY[:5], {**STATE, "users": {"0": {"credit": 10}, "1": {"credit": 10}},
                                  "items": {"0": {"stock": 5, "price": 3}, "1": {"stock": 5, "price": 3}}})
    assert verdict["valid"] and attach_timelines(HISTORY, verdict["anomalies"]) == []
    many = [op(i, "checkout", {"order_id": "o9"}, kind="fail") for i in range(100)]
    [explained] = attach_timelines(many, [{"type": "failed_but_paid", "order_id": "o9"}])
    assert len(explained["timeline"]) == MAX_STEPS
    assert explained["timeline"][-1]["at"] == 99.0  # the latest operations are kept
