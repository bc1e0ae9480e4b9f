"""Every UNKNOWN sentence of the ledger, whole, and the fields of the checkout anomalies: what a user
reads is behaviour (the mutation run's survivors said which were never asserted)."""

from __future__ import annotations

from shopbench.checker.ledger import check


def op(i, f, args, kind="ok", value=None, process="c1"):
    return {"id": i, "process": process, "f": f, "args": args, "expect": None, "type": kind,
            "status": {"ok": 200, "fail": 400}.get(kind), "value": value, "error": None,
            "wall": 100.0 + i, "t0": 0.0, "t1": 0.01}


def test_no_load_is_said_whole():
    assert check([op(0, "batch_init_users", {"n": 1, "starting_money": 1}, process="populate")],
                 {"users": {"0": {"credit": 1}}})["unknown_reasons"] == [
        "no load ran: the history holds no operation of the load (only setup and reads), so nothing was checked; run "
        "the load for longer, or check that users started"]


def test_unreadable_entities_are_counted_with_their_two_commonest_reasons():
    long = "HTTP 500: " + "x" * 100
    ops = [op(0, "checkout", {"order_id": "gone"})]
    state = {"unreadable": {"orders": {"a": long, "b": "refused", "c": "HTTP 503", "d": long + "y"},
                            "users": {"u": "HTTP 503", "v": "refused"}, "items": {"i": "refused"}}}
    reason = check(ops, state)["unknown_reasons"][0]
    # 5 orders (four unreadable, one checked out and absent), 2 users, 1 item; the reasons cut at 80
    # characters, so both long ones count as one; the two commonest, the commonest first.
    assert reason == (f"5 orders, 2 users, 1 item touched by the load could not be read back (3x refused; 2x "
                      f"{long[:80]}): their money and stock were not checked; make sure every service answers its "
                      "find route after the load (raise --settle-timeout, or restore the service)")


def test_vanished_and_unbounded_sentences_are_said_whole():
    ops = [op(0, "create_user", {}, value={"user_id": "u"}, process="populate"),
           op(1, "batch_init_orders", {"n": 3}, process="populate"),
           op(2, "checkout", {"order_id": "0"}), op(3, "checkout", {"order_id": "1"}, "info")]
    state = {"unreadable": {"users": {"u": "user not found"}, "orders": {"0": "HTTP 500", "1": "HTTP 500"}},
             "not_found": {"users": ["u"]}}
    reasons = check(ops, state)["unknown_reasons"]
    assert reasons[1:] == [
        "1 user the shop acknowledged creating now answer 404: did it lose its state on restart? Their money and "
        "stock were not checked; keep each service's data in a store that survives the faults you inject",
        "2 unreadable orders could not be bounded (made by batch_init_orders, or holding unpriced items): credit or "
        "stock below its expected interval cannot be judged; make sure the order service answers its find route "
        "after the load (raise --settle-timeout)"]


def test_checkout_anomalies_carry_their_answers_and_states():
    ops = [op(0, "checkout", {"order_id": "ghost"}, "info"),  # first: the orders after it are still judged
           op(1, "checkout", {"order_id": "ghost2"}, "info"),
           op(2, "checkout", {"order_id": "gone"}), op(3, "checkout", {"order_id": "gone"}, "fail"),
           op(4, "checkout", {"order_id": "lost"}), op(5, "checkout", {"order_id": "lost"}, "info"),
           op(6, "checkout", {"order_id": "refused"}, "fail")]
    order = {"items": [], "user_id": "u", "total_cost": 0}
    state = {"orders": {"lost": {**order, "paid": False}, "refused": {**order, "paid": True}},
             "not_found": {"orders": ["gone"]}}
    v = check(ops, state)
    assert v["checkouts"]["info_unresolved"] == 2 and v["unresolved"]["orders"] == ["ghost", "ghost2"]
    gone, lost, refused = v["anomalies"]
    assert gone == {"type": "acknowledged_lost", "order_id": "gone", "user_id": None, "expected": "paid",
                    "actual": "not found", "checkouts": {"ok": 1, "fail": 1, "info": 0},
                    "message": "order gone: checkout answered 2xx, but the shop now answers that the order does not "
                               "exist (404)."}
    assert lost == {"type": "acknowledged_lost", "order_id": "lost", "user_id": "u", "expected": "paid",
                    "actual": "unpaid", "checkouts": {"ok": 1, "fail": 0, "info": 1},
                    "message": "order lost: checkout answered 2xx, but the order is not paid."}
    assert refused == {"type": "failed_but_paid", "order_id": "refused", "user_id": "u", "expected": "unpaid",
                       "actual": "paid", "checkouts": {"ok": 0, "fail": 1, "info": 0},
                       "message": "order refused is paid (total_cost 0), yet every checkout of it (1) answered 4xx."}
