"""The terminal side of a run: progress bars per phase while it runs, a Rich summary after.

Progress goes to stderr, so `--json` keeps stdout for the verdict alone. The summary is meant to be
read in a minute: for a stress run, per operation its requests, req/s, failures and exact
p50/p95/p99 (from the history, through latency.py, not Locust's rounded figures) and the error
causes grouped (status and message with ids and numbers masked, so one cause is one row); for
every run that sampled them, peak and mean resources per service and per generator process.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shopbench.checker.verdict import UNKNOWN, VALID, result_of
from shopbench.history import SETUP_PROCESSES, iter_history, unexpected
from shopbench.latency import EXACT, op_latency_ms, summarize
from shopbench.monitor import LoadMonitor
from shopbench.report.notes import closed_by_peer, gateway_notes, plural, refusal_notes, seed_note

MAX_ANOMALY_ROWS = 20
MAX_CAUSE_ROWS = 12


class PhaseProgress:
    """One bar per phase: `advance = progress.start("burst", total)`, then `advance(1)` per step.
    With `watch(monitor)` the running bar also shows the load's live figures."""

    def __init__(self, console: Console | None = None, enabled: bool = True):
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.monitor: LoadMonitor | None = None
        self._progress: Any = None  # a rich Progress while a terminal shows the bars
        self._task: Any = None

    def watch(self, monitor: LoadMonitor) -> None:
        self.monitor = monitor

    def __enter__(self) -> PhaseProgress:
        if self.enabled:  # rich.progress only for a terminal: a log gets plain lines (see `start`)
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description:<10}"), BarColumn(bar_width=20),
                                      MofNCompleteColumn(), TimeElapsedColumn(), _monitor_column(self),
                                      console=self.console, transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def start(self, name: str, total: int | None) -> Callable[[int], None]:
        progress = self._progress
        if progress is None:
            # No terminal (a CI log, a pipe): one line per phase keeps the log readable.
            self.console.print(f"{name} …" + (f" ({total:,})" if total else ""), highlight=False)
            return _ignore
        if self._task is not None:
            task = progress.tasks[-1]
            if task.total is not None and task.completed < task.total:
                progress.update(self._task, total=task.completed)
        task_id = progress.add_task(name, total=total)
        self._task = task_id

        def advance(n: int = 1) -> None:
            progress.advance(task_id, n)

        return advance


def _ignore(n: int = 1) -> None:
    pass


def _monitor_column(owner: PhaseProgress) -> Any:
    """Live figures of the load beside the running phase's bar: users, ops/s, failures, faults."""
    from rich.progress import ProgressColumn, Task

    class MonitorColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            monitor = owner.monitor
            if monitor is None or task.finished or task.id != owner._task:
                return Text("")
            s = monitor.snapshot()
            return Text(f"{s['users']} users · {s['rps']:.0f} ops/s · {s['failures']} failed · "
                        f"{s['indeterminate']} indeterminate · {s['faults_fired']} faults", style="dim")

    return MonitorColumn()


def _fmt_interval(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]) if value[0] == value[1] else f"{value[0]} … {value[1]}"
    return str(value)


# -- the stress summary: operations and error causes, from the history ---------------------------
_IDS = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|\b[0-9a-fA-F]{16,}\b|\d+")


def error_cause(status: int | None, error: str | None) -> str:
    """What went wrong, without what it happened to: uuids, long hex ids and numbers masked as `#`,
    so 2,732 404s on 2,732 different orders are one cause."""
    text = _IDS.sub("#", " ".join((error or "").split()))[:90]
    head = "no answer" if status is None else str(status)
    return f"{head}: {text}" if text else head


@dataclass
class OpFigures:
    name: str
    requests: int = 0
    failures: int = 0  # outcomes other than the one the workload expected (history.unexpected)
    refused: int = 0  # answered 4xx, expected or not
    refused_expected: int = 0  # answered 4xx where the workload expected (or accepted) a refusal
    latencies: array = field(default_factory=lambda: array("d"))  # ms; 8 bytes each, for 10 M operations


@dataclass
class StressFigures:
    ops: dict[str, OpFigures]
    duration: float  # first invocation to last completion of the load, seconds
    causes: Counter  # (operation, cause) -> failures
    closed: Counter = field(default_factory=Counter)  # operation -> indeterminate: the peer closed the connection

    def rps(self, n: int) -> float:
        return n / self.duration if self.duration > 0 else 0.0


def stress_figures(ops: Iterable[dict[str, Any]], skip_processes: Iterable[str] = SETUP_PROCESSES) -> StressFigures:
    """One pass over a history: the load's operations (set-up and final-state reads left out)."""
    skip = frozenset(skip_processes)
    table: dict[str, OpFigures] = {}
    causes: Counter = Counter()
    closed: Counter = Counter()
    first = last = None
    for op in ops:
        if op.get("process") in skip:
            continue
        f = op["f"]
        figures = table.get(f)
        if figures is None:
            figures = table[f] = OpFigures(f)
        figures.requests += 1
        ms = op_latency_ms(op)
        figures.latencies.append(ms)
        wrong = unexpected(op["type"], op.get("expect"), op.get("scenario"))
        if wrong:
            figures.failures += 1
            causes[(f, error_cause(op.get("status"), op.get("error")))] += 1
        if op["type"] == "fail" and (op.get("status") or 0) >= 400:
            figures.refused += 1
            figures.refused_expected += not wrong
        elif op["type"] == "info" and closed_by_peer(op.get("status"), op.get("error")):
            closed[f] += 1
        end = op["wall"] + ms / 1000.0
        first = op["wall"] if first is None or op["wall"] < first else first
        last = end if last is None or end > last else last
    duration = (last - first) if first is not None and last is not None else 0.0
    return StressFigures(table, duration, causes, closed)


def _ms(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:,.1f}"


def print_operations(console: Console, figures: StressFigures) -> None:
    if not figures.ops:
        return
    rows = []
    everything: array = array("d")
    total = failed = 0
    for op in sorted(figures.ops.values(), key=lambda o: -o.requests):
        everything.extend(op.latencies)
        total += op.requests
        failed += op.failures
        rows.append((op.name, op.requests, op.failures, summarize(op.latencies)))
    rows.append(("[bold]all[/]", total, failed, summarize(everything)))
    methods = {summary["method"] for *_, summary in rows}
    how = "exact percentiles" if methods == {EXACT} else "percentiles exact, or HDR above 2,000,000 samples"
    table = Table("operation", "requests", "req/s", "failures", "p50 ms", "p95 ms", "p99 ms",
                  title=f"operations over {figures.duration:.1f} s ({how}, from the history)", title_justify="left")
    for name, requests, failures, summary in rows:
        table.add_row(name, f"{requests:,}", f"{figures.rps(requests):,.1f}", _failures(failures, requests),
                      _ms(summary, "p50"), _ms(summary, "p95"), _ms(summary, "p99"))
    console.print(table)
    for line in refusal_notes(figures):
        console.print(line, highlight=False)
    if figures.causes:
        causes = Table("operation", "cause (ids masked as #)", "count", title="failures by cause", title_justify="left")
        ranked = figures.causes.most_common()
        for (f, cause), n in ranked[:MAX_CAUSE_ROWS]:
            causes.add_row(f, cause, f"{n:,}")
        console.print(causes, highlight=False)
        if len(ranked) > MAX_CAUSE_ROWS:
            console.print(f"… and {len(ranked) - MAX_CAUSE_ROWS} more causes, see ops.jsonl")


def _failures(n: int, of: int) -> str:
    return "0" if not n else f"[red]{n:,}[/] ({n / of:.1%})"


def _mib(value: Any) -> str:
    return "-" if value is None else f"{value / (1 << 20):,.0f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_resources(console: Console, summary: dict[str, Any] | None) -> None:
    """Peak and mean per service and generator process (CPU in % of one core, RSS in MiB)."""
    if not summary or not (summary.get("services") or summary.get("generator")):
        return
    table = Table("", "CPU % mean / peak", "RSS MiB mean / peak", "fds", "threads", "TCP", "up / samples",
                  title="resources (CPU: % of one core; fds, threads, TCP: peak)", title_justify="left")
    for kind in ("services", "generator"):
        for name, s in (summary.get(kind) or {}).items():
            label = name if kind == "services" else f"generator {name}"
            restarts = len(s.get("pids") or ()) - 1
            up = f"{s.get('up_samples')}/{s.get('samples')}"
            if restarts > 0:
                up += f", {restarts} restart{'s' * (restarts > 1)}"
            table.add_row(label, f"{_pct(s.get('cpu_mean'))} / {_pct(s.get('cpu_peak'))}",
                          f"{_mib(s.get('rss_mean'))} / {_mib(s.get('rss_peak'))}",
                          _pct(s.get("fds_peak")), _pct(s.get("threads_peak")), _pct(s.get("conns_peak")), up)
    console.print(table)


def print_summary(console: Console, verdict: dict[str, Any], manifest: dict[str, Any] | None = None,
                  run_path: str | None = None) -> None:
    """Phases, the load's operations and resources, checkout outcomes, money and stock totals, the
    seed's numbers, and the anomalies."""
    if manifest and manifest.get("phases"):
        phases = Table("phase", "seconds", title="phases", title_justify="left")
        for phase in manifest["phases"]:
            end = phase.get("end")
            secs = f"{end - phase['start']:.2f}" if end else "unfinished"
            phases.add_row(phase["name"], secs)
        console.print(phases)
    kind = (manifest or {}).get("kind")
    if kind is None and run_path and (Path(run_path) / "run.json").is_file():  # `shopbench check` passes none
        import json

        try:
            kind = json.loads((Path(run_path) / "run.json").read_text()).get("kind")
        except (OSError, ValueError):
            kind = None
    figures = None
    if run_path and kind in ("stress", "consistency") and (Path(run_path) / "ops.jsonl").is_file():
        figures = stress_figures(iter_history(Path(run_path) / "ops.jsonl"))
        if kind == "stress":
            print_operations(console, figures)
    resources: dict[str, Any] | None = None
    if run_path:
        from shopbench.resources import run_summary

        resources = run_summary(run_path, verdict)
        print_resources(console, resources)

    fit = ((manifest or {}).get("config") or {}).get("gateway_fit")
    if fit:
        from shopbench.doctor.gateway import fitted_sentence

        console.print(f"[yellow]burst:[/] {fitted_sentence(fit)}", highlight=False)
    co = verdict.get("checkouts") or {}
    outcomes = Table("checkouts", "count", title="outcomes", title_justify="left")
    for key, label in (("ok", "2xx (ok)"), ("fail", "4xx (fail)"), ("info", "indeterminate"),
                       ("info_resolved_paid", "  → resolved paid"), ("info_resolved_unpaid", "  → resolved unpaid"),
                       ("info_unresolved", "  → unresolved")):
        if key in co:
            outcomes.add_row(label, str(co[key]))
    console.print(outcomes)

    totals = verdict.get("totals") or {}
    if totals:
        table = Table("", "put in", "paid orders", "direct", "expected", "actual", title="ledger", title_justify="left")
        for name in ("money", "stock"):
            t = totals.get(name) or {}
            if t:
                table.add_row(name, _fmt_interval(t.get("in")), str(t.get("out_paid_orders")),
                              _fmt_interval(t.get("out_direct")), _fmt_interval(t.get("expected")),
                              str(t.get("actual")))
        console.print(table)

    seed = verdict.get("seed_metrics")
    if seed:
        table = Table("seed 000's numbers", "stock", "payment", title_justify="left")
        table.add_row("from the client log", str(seed["stock_log"]), str(seed["payment_log"]))
        table.add_row("from the database", str(seed["stock_db"]), str(seed["payment_db"]))
        console.print(table)
        console.print(seed_note(verdict), highlight=False)

    anomalies = verdict.get("anomalies") or []
    count = verdict.get("anomaly_count", len(anomalies))
    if anomalies:
        table = Table("type", "explanation", title=f"anomalies ({count:,})", title_justify="left", show_lines=False)
        for a in anomalies[:MAX_ANOMALY_ROWS]:
            table.add_row(a["type"], a.get("message", ""))
        console.print(table)
        if count > MAX_ANOMALY_ROWS:
            console.print(f"… and {count - MAX_ANOMALY_ROWS} more, see verdict.json")
    for line in gateway_notes(figures, bool(verdict.get("faults"))) if figures else ():
        console.print(line, highlight=False)
    _print_slos(console, verdict.get("slo"))
    _print_faults(console, verdict.get("faults"))
    unresolved = verdict.get("unresolved") or {}
    n_unresolved = sum(len(unresolved.get(k) or ()) for k in ("orders", "users", "items"))
    if n_unresolved:
        counts = ", ".join(plural(len(unresolved.get(k) or ()), k[:-1]) for k in ("orders", "users", "items"))
        console.print(f"unresolved: {counts} could not be read or have no baseline (see verdict.json)")
    for skipped in verdict.get("faults_not_fired") or ():
        if skipped["message"] not in (verdict.get("unknown_reasons") or ()):  # shown there, as UNKNOWN
            console.print(f"[yellow]warning:[/] {skipped['message']}")
    warnings = list(verdict.get("warnings") or ())
    warnings += [w for w in (resources or {}).get("warnings") or () if w not in warnings]  # a saturated generator
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for name in verdict.get("failed_sections") or ():
        console.print(f"[red]section {name} failed[/] (see verdict.json)")
    result = result_of(verdict)
    if result == VALID:
        console.print("[bold green]VALID[/]: no money or stock was lost.")
    elif result == UNKNOWN:
        reasons = verdict.get("unknown_reasons") or []
        console.print("[bold yellow]UNKNOWN[/]: the checks could not run on complete data "
                      f"({plural(len(reasons), 'reason')}):")
        for reason in reasons:
            console.print(f"  - {reason}")
    else:
        console.print(f"[bold red]INVALID[/]: {plural(count, 'anomaly', 'anomalies')}.")
        for reason in verdict.get("unknown_reasons") or ():
            console.print(f"  [yellow]also incomplete:[/] {reason}")
    if run_path:
        console.print(f"run directory: {run_path}")
        report = Path(run_path) / "report.html"
        if report.exists():
            console.print(f"report: {report}")


def _print_slos(console: Console, slo: Any) -> None:
    results = (slo or {}).get("results") if isinstance(slo, dict) else None
    if not results:
        return
    table = Table("objective", "measured", "", title="SLOs", title_justify="left")
    for r in results:
        value = r.get("measured")
        measured = f"{value:.2f}" if isinstance(value, float) else str(value)
        measured = f"{measured} {r.get('unit') or ''}".strip()
        table.add_row(r.get("slo", "?"), measured, "[green]pass[/]" if r.get("passed") else
                      "[yellow]not judged[/]" if r.get("passed") is None else "[red]FAIL[/]")
    console.print(table)


def _print_faults(console: Console, faults: Any) -> None:
    if not faults:
        return
    table = Table("fault", "service", "held s", "healthy after s", "answers again s", "throughput back s",
                  "during: ok/fail/info", title="faults and recovery", title_justify="left")
    def num(f: dict[str, Any], key: str) -> str:
        value = f.get(key)
        return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)

    for f in faults:
        during = f.get("during") or {}
        # Throughput is measured in buckets (0.83 s in one run) and can look back before the first
        # answer; it cannot be, so it is shown no earlier than "answers again".
        back = f.get("throughput_recovery_s")
        answers = f.get("time_to_answer_s")
        if isinstance(back, int | float) and isinstance(answers, int | float) and back < answers:
            f = {**f, "throughput_recovery_s": answers}
        table.add_row(str(f.get("action", "?")), str(f.get("service", "?")), num(f, "duration_s"),
                      num(f, "restore_s"), num(f, "time_to_answer_s"), num(f, "throughput_recovery_s"),
                      f"{during.get('ok', '-')}/{during.get('fail', '-')}/{during.get('indeterminate', '-')}")
    console.print(table)
    for i, f in enumerate(faults):
        if f.get("note"):
            console.print(f"[yellow]fault {f.get('fault', i)}:[/] {f['note']}", highlight=False)
