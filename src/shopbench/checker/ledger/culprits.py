"""The orders to blame: the paid orders whose checkout completed after an item's supply or a
user's credit was used up, in completion order, exactly as many as it takes to cover the excess."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopbench.checker.ledger.amounts import as_int


def in_completion_order(orders: list[str], done_at: dict[str, float]) -> list[str]:
    """Paid orders by when their checkout completed; a paid order no checkout answered comes last."""
    inf = float("inf")
    return sorted(orders, key=lambda oid: (done_at.get(oid, inf), oid))


def beyond(orders: list[str], budget: int, size: Callable[[str], int], done_at: dict[str, float]) -> list[str]:
    """The paid orders that completed after `budget` (stock or credit) was used up, in completion
    order: exactly the orders it takes to cover what was sold or charged beyond it."""
    named: list[str] = []
    used = 0
    for oid in in_completion_order(orders, done_at):
        used += size(oid)
        if used > budget:
            named.append(oid)
    return named


def units(order: dict[str, Any], item_id: str) -> int:
    return sum(as_int(line[1]) or 0 for line in order.get("items") or () if str(line[0]) == item_id)


def overspent(charged: int, budget_lo: int, budget: int, orders: list[str]) -> dict[str, Any]:
    return {"overspent": charged - budget, "budget": [budget_lo, budget], "charged_in_paid_orders": charged,
            "overspent_orders": orders, "culprit_orders": orders}
