"""Live figures of a running load, fed by every completed operation.

A `LoadMonitor` is a history listener (chain it with `history.tee`). Fault triggers read it
(users, rps, completed checkouts) and so does the live progress display; nothing here does I/O.
"""

from __future__ import annotations

import time
from collections import deque

from shopbench.history import FAIL, INFO, OK, Op, unexpected


class LoadMonitor:
    def __init__(self, window: float = 2.0):
        self.window = window
        self.started = time.monotonic()
        self.users = 0  # set by whoever runs the simulated clients
        self.total = 0
        self.failures = 0  # outcomes that differ from what the workload expected
        self.indeterminate = 0
        self.checkouts = {OK: 0, FAIL: 0, INFO: 0}
        self.faults_fired = 0
        self.dropped = 0  # open model: arrivals that found no free client
        self._recent: deque[float] = deque()

    def __call__(self, op: Op) -> None:
        self.total += 1
        kind = op.type
        if kind == INFO:
            self.indeterminate += 1
        if unexpected(kind, op.expect, op.scenario):
            self.failures += 1
        if op.f == "checkout":
            self.checkouts[kind] += 1
        self._recent.append(op.t1)

    def add_completed(self, count: int, when: float | None = None) -> None:
        """Operations counted elsewhere (a distributed worker's batch)."""
        when = time.monotonic() if when is None else when
        self.total += count
        self._recent.extend([when] * count)

    def rps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        cutoff = now - self.window
        recent = self._recent
        while recent and recent[0] < cutoff:
            recent.popleft()
        return len(recent) / self.window

    @property
    def completed_checkouts(self) -> int:
        """Checkouts that came back with an answer (ok or fail): what a `checkouts` trigger counts."""
        return self.checkouts[OK] + self.checkouts[FAIL]

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def snapshot(self) -> dict[str, float | int]:
        return {
            "elapsed": round(self.elapsed(), 3),
            "users": self.users,
            "rps": round(self.rps(), 1),
            "total": self.total,
            "failures": self.failures,
            "indeterminate": self.indeterminate,
            "checkouts_ok": self.checkouts[OK],
            "checkouts_fail": self.checkouts[FAIL],
            "checkouts_info": self.checkouts[INFO],
            "faults_fired": self.faults_fired,
            "dropped": self.dropped,
        }
