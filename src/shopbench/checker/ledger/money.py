"""Users' credit against what was put in, paid directly and charged by paid orders.

A user's expected credit is `[in_lo - out_hi - charged - unreadable_max, in_hi - out_lo - charged]`.
Unreadable orders can only charge more, so the high bound holds whatever they hold: credit above
it is an anomaly. Below the low bound is one only when every unreadable order was bounded;
otherwise it is a "possibly" warning, and the run UNKNOWN (unknowns.py).
"""

from __future__ import annotations

from shopbench.checker.ledger.amounts import add_totals, baseline
from shopbench.checker.ledger.anomalies import counted, ids, interval
from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.culprits import beyond, in_completion_order, overspent
from shopbench.checker.ledger.paid_orders import paid_orders_of


def check_users(books: Books) -> None:
    # Once per user (1 M of them at 10 M operations): the totals are summed in locals and added to
    # `books.money` at the end, and a user's paid orders are looked up only when a check needs them.
    user_iv, user_batches, charged, charge_extra = books.user_iv, books.user_batches, books.charged, books.charge_extra
    unbounded_all, unbounded_users = books.unbounded_all, books.unbounded_users
    put_lo = put_hi = direct_lo = direct_hi = paid = unresolved = expected_lo = expected_hi = actual = checked = 0
    for uid, user in books.users.items():
        credit = user.credit  # an int: final_state.py left out the rest
        entry = baseline(uid, user_iv, user_batches)
        if entry is None:
            books.unresolved_users.append(uid)  # not created in this history: nothing to compare with
            continue
        in_lo, in_hi, out_lo, out_hi = entry
        ch = charged.get(uid, 0)
        extra = charge_extra.get(uid, 0)
        lo, hi = in_lo - out_hi - ch - extra, in_hi - out_lo - ch  # the user's expected credit
        put_lo += in_lo
        put_hi += in_hi
        direct_lo += out_lo
        direct_hi += out_hi
        paid += ch
        unresolved += extra
        expected_lo += lo
        expected_hi += hi
        actual += credit
        checked += 1
        budget = in_hi - out_lo  # the most this user could ever have spent on orders
        over = beyond(paid_orders_of(books, uid), budget, lambda oid: int(books.orders[oid]["total_cost"]),
                      books.done_at) if ch > budget else None
        # Unreadable orders can only charge more: credit above `hi` is certain whatever they hold,
        # below `lo` only when every one of them is bounded.
        certain = not unbounded_all and uid not in unbounded_users  # its credit's floor is a true bound
        drift = credit > hi or (certain and credit < lo)
        if credit < 0:
            books.anomalies.add("negative_credit", f"user {uid} has credit {credit}, below zero.",
                                user_id=uid, expected=interval(max(lo, 0), max(hi, 0)), actual=credit,
                                **({} if over is None or drift else overspent(ch, in_lo - out_hi, budget, over)))
        if drift:
            _drift(books, uid, credit, (lo if certain else None, hi), entry, ch, paid_orders_of(books, uid), over)
        elif credit < lo:
            books.possible_drifts += 1
            books.warnings.append(f"user {uid} possibly charged {lo - credit} with no paid order behind it: credit "
                                  f"{credit}, expected at least {lo} unless an unreadable order we could not bound "
                                  f"was its and paid.")
    add_totals(books.money, (put_lo, put_hi), (direct_lo, direct_hi), paid, unresolved, (expected_lo, expected_hi),
               actual)
    books.money["users_checked"] += checked
    _total(books)


def _drift(books: Books, uid: str, credit: int, expected: tuple[int | None, int], entry: list[int], ch: int,
           orders: list[str], over: list[str] | None) -> None:
    """`expected` low bound None: unreadable orders we could not bound might have charged the user."""
    lo, hi = expected
    in_lo, in_hi, out_lo, out_hi = entry
    if credit > hi:
        direction = "missing_charge"
        why = (f"{credit - hi} more than expected: charges of its paid orders are missing "
               f"({counted(len(orders), 'paid order')}: {ids(orders)})"
               if orders else f"{credit - hi} more than expected: money appeared with no operation behind it")
    else:
        assert lo is not None
        direction = "unbacked_charge"
        why = f"{lo - credit} less than expected: charged with no paid order behind it"
        if orders:
            why += f" (its paid orders: {ids(orders)})"
    details = {"paid_orders": orders[:20], "culprit_orders": in_completion_order(orders, books.done_at)[:20]}
    if over is not None:
        details.update(overspent(ch, in_lo - out_hi, in_hi - out_lo, over))
        why += f"; {details['overspent']} more was charged in paid orders than it ever had"
    books.anomalies.add("user_credit_drift",
                        f"user {uid} has credit {credit}, expected {_expected(lo, hi)} ({interval(in_lo, in_hi)} "
                        f"put in, {ch} in {counted(len(orders), 'paid order')}): {why}.",
                        user_id=uid, expected=[lo, hi], actual=credit, direction=direction,
                        diff=credit - hi if credit > hi else credit - lo, **details)


def _expected(lo: int | None, hi: int) -> str:
    return f"at most {hi}" if lo is None else interval(lo, hi)


def _total(books: Books) -> None:
    """The total credit outside its interval is reported (`totals.money.drift`), never an anomaly of
    its own: every user it covers was checked against its own interval, and a sum of values inside
    their intervals lies inside the sum of the intervals, so the users' anomalies say it all."""
    money = books.money
    lo, hi = money["expected"]
    actual = money["actual"]
    if books.bounded and money["users_checked"] and not lo <= actual <= hi:
        money["drift"] = {"what": f"{actual - hi} created" if actual > hi else f"{lo - actual} destroyed",
                          "explained_by_users": books.anomalies.by_type["user_credit_drift"]}
