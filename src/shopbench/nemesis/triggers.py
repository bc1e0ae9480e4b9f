"""When a trigger fires: its reading of the live load, compared with its threshold.

All four readings come from `shopbench.monitor.LoadMonitor` (or anything with the same fields),
except `time`, which is measured from the moment the load started, as the nemesis was told it.
"""

from __future__ import annotations

from typing import Protocol

from shopbench.nemesis.config import Trigger


class LoadView(Protocol):
    users: int

    def rps(self) -> float: ...

    @property
    def completed_checkouts(self) -> int: ...


def reading(kind: str, monitor: LoadView | None, elapsed: float) -> float:
    """The current value a trigger of type `kind` compares with its threshold."""
    if kind == "time":
        return elapsed
    if monitor is None:
        # Without a monitor only time triggers can fire; the nemesis refuses such a plan up front.
        return float("-inf")
    if kind == "users":
        return float(monitor.users)
    if kind == "rps":
        return float(monitor.rps())
    if kind == "checkouts":
        return float(monitor.completed_checkouts)
    raise ValueError(f"unknown trigger type {kind!r}")


def is_due(trigger: Trigger, monitor: LoadView | None, elapsed: float) -> tuple[bool, float]:
    """(fires now?, the reading it was judged on). Every type fires at reading >= threshold."""
    value = reading(trigger.type, monitor, elapsed)
    return value >= trigger.threshold, value
