"""Reading a `resources.jsonl` back and summarising it: peaks, means, the saturation warning."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from shopbench.resources.lines import RESOURCES, SATURATED, SERVICE


def read_samples(path: str | Path, skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Each line of a `resources.jsonl`; a line that is not a JSON object (a crash mid-write cuts the
    last one short) is skipped, and counted in `skipped[0]` when a counter is given."""
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                sample = orjson.loads(line)
            except orjson.JSONDecodeError:
                sample = None
            if isinstance(sample, dict):
                yield sample
            elif skipped is not None:
                skipped[0] += 1


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def summarize(samples: Iterable[dict[str, Any]], saturated: float = SATURATED) -> dict[str, Any]:
    """Peak and mean per service and per generator process, and the saturation warning."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in samples:
        groups.setdefault((s.get("kind", SERVICE), s.get("name", "?")), []).append(s)
    out: dict[str, Any] = {"samples": sum(len(v) for v in groups.values()), "services": {}, "generator": {},
                           "warnings": []}
    for (kind, name), rows in groups.items():
        up = [r for r in rows if r.get("up")]

        def values(key: str, up: list[dict[str, Any]] = up) -> list[Any]:
            return [r[key] for r in up if r.get(key) is not None]

        cpu, rss = values("cpu"), values("rss")
        summary = {
            "backend": rows[0].get("backend"), "samples": len(rows), "up_samples": len(up),
            "cpu_mean": _mean(cpu), "cpu_peak": max(cpu, default=None),
            "rss_mean": int(sum(rss) / len(rss)) if rss else None, "rss_peak": max(rss, default=None),
            **{f"{k}_peak": max(values(k), default=None) for k in ("fds", "threads", "conns", "procs")},
            "pids": sorted({r["pid"] for r in rows if r.get("pid")}),
        }
        out["services" if kind == SERVICE else "generator"][name] = summary
    out["warnings"] = saturation_warnings(out["generator"], saturated)
    return out


def saturation_warnings(generator: dict[str, dict[str, Any]], limit: float = SATURATED) -> list[str]:
    warnings = []
    for name, s in generator.items():
        mean = s.get("cpu_mean")
        if mean is not None and mean > limit:
            warnings.append(
                f"the load generator was saturated: process {name} averaged {mean:.0f} % of a core (peak "
                f"{s.get('cpu_peak') or mean:.0f} %) during the load; above {limit:.0f} % its latencies and "
                "throughput measure shopbench, not the shop. Use --processes N, fewer users, or a bigger machine.")
    return warnings


def run_summary(run_dir: str | Path, verdict: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A finished run's resource summary: the verdict's `resources` section, else summarised from
    its `resources.jsonl`; None when the run sampled nothing (an older run)."""
    section = (verdict or {}).get("resources")
    if isinstance(section, dict) and "services" in section:
        return section
    path = Path(run_dir) / RESOURCES
    return summarize(read_samples(path)) if path.is_file() else None
