"""Settle, then read the final state of every entity a history touched (`state.json`).

Settling: wait until the shop is quiet (the reference shop's optional `/internal/order/pending`
says no checkout is unfinished; a user's shop without it is simply polled), then read every
touched order, item and user again and again until two consecutive reads agree, bounded by the
settle timeout. The last read is the final state. An entity that cannot be read is reported in
`unreadable` with the reason, never guessed.

    {"items": {id: {"stock", "price"}}, "users": {id: {"credit"}},
     "orders": {id: {"paid", "items", "user_id", "total_cost"}},
     "unreadable": {"items": {id: reason}, "users": {...}, "orders": {...}},
     "settled": bool, "reads": n, "pending": n | null}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gevent.pool
import orjson

from shopbench.driver import GeventTransport, RestDriver, TransportError, new_driver
from shopbench.history import OpListener
from shopbench.target import Target

SETTLE_PROCESS = "settle"
POLL_PAUSE = 0.2
# A batch_init up to this size is read back whole. Beyond it (seed 000's 2024 mode makes 100 000 of
# each) only the batch ids some other operation named are read, plus the items and users of the orders
# read: reading all of them twice per settle would take minutes, and an id nothing touched after its
# batch_init keeps its batch value in any shop that does not corrupt data at rest.
FULL_BATCH_READ = 10_000


@dataclass
class Touched:
    """Ids of everything the history may have changed; `max_id` lets later ops continue its ids."""

    items: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    max_id: int = -1
    partial_batches: dict[str, int] = field(default_factory=dict)  # kind -> n, batches not read whole


def touched_entities(ops: Iterable[dict[str, Any]]) -> Touched:
    """Every entity an operation with a possible effect named (a 4xx had none: probes of made-up ids
    are left out), and every id a batch_init created (up to FULL_BATCH_READ of them)."""
    t = Touched()
    items, users, orders = t.items, t.users, t.orders
    max_id = -1
    for op in ops:
        op_id = op.get("id")
        if type(op_id) is int and op_id > max_id:
            max_id = op_id
        if op["type"] == "fail":
            continue
        f, args, value = op["f"], op.get("args") or {}, op.get("value")
        if f == "checkout":
            orders.add(str(args.get("order_id")))
        elif f in ("add_stock", "subtract_stock"):
            items.add(str(args.get("item_id")))
        elif f in ("add_funds", "pay"):
            users.add(str(args.get("user_id")))
        elif f == "add_item" or f == "remove_item":
            orders.add(str(args.get("order_id")))
            items.add(str(args.get("item_id")))
        elif f == "create_order":
            users.add(str(args.get("user_id")))
            if isinstance(value, dict) and "order_id" in value:
                orders.add(str(value["order_id"]))
        elif f == "create_item" and isinstance(value, dict) and "item_id" in value:
            items.add(str(value["item_id"]))
        elif f == "create_user" and isinstance(value, dict) and "user_id" in value:
            users.add(str(value["user_id"]))
        elif f.startswith("batch_init_"):
            n = args.get("n")
            if isinstance(n, str) and n.isdigit():
                n = int(n)
            if type(n) is int:
                kind = {"batch_init_stock": "items", "batch_init_users": "users",
                        "batch_init_orders": "orders"}.get(f)
                if kind is not None and n > FULL_BATCH_READ:
                    t.partial_batches[kind] = max(n, t.partial_batches.get(kind, 0))
                elif kind is not None:
                    getattr(t, kind).update(str(i) for i in range(n))
    t.max_id = max_id
    return t


def _snapshot(driver: RestDriver, touched: Touched, pool_size: int,
              advance: Callable[[int], None] | None) -> dict[str, Any]:
    """One read of everything touched, plus the items and users the orders name."""
    state: dict[str, Any] = {"items": {}, "users": {}, "orders": {},
                             "unreadable": {"items": {}, "users": {}, "orders": {}}}
    pool = gevent.pool.Pool(pool_size)

    def read(kind: str, entity_id: str) -> None:
        if kind == "orders":
            out = driver.find_order(entity_id)
        elif kind == "items":
            out = driver.find_item(entity_id)
        else:
            out = driver.find_user(entity_id)
        if out.kind == "ok":
            data = out.data
            if kind == "orders":
                state["orders"][entity_id] = {"paid": data["paid"], "items": data["items"],
                                              "user_id": data["user_id"], "total_cost": data["total_cost"]}
            elif kind == "items":
                state["items"][entity_id] = {"stock": data["stock"], "price": data["price"]}
            else:
                state["users"][entity_id] = {"credit": data["credit"]}
        else:
            state["unreadable"][kind][entity_id] = out.error or f"HTTP {out.status}"
        if advance is not None:
            advance(1)

    for oid in sorted(touched.orders):
        pool.spawn(read, "orders", oid)
    pool.join()
    items, users = set(touched.items), set(touched.users)
    for order in state["orders"].values():
        users.add(str(order["user_id"]))
        for line in order["items"] or ():
            if isinstance(line, list | tuple) and line:
                items.add(str(line[0]))
    for iid in sorted(items):
        pool.spawn(read, "items", iid)
    for uid in sorted(users):
        pool.spawn(read, "users", uid)
    pool.join()
    for kind in ("items", "users", "orders"):
        state[kind] = dict(sorted(state[kind].items()))
        state["unreadable"][kind] = dict(sorted(state["unreadable"][kind].items()))
    return state


def _pending(transport: GeventTransport) -> int | None:
    """Unfinished checkouts, if the shop tells (the reference shop does); None for any other shop."""
    try:
        resp = transport.request("order", "GET", "/internal/order/pending")
    except TransportError:
        return None
    if resp.status != 200:
        return None
    try:
        n = orjson.loads(resp.body).get("pending")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return n if type(n) is int else None


def settle_and_read(
    target: Target,
    touched: Touched,
    *,
    settle_timeout: float,
    listener: OpListener | None = None,
    next_id: Callable[[], int] | None = None,
    timeout: float = 10.0,
    concurrency: int = 64,
    on_pass: Callable[[int, int], Callable[[int], None] | None] | None = None,
) -> dict[str, Any]:
    """Poll until two consecutive reads agree (at least two reads, more while the deadline allows).

    `on_pass(n, total)` is called before read n and may return an `advance(k)` for a progress bar.
    """
    deadline = time.monotonic() + max(settle_timeout, 0.0)
    transport = GeventTransport(target, timeout=timeout, concurrency=concurrency)
    driver = new_driver(transport, listener, SETTLE_PROCESS, next_id)
    total = len(touched.items) + len(touched.users) + len(touched.orders)
    try:
        pending = _pending(transport)
        while pending and time.monotonic() < deadline:
            time.sleep(POLL_PAUSE)
            pending = _pending(transport)
        reads = 0
        previous: dict[str, Any] | None = None
        settled = False
        while True:
            reads += 1
            current = _snapshot(driver, touched, concurrency, on_pass(reads, total) if on_pass else None)
            if previous is not None and current == previous:
                settled = True
                break
            if previous is not None and time.monotonic() >= deadline:
                break
            previous = current
            if reads > 1:
                time.sleep(POLL_PAUSE)
    finally:
        transport.close()
    current["settled"] = settled
    current["reads"] = reads
    current["pending"] = pending
    if touched.partial_batches:
        current["partial_batches"] = {
            "sizes": dict(touched.partial_batches),
            "note": f"batch_init ranges over {FULL_BATCH_READ:,} ids: only the ids the load touched were read"}
    return current
