"""Service-level objectives: parse `--slo` expressions and judge them against a run's history.

    checkout:p95<500ms    get:avg<200ms    post:avg<500ms    all:p99<=1s    iteration:p99<2s
    error_rate<1%         checkout:error_rate<0.5%           rps>=100       requests>=1000
    dropped==0            overselling==0   negative_stock==0

A latency is `[scope:]stat` with scope an operation (`checkout`, `find_item`, …), an HTTP method
(`get`, `post`, `delete`), `all` (the default) or `iteration` (open model: from each iteration's
intended start), and stat `avg`, `min`, `max`, `median` or `pNN`. Latencies need a unit (ms or s).
An error is an operation whose outcome differs from what the workload expected (see `unexpected`).
Pure functions: the measured values come in, a list of judged SLOs goes out.
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from shopbench.errors import UsageError
from shopbench.history import SETUP_PROCESSES
from shopbench.latency import http_method, iteration_latencies_ms, op_latency_ms, percentile, summarize

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
LATENCY_STATS = ("avg", "mean", "min", "max", "median")
COUNTS = ("requests", "errors", "dropped", "overselling", "negative_stock")
PRESETS: dict[str, list[str]] = {
    # Seed 002's targets: GET avg < 200 ms, POST avg < 500 ms, error rate < 1 %, no overselling, no negative stock.
    "seed002": ["get:avg<200ms", "post:avg<500ms", "error_rate<1%", "overselling==0", "negative_stock==0"],
}
ALLOWED = ("'SCOPE:STAT<NUMBER ms|s' (e.g. checkout:p95<500ms, get:avg<200ms), 'error_rate<1%', "
           "'rps>=100', or one of requests, errors, dropped, overselling, negative_stock compared with an "
           "integer; comparisons <, <=, >, >=, ==")

_EXPR = re.compile(r"^\s*(?:(?P<scope>[A-Za-z_][\w.-]*)\s*:\s*)?(?P<stat>[A-Za-z_][\w.]*)\s*"
                   r"(?P<op><=|>=|==|<|>)\s*(?P<num>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s|%|/s)?\s*$")


@dataclass(frozen=True)
class Slo:
    text: str
    scope: str  # "all", an operation name, "get"/"post"/"delete", or "iteration"
    metric: str  # "latency", "error_rate", "rps" or a count name
    stat: str | None  # latency stat: "avg", "min", "max" or "p95", "p99.9", …
    op: str
    threshold: float  # latencies in ms, error rates as fractions
    unit: str


def parse_slo(text: str, source: str = "--slo") -> Slo:
    m = _EXPR.match(text or "")
    bad = f"{source} {text!r} is not an SLO; write {ALLOWED}."
    if not m:
        raise UsageError(bad)
    scope = (m["scope"] or "all").lower()
    stat = m["stat"].lower()
    op, num, unit = m["op"], float(m["num"]), m["unit"] or ""
    if stat == "error_rate":
        if unit not in ("%", ""):
            raise UsageError(f"{source} {text!r}: an error rate is a percentage (1%) or a fraction (0.01).")
        value = num / 100.0 if unit == "%" else num
        if value > 1:
            raise UsageError(f"{source} {text!r}: an error rate cannot exceed 100%.")
        return Slo(text, scope, "error_rate", None, op, value, "fraction")
    if stat == "rps":
        if unit not in ("", "/s"):
            raise UsageError(f"{source} {text!r}: rps is a plain number of requests per second (rps>=100).")
        return Slo(text, scope, "rps", None, op, num, "1/s")
    if stat in COUNTS:
        if unit or num != int(num) or (m["scope"] and stat in ("overselling", "negative_stock", "dropped")):
            raise UsageError(f"{source} {text!r}: {stat} is compared with a plain integer ({stat}==0).")
        return Slo(text, scope, stat, None, op, num, "count")
    if stat == "mean":
        stat = "avg"
    elif stat == "median":
        stat = "p50"
    if stat in LATENCY_STATS or re.fullmatch(r"p\d{1,2}(\.\d+)?", stat):
        if stat.startswith("p") and not 0 < float(stat[1:]) <= 100:
            raise UsageError(bad)
        if unit not in ("ms", "s"):
            raise UsageError(f"{source} {text!r}: a latency needs a unit, ms or s (e.g. {scope}:{stat}<500ms).")
        return Slo(text, scope, "latency", stat, op, num * (1000.0 if unit == "s" else 1.0), "ms")
    raise UsageError(bad)


def parse_slos(texts: Iterable[str] = (), presets: Iterable[str] = ()) -> list[Slo]:
    slos: list[Slo] = []
    for name in presets:
        if name not in PRESETS:
            raise UsageError(f"--slo-preset {name!r} is not a preset; choose one of {', '.join(PRESETS)}.")
        slos += [parse_slo(t, f"--slo-preset {name}:") for t in PRESETS[name]]
    slos += [parse_slo(t) for t in texts]
    return slos


# -- what counts as an error ----------------------------------------------------------------------
from shopbench.history import expected_kind, unexpected  # noqa: E402,F401 - one rule, re-exported


def failure_message(kind: str, expect: str | None, scenario: str | None, status: int | None,
                    error: str | None) -> str | None:
    """Why an outcome is a failure (None when it is not), e.g. "expected 4xx, got 200"."""
    if not unexpected(kind, expect, scenario):
        return None
    want = {"ok": "2xx", "fail": "4xx", None: "2xx or 4xx"}[expected_kind(expect, scenario)]
    got = f"{status}" if status is not None else "no answer"
    detail = (error or "").strip().replace("\n", " ")
    return f"expected {want}, got {got}" + (f": {detail[:100]}" if detail else "")


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Measured:
    """What the SLOs are judged against, collected from a history in one pass."""

    latencies: dict[str, list[float]]  # scope -> latencies in ms (scopes: all, each f, each method)
    requests: dict[str, int]
    errors: dict[str, int]
    duration: float  # seconds from the first invocation to the last completion
    iteration_ms: list[float]
    dropped: int = 0
    overselling: int | None = None
    negative_stock: int | None = None

    def rps(self, scope: str = "all") -> float | None:
        if self.duration <= 0:
            return None
        return self.requests.get(scope, 0) / self.duration


def measure(ops: Iterable[dict[str, Any]], *, skip_processes: Collection[str] = SETUP_PROCESSES,
            dropped: int = 0) -> Measured:
    """Collect latencies, requests and errors from history records (dicts as in ops.jsonl).
    Set-up and read-back operations (populate, settle, final state) are not load and are skipped."""
    lat: dict[str, list[float]] = defaultdict(list)
    req: dict[str, int] = defaultdict(int)
    err: dict[str, int] = defaultdict(int)
    first, last = None, None
    load_ops: list[dict[str, Any]] = []
    for op in ops:
        if op.get("process") in skip_processes:
            continue
        ms = op_latency_ms(op)
        scopes = ("all", op["f"], http_method(op["f"]).lower())
        bad = unexpected(op["type"], op.get("expect"), op.get("scenario"))
        for s in scopes:
            lat[s].append(ms)
            req[s] += 1
            if bad:
                err[s] += 1
        start, end = op["wall"], op["wall"] + ms / 1000.0
        first = start if first is None or start < first else first
        last = end if last is None or end > last else last
        if op.get("intended") is not None:
            load_ops.append(op)
    duration = (last - first) if first is not None else 0.0
    return Measured(dict(lat), dict(req), dict(err), duration, iteration_latencies_ms(load_ops), dropped)


def _value(slo: Slo, m: Measured) -> tuple[float | None, str | None]:
    if slo.metric == "latency":
        values = m.iteration_ms if slo.scope == "iteration" else m.latencies.get(slo.scope, [])
        if not values:
            return None, f"no {slo.scope} operations in the history"
        if slo.stat == "avg":
            return sum(values) / len(values), None
        if slo.stat == "min":
            return min(values), None
        if slo.stat == "max":
            return max(values), None
        return percentile(values, float(slo.stat[1:])), None  # type: ignore[index]
    if slo.metric == "error_rate":
        n = m.requests.get(slo.scope, 0)
        if not n:
            return None, f"no {slo.scope} operations in the history"
        return m.errors.get(slo.scope, 0) / n, None
    if slo.metric == "requests":
        return float(m.requests.get(slo.scope, 0)), None
    if slo.scope != "all" and not m.requests.get(slo.scope):
        # errors==0 or rps>=0 on an operation that never ran would pass while testing nothing
        return None, f"no {slo.scope} operations in the history"
    if slo.metric == "rps":
        value = m.rps(slo.scope)
        return value, None if value is not None else "the history is empty"
    if slo.metric == "errors":
        return float(m.errors.get(slo.scope, 0)), None
    value = getattr(m, slo.metric)
    if value is None:
        return None, f"{slo.metric} was not measured (no final state or verdict)"
    return float(value), None


def evaluate(slos: Iterable[Slo], measured: Measured) -> dict[str, Any]:
    """The `slo` section of a verdict: every SLO with its measured value, and whether all passed.
    An SLO that could not be measured (an operation that never ran) was asked for and not exercised:
    `passed` null and a sentence in `unknown_reasons` (the run is UNKNOWN, never VALID)."""
    results, unknown = [], []
    for slo in slos:
        value, why = _value(slo, measured)
        passed = None if value is None else bool(OPS[slo.op](value, slo.threshold))
        entry = {"slo": slo.text, **{k: v for k, v in asdict(slo).items() if k != "text"},
                 "measured": None if value is None else round(value, 6), "passed": passed}
        if why:
            entry["detail"] = why
            unknown.append(f"the SLO {slo.text!r} could not be judged: {why}; run a workload that exercises it "
                           "(--mix, or your -f locustfile) or drop that --slo")
        results.append(entry)
    summary = {s: summarize(v) for s, v in sorted(measured.latencies.items())}
    if measured.iteration_ms:
        summary["iteration"] = summarize(measured.iteration_ms)
    return {
        "valid": all(r["passed"] is not False for r in results),
        "unknown_reasons": unknown,
        "results": results,
        "measured": {
            "requests": measured.requests.get("all", 0),
            "errors": measured.errors.get("all", 0),
            "error_rate": (measured.errors.get("all", 0) / measured.requests["all"]) if measured.requests.get("all")
            else None,
            "duration_s": round(measured.duration, 3),
            "rps": None if measured.rps() is None else round(measured.rps(), 2),  # type: ignore[arg-type]
            "dropped": measured.dropped,
            "overselling": measured.overselling,
            "negative_stock": measured.negative_stock,
            "latency_ms": summary,
        },
    }
