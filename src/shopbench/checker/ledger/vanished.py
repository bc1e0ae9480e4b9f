"""Entities the shop acknowledged creating (a 2xx create, a definite batch_init) that it now answers
404 for: it lost them. Their money and stock cannot be checked, and the run is UNKNOWN with the
question a user should ask: did the shop lose its state on restart?"""

from __future__ import annotations

from typing import Any

from shopbench.checker.ledger.amounts import Batch, batch_index
from shopbench.checker.ledger.books import Books

CREATED_ID = {"create_order": ("orders", "order_id"), "create_user": ("users", "user_id"),
              "create_item": ("items", "item_id")}


def note_created(books: Books, f: str, value: Any) -> None:
    """An acknowledged create_*: remember its id only when the final read did not find it."""
    kind, key = CREATED_ID[f]
    if isinstance(value, dict) and str(value.get(key)) in books.not_found[kind]:
        books.vanished[kind].add(str(value[key]))


def find_vanished_batches(books: Books) -> None:
    for kind, batches in (("orders", books.order_batches), ("users", books.user_batches),
                          ("items", books.stock_batches)):
        for entity_id in books.not_found[kind]:
            if _in_a_definite_batch(entity_id, batches):
                books.vanished[kind].add(entity_id)


def _in_a_definite_batch(entity_id: str, batches: list[Batch]) -> bool:
    idx = batch_index(entity_id)
    return idx is not None and any(batch.definite and idx < batch.n for batch in batches)
