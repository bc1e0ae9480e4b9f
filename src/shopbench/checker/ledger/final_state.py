"""The final state as the checks can use it: well-formed entities kept, the rest left out with why.

`state.json` is canonical by the time it gets here (driver/ and state.py read each shop's answer
shapes), but a checker must never crash on one it did not expect: an entity whose fields are not
what the checks need is left out (`malformed`: kind -> {id: why}) and named in an UNKNOWN reason.
A malformed order may or may not be paid, so it is treated like an unreadable one: bounded by
what its history added to it.
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.ledger.amounts import as_int
from shopbench.checker.ledger.books import Books

KINDS = ("orders", "users", "items")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _order_problem(order: Any) -> str | None:
    if not isinstance(order, dict):
        return f"is {_shown(order)}, not an object"
    if not isinstance(order.get("paid"), bool):
        return f"paid {_shown(order.get('paid'))} is not true or false"
    lines = order.get("items")
    if lines is not None and (not isinstance(lines, list | tuple) or not all(
            isinstance(line, list | tuple) and len(line) == 2 and isinstance(line[0], str | int)
            and as_int(line[1]) is not None for line in lines)):
        return f"items {_shown(lines)} is not a list of [item_id, quantity] pairs"
    if as_int(order.get("total_cost")) is None:
        return f"total_cost {_shown(order.get('total_cost'))} is not an integer"
    if order.get("user_id") is None:
        return "user_id is missing"
    return None


def _value_problem(entity: Any, field: str) -> str | None:
    if not isinstance(entity, dict):
        return f"is {_shown(entity)}, not an object"
    if type(entity.get(field)) is not int:
        return f"{field} {_shown(entity.get(field))} is not an integer"
    return None


def _table(state: dict[str, Any], key: str) -> dict[str, Any]:
    table = state.get(key) or {}
    return table if isinstance(table, dict) else {}


def read_state(state: dict[str, Any]) -> Books:
    unreadable = {kind: _table(_table(state, "unreadable"), kind) for kind in KINDS}
    not_found = {kind: set(_table(state, "not_found").get(kind) or ()) for kind in KINDS}
    malformed: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    kept: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for kind, check in (("orders", _order_problem), ("users", lambda u: _value_problem(u, "credit")),
                        ("items", lambda i: _value_problem(i, "stock"))):
        for entity_id, entity in _table(state, kind).items():
            problem = check(entity)
            if problem is None:
                kept[kind][str(entity_id)] = entity
            else:
                malformed[kind][str(entity_id)] = problem
    return Books(
        items=kept["items"], users=kept["users"], orders=kept["orders"], unreadable=unreadable,
        not_found=not_found, malformed=malformed,
        # An order the shop answered 404 for does not exist: it cannot have been paid (not unreadable).
        unreadable_orders=(set(unreadable["orders"]) - not_found["orders"]) | set(malformed["orders"]))
