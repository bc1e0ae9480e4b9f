"""The history of a run: every operation as an invocation and its completion, in `ops.jsonl`.

One JSON object a line, one line an operation, written when it completes (Jepsen keeps invoke and
completion as two events; we keep both halves in one record because no checker here needs the
pair apart, and it halves the writing on the load generator's hot path). Fields:

  id       int     unique within the writer that wrote it
  process  str     the simulated client (a burst worker, a Locust user, "populate", "settle", …)
  f        str     the driver operation (`checkout`, `add_funds`, …)
  args     object  its arguments (ids and amounts, exactly as sent)
  expect   str?    "ok" or "fail" when the workload knows the right answer (error probes, doomed
                   checkouts), else null
  type     str     "ok" (2xx), "fail" (4xx, a definite no) or "info" (indeterminate: 5xx, timeout,
                   refused or reset connection, unparseable body)
  status   int?    the HTTP status, null when none came back
  value    any     the parsed body of an ok answer (`{"order_id": …}`, `{"stock": …}`), else null
  error    str?    why it failed or is indeterminate
  wall     float   wall-clock time of the invocation (epoch seconds)
  t0, t1   float   monotonic invocation and completion times of the writing process (latency = t1-t0)
  intended float?  open model only: the wall time the iteration was scheduled to start, so latency
                   can be measured from it (no coordinated omission)
  scenario str?    the workload scenario the operation belongs to

An operation cut off by a stop or a kill is written `info` (driver/inflight.py), never dropped:
what the history does not hold, a checker cannot count, and an applied but unrecorded request reads
as money or stock with no operation behind it (INVALID). A run killed before it could write them
has no `ended` mark in run.json, and `shopbench check` says UNKNOWN.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import UsageError

OK, FAIL, INFO = "ok", "fail", "info"
# Clients that prepare a run or read it back, not the load under test: throughput, latency, SLOs and
# recovery figures leave them out (the ledger checker reads them all: they put money and stock in).
SETUP_PROCESSES = frozenset({"probe", "populate", "orders", "settle", "state"})
# Scenario-name prefix: clients race for shared stock or credit, so either definite answer is right.
RACE = "race:"


def is_race(scenario: str | None) -> bool:
    return bool(scenario) and scenario.startswith(RACE)  # type: ignore[union-attr]


def expected_kind(expect: str | None, scenario: str | None) -> str | None:
    """The outcome the workload expected: `expect`, else "ok"; None when either definite answer is
    right (a ``race:…`` scenario)."""
    if expect:
        return expect
    return None if is_race(scenario) else OK


def unexpected(kind: str, expect: str | None, scenario: str | None = None) -> bool:
    """The one rule for "is this operation an error?": live figures, Locust's table and SLOs use it."""
    want = expected_kind(expect, scenario)
    return kind == INFO if want is None else kind != want


@dataclass(slots=True)
class Op:
    id: int
    process: str
    f: str
    args: dict[str, Any]
    expect: str | None
    type: str
    status: int | None
    value: Any
    error: str | None
    wall: float
    t0: float
    t1: float
    intended: float | None = None
    scenario: str | None = None

    @property
    def latency(self) -> float:
        return self.t1 - self.t0


OpListener = Callable[[Op], None]


class HistoryWriter:
    """Append-only `ops.jsonl` writer. Buffers in memory and writes in batches, so recording costs
    the load generator one serialisation and one list append per operation (plus `on_lines`)."""

    def __init__(self, path: str | Path, flush_every: int = 4096,
                 on_lines: Callable[[list[bytes]], object] | None = None, on_lines_every: int = 64):
        """`on_lines(lines)` sees every line written, in order, a few dozen at a time (so whatever it
        does is spread over the run, never one long pause of the load); the report's series are
        tallied this way (report/series_cache.py)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - lives as long as the writer
        self._buffer: list[bytes] = []
        self._flush_every = flush_every
        self._on_lines, self._on_lines_every, self._seen = on_lines, on_lines_every, 0
        self._ids = itertools.count()
        self.count = 0

    def next_id(self) -> int:
        return next(self._ids)

    def __call__(self, op: Op) -> None:
        self._buffer.append(orjson.dumps(op))
        self.count += 1
        if len(self._buffer) >= self._flush_every:
            self.flush()
        elif self._on_lines is not None and len(self._buffer) - self._seen >= self._on_lines_every:
            self._show()

    def write_raw(self, lines: list[bytes]) -> None:
        """Lines already serialised elsewhere (a distributed worker's batch)."""
        self._buffer.extend(lines)
        self.count += len(lines)
        if len(self._buffer) >= self._flush_every:
            self.flush()
        elif self._on_lines is not None and len(self._buffer) - self._seen >= self._on_lines_every:
            self._show()

    def _show(self) -> None:
        self._on_lines(self._buffer[self._seen:])
        self._seen = len(self._buffer)

    def flush(self) -> None:
        if self._buffer:
            if self._on_lines is not None and self._seen < len(self._buffer):
                self._show()
            self._file.write(b"\n".join(self._buffer) + b"\n")
            self._buffer.clear()
            self._seen = 0
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryHistory:
    """A listener that keeps operations in a list: for tests and for in-process checks."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._ids = itertools.count()

    def next_id(self) -> int:
        return next(self._ids)

    def __call__(self, op: Op) -> None:
        self.ops.append(op)


def iter_history(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield each operation of an `ops.jsonl`. A truncated last line (a crash mid-write) is
    skipped; a malformed line elsewhere is a usage error naming the line."""
    path = Path(path)
    try:
        f = open(path, "rb", buffering=1 << 20)  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the history ({exc.strerror or exc}).") from None
    with f:
        pending: tuple[int, bytes] | None = None
        for lineno, line in enumerate(f, 1):
            if pending is not None:
                raise UsageError(f"{path}: line {pending[0]} is not a JSON operation record.")
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                if line.strip():  # (a blank line is skipped: orjson refuses it too)
                    pending = (lineno, line)
        # Only the last line may be cut short.


def read_history(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_history(path))


def now() -> tuple[float, float]:
    """(wall, monotonic) at this instant."""
    return time.time(), time.monotonic()


def tee(*listeners: OpListener | None) -> OpListener:
    """One listener that hands each operation to several (history writer, monitor, Locust events)."""
    active = [listener for listener in listeners if listener is not None]
    if len(active) == 1:
        return active[0]

    def fan_out(op: Op) -> None:
        for listener in active:
            listener(op)

    # Keep the first listener's id source, so ids stay unique within its file.
    fan_out.next_id = getattr(active[0], "next_id", None)  # type: ignore[attr-defined]
    return fan_out
