"""A second shop API for the test suite: "Orders & Inventory" (FastAPI on uvicorn, SQLite).

Nothing like docs/shop-api.md: one service, JSON bodies, integer ids, a customer's balance as a string,
an order created with its lines in one `POST /orders` and paid with `POST /orders/{id}/pay` (in one
transaction), `paid` as 0/1 and lines as objects. shopbench reaches it through
examples/orders_inventory.toml (a mapping file) or examples/orders_inventory_driver.py.

    ORDERS_DB=/tmp/o.sqlite uvicorn orders_app:app --app-dir tests/api --workers 2 --port 8000

ORDERS_BUGGY=1 makes the payment non-transactional: it reads stock and balance, waits
ORDERS_RACE_SLEEP seconds (default 0.2: the race is certain under concurrent payments), then writes
what it computed, so concurrent payments oversell and lose charges.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, StrictInt

DB = os.environ.get("ORDERS_DB", "orders.sqlite")
BUGGY = os.environ.get("ORDERS_BUGGY") == "1"
RACE_SLEEP = float(os.environ.get("ORDERS_RACE_SLEEP", "0.2"))
Amount = Annotated[StrictInt, Field(ge=0, le=10**9)]
Positive = Annotated[StrictInt, Field(gt=0, le=10**9)]

app = FastAPI(title="Orders & Inventory")


@contextmanager
def db(immediate: bool = False) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(DB, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _schema() -> None:
    conn = sqlite3.connect(DB, timeout=30)
    for _ in range(100):  # two workers starting at once both switch to WAL: the loser is told "locked" at once
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            time.sleep(0.05)
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, price INTEGER NOT NULL, stock INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id INTEGER NOT NULL, paid INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS lines (order_id TEXT, product_id INTEGER, quantity INTEGER,
                                          PRIMARY KEY (order_id, product_id));
    """)
    conn.close()


_schema()


class NewProduct(BaseModel):
    price: Amount


class Quantity(BaseModel):
    quantity: Positive


class Money(BaseModel):
    amount: Positive


class Line(BaseModel):
    product_id: StrictInt | str
    quantity: Positive


class NewOrder(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    customer_id: StrictInt | str
    lines: list[Line] = Field(min_length=1)


def _id(value: int | str) -> int:
    try:
        return int(value)
    except ValueError:
        raise HTTPException(404, f"no such id {value!r}") from None


def _one(conn: sqlite3.Connection, sql: str, *args: object) -> tuple:
    row = conn.execute(sql, args).fetchone()
    if row is None:
        raise HTTPException(404, "not found")
    return row


# -- products -------------------------------------------------------------------------------------
@app.post("/products", status_code=201)
def create_product(body: NewProduct) -> dict:
    with db() as conn:
        cur = conn.execute("INSERT INTO products (price, stock) VALUES (?, 0)", (body.price,))
        return {"id": cur.lastrowid, "price": body.price, "stock": 0}


@app.get("/products/{product_id}")
def get_product(product_id: int) -> dict:
    with db() as conn:
        price, stock = _one(conn, "SELECT price, stock FROM products WHERE id = ?", product_id)
    return {"id": product_id, "price": price, "stock": stock}


@app.post("/products/{product_id}/restock")
def restock(product_id: int, body: Quantity) -> dict:
    with db(immediate=True) as conn:
        _one(conn, "SELECT 1 FROM products WHERE id = ?", product_id)
        conn.execute("UPDATE products SET stock = stock + ? WHERE id = ?", (body.quantity, product_id))
    return {"ok": True}


@app.post("/products/{product_id}/take")
def take(product_id: int, body: Quantity) -> dict:
    with db(immediate=True) as conn:
        (stock,) = _one(conn, "SELECT stock FROM products WHERE id = ?", product_id)
        if stock < body.quantity:
            raise HTTPException(409, "not enough stock")
        conn.execute("UPDATE products SET stock = stock - ? WHERE id = ?", (body.quantity, product_id))
    return {"ok": True}


# -- customers ------------------------------------------------------------------------------------
@app.post("/customers", status_code=201)
def create_customer() -> dict:
    with db() as conn:
        return {"id": conn.execute("INSERT INTO customers (balance) VALUES (0)").lastrowid}


@app.get("/customers/{customer_id}")
def get_customer(customer_id: int) -> dict:
    with db() as conn:
        (balance,) = _one(conn, "SELECT balance FROM customers WHERE id = ?", customer_id)
    return {"id": customer_id, "balance": str(balance)}  # a string, as some shops answer money


@app.post("/customers/{customer_id}/deposit")
def deposit(customer_id: int, body: Money) -> dict:
    with db(immediate=True) as conn:
        _one(conn, "SELECT 1 FROM customers WHERE id = ?", customer_id)
        conn.execute("UPDATE customers SET balance = balance + ? WHERE id = ?", (body.amount, customer_id))
    return {"ok": True}


@app.post("/customers/{customer_id}/charge")
def charge(customer_id: int, body: Money) -> dict:
    with db(immediate=True) as conn:
        (balance,) = _one(conn, "SELECT balance FROM customers WHERE id = ?", customer_id)
        if balance < body.amount:
            raise HTTPException(409, "not enough balance")
        conn.execute("UPDATE customers SET balance = balance - ? WHERE id = ?", (body.amount, customer_id))
    return {"ok": True}


# -- orders ---------------------------------------------------------------------------------------
@app.post("/orders", status_code=201)
def create_order(body: NewOrder) -> dict:
    with db(immediate=True) as conn:
        _one(conn, "SELECT 1 FROM customers WHERE id = ?", _id(body.customer_id))
        if conn.execute("SELECT 1 FROM orders WHERE id = ?", (body.id,)).fetchone():
            raise HTTPException(409, f"order {body.id} exists")
        conn.execute("INSERT INTO orders (id, customer_id, paid) VALUES (?, ?, 0)", (body.id, _id(body.customer_id)))
        for line in body.lines:
            _one(conn, "SELECT 1 FROM products WHERE id = ?", _id(line.product_id))
            conn.execute("INSERT INTO lines VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET quantity = quantity + ?",
                         (body.id, _id(line.product_id), line.quantity, line.quantity))
    return {"id": body.id}


def _order(conn: sqlite3.Connection, order_id: str) -> tuple[int, int, list[tuple[int, int, int]], int]:
    customer, paid = _one(conn, "SELECT customer_id, paid FROM orders WHERE id = ?", order_id)
    lines = conn.execute("SELECT l.product_id, l.quantity, p.price FROM lines l JOIN products p ON p.id = l.product_id "
                         "WHERE l.order_id = ? ORDER BY l.product_id", (order_id,)).fetchall()
    return customer, paid, lines, sum(q * p for _, q, p in lines)


@app.get("/orders/{order_id}")
def get_order(order_id: str) -> dict:
    with db() as conn:
        customer, paid, lines, total = _order(conn, order_id)
    return {"id": order_id, "customer_id": customer, "paid": paid, "total": total,
            "lines": [{"product_id": p, "quantity": q} for p, q, _ in lines]}


@app.post("/orders/{order_id}/pay")
def pay(order_id: str) -> dict:
    if BUGGY:
        return _pay_without_transaction(order_id)
    with db(immediate=True) as conn:  # one transaction: stock, balance and the paid flag, or nothing
        customer, paid, lines, total = _order(conn, order_id)
        if paid:
            raise HTTPException(409, "already paid")
        for product, quantity, _ in lines:
            (stock,) = _one(conn, "SELECT stock FROM products WHERE id = ?", product)
            if stock < quantity:
                raise HTTPException(409, f"product {product} is out of stock")
        (balance,) = _one(conn, "SELECT balance FROM customers WHERE id = ?", customer)
        if balance < total:
            raise HTTPException(409, "not enough balance")
        for product, quantity, _ in lines:
            conn.execute("UPDATE products SET stock = stock - ? WHERE id = ?", (quantity, product))
        conn.execute("UPDATE customers SET balance = balance - ? WHERE id = ?", (total, customer))
        conn.execute("UPDATE orders SET paid = 1 WHERE id = ?", (order_id,))
    return {"id": order_id, "paid": True}


def _pay_without_transaction(order_id: str) -> dict:
    """The bug: read, think, write what was computed from the read (lost updates, overselling)."""
    with db() as conn:
        customer, paid, lines, total = _order(conn, order_id)
        stocks = {p: _one(conn, "SELECT stock FROM products WHERE id = ?", p)[0] for p, _, _ in lines}
        (balance,) = _one(conn, "SELECT balance FROM customers WHERE id = ?", customer)
    if paid:
        raise HTTPException(409, "already paid")
    if any(stocks[p] < q for p, q, _ in lines) or balance < total:
        raise HTTPException(409, "out of stock or balance")
    time.sleep(RACE_SLEEP)
    with db(immediate=True) as conn:
        for product, quantity, _ in lines:
            conn.execute("UPDATE products SET stock = ? WHERE id = ?", (stocks[product] - quantity, product))
        conn.execute("UPDATE customers SET balance = ? WHERE id = ?", (balance - total, customer))
        conn.execute("UPDATE orders SET paid = 1 WHERE id = ?", (order_id,))
    return {"id": order_id, "paid": True}
