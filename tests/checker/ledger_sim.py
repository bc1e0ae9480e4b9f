"""A simulated shop that writes the history a driver would, for checker tests.

Correct by default; `bugs` switches on one known way of being wrong. Indeterminate answers
(`info`) randomly did or did not take effect, exactly what a checker must tolerate.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

BUGS = ("lost_update", "double_charge", "no_compensation", "ack_lost", "fail_but_paid", "oversell")


class SimShop:
    def __init__(self, rng: random.Random | None = None, bugs: frozenset[str] = frozenset(), info_rate: float = 0.0):
        self.rng = rng or random.Random(0)
        self.bugs = bugs
        self.info_rate = info_rate
        self.items: dict[str, list[int]] = {}  # id -> [stock, price]
        self.users: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.ops: list[dict[str, Any]] = []
        self.triggered: set[str] = set()
        # One-shot bugs strike the last checkout only: earlier, another checkout of the same order could make
        # them legitimate, or indeterminate operations on the same user could hide an effect of equal size.
        self.final_phase = False
        self._ids = itertools.count()
        self._new = itertools.count()

    # -- recording ----------------------------------------------------------------------------------
    def _op(self, f: str, args: dict[str, Any], kind: str, value: Any = None, expect: str | None = None) -> None:
        status = {"ok": 200, "fail": 400, "info": None}[kind]
        self.ops.append({"id": next(self._ids), "process": "sim", "f": f, "args": args, "expect": expect,
                         "type": kind, "status": status, "value": value, "error": None,
                         "wall": 0.0, "t0": 0.0, "t1": 0.0, "intended": None, "scenario": None})

    def _indeterminate(self) -> bool:
        return self.info_rate > 0 and self.rng.random() < self.info_rate

    def _answer(self, f: str, args: dict[str, Any], effect, value: Any = None) -> str:
        """Apply `effect` (returns True when it succeeds) as a correct shop would; maybe hide the answer."""
        if self._indeterminate():
            # The request may have been applied before the connection broke, or never arrived.
            if self.rng.random() < 0.5:
                effect()
            self._op(f, args, "info")
            return "info"
        kind = "ok" if effect() else "fail"
        self._op(f, args, kind, value if kind == "ok" else None)
        return kind

    # -- population ---------------------------------------------------------------------------------
    def batch_items(self, n: int, stock: int, price: int) -> list[str]:
        for i in range(n):
            self.items[str(i)] = [stock, price]
        self._op("batch_init_stock", {"n": n, "starting_stock": stock, "item_price": price}, "ok", {"msg": "ok"})
        return [str(i) for i in range(n)]

    def batch_users(self, n: int, credit: int) -> list[str]:
        for i in range(n):
            self.users[str(i)] = credit
        self._op("batch_init_users", {"n": n, "starting_money": credit}, "ok", {"msg": "ok"})
        return [str(i) for i in range(n)]

    def create_item(self, price: int) -> str:
        iid = f"i{next(self._new)}"
        self.items[iid] = [0, price]
        self._op("create_item", {"price": price}, "ok", {"item_id": iid})
        return iid

    def create_user(self) -> str:
        uid = f"u{next(self._new)}"
        self.users[uid] = 0
        self._op("create_user", {}, "ok", {"user_id": uid})
        return uid

    def add_stock(self, iid: str, amount: int) -> str:
        def effect() -> bool:
            self.items[iid][0] += amount
            return True
        return self._answer("add_stock", {"item_id": iid, "amount": amount}, effect)

    def subtract_stock(self, iid: str, amount: int) -> str:
        def effect() -> bool:
            if self.items[iid][0] < amount:
                return False
            self.items[iid][0] -= amount
            return True
        return self._answer("subtract_stock", {"item_id": iid, "amount": amount}, effect)

    def add_funds(self, uid: str, amount: int) -> str:
        def effect() -> bool:
            self.users[uid] += amount
            return True
        return self._answer("add_funds", {"user_id": uid, "amount": amount}, effect)

    def pay(self, uid: str, amount: int) -> str:
        def effect() -> bool:
            if self.users[uid] < amount:
                return False
            self.users[uid] -= amount
            return True
        return self._answer("pay", {"user_id": uid, "amount": amount}, effect)

    def create_order(self, uid: str) -> str:
        oid = f"o{next(self._new)}"
        self.orders[oid] = {"user_id": uid, "lines": {}, "paid": False}
        self._op("create_order", {"user_id": uid}, "ok", {"order_id": oid})
        return oid

    def add_item(self, oid: str, iid: str, qty: int = 1) -> None:
        lines = self.orders[oid]["lines"]
        lines[iid] = lines.get(iid, 0) + qty
        self._op("add_item", {"order_id": oid, "item_id": iid, "quantity": qty}, "ok", {"msg": "ok"})

    def cost(self, oid: str) -> int:
        return sum(q * self.items[i][1] for i, q in self.orders[oid]["lines"].items())

    # -- the checkout, correct unless a bug says otherwise ---------------------------------------------
    def checkout(self, oid: str) -> str:
        order = self.orders[oid]
        uid, lines, cost = order["user_id"], order["lines"], self.cost(oid)
        bugs = self.bugs

        def effect() -> bool:
            if order["paid"]:
                return False
            stock_ok = all(self.items[i][0] >= q for i, q in lines.items()) or "oversell" in bugs
            if not stock_ok:
                return False
            if self.users[uid] < cost:
                if "no_compensation" in bugs and lines:
                    for i, q in lines.items():
                        self.items[i][0] -= q
                    self.triggered.add("no_compensation")
                return False
            if "oversell" in bugs and not all(self.items[i][0] >= q for i, q in lines.items()):
                self.triggered.add("oversell")
            for n, (i, q) in enumerate(lines.items()):
                if "lost_update" in bugs and self.final_phase and n == 0 and "lost_update" not in self.triggered:
                    self.triggered.add("lost_update")  # the write of this line was overwritten
                    continue
                self.items[i][0] -= q
            self.users[uid] -= cost
            if "double_charge" in bugs and self.final_phase and "double_charge" not in self.triggered and cost:
                self.users[uid] -= cost
                self.triggered.add("double_charge")
            order["paid"] = True
            return True

        if "ack_lost" in bugs and self.final_phase and "ack_lost" not in self.triggered and not order["paid"]:
            self.triggered.add("ack_lost")
            self._op("checkout", {"order_id": oid}, "ok", {"paid": True})
            return "ok"
        if "fail_but_paid" in bugs and self.final_phase and "fail_but_paid" not in self.triggered:
            before = order["paid"]
            if effect() and not before:
                self.triggered.add("fail_but_paid")
                self._op("checkout", {"order_id": oid}, "fail")
                return "fail"
            self._op("checkout", {"order_id": oid}, "fail")
            return "fail"
        return self._answer("checkout", {"order_id": oid}, effect, {"paid": True})

    def state(self, unreadable_orders: tuple[str, ...] = ()) -> dict[str, Any]:
        orders = {oid: {"paid": o["paid"], "items": [[i, q] for i, q in o["lines"].items()],
                        "user_id": o["user_id"], "total_cost": self.cost(oid)}
                  for oid, o in self.orders.items() if oid not in unreadable_orders}
        return {
            "items": {i: {"stock": s, "price": p} for i, (s, p) in self.items.items()},
            "users": {u: {"credit": c} for u, c in self.users.items()},
            "orders": orders,
            "unreadable": {"items": {}, "users": {}, "orders": {oid: "HTTP 500" for oid in unreadable_orders}},
            "settled": True,
            "reads": 2,
        }


# -- generated runs, shared by the property tests -----------------------------------------------------
def workload(shop: SimShop, rng: random.Random, steps: int) -> None:
    """A mixed run: population through both paths, direct payments, orders with several lines,
    repeated checkouts of the same order, error-probe amounts."""
    items = shop.batch_items(rng.randint(1, 4), rng.randint(0, 3), rng.randint(1, 5))
    users = shop.batch_users(rng.randint(1, 4), rng.randint(0, 12))
    for _ in range(rng.randint(0, 2)):
        iid = shop.create_item(rng.randint(0, 6))
        shop.add_stock(iid, rng.randint(0, 4))
        items.append(iid)
    for _ in range(rng.randint(0, 2)):
        uid = shop.create_user()
        shop.add_funds(uid, rng.randint(0, 15))
        users.append(uid)
    orders: list[str] = []
    for _ in range(steps):
        r = rng.random()
        if r < 0.35 or not orders:
            oid = shop.create_order(rng.choice(users))
            for _ in range(rng.randint(1, 3)):
                shop.add_item(oid, rng.choice(items), rng.randint(1, 2))
            orders.append(oid)
        elif r < 0.75:
            shop.checkout(rng.choice(orders))
        elif r < 0.82:
            shop.add_funds(rng.choice(users), rng.randint(0, 5))
        elif r < 0.89:
            shop.add_stock(rng.choice(items), rng.randint(0, 3))
        elif r < 0.95:
            shop.pay(rng.choice(users), rng.randint(0, 4))
        else:
            shop.subtract_stock(rng.choice(items), rng.randint(0, 2))


def forced(shop: SimShop, bug: str) -> None:
    """A checkout that certainly exercises the bug: enough of everything, or too little credit."""
    iid = shop.create_item(3)
    shop.add_stock(iid, 5)
    uid = shop.create_user()
    if bug != "no_compensation":
        shop.add_funds(uid, 100)
    if bug == "oversell":
        shop.subtract_stock(iid, 5)
    oid = shop.create_order(uid)
    shop.add_item(oid, iid, 2)
    shop.final_phase = True
    shop.checkout(oid)
