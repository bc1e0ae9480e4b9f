"""The state one load-generating process shares among its Locust users: target, configuration,
pool, history writer, live monitor and what runs beside the load.

The stress runner installs it before handing control to Locust; `--processes` children inherit it
through fork. A remote worker (`shopbench stress --worker`) installs its own from its flags and
receives the pool from the master. A plain `locust -f my_locustfile.py` gets one built from the
environment (`SHOPBENCH_URLS`, else `--host` as a gateway for all three services;
`SHOPBENCH_HISTORY`, else `ops.jsonl`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from shopbench.errors import UsageError
from shopbench.history import HistoryWriter
from shopbench.locust_plugin.config import StressConfig
from shopbench.monitor import LoadMonitor
from shopbench.target import Target
from shopbench.workload.skew import Pool

# What runs beside the load (the runner's companions, entered together): called with the live
# monitor at Locust's test_start, exited at its test_stop.
BesideLoad = Callable[[LoadMonitor], AbstractContextManager[Any]]


@dataclass
class Session:
    target: Target
    config: StressConfig = field(default_factory=StressConfig)
    pool: Pool = field(default_factory=Pool)
    writer: HistoryWriter | None = None  # local and master processes; workers ship to the master
    monitor: LoadMonitor = field(default_factory=LoadMonitor)
    beside_load: BesideLoad | None = None
    in_load: AbstractContextManager[Any] | None = None  # beside_load entered, between start and stop
    remote_worker: bool = False  # pool arrives from the master (setup message)
    live: bool = True  # headless progress line on the master/local process
    pool_ready: threading.Event = field(default_factory=threading.Event)
    dropped: int = 0  # open model: arrivals that found no free client
    busy: int = 0  # open model: clients with an iteration in flight
    owns_writer: bool = False
    locust_requests: int | None = None  # Locust's own totals when it quit (master or local)
    locust_failures: int | None = None
    on_config: Any = None  # remote workers: applies the master's workload config to the user classes
    history_incomplete: str | None = None  # master: why the merged history is known to be incomplete
    stop_timeout: float | None = None  # Locust's --stop-timeout default; None: the request timeout

    def __post_init__(self) -> None:
        if not self.remote_worker:
            self.pool_ready.set()


_current: Session | None = None


def install(session: Session | None) -> None:
    global _current
    _current = session


def installed() -> Session | None:
    """The session a shopbench runner installed, or None (a plain `locust -f` run, so far)."""
    return _current


def current(host: str | None = None) -> Session:
    """The installed session, or one built from the environment for a plain `locust` run."""
    global _current
    if _current is None:
        _current = _from_environment(host)
    return _current


def _from_environment(host: str | None) -> Session:
    urls = os.environ.get("SHOPBENCH_URLS")
    if urls:
        target = Target.load(urls)
    elif host:
        target = Target.from_mapping({"ORDER_URL": host, "PAYMENT_URL": host, "STOCK_URL": host}, "--host")
    else:
        raise UsageError("no target: set SHOPBENCH_URLS=urls.json, pass --host http://127.0.0.1:8000, "
                         "or run the locustfile through `shopbench stress -f FILE`.")
    writer = HistoryWriter(os.environ.get("SHOPBENCH_HISTORY", "ops.jsonl"))
    return Session(target=target, writer=writer, owns_writer=True)
