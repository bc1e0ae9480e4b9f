"""The ledger's findings as `verdict.json` carries them, and the inputs of seed 000's numbers."""

from __future__ import annotations

from typing import Any

from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.checkouts import MASK
from shopbench.checker.ledger.unknowns import unknown_reasons, unreadable


def unresolved(books: Books) -> dict[str, list[str]]:
    """Every entity a check left out, each named by an UNKNOWN reason: unreadable, malformed,
    vanished (created, then 404), never created. An entity the shop answered 404 for that it never
    acknowledged creating is a definite answer, not a gap: it is not listed."""
    bad = unreadable(books)
    never = {"orders": (), "users": books.unresolved_users, "items": books.unresolved_items}
    return {kind: sorted(set(bad[kind]) | set(books.malformed[kind]) | books.vanished[kind] | set(never[kind]))
            for kind in ("orders", "users", "items")}


def findings(books: Books) -> dict[str, Any]:
    anomalies = books.anomalies
    return {
        "valid": anomalies.count == 0,
        "unknown_reasons": unknown_reasons(books),
        "warnings": books.warnings,
        "oversold_items": books.oversold_items,
        "anomaly_count": anomalies.count,
        "anomaly_types": anomalies.by_type,
        "anomalies": anomalies.listed,
        "anomalies_listed": len(anomalies.listed),
        "checkouts": books.checkout_counts,
        "totals": {"money": books.money, "stock": books.stock},
        "counts": {
            "ops": books.n_ops,
            "load_ran": books.load_ran,
            "orders_checked_out": len(books.checkouts),
            "orders_read": len(books.orders),
            "paid_orders": books.paid_count,
            "users_read": len(books.users),
            "items_read": len(books.items),
            "expected_fail_but_ok": books.expected_fail_ok,
        },
        "unresolved": {
            **unresolved(books),
            "malformed": books.malformed,
            "vanished": {kind: sorted(ids) for kind, ids in books.vanished.items()},
            "unbounded_orders": books.unbounded_orders,
            "note": "entities that could not be read, were malformed, vanished (created, then 404) or have no "
                    "baseline in this history: not checked, never guessed" + (
                        "; some unreadable orders could not be bounded, so credit or stock below its interval was "
                        "not judged" if not books.bounded else ""),
        },
        "seed_inputs": seed_inputs(books),
    }


def seed_inputs(books: Books) -> dict[str, Any]:
    """What seed 000's verify.py counts: every checkout answered anything but 4xx is a "SUCCESS"."""
    success_checkouts = success_units = success_cost = 0
    orders = books.orders
    for oid, packed in books.checkouts.items():
        n = (packed & MASK) + (packed >> 42)  # answered ok or info (`unpack`)
        success_checkouts += n
        # An order not read back adds its checkouts, not its units or cost.
        if n and (order := orders.get(oid)) is not None:
            lines = order.items
            if lines:
                success_units += n * (int(lines[0][1]) if len(lines) == 1 else sum(int(line[1]) for line in lines))
            success_cost += n * int(order.total_cost)
    first = books.first_item
    return {
        "initial_stock": books.stock["in"][0],
        "initial_stock_value": books.stock_value_in,
        "initial_credit": books.money["in"][0],
        "final_stock": books.stock["actual"],
        "final_credit": books.money["actual"],
        "first_item": first,
        "first_item_stock": (books.items.get(first) or {}).get("stock"),
        "success_checkouts": success_checkouts,
        "success_units": success_units,
        "success_cost": success_cost,
    }
