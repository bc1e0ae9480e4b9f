"""`report.html`: one self-contained page per run, readable offline.

Charts are uPlot 1.6.32 (vendored from npm in `report/assets/`, MIT): its 50 KB script and 2 KB
stylesheet are embedded in every page (no CDN, nothing fetched when the page is opened), and each
chart is a small JSON spec (`charts.py`) the page turns into a uPlot chart. uPlot rather than
Plotly (4.8 MB a page, 50 MB for `--repeat 10`): it draws on a canvas, zooms on a drag, shows values
under the cursor, and is fast on long series; shading fault windows is a 20-line draw hook. A page
of a default consistency run weighs about 100 KB.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from shopbench import __version__
from shopbench.report import charts
from shopbench.report.rundata import RunData, fault_recoveries, load_run, slo_results
from shopbench.report.series import Series, compute_series, resource_series
from shopbench.rundir import REPORT

SEED_METRICS = (("stock_log", "stock inconsistencies (client log)"),
                ("stock_db", "stock inconsistencies (database)"),
                ("payment_log", "payment inconsistencies (client log)"),
                ("payment_db", "payment inconsistencies (database)"))
MAX_ANOMALIES_SHOWN = 500
CHECKOUT_LABELS = {"info_resolved_paid": "indeterminate → resolved: the order is paid (it took effect)",
                   "info_resolved_unpaid": "indeterminate → resolved: the order is not paid (no effect)",
                   "info_unresolved": "indeterminate → unresolved: the order could not be read"}
WALL_KEYS = ("start", "restore_start", "end", "answers_again_at")
RECOVERY_ORDER = ("fault", "service", "action", "result", "restored", "start", "restore_start", "end", "duration_s",
                  "answers_again_at", "time_to_answer_s", "outage_s", "baseline_rps", "throughput_recovery_s",
                  "throughput_recovered", "during", "during_service", "note")
LOCUST_COLUMNS = ("Type", "Name", "Request Count", "Failure Count", "Median Response Time", "95%", "99%",
                  "Requests/s")


UPLOT_VERSION = "1.6.32"  # vendored from npm, see report/assets/README.md
# Package data next to this module (pyproject: report/assets/*, report/templates/*); read as files
# rather than through importlib.resources, whose import costs more than reading them.
HERE = Path(__file__).resolve().parent


@functools.cache
def asset(name: str) -> str:
    return (HERE / "assets" / name).read_text(encoding="utf-8")


@functools.cache
def environment() -> jinja2.Environment:
    # The compiled templates are cached (Jinja's per-user cache in the temp directory, which it
    # checks is the user's own): compiling them took 0.15 s of every run's report.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=jinja2.FileSystemBytecodeCache())
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
        uplot_js=Markup(asset("uPlot.iife.min.js")), uplot_css=Markup(asset("uPlot.min.css")),
        figures_json=Markup(blob),
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
    faults = run.windows
    windows = charts.shading(faults, series.origin, max(run_end, series.last or 0.0))
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
    if run.resources:
        res = resource_series(run.resources, series.origin, series.width if series.count else None)
        if res.names:
            figures["chart-resources-cpu"] = charts.resources(res, "cpu", windows, marks)
            figures["chart-resources-rss"] = charts.resources(res, "rss", windows, marks)

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
        "fault_rows": None if run.faults is None else fault_rows(faults, series.origin),
        "fault_actions": action_rows(run.faults, series.origin),
        "recovery": recovery_table(fault_recoveries(verdict), series.origin),
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
        return {"state": "none", "unknown_reasons": [], "anomalies": [], "by_type": [], "hidden": 0, "seed": [],
                "slo": [], "count": 0,
                "warnings": [], "failed_sections": []}
    from shopbench.checker.verdict import result_of  # only a report with a verdict needs the checker

    anomalies = [a if isinstance(a, dict) else {"type": "anomaly", "message": str(a)}
                 for a in verdict.get("anomalies") or []]
    by_type: dict[str, int] = {}
    if isinstance(verdict.get("anomaly_types"), dict):  # the checker's counts cover anomalies it did not list
        by_type = {str(k): v for k, v in verdict["anomaly_types"].items()}
    else:
        for a in anomalies:
            by_type[str(a.get("type", "anomaly"))] = by_type.get(str(a.get("type", "anomaly")), 0) + 1
    shown = []
    for a in anomalies[:MAX_ANOMALIES_SHOWN]:
        details = {k: v for k, v in a.items() if k not in ("type", "message", "explanation", "timeline")}
        timeline = a.get("timeline") if isinstance(a.get("timeline"), list) else []
        shown.append({"type": a.get("type", "anomaly"), "message": a.get("message") or a.get("explanation") or "",
                      "details": details, "timeline": timeline})
    seed_metrics = verdict.get("seed_metrics") or {}
    seed = [(label, seed_metrics.get(key)) for key, label in SEED_METRICS if key in seed_metrics]
    count = verdict.get("anomaly_count", len(anomalies))
    warnings = [str(w) for w in verdict.get("warnings") or []]
    warnings += [str(f.get("message")) for f in verdict.get("faults_not_fired") or []
                 if isinstance(f, dict) and f.get("message") not in (verdict.get("unknown_reasons") or ())]
    failed_sections = [str(x) for x in verdict.get("failed_sections") or []]
    return {"state": result_of(verdict), "unknown_reasons": [str(r) for r in verdict.get("unknown_reasons") or []],
            "anomalies": shown, "count": count,
            "by_type": sorted(by_type.items(), key=lambda kv: -kv[1]),
            "hidden": max(0, (count if isinstance(count, int) else len(anomalies)) - len(shown)),
            "seed": seed, "slo": slo_results(verdict), "warnings": warnings, "failed_sections": failed_sections}


def checkout_context(verdict: dict[str, Any] | None, series: Series) -> dict[str, Any]:
    from_history = series.totals.get("checkout")
    counted = (verdict or {}).get("checkouts") or {}
    main = {}
    for key in ("ok", "fail", "info"):
        if isinstance(counted.get(key), int | float):
            main[key] = counted[key]
        elif from_history is not None:
            main[key] = getattr(from_history, key)
    extra = [(CHECKOUT_LABELS.get(k, k), v) for k, v in counted.items() if k not in ("ok", "fail", "info")]
    total = sum(v for v in main.values() if isinstance(v, int | float))
    return {"main": main, "extra": extra, "total": total, "history": from_history,
            "source": "verdict.json" if counted else "the history"}


def fault_rows(windows: list[dict[str, Any]], origin: float) -> list[dict[str, Any]]:
    rows = []
    for w in windows:
        start, end, trigger, result = w["start"], w.get("end"), w.get("trigger"), w.get("result")
        rows.append({
            "service": w.get("service") or w.get("target") or "",
            "action": w.get("action") or "",
            "trigger": trigger if isinstance(trigger, str) else "" if trigger is None else compact_json(trigger),
            "start": start - origin,
            "end": None if end is None else end - origin,
            "duration": None if end is None else end - start,
            "result": result if isinstance(result, str) else "" if result is None else compact_json(result),
            "restored": w.get("restored"),
        })
    return rows


def action_rows(lines: list[dict[str, Any]] | None, origin: float) -> list[dict[str, Any]]:
    """The raw timeline, one row per action (a kill, then the start that undid it)."""
    rows = []
    for line in lines or []:
        end = line.get("end")
        rows.append({"fault": line.get("fault", ""), "role": line.get("role", ""), "action": line.get("action", ""),
                     "service": line.get("service", ""), "target": line.get("target") or "",
                     "start": line["start"] - origin,
                     "end": end - origin if isinstance(end, int | float) else None,
                     "result": line.get("result", ""), "why": line.get("reason") or line.get("error") or ""})
    return rows


def recovery_table(items: list[dict[str, Any]], origin: float) -> dict[str, Any] | None:
    """Per-fault recovery figures as columns + rows. The keys belong to the recovery checker, so any
    key is shown: known ones first, wall times as seconds since the run started, nested counts
    spread into columns."""
    if not items:
        return None
    flat_items = []
    for item in items:
        flat: dict[str, Any] = {}
        for key, value in item.items():
            if key in ("trigger", "targets"):
                continue
            if key in WALL_KEYS and isinstance(value, int | float):
                value = round(value - origin, 3)
            if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
                for sub, v in value.items():
                    flat[f"{key} {sub}"] = v
            else:
                flat[key] = value
        flat_items.append(flat)
    columns: list[str] = []
    for flat in flat_items:
        for key in flat:
            if key not in columns:
                columns.append(key)
    rank = {key: i for i, key in enumerate(RECOVERY_ORDER)}
    first_seen = {c: i for i, c in enumerate(columns)}
    columns.sort(key=lambda c: (rank.get(c.split(" ")[0], len(rank)), first_seen[c]))
    labels = [(c[:-2] + " (s)" if c.endswith("_s") else c).replace("_", " ") for c in columns]
    return {"columns": labels, "rows": [[flat.get(c) for c in columns] for flat in flat_items]}


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
    from datetime import datetime

    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str, sort_keys=True)
