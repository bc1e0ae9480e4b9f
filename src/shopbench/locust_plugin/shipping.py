"""Shipping history from workers to the master, with confirmation of each worker's last batch.

A worker serialises its operations (`recorder`) and ships them to the master with Locust's custom
messages (no shared disk) every `SHIP_INTERVAL` and when its users stop; each batch also carries
the worker's open-model counters. The master writes each batch with `write_raw` and feeds its
monitor from it, so fault triggers on the master see the total load.

When a test stops, the master asks every worker to stop its users and ship what it still holds
(operations cut off mid-request included, as `info`), then waits (bounded) for each worker's
"done", which carries how many lines the worker shipped in all. A worker is confirmed when its
"done" arrived and the master received exactly that many lines; any other worker makes the history
known to be incomplete (`unconfirmed`), and the run cannot be VALID.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import orjson

from shopbench.driver.inflight import IN_FLIGHT
from shopbench.locust_plugin import internals
from shopbench.locust_plugin import session as sessions
from shopbench.locust_plugin.recorder import recorder

log = logging.getLogger("shopbench.stress")

MSG_BATCH, MSG_DONE, MSG_FLUSH = "shopbench_history", "shopbench_history_done", "shopbench_flush"
SHIP_INTERVAL = 0.5
FLUSH_WAIT = 60.0


class Shipping:
    def __init__(self) -> None:
        self.shipped = 0  # worker: lines sent so far
        # master side, per worker node id
        self.received: dict[str, int] = {}
        self.done: dict[str, int] = {}  # node -> lines the worker says it shipped in all
        self.worker_open: dict[str, tuple[int, int]] = {}  # node -> (dropped, busy)
        self.unconfirmed: list[str] = []

    def reset(self) -> None:
        # Counts stay cumulative on both sides (a web-UI run may start and stop several tests);
        # only the "done" of the previous stop is forgotten.
        self.done.clear()
        self.unconfirmed = []

    # -- worker side --------------------------------------------------------------------------------
    def ship(self, done: bool = False) -> None:
        sess = sessions.current()
        if done:
            IN_FLIGHT.sweep()  # the worker is ending: what is still in flight goes in this batch
        lines = recorder.take()
        if lines:
            self.shipped += len(lines)
            recorder.runner.send_message(MSG_BATCH, {"lines": b"\n".join(lines), "n": len(lines),
                                                     "dropped": sess.dropped, "busy": sess.busy})
        if done:
            recorder.runner.send_message(MSG_DONE, {"shipped": self.shipped, "dropped": sess.dropped})

    def shipper(self) -> None:
        while True:
            gevent.sleep(SHIP_INTERVAL)
            try:
                self.ship()
            except Exception:  # a lost master connection: Locust reconnects; keep the lines
                log.exception("shipping history to the master failed; will retry")

    def on_flush(self, environment: Any, msg: Any, **_: Any) -> None:
        # The master is ending the test. Stop our users: those cut off mid-request are recorded.
        environment.runner.stop()
        # Our stats before our "done": the master handles one worker's messages in order, so once
        # every "done" is in, Locust's totals are complete too.
        internals.send_stats(environment.runner)
        self.ship(done=True)

    # -- master side --------------------------------------------------------------------------------
    def on_batch(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data
        lines = data["lines"].split(b"\n") if data["lines"] else []
        sess = sessions.current()
        if sess.writer is not None:
            sess.writer.write_raw(lines)
        self.received[msg.node_id] = self.received.get(msg.node_id, 0) + len(lines)
        self.worker_open[msg.node_id] = (data.get("dropped", 0), data.get("busy", 0))
        _feed_monitor(sess.monitor, lines)

    def on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        self.done[msg.node_id] = int(msg.data.get("shipped", 0))
        self.worker_open[msg.node_id] = (msg.data.get("dropped", 0), 0)

    def confirmed(self, node: str) -> bool:
        return node in self.done and self.received.get(node, 0) >= self.done[node]

    def wait_for_workers(self, runner: Any) -> list[str]:
        """Ask every worker for its last batch; the workers that did not confirm it in time."""
        expected = set(self.received) | {c.id for c in runner.clients.all}
        for client in runner.clients.all:
            runner.send_message(MSG_FLUSH, None, client_id=client.id)
        deadline = time.monotonic() + FLUSH_WAIT
        while not all(self.confirmed(n) for n in expected) and time.monotonic() < deadline:
            gevent.sleep(0.05)
            expected |= set(self.received)
        self.unconfirmed = sorted(n for n in expected if not self.confirmed(n))
        for node in self.unconfirmed:
            got, said = self.received.get(node, 0), self.done.get(node)
            log.error("history: worker %s did not confirm its last batch (received %d lines%s)", node, got,
                      "" if said is None else f" of {said}")
        return self.unconfirmed

    def incomplete_reason(self) -> str | None:
        if not self.unconfirmed:
            return None
        return (f"the history is incomplete: {len(self.unconfirmed)} Locust worker(s) never confirmed their last "
                f"history batch ({', '.join(self.unconfirmed)}), so operations they ran may be missing; check the "
                f"workers' logs and their connection to the master, and re-run")

    @property
    def dropped(self) -> int:
        if recorder.role == "master":
            return sum(d for d, _ in self.worker_open.values())
        return sessions.current().dropped


def _feed_monitor(monitor: Any, lines: list[bytes]) -> None:
    """Count a worker batch in the master's monitor (rps, failures, checkouts)."""
    if lines:
        monitor.add_records([orjson.loads(line) for line in lines])


shipping = Shipping()


def install_worker(runner: Any) -> None:
    runner.register_message(MSG_FLUSH, shipping.on_flush)
    gevent.spawn(shipping.shipper)


def install_master(runner: Any) -> None:
    runner.register_message(MSG_BATCH, shipping.on_batch)
    runner.register_message(MSG_DONE, shipping.on_done)
