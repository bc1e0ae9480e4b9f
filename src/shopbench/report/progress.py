"""Live progress of a load phase in the terminal, read from a `LoadMonitor`.

    with LiveProgress(monitor, phase="stress", duration=60) as live:
        ...                      # run the load; live.set_phase("settle") when it moves on

On a terminal it is a Rich live panel redrawn a few times a second; when output goes to a file
or a CI log it prints one plain line every `log_every` seconds instead, so logs stay readable.
Drawing happens on a background thread (a greenlet once Locust has monkey-patched), which only
reads the monitor's counters: the load's hot path never waits for the terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from shopbench.monitor import LoadMonitor


class LiveProgress:
    def __init__(
        self,
        monitor: LoadMonitor,
        *,
        phase: str = "load",
        duration: float | None = None,
        console: Console | None = None,
        refresh: float = 0.5,
        log_every: float = 10.0,
        active_faults: Callable[[], list[str]] | None = None,
        lines: bool | None = None,
    ):
        """`lines` True forces one plain line every `log_every` seconds even on a terminal (for runs
        that share the terminal with another program's log output, such as Locust's); None picks
        the live panel on a terminal and lines elsewhere."""
        self.monitor = monitor
        self.phase = phase
        self.duration = duration
        self.console = console or Console(stderr=True)
        self.refresh = refresh
        self.log_every = log_every
        self.active_faults = active_faults
        self.lines = (not self.console.is_terminal) if lines is None else lines
        self.started = time.monotonic()
        self._phase_started = self.started
        self._live: Live | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_phase(self, phase: str, duration: float | None = None) -> None:
        """Move on to another phase; elapsed and remaining restart from here."""
        self.phase = phase
        self.duration = duration
        self._phase_started = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        snap: dict[str, Any] = dict(self.monitor.snapshot())
        elapsed = now - self._phase_started
        snap.update(phase=self.phase, elapsed=elapsed, total_elapsed=now - self.started,
                    remaining=None if self.duration is None else max(self.duration - elapsed, 0.0))
        faults: list[str] = []
        if self.active_faults is not None:
            try:
                faults = list(self.active_faults())
            except Exception:  # a display must never break the run it shows
                faults = []
        snap["active_faults"] = faults
        return snap

    def line(self) -> str:
        s = self.snapshot()
        remaining = "" if s["remaining"] is None else f", {s['remaining']:.0f} s left"
        faults = f" [{', '.join(s['active_faults'])}]" if s["active_faults"] else ""
        return (f"{s['phase']}: {s['elapsed']:.0f} s{remaining} | users {s['users']} | {s['rps']:.1f} ops/s | "
                f"{s['total']} ops | failures {s['failures']} | indeterminate {s['indeterminate']} | "
                f"checkouts {s['checkouts_ok']}/{s['checkouts_fail']}/{s['checkouts_info']} ok/fail/info | "
                f"faults fired {s['faults_fired']}{faults}"
                + (f" | dropped arrivals {s['dropped']}" if s.get("dropped") else ""))

    def render(self) -> Group:
        s = self.snapshot()
        head = Text.assemble(("● ", "bold cyan"), (s["phase"], "bold"), f"   elapsed {s['elapsed']:.1f} s")
        parts: list[Any] = []
        if s["remaining"] is not None:
            head.append(f"   remaining {s['remaining']:.1f} s")
            total = max(float(self.duration or 0.0), 0.001)
            bar = Table.grid()  # a bare ProgressBar ends no line; a grid row does
            bar.add_row(ProgressBar(total=total, completed=min(s["elapsed"], total), width=60))
            parts.append(bar)
        grid = Table.grid(padding=(0, 3))
        for _ in range(6):
            grid.add_column(justify="right")
        grid.add_row("users", "ops/s", "operations", "failures", "indeterminate", "faults fired")
        grid.add_row(
            Text(str(s["users"]), style="bold"), Text(f"{s['rps']:.1f}", style="bold"), Text(f"{s['total']:,}"),
            Text(str(s["failures"]), style="bold red" if s["failures"] else ""),
            Text(str(s["indeterminate"]), style="yellow" if s["indeterminate"] else ""),
            Text(str(s["faults_fired"]), style="magenta" if s["faults_fired"] else ""))
        checkouts = Text(f"checkouts  ok {s['checkouts_ok']:,}  fail {s['checkouts_fail']:,}  "
                         f"indeterminate {s['checkouts_info']:,}", style="dim")
        lines: list[Any] = [head, *parts, grid, checkouts]
        if s["active_faults"]:
            lines.append(Text("under fault: " + ", ".join(s["active_faults"]), style="bold magenta"))
        return Group(*lines)

    def _log_loop(self) -> None:
        next_at = time.monotonic() + self.log_every
        while not self._stop.wait(max(0.05, min(self.refresh, next_at - time.monotonic()))):
            if time.monotonic() >= next_at:
                self.console.print(self.line(), highlight=False, markup=False, soft_wrap=True)
                next_at = time.monotonic() + self.log_every

    def __enter__(self) -> LiveProgress:
        self.started = self._phase_started = time.monotonic()
        if not self.lines:
            self._live = Live(get_renderable=self.render, console=self.console, transient=False,
                              refresh_per_second=max(1.0, 1.0 / self.refresh))
            self._live.__enter__()
        else:
            self.console.print(self.line(), highlight=False, markup=False, soft_wrap=True)
            self._thread = threading.Thread(target=self._log_loop, name="shopbench-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
            self.console.print(self.line(), highlight=False, markup=False, soft_wrap=True)
