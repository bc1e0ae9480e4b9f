"""Checkouts against the final paid flags: an indeterminate checkout is resolved by its order's
`paid` flag, never counted up front; a 2xx on an unpaid order and a paid order every checkout of
which answered 4xx are anomalies.

An order's checkout answers are packed in one int (ok + fail << 21 + info << 42): a 10 M operation
history has millions of orders, and one small int is a fifth of a 3-int list.
"""

from __future__ import annotations

from shopbench.checker.ledger.books import Books

# One answer of each kind, packed; MASK takes one count out.
ONE_OK, ONE_FAIL, ONE_INFO, MASK = 1, 1 << 21, 1 << 42, (1 << 21) - 1


def pack(kind: str) -> int:
    return ONE_OK if kind == "ok" else ONE_FAIL if kind == "fail" else ONE_INFO


def unpack(packed: int) -> tuple[int, int, int]:
    """(ok, fail, info) answers of one order's checkouts."""
    return packed & MASK, (packed >> 21) & MASK, packed >> 42


def _times(n_ok: int) -> str:
    return f" ({n_ok} times)" if n_ok > 1 else ""


def judge_checkouts(books: Books) -> None:
    # Once per order checked out (2 M at 10 M operations): counts summed in locals, orders read as
    # records (final_state.py).
    orders, not_found = books.orders, books.not_found["orders"]
    ok = fail = info = info_paid = info_unpaid = info_unresolved = 0
    for oid, packed in books.checkouts.items():
        n_ok, n_fail, n_info = packed & MASK, (packed >> 21) & MASK, packed >> 42  # unpack(packed)
        ok += n_ok
        fail += n_fail
        info += n_info
        order = orders.get(oid)
        if order is None:
            info_unresolved += n_info
            if oid not in not_found:
                if n_ok or n_info:  # only 4xx answers (a probe of an unknown order) leave nothing to resolve
                    books.unresolved_orders.append(oid)
            elif n_ok:  # the shop sold it, then says it never existed
                books.anomalies.add("acknowledged_lost",
                                    f"order {oid}: checkout answered 2xx{_times(n_ok)}, but the shop now answers "
                                    f"that the order does not exist (404).",
                                    order_id=oid, user_id=None, expected="paid", actual="not found",
                                    checkouts={"ok": n_ok, "fail": n_fail, "info": n_info})
            continue
        paid = bool(order.paid)
        if paid:
            info_paid += n_info
        else:
            info_unpaid += n_info
        if n_ok and not paid:
            books.anomalies.add("acknowledged_lost",
                                f"order {oid}: checkout answered 2xx{_times(n_ok)}, but the order is not paid.",
                                order_id=oid, user_id=order.user_id, expected="paid", actual="unpaid",
                                checkouts={"ok": n_ok, "fail": n_fail, "info": n_info})
        elif paid and n_fail and not n_ok and not n_info:
            books.anomalies.add("failed_but_paid",
                                f"order {oid} is paid (total_cost {order.total_cost}), yet every checkout "
                                f"of it ({n_fail}) answered 4xx.",
                                order_id=oid, user_id=order.user_id, expected="unpaid", actual="paid",
                                checkouts={"ok": n_ok, "fail": n_fail, "info": n_info})
    co = books.checkout_counts
    co["ok"] += ok
    co["fail"] += fail
    co["info"] += info
    co["info_resolved_paid"] += info_paid
    co["info_resolved_unpaid"] += info_unpaid
    co["info_unresolved"] += info_unresolved
