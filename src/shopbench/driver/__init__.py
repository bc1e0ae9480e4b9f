"""Drivers: how one abstract shop operation is performed against a target's API.

`RestDriver` speaks the WDM REST layout of SHOP-API.md. A shop with other paths or methods gets a
subclass that overrides the operations it does differently, each through `RestDriver.call`, and
names it with `--driver module:Class` (or `path/to/file.py:Class`): every workload, checker and
report then works unchanged on it, in this process and in every process shopbench starts (the
choice travels in the SHOPBENCH_DRIVER environment variable).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from shopbench.driver.outcome import Outcome
from shopbench.driver.rest import RestDriver
from shopbench.driver.transport import GeventTransport, MaybeSent, NotSent, Response, Transport, TransportError
from shopbench.errors import UsageError
from shopbench.history import OpListener
from shopbench.target import Target

DRIVER_ENV = "SHOPBENCH_DRIVER"

__all__ = ["DRIVER_ENV", "Driver", "GeventTransport", "MaybeSent", "NotSent", "Outcome", "Response", "RestDriver",
           "Transport", "TransportError", "connect", "driver_class", "new_driver", "use_driver"]


class Driver(Protocol):
    def create_item(self, price: Any, expect: str | None = None) -> Outcome: ...
    def add_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome: ...
    def subtract_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome: ...
    def find_item(self, item_id: Any, expect: str | None = None) -> Outcome: ...
    def batch_init_stock(self, n: Any, starting_stock: Any, item_price: Any, expect: str | None = None) -> Outcome: ...
    def create_user(self, expect: str | None = None) -> Outcome: ...
    def add_funds(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome: ...
    def pay(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome: ...
    def find_user(self, user_id: Any, expect: str | None = None) -> Outcome: ...
    def batch_init_users(self, n: Any, starting_money: Any, expect: str | None = None) -> Outcome: ...
    def create_order(self, user_id: Any, expect: str | None = None) -> Outcome: ...
    def add_item(self, order_id: Any, item_id: Any, quantity: Any = 1, expect: str | None = None) -> Outcome: ...
    def remove_item(self, order_id: Any, item_id: Any, expect: str | None = None) -> Outcome: ...
    def checkout(self, order_id: Any, expect: str | None = None) -> Outcome: ...
    def find_order(self, order_id: Any, expect: str | None = None) -> Outcome: ...
    def batch_init_orders(self, n: Any, n_items: Any, n_users: Any, item_price: Any,
                          expect: str | None = None) -> Outcome: ...


def use_driver(spec: str | None) -> None:
    """Make `spec` ("module:Class" or "file.py:Class", a RestDriver subclass) the driver of this
    process and of every process it starts; None keeps the current choice."""
    if spec:
        _load(spec)  # fail now, with a clear sentence, not in a child process
        os.environ[DRIVER_ENV] = spec


def driver_class() -> type[RestDriver]:
    spec = os.environ.get(DRIVER_ENV)
    return _load(spec) if spec else RestDriver


@functools.lru_cache(maxsize=8)
def _load(spec: str) -> type[RestDriver]:
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise UsageError(f"--driver {spec!r}: give module:Class or path/to/file.py:Class.")
    try:
        if where.endswith(".py"):
            path = Path(where)
            module_spec = importlib.util.spec_from_file_location(f"shopbench_user_driver_{path.stem}", path)
            if module_spec is None or module_spec.loader is None or not path.is_file():
                raise UsageError(f"--driver {spec!r}: no such file {where}.")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except UsageError:
        raise
    except Exception as exc:  # the user's code: any import error is theirs to see, in one line
        raise UsageError(f"--driver {spec!r}: importing {where} failed ({type(exc).__name__}: {exc}).") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, RestDriver)):
        raise UsageError(f"--driver {spec!r}: {name} in {where} must be a subclass of shopbench.driver.RestDriver.")
    return cls


def new_driver(transport: Transport, listener: OpListener | None = None, process: str = "0",
               next_id: Callable[[], int] | None = None) -> RestDriver:
    """A driver of the chosen class (RestDriver unless --driver named another)."""
    return driver_class()(transport, listener, process, next_id)


def connect(target: Target, listener: OpListener | None = None, *, timeout: float = 10.0,
            concurrency: int = 64, process: str = "0") -> RestDriver:
    """A driver of the chosen class over a fresh pooled transport."""
    return new_driver(GeventTransport(target, timeout=timeout, concurrency=concurrency), listener, process)
