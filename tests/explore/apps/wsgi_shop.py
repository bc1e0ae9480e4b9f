"""A shop we did not write the reference for: the three services of SHOP-API.md as one small WSGI
app (stdlib + SQLite), run by gunicorn with two sync workers per service. `SHOP_SERVICE` says which
service a process is, `SHOP_DB` its database, `STOCK_URL`/`PAYMENT_URL` where the order service
reaches the others (the fault proxy's links, in the tests).

Checkout is a saga: reserve under a txid, charge under the same txid, mark paid; a rejected charge
releases the reservation. A step with no answer is retried (same txid, so the retry is safe), a
few times; when that is not enough the checkout answers 503 and the saga is left where it is: this
shop has no recovery, which is a bug a kill mid-saga exposes.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import urllib.error
import urllib.request
import uuid

SERVICE = os.environ.get("SHOP_SERVICE", "stock")
TRIES, TRY_TIMEOUT = 4, 1.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, stock INTEGER NOT NULL, price INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, credit INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, paid INTEGER NOT NULL DEFAULT 0,
                                   items TEXT NOT NULL DEFAULT '{}', total INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS txs (txid TEXT PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL);
"""


class Answer(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status, self.body = status, body


def db() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ["SHOP_DB"], isolation_level=None, timeout=10)
    for _ in range(100):  # two workers starting at once both switch to WAL: the loser is told "locked" at once
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            time.sleep(0.05)
    conn.executescript(SCHEMA)
    return conn


def fail(status: int, message: str) -> Answer:
    return Answer(status, {"error": message})


# -- stock ----------------------------------------------------------------------------------------
def stock(c: sqlite3.Connection, method: str, parts: list[str], body: dict) -> dict:
    match parts:
        case ["stock", "item", "create", price]:
            item = uuid.uuid4().hex
            c.execute("INSERT INTO items VALUES (?, 0, ?)", (item, int(price)))
            return {"item_id": item}
        case ["stock", "batch_init", n, start, price]:
            c.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                          [(str(i), int(start), int(price)) for i in range(int(n))])
            return {"msg": "ok"}
        case ["stock", "find", item]:
            row = c.execute("SELECT stock, price FROM items WHERE id = ?", (item,)).fetchone()
            if row is None:
                raise fail(404, "no such item")
            return {"stock": row[0], "price": row[1]}
        case ["stock", "add" | "subtract" as op, item, amount]:
            sign = 1 if op == "add" else -1
            n = c.execute("UPDATE items SET stock = stock + ? WHERE id = ? AND stock + ? >= 0",
                          (sign * int(amount), item, sign * int(amount))).rowcount
            if not n:
                raise fail(400, "no such item or not enough stock")
            return {"msg": "ok"}
        case ["internal", "reserve", txid]:
            done = c.execute("SELECT state FROM txs WHERE txid = ?", (txid,)).fetchone()
            if done is not None:
                return {"result": "applied" if done[0] == "applied" else "rejected"}
            lines = body["lines"]
            ok = all(c.execute("SELECT 1 FROM items WHERE id = ? AND stock >= ?", (i, q)).fetchone() for i, q in lines)
            if ok:
                c.executemany("UPDATE items SET stock = stock - ? WHERE id = ?", [(q, i) for i, q in lines])
            c.execute("INSERT INTO txs VALUES (?, ?, ?)", (txid, "applied" if ok else "rejected", json.dumps(lines)))
            return {"result": "applied" if ok else "rejected"}
        case ["internal", "release", txid]:
            row = c.execute("SELECT state, body FROM txs WHERE txid = ?", (txid,)).fetchone()
            if row is None:
                c.execute("INSERT INTO txs VALUES (?, 'released', '[]')", (txid,))
            elif row[0] == "applied":
                back = [(q, i) for i, q in json.loads(row[1])]
                c.executemany("UPDATE items SET stock = stock + ? WHERE id = ?", back)
                c.execute("UPDATE txs SET state = 'released' WHERE txid = ?", (txid,))
            return {"result": "released"}
    raise fail(404, "no such route")


# -- payment --------------------------------------------------------------------------------------
def payment(c: sqlite3.Connection, method: str, parts: list[str], body: dict) -> dict:
    match parts:
        case ["payment", "create_user"]:
            user = uuid.uuid4().hex
            c.execute("INSERT INTO users VALUES (?, 0)", (user,))
            return {"user_id": user}
        case ["payment", "batch_init", n, money]:
            c.executemany("INSERT OR REPLACE INTO users VALUES (?, ?)", [(str(i), int(money)) for i in range(int(n))])
            return {"msg": "ok"}
        case ["payment", "find_user", user]:
            row = c.execute("SELECT credit FROM users WHERE id = ?", (user,)).fetchone()
            if row is None:
                raise fail(404, "no such user")
            return {"user_id": user, "credit": row[0]}
        case ["payment", "add_funds" | "pay" as op, user, amount]:
            sign = 1 if op == "add_funds" else -1
            n = c.execute("UPDATE users SET credit = credit + ? WHERE id = ? AND credit + ? >= 0",
                          (sign * int(amount), user, sign * int(amount))).rowcount
            if not n:
                raise fail(400, "no such user or not enough credit")
            return {"msg": "ok"}
        case ["internal", "charge", txid]:
            done = c.execute("SELECT state FROM txs WHERE txid = ?", (txid,)).fetchone()
            if done is not None:
                return {"result": done[0]}
            ok = c.execute("UPDATE users SET credit = credit - ? WHERE id = ? AND credit >= ?",
                           (body["amount"], body["user_id"], body["amount"])).rowcount == 1
            c.execute("INSERT INTO txs VALUES (?, ?, ?)", (txid, "applied" if ok else "rejected", json.dumps(body)))
            return {"result": "applied" if ok else "rejected"}
    raise fail(404, "no such route")


# -- order ----------------------------------------------------------------------------------------
def call(url: str, body: dict | None = None) -> dict:
    """A step's answer, retried with the same request while there is none; Answer(503) after TRIES."""
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(TRIES):
        try:
            req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
            with urllib.request.urlopen(req, timeout=TRY_TIMEOUT) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise fail(404, f"{url}: {exc.code}") from None
        except (OSError, ValueError):
            pass
        time.sleep(0.05 * (attempt + 1))
    raise fail(503, f"{url}: no answer after {TRIES} tries")


def order(c: sqlite3.Connection, method: str, parts: list[str], body: dict) -> dict:
    stock_url, payment_url = os.environ["STOCK_URL"], os.environ["PAYMENT_URL"]
    match parts:
        case ["orders", "create", user]:
            order_id = uuid.uuid4().hex
            c.execute("INSERT INTO orders (id, user_id) VALUES (?, ?)", (order_id, user))
            return {"order_id": order_id}
        case ["orders", "find", order_id]:
            row = c.execute("SELECT user_id, paid, items, total FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row is None:
                raise fail(404, "no such order")
            return {"order_id": order_id, "user_id": row[0], "paid": bool(row[1]),
                    "items": [[i, q] for i, q in json.loads(row[2]).items()], "total_cost": row[3]}
        case ["orders", "addItem", order_id, item, *qty]:
            price = call(f"{stock_url}/stock/find/{item}")["price"]
            row = c.execute("SELECT items, paid FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row is None or row[1]:
                raise fail(400, "no such order, or paid")
            items = json.loads(row[0])
            items[item] = items.get(item, 0) + int(qty[0] if qty else 1)
            c.execute("UPDATE orders SET items = ?, total = total + ? WHERE id = ?",
                      (json.dumps(items), price * int(qty[0] if qty else 1), order_id))
            return {"msg": "ok"}
        case ["orders", "checkout", order_id]:
            row = c.execute("SELECT user_id, paid, items, total FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row is None or row[1]:
                raise fail(400, "no such order, or paid")
            txid = uuid.uuid4().hex
            if call(f"{stock_url}/internal/reserve/{txid}", {"lines": list(json.loads(row[2]).items())})["result"] \
                    != "applied":
                raise fail(400, "out of stock")
            if call(f"{payment_url}/internal/charge/{txid}", {"user_id": row[0], "amount": row[3]})["result"] \
                    != "applied":
                call(f"{stock_url}/internal/release/{txid}", {})
                raise fail(400, "out of credit")
            c.execute("UPDATE orders SET paid = 1 WHERE id = ?", (order_id,))
            return {"order_id": order_id, "paid": True}
    raise fail(404, "no such route")


HANDLERS = {"stock": stock, "payment": payment, "order": order}
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")


def app(environ: dict, start_response) -> list[bytes]:
    parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
    status, out = 200, {}
    try:
        if parts == ["health"]:
            out = {"status": "ok"}
        else:
            if not all(_SEGMENT.fullmatch(p) for p in parts):
                raise fail(404, "bad path")
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size) or b"{}") if size else {}
            conn = db()
            try:
                # The order service talks to the others mid-request: no transaction is held across that.
                if SERVICE != "order":
                    conn.execute("BEGIN IMMEDIATE")
                out = HANDLERS[SERVICE](conn, environ["REQUEST_METHOD"], parts, body)
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()
    except Answer as exc:
        status, out = exc.status, exc.body
    except (ValueError, KeyError, TypeError) as exc:
        status, out = 400, {"error": f"bad request: {exc}"}
    payload = json.dumps(out).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
