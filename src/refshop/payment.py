"""The payment service: users with credit, and the idempotent saga step charge.

Flaws it applies: lost-update, and double-charge (a charge is applied again for a txid it has
already applied: the order service's retry of a charge whose answer was lost charges twice).
`--reply-delay` (test aid) answers the first request of each txid late, after it is committed.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

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
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, credit INTEGER NOT NULL);
-- One row per saga transaction id: its outcome, recorded in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS txs (txid TEXT PRIMARY KEY, state TEXT NOT NULL, user_id TEXT NOT NULL,
                                amount INTEGER NOT NULL, reason TEXT);
"""


class Payment:
    def __init__(self, db: str, flaws: set[str], reply_delay: float = 0.0):
        self.conn = open_db(db)
        self.conn.executescript(SCHEMA)
        self.lost_update = "lost-update" in flaws
        self.double_charge = "double-charge" in flaws
        self.reply_delay = reply_delay
        self.answered: set[str] = set()  # txids whose first answer went out (for --reply-delay)

    async def _reply(self, txid: str, body: dict[str, Any]) -> web.Response:
        """Test aid: the first answer of a txid leaves `reply_delay` late, its effect already committed."""
        if self.reply_delay and txid not in self.answered:
            self.answered.add(txid)
            await asyncio.sleep(self.reply_delay)
        return json_response(body)

    def _credit(self, user_id: str) -> int:
        row = self.conn.execute("SELECT credit FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"user {user_id!r} not found")
        return row[0]

    async def create_user(self, request: web.Request) -> web.Response:
        user_id = uuid.uuid4().hex
        with tx(self.conn) as c:
            c.execute("INSERT INTO users (id, credit) VALUES (?, 0)", (user_id,))
        return json_response({"user_id": user_id})

    async def batch_init(self, request: web.Request) -> web.Response:
        n = parse_int(request.match_info["n"], "n", maximum=MAX_BATCH)
        money = parse_int(request.match_info["starting_money"], "starting_money")
        with tx(self.conn) as c:
            c.executemany("INSERT OR REPLACE INTO users (id, credit) VALUES (?, ?)",
                          ((str(i), money) for i in range(n)))
        return json_response({"msg": f"batch init for {n} users successful"})

    async def find_user(self, request: web.Request) -> web.Response:
        user_id = parse_id(request.match_info["user_id"], "user")
        return json_response({"user_id": user_id, "credit": self._credit(user_id)})

    async def add_funds(self, request: web.Request) -> web.Response:
        user_id = parse_id(request.match_info["user_id"], "user")
        amount = parse_int(request.match_info["amount"], "amount")
        with tx(self.conn) as c:
            credit = self._credit(user_id)
            if credit + amount > MAX_TOTAL:
                raise ApiError(400, f"credit of user {user_id!r} would exceed {MAX_TOTAL}")
            c.execute("UPDATE users SET credit = ? WHERE id = ?", (credit + amount, user_id))
        return json_response({"user_id": user_id, "credit": credit + amount})

    async def pay(self, request: web.Request) -> web.Response:
        user_id = parse_id(request.match_info["user_id"], "user")
        amount = parse_int(request.match_info["amount"], "amount")
        if self.lost_update:  # FLAW: read, yield to other requests, then write what was read minus amount
            credit = self._credit(user_id)
            if credit < amount:
                raise ApiError(400, f"not enough credit for user {user_id!r}: {credit} < {amount}")
            await asyncio.sleep(FLAW_SLEEP)
            with tx(self.conn) as c:
                c.execute("UPDATE users SET credit = ? WHERE id = ?", (credit - amount, user_id))
            return json_response({"user_id": user_id, "credit": credit - amount})
        with tx(self.conn) as c:
            credit = self._credit(user_id)
            if credit < amount:
                raise ApiError(400, f"not enough credit for user {user_id!r}: {credit} < {amount}")
            c.execute("UPDATE users SET credit = ? WHERE id = ?", (credit - amount, user_id))
        return json_response({"user_id": user_id, "credit": credit - amount})

    # -- saga step --------------------------------------------------------------------------------
    def _decide(self, user_id: str, amount: int) -> tuple[int, str | None]:
        row = self.conn.execute("SELECT credit FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            return 0, f"user {user_id!r} not found"
        if row[0] < amount:
            return row[0], f"not enough credit for user {user_id!r}: {row[0]} < {amount}"
        return row[0], None

    async def charge(self, request: web.Request) -> web.Response:
        txid = request.match_info["txid"]
        body = await read_json(request)
        user_id = body.get("user_id") if isinstance(body, dict) else None
        amount = body.get("amount") if isinstance(body, dict) else None
        if not isinstance(user_id, str) or type(amount) is not int or not 0 <= amount <= MAX_TOTAL:
            raise ApiError(400, 'body must be {"user_id": str, "amount": non-negative int}')
        if self.double_charge:  # FLAW: no look-up of the txid: a retried charge is applied again
            with tx(self.conn) as c:
                _, reason = self._decide(user_id, amount)
                if reason is None:
                    c.execute("UPDATE users SET credit = credit - ? WHERE id = ?", (amount, user_id))
                c.execute("INSERT OR REPLACE INTO txs (txid, state, user_id, amount, reason) VALUES (?, ?, ?, ?, ?)",
                          (txid, "rejected" if reason else "applied", user_id, amount, reason))
            return await self._reply(txid, {"result": "rejected" if reason else "applied", "reason": reason or ""})
        if self.lost_update:  # FLAW: the check and the write are separate, with a yield in between
            row = self.conn.execute("SELECT state, reason FROM txs WHERE txid = ?", (txid,)).fetchone()
            if row is not None:
                return json_response({"result": row[0], "reason": row[1] or ""})
            credit, reason = self._decide(user_id, amount)
            if reason is None:
                await asyncio.sleep(FLAW_SLEEP)
            with tx(self.conn) as c:
                if reason is None:
                    c.execute("UPDATE users SET credit = ? WHERE id = ?", (credit - amount, user_id))
                c.execute("INSERT OR IGNORE INTO txs (txid, state, user_id, amount, reason) VALUES (?, ?, ?, ?, ?)",
                          (txid, "rejected" if reason else "applied", user_id, amount, reason))
            return json_response({"result": "rejected" if reason else "applied", "reason": reason or ""})
        with tx(self.conn) as c:
            row = c.execute("SELECT state, reason FROM txs WHERE txid = ?", (txid,)).fetchone()
            if row is not None:
                return json_response({"result": row[0], "reason": row[1] or ""})
            _, reason = self._decide(user_id, amount)
            if reason is None:
                c.execute("UPDATE users SET credit = credit - ? WHERE id = ?", (amount, user_id))
            c.execute("INSERT INTO txs (txid, state, user_id, amount, reason) VALUES (?, ?, ?, ?, ?)",
                      (txid, "rejected" if reason else "applied", user_id, amount, reason))
        return await self._reply(txid, {"result": "rejected" if reason else "applied", "reason": reason or ""})


def build_app(args: Any) -> web.Application:
    svc = Payment(args.db, args.flaws, getattr(args, "reply_delay", 0.0))
    app = base_app(openapi.schema("payment"), svc.conn)
    r = app.router
    r.add_post("/payment/create_user", svc.create_user)
    r.add_post("/payment/batch_init/{n}/{starting_money}", svc.batch_init)
    r.add_get("/payment/find_user/{user_id}", svc.find_user)
    r.add_post("/payment/add_funds/{user_id}/{amount}", svc.add_funds)
    r.add_post("/payment/pay/{user_id}/{amount}", svc.pay)
    r.add_post("/internal/payment/charge/{txid}", svc.charge)
    return app


