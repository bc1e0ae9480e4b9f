"""The anomalies the ledger lists, counted by type, and the words their messages share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_LISTED = 10_000  # anomalies listed in full; `anomaly_count` and `anomaly_types` count them all
MAX_IDS_IN_MESSAGE = 5

ANOMALY_TYPES = (
    "acknowledged_lost", "failed_but_paid", "user_credit_drift", "stock_drift", "negative_stock",
    "negative_credit", "order_total_mismatch", "expected_fail_but_ok",
)


class Anomalies:
    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.count = 0
        self.by_type: dict[str, int] = {}

    def add(self, type_: str, message: str, **details: Any) -> None:
        assert type_ in ANOMALY_TYPES, type_  # the contract's list of types is the one the checker uses
        self.count += 1
        self.by_type[type_] = self.by_type.get(type_, 0) + 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append({"type": type_, "message": message, **details})


def ids(entity_ids: Iterable[str]) -> str:
    """The first few ids of a list, and how many more."""
    entity_ids = list(entity_ids)
    shown = ", ".join(entity_ids[:MAX_IDS_IN_MESSAGE])
    more = len(entity_ids) - MAX_IDS_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """"1 unit", "2 units": a number with its noun in agreement."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def interval(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}, {hi}]"
