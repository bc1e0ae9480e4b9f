"""Client-side carts, for shops that take an order with its lines in one request.

The contract's orders are built step by step (create_order, add_item, remove_item, checkout); a shop
whose `POST /orders` takes every line at once gets them from a cart kept here until the checkout
sends it. Why it is safe under `--processes` and remote workers:

  * ids are UUIDs, unique in every process, and are the order's id in the shop too (the checkout
    sends it), so any process, the final-state read included, finds the order by the id the history
    holds; an order never checked out is not in the shop (4xx: not found, never paid);
  * one store per process, shared by its drivers: the consistency runner creates its orders with one
    driver and checks them out with others, in the same process; a Locust user creates and checks
    out its own orders, in its own process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cart:
    user_id: str
    lines: dict[str, int] = field(default_factory=dict)  # item id -> quantity, in the order added


class Carts:
    def __init__(self) -> None:
        self._carts: dict[str, Cart] = {}

    def open(self, user_id: Any) -> str:
        order_id = uuid.uuid4().hex
        self._carts[order_id] = Cart(str(user_id))
        return order_id

    def get(self, order_id: Any) -> Cart | None:
        return self._carts.get(str(order_id))

    def add(self, order_id: Any, item_id: Any, quantity: int) -> bool:
        cart = self.get(order_id)
        if cart is None:
            return False
        cart.lines[str(item_id)] = cart.lines.get(str(item_id), 0) + quantity
        return True

    def remove(self, order_id: Any, item_id: Any) -> bool:
        cart = self.get(order_id)
        return cart is not None and cart.lines.pop(str(item_id), None) is not None

    def close(self, order_id: Any) -> None:
        """The order is in the shop now (or may be): the cart is no longer ours to change."""
        self._carts.pop(str(order_id), None)


CARTS = Carts()  # one per process
