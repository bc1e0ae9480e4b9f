"""Random fault plans, and the smaller plans a failing one shrinks to (issue 22.2).

A plan is a `kill_config.json` as a dict (the format of `nemesis/config.py`), so whatever explore
finds runs unchanged with `shopbench consistency --faults plan.json`. Faults fire on `checkouts`
triggers (completed checkouts >= N): a point in the workload rather than in wall-clock time, so a
plan lands at the same place of the burst on a slow machine and on a fast one, and scales with the
workload when the shrinker lowers it.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shopbench.explore.trial import Load

PROCESS_KINDS = ("kill", "pause")
NETWORK_KINDS = ("partition", "blackhole", "reset", "delay")
DELAYS_MS = (200, 1000, 2500)  # the last past the reference shop's 2 s per try of a saga step
MIN_HOLD = 0.1


@dataclass(frozen=True)
class Space:
    """What a random plan may hit, and how hard."""

    services: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    max_faults: int = 3
    max_hold: float = 3.0

    def kinds(self) -> list[str]:
        return [*(PROCESS_KINDS if self.services else ()), *(NETWORK_KINDS if self.links else ())]


def hold_key(trigger: dict[str, Any]) -> str:
    """Which field says how long a fault lasts: a kill's `recovery_time`, every other's `duration`."""
    return "recovery_time" if trigger["action"] == "kill" else "duration"


def draw_fault(rng: random.Random, space: Space, load: Load) -> dict[str, Any]:
    action = rng.choice(space.kinds())
    trigger: dict[str, Any] = {"type": "checkouts", "threshold": rng.randint(1, max(1, int(load.orders * 0.8))),
                               "action": action}
    if action in PROCESS_KINDS:
        trigger["services"] = [rng.choice(space.services)]
    else:
        trigger["links"] = [rng.choice(space.links)]
        if action == "delay":
            trigger["ms"] = rng.choice(DELAYS_MS)
    trigger[hold_key(trigger)] = round(rng.uniform(0.2, space.max_hold), 2)
    return trigger


def draw_plan(rng: random.Random, space: Space, load: Load) -> dict[str, Any]:
    """One to `max_faults` faults, each of a random kind, target, point of the burst and length."""
    if not space.kinds():
        raise ValueError("nothing to fault: no services and no links")
    n = rng.randint(1, space.max_faults)
    triggers = sorted((draw_fault(rng, space, load) for _ in range(n)), key=lambda t: t["threshold"])
    return {"kill_triggers": triggers}


def size(plan: dict[str, Any], load: Load) -> tuple[float, ...]:
    """Smaller is simpler: fewer faults, shorter ones, then a lighter load, then earlier faults."""
    triggers = plan.get("kill_triggers") or []
    return (len(triggers), round(sum(t.get(hold_key(t)) or 0 for t in triggers), 3), load.orders, load.concurrency,
            sum(t["threshold"] for t in triggers))


@dataclass(frozen=True)
class Candidate:
    what: str  # one line: what this step of the shrink changed
    plan: dict[str, Any]
    load: Load


def smaller(plan: dict[str, Any], load: Load) -> Iterator[Candidate]:
    """Simpler variants of a failing (plan, load), the biggest simplifications first: drop a fault,
    lower the load, shorten a fault (to the shortest at once, else by half), move one earlier (to
    the first checkout at once, else by half)."""
    triggers = plan.get("kill_triggers") or []
    if len(triggers) > 1:
        for i, t in enumerate(triggers):
            yield Candidate(f"drop fault {i} ({describe(t)})", _with(triggers[:i] + triggers[i + 1:]), load)
    for lighter in load.lighter():
        scaled = [{**t, "threshold": min(t["threshold"], max(1, int(lighter.orders * 0.8)))} for t in triggers]
        yield Candidate(f"lower the load to {lighter.orders} orders, concurrency {lighter.concurrency}",
                        _with(scaled), lighter)
    for i, t in enumerate(triggers):
        key = hold_key(t)
        hold = t.get(key) or 0
        for shorter in sorted({MIN_HOLD, round(hold / 2, 2)}):
            if MIN_HOLD <= shorter < hold:
                yield Candidate(f"shorten fault {i} to {shorter:g} s", _changed(triggers, i, {key: shorter}), load)
    for i, t in enumerate(triggers):
        for earlier in sorted({1, int(t["threshold"] // 2)}):
            if 1 <= earlier < t["threshold"]:
                yield Candidate(f"move fault {i} to checkout {earlier}",
                                _changed(triggers, i, {"threshold": earlier}), load)


def _with(triggers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"kill_triggers": [copy.deepcopy(t) for t in triggers]}


def _changed(triggers: Sequence[dict[str, Any]], i: int, update: dict[str, Any]) -> dict[str, Any]:
    out = _with(triggers)
    out["kill_triggers"][i].update(update)
    return out


def describe(trigger: dict[str, Any]) -> str:
    """`kill order at checkout 40 for 1.5 s`, one fault in words."""
    target = ", ".join(trigger.get("services") or trigger.get("links") or [])
    how = f" {trigger['ms']:g} ms" if trigger.get("action") == "delay" and trigger.get("ms") else ""
    hold = trigger.get(hold_key(trigger))
    unit = {"checkouts": "checkout ", "time": "second "}.get(trigger["type"], f"{trigger['type']} ")
    return (f"{trigger['action']}{how} {target} at {unit}{trigger['threshold']:g}"
            + (f" for {hold:g} s" if hold else ""))
