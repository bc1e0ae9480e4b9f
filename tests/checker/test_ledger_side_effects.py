"""What `check()` leaves behind and what it counts for seed 000 (mutation survivors of issue 19)."""

from __future__ import annotations

import gc

from shopbench.checker.ledger import check
from shopbench.checker.ledger.books import Books

OPS = [
    {"id": 0, "process": "populate", "f": "batch_init_stock", "args": {"n": 2, "starting_stock": 5, "item_price": 2},
     "type": "ok", "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 1, "process": "populate", "f": "batch_init_users", "args": {"n": 1, "starting_money": 10}, "type": "ok",
     "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 2, "process": "w", "f": "checkout", "args": {"order_id": "a"}, "type": "ok", "value": None,
     "expect": None, "wall": 2.0, "t0": 0.0, "t1": 0.1},
]
STATE = {"items": {"0": {"stock": 4, "price": 2}, "1": {"stock": 3, "price": 2}}, "users": {"0": {"credit": 4}},
         "orders": {"a": {"paid": True, "items": [["0", 1], ["1", 2]], "user_id": "0", "total_cost": 6}}}


def test_check_leaves_the_garbage_collector_as_it_found_it():
    # check() pauses the cyclic collector while it runs; a long-lived caller must get it back.
    was = gc.isenabled()
    try:
        gc.enable()
        assert check(OPS, STATE)["valid"]
        assert gc.isenabled()
        gc.disable()
        check(OPS, STATE)
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_success_units_count_every_line_of_a_paid_order():
    # seed 000 counts the units of every line: 1 of item 0 and 2 of item 1.
    seed = check(OPS, STATE)["seed_inputs"]
    assert (seed["success_checkouts"], seed["success_units"], seed["success_cost"]) == (1, 3, 6)


def test_the_stock_floor_helper_of_the_books_is_used_by_check(monkeypatch):
    # An item's stock is judged against its floor: the helper that says whether that floor is known
    # must be the one the check asks.
    asked = []
    helper = Books.stock_floor_known
    monkeypatch.setattr(Books, "stock_floor_known", lambda self: asked.append(1) or helper(self))
    check(OPS, STATE)
    assert asked
