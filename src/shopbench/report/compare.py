"""Runs side by side: one HTML page and one Rich table, a column per run.

Seed 001's "graphs comparing inconsistencies between different scenarios": validity and
anomalies, checkout success rate, throughput, checkout p95/p99 (exact, from each history), the
seed's four numbers, recovery times per fault, and per service (and generator process) its mean
and peak CPU and RSS from `resources.jsonl`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from shopbench.checker.verdict import result_of
from shopbench.errors import UsageError
from shopbench.report import charts
from shopbench.report.html import SEED_METRICS, fmt_ms, fmt_num, fmt_pct, render_page, write_atomically
from shopbench.report.rundata import fault_recoveries, load_run
from shopbench.report.series import compute_series
from shopbench.resources import run_summary


@dataclass
class RunSummary:
    run_id: str
    path: Path
    kind: str
    valid: bool | None
    result: str | None
    anomaly_count: int | None
    anomaly_types: dict[str, int]
    checkouts: dict[str, int]
    success_rate: float | None
    rps: float
    ops: int
    duration: float
    checkout_p95: float | None
    checkout_p99: float | None
    seed_metrics: dict[str, Any]
    slo_missed: int
    recovery: list[dict[str, Any]] = field(default_factory=list)  # per fault: label, outage_s, throughput_s
    report: Path | None = None
    # service (generator processes as "generator main", …) -> cpu_mean, cpu_peak (% of a core), rss_mean,
    # rss_peak (bytes); empty for a run that sampled nothing
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    driver: str = "built-in"  # how the shop was spoken to: --driver SPEC, --mapping FILE, or the built-in layout


def summarize(run_dir: str | Path) -> RunSummary:
    run = load_run(run_dir, partial=True)
    started = run.manifest.get("started")
    series = compute_series(run.ops_path, origin=started if isinstance(started, int | float) else None)
    verdict = run.verdict or {}
    checkout = series.totals.get("checkout")
    counted = verdict.get("checkouts") if isinstance(verdict.get("checkouts"), dict) else {}
    checkouts = {k: int(counted.get(k, getattr(checkout, k) if checkout else 0) or 0) for k in ("ok", "fail", "info")}
    total = sum(checkouts.values())
    types = verdict.get("anomaly_types")
    if not isinstance(types, dict):
        types = {}
        for a in verdict.get("anomalies") or []:
            t = str(a.get("type", "anomaly")) if isinstance(a, dict) else "anomaly"
            types[t] = types.get(t, 0) + 1
    slo = verdict.get("slo")
    results = slo.get("results") if isinstance(slo, dict) else slo
    missed = sum(1 for r in results or [] if isinstance(r, dict) and not r.get("ok", r.get("passed", True)))
    recovery = []
    for f in fault_recoveries(verdict):
        recovery.append({"label": f"{f.get('action', 'fault')} {f.get('service', '')}".strip(),
                         "outage_s": f.get("outage_s"), "throughput_s": f.get("throughput_recovery_s"),
                         "restore_s": f.get("restore_s"), "answered_again": f.get("answered_again")})
    report = run.path / "report.html"
    sampled = run_summary(run.path, verdict) or {}
    resources = {**(sampled.get("services") or {}),
                 **{f"generator {name}": v for name, v in (sampled.get("generator") or {}).items()}}
    return RunSummary(
        run_id=run.run_id, path=run.path, kind=run.kind,
        valid=verdict["valid"] if "valid" in verdict else None, result=result_of(verdict) if verdict else None,
        anomaly_count=verdict.get("anomaly_count", sum(types.values())) if verdict else None,
        anomaly_types={str(k): int(v) for k, v in types.items()},
        checkouts=checkouts, success_rate=(checkouts["ok"] / total) if total else None,
        rps=series.total_rps(), ops=series.count, duration=series.duration,
        checkout_p95=checkout.p95 if checkout else None, checkout_p99=checkout.p99 if checkout else None,
        seed_metrics=dict(verdict.get("seed_metrics") or {}), slo_missed=missed, recovery=recovery,
        report=report if report.is_file() else None, resources=resources, driver=driver_of(run.manifest))


def driver_of(manifest: dict[str, Any]) -> str:
    """run.json's driver as one cell: the --driver spec, the --mapping file, or the built-in layout."""
    chosen = manifest.get("driver") if isinstance(manifest.get("driver"), dict) else {}
    if chosen.get("mapping"):
        return f"mapping {chosen['mapping']}"
    return f"driver {chosen['driver']}" if chosen.get("driver") else "built-in"


def summarize_all(run_dirs: list[str | Path]) -> list[RunSummary]:
    if len(run_dirs) < 1:
        raise UsageError("compare needs at least one run directory (two or more to compare).")
    summaries = [summarize(p) for p in run_dirs]
    # Two runs with the same id (copies of one directory) would share a column heading.
    seen: dict[str, int] = {}
    for s in summaries:
        seen[s.run_id] = seen.get(s.run_id, 0) + 1
        if seen[s.run_id] > 1:
            s.run_id = f"{s.run_id} ({s.path.parent.name}/{s.path.name})"
    return summaries


def _recovery_text(s: RunSummary) -> str:
    if not s.recovery:
        return "–"
    parts = []
    for r in s.recovery:
        if r["outage_s"] is not None:
            outage = f"outage {r['outage_s']:.2f} s"
        elif r.get("restore_s") is not None:
            # No client answer after the restore (often: the load had ended); the health check did answer.
            outage = f"healthy {r['restore_s']:.2f} s after restore, no client answer after it"
        else:
            outage = "outage: never answered again"
        tp = "–" if r["throughput_s"] is None else f"{r['throughput_s']:.2f} s"
        parts.append(f"{r['label']}: {outage}, throughput back {tp}")
    return "\n".join(parts)


def rows(summaries: list[RunSummary]) -> list[tuple[str, list[str]]]:
    """The comparison as (label, one cell per run): shared by the terminal table and the page."""
    def verdict_cell(s: RunSummary) -> str:
        return "no verdict" if s.result is None else s.result.upper()

    out = [
        ("kind", [s.kind for s in summaries]),
        ("driver", [s.driver for s in summaries]),
        ("verdict", [verdict_cell(s) for s in summaries]),
        ("anomalies", [fmt_num(s.anomaly_count) for s in summaries]),
        ("anomaly types", [", ".join(f"{k} ×{v}" for k, v in s.anomaly_types.items()) or "–" for s in summaries]),
        ("SLOs missed", [str(s.slo_missed) for s in summaries]),
        ("checkouts ok/fail/info",
         [f"{s.checkouts['ok']} / {s.checkouts['fail']} / {s.checkouts['info']}" for s in summaries]),
        ("success rate", [fmt_pct(s.success_rate) for s in summaries]),
        ("operations", [fmt_num(s.ops) for s in summaries]),
        ("ops/s", [fmt_num(s.rps) for s in summaries]),
        ("checkout p95", [fmt_ms(s.checkout_p95) for s in summaries]),
        ("checkout p99", [fmt_ms(s.checkout_p99) for s in summaries]),
    ]
    for key, _label in SEED_METRICS:
        if any(key in s.seed_metrics for s in summaries):
            out.append((f"seed {key}", [fmt_num(s.seed_metrics.get(key)) for s in summaries]))
    out.append(("recovery", [_recovery_text(s) for s in summaries]))
    names = sorted({n for s in summaries for n in s.resources}, key=lambda n: (n.startswith("generator"), n))
    for name in names:
        out.append((f"{name} CPU % mean / peak", [_pair(s.resources.get(name), "cpu", 1) for s in summaries]))
        out.append((f"{name} RSS MiB mean / peak", [_pair(s.resources.get(name), "rss", 1 << 20)
                                                   for s in summaries]))
    return out


def _pair(figures: dict[str, Any] | None, key: str, unit: float) -> str:
    if not figures:
        return "–"
    mean, peak = figures.get(f"{key}_mean"), figures.get(f"{key}_peak")
    def show(v: Any) -> str:
        return "–" if v is None else f"{v / unit:,.0f}"
    return f"{show(mean)} / {show(peak)}"


def table(summaries: list[RunSummary]) -> Table:
    t = Table(title="shopbench compare", show_lines=False)
    t.add_column("", style="bold", no_wrap=True)
    for s in summaries:
        t.add_column(s.run_id, overflow="fold")
    for label, cells in rows(summaries):
        styled = []
        for cell in cells:
            if label == "verdict":
                cell = f"[green]{cell}[/]" if cell == "VALID" else f"[red]{cell}[/]" if cell == "INVALID" else cell
            styled.append(cell)
        t.add_row(label, *styled)
    return t


def build_compare(run_dirs: list[str | Path], out: str | Path) -> tuple[Path, list[RunSummary]]:
    summaries = summarize_all(run_dirs)
    names = [s.run_id for s in summaries]
    anomaly_types = sorted({t for s in summaries for t in s.anomaly_types})
    figures: dict[str, charts.Figure] = {
        "chart-anomalies": charts.bars(
            "Anomalies per run, by type", names,
            {t: [s.anomaly_types.get(t, 0) for s in summaries] for t in anomaly_types} or
            {"anomalies": [s.anomaly_count or 0 for s in summaries]}, "anomalies"),
        "chart-success": charts.bars(
            "Checkout success rate", names,
            {"success rate (%)": [None if s.success_rate is None else round(s.success_rate * 100, 2)
                                  for s in summaries]}, "%"),
        "chart-latency": charts.bars(
            "Checkout latency (exact, from each history)", names,
            {"p95": [s.checkout_p95 for s in summaries], "p99": [s.checkout_p99 for s in summaries]}, "ms"),
        "chart-rps": charts.bars("Throughput", names, {"ops/s": [round(s.rps, 2) for s in summaries]}, "ops/s"),
    }
    if any(s.seed_metrics for s in summaries):
        figures["chart-seed"] = charts.bars(
            "The seed's inconsistency counts", names,
            {label: [s.seed_metrics.get(key) for s in summaries] for key, label in SEED_METRICS}, "inconsistencies")
    out = Path(out)
    links = []
    for s in summaries:
        target = s.report if s.report is not None else None
        links.append(_relative(target, out.parent) if target is not None else None)
    html = render_page("compare.html.j2", figures, summaries=summaries, rows=rows(summaries), links=links,
                       generated=time.time())
    return write_atomically(out, html), summaries


def _relative(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path, start.resolve())
    except ValueError:  # another drive on Windows
        return path.as_uri()
