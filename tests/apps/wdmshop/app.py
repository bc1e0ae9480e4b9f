"""A WDM course shop as students write it, and shopbench did not: three plain WSGI services (one
module, the service chosen by $SERVICE), SQLite per service, run by gunicorn (sync workers) behind
an nginx gateway (tests/apps/gateway_shop.py).

Like the course shops it has NO `DELETE /orders/removeItem` route and no health route, and its
checkout is a hand-written saga: subtract every line's stock at the stock service, charge the user at
the payment service, give the stock back when a step is refused. It is correct when nothing crashes.
It never serves /openapi.json. Environment: SERVICE (order|stock|payment), DB (a SQLite file),
STOCK_URL and PAYMENT_URL (the order service's direct links to the other two).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sqlite3
import time
import uuid
from urllib.parse import urlsplit

SERVICE = os.environ.get("SERVICE", "order")
SCHEMA = {
    "stock": "CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, stock INTEGER NOT NULL, price INTEGER NOT NULL)",
    "payment": "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, credit INTEGER NOT NULL)",
    "order": "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, paid INTEGER NOT NULL, items TEXT NOT NULL, "
             "user_id TEXT NOT NULL, total_cost INTEGER NOT NULL)",
}


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(os.environ["DB"], timeout=30, isolation_level=None)
    for _ in range(100):  # two workers starting at once both switch to WAL: the loser is told "locked" at once
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            time.sleep(0.05)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA[SERVICE])
    return db


DB = _db()


class Refused(Exception):
    def __init__(self, text: str, status: int = 400):
        super().__init__(text)
        self.status = status


def _int(text: str) -> int:
    if not text.isdigit():
        raise Refused(f"not a non-negative integer: {text}")
    return int(text)


def _call(base: str, method: str, path: str) -> tuple[int, dict]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw.startswith(b"{") else {})
    finally:
        conn.close()


# -- stock ---------------------------------------------------------------------------------------
def stock(method: str, parts: list[str]) -> dict:
    match parts:
        case ["stock", "item", "create", price] if method == "POST":
            item_id = str(uuid.uuid4())
            DB.execute("INSERT INTO items VALUES (?, 0, ?)", (item_id, _int(price)))
            return {"item_id": item_id}
        case ["stock", "batch_init", n, start, price] if method == "POST":
            DB.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                           [(str(i), _int(start), _int(price)) for i in range(_int(n))])
            return {"msg": "Batch init for stock successful"}
        case ["stock", "find", item_id] if method == "GET":
            row = DB.execute("SELECT stock, price FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise Refused(f"Item: {item_id} not found!")
            return {"stock": row[0], "price": row[1]}
        case ["stock", "add", item_id, amount] if method == "POST":
            if DB.execute("UPDATE items SET stock = stock + ? WHERE id = ?", (_int(amount), item_id)).rowcount != 1:
                raise Refused(f"Item: {item_id} not found!")
            return {"done": True}
        case ["stock", "subtract", item_id, amount] if method == "POST":
            n = _int(amount)
            if DB.execute("UPDATE items SET stock = stock - ? WHERE id = ? AND stock >= ?",
                          (n, item_id, n)).rowcount != 1:
                raise Refused(f"Item: {item_id} stock cannot get reduced below zero!")
            return {"done": True}
    raise Refused("Not Found", 404)


# -- payment -------------------------------------------------------------------------------------
def payment(method: str, parts: list[str]) -> dict:
    match parts:
        case ["payment", "create_user"] if method == "POST":
            user_id = str(uuid.uuid4())
            DB.execute("INSERT INTO users VALUES (?, 0)", (user_id,))
            return {"user_id": user_id}
        case ["payment", "batch_init", n, money] if method == "POST":
            DB.executemany("INSERT OR REPLACE INTO users VALUES (?, ?)",
                           [(str(i), _int(money)) for i in range(_int(n))])
            return {"msg": "Batch init for users successful"}
        case ["payment", "find_user", user_id] if method == "GET":
            row = DB.execute("SELECT credit FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise Refused(f"User: {user_id} not found!")
            return {"user_id": user_id, "credit": row[0]}
        case ["payment", "add_funds", user_id, amount] if method == "POST":
            if DB.execute("UPDATE users SET credit = credit + ? WHERE id = ?", (_int(amount), user_id)).rowcount != 1:
                raise Refused(f"User: {user_id} not found!")
            return {"done": True}
        case ["payment", "pay", user_id, amount] if method == "POST":
            n = _int(amount)
            if DB.execute("UPDATE users SET credit = credit - ? WHERE id = ? AND credit >= ?",
                          (n, user_id, n)).rowcount != 1:
                raise Refused(f"User: {user_id} credit cannot get reduced below zero!")
            return {"done": True}
    raise Refused("Not Found", 404)


# -- order ---------------------------------------------------------------------------------------
def _order(order_id: str) -> tuple[bool, list, str, int]:
    row = DB.execute("SELECT paid, items, user_id, total_cost FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise Refused(f"Order: {order_id} not found!")
    return bool(row[0]), json.loads(row[1]), row[2], row[3]


def _checkout(order_id: str) -> dict:
    paid, items, user_id, total = _order(order_id)
    if paid:
        raise Refused(f"Order: {order_id} is already paid")
    quantities: dict[str, int] = {}
    for item_id, qty in items:
        quantities[item_id] = quantities.get(item_id, 0) + qty
    taken: list[tuple[str, int]] = []

    def give_back() -> None:
        for item_id, qty in taken:
            _call(os.environ["STOCK_URL"], "POST", f"/stock/add/{item_id}/{qty}")

    for item_id, qty in quantities.items():
        status, _ = _call(os.environ["STOCK_URL"], "POST", f"/stock/subtract/{item_id}/{qty}")
        if status != 200:
            give_back()
            raise Refused(f"Out of stock on item_id: {item_id}")
        taken.append((item_id, qty))
    status, _ = _call(os.environ["PAYMENT_URL"], "POST", f"/payment/pay/{user_id}/{total}")
    if status != 200:
        give_back()
        raise Refused("User out of credit")
    DB.execute("UPDATE orders SET paid = 1 WHERE id = ?", (order_id,))
    return {"msg": "Checkout successful"}


def order(method: str, parts: list[str]) -> dict:
    match parts:
        case ["orders", "create", user_id] if method == "POST":
            order_id = str(uuid.uuid4())
            DB.execute("INSERT INTO orders VALUES (?, 0, '[]', ?, 0)", (order_id, user_id))
            return {"order_id": order_id}
        case ["orders", "batch_init", n, n_items, n_users, price] if method == "POST":
            rows = []
            for i in range(_int(n)):
                lines = [[str(random.randrange(_int(n_items))), 1] for _ in range(2)]
                rows.append((str(i), 0, json.dumps(lines), str(random.randrange(_int(n_users))), 2 * _int(price)))
            DB.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?)", rows)
            return {"msg": "Batch init for orders successful"}
        case ["orders", "find", order_id] if method == "GET":
            paid, items, user_id, total = _order(order_id)
            return {"order_id": order_id, "paid": paid, "items": items, "user_id": user_id, "total_cost": total}
        case ["orders", "addItem", order_id, item_id, *rest] if method == "POST" and len(rest) <= 1:
            qty = _int(rest[0]) if rest else 1
            status, item = _call(os.environ["STOCK_URL"], "GET", f"/stock/find/{item_id}")
            if status != 200:
                raise Refused(f"Item: {item_id} does not exist!")
            DB.execute("BEGIN IMMEDIATE")
            try:
                paid, items, _, total = _order(order_id)
                if paid:
                    raise Refused(f"Order: {order_id} is already paid")
                items.append([item_id, qty])
                DB.execute("UPDATE orders SET items = ?, total_cost = ? WHERE id = ?",
                           (json.dumps(items), total + qty * item["price"], order_id))
                DB.execute("COMMIT")
            except BaseException:
                DB.execute("ROLLBACK")
                raise
            return {"msg": f"Item: {item_id} added to: {order_id}"}
        case ["orders", "checkout", order_id] if method == "POST":
            return _checkout(order_id)
    raise Refused("Not Found", 404)


HANDLERS = {"stock": stock, "payment": payment, "order": order}


def app(environ: dict, start_response) -> list[bytes]:
    parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
    try:
        status, body = 200, HANDLERS[SERVICE](environ["REQUEST_METHOD"], parts)
    except Refused as exc:
        status, body = exc.status, {"error": str(exc)}
    raw = json.dumps(body).encode()
    start_response(f"{status} {http.client.responses.get(status, '')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))])
    return [raw]
