"""Recording of operations inside Locust, in every process of a run.

  local run   each operation goes straight to the run's `HistoryWriter` (and the live monitor)
  worker      operations are serialised and buffered; `shipping` sends them to the master
  master      writes the batches its workers ship (see `shipping`)

Ids are unique in the merged history: worker k numbers its operations from (k + 1) * ID_STRIDE.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from shopbench.history import Op
from shopbench.locust_plugin import session as sessions

ID_STRIDE = 10**12


class Recorder:
    """Per-process recorder; `record(op)` is the hot path (one append, or one write call)."""

    def __init__(self) -> None:
        self.role = "local"  # "local", "worker" or "master", set when Locust's runner exists
        self.runner: Any = None
        self.buffer: list[bytes] = []
        self._ids: Any = None
        self._clients = itertools.count()

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

    def record(self, op: Op) -> None:
        if self.role == "worker":
            self.buffer.append(orjson.dumps(op))
        else:
            sess = sessions.current()
            sess.writer(op)  # type: ignore[misc]
            sess.monitor(op)

    def take(self) -> list[bytes]:
        lines, self.buffer = self.buffer, []
        return lines


recorder = Recorder()
