"""Items' stock against what was supplied and what the paid orders took, and the items oversold.

An item's expected stock is `[in_lo - out_hi - sold - unreadable_max, in_hi - out_lo - sold]`; its
supply (initial + added - taken directly) is `[in_lo - out_hi, in_hi - out_lo]`. Paid orders
holding more units than the supply's high bound oversold it, whatever unreadable orders hold
(they can only sell more); beyond only the low bound (an indeterminate restock could explain it)
is a warning. Stock below the low bound is an anomaly only when every unreadable order was bounded,
else a "possibly" warning and the run UNKNOWN (unknowns.py).
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.ledger.amounts import add_totals, baseline, price_of
from shopbench.checker.ledger.anomalies import counted, ids, interval
from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.culprits import beyond, checkouts_holding, describe, units


def check_items(books: Books) -> None:
    stock = books.stock
    for iid, item in books.items.items():
        actual = item["stock"]  # an int: final_state.py left out the rest
        entry = baseline(iid, books.item_iv, books.stock_batches)
        if entry is None:
            books.unresolved_items.append(iid)
            continue
        in_lo, in_hi, out_lo, out_hi = entry
        s = books.sold.get(iid, 0)
        extra = books.sold_extra.get(iid, 0)
        lo, hi = in_lo - out_hi - s - extra, in_hi - out_lo - s
        add_totals(stock, (in_lo, in_hi), (out_lo, out_hi), s, extra, (lo, hi), actual)
        books.stock_value_in += in_lo * (price_of(iid, books.items, books.item_price, books.stock_batches) or 0)
        stock["items_checked"] += 1
        _judge(books, iid, actual, (lo, hi), entry, s)


def _oversell(books: Books, iid: str, supply: list[int], s: int) -> dict[str, Any]:
    """The oversell fields of an item's anomaly (empty when not oversold); a possible one is warned about."""
    if 0 < s > supply[1]:  # (a supply below zero with nothing sold is a stock anomaly, not an oversell)
        orders = books.paid_by_item[iid]
        books.oversold_items.append(iid)
        culprits = beyond(orders, supply[1], lambda oid: units(books.orders[oid], iid), books.done_at)
        return {"oversold": True, "supply": supply, "units_in_paid_orders": s,
                "oversold_units": s - supply[1], "oversold_orders": culprits, "culprit_orders": culprits}
    if s > supply[0]:
        books.warnings.append(f"item {iid} possibly oversold by up to {counted(s - supply[0], 'unit')}: paid "
                              f"orders hold {s}, the supply was {interval(*supply)} because some "
                              f"add_stock/subtract_stock answers were indeterminate.")
    return {}


def _judge(books: Books, iid: str, actual: int, expected: tuple[int, int], entry: list[int], s: int) -> None:
    lo, hi = expected
    in_lo, in_hi, out_lo, out_hi = entry
    supply = [in_lo - out_hi, in_hi - out_lo]
    orders = books.paid_by_item.get(iid, [])
    oversell = _oversell(books, iid, supply, s)
    sold_note = (f"supply {interval(*supply)} ({interval(in_lo, in_hi)} put in), {counted(s, 'unit')} in "
                 f"{counted(len(orders), 'paid order')}")
    over_note = (f"; oversold by {oversell['oversold_units']}: the paid orders whose checkout completed after "
                 f"the supply ran out are {ids(oversell['oversold_orders'])}" if oversell else "")
    # Unreadable orders can only sell more: stock above `hi` (an oversell included: `hi` is then below
    # zero) is certain whatever they hold, below `lo` only when every one of them is bounded.
    certain = books.stock_floor_known()
    drift = actual > hi or (certain and actual < lo)
    if not drift and actual < lo:
        books.possible_drifts += 1
        books.warnings.append(f"item {iid} possibly lost {counted(lo - actual, 'unit')} with no paid order behind "
                              f"them: stock {actual}, expected at least {lo} unless an unreadable order we could "
                              f"not bound held it and was paid.")
    if actual < 0:
        books.anomalies.add("negative_stock", f"item {iid} has stock {actual}, below zero: {sold_note}{over_note}.",
                            item_id=iid, expected=interval(max(lo, 0), max(hi, 0)), actual=actual,
                            **({} if drift else oversell))
    if not drift:
        return
    if actual > hi:
        direction = "missing_stock_movement"
        why = f"{counted(actual - hi, 'unit')} more than expected: "
        why += ("stock subtractions of some of its paid orders are missing (a lost update?)" if orders
                else "stock appeared with no operation behind it")
    else:
        direction = "unbacked_stock_movement"
        why = f"{counted(lo - actual, 'unit')} less than expected: stock taken with no paid order behind it"
    checkouts = checkouts_holding(books, iid)
    if checkouts:
        why += f"; checkouts of orders holding it: {describe(checkouts)}"
    suspects = [c["order_id"] for c in checkouts if c["paid"] == (direction == "missing_stock_movement")]
    expected_note = interval(lo, hi) if certain else f"at most {hi}"
    books.anomalies.add("stock_drift",
                        f"item {iid} has stock {actual}, expected {expected_note} ({sold_note}): {why}{over_note}.",
                        item_id=iid, expected=[lo if certain else None, hi], actual=actual, direction=direction,
                        paid_orders=orders[:20], diff=actual - hi if actual > hi else actual - lo,
                        checkouts=checkouts, **(oversell or {"oversold": False, "supply": supply,
                                                             "units_in_paid_orders": s, "culprit_orders": suspects}))
