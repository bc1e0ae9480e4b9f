"""shopbench's hooks into Locust's events, in one place: the order of a Locust test for shopbench.

  init_command_line_parser   our option defaults (`options`)
  init                       each process learns its role: a worker ships history and asks for the
                             pool (`shipping`, `handshake`); a master receives both and ties the
                             `--processes` workers to the restore guardian; options settled;
                             the master/local process feeds its live monitor's user count from the
                             runner (`runner.user_count`, which on a master sums every worker's)
  spawning_complete          the user count at once, not at the next poll
  test_start                 master/local: what runs beside the load (faults, samplers) starts
  test_stopping              requests still in flight from now on are cut off by the stop: say so
  test_stop                  master: every worker's last batch is confirmed; then what ran beside
                             the load stops, and the history is flushed
  quitting                   Locust's own totals are kept; a worker ships what it still holds

`install()` is idempotent; `user.py` (ShopUser) and `grpc/locust_users.py` (GrpcUser) call it, so any
locustfile whose users are shopbench's is wired: the user's own `-f` file, the built-in mixes, gRPC
runs, `--processes` and remote workers alike. This is the one place every trigger input is fed:
the user count here; operations (rps, checkouts) by the recorder of a local process
(`recorder.record`) or the workers' batches on the master (`shipping`), both into the monitor.
The live line (`live.py`) only shows the monitor.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from shopbench.driver.inflight import IN_FLIGHT
from shopbench.locust_plugin import handshake, internals, options, totals
from shopbench.locust_plugin import session as sessions
from shopbench.locust_plugin.recorder import recorder
from shopbench.locust_plugin.shipping import install_master as receive_shipping
from shopbench.locust_plugin.shipping import install_worker as ship_from_worker
from shopbench.locust_plugin.shipping import shipping

_installed = False
USERS_EVERY = 0.25  # seconds between readings of the runner's user count


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    internals.cache_default_args()
    internals.prompt_zmq_reads()
    internals.spawn_ahead()
    events.init_command_line_parser.add_listener(options.add_options)
    events.init.add_listener(_on_init)
    events.spawning_complete.add_listener(_on_spawning_complete)
    events.test_start.add_listener(_on_test_start)
    events.test_stopping.add_listener(_on_test_stopping)
    events.test_stop.add_listener(_on_test_stop)
    events.quitting.add_listener(_on_quitting)
    from shopbench.locust_plugin.live import install_live_view

    install_live_view()


def tie_forked_workers() -> list[int]:
    """Tie Locust's `--processes` workers to the restore guardian, so that a SIGKILLed master leaves
    none behind. Locust forks them itself (`gevent.fork`, before `init` fires), so they cannot go
    through `processes.spawn`; they are this process's children with its very command line (a fork
    without exec), which no child started by `spawn` has. They stay registered: the guardian ends
    only those still alive (same pid and start time) when shopbench dies, never a recycled pid."""
    import psutil

    from shopbench.processes.guardian import guardian

    me = psutil.Process()
    cmdline = me.cmdline()
    pids = []
    for child in me.children():
        try:
            if child.cmdline() == cmdline:
                pids.append(child.pid)
        except psutil.Error:
            continue
    for pid in pids:
        guardian().end_on_death(pid, group=False, why="Locust worker")
    return pids


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    recorder.runner = runner
    if isinstance(runner, WorkerRunner):
        recorder.role = "worker"
        ship_from_worker(runner)
        handshake.install_worker(runner)
        return
    if isinstance(runner, MasterRunner):
        recorder.role = "master"
        receive_shipping(runner)
        handshake.install_master(runner)
        if getattr(environment.parsed_options, "processes", None):
            tie_forked_workers()
    else:
        recorder.role = "local"
    options.settle_options(environment, runner)
    if runner is not None:
        gevent.spawn(_feed_users, runner)
    # gevent's loop caches "now" at each turn, and nothing has yielded to it since before Locust
    # parsed its options and imported the locustfile (seconds, on a busy machine): -t's timer, set
    # right after this event, would count from that stale now and end the load seconds early.
    gevent.get_hub().loop.update_now()


def users_now(runner: Any) -> int:
    """Simulated users now, as a `users` trigger counts them. Closed model: Locust's user count
    (on a master, the sum its workers report). Open model: the clients with an iteration in flight."""
    sess = sessions.current()
    if sess.config.arrival_rate:
        if recorder.role == "master":
            return sum(busy for _, busy in shipping.worker_open.values())
        return sess.busy
    return int(runner.user_count)


def _feed_users(runner: Any) -> None:
    monitor = sessions.current().monitor
    while True:
        monitor.users = users_now(runner)
        monitor.dropped = shipping.dropped
        gevent.sleep(USERS_EVERY)


def _on_spawning_complete(user_count: int, **_: Any) -> None:
    if recorder.role != "worker" and recorder.runner is not None:
        sessions.current().monitor.users = users_now(recorder.runner)


def _on_test_start(environment: Any, **_: Any) -> None:
    IN_FLIGHT.ending = None
    if recorder.role == "worker":
        return
    shipping.reset()
    sess = sessions.current()
    sess.monitor.started = time.monotonic()
    if sess.beside_load is not None and sess.in_load is None:
        window = sess.beside_load(sess.monitor)
        window.__enter__()
        sess.in_load = window


def _on_test_stopping(environment: Any, **_: Any) -> None:
    if IN_FLIGHT.ending is None:
        timeout = getattr(environment, "stop_timeout", None) or 0
        IN_FLIGHT.ending = (f"user stopped by --stop-timeout ({timeout:g} s) with the request in flight" if timeout
                            else "user stopped at the end of the load (--stop-timeout 0) with the request in flight")


def _on_test_stop(environment: Any, **_: Any) -> None:
    if recorder.role == "worker":
        shipping.ship(done=True)
        return
    sess = sessions.current()
    if recorder.role == "master":
        shipping.wait_for_workers(environment.runner)
        sess.history_incomplete = shipping.incomplete_reason()
    else:
        IN_FLIGHT.sweep()
    window, sess.in_load = sess.in_load, None
    if window is not None:
        window.__exit__(None, None, None)
    if sess.writer is not None:
        sess.writer.flush()


def _on_quitting(environment: Any, **_: Any) -> None:
    if recorder.role == "worker":
        shipping.ship(done=True)
        return
    sess = sessions.current()
    totals.keep_totals(environment)
    if sess.writer is not None:
        IN_FLIGHT.sweep()
        sess.writer.flush()
        if sess.owns_writer:
            sess.writer.close()
