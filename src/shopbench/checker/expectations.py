"""Honest warnings about the workload itself: an operation that never once did what it was expected to.

A shop without `DELETE /orders/removeItem` answers 404 to every remove_item; the ledger has nothing
to object to (a 4xx changes nothing), so without this check such a run ends in a quiet VALID, having
tested a workload that did not run. When an operation the workload expects to succeed failed on
every one of its calls (at least `MIN_CALLS`, so one unlucky call is not evidence), the run is
UNKNOWN with a sentence the user can act on.

Pure: a history in, a verdict section out. "Expected to succeed" is `history.expected_kind`: an
operation with `expect: "ok"`, or with no expectation outside a `race:` scenario. The two differ in
what counts as evidence. With `expect: "ok"` the workload knows the answer (a funded user, a stocked
item), so any refusal on every call is. Without one, a refusal can be the shop's right answer: the
consistency burst's checkouts compete for too little stock and credit, and with one unit of credit
per user and two items per order every one of them must be refused; there only answers that say
the route is missing (404, 405, 501) or no answer at all (5xx, timeouts) on every call are evidence.
Setup and final-state clients are left out: they are not the workload under test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shopbench.doctor.needs import avoid, endpoint
from shopbench.history import OK, SETUP_PROCESSES, expected_kind

MIN_CALLS = 5
MISSING = (404, 405, 501)  # the shop has no such route (or not with this method)


@dataclass
class _Tally:
    calls: int = 0
    succeeded: int = 0
    known: int = 0  # calls with `expect: "ok"`: the workload knows they must succeed
    statuses: Counter = field(default_factory=Counter)  # status (None: no answer) -> calls

    def never_succeeded(self, min_calls: int) -> bool:
        if self.succeeded or self.calls < min_calls:
            return False
        # Without an explicit expectation, a refusal (400, 409, ...) may be the right answer.
        return bool(self.known) or all(_unanswered(status) for status in self.statuses)


def _unanswered(status: int | None) -> bool:
    return status is None or status in MISSING or status >= 500


def expectations_section(ops: Iterable[dict[str, Any]], *, min_calls: int = MIN_CALLS,
                         skip_processes: Iterable[str] = SETUP_PROCESSES) -> dict[str, Any]:
    """`{"expectations": {...}}`, with `unknown_reasons` when some operation the workload expects to
    succeed never did. Operations that succeeded at least once are fine, however often they failed
    (that is the shop's business, judged by the ledger and the SLOs)."""
    skip = frozenset(skip_processes)
    tallies: dict[str, _Tally] = {}
    for op in ops:
        if op.get("process") in skip or expected_kind(op.get("expect"), op.get("scenario")) != OK:
            continue
        t = tallies.get(op["f"])
        if t is None:
            t = tallies[op["f"]] = _Tally()
        t.calls += 1
        if op.get("expect") == OK:
            t.known += 1
        if op["type"] == OK:
            t.succeeded += 1
        else:
            t.statuses[op.get("status")] += 1
    never = {f: t for f, t in tallies.items() if t.never_succeeded(min_calls)}
    section: dict[str, Any] = {
        "never_succeeded": {f: {"calls": t.calls, "statuses": {str(k): v for k, v in t.statuses.items()}}
                            for f, t in sorted(never.items())},
    }
    if never:
        section["unknown_reasons"] = [_reason(f, t) for f, t in sorted(never.items())]
    return {"expectations": section}


def _reason(f: str, t: _Tally) -> str:
    (status, n), *others = t.statuses.most_common()
    if not others:
        answered = f"answered {status}" if status is not None else "got no answer"
        head = f"{f} {answered} to all {t.calls:,} calls"
    else:
        parts = ", ".join(f"{'no answer' if s is None else s} ×{c:,}" for s, c in t.statuses.most_common(4))
        head = f"{f} failed on all {t.calls:,} calls ({parts})"
    if status in MISSING and not others:
        return f"{head}: your shop has no {endpoint(f)}; {avoid(f)}"
    if _unanswered(status) and not others:
        return (f"{head}: the workload expects it to succeed, so its results cannot be judged; check that the "
                "service behind it is up and reachable (`shopbench doctor --urls urls.json` tries every endpoint)")
    return (f"{head}: the workload expects it to succeed, so your shop may answer {endpoint(f)} differently from "
            f"SHOP-API.md; {avoid(f)}")
