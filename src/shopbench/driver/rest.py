"""The driver for the WDM REST layout of docs/shop-api.md: one shop operation, one HTTP call.

Every method returns an `Outcome` and reports an `Op` to the driver's listener (the history, and
inside Locust also Locust's request event). Arguments are passed through as given, so error
probes send negative, non-numeric or unknown values through the very same mapping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from shopbench.driver.operation import NO_BODY, Operation
from shopbench.driver.outcome import Outcome
from shopbench.driver.transport import Transport
from shopbench.history import OpListener


class RestDriver:
    # True for a driver whose per-client state another process would need (a map from its own order
    # ids to the shop's, kept in memory): it then refuses --processes and remote workers, loudly.
    state_in_process = False

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
        self.sent = ""  # the methods of the last recorded operation's requests ("POST", "POST+POST")

    def operation(self, f: str, args: dict[str, Any], expect: str | None = None) -> Operation:
        """One operation `f` made of the requests sent inside `with driver.operation(...) as op:`
        (`op.send`), recorded once with the type its steps decide (operation.py); `op.outcome` after."""
        return Operation(self, f, args, expect)

    def call(self, f: str, service: str, method: str, path: str, args: dict[str, Any] | None = None,
             expect: str | None = None, *, query: dict[str, Any] | None = None, json: Any = NO_BODY,
             headers: dict[str, str] | None = None, fields: dict[str, str] | None = None) -> Outcome:
        """One HTTP request to `service` ("order", "stock" or "payment"), classified and recorded as
        operation `f`; `args` is what the history records. A driver for another API overrides the
        operation methods and calls this: `query` (URL parameters), `json` (the body), `headers`,
        `fields` (our field -> its dotted path in the answer, e.g. {"credit": "balance"}).

        Every call is in the history whatever ends it: registered in flight before it is sent, it
        is written as `info` with the reason if its greenlet is killed (a user stopped by Locust,
        a cancelled open-model request, Ctrl-C) or if the process sweeps what is still in flight."""
        with self.operation(f, args if args is not None else {}, expect) as op:
            op.send(service, method, path, query=query, json=json, headers=headers, fields=fields, answer=True)
        assert op.outcome is not None
        return op.outcome

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
