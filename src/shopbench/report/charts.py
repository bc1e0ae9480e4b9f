"""Plotly figures as plain dicts (`{"data": [...], "layout": {...}}`), drawn by plotly.js in the page.

Plain dicts rather than `plotly.graph_objects`: nothing here needs validation at build time, and
it keeps a 1M-operation report from spending seconds in figure constructors. Every time chart
gets the run's fault windows shaded and labelled, and its phases marked.
"""

from __future__ import annotations

from typing import Any

from shopbench.report.series import Series

Figure = dict[str, Any]

FAULT_COLOURS = {"kill": "rgba(214,39,40,0.16)", "terminate": "rgba(148,103,189,0.18)",
                 "pause": "rgba(255,127,14,0.20)", "restart": "rgba(31,119,180,0.16)"}
OUTCOME_COLOURS = {"ok": "#2ca02c", "fail": "#ff7f0e", "info": "#7f7f7f", "wrong": "#d62728"}
LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")


def fault_windows(faults: list[dict[str, Any]] | None, origin: float, run_end: float) -> list[dict[str, Any]]:
    """Each fault as (x0, x1, label, colour) in seconds since the origin; an open one runs to the end."""
    windows = []
    for fault in faults or []:
        x0 = fault["start"] - origin
        x1 = (fault["end"] - origin) if fault.get("end") is not None else max(run_end, x0)
        action = str(fault.get("action") or "fault")
        service = fault.get("service") or fault.get("target") or ""
        if isinstance(service, list):
            service = ",".join(map(str, service))
        windows.append({"x0": x0, "x1": max(x1, x0), "label": f"{action} {service}".strip(),
                        "colour": FAULT_COLOURS.get(action, "rgba(140,86,75,0.18)")})
    return windows


def phase_marks(phases: list[dict[str, Any]] | None, origin: float) -> list[tuple[float, str]]:
    marks = []
    for phase in phases or []:
        start = phase.get("start") if isinstance(phase, dict) else None
        if isinstance(start, int | float):
            marks.append((round(start - origin, 3), str(phase.get("name", ""))))
    return marks


def _layout(title: str, y_title: str, windows: list[dict[str, Any]], marks: list[tuple[float, str]],
            **extra: Any) -> dict[str, Any]:
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for w in windows:
        # A fault that lasted no time (an instant restart) still gets a visible band.
        x1 = w["x1"] if w["x1"] - w["x0"] > 0.05 else w["x0"] + 0.05
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": w["x0"], "x1": x1, "y0": 0, "y1": 1,
                       "fillcolor": w["colour"], "line": {"width": 0}, "layer": "below"})
        annotations.append({"x": w["x0"], "y": 1, "xref": "x", "yref": "paper", "text": w["label"],
                            "showarrow": False, "xanchor": "left", "yanchor": "top",
                            "font": {"size": 10, "color": "#8b1a1a"}, "bgcolor": "rgba(255,255,255,0.6)"})
    for x, name in marks:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                       "line": {"width": 1, "dash": "dot", "color": "#999"}})
        annotations.append({"x": x, "y": 0, "xref": "x", "yref": "paper", "text": name, "showarrow": False,
                            "xanchor": "left", "yanchor": "bottom", "font": {"size": 9, "color": "#777"}})
    layout = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 80},
        "height": 330,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.32, "yanchor": "top", "font": {"size": 10}},
        "xaxis": {"title": {"text": "seconds since the run started"}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "shapes": shapes,
        "annotations": annotations,
        "paper_bgcolor": "white",
        "plot_bgcolor": "#fafafa",
    }
    layout.update(extra)
    return layout


def throughput(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    data = [{"type": "scatter", "mode": "lines", "name": name, "x": series.times, "y": series.throughput[name],
             "line": {"width": 1.5, "color": LINE_COLOURS[i % len(LINE_COLOURS)]}}
            for i, name in enumerate(series.ops)]
    return {"data": data, "layout": _layout("Throughput per operation (completed operations/s)", "ops/s",
                                            windows, marks, height=340)}


def latency(series: Series, name: str, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    styles = {"p50": ("#2ca02c", "solid"), "p95": ("#ff7f0e", "solid"), "p99": ("#d62728", "dot")}
    data = [{"type": "scatter", "mode": "lines+markers", "name": key, "x": series.times,
             "y": series.latency[name][key], "connectgaps": False, "marker": {"size": 3},
             "line": {"width": 1.5, "color": colour, "dash": dash}}
            for key, (colour, dash) in styles.items()]
    return {"data": data, "layout": _layout(f"{name}: latency p50 / p95 / p99", "ms", windows, marks)}


def checkouts(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    names = {"ok": "ok (2xx)", "fail": "fail (4xx)", "info": "indeterminate"}
    data = [{"type": "bar", "name": names[kind], "x": series.times, "y": series.checkouts[kind],
             "marker": {"color": OUTCOME_COLOURS[kind]}} for kind in ("ok", "fail", "info")]
    return {"data": data, "layout": _layout("Checkout outcomes over time (per bucket)", "checkouts", windows, marks,
                                            barmode="stack", bargap=0.05)}


def users(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    data = []
    if series.users is not None:
        data.append({"type": "scatter", "mode": "lines", "name": "users (Locust)", "x": series.users[0],
                     "y": series.users[1], "line": {"shape": "hv", "color": "#1f77b4", "width": 2}})
    data.append({"type": "scatter", "mode": "lines", "name": "operations in flight (mean)", "x": series.times,
                 "y": series.inflight, "line": {"color": "#9467bd", "width": 1.5}})
    title = "Active users and operations in flight" if series.users is not None else "Operations in flight"
    return {"data": data, "layout": _layout(title, "count", windows, marks)}


def errors(series: Series, windows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> Figure:
    names = {"indeterminate": ("indeterminate (5xx, timeout, refused)", OUTCOME_COLOURS["info"]),
             "fail": ("definite failures (4xx)", OUTCOME_COLOURS["fail"]),
             "wrong": ("wrong answers (not what the workload expected)", OUTCOME_COLOURS["wrong"])}
    data = [{"type": "bar", "name": label, "x": series.times, "y": series.errors[key], "marker": {"color": colour}}
            for key, (label, colour) in names.items()]
    return {"data": data, "layout": _layout("Errors and indeterminate operations over time (per bucket)",
                                            "operations", windows, marks, barmode="group", bargap=0.05)}


def bars(title: str, runs: list[str], traces: dict[str, list[float | None]], y_title: str) -> Figure:
    """A grouped bar chart across runs (for `compare`)."""
    data = [{"type": "bar", "name": name, "x": runs, "y": values, "marker": {"color": LINE_COLOURS[i % 10]}}
            for i, (name, values) in enumerate(traces.items())]
    return {"data": data, "layout": {"title": {"text": title, "font": {"size": 14}, "x": 0.01}, "height": 300,
                                     "barmode": "group", "margin": {"l": 60, "r": 20, "t": 40, "b": 80},
                                     "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
                                     "legend": {"orientation": "h", "y": -0.3}, "plot_bgcolor": "#fafafa"}}
