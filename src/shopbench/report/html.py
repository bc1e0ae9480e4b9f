"""`report.html`: one self-contained page per run, readable offline.

Charts are Plotly: its JavaScript bundle is embedded once per page (no CDN, nothing fetched when
the page is opened) and each figure is plain JSON drawn with `Plotly.newPlot`. Plotly because it
is already a dependency, well kept, and its charts zoom, pan and hover out of the box, which is
what a reader investigating a fault window wants; the price is ~4.8 MB of JavaScript per page.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from shopbench import __version__
from shopbench.report import charts
from shopbench.report.rundata import RunData, load_run
from shopbench.report.series import Series, compute_series
from shopbench.rundir import REPORT

SEED_METRICS = (("stock_log", "stock inconsistencies (client log)"),
                ("stock_db", "stock inconsistencies (database)"),
                ("payment_log", "payment inconsistencies (client log)"),
                ("payment_db", "payment inconsistencies (database)"))
MAX_ANOMALIES_SHOWN = 500
LOCUST_COLUMNS = ("Type", "Name", "Request Count", "Failure Count", "Median Response Time", "95%", "99%",
                  "Requests/s")


@functools.cache
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("shopbench.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt_num
    env.filters["ms"] = fmt_ms
    env.filters["secs"] = fmt_secs
    env.filters["when"] = fmt_when
    env.filters["pct"] = fmt_pct
    env.filters["compact"] = compact_json
    return env


def render_page(template: str, figures: dict[str, charts.Figure], **context: Any) -> str:
    # `</` is escaped so no string inside a figure can close the <script> that carries it.
    blob = orjson.dumps(figures).decode().replace("</", "<\\/")
    return environment().get_template(template).render(
        plotly_js=Markup(plotly_js()), figures_json=Markup(blob),
        shopbench_version=__version__, **context)


def write_atomically(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def build_report(run_dir: str | Path, out: str | Path | None = None, partial: bool = False) -> Path:
    """Write the run's `report.html` (or `out`) and return its path. `partial=True` accepts a run
    that ended before its verdict (a crash, Ctrl-C): the page says what is missing."""
    run = load_run(run_dir, partial=partial)
    series = series_for(run)
    figures, context = report_context(run, series)
    html = render_page("report.html.j2", figures, **context)
    return write_atomically(Path(out) if out is not None else run.path / REPORT, html)


def series_for(run: RunData) -> Series:
    started = run.manifest.get("started")
    origin = float(started) if isinstance(started, int | float) else None
    return compute_series(run.ops_path, origin=origin, locust_history=run.locust_history)


def report_context(run: RunData, series: Series) -> tuple[dict[str, charts.Figure], dict[str, Any]]:
    manifest = run.manifest
    ended = manifest.get("ended")
    run_end = (ended - series.origin) if isinstance(ended, int | float) else (series.last or 0.0)
    windows = charts.fault_windows(run.faults, series.origin, max(run_end, series.last or 0.0))
    marks = charts.phase_marks(manifest.get("phases"), series.origin)

    figures: dict[str, charts.Figure] = {}
    latency_ids: list[tuple[str, str]] = []
    if series.count:
        figures["chart-throughput"] = charts.throughput(series, windows, marks)
        for i, name in enumerate(series.ops):
            chart_id = f"chart-latency-{i}"
            figures[chart_id] = charts.latency(series, name, windows, marks)
            latency_ids.append((chart_id, name))
        if "checkout" in series.totals:
            figures["chart-checkouts"] = charts.checkouts(series, windows, marks)
        figures["chart-users"] = charts.users(series, windows, marks)
        figures["chart-errors"] = charts.errors(series, windows, marks)

    verdict = run.verdict
    context = {
        "run": run,
        "manifest": manifest,
        "series": series,
        "verdict": verdict,
        "verdict_block": verdict_context(verdict),
        "checkout_block": checkout_context(verdict, series),
        "latency_ids": latency_ids,
        "has_chart": set(figures),
        "fault_rows": fault_rows(run.faults, series.origin),
        "recovery": table_of(verdict.get("faults") if verdict else None),
        "locust_rows": locust_rows(run.locust_stats),
        "phases": phase_rows(manifest.get("phases"), series.origin),
        "config_json": json.dumps(manifest.get("config") or {}, indent=2, default=str, sort_keys=True),
        "target": find_target(manifest),
        "versions": manifest.get("versions") or {},
        "command": " ".join(map(str, manifest.get("command") or [])),
        "duration": (ended - manifest["started"]) if isinstance(ended, int | float)
        and isinstance(manifest.get("started"), int | float) else None,
        "generated": time.time(),
        "notes": run.notes,
    }
    return figures, context


def verdict_context(verdict: dict[str, Any] | None) -> dict[str, Any]:
    if verdict is None:
        return {"state": "unknown", "anomalies": [], "by_type": [], "hidden": 0, "seed": [], "slo": [], "count": 0}
    anomalies = [a if isinstance(a, dict) else {"type": "anomaly", "message": str(a)}
                 for a in verdict.get("anomalies") or []]
    by_type: dict[str, int] = {}
    for a in anomalies:
        by_type[str(a.get("type", "anomaly"))] = by_type.get(str(a.get("type", "anomaly")), 0) + 1
    shown = []
    for a in anomalies[:MAX_ANOMALIES_SHOWN]:
        details = {k: v for k, v in a.items() if k not in ("type", "message", "explanation")}
        shown.append({"type": a.get("type", "anomaly"), "message": a.get("message") or a.get("explanation") or "",
                      "details": details})
    seed_metrics = verdict.get("seed_metrics") or {}
    seed = [(label, seed_metrics.get(key)) for key, label in SEED_METRICS if key in seed_metrics]
    slo = [s for s in verdict.get("slo") or [] if isinstance(s, dict)]
    count = verdict.get("anomaly_count", len(anomalies))
    return {"state": "valid" if verdict["valid"] else "invalid", "anomalies": shown, "count": count,
            "by_type": sorted(by_type.items(), key=lambda kv: -kv[1]), "hidden": max(0, len(anomalies) - len(shown)),
            "seed": seed, "slo": slo}


def checkout_context(verdict: dict[str, Any] | None, series: Series) -> dict[str, Any]:
    from_history = series.totals.get("checkout")
    counted = (verdict or {}).get("checkouts") or {}
    main = {}
    for key in ("ok", "fail", "info"):
        if isinstance(counted.get(key), int | float):
            main[key] = counted[key]
        elif from_history is not None:
            main[key] = getattr(from_history, key)
    extra = [(k, v) for k, v in counted.items() if k not in ("ok", "fail", "info")]
    total = sum(v for v in main.values() if isinstance(v, int | float))
    return {"main": main, "extra": extra, "total": total, "history": from_history,
            "source": "verdict.json" if counted else "the history"}


def fault_rows(faults: list[dict[str, Any]] | None, origin: float) -> list[dict[str, Any]] | None:
    if faults is None:
        return None
    rows = []
    for fault in faults:
        start, end = fault["start"], fault.get("end")
        trigger, result = fault.get("trigger"), fault.get("result")
        rows.append({
            "service": fault.get("service") or fault.get("target") or "",
            "action": fault.get("action") or "",
            "trigger": trigger if isinstance(trigger, str) else compact_json(trigger) if trigger is not None else "",
            "start": start - origin,
            "end": None if end is None else end - origin,
            "duration": None if end is None else end - start,
            "result": result if isinstance(result, str) else "" if result is None else compact_json(result),
            "extra": {k: v for k, v in fault.items()
                      if k not in ("service", "target", "action", "trigger", "start", "end", "result")},
        })
    return rows


def table_of(items: list[Any] | None) -> dict[str, Any] | None:
    """A list of flat-ish records as columns + rows (the recovery figures' keys belong to the nemesis)."""
    if not items:
        return None
    columns: list[str] = []
    for item in items:
        if isinstance(item, dict):
            for key in item:
                if key not in columns:
                    columns.append(key)
    rows = [[item.get(c) if isinstance(item, dict) else None for c in columns] for item in items]
    return {"columns": columns, "rows": rows}


def locust_rows(stats: list[dict[str, str]] | None) -> dict[str, Any] | None:
    if not stats:
        return None
    columns = [c for c in LOCUST_COLUMNS if c in stats[0]]
    return {"columns": columns, "rows": [[row.get(c, "") for c in columns] for row in stats]}


def phase_rows(phases: Any, origin: float) -> list[dict[str, Any]]:
    rows = []
    for phase in phases if isinstance(phases, list) else []:
        if not isinstance(phase, dict) or not isinstance(phase.get("start"), int | float):
            continue
        end = phase.get("end")
        rows.append({"name": phase.get("name", ""), "start": phase["start"] - origin,
                     "duration": (end - phase["start"]) if isinstance(end, int | float) else None})
    return rows


def find_target(manifest: dict[str, Any]) -> dict[str, Any] | None:
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    for source in (manifest, config):
        for key in ("target", "urls"):
            if isinstance(source.get(key), dict):
                return source[key]
    return None


# -- formatting (Jinja filters) ------------------------------------------------------------------

def fmt_num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:,.{digits}f}" if abs(value) >= 1 or value == 0 else f"{value:.{digits + 2}g}"
    if isinstance(value, dict | list):
        return compact_json(value)
    return str(value)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def fmt_secs(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f} s"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def fmt_when(value: Any) -> str:
    if not isinstance(value, int | float):
        return "–"
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str, sort_keys=True)
