"""Drivers: how one abstract shop operation is performed against a target's API (docs/shop-api.md).

`RestDriver` speaks the REST layout of docs/shop-api.md. A shop with another API gets a mapping file
(`--mapping FILE`, mapping.py) or a subclass that overrides the operations it does differently,
each through `RestDriver.call` or `RestDriver.operation`, named with `--driver module:Class` (or
`path/to/file.py:Class`): every workload, checker and report then works unchanged on it, in this
process and in every process shopbench starts (the choice travels in the SHOPBENCH_DRIVER or
SHOPBENCH_MAPPING environment variable).

  answers.py    a shop's answer read into the contract's one shape, or one sentence
  operation.py  one operation: its requests, its ok/fail/info, its record in the history
  transport.py  the bytes: pooled HTTP, NotSent vs MaybeSent, never a re-sent effect
  contract.py   the contract checked at the door: a probe of the operations a run needs
  mapping.py    mapping files; draft.py drafts one from an OpenAPI document
  cart.py       client-side carts for shops that take an order whole
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
MAPPING_ENV = "SHOPBENCH_MAPPING"

__all__ = ["DRIVER_ENV", "MAPPING_ENV", "Driver", "GeventTransport", "MaybeSent", "NotSent", "Outcome", "Response",
           "RestDriver", "Transport", "TransportError", "connect", "driver_class", "new_driver", "use_driver"]


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


def use_driver(spec: str | None, *, mapping: str | Path | None = None, processes: int | None = None,
               worker: bool = False) -> None:
    """Make `spec` ("module:Class" or "file.py:Class", a RestDriver subclass) or the mapping file
    `mapping` the driver of this process and of every process it starts; neither keeps the current
    choice. A driver whose state lives in one process (`state_in_process`) refuses `--processes N`
    (N > 1) and `--worker` here, before anything starts."""
    if spec and mapping:
        raise UsageError("give --driver or --mapping, not both: a mapping file is a driver of its own.")
    if spec:
        _load(spec)  # fail now, with a clear sentence, not in a child process
        os.environ[DRIVER_ENV] = spec
        os.environ.pop(MAPPING_ENV, None)
    if mapping:
        path = str(Path(mapping).resolve())
        _mapping(path)  # validated now: one sentence for a wrong field
        os.environ[MAPPING_ENV] = path
        os.environ.pop(DRIVER_ENV, None)
    cls = driver_class()
    if cls.state_in_process and ((processes or 1) > 1 or worker):
        flag = "--worker" if worker else f"--processes {processes}"
        raise UsageError(f"{cls.__module__}.{cls.__name__} keeps state in one process (state_in_process = True), "
                         f"which {flag} would split: run without it, or keep that state in the shop "
                         "(docs/shop-api.md, where driver state lives).")


def driver_class() -> type[RestDriver]:
    mapping = os.environ.get(MAPPING_ENV)
    if mapping:
        return _mapping(mapping)
    spec = os.environ.get(DRIVER_ENV)
    return _load(spec) if spec else RestDriver


@functools.lru_cache(maxsize=8)
def _mapping(path: str) -> type[RestDriver]:
    from shopbench.driver.mapping import mapping_driver

    return mapping_driver(path)


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
