"""shopbench: load-test a transactional shop, inject faults under load, and check it lost nothing.

The extension points are importable from here. Names that need Locust (`ShopUser`) are loaded on
first use, so `import shopbench` never imports Locust (which monkey-patches the process with gevent).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name -> module that defines it, imported on first access
_LAZY = {
    # Locust users to subclass in your own locustfile
    "ShopUser": "shopbench.locust_plugin.user",
    "GrpcUser": "shopbench.grpc.locust_users",
    # your shop's API (docs/shop-api.md): subclass RestDriver, pass --driver file.py:Class, or write a
    # mapping file (--mapping FILE)
    "RestDriver": "shopbench.driver.rest",
    "Driver": "shopbench.driver",
    "Outcome": "shopbench.driver.outcome",
    "Operation": "shopbench.driver.operation",
    "Transport": "shopbench.driver.transport",
    "Response": "shopbench.driver.transport",
    "TransportError": "shopbench.driver.transport",
    "NotSent": "shopbench.driver.transport",
    "MaybeSent": "shopbench.driver.transport",
    "AnswerProblem": "shopbench.driver.answers",
    "CARTS": "shopbench.driver.cart",
    "Carts": "shopbench.driver.cart",
    "REQUIRED_FIELDS": "shopbench.driver.answers",
    "check_answer": "shopbench.driver.contract",
    "probe": "shopbench.driver.contract",
    # the history: one record per operation (ops.jsonl)
    "Op": "shopbench.history",
    "HistoryWriter": "shopbench.history",
    "iter_history": "shopbench.history",
    "read_history": "shopbench.history",
    # checkers: pure functions history (+ final state) -> findings
    "check_ledger": ("shopbench.checker.ledger", "check"),
    "check_vacancies": "shopbench.checker.vacancy",
    "check_auth": "shopbench.checker.auth",
    "result_of": "shopbench.checker.verdict",
    "exit_code": "shopbench.checker.verdict",
    # what runs beside the load (faults, samplers, your own)
    "Companion": "shopbench.runner.companion",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'shopbench' has no attribute {name!r}")
    import importlib

    module, attr = where if isinstance(where, tuple) else (where, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
