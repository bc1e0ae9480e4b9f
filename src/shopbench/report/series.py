"""Time series of a run, computed in one pass over its history.

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
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.history import FAIL, INFO, OK, SETUP_PROCESSES, iter_history
from shopbench.latency import nearest_rank

FINE = 0.1  # seconds; the resolution the history is read at
WIDTHS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
MAX_POINTS = 400
# Setup and final-state reads: not load. Left out of the series (and counted), as the SLO checker does,
# so a burst of settle reads does not dwarf the load it follows.
PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))  # percent, as shopbench.latency takes them


@dataclass
class OpTotals:
    """One operation over the whole run; latencies in milliseconds."""

    name: str
    count: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    wrong: int = 0  # a definite answer other than the one the workload expected
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
    errors: dict[str, list[int]] = field(default_factory=dict)  # indeterminate/fail/wrong per bucket
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
    """Stream `ops.jsonl` once and build every series a report draws."""
    ops_path = Path(ops_path)
    lat: dict[str, dict[int, array]] = defaultdict(dict)  # op -> fine bucket -> latencies (s)
    outcomes: dict[str, list[int]] = {}  # op -> [ok, fail, info, wrong]
    checkouts = {OK: defaultdict(int), FAIL: defaultdict(int), INFO: defaultdict(int)}
    errors = {"indeterminate": defaultdict(int), "fail": defaultdict(int), "wrong": defaultdict(int)}
    busy: dict[int, float] = defaultdict(float)  # fine bucket -> seconds of operations in flight
    first = last = None
    count = from_intended = skipped = 0
    skip = frozenset(skip_processes)
    slot = {OK: 0, FAIL: 1, INFO: 2}
    floor = math.floor
    lineno = 0
    try:
        for lineno, op in enumerate(iter_history(ops_path), 1):  # noqa: B007 - used in the error below
            if skip and op.get("process") in skip:
                skipped += 1
                continue
            wall = op["wall"]
            took = op["t1"] - op["t0"]
            end = wall + took
            if origin is None:
                origin = wall
            start_rel, end_rel = wall - origin, end - origin
            if first is None or start_rel < first:
                first = start_rel
            if last is None or end_rel > last:
                last = end_rel
            intended = op.get("intended")
            if intended is not None:
                took = end - intended
                from_intended += 1
            f = op["f"]
            kind = op["type"]
            idx = floor(end_rel / FINE)
            per_f = lat[f]
            bucket = per_f.get(idx)
            if bucket is None:
                bucket = per_f[idx] = array("d")
            bucket.append(took)
            counts = outcomes.get(f)
            if counts is None:
                counts = outcomes[f] = [0, 0, 0, 0]
            counts[slot[kind]] += 1
            expect = op.get("expect")
            if kind == INFO:
                errors["indeterminate"][idx] += 1
            elif kind == FAIL:
                errors["fail"][idx] += 1
            if expect is not None and kind != INFO and kind != expect:
                counts[3] += 1
                errors["wrong"][idx] += 1
            if f == "checkout":
                checkouts[kind][idx] += 1
            # Time in flight, spread over the fine buckets the operation spans (Little's law later).
            s_idx = floor(start_rel / FINE)
            if s_idx == idx:
                busy[idx] += end_rel - start_rel
            else:
                busy[s_idx] += (s_idx + 1) * FINE - start_rel
                for mid in range(s_idx + 1, idx):
                    busy[mid] += FINE
                busy[idx] += end_rel - idx * FINE
            count += 1
    except KeyError as exc:
        raise UsageError(f"{ops_path}: operation {lineno} lacks the field {exc.args[0]!r}.") from None
    except (TypeError, ValueError):
        raise UsageError(f"{ops_path}: operation {lineno} has a field of the wrong type "
                         "(times must be numbers, type one of ok/fail/info).") from None

    series = Series(origin=origin if origin is not None else 0.0, width=width or FINE, count=count,
                    first=first, last=last, from_intended=from_intended, skipped=skipped,
                    skip_processes=tuple(skip_processes))
    if locust_history is not None:
        series.users = _locust_users(locust_history, series.origin)
    if count == 0:
        return series

    if width is None:
        series.width = width = pick_width(max((last or 0) - min(first or 0, 0), FINE))
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

    order = sorted(lat, key=lambda name: (name != "checkout", -sum(len(a) for a in lat[name].values()), name))
    series.ops = order
    span = series.duration
    for name in order:
        merged: list[array] = [array("d") for _ in range(n)]
        for idx, values in lat[name].items():
            merged[idx // k - lo].extend(values)
        series.throughput[name] = [len(m) / width for m in merged]
        pcts: dict[str, list[float | None]] = {key: [] for key, _ in PERCENTILES}
        everything = array("d")
        for m in merged:
            ordered = sorted(m)
            for key, q in PERCENTILES:
                pcts[key].append(round(nearest_rank(ordered, q) * 1000, 3) if ordered else None)
            everything.extend(m)
        series.latency[name] = pcts
        ordered_all = sorted(everything)
        ok, fail, info, wrong = outcomes[name]
        totals = OpTotals(name, len(ordered_all), ok, fail, info, wrong)
        for key, q in PERCENTILES:
            setattr(totals, key, _ms(nearest_rank(ordered_all, q)))
        totals.max = _ms(ordered_all[-1])
        totals.mean = _ms(math.fsum(ordered_all) / len(ordered_all))
        totals.rps = len(ordered_all) / span if span > 0 else 0.0
        series.totals[name] = totals
    series.checkouts = {kind: coarse(checkouts[kind]) for kind in (OK, FAIL, INFO)}
    series.errors = {key: coarse(values) for key, values in errors.items()}
    series.inflight = [round(v / width, 3) for v in coarse(busy)]
    return series


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
