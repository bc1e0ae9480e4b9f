"""Faults of one plan that overlap in time: a pause fired while a killed service is still being
restarted lands on a service that is not up yet, and the recovery figures of the two mix.

Only time triggers can be compared before a run (users, rps and checkouts triggers fire when the
load says so). A kill's window runs from its firing to its restart plus RESTART_ALLOWANCE, the time a
restarted service may take to answer again (a gunicorn course shop took 6 s); a fault held until the
run ends never ends.
"""

from __future__ import annotations

import math
from typing import Any

RESTART_ALLOWANCE = 6.0
_RESTARTS = ("kill", "terminate", "restart")


def _window(trig: Any, restart_s: float) -> tuple[float, float]:
    start = trig.threshold
    if trig.action == "restart":
        return start, start + restart_s
    hold = trig.hold_time()
    if hold is None:
        return start, math.inf
    return start, start + hold + (restart_s if trig.action in _RESTARTS else 0.0)


def _what(i: int, trig: Any) -> str:
    target = ", ".join(trig.services or trig.links)
    return f"kill_triggers[{i}] ({trig.action} {target} at {trig.threshold:g} s)"


def overlapping(plan: Any, restart_s: float = RESTART_ALLOWANCE) -> list[str]:
    """One sentence per pair of time-triggered faults whose windows overlap, with the time to move to."""
    timed = [(i, t) for i, t in enumerate(plan.triggers) if t.type == "time" and t.action != "resume"]
    out = []
    for a, (i, first) in enumerate(timed):
        for j, second in timed[a + 1:]:
            (s1, e1), (s2, e2) = _window(first, restart_s), _window(second, restart_s)
            if (s1, i) > (s2, j):
                (i, first, s1, e1), (j, second, s2, e2) = (j, second, s2, e2), (i, first, s1, e1)
            if s2 >= e1:
                continue
            if e1 == math.inf:
                why = "the first is held until the run ends"
                fix = "give the first a recovery_time or duration"
            elif first.action == "restart":
                why = f"the first restarts its service, which may take up to {restart_s:g} s to answer again"
                fix = f"move the second to {e1:g} s or later"
            elif first.action in _RESTARTS:
                why = (f"the first's service is restarted {e1 - s1 - restart_s:g} s after it and may take up to "
                       f"{restart_s:g} s more to answer again")
                fix = f"move the second to {e1:g} s or later"
            else:
                why = f"the first is held {e1 - s1:g} s"
                fix = f"move the second to {e1:g} s or later"
            out.append(f"{_what(j, second)} overlaps {_what(i, first)}: {why}, so the second may land on a service "
                       f"that is not up yet and their recovery figures mix; {fix}")
    return out
