"""The order service: orders, and checkout as a saga with a durable log in the order database.

A checkout of order O:

1. writes a saga row (txid, order, lines, user, amount, state 'started') and commits it;
2. asks stock to reserve the lines under txid   (idempotent by txid);
3. asks payment to charge the user under txid   (idempotent by txid);
4. marks the order paid and the saga 'committed' in one transaction, and answers 200.

Stock rejected -> saga 'aborted' -> 4xx. Payment rejected -> stock released under txid (idempotent)
-> saga 'aborted' -> 4xx. A step whose outcome is unknown (timeout, refused or reset connection, 5xx)
is retried with backoff for as long as it takes; retries are safe because each step is recorded by
txid in the same transaction as its effect. If the checkout is not decided within
--checkout-timeout, the client gets 503 (indeterminate) while the saga goes on in the background.
On start, every saga still 'started' is driven again to its commit or its compensation; a
background loop does the same for any saga that nothing is driving.

Known-bad modes (--flaw) this service applies: no-compensation, no-recovery, early-ack (answer 2xx
as soon as the saga starts, and keep the saga in memory only), oversell (check stock with a
read first; the stock service, under the same flaw, then subtracts without checking),
abort-on-timeout (a reserve with no answer is taken as rejected and never released) and
retry-new-txid (a charge with no answer is retried under a new txid, so payment cannot de-duplicate
it). The last two need one request's answer lost or late: `shopbench explore` finds them. The
double-charge flaw lives in the payment service: it does not de-duplicate this service's retries.

At most one saga per order is active (a partial unique index, and `self.active` in memory); a second
checkout of the same order waits for the first and then answers from the order's state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from refshop import openapi
from refshop.common import (
    MAX_BATCH,
    MAX_TOTAL,
    ApiError,
    base_app,
    json_response,
    open_db,
    parse_id,
    parse_int,
    tx,
)

log = logging.getLogger("refshop.order")

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, paid INTEGER NOT NULL DEFAULT 0,
    items TEXT NOT NULL,            -- JSON [[item_id, quantity, unit_price], ...]
    total_cost INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sagas (
    txid TEXT PRIMARY KEY, order_id TEXT NOT NULL, user_id TEXT NOT NULL,
    lines TEXT NOT NULL,            -- JSON [[item_id, quantity], ...] as reserved
    amount INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS sagas_one_active ON sagas(order_id) WHERE state = 'started';
"""

ATTEMPT_TIMEOUT = 2.0  # one try of one saga step (default of --attempt-timeout)
BACKOFF_MIN, BACKOFF_MAX = 0.02, 0.5
RECOVERY_PERIOD = 1.0


class Indeterminate(Exception):
    """A step whose outcome is unknown: it may or may not have taken effect."""


@dataclass
class Saga:
    txid: str
    order_id: str
    user_id: str
    lines: list[list[Any]]
    amount: int


@dataclass
class Outcome:
    committed: bool
    reason: str = ""


class Orders:
    def __init__(self, args: Any):
        self.conn = open_db(args.db)
        self.conn.executescript(SCHEMA)
        self.stock_url = args.stock_url.rstrip("/")
        self.payment_url = args.payment_url.rstrip("/")
        self.checkout_timeout: float = args.checkout_timeout
        self.step_delay: float = args.step_delay
        self.no_compensation = "no-compensation" in args.flaws
        self.no_recovery = "no-recovery" in args.flaws
        self.early_ack = "early-ack" in args.flaws
        self.oversell = "oversell" in args.flaws
        self.abort_on_timeout = "abort-on-timeout" in args.flaws
        self.retry_new_txid = "retry-new-txid" in args.flaws
        self.attempt_timeout: float = getattr(args, "attempt_timeout", ATTEMPT_TIMEOUT)
        self.active: dict[str, asyncio.Task[Outcome]] = {}  # order_id -> the task driving its saga
        self.session: aiohttp.ClientSession | None = None
        self.recovery_task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def startup(self, app: web.Application) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=256, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=self.attempt_timeout),
        )
        if self.no_recovery:  # FLAW: unfinished checkouts are forgotten on restart
            with tx(self.conn) as c:
                n = c.execute("UPDATE sagas SET state = 'forgotten', updated = ? WHERE state = 'started'",
                              (time.time(),)).rowcount
            if n:
                log.warning("flaw no-recovery: forgot %d unfinished checkouts", n)
            return
        n = self.recover()
        if n:
            log.info("recovery: driving %d unfinished checkouts", n)
        self.recovery_task = asyncio.create_task(self.recovery_loop())

    async def cleanup(self, app: web.Application) -> None:
        if self.recovery_task is not None:
            self.recovery_task.cancel()
        for task in list(self.active.values()):
            task.cancel()
        await asyncio.gather(*self.active.values(), return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        self.conn.close()

    def recover(self) -> int:
        """Start a driver for every unfinished saga that nothing drives. Synchronous: no gap."""
        rows = self.conn.execute(
            "SELECT txid, order_id, user_id, lines, amount FROM sagas WHERE state = 'started'").fetchall()
        n = 0
        for txid, order_id, user_id, lines, amount in rows:
            if order_id not in self.active:
                self.spawn(Saga(txid, order_id, user_id, orjson.loads(lines), amount))
                n += 1
        return n

    async def recovery_loop(self) -> None:
        while True:
            await asyncio.sleep(RECOVERY_PERIOD)
            try:
                n = self.recover()
                if n:
                    log.warning("recovery loop: picked up %d unfinished checkouts", n)
            except Exception:
                log.exception("recovery loop")

    # -- talking to stock and payment -------------------------------------------------------------
    async def call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body) of a definite answer (2xx or 4xx); Indeterminate otherwise."""
        assert self.session is not None
        try:
            async with self.session.request(
                method, url, data=None if body is None else orjson.dumps(body),
                headers={"Content-Type": "application/json"} if body is not None else None,
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise Indeterminate(f"{method} {url}: {type(exc).__name__} {exc}") from None
        if status >= 500 or status < 200 or 300 <= status < 400:
            raise Indeterminate(f"{method} {url}: HTTP {status}")
        try:
            data = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise Indeterminate(f"{method} {url}: HTTP {status} with a body that is not JSON") from None
        return status, data

    async def step(self, url: str | Callable[[], str], body: Any,
                   unknown: Callable[[Indeterminate], dict[str, Any] | None] | None = None) -> dict[str, Any]:
        """One saga step, retried with backoff until its outcome is known. `url` may be a function
        (asked before each try); `unknown(exc)` may end the step on an indeterminate try (flaws only)."""
        delay = BACKOFF_MIN
        while True:
            where = url() if callable(url) else url
            try:
                status, data = await self.call("POST", where, body)
                if status == 200 and isinstance(data, dict) and "result" in data:
                    return data
                log.error("saga step %s answered %s %r; retrying", where, status, data)
            except Indeterminate as exc:
                if unknown is not None and (decided := unknown(exc)) is not None:
                    return decided
                log.warning("saga step indeterminate, retrying in %.2fs: %s", delay, exc)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)

    def _reserve_unknown(self, exc: Indeterminate) -> dict[str, Any] | None:
        """FLAW abort-on-timeout: a reserve with no answer is taken as rejected, and nothing releases
        it; when it had reached stock (its answer lost or late), that stock is gone for good."""
        if not self.abort_on_timeout:
            return None
        log.warning("flaw abort-on-timeout: reserve taken as rejected: %s", exc)
        return {"result": "rejected", "reason": f"stock service unavailable: {exc}"}

    # -- the saga ---------------------------------------------------------------------------------
    def spawn(self, saga: Saga) -> asyncio.Task[Outcome]:
        task = asyncio.create_task(self.drive(saga))
        self.active[saga.order_id] = task

        def done(t: asyncio.Task[Outcome], order_id: str = saga.order_id) -> None:
            if self.active.get(order_id) is t:
                del self.active[order_id]
            if not t.cancelled():
                t.exception()  # retrieved: drive() logged it, and the recovery loop takes the saga over

        task.add_done_callback(done)
        return task

    def finish(self, saga: Saga, outcome: Outcome) -> Outcome:
        now = time.time()
        with tx(self.conn) as c:
            if outcome.committed:
                c.execute("UPDATE orders SET paid = 1 WHERE id = ?", (saga.order_id,))
                c.execute("UPDATE sagas SET state = 'committed', updated = ? WHERE txid = ?", (now, saga.txid))
            else:
                c.execute("UPDATE sagas SET state = 'aborted', reason = ?, updated = ? WHERE txid = ?",
                          (outcome.reason, now, saga.txid))
        return outcome

    async def in_stock(self, lines: list[list[Any]]) -> str | None:
        """FLAW oversell: the check half of check-then-subtract; why not, or None when every line is in stock."""
        for item_id, qty in lines:
            try:
                status, data = await self.call("GET", f"{self.stock_url}/stock/find/{item_id}")
            except Indeterminate as exc:
                return f"stock service unavailable: {exc}"
            if status != 200 or not isinstance(data, dict) or type(data.get("stock")) is not int:
                return f"item {item_id!r} not found"
            if data["stock"] < qty:
                return f"not enough stock for item {item_id!r}: {data['stock']} < {qty}"
        return None

    async def drive(self, saga: Saga) -> Outcome:
        try:
            if self.oversell:  # FLAW: check now, subtract later, nothing reserved in between
                short = await self.in_stock(saga.lines)
                if short is not None:
                    return self.finish(saga, Outcome(False, short))
                if self.step_delay:
                    await asyncio.sleep(self.step_delay)
            reserved = await self.step(f"{self.stock_url}/internal/stock/reserve/{saga.txid}",
                                       {"lines": saga.lines}, self._reserve_unknown)
            if reserved["result"] != "applied":
                return self.finish(saga, Outcome(False, reserved.get("reason") or "out of stock"))
            if self.step_delay and not self.oversell:  # test aid: widens the window between the two steps
                await asyncio.sleep(self.step_delay)
            charge_txid = [saga.txid]

            def fresh_txid(exc: Indeterminate) -> None:
                # FLAW retry-new-txid: the retry is a new charge; one whose answer was lost stays applied
                charge_txid[0] = uuid.uuid4().hex
                return None

            charged = await self.step(lambda: f"{self.payment_url}/internal/payment/charge/{charge_txid[0]}",
                                      {"user_id": saga.user_id, "amount": saga.amount},
                                      fresh_txid if self.retry_new_txid else None)
            if charged["result"] != "applied":
                if not self.no_compensation:  # FLAW no-compensation: the reserved stock stays subtracted
                    await self.step(f"{self.stock_url}/internal/stock/release/{saga.txid}", {})
                return self.finish(saga, Outcome(False, charged.get("reason") or "payment rejected"))
            return self.finish(saga, Outcome(True))
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug, or the database failing: leave the saga 'started' for the recovery loop.
            log.exception("saga %s of order %s", saga.txid, saga.order_id)
            raise

    # -- public API -------------------------------------------------------------------------------
    def _order(self, order_id: str) -> tuple[str, int, list[list[Any]], int]:
        row = self.conn.execute("SELECT user_id, paid, items, total_cost FROM orders WHERE id = ?",
                                (order_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"order {order_id!r} not found")
        return row[0], row[1], orjson.loads(row[2]), row[3]

    async def create(self, request: web.Request) -> web.Response:
        user_id = parse_id(request.match_info["user_id"], "user")
        try:
            status, _ = await self.call("GET", f"{self.payment_url}/payment/find_user/{user_id}")
        except Indeterminate as exc:
            raise ApiError(503, f"payment service unavailable: {exc}") from None
        if status != 200:
            raise ApiError(404, f"user {user_id!r} not found")
        order_id = uuid.uuid4().hex
        with tx(self.conn) as c:
            c.execute("INSERT INTO orders (id, user_id, paid, items, total_cost) VALUES (?, ?, 0, '[]', 0)",
                      (order_id, user_id))
        return json_response({"order_id": order_id})

    async def batch_init(self, request: web.Request) -> web.Response:
        n = parse_int(request.match_info["n"], "n", maximum=MAX_BATCH)
        n_items = parse_int(request.match_info["n_items"], "n_items", minimum=1, maximum=MAX_BATCH)
        n_users = parse_int(request.match_info["n_users"], "n_users", minimum=1, maximum=MAX_BATCH)
        price = parse_int(request.match_info["item_price"], "item_price")
        if self.active:
            raise ApiError(409, "checkouts are in progress; batch_init would overwrite their orders")

        def rows():
            for i in range(n):
                if n_items >= 2:
                    a, b = random.sample(range(n_items), 2)
                    items = [[str(a), 1, price], [str(b), 1, price]]
                else:
                    items = [["0", 2, price]]
                yield str(i), str(random.randrange(n_users)), orjson.dumps(items).decode(), 2 * price

        with tx(self.conn) as c:
            c.executemany("INSERT OR REPLACE INTO orders (id, user_id, paid, items, total_cost) "
                          "VALUES (?, ?, 0, ?, ?)", rows())
        return json_response({"msg": f"batch init for {n} orders successful"})

    async def find(self, request: web.Request) -> web.Response:
        order_id = parse_id(request.match_info["order_id"], "order")
        user_id, paid, items, total = self._order(order_id)
        return json_response({"order_id": order_id, "paid": bool(paid), "items": [[i, q] for i, q, _ in items],
                              "user_id": user_id, "total_cost": total})

    def _modifiable(self, order_id: str) -> tuple[list[list[Any]], int]:
        _, paid, items, total = self._order(order_id)
        if paid:
            raise ApiError(400, f"order {order_id!r} is already paid")
        # The database, not `self.active`, says whether a checkout is in progress: a saga whose
        # driver raised is dropped from `active` but stays 'started' until recovery drives it, and
        # its lines must not change under it.
        if order_id in self.active or self.conn.execute(
                "SELECT 1 FROM sagas WHERE order_id = ? AND state = 'started'", (order_id,)).fetchone():
            raise ApiError(409, f"order {order_id!r} is being checked out")
        return items, total

    async def add_item(self, request: web.Request) -> web.Response:
        order_id = parse_id(request.match_info["order_id"], "order")
        item_id = parse_id(request.match_info["item_id"], "item")
        raw_qty = request.match_info.get("quantity")
        qty = 1 if raw_qty is None else parse_int(raw_qty, "quantity", minimum=1)
        self._modifiable(order_id)  # fail fast, before asking stock
        try:
            status, data = await self.call("GET", f"{self.stock_url}/stock/find/{item_id}")
        except Indeterminate as exc:
            raise ApiError(503, f"stock service unavailable: {exc}") from None
        if status != 200 or not isinstance(data, dict) or type(data.get("price")) is not int:
            raise ApiError(404, f"item {item_id!r} not found")
        price = data["price"]
        items, total = self._modifiable(order_id)  # again: the order may have changed meanwhile
        for line in items:
            if line[0] == item_id:
                if line[1] + qty > MAX_TOTAL // max(line[2], 1):
                    raise ApiError(400, "quantity too large")
                total -= line[1] * line[2]
                line[1] += qty
                line[2] = price  # the whole line at the current price
                total += line[1] * price
                break
        else:
            items.append([item_id, qty, price])
            total += qty * price
        if total > MAX_TOTAL:
            raise ApiError(400, f"total cost of order {order_id!r} would exceed {MAX_TOTAL}")
        with tx(self.conn) as c:
            c.execute("UPDATE orders SET items = ?, total_cost = ? WHERE id = ?",
                      (orjson.dumps(items).decode(), total, order_id))
        return json_response({"msg": f"item {item_id} added to order {order_id}", "total_cost": total})

    async def remove_item(self, request: web.Request) -> web.Response:
        order_id = parse_id(request.match_info["order_id"], "order")
        item_id = parse_id(request.match_info["item_id"], "item")
        items, total = self._modifiable(order_id)
        kept = [line for line in items if line[0] != item_id]
        if len(kept) == len(items):
            raise ApiError(404, f"item {item_id!r} is not in order {order_id!r}")
        total = sum(q * p for _, q, p in kept)
        with tx(self.conn) as c:
            c.execute("UPDATE orders SET items = ?, total_cost = ? WHERE id = ?",
                      (orjson.dumps(kept).decode(), total, order_id))
        return json_response({"msg": f"item {item_id} removed from order {order_id}", "total_cost": total})

    async def checkout(self, request: web.Request) -> web.Response:
        order_id = parse_id(request.match_info["order_id"], "order")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.checkout_timeout
        while True:
            task = self.active.get(order_id)
            mine = task is None
            if task is None:
                user_id, paid, items, total = self._order(order_id)
                if paid:
                    raise ApiError(400, f"order {order_id!r} is already paid")
                saga = Saga(uuid.uuid4().hex, order_id, user_id, [[i, q] for i, q, _ in items], total)
                now = time.time()
                if self.early_ack:  # FLAW: nothing durable yet, the saga lives in memory only; answer now
                    self.spawn(saga)
                    return json_response({"order_id": order_id, "paid": True})
                try:
                    with tx(self.conn) as c:
                        c.execute("INSERT INTO sagas (txid, order_id, user_id, lines, amount, state, created, "
                                  "updated) VALUES (?, ?, ?, ?, ?, 'started', ?, ?)",
                                  (saga.txid, order_id, user_id, orjson.dumps(saga.lines).decode(), total, now, now))
                except sqlite3.IntegrityError:  # an unfinished saga nothing drives yet: recovery will
                    raise ApiError(503, f"a checkout of order {order_id!r} is in progress") from None
                task = self.spawn(saga)
            remaining = deadline - loop.time()
            done = False
            if remaining > 0:
                finished, _ = await asyncio.wait({task}, timeout=remaining)
                done = bool(finished)
            if not done:
                if mine and self.no_recovery:  # FLAW: an undecided checkout is simply forgotten
                    task.cancel()
                    with tx(self.conn) as c:
                        c.execute("UPDATE sagas SET state = 'forgotten', updated = ? WHERE txid = ?",
                                  (time.time(), saga.txid))
                raise ApiError(503, f"checkout of order {order_id!r} not decided in time; it will be completed "
                                    "or compensated in the background")
            if not mine:
                continue  # another checkout of this order finished: answer from the order's state
            if task.cancelled() or task.exception() is not None:
                raise ApiError(503, f"checkout of order {order_id!r} interrupted; it will be recovered")
            outcome = task.result()
            if outcome.committed:
                return json_response({"order_id": order_id, "paid": True})
            raise ApiError(400, f"checkout of order {order_id!r} failed: {outcome.reason}")

    async def pending(self, request: web.Request) -> web.Response:
        # An early-ack saga lives in memory only: it is pending while driven, though no row says so.
        started = {r[0] for r in self.conn.execute("SELECT order_id FROM sagas WHERE state = 'started'")}
        return json_response({"pending": len(started | set(self.active)), "driving": len(self.active)})


def build_app(args: Any) -> web.Application:
    svc = Orders(args)
    app = base_app(openapi.schema("order"))
    r = app.router
    r.add_post("/orders/create/{user_id}", svc.create)
    r.add_post("/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}", svc.batch_init)
    r.add_get("/orders/find/{order_id}", svc.find)
    r.add_post("/orders/addItem/{order_id}/{item_id}/{quantity}", svc.add_item)
    r.add_post("/orders/addItem/{order_id}/{item_id}", svc.add_item)
    r.add_delete("/orders/removeItem/{order_id}/{item_id}", svc.remove_item)
    r.add_post("/orders/removeItem/{order_id}/{item_id}", svc.remove_item)
    r.add_post("/orders/checkout/{order_id}", svc.checkout)
    r.add_get("/internal/order/pending", svc.pending)
    app.on_startup.append(svc.startup)
    app.on_cleanup.append(svc.cleanup)
    return app
