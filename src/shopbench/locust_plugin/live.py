"""The live view of a headless stress run (the report package's `LiveProgress`, one line every few
seconds: users, rps, failures, faults, elapsed and remaining time). It only shows the live monitor;
the plugin (`plugin.py`) feeds it, for every locustfile."""

from __future__ import annotations

from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner
from rich.console import Console

from shopbench.locust_plugin import session as sessions
from shopbench.report.progress import LiveProgress

INTERVAL = 2.0
_installed = False


def _active_faults(sess: Any) -> list[str]:
    active = getattr(sess.in_load, "active", None)  # the runner's companions window
    return active() if active is not None else []


def _watch(environment: Any) -> None:
    runner = environment.runner
    opts = environment.parsed_options
    sess = sessions.current()
    live: LiveProgress | None = None
    while True:
        gevent.sleep(0.25)
        state = runner.state
        if live is None and state in ("running", "spawning") and sess.live and opts is not None and opts.headless:
            # Lines, not a redrawn panel: Locust logs to the same terminal.
            live = LiveProgress(sess.monitor, phase="stress", duration=opts.run_time or None,
                                console=Console(stderr=True, highlight=False), log_every=INTERVAL, lines=True,
                                active_faults=lambda: _active_faults(sess))
            live.__enter__()
        elif live is not None and state in ("stopping", "stopped", "cleanup"):
            live.__exit__(None, None, None)
            live = None


def install_live_view() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    @events.init.add_listener
    def _start(environment: Any, runner: Any = None, **_: Any) -> None:
        if not isinstance(runner, WorkerRunner):
            gevent.spawn(_watch, environment)
