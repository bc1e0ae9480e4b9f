"""The one pass over the history: what was put in and taken out directly, and how each order's
checkouts were answered.

Money and stock put in come from `batch_init_*` ranges, `create_*` (credit/stock 0) and
`add_funds`/`add_stock`; taken out directly from `pay`/`subtract_stock`. A definite answer moves
both bounds of an entity's interval; an indeterminate one (`info`) only the bound its sign points
to (the high bound for a positive amount, the low one for a negative probe), so it widens the
interval instead of breaking the check. A definite no (`fail`) and reads change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shopbench.checker.ledger.amounts import IN_LO, OUT_LO, Batch, as_int
from shopbench.checker.ledger.books import Books
from shopbench.checker.ledger.checkouts import MASK, ONE_FAIL, ONE_INFO, ONE_OK
from shopbench.checker.ledger.vanished import CREATED_ID, note_created
from shopbench.history import SETUP_PROCESSES


def _iv(table: dict[str, list[int]], key: str) -> list[int]:
    entry = table.get(key)
    if entry is None:
        entry = table[key] = [0, 0, 0, 0]
    return entry


def read_history(books: Books, ops: Iterable[dict[str, Any]]) -> None:
    # The loop runs once per operation (10 M of them): the tables it adds to are bound to locals, and
    # checkouts (four in ten operations) are handled inline.
    checkouts, orders, done_at, not_found = books.checkouts, books.orders, books.done_at, books.not_found["orders"]
    load_ran = books.load_ran
    n_ops = 0
    for op in ops:
        n_ops += 1
        f = op["f"]
        kind = op["type"]
        if not load_ran and op.get("process") not in SETUP_PROCESSES:
            load_ran = books.load_ran = True
        if f == "checkout":
            oid = str(op["args"].get("order_id"))
            c = checkouts[oid] = checkouts.get(oid, 0) + (
                ONE_OK if kind == "ok" else ONE_FAIL if kind == "fail" else ONE_INFO)  # `pack`, inline
            if kind != "fail":
                order = orders.get(oid)
                if order is not None and order.paid and (kind == "ok" or oid not in done_at):
                    # The first 2xx answer is when the sale was acknowledged; an indeterminate one at most
                    # bounds it (its effect happened no later than its completion).
                    end = (op.get("wall") or 0.0) + (op.get("t1") or 0.0) - (op.get("t0") or 0.0)
                    if kind == "ok" and c & MASK > 1:
                        end = min(end, done_at.get(oid, end))
                    done_at[oid] = end
                if kind == "ok" and op.get("expect") == "fail":
                    _checkout_must_fail(books, op, oid)
            continue
        if kind == "fail":
            continue  # a definite no has no effect
        args = op["args"]
        if kind == "ok" and op.get("expect") == "fail":  # a read too: a 2xx for an unknown id is wrong
            books.expected_fail_ok += 1
            books.anomalies.add("expected_fail_but_ok", f"{f} {args} must fail but it answered {op.get('status')}.",
                                op_id=op.get("id"), f=f, args=args)
        if f.startswith("find_"):
            continue  # reads change nothing
        if kind == "ok" and f in CREATED_ID and isinstance(op.get("status"), int):
            # The shop acknowledged it (a 2xx): a driver's client-side cart (status None) is not the shop's.
            note_created(books, f, op.get("value"))
        if f == "add_item":  # (three in ten operations) inline, for an order the state holds: no effect
            oid = str(args.get("order_id"))
            if oid not in orders and oid not in not_found:  # books.unread(oid)
                _pending_line(books, oid, args)
        elif f in ("add_funds", "add_stock", "pay", "subtract_stock"):
            _direct(books, f, args, kind == "ok")
        elif f == "create_order":
            _pending(books, args, kind == "ok", op.get("value"))
        else:
            _created(books, f, args, kind == "ok", op.get("value"))
    books.n_ops += n_ops


def _checkout_must_fail(books: Books, op: dict[str, Any], oid: str) -> None:
    books.expected_fail_ok += 1
    books.anomalies.add("expected_fail_but_ok",
                        f"checkout of order {oid} must fail (the {op.get('scenario') or ''} workload made it "
                        f"impossible) but it answered {op.get('status')}.",
                        order_id=oid, op_id=op.get("id"), f="checkout")


def _direct(books: Books, f: str, args: dict[str, Any], ok: bool) -> None:
    """add_funds, add_stock, pay, subtract_stock: an amount in or out of one entity."""
    amount = as_int(args.get("amount"))
    if amount is None:
        return
    if f == "add_funds" or f == "pay":
        entry = _iv(books.user_iv, str(args.get("user_id")))
    else:
        entry = _iv(books.item_iv, str(args.get("item_id")))
    base = IN_LO if f.startswith("add") else OUT_LO
    # Without an answer it happened or not: a positive amount widens the high bound, a negative one
    # (a probe's -5) the low bound, so the interval never inverts.
    if ok or amount < 0:
        entry[base] += amount
    if ok or amount > 0:
        entry[base + 1] += amount


def _pending(books: Books, args: dict[str, Any], ok: bool, value: Any) -> None:
    """The user of an order the final state does not hold (create_order)."""
    oid = value.get("order_id") if ok and isinstance(value, dict) else None
    if oid is not None and books.unread(str(oid)):
        books.pending_user[str(oid)] = str(args.get("user_id"))


def _pending_line(books: Books, oid: str, args: dict[str, Any]) -> None:
    """A line added to an order the final state does not hold (add_item)."""
    qty = as_int(args.get("quantity"))
    lines = books.pending_lines.setdefault(oid, {})
    iid = str(args.get("item_id"))
    # The most the order may hold: every positive add went through, no negative one did (a shop
    # refuses or ignores those; counting one would raise the low bounds above the high ones).
    lines[iid] = lines.get(iid, 0) + max(qty or 0, 0)


def _created(books: Books, f: str, args: dict[str, Any], ok: bool, value: Any) -> None:
    """create_item, create_user and the batch_inits: entities that start with an amount."""
    if f == "create_item":
        if ok and isinstance(value, dict) and "item_id" in value:
            iid = str(value["item_id"])
            _iv(books.item_iv, iid)
            price = as_int(args.get("price"))
            if price is not None:
                books.item_price[iid] = price
            if books.first_item is None:
                books.first_item = iid
    elif f == "create_user":
        if ok and isinstance(value, dict) and "user_id" in value:
            _iv(books.user_iv, str(value["user_id"]))
    elif f == "batch_init_stock":
        n, amount = as_int(args.get("n")), as_int(args.get("starting_stock"))
        if n is not None and amount is not None:
            books.stock_batches.append(Batch(n, amount, ok, as_int(args.get("item_price"))))
            if books.first_item is None and n > 0:
                books.first_item = "0"
    elif f == "batch_init_users":
        n, amount = as_int(args.get("n")), as_int(args.get("starting_money"))
        if n is not None and amount is not None:
            books.user_batches.append(Batch(n, amount, ok))
    elif f == "batch_init_orders":
        n = as_int(args.get("n"))
        if n is not None:
            books.order_batches.append(Batch(n, 0, ok))
