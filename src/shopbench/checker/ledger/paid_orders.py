"""What the paid orders took out, and the most an unreadable order could have taken.

Each order the final state says is paid charged its user `total_cost` once and subtracted each
line's quantity once. An order that could not be read may or may not be paid: what its checkout
could have taken (bounded from its `add_item` operations) widens its user's and its items'
intervals; when it cannot be bounded (no create_order seen, or unpriced items) it is `unbounded`,
and only the low bounds it could move are lost: it can add sales and charges, never undo them.
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.ledger.amounts import price_of
from shopbench.checker.ledger.books import Books


def tally_paid_orders(books: Books) -> None:
    # Once per order (2 M of them at 10 M operations): the tables are bound to locals, an order line
    # costs one look-up of its item (its paid orders, units and price, the price looked up once), and
    # the orders are records (final_state.py), read as attributes.
    charged = books.charged
    lines_of: dict[str, list[Any]] = {}  # item id -> [its paid orders, units in them, its price]
    paid_count = 0
    for oid, order in books.orders.items():
        if not order.paid:
            continue
        paid_count += 1
        uid = str(order.user_id)
        cost = int(order.total_cost)  # final_state.py kept only integral amounts
        charged[uid] = charged.get(uid, 0) + cost
        lines_cost = 0
        priced = True
        for line in order.items or ():
            iid, qty = str(line[0]), int(line[1])
            item = lines_of.get(iid)
            if item is None:
                item = lines_of[iid] = [[], 0, price_of(iid, books.items, books.item_price, books.stock_batches)]
            item[0].append(oid)
            item[1] += qty
            price = item[2]
            if price is None:
                priced = False
            else:
                lines_cost += qty * price
        if priced and lines_cost != cost:
            books.anomalies.add("order_total_mismatch",
                                f"paid order {oid} has total_cost {cost}, but its lines at the items' prices cost "
                                f"{lines_cost}.",
                                order_id=oid, user_id=uid, expected=lines_cost, actual=cost)
    books.paid_count += paid_count
    for iid, (orders, units, _) in lines_of.items():
        books.paid_by_item[iid] = orders
        books.sold[iid] = units


def paid_orders_of(books: Books, user_id: str) -> list[str]:
    """A user's paid orders, in the state's order. Only a user whose credit is off or overspent needs
    them: the index of them all is built at the first call, not for the million users of a 10 M run."""
    if books.paid_by_user is None:
        index: dict[str, list[str]] = {}
        for oid, order in books.orders.items():
            if order.paid:
                index.setdefault(str(order.user_id), []).append(oid)
        books.paid_by_user = index
    return books.paid_by_user.get(user_id, [])


def bound_unreadable_orders(books: Books) -> None:
    # Orders checked out but absent from the state (`unresolved_orders`) may have been paid too.
    for oid in sorted(books.unreadable_orders | set(books.unresolved_orders)):
        uid = books.pending_user.get(oid)
        if uid is None:
            books.unbounded_orders.append(oid)
            books.unbounded_all = True
            continue
        cost_hi = 0
        priced = True
        for iid, qty in books.pending_lines.get(oid, {}).items():
            books.sold_extra[iid] = books.sold_extra.get(iid, 0) + qty
            price = price_of(iid, books.items, books.item_price, books.stock_batches)
            if price is None:
                priced = False
            else:
                cost_hi += qty * price
        if not priced:
            books.unbounded_orders.append(oid)
            books.unbounded_users.add(uid)
        books.charge_extra[uid] = books.charge_extra.get(uid, 0) + cost_hi
