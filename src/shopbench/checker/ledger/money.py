"""Users' credit against what was put in, paid directly and charged by paid orders.

A user's expected credit is `[in_lo - out_hi - charged - unreadable_max, in_hi - out_lo - charged]`.
"""

from __future__ import annotations

from shopbench.checker.ledger.amounts import as_int, baseline
from shopbench.checker.ledger.anomalies import ids, interval
from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.culprits import beyond, in_completion_order, overspent


def check_users(books: Books) -> None:
    money = books.money
    for uid, user in books.users.items():
        credit = user.get("credit")
        if type(credit) is not int:
            books.unresolved_users.append(uid)
            continue
        entry = baseline(uid, books.user_iv, books.user_batches)
        if entry is None:
            books.unresolved_users.append(uid)  # not created in this history: nothing to compare with
            continue
        in_lo, in_hi, out_lo, out_hi = entry
        ch = books.charged.get(uid, 0)
        extra = books.charge_extra.get(uid, 0)
        lo, hi = in_lo - out_hi - ch - extra, in_hi - out_lo - ch
        money["in"][0] += in_lo
        money["in"][1] += in_hi
        money["out_direct"][0] += out_lo
        money["out_direct"][1] += out_hi
        money["out_paid_orders"] += ch
        money["out_unresolved_orders_max"] += extra
        money["expected"][0] += lo
        money["expected"][1] += hi
        money["actual"] += credit
        money["users_checked"] += 1
        orders = books.paid_by_user.get(uid, [])
        budget = in_hi - out_lo  # the most this user could ever have spent on orders
        over = beyond(orders, budget, lambda oid: as_int(books.orders[oid].get("total_cost")) or 0,
                      books.done_at) if ch > budget else None
        if credit < 0:
            books.anomalies.add("negative_credit", f"user {uid} has credit {credit}, below zero.",
                                user_id=uid, expected=interval(max(lo, 0), max(hi, 0)), actual=credit,
                                **({} if over is None or (books.bounded and not lo <= credit <= hi) else
                                   overspent(ch, in_lo - out_hi, budget, over)))
        if books.bounded and not lo <= credit <= hi:
            _drift(books, uid, credit, (lo, hi), entry, ch, orders, over)
    _total(books)


def _drift(books: Books, uid: str, credit: int, expected: tuple[int, int], entry: list[int], ch: int,
           orders: list[str], over: list[str] | None) -> None:
    lo, hi = expected
    in_lo, in_hi, out_lo, out_hi = entry
    if credit > hi:
        direction = "missing_charge"
        why = (f"{credit - hi} more than expected: charges of its paid orders are missing "
               f"({len(orders)} paid orders: {ids(orders)})"
               if orders else f"{credit - hi} more than expected: money appeared with no operation behind it")
    else:
        direction = "unbacked_charge"
        why = f"{lo - credit} less than expected: charged with no paid order behind it"
        if orders:
            why += f" (its paid orders: {ids(orders)})"
    details = {"paid_orders": orders[:20], "culprit_orders": in_completion_order(orders, books.done_at)[:20]}
    if over is not None:
        details.update(overspent(ch, in_lo - out_hi, in_hi - out_lo, over))
        why += f"; {details['overspent']} more was charged in paid orders than it ever had"
    books.anomalies.add("user_credit_drift",
                        f"user {uid} has credit {credit}, expected {interval(lo, hi)} ({interval(in_lo, in_hi)} "
                        f"put in, {ch} in {len(orders)} paid orders): {why}.",
                        user_id=uid, expected=[lo, hi], actual=credit, direction=direction,
                        diff=credit - hi if credit > hi else credit - lo, **details)


def _total(books: Books) -> None:
    """The total credit outside its interval is reported (`totals.money.drift`), never an anomaly of
    its own: every user it covers was checked against its own interval, and a sum of values inside
    their intervals lies inside the sum of the intervals, so the users' anomalies say it all."""
    money = books.money
    lo, hi = money["expected"]
    actual = money["actual"]
    if books.bounded and money["users_checked"] and not lo <= actual <= hi:
        money["drift"] = {"what": f"{actual - hi} created" if actual > hi else f"{lo - actual} destroyed",
                          "explained_by_users": books.anomalies.by_type.get("user_credit_drift", 0)}
