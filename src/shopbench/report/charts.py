"""Chart specifications as plain dicts, drawn by uPlot in the page (see `templates/base.html.j2`).

A time chart is `{"kind": "time", "title", "y_label", "x": [...], "series": [...], "windows": [...],
"marks": [...]}`; a series is `{"label", "values", "colour", "style": line|step|bar, "dash"}`. The
page turns a spec into uPlot options: uPlot (50 KB) draws on a canvas, zooms on a drag and resets
on a double click, and shows every series' value under the cursor in its legend. Our own small
format rather than uPlot's options keeps colours, stacking and fault shading decided here, in
Python, where tests can read them. Every time chart gets the run's fault windows shaded and
labelled, and its phases marked.
"""

from __future__ import annotations

from typing import Any

from shopbench.report.series import ResourceSeries, Series

Figure = dict[str, Any]

FAULT_COLOURS = {"kill": "rgba(214,39,40,0.16)", "terminate": "rgba(148,103,189,0.18)",
                 "pause": "rgba(255,127,14,0.20)", "restart": "rgba(31,119,180,0.16)"}
OUTCOME_COLOURS = {"ok": "#2ca02c", "fail": "#ff7f0e", "info": "#7f7f7f", "unexpected": "#d62728"}
LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")
MIB = 2**20


def shading(windows: list[dict[str, Any]], origin: float, run_end: float) -> list[dict[str, Any]]:
    """Fault windows (as `nemesis.timeline.fault_windows` folds them) placed on the charts' x axis:
    (x0, x1, label, colour) in seconds since the origin; a fault never restored runs to the end."""
    shaded = []
    for fault in windows:
        x0 = fault["start"] - origin
        x1 = (fault["end"] - origin) if fault.get("end") is not None else max(run_end, x0)
        action = str(fault.get("action") or "fault")
        service = fault.get("service") or fault.get("target") or ""
        if isinstance(service, list):
            service = ",".join(map(str, service))
        shaded.append({"x0": round(x0, 3), "x1": round(max(x1, x0), 3), "label": f"{action} {service}".strip(),
                       "colour": FAULT_COLOURS.get(action, "rgba(140,86,75,0.18)")})
    return shaded


def phase_marks(phases: list[dict[str, Any]] | None, origin: float) -> list[tuple[float, str]]:
    marks = []
    for phase in phases or []:
        start = phase.get("start") if isinstance(phase, dict) else None
        if isinstance(start, int | float):
            marks.append((round(start - origin, 3), str(phase.get("name", ""))))
    return marks


def _time(title: str, y_label: str, x: list[float], series: list[dict[str, Any]], windows: list[dict[str, Any]],
          marks: list[tuple[float, str]], **extra: Any) -> Figure:
    return {"kind": "time", "title": title, "y_label": y_label, "x": x, "series": series, "windows": windows,
            "marks": marks, "height": 300, **extra}


def _line(label: str, values: list[Any], colour: str, style: str = "line", dash: bool = False) -> dict[str, Any]:
    return {"label": label, "values": values, "colour": colour, "style": style, "dash": dash}


def _bar_chart(title: str, y_label: str, series: Series, lines: list[dict[str, Any]], windows: list[dict[str, Any]],
               marks: list[tuple[float, str]], stacked: bool) -> Figure:
    # Bars span their bucket [t, t + width); uPlot's scales come from the data, so the top of a stack
    # and the end of the last bucket are given explicitly.
    columns = [line["values"] for line in lines]
    top = max((sum(v or 0 for v in col) if stacked else max((v or 0 for v in col), default=0))
              for col in zip(*columns, strict=True)) if columns and columns[0] else 0
    return _time(title, y_label, series.times, lines, windows, marks, stacked=stacked, bar_width=series.width,
                 y_max=top, x_max=(series.times[-1] + series.width) if series.times else None)


def throughput(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    lines = [_line(name, [round(v, 3) for v in series.throughput[name]], LINE_COLOURS[i % len(LINE_COLOURS)])
             for i, name in enumerate(series.ops)]
    return _time("Throughput per operation (completed operations/s)", "ops/s", series.times, lines, windows, marks)


def latency(series: Series, name: str, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    styles = {"p50": ("#2ca02c", False), "p95": ("#ff7f0e", False), "p99": ("#d62728", True)}
    lines = [_line(key, series.latency[name][key], colour, dash=dash) for key, (colour, dash) in styles.items()]
    return _time(f"{name}: latency p50 / p95 / p99", "ms", series.times, lines, windows, marks, points=True)


def checkouts(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    names = {"ok": "ok (2xx)", "fail": "fail (4xx)", "info": "indeterminate"}
    lines = [_line(names[kind], series.checkouts[kind], OUTCOME_COLOURS[kind], style="bar")
             for kind in ("ok", "fail", "info")]
    return _bar_chart("Checkout outcomes over time (per bucket, stacked)", "checkouts", series, lines, windows, marks,
                      stacked=True)


def users(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    lines = [_line("operations in flight (mean)", series.inflight, "#9467bd")]
    x = series.times
    if series.users is not None:
        # Locust's user count has its own timestamps: both go on the union of the two time axes,
        # each with gaps where it has no reading (the page joins the lines across them).
        x, (inflight, users_) = _union(series.times, series.inflight, *series.users)
        lines = [_line("users (Locust)", users_, "#1f77b4", style="step"),
                 _line("operations in flight (mean)", inflight, "#9467bd")]
    title = "Active users and operations in flight" if series.users is not None else "Operations in flight"
    return _time(title, "count", x, lines, windows, marks, span_gaps=True)


def errors(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    names = {"indeterminate": ("indeterminate (5xx, timeout, refused)", OUTCOME_COLOURS["info"]),
             "fail": ("definite failures (4xx)", OUTCOME_COLOURS["fail"]),
             "unexpected": ("errors: not the outcome the workload expected", OUTCOME_COLOURS["unexpected"])}
    lines = [_line(label, series.errors[key], colour, style="bar") for key, (label, colour) in names.items()]
    return _bar_chart("Errors and indeterminate operations over time (per bucket)", "operations", series, lines,
                      windows, marks, stacked=False)


def resources(res: ResourceSeries, metric: str, windows: list[dict[str, Any]],
              marks: list[tuple[float, str]]) -> Figure:
    """CPU (% of one core) or RSS (MiB) of each service, and of the load generator (dashed)."""
    lines = []
    for i, (kind, name) in enumerate(res.names):
        values = res.cpu[(kind, name)] if metric == "cpu" else [
            None if v is None else round(v / MIB, 1) for v in res.rss[(kind, name)]]
        label = name if kind == "service" else f"generator {name}"
        lines.append(_line(label, values, LINE_COLOURS[i % len(LINE_COLOURS)], dash=kind != "service"))
    if metric == "cpu":
        return _time("CPU per service (% of one core, mean per bucket)", "% of a core", res.times, lines, windows,
                     marks)
    return _time("Memory per service (resident, MiB)", "MiB", res.times, lines, windows, marks)


def bars(title: str, runs: list[str], traces: dict[str, list[float | None]], y_label: str) -> Figure:
    """A grouped bar chart across runs (for `compare`)."""
    lines = [_line(name, values, LINE_COLOURS[i % len(LINE_COLOURS)], style="bar")
             for i, (name, values) in enumerate(traces.items())]
    top = max((v for values in traces.values() for v in values if v is not None), default=0)
    return {"kind": "bars", "title": title, "y_label": y_label, "categories": runs, "x": list(range(len(runs))),
            "series": lines, "windows": [], "marks": [], "height": 280, "y_max": top}


def _union(xa: list[float], ya: list[Any], xb: list[float], yb: list[Any]) -> tuple[list[float], list[list[Any]]]:
    xs = sorted(set(xa) | set(xb))
    at = {x: i for i, x in enumerate(xs)}
    a: list[Any] = [None] * len(xs)
    b: list[Any] = [None] * len(xs)
    for x, y in zip(xa, ya, strict=True):
        a[at[x]] = y
    for x, y in zip(xb, yb, strict=True):
        b[at[x]] = y
    return xs, [a, b]
