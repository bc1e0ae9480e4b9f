"""Live progress: what a person sees during a load, on a terminal and in a CI log."""

from __future__ import annotations

import io
import time

from rich.console import Console

from shopbench.history import Op
from shopbench.monitor import LoadMonitor
from shopbench.report.progress import LiveProgress
from shopbench.report.terminal import PhaseProgress


def feed(monitor: LoadMonitor, n: int, kind: str = "ok", f: str = "checkout") -> None:
    now = time.monotonic()
    for i in range(n):
        monitor(Op(i, "p", f, {}, None, kind, 200, None, None, time.time(), now, now))


def test_terminal_view_shows_phase_users_rps_failures_faults_and_time_left():
    monitor = LoadMonitor()
    monitor.users = 25
    feed(monitor, 40)
    feed(monitor, 3, kind="info")
    monitor.faults_fired = 1
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    with LiveProgress(monitor, phase="stress", duration=30, console=console, refresh=0.1,
                      active_faults=lambda: ["pause stock"]) as live:
        time.sleep(0.3)
        live.set_phase("settle")
    screen = buf.getvalue()
    for text in ("stress", "settle", "remaining", "users", "ops/s", "failures", "indeterminate", "faults fired",
                 "under fault: pause stock", "25", "43"):
        assert text in screen, text


def test_log_mode_prints_plain_lines_and_survives_a_broken_fault_source():
    monitor = LoadMonitor()
    feed(monitor, 5, kind="fail")

    def broken() -> list[str]:
        raise RuntimeError("nemesis gone")

    buf = io.StringIO()
    console = Console(file=buf, width=300)
    with LiveProgress(monitor, phase="burst", console=console, log_every=0.1, refresh=0.05, active_faults=broken):
        time.sleep(0.35)
    lines = [line for line in buf.getvalue().splitlines() if line]
    assert len(lines) >= 3 and all(line.startswith("burst:") for line in lines)
    assert "failures 5" in lines[-1] and "checkouts 0/5/0" in lines[-1] and "\x1b[" not in buf.getvalue()


def test_remaining_time_counts_down_and_stops_at_zero():
    live = LiveProgress(LoadMonitor(), phase="load", duration=0.05, console=Console(file=io.StringIO()))
    assert 0 < live.snapshot()["remaining"] <= 0.05
    time.sleep(0.1)
    assert live.snapshot()["remaining"] == 0.0
    live.set_phase("settle")
    assert live.snapshot()["remaining"] is None and live.snapshot()["phase"] == "settle"


def test_phase_progress_shows_the_watched_monitor_beside_the_running_bar():
    monitor = LoadMonitor()
    monitor.users, monitor.faults_fired = 7, 1
    monitor(Op(0, "b", "checkout", {}, None, "info", None, None, "timeout", 0.0, 0.0, 0.1))
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    with PhaseProgress(console) as progress:
        progress.watch(monitor)
        advance = progress.start("burst", 10)
        advance(3)
        progress._progress.refresh()
    text = out.getvalue()
    assert "7 users" in text and "1 indeterminate" in text and "1 faults" in text


def test_phase_progress_without_a_terminal_prints_one_line_per_phase():
    out = io.StringIO()
    with PhaseProgress(Console(file=out), enabled=False) as progress:
        progress.start("populate", 100)(100)
        progress.start("burst", 1000)
    assert out.getvalue().splitlines() == ["populate … (100)", "burst … (1,000)"]
