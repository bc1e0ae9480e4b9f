"""The stock service: items with stock and price, and the idempotent saga steps reserve / release.

Flaws it applies: lost-update, and oversell (reserve subtracts without checking the stock, trusting
the check the order service made earlier).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web

from refshop import openapi
from refshop.common import (
    FLAW_SLEEP,
    MAX_BATCH,
    MAX_TOTAL,
    ApiError,
    base_app,
    json_response,
    open_db,
    parse_id,
    parse_int,
    read_json,
    tx,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, stock INTEGER NOT NULL, price INTEGER NOT NULL);
-- One row per saga transaction id: its outcome, recorded in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS txs (txid TEXT PRIMARY KEY, state TEXT NOT NULL, lines TEXT NOT NULL, reason TEXT);
"""


def parse_lines(body: Any) -> list[tuple[str, int]]:
    """`{"lines": [[item_id, qty], ...]}` with duplicates merged, in a stable order."""
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        raise ApiError(400, 'body must be {"lines": [[item_id, quantity], ...]}')
    merged: dict[str, int] = {}
    for line in lines:
        if (not isinstance(line, list | tuple) or len(line) != 2 or not isinstance(line[0], str)
                or type(line[1]) is not int or line[1] < 0):
            raise ApiError(400, f"bad line {line!r}: expected [item_id, non-negative quantity]")
        merged[line[0]] = merged.get(line[0], 0) + line[1]
    return sorted(merged.items())


class Stock:
    def __init__(self, db: str, flaws: set[str]):
        self.conn = open_db(db)
        self.conn.executescript(SCHEMA)
        self.lost_update = "lost-update" in flaws
        self.oversell = "oversell" in flaws  # reserve trusts the order service's earlier stock check

    # -- public API -------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        price = parse_int(request.match_info["price"], "price")
        item_id = uuid.uuid4().hex
        with tx(self.conn) as c:
            c.execute("INSERT INTO items (id, stock, price) VALUES (?, 0, ?)", (item_id, price))
        return json_response({"item_id": item_id})

    async def batch_init(self, request: web.Request) -> web.Response:
        n = parse_int(request.match_info["n"], "n", maximum=MAX_BATCH)
        stock = parse_int(request.match_info["starting_stock"], "starting_stock")
        price = parse_int(request.match_info["item_price"], "item_price")
        with tx(self.conn) as c:
            c.executemany("INSERT OR REPLACE INTO items (id, stock, price) VALUES (?, ?, ?)",
                          ((str(i), stock, price) for i in range(n)))
        return json_response({"msg": f"batch init for {n} items successful"})

    def _item(self, item_id: str) -> tuple[int, int]:
        row = self.conn.execute("SELECT stock, price FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"item {item_id!r} not found")
        return row

    async def find(self, request: web.Request) -> web.Response:
        item_id = parse_id(request.match_info["item_id"], "item")
        stock, price = self._item(item_id)
        return json_response({"stock": stock, "price": price})

    async def add(self, request: web.Request) -> web.Response:
        item_id = parse_id(request.match_info["item_id"], "item")
        amount = parse_int(request.match_info["amount"], "amount")
        with tx(self.conn) as c:
            stock, _ = self._item(item_id)
            if stock + amount > MAX_TOTAL:
                raise ApiError(400, f"stock of item {item_id!r} would exceed {MAX_TOTAL}")
            c.execute("UPDATE items SET stock = ? WHERE id = ?", (stock + amount, item_id))
        return json_response({"item_id": item_id, "stock": stock + amount})

    async def subtract(self, request: web.Request) -> web.Response:
        item_id = parse_id(request.match_info["item_id"], "item")
        amount = parse_int(request.match_info["amount"], "amount")
        if self.lost_update:  # FLAW: read, yield to other requests, then write what was read minus amount
            stock, _ = self._item(item_id)
            if stock < amount:
                raise ApiError(400, f"not enough stock for item {item_id!r}: {stock} < {amount}")
            await asyncio.sleep(FLAW_SLEEP)
            with tx(self.conn) as c:
                c.execute("UPDATE items SET stock = ? WHERE id = ?", (stock - amount, item_id))
            return json_response({"item_id": item_id, "stock": stock - amount})
        with tx(self.conn) as c:
            stock, _ = self._item(item_id)
            if stock < amount:
                raise ApiError(400, f"not enough stock for item {item_id!r}: {stock} < {amount}")
            c.execute("UPDATE items SET stock = ? WHERE id = ?", (stock - amount, item_id))
        return json_response({"item_id": item_id, "stock": stock - amount})

    # -- saga steps -------------------------------------------------------------------------------
    def _recorded(self, txid: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT state, reason FROM txs WHERE txid = ?", (txid,)).fetchone()
        if row is None:
            return None
        state, reason = row
        if state == "released":
            return {"result": "rejected", "reason": reason or "transaction was released"}
        return {"result": state, "reason": reason or ""}

    def _shortage(self, lines: list[tuple[str, int]]) -> tuple[list[int], str | None]:
        stocks = []
        for item_id, qty in lines:
            row = self.conn.execute("SELECT stock FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return stocks, f"item {item_id!r} not found"
            if row[0] < qty:
                return stocks, f"not enough stock for item {item_id!r}: {row[0]} < {qty}"
            stocks.append(row[0])
        return stocks, None

    async def reserve(self, request: web.Request) -> web.Response:
        txid = request.match_info["txid"]
        lines = parse_lines(await read_json(request))
        blob = orjson.dumps(lines).decode()
        if self.lost_update:  # FLAW: the check and the write are separate, with a yield in between
            done = self._recorded(txid)
            if done is not None:
                return json_response(done)
            stocks, reason = self._shortage(lines)
            if reason is None:
                await asyncio.sleep(FLAW_SLEEP)
            with tx(self.conn) as c:
                if reason is None:
                    c.executemany("UPDATE items SET stock = ? WHERE id = ?",
                                  [(s - qty, item_id) for s, (item_id, qty) in zip(stocks, lines, strict=True)])
                c.execute("INSERT OR IGNORE INTO txs (txid, state, lines, reason) VALUES (?, ?, ?, ?)",
                          (txid, "rejected" if reason else "applied", blob, reason))
            return json_response({"result": "rejected" if reason else "applied", "reason": reason or ""})
        with tx(self.conn) as c:
            done = self._recorded(txid)
            if done is not None:
                return json_response(done)
            stocks, reason = self._shortage(lines)
            if self.oversell and (reason or "").startswith("not enough stock"):
                reason = None  # FLAW oversell: subtracted without checking, below zero if need be
            if reason is None:
                c.executemany("UPDATE items SET stock = stock - ? WHERE id = ?",
                              [(qty, item_id) for item_id, qty in lines])
            c.execute("INSERT INTO txs (txid, state, lines, reason) VALUES (?, ?, ?, ?)",
                      (txid, "rejected" if reason else "applied", blob, reason))
        return json_response({"result": "rejected" if reason else "applied", "reason": reason or ""})

    async def release(self, request: web.Request) -> web.Response:
        txid = request.match_info["txid"]
        with tx(self.conn) as c:
            row = c.execute("SELECT state, lines FROM txs WHERE txid = ?", (txid,)).fetchone()
            if row is None:
                # Released before its reserve arrived: a late reserve of this txid is now a no-op.
                c.execute("INSERT INTO txs (txid, state, lines, reason) VALUES (?, 'released', '[]', ?)",
                          (txid, "transaction was released before it was reserved"))
            elif row[0] == "applied":
                lines = orjson.loads(row[1])
                c.executemany("UPDATE items SET stock = stock + ? WHERE id = ?",
                              [(qty, item_id) for item_id, qty in lines])
                c.execute("UPDATE txs SET state = 'released', reason = 'released' WHERE txid = ?", (txid,))
        return json_response({"result": "released"})


def build_app(args: Any) -> web.Application:
    svc = Stock(args.db, args.flaws)
    app = base_app(openapi.schema("stock"), svc.conn)
    r = app.router
    r.add_post("/stock/item/create/{price}", svc.create)
    r.add_post("/stock/batch_init/{n}/{starting_stock}/{item_price}", svc.batch_init)
    r.add_get("/stock/find/{item_id}", svc.find)
    r.add_post("/stock/add/{item_id}/{amount}", svc.add)
    r.add_post("/stock/subtract/{item_id}/{amount}", svc.subtract)
    r.add_post("/internal/stock/reserve/{txid}", svc.reserve)
    r.add_post("/internal/stock/release/{txid}", svc.release)
    return app
