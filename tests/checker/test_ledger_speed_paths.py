"""The ledger's fast paths (benchmarks/checker_scale.py) give the verdict of the plain ones.

state.json whose entity tables are all well-formed is decoded by msgspec straight into records, and
`read_state` takes such tables as they are; any other state is walked entity by entity. Whichever
way it goes, `check` must say the same as on the state `json.load` gives.
"""

from __future__ import annotations

import copy
import json

import pytest

import shopbench.state_file as state_file
from shopbench.checker.ledger import check
from shopbench.checker.ledger.final_state import Item, Order, User, read_state
from shopbench.state_file import load_state

OPS = [
    {"id": 0, "process": "populate", "f": "batch_init_stock", "args": {"n": 3, "starting_stock": 5, "item_price": 2},
     "type": "ok", "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 1, "process": "populate", "f": "batch_init_users", "args": {"n": 3, "starting_money": 10}, "type": "ok",
     "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 2, "process": "w", "f": "create_order", "args": {"user_id": "0"}, "type": "ok", "status": 201,
     "value": {"order_id": "a"}, "wall": 1.5, "t0": 0.0, "t1": 0.1},
    {"id": 3, "process": "w", "f": "checkout", "args": {"order_id": "a"}, "type": "ok", "value": None,
     "expect": None, "wall": 2.0, "t0": 0.0, "t1": 0.1},
    {"id": 4, "process": "w", "f": "checkout", "args": {"order_id": "b"}, "type": "ok", "value": None,
     "expect": None, "wall": 2.0, "t0": 0.0, "t1": 0.1},
    {"id": 5, "process": "w", "f": "checkout", "args": {"order_id": "c"}, "type": "fail", "value": None,
     "expect": None, "wall": 2.0, "t0": 0.0, "t1": 0.1},
]
# Well-formed throughout, with anomalies: b acknowledged but unpaid, c paid though refused, item 1
# and user 2 drifting, c's total not its lines' cost.
STATE = {
    "items": {"0": {"stock": 4, "price": 2}, "1": {"stock": 7, "price": 2}, "2": {"stock": 4, "price": 2}},
    "users": {"0": {"credit": 8}, "1": {"credit": 10}, "2": {"credit": 5}},
    "orders": {"a": {"paid": True, "items": [["0", 1]], "user_id": "0", "total_cost": 2},
               "b": {"paid": False, "items": [["0", 1]], "user_id": "1", "total_cost": 2},
               "c": {"paid": True, "items": [["2", 1]], "user_id": "2", "total_cost": 7}},
    "unreadable": {"items": {}, "users": {}, "orders": {}}, "not_found": {"orders": []},
    "settled": True, "reads": 2, "settle": {"seconds": 0.5},
}


def _write(tmp_path, state) -> object:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    return path


def test_a_well_formed_state_is_decoded_into_records_without_the_walk(tmp_path, monkeypatch) -> None:
    def no_walk(*args, **kwargs):
        raise AssertionError("walked a well-formed state")

    monkeypatch.setattr(state_file, "_walk", no_walk)
    state = load_state(_write(tmp_path, STATE))
    assert {k: v for k, v in state.items() if k not in ("items", "users", "orders")} == {
        k: v for k, v in STATE.items() if k not in ("items", "users", "orders")}
    assert state["orders"]["c"] == Order(True, "2", 7, (("2", 1),))
    assert state["users"]["2"] == User(5) and state["items"]["1"] == Item(7, 2)
    verdict = check(OPS, state)
    assert verdict == check(OPS, STATE)
    assert verdict["anomaly_types"] == {"acknowledged_lost": 1, "failed_but_paid": 1, "order_total_mismatch": 1,
                                        "user_credit_drift": 1, "stock_drift": 1}


@pytest.mark.parametrize("where, value", [
    (("orders", "c", "total_cost"), "7"),  # an amount as a digit string: a record all the same
    (("orders", "c", "paid"), "yes"),  # malformed: left out and named
    (("users", "2", "credit"), True),
    (("items", "1", "stock"), 7.0),
    (("orders", "a", "items"), [["0", 1, 2]]),
])
def test_a_state_msgspec_refuses_is_walked_to_the_same_verdict(tmp_path, where, value) -> None:
    state = copy.deepcopy(STATE)
    kind, entity, field = where
    state[kind][entity][field] = value
    loaded = load_state(_write(tmp_path, state))
    assert isinstance(loaded["orders"]["b"], Order)  # walked: well-formed entities still records
    assert check(OPS, loaded) == check(OPS, state)


def test_read_state_takes_a_table_of_records_as_it_is(tmp_path) -> None:
    state = load_state(_write(tmp_path, STATE))
    books = read_state(state)
    assert books.orders is state["orders"] and books.users is state["users"] and books.items is state["items"]
    mixed = {**state, "orders": {**state["orders"], "d": {"paid": "yes"}}}
    books = read_state(mixed)
    assert set(books.orders) == {"a", "b", "c"}
    assert books.malformed["orders"] == {"d": "paid 'yes' is not true or false"}


@pytest.mark.parametrize("text, expected", [
    (b'{"id": 0}\n\n  \r\n{"id": 1}\n', [0, 1]),  # blank lines are skipped
    (b'{"id": 0}\n{"id": 1', [0]),  # a last line cut short (a crash mid-write) too
    (b'{"id": 0}\n{"id"\n   \n', "line 2"),  # anywhere else, even before blank lines, it is named
    (b'{"id": 0}\n{"id"\n{"id": 2}\n', "line 2"),
])
def test_iter_history_skips_blank_lines_and_names_a_damaged_one(tmp_path, text, expected) -> None:
    from shopbench.errors import UsageError
    from shopbench.history import iter_history

    path = tmp_path / "ops.jsonl"
    path.write_bytes(text)
    if isinstance(expected, list):
        assert [op["id"] for op in iter_history(path)] == expected
    else:
        with pytest.raises(UsageError, match=f"{expected} is not a JSON operation record"):
            list(iter_history(path))
