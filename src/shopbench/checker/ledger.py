"""The ledger checker: history + final state -> every way money or stock went wrong, explained.

A pure function over plain data (`check(ops, state)`), no I/O. It streams over the operations once
and keeps a handful of integers per entity, so a million-operation history fits in memory.

How the expectation is built:
  * Money and stock put in come from the history itself: `batch_init_*` ranges, `create_*`
    (credit/stock 0) and `add_funds`/`add_stock`. Money and stock taken out directly come from
    `pay`/`subtract_stock`. A definite answer moves both bounds of an interval; an indeterminate
    one (`info`) moves only the bound it may have moved, so it widens the interval instead of
    breaking the check.
  * What checkouts took out is derived from the orders the final state says are paid: each paid
    order charged its user `total_cost` once and subtracted each line's quantity once. An
    indeterminate checkout is therefore resolved by its order's `paid` flag, never counted up front.
  * An order that could not be read is unresolved: it may or may not be paid, so what its
    checkout could have taken (bounded from its `add_item` operations) widens its user's and its
    items' intervals. An entity that could not be read is reported as unresolved, not guessed.

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
  money_drift              the total credit of all users is outside its expected interval (money
                           created or destroyed) beyond what the users a user_credit_drift names
                           explain; otherwise the total is only reported in `totals.money.drift`
  negative_stock           an item's stock is below zero

Culprits: an item whose paid orders hold more units than its supply (initial + added - taken
directly, an interval) is oversold (`oversold_items`); its stock_drift or negative_stock anomaly
carries `supply`, `units_in_paid_orders`, `oversold_units` and `oversold_orders`: the paid orders
whose checkout completed after the supply ran out, in completion order, exactly as many as it takes
to cover the oversold units. Units beyond the lower bound only (indeterminate restocks could
explain them) are a warning, "possibly oversold by up to N". Users are treated the same way
(`overspent`, `overspent_orders`); every drift names `culprit_orders` for explain.py's timelines.
The ledger also says when it could not judge (`unknown_reasons`): entities touched by the load
that could not be read back, and a history in which no load ran.
  negative_credit          a user's credit is below zero
  order_total_mismatch     a paid order's total_cost differs from its lines priced at the items' prices
  expected_fail_but_ok     the workload knew an operation must fail (expect="fail") and it answered 2xx
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shopbench.history import SETUP_PROCESSES

MAX_LISTED = 10_000  # anomalies listed in full; `anomaly_count` and `anomaly_types` count them all
MAX_IDS_IN_MESSAGE = 5

ANOMALY_TYPES = (
    "acknowledged_lost", "failed_but_paid", "user_credit_drift", "stock_drift", "money_drift",
    "negative_stock", "negative_credit", "order_total_mismatch", "expected_fail_but_ok",
)

# Index of each bound in the per-entity interval lists: [in_lo, in_hi, out_lo, out_hi].
_OK, _FAIL, _INFO, _MASK = 1, 1 << 21, 1 << 42, (1 << 21) - 1  # packed checkout counts (see `check`)
IN_LO, IN_HI, OUT_LO, OUT_HI = 0, 1, 2, 3


def _int(value: Any) -> int | None:
    """An amount as the shop saw it: ints and decimal strings; anything else had no effect we can count."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class _Batch:
    """A `batch_init` that created ids "0".."n-1" with `amount` each; `definite` unless indeterminate."""

    __slots__ = ("n", "amount", "definite", "price")

    def __init__(self, n: int, amount: int, definite: bool, price: int | None = None):
        self.n, self.amount, self.definite, self.price = n, amount, definite, price


def _batch_index(entity_id: str) -> int | None:
    if entity_id.isdigit() and (entity_id == "0" or entity_id[0] != "0"):
        return int(entity_id)
    return None


def _ids(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:MAX_IDS_IN_MESSAGE])
    return shown + (f" and {len(ids) - MAX_IDS_IN_MESSAGE} more" if len(ids) > MAX_IDS_IN_MESSAGE else "")


def _interval(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}, {hi}]"


class _Anomalies:
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


def check(ops: Iterable[dict[str, Any]], state: dict[str, Any]) -> dict[str, Any]:
    """The ledger verdict of a history against the final state read after it (see module docstring)."""
    items_state: dict[str, dict[str, Any]] = state.get("items") or {}
    users_state: dict[str, dict[str, Any]] = state.get("users") or {}
    orders_state: dict[str, dict[str, Any]] = state.get("orders") or {}
    unreadable = state.get("unreadable") or {}
    not_found = state.get("not_found") or {}
    # An order the shop answered 404 for does not exist: it cannot have been paid (not unreadable).
    unreadable_orders = set(unreadable.get("orders") or ()) - set(not_found.get("orders") or ())
    # Paid orders: when their checkout completed (wall clock), to name the ones sold beyond supply.
    done_at: dict[str, float] = {}

    anomalies = _Anomalies()
    item_iv: dict[str, list[int]] = {}  # item id -> [in_lo, in_hi, out_lo, out_hi]
    user_iv: dict[str, list[int]] = {}
    item_price: dict[str, int] = {}
    first_item: str | None = None
    stock_batches: list[_Batch] = []
    user_batches: list[_Batch] = []
    # order id -> its checkouts' answers packed in one int (ok + fail << 21 + info << 42): a 10 M
    # operation history has millions of orders, and one small int is a fifth of a 3-int list.
    checkouts: dict[str, int] = {}
    # Only for orders the final state could not read: what their checkout could have taken.
    pending_user: dict[str, str] = {}
    pending_lines: dict[str, dict[str, int]] = {}
    order_batches: list[tuple[int, bool]] = []
    n_ops = 0
    load_ran = False
    expected_fail_ok = 0

    def iv(table: dict[str, list[int]], key: str) -> list[int]:
        entry = table.get(key)
        if entry is None:
            entry = table[key] = [0, 0, 0, 0]
        return entry

    for op in ops:
        n_ops += 1
        f = op["f"]
        kind = op["type"]
        if not load_ran and op.get("process") not in SETUP_PROCESSES:
            load_ran = True
        if f == "checkout":
            oid = str(op["args"].get("order_id"))
            c = checkouts[oid] = checkouts.get(oid, 0) + (_OK if kind == "ok" else _FAIL if kind == "fail" else _INFO)
            if kind != "fail":
                order = orders_state.get(oid)
                if order is not None and order.get("paid") and (kind == "ok" or oid not in done_at):
                    # The first 2xx answer is when the sale was acknowledged; an indeterminate one at
                    # most bounds it (its effect happened no later than its completion).
                    end = (op.get("wall") or 0.0) + (op.get("t1") or 0.0) - (op.get("t0") or 0.0)
                    if kind == "ok" and c & _MASK > 1:
                        end = min(end, done_at.get(oid, end))
                    done_at[oid] = end
            if kind == "ok" and op.get("expect") == "fail":
                expected_fail_ok += 1
                anomalies.add("expected_fail_but_ok",
                              f"checkout of order {oid} must fail (the {op.get('scenario') or ''} workload made it "
                              f"impossible) but it answered {op.get('status')}.",
                              order_id=oid, op_id=op.get("id"), f=f)
            continue
        if kind == "fail" or f.startswith("find_"):
            continue  # a definite no has no effect; reads change nothing
        args = op["args"]
        ok = kind == "ok"
        if ok and op.get("expect") == "fail":
            expected_fail_ok += 1
            anomalies.add("expected_fail_but_ok", f"{f} {args} must fail but it answered {op.get('status')}.",
                          op_id=op.get("id"), f=f, args=args)
        if f == "add_funds" or f == "add_stock" or f == "pay" or f == "subtract_stock":
            amount = _int(args.get("amount"))
            if amount is None:
                continue
            if f == "add_funds" or f == "pay":
                entry = iv(user_iv, str(args.get("user_id")))
            else:
                entry = iv(item_iv, str(args.get("item_id")))
            base = IN_LO if f.startswith("add") else OUT_LO
            if ok:
                entry[base] += amount
            entry[base + 1] += amount
        elif f == "add_item":
            oid = str(args.get("order_id"))
            if oid in unreadable_orders:
                qty = _int(args.get("quantity"))
                lines = pending_lines.setdefault(oid, {})
                iid = str(args.get("item_id"))
                lines[iid] = lines.get(iid, 0) + (qty or 0)
        elif f == "create_order":
            value = op.get("value")
            if ok and isinstance(value, dict) and str(value.get("order_id")) in unreadable_orders:
                pending_user[str(value["order_id"])] = str(args.get("user_id"))
        elif f == "create_item":
            value = op.get("value")
            if ok and isinstance(value, dict) and "item_id" in value:
                iid = str(value["item_id"])
                iv(item_iv, iid)
                price = _int(args.get("price"))
                if price is not None:
                    item_price[iid] = price
                if first_item is None:
                    first_item = iid
        elif f == "create_user":
            value = op.get("value")
            if ok and isinstance(value, dict) and "user_id" in value:
                iv(user_iv, str(value["user_id"]))
        elif f == "batch_init_stock":
            n, amount, price = _int(args.get("n")), _int(args.get("starting_stock")), _int(args.get("item_price"))
            if n is not None and amount is not None:
                stock_batches.append(_Batch(n, amount, ok, price))
                if first_item is None and n > 0:
                    first_item = "0"
        elif f == "batch_init_users":
            n, amount = _int(args.get("n")), _int(args.get("starting_money"))
            if n is not None and amount is not None:
                user_batches.append(_Batch(n, amount, ok))
        elif f == "batch_init_orders":
            n = _int(args.get("n"))
            if n is not None:
                order_batches.append((n, ok))

    # -- what the paid orders took out ------------------------------------------------------------
    charged: dict[str, int] = {}  # user id -> total_cost of its paid orders
    sold: dict[str, int] = {}  # item id -> quantity in paid orders
    charge_extra: dict[str, int] = {}  # unresolved orders: what they may have charged / taken
    sold_extra: dict[str, int] = {}
    paid_by_user: dict[str, list[str]] = {}
    paid_by_item: dict[str, list[str]] = {}
    paid_count = 0
    unbounded_orders: list[str] = []
    warnings: list[str] = []
    for oid, order in orders_state.items():
        if not order.get("paid"):
            continue
        paid_count += 1
        uid = str(order.get("user_id"))
        cost = _int(order.get("total_cost")) or 0
        charged[uid] = charged.get(uid, 0) + cost
        paid_by_user.setdefault(uid, []).append(oid)
        lines_cost = 0
        priced = True
        for line in order.get("items") or ():
            iid, qty = str(line[0]), _int(line[1]) or 0
            sold[iid] = sold.get(iid, 0) + qty
            paid_by_item.setdefault(iid, []).append(oid)
            price = _price(iid, items_state, item_price, stock_batches)
            if price is None:
                priced = False
            else:
                lines_cost += qty * price
        if priced and lines_cost != cost:
            anomalies.add("order_total_mismatch",
                          f"paid order {oid} has total_cost {cost}, but its lines at the items' prices cost "
                          f"{lines_cost}.",
                          order_id=oid, user_id=uid, expected=lines_cost, actual=cost)
    for oid in sorted(unreadable_orders):
        uid = pending_user.get(oid)
        if uid is None:
            unbounded_orders.append(oid)
            continue
        cost_hi = 0
        for iid, qty in pending_lines.get(oid, {}).items():
            sold_extra[iid] = sold_extra.get(iid, 0) + qty
            price = _price(iid, items_state, item_price, stock_batches)
            if price is None:
                unbounded_orders.append(oid)
                break
            cost_hi += qty * price
        charge_extra[uid] = charge_extra.get(uid, 0) + cost_hi
    # An unreadable order we cannot bound (made by batch_init_orders, or of unpriced items) may have
    # moved anyone's money: no total can be checked then, only reported.
    bounded = not unbounded_orders

    # -- checkouts against the final paid flags ---------------------------------------------------
    co = {"ok": 0, "fail": 0, "info": 0, "info_resolved_paid": 0, "info_resolved_unpaid": 0, "info_unresolved": 0}
    unresolved_orders: list[str] = []
    for oid, packed in checkouts.items():
        n_ok, n_fail, n_info = packed & _MASK, (packed >> 21) & _MASK, packed >> 42
        co["ok"] += n_ok
        co["fail"] += n_fail
        co["info"] += n_info
        order = orders_state.get(oid)
        if order is None:
            co["info_unresolved"] += n_info
            if n_ok or n_info:  # only 4xx answers (a probe of an unknown order) leave nothing to resolve
                unresolved_orders.append(oid)
            continue
        paid = bool(order.get("paid"))
        co["info_resolved_paid" if paid else "info_resolved_unpaid"] += n_info
        if n_ok and not paid:
            anomalies.add("acknowledged_lost",
                          f"order {oid}: checkout answered 2xx{f' ({n_ok} times)' if n_ok > 1 else ''}, "
                          f"but the order is not paid.",
                          order_id=oid, user_id=order.get("user_id"), expected="paid", actual="unpaid",
                          checkouts={"ok": n_ok, "fail": n_fail, "info": n_info})
        elif paid and n_fail and not n_ok and not n_info:
            anomalies.add("failed_but_paid",
                          f"order {oid} is paid (total_cost {order.get('total_cost')}), yet every checkout of it "
                          f"({n_fail}) answered 4xx.",
                          order_id=oid, user_id=order.get("user_id"), expected="unpaid", actual="paid",
                          checkouts={"ok": n_ok, "fail": n_fail, "info": n_info})

    # -- users ------------------------------------------------------------------------------------
    unresolved_users: list[str] = []
    money = {"in": [0, 0], "out_direct": [0, 0], "out_paid_orders": 0, "out_unresolved_orders_max": 0,
             "expected": [0, 0], "actual": 0, "users_checked": 0}
    flagged_users = {"expected": [0, 0], "actual": 0, "n": 0}  # users a per-user anomaly already names
    for uid, user in users_state.items():
        credit = user.get("credit")
        if type(credit) is not int:
            unresolved_users.append(uid)
            continue
        entry = _baseline(uid, user_iv, user_batches)
        if entry is None:
            unresolved_users.append(uid)  # not created in this history: nothing to compare with
            continue
        in_lo, in_hi, out_lo, out_hi = entry
        ch = charged.get(uid, 0)
        extra = charge_extra.get(uid, 0)
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
        orders = paid_by_user.get(uid, [])
        budget = in_hi - out_lo  # the most this user could ever have spent on orders
        over = _beyond(orders, budget, lambda oid: _int(orders_state[oid].get("total_cost")) or 0,
                       done_at) if ch > budget else None
        if credit < 0:
            anomalies.add("negative_credit", f"user {uid} has credit {credit}, below zero.",
                          user_id=uid, expected=_interval(max(lo, 0), max(hi, 0)), actual=credit,
                          **({} if over is None or (bounded and not lo <= credit <= hi) else
                             _overspent(uid, ch, in_lo - out_hi, budget, over)))
        if bounded and not lo <= credit <= hi:
            flagged_users["expected"][0] += lo
            flagged_users["expected"][1] += hi
            flagged_users["actual"] += credit
            flagged_users["n"] += 1
            if credit > hi:
                direction = "missing_charge"
                why = (f"{credit - hi} more than expected: charges of its paid orders are missing "
                       f"({len(orders)} paid orders: {_ids(orders)})"
                       if orders else f"{credit - hi} more than expected: money appeared with no operation behind it")
            else:
                direction = "unbacked_charge"
                why = f"{lo - credit} less than expected: charged with no paid order behind it"
                if orders:
                    why += f" (its paid orders: {_ids(orders)})"
            details = {"paid_orders": orders[:20], "culprit_orders": _in_completion_order(orders, done_at)[:20]}
            if over is not None:
                details.update(_overspent(uid, ch, in_lo - out_hi, budget, over))
                why += f"; {details['overspent']} more was charged in paid orders than it ever had"
            anomalies.add("user_credit_drift",
                          f"user {uid} has credit {credit}, expected {_interval(lo, hi)} ({_interval(in_lo, in_hi)} "
                          f"put in, {ch} in {len(orders)} paid orders): {why}.",
                          user_id=uid, expected=[lo, hi], actual=credit, direction=direction,
                          diff=credit - hi if credit > hi else credit - lo, **details)
    if bounded and money["users_checked"] and not money["expected"][0] <= money["actual"] <= money["expected"][1]:
        lo, hi = money["expected"]
        actual = money["actual"]
        what = f"{actual - hi} created" if actual > hi else f"{lo - actual} destroyed"
        rest_lo = lo - flagged_users["expected"][0]
        rest_hi = hi - flagged_users["expected"][1]
        rest = actual - flagged_users["actual"]
        money["drift"] = {"what": what, "explained_by_users": flagged_users["n"]}
        # The per-user anomalies already name where the money went; a total outside its interval is
        # news only when the users no anomaly names do not add up on their own.
        if not rest_lo <= rest <= rest_hi:
            anomalies.add("money_drift",
                          f"total credit of {money['users_checked']} users is {actual}, expected {_interval(lo, hi)}: "
                          f"{what} (money in {_interval(*money['in'])}, paid orders {money['out_paid_orders']}, "
                          f"direct payments {_interval(*money['out_direct'])}), beyond what the "
                          f"{flagged_users['n']} drifting users explain.",
                          expected=[lo, hi], actual=actual, diff=actual - hi if actual > hi else actual - lo)

    # -- items ------------------------------------------------------------------------------------
    unresolved_items: list[str] = []
    oversold_items: list[str] = []
    stock = {"in": [0, 0], "out_direct": [0, 0], "out_paid_orders": 0, "out_unresolved_orders_max": 0,
             "expected": [0, 0], "actual": 0, "items_checked": 0}
    stock_value_in = 0
    for iid, item in items_state.items():
        actual = item.get("stock")
        if type(actual) is not int:
            unresolved_items.append(iid)
            continue
        entry = _baseline(iid, item_iv, stock_batches)
        if entry is None:
            unresolved_items.append(iid)
            continue
        in_lo, in_hi, out_lo, out_hi = entry
        s = sold.get(iid, 0)
        extra = sold_extra.get(iid, 0)
        lo, hi = in_lo - out_hi - s - extra, in_hi - out_lo - s
        stock["in"][0] += in_lo
        stock["in"][1] += in_hi
        stock_value_in += in_lo * (_price(iid, items_state, item_price, stock_batches) or 0)
        stock["out_direct"][0] += out_lo
        stock["out_direct"][1] += out_hi
        stock["out_paid_orders"] += s
        stock["out_unresolved_orders_max"] += extra
        stock["expected"][0] += lo
        stock["expected"][1] += hi
        stock["actual"] += actual
        stock["items_checked"] += 1
        supply = [in_lo - out_hi, in_hi - out_lo]  # initial + added - taken directly, as an interval
        orders = paid_by_item.get(iid, [])
        oversell: dict[str, Any] = {}
        if s > supply[1]:
            oversold_items.append(iid)
            culprits = _beyond(orders, supply[1], lambda oid, _iid=iid: _units(orders_state[oid], _iid), done_at)
            oversell = {"oversold": True, "supply": supply, "units_in_paid_orders": s,
                        "oversold_units": s - supply[1], "oversold_orders": culprits, "culprit_orders": culprits}
        elif s > supply[0] and bounded:
            warnings.append(f"item {iid} possibly oversold by up to {s - supply[0]} units: paid orders hold {s}, "
                            f"the supply was {_interval(*supply)} because some add_stock/subtract_stock answers "
                            f"were indeterminate.")
        sold_note = (f"supply {_interval(*supply)} ({_interval(in_lo, in_hi)} put in), {s} units in "
                     f"{len(orders)} paid orders")
        over_note = (f"; oversold by {oversell['oversold_units']}: the paid orders whose checkout completed after "
                     f"the supply ran out are {_ids(oversell['oversold_orders'])}" if oversell else "")
        drift = bounded and not lo <= actual <= hi
        if actual < 0:
            anomalies.add("negative_stock", f"item {iid} has stock {actual}, below zero: {sold_note}{over_note}.",
                          item_id=iid, expected=_interval(max(lo, 0), max(hi, 0)), actual=actual,
                          **({} if drift else oversell))
        if drift:
            if actual > hi:
                direction = "missing_stock_movement"
                why = f"{actual - hi} units more than expected: "
                why += ("stock subtractions of some of its paid orders are missing (a lost update?)" if orders
                        else "stock appeared with no operation behind it")
            else:
                direction = "unbacked_stock_movement"
                why = f"{lo - actual} units less than expected: stock taken with no paid order behind it"
            anomalies.add("stock_drift",
                          f"item {iid} has stock {actual}, expected {_interval(lo, hi)} ({sold_note}): {why}"
                          f"{over_note}.",
                          item_id=iid, expected=[lo, hi], actual=actual, direction=direction,
                          paid_orders=orders[:20], diff=actual - hi if actual > hi else actual - lo,
                          **(oversell or {"oversold": False, "supply": supply, "units_in_paid_orders": s}))

    # What seed 000's verify.py counts: every checkout answered anything but 4xx is a "SUCCESS".
    success_checkouts = success_units = success_cost = 0
    for oid, packed in checkouts.items():
        n_ok, n_info = packed & _MASK, packed >> 42
        n = n_ok + n_info
        if n:
            order = orders_state.get(oid) or {}
            success_checkouts += n
            success_units += n * sum(_int(line[1]) or 0 for line in order.get("items") or ())
            success_cost += n * (_int(order.get("total_cost")) or 0)

    for bucket, ids in (("orders", unresolved_orders), ("users", unresolved_users), ("items", unresolved_items)):
        for entity_id in unreadable.get(bucket) or ():
            if entity_id not in ids:
                ids.append(entity_id)

    return {
        "valid": anomalies.count == 0,
        "unknown_reasons": _unknown_reasons(load_ran, unreadable, not_found, unresolved_orders, unbounded_orders),
        "warnings": warnings,
        "oversold_items": oversold_items,
        "anomaly_count": anomalies.count,
        "anomaly_types": anomalies.by_type,
        "anomalies": anomalies.listed,
        "anomalies_listed": len(anomalies.listed),
        "checkouts": co,
        "totals": {"money": money, "stock": stock},
        "counts": {
            "ops": n_ops,
            "load_ran": load_ran,
            "orders_checked_out": len(checkouts),
            "orders_read": len(orders_state),
            "paid_orders": paid_count,
            "users_read": len(users_state),
            "items_read": len(items_state),
            "expected_fail_but_ok": expected_fail_ok,
        },
        "unresolved": {
            "orders": sorted(unresolved_orders),
            "users": sorted(unresolved_users),
            "items": sorted(unresolved_items),
            "unbounded_orders": unbounded_orders,
            "note": ("entities that could not be read, or have no baseline in this history: not checked, "
                     "never guessed" + ("; some unreadable orders could not be bounded, so no credit or stock "
                                        "drift was checked" if not bounded else "")),
        },
        "seed_inputs": {
            "initial_stock": stock["in"][0],
            "initial_stock_value": stock_value_in,
            "initial_credit": money["in"][0],
            "final_stock": stock["actual"],
            "final_credit": money["actual"],
            "first_item": first_item,
            "first_item_stock": (items_state.get(first_item) or {}).get("stock") if first_item else None,
            "success_checkouts": success_checkouts,
            "success_units": success_units,
            "success_cost": success_cost,
        },
    }


def _in_completion_order(orders: list[str], done_at: dict[str, float]) -> list[str]:
    """Paid orders by when their checkout completed; a paid order no checkout answered comes last."""
    inf = float("inf")
    return sorted(orders, key=lambda oid: (done_at.get(oid, inf), oid))


def _beyond(orders: list[str], budget: int, size: Callable[[str], int], done_at: dict[str, float]) -> list[str]:
    """The paid orders that completed after `budget` (stock or credit) was used up, in completion
    order: exactly the orders it takes to cover what was sold or charged beyond it."""
    named: list[str] = []
    used = 0
    for oid in _in_completion_order(orders, done_at):
        used += size(oid)
        if used > budget:
            named.append(oid)
    return named


def _units(order: dict[str, Any], item_id: str) -> int:
    return sum(_int(line[1]) or 0 for line in order.get("items") or () if str(line[0]) == item_id)


def _overspent(user_id: str, charged: int, budget_lo: int, budget: int, orders: list[str]) -> dict[str, Any]:
    return {"overspent": charged - budget, "budget": [budget_lo, budget], "charged_in_paid_orders": charged,
            "overspent_orders": orders, "culprit_orders": orders}


def _unknown_reasons(load_ran: bool, unreadable: dict[str, Any], not_found: dict[str, Any],
                     unresolved_orders: list[str], unbounded: list[str]) -> list[str]:
    """Why the ledger could not judge on complete data: sentences a user can act on."""
    reasons: list[str] = []
    if not load_ran:
        reasons.append("no load ran: the history holds no operation of the load (only setup and reads), so "
                       "nothing was checked; run the load for longer, or check that users started")
    counts: list[str] = []
    why: dict[str, int] = {}
    for kind, singular in (("orders", "order"), ("users", "user"), ("items", "item")):
        gone = set(not_found.get(kind) or ())
        bad = {i: r for i, r in (unreadable.get(kind) or {}).items() if i not in gone}
        if kind == "orders":  # orders whose checkout may have taken effect, absent from the state
            for oid in unresolved_orders:
                if oid not in gone:
                    bad.setdefault(oid, "not in state.json")
        if bad:
            counts.append(f"{len(bad)} {singular if len(bad) == 1 else kind}")
            for reason in bad.values():
                key = str(reason)[:80]
                why[key] = why.get(key, 0) + 1
    if counts:
        common = sorted(why.items(), key=lambda kv: -kv[1])[:2]
        reasons.append(
            f"{', '.join(counts)} touched by the load could not be read back ("
            + "; ".join(f"{n}x {r}" for r, n in common)
            + "): their money and stock were not checked; make sure every service answers its find route "
              "after the load (raise --settle-timeout, or restore the service)")
    if unbounded:
        reasons.append(f"{len(unbounded)} unreadable orders could not be bounded (made by batch_init_orders, or "
                       "holding unpriced items): no credit or stock drift was checked")
    return reasons


def _baseline(entity_id: str, table: dict[str, list[int]], batches: list[_Batch]) -> list[int] | None:
    """[in_lo, in_hi, out_lo, out_hi] of one entity, or None when the history never created it."""
    entry = table.get(entity_id)
    idx = _batch_index(entity_id) if batches else None
    hit = False
    if idx is not None:
        for batch in batches:
            if idx < batch.n:
                if not hit:
                    # A later batch_init re-creates the entity: it replaces, not adds, the batch value.
                    entry = list(entry) if entry is not None else [0, 0, 0, 0]
                    hit = True
                    lo_hi = [0, 0]
                if batch.definite:
                    lo_hi = [batch.amount, batch.amount]
                else:
                    lo_hi = [min(lo_hi[0], batch.amount), max(lo_hi[1], batch.amount)]
        if hit:
            entry[IN_LO] += lo_hi[0]
            entry[IN_HI] += lo_hi[1]
    return entry


def _price(item_id: str, items_state: dict[str, dict[str, Any]], item_price: dict[str, int],
           batches: list[_Batch]) -> int | None:
    item = items_state.get(item_id)
    if item is not None and type(item.get("price")) is int:
        return item["price"]
    if item_id in item_price:
        return item_price[item_id]
    idx = _batch_index(item_id)
    if idx is not None:
        for batch in reversed(batches):
            if idx < batch.n and batch.price is not None:
                return batch.price
    return None
