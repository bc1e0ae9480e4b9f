"""How the system recovered from each fault, measured from the history alone. Pure: no I/O.

    recovery(ops, faults) -> [one dict per fault]
    tally = RecoveryTally(faults); for op in ops: tally.add(op); tally.figures()   # the same, streaming

One pass over the history in bounded memory: per fault only its counts and the ok completions per
quarter bucket after its restore began (a history of 10 M operations is never held). Until the
history spans 20 s the bucket is not known yet (see `bucket`), so the ok completion times of its
first 20 s are kept, 8 bytes each.

`ops` are history records (dicts as read from ops.jsonl, or `Op`s); `faults` are the lines of
faults.jsonl (or the windows `shopbench.nemesis.timeline.fault_windows` makes of them). All times
are wall-clock seconds; an operation's completion time is `wall + (t1 - t0)`.

Definitions, per fault on service S (window fields as in `fault_windows`):

  touches S          an operation touches S when its success needs S: stock operations touch
                     stock, payment operations payment, order operations order, `add_item` order
                     and stock, `checkout` all three. A service whose name is none of these (or a
                     seed alias like order-service, or contains exactly one of them) is touched
                     by every operation.
  answers_again_at   the earliest completion of an `ok` operation touching S that completed at or
                     after `restore_start` (when shopbench began to undo the fault; for a restart,
                     when the restart began). In-flight requests a paused service finishes after
                     its resume count: the client got its answer then.
  restore_s          end - restore_start: how long undoing the fault took, up to the service answering
                     its health check (a restart's start-up; a resume is near 0). It says when the
                     service could answer even when no client operation came after it (a burst
                     that ended during the outage).
  time_to_answer_s   answers_again_at - restore_start: how long after the fault was undone clients
                     got answers through S again (null: never, within the history).
  outage_s           answers_again_at - start: the outage as clients saw it.
  baseline_rps       ok operations completed per second in the `baseline` seconds before the
                     fault started (fewer if the history starts later; null if under one bucket).
  throughput_recovery_s  the earliest t >= restore_start such that the ok operations completed in
                     [t, t + bucket) reach `ratio` (90 %) of baseline_rps, minus restore_start;
                     windows slide in quarter buckets and must fit in the history (each window
                     is four quarter-bucket cells counted as the history streams by). null and
                     `throughput_recovered: false` when no window reaches it: the note says how
                     close the best one came.
  during             operations overlapping the outage [start, end] (end: the end of the restore,
                     or the end of the history if the fault was never restored: then every
                     operation that completed after the start): all of them, and
                     those touching S (`during_service`), counted as ok, fail (a definite no),
                     indeterminate (info) and errors (an outcome other than the one the workload
                     expected: `history.unexpected`, the one rule the report, the SLOs and
                     Locust's failure count use too).
  landed             a fault that did not take effect (skipped, failed, or not verified: see
                     `fault_windows`) gets no recovery figures at all, only why: an outage that did
                     not happen must not be measured.
  bucket             1 s by default; when the history spans under 20 s (a consistency burst) it
                     shrinks to a twentieth of the span (at least 10 ms), so short loads get figures.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

from shopbench.history import SETUP_PROCESSES, unexpected

SERVICE_OPS: dict[str, frozenset[str]] = {
    "create_item": frozenset({"stock"}), "add_stock": frozenset({"stock"}),
    "subtract_stock": frozenset({"stock"}), "find_item": frozenset({"stock"}),
    "batch_init_stock": frozenset({"stock"}),
    "create_user": frozenset({"payment"}), "add_funds": frozenset({"payment"}), "pay": frozenset({"payment"}),
    "find_user": frozenset({"payment"}), "batch_init_users": frozenset({"payment"}),
    "create_order": frozenset({"order"}), "remove_item": frozenset({"order"}), "find_order": frozenset({"order"}),
    "batch_init_orders": frozenset({"order"}), "add_item": frozenset({"order", "stock"}),
    "checkout": frozenset({"order", "stock", "payment"}),
}
SHOP_SERVICES = ("order", "stock", "payment")


def shop_service(name: str | None) -> str | None:
    """The reference layout's service a backend's service name stands for, or None if unclear."""
    if not name:
        return None
    lowered = name.lower()
    if lowered in SHOP_SERVICES:
        return lowered
    matches = [s for s in SHOP_SERVICES if s in lowered]
    return matches[0] if len(matches) == 1 else None


RECOVERY_FIGURES = ("restored", "duration_s", "restore_s", "answered_again", "answers_again_at", "time_to_answer_s",
                    "outage_s", "baseline_rps", "throughput_recovered", "throughput_recovery_s", "during",
                    "during_service")


def _not_landed(w: dict[str, Any]) -> dict[str, Any]:
    why = "; ".join(w.get("errors") or ()) or w.get("evidence") or w.get("result") or "not verified"
    entry = {"fault": w.get("fault"), "service": w.get("service"), "action": w.get("action"),
             "trigger": w.get("trigger"), "targets": w.get("targets", []), "result": w.get("result"),
             "start": w.get("start"), "restore_start": None, "end": w.get("end"), "landed": False,
             "landed_s": None, "evidence": w.get("evidence")}
    entry.update({k: None for k in RECOVERY_FIGURES})
    entry["note"] = f"the fault did not land ({why}): no recovery figures"
    return entry


def landing_reason(fault: dict[str, Any]) -> str:
    """The UNKNOWN reason for one fault (a `recovery` entry or a window) that did not land."""
    trig = fault.get("trigger") or {}
    where = f"kill_triggers[{trig['index']}] " if isinstance(trig, dict) and "index" in trig else ""
    why = fault.get("note") or fault.get("evidence") or fault.get("result")
    why = str(why).removeprefix("the fault did not land (").removesuffix("): no recovery figures")
    return (f"fault {fault.get('fault')} ({where}{fault.get('action')} {fault.get('service')}) did not land: {why}; "
            f"the run did not test what the fault plan asked for")


def fault_sections(ops: Iterable[Any] | None, lines: list[dict[str, Any]],
                   not_fired: list[dict[str, Any]] | None = None, **options: Any) -> dict[str, Any]:
    """The verdict sections of a run with faults, from its history and its fault timeline:

      faults            `recovery(...)`: one entry per fault (no figures for those that did not land)
      faults_not_fired  `not_fired` as given: triggers whose condition never came true
      fault_landing     {"faults", "landed", "not_landed": [...], "unknown_reasons": [...]}: a fault
                        that did not land makes the run UNKNOWN (checker/verdict.py), never VALID

    `ops`: the history records, read once (an `iter_history` of ops.jsonl streams it). Setup traffic
    (populate, orders, probe, settle) is left out: it would make a meaningless throughput baseline."""
    tally = RecoveryTally(lines, **options)
    for op in ops or ():
        if _get(op, "process") not in SETUP_PROCESSES:
            tally.add(op)
    faults = tally.figures()
    missed = [f for f in faults if f.get("landed") is False]
    landing = {"faults": len(faults), "landed": len(faults) - len(missed),
               "not_landed": [{"fault": f["fault"], "service": f["service"], "action": f["action"],
                               "result": f["result"], "why": f["note"]} for f in missed],
               "unknown_reasons": [landing_reason(f) for f in missed]}
    return {"faults": faults, "faults_not_fired": list(not_fired or []), "fault_landing": landing}


def _get(op: Any, key: str) -> Any:
    return op.get(key) if isinstance(op, dict) else getattr(op, key, None)


def _touches(f: str | None, service: str | None) -> bool:
    if service is None:
        return True
    return service in SERVICE_OPS.get(f or "", frozenset(SHOP_SERVICES))


def _as_windows(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if all("restore_start" in f for f in faults):
        return faults
    from shopbench.nemesis.timeline import fault_windows

    return fault_windows(faults)


def recovery(ops: Iterable[Any], faults: list[dict[str, Any]], *, baseline: float = 5.0,
             bucket: float | None = None, ratio: float = 0.9) -> list[dict[str, Any]]:
    tally = RecoveryTally(faults, baseline=baseline, bucket=bucket, ratio=ratio)
    for op in ops:
        tally.add(op)
    return tally.figures()


SHORT_SPAN = 20.0  # a history shorter than this gets a bucket of a twentieth of its span


class _Window:
    """One landed fault's counts, gathered as the history streams by."""

    __slots__ = ("w", "start", "restore_start", "end", "svc", "base_from", "base_ok", "answer_at", "cells",
                 "counts", "svc_counts")

    def __init__(self, w: dict[str, Any], baseline: float):
        self.w = w
        self.start, self.end = w["start"], w.get("end")
        self.restore_start = w.get("restore_start", w["start"])
        self.svc = shop_service(w.get("service"))
        self.base_from = self.start - baseline
        self.base_ok = 0  # ok completions in [start - baseline, start): none completed before the first
        self.answer_at: float | None = None
        self.cells: dict[int, int] = {}  # quarter bucket after restore_start -> ok completions
        self.counts = {"ops": 0, "ok": 0, "fail": 0, "indeterminate": 0, "errors": 0}
        self.svc_counts = dict(self.counts)


class RecoveryTally:
    """The recovery figures of a history fed one record at a time (`add`), then `figures()`."""

    def __init__(self, faults: list[dict[str, Any]], *, baseline: float = 5.0, bucket: float | None = None,
                 ratio: float = 0.9):
        self.windows = _as_windows(faults)
        self.open = [_Window(w, baseline) for w in self.windows if w.get("landed") is not False]
        self.baseline, self.ratio = baseline, ratio
        self.bucket = bucket
        self.early: array[float] | None = array("d") if bucket is None else None  # ok completions, bucket unknown
        self.first: float | None = None
        self.last: float | None = None
        self.last_invoked: float | None = None

    def add(self, op: Any) -> None:
        wall = _get(op, "wall")
        if wall is None:
            return
        t0, t1 = _get(op, "t0"), _get(op, "t1")
        done = wall + ((t1 - t0) if t0 is not None and t1 is not None else 0.0)
        kind, f = _get(op, "type"), _get(op, "f")
        if self.first is None or done < self.first:
            self.first = done
        if self.last is None or done > self.last:
            self.last = done
        if self.last_invoked is None or wall > self.last_invoked:
            self.last_invoked = wall
        ok = kind == "ok"
        if ok and self.early is not None:
            self.early.append(done)
            if self.last - self.first >= SHORT_SPAN:  # the span only grows: the bucket is 1 s from now on
                self._settle_bucket(1.0)
        error = unexpected(kind, _get(op, "expect"), _get(op, "scenario"))
        for win in self.open:
            touches = _touches(f, win.svc)
            if ok:
                if win.base_from <= done < win.start:
                    win.base_ok += 1
                if done >= win.restore_start:
                    if touches and (win.answer_at is None or done < win.answer_at):
                        win.answer_at = done
                    if self.early is None:
                        cell = int((done - win.restore_start) // (self.bucket / 4))  # type: ignore[operator]
                        win.cells[cell] = win.cells.get(cell, 0) + 1
            if done >= win.start and (win.end is None or wall <= win.end):
                for c, applies in ((win.counts, True), (win.svc_counts, touches)):
                    if applies:
                        c["ops"] += 1
                        c["ok" if ok else "indeterminate" if kind == "info" else "fail"] += 1
                        c["errors"] += error

    def _settle_bucket(self, bucket: float) -> None:
        """The bucket is known: the ok completions kept so far go into the windows' cells."""
        self.bucket, early, self.early = bucket, self.early, None
        for done in early or ():
            for win in self.open:
                if done >= win.restore_start:
                    cell = int((done - win.restore_start) // (bucket / 4))
                    win.cells[cell] = win.cells.get(cell, 0) + 1

    def figures(self) -> list[dict[str, Any]]:
        if self.early is not None:
            span = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
            self._settle_bucket(1.0 if span >= SHORT_SPAN else max(0.01, span / 20))
        wins = iter(self.open)
        return [_not_landed(w) if w.get("landed") is False else self._entry(next(wins)) for w in self.windows]

    def _entry(self, win: _Window) -> dict[str, Any]:
        w, start, restore_start, end = win.w, win.start, win.restore_start, win.end
        bucket, first, last = self.bucket, self.first, self.last
        assert bucket is not None
        entry: dict[str, Any] = {
            "fault": w.get("fault"), "service": w.get("service"), "action": w.get("action"),
            "trigger": w.get("trigger"), "targets": w.get("targets", []), "result": w.get("result"),
            "start": start, "restore_start": restore_start, "end": end, "restored": w.get("restored", end is not None),
            "landed": True, "landed_s": w.get("landed_s"), "evidence": w.get("evidence"),
            "duration_s": round(end - start, 3) if end is not None else None,
            "restore_s": round(end - restore_start, 3) if end is not None else None,
        }
        notes = []
        if not entry["restored"]:
            notes.append("the fault was never undone: the service may still be down")

        # Time until the service answers again.
        answer_at = win.answer_at
        entry["answered_again"] = answer_at is not None
        entry["answers_again_at"] = answer_at
        entry["time_to_answer_s"] = round(answer_at - restore_start, 3) if answer_at is not None else None
        entry["outage_s"] = round(answer_at - start, 3) if answer_at is not None else None
        # Did clients send anything after the restore began? Stragglers invoked earlier do not count.
        load_went_on = self.last_invoked is not None and self.last_invoked >= restore_start
        if answer_at is None and not load_went_on:
            # Not a failure to recover: the load (a short burst, say) was over before the service was back.
            healthy = (f"; the service was healthy again {entry['restore_s']:.2f} s after the restore began"
                       if entry["restore_s"] is not None else "")
            notes.append(f"the load ended before the fault was undone, so clients could not see the "
                         f"recovery{healthy}")
        elif answer_at is None:
            notes.append(f"no operation touching {w.get('service')} succeeded after the fault was undone")

        # Throughput before, and when it is back.
        base_from = max(start - self.baseline, first) if first is not None else start
        span = start - base_from
        baseline_rps = win.base_ok / span if span >= bucket else None
        entry["baseline_rps"] = round(baseline_rps, 2) if baseline_rps is not None else None
        back_at, best = None, 0.0
        if baseline_rps and last is not None:
            step = bucket / 4
            steps = int(max(0.0, last - bucket - restore_start) / step) + 1
            cells = win.cells
            for k in range(min(steps, 1_000_000)):
                t = restore_start + k * step
                if t + bucket > last:
                    break
                rate = sum(cells.get(k + q, 0) for q in range(4)) / bucket
                best = max(best, rate)
                if rate >= self.ratio * baseline_rps:
                    back_at = t
                    break
        entry["throughput_recovered"] = back_at is not None
        entry["throughput_recovery_s"] = round(back_at - restore_start, 3) if back_at is not None else None
        if baseline_rps is None:
            notes.append("no throughput baseline: under one bucket of history before the fault")
        elif baseline_rps == 0:
            notes.append("no ok operations before the fault: throughput recovery is not defined")
            entry["throughput_recovered"] = None
        elif back_at is None and load_went_on:
            notes.append(f"throughput never returned to {self.ratio:.0%} of the {baseline_rps:.1f} ok ops/s before "
                         f"the fault (best {best / baseline_rps:.0%} after it)")

        # What the outage cost.
        entry["bucket_s"] = round(bucket, 3)
        entry["during"] = win.counts
        entry["during_service"] = win.svc_counts
        entry["note"] = "; ".join(notes) or None
        return entry
