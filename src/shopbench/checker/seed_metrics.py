"""Seed 000's four numbers, computed the way its `consistency-test/verify.py` computes them.

The seed (delftdata/wdm-project-benchmark) logs every checkout answered anything but 4xx as a
"SUCCESS" (timeouts and 5xx included) and then prints:

  stock_log    = SUCCESS checkouts - items * starting stock          (signed: it assumes all stock sells)
  stock_db     = (items * starting stock - stock in the database) - items * starting stock
  payment_log  = |correct credit - (starting credit - price of each SUCCESS)|
  payment_db   = |correct credit - sum of all users' credit in the database|
  where correct credit = users * starting credit - items * starting stock * price

We count units (lines' quantities) rather than checkout requests, and sum the stock of every item
rather than reading the first one: for the seed's own shapes (one item per order, and the single
hot item of its current edition) the numbers are identical, and they stay meaningful for the
other shapes. They are here so users can compare with the script they know; they are blind to
indeterminate answers, which is why the ledger checker, not these numbers, decides `valid`.
"""

from __future__ import annotations

from typing import Any


def seed_metrics(seed_inputs: dict[str, Any]) -> dict[str, int]:
    initial_stock = seed_inputs["initial_stock"]
    correct_credit = seed_inputs["initial_credit"] - seed_inputs["initial_stock_value"]
    logged_credit = seed_inputs["initial_credit"] - seed_inputs["success_cost"]
    bought_in_db = initial_stock - seed_inputs["final_stock"]
    return {
        "stock_log": seed_inputs["success_units"] - initial_stock,
        "stock_db": bought_in_db - initial_stock,
        "payment_log": abs(correct_credit - logged_credit),
        "payment_db": abs(correct_credit - seed_inputs["final_credit"]),
    }
