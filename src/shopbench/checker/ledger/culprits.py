"""The orders to blame: the paid orders whose checkout completed after an item's supply or a
user's credit was used up, in completion order, exactly as many as it takes to cover the excess;
and for a drifting item, the checkouts of the orders that hold it, whatever they were answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopbench.checker.ledger.amounts import as_int
from shopbench.checker.ledger.anomalies import ids
from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.checkouts import unpack

MAX_NAMED = 20  # orders an anomaly names in full


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


def checkouts_holding(books: Books, item_id: str) -> list[dict[str, Any]]:
    """The checked-out orders that hold an item, with how their checkouts were answered and whether
    the order ended paid; those that did not end paid first (a checkout answered 4xx or
    indeterminate whose stock was never given back is the usual suspect of stock gone with no paid
    order behind it), at most MAX_NAMED."""
    if books.orders_by_item is None:  # built once, only when some item drifts
        index: dict[str, list[str]] = {}
        for oid in books.checkouts:
            order = books.orders.get(oid)
            if order is not None:
                for iid in dict.fromkeys(str(line[0]) for line in order.get("items") or ()):
                    index.setdefault(iid, []).append(oid)
        books.orders_by_item = index
    named = []
    for oid in books.orders_by_item.get(item_id, ()):
        ok, fail, info = unpack(books.checkouts[oid])
        named.append({"order_id": oid, "paid": bool(books.orders[oid].get("paid")), "ok": ok, "fail": fail,
                      "info": info})
    named.sort(key=lambda c: (c["paid"], c["order_id"]))
    return named[:MAX_NAMED]


def describe(checkouts: list[dict[str, Any]]) -> str:
    """"o5 (4xx, unpaid), o1 (2xx, paid)": each order's checkout answers and how it ended."""
    def answers(c: dict[str, Any]) -> str:
        parts = [f"{label}{f' x{c[key]}' if c[key] > 1 else ''}"
                 for key, label in (("ok", "2xx"), ("fail", "4xx"), ("info", "indeterminate")) if c[key]]
        return ", ".join(parts + ["paid" if c["paid"] else "unpaid"])
    return ids(f"{c['order_id']} ({answers(c)})" for c in checkouts)
