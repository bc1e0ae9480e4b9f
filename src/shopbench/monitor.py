"""Live figures of a running load, fed by every completed operation.

A `LoadMonitor` is a history listener (chain it with `history.tee`). Fault triggers read it
(users, rps, completed checkouts) and so does the live progress display; nothing here does I/O.

Who feeds it: on Locust, `shopbench.locust_plugin.plugin` for every locustfile (the user count
from the runner, operations from the recorder or the workers' batches); the consistency burst
its own workers. `fed` says which inputs were ever fed, so a trigger that never fired can say
whether its input was missing rather than low (a trigger whose input never came is UNKNOWN too).
"""

from __future__ import annotations

import time
from collections import deque

from shopbench.history import FAIL, INFO, OK, Op, unexpected


class LoadMonitor:
    def __init__(self, window: float = 2.0):
        self.window = window
        self.started = time.monotonic()
        self._users = 0
        self.peak_users = 0
        self.fed: set[str] = set()  # "users", "ops": the inputs that were ever fed
        self.total = 0
        self.failures = 0  # outcomes that differ from what the workload expected
        self.indeterminate = 0
        self.checkouts = {OK: 0, FAIL: 0, INFO: 0}
        self.faults_fired = 0
        self.dropped = 0  # open model: arrivals that found no free client
        self._recent: deque[float] = deque()

    @property
    def users(self) -> int:
        """Simulated users now: set by whoever runs the simulated clients."""
        return self._users

    @users.setter
    def users(self, count: int) -> None:
        self._users = count
        self.peak_users = max(self.peak_users, count)
        self.fed.add("users")

    def __call__(self, op: Op) -> None:
        self._count(op.type, op.f, op.expect, op.scenario)
        self._recent.append(op.t1)

    def add_records(self, records: list[dict[str, object]], when: float | None = None) -> None:
        """Operations completed in another process (a worker's batch, as history records): counted
        as completed `when` (now), since their monotonic times are the other process's."""
        when = time.monotonic() if when is None else when
        for op in records:
            self._count(op["type"], op["f"], op.get("expect"), op.get("scenario"))  # type: ignore[arg-type]
        self._recent.extend([when] * len(records))

    def _count(self, kind: str, f: str, expect: str | None, scenario: str | None) -> None:
        self.fed.add("ops")
        self.total += 1
        if kind == INFO:
            self.indeterminate += 1
        if unexpected(kind, expect, scenario):
            self.failures += 1
        if f == "checkout":
            self.checkouts[kind] += 1

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
