"""Settle, then read the final state of every entity a history touched (`state.json`).

Settling (settle.py): wait until the shop is quiet (the reference shop's own idle signal, or a
small sample read until QUIET_READS reads agree over QUIET_SECONDS), then read every touched order,
item and user once; after the check, settle.confirm re-reads only what it blames until that is
stable. The deadline is the settle timeout plus a little per operation that was indeterminate when
the load stopped (work that may still be in flight), capped.

Only when the target is the reference shop this process started (`is_reference_shop`: recognised
from our own process tree, without a request) is its private `/internal/order/pending` asked
first; a user's shop gets no request outside the shop API. An entity that cannot be read is
reported in `unreadable` with the reason, never guessed; one the shop answered 4xx for (it does not
exist) is also listed in `not_found`.

    {"items": {id: {"stock", "price"}}, "users": {id: {"credit"}},
     "orders": {id: {"paid", "items", "user_id", "total_cost"}},
     "unreadable": {"items": {id: reason}, "users": {...}, "orders": {...}},
     "not_found": {"items": [id], "users": [...], "orders": [...]},
     "settled": bool, "reads": n, "pending": n | null,
     "settle": {"seconds", "stopped": "quiet" | "idle" | "deadline", "reads", "deadline_s", "indeterminate_ops",
                "reference_shop", "pending", "sample", "entities", "entity_reads", "reads_per_entity",
                "reread": {...}, "unstable": {...}}}   (settle.py)
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import gevent.pool
import orjson

from shopbench.driver import GeventTransport, RestDriver, TransportError, new_driver
from shopbench.history import OpListener
from shopbench.target import Target

SETTLE_PROCESS = "settle"
POLL_PAUSE = 0.2
# The deadline grows with the work that may still be in flight: this much per indeterminate
# operation of the load, at most SETTLE_EXTRA_CAP seconds more than --settle-timeout.
SETTLE_PER_INDETERMINATE = 0.05
SETTLE_EXTRA_CAP = 60.0
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
    indeterminate: int = 0  # operations that may have taken effect, answer unknown (work maybe in flight)
    # (kind, id) of what the last operations named, and of what every indeterminate one named (most
    # recent last): where work may still be going on when the load stops (settle.py's sample).
    recent: list[tuple[str, str]] = field(default_factory=list)
    in_doubt: dict[tuple[str, str], None] = field(default_factory=dict)


RECENT_OPS = 50  # how many of the last operations `Touched.recent` covers


def named(f: str, args: dict[str, Any], value: Any) -> tuple[tuple[str, str], ...]:
    """The entities one operation (not a batch_init) may have changed, as (kind, id) pairs.
    `touched_entities` has the same rules inline: it runs over every operation of the history."""
    if f == "checkout":
        return (("orders", str(args.get("order_id"))),)
    if f == "add_stock" or f == "subtract_stock":
        return (("items", str(args.get("item_id"))),)
    if f == "add_funds" or f == "pay":
        return (("users", str(args.get("user_id"))),)
    if f == "add_item" or f == "remove_item":
        return ("orders", str(args.get("order_id"))), ("items", str(args.get("item_id")))
    if f == "create_order":
        if isinstance(value, dict) and "order_id" in value:
            return ("users", str(args.get("user_id"))), ("orders", str(value["order_id"]))
        return (("users", str(args.get("user_id"))),)
    if f == "create_item" and isinstance(value, dict) and "item_id" in value:
        return (("items", str(value["item_id"])),)
    if f == "create_user" and isinstance(value, dict) and "user_id" in value:
        return (("users", str(value["user_id"])),)
    return ()


def touched_entities(ops: Iterable[dict[str, Any]]) -> Touched:
    """Every entity an operation with a possible effect named (a 4xx had none: probes of made-up ids
    are left out), and every id a batch_init created (up to FULL_BATCH_READ of them)."""
    t = Touched()
    items, users, orders = t.items, t.users, t.orders
    max_id = -1
    indeterminate = 0
    orders_batch = 0
    failed_checkouts: set[str] = set()
    recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_OPS)
    for op in ops:
        op_id = op.get("id")
        if type(op_id) is int and op_id > max_id:
            max_id = op_id
        if op["type"] == "fail":
            if op["f"] == "checkout":
                # Checkout-only runs (orders from batch_init) must read these back too, or an order
                # paid despite its 4xx (failed_but_paid) would never be seen.
                failed_checkouts.add(str((op.get("args") or {}).get("order_id")))
            continue
        f, args, value = op["f"], op.get("args") or {}, op.get("value")
        if not f.startswith("find_"):  # a read changes nothing
            recent.append(op)
        if op["type"] == "info" and not f.startswith("find_"):
            indeterminate += 1
            for key in named(f, args, value):
                t.in_doubt.pop(key, None)  # most recent last
                t.in_doubt[key] = None
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
                if kind == "orders":
                    orders_batch = max(orders_batch, n)
                if kind is not None and n > FULL_BATCH_READ:
                    t.partial_batches[kind] = max(n, t.partial_batches.get(kind, 0))
                elif kind is not None:
                    getattr(t, kind).update(str(i) for i in range(n))
    for oid in failed_checkouts:  # made-up ids (error probes) are left out: no batch made them
        if oid.isdigit() and (oid == "0" or oid[0] != "0") and int(oid) < orders_batch:
            orders.add(oid)
    t.max_id = max_id
    t.indeterminate = indeterminate
    t.recent = list(dict.fromkeys(key for op in recent
                                  for key in named(op["f"], op.get("args") or {}, op.get("value"))))
    return t


def _snapshot(driver: RestDriver, touched: Touched, pool_size: int,
              advance: Callable[[int], None] | None) -> dict[str, Any]:
    """One read of everything touched, plus the items and users the orders name."""
    state: dict[str, Any] = {"items": {}, "users": {}, "orders": {},
                             "unreadable": {"items": {}, "users": {}, "orders": {}},
                             "not_found": {"items": [], "users": [], "orders": []}}
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
            # A 4xx is the shop's definite answer that it does not exist; a request never sent (its
            # service refused the connection) is a definite `fail` too, but says nothing about the entity.
            if out.kind == "fail" and out.status is not None and 400 <= out.status < 500:
                state["not_found"][kind].append(entity_id)
        if advance is not None:
            advance(1)

    # The three services answer in parallel: their reads are interleaved, so no service waits for
    # another's queue to drain. Items and users only an order names are read once the orders are in.
    queues = [[("orders", oid) for oid in sorted(touched.orders)], [("items", iid) for iid in sorted(touched.items)],
              [("users", uid) for uid in sorted(touched.users)]]
    for batch in itertools.zip_longest(*queues):
        for job in batch:
            if job is not None:
                pool.spawn(read, *job)
    pool.join()
    items, users = set(), set()
    for order in state["orders"].values():
        users.add(str(order["user_id"]))
        for line in order["items"] or ():
            if isinstance(line, list | tuple) and line:
                items.add(str(line[0]))
    for iid in sorted(items - set(touched.items)):
        pool.spawn(read, "items", iid)
    for uid in sorted(users - set(touched.users)):
        pool.spawn(read, "users", uid)
    pool.join()
    for kind in ("items", "users", "orders"):
        state[kind] = dict(sorted(state[kind].items()))
        state["unreadable"][kind] = dict(sorted(state["unreadable"][kind].items()))
        state["not_found"][kind].sort()
    return state


def _get_json(transport: GeventTransport, path: str) -> dict[str, Any] | None:
    """A 200 JSON object from the order service, or None for any other answer or none."""
    try:
        resp = transport.request("order", "GET", path)
    except TransportError:
        return None
    if resp.status != 200:
        return None
    try:
        body = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def is_reference_shop(target: Target) -> bool:
    """The target's order service is the reference shop this process started: the embedded shop of a
    run without --urls (or a RefShop a test started), possibly behind our fault proxy. Recognised
    from our own process tree, never by asking: a user's shop gets no request outside the shop API.
    A reference shop started elsewhere (`shopbench shop up`, then --urls) is treated as a user's
    shop: it is settled by the quiet period instead of its private pending count, no less sound."""
    parts = urlsplit(target.order_url)
    if parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    import psutil  # only here: a run against a user's shop needs nothing else of it

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return False
    pids, refshop = set(), False
    for proc in children:
        try:
            refshop |= "refshop" in proc.cmdline()  # `python -m refshop SERVICE …` (shop.py)
            pids.add(proc.pid)
        except psutil.Error:  # it ended meanwhile, or is not ours to inspect
            continue
    if not refshop:  # the common case for a user's shop: no socket table read at all
        return False
    # The order URL leads to a process we started (refshop itself, or the fault proxy in front of it):
    # one read of the socket table, not one per child (each reads the whole table).
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.pid in pids and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns)


def _pending(transport: GeventTransport) -> int | None:
    """Unfinished checkouts of the reference shop (ask only after `is_reference_shop`)."""
    n = (_get_json(transport, "/internal/order/pending") or {}).get("pending")
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
    """Wait until the shop is quiet, then read everything once (settle.settle), or until the deadline
    passes (the settle timeout, plus SETTLE_PER_INDETERMINATE per indeterminate operation, capped).
    A quiet shop is always given its quiet period, even past a zero timeout.

    `on_pass(n, total)` is called before read n and may return an `advance(k)` for a progress bar.
    """
    from shopbench import settle  # settle.py reads through this module

    started = time.monotonic()
    allowed = max(settle_timeout, 0.0) + min(SETTLE_EXTRA_CAP, SETTLE_PER_INDETERMINATE * touched.indeterminate)
    deadline = started + allowed
    transport = GeventTransport(target, timeout=timeout, concurrency=concurrency)
    driver = new_driver(transport, listener, SETTLE_PROCESS, next_id)

    def read(part: Touched, n: int) -> dict[str, Any]:
        total = len(part.items) + len(part.users) + len(part.orders)
        return _snapshot(driver, part, concurrency, on_pass(n, total) if on_pass else None)

    try:
        refshop = is_reference_shop(target)
        pending = _pending(transport) if refshop else None
        while pending and time.monotonic() < deadline:
            time.sleep(POLL_PAUSE)
            pending = _pending(transport)
        # Every request of the load was answered, so none is still at work in the shop, and the
        # reference shop's own saga log says no checkout is in progress: its only work after an
        # answer. One read bracketed by two such answers is final; the quiet period is for shops
        # whose background work we cannot see.
        idle = refshop and pending == 0 and touched.indeterminate == 0
        settled = settle.settle(read, touched, deadline,
                                still_idle=(lambda: _pending(transport) == 0) if idle else None)
    finally:
        transport.close()
    current = settled.state
    current["settled"] = settled.stopped in ("quiet", "idle")
    current["reads"] = settled.passes
    current["pending"] = pending
    current["settle"] = {"seconds": round(time.monotonic() - started, 3), "stopped": settled.stopped,
                         "reads": settled.passes, "deadline_s": round(allowed, 3),
                         "indeterminate_ops": touched.indeterminate, "reference_shop": refshop, "pending": pending,
                         **settle.figures(settled)}
    if touched.partial_batches:
        current["partial_batches"] = {
            "sizes": dict(touched.partial_batches),
            "note": f"batch_init ranges over {FULL_BATCH_READ:,} ids: only the ids the load touched were read"}
    return current
