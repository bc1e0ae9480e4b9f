"""The ledger's books: the one record every pass of the check reads and adds to.

The final state as read (`items`, `users`, `orders`, what could not be read), then, pass by pass:
what the history put in and took out (`movements`), what the paid orders took (`paid_orders`),
what the checkouts were answered (`checkouts`), and the money and stock totals (`money`,
`inventory`). Nothing here decides anything; it only holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopbench.checker.ledger.amounts import Batch
from shopbench.checker.ledger.anomalies import Anomalies


def _totals(counted: str) -> dict[str, Any]:
    return {"in": [0, 0], "out_direct": [0, 0], "out_paid_orders": 0, "out_unresolved_orders_max": 0,
            "expected": [0, 0], "actual": 0, counted: 0}


@dataclass(slots=True)
class Books:
    # -- the final state ------------------------------------------------------------------------
    items: dict[str, dict[str, Any]]
    users: dict[str, dict[str, Any]]
    orders: dict[str, dict[str, Any]]
    unreadable: dict[str, dict[str, Any]]  # kind -> {id: why}: no answer, 5xx (or 4xx: see not_found)
    not_found: dict[str, set[str]]  # kind -> ids the shop answered 4xx for: they do not exist
    malformed: dict[str, dict[str, str]]  # kind -> {id: why}: read, but not in a shape the checks can use
    unreadable_orders: set[str]  # unreadable (not 404) or malformed: may or may not be paid
    anomalies: Anomalies = field(default_factory=Anomalies)
    warnings: list[str] = field(default_factory=list)

    # -- from the history (movements) -------------------------------------------------------------
    item_iv: dict[str, list[int]] = field(default_factory=dict)  # item id -> [in_lo, in_hi, out_lo, out_hi]
    user_iv: dict[str, list[int]] = field(default_factory=dict)
    item_price: dict[str, int] = field(default_factory=dict)  # as created
    first_item: str | None = None
    stock_batches: list[Batch] = field(default_factory=list)
    user_batches: list[Batch] = field(default_factory=list)
    order_batches: list[Batch] = field(default_factory=list)
    # kind -> ids the shop acknowledged creating (2xx) and now answers 404 for (vanished.py)
    vanished: dict[str, set[str]] = field(default_factory=lambda: {"orders": set(), "users": set(), "items": set()})
    # order id -> its checkouts' answers packed in one int (see `checkouts.pack`)
    checkouts: dict[str, int] = field(default_factory=dict)
    done_at: dict[str, float] = field(default_factory=dict)  # paid order -> when its checkout completed
    # Only for orders the final state could not read: what their checkout could have taken.
    pending_user: dict[str, str] = field(default_factory=dict)
    pending_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    n_ops: int = 0
    load_ran: bool = False
    expected_fail_ok: int = 0

    # -- what the paid orders took (paid_orders) --------------------------------------------------
    charged: dict[str, int] = field(default_factory=dict)  # user id -> total_cost of its paid orders
    sold: dict[str, int] = field(default_factory=dict)  # item id -> quantity in paid orders
    charge_extra: dict[str, int] = field(default_factory=dict)  # unreadable orders: what they may have charged
    sold_extra: dict[str, int] = field(default_factory=dict)  # ... and taken
    paid_by_user: dict[str, list[str]] | None = None  # built when a check first needs it (paid_orders_of)
    paid_by_item: dict[str, list[str]] = field(default_factory=dict)
    paid_count: int = 0
    # Unreadable orders whose possible effect has no bound: of an unknown user and lines (made by
    # batch_init_orders) they may have charged anyone and taken anything (`unbounded_all`); of
    # unpriced items, they may have charged their user anything (`unbounded_users`).
    unbounded_orders: list[str] = field(default_factory=list)
    unbounded_users: set[str] = field(default_factory=set)
    unbounded_all: bool = False
    possible_drifts: int = 0  # drifts that only an unbounded order could explain: warned about

    # -- checkouts, money, inventory --------------------------------------------------------------
    checkout_counts: dict[str, int] = field(default_factory=lambda: {
        "ok": 0, "fail": 0, "info": 0, "info_resolved_paid": 0, "info_resolved_unpaid": 0, "info_unresolved": 0})
    unresolved_orders: list[str] = field(default_factory=list)  # checked out, absent from the state
    unresolved_users: list[str] = field(default_factory=list)  # read, but never created in this history
    unresolved_items: list[str] = field(default_factory=list)
    money: dict[str, Any] = field(default_factory=lambda: _totals("users_checked"))
    stock: dict[str, Any] = field(default_factory=lambda: _totals("items_checked"))
    stock_value_in: int = 0
    oversold_items: list[str] = field(default_factory=list)
    orders_by_item: dict[str, list[str]] | None = None  # checked-out orders holding each item (culprits.py)

    def unread(self, order_id: str) -> bool:
        """An order the final state does not hold, and the shop did not say it does not exist: it may
        or may not be paid (unreadable, malformed, or never read)."""
        return order_id not in self.orders and order_id not in self.not_found["orders"]

    @property
    def bounded(self) -> bool:
        return not self.unbounded_orders

    # Whether the low bound of an expected stock is a true bound: unreadable orders can only add
    # sales, so the high bound always is (money.check_users asks the same of a user's credit inline).
    def stock_floor_known(self) -> bool:
        return not self.unbounded_all
