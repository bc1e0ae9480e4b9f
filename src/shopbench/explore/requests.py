"""Request by request (issue 22.1): record the requests a small scripted workload sends on every
link, then run it again once per (request position, fault mode), on fresh entities, with exactly
that request hit; settle; let the ledger judge.

Filibuster does this for instrumented services with assertions the user writes; here the fault
proxy owns the links (no instrumentation) and the ledger is the oracle (no assertions).

The workloads are seed 000's burst at its smallest: one checkout alone, and three at once (the
concurrent case: positions interleave, a kill lands among sagas in flight). A position that the
faulted run never reaches (a saga that took another path) is unreachable: recorded, skipped,
not a hole in the coverage. `pairs` adds up to that many two-fault plans drawn from the reached
positions (different requests of the same workload).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from shopbench.explore.hit import MODES, RequestFault, RequestHits, killable
from shopbench.explore.search import Budget, Exploration, Failure
from shopbench.explore.trial import Load, Trial, TrialRunner

LATE_S = 3.5  # late-answer holds an answer this long: past the trial's client timeout and the
CLIENT_TIMEOUT = 3.0  # reference shop's 2 s per try of a saga step


def workloads(base: Load) -> dict[str, Load]:
    """One checkout alone, and three at once, with the base's items, users and seed."""
    small = replace(base, timeout=CLIENT_TIMEOUT, settle_timeout=max(base.settle_timeout, 20.0))
    return {"alone": replace(small, orders=1, concurrency=1), "together": replace(small, orders=3, concurrency=3)}


@dataclass(frozen=True)
class Point:
    """One plan of the space: the workload and the request faults (one, or two for a pair)."""

    workload: str
    faults: tuple[RequestFault, ...]

    def key(self) -> str:
        return f"{self.workload}/" + "+".join(f.key() for f in self.faults)

    def plan(self) -> dict[str, Any]:
        return {"workload": self.workload, "request_faults": [f.key() for f in self.faults]}


def space(counts: dict[str, dict[str, int]], services: set[str], modes: Iterable[str] = MODES) -> list[Point]:
    """Every (workload, link, position, mode) the recording saw, minus kill modes with no victim
    the backend can kill."""
    out = []
    for workload, per_link in counts.items():
        for link, count in per_link.items():
            for n in range(1, count + 1):
                for mode in modes:
                    if killable(link, mode, services):
                        out.append(Point(workload, (RequestFault(link, n, mode),)))
    return out


def pairs(reached: list[Point], bound: int, rng: random.Random) -> list[Point]:
    """Up to `bound` two-fault plans from reached single points of the same workload, on
    different requests."""
    combos = [Point(a.workload, (a.faults[0], b.faults[0])) for a, b in itertools.combinations(reached, 2)
              if a.workload == b.workload and (a.faults[0].link, a.faults[0].n) != (b.faults[0].link, b.faults[0].n)]
    rng.shuffle(combos)
    return combos[:bound]


class RequestExplorer:
    """Runs the recording, then the points, within a budget."""

    def __init__(self, runner: TrialRunner, links: list[str], services: set[str], base: Load, *,
                 services_file: Any = None, services_data: Any = None, late: float = LATE_S,
                 echo: Callable[[str], None] | None = None):
        self.runner, self.links, self.services = runner, links, services
        self.loads = workloads(base)
        self.late = late
        self.where = {"services_file": services_file, "services_data": services_data}
        self.echo = echo

    def trial(self, point: Point | None, workload: str, label: str) -> tuple[Trial, RequestHits]:
        hits = RequestHits(list(point.faults) if point else [], self.links, late=self.late, **self.where)

        def finish(trial: Trial) -> None:
            trial.plan = point.plan() if point else {"workload": workload, "request_faults": []}
            trial.extra["requests"] = dict(hits.counts)
            if point is not None:
                trial.extra["reached"] = bool(hits.reached) and all(r["reached"] for r in hits.reached.values())
                trial.extra["hit"] = {"reached": hits.reached, "kills": hits.kills}

        trial = self.runner.run({"kill_triggers": []}, self.loads[workload], label, companions=[hits],
                                extra={"point": point.key()} if point else {}, finish=finish)
        return trial, hits

    def record(self, found: Exploration) -> dict[str, dict[str, int]] | None:
        """Each workload once without faults: the requests on every link, counted from the load's start."""
        counts = {}
        for workload in self.loads:
            trial, hits = self.trial(None, workload, f"record-{workload}")
            found.trials.append(trial)
            if trial.result != "valid":
                found.notes.append(f"the fault-free {workload} run ended {trial.result.upper()}"
                                   + (f": {trial.error}" if trial.error else "; see its trial"))
                if trial.result == "invalid":
                    found.failures.append(Failure({"workload": workload, "request_faults": []}, trial.load,
                                                  trial.index, {}, [], 1, 1, trial))
                return None
            counts[workload] = dict(hits.counts)
        return counts

    def explore(self, budget: Budget, *, only: list[RequestFault] | None = None, workload: str | None = None,
                pair_bound: int = 0, seed: int = 1, confirm: int = 10, keep_going: bool = False,
                max_confirmed: int = 3, reliable: float = 0.9) -> Exploration:
        """Run the points until the budget ends. A failing point is confirmed at once (`confirm` runs).
        Without `keep_going` the exploration stops at the first point that fails in at least
        `reliable` of its confirming runs (a kill that lands in a race may fail only sometimes, and
        a later position may fail every time), and gives up confirming one as soon as it cannot;
        with it, the whole space is run and the first `max_confirmed` failing points confirmed."""
        found = Exploration("requests")
        if only:
            points = [Point(workload or "alone", tuple(only))]
            found.space = {"total": 1, "reached": 0, "unreachable": 0, "points": 1}
        else:
            counts = self.record(found)
            if counts is None:
                return found
            points = space(counts, self.services)
            found.space = {"requests": counts, "modes": list(MODES), "total": len(points), "reached": 0,
                           "unreachable": 0, "pairs": 0}
            if self.echo is not None:
                self.echo(f"space: {len(points)} positions x modes; requests per link from the load's start: "
                          + "; ".join(f"{w}: " + ", ".join(f"{lk} {n}" for lk, n in c.items() if n)
                                      for w, c in counts.items()))
        done, reached, judged = 0, [], 0
        failed: list[tuple[Point, Trial]] = []
        queue = list(points)
        rng = random.Random(seed)
        pairs_added = stopped = False
        while queue:
            if not budget.left(len(found.trials)):
                break
            point = queue.pop(0)
            trial, _ = self.trial(point, point.workload, "request" if len(point.faults) == 1 else "pair")
            found.trials.append(trial)
            done += 1
            if not trial.extra.get("reached"):
                found.space["unreachable"] += 1
                if self.echo is not None:
                    self.echo(f"  {point.key()}: not reached (unreachable in this run), skipped")
            else:
                found.space["reached"] += 1
                reached.append(point)
                judged += trial.result in ("valid", "invalid")
                if trial.result == "invalid":
                    failed.append((point, trial))
                    if not keep_going or len(found.failures) < max_confirmed:
                        failure = self.confirm(point, trial, confirm, found, reliable=reliable,
                                               give_up=not keep_going)
                        found.failures.append(failure)
                        if not keep_going and failure.hits >= reliable * failure.tries:
                            stopped = True
                            break
            if not queue and pair_bound and not pairs_added and not only:
                pairs_added = True
                extra = pairs([p for p in reached if len(p.faults) == 1], pair_bound, rng)
                found.space["pairs"] = len(extra)
                found.space["total"] += len(extra)
                queue += extra
        found.space["run"] = done
        confirmed = {f.found_by for f in found.failures}
        unconfirmed = [(point, trial) for point, trial in failed if trial.index not in confirmed]
        if unconfirmed:
            found.notes.append(f"{len(failed)} failing points; {len(failed) - len(unconfirmed)} confirmed, the others "
                               f"failed once (see trials.jsonl)")
            for point, trial in unconfirmed:
                found.failures.append(Failure(point.plan(), trial.load, trial.index, point.plan(), [], 1, 1, trial,
                                              extra={"point": point.key()}))
        # The most reliable first: the one to hand a developer.
        found.failures.sort(key=lambda f: -f.hits / max(f.tries, 1))
        unjudged = done - found.space["unreachable"] - judged
        if unjudged:
            found.notes.append(f"{unjudged} reached points ended without a verdict (UNKNOWN or an error): see "
                               f"their trials")
        found.covered = not queue and unjudged == 0 and done == len(points) + found.space.get("pairs", 0)
        if queue:
            why = "stopped at the first failure that reproduces" if stopped else "the budget ended"
            found.notes.append(f"{why} with {len(queue)} of {found.space['total']} points not run")
        return found

    def confirm(self, point: Point, first: Trial, runs: int, found: Exploration, *, reliable: float = 0.9,
                give_up: bool = False) -> Failure:
        """Run a failing point `runs` times more (with `give_up`, only until it can no longer fail in
        `reliable` of them); a pair that fails with one of its faults alone shrinks to that one."""
        original, steps, origin = point, [], first.index
        if len(point.faults) == 2:
            for fault in point.faults:
                alone = Point(point.workload, (fault,))
                trial, _ = self.trial(alone, point.workload, "shrink")
                found.trials.append(trial)
                if trial.result == "invalid":
                    dropped = next(f for f in point.faults if f != fault)
                    point, first = alone, trial
                    steps.append(f"drop {dropped.key()}: {fault.key()} fails alone")
                    break
        hits, tries, witness = 0, 0, first
        misses_allowed = runs - math.ceil(reliable * runs) if give_up else runs
        while tries < runs and tries - hits <= misses_allowed:
            trial, _ = self.trial(point, point.workload, "confirm")
            found.trials.append(trial)
            tries += 1
            if trial.result == "invalid":
                hits, witness = hits + 1, trial
        failure = Failure(point.plan(), first.load, origin, original.plan(), steps, hits, tries, witness,
                          extra={"point": point.key()})
        if tries < runs:
            failure.extra["stopped"] = f"stopped after {tries} runs: it can no longer fail in {reliable:.0%} of {runs}"
        return failure
