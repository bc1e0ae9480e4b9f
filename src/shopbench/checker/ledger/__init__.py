"""The ledger checker: history + final state -> every way money or stock went wrong, explained.

A pure function over plain data (`check(ops, state)`), no I/O. It streams over the operations once
and keeps a handful of integers per entity, so a million-operation history fits in memory. The
check is a row of passes over one record, the `Books` (books.py):

  final_state   the state as read, malformed entities left out (with why)
  movements     the history, once: what was put in and taken out directly, checkout answers
  paid_orders   what the paid orders took
  checkouts     checkout answers against the final paid flags
  paid_orders   the most an order the state does not hold could have taken
  money         users' credit against their intervals (culprits: culprits.py)
  inventory     items' stock against theirs, and the items oversold
  findings      the result as verdict.json carries it; unknowns.py says why it is incomplete
                (vanished.py: entities the shop created and now answers 404 for)

Anomaly types (each with ids, amounts and a one-sentence `message`):
  acknowledged_lost        a checkout answered 2xx, but its order is not paid
  failed_but_paid          an order is paid, yet every checkout of it answered 4xx
  user_credit_drift        a user's credit is outside its expected interval; `direction` says
                           whether charges of paid orders are missing (`missing_charge`) or the
                           user was charged with no paid order behind it (`unbacked_charge`)
  stock_drift              an item's stock is outside its expected interval; `direction` is
                           `missing_stock_movement` (paid orders whose stock was never subtracted,
                           e.g. lost updates, overselling) or `unbacked_stock_movement` (stock gone
                           with no paid order behind it, e.g. a forgotten compensation)
  negative_stock           an item's stock is below zero
  negative_credit          a user's credit is below zero
  order_total_mismatch     a paid order's total_cost differs from its lines priced at the items' prices
  expected_fail_but_ok     the workload knew an operation must fail (expect="fail") and it answered 2xx

The total credit of all users outside its interval is no anomaly of its own (each user in it was
checked against its own interval, so a total outside means some user_credit_drift): it is only
reported, in `totals.money.drift`.

Culprits: an item whose paid orders hold more units than its supply (initial + added - taken
directly, an interval) is oversold (`oversold_items`); its stock_drift or negative_stock anomaly
carries `supply`, `units_in_paid_orders`, `oversold_units` and `oversold_orders`: the paid orders
whose checkout completed after the supply ran out, in completion order, exactly as many as it takes
to cover the oversold units. Units beyond the lower bound only (indeterminate restocks could
explain them) are a warning, "possibly oversold by up to N". Users are treated the same way
(`overspent`, `overspent_orders`); every drift names `culprit_orders` for explain.py's timelines.
The ledger also says when it could not judge (`unknown_reasons`): entities touched by the load
that could not be read back, and a history in which no load ran.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any

from shopbench.checker.ledger.anomalies import ANOMALY_TYPES, MAX_LISTED
from shopbench.checker.ledger.checkouts import judge_checkouts
from shopbench.checker.ledger.final_state import read_state
from shopbench.checker.ledger.findings import findings
from shopbench.checker.ledger.inventory import check_items
from shopbench.checker.ledger.money import check_users
from shopbench.checker.ledger.movements import read_history
from shopbench.checker.ledger.paid_orders import bound_unreadable_orders, tally_paid_orders
from shopbench.checker.ledger.vanished import find_vanished_batches

__all__ = ["ANOMALY_TYPES", "MAX_LISTED", "check"]


def check(ops: Iterable[dict[str, Any]], state: dict[str, Any]) -> dict[str, Any]:
    """The ledger verdict of a history against the final state read after it (see module docstring)."""
    # The books hold millions of containers at 10 M operations, none in a reference cycle: the
    # cyclic collector would only walk them over and over, so it waits until the check is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        books = read_state(state)
        read_history(books, ops)
        find_vanished_batches(books)
        tally_paid_orders(books)
        judge_checkouts(books)
        bound_unreadable_orders(books)
        check_users(books)
        check_items(books)
        return findings(books)
    finally:
        if collecting:
            gc.enable()
