"""The driver for the WDM REST layout of SHOP-API.md: one shop operation, one HTTP call.

Every method returns an `Outcome` and reports an `Op` to the driver's listener (the history, and
inside Locust also Locust's request event). Arguments are passed through as given, so error
probes send negative, non-numeric or unknown values through the very same mapping.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from gevent import GreenletExit

from shopbench.driver.answers import AnswerProblem, read_answer
from shopbench.driver.inflight import IN_FLIGHT
from shopbench.driver.outcome import Outcome
from shopbench.driver.transport import NotSent, Response, Transport, TransportError
from shopbench.history import FAIL, INFO, OK, Op, OpListener

log = logging.getLogger("shopbench.driver")

def classify(f: str, resp: Response, sent: str = "", fields: dict[str, str] | None = None
             ) -> tuple[str, Any, str | None]:
    """(type, value, error) of an HTTP answer: 2xx ok with its body read into the canonical shape
    (answers.py; info with one sentence if that shape is not clear: the shop may have done it),
    4xx a definite fail, anything else (5xx) info. `sent` names the request in that sentence."""
    status = resp.status
    if 200 <= status < 300:
        try:
            return OK, read_answer(f, resp.body, fields), None
        except AnswerProblem as exc:
            return INFO, None, f"{f} ({sent or 'its request'}) answered {status}, but {exc}."
    if 400 <= status < 500:
        return FAIL, None, resp.body[:200].decode("utf-8", "replace")
    return INFO, None, f"HTTP {status}: " + resp.body[:200].decode("utf-8", "replace")


class RestDriver:
    def __init__(
        self,
        transport: Transport,
        listener: OpListener | None = None,
        process: str = "0",
        next_id: Callable[[], int] | None = None,
    ):
        self.transport = transport
        self.listener = listener
        self.process = process
        # Ids must be unique per history file; the writer hands them out when there is one.
        self._next_id = next_id or getattr(listener, "next_id", None) or itertools.count().__next__
        self.scenario: str | None = None
        self.intended: float | None = None
        # Set while whoever runs this driver is being killed: a request not yet sent is not sent.
        self.halted = False
        self.cut_off: str | None = None  # why a request killed from now on was cut off (default: who ended the load)

    def call(self, f: str, service: str, method: str, path: str, args: dict[str, Any],
             expect: str | None) -> Outcome:
        """One HTTP request to `service` ("order", "stock" or "payment"), classified and recorded as
        operation `f`. A driver for another API overrides the operation methods and calls this.

        Every call is in the history whatever ends it: registered in flight before it is sent, it
        is written as `info` with the reason if its greenlet is killed (a user stopped by Locust,
        a cancelled open-model request, Ctrl-C) or if the process sweeps what is still in flight."""
        if self.halted:
            raise GreenletExit("halted before sending: the user was stopped")
        wall = time.time()
        t0 = time.monotonic()
        intended, scenario = self.intended, self.scenario

        def record(kind: str, status: int | None, value: Any, error: str | None) -> None:
            op = Op(self._next_id(), self.process, f, args, expect, kind, status, value, error, wall, t0,
                    time.monotonic(), intended, scenario)
            if self.listener is not None:
                self.listener(op)

        def cut_off(reason: str) -> None:
            try:
                record(INFO, None, None, reason)
            except Exception:  # the history is closing under us: nothing more we can do here
                log.exception("could not record an operation cut off (%s %s)", f, args)

        pending = IN_FLIGHT.add(cut_off)
        status: int | None = None
        value: Any = None
        error: str | None = None
        try:
            resp = self.transport.request(service, method, path)
            status = resp.status
            kind, value, error = classify(f, resp, f"{method} {path}")
        except NotSent as exc:
            kind, error = FAIL, str(exc)  # never reached the shop: definitely no effect
        except TransportError as exc:  # MaybeSent, or a custom transport's own: it may have been processed
            kind, error = INFO, str(exc)
        except BaseException as exc:  # killed mid-request (GreenletExit, Timeout, KeyboardInterrupt)
            IN_FLIGHT.done(pending)
            if pending.claim():
                cut_off(self.cut_off or IN_FLIGHT.reason(exc))
            raise
        IN_FLIGHT.done(pending)
        t1 = time.monotonic()
        if pending.claim():
            record(kind, status, value, error)
        # else: swept while in flight and already written as info; its answer is the workload's only
        return Outcome(kind, status, value, error, t1 - t0)

    # -- stock ------------------------------------------------------------------------------
    def create_item(self, price: Any, expect: str | None = None) -> Outcome:
        return self.call("create_item", "stock", "POST", f"/stock/item/create/{price}", {"price": price}, expect)

    def add_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("add_stock", "stock", "POST", f"/stock/add/{item_id}/{amount}",
                          {"item_id": item_id, "amount": amount}, expect)

    def subtract_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("subtract_stock", "stock", "POST", f"/stock/subtract/{item_id}/{amount}",
                          {"item_id": item_id, "amount": amount}, expect)

    def find_item(self, item_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_item", "stock", "GET", f"/stock/find/{item_id}", {"item_id": item_id}, expect)

    def batch_init_stock(self, n: Any, starting_stock: Any, item_price: Any, expect: str | None = None) -> Outcome:
        return self.call("batch_init_stock", "stock", "POST", f"/stock/batch_init/{n}/{starting_stock}/{item_price}",
                          {"n": n, "starting_stock": starting_stock, "item_price": item_price}, expect)

    # -- payment ----------------------------------------------------------------------------
    def create_user(self, expect: str | None = None) -> Outcome:
        return self.call("create_user", "payment", "POST", "/payment/create_user", {}, expect)

    def add_funds(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("add_funds", "payment", "POST", f"/payment/add_funds/{user_id}/{amount}",
                          {"user_id": user_id, "amount": amount}, expect)

    def pay(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("pay", "payment", "POST", f"/payment/pay/{user_id}/{amount}",
                          {"user_id": user_id, "amount": amount}, expect)

    def find_user(self, user_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_user", "payment", "GET", f"/payment/find_user/{user_id}", {"user_id": user_id}, expect)

    def batch_init_users(self, n: Any, starting_money: Any, expect: str | None = None) -> Outcome:
        return self.call("batch_init_users", "payment", "POST", f"/payment/batch_init/{n}/{starting_money}",
                          {"n": n, "starting_money": starting_money}, expect)

    # -- order ------------------------------------------------------------------------------
    def create_order(self, user_id: Any, expect: str | None = None) -> Outcome:
        return self.call("create_order", "order", "POST", f"/orders/create/{user_id}", {"user_id": user_id}, expect)

    def add_item(self, order_id: Any, item_id: Any, quantity: Any = 1, expect: str | None = None) -> Outcome:
        return self.call("add_item", "order", "POST", f"/orders/addItem/{order_id}/{item_id}/{quantity}",
                          {"order_id": order_id, "item_id": item_id, "quantity": quantity}, expect)

    def remove_item(self, order_id: Any, item_id: Any, expect: str | None = None) -> Outcome:
        return self.call("remove_item", "order", "DELETE", f"/orders/removeItem/{order_id}/{item_id}",
                          {"order_id": order_id, "item_id": item_id}, expect)

    def checkout(self, order_id: Any, expect: str | None = None) -> Outcome:
        return self.call("checkout", "order", "POST", f"/orders/checkout/{order_id}", {"order_id": order_id}, expect)

    def find_order(self, order_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_order", "order", "GET", f"/orders/find/{order_id}", {"order_id": order_id}, expect)

    def batch_init_orders(self, n: Any, n_items: Any, n_users: Any, item_price: Any,
                          expect: str | None = None) -> Outcome:
        return self.call("batch_init_orders", "order", "POST",
                          f"/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
                          {"n": n, "n_items": n_items, "n_users": n_users, "item_price": item_price}, expect)
