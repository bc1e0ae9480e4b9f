"""Random schedules, then shrink (issue 22.2): draw fault plans from a seed and run each under a
small load; on the first INVALID, shrink the plan to the smallest one that still fails in at least
`need` of `tries` runs, then say how often it reproduces.

Jepsen draws random schedules and never shrinks them; Hypothesis shrinks an input greedily, one
simplification at a time, keeping it only while the test still fails. Both, here: the test is a
trial (trial.py), the simplifications are schedule.smaller's, and because a fault lands in a race,
"still fails" is a frequency, not one run.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopbench.errors import UsageError
from shopbench.explore.schedule import Candidate, Space, draw_plan, size, smaller
from shopbench.explore.trial import Load, Trial, TrialRunner


@dataclass
class Budget:
    """How long an exploration may go on: seconds, trials, or both (the first reached ends it)."""

    seconds: float | None = None
    trials: int | None = None
    started: float = field(default_factory=time.monotonic)

    def left(self, trials_run: int) -> bool:
        if self.seconds is not None and time.monotonic() - self.started >= self.seconds:
            return False
        return self.trials is None or trials_run < self.trials


_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> Budget:
    """`5m`, `90s`, `1h` (time) or `40` (trials)."""
    value = text.strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh])", value)
    if m and float(m.group(1)) > 0:
        return Budget(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    if value.isdigit() and int(value) > 0:
        return Budget(trials=int(value))
    raise UsageError(f"--budget {text!r}: give a time (90s, 5m, 1h) or a number of trials (40).")


STEP_BACKS = 2


@dataclass
class Failure:
    """A failing plan, shrunk: the smallest (plan, load) found and how often it fails."""

    plan: dict[str, Any]
    load: Load
    found_by: int  # the trial that first failed
    original: dict[str, Any]
    steps: list[str]
    hits: int  # of `tries` runs of the smallest plan, how many were INVALID
    tries: int
    trial: Trial  # one INVALID run of the smallest plan (its run directory, the ledger's explanation)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Exploration:
    """What an exploration ran and found; `covered` when every trial it set out to run got a verdict."""

    mode: str
    trials: list[Trial] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    covered: bool = False
    space: dict[str, Any] = field(default_factory=dict)  # what it set out to cover, and what it reached
    notes: list[str] = field(default_factory=list)


def reproduce(runner: TrialRunner, plan: dict[str, Any], load: Load, label: str, need: int, tries: int,
              into: list[Trial]) -> tuple[int, Trial | None]:
    """Run (plan, load) up to `tries` times, stopping as soon as `need` failures are reached or can
    no longer be; (failures, one failing trial)."""
    hits, failing = 0, None
    for n in range(tries):
        if hits >= need or hits + (tries - n) < need:
            break
        trial = runner.run(plan, load, label)
        into.append(trial)
        if trial.result == "invalid":
            hits, failing = hits + 1, trial
    return hits, failing


def shrink(runner: TrialRunner, failing: Trial, *, need: int, tries: int, confirm: int, max_trials: int,
           into: list[Trial], echo: Callable[[str], None] | None = None) -> Failure:
    """Greedy: take the first simpler candidate that still fails `need` of `tries` times, start over
    from it; stop when none does or `max_trials` shrink trials are spent. Then run the smallest
    plan `confirm` times."""
    plan, load = failing.plan, failing.load
    steps: list[str] = []
    witness = failing
    path: list[tuple[dict[str, Any], Load, Trial]] = [(plan, load, failing)]  # every plan kept, in order
    start = len(into)
    progress = True
    while progress and len(into) - start < max_trials:
        progress = False
        for cand in smaller(plan, load):
            if len(into) - start >= max_trials:
                break
            if size(cand.plan, cand.load) >= size(plan, load):
                continue
            hits, trial = reproduce(runner, cand.plan, cand.load, "shrink", need, tries, into)
            if hits >= need and trial is not None:
                plan, load, witness = cand.plan, cand.load, trial
                steps.append(cand.what)
                path.append((plan, load, trial))
                if echo is not None:
                    echo(f"shrink: {cand.what} (still fails {hits} of {tries})")
                progress = True
                break
    # The last shrink steps may have reached the edge of what reproduces (2 of 3 by luck): when the
    # smallest plan confirms below need/tries, step back along the path, at most STEP_BACKS times.
    best: Failure | None = None
    for back in range(min(STEP_BACKS, len(path) - 1) + 1):
        plan, load, kept = *path[-1 - back][:2], steps[:len(steps) - back]
        hits, witness = 0, path[-1 - back][2]
        for _ in range(confirm):
            trial = runner.run(plan, load, "confirm")
            into.append(trial)
            if trial.result == "invalid":
                hits, witness = hits + 1, trial
        failure = Failure(plan, load, failing.index, failing.plan, kept, hits, confirm, witness)
        if best is None or hits > best.hits:
            best = failure
        if hits * tries >= need * confirm:
            break
        if echo is not None and back < min(STEP_BACKS, len(path) - 1):
            echo(f"shrink: the smallest plan failed only {hits} of {confirm}; stepping back one shrink step")
    assert best is not None
    return best


def random_search(runner: TrialRunner, space: Space, load: Load, *, seed: int, budget: Budget, need: int = 2,
                  tries: int = 3, confirm: int = 10, shrink_trials: int = 40,
                  echo: Callable[[str], None] | None = None) -> Exploration:
    """Baseline first (no faults: a failure there needs no fault to show), then random plans until
    the budget ends or one fails; that one is shrunk."""
    rng = random.Random(seed)
    found = Exploration("random", space={"plans_drawn": 0, "plans_judged": 0, "kinds": space.kinds(),
                                         "services": list(space.services), "links": list(space.links)})
    baseline = runner.run({"kill_triggers": []}, load, "baseline")
    found.trials.append(baseline)
    if baseline.result == "error":
        found.notes.append(f"the fault-free baseline could not run: {baseline.error}")
        return found
    if baseline.result == "invalid":
        found.failures.append(Failure(baseline.plan, load, baseline.index, baseline.plan, [], 1, 1, baseline))
        found.notes.append("the shop lost money or stock without any fault")
        return found
    unjudged = 0
    while budget.left(len(found.trials)):
        plan = draw_plan(rng, space, load)
        found.space["plans_drawn"] += 1
        trial = runner.run(plan, load, "random")
        found.trials.append(trial)
        if trial.result in ("valid", "invalid"):
            found.space["plans_judged"] += 1
        else:
            unjudged += 1
        if trial.result == "invalid":
            if echo is not None:
                echo(f"trial {trial.index} failed; shrinking its plan of {len(plan['kill_triggers'])} faults")
            found.failures.append(shrink(runner, trial, need=need, tries=tries, confirm=confirm,
                                         max_trials=shrink_trials, into=found.trials, echo=echo))
            return found
    if unjudged:
        found.notes.append(f"{unjudged} of {found.space['plans_drawn']} random plans ended without a verdict "
                           f"(UNKNOWN or an error): see their trials")
    found.covered = unjudged == 0 and found.space["plans_drawn"] > 0
    return found


__all__ = ["Budget", "Candidate", "Exploration", "Failure", "parse_budget", "random_search", "reproduce", "shrink"]
