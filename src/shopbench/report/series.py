"""Time series of a run, computed in one pass over its history.

The history is tallied (`Tally`: fine buckets of latencies, counts, pieces of time in flight). A run
written by shopbench carries the tally its writer made (`series.tally`, report/series_cache.py); only
the bytes after it are read here, and the two tallies merge in file order into exactly what one pass
gives. A damaged line is an error wherever it falls, except as the file's very last line (a crash
mid-write), the rule of `shopbench.history.iter_history`.

Latency percentiles are exact: every latency of a bucket is kept and the percentile is read off the
sorted list (nearest rank), never averaged from coarser figures. The history is read once at a
fine resolution (0.1 s); the chart resolution is picked afterwards from the run's length and the
fine buckets' raw latencies are merged, so a 2-second burst and a 2-hour soak both get readable
charts. Time is seconds since the run's start (`run.json` `started`), on completion for counts
and latencies, so it lines up with the fault timeline.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import UsageError
from shopbench.history import FAIL, INFO, OK, SETUP_PROCESSES, unexpected
from shopbench.latency import nearest_rank

FINE = 0.1  # seconds; the resolution the history is read at
WIDTHS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
MAX_POINTS = 400
# Setup and final-state reads: not load. Left out of the series (and counted), as the SLO checker does,
# so a burst of settle reads does not dwarf the load it follows.
PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))  # percent, as shopbench.latency takes them
BLOCK = 2**21  # bytes read and parsed at a time, so memory stays flat however long the history


@dataclass
class OpTotals:
    """One operation over the whole run; latencies in milliseconds."""

    name: str
    count: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    errors: int = 0  # outcomes other than the one the workload expected (history.unexpected)
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None
    rps: float = 0.0


@dataclass
class Series:
    origin: float  # wall time of x = 0
    width: float  # seconds per bucket
    times: list[float] = field(default_factory=list)  # bucket starts, seconds since origin
    ops: list[str] = field(default_factory=list)  # operation names, checkout first, then by count
    throughput: dict[str, list[float]] = field(default_factory=dict)  # op -> completions/s per bucket
    latency: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)  # op -> p50/p95/p99 ms
    checkouts: dict[str, list[int]] = field(default_factory=dict)  # ok/fail/info per bucket
    errors: dict[str, list[int]] = field(default_factory=dict)  # indeterminate/fail/unexpected per bucket
    inflight: list[float] = field(default_factory=list)  # mean operations in flight per bucket
    users: tuple[list[float], list[float]] | None = None  # Locust's user count (time, users)
    totals: dict[str, OpTotals] = field(default_factory=dict)
    count: int = 0
    first: float | None = None  # first invocation, seconds since origin
    last: float | None = None  # last completion, seconds since origin
    from_intended: int = 0  # operations whose latency counts from their scheduled start (open model)
    skipped: int = 0  # setup and final-state operations left out
    skip_processes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return 0.0 if self.first is None or self.last is None else max(self.last - self.first, 0.0)

    def total_rps(self) -> float:
        return self.count / self.duration if self.duration > 0 else 0.0


def pick_width(span: float) -> float:
    for width in WIDTHS:
        if span / width <= MAX_POINTS:
            return width
    return WIDTHS[-1]


def compute_series(ops_path: str | Path, origin: float | None = None,
                   locust_history: Iterable[Mapping[str, str]] | None = None,
                   width: float | None = None, skip_processes: Collection[str] = SETUP_PROCESSES) -> Series:
    """Read `ops.jsonl` once (after what `series.tally` already covers) and build every series a
    report draws."""
    ops_path = Path(ops_path)
    skip = frozenset(skip_processes)
    try:
        size = ops_path.stat().st_size
    except OSError as exc:
        raise UsageError(f"{ops_path}: cannot read the history ({exc.strerror or exc}).") from None
    if origin is None:
        origin = _first_wall(ops_path, size, skip)
    # The tally the run's writer made of the history's first bytes, when it provably describes them
    # (report/series_cache.py); the rest of the file, and all of it otherwise, is read here.
    from shopbench.report.series_cache import read_cached

    cached = read_cached(ops_path, size, origin, skip) if origin is not None else None
    done = [cached[0]] if cached is not None else []
    start = cached[1] if cached is not None else 0
    if start < size or not done:
        done.append(tally_range(ops_path, start, size, size, 0.0 if origin is None else origin, skip))
    return build_series(_merge(done, ops_path), origin, width, locust_history, tuple(skip_processes))


def build_series(tally: Tally, origin: float | None, width: float | None = None,
                 locust_history: Iterable[Mapping[str, str]] | None = None,
                 skip_processes: tuple[str, ...] = tuple(SETUP_PROCESSES)) -> Series:
    """The series of a whole history's tally, at `width` seconds a bucket (picked from the run's
    length when None)."""
    count, first, last = tally.count, tally.first, tally.last
    if count == 0:
        first = last = None
    series = Series(origin=origin if origin is not None else 0.0, width=width or FINE, count=count,
                    first=first, last=last, from_intended=tally.from_intended, skipped=tally.skipped,
                    skip_processes=skip_processes)
    lat, outcomes, checkouts, errors = tally.lat, tally.outcomes, tally.checkouts, tally.errors
    floor = math.floor
    if locust_history is not None:
        series.users = _locust_users(locust_history, series.origin)
    if count == 0:
        return series

    assert first is not None and last is not None
    if width is None:
        series.width = width = pick_width(max(last - min(first, 0), FINE))
    k = max(1, round(width / FINE))
    # From fine indices computed exactly as in the loop, so no float edge puts a value out of range.
    lo = min(floor(first / FINE), 0) // k
    hi = floor(last / FINE) // k
    n = hi - lo + 1
    series.times = [round((lo + i) * width, 6) for i in range(n)]

    def coarse(fine: Mapping[int, float | int]) -> list[Any]:
        out = [0] * n
        for idx, value in fine.items():
            out[idx // k - lo] += value
        return out

    order = sorted(lat, key=lambda name: (name != "checkout", -sum(outcomes[name][:3]), name))
    series.ops = order
    span = series.duration
    for name in order:
        merged: list[array] = [array("d") for _ in range(n)]
        for idx, values in lat[name].items():
            merged[idx // k - lo].extend(values)
        series.throughput[name] = [len(m) / width for m in merged]
        pcts: dict[str, list[float | None]] = {key: [] for key, _ in PERCENTILES}
        # The buckets' sorted lists joined are sorted runs: the whole run's sort only merges them,
        # and the floats are made once.
        ordered_all: list[float] = []
        for m in merged:
            ordered = sorted(m)
            for key, q in PERCENTILES:
                pcts[key].append(round(nearest_rank(ordered, q) * 1000, 3) if ordered else None)
            ordered_all += ordered
        series.latency[name] = pcts
        ordered_all.sort()
        ok, fail, info, n_errors = outcomes[name]
        totals = OpTotals(name, len(ordered_all), ok, fail, info, n_errors)
        for key, q in PERCENTILES:
            setattr(totals, key, _ms(nearest_rank(ordered_all, q)))
        totals.max = _ms(ordered_all[-1])
        totals.mean = _ms(math.fsum(ordered_all) / len(ordered_all))
        totals.rps = len(ordered_all) / span if span > 0 else 0.0
        series.totals[name] = totals
    series.checkouts = {kind: coarse(checkouts[kind]) for kind in (OK, FAIL, INFO)}
    series.errors = {key: coarse(values) for key, values in errors.items()}
    # Every piece of time in flight summed exactly (fsum), so the order ranges and blocks were read in
    # cannot move a figure.
    busy: list[list[array]] = [[] for _ in range(n)]
    for idx, pieces in tally.busy.items():
        busy[idx // k - lo].append(pieces)
    series.inflight = [round(math.fsum(chain.from_iterable(b)) / width, 3) for b in busy]
    return series


@dataclass
class Tally:
    """What one byte range of a history adds to the series; plain data, so a worker process can send
    it back. Fine buckets are indices of `FINE` seconds; `busy` keeps each operation's time in flight
    as separate pieces, summed exactly (fsum) only once every range is in, so how the history was
    split cannot change a sum."""

    lat: dict[str, dict[int, array]] = field(default_factory=dict)  # op -> fine bucket -> latencies (s)
    outcomes: dict[str, list[int]] = field(default_factory=dict)  # op -> [ok, fail, info, errors]
    checkouts: dict[str, dict[int, int]] = field(default_factory=lambda: {OK: {}, FAIL: {}, INFO: {}})
    errors: dict[str, dict[int, int]] = field(
        default_factory=lambda: {"indeterminate": {}, "fail": {}, "unexpected": {}})
    busy: dict[int, array] = field(default_factory=dict)
    first: float = math.inf
    last: float = -math.inf
    count: int = 0
    from_intended: int = 0
    skipped: int = 0
    lines: int = 0  # lines read (blank and damaged ones included), for the line number of an error
    records: int = 0  # operations parsed (left-out ones included), for the operation number of an error
    error: tuple[str, int, str] | None = None  # ("line" | "field" | "type", number within the range, detail)


def _first_wall(path: Path, size: int, skip: frozenset[str]) -> float | None:
    """The invocation time of the first operation the series counts: x = 0 when the run has no start."""
    for lines, _ in _blocks(path, 0, size):
        for line in lines:
            try:
                op = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the full pass decides whether a damaged line is an error
            try:
                if op.get("process") in skip:
                    continue
            except (AttributeError, TypeError):
                return None  # not a record: the full pass names it
            wall = op.get("wall")
            return wall if isinstance(wall, int | float) else None
    return None


def _blocks(path: Path, start: int, end: int) -> Iterator[tuple[list[bytes], bool]]:
    """The lines of bytes [start, end) in blocks of about `BLOCK` bytes, with whether the block ends
    the file (the one place a line may be cut short). `start` and `end` are line starts."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the history ({exc.strerror or exc}).") from None
    with f:
        f.seek(start)
        pos, carry = start, b""
        while pos < end:
            data = carry + f.read(min(BLOCK, end - pos))
            pos = f.tell()
            if not data:
                break
            cut = data.rfind(b"\n") + 1 if pos < end else len(data)
            if cut == 0:  # one line longer than a block
                carry = data
                continue
            carry = data[cut:]
            lines = data[:cut].split(b"\n")
            if data[:cut].endswith(b"\n"):
                lines.pop()
            yield lines, pos >= end
        if carry:
            yield [carry], True


def tally_range(path: Path, start: int, end: int, size: int, origin: float, skip: frozenset[str]) -> Tally:
    """Tally the operations in bytes [start, end) of `path` (`size` bytes long). Stops at the first
    problem and records it in `error`; a damaged line is a problem unless it is the file's last."""
    out = Tally()
    for lines, final in _blocks(path, start, end):
        if not tally_lines(lines, out, origin, skip, final and end >= size):
            break
    return out


def tally_lines(lines: list[bytes], out: Tally, origin: float, skip: frozenset[str], at_end: bool) -> bool:
    """One block of lines into `out`; False once a problem is recorded. The hot loop of a report:
    every name is a local, and nothing is built per operation but a latency and a time in flight."""
    loads, decode_error, floor = orjson.loads, orjson.JSONDecodeError, math.floor
    lat, outcomes, busy = out.lat, out.outcomes, out.busy
    co_ok, co_fail, co_info = out.checkouts[OK], out.checkouts[FAIL], out.checkouts[INFO]
    indeterminate, failed, errors = out.errors["indeterminate"], out.errors["fail"], out.errors["unexpected"]
    first, last, count, from_intended, skipped = out.first, out.last, out.count, out.from_intended, out.skipped
    records, lineno, n = out.records, out.lines, len(lines)
    ok = True
    for i, line in enumerate(lines):
        try:
            op = loads(line)
        except decode_error:
            if not line.strip():
                continue
            if at_end and i == n - 1:
                continue  # a crash mid-write cuts only the last line
            out.error, ok = ("line", lineno + i + 1, ""), False
            break
        records += 1
        try:
            if skip and op.get("process") in skip:
                skipped += 1
                continue
            wall = op["wall"]
            took = op["t1"] - op["t0"]
            end = wall + took
            start_rel, end_rel = wall - origin, end - origin
            if start_rel < first:
                first = start_rel
            if end_rel > last:
                last = end_rel
            intended = op.get("intended")
            if intended is not None:
                took = end - intended
                from_intended += 1
            f = op["f"]
            kind = op["type"]
            idx = floor(end_rel / FINE)
            per_f = lat.get(f)
            if per_f is None:
                per_f = lat[f] = {}
                outcomes[f] = [0, 0, 0, 0]
            bucket = per_f.get(idx)
            if bucket is None:
                bucket = per_f[idx] = array("d")
            bucket.append(took)
            counts = outcomes[f]
            if kind == OK:
                counts[0] += 1
            elif kind == FAIL:
                counts[1] += 1
                failed[idx] = failed.get(idx, 0) + 1
            elif kind == INFO:
                counts[2] += 1
                indeterminate[idx] = indeterminate.get(idx, 0) + 1
            else:
                raise ValueError(kind)
            if unexpected(kind, op.get("expect"), op.get("scenario")):
                counts[3] += 1
                errors[idx] = errors.get(idx, 0) + 1
            if f == "checkout":
                per_kind = co_ok if kind == OK else co_fail if kind == FAIL else co_info
                per_kind[idx] = per_kind.get(idx, 0) + 1
            # Time in flight, spread over the fine buckets the operation spans (Little's law later).
            s_idx = floor(start_rel / FINE)
            if s_idx == idx:
                pieces = busy.get(idx)
                if pieces is None:
                    pieces = busy[idx] = array("d")
                pieces.append(end_rel - start_rel)
            else:
                _piece(busy, s_idx, (s_idx + 1) * FINE - start_rel)
                for mid in range(s_idx + 1, idx):
                    _piece(busy, mid, FINE)
                _piece(busy, idx, end_rel - idx * FINE)
            count += 1
        except KeyError as exc:
            out.error, ok = ("field", records, str(exc.args[0])), False
            break
        except (TypeError, ValueError, AttributeError, OverflowError):
            out.error, ok = ("type", records, ""), False
            break
    out.first, out.last, out.count, out.from_intended, out.skipped = first, last, count, from_intended, skipped
    out.records, out.lines = records, lineno + (n if ok else 0)
    return ok


def _piece(busy: dict[int, array], idx: int, seconds: float) -> None:
    pieces = busy.get(idx)
    if pieces is None:
        pieces = busy[idx] = array("d")
    pieces.append(seconds)


def _merge(tallies: list[Tally], path: Path) -> Tally:
    """The ranges' tallies in file order as one; the first problem in the file is the error raised."""
    total = Tally()
    for part in tallies:
        if part.error is not None:
            what, number, detail = part.error
            if what == "line":
                raise UsageError(f"{path}: line {total.lines + number} is not a JSON operation record.")
            if what == "field":
                raise UsageError(f"{path}: operation {total.records + number} lacks the field {detail!r}.")
            raise UsageError(f"{path}: operation {total.records + number} has a field of the wrong type "
                             "(times must be numbers, type one of ok/fail/info).")
        for f, buckets in part.lat.items():
            mine = total.lat.setdefault(f, {})
            for idx, values in buckets.items():
                _extend(mine, idx, values)
            counts = total.outcomes.setdefault(f, [0, 0, 0, 0])
            for i, value in enumerate(part.outcomes[f]):
                counts[i] += value
        for mine, theirs in ((total.checkouts, part.checkouts), (total.errors, part.errors)):
            for key, per_bucket in theirs.items():
                into = mine[key]
                for idx, value in per_bucket.items():
                    into[idx] = into.get(idx, 0) + value
        for idx, pieces in part.busy.items():
            _extend(total.busy, idx, pieces)
        total.first, total.last = min(total.first, part.first), max(total.last, part.last)
        total.count += part.count
        total.from_intended += part.from_intended
        total.skipped += part.skipped
        total.lines += part.lines
        total.records += part.records
    return total


def _extend(into: dict[int, array], idx: int, values: array) -> None:
    mine = into.get(idx)
    if mine is None:
        into[idx] = values
    else:
        mine.extend(values)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _locust_users(rows: Iterable[Mapping[str, str]], origin: float) -> tuple[list[float], list[float]] | None:
    times: list[float] = []
    users: list[float] = []
    for row in rows:
        if row.get("Name") not in ("Aggregated", "Total"):
            continue
        try:
            when, count = float(row["Timestamp"]), float(row["User Count"])
        except (KeyError, TypeError, ValueError):
            continue
        times.append(round(when - origin, 3))
        users.append(count)
    return (times, users) if times else None


@dataclass
class ResourceSeries:
    """CPU and memory of each service and generator process (`resources.jsonl`), on the run's buckets."""

    times: list[float] = field(default_factory=list)
    names: list[tuple[str, str]] = field(default_factory=list)  # (kind, name): services first, then the generator
    cpu: dict[tuple[str, str], list[float | None]] = field(default_factory=dict)  # % of one core, mean per bucket
    rss: dict[tuple[str, str], list[float | None]] = field(default_factory=dict)  # bytes, mean per bucket


def resource_series(samples: Iterable[Mapping[str, Any]], origin: float, width: float | None = None) -> ResourceSeries:
    """Samples averaged per bucket of `width` seconds, so a two-hour soak sampled every second still
    draws a few hundred points a line. A bucket in which a service was down or not read is a gap."""
    samples = [s for s in samples if isinstance(s.get("wall"), int | float)]
    if width is None:
        walls = [s["wall"] for s in samples] or [origin]
        width = pick_width(max(max(walls) - min(min(walls), origin), FINE))
    sums: dict[tuple[str, str], dict[int, list[float]]] = {}  # -> bucket -> [cpu sum, cpu n, rss sum, rss n]
    floor = math.floor
    for sample in samples:
        wall = sample["wall"]
        key = (str(sample.get("kind") or "service"), str(sample.get("name") or "?"))
        buckets = sums.setdefault(key, {})
        acc = buckets.setdefault(floor((wall - origin) / width), [0.0, 0, 0.0, 0])
        cpu, rss = sample.get("cpu"), sample.get("rss")
        if sample.get("up", True) and isinstance(cpu, int | float):
            acc[0] += cpu
            acc[1] += 1
        if sample.get("up", True) and isinstance(rss, int | float):
            acc[2] += rss
            acc[3] += 1
    res = ResourceSeries()
    if not sums:
        return res
    lo = min(min(b) for b in sums.values())
    hi = max(max(b) for b in sums.values())
    res.times = [round(i * width, 6) for i in range(lo, hi + 1)]
    res.names = sorted(sums, key=lambda k: (k[0] != "service", k[1]))
    for key in res.names:
        cpu_line: list[float | None] = [None] * len(res.times)
        rss_line: list[float | None] = [None] * len(res.times)
        for idx, (cpu_sum, cpu_n, rss_sum, rss_n) in sums[key].items():
            if cpu_n:
                cpu_line[idx - lo] = round(cpu_sum / cpu_n, 1)
            if rss_n:
                rss_line[idx - lo] = rss_sum / rss_n
        res.cpu[key], res.rss[key] = cpu_line, rss_line
    return res
