"""Latency figures from a history: exact percentiles, every sample kept and sorted (never Locust's
rounded buckets). Sorting stays exact and fast at any size a run produces (2.1 M samples: 1.1 s,
where an HDR histogram took 4.2 s and gave another p99), so there is no approximate path; each
summary still says `"method": "exact"` for readers of older runs, which may say "hdr".

Percentiles are nearest-rank: p95 is the smallest sample that at least 95 % of samples do not
exceed, so it is always a latency that was really observed (exact method).

This module is the one home of percentiles. The convention is PERCENT, 0-100, as in the names
p50/p95/p99.9 and in SLO texts: `nearest_rank(sorted_values, 95.0)`; never a fraction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

EXACT = "exact"
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)

METHODS = {"find_item": "GET", "find_user": "GET", "find_order": "GET", "remove_item": "DELETE"}


def http_method(f: str) -> str:
    """The HTTP method of a driver operation in the REST layout (SLOs can select GET or POST)."""
    return METHODS.get(f, "POST")


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (q in percent, 0-100) of an already sorted sequence; NaN when empty."""
    if not sorted_values:
        return math.nan
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q!r} is not in 0-100 (percent, not a fraction)")
    # q * n / 100 rather than q / 100 * n: 7 / 100 * 100 is 7.000000000000001, whose ceiling would
    # skip a rank; the epsilon absorbs what binary fractions such as 99.9 still leave.
    rank = math.ceil(q * len(sorted_values) / 100.0 - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def summarize(values_ms: Sequence[float]) -> dict[str, Any]:
    """count, avg, min, max and the standard percentiles, in milliseconds."""
    n = len(values_ms)
    out: dict[str, Any] = {"count": n, "method": EXACT}
    if n == 0:
        return out
    ordered = sorted(values_ms)
    out.update(avg=sum(ordered) / n, min=ordered[0], max=ordered[-1])
    for q in PERCENTILES:
        out[_key(q)] = nearest_rank(ordered, q)
    return out


def percentile(values_ms: Sequence[float], q: float) -> float:
    return nearest_rank(sorted(values_ms), q)


def _key(q: float) -> str:
    return f"p{q:g}".replace(".", "_") if q != int(q) else f"p{int(q)}"


def op_latency_ms(op: dict[str, Any]) -> float:
    return (op["t1"] - op["t0"]) * 1000.0


def iteration_latencies_ms(ops: Iterable[dict[str, Any]]) -> list[float]:
    """Open model: for each iteration (one client, one intended start), the time from its intended
    start to the completion of its last operation. A stalled target shows here even when the
    requests it eventually answered were quick (no coordinated omission)."""
    ends: dict[tuple[str, float], float] = {}
    for op in ops:
        intended = op.get("intended")
        if intended is None:
            continue
        end = op["wall"] + (op["t1"] - op["t0"])
        key = (op["process"], intended)
        if end > ends.get(key, -math.inf):
            ends[key] = end
    return [max(0.0, (end - intended) * 1000.0) for (_, intended), end in ends.items()]
