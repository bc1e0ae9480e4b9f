"""HTTP helpers and the docs/shop-api.md invariants, computed from the final state of a shop."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp


def call(method: str, url: str, timeout: float = 10.0) -> tuple[int, Any]:
    """(status, JSON body or raw text) of one request."""
    req = urllib.request.Request(url, method=method, data=b"" if method in ("POST", "DELETE") else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def ok(method: str, url: str) -> Any:
    status, body = call(method, url)
    assert status == 200, f"{method} {url} -> {status} {body}"
    return body


async def _gather_posts(urls: list[str], concurrency: int) -> list[int]:
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as s:

        async def one(url: str) -> int:
            async with sem:
                try:
                    async with s.post(url) as r:
                        await r.read()
                        return r.status
                except (TimeoutError, aiohttp.ClientError):
                    return 0

        return await asyncio.gather(*(one(u) for u in urls))


def burst(urls: list[str], concurrency: int = 1000) -> list[int]:
    """POST every URL at once (up to `concurrency` in flight); statuses, 0 for a failed connection."""
    return asyncio.run(_gather_posts(urls, concurrency))


def settle(order_url: str, timeout: float = 30.0) -> None:
    """Wait until the order service has no unfinished checkout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = call("GET", f"{order_url}/internal/order/pending", timeout=2)
            if status == 200 and body["pending"] == 0:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"checkouts still pending after {timeout} s"
        time.sleep(0.1)


def anomalies(target: Any, items: dict[str, int], users: dict[str, int], order_ids: Iterable[str],
              checkouts: dict[str, list[int]] | None = None) -> list[str]:
    """Every broken shop invariant, from the final state.

    items / users: initial stock / credit of every item / user; order_ids: every order that exists;
    checkouts: the statuses answered to each order's checkouts.
    """
    found: list[str] = []
    orders = {oid: ok("GET", f"{target.order_url}/orders/find/{oid}") for oid in order_ids}
    sold: dict[str, int] = dict.fromkeys(items, 0)
    spent: dict[str, int] = dict.fromkeys(users, 0)
    for o in orders.values():
        if o["paid"]:
            spent[o["user_id"]] += o["total_cost"]
            for item_id, qty in o["items"]:
                sold[item_id] += qty
    for item_id, start in items.items():
        stock = ok("GET", f"{target.stock_url}/stock/find/{item_id}")["stock"]
        if stock != start - sold[item_id]:
            found.append(f"stock: item {item_id} has {stock}, expected {start} - {sold[item_id]} sold")
        if stock < 0:
            found.append(f"stock: item {item_id} is negative ({stock})")
    for user_id, start in users.items():
        credit = ok("GET", f"{target.payment_url}/payment/find_user/{user_id}")["credit"]
        if credit != start - spent[user_id]:
            found.append(f"money: user {user_id} has {credit}, expected {start} - {spent[user_id]} spent")
    for oid, statuses in (checkouts or {}).items():
        paid = orders[oid]["paid"]
        if any(200 <= s < 300 for s in statuses) and not paid:
            found.append(f"durability: order {oid} was answered 2xx but is not paid")
        if paid and statuses and all(400 <= s < 500 for s in statuses):
            found.append(f"atomicity: order {oid} was answered only 4xx but is paid")
        if sum(200 <= s < 300 for s in statuses) > 1:
            found.append(f"order {oid}: more than one checkout answered 2xx")
    return found


# -- workloads --------------------------------------------------------------------------------------
class Population:
    """What a test put into a shop: initial stock per item, credit per user, and every order id."""

    def __init__(self, items: dict[str, int], users: dict[str, int], orders: list[str]):
        self.items, self.users, self.orders = items, users, orders


def hot_item(target: Any, n_orders: int, stock: int, price: int, credit: int) -> Population:
    """One item with `stock`; `n_orders` orders of one unit of it, each of its own user."""
    ok("POST", f"{target.stock_url}/stock/batch_init/1/{stock}/{price}")
    ok("POST", f"{target.payment_url}/payment/batch_init/{n_orders}/{credit}")
    orders = []
    for u in range(n_orders):
        oid = ok("POST", f"{target.order_url}/orders/create/{u}")["order_id"]
        ok("POST", f"{target.order_url}/orders/addItem/{oid}/0/1")
        orders.append(oid)
    return Population({"0": stock}, dict.fromkeys(map(str, range(n_orders)), credit), orders)


def mixed(target: Any, n_orders: int, n_items: int, stock: int, n_users: int, credit: int,
          price: int) -> Population:
    """batch_init everywhere: orders "0".."n-1" of two random items each, for random users."""
    ok("POST", f"{target.stock_url}/stock/batch_init/{n_items}/{stock}/{price}")
    ok("POST", f"{target.payment_url}/payment/batch_init/{n_users}/{credit}")
    ok("POST", f"{target.order_url}/orders/batch_init/{n_orders}/{n_items}/{n_users}/{price}")
    return Population(dict.fromkeys(map(str, range(n_items)), stock), dict.fromkeys(map(str, range(n_users)), credit),
                      [str(i) for i in range(n_orders)])


def checkouts_with_faults(target: Any, order_ids: list[str], concurrency: int,
                          faults: list[tuple[int, Callable[[], None]]] = ()) -> dict[str, list[int]]:
    """Check out every order, `concurrency` at a time; each `(after, fault)` runs `fault()` in a thread
    once `after` checkouts were answered (one fault at a time, in order). Returns each order's
    statuses (0: connection failed or timed out)."""
    return asyncio.run(_checkouts(target, order_ids, concurrency, list(faults)))


async def _checkouts(target: Any, order_ids: list[str], concurrency: int,
                     faults: list[tuple[int, Callable[[], None]]]) -> dict[str, list[int]]:
    results: dict[str, list[int]] = {}
    queue = list(reversed(order_ids))
    answered = 0
    running: asyncio.Future[None] | None = None
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as s:

        async def worker() -> None:
            nonlocal answered, running
            while queue:
                oid = queue.pop()
                try:
                    async with s.post(f"{target.order_url}/orders/checkout/{oid}") as r:
                        await r.read()
                        status = r.status
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                results.setdefault(oid, []).append(status)
                answered += 1
                if faults and answered >= faults[0][0] and (running is None or running.done()):
                    running = asyncio.ensure_future(asyncio.to_thread(faults.pop(0)[1]))
                if status == 0:
                    await asyncio.sleep(0.05)  # the service is down: do not burn through the orders

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if running is not None:
            await running
    assert not faults, f"{len(faults)} faults never ran: the burst was too short"
    return results
