"""The live view of a headless stress run: one Rich line every few seconds (users, rps, failures,
elapsed and remaining time), and the monitor's user count kept up to date for fault triggers."""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner
from rich.console import Console

from shopbench.stress import session as sessions
from shopbench.stress.recording import recorder

INTERVAL = 2.0
_installed = False


def _users(runner: Any) -> int:
    sess = sessions.current()
    if sess.config.arrival_rate:
        # Open model: the clients with an iteration in flight are the simulated users.
        if recorder.role == "master":
            return sum(busy for _, busy in recorder.worker_open.values())
        return sess.busy
    return runner.user_count


def _watch(environment: Any) -> None:
    runner = environment.runner
    opts = environment.parsed_options
    sess = sessions.current()
    console = Console(stderr=True, highlight=False)
    started = None
    last_print = 0.0
    while True:
        gevent.sleep(0.25)
        sess.monitor.users = _users(runner)
        if runner.state in ("running", "spawning") and started is None:
            started = time.monotonic()
        if not (sess.live and opts is not None and opts.headless) or started is None:
            continue
        now = time.monotonic()
        if now - last_print < INTERVAL:
            continue
        last_print = now
        total = runner.stats.total
        elapsed = now - started
        remaining = f" · {max(0.0, opts.run_time - elapsed):.0f}s left" if opts.run_time else ""
        dropped = f" · dropped {recorder.dropped}" if sess.config.arrival_rate else ""
        console.print(f"[bold]shopbench[/] users {sess.monitor.users} · {total.current_rps:.1f} req/s · "
                      f"{total.num_requests} requests · failures {total.num_failures}{dropped} · "
                      f"{elapsed:.0f}s elapsed{remaining}")


def install_live_view() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    @events.init.add_listener
    def _start(environment: Any, runner: Any = None, **_: Any) -> None:
        if not isinstance(runner, WorkerRunner):
            gevent.spawn(_watch, environment)
