"""state.json read entity by entity: the same state and the same ledger verdict as reading it whole."""

from __future__ import annotations

import json

import pytest

from shopbench.checker.ledger import check
from shopbench.checker.ledger.final_state import Order, User
from shopbench.errors import UsageError
from shopbench.rundir import dumps
from shopbench.state_file import load_state

OPS = [
    {"id": 0, "process": "populate", "f": "batch_init_stock", "args": {"n": 3, "starting_stock": 5, "item_price": 2},
     "type": "ok", "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 1, "process": "populate", "f": "batch_init_users", "args": {"n": 3, "starting_money": 10}, "type": "ok",
     "value": {"msg": "ok"}, "expect": None, "wall": 1.0, "t0": 0.0, "t1": 0.1},
    {"id": 2, "process": "w", "f": "checkout", "args": {"order_id": "a"}, "type": "ok", "value": None, "expect": None,
     "wall": 2.0, "t0": 0.0, "t1": 0.1},
    {"id": 3, "process": "w", "f": "checkout", "args": {"order_id": "b"}, "type": "ok", "value": None, "expect": None,
     "wall": 2.0, "t0": 0.0, "t1": 0.1},
]
STATE = {
    "items": {"0": {"stock": 4, "price": 2}, "1": {"stock": 5, "price": 2}, "2": {"stock": "lots"}},
    "users": {"0": {"credit": 8}, "1": {"credit": 10}, "2": {"credit": 10}},
    "orders": {"a": {"paid": True, "items": [["0", 1]], "user_id": "0", "total_cost": 2},
               "b": {"paid": False, "items": [["0", 1]], "user_id": "1", "total_cost": 2},
               "c": {"paid": "yes", "items": [], "user_id": "1", "total_cost": 0},
               "d": {"paid": False, "items": [[True, 1]], "user_id": "1", "total_cost": 0}},
    "unreadable": {"items": {}, "users": {}, "orders": {"e": "timed out"}}, "not_found": {"orders": ["f"]},
    "settled": True, "reads": 2, "settle": {"seconds": 0.5},
}


@pytest.mark.parametrize("indented", [True, False])
def test_the_walk_gives_the_verdict_of_the_whole_read(tmp_path, indented) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(dumps(STATE) if indented else json.dumps(STATE, separators=(",", ":")).encode())
    state = load_state(path)
    assert {k: v for k, v in state.items() if k not in ("items", "users", "orders")} == {
        k: v for k, v in STATE.items() if k not in ("items", "users", "orders")}
    assert isinstance(state["orders"]["a"], Order) and isinstance(state["users"]["0"], User)
    assert state["orders"]["a"].items[0] is state["orders"]["b"].items[0]  # equal lines stored once
    assert state["items"]["2"] == {"stock": "lots"} and state["orders"]["c"]["paid"] == "yes"  # left as read
    assert check(OPS, state) == check(OPS, STATE)
    verdict = check(OPS, state)
    assert verdict["anomaly_types"] == {"acknowledged_lost": 1}
    assert verdict["unresolved"]["malformed"]["orders"].keys() == {"c", "d"}  # d: an item id true is no id


def test_a_broken_state_file_is_one_sentence_naming_it(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"items": {"0": {"stock": 1}}, "orders": {"a": ')
    with pytest.raises(UsageError, match=r"state\.json: the final state is not valid JSON \(.* line 1"):
        load_state(path)
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match="is list, not a JSON object"):
        load_state(path)
    with pytest.raises(UsageError, match="cannot read the final state"):
        load_state(tmp_path / "missing.json")


def test_a_table_shaped_like_one_entity_stays_a_table(tmp_path) -> None:
    """The hook sees the table object too: a users table whose one user is called "credit" is a
    table of one user, not a user."""
    path = tmp_path / "state.json"
    path.write_text('{"users": {"credit": 5}, "items": {"stock": {"stock": 1, "price": 2}}}')
    state = load_state(path)
    assert state["users"] == {"credit": 5}
    assert state["items"]["stock"]["stock"] == 1


@pytest.mark.parametrize("text", ['{}x', '{"users": {"0": {"credit": "x"}}}x'])
def test_one_character_after_the_state_object_is_named(tmp_path, text) -> None:
    # Walked (msgspec refuses trailing data): the character after the closing brace is not skipped.
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=r"state\.json: the final state is not valid JSON \(Extra data at line 1"):
        load_state(path)


def test_a_state_file_that_is_not_utf8_is_named(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"users": {"0": {"credit": "\xff"}}}')
    with pytest.raises(UsageError) as raised:
        load_state(path)
    assert str(raised.value) == f"{path}: the final state is not UTF-8 text (invalid start byte at byte 28)."


def test_a_state_file_that_cannot_be_read_names_the_reason(tmp_path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(UsageError) as raised:
        load_state(path)
    assert str(raised.value) == f"{path}: cannot read the final state (No such file or directory)."
