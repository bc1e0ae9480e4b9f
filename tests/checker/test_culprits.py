"""Culprits named: the orders sold beyond an item's supply (in completion order, each with its own
timeline holding its checkout), possible oversells warned about, and timelines that keep the
operations that move money and stock when they are capped."""

from __future__ import annotations

from shopbench.checker.explain import MAX_STEPS, attach_timelines
from shopbench.checker.ledger import check
from shopbench.checker.verdict import assemble


def op(i, f, args, kind="ok", value=None, process="c1", wall=None, latency=0.01):
    return {"id": i, "process": process, "f": f, "args": args, "expect": None, "type": kind,
            "status": {"ok": 200, "fail": 400}.get(kind), "value": value, "error": None,
            "wall": 1000.0 + i if wall is None else wall, "t0": 0.0, "t1": latency}


def hot_item(stock: int, n_orders: int, paid: int, final_stock: int, *, reversed_completion: bool = False):
    """One item with `stock`, n orders of one unit each by their own user; the first `paid` paid."""
    ops = [op(0, "batch_init_stock", {"n": 1, "starting_stock": stock, "item_price": 1}, process="populate"),
           op(1, "batch_init_users", {"n": n_orders, "starting_money": 1}, process="populate")]
    state = {"items": {"0": {"stock": final_stock, "price": 1}}, "users": {}, "orders": {}}
    i = 2
    for k in range(n_orders):
        oid = f"o{k}"
        ops.append(op(i, "create_order", {"user_id": str(k)}, value={"order_id": oid}, process="orders"))
        ops.append(op(i + 1, "add_item", {"order_id": oid, "item_id": "0", "quantity": 1}, process="orders"))
        i += 2
    # Every checkout is invoked at once; they complete one after another (o0 first, unless reversed).
    for k in range(n_orders):
        done = (n_orders - k) if reversed_completion else k
        ops.append(op(i, "checkout", {"order_id": f"o{k}"}, "ok" if k < paid else "fail", process=f"burst-{k}",
                      wall=5000.0, latency=1.0 + done * 0.01))
        i += 1
        state["orders"][f"o{k}"] = {"paid": k < paid, "items": [["0", 1]], "user_id": str(k), "total_cost": 1}
        state["users"][str(k)] = {"credit": 0 if k < paid else 1}
    return ops, state


def test_lost_update_hot_item_names_exactly_as_many_orders_as_units_oversold():
    ops, state = hot_item(stock=50, n_orders=60, paid=55, final_stock=0)
    v = check(ops, state)
    [drift] = [a for a in v["anomalies"] if a["type"] == "stock_drift"]
    assert drift["oversold"] and drift["oversold_units"] == 5 and drift["supply"] == [50, 50]
    assert drift["units_in_paid_orders"] == 55
    assert drift["oversold_orders"] == ["o50", "o51", "o52", "o53", "o54"]  # the last five to complete
    assert "oversold by 5" in drift["message"] and "never subtracted" not in drift["message"]
    assert v["oversold_items"] == ["0"]
    [explained] = [a for a in attach_timelines(ops, v["anomalies"]) if a["type"] == "stock_drift"]
    assert [c["order_id"] for c in explained["culprits"]] == drift["oversold_orders"]
    for culprit in explained["culprits"]:
        fs = [s["f"] for s in culprit["timeline"]]
        assert fs == ["create_order", "add_item", "checkout"], fs
    # The item's own capped timeline keeps checkouts over creates and add_items.
    fs = [s["f"] for s in explained["timeline"]]
    # It follows 20 paid orders, the 5 culprits and the checkouts named (the 5 refused ones first):
    # more checkouts than fit, so the capped timeline is all checkouts, the refused ones among them.
    assert len(fs) == MAX_STEPS and fs.count("checkout") == MAX_STEPS, fs
    assert [c["order_id"] for c in drift["checkouts"][:5]] == ["o55", "o56", "o57", "o58", "o59"]
    assert sum(s["type"] == "fail" for s in explained["timeline"]) == 5


def test_completion_order_not_invocation_order_decides_the_culprits():
    ops, state = hot_item(stock=3, n_orders=5, paid=5, final_stock=0, reversed_completion=True)
    v = check(ops, state)
    [drift] = [a for a in v["anomalies"] if a["type"] == "stock_drift"]
    assert drift["oversold_units"] == 2 and drift["oversold_orders"] == ["o1", "o0"]


def test_an_oversell_that_leaves_negative_stock_is_named_too():
    ops, state = hot_item(stock=10, n_orders=12, paid=12, final_stock=-2)
    v = check(ops, state)
    assert {a["type"] for a in v["anomalies"]} == {"negative_stock"}
    [neg] = v["anomalies"]
    assert neg["oversold_units"] == 2 and neg["oversold_orders"] == ["o10", "o11"]
    assert v["oversold_items"] == ["0"]


def test_a_correct_hot_item_names_nobody():
    ops, state = hot_item(stock=50, n_orders=60, paid=50, final_stock=0)
    v = check(ops, state)
    assert v["valid"] and v["oversold_items"] == [] and not v["warnings"], v["anomalies"]


def test_possible_oversell_behind_indeterminate_restocks_is_a_warning():
    ops, state = hot_item(stock=2, n_orders=4, paid=4, final_stock=0)
    ops.append(op(999, "add_stock", {"item_id": "0", "amount": 2}, "info"))  # took effect, answer lost
    v = check(ops, state)
    assert v["valid"], v["anomalies"]
    assert v["warnings"] == [w for w in v["warnings"] if "possibly oversold by up to 2" in w] != []


def test_a_user_charged_beyond_its_credit_names_the_orders_past_it():
    ops, state = hot_item(stock=10, n_orders=3, paid=3, final_stock=7)
    for k in range(3):  # all three orders belong to user 0, who had 1
        state["orders"][f"o{k}"]["user_id"] = "0"
    state["users"] = {"0": {"credit": -2}, "1": {"credit": 1}, "2": {"credit": 1}}
    v = check(ops, state)
    [neg] = [a for a in v["anomalies"] if a["type"] == "negative_credit"]
    assert neg["overspent"] == 2 and neg["overspent_orders"] == ["o1", "o2"]
    [explained] = [a for a in attach_timelines(ops, v["anomalies"]) if a["type"] == "negative_credit"]
    assert [c["order_id"] for c in explained["culprits"]] == ["o1", "o2"]


def test_unreadable_state_makes_the_verdict_unknown_and_says_how_many_and_why():
    ops, state = hot_item(stock=5, n_orders=4, paid=2, final_stock=3)
    del state["items"]["0"]
    del state["orders"]["o3"]
    state["unreadable"] = {"items": {"0": "HTTP 500: internal error"},
                           "orders": {"o3": "connection refused", "ghost": "order 'ghost' not found"},
                           "users": {}}
    state["not_found"] = {"orders": ["ghost"]}  # a definite 404 is an answer, not missing data
    state["settled"] = True
    v = assemble(check(ops, state), state)
    assert v["result"] == "unknown" and v["valid"] is False
    [reason] = v["unknown_reasons"]
    assert reason.startswith("1 order, 1 item touched by the load could not be read back")
    assert "HTTP 500" in reason and "connection refused" in reason and "ghost" not in reason


def test_anomalies_on_incomplete_data_are_still_invalid():
    ops, state = hot_item(stock=5, n_orders=4, paid=2, final_stock=3)
    state["users"]["0"]["credit"] = 7  # money appeared
    del state["orders"]["o3"]
    state["unreadable"] = {"orders": {"o3": "HTTP 503"}}
    v = assemble(check(ops, state), state)
    assert v["result"] == "invalid" and v["unknown_reasons"]


def test_a_run_in_which_no_load_ran_is_unknown_not_valid():
    ops, state = hot_item(stock=5, n_orders=2, paid=0, final_stock=5)
    setup_only = [o for o in ops if o["process"] in ("populate", "orders")]
    v = assemble(check(setup_only, state), state)
    assert v["result"] == "unknown" and v["counts"]["load_ran"] is False
    assert any(r.startswith("no load ran") for r in v["unknown_reasons"])
    v = assemble(check([], {"items": {}, "users": {}, "orders": {}}), {"settled": True})
    assert v["result"] == "unknown"


def test_stock_anomalies_that_are_not_oversells_are_not_counted_as_oversold():
    # What the overselling SLO counts: a lost compensation (stock gone) or a lost subtraction with
    # stock to spare are stock anomalies, not oversells.
    ops, state = hot_item(stock=10, n_orders=4, paid=2, final_stock=7)  # one unit taken, nobody paid
    v = check(ops, state)
    assert {a["type"] for a in v["anomalies"]} == {"stock_drift"} and v["oversold_items"] == []
    ops, state = hot_item(stock=10, n_orders=4, paid=4, final_stock=7)  # a subtraction lost, 6 left
    v = check(ops, state)
    [drift] = v["anomalies"]
    assert drift["direction"] == "missing_stock_movement" and not drift["oversold"] and v["oversold_items"] == []


def test_stock_gone_with_no_paid_order_names_the_refused_checkout_that_took_it():
    # Issue 25.2: a checkout answered 400 whose reserved stock was never given back.
    import random

    from ledger_sim import SimShop

    shop = SimShop(random.Random(2), bugs=frozenset({"no_compensation"}))
    iid, uid, rich = shop.create_item(3), shop.create_user(), shop.create_user()
    shop.add_stock(iid, 5)
    shop.add_funds(rich, 10)
    paid = shop.create_order(rich)
    shop.add_item(paid, iid, 1)
    assert shop.checkout(paid) == "ok"
    refused = shop.create_order(uid)  # no credit: refused, and its 2 reserved units are kept
    shop.add_item(refused, iid, 2)
    assert shop.checkout(refused) == "fail" and "no_compensation" in shop.triggered
    v = check(shop.ops, shop.state())
    [drift] = v["anomalies"]
    assert drift["type"] == "stock_drift" and drift["direction"] == "unbacked_stock_movement"
    assert drift["checkouts"] == [{"order_id": refused, "paid": False, "ok": 0, "fail": 1, "info": 0},
                                  {"order_id": paid, "paid": True, "ok": 1, "fail": 0, "info": 0}]
    assert drift["culprit_orders"] == [refused]
    assert drift["message"] == (
        f"item {iid} has stock 2, expected 4 (supply 5 (5 put in), 1 unit in 1 paid order): 2 units less than "
        f"expected: stock taken with no paid order behind it; checkouts of orders holding it: {refused} (4xx, "
        f"unpaid), {paid} (2xx, paid).")
    [explained] = attach_timelines(shop.ops, v["anomalies"])
    checkouts = [(s["args"]["order_id"], s["type"]) for s in explained["timeline"] if s["f"] == "checkout"]
    assert checkouts == [(paid, "ok"), (refused, "fail")]
    [culprit] = explained["culprits"]
    # (the simulated shop's operations share one wall clock: order within it is not asserted)
    assert sorted(s["f"] for s in culprit["timeline"]) == ["add_item", "checkout", "create_order"]
