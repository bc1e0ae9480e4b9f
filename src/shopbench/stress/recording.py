"""History recording inside Locust, in every process of a run.

  local run   each operation goes straight to the run's `HistoryWriter` (and the live monitor)
  worker      operations are serialised on the worker and shipped to the master in batches with
              Locust's custom messages (no shared disk), every `SHIP_INTERVAL` and when the
              worker's users stop; each batch also carries the worker's open-model counters
  master      writes each batch it receives with `write_raw` and feeds its monitor from it, so
              fault triggers on the master see the total load

When a test stops, the master asks every worker to stop its users and ship what it still holds,
and waits (bounded) for each worker's "done" before Locust goes on to quit: no operation that
completed on a worker is lost from the history.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import gevent
import orjson
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from shopbench.history import FAIL, INFO, OK, Op, unexpected
from shopbench.stress import session as sessions

log = logging.getLogger("shopbench.stress")

MSG_BATCH, MSG_DONE, MSG_FLUSH, MSG_SETUP, MSG_SETUP_REQUEST = (
    "shopbench_history", "shopbench_history_done", "shopbench_flush", "shopbench_setup", "shopbench_setup_request")
SHIP_INTERVAL = 0.5
FLUSH_WAIT = 60.0
ID_STRIDE = 10**12  # worker k numbers its operations from (k + 1) * ID_STRIDE: unique in the merged file


class Recorder:
    """Per-process recorder; `record(op)` is the hot path (one append, or one write call)."""

    def __init__(self) -> None:
        self.role = "local"
        self.runner: Any = None
        self.buffer: list[bytes] = []
        self.shipped = 0
        self._ids: Any = None
        self._clients = itertools.count()
        # master side
        self.done: set[str] = set()
        self.senders: set[str] = set()
        self.worker_open: dict[str, tuple[int, int]] = {}

    # -- ids and client names -------------------------------------------------------------------------
    def next_id(self) -> int:
        if self._ids is None:
            if self.role == "worker":
                self._ids = itertools.count((max(self.runner.worker_index, 0) + 1) * ID_STRIDE)
            else:
                sess = sessions.current()
                self._ids = sess.writer.next_id if sess.writer is not None else itertools.count().__next__
                return self._ids()
            return next(self._ids)
        return self._ids() if callable(self._ids) else next(self._ids)

    def client_name(self, prefix: str = "u") -> str:
        node = f"w{max(self.runner.worker_index, 0)}" if self.role == "worker" else "l"
        return f"{node}-{prefix}{next(self._clients)}"

    # -- recording ----------------------------------------------------------------------------------
    def record(self, op: Op) -> None:
        if self.role == "worker":
            self.buffer.append(orjson.dumps(op))
        else:
            sess = sessions.current()
            sess.writer(op)  # type: ignore[misc]
            sess.monitor(op)

    # -- worker side --------------------------------------------------------------------------------
    def ship(self, done: bool = False) -> None:
        sess = sessions.current()
        if self.buffer:
            lines, self.buffer = self.buffer, []
            self.shipped += len(lines)
            self.runner.send_message(MSG_BATCH, {"lines": b"\n".join(lines), "n": len(lines),
                                                 "dropped": sess.dropped, "busy": sess.busy})
        if done:
            self.runner.send_message(MSG_DONE, {"shipped": self.shipped, "dropped": sess.dropped})

    def _shipper(self) -> None:
        while True:
            gevent.sleep(SHIP_INTERVAL)
            try:
                self.ship()
            except Exception:  # a lost master connection: Locust reconnects; keep the lines
                log.exception("shipping history to the master failed; will retry")

    # -- master side --------------------------------------------------------------------------------
    def on_batch(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data
        lines = data["lines"].split(b"\n") if data["lines"] else []
        sess = sessions.current()
        if sess.writer is not None:
            sess.writer.write_raw(lines)
        self.senders.add(msg.node_id)
        self.worker_open[msg.node_id] = (data.get("dropped", 0), data.get("busy", 0))
        _feed_monitor(sess.monitor, lines)

    def on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        self.done.add(msg.node_id)
        dropped = msg.data.get("dropped", 0)
        self.worker_open[msg.node_id] = (dropped, 0)

    def on_flush(self, environment: Any, msg: Any, **_: Any) -> None:
        # Worker: the master is ending the test. Stop our users (their test_stop ships the rest).
        environment.runner.stop()
        # Locust's master waits only 0.5 s for the workers' last stats after `quit`, which loses the
        # tail of a loaded run. Send them now, before our "done": the master handles one worker's
        # messages in order, so once every "done" is in, Locust's totals are complete too.
        send_stats = getattr(environment.runner, "_send_stats", None)
        if send_stats is not None:
            send_stats()
        self.ship(done=True)

    def wait_for_workers(self, runner: Any) -> None:
        expected = set(self.senders) | {c.id for c in runner.clients.all}
        for client in runner.clients.all:
            runner.send_message(MSG_FLUSH, None, client_id=client.id)
        deadline = time.monotonic() + FLUSH_WAIT
        while not expected <= self.done and time.monotonic() < deadline:
            gevent.sleep(0.05)
            expected |= self.senders
        missing = expected - self.done
        if missing:
            log.error("history: %d worker(s) did not confirm their last batch: %s", len(missing), ", ".join(missing))

    @property
    def dropped(self) -> int:
        if self.role == "master":
            return sum(d for d, _ in self.worker_open.values())
        return sessions.current().dropped


def _feed_monitor(monitor: Any, lines: list[bytes]) -> None:
    """Count a worker batch in the master's monitor (rps, failures, checkouts)."""
    if not lines:
        return
    monitor.add_completed(len(lines))
    for line in lines:
        op = orjson.loads(line)
        kind = op["type"]
        if kind == INFO:
            monitor.indeterminate += 1
        if unexpected(kind, op.get("expect"), op.get("scenario")):
            monitor.failures += 1
        if op["f"] == "checkout" and kind in (OK, FAIL, INFO):
            monitor.checkouts[kind] += 1


recorder = Recorder()


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    recorder.runner = runner
    if isinstance(runner, WorkerRunner):
        recorder.role = "worker"
        runner.register_message(MSG_FLUSH, recorder.on_flush)
        runner.register_message(MSG_SETUP, _on_setup)
        gevent.spawn(recorder._shipper)
        if sessions.current().remote_worker:
            # A worker on another machine did not inherit the pool: ask the master for it (now that
            # the answer has a handler; a worker connects before Locust's init event).
            runner.send_message(MSG_SETUP_REQUEST, None)
    elif isinstance(runner, MasterRunner):
        recorder.role = "master"
        runner.register_message(MSG_BATCH, recorder.on_batch)
        runner.register_message(MSG_DONE, recorder.on_done)
        runner.register_message(MSG_SETUP_REQUEST, _on_setup_request)
    else:
        recorder.role = "local"


def _on_setup_request(environment: Any, msg: Any, **_: Any) -> None:
    sess = sessions.current()
    environment.runner.send_message(MSG_SETUP, {"pool": sess.pool.to_dict(), "config": sess.config.to_dict()},
                                    client_id=msg.node_id)


def _on_setup(environment: Any, msg: Any, **_: Any) -> None:
    from shopbench.stress.config import StressConfig
    from shopbench.workload.skew import Pool

    sess = sessions.current()
    if sess.remote_worker and not sess.pool_ready.is_set():
        sess.pool = Pool.from_dict(msg.data["pool"])
        master = StressConfig.from_dict(msg.data["config"])
        # The whole workload is the master's: the mix, its weights and wait, the load's shape.
        timeout = sess.config.timeout  # the one setting that stays the worker's own (its network)
        sess.config = master
        sess.config.timeout = timeout
        if sess.on_config is not None:
            sess.on_config(master)
        sess.pool_ready.set()


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    if recorder.role == "worker":
        return
    recorder.done.clear()
    recorder.senders.clear()
    sess = sessions.current()
    sess.monitor.started = time.monotonic()
    if sess.nemesis is not None and getattr(sess, "_nemesis_cm", None) is None:
        cm = sess.nemesis(sess.monitor)
        cm.__enter__()
        sess._nemesis_cm = cm  # type: ignore[attr-defined]


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    if recorder.role == "worker":
        recorder.ship(done=True)
        return
    if recorder.role == "master":
        recorder.wait_for_workers(environment.runner)
    sess = sessions.current()
    cm = getattr(sess, "_nemesis_cm", None)
    if cm is not None:
        sess._nemesis_cm = None  # type: ignore[attr-defined]
        cm.__exit__(None, None, None)
    if sess.writer is not None:
        sess.writer.flush()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    sess = sessions.current()
    if recorder.role == "worker":
        recorder.ship(done=True)
        return
    total = environment.runner.stats.total
    sess.locust_requests, sess.locust_failures = total.num_requests, total.num_failures
    if sess.writer is not None:
        sess.writer.flush()
        if sess.owns_writer:
            sess.writer.close()
