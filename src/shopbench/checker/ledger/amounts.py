"""Amounts as the shop saw them, and each entity's baseline: what was put in and taken out directly.

An entity's interval is four integers `[in_lo, in_hi, out_lo, out_hi]`: what was put in (created
with, added) and what was taken out directly (`pay`, `subtract_stock`), each as a low and a high
bound. A definite answer moves both bounds; an indeterminate one only the bound its sign points to.
"""

from __future__ import annotations

from typing import Any

# Index of each bound in the per-entity interval lists.
IN_LO, IN_HI, OUT_LO, OUT_HI = 0, 1, 2, 3


def as_int(value: Any) -> int | None:
    """An amount as the shop saw it: ints and decimal strings; anything else had no effect we can count."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Batch:
    """A `batch_init` that created ids "0".."n-1" with `amount` each; `definite` unless indeterminate."""

    __slots__ = ("n", "amount", "definite", "price")

    def __init__(self, n: int, amount: int, definite: bool, price: int | None = None):
        self.n, self.amount, self.definite, self.price = n, amount, definite, price


def batch_index(entity_id: str) -> int | None:
    """The position of an id a batch_init could have made ("0", "17"), else None ("007", "u3")."""
    if entity_id.isdigit() and (entity_id == "0" or entity_id[0] != "0"):
        return int(entity_id)
    return None


def baseline(entity_id: str, table: dict[str, list[int]], batches: list[Batch]) -> list[int] | None:
    """[in_lo, in_hi, out_lo, out_hi] of one entity, or None when the history never created it."""
    entry = table.get(entity_id)
    idx = batch_index(entity_id)
    covering = [batch for batch in batches if idx < batch.n] if idx is not None else []
    if not covering:
        return entry
    # A later batch_init re-creates the entity: it replaces, not adds, the batch value.
    lo, hi = 0, 0
    for batch in covering:
        lo, hi = (batch.amount, batch.amount) if batch.definite else (min(lo, batch.amount), max(hi, batch.amount))
    entry = list(entry) if entry is not None else [0, 0, 0, 0]
    entry[IN_LO] += lo
    entry[IN_HI] += hi
    return entry


def price_of(item_id: str, items_state: dict[str, dict[str, Any]], item_price: dict[str, int],
             batches: list[Batch]) -> int | None:
    """An item's price: as read back, else as created, else from its batch; None when unknown."""
    item = items_state.get(item_id)
    if item is not None and type(item.get("price")) is int:
        return item["price"]
    if item_id in item_price:
        return item_price[item_id]
    idx = batch_index(item_id)
    if idx is not None:
        for batch in reversed(batches):
            if idx < batch.n and batch.price is not None:
                return batch.price
    return None


def add_totals(section: dict[str, Any], put: tuple[int, int], direct: tuple[int, int], paid: int,
               unresolved: int, expected: tuple[int, int], actual: int) -> None:
    """Add one entity's (or a pass's summed) figures to `books.money` or `books.stock`."""
    section["in"][0] += put[0]
    section["in"][1] += put[1]
    section["out_direct"][0] += direct[0]
    section["out_direct"][1] += direct[1]
    section["out_paid_orders"] += paid
    section["out_unresolved_orders_max"] += unresolved
    section["expected"][0] += expected[0]
    section["expected"][1] += expected[1]
    section["actual"] += actual
