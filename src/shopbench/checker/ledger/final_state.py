"""The final state as the checks can use it: well-formed entities kept, the rest left out with why.

`state.json` is canonical by the time it gets here (driver/ and state.py read each shop's answer
shapes), but a checker must never crash on one it did not expect: an entity whose fields are not
what the checks need is left out (`malformed`: kind -> {id: why}) and named in an UNKNOWN reason.
A malformed order may or may not be paid, so it is treated like an unreadable one: bounded by
what its history added to it.

Well-formed entities are kept as compact records (`Order`, `Item`, `User`: msgspec structs, read
like the dicts they came from, `order.get("paid")`, `item["stock"]`, and as attributes in the hot
loops): 2 M orders as dicts took 1.7 GB, as records a third of it. `shopbench.state_file.load_state`
makes the records while it parses state.json, so the dicts of all entities never exist at once
(when it walks a state, equal item lines and user ids are also stored once). A table of records
only is taken as it is.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopbench.checker.ledger.amounts import as_int
from shopbench.checker.ledger.books import Books

KINDS = ("orders", "users", "items")


class Order(msgspec.Struct, gc=False):
    """The field types are what `_order_problem` accepts as it is, so state_file.py can decode a
    well-formed orders table straight into records (an amount as a digit string goes the slow way)."""

    paid: bool
    user_id: str | int
    total_cost: int
    items: tuple[tuple[str | int, int], ...] | None = None
    # Read like the dict it came from, at C speed: every field is always set.
    get = __getitem__ = object.__getattribute__


class Item(msgspec.Struct, gc=False):
    stock: int
    price: Any = None
    get = __getitem__ = object.__getattribute__


class User(msgspec.Struct, gc=False):
    credit: int
    get = __getitem__ = object.__getattribute__


RECORDS = (Order, Item, User)
_RECORD_TYPES = set(RECORDS)


class Compactor:
    """Entities -> records; equal ids and item lines are stored once (one compactor per state)."""

    def __init__(self) -> None:
        self.shared: dict[Any, Any] = {}

    def __call__(self, kind: str, entity: Any) -> Any:
        """The record of a well-formed entity; anything else unchanged (read_state says why not)."""
        if kind == "orders":
            if _order_problem(entity) is not None:
                return entity
            share = self.shared.setdefault
            lines = entity.get("items")
            if lines is not None:
                pairs = tuple(map(tuple, lines))  # equal pairs are the same line: no bool ids (True == 1)
                lines = tuple(map(share, pairs, pairs))
            uid = entity["user_id"]
            return Order(entity["paid"], share(uid, uid) if type(uid) is str else uid,
                         as_int(entity["total_cost"]), lines)
        if kind == "users":
            return entity if _value_problem(entity, "credit") else User(entity["credit"])
        if kind == "items":
            return entity if _value_problem(entity, "stock") else Item(entity["stock"], entity.get("price"))
        return entity

    def key(self, entity_id: str) -> str:
        """An entity id, shared with the same id met later (users before the orders naming them)."""
        return self.shared.setdefault(entity_id, entity_id)


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
            and type(line[0]) is not bool and as_int(line[1]) is not None for line in lines)):
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
    compact = Compactor()
    unreadable = {kind: _table(_table(state, "unreadable"), kind) for kind in KINDS}
    not_found = {kind: set(_table(state, "not_found").get(kind) or ()) for kind in KINDS}
    malformed: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    kept: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for kind, check in (("orders", _order_problem), ("users", lambda u: _value_problem(u, "credit")),
                        ("items", lambda i: _value_problem(i, "stock"))):
        table = _table(state, kind)
        if set(map(type, table.values())) <= _RECORD_TYPES and set(map(type, table)) <= {str}:
            kept[kind] = table  # all records already (state_file.py's usual case): 3 M entities at 10 M ops
            continue
        for entity_id, entity in table.items():
            record = entity if isinstance(entity, RECORDS) else compact(kind, entity)
            if isinstance(record, RECORDS):
                kept[kind][str(entity_id) if kind == "orders" else compact.key(str(entity_id))] = record
            else:
                malformed[kind][str(entity_id)] = check(entity)  # compact kept it raw: check says why
    return Books(
        items=kept["items"], users=kept["users"], orders=kept["orders"], unreadable=unreadable,
        not_found=not_found, malformed=malformed,
        # An order the shop answered 404 for does not exist: it cannot have been paid (not unreadable).
        unreadable_orders=(set(unreadable["orders"]) - not_found["orders"]) | set(malformed["orders"]))
